//! The end-to-end figure: one whole epoch of the chapter-3 MLP as a user runs it,
//! [`Trainer::run`] with its loader (seeded shuffle, batches copied out of the data set),
//! its accuracy bookkeeping, the evaluation on the test split, the metrics log and the
//! checkpoint in a run directory, on random MNIST-sized splits (60 000 + 10 000 examples).
//! Its rate, set against the isolated [`Trainer::train_step`] rate at the same batch size,
//! is what the loop around the step costs.

use crate::workload::{random_splits_of, trainer_on, MNIST_MLP_TOML};
use nabla_train::{RunOptions, Trainer};
use serde_json::{json, Value};
use std::time::Instant;

/// MNIST's training split.
pub const MNIST_TRAIN: usize = 60_000;
/// MNIST's test split.
pub const MNIST_TEST: usize = 10_000;

/// How one epoch's wall time divides.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochFigures {
    /// Training examples in the epoch.
    pub samples: usize,
    /// Test examples evaluated after it.
    pub eval_samples: usize,
    /// The whole of [`Trainer::run`]: opening the run directory, the epoch, evaluation,
    /// metrics line and checkpoint.
    pub seconds: f64,
    /// The training loop alone (loader and steps), as the run's metrics report it.
    pub train_seconds: f64,
    /// Evaluation on the test split.
    pub eval_seconds: f64,
}

impl EpochFigures {
    /// Training samples per second of the whole run.
    pub fn samples_per_s(&self) -> f64 {
        self.samples as f64 / self.seconds.max(1e-12)
    }

    /// The rest: the run directory, the metrics line and the checkpoint (written, synced).
    pub fn files_seconds(&self) -> f64 {
        (self.seconds - self.train_seconds - self.eval_seconds).max(0.0)
    }

    /// The figures and their ratio to the isolated step rate `step_rate` (samples/s).
    pub fn to_json(&self, step_rate: f64) -> Value {
        json!({
            "samples": self.samples,
            "eval_samples": self.eval_samples,
            "samples_per_s": self.samples_per_s(),
            "step_samples_per_s": step_rate,
            "ratio_to_step": self.samples_per_s() / step_rate,
            "seconds": self.seconds,
            "train_loop_seconds": self.train_seconds,
            "eval_seconds": self.eval_seconds,
            "files_seconds": self.files_seconds(),
            "train_loop_samples_per_s": self.samples as f64 / self.train_seconds.max(1e-12),
        })
    }
}

/// A trainer of `configs/mnist_mlp.toml` at `batch` for one epoch on random splits of
/// `train` examples and a test split in MNIST's proportion to it (10 000 for 60 000).
pub fn epoch_trainer(batch: usize, train: usize) -> Trainer {
    let test = (train * MNIST_TEST).div_ceil(MNIST_TRAIN);
    let overrides = [format!("batch_size={batch}"), "epochs=1".to_string()];
    trainer_on(MNIST_MLP_TOML, "configs/mnist_mlp.toml", &overrides, random_splits_of(train, test, 23))
}

/// Runs `trainer`'s remaining epoch with a fresh run directory in the system's temporary
/// directory (removed afterwards) and times it.
///
/// # Panics
/// When the run fails (on random data that would be a bug) or no temporary directory can be
/// made.
pub fn time_epoch(trainer: &mut Trainer) -> EpochFigures {
    let dir = std::env::temp_dir().join(format!("nabla-bench-epoch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let summary = trainer.run(&RunOptions::quiet(&dir)).expect("the epoch runs");
    let seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    let m = summary.final_metrics;
    let (samples, eval_samples) = (trainer.data().train.len(), trainer.data().test.len());
    let train_seconds = samples as f64 / m.samples_per_second.max(1e-12);
    let eval_seconds = (m.seconds - train_seconds).max(0.0);
    EpochFigures { samples, eval_samples, seconds, train_seconds, eval_seconds }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_is_timed_whole_and_in_parts() {
        let mut t = epoch_trainer(16, 64);
        let e = time_epoch(&mut t);
        assert_eq!((e.samples, e.eval_samples, t.epochs_done()), (64, 11, 1));
        assert!(e.train_seconds > 0.0 && e.train_seconds + e.eval_seconds <= e.seconds + 1e-9);
        let j = e.to_json(e.samples_per_s() * 2.0);
        assert!((j["ratio_to_step"].as_f64().unwrap() - 0.5).abs() < 1e-9);
    }
}
