//! The memory budget of a run: every size a config controls (layer widths, `batch_size`,
//! `eval_batch_size`) is checked against it, with checked arithmetic, before anything of that
//! size is allocated, so a size no machine can hold is an error naming its key instead of an
//! aborted allocation or a panic.
//!
//! The budget is `max_memory` bytes (a top-level config key, or `nabla train --max-memory`);
//! by default [`DEFAULT_FRACTION`] of the memory the kernel reports as available
//! (`MemAvailable` in `/proc/meminfo`), or [`FALLBACK_BYTES`] where that cannot be read.
//!
//! The estimate is deliberately coarse and on the safe side:
//! - each parameter costs [`BYTES_PER_PARAMETER`]: its value and gradient, up to three
//!   optimizer moments, and the serialized copies a checkpoint makes (eight `f32`s);
//! - each sample of a training batch costs its activations (the sum of every layer's output
//!   size, input included) three times over (value, gradient, a mask or saved input), an
//!   evaluation sample once, each as `f32`;
//! - a batch never holds more samples than its split (a `batch_size` above the split's size
//!   is one full batch, as in PyTorch).

use crate::TrainError;

/// The share of the available memory a run may plan to use when `max_memory` is not given.
pub const DEFAULT_FRACTION: f64 = 0.5;
/// The budget when the available memory cannot be read (not Linux, no `/proc`).
pub const FALLBACK_BYTES: u64 = 4 << 30;
/// Planned bytes per model parameter (see the module documentation).
pub const BYTES_PER_PARAMETER: u64 = 32;
const F32: u64 = 4;

/// The memory the kernel reports as available to new allocations, in bytes (`MemAvailable`
/// of `/proc/meminfo`); `None` where it cannot be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 =
        line.trim_start_matches("MemAvailable:").trim().trim_end_matches("kB").trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// The budget in bytes: `max_memory` when given, else [`DEFAULT_FRACTION`] of
/// [`available_memory`], else [`FALLBACK_BYTES`]. A `max_memory` above what the machine has
/// available is capped there: planning with memory that does not exist would turn the
/// refusal this budget exists for back into an aborted allocation.
pub fn budget_bytes(max_memory: Option<u64>) -> u64 {
    let available = available_memory();
    match (max_memory, available) {
        (Some(asked), Some(bytes)) => asked.min(bytes),
        (Some(asked), None) => asked,
        (None, Some(bytes)) => (bytes as f64 * DEFAULT_FRACTION) as u64,
        (None, None) => FALLBACK_BYTES,
    }
}

/// Parses a byte count with an optional binary suffix: `1073741824`, `512M`, `4G`, `4GiB`,
/// `64k` (suffixes are powers of 1024).
///
/// # Errors
/// A message saying what was expected, when the text is no such count or overflows.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("expected a byte count such as 4G, 512M or 1073741824, got '{text}'")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected a byte count such as 4G, 512M or 1073741824, got '{text}'"))?;
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("'{text}' is more bytes than a u64 can count"))
}

/// A byte count for messages (`3.2 GiB`).
pub fn format_bytes(bytes: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// What a model built within the budget leaves to check: the batches.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// The budget, bytes.
    pub budget: u64,
    /// Parameters and buffers of the model.
    pub parameters: u64,
    /// Elements of one sample's activations: its input and every layer's output.
    pub activations_per_sample: u64,
}

impl Plan {
    /// How many parameter elements the model may hold within `budget`.
    pub fn parameter_elements(budget: u64) -> usize {
        usize::try_from(budget / BYTES_PER_PARAMETER).unwrap_or(usize::MAX)
    }

    /// Checks the training batch (`rows` samples, from `batch_size`) and the evaluation batch
    /// (`eval_rows` samples, from `eval_batch_size`) against the budget; the error names the
    /// key whose batch does not fit.
    pub fn check_batches(&self, file: &str, rows: usize, eval_rows: usize) -> Result<(), TrainError> {
        let model = self.parameters.saturating_mul(BYTES_PER_PARAMETER);
        let left = self.budget.saturating_sub(model);
        let per_sample = self.activations_per_sample.saturating_mul(F32);
        for (key, rows, copies) in [("batch_size", rows, 3u64), ("eval_batch_size", eval_rows, 1)] {
            let needed = (rows as u64).checked_mul(per_sample).and_then(|b| b.checked_mul(copies));
            if needed.is_none_or(|n| n > left) {
                let needed =
                    needed.map_or_else(|| "more bytes than a u64 can count".to_string(), format_bytes);
                return Err(TrainError::Config {
                    file: file.to_string(),
                    table: "top level".to_string(),
                    key: key.to_string(),
                    message: format!(
                        "a batch of {rows} samples needs about {needed} of activations, but the memory \
                         budget ({}, max_memory) leaves {} after the model's {} parameters; make {key} \
                         smaller or raise max_memory",
                        format_bytes(self.budget),
                        format_bytes(left),
                        self.parameters
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse_with_binary_suffixes_and_refuse_overflow() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("512M").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_bytes(" 3 kb ").unwrap(), 3 << 10);
        assert!(parse_bytes("4X").unwrap_err().contains("4G"));
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("99999999999T").unwrap_err().contains("u64"));
        assert_eq!(format_bytes(3 << 30), "3.0 GiB");
        assert_eq!(format_bytes(12), "12 bytes");
    }

    #[test]
    fn the_default_budget_is_a_fraction_of_what_is_available() {
        assert_eq!(budget_bytes(Some(123)), 123);
        let default = budget_bytes(None);
        match available_memory() {
            Some(bytes) => assert!(default > 0 && default <= bytes, "{default} of {bytes}"),
            None => assert_eq!(default, FALLBACK_BYTES),
        }
    }

    #[test]
    fn batches_beyond_the_budget_name_their_key() {
        let plan = Plan { budget: 1 << 20, parameters: 1000, activations_per_sample: 100 };
        plan.check_batches("c.toml", 100, 1000).unwrap();
        let err = plan.check_batches("c.toml", 10_000, 10).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("batch_size") && !err.contains("eval_"), "{err}");
        let err = plan.check_batches("c.toml", 1, 100_000).unwrap_err().to_string();
        assert!(err.contains("eval_batch_size"), "{err}");
        let huge = Plan { activations_per_sample: u64::MAX, ..plan };
        assert!(huge.check_batches("c.toml", 2, 1).unwrap_err().to_string().contains("u64"));
    }
}
