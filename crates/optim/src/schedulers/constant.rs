//! The constant schedule: the learning rate stays at its base value.
//!
//! ```text
//! lr_t = base_lr
//! ```
//! No hyper-parameters. The default when a configuration names no scheduler, and the
//! natural continuation after a warm-up (`linear_warmup:then=constant`).

use crate::optimizer::Scalars;
use crate::register_scheduler;
use crate::scheduler::{load_steps, steps_state, Scheduler, SchedulerFromParams};
use crate::OptimError;
use nabla_registry::{ParamError, Params};

/// A schedule that keeps the base learning rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Constant {
    base_lr: f64,
    steps: u64,
}

impl Constant {
    /// The constant schedule at `base_lr`.
    pub fn new(base_lr: f64) -> Self {
        Constant { base_lr, steps: 0 }
    }
}

impl SchedulerFromParams for Constant {
    fn from_params(_params: &Params, base_lr: f64) -> Result<Self, ParamError> {
        Ok(Constant::new(base_lr))
    }
}

impl Scheduler for Constant {
    fn name(&self) -> &str {
        "constant"
    }
    fn lr(&self) -> f64 {
        self.base_lr
    }
    fn steps(&self) -> u64 {
        self.steps
    }
    fn step(&mut self, _metric: Option<f64>) -> Result<f64, OptimError> {
        self.steps += 1;
        Ok(self.lr())
    }
    fn state(&self) -> Scalars {
        steps_state(self.steps)
    }
    fn load_state(&mut self, state: &Scalars) -> Result<(), OptimError> {
        self.steps = load_steps(self.name(), state)?;
        Ok(())
    }
}

register_scheduler!(Constant,
    name: "constant",
    aliases: [nabla_registry::Alias::new("none")],
    summary: "constant learning rate",
    params: &[],
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_constant() {
        let mut s = Constant::new(0.3);
        for _ in 0..5 {
            assert_eq!(s.step(None).unwrap(), 0.3);
        }
        assert_eq!(s.steps(), 5);
    }
}
