//! The hook that shows a run's progress: a bar per epoch on a terminal, one line per epoch.

use crate::hooks::{EpochStart, StepInfo, TrainHook};
use crate::{format_epoch, EpochMetrics, Progress, TrainError, Trainer};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// Shows progress on standard error as [`Progress`] asks: with `Auto` on a terminal, a bar
/// per epoch (batches done, running loss and throughput) replaced by the epoch's line when
/// it ends; with `Lines` (or `Auto` elsewhere) only the lines; with `Quiet` nothing.
#[derive(Debug)]
pub struct ProgressHook {
    show_bar: bool,
    lines: bool,
    bar: Option<ProgressBar>,
    started: Instant,
    loss_sum: f64,
    seen: usize,
}

impl ProgressHook {
    /// Progress as `progress` asks.
    pub fn new(progress: Progress) -> ProgressHook {
        let show_bar = progress == Progress::Auto && std::io::stderr().is_terminal();
        let lines = progress == Progress::Lines || (progress == Progress::Auto && !show_bar);
        ProgressHook { show_bar, lines, bar: None, started: Instant::now(), loss_sum: 0.0, seen: 0 }
    }
}

impl TrainHook for ProgressHook {
    fn on_epoch_start(&mut self, _trainer: &mut Trainer, epoch: &EpochStart) -> Result<(), TrainError> {
        (self.started, self.loss_sum, self.seen) = (Instant::now(), 0.0, 0);
        if self.show_bar {
            let bar = ProgressBar::new(epoch.batches as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} batches  {elapsed_precise}  {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("{}/{}", epoch.epoch, epoch.epochs));
            self.bar = Some(bar);
        }
        Ok(())
    }

    fn on_step(&mut self, _trainer: &mut Trainer, step: &StepInfo) -> Result<(), TrainError> {
        self.loss_sum += step.loss * step.samples as f64;
        self.seen += step.samples;
        if let Some(bar) = &self.bar {
            bar.inc(1);
            // Redrawing the message every batch would cost more than small steps take.
            if (step.batch - 1).is_multiple_of(8) {
                let rate = self.seen as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("loss {:.4}  {rate:.0} samples/s", self.loss_sum / self.seen as f64));
            }
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, trainer: &mut Trainer, metrics: &EpochMetrics) -> Result<(), TrainError> {
        let line = format_epoch(metrics, trainer.config().epochs);
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            eprintln!("{line}");
        } else if self.lines {
            eprintln!("{line}");
        }
        Ok(())
    }
}
