//! The generic property suite must be able to fail: deliberately broken optimizers are
//! registered in this test binary (and only here), and each is caught by the property it
//! violates.

use nabla_optim::testing::{self, Case};
use nabla_optim::{register_optimizer, Update, UpdateRule};
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;
use std::sync::atomic::{AtomicU64, Ordering};

/// Declares a deliberately broken optimizer: a rule with a learning rate `lr` (default 0.01)
/// and no state buffers, whose update is the closure-like body over the destructured
/// [`Update`], registered under `$name`.
macro_rules! broken_optimizer {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $summary:literal,
        |$hyper:ident, $value:pat, $grad:ident| $body:block) => {
        $(#[$doc])*
        #[derive(Debug, HyperParams)]
        struct $ty {
            /// learning rate
            #[param(default = 0.01, range = NON_NEGATIVE)]
            lr: f64,
        }
        impl UpdateRule for $ty {
            fn buffers(&self) -> &'static [&'static str] {
                &[]
            }
            fn update<T: Element>(&self, Update { hyper: $hyper, value: $value, grad: $grad, .. }: Update<'_, T>) $body
        }
        register_optimizer!($ty, name: $name, summary: $summary);
    };
}

broken_optimizer!(
    /// Moves every parameter by a constant, whatever the gradient.
    Drift, "broken_drift", "moves without a gradient",
    |h, value, grad| {
        let lr = T::from_f64(h.lr);
        Zip::from(value).and(grad).for_each(|p, &g| *p = *p - lr * g - T::from_f64(1e-3));
    }
);

/// Keeps hidden state outside the state dictionary (a global step counter).
static HIDDEN: AtomicU64 = AtomicU64::new(0);
broken_optimizer!(
    /// Scales its steps by a counter kept outside the state dictionary.
    Hidden, "broken_hidden_state", "state outside the checkpoint",
    |h, value, grad| {
        let calls = HIDDEN.fetch_add(1, Ordering::Relaxed) as f64;
        let lr = T::from_f64(h.lr / (1.0 + calls));
        Zip::from(value).and(grad).for_each(|p, &g| *p = *p - lr * g);
    }
);

broken_optimizer!(
    /// Goes uphill.
    Ascend, "broken_ascent", "gradient ascent",
    |h, value, grad| {
        let lr = T::from_f64(h.lr);
        Zip::from(value).and(grad).for_each(|p, &g| *p = *p + lr * g);
    }
);

broken_optimizer!(
    /// Claims to be elementwise but couples neighbours (uses the mean gradient).
    Coupled, "broken_coupled", "not elementwise",
    |h, mut value, grad| {
        let mean = grad.sum() / T::from_f64(grad.len().max(1) as f64);
        let lr = T::from_f64(h.lr);
        value.iter_mut().zip(grad.iter()).for_each(|(p, &g)| *p = *p - lr * (g + mean));
    }
);

fn fails(name: &str, property: testing::Property) -> bool {
    (0..16).any(|seed| {
        let case = Case::generate(6, 3, seed, 0);
        let case = Case { resume_at: 1, split: 2, ..case };
        testing::check(&[name], property, &case).is_err()
    })
}

#[test]
fn each_broken_optimizer_fails_its_property() {
    assert!(fails("broken_drift", testing::zero_gradient_changes_nothing));
    assert!(fails("broken_drift", testing::zero_lr_changes_nothing));
    assert!(fails("broken_hidden_state", testing::resume_is_bitwise));
    assert!(fails("broken_ascent", testing::descends_convex_quadratic));
    assert!(fails("broken_coupled", testing::commutes_with_splitting));
}

#[test]
fn the_built_in_optimizers_pass_where_the_broken_ones_fail() {
    let case = Case::generate(6, 3, 3, 0);
    for (name, property) in testing::PROPERTIES {
        testing::check(&["sgd", "adam"], *property, &case).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
