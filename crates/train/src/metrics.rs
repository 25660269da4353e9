//! Per-epoch metrics: the record, the JSON-lines log and the end-of-run summary.

use crate::files::write_atomic;
use crate::TrainError;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Optimizer steps taken so far in the run.
    pub step: u64,
    /// Mean training loss over the epoch's batches (weighted by batch size).
    pub train_loss: f64,
    /// Training accuracy over the epoch (in training mode, as the batches were seen).
    pub train_accuracy: f64,
    /// Loss on the held-out split (evaluation mode).
    pub test_loss: f64,
    /// Accuracy on the held-out split (evaluation mode).
    pub test_accuracy: f64,
    /// Loss on the validation split, when the config holds one out (`validation_fraction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_loss: Option<f64>,
    /// Accuracy on the validation split, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<f64>,
    /// Learning rate used during the epoch (of the first parameter group).
    pub lr: f64,
    /// Training throughput, samples per second (training steps only).
    pub samples_per_second: f64,
    /// Wall time of the epoch including evaluation, in seconds.
    pub seconds: f64,
}

/// Appends one JSON object per line to `metrics.jsonl` in the run directory.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    /// A log at `dir/metrics.jsonl`; `fresh` truncates an existing log (a new run), otherwise
    /// lines are appended (a resumed run).
    pub fn open(dir: &Path, fresh: bool) -> Result<MetricsLog, TrainError> {
        let path = dir.join("metrics.jsonl");
        if fresh {
            write_atomic(&path, b"")?;
        }
        Ok(MetricsLog { path })
    }

    /// Appends one record and syncs it to disk (a run's checkpoint may become current only
    /// once its epoch's line is durable).
    pub fn append(&self, m: &EpochMetrics) -> Result<(), TrainError> {
        let io = |source| TrainError::Io { path: self.path.clone(), source };
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        let line = serde_json::to_string(m).expect("metrics serialize");
        writeln!(f, "{line}").map_err(io)?;
        f.sync_data().map_err(io)
    }

    /// Replaces the log with `records`, atomically.
    pub fn write_all(&self, records: &[EpochMetrics]) -> Result<(), TrainError> {
        let mut text = String::new();
        for m in records {
            text.push_str(&serde_json::to_string(m).expect("metrics serialize"));
            text.push('\n');
        }
        write_atomic(&self.path, text.as_bytes())
    }

    /// Drops the records after epoch `epoch` (written by a run that stopped before their
    /// checkpoint became current) and any second record of an epoch, atomically; returns the
    /// records kept. A missing log is an empty one.
    pub fn truncate_to(&self, epoch: usize) -> Result<Vec<EpochMetrics>, TrainError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(TrainError::Io { path: self.path.clone(), source }),
        };
        // A last line without its newline was cut short by a crash: it is dropped, as it
        // belongs to an epoch whose checkpoint never became current.
        let complete = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        let mut all = Vec::new();
        for (i, line) in complete.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            all.push(serde_json::from_str::<EpochMetrics>(line).map_err(|e| {
                TrainError::Checkpoint(format!("{}:{}: bad metrics line: {e}", self.path.display(), i + 1))
            })?);
        }
        let torn = complete.len() != text.len();
        let mut kept: Vec<EpochMetrics> = Vec::with_capacity(all.len());
        for m in &all {
            if m.epoch <= epoch && kept.last().is_none_or(|k| k.epoch < m.epoch) {
                kept.push(m.clone());
            }
        }
        if torn || kept.len() != all.len() || !self.path.exists() {
            self.write_all(&kept)?;
        }
        Ok(kept)
    }

    /// Reads every record back (for reports and tests).
    pub fn read(path: &Path) -> Result<Vec<EpochMetrics>, TrainError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TrainError::Io { path: path.to_path_buf(), source })?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| {
                    TrainError::Checkpoint(format!("{}:{}: bad metrics line: {e}", path.display(), i + 1))
                })
            })
            .collect()
    }
}

/// One line per epoch, for terminals without a progress bar and for the summary.
pub fn format_epoch(m: &EpochMetrics, epochs: usize) -> String {
    let validation = match (m.validation_loss, m.validation_accuracy) {
        (Some(loss), Some(acc)) => format!("  val loss {loss:.4} acc {:6.2}%", 100.0 * acc),
        _ => String::new(),
    };
    format!(
        "epoch {:>3}/{epochs}  train loss {:.4} acc {:6.2}%{validation}  test loss {:.4} acc {:6.2}%  lr {:.3e}  {:>8.0} samples/s  {:.2}s",
        m.epoch,
        m.train_loss,
        100.0 * m.train_accuracy,
        m.test_loss,
        100.0 * m.test_accuracy,
        m.lr,
        m.samples_per_second,
        m.seconds
    )
}
