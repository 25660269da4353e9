//! Cosine annealing from the base learning rate to `eta_min` over `t_max` steps
//! (Loshchilov & Hutter, 2017, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR;
//! PyTorch's `CosineAnnealingLR`).
//!
//! ```text
//! lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / t_max)) / 2     for t <= t_max
//! lr_t = eta_min                                                           for t > t_max
//! ```
//! PyTorch's closed form keeps following the cosine after `t_max` (rising again, as in a
//! restart); here the schedule ends at `eta_min` and stays there, which is what a run whose
//! length is `t_max` wants. Hyper-parameters: `t_max` (required, >= 1), `eta_min = 0`.

use crate::register_scheduler;
use crate::scheduler::{ClosedFormSchedule, ScheduleProgress};
use nabla_registry::{Alias, HyperParams};

/// Cosine annealing.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct CosineAnnealing {
    /// steps from the base learning rate to eta_min
    #[param(range = Range::at_least(1.0))]
    t_max: u64,
    /// final learning rate
    #[param(default = 0.0, range = NON_NEGATIVE)]
    eta_min: f64,
    /// The base learning rate and the steps taken.
    #[param(skip)]
    progress: ScheduleProgress,
}

impl CosineAnnealing {
    /// Anneal from `base_lr` to `eta_min` over `t_max` steps (`t_max >= 1`).
    pub fn new(base_lr: f64, t_max: u64, eta_min: f64) -> Self {
        CosineAnnealing { progress: ScheduleProgress::new(base_lr), t_max: t_max.max(1), eta_min }
    }
}

impl ClosedFormSchedule for CosineAnnealing {
    const NAME: &'static str = "cosine_annealing";
    fn lr_at(&self, base_lr: f64, steps: u64) -> f64 {
        let t = steps.min(self.t_max) as f64 / self.t_max as f64;
        self.eta_min + (base_lr - self.eta_min) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
    }
    progress_in_field!(progress);
}

register_scheduler!(CosineAnnealing,
    name: CosineAnnealing::NAME,
    aliases: [Alias::new("cosine"), Alias::new("cosine_annealing_lr")],
    summary: "cosine annealing from the base learning rate to eta_min over t_max steps",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scheduler;

    #[test]
    fn anneals_and_holds() {
        let mut s = CosineAnnealing::new(1.0, 4, 0.2);
        assert_eq!(s.lr(), 1.0);
        let lrs: Vec<f64> = (0..6).map(|_| s.step(None).unwrap()).collect();
        assert!((lrs[1] - 0.6).abs() < 1e-15, "{lrs:?}");
        assert!((lrs[3] - 0.2).abs() < 1e-15 && lrs[4] == lrs[3] && lrs[5] == lrs[3]);
        assert!(lrs.windows(2).all(|w| w[1] <= w[0]));
    }
}
