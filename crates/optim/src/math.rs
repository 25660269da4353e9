//! Building blocks shared by the update rules: weight decay of either kind, the moment
//! estimates of the Adam family and bias corrections.
//!
//! Scalar coefficients (bias corrections, step sizes) are computed in `f64` once per
//! parameter and step, then rounded to the element type; the per-element work stays in `T`.

use nabla_tensor::Element;

/// How weight decay enters an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightDecay {
    /// L2 regularisation: `g <- g + wd * p` before anything else (the gradient of
    /// `wd/2 * ||p||^2` is added to the loss's), so adaptive optimizers rescale it too.
    L2,
    /// Decoupled (Loshchilov & Hutter, 2019): `p <- p * (1 - lr * wd)` before the update,
    /// independent of the gradient statistics.
    Decoupled,
}

impl WeightDecay {
    /// `Decoupled` when `decoupled`, else `L2`.
    pub fn decoupled_if(decoupled: bool) -> WeightDecay {
        if decoupled {
            WeightDecay::Decoupled
        } else {
            WeightDecay::L2
        }
    }
}

/// Weight decay and `maximize` folded into one per-element operation, so that every rule
/// applies them the same way inside its fused loop.
#[derive(Clone, Copy, Debug)]
pub struct Decay<T> {
    sign: T,
    l2: T,
    shrink: T,
}

impl<T: Element> Decay<T> {
    /// The decay of `kind` with strength `weight_decay` at learning rate `lr`; with
    /// `maximize` the gradient is negated first (PyTorch's `maximize`).
    pub fn new(kind: WeightDecay, lr: f64, weight_decay: f64, maximize: bool) -> Self {
        let (l2, shrink) = match kind {
            WeightDecay::L2 => (weight_decay, 1.0),
            WeightDecay::Decoupled => (0.0, 1.0 - lr * weight_decay),
        };
        Decay {
            sign: T::from_f64(if maximize { -1.0 } else { 1.0 }),
            l2: T::from_f64(l2),
            shrink: T::from_f64(shrink),
        }
    }

    /// Applies the decay to one element: returns the effective gradient (`±g + wd*p` for L2,
    /// `±g` for decoupled) and shrinks `p` by `1 - lr*wd` when decoupled. Exact when there is
    /// nothing to do (multiplications by 1 and additions of 0).
    #[inline(always)]
    pub fn apply(&self, p: &mut T, g: T) -> T {
        let g = g * self.sign + self.l2 * *p;
        *p = *p * self.shrink;
        g
    }
}

/// `1 - beta^step`, the bias correction of an exponential moving average started at zero.
pub fn bias_correction(beta: f64, step: u64) -> f64 {
    1.0 - beta.powf(step as f64)
}

/// Linear interpolation `a + w*(b - a)`, PyTorch's `lerp` for weights below 0.5 (the case
/// of every moving average with a decay above 0.5; PyTorch evaluates larger weights from the
/// other end, which differs only by rounding). Branch-free, so the loops that use it
/// vectorise.
#[inline(always)]
pub fn lerp<T: Element>(a: T, b: T, w: T) -> T {
    a + w * (b - a)
}

/// The two moment estimates of the Adam family:
/// `m <- b1*m + (1-b1)*g` (as a lerp) and `v <- b2*v + (1-b2)*g^2`.
#[derive(Clone, Copy, Debug)]
pub struct Moments<T> {
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
}

impl<T: Element> Moments<T> {
    /// Moments with decay rates `beta1`, `beta2`.
    pub fn new(beta1: f64, beta2: f64) -> Self {
        Moments {
            one_minus_beta1: T::from_f64(1.0 - beta1),
            beta2: T::from_f64(beta2),
            one_minus_beta2: T::from_f64(1.0 - beta2),
        }
    }

    /// Updates the first moment only.
    #[inline(always)]
    pub fn first(&self, m: &mut T, g: T) {
        *m = lerp(*m, g, self.one_minus_beta1);
    }

    /// Updates the second (raw, uncentred) moment only.
    #[inline(always)]
    pub fn second(&self, v: &mut T, g: T) {
        *v = *v * self.beta2 + self.one_minus_beta2 * g * g;
    }

    /// Updates both moments.
    #[inline(always)]
    pub fn update(&self, m: &mut T, v: &mut T, g: T) {
        self.first(m, g);
        self.second(v, g);
    }
}

/// `T::from_f64`, short.
#[inline(always)]
pub(crate) fn c<T: Element>(x: f64) -> T {
    T::from_f64(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_kinds() {
        let l2 = Decay::<f64>::new(WeightDecay::L2, 0.1, 0.5, false);
        let mut p = 2.0;
        assert_eq!(l2.apply(&mut p, 1.0), 2.0);
        assert_eq!(p, 2.0);
        let dec = Decay::<f64>::new(WeightDecay::Decoupled, 0.1, 0.5, true);
        let mut p = 2.0;
        assert_eq!(dec.apply(&mut p, 1.0), -1.0);
        assert_eq!(p, 2.0 * (1.0 - 0.05));
    }

    #[test]
    fn lerp_interpolates() {
        assert_eq!(lerp(1.0f64, 3.0, 0.25), 1.5);
        assert_eq!(lerp(1.0f64, 3.0, 0.0), 1.0);
        assert_eq!(lerp(1.0f64, 3.0, 1.0), 3.0);
    }

    #[test]
    fn moments_and_bias_correction() {
        let m = Moments::<f64>::new(0.9, 0.999);
        let (mut a, mut b) = (0.0, 0.0);
        m.update(&mut a, &mut b, 2.0);
        assert!((a - 0.2).abs() < 1e-15 && (b - 0.004).abs() < 1e-15);
        assert!((a / bias_correction(0.9, 1) - 2.0).abs() < 1e-14);
        assert!((b / bias_correction(0.999, 1) - 4.0).abs() < 1e-12);
    }
}
