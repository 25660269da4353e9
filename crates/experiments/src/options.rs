//! What to run and how: the experiments by name, the data set, the budget, seeds, output.

use crate::ExperimentError;
use nabla_train::Progress;
use std::path::PathBuf;

/// One of the five chapter-3 claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Experiment {
    /// Dropout lowers the test error of an MLP that overfits.
    Dropout,
    /// ReLU trains deep stacks where sigmoid stalls (vanishing gradients).
    Activation,
    /// Batch normalization lowers the test loss and raises the test accuracy.
    Batchnorm,
    /// The initializer changes the speed of learning.
    Init,
    /// Optimizers compared fairly, each at its own swept learning rate.
    Optimizer,
}

impl Experiment {
    /// All five, in the order of the report.
    pub const ALL: [Experiment; 5] = [
        Experiment::Dropout,
        Experiment::Activation,
        Experiment::Batchnorm,
        Experiment::Init,
        Experiment::Optimizer,
    ];

    /// The command-line name (`dropout`, `activation`, `batchnorm`, `init`, `optimizer`).
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Dropout => "dropout",
            Experiment::Activation => "activation",
            Experiment::Batchnorm => "batchnorm",
            Experiment::Init => "init",
            Experiment::Optimizer => "optimizer",
        }
    }

    /// The claim, as the report states it.
    pub fn claim(self) -> &'static str {
        match self {
            Experiment::Dropout => "An MLP with dropout has a lower test error than without",
            Experiment::Activation => "ReLU trains deep stacks where sigmoid stalls (vanishing gradients)",
            Experiment::Batchnorm => "Batch normalization lowers the test loss and raises the test accuracy",
            Experiment::Init => "The initializer changes the speed of learning",
            Experiment::Optimizer => {
                "Momentum and adaptive optimizers train faster than plain SGD (each at its own tuned learning rate)"
            }
        }
    }

    /// Parses a name (case-insensitive; `batch_norm`, `bn`, `initialization`, `optimizers`,
    /// `activations` also work).
    ///
    /// # Errors
    /// [`ExperimentError::UnknownExperiment`] with the closest name.
    pub fn parse(name: &str) -> Result<Experiment, ExperimentError> {
        let key: String =
            name.trim().to_ascii_lowercase().chars().filter(|c| *c != '_' && *c != '-').collect();
        let found = match key.as_str() {
            "dropout" => Some(Experiment::Dropout),
            "activation" | "activations" => Some(Experiment::Activation),
            "batchnorm" | "bn" => Some(Experiment::Batchnorm),
            "init" | "initialization" | "initializer" | "initializers" => Some(Experiment::Init),
            "optimizer" | "optimizers" | "optim" => Some(Experiment::Optimizer),
            _ => None,
        };
        found.ok_or_else(|| {
            let names = Experiment::ALL.map(Experiment::name);
            let hint = match nabla_registry::suggest(name, names).first() {
                Some(s) => format!(" (did you mean '{s}'?)"),
                None => String::new(),
            };
            ExperimentError::UnknownExperiment { name: name.to_string(), hint, known: names.join(", ") }
        })
    }
}

impl std::fmt::Display for Experiment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which data set the experiments train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataChoice {
    /// MNIST from `--data-dir` or `$NABLA_DATA_DIR` (subsets per experiment).
    Mnist,
    /// scikit-learn's 8x8 digits, embedded in the binary (no download).
    Digits,
}

impl DataChoice {
    /// The registered data-set name.
    pub fn name(self) -> &'static str {
        match self {
            DataChoice::Mnist => "mnist",
            DataChoice::Digits => "digits",
        }
    }

    /// Parses `mnist` or `digits`.
    ///
    /// # Errors
    /// [`ExperimentError::Usage`] for anything else.
    pub fn parse(s: &str) -> Result<DataChoice, ExperimentError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mnist" => Ok(DataChoice::Mnist),
            "digits" => Ok(DataChoice::Digits),
            other => Err(ExperimentError::Usage(format!("--data expects mnist or digits, got '{other}'"))),
        }
    }
}

/// How much compute a run may spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// The report's settings: subsets of MNIST sized so that all five run in well under
    /// 30 minutes on 2 cores.
    Full,
    /// `--quick`: tiny subsets, one seed by default, a few hundred steps per run; all five in
    /// under a minute in a release build.
    Quick,
    /// Smaller still, for the CI smoke test in an unoptimized build (a few seconds each).
    Smoke,
}

impl Budget {
    /// `full`, `quick` or `smoke`.
    pub fn name(self) -> &'static str {
        match self {
            Budget::Full => "full",
            Budget::Quick => "quick",
            Budget::Smoke => "smoke",
        }
    }
}

/// Everything a run of the experiments needs besides their names.
#[derive(Clone, Debug)]
pub struct Options {
    /// The data set.
    pub data: DataChoice,
    /// Directory of the MNIST files (else `$NABLA_DATA_DIR`).
    pub data_dir: Option<PathBuf>,
    /// Seeds per setting (the report plots their mean with a min-max band).
    pub seeds: usize,
    /// The compute budget.
    pub budget: Budget,
    /// Where the report (`README.md`), `figures/` and `results/` go.
    pub out_dir: PathBuf,
    /// Progress reporting: a bar per run on a terminal, plain lines otherwise.
    pub progress: Progress,
}

