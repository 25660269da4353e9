//! NAdam: Adam with Nesterov momentum (and a momentum warm-up schedule).
//!
//! # Update rule (PyTorch's `torch.optim.NAdam`)
//! ```text
//! g      <- g + wd * p                  (L2 weight decay; the default)
//! p      <- p * (1 - lr * wd)           (instead, when decoupled_weight_decay)
//! mu_t    = b1 * (1 - 0.5 * 0.96^(t * momentum_decay))
//! mu_t+1  = b1 * (1 - 0.5 * 0.96^((t + 1) * momentum_decay))
//! P_t     = mu_1 * ... * mu_t           (per-parameter state mu_product, starts at 1)
//! m      <- b1 * m + (1 - b1) * g
//! v      <- b2 * v + (1 - b2) * g^2
//! d       = sqrt(v / (1 - b2^t)) + eps
//! p      <- p - lr (1 - mu_t) / (1 - P_t) * g / d  -  lr mu_t+1 / (1 - P_t mu_t+1) * m / d
//! ```
//!
//! # Intuition
//! Nesterov's look-ahead (see [`sgd`](crate::Sgd)) applied to Adam's first moment: instead of
//! stepping along the current momentum `m_t`, step along the momentum one step ahead,
//! `mu_t+1 * m_t + (1 - mu_t) * g_t`, each part with its own bias correction. The momentum
//! coefficient `mu_t` warms up from `b1/2` towards `b1` (Dozat's schedule, at rate
//! `momentum_decay`), damping the first, noisy steps.
//!
//! Paper: Dozat, 2016, "Incorporating Nesterov Momentum into Adam", ICLR workshop.
//!
//! # Hyper-parameters (PyTorch's names and defaults)
//! `lr = 2e-3`, `betas = [0.9, 0.999]`, `eps = 1e-8`, `weight_decay = 0` (L2, or decoupled
//! when `decoupled_weight_decay = true`), `momentum_decay = 4e-3`, `maximize = false`.

use crate::math::c;
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
use crate::shared_keys::{EitherDecayKeys, MomentKeys};
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;

/// NAdam's hyper-parameters (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct NAdam {
    /// learning rate
    #[param(default = 2e-3, range = NON_NEGATIVE)]
    pub lr: f64,
    /// rate of the momentum warm-up mu_t = b1*(1 - 0.5*0.96^(t*rate))
    #[param(default = 4e-3, range = NON_NEGATIVE)]
    pub momentum_decay: f64,
    /// `betas`, and `eps` (added to the bias-corrected sqrt(v))
    #[param(flatten)]
    pub moments: MomentKeys,
    /// `weight_decay`, `decoupled_weight_decay`, `maximize`
    #[param(flatten)]
    pub decay: EitherDecayKeys,
}

impl NAdam {
    /// The momentum coefficient `mu_t` of step `t`.
    pub fn mu(&self, step: u64) -> f64 {
        self.moments.betas[0] * (1.0 - 0.5 * 0.96f64.powf(step as f64 * self.momentum_decay))
    }
}

impl UpdateRule for NAdam {
    fn buffers(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    fn scalars(&self) -> &'static [(&'static str, f64)] {
        &[("mu_product", 1.0)]
    }

    fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
        let decay = self.decay.decay::<T>(hyper);
        let moments = self.moments.moments::<T>();
        let (mu, mu_next) = (self.mu(state.step), self.mu(state.step + 1));
        let [mu_product] = state.scalars else { unreachable!("nadam keeps one scalar") };
        *mu_product *= mu;
        let grad_coef: T = c(hyper.lr * (1.0 - mu) / (1.0 - *mu_product));
        let momentum_coef: T = c(hyper.lr * mu_next / (1.0 - *mu_product * mu_next));
        let [_, bc2] = self.moments.bias_corrections(state.step);
        let inv_bc2: T = c(1.0 / bc2);
        let eps: T = c(self.moments.eps);
        let [m, v] = state.buffers else { unreachable!("nadam keeps two buffers") };
        Zip::from(value).and(grad).and(m).and(v).for_each(|p, &g, m, v| {
            let g = decay.apply(p, g);
            moments.update(m, v, g);
            let d = (*v * inv_bc2).sqrt() + eps;
            *p = *p - (grad_coef * g + momentum_coef * *m) / d;
        });
    }
}

register_optimizer!(NAdam,
    name: "nadam",
    summary: "NAdam: Adam with Nesterov momentum and a momentum warm-up",
);

#[cfg(test)]
mod tests {
    use crate::{ParamMut, Scalar};
    use nabla_tensor::ndarray::arr1;

    #[test]
    fn mu_product_is_kept_per_parameter() {
        let mut o = crate::testing::build_optimizer::<f64>("nadam").unwrap();
        let mut p = arr1(&[1.0]).into_dyn();
        let mut q = arr1(&[1.0]).into_dyn();
        let g = arr1(&[1.0]).into_dyn();
        o.step(&mut [ParamMut::new("p", p.view_mut(), Some(g.view()))]).unwrap();
        o.step(&mut [
            ParamMut::new("p", p.view_mut(), Some(g.view())),
            ParamMut::new("q", q.view_mut(), Some(g.view())),
        ])
        .unwrap();
        let sd = o.state_dict();
        let mu = |t: f64| 0.9 * (1.0 - 0.5 * 0.96f64.powf(t * 0.004));
        assert_eq!(sd.scalars["p.mu_product"], Scalar::F64(mu(1.0) * mu(2.0)));
        assert_eq!(sd.scalars["q.mu_product"], Scalar::F64(mu(1.0)));
        assert_eq!(sd.scalars["q.step"], Scalar::U64(1));
    }
}
