//! Running a child process that prints one JSON object on standard output (a bench binary,
//! a PyTorch reference script); its standard error passes through as progress.

use nabla_tensor::threads::THREADS_ENV;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

/// Why a child gave no JSON; the callers word it, as each names its child differently.
pub(crate) enum ChildFailure {
    /// It could not be started.
    Spawn(std::io::Error),
    /// It ended unsuccessfully.
    Status(ExitStatus),
    /// Its standard output is not one JSON value.
    NoJson(serde_json::Error),
}

/// Runs `cmd` to its end and parses its standard output as JSON.
pub(crate) fn output_json(cmd: &mut Command) -> Result<Value, ChildFailure> {
    let out = cmd.stderr(Stdio::inherit()).output().map_err(ChildFailure::Spawn)?;
    if !out.status.success() {
        return Err(ChildFailure::Status(out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(ChildFailure::NoJson)
}

/// Runs the bench binary `exe` (called `name` in messages) with `threads` threads
/// (`NABLA_NUM_THREADS`): a process per count, so that each count's figures (RSS, pools)
/// stand alone.
pub(crate) fn run_bench_binary(
    exe: &Path,
    name: &str,
    threads: usize,
    args: &[&str],
) -> Result<Value, String> {
    output_json(Command::new(exe).env(THREADS_ENV, threads.to_string()).args(args)).map_err(|f| match f {
        ChildFailure::Spawn(e) => format!("cannot run {}: {e}", exe.display()),
        ChildFailure::Status(s) => format!("{name} failed with {s}"),
        ChildFailure::NoJson(e) => format!("{name} printed no JSON: {e}"),
    })
}
