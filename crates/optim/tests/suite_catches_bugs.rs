//! The generic property suite must be able to fail: deliberately broken optimizers are
//! registered in this test binary (and only here), and each is caught by the property it
//! violates.

use nabla_optim::testing::{self, Case};
use nabla_optim::{register_optimizer, Update, UpdateRule};
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;
use std::sync::atomic::{AtomicU64, Ordering};

/// Moves every parameter by a constant, whatever the gradient.
#[derive(Debug, HyperParams)]
struct Drift {
    /// learning rate
    #[param(default = 0.01, range = NON_NEGATIVE)]
    lr: f64,
}
impl UpdateRule for Drift {
    fn buffers(&self) -> &'static [&'static str] {
        &[]
    }
    fn update<T: Element>(&self, Update { hyper: h, value, grad, .. }: Update<'_, T>) {
        let lr = T::from_f64(h.lr);
        Zip::from(value).and(grad).for_each(|p, &g| *p = *p - lr * g - T::from_f64(1e-3));
    }
}
register_optimizer!(Drift, name: "broken_drift", summary: "moves without a gradient");

/// Keeps hidden state outside the state dictionary (a global step counter).
static HIDDEN: AtomicU64 = AtomicU64::new(0);
#[derive(Debug, HyperParams)]
struct Hidden {
    /// learning rate
    #[param(default = 0.01, range = NON_NEGATIVE)]
    lr: f64,
}
impl UpdateRule for Hidden {
    fn buffers(&self) -> &'static [&'static str] {
        &[]
    }
    fn update<T: Element>(&self, Update { hyper: h, value, grad, .. }: Update<'_, T>) {
        let calls = HIDDEN.fetch_add(1, Ordering::Relaxed) as f64;
        let lr = T::from_f64(h.lr / (1.0 + calls));
        Zip::from(value).and(grad).for_each(|p, &g| *p = *p - lr * g);
    }
}
register_optimizer!(Hidden, name: "broken_hidden_state", summary: "state outside the checkpoint");

/// Goes uphill.
#[derive(Debug, HyperParams)]
struct Ascend {
    /// learning rate
    #[param(default = 0.01, range = NON_NEGATIVE)]
    lr: f64,
}
impl UpdateRule for Ascend {
    fn buffers(&self) -> &'static [&'static str] {
        &[]
    }
    fn update<T: Element>(&self, Update { hyper: h, value, grad, .. }: Update<'_, T>) {
        let lr = T::from_f64(h.lr);
        Zip::from(value).and(grad).for_each(|p, &g| *p = *p + lr * g);
    }
}
register_optimizer!(Ascend, name: "broken_ascent", summary: "gradient ascent");

/// Claims to be elementwise but couples neighbours (uses the mean gradient).
#[derive(Debug, HyperParams)]
struct Coupled {
    /// learning rate
    #[param(default = 0.01, range = NON_NEGATIVE)]
    lr: f64,
}
impl UpdateRule for Coupled {
    fn buffers(&self) -> &'static [&'static str] {
        &[]
    }
    fn update<T: Element>(&self, Update { hyper: h, mut value, grad, .. }: Update<'_, T>) {
        let mean = grad.sum() / T::from_f64(grad.len().max(1) as f64);
        let lr = T::from_f64(h.lr);
        value.iter_mut().zip(grad.iter()).for_each(|(p, &g)| *p = *p - lr * (g + mean));
    }
}
register_optimizer!(Coupled, name: "broken_coupled", summary: "not elementwise");

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
