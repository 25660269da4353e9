//! Adam: momentum on the gradient, divided by the root of a moving average of its square,
//! both bias-corrected; with the AMSGrad variant.
//!
//! # Update rule (PyTorch's `torch.optim.Adam`)
//! ```text
//! g    <- g + wd * p                  (L2 weight decay; the default)
//! p    <- p * (1 - lr * wd)           (instead, when decoupled_weight_decay: that is AdamW)
//! m    <- b1 * m + (1 - b1) * g
//! v    <- b2 * v + (1 - b2) * g^2
//! vmax <- max(vmax, v)                (amsgrad only; the raw v, and vmax replaces v below)
//! p    <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//! ```
//! (`eps` is added after the square root and after the bias correction.)
//!
//! # Intuition
//! `m` is momentum (inertia, as in SGD); `sqrt(v)` is a per-coordinate gradient scale as in
//! RMSprop, so the step is about `lr` in size whatever the gradient's magnitude — on the first
//! step exactly `lr * sign(g)` up to `eps`, and multiplying the loss by a constant changes
//! nothing but the role of `eps`. The `1 - b^t` factors undo the bias of averages started at
//! zero. AMSGrad keeps the largest `v` seen, so the effective step size never grows, which
//! restores convergence on the counterexamples of Reddi et al.
//!
//! Papers: Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization", ICLR;
//! Reddi, Kale & Kumar, 2018, "On the Convergence of Adam and Beyond", ICLR (AMSGrad).
//!
//! # Hyper-parameters (PyTorch's names and defaults)
//! `lr = 1e-3`, `betas = [0.9, 0.999]`, `eps = 1e-8`, `weight_decay = 0` (L2 unless
//! `decoupled_weight_decay = true`), `amsgrad = false`, `maximize = false`.

use crate::math::c;
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
use crate::shared_keys::{EitherDecayKeys, MomentKeys};
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;

/// Adam's hyper-parameters (see the module docs). [`AdamW`](crate::AdamW) runs the same
/// rule with decoupled weight decay.
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct Adam {
    /// learning rate
    #[param(default = 1e-3, range = NON_NEGATIVE)]
    pub lr: f64,
    /// use the running maximum of the second moment (AMSGrad)
    #[param(default = false)]
    pub amsgrad: bool,
    /// `betas`, and `eps` (added to the bias-corrected sqrt(v))
    #[param(flatten)]
    pub moments: MomentKeys,
    /// `weight_decay`, `decoupled_weight_decay`, `maximize`
    #[param(flatten)]
    pub decay: EitherDecayKeys,
}

impl UpdateRule for Adam {
    fn buffers(&self) -> &'static [&'static str] {
        if self.amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        }
    }

    fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
        let decay = self.decay.decay::<T>(hyper);
        let moments = self.moments.moments::<T>();
        let [bc1, bc2] = self.moments.bias_corrections(state.step);
        let step_size: T = c(hyper.lr / bc1);
        // sqrt(v) / sqrt(1 - b2^t), with the division hoisted out of the loop.
        let inv_sqrt_bc2: T = c(1.0 / bc2.sqrt());
        let eps: T = c(self.moments.eps);
        let zip = Zip::from(value).and(grad);
        match state.buffers {
            [m, v] => zip.and(m).and(v).for_each(|p, &g, m, v| {
                let g = decay.apply(p, g);
                moments.update(m, v, g);
                *p = *p - step_size * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
            }),
            [m, v, vmax] => zip.and(m).and(v).and(vmax).for_each(|p, &g, m, v, vmax| {
                let g = decay.apply(p, g);
                moments.update(m, v, g);
                *vmax = vmax.max(*v);
                *p = *p - step_size * *m / (vmax.sqrt() * inv_sqrt_bc2 + eps);
            }),
            _ => unreachable!("adam keeps two or three buffers"),
        }
    }
}

register_optimizer!(Adam,
    name: "adam",
    summary: "Adam: bias-corrected momentum over a root-mean-square scale (optionally AMSGrad)",
);

#[cfg(test)]
mod tests {
    use crate::testing::OneParam;

    #[test]
    fn first_step_is_lr_times_sign() {
        let p = OneParam::after("adam:lr=0.01,eps=0", &[1.0, 1.0], [[3.0, -0.001]]).value;
        assert!((p[0] - 0.99).abs() < 1e-14 && (p[1] - 1.01).abs() < 1e-14, "{p}");
    }

    #[test]
    fn amsgrad_keeps_the_maximum() {
        let sd = OneParam::after("adam:amsgrad=true", &[1.0], [[10.0], [0.0], [0.0]]).state();
        assert!(sd.arrays["p.max_exp_avg_sq"][[0]] > sd.arrays["p.exp_avg_sq"][[0]]);
    }
}
