//! Hyper-parameters that several optimizers declare alike (PyTorch's names, defaults and
//! meaning), each group one struct that an optimizer joins to its own keys with
//! `#[param(flatten)]`, together with the building block of [`math`](crate::math) it
//! configures. Flattened keys follow the optimizer's own keys in its schema.

use crate::math::{bias_correction, Decay, Moments, WeightDecay};
use crate::rule::GroupHyper;
use nabla_registry::HyperParams;
use nabla_tensor::Element;

/// The moment keys of the Adam family (Adam, AdamW, RAdam, NAdam, Adamax):
/// `betas = [0.9, 0.999]`, `eps = 1e-8`.
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct MomentKeys {
    /// decay rates [beta1, beta2] of the first and second moment estimates
    #[param(default = [0.9, 0.999], range = UNIT_HALF_OPEN)]
    pub betas: [f64; 2],
    /// term added to the denominator to improve numerical stability
    #[param(default = 1e-8, range = NON_NEGATIVE)]
    pub eps: f64,
}

impl MomentKeys {
    /// The moment estimates with decay rates `betas`.
    pub fn moments<T: Element>(&self) -> Moments<T> {
        Moments::new(self.betas[0], self.betas[1])
    }

    /// The bias corrections `[1 - b1^t, 1 - b2^t]` of both moments at step `t` (from 1).
    pub fn bias_corrections(&self, step: u64) -> [f64; 2] {
        self.betas.map(|beta| bias_correction(beta, step))
    }
}

/// The weight-decay keys of an optimizer that offers either kind of weight decay (Adam,
/// RAdam, NAdam): `weight_decay = 0` (L2 unless `decoupled_weight_decay = true`),
/// `maximize = false`.
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct EitherDecayKeys {
    /// weight decay (L2 added to the gradient unless decoupled_weight_decay)
    #[param(default = 0.0, range = NON_NEGATIVE)]
    pub weight_decay: f64,
    /// decoupled weight decay p <- p*(1 - lr*wd) instead of L2 added to the gradient
    #[param(default = false)]
    pub decoupled_weight_decay: bool,
    /// maximize the objective (negate the gradient)
    #[param(default = false)]
    pub maximize: bool,
}

impl EitherDecayKeys {
    /// The per-element decay at a group's learning rate and weight decay (a group may
    /// override the optimizer's `weight_decay`, so `hyper`'s is the one used).
    pub fn decay<T: Element>(&self, hyper: GroupHyper) -> Decay<T> {
        let kind = WeightDecay::decoupled_if(self.decoupled_weight_decay);
        Decay::new(kind, hyper.lr, hyper.weight_decay, self.maximize)
    }
}

/// The weight-decay keys of an optimizer with L2 weight decay only (SGD, Adagrad, RMSprop,
/// Adadelta, Adamax): `weight_decay = 0`, `maximize = false`.
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
pub struct L2DecayKeys {
    /// L2 penalty (added to the gradient)
    #[param(default = 0.0, range = NON_NEGATIVE)]
    pub weight_decay: f64,
    /// maximize the objective (negate the gradient)
    #[param(default = false)]
    pub maximize: bool,
}

impl L2DecayKeys {
    /// The per-element decay at a group's learning rate and weight decay (a group may
    /// override the optimizer's `weight_decay`, so `hyper`'s is the one used).
    pub fn decay<T: Element>(&self, hyper: GroupHyper) -> Decay<T> {
        Decay::new(WeightDecay::L2, hyper.lr, hyper.weight_decay, self.maximize)
    }
}
