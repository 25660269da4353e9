//! RMSprop: steps divided by a moving root-mean-square of recent gradients.
//!
//! # Update rule (PyTorch's `torch.optim.RMSprop`)
//! ```text
//! g <- g + wd * p                                   (L2 weight decay)
//! v <- alpha * v + (1 - alpha) * g^2
//! if centered:  a <- alpha * a + (1 - alpha) * g;   d = sqrt(v - a^2) + eps
//! else:                                             d = sqrt(v) + eps
//! if momentum > 0:  b <- momentum * b + g / d;   p <- p - lr * b
//! else:                                          p <- p - lr * g / d
//! ```
//! (`eps` is added outside the square root.)
//!
//! # Intuition
//! Adagrad with a forgetting memory: dividing by the recent gradient magnitude makes the
//! step size roughly scale-free per coordinate, without Adagrad's ever-shrinking steps. The
//! centred variant divides by an estimate of the gradient's standard deviation instead of its
//! root mean square; momentum adds inertia to the normalised step.
//!
//! Source: Tieleman & Hinton, 2012, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for
//! Machine Learning; the centred form is from Graves, 2013, "Generating Sequences With
//! Recurrent Neural Networks".
//!
//! # Hyper-parameters (PyTorch's names and defaults)
//! `lr = 1e-2`, `alpha = 0.99`, `eps = 1e-8`, `weight_decay = 0` (L2), `momentum = 0`,
//! `centered = false`, `maximize = false`.

use crate::math::{c, lerp};
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
use crate::shared_keys::L2DecayKeys;
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;

/// RMSprop's hyper-parameters (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct RmsProp {
    /// learning rate
    #[param(default = 1e-2, range = NON_NEGATIVE)]
    pub lr: f64,
    /// smoothing constant of the squared-gradient average (below 1: at 1 the average never
    /// leaves zero, above it grows without bound)
    #[param(default = 0.99, range = UNIT_HALF_OPEN)]
    pub alpha: f64,
    /// added to the root mean square (outside the square root)
    #[param(default = 1e-8, range = NON_NEGATIVE)]
    pub eps: f64,
    /// momentum factor of the normalised step (below 1: from 1 on it diverges)
    #[param(default = 0.0, range = UNIT_HALF_OPEN)]
    pub momentum: f64,
    /// divide by the estimated standard deviation of the gradient
    #[param(default = false)]
    pub centered: bool,
    /// `weight_decay` (L2), `maximize`
    #[param(flatten)]
    pub decay: L2DecayKeys,
}

impl UpdateRule for RmsProp {
    fn buffers(&self) -> &'static [&'static str] {
        match (self.centered, self.momentum > 0.0) {
            (false, false) => &["square_avg"],
            (false, true) => &["square_avg", "momentum_buffer"],
            (true, false) => &["square_avg", "grad_avg"],
            (true, true) => &["square_avg", "grad_avg", "momentum_buffer"],
        }
    }

    fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
        let decay = self.decay.decay::<T>(hyper);
        let (lr, alpha, one_minus_alpha, eps, mu): (T, T, T, T, T) =
            (c(hyper.lr), c(self.alpha), c(1.0 - self.alpha), c(self.eps), c(self.momentum));
        let zip = Zip::from(value).and(grad);
        match state.buffers {
            [v] => zip.and(v).for_each(|p, &g, v| {
                let g = decay.apply(p, g);
                *v = *v * alpha + one_minus_alpha * g * g;
                *p = *p - lr * g / (v.sqrt() + eps);
            }),
            [v, b] if !self.centered => zip.and(v).and(b).for_each(|p, &g, v, b| {
                let g = decay.apply(p, g);
                *v = *v * alpha + one_minus_alpha * g * g;
                *b = *b * mu + g / (v.sqrt() + eps);
                *p = *p - lr * *b;
            }),
            [v, a] => zip.and(v).and(a).for_each(|p, &g, v, a| {
                let g = decay.apply(p, g);
                *v = *v * alpha + one_minus_alpha * g * g;
                *a = lerp(*a, g, one_minus_alpha);
                *p = *p - lr * g / ((*v - *a * *a).sqrt() + eps);
            }),
            [v, a, b] => zip.and(v).and(a).and(b).for_each(|p, &g, v, a, b| {
                let g = decay.apply(p, g);
                *v = *v * alpha + one_minus_alpha * g * g;
                *a = lerp(*a, g, one_minus_alpha);
                *b = *b * mu + g / ((*v - *a * *a).sqrt() + eps);
                *p = *p - lr * *b;
            }),
            _ => unreachable!("rmsprop keeps one to three buffers"),
        }
    }
}

register_optimizer!(RmsProp,
    name: "rmsprop",
    summary: "RMSprop: steps divided by a moving root mean square of the gradients",
);

#[cfg(test)]
mod tests {
    use crate::testing::OneParam;

    #[test]
    fn by_hand() {
        let run =
            OneParam::after("rmsprop:lr=0.1,alpha=0.75,eps=0,momentum=0.5,centered=true", &[1.0], [[2.0]]);
        // v = 0.25*4 = 1, a = 0.5, d = sqrt(1 - 0.25), b = 2/d
        let d = 0.75f64.sqrt();
        assert!((run.value[0] - (1.0 - 0.1 * 2.0 / d)).abs() < 1e-15);
        let sd = run.state();
        assert_eq!(sd.arrays.len(), 3);
        assert!(sd.arrays.contains_key("p.grad_avg") && sd.arrays.contains_key("p.momentum_buffer"));
    }
}
