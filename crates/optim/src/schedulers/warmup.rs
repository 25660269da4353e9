//! Linear warm-up, followed by any other schedule.
//!
//! ```text
//! lr_t = base_lr * (start_factor + (1 - start_factor) * t / warmup_steps)   for t < warmup_steps
//! lr_t = then.lr after (t - warmup_steps) steps of `then`                  for t >= warmup_steps
//! ```
//! The warm-up rises linearly (PyTorch's `LinearLR` with `end_factor = 1`) and then hands
//! over to the schedule `then`, a compact spec such as `"cosine:t_max=90"` or `"constant"`,
//! which starts its own count at the hand-over (like PyTorch's `SequentialLR`), so a cosine
//! over `t_max` steps ends `warmup_steps + t_max` steps into training. Metrics are passed on
//! to `then` after the warm-up (a `reduce_on_plateau` there ignores the warm-up).
//!
//! Large-batch training (Goyal et al., 2017, "Accurate, Large Minibatch SGD: Training
//! ImageNet in 1 Hour") and Adam-type optimizers whose early second-moment estimates are
//! noisy (see [`RAdam`](crate::RAdam)) both benefit from starting with small steps.
//!
//! Hyper-parameters: `warmup_steps = 5` (>= 1), `start_factor = 1/3` (in (0, 1]),
//! `then = "constant"`.

use crate::optimizer::Scalars;
use crate::register_scheduler;
use crate::scheduler::{Scheduler, SchedulerStart, StateReader};
use crate::OptimError;
use nabla_registry::{Alias, HyperParams};

/// Linear warm-up, then another schedule.
#[derive(Debug, HyperParams)]
pub struct LinearWarmup {
    /// steps of the linear rise
    #[param(default = 5, range = Range::at_least(1.0))]
    warmup_steps: u64,
    /// first learning rate as a fraction of the base
    #[param(default = 1.0 / 3.0, range = Range { low: Bound::Exclusive(0.0), high: Bound::Inclusive(1.0) })]
    start_factor: f64,
    /// the schedule after the warm-up, as a compact spec ("cosine:t_max=90")
    #[param(name = "then", default = "constant")]
    then_spec: String,
    /// The schedule after the warm-up, built from `then_spec` when the schedule starts.
    #[param(skip)]
    then: Option<Box<dyn Scheduler>>,
    /// The optimizer's base learning rate (set when the schedule starts).
    #[param(skip)]
    base_lr: f64,
    /// Steps taken.
    #[param(skip)]
    steps: u64,
}

impl LinearWarmup {
    /// Warm up from `start_factor * base_lr` to `base_lr` over `warmup_steps` steps
    /// (at least 1), then follow `then` (built with the same base learning rate).
    pub fn new(base_lr: f64, warmup_steps: u64, start_factor: f64, then: Box<dyn Scheduler>) -> Self {
        LinearWarmup {
            base_lr,
            warmup_steps: warmup_steps.max(1),
            start_factor,
            then_spec: then.name().to_string(),
            then: Some(then),
            steps: 0,
        }
    }

    /// The schedule that follows the warm-up.
    pub fn then(&self) -> &dyn Scheduler {
        self.then.as_deref().expect("a started LinearWarmup has its inner schedule")
    }

    fn then_mut(&mut self) -> &mut dyn Scheduler {
        self.then.as_deref_mut().expect("a started LinearWarmup has its inner schedule")
    }
}

impl SchedulerStart for LinearWarmup {
    fn start(&mut self, base_lr: f64) -> Result<(), String> {
        let spec = &self.then_spec;
        let then = nabla_registry::build::<dyn Scheduler>(spec, base_lr)
            .map_err(|e| format!("then = \"{spec}\": {e}"))?;
        self.base_lr = base_lr;
        self.then = Some(then.value);
        Ok(())
    }
}

impl Scheduler for LinearWarmup {
    fn name(&self) -> &str {
        "linear_warmup"
    }
    fn lr(&self) -> f64 {
        if self.steps < self.warmup_steps {
            let progress = self.steps as f64 / self.warmup_steps as f64;
            self.base_lr * (self.start_factor + (1.0 - self.start_factor) * progress)
        } else {
            self.then().lr()
        }
    }
    fn steps(&self) -> u64 {
        self.steps
    }
    fn step(&mut self, metric: Option<f64>) -> Result<f64, OptimError> {
        if self.steps >= self.warmup_steps {
            self.then_mut().step(metric)?;
        }
        self.steps += 1;
        Ok(self.lr())
    }
    /// `step` plus the state of `then` under `inner.`.
    fn state(&self) -> Scalars {
        let mut out: Scalars =
            self.then().state().into_iter().map(|(k, v)| (format!("inner.{k}"), v)).collect();
        out.insert("step".to_string(), crate::Scalar::U64(self.steps));
        out
    }
    fn load_state(&mut self, state: &Scalars) -> Result<(), OptimError> {
        let (inner, own): (Scalars, Scalars) =
            state.iter().map(|(k, v)| (k.clone(), *v)).partition(|(k, _)| k.starts_with("inner."));
        let steps = StateReader::new(self.name(), &own, &["step"])?.u64("step")?;
        let inner: Scalars = inner.into_iter().map(|(k, v)| (k["inner.".len()..].to_string(), v)).collect();
        self.then_mut().load_state(&inner)?;
        self.steps = steps;
        Ok(())
    }
}

register_scheduler!(LinearWarmup,
    name: "linear_warmup",
    aliases: [Alias::new("warmup")],
    summary: "linear warm-up from start_factor*lr to lr, then another schedule",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedulers::{Constant, CosineAnnealing};

    #[test]
    fn rises_then_hands_over() {
        let mut s = LinearWarmup::new(1.0, 4, 0.2, Box::new(CosineAnnealing::new(1.0, 2, 0.0)));
        let mut lrs = vec![s.lr()];
        lrs.extend((0..7).map(|_| s.step(None).unwrap()));
        let expected = [0.2, 0.4, 0.6, 0.8, 1.0, 0.5, 0.0, 0.0];
        for (a, b) in lrs.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{lrs:?}");
        }
        assert_eq!(s.then().steps(), 3);
    }

    #[test]
    fn bad_inner_spec_is_an_error() {
        let err = nabla_registry::build::<dyn Scheduler>("linear_warmup:then=cosinus", 1.0)
            .map(|b| b.value)
            .unwrap_err()
            .to_string();
        assert!(err.contains("then") && err.contains("cosine"), "{err}");
        let s = LinearWarmup::new(1.0, 1, 1.0, Box::new(Constant::new(1.0)));
        assert_eq!(s.lr(), 1.0);
    }
}
