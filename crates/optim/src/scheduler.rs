//! Learning-rate schedulers: the [`Scheduler`] trait, the registry kind and its macro.
//!
//! A scheduler is a small state machine over one number. It is built with the optimizer's
//! base learning rate and tells the caller the learning rate to use; the caller passes it on
//! with [`Optimizer::set_lr`](crate::Optimizer::set_lr) (every parameter group follows
//! proportionally). What one scheduler step is — an epoch or an iteration — is the caller's
//! choice; the hyper-parameters (`step_size`, `t_max`, `warmup_steps`, ...) count in the same
//! unit.
//!
//! ```
//! use nabla_optim::{Optimizer, Scheduler};
//! let mut opt = nabla_registry::build::<dyn Optimizer<f32>>("sgd:lr=0.1", ()).unwrap().value;
//! let spec = "linear_warmup:warmup_steps=2,start_factor=0.5,then=\"cosine:t_max=4\"";
//! let mut sched = nabla_registry::build::<dyn Scheduler>(spec, opt.lr()).unwrap().value;
//! let mut lrs = vec![sched.lr()];
//! for _ in 0..6 {
//!     // ... train one epoch with opt ...
//!     let lr = sched.step(None).unwrap();
//!     opt.set_lr(lr);
//!     lrs.push(lr);
//! }
//! assert_eq!(lrs[0], 0.05);
//! assert_eq!(lrs[2], 0.1);
//! assert!(lrs[6].abs() < 1e-12);
//! ```

use crate::optimizer::{Scalar, Scalars};
use crate::OptimError;
use nabla_registry::{ComponentInfo, HyperParams, ParamError, Params};
use std::fmt;

/// A learning-rate schedule with checkpointable state. Object safe
/// (`Box<dyn Scheduler>` from the registry).
pub trait Scheduler: Send + Sync + fmt::Debug {
    /// The canonical registry name.
    fn name(&self) -> &str;

    /// The learning rate to use now (before the first [`step`](Scheduler::step): the start
    /// of the schedule).
    fn lr(&self) -> f64;

    /// How many times [`step`](Scheduler::step) has been called.
    fn steps(&self) -> u64;

    /// Advances the schedule by one step and returns the new learning rate. `metric` is the
    /// monitored value (validation loss, ...) for schedulers that react to it
    /// (`reduce_on_plateau` requires it and fails with [`OptimError::MissingMetric`]
    /// without it); the others ignore it.
    fn step(&mut self, metric: Option<f64>) -> Result<f64, OptimError>;

    /// The complete state as named scalars (the step counter, and whatever else the schedule
    /// depends on).
    fn state(&self) -> Scalars;

    /// Restores a state produced by [`state`](Scheduler::state) of a scheduler with the same
    /// configuration; missing, unexpected or mistyped entries are errors, and on an error
    /// nothing changes.
    fn load_state(&mut self, state: &Scalars) -> Result<(), OptimError>;
}

/// A schedule whose learning rate is a closed-form function of the number of steps taken
/// (constant, step, multistep, exponential, cosine annealing). Implementing its formula makes
/// the type a [`Scheduler`] (whose whole state is the step count) and a [`SchedulerStart`].
pub trait ClosedFormSchedule: Send + Sync + fmt::Debug {
    /// The canonical registry name.
    const NAME: &'static str;

    /// The learning rate after `steps` calls of [`Scheduler::step`], starting from `base_lr`.
    fn lr_at(&self, base_lr: f64, steps: u64) -> f64;

    /// Where the schedule stands (a `#[param(skip)]` field).
    fn progress(&self) -> &ScheduleProgress;

    /// Where the schedule stands, to advance or restore it.
    fn progress_mut(&mut self) -> &mut ScheduleProgress;
}

/// The run state of a [`ClosedFormSchedule`]: the base learning rate it starts from and the
/// steps taken.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScheduleProgress {
    /// The optimizer's base learning rate (set when the schedule starts).
    pub base_lr: f64,
    /// Steps taken.
    pub steps: u64,
}

impl ScheduleProgress {
    /// A schedule starting at `base_lr`, no step taken.
    pub fn new(base_lr: f64) -> Self {
        ScheduleProgress { base_lr, steps: 0 }
    }
}

impl<S: ClosedFormSchedule> Scheduler for S {
    fn name(&self) -> &str {
        S::NAME
    }
    fn lr(&self) -> f64 {
        let progress = self.progress();
        self.lr_at(progress.base_lr, progress.steps)
    }
    fn steps(&self) -> u64 {
        self.progress().steps
    }
    fn step(&mut self, _metric: Option<f64>) -> Result<f64, OptimError> {
        self.progress_mut().steps += 1;
        Ok(self.lr())
    }
    fn state(&self) -> Scalars {
        steps_state(self.progress().steps)
    }
    fn load_state(&mut self, state: &Scalars) -> Result<(), OptimError> {
        self.progress_mut().steps = load_steps(S::NAME, state)?;
        Ok(())
    }
}

impl<S: ClosedFormSchedule> SchedulerStart for S {
    fn start(&mut self, base_lr: f64) -> Result<(), String> {
        self.progress_mut().base_lr = base_lr;
        Ok(())
    }
}

