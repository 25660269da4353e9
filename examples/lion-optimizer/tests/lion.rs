//! The Lion plugin from its own test binary: found by name and alias, updates by the formula,
//! and passes nabla-optim's generic property suite.

use nabla_lion as _; // link the plugin (see docs/plugins.md, "the linker pitfall")
use nabla_optim::testing::{build_error, build_optimizer, OneParam};
use nabla_optim::OptimizerRegistration;
use nabla_registry::{list, resolve, Component};
use proptest::prelude::*;

nabla_optim::optimizer_property_suite!(cases = 32, only = ["lion"]);

#[test]
fn resolves_by_name_and_alias() {
    let found = resolve::<OptimizerRegistration>("lion").unwrap();
    assert_eq!(found.info().name, "lion");
    assert!(found.info().module.starts_with("nabla_lion"), "{}", found.info().module);
    let alias = resolve::<OptimizerRegistration>("Evolved-Sign-Momentum").unwrap();
    assert_eq!(alias.info().name, "lion");
    assert!(
        list::<OptimizerRegistration>().iter().any(|r| r.info().name == "adam"),
        "built-ins are there too"
    );
    assert!(nabla_registry::duplicates::<OptimizerRegistration>().is_empty());

    let opt = build_optimizer::<f32>("lion").unwrap();
    assert_eq!((opt.name(), opt.lr()), ("lion", 1e-4));
    build_error::<f64>("lion:betas=[0.9]", &["betas"]);
    build_error::<f64>("lion:momentum=0.9", &["accepts: lr, betas, weight_decay"]);
}

#[test]
fn update_by_hand() {
    let run = OneParam::after(
        "lion:lr=0.1,betas=[0.5,0.75],weight_decay=1",
        &[1.0; 3],
        [[2.0, -1.0, 0.0], [-1.0, -1.0, 0.0]],
    );
    let p = &run.value;
    // Step 1: c = 0.5*g -> sign (1, -1, 0); p = 0.9 - 0.1*sign; m = 0.25*g = (0.5, -0.25, 0).
    // Step 2: c = 0.5*m + 0.5*g = (-0.25, -0.625, 0) -> (-1, -1, 0); p = 0.9*p + 0.1.
    let expected = [(0.9 - 0.1) * 0.9 + 0.1, (0.9 + 0.1) * 0.9 + 0.1, 0.9 * 0.9];
    for (a, b) in p.iter().zip(expected) {
        assert!((a - b).abs() < 1e-15, "{p}");
    }
    let m = &run.state().arrays["p.exp_avg"];
    assert!((m[[0]] - (0.75 * 0.5 - 0.25)).abs() < 1e-15);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Without weight decay every element with a nonzero direction moves by exactly lr.
    #[test]
    fn every_element_moves_by_lr(
        init in proptest::collection::vec(-1.0f64..1.0, 1..10),
        grads in proptest::collection::vec(proptest::collection::vec(0.01f64..10.0, 10), 1..5),
        lr in 1e-4f64..1e-2,
    ) {
        let n = init.len();
        let mut run = OneParam::new(&format!("lion:lr={lr}"), &init);
        for g in &grads {
            let before = run.value.clone();
            // Positive gradients only: the direction is positive, so each step is exactly -lr.
            run.step(&g[..n]);
            for (a, b) in run.value.iter().zip(before.iter()) {
                prop_assert_eq!(*a, *b - lr);
            }
        }
    }
}
