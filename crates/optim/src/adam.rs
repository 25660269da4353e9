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

use crate::math::{bias_correction, c, Decay, Moments, WeightDecay};
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
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
    /// decay rates [beta1, beta2] of the first and second moment estimates
    #[param(default = [0.9, 0.999], range = UNIT_HALF_OPEN)]
    pub betas: [f64; 2],
    /// added to the bias-corrected sqrt(v)
    #[param(default = 1e-8, range = NON_NEGATIVE)]
    pub eps: f64,
    /// weight decay (L2 added to the gradient unless decoupled_weight_decay)
    #[param(default = 0.0, range = NON_NEGATIVE)]
    pub weight_decay: f64,
    /// use the running maximum of the second moment (AMSGrad)
    #[param(default = false)]
    pub amsgrad: bool,
    /// maximize the objective (negate the gradient)
    #[param(default = false)]
    pub maximize: bool,
    /// decoupled weight decay p <- p*(1 - lr*wd) instead of L2 added to the gradient
    #[param(default = false)]
    pub decoupled_weight_decay: bool,
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
        let decay = Decay::<T>::new(
            WeightDecay::decoupled_if(self.decoupled_weight_decay),
            hyper.lr,
            hyper.weight_decay,
            self.maximize,
        );
        let moments = Moments::<T>::new(self.betas[0], self.betas[1]);
        let step_size: T = c(hyper.lr / bias_correction(self.betas[0], state.step));
        // sqrt(v) / sqrt(1 - b2^t), with the division hoisted out of the loop.
        let inv_sqrt_bc2: T = c(1.0 / bias_correction(self.betas[1], state.step).sqrt());
        let eps: T = c(self.eps);
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
    use crate::ParamMut;
    use nabla_tensor::ndarray::arr1;

    #[test]
    fn first_step_is_lr_times_sign() {
        let mut o = nabla_registry::build::<dyn crate::Optimizer<f64>>("adam:lr=0.01,eps=0", ())
            .map(|b| b.value)
            .unwrap();
        let mut p = arr1(&[1.0, 1.0]).into_dyn();
        let g = arr1(&[3.0, -0.001]).into_dyn();
        o.step(&mut [ParamMut::new("p", p.view_mut(), Some(g.view()))]).unwrap();
        assert!((p[0] - 0.99).abs() < 1e-14 && (p[1] - 1.01).abs() < 1e-14, "{p}");
    }

    #[test]
    fn amsgrad_keeps_the_maximum() {
        let mut o = nabla_registry::build::<dyn crate::Optimizer<f64>>("adam:amsgrad=true", ())
            .map(|b| b.value)
            .unwrap();
        let mut p = arr1(&[1.0]).into_dyn();
        for g in [10.0, 0.0, 0.0] {
            let g = arr1(&[g]).into_dyn();
            o.step(&mut [ParamMut::new("p", p.view_mut(), Some(g.view()))]).unwrap();
        }
        let sd = o.state_dict();
        assert!(sd.arrays["p.max_exp_avg_sq"][[0]] > sd.arrays["p.exp_avg_sq"][[0]]);
    }
}
