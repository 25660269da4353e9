//! Step decay: multiply the learning rate by `gamma` every `step_size` steps
//! (PyTorch's `StepLR`).
//!
//! ```text
//! lr_t = base_lr * gamma^floor(t / step_size)
//! ```
//! Hyper-parameters: `step_size` (required, >= 1), `gamma = 0.1`.

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, SchedulerStart};
use nabla_registry::{Alias, HyperParams};

/// Step decay.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct StepDecay {
    /// steps between decays
    #[param(range = Range::at_least(1.0))]
    step_size: u64,
    /// multiplicative decay factor
    #[param(default = 0.1, range = NON_NEGATIVE)]
    gamma: f64,
    /// The optimizer's base learning rate (set when the schedule starts).
    #[param(skip)]
    base_lr: f64,
    /// Steps taken.
    #[param(skip)]
    steps: u64,
}

impl StepDecay {
    /// Decay by `gamma` every `step_size` steps (`step_size >= 1`).
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Self {
        StepDecay { base_lr, step_size: step_size.max(1), gamma, steps: 0 }
    }
}

impl SchedulerStart for StepDecay {
    fn start(&mut self, base_lr: f64) -> Result<(), String> {
        self.base_lr = base_lr;
        Ok(())
    }
}

impl ClosedFormSchedule for StepDecay {
    const NAME: &'static str = "step";
    fn lr_at(&self, steps: u64) -> f64 {
        self.base_lr * self.gamma.powf((steps / self.step_size) as f64)
    }
    fn steps_taken(&self) -> u64 {
        self.steps
    }
    fn set_steps_taken(&mut self, steps: u64) {
        self.steps = steps;
    }
}

register_scheduler!(StepDecay,
    name: "step",
    aliases: [Alias::new("step_lr")],
    summary: "multiply the learning rate by gamma every step_size steps",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scheduler;

    #[test]
    fn decays_every_step_size() {
        let mut s = StepDecay::new(1.0, 2, 0.5);
        let lrs: Vec<f64> = (0..5).map(|_| s.step(None).unwrap()).collect();
        assert_eq!(lrs, [1.0, 0.5, 0.5, 0.25, 0.25]);
    }
}
