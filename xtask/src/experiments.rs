//! `cargo xtask experiments [NAME...] [--quick] [--data mnist|digits] [--data-dir DIR]
//! [--seeds N] [--out DIR]`: the chapter-3 experiments and their report (see
//! `nabla-experiments`). The default output directory is the workspace's `docs/experiments`
//! (`target/experiments-quick` with `--quick`), wherever the command is run from.

// The Lion example plugin is linked here, so the optimizer experiment finds it in the
// registry next to the built-in optimizers.
use nabla_lion as _;

use nabla_experiments::{format_duration, parse_args, Budget};
use std::path::PathBuf;

fn workspace_root() -> PathBuf {
    let xtask = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().map(PathBuf::from).unwrap_or(xtask)
}

/// Runs the experiments; prints the verdicts and where the report is. The full budget runs in
/// an optimized build: an unoptimized `cargo xtask` rebuilds itself with `--release` and hands
/// the arguments over (about 2.5x faster than the dev profile).
pub fn experiments(args: &[String]) -> bool {
    let (names, mut options) = match parse_args(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{e}");
            return false;
        }
    };
    if cfg!(debug_assertions) && options.budget == Budget::Full {
        let mut release = vec!["run", "--release", "--quiet", "-p", "xtask", "--", "experiments"];
        release.extend(args.iter().map(String::as_str));
        return crate::run("cargo", &release);
    }
    if !args.iter().any(|a| a == "--out" || a.starts_with("--out=")) {
        let rel = match options.budget {
            Budget::Full => PathBuf::from("docs").join("experiments"),
            _ => PathBuf::from("target").join("experiments-quick"),
        };
        options.out_dir = workspace_root().join(rel);
    }
    eprintln!(
        "experiments: {} on {} ({} budget, {} seed(s)) -> {}",
        names.iter().map(|n| n.name()).collect::<Vec<_>>().join(", "),
        options.data.name(),
        options.budget.name(),
        options.seeds,
        options.out_dir.display()
    );
    match nabla_experiments::run(&names, &options) {
        Ok(summary) => {
            for r in &summary.results {
                println!("{r}");
            }
            println!("report: {} ({} in total)", summary.report.display(), format_duration(summary.seconds));
            true
        }
        Err(e) => {
            eprintln!("experiments: {e}");
            false
        }
    }
}
