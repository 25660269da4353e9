//! Exponential decay: multiply the learning rate by `gamma` every step
//! (PyTorch's `ExponentialLR`).
//!
//! ```text
//! lr_t = base_lr * gamma^t
//! ```
//! Hyper-parameters: `gamma` (required, > 0).

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, SchedulerStart};
use nabla_registry::{Alias, HyperParams};

/// Exponential decay.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct Exponential {
    /// multiplicative decay per step
    #[param(required, range = POSITIVE)]
    gamma: f64,
    /// The optimizer's base learning rate (set when the schedule starts).
    #[param(skip)]
    base_lr: f64,
    /// Steps taken.
    #[param(skip)]
    steps: u64,
}

impl Exponential {
    /// Decay by `gamma` per step.
    pub fn new(base_lr: f64, gamma: f64) -> Self {
        Exponential { base_lr, gamma, steps: 0 }
    }
}

impl SchedulerStart for Exponential {
    fn start(&mut self, base_lr: f64) -> Result<(), String> {
        self.base_lr = base_lr;
        Ok(())
    }
}

impl ClosedFormSchedule for Exponential {
    const NAME: &'static str = "exponential";
    fn lr_at(&self, steps: u64) -> f64 {
        self.base_lr * self.gamma.powf(steps as f64)
    }
    fn steps_taken(&self) -> u64 {
        self.steps
    }
    fn set_steps_taken(&mut self, steps: u64) {
        self.steps = steps;
    }
}

register_scheduler!(Exponential,
    name: "exponential",
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
