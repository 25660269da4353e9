//! The optimizer interface: named parameter views, parameter groups, the [`Optimizer`] trait
//! and the checkpointable [`StateDict`].

use crate::OptimError;
use nabla_tensor::ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use nabla_tensor::Element;
use std::collections::BTreeMap;

/// One parameter as an optimizer sees it: its stable name, its value (updated in place), its
/// gradient and its parameter group.
///
/// The optimizer keeps its per-parameter state under `name`, so the name must be the same
/// from step to step (and in the checkpoint) and unique among the parameters of one step.
/// A parameter whose `grad` is `None` is skipped: it is not updated and gets no state
/// (as in PyTorch, where a parameter with `grad = None` is skipped).
#[derive(Debug)]
pub struct ParamMut<'a, T> {
    /// Stable name, such as `"0.weight"`.
    pub name: &'a str,
    /// The parameter's value, updated in place by [`Optimizer::step`].
    pub value: ArrayViewMutD<'a, T>,
    /// The gradient of the loss with respect to the value (same shape), or `None` to skip.
    pub grad: Option<ArrayViewD<'a, T>>,
    /// Index of the parameter group (0 is the group the optimizer was built with).
    pub group: usize,
}

impl<'a, T> ParamMut<'a, T> {
    /// A parameter of group 0.
    pub fn new(name: &'a str, value: ArrayViewMutD<'a, T>, grad: Option<ArrayViewD<'a, T>>) -> Self {
        ParamMut { name, value, grad, group: 0 }
    }

    /// The same parameter in another group.
    pub fn in_group(mut self, group: usize) -> Self {
        self.group = group;
        self
    }
}

/// Hyper-parameters that differ between parameter groups.
///
/// A group's learning rate is `optimizer.lr() * lr_scale`: schedulers set the optimizer's
/// learning rate with [`Optimizer::set_lr`] and every group follows proportionally. Group 0,
/// created from the optimizer's configuration, has `lr_scale = 1` and the configured
/// `weight_decay`. Every other hyper-parameter (betas, momentum, eps, ...) is shared by all
/// groups.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamGroup {
    /// The group's learning rate relative to [`Optimizer::lr`] (finite, `>= 0`).
    pub lr_scale: f64,
    /// The group's weight decay (finite, `>= 0`); whether it is L2 or decoupled is the
    /// optimizer's rule, as its documentation says.
    pub weight_decay: f64,
}

impl ParamGroup {
    /// A group with the given learning-rate scale and weight decay.
    pub fn new(lr_scale: f64, weight_decay: f64) -> Self {
        ParamGroup { lr_scale, weight_decay }
    }

    /// Checks that both values are finite and non-negative.
    pub fn validate(&self) -> Result<(), OptimError> {
        for (what, x) in [("lr_scale", self.lr_scale), ("weight_decay", self.weight_decay)] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(OptimError::InvalidGroup {
                    message: format!("{what} must be finite and >= 0, got {x}"),
                });
            }
        }
        Ok(())
    }
}

/// A scalar entry of a state dictionary: step counters are `U64`, everything else `F64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// A real value (learning rate, NAdam's `mu_product`, a plateau's best metric, ...).
    F64(f64),
    /// A counter (step numbers).
    U64(u64),
}

impl Scalar {
    /// The value as `f64` if it is an `F64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::F64(x) => Some(x),
            Scalar::U64(_) => None,
        }
    }

    /// The value as `u64` if it is a `U64`.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Scalar::U64(n) => Some(n),
            Scalar::F64(_) => None,
        }
    }
}

/// Named scalars, the whole state of a scheduler and part of an optimizer's state.
pub type Scalars = BTreeMap<String, Scalar>;

/// An optimizer's complete state, as plain named arrays and scalars (ready for safetensors).
///
/// Keys of built-in optimizers (the per-parameter ones use PyTorch's state names):
///
/// | key | entry |
/// | --- | --- |
/// | `lr` | scalar `F64`: [`Optimizer::lr`] |
/// | `groups.{i}.lr_scale`, `groups.{i}.weight_decay` | scalars `F64` of group `i` |
/// | `{param}.step` | scalar `U64`: how many updates the parameter received |
/// | `{param}.{buffer}` | array: a state buffer, e.g. `0.weight.exp_avg` |
/// | `{param}.{scalar}` | scalar `F64`: per-parameter scalar state, e.g. `0.weight.mu_product` |
///
/// Loading the dictionary into a freshly built optimizer of the same configuration and
/// continuing gives bit-for-bit the trajectory of the uninterrupted run.
#[derive(Clone, Debug, PartialEq)]
pub struct StateDict<T> {
    /// State buffers by key.
    pub arrays: BTreeMap<String, ArrayD<T>>,
    /// Scalars by key.
    pub scalars: Scalars,
}

impl<T> Default for StateDict<T> {
    fn default() -> Self {
        StateDict { arrays: BTreeMap::new(), scalars: BTreeMap::new() }
    }
}

/// An optimizer over parameters of element type `T` (`f32` or `f64`).
///
/// Object safe: the registry hands out `Box<dyn Optimizer<f32>>` and `Box<dyn Optimizer<f64>>`.
/// It knows nothing of autograd: [`step`](Optimizer::step) receives named views of values and
/// gradients. Gradients belong to the caller, so there is no `zero_grad` here; clear them where
/// they are computed.
pub trait Optimizer<T: Element>: Send + Sync + std::fmt::Debug {
    /// The canonical registry name (`"adam"`), also for optimizers built through an alias.
    fn name(&self) -> &str;

    /// Whether each element's update depends only on that element's value, gradient and state
    /// (true for every built-in optimizer). Such an update commutes with permuting, reshaping
    /// or splitting a parameter tensor.
    fn is_elementwise(&self) -> bool;

    /// Updates every parameter that has a gradient, in place.
    ///
    /// Everything is checked before anything is updated (group indices, gradient shapes,
    /// unique names, state shapes), so on an error no parameter and no state has changed.
    fn step(&mut self, params: &mut [ParamMut<'_, T>]) -> Result<(), OptimError>;

    /// The learning rate (of group 0; group `i` uses `lr() * groups()[i].lr_scale`).
    fn lr(&self) -> f64;

    /// Sets the learning rate; every group follows proportionally (see [`ParamGroup`]).
    /// Schedulers call this. The value is not validated: pass a finite value `>= 0`.
    fn set_lr(&mut self, lr: f64);

    /// The parameter groups; group 0 exists from the start.
    fn groups(&self) -> &[ParamGroup];

    /// Adds a group and returns its index (for [`ParamMut::group`]).
    fn add_group(&mut self, group: ParamGroup) -> Result<usize, OptimError>;

    /// Replaces the settings of group `index`.
    fn set_group(&mut self, index: usize, group: ParamGroup) -> Result<(), OptimError>;

    /// The effective learning rate of group `index`, if it exists.
    fn group_lr(&self, index: usize) -> Option<f64> {
        self.groups().get(index).map(|g| self.lr() * g.lr_scale)
    }

    /// The complete state (see [`StateDict`] for the keys).
    fn state_dict(&self) -> StateDict<T>;

    /// Replaces the state by `state`, which must come from an optimizer of the same name and
    /// configuration with the same number of groups. Missing, unexpected, mistyped or
    /// inconsistently shaped entries are errors, and on an error nothing changes. Shapes are
    /// compared with the parameters in the next [`step`](Optimizer::step).
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<(), OptimError>;
}
