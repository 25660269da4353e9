//! The facade links every built-in crate: every built-in name resolves, and no two
//! registrations of a kind claim one name.

use nabla::registry::ComponentKind;

fn names(kind: ComponentKind) -> Vec<&'static str> {
    nabla::catalog(kind).iter().map(|info| info.name).collect()
}

fn assert_has(kind: ComponentKind, expected: &[&str]) {
    let have = names(kind);
    for name in expected {
        assert!(have.contains(name), "{kind} '{name}' is not registered; registered: {have:?}");
    }
}

#[test]
fn every_builtin_component_is_registered() {
    assert_has(
        ComponentKind::Optimizer,
        &["sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "radam", "nadam", "adamax"],
    );
    assert_has(
        ComponentKind::Scheduler,
        &[
            "constant",
            "step",
            "multistep",
            "exponential",
            "cosine_annealing",
            "linear_warmup",
            "reduce_on_plateau",
        ],
    );
    assert_has(
        ComponentKind::Initializer,
        &[
            "zeros",
            "ones",
            "constant",
            "uniform",
            "normal",
            "trunc_normal",
            "lecun_normal",
            "lecun_uniform",
            "xavier_normal",
            "xavier_uniform",
            "he_normal",
            "he_uniform",
            "orthogonal",
            "torch_linear_default",
        ],
    );
    let layers = ["linear", "batch_norm1d", "dropout", "flatten", "identity"];
    let activations = ["relu", "sigmoid", "tanh", "leaky_relu", "gelu", "softmax", "log_softmax"];
    // Activations are layers; the listing shows them under their own heading.
    assert_has(ComponentKind::Layer, &layers);
    assert_has(ComponentKind::Layer, &activations);
    let section = |name| -> Vec<&str> {
        nabla::section(name).unwrap().components.iter().map(|info| info.name).collect()
    };
    assert!(layers.iter().all(|l| section("layers").contains(l)), "{:?}", section("layers"));
    assert!(activations.iter().all(|a| section("activations").contains(a)), "{:?}", section("activations"));
    assert!(!section("layers").contains(&"relu") && !section("activations").contains(&"linear"));
    assert_has(ComponentKind::Loss, &["cross_entropy", "nll", "mse", "bce_with_logits"]);
    assert_has(ComponentKind::Dataset, &["digits", "mnist", "fashion_mnist"]);
}

#[test]
fn aliases_resolve_to_their_components() {
    use nabla::registry::resolve;
    let cases: &[(&str, &str)] = &[("momentum", "sgd"), ("nag", "sgd"), ("Nesterov", "sgd")];
    for (alias, name) in cases {
        let found = resolve::<nabla::optim::OptimizerRegistration>(alias).unwrap();
        assert_eq!(found.info().name, *name);
    }
    for (alias, name) in
        [("kaiming_uniform", "he_uniform"), ("Glorot-Normal", "xavier_normal"), ("HeUniform", "he_uniform")]
    {
        assert_eq!(resolve::<nabla::init::InitializerRegistration>(alias).unwrap().info().name, name);
    }
}

#[test]
fn no_two_registrations_claim_one_name() {
    let conflicts = nabla::registry_conflicts();
    assert!(conflicts.is_empty(), "{conflicts:?}");
}

#[test]
fn every_registration_has_a_summary_and_documented_parameters() {
    for section in nabla::sections() {
        let kind = section.name;
        for info in section.components {
            assert!(!info.summary.trim().is_empty(), "{kind} '{}' has no summary", info.name);
            assert!(
                info.module.starts_with("nabla_"),
                "{kind} '{}' registered from {}",
                info.name,
                info.module
            );
            for p in info.params {
                assert!(!p.doc.trim().is_empty(), "{kind} '{}': '{}' has no doc", info.name, p.name);
            }
        }
    }
}
