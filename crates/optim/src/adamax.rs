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

use crate::math::{bias_correction, c, Decay, Moments, WeightDecay};
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;

/// Adamax's hyper-parameters (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct Adamax {
    /// learning rate
    #[param(default = 2e-3, range = NON_NEGATIVE)]
    pub lr: f64,
    /// decay rates [beta1, beta2] of the first and second moment estimates
    #[param(default = [0.9, 0.999], range = UNIT_HALF_OPEN)]
    pub betas: [f64; 2],
    /// added to |g| inside the maximum
    #[param(default = 1e-8, range = NON_NEGATIVE)]
    pub eps: f64,
    /// L2 penalty (added to the gradient)
    #[param(default = 0.0, range = NON_NEGATIVE)]
    pub weight_decay: f64,
    /// maximize the objective (negate the gradient)
    #[param(default = false)]
    pub maximize: bool,
}

impl UpdateRule for Adamax {
    fn buffers(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_inf"]
    }

    fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
        let decay = Decay::<T>::new(WeightDecay::L2, hyper.lr, hyper.weight_decay, self.maximize);
        let moments = Moments::<T>::new(self.betas[0], self.betas[1]);
        let step_size: T = c(hyper.lr / bias_correction(self.betas[0], state.step));
        let (beta2, eps): (T, T) = (c(self.betas[1]), c(self.eps));
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
);

#[cfg(test)]
mod tests {
    use crate::ParamMut;
    use nabla_tensor::ndarray::arr1;

    #[test]
    fn by_hand() {
        let mut o =
            nabla_registry::build::<dyn crate::Optimizer<f64>>("adamax:lr=0.1,betas=[0.5,0.5],eps=1", ())
                .map(|b| b.value)
                .unwrap();
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
