//! Step decay: multiply the learning rate by `gamma` every `step_size` steps
//! (PyTorch's `StepLR`).
//!
//! ```text
//! lr_t = base_lr * gamma^floor(t / step_size)
//! ```
//! Hyper-parameters: `step_size` (required, >= 1), `gamma = 0.1`.

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, ScheduleProgress};
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
    /// The base learning rate and the steps taken.
    #[param(skip)]
    progress: ScheduleProgress,
}

impl StepDecay {
    /// Decay by `gamma` every `step_size` steps (`step_size >= 1`).
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Self {
        StepDecay { progress: ScheduleProgress::new(base_lr), step_size: step_size.max(1), gamma }
    }
}

impl ClosedFormSchedule for StepDecay {
    const NAME: &'static str = "step";
    fn lr_at(&self, base_lr: f64, steps: u64) -> f64 {
        base_lr * self.gamma.powf((steps / self.step_size) as f64)
    }
    progress_in_field!(progress);
}

register_scheduler!(StepDecay,
    name: StepDecay::NAME,
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
