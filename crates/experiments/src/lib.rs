//! `nabla-experiments`: the five claims of the textbook's chapter 3, measured with nabla,
//! with figures and a generated report.
//!
//! | name | claim | what is measured |
//! | --- | --- | --- |
//! | `dropout` | dropout lowers the test error | train and test error per epoch for p in {0, 0.2, 0.5} on a reduced training set |
//! | `activation` | ReLU trains deep stacks where sigmoid stalls | training loss for 2, 5, 10 hidden layers of sigmoid, tanh, ReLU; each layer's weight-gradient norm at initialization and after one epoch |
//! | `batchnorm` | batch norm lowers test loss, raises accuracy | test loss and accuracy per epoch with and without BatchNorm1d; mean and std of a hidden layer's pre-activations over training |
//! | `init` | the initializer changes the speed of learning | loss over the first epoch for N(0,1), N(0,0.01), LeCun, Xavier, He (normal and uniform); std of activations per layer at initialization in deep ReLU and tanh nets |
//! | `optimizer` | momentum and adaptive methods train faster than SGD | every registered optimizer (plugins included when linked), its learning rate swept on a validation split, then training-loss curves and test accuracy |
//!
//! Every component is chosen by its registered name (`normal:std=0.01`, `he_uniform`,
//! `batch_norm1d`, `nag`, ...), so the experiments exercise exactly what a config can name.
//! Each setting runs with several seeds; figures show the mean with a min-max band.
//!
//! [`run`] writes, under [`Options::out_dir`]: `figures/<name>-*.svg` (each with a PNG copy,
//! `figures/<name>-*.png`, drawn with the bundled DejaVu Sans font), `results/<name>.json`
//! (the section and its numbers) and `README.md`, assembled from every record present — so
//! running one experiment refreshes its section and keeps the others. Every file is written
//! to a temporary name and renamed, so a run killed midway leaves the previous report intact.
//!
//! ```no_run
//! use nabla_experiments::{run, Budget, DataChoice, Experiment, Options};
//! let options = Options { data: DataChoice::Digits, ..Options::new(Budget::Quick) };
//! let summary = run(&[Experiment::Dropout], &options).unwrap();
//! println!("{}: {}", summary.results[0].experiment, summary.results[0].verdict);
//! ```
//!
//! From the command line: `cargo xtask experiments [NAME...] [--quick] [--data mnist|digits]
//! [--data-dir DIR] [--seeds N] [--out DIR]`, or `nabla experiment NAME` with the same options.

mod activation;
mod batchnorm;
mod dropout;
mod error;
mod init;
mod optimizer;
mod options;
mod plot;
mod report;
mod run_plot;
mod runner;
mod stats;

pub use error::ExperimentError;
/// How runs report progress (re-exported from `nabla-train`).
pub use nabla_train::Progress;
pub use options::{default_out_dir, parse_args, Budget, DataChoice, Experiment, Options, USAGE};
pub use plot::PNG_SCALE;
pub use report::{
    format_duration, format_utc, load_records, record_path, render_readme, write_readme, SectionRecord,
    Verdict,
};
pub use run_plot::{plot_runs, read_run, RunCurves};
pub use stats::{band, bin, last_values, tail_mean, BandPoint, Spread};

use std::path::PathBuf;
use std::time::Instant;

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

/// What one experiment concluded.
#[derive(Clone, Debug)]
pub struct ExperimentResult {
    /// Which experiment.
    pub experiment: Experiment,
    /// Whether the claim held.
    pub verdict: Verdict,
    /// The key numbers in one line.
    pub headline: String,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The figures written (the SVGs; each has its PNG copy beside it, with the extension `png`).
    pub figures: Vec<PathBuf>,
}

/// One line per result, as `nabla experiment` and `cargo xtask experiments` print it: the
/// experiment and its verdict in aligned columns, the headline, the wall time.
impl std::fmt::Display for ExperimentResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<10} {:<14} {} ({})",
            self.experiment.name(),
            self.verdict.to_string(),
            self.headline,
            format_duration(self.seconds)
        )
    }
}

/// What a run of the suite produced.
#[derive(Clone, Debug)]
pub struct SuiteSummary {
    /// One result per experiment run, in report order.
    pub results: Vec<ExperimentResult>,
    /// Wall time of this invocation, seconds.
    pub seconds: f64,
    /// The report (`README.md`).
    pub report: PathBuf,
}

/// What an experiment module hands back.
pub(crate) struct Outcome {
    pub verdict: Verdict,
    pub headline: String,
    pub body: String,
    pub figures: Vec<PathBuf>,
}

impl Outcome {
    /// An outcome whose report `body` ends with the section every experiment closes on: did
    /// the claim hold, and why (`discussion`).
    pub(crate) fn new(
        verdict: Verdict,
        headline: String,
        mut body: String,
        discussion: &str,
        figures: Vec<PathBuf>,
    ) -> Outcome {
        body.push_str("\n### Did the claim hold?\n\n");
        body.push_str(discussion);
        body.push('\n');
        Outcome { verdict, headline, body, figures }
    }
}

/// Runs the given experiments (in report order), writing figures, a record per experiment
/// and the report under `options.out_dir`. The report is rewritten after each experiment,
/// so a run stopped midway keeps every section that finished.
///
/// # Errors
/// Data that cannot be loaded (MNIST without `--data-dir` or `$NABLA_DATA_DIR`), a component
/// that cannot be built, a file that cannot be written.
pub fn run(experiments: &[Experiment], options: &Options) -> Result<SuiteSummary, ExperimentError> {
    let mut order: Vec<Experiment> = experiments.to_vec();
    order.sort();
    order.dedup();
    let started = Instant::now();
    let commit = report::git_commit();
    let mut results = Vec::new();
    let mut report = options.out_dir.join("README.md");
    for e in order {
        let t = Instant::now();
        let ctx = runner::Ctx::new(options, e);
        let outcome = match e {
            Experiment::Dropout => dropout::run(&ctx)?,
            Experiment::Activation => activation::run(&ctx)?,
            Experiment::Batchnorm => batchnorm::run(&ctx)?,
            Experiment::Init => init::run(&ctx)?,
            Experiment::Optimizer => optimizer::run(&ctx)?,
        };
        let seconds = t.elapsed().as_secs_f64();
        let record = SectionRecord {
            experiment: e.name().to_string(),
            claim: e.claim().to_string(),
            verdict: outcome.verdict,
            headline: outcome.headline.clone(),
            body: outcome.body,
            seconds,
            data: options.data.name().to_string(),
            budget: options.budget.name().to_string(),
            seeds: options.seeds.max(1),
            date: report::now_utc(),
            commit: commit.clone(),
            cores: report::cores(),
        };
        report::save_record(&options.out_dir, e, &record)?;
        report = report::write_readme(&options.out_dir)?;
        if options.progress != nabla_train::Progress::Quiet {
            eprintln!("{e}: {} — {} ({})", outcome.verdict, outcome.headline, format_duration(seconds));
        }
        results.push(ExperimentResult {
            experiment: e,
            verdict: outcome.verdict,
            headline: outcome.headline,
            seconds,
            figures: outcome.figures,
        });
    }
    Ok(SuiteSummary { results, seconds: started.elapsed().as_secs_f64(), report })
}

/// `p` as a percentage with one decimal: `0.1234` gives `12.3%`.
pub(crate) fn pct(p: f64) -> String {
    if p.is_finite() {
        format!("{:.1}%", 100.0 * p)
    } else {
        "n/a".to_string()
    }
}
