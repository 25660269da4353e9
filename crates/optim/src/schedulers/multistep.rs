//! Multi-step decay: multiply the learning rate by `gamma` at each milestone
//! (PyTorch's `MultiStepLR`).
//!
//! ```text
//! lr_t = base_lr * gamma^(number of milestones <= t)
//! ```
//! Hyper-parameters: `milestones` (required, strictly increasing step numbers >= 1),
//! `gamma = 0.1`.

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, ScheduleProgress};
use nabla_registry::{Alias, HyperParams};

/// Multi-step decay.
#[derive(Clone, Debug, PartialEq, HyperParams)]
#[hyper(check = Self::check)]
pub struct MultiStep {
    /// strictly increasing steps at which to decay
    #[param(required, range = Range::at_least(1.0))]
    milestones: Vec<u64>,
    /// multiplicative decay factor
    #[param(default = 0.1, range = NON_NEGATIVE)]
    gamma: f64,
    /// The base learning rate and the steps taken.
    #[param(skip)]
    progress: ScheduleProgress,
}

impl MultiStep {
    /// Decay by `gamma` at each of `milestones` (sorted here).
    pub fn new(base_lr: f64, mut milestones: Vec<u64>, gamma: f64) -> Self {
        milestones.sort_unstable();
        MultiStep { progress: ScheduleProgress::new(base_lr), milestones, gamma }
    }

    fn check(&self) -> Result<(), String> {
        if self.milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("milestones must be strictly increasing, got {:?}", self.milestones));
        }
        Ok(())
    }
}

impl ClosedFormSchedule for MultiStep {
    const NAME: &'static str = "multistep";
    fn lr_at(&self, base_lr: f64, steps: u64) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= steps);
        base_lr * self.gamma.powf(passed as f64)
    }
    progress_in_field!(progress);
}

register_scheduler!(MultiStep,
    name: MultiStep::NAME,
    aliases: [Alias::new("multi_step_lr")],
    summary: "multiply the learning rate by gamma at each milestone",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::build_scheduler;
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
