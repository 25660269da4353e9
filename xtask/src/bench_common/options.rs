//! The options of the benchmark drivers: the parallelism of each run (`--threads 1,2` or
//! `--procs 1,2`), `--batches`, `--seconds`, `--json`, `--compare-torch`, `--torch-script`,
//! `--python`, `--help`; and the parser of their comma lists of counts.

use std::path::PathBuf;

/// A driver's options; each driver sets its own defaults and checks.
#[derive(Debug)]
pub(crate) struct BenchOptions {
    /// The flag of [`Self::parallelism`]: `--threads` or `--procs`.
    pub(crate) parallelism_flag: &'static str,
    /// One run per count: GEMM threads of a bench process (`--threads`), or MPI processes of
    /// a job (`--procs`).
    pub(crate) parallelism: Vec<usize>,
    pub(crate) batches: Vec<usize>,
    pub(crate) seconds: f64,
    pub(crate) json: Option<PathBuf>,
    pub(crate) compare_torch: bool,
    pub(crate) torch_script: Option<PathBuf>,
    /// `--python` as given: the drivers differ in what they fall back to.
    pub(crate) python: Option<String>,
}

impl BenchOptions {
    /// The defaults: runs at 1 and 2 of `parallelism_flag`, the driver's own batches and
    /// seconds per figure, no reference measured and no JSON file.
    pub(crate) fn with_defaults(
        parallelism_flag: &'static str,
        batches: Vec<usize>,
        seconds: f64,
    ) -> BenchOptions {
        BenchOptions {
            parallelism_flag,
            parallelism: vec![1, 2],
            batches,
            seconds,
            json: None,
            compare_torch: false,
            torch_script: None,
            python: None,
        }
    }

    /// Takes `flag`, and its value from `rest`; an unknown flag is an error, and `--help` is
    /// the empty error (the caller prints the usage and succeeds).
    pub(crate) fn parse_flag<'a>(
        &mut self,
        flag: &str,
        rest: &mut impl Iterator<Item = &'a String>,
    ) -> Result<(), String> {
        match flag {
            f if f == self.parallelism_flag => self.parallelism = counts(rest.next(), f)?,
            "--batches" => self.batches = counts(rest.next(), "--batches")?,
            "--seconds" => {
                let v = rest.next().ok_or("--seconds needs a value")?;
                self.seconds = v.parse().map_err(|_| format!("--seconds: '{v}' is not a number"))?;
                if !(self.seconds.is_finite() && self.seconds > 0.0) {
                    return Err("--seconds must be positive".into());
                }
            }
            "--json" => self.json = Some(PathBuf::from(rest.next().ok_or("--json needs a file name")?)),
            "--compare-torch" => self.compare_torch = true,
            "--torch-script" => {
                self.torch_script = Some(PathBuf::from(rest.next().ok_or("--torch-script needs a path")?))
            }
            "--python" => self.python = Some(rest.next().ok_or("--python needs a program")?.clone()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
        Ok(())
    }
}

/// A comma list of positive counts (`1,2`), the value of `flag`; empty items are skipped.
pub(crate) fn counts(value: Option<&String>, flag: &str) -> Result<Vec<usize>, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    let items = value
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<usize>().map_err(|_| format!("{flag}: '{s}' is not a positive count")))
        .collect::<Result<Vec<_>, _>>()?;
    if items.is_empty() || items.contains(&0) {
        return Err(format!("{flag}: give positive counts, e.g. {flag} 1,2"));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<BenchOptions, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut o = BenchOptions::with_defaults("--procs", vec![7], 3.0);
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            o.parse_flag(flag, &mut it)?;
        }
        Ok(o)
    }

    #[test]
    fn common_flags_parse_with_the_drivers_defaults() {
        let d = parse(&[]).unwrap();
        assert_eq!(
            (d.batches, d.seconds, d.json, d.compare_torch, d.torch_script, d.python),
            (vec![7], 3.0, None, false, None, None)
        );
        let o = parse(&[
            "--procs",
            "4",
            "--batches",
            " 8, 16,",
            "--seconds",
            "0.5",
            "--json",
            "out.json",
            "--compare-torch",
            "--torch-script",
            "ref.py",
            "--python",
            "/opt/py",
        ])
        .unwrap();
        assert_eq!((o.parallelism, o.batches, o.seconds, o.compare_torch), (vec![4], vec![8, 16], 0.5, true));
        assert_eq!(o.json, Some(PathBuf::from("out.json")));
        assert_eq!(o.torch_script, Some(PathBuf::from("ref.py")));
        assert_eq!(o.python.as_deref(), Some("/opt/py"));
    }

    #[test]
    fn bad_common_flags_are_errors_and_help_is_the_empty_one() {
        assert_eq!(parse(&["--help"]).unwrap_err(), "");
        assert_eq!(parse(&["-h"]).unwrap_err(), "");
        assert_eq!(parse(&["--threads", "2"]).unwrap_err(), "unknown argument '--threads'");
        assert_eq!(parse(&["--seconds", "x"]).unwrap_err(), "--seconds: 'x' is not a number");
        assert_eq!(parse(&["--seconds", "-1"]).unwrap_err(), "--seconds must be positive");
        assert_eq!(parse(&["--json"]).unwrap_err(), "--json needs a file name");
        assert_eq!(parse(&["--python"]).unwrap_err(), "--python needs a program");
        assert_eq!(parse(&["--batches"]).unwrap_err(), "--batches needs a value");
        assert_eq!(parse(&["--procs", "0"]).unwrap_err(), "--procs: give positive counts, e.g. --procs 1,2");
    }

    #[test]
    fn counts_are_positive_comma_lists() {
        let v = |s: &str| counts(Some(&s.to_string()), "--procs");
        assert_eq!(v("1,2"), Ok(vec![1, 2]));
        assert_eq!(v(" 4 ,"), Ok(vec![4]));
        assert_eq!(v("1,x"), Err("--procs: 'x' is not a positive count".into()));
        assert_eq!(v("0"), Err("--procs: give positive counts, e.g. --procs 1,2".into()));
        assert_eq!(v(","), Err("--procs: give positive counts, e.g. --procs 1,2".into()));
        assert_eq!(counts(None, "--procs"), Err("--procs needs a value".into()));
    }
}
