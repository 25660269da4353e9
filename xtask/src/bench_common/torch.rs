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
