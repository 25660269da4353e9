//! `cargo xtask`: project automation.

mod bench;
mod bench_cnn;
mod bench_common;
mod bench_distributed;
mod experiments;

use std::process::{Command, ExitCode};

fn run(program: &str, args: &[&str]) -> bool {
    eprintln!("$ {program} {}", args.join(" "));
    match Command::new(program).args(args).status() {
        Ok(status) => status.success(),
        Err(err) => {
            eprintln!("cannot run {program}: {err}");
            false
        }
    }
}

/// What `.ci/run` runs: formatting, lints, then the README's test command.
fn ci() -> bool {
    run("cargo", &["fmt", "--all", "--", "--check"])
        && run("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])
        && run("cargo", &["test", "--workspace"])
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ok = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") if args.iter().any(|a| a == "--distributed") => {
            bench_distributed::bench_distributed(&args[1..])
        }
        Some("bench") => bench::bench(&args[1..]),
        Some("experiments") => experiments::experiments(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <ci|bench [--model mlp|cnn] [--distributed]|experiments>");
            false
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
