//! Step decay: multiply the learning rate by `gamma` every `step_size` steps
//! (PyTorch's `StepLR`).
//!
//! ```text
//! lr_t = base_lr * gamma^floor(t / step_size)
//! ```
//! Hyper-parameters: `step_size` (required, >= 1), `gamma = 0.1`.

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, SchedulerFromParams};
use nabla_registry::{Alias, ParamError, ParamSpec, Params, Range};

/// Step decay.
#[derive(Clone, Debug, PartialEq)]
pub struct StepDecay {
    base_lr: f64,
    step_size: u64,
    gamma: f64,
    steps: u64,
}

impl StepDecay {
    /// Decay by `gamma` every `step_size` steps (`step_size >= 1`).
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Self {
        StepDecay { base_lr, step_size: step_size.max(1), gamma, steps: 0 }
    }
}

const SCHEMA: &[ParamSpec] = &[
    ParamSpec::int("step_size", 1, "steps between decays").required().range(Range::at_least(1.0)),
    ParamSpec::float("gamma", 0.1, "multiplicative decay factor").range(Range::NON_NEGATIVE),
];

impl SchedulerFromParams for StepDecay {
    fn from_params(p: &Params, base_lr: f64) -> Result<Self, ParamError> {
        Ok(StepDecay::new(base_lr, p.usize("step_size")? as u64, p.f64("gamma")?))
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
    params: SCHEMA,
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
