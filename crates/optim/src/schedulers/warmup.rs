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
use crate::scheduler::{build_scheduler, Scheduler, SchedulerFromParams, StateReader};
use crate::OptimError;
use nabla_registry::{Alias, ParamError, ParamSpec, Params, Range};

/// Linear warm-up, then another schedule.
#[derive(Debug)]
pub struct LinearWarmup {
    base_lr: f64,
    warmup_steps: u64,
    start_factor: f64,
    then: Box<dyn Scheduler>,
    steps: u64,
}

impl LinearWarmup {
    /// Warm up from `start_factor * base_lr` to `base_lr` over `warmup_steps` steps
    /// (at least 1), then follow `then` (built with the same base learning rate).
    pub fn new(base_lr: f64, warmup_steps: u64, start_factor: f64, then: Box<dyn Scheduler>) -> Self {
        LinearWarmup { base_lr, warmup_steps: warmup_steps.max(1), start_factor, then, steps: 0 }
    }

    /// The schedule that follows the warm-up.
    pub fn then(&self) -> &dyn Scheduler {
        self.then.as_ref()
    }
}

const SCHEMA: &[ParamSpec] = &[
    ParamSpec::int("warmup_steps", 5, "steps of the linear rise").range(Range::at_least(1.0)),
    ParamSpec::float("start_factor", 1.0 / 3.0, "first learning rate as a fraction of the base").range(
        Range { low: nabla_registry::Bound::Exclusive(0.0), high: nabla_registry::Bound::Inclusive(1.0) },
    ),
    ParamSpec::string(
        "then",
        "constant",
        "the schedule after the warm-up, as a compact spec (\"cosine:t_max=90\")",
    ),
];

impl SchedulerFromParams for LinearWarmup {
    fn from_params(p: &Params, base_lr: f64) -> Result<Self, ParamError> {
        let spec = p.str("then")?;
        let then =
            build_scheduler(spec, base_lr).map_err(|e| p.invalid(format!("then = \"{spec}\": {e}")))?;
        Ok(LinearWarmup::new(base_lr, p.usize("warmup_steps")? as u64, p.f64("start_factor")?, then))
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
            self.then.lr()
        }
    }
    fn steps(&self) -> u64 {
        self.steps
    }
    fn step(&mut self, metric: Option<f64>) -> Result<f64, OptimError> {
        if self.steps >= self.warmup_steps {
            self.then.step(metric)?;
        }
        self.steps += 1;
        Ok(self.lr())
    }
    /// `step` plus the state of `then` under `inner.`.
    fn state(&self) -> Scalars {
        let mut out: Scalars =
            self.then.state().into_iter().map(|(k, v)| (format!("inner.{k}"), v)).collect();
        out.insert("step".to_string(), crate::Scalar::U64(self.steps));
        out
    }
    fn load_state(&mut self, state: &Scalars) -> Result<(), OptimError> {
        let (inner, own): (Scalars, Scalars) =
            state.iter().map(|(k, v)| (k.clone(), *v)).partition(|(k, _)| k.starts_with("inner."));
        let steps = StateReader::new(self.name(), &own, &["step"])?.u64("step")?;
        let inner: Scalars = inner.into_iter().map(|(k, v)| (k["inner.".len()..].to_string(), v)).collect();
        self.then.load_state(&inner)?;
        self.steps = steps;
        Ok(())
    }
}

register_scheduler!(LinearWarmup,
    name: "linear_warmup",
    aliases: [Alias::new("warmup")],
    summary: "linear warm-up from start_factor*lr to lr, then another schedule",
    params: SCHEMA,
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
        let err = crate::build_scheduler("linear_warmup:then=cosinus", 1.0).unwrap_err().to_string();
        assert!(err.contains("then") && err.contains("cosine"), "{err}");
        let s = LinearWarmup::new(1.0, 1, 1.0, Box::new(Constant::new(1.0)));
        assert_eq!(s.lr(), 1.0);
    }
}
