//! Multi-step decay: multiply the learning rate by `gamma` at each milestone
//! (PyTorch's `MultiStepLR`).
//!
//! ```text
//! lr_t = base_lr * gamma^(number of milestones <= t)
//! ```
//! Hyper-parameters: `milestones` (required, strictly increasing step numbers >= 1),
//! `gamma = 0.1`.

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, SchedulerFromParams};
use nabla_registry::{Alias, ParamError, ParamSpec, Params, Range};

/// Multi-step decay.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiStep {
    base_lr: f64,
    milestones: Vec<u64>,
    gamma: f64,
    steps: u64,
}

impl MultiStep {
    /// Decay by `gamma` at each of `milestones` (sorted here).
    pub fn new(base_lr: f64, mut milestones: Vec<u64>, gamma: f64) -> Self {
        milestones.sort_unstable();
        MultiStep { base_lr, milestones, gamma, steps: 0 }
    }
}

const SCHEMA: &[ParamSpec] = &[
    ParamSpec::ints("milestones", &[], "strictly increasing steps at which to decay")
        .required()
        .range(Range::at_least(1.0)),
    ParamSpec::float("gamma", 0.1, "multiplicative decay factor").range(Range::NON_NEGATIVE),
];

impl SchedulerFromParams for MultiStep {
    fn from_params(p: &Params, base_lr: f64) -> Result<Self, ParamError> {
        let milestones: Vec<u64> = p.i64s("milestones")?.into_iter().map(|m| m as u64).collect();
        if milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(p.invalid(format!("milestones must be strictly increasing, got {milestones:?}")));
        }
        Ok(MultiStep::new(base_lr, milestones, p.f64("gamma")?))
    }
}

impl ClosedFormSchedule for MultiStep {
    const NAME: &'static str = "multistep";
    fn lr_at(&self, steps: u64) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= steps);
        self.base_lr * self.gamma.powf(passed as f64)
    }
    fn steps_taken(&self) -> u64 {
        self.steps
    }
    fn set_steps_taken(&mut self, steps: u64) {
        self.steps = steps;
    }
}

register_scheduler!(MultiStep,
    name: "multistep",
    aliases: [Alias::new("multi_step_lr")],
    summary: "multiply the learning rate by gamma at each milestone",
    params: SCHEMA,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_scheduler;
    use crate::Scheduler;

    #[test]
    fn decays_at_milestones() {
        let mut s = MultiStep::new(1.0, vec![3, 1], 0.5);
        let lrs: Vec<f64> = (0..4).map(|_| s.step(None).unwrap()).collect();
        assert_eq!(lrs, [0.5, 0.5, 0.25, 0.25]);
        assert!(build_scheduler("multistep:milestones=[2,2]", 1.0).is_err());
        assert!(build_scheduler("multistep", 1.0).is_err());
    }
}
