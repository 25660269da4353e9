//! Exponential decay: multiply the learning rate by `gamma` every step
//! (PyTorch's `ExponentialLR`).
//!
//! ```text
//! lr_t = base_lr * gamma^t
//! ```
//! Hyper-parameters: `gamma` (required, > 0).

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, SchedulerFromParams};
use nabla_registry::{Alias, ParamError, ParamSpec, Params, Range};

/// Exponential decay.
#[derive(Clone, Debug, PartialEq)]
pub struct Exponential {
    base_lr: f64,
    gamma: f64,
    steps: u64,
}

impl Exponential {
    /// Decay by `gamma` per step.
    pub fn new(base_lr: f64, gamma: f64) -> Self {
        Exponential { base_lr, gamma, steps: 0 }
    }
}

const SCHEMA: &[ParamSpec] =
    &[ParamSpec::float("gamma", 0.99, "multiplicative decay per step").required().range(Range::POSITIVE)];

impl SchedulerFromParams for Exponential {
    fn from_params(p: &Params, base_lr: f64) -> Result<Self, ParamError> {
        Ok(Exponential::new(base_lr, p.f64("gamma")?))
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
    params: SCHEMA,
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