/// The step from validated hyper-parameters to a running schedule: a scheduler type derives
/// [`HyperParams`] for its keys (its run state marked `#[param(skip)]`) and starts from the
/// optimizer's base learning rate here.
pub trait SchedulerStart {
    /// Starts the schedule at `base_lr`; an error is a constraint the hyper-parameters break.
    fn start(&mut self, base_lr: f64) -> Result<(), String>;
}

/// Builds a scheduler from validated hyper-parameters and the base learning rate.
pub type BuildScheduler = fn(&Params, f64) -> Result<Box<dyn Scheduler>, ParamError>;

/// The registration record of a learning-rate scheduler.
///
/// Submit one with [`register_scheduler!`](crate::register_scheduler).
#[derive(Debug)]
pub struct SchedulerRegistration {
    /// Name, aliases, summary, schema.
    pub info: ComponentInfo,
    /// The factory: validated hyper-parameters and the optimizer's base learning rate.
    pub build: BuildScheduler,
}

nabla_registry::collect_records!(SchedulerRegistration, Scheduler);

/// Schedulers are built by name with [`nabla_registry::build`], given the optimizer's base
/// learning rate: `build::<dyn Scheduler>("cosine:t_max=100", 0.1)`.
impl nabla_registry::Kind for dyn Scheduler {
    type Record = SchedulerRegistration;
    type Output = Box<dyn Scheduler>;
    type Context<'c> = f64;
    type Error = OptimError;

    fn build(
        record: &'static SchedulerRegistration,
        params: &mut Params,
        base_lr: f64,
    ) -> Result<Self::Output, OptimError> {
        Ok((record.build)(params, base_lr)?)
    }
}

/// The factory [`register_scheduler!`](crate::register_scheduler) uses.
#[doc(hidden)]
pub fn build_typed<S: Scheduler + HyperParams + SchedulerStart + 'static>(
    params: &Params,
    base_lr: f64,
) -> Result<Box<dyn Scheduler>, ParamError> {
    let mut scheduler = S::from_params(params)?;
    scheduler.start(base_lr).map_err(|message| params.invalid(message))?;
    Ok(Box::new(scheduler))
}

/// Registers a learning-rate scheduler: a type implementing [`Scheduler`],
/// [`HyperParams`] (derived) and [`SchedulerStart`], with name, optional aliases and summary:
///
/// ```ignore
/// register_scheduler!(CosineAnnealing,
///     name: "cosine_annealing",
///     aliases: [Alias::new("cosine")],
///     summary: "...",
/// );
/// ```
///
/// The explicit form `register_scheduler! { name: ..., summary: ..., params: ..., build: f }`
/// fills the record itself.
#[macro_export]
macro_rules! register_scheduler {
    (name: $($body:tt)*) => {
        $crate::__private::nabla_registry::submit_component!($crate::SchedulerRegistration { name: $($body)* });
    };
    ($ty:ty, $($rest:tt)*) => {
        $crate::__private::nabla_registry::submit_typed!($crate::SchedulerRegistration, $ty,
            { build: $crate::__private::build_scheduler::<$ty> }, $($rest)*);
    };
}

/// Reads scheduler state, rejecting keys that are not expected and reporting missing or
/// mistyped ones.
pub(crate) struct StateReader<'a> {
    owner: &'a str,
    state: &'a Scalars,
}

impl<'a> StateReader<'a> {
    /// Checks that every key of `state` is one of `expected`.
    pub(crate) fn new(owner: &'a str, state: &'a Scalars, expected: &[&str]) -> Result<Self, OptimError> {
        if let Some(key) = state.keys().find(|k| !expected.contains(&k.as_str())) {
            return Err(OptimError::UnexpectedState {
                owner: owner.to_string(),
                key: key.clone(),
                expected: expected.join(", "),
            });
        }
        Ok(StateReader { owner, state })
    }

    fn get(&self, key: &str) -> Result<&Scalar, OptimError> {
        self.state
            .get(key)
            .ok_or_else(|| OptimError::MissingState { owner: self.owner.to_string(), key: key.to_string() })
    }

    fn bad(&self, key: &str, message: &str) -> OptimError {
        OptimError::BadState {
            owner: self.owner.to_string(),
            key: key.to_string(),
            message: message.to_string(),
        }
    }

    /// A counter entry.
    pub(crate) fn u64(&self, key: &str) -> Result<u64, OptimError> {
        self.get(key)?.as_u64().ok_or_else(|| self.bad(key, "must be a counter (U64), found a float (F64)"))
    }

    /// A float entry.
    pub(crate) fn f64(&self, key: &str) -> Result<f64, OptimError> {
        self.get(key)?.as_f64().ok_or_else(|| self.bad(key, "must be a float (F64), found a counter (U64)"))
    }
}

/// The state of a schedule that depends only on its step count.
pub(crate) fn steps_state(steps: u64) -> Scalars {
    [("step".to_string(), Scalar::U64(steps))].into_iter().collect()
}

/// Loads the state of a schedule that depends only on its step count.
pub(crate) fn load_steps(owner: &str, state: &Scalars) -> Result<u64, OptimError> {
    StateReader::new(owner, state, &["step"])?.u64("step")
}
