//! Command-line parsing shared by the bench binaries: the arguments as flags and values,
//! counts, comma lists of counts, seconds, and the exit on a bad option or `--help` (the
//! message, then the usage).

use crate::measure::Timing;
use std::process::ExitCode;

/// The arguments after the program's name, read flag by flag.
#[derive(Debug)]
pub struct Args<I> {
    rest: I,
}

impl Args<std::iter::Skip<std::env::Args>> {
    /// This process's arguments.
    pub fn from_env() -> Self {
        Args::new(std::env::args().skip(1))
    }
}

impl<I: Iterator<Item = String>> Args<I> {
    /// The arguments `rest` (without the program's name).
    pub fn new(rest: I) -> Self {
        Args { rest }
    }

    /// The next flag, if any.
    pub fn next_flag(&mut self) -> Option<String> {
        self.rest.next()
    }

    /// The value that follows `flag`.
    pub fn value(&mut self, flag: &str) -> Result<String, String> {
        self.rest.next().ok_or_else(|| format!("{flag} needs a value"))
    }

    /// The value of `flag` as one count (see [`count`]).
    pub fn count(&mut self, flag: &str) -> Result<usize, String> {
        count(&self.value(flag)?, flag)
    }

    /// The value of `flag` as a comma list of counts (see [`counts`]).
    pub fn counts(&mut self, flag: &str) -> Result<Vec<usize>, String> {
        counts(&self.value(flag)?, flag)
    }

    /// The value of `flag` as a positive number of seconds (see [`seconds`]).
    pub fn seconds(&mut self, flag: &str) -> Result<f64, String> {
        seconds(&self.value(flag)?, flag)
    }
}

/// The options the single-process bench binaries (`nabla-bench`, `nabla-bench-cnn`) share:
/// what they train at, how long they time it, and their inference figure.
#[derive(Clone, Debug)]
pub struct StepOptions {
    /// The training batch sizes (`--batches`).
    pub batches: Vec<usize>,
    /// The timing of each figure (`--seconds`, `--reps`).
    pub timing: Timing,
    /// The inference batch size (`--infer-batch`).
    pub infer_batch: usize,
    /// Steps per allocation window (`--alloc-steps`, at least 1).
    pub alloc_steps: usize,
    /// Whether to time inference (off with `--no-infer`).
    pub infer: bool,
}

