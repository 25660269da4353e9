//! Building a binary of `nabla-benches` in release mode and finding its executable in
//! cargo's JSON messages (its path depends on the target directory and profile).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace's root directory, wherever `cargo xtask` is run from.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Builds the binary `bin` of `nabla-benches` in release mode, with `feature` when it needs
/// one, and returns the path of the executable.
pub(crate) fn build_bench_binary(bin: &str, feature: Option<&str>) -> Result<PathBuf, String> {
    let mut args = vec!["build", "--release", "-p", "nabla-benches"];
    if let Some(feature) = feature {
        args.extend(["--features", feature]);
    }
    args.extend(["--bin", bin]);
    eprintln!("$ cargo {}", args.join(" "));
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(&args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(match feature {
            None => format!("building {bin} failed"),
            Some(feature) => format!("building {bin} with the {feature} feature failed (see above)"),
        });
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo did not report the {bin} executable"))
}
