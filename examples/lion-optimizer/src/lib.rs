//! An example plugin for nabla: the Lion optimizer, in its own crate, registered by name with
//! the public macro of `nabla-optim` — no change to nabla's crates or to the trainer.
//!
//! Link it into your binary and name it in a configuration (`optimizer = "lion"`):
//!
//! ```
//! use nabla_lion as _; // link the plugin: without this line its registration vanishes
//!
//! let opt = nabla_registry::build::<dyn nabla_optim::Optimizer<f32>>("lion:lr=3e-4,weight_decay=0.1", ()).unwrap().value;
//! assert_eq!(opt.name(), "lion");
//! ```
//!
//! See `docs/plugins.md` for a walkthrough.
//!
//! # Lion (EvoLved Sign Momentum)
//! Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms", NeurIPS
//! (arXiv:2302.06675). With `g` the gradient, `m` the momentum, `p` the parameter:
//!
//! ```text
//! c <- b1 * m + (1 - b1) * g                  (interpolation used for the update only)
//! p <- p - lr * (sign(c) + wd * p)            (= p*(1 - lr*wd) - lr*sign(c): decoupled decay)
//! m <- b2 * m + (1 - b2) * g                  (the momentum tracks with its own rate)
//! ```
//!
//! Every element moves by exactly `lr` (plus the decay), so the update has the same size
//! for all coordinates, like Adam's first step; the paper recommends a learning rate 3-10x
//! smaller and a weight decay 3-10x larger than AdamW's. It keeps one buffer (`exp_avg`)
//! instead of Adam's two. `sign(0) = 0`, so a zero gradient on a fresh state moves nothing.
//!
//! Hyper-parameters: `lr = 1e-4`, `betas = [0.9, 0.99]`, `weight_decay = 0` (decoupled).

use nabla_optim::{register_optimizer, Decay, Update, UpdateRule, WeightDecay};
use nabla_registry::{Alias, HyperParams};
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;

/// Lion's hyper-parameters (PyTorch-style names, the paper's defaults): this one declaration
/// is its schema, its documentation in `nabla list` and its reader.
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct Lion {
    /// learning rate (the size of every element's step)
    #[param(default = 1e-4, range = NON_NEGATIVE)]
    pub lr: f64,
    /// [beta1, beta2]: update interpolation and momentum decay
    #[param(default = [0.9, 0.99], range = UNIT)]
    pub betas: [f64; 2],
    /// decoupled weight decay: p <- p*(1 - lr*wd)
    #[param(default = 0.0, range = NON_NEGATIVE)]
    pub weight_decay: f64,
}

/// The sign with `sign(0) = 0` (`f32::signum(0.0)` is 1).
#[inline(always)]
fn sign<T: Element>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        x // zero (of either sign) or NaN
    }
}

impl UpdateRule for Lion {
    fn buffers(&self) -> &'static [&'static str] {
        &["exp_avg"]
    }

    fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
        let decay = Decay::<T>::new(WeightDecay::Decoupled, hyper.lr, hyper.weight_decay, false);
        let lr = T::from_f64(hyper.lr);
        let (b1, one_minus_b1) = (T::from_f64(self.betas[0]), T::from_f64(1.0 - self.betas[0]));
        let (b2, one_minus_b2) = (T::from_f64(self.betas[1]), T::from_f64(1.0 - self.betas[1]));
        let [m] = state.buffers else { unreachable!("lion keeps one buffer") };
        Zip::from(value).and(grad).and(m).for_each(|p, &g, m| {
            let g = decay.apply(p, g);
            let c = b1 * *m + one_minus_b1 * g;
            *p = *p - lr * sign(c);
            *m = b2 * *m + one_minus_b2 * g;
        });
    }
}

register_optimizer!(Lion,
    name: "lion",
    aliases: [Alias::new("evolved_sign_momentum")],
    summary: "Lion: sign of interpolated momentum (Chen et al., 2023); example plugin",
);

/// The plugin guide (`docs/plugins.md`): its code is compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/plugins.md")]
pub struct PluginGuideDoctests;

#[cfg(test)]
mod tests {
    use super::sign;

    #[test]
    fn sign_of_zero_is_zero() {
        assert_eq!(sign(0.0f32), 0.0);
        assert_eq!(sign(-2.5f64), -1.0);
        assert_eq!(sign(1e-30f64), 1.0);
    }
}
