//! The constant schedule: the learning rate stays at its base value.
//!
//! ```text
//! lr_t = base_lr
//! ```
//! No hyper-parameters. The default when a configuration names no scheduler, and the
//! natural continuation after a warm-up (`linear_warmup:then=constant`).

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, SchedulerStart};
use nabla_registry::HyperParams;

/// A schedule that keeps the base learning rate.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct Constant {
    /// The optimizer's base learning rate (set when the schedule starts).
    #[param(skip)]
    base_lr: f64,
    /// Steps taken.
    #[param(skip)]
    steps: u64,
}

impl Constant {
    /// The constant schedule at `base_lr`.
    pub fn new(base_lr: f64) -> Self {
        Constant { base_lr, steps: 0 }
    }
}

impl SchedulerStart for Constant {
    fn start(&mut self, base_lr: f64) -> Result<(), String> {
        self.base_lr = base_lr;
        Ok(())
    }
}

impl ClosedFormSchedule for Constant {
    const NAME: &'static str = "constant";
    fn lr_at(&self, _steps: u64) -> f64 {
        self.base_lr
    }
    fn steps_taken(&self) -> u64 {
        self.steps
    }
    fn set_steps_taken(&mut self, steps: u64) {
        self.steps = steps;
    }
}

register_scheduler!(Constant,
    name: "constant",
    aliases: [nabla_registry::Alias::new("none")],
    summary: "constant learning rate",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scheduler;

    #[test]
    fn stays_constant() {
        let mut s = Constant::new(0.3);
        for _ in 0..5 {
            assert_eq!(s.step(None).unwrap(), 0.3);
        }
        assert_eq!(s.steps(), 5);
    }
}
