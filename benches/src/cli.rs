//! Command-line parsing shared by the bench binaries: counts, comma lists of counts, seconds,
//! and the exit on a bad option or `--help` (the message, then the usage).

use std::process::ExitCode;

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
