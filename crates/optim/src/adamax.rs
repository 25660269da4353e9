//! Adamax: Adam with the infinity norm in place of the root mean square.
//!
//! # Update rule (PyTorch's `torch.optim.Adamax`)
//! ```text
//! g <- g + wd * p                         (L2 weight decay)
//! m <- b1 * m + (1 - b1) * g
//! u <- max(b2 * u, |g| + eps)             (eps inside the max)
//! p <- p - lr / (1 - b1^t) * m / u
//! ```
//!
//! # Intuition
//! Generalising Adam's `L2` second moment to an `Lp` norm and letting `p -> infinity` gives
//! an exponentially weighted maximum of past gradient magnitudes. It needs no bias correction
//! and is robust to rare huge gradients, which raise `u` only as long as they are not
//! forgotten (`b2^k` after `k` steps).
//!
//! Paper: Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization", ICLR, section 7.1.
//!
//! # Hyper-parameters (PyTorch's names and defaults)
//! `lr = 2e-3`, `betas = [0.9, 0.999]`, `eps = 1e-8`, `weight_decay = 0` (L2),
//! `maximize = false`.

use crate::math::{betas, bias_correction, c, spec, Decay, Moments, WeightDecay};
use crate::register_optimizer;
use crate::rule::{FromParams, GroupHyper, RuleState, UpdateRule};
use nabla_registry::{ParamError, ParamSpec, Params};
use nabla_tensor::ndarray::{ArrayViewD, ArrayViewMutD, Zip};
use nabla_tensor::Element;

/// Adamax's hyper-parameters other than `lr` and `weight_decay` (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adamax {
    /// Decay rate of the first moment.
    pub beta1: f64,
    /// Decay rate of the infinity norm.
    pub beta2: f64,
    /// Added to `|g|` inside the maximum.
    pub eps: f64,
    /// Maximize instead of minimize.
    pub maximize: bool,
}

const SCHEMA: &[ParamSpec] = &[
    spec::lr(2e-3),
    spec::BETAS,
    spec::eps(1e-8, "added to |g| inside the maximum"),
    spec::weight_decay(0.0, "L2 penalty (added to the gradient)"),
    spec::MAXIMIZE,
];

impl FromParams for Adamax {
    fn from_params(p: &Params) -> Result<Self, ParamError> {
        let (beta1, beta2) = betas(p)?;
        Ok(Adamax { beta1, beta2, eps: p.f64("eps")?, maximize: p.bool("maximize")? })
    }
}

impl UpdateRule for Adamax {
    fn buffers(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_inf"]
    }

    fn update<T: Element>(
        &self,
        hyper: GroupHyper,
        state: RuleState<'_, T>,
        value: ArrayViewMutD<'_, T>,
        grad: ArrayViewD<'_, T>,
    ) {
        let decay = Decay::<T>::new(WeightDecay::L2, hyper.lr, hyper.weight_decay, self.maximize);
        let moments = Moments::<T>::new(self.beta1, self.beta2);
        let step_size: T = c(hyper.lr / bias_correction(self.beta1, state.step));
        let (beta2, eps): (T, T) = (c(self.beta2), c(self.eps));
        let [m, u] = state.buffers else { unreachable!("adamax keeps two buffers") };
        Zip::from(value).and(grad).and(m).and(u).for_each(|p, &g, m, u| {
            let g = decay.apply(p, g);
            moments.first(m, g);
            *u = (*u * beta2).max(g.abs() + eps);
            *p = *p - step_size * *m / *u;
        });
    }
}

register_optimizer!(Adamax,
    name: "adamax",
    summary: "Adamax: Adam with an exponentially weighted infinity norm",
    params: SCHEMA,
);

#[cfg(test)]
mod tests {
    use crate::{build_optimizer, ParamMut};
    use nabla_tensor::ndarray::arr1;

    #[test]
    fn by_hand() {
        let mut o = build_optimizer::<f64>("adamax:lr=0.1,betas=[0.5,0.5],eps=1").unwrap();
        let mut p = arr1(&[1.0]).into_dyn();
        for g in [3.0, 0.0] {
            let g = arr1(&[g]).into_dyn();
            o.step(&mut [ParamMut::new("p", p.view_mut(), Some(g.view()))]).unwrap();
        }
        // t=1: m = 1.5, u = 4, p = 1 - 0.2*1.5/4; t=2: m = 0.75, u = max(2, 1) = 2.
        let expected = 1.0 - 0.2 * 1.5 / 4.0 - (0.1 / 0.75) * 0.75 / 2.0;
        assert!((p[0] - expected).abs() < 1e-15, "{}", p[0]);
    }
}
