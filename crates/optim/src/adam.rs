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

use crate::math::{betas, bias_correction, c, spec, Decay, Moments, WeightDecay};
use crate::register_optimizer;
use crate::rule::{FromParams, GroupHyper, RuleState, UpdateRule};
use nabla_registry::{ParamError, ParamSpec, Params};
use nabla_tensor::ndarray::{ArrayViewD, ArrayViewMutD, Zip};
use nabla_tensor::Element;

/// Adam's hyper-parameters other than `lr` and `weight_decay` (see the module docs).
/// Also the rule of [`AdamW`](crate::AdamW), which is Adam with decoupled weight decay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// Decay rate of the first moment.
    pub beta1: f64,
    /// Decay rate of the second moment.
    pub beta2: f64,
    /// Added to the bias-corrected root of the second moment.
    pub eps: f64,
    /// Keep the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
    /// L2 or decoupled weight decay.
    pub weight_decay: WeightDecay,
    /// Maximize instead of minimize.
    pub maximize: bool,
}

const SCHEMA: &[ParamSpec] = &[
    spec::lr(1e-3),
    spec::BETAS,
    spec::eps(1e-8, "added to the bias-corrected sqrt(v)"),
    spec::weight_decay(0.0, "weight decay (L2 added to the gradient unless decoupled_weight_decay)"),
    ParamSpec::bool("amsgrad", false, "use the running maximum of the second moment (AMSGrad)"),
    spec::MAXIMIZE,
    spec::DECOUPLED,
];

impl Adam {
    /// Reads the shared keys (`betas`, `eps`, `amsgrad`, `maximize`) with the given kind of
    /// weight decay.
    pub(crate) fn with_decay(p: &Params, weight_decay: WeightDecay) -> Result<Self, ParamError> {
        let (beta1, beta2) = betas(p)?;
        Ok(Adam {
            beta1,
            beta2,
            eps: p.f64("eps")?,
            amsgrad: p.bool("amsgrad")?,
            weight_decay,
            maximize: p.bool("maximize")?,
        })
    }
}

impl FromParams for Adam {
    fn from_params(p: &Params) -> Result<Self, ParamError> {
        Adam::with_decay(p, WeightDecay::decoupled_if(p.bool("decoupled_weight_decay")?))
    }
}

impl UpdateRule for Adam {
    fn buffers(&self) -> &'static [&'static str] {
        if self.amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        }
    }

    fn update<T: Element>(
        &self,
        hyper: GroupHyper,
        state: RuleState<'_, T>,
        value: ArrayViewMutD<'_, T>,
        grad: ArrayViewD<'_, T>,
    ) {
        let decay = Decay::<T>::new(self.weight_decay, hyper.lr, hyper.weight_decay, self.maximize);
        let moments = Moments::<T>::new(self.beta1, self.beta2);
        let step_size: T = c(hyper.lr / bias_correction(self.beta1, state.step));
        // sqrt(v) / sqrt(1 - b2^t), with the division hoisted out of the loop.
        let inv_sqrt_bc2: T = c(1.0 / bias_correction(self.beta2, state.step).sqrt());
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
    params: SCHEMA,
);

#[cfg(test)]
mod tests {
    use crate::{build_optimizer, ParamMut};
    use nabla_tensor::ndarray::arr1;

    #[test]
    fn first_step_is_lr_times_sign() {
        let mut o = build_optimizer::<f64>("adam:lr=0.01,eps=0").unwrap();
        let mut p = arr1(&[1.0, 1.0]).into_dyn();
        let g = arr1(&[3.0, -0.001]).into_dyn();
        o.step(&mut [ParamMut::new("p", p.view_mut(), Some(g.view()))]).unwrap();
        assert!((p[0] - 0.99).abs() < 1e-14 && (p[1] - 1.01).abs() < 1e-14, "{p}");
    }

    #[test]
    fn amsgrad_keeps_the_maximum() {
        let mut o = build_optimizer::<f64>("adam:amsgrad=true").unwrap();
        let mut p = arr1(&[1.0]).into_dyn();
        for g in [10.0, 0.0, 0.0] {
            let g = arr1(&[g]).into_dyn();
            o.step(&mut [ParamMut::new("p", p.view_mut(), Some(g.view()))]).unwrap();
        }
        let sd = o.state_dict();
        assert!(sd.arrays["p.max_exp_avg_sq"][[0]] > sd.arrays["p.exp_avg_sq"][[0]]);
    }
}
