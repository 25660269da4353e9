//! The constant schedule: the learning rate stays at its base value.
//!
//! ```text
//! lr_t = base_lr
//! ```
//! No hyper-parameters. The default when a configuration names no scheduler, and the
//! natural continuation after a warm-up (`linear_warmup:then=constant`).

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, ScheduleProgress};
use nabla_registry::HyperParams;

/// A schedule that keeps the base learning rate.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct Constant {
    /// The base learning rate and the steps taken.
    #[param(skip)]
    progress: ScheduleProgress,
}

impl Constant {
    /// The constant schedule at `base_lr`.
    pub fn new(base_lr: f64) -> Self {
        Constant { progress: ScheduleProgress::new(base_lr) }
    }
}

impl ClosedFormSchedule for Constant {
    const NAME: &'static str = "constant";
    fn lr_at(&self, base_lr: f64, _steps: u64) -> f64 {
        base_lr
    }
    progress_in_field!(progress);
}

register_scheduler!(Constant,
    name: Constant::NAME,
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
