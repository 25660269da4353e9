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
    assert_has(ComponentKind::Layer, &["linear", "batch_norm1d", "dropout", "flatten", "identity"]);
    assert_has(
        ComponentKind::Activation,
        &["relu", "sigmoid", "tanh", "leaky_relu", "gelu", "softmax", "log_softmax"],
    );
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
    for kind in ComponentKind::ALL {
        for info in nabla::catalog(kind) {
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
