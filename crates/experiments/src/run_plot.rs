//! `nabla plot`: the loss and accuracy curves of one or more training runs in one figure,
//! drawn by the same plotting code as the experiments (SVG plus a PNG copy).
//!
//! Each run directory's `metrics.jsonl` is read (one record per epoch, as the trainer writes
//! it); runs are labelled by their directory names. The figure has two panels — loss and
//! accuracy per epoch — with one colour per run, the training curve dashed and the test curve
//! solid.

use crate::plot::{Figure, LinePanel, Panel, Series};
use crate::{BandPoint, ExperimentError};
use nabla_train::EpochMetrics;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Metrics files larger than this are refused: 64 MiB is about half a million epochs.
const MAX_METRICS_BYTES: u64 = 64 << 20;

/// The curves of one run.
#[derive(Clone, Debug)]
pub struct RunCurves {
    /// The label: the run directory's name.
    pub label: String,
    /// One record per epoch, in file order.
    pub epochs: Vec<EpochMetrics>,
}

/// Reads `run/metrics.jsonl` (or `run` itself when it names a `.jsonl` file).
///
/// # Errors
/// A missing or unreadable file, a file over 64 MiB, a malformed line (named by its number)
/// and a run without any epoch.
pub fn read_run(run: &Path) -> Result<RunCurves, ExperimentError> {
    let is_log = run.extension().is_some_and(|e| e == "jsonl");
    let file = if is_log { run.to_path_buf() } else { run.join("metrics.jsonl") };
    let io = |message: String| ExperimentError::Io { path: file.clone(), message };
    let handle = std::fs::File::open(&file).map_err(|e| io(format!("cannot read the run's metrics: {e}")))?;
    let size = handle.metadata().map_err(|e| io(e.to_string()))?.len();
    if size > MAX_METRICS_BYTES {
        return Err(io(format!(
            "{size} bytes is more than the {MAX_METRICS_BYTES}-byte limit of a metrics log"
        )));
    }
    let mut text = String::new();
    handle.take(MAX_METRICS_BYTES).read_to_string(&mut text).map_err(|e| io(e.to_string()))?;
    let mut epochs = Vec::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let record: EpochMetrics = serde_json::from_str(line)
            .map_err(|e| io(format!("line {}: not an epoch record: {e}", number + 1)))?;
        epochs.push(record);
    }
    if epochs.is_empty() {
        return Err(io("no epoch recorded yet".to_string()));
    }
    let named = if is_log { run.parent().unwrap_or(run) } else { run };
    let label = named
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| named.display().to_string());
    Ok(RunCurves { label, epochs })
}

fn curve(run: &RunCurves, value: impl Fn(&EpochMetrics) -> f64) -> Vec<BandPoint> {
    run.epochs
        .iter()
        .map(|m| {
            let y = value(m);
            BandPoint { x: m.epoch as f64, mean: y, lo: y, hi: y }
        })
        .collect()
}

/// The figure of `runs`: loss and accuracy per epoch, train dashed, test solid.
pub(crate) fn runs_figure(runs: &[RunCurves]) -> Figure {
    let mut loss = LinePanel::new("Loss", "epoch", "cross-entropy");
    let mut accuracy = LinePanel::new("Accuracy", "epoch", "accuracy (%)");
    loss.integer_x = true;
    accuracy.integer_x = true;
    accuracy.legend = crate::plot::Legend::LowerRight;
    for (color, run) in runs.iter().enumerate() {
        let markers = run.epochs.len() < 12;
        let with_markers = |s: Series| if markers { s.markers() } else { s };
        loss.series.push(with_markers(
            Series::new(format!("{} train", run.label), color, curve(run, |m| m.train_loss)).dashed(),
        ));
        loss.series.push(with_markers(Series::new(
            format!("{} test", run.label),
            color,
            curve(run, |m| m.test_loss),
        )));
        accuracy.series.push(with_markers(
            Series::new(format!("{} train", run.label), color, curve(run, |m| 100.0 * m.train_accuracy))
                .dashed(),
        ));
        accuracy.series.push(with_markers(Series::new(
            format!("{} test", run.label),
            color,
            curve(run, |m| 100.0 * m.test_accuracy),
        )));
    }
    let title = match runs {
        [one] => format!("Run {}", one.label),
        many => format!("{} runs", many.len()),
    };
    Figure::new(title, vec![Panel::Lines(loss), Panel::Lines(accuracy)], 2)
}

