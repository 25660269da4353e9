//! The hook that writes `metrics.jsonl`.

use crate::hooks::TrainHook;
use crate::{EpochMetrics, MetricsLog, TrainError, Trainer};
use std::path::PathBuf;

/// Appends every epoch's metrics to `metrics.jsonl` in a run directory; a fresh run (no epoch
/// done yet) starts a new log, a resumed run appends to its own.
#[derive(Debug)]
pub struct MetricsLogHook {
    dir: PathBuf,
    log: Option<MetricsLog>,
}

impl MetricsLogHook {
    /// The log of the run directory `dir`, opened when the run starts.
    pub fn new(dir: impl Into<PathBuf>) -> MetricsLogHook {
        MetricsLogHook { dir: dir.into(), log: None }
    }
}

impl TrainHook for MetricsLogHook {
    fn on_run_start(&mut self, trainer: &mut Trainer) -> Result<(), TrainError> {
        self.log = Some(MetricsLog::open(&self.dir, trainer.epochs_done() == 0)?);
        Ok(())
    }

    fn on_epoch_end(&mut self, _trainer: &mut Trainer, metrics: &EpochMetrics) -> Result<(), TrainError> {
        match &self.log {
            Some(log) => log.append(metrics),
            // Used outside a run (no `on_run_start`): append, never truncate.
            None => MetricsLog::open(&self.dir, false)?.append(metrics),
        }
    }
}
