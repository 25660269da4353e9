//! The PyTorch reference of the drivers: which python runs it, whether that python imports
//! torch, where its scripts are, running one, and reading a figure from its JSON.

use super::build::workspace_root;
use super::child::{output_json, ChildFailure};
use super::options::BenchOptions;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The venv with PyTorch on the project's benchmark machines.
const MACHINE_PYTHON: &str = "/work/V/bin/python";

/// The anchors' PyTorch directory: the reference scripts and the results file measured on
/// another machine of this kind.
pub(crate) fn anchors_dir() -> PathBuf {
    workspace_root().join("../shared/anchors/torch")
}

/// The python of `--compare-torch`: `--python`, else `$NABLA_TORCH_PYTHON`, else the
/// machine's venv when it exists, else `python3`.
pub(crate) fn reference_python(o: &BenchOptions) -> String {
    if let Some(p) = &o.python {
        return p.clone();
    }
    if let Some(p) = std::env::var_os("NABLA_TORCH_PYTHON").filter(|p| !p.is_empty()) {
        return p.to_string_lossy().into_owned();
    }
    if Path::new(MACHINE_PYTHON).is_file() {
        return MACHINE_PYTHON.to_string();
    }
    "python3".into()
}

/// Whether `python -c "import torch"` succeeds (asked before a run that would fail late).
pub(crate) fn imports_torch(python: &str) -> bool {
    Command::new(python)
        .args(["-c", "import torch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `--torch-script`, else the anchors' script `default_name`.
pub(crate) fn reference_script(o: &BenchOptions, default_name: &str) -> PathBuf {
    o.torch_script.clone().unwrap_or_else(|| anchors_dir().join(default_name))
}

/// The python and the script of a reference run (`default_name` without `--torch-script`),
/// once the script exists and the python imports torch; why not otherwise, `torch_hint`
/// saying where to find a python that has it.
pub(crate) fn ready_reference(
    o: &BenchOptions,
    default_name: &str,
    torch_hint: &str,
) -> Result<(String, PathBuf), String> {
    let python = reference_python(o);
    let script = reference_script(o, default_name);
    if !script.is_file() {
        return Err(format!("the reference script {} is missing", script.display()));
    }
    if !imports_torch(&python) {
        return Err(format!("`{python} -c \"import torch\"` fails: {torch_hint}"));
    }
    Ok((python, script))
}

/// Runs the reference `cmd` (started as `python`, called `name` in messages); its JSON.
pub(crate) fn run_reference_script(cmd: &mut Command, python: &str, name: &str) -> Result<Value, String> {
    output_json(cmd).map_err(|f| match f {
        ChildFailure::Spawn(e) => format!("cannot run {python}: {e}"),
        ChildFailure::Status(s) => format!("{name} failed with {s}"),
        ChildFailure::NoJson(e) => format!("{name} printed no JSON ({e})"),
    })
}

/// The median of `section` (`train_samples_per_s`, `inference_samples_per_s`) at
/// (`threads`, `batch`) in a reference script's JSON, when it has it.
pub(crate) fn reference_median(torch: &Value, section: &str, threads: usize, batch: usize) -> Option<f64> {
    torch[section][format!("threads_{threads}")][format!("batch_{batch}")]["median"].as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reference_needs_its_script_and_a_python_with_torch() {
        let mut o = BenchOptions::with_defaults("--threads", vec![64], 1.0);
        o.torch_script = Some(PathBuf::from("/nonexistent/bench.py"));
        assert_eq!(
            ready_reference(&o, "bench_cnn.py", "hint").unwrap_err(),
            "the reference script /nonexistent/bench.py is missing"
        );
        o.torch_script = Some(PathBuf::from(env!("CARGO_MANIFEST_PATH")));
        o.python = Some("/bin/false".into());
        assert_eq!(
            ready_reference(&o, "bench_cnn.py", "hint").unwrap_err(),
            "`/bin/false -c \"import torch\"` fails: hint"
        );
        assert_eq!(
            reference_script(&BenchOptions::with_defaults("--threads", vec![], 1.0), "x.py"),
            anchors_dir().join("x.py")
        );
    }

    #[test]
    fn reference_figures_are_read_at_threads_and_batch() {
        let t = json!({"train_samples_per_s": {"threads_2": {"batch_64": {"median": 5.0}}}});
        assert_eq!(reference_median(&t, "train_samples_per_s", 2, 64), Some(5.0));
        assert_eq!(reference_median(&t, "train_samples_per_s", 1, 64), None);
        assert_eq!(reference_median(&t, "inference_samples_per_s", 2, 64), None);
    }
}
