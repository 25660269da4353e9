//! The frame of every benchmark driver: its options or its usage, the measurement (which
//! prints the tables), and the JSON report written to `--json FILE`; an error ends it with
//! the driver's name in front.

use super::options::BenchOptions;
use serde_json::Value;

/// Runs a driver called `name` (`xtask bench --model cnn`, ...) on its `parsed` options;
/// returns whether it completed (`--help` completes).
pub(crate) fn run_driver(
    name: &str,
    usage: &str,
    parsed: Result<BenchOptions, String>,
    measure: impl FnOnce(&BenchOptions) -> Result<Value, String>,
) -> bool {
    let o = match parsed {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{name}: {e}");
            }
            eprintln!("{usage}");
            return e.is_empty();
        }
    };
    let report = match measure(&o) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("{name}: {e}");
            return false;
        }
    };
    if let Some(path) = &o.json {
        let text = serde_json::to_string_pretty(&report).expect("JSON serializes");
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("{name}: cannot write {}: {e}", path.display());
            return false;
        }
        eprintln!("wrote {}", path.display());
    }
    true
}
