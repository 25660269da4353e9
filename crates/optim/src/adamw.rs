//! AdamW: Adam with decoupled weight decay.
//!
//! # Update rule (PyTorch's `torch.optim.AdamW`)
//! ```text
//! p    <- p * (1 - lr * wd)           (decoupled weight decay, before the update)
//! m    <- b1 * m + (1 - b1) * g
//! v    <- b2 * v + (1 - b2) * g^2
//! vmax <- max(vmax, v)                (amsgrad only; vmax replaces v below)
//! p    <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//! ```
//!
//! # Intuition
//! With L2 regularisation inside Adam, the decay term `wd * p` is divided by `sqrt(v)` like
//! the gradient, so parameters with large gradients are barely regularised. Decoupling
//! shrinks every parameter by the same factor `1 - lr*wd` per step, as weight decay does for
//! plain SGD, and makes the best `wd` largely independent of `lr`. With a zero gradient a step
//! multiplies the parameters by exactly `1 - lr*wd`.
//!
//! Paper: Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization", ICLR.
//!
//! # Hyper-parameters (PyTorch's names and defaults)
//! `lr = 1e-3`, `betas = [0.9, 0.999]`, `eps = 1e-8`, `weight_decay = 1e-2` (decoupled),
//! `amsgrad = false`, `maximize = false`. `decoupled_weight_decay` is accepted for
//! compatibility with PyTorch's recorded hyper-parameters and must be `true` (use `adam` for
//! L2 decay).

use crate::adam::Adam;
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
use crate::shared_keys::{EitherDecayKeys, MomentKeys};
use nabla_registry::HyperParams;
use nabla_tensor::Element;

/// AdamW's hyper-parameters: Adam's, with decoupled weight decay of 0.01 by default.
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
#[hyper(check = Self::check)]
pub struct AdamW {
    /// learning rate
    #[param(default = 1e-3, range = NON_NEGATIVE)]
    pub lr: f64,
    /// `betas`, and `eps` (added to the bias-corrected sqrt(v))
    #[param(flatten)]
    pub moments: MomentKeys,
    /// decoupled weight decay: p <- p*(1 - lr*wd) before each update
    #[param(default = 1e-2, range = NON_NEGATIVE)]
    pub weight_decay: f64,
    /// use the running maximum of the second moment (AMSGrad)
    #[param(default = false)]
    pub amsgrad: bool,
    /// maximize the objective (negate the gradient)
    #[param(default = false)]
    pub maximize: bool,
    /// always true for AdamW (use adam for L2 decay)
    #[param(default = true)]
    pub decoupled_weight_decay: bool,
}

impl AdamW {
    fn check(&self) -> Result<(), String> {
        if self.decoupled_weight_decay {
            Ok(())
        } else {
            Err("AdamW's weight decay is always decoupled; use 'adam' for L2 weight decay".to_string())
        }
    }

    /// The Adam rule this configuration runs.
    pub fn adam(&self) -> Adam {
        let AdamW { lr, moments, weight_decay, amsgrad, maximize, .. } = *self;
        let decay = EitherDecayKeys { weight_decay, decoupled_weight_decay: true, maximize };
        Adam { lr, amsgrad, moments, decay }
    }
}

impl UpdateRule for AdamW {
    fn buffers(&self) -> &'static [&'static str] {
        self.adam().buffers()
    }

    fn update<T: Element>(&self, update: Update<'_, T>) {
        self.adam().update(update);
    }
}

register_optimizer!(AdamW,
    name: "adamw",
    summary: "AdamW: Adam with decoupled weight decay",
);

#[cfg(test)]
mod tests {
    use crate::testing::{build_optimizer, OneParam};
    use nabla_tensor::ndarray::arr1;

    #[test]
    fn zero_gradient_only_decays() {
        let p = OneParam::after("adamw:lr=0.1,weight_decay=0.5", &[2.0, -3.0], [[0.0, 0.0]]).value;
        let f = 1.0 - 0.1 * 0.5;
        assert_eq!(p, arr1(&[2.0 * f, -3.0 * f]).into_dyn());
        assert!(build_optimizer::<f64>("adamw:decoupled_weight_decay=false").is_err());
    }
}
