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

use crate::math::c;
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
use crate::shared_keys::{L2DecayKeys, MomentKeys};
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;

/// Adamax's hyper-parameters (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct Adamax {
    /// learning rate
    #[param(default = 2e-3, range = NON_NEGATIVE)]
    pub lr: f64,
    /// `betas`, and `eps` (added to |g| inside the maximum)
    #[param(flatten)]
    pub moments: MomentKeys,
    /// `weight_decay` (L2), `maximize`
    #[param(flatten)]
    pub decay: L2DecayKeys,
}

impl UpdateRule for Adamax {
    fn buffers(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_inf"]
    }

    fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
        let decay = self.decay.decay::<T>(hyper);
        let moments = self.moments.moments::<T>();
        let [bc1, _] = self.moments.bias_corrections(state.step);
        let step_size: T = c(hyper.lr / bc1);
        let (beta2, eps): (T, T) = (c(self.moments.betas[1]), c(self.moments.eps));
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
    use crate::testing::OneParam;

    #[test]
    fn by_hand() {
        let run = OneParam::after("adamax:lr=0.1,betas=[0.5,0.5],eps=1", &[1.0], [[3.0], [0.0]]);
        // t=1: m = 1.5, u = 4, p = 1 - 0.2*1.5/4; t=2: m = 0.75, u = max(2, 1) = 2.
        let expected = 1.0 - 0.2 * 1.5 / 4.0 - (0.1 / 0.75) * 0.75 / 2.0;
        assert!((run.value[0] - expected).abs() < 1e-15, "{}", run.value[0]);
    }
}
