//! Small pieces of the drivers' printed tables and JSON reports: number formats, the
//! machine line, and the inputs (reference figures, raw runs) appended to the report.

use serde_json::Value;

/// A fraction as a whole percentage (`0.853` -> `85 %`).
pub(crate) fn pct(x: f64) -> String {
    format!("{:.0} %", 100.0 * x)
}

/// `f(x)`, or `-` in a table cell when there is no figure.
pub(crate) fn or_dash(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| "-".to_string(), f)
}

/// Prints a table's title and its Markdown header row, each after a blank line.
pub(crate) fn print_table_head(title: &str, columns: &[&str]) {
    println!();
    println!("{title}");
    println!();
    println!("| {} |", columns.join(" | "));
    println!("|{}", "---|".repeat(columns.len()));
}

/// Prints the machine the runs measured on, from the bench binaries' JSON: the load average
/// at the start of the first run and at the end of the last (how busy the machine was).
pub(crate) fn print_machine(first: &Value, last: Option<&Value>) {
    println!(
        "machine: {} x {}, load average {} -> {}",
        first["cpu_count"],
        first["cpu_model"].as_str().unwrap_or("?"),
        first["loadavg_start"][0],
        last.map_or(Value::Null, |r| r["loadavg_end"][0].clone())
    );
}

/// Appends the inputs of a report to it: the reference's JSON (when there is one) as
/// `torch`, and every bench binary run as `runs`.
pub(crate) fn append_inputs(out: &mut Value, torch: Option<&Value>, runs: &[(usize, Value)]) {
    if let Some(t) = torch {
        out["torch"] = t.clone();
    }
    out["runs"] = Value::Array(runs.iter().map(|(_, r)| r.clone()).collect());
}
