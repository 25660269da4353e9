//! RAdam: Adam with the variance of its adaptive learning rate rectified.
//!
//! # Update rule (PyTorch's `torch.optim.RAdam`)
//! ```text
//! g      <- g + wd * p              (L2 weight decay; the default)
//! p      <- p * (1 - lr * wd)       (instead, when decoupled_weight_decay)
//! m      <- b1 * m + (1 - b1) * g
//! v      <- b2 * v + (1 - b2) * g^2
//! mhat    = m / (1 - b1^t)
//! rho_inf = 2 / (1 - b2) - 1
//! rho_t   = rho_inf - 2 t b2^t / (1 - b2^t)
//! if rho_t > 5:
//!     r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
//!     p <- p - lr * mhat * r * sqrt(1 - b2^t) / (sqrt(v) + eps)    (eps on the uncorrected sqrt(v))
//! else:
//!     p <- p - lr * mhat                                           (bias-corrected momentum SGD)
//! ```
//!
//! # Intuition
//! In the first steps `v` is estimated from a handful of gradients, so Adam's adaptive
//! learning rate `1/sqrt(v)` has a huge (for `t = 1`, unbounded) variance; that is why Adam
//! needs a warm-up. RAdam uses plain momentum SGD until the approximated number of degrees of
//! freedom `rho_t` of that estimate exceeds 5 (step 6 with the default `b2`), then scales the
//! adaptive step by the rectifier `r` in (0, 1), which rises towards 1 as the estimate
//! firms up — a warm-up derived from the variance instead of tuned.
//!
//! Paper: Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and Beyond", ICLR.
//!
//! # Hyper-parameters (PyTorch's names and defaults)
//! `lr = 1e-3`, `betas = [0.9, 0.999]`, `eps = 1e-8`, `weight_decay = 0` (L2, or decoupled
//! when `decoupled_weight_decay = true`), `maximize = false`.

use crate::math::{bias_correction, c};
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
use crate::shared_keys::{EitherDecayKeys, MomentKeys};
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;

/// RAdam's hyper-parameters (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct RAdam {
    /// learning rate
    #[param(default = 1e-3, range = NON_NEGATIVE)]
    pub lr: f64,
    /// `betas`, and `eps` (added to the uncorrected sqrt(v))
    #[param(flatten)]
    pub moments: MomentKeys,
    /// `weight_decay`, `decoupled_weight_decay`, `maximize`
    #[param(flatten)]
    pub decay: EitherDecayKeys,
}

/// The rectifier `r_t` of RAdam at step `t` (from 1) for second-moment decay `beta2`, or
/// `None` while `rho_t <= 5` (the steps that use bias-corrected momentum SGD).
pub fn radam_rectifier(beta2: f64, step: u64) -> Option<f64> {
    let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    let t = step as f64;
    let rho_t = rho_inf - 2.0 * t * beta2.powf(t) / bias_correction(beta2, step);
    (rho_t > 5.0).then(|| {
        ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).sqrt()
    })
}

impl UpdateRule for RAdam {
    fn buffers(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
        let decay = self.decay.decay::<T>(hyper);
        let moments = self.moments.moments::<T>();
        let [bc1, bc2] = self.moments.bias_corrections(state.step);
        let [m, v] = state.buffers else { unreachable!("radam keeps two buffers") };
        let zip = Zip::from(value).and(grad).and(m).and(v);
        match radam_rectifier(self.moments.betas[1], state.step) {
            Some(r) => {
                let step_size: T = c(hyper.lr * r * bc2.sqrt() / bc1);
                let eps: T = c(self.moments.eps);
                zip.for_each(|p, &g, m, v| {
                    let g = decay.apply(p, g);
                    moments.update(m, v, g);
                    *p = *p - step_size * *m / (v.sqrt() + eps);
                });
            }
            None => {
                let step_size: T = c(hyper.lr / bc1);
                zip.for_each(|p, &g, m, v| {
                    let g = decay.apply(p, g);
                    moments.update(m, v, g);
                    *p = *p - step_size * *m;
                });
            }
        }
    }
}

register_optimizer!(RAdam,
    name: "radam",
    summary: "RAdam: Adam with a rectified, variance-derived warm-up of the adaptive step",
);

#[cfg(test)]
mod tests {
    use super::radam_rectifier;

    #[test]
    fn rectified_from_step_six_with_default_beta2() {
        assert!((1..=5).all(|t| radam_rectifier(0.999, t).is_none()));
        let r = radam_rectifier(0.999, 6).unwrap();
        assert!(r > 0.0 && r < 1.0, "{r}");
        assert!(radam_rectifier(0.999, 1000).unwrap() > r);
    }
}