/// Reads every run and writes the figure as `out` (an `.svg`; the PNG copy is written beside
/// it). Without `out`, the figure goes to `plot.svg` in the first run's directory. Returns
/// the SVG and PNG paths.
///
/// # Errors
/// No run given, any run that cannot be read (see [`read_run`]) and drawing or writing errors.
pub fn plot_runs(runs: &[PathBuf], out: Option<&Path>) -> Result<(PathBuf, PathBuf), ExperimentError> {
    let first = runs
        .first()
        .ok_or_else(|| ExperimentError::Usage("nabla plot needs at least one run directory".into()))?;
    let curves = runs.iter().map(|r| read_run(r)).collect::<Result<Vec<_>, _>>()?;
    let svg = match out {
        Some(path) if path.extension().is_some_and(|e| e == "png") => path.with_extension("svg"),
        Some(path) => path.to_path_buf(),
        None => {
            let dir = if first.is_dir() {
                first.clone()
            } else {
                first.parent().unwrap_or(Path::new(".")).to_path_buf()
            };
            dir.join("plot.svg")
        }
    };
    runs_figure(&curves).save(&svg)?;
    let png = svg.with_extension("png");
    Ok((svg, png))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, loss: f64, acc: f64) -> String {
        let m = EpochMetrics {
            epoch,
            step: epoch as u64 * 10,
            train_loss: loss,
            train_accuracy: acc,
            test_loss: loss * 1.1,
            test_accuracy: acc * 0.98,
            validation_loss: None,
            validation_accuracy: None,
            lr: 0.1,
            samples_per_second: 1000.0,
            seconds: 1.0,
        };
        serde_json::to_string(&m).unwrap()
    }

    #[test]
    fn two_runs_in_one_figure_with_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut runs = Vec::new();
        for (name, scale) in [("run-adam", 1.0), ("run-sgd", 2.0)] {
            let run = dir.path().join(name);
            std::fs::create_dir(&run).unwrap();
            let lines: Vec<String> =
                (1..=3).map(|e| record(e, scale / e as f64, 0.5 + 0.1 * e as f64)).collect();
            std::fs::write(run.join("metrics.jsonl"), lines.join("\n") + "\n").unwrap();
            runs.push(run);
        }
        let out = dir.path().join("both.svg");
        let (svg, png) = plot_runs(&runs, Some(&out)).unwrap();
        assert_eq!(svg, out);
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("run-adam test") && text.contains("run-sgd train"), "labels missing");
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
        // Default output: plot.svg in the first run's directory.
        let (default_svg, _) = plot_runs(&runs[..1], None).unwrap();
        assert_eq!(default_svg, runs[0].join("plot.svg"));
    }

    #[test]
    fn unreadable_runs_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = plot_runs(&[dir.path().to_path_buf()], None).unwrap_err().to_string();
        assert!(err.contains("metrics.jsonl"), "{err}");
        std::fs::write(dir.path().join("metrics.jsonl"), format!("{}\nnot json\n", record(1, 1.0, 0.5)))
            .unwrap();
        let err = plot_runs(&[dir.path().to_path_buf()], None).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        std::fs::write(dir.path().join("metrics.jsonl"), "").unwrap();
        let err = plot_runs(&[dir.path().to_path_buf()], None).unwrap_err().to_string();
        assert!(err.contains("no epoch"), "{err}");
        assert!(plot_runs(&[], None).is_err());
    }
}
