//! Exponential decay: multiply the learning rate by `gamma` every step
//! (PyTorch's `ExponentialLR`).
//!
//! ```text
//! lr_t = base_lr * gamma^t
//! ```
//! Hyper-parameters: `gamma` (required, > 0).

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, ScheduleProgress};
use nabla_registry::{Alias, HyperParams};

/// Exponential decay.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct Exponential {
    /// multiplicative decay per step
    #[param(required, range = POSITIVE)]
    gamma: f64,
    /// The base learning rate and the steps taken.
    #[param(skip)]
    progress: ScheduleProgress,
}

impl Exponential {
    /// Decay by `gamma` per step.
    pub fn new(base_lr: f64, gamma: f64) -> Self {
        Exponential { progress: ScheduleProgress::new(base_lr), gamma }
    }
}

impl ClosedFormSchedule for Exponential {
    const NAME: &'static str = "exponential";
    fn lr_at(&self, base_lr: f64, steps: u64) -> f64 {
        base_lr * self.gamma.powf(steps as f64)
    }
    progress_in_field!(progress);
}

register_scheduler!(Exponential,
    name: Exponential::NAME,
    aliases: [Alias::new("exponential_lr")],
    summary: "multiply the learning rate by gamma every step",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scheduler;

    #[test]
    fn decays_geometrically() {
        let mut s = Exponential::new(2.0, 0.5);
        assert_eq!(s.lr(), 2.0);
        assert_eq!(s.step(None).unwrap(), 1.0);
        assert_eq!(s.step(None).unwrap(), 0.5);
    }
}
