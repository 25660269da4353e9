//! Adagrad: per-coordinate learning rates from the sum of squared gradients.
//!
//! # Update rule (PyTorch's `torch.optim.Adagrad`)
//! ```text
//! g   <- g + wd * p                               (L2 weight decay)
//! clr  = lr / (1 + (t - 1) * lr_decay)
//! s   <- s + g^2                                  (s starts at initial_accumulator_value)
//! p   <- p - clr * g / (sqrt(s) + eps)
//! ```
//!
//! # Intuition
//! Coordinates that have seen large gradients get small steps and rarely-updated
//! coordinates (sparse features) keep large ones. The accumulator only grows, so the
//! effective learning rate decays like `1/sqrt(t)`, which suits convex problems and can stall
//! long non-convex training (RMSprop and Adam replace the sum by a moving average).
//!
//! Paper: Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods for Online Learning and
//! Stochastic Optimization", JMLR 12.
//!
//! # Hyper-parameters (PyTorch's names and defaults)
//! `lr = 1e-2`, `lr_decay = 0`, `weight_decay = 0` (L2), `initial_accumulator_value = 0`,
//! `eps = 1e-10` (added after the square root), `maximize = false`.

use crate::math::c;
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
use crate::shared_keys::L2DecayKeys;
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;

/// Adagrad's hyper-parameters (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct Adagrad {
    /// learning rate
    #[param(default = 1e-2, range = NON_NEGATIVE)]
    pub lr: f64,
    /// learning-rate decay: lr / (1 + (t-1)*lr_decay)
    #[param(default = 0.0, range = NON_NEGATIVE)]
    pub lr_decay: f64,
    /// starting value of the sum of squared gradients
    #[param(default = 0.0, range = NON_NEGATIVE)]
    pub initial_accumulator_value: f64,
    /// added to sqrt(sum) for numerical stability
    #[param(default = 1e-10, range = NON_NEGATIVE)]
    pub eps: f64,
    /// `weight_decay` (L2), `maximize`
    #[param(flatten)]
    pub decay: L2DecayKeys,
}

impl UpdateRule for Adagrad {
    fn buffers(&self) -> &'static [&'static str] {
        &["sum"]
    }

    fn buffer_init(&self, _index: usize) -> f64 {
        self.initial_accumulator_value
    }

    fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
        let decay = self.decay.decay::<T>(hyper);
        let clr: T = c(hyper.lr / (1.0 + (state.step - 1) as f64 * self.lr_decay));
        let eps: T = c(self.eps);
        let [sum] = state.buffers else { unreachable!("adagrad keeps one buffer") };
        Zip::from(value).and(grad).and(sum).for_each(|p, &g, s| {
            let g = decay.apply(p, g);
            *s = *s + g * g;
            *p = *p - clr * g / (s.sqrt() + eps);
        });
    }
}

register_optimizer!(Adagrad,
    name: "adagrad",
    summary: "Adagrad: per-coordinate steps scaled by the root of the summed squared gradients",
);

#[cfg(test)]
mod tests {
    use crate::testing::OneParam;

    #[test]
    fn by_hand() {
        let mut run = OneParam::new("adagrad:lr=0.1,lr_decay=1,initial_accumulator_value=5,eps=0", &[1.0]);
        run.step(&[2.0]);
        assert!((run.value[0] - (1.0 - 0.1 * 2.0 / 3.0)).abs() < 1e-15);
        run.step(&[2.0]);
        // clr = 0.1 / 2, s = 13
        assert!((run.value[0] - (1.0 - 0.2 / 3.0 - 0.05 * 2.0 / 13f64.sqrt())).abs() < 1e-15);
        assert_eq!(run.state().arrays["p.sum"][[0]], 13.0);
    }
}
