//! Adadelta: steps whose units match the parameter's, from two moving averages.
//!
//! # Update rule (PyTorch's `torch.optim.Adadelta`)
//! ```text
//! g     <- g + wd * p                                  (L2 weight decay)
//! v     <- rho * v + (1 - rho) * g^2
//! delta  = sqrt(u + eps) / sqrt(v + eps) * g            (eps inside both square roots)
//! u     <- rho * u + (1 - rho) * delta^2
//! p     <- p - lr * delta
//! ```
//!
//! # Intuition
//! RMSprop's denominator, with the learning rate replaced by the root mean square of recent
//! *updates*: the ratio has the units of the parameter (a Newton-like correction), so the
//! method needs no learning rate in the paper. PyTorch keeps `lr` as a multiplier of the
//! step, with default 1.0, which is the paper's method.
//!
//! Paper: Zeiler, 2012, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701.
//!
//! # Hyper-parameters (PyTorch's names and defaults)
//! `lr = 1.0`, `rho = 0.9`, `eps = 1e-6`, `weight_decay = 0` (L2), `maximize = false`.

use crate::math::c;
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
use crate::shared_keys::L2DecayKeys;
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;

/// Adadelta's hyper-parameters (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct Adadelta {
    /// learning rate
    #[param(default = 1.0, range = NON_NEGATIVE)]
    pub lr: f64,
    /// decay rate of the squared-gradient and squared-update averages
    #[param(default = 0.9, range = UNIT)]
    pub rho: f64,
    /// added inside both square roots
    #[param(default = 1e-6, range = NON_NEGATIVE)]
    pub eps: f64,
    /// `weight_decay` (L2), `maximize`
    #[param(flatten)]
    pub decay: L2DecayKeys,
}

impl UpdateRule for Adadelta {
    fn buffers(&self) -> &'static [&'static str] {
        &["square_avg", "acc_delta"]
    }

    fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
        let decay = self.decay.decay::<T>(hyper);
        let (lr, rho, one_minus_rho, eps): (T, T, T, T) =
            (c(hyper.lr), c(self.rho), c(1.0 - self.rho), c(self.eps));
        let [v, u] = state.buffers else { unreachable!("adadelta keeps two buffers") };
        Zip::from(value).and(grad).and(v).and(u).for_each(|p, &g, v, u| {
            let g = decay.apply(p, g);
            *v = *v * rho + one_minus_rho * g * g;
            // sqrt(u + eps) / sqrt(v + eps) as one square root of the ratio.
            let delta = ((*u + eps) / (*v + eps)).sqrt() * g;
            *u = *u * rho + one_minus_rho * delta * delta;
            *p = *p - lr * delta;
        });
    }
}

register_optimizer!(Adadelta,
    name: "adadelta",
    summary: "Adadelta: steps scaled by the ratio of update and gradient root mean squares",
);

#[cfg(test)]
mod tests {
    use crate::testing::OneParam;

    #[test]
    fn by_hand() {
        let run = OneParam::after("adadelta:lr=0.5,rho=0.5,eps=1", &[1.0], [[2.0]]);
        // v = 2, delta = 1/sqrt(3) * 2, u = 0.5 * delta^2
        let delta = 2.0 / 3f64.sqrt();
        assert!((run.value[0] - (1.0 - 0.5 * delta)).abs() < 1e-15);
        assert!((run.state().arrays["p.acc_delta"][[0]] - 0.5 * delta * delta).abs() < 1e-15);
    }
}