impl Options {
    /// The defaults of a budget: MNIST, 3 seeds (1 for quick and smoke), output in
    /// `docs/experiments` (full) or `target/experiments-<budget>`, progress bars on a terminal.
    pub fn new(budget: Budget) -> Options {
        Options {
            data: DataChoice::Mnist,
            data_dir: None,
            seeds: if budget == Budget::Full { 3 } else { 1 },
            budget,
            out_dir: default_out_dir(budget),
            progress: Progress::Auto,
        }
    }
}

/// `docs/experiments` for the full budget, `target/experiments-quick` (or `-smoke`) otherwise,
/// relative to the working directory.
pub fn default_out_dir(budget: Budget) -> PathBuf {
    match budget {
        Budget::Full => PathBuf::from("docs").join("experiments"),
        other => PathBuf::from("target").join(format!("experiments-{}", other.name())),
    }
}

/// The options shared by `cargo xtask experiments` and `nabla experiment`.
pub const USAGE: &str = "\
usage: experiments [NAME...] [--quick] [--data mnist|digits] [--data-dir DIR] [--seeds N] [--out DIR] [--quiet]

  NAME           dropout, activation, batchnorm, init, optimizer (default: all five)
  --quick        tiny subsets, one seed, a few hundred steps per run (under a minute)
  --data D       mnist (default; from --data-dir or $NABLA_DATA_DIR) or digits (embedded, no download)
  --data-dir DIR directory holding mnist/ (the four IDX files)
  --seeds N      seeds per setting (default 3; 1 with --quick)
  --out DIR      report directory (default docs/experiments; target/experiments-quick with --quick)
  --quiet        no progress output";

/// Parses `[NAME...] [--quick] [--data D] [--data-dir DIR] [--seeds N] [--out DIR] [--quiet]`
/// (values as `--opt V` or `--opt=V`). No names means all five.
///
/// # Errors
/// [`ExperimentError::Usage`] for an unknown option or a bad value,
/// [`ExperimentError::UnknownExperiment`] for an unknown name.
pub fn parse_args(args: &[String]) -> Result<(Vec<Experiment>, Options), ExperimentError> {
    let mut names = Vec::new();
    let mut quick = false;
    let mut data = None;
    let mut data_dir = None;
    let mut seeds = None;
    let mut out = None;
    let mut quiet = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, ExperimentError> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| ExperimentError::Usage(format!("{flag} needs {what}\n{USAGE}")))
        };
        match flag {
            "--quick" => quick = true,
            "--quiet" | "-q" => quiet = true,
            "--data" => data = Some(DataChoice::parse(&value("mnist or digits")?)?),
            "--data-dir" => data_dir = Some(PathBuf::from(value("a directory")?)),
            "--out" => out = Some(PathBuf::from(value("a directory")?)),
            "--seeds" => {
                let v = value("a number")?;
                let n: usize = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ExperimentError::Usage(format!("--seeds expects a number >= 1, got '{v}'"))
                })?;
                seeds = Some(n);
            }
            "-h" | "--help" => return Err(ExperimentError::Usage(USAGE.to_string())),
            f if f.starts_with('-') => {
                return Err(ExperimentError::Usage(format!("unknown option '{f}'\n{USAGE}")));
            }
            name => {
                let e = Experiment::parse(name)?;
                if !names.contains(&e) {
                    names.push(e);
                }
            }
        }
        i += 1;
    }
    if names.is_empty() {
        names = Experiment::ALL.to_vec();
    }
    names.sort();
    let mut options = Options::new(if quick { Budget::Quick } else { Budget::Full });
    if let Some(d) = data {
        options.data = d;
    }
    options.data_dir = data_dir;
    if let Some(n) = seeds {
        options.seeds = n;
    }
    if let Some(o) = out {
        options.out_dir = o;
    }
    if quiet {
        options.progress = Progress::Quiet;
    }
    Ok((names, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn defaults_run_all_five_on_mnist_with_three_seeds() {
        let (names, o) = parse_args(&[]).unwrap();
        assert_eq!(names, Experiment::ALL);
        assert_eq!((o.data, o.seeds, o.budget), (DataChoice::Mnist, 3, Budget::Full));
        assert_eq!(o.out_dir, PathBuf::from("docs/experiments"));
    }

    #[test]
    fn options_and_names_parse() {
        let (names, o) =
            parse_args(&args("optimizer BN --quick --data=digits --seeds 2 --out /tmp/x --data-dir /d"))
                .unwrap();
        assert_eq!(names, [Experiment::Batchnorm, Experiment::Optimizer]);
        assert_eq!((o.data, o.seeds, o.budget), (DataChoice::Digits, 2, Budget::Quick));
        assert_eq!(o.out_dir, PathBuf::from("/tmp/x"));
        assert_eq!(o.data_dir, Some(PathBuf::from("/d")));
        let (_, o) = parse_args(&args("--quick")).unwrap();
        assert_eq!((o.seeds, o.out_dir), (1, PathBuf::from("target/experiments-quick")));
    }

    #[test]
    fn bad_input_is_an_error_with_a_hint() {
        let e = parse_args(&args("dropuot")).unwrap_err().to_string();
        assert!(e.contains("did you mean 'dropout'"), "{e}");
        assert!(parse_args(&args("--seeds 0")).unwrap_err().to_string().contains(">= 1"));
        assert!(parse_args(&args("--seeds")).unwrap_err().to_string().contains("needs a number"));
        assert!(parse_args(&args("--data cifar")).unwrap_err().to_string().contains("mnist or digits"));
        assert!(parse_args(&args("--fast")).unwrap_err().to_string().contains("unknown option '--fast'"));
    }
}
