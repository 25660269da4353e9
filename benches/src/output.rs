//! The JSON object a bench binary prints on standard output: the machine it measured on
//! (threads, CPU, load), sizes in megabytes, and the printing itself.

use crate::sys;
use serde_json::{json, Map, Value};

/// Inserts the machine into `out` (`threads`, `cpu_model`, `cpu_count`, `loadavg_start`):
/// what the drivers print above their tables.
pub fn insert_machine(out: &mut Map<String, Value>) {
    out.insert("threads".into(), json!(sys::gemm_threads()));
    out.insert("cpu_model".into(), json!(sys::cpu_model()));
    out.insert("cpu_count".into(), json!(std::thread::available_parallelism().map_or(0, |n| n.get())));
    out.insert("loadavg_start".into(), json!(sys::loadavg()));
}

/// KiB as MB with one decimal; `null` when the system did not report the size.
pub fn mb(kb: Option<u64>) -> Value {
    kb.map_or(Value::Null, |k| json!((k as f64 / 1024.0 * 10.0).round() / 10.0))
}

/// Prints `out`, with the load average at the end inserted, as the binary's one JSON object.
pub fn print_with_loadavg_end(mut out: Map<String, Value>) {
    out.insert("loadavg_end".into(), json!(sys::loadavg()));
    println!("{}", serde_json::to_string_pretty(&Value::Object(out)).expect("JSON serializes"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megabytes_have_one_decimal_and_unknown_sizes_are_null() {
        assert_eq!(mb(Some(1536)), json!(1.5));
        assert_eq!(mb(Some(1000)), json!(1.0));
        assert_eq!(mb(None), Value::Null);
    }
}