impl StepOptions {
    /// Reads `flag`, and its value from `args`, into these options; false when `flag` is not
    /// one of theirs.
    pub fn read<I: Iterator<Item = String>>(
        &mut self,
        flag: &str,
        args: &mut Args<I>,
    ) -> Result<bool, String> {
        match flag {
            "--batches" => self.batches = args.counts(flag)?,
            "--seconds" => self.timing.seconds = args.seconds(flag)?,
            "--reps" => self.timing.reps = args.count(flag)?.max(1),
            "--infer-batch" => self.infer_batch = args.count(flag)?,
            "--alloc-steps" => self.alloc_steps = args.count(flag)?.max(1),
            "--no-infer" => self.infer = false,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Reads every flag of `args`: these options' own, then those `other` knows (it returns
    /// false for one it does not); `-h`/`--help` is the empty error that [`exit_with_usage`]
    /// takes for help, any other flag an error naming it.
    pub fn read_all<I: Iterator<Item = String>>(
        &mut self,
        args: &mut Args<I>,
        mut other: impl FnMut(&str, &mut Args<I>) -> Result<bool, String>,
    ) -> Result<(), String> {
        while let Some(flag) = args.next_flag() {
            if self.read(&flag, args)? || other(&flag, args)? {
                continue;
            }
            return Err(match flag.as_str() {
                "-h" | "--help" => String::new(),
                unknown => format!("unknown argument '{unknown}'"),
            });
        }
        Ok(())
    }
}

/// One count, the value of `flag`.
pub fn count(value: &str, flag: &str) -> Result<usize, String> {
    value.trim().parse::<usize>().map_err(|e| format!("{flag}: '{value}' is not a count ({e})"))
}

/// A comma list of counts (`32,128,512`), the value of `flag`; empty items are skipped.
pub fn counts(value: &str, flag: &str) -> Result<Vec<usize>, String> {
    value.split(',').filter(|s| !s.trim().is_empty()).map(|s| count(s, flag)).collect()
}

/// A positive, finite number of seconds, the value of `flag`.
pub fn seconds(value: &str, flag: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(format!("{flag}: '{value}' is not a positive number of seconds")),
    }
}

/// Prints why the options of binary `name` were refused, then `usage`; an empty `error` is
/// `--help`, which succeeds.
pub fn exit_with_usage(name: &str, usage: &str, error: &str) -> ExitCode {
    if !error.is_empty() {
        eprintln!("{name}: {error}");
    }
    eprintln!("{usage}");
    if error.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_give_flags_and_their_parsed_values() {
        let mut args = Args::new(
            ["--batches", "8,16", "--reps", "3", "--seconds", "0.5", "--gemm-seconds"]
                .map(String::from)
                .into_iter(),
        );
        assert_eq!(args.next_flag().as_deref(), Some("--batches"));
        assert_eq!(args.counts("--batches"), Ok(vec![8, 16]));
        assert_eq!(args.next_flag().as_deref(), Some("--reps"));
        assert_eq!(args.count("--reps"), Ok(3));
        assert_eq!(args.next_flag().as_deref(), Some("--seconds"));
        assert_eq!(args.seconds("--seconds"), Ok(0.5));
        assert_eq!(args.next_flag().as_deref(), Some("--gemm-seconds"));
        assert_eq!(args.seconds("--gemm-seconds"), Err("--gemm-seconds needs a value".into()));
        assert_eq!(args.next_flag(), None);
    }

    #[test]
    fn the_shared_step_options_read_their_flags_and_leave_the_others() {
        let mut o = StepOptions {
            batches: vec![32],
            timing: Timing::default(),
            infer_batch: 1000,
            alloc_steps: 100,
            infer: true,
        };
        let flags = ["--batches", "8,16", "--reps", "0", "--seconds", "0.5", "--infer-batch", "7"];
        let more = ["--alloc-steps", "0", "--no-infer", "--gemm-sizes", "64"];
        let mut args = Args::new(flags.into_iter().chain(more).map(String::from));
        let mut others = Vec::new();
        let read = o.read_all(&mut args, |flag, args| {
            others.push((flag.to_string(), args.counts(flag)?));
            Ok(true)
        });
        assert_eq!(read, Ok(()));
        assert_eq!(others, [("--gemm-sizes".to_string(), vec![64])], "only the flag not shared");
        assert_eq!((o.batches.as_slice(), o.timing.reps, o.timing.seconds), (&[8, 16][..], 1, 0.5));
        assert_eq!((o.infer_batch, o.alloc_steps, o.infer), (7, 1, false));
        let mut bad = Args::new(["x"].map(String::from).into_iter());
        assert!(o.read("--seconds", &mut bad).is_err());
        for (flag, error) in [("--help", String::new()), ("--nope", "unknown argument '--nope'".to_string())]
        {
            let mut args = Args::new([flag.to_string()].into_iter());
            assert_eq!(o.read_all(&mut args, |_, _| Ok(false)), Err(error));
        }
    }

    #[test]
    fn counts_and_seconds_parse_and_bad_ones_are_errors() {
        assert_eq!(count(" 5 ", "--reps"), Ok(5));
        assert!(count("x", "--reps").unwrap_err().starts_with("--reps: 'x' is not a count ("));
        assert_eq!(counts("32,128, 512,", "--batches"), Ok(vec![32, 128, 512]));
        assert_eq!(counts(" , ", "--batches"), Ok(vec![]));
        assert!(counts("32,-1", "--batches").unwrap_err().starts_with("--batches: '-1' is not a count ("));
        assert_eq!(seconds("0.25", "--seconds"), Ok(0.25));
        for bad in ["0", "-1", "inf", "NaN", "x"] {
            assert_eq!(
                seconds(bad, "--gemm-seconds"),
                Err(format!("--gemm-seconds: '{bad}' is not a positive number of seconds"))
            );
        }
    }
}
