//! Optimizers, learning-rate schedulers and gradient clipping of nabla, conformant to
//! PyTorch and usable alone on plain `ndarray` arrays (this crate knows nothing of autograd).
//!
//! * [`Optimizer<T>`]: object safe, for `T = f32` and `f64`. [`Optimizer::step`] takes a
//!   slice of [`ParamMut`] (stable name, value view, optional gradient view, group index);
//!   state is kept per parameter *name*. Parameter groups ([`ParamGroup`]) have their own
//!   learning-rate scale and weight decay; [`Optimizer::lr`] / [`Optimizer::set_lr`] drive
//!   all groups proportionally. [`Optimizer::state_dict`] / [`Optimizer::load_state_dict`]
//!   export and import the state as named arrays and scalars ([`StateDict`]), so a
//!   checkpoint resumes bit for bit.
//! * Registered optimizers (PyTorch's hyper-parameter names and defaults; one file each):
//!   `sgd` (aliases `momentum`, `nag`, `nesterov`), `adagrad`, `rmsprop`, `adadelta`,
//!   `adam` (with `amsgrad`), `adamw`, `radam`, `nadam`, `adamax`. Build them by name with
//!   [`nabla_registry::build`]: `build::<dyn Optimizer<f32>>("adamw:lr=3e-4", ())`. Keys
//!   several of them share are declared once, with the building block they configure, and
//!   flattened into each one's hyper-parameters: [`MomentKeys`] (`betas`, `eps`),
//!   [`EitherDecayKeys`] and [`L2DecayKeys`] (`weight_decay`, `maximize`, ...).
//! * Schedulers ([`Scheduler`]): `constant`, `step`, `multistep`, `exponential`,
//!   `cosine_annealing`, `linear_warmup` (followed by any other), `reduce_on_plateau`,
//!   built with [`nabla_registry::build`] (`build::<dyn Scheduler>("cosine:t_max=10", lr)`); their state is checkpointable too.
//! * Clipping: [`clip_grad_norm`] (returns the norm, optional error on non-finite) and
//!   [`clip_grad_value`]; [`grad_norm`] over the vectorized [`sum_of_squares`].
//! * Plugins: a new optimizer is one file, an [`UpdateRule`] type deriving
//!   [`HyperParams`](nabla_registry::HyperParams), and one
//!   [`register_optimizer!`] call; [`testing`] holds the property suite every registered
//!   optimizer must pass (see `docs/plugins.md`) and the helpers of hand-computed tests
//!   ([`testing::build_optimizer`], [`testing::OneParam`]).
//!
//! ```
//! use nabla_optim::{Optimizer, ParamMut};
//! use nabla_tensor::ndarray::array;
//!
//! // Minimise f(w) = ||w - target||^2 / 2 with Adam, gradients computed by hand.
//! let target = array![1.0f64, -2.0].into_dyn();
//! let mut w = array![0.0f64, 0.0].into_dyn();
//! let mut opt = nabla_registry::build::<dyn Optimizer<f64>>("adam:lr=0.1", ()).unwrap().value;
//! for _ in 0..200 {
//!     let grad = &w - &target;
//!     opt.step(&mut [ParamMut::new("w", w.view_mut(), Some(grad.view()))]).unwrap();
//! }
//! assert!((&w - &target).iter().all(|d| d.abs() < 1e-2));
//! ```
//!
//! Panics: none on user input. Registered rules assume the checks done by
//! [`RuleOptimizer`] (shapes agree), which every step performs first.

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
mod clip;
mod error;
mod math;
mod nadam;
mod optimizer;
mod radam;
mod registration;
mod rmsprop;
mod rule;
mod scheduler;
pub mod schedulers;
mod sgd;
mod shared_keys;
pub mod testing;

pub use adadelta::Adadelta;
pub use adagrad::Adagrad;
pub use adam::Adam;
pub use adamax::Adamax;
pub use adamw::AdamW;
pub use clip::{clip_grad_norm, clip_grad_value, grad_norm, sum_of_squares};
pub use error::OptimError;
pub use math::{bias_correction, lerp, Decay, Moments, WeightDecay};
pub use nadam::NAdam;
pub use optimizer::{Optimizer, ParamGroup, ParamMut, Scalar, Scalars, StateDict};
pub use radam::{radam_rectifier, RAdam};
pub use registration::{Build, BuildF32, BuildF64, OptimizerRegistration, Precision};
pub use rmsprop::RmsProp;
pub use rule::{GroupHyper, RuleOptimizer, RuleState, Update, UpdateRule};
pub use scheduler::{
    BuildScheduler, ClosedFormSchedule, ScheduleProgress, Scheduler, SchedulerRegistration, SchedulerStart,
};
pub use sgd::Sgd;
pub use shared_keys::{EitherDecayKeys, L2DecayKeys, MomentKeys};

/// Re-exports for the registration macros (not part of the API).
#[doc(hidden)]
pub mod __private {
    pub use crate::registration::build_rule;
    pub use crate::scheduler::build_typed as build_scheduler;
    pub use nabla_registry;
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
