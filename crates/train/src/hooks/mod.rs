//! Callbacks of a run: [`TrainHook`] is called by [`Trainer::run_with`] at the start and end
//! of the run, at every epoch's start and end and after every optimizer step. The metrics log
//! and the progress display are hooks themselves ([`MetricsLogHook`], [`ProgressHook`]).

mod metrics_log;
mod progress;

pub use metrics_log::MetricsLogHook;
pub use progress::ProgressHook;

use crate::{EpochMetrics, RunSummary, TrainError, Trainer};

/// Where an epoch starts, as [`TrainHook::on_epoch_start`] sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStart {
    /// The epoch about to run, from 1.
    pub epoch: usize,
    /// The epoch the run trains to.
    pub epochs: usize,
    /// Optimizer steps (batches) in this epoch.
    pub batches: usize,
}

/// One optimizer step, as [`TrainHook::on_step`] sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Optimizer steps taken in the run, this one included (from 1).
    pub step: u64,
    /// The batch within the epoch, from 1.
    pub batch: usize,
    /// Batches in the epoch.
    pub batches: usize,
    /// Samples in this batch.
    pub samples: usize,
    /// The batch's mean loss.
    pub loss: f64,
    /// The batch's correct predictions (in training mode, as the step saw them).
    pub correct: usize,
    /// The learning rate of this step (of the first parameter group).
    pub lr: f64,
}

/// A callback of [`Trainer::run_with`]. Every method does nothing by default; an error stops
/// the run and is returned by `run_with` (wrap foreign errors in [`TrainError::Hook`]).
///
/// Each method gets the trainer, so that a hook can measure it (for example
/// [`Trainer::evaluate_on`] another split, or probe [`Trainer::model_mut`]). Evaluation-mode
/// measurements leave the run unchanged; anything that changes the model, the optimizer or
/// the random generators changes the rest of the run, and a hook that switches the model's
/// training mode must switch it back.
///
/// ```
/// use nabla_train::{StepInfo, TrainError, TrainHook, Trainer};
/// /// Records the loss of every step.
/// struct Losses(Vec<f64>);
/// impl TrainHook for Losses {
///     fn on_step(&mut self, _trainer: &mut Trainer, step: &StepInfo) -> Result<(), TrainError> {
///         self.0.push(step.loss);
///         Ok(())
///     }
/// }
/// ```
pub trait TrainHook {
    /// Before the first epoch of this invocation (also when resuming).
    fn on_run_start(&mut self, _trainer: &mut Trainer) -> Result<(), TrainError> {
        Ok(())
    }

    /// Before an epoch's first step.
    fn on_epoch_start(&mut self, _trainer: &mut Trainer, _epoch: &EpochStart) -> Result<(), TrainError> {
        Ok(())
    }

    /// After every optimizer step (and the step-wise scheduler's).
    fn on_step(&mut self, _trainer: &mut Trainer, _step: &StepInfo) -> Result<(), TrainError> {
        Ok(())
    }

    /// After an epoch's evaluation, scheduler step and checkpoint.
    fn on_epoch_end(&mut self, _trainer: &mut Trainer, _metrics: &EpochMetrics) -> Result<(), TrainError> {
        Ok(())
    }

    /// After the last epoch, with what [`Trainer::run_with`] is about to return.
    fn on_run_end(&mut self, _trainer: &mut Trainer, _summary: &RunSummary) -> Result<(), TrainError> {
        Ok(())
    }
}
