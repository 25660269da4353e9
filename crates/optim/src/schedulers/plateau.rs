//! Reduce the learning rate when a monitored metric stops improving
//! (PyTorch's `ReduceLROnPlateau`).
//!
//! Each step takes the metric (for example the validation loss):
//! ```text
//! improved = metric < best * (1 - threshold)      mode = min, threshold_mode = rel
//!            metric < best - threshold            mode = min, threshold_mode = abs
//!            metric > best * (1 + threshold)      mode = max, threshold_mode = rel
//!            metric > best + threshold            mode = max, threshold_mode = abs
//! if improved: best = metric, bad = 0   else bad += 1
//! if cooling down: cooldown -= 1, bad = 0
//! if bad > patience: lr = max(lr * factor, min_lr) (if that changes lr by more than eps),
//!                    cooldown = cooldown steps, bad = 0
//! ```
//! A NaN metric never improves. Hyper-parameters (PyTorch's names and defaults):
//! `mode = "min"`, `factor = 0.1` (in (0, 1)), `patience = 10`, `threshold = 1e-4`,
//! `threshold_mode = "rel"`, `cooldown = 0`, `min_lr = 0`, `eps = 1e-8`.

use crate::optimizer::{Scalar, Scalars};
use crate::register_scheduler;
use crate::scheduler::{Scheduler, SchedulerStart, StateReader};
use crate::OptimError;
use nabla_registry::{Alias, HyperParams, ParamChoice};

/// Whether the monitored metric should decrease or increase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ParamChoice)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How the improvement threshold compares with the best value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ParamChoice)]
pub enum ThresholdMode {
    /// Relative to the best value.
    Rel,
    /// Absolute.
    Abs,
}

/// Reduce-on-plateau.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct ReduceOnPlateau {
    /// whether the metric should decrease or increase
    #[param(default = "min")]
    mode: PlateauMode,
    /// multiplier of the learning rate on a plateau
    #[param(default = 0.1, range = Range::open(0.0, 1.0))]
    factor: f64,
    /// steps without improvement tolerated before reducing
    #[param(default = 10, range = NON_NEGATIVE)]
    patience: u64,
    /// minimal improvement that counts
    #[param(default = 1e-4, range = NON_NEGATIVE)]
    threshold: f64,
    /// threshold relative to best or absolute
    #[param(default = "rel")]
    threshold_mode: ThresholdMode,
    /// steps to wait after a reduction before counting again
    #[param(default = 0, range = NON_NEGATIVE)]
    cooldown: u64,
    /// lower bound of the learning rate
    #[param(default = 0.0, range = NON_NEGATIVE)]
    min_lr: f64,
    /// reductions smaller than this are skipped
    #[param(default = 1e-8, range = NON_NEGATIVE)]
    eps: f64,
    /// The current learning rate.
    #[param(skip)]
    lr: f64,
    /// The best metric seen.
    #[param(skip)]
    best: f64,
    /// Steps without improvement.
    #[param(skip)]
    bad_steps: u64,
    /// Steps of cooldown left.
    #[param(skip)]
    cooldown_left: u64,
    /// Steps taken.
    #[param(skip)]
    steps: u64,
}

impl SchedulerStart for ReduceOnPlateau {
    fn start(&mut self, base_lr: f64) -> Result<(), String> {
        self.lr = base_lr;
        self.best = if self.maximize() { f64::NEG_INFINITY } else { f64::INFINITY };
        Ok(())
    }
}

impl ReduceOnPlateau {
    fn maximize(&self) -> bool {
        self.mode == PlateauMode::Max
    }

    fn improves(&self, metric: f64) -> bool {
        match (self.maximize(), self.threshold_mode == ThresholdMode::Rel) {
            (false, true) => metric < self.best * (1.0 - self.threshold),
            (false, false) => metric < self.best - self.threshold,
            (true, true) => metric > self.best * (1.0 + self.threshold),
            (true, false) => metric > self.best + self.threshold,
        }
    }
}

impl Scheduler for ReduceOnPlateau {
    fn name(&self) -> &str {
        "reduce_on_plateau"
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn steps(&self) -> u64 {
        self.steps
    }
    fn step(&mut self, metric: Option<f64>) -> Result<f64, OptimError> {
        let metric =
            metric.ok_or_else(|| OptimError::MissingMetric { scheduler: self.name().to_string() })?;
        self.steps += 1;
        if self.improves(metric) {
            self.best = metric;
            self.bad_steps = 0;
        } else {
            self.bad_steps += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_steps = 0;
        }
        if self.bad_steps > self.patience {
            let reduced = (self.lr * self.factor).max(self.min_lr);
            if self.lr - reduced > self.eps {
                self.lr = reduced;
            }
            self.cooldown_left = self.cooldown;
            self.bad_steps = 0;
        }
        Ok(self.lr)
    }
    fn state(&self) -> Scalars {
        [
            ("step", Scalar::U64(self.steps)),
            ("lr", Scalar::F64(self.lr)),
            ("best", Scalar::F64(self.best)),
            ("num_bad_steps", Scalar::U64(self.bad_steps)),
            ("cooldown_counter", Scalar::U64(self.cooldown_left)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
    fn load_state(&mut self, state: &Scalars) -> Result<(), OptimError> {
        let keys = ["step", "lr", "best", "num_bad_steps", "cooldown_counter"];
        let r = StateReader::new(self.name(), state, &keys)?;
        let (steps, lr, best, bad, cool) = (
            r.u64("step")?,
            r.f64("lr")?,
            r.f64("best")?,
            r.u64("num_bad_steps")?,
            r.u64("cooldown_counter")?,
        );
        (self.steps, self.lr, self.best, self.bad_steps, self.cooldown_left) = (steps, lr, best, bad, cool);
        Ok(())
    }
}

register_scheduler!(ReduceOnPlateau,
    name: "reduce_on_plateau",
    aliases: [Alias::new("plateau"), Alias::new("reduce_lr_on_plateau")],
    summary: "reduce the learning rate by factor when the metric stops improving",
);

#[cfg(test)]
mod tests {
    use crate::testing::build_scheduler;
    use crate::OptimError;

    #[test]
    fn reduces_after_patience_and_cools_down() {
        let mut s = build_scheduler("plateau:patience=1,factor=0.5,cooldown=1", 1.0).unwrap();
        let lrs: Vec<f64> =
            [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.0].into_iter().map(|m| s.step(Some(m)).unwrap()).collect();
        // Steps 3,4: two bad steps > patience 1 -> 0.5 at step 4; cooldown swallows step 5,
        // steps 6,7 bad -> 0.25 at step 7; step 8 improves.
        assert_eq!(lrs, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]);
        assert!(matches!(s.step(None), Err(OptimError::MissingMetric { .. })));
    }

    #[test]
    fn max_mode_and_min_lr() {
        let mut s =
            build_scheduler("plateau:mode=max,patience=0,factor=0.1,min_lr=0.05,threshold_mode=abs", 1.0)
                .unwrap();
        assert_eq!(s.step(Some(1.0)).unwrap(), 1.0);
        assert_eq!(s.step(Some(0.5)).unwrap(), 0.1);
        assert_eq!(s.step(Some(0.5)).unwrap(), 0.05);
        assert_eq!(s.step(Some(f64::NAN)).unwrap(), 0.05);
    }
}
