//! `cargo xtask bench --distributed`: data-parallel training speed of the chapter-3 MLP
//! (784-512-256-10, `configs/mnist_mlp.toml`, random MNIST-shaped data) on 1 and 2 MPI
//! processes of one GEMM thread each, at global batches 128 and 512 (issue 13, item 4).
//!
//! It builds `nabla-bench-ddp` (crate `nabla-benches`, feature `mpi`) in release mode, runs
//! it under `mpirun -np W` for every process count and batch, and prints the global training
//! samples/s, the scaling over one process against the goals (2 processes: >= 1.8x at
//! global batch 512, >= 1.5x at 128), the seconds per step in the gradient all-reduce
//! (waiting for the slower rank included), the same all-reduce alone, and the bytes
//! all-reduced per step. `--compare-torch` runs PyTorch DistributedDataParallel (gloo) on
//! the same model and batches with `../shared/anchors/torch/bench_ddp.py` in the same
//! invocation and prints nabla/PyTorch ratios.
//!
//! ```text
//! cargo xtask bench --distributed [--procs 1,2] [--batches 128,512] [--seconds 4]
//!     [--json FILE] [--compare-torch] [--torch-script PATH] [--python PYTHON]
//! ```
//!
//! The Python is `--python`, else `$NABLA_TORCH_PYTHON`, else `/work/V/bin/python` when it
//! exists (the project machine's PyTorch venv), else `python3`.

use crate::bench_common::build::build_bench_binary;
use crate::bench_common::driver::run_driver;
use crate::bench_common::goals::Goal;
use crate::bench_common::options::BenchOptions;
use crate::bench_common::torch::{ready_reference, run_reference_script};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::{Command, Stdio};

const USAGE: &str = "usage: cargo xtask bench --distributed [--procs 1,2] [--batches 128,512] \
[--seconds S] [--json FILE] [--compare-torch] [--torch-script PATH] [--python PYTHON]";

/// The scaling goals of issue 13: (global batch, 2-process samples/s over 1-process).
const SCALING_GOALS: &[(usize, f64)] = &[(512, 1.8), (128, 1.5)];

fn parse(args: &[String]) -> Result<BenchOptions, String> {
    let mut o = BenchOptions::with_defaults("--procs", vec![128, 512], 4.0);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        // main dispatched here on this flag; it has no other meaning.
        if flag != "--distributed" {
            o.parse_flag(flag, &mut it)?;
        }
    }
    for &b in &o.batches {
        if let Some(&w) = o.parallelism.iter().find(|&&w| b % w != 0 || b / w < 2) {
            return Err(format!(
                "--batches: the global batch {b} does not split into batches of 2 or more on {w} processes"
            ));
        }
    }
    Ok(o)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// One `mpirun -np procs nabla-bench-ddp --global-batch batch`: rank 0's JSON.
fn run_nabla(exe: &Path, o: &BenchOptions, procs: usize, batch: usize) -> Result<Value, String> {
    let mut cmd = Command::new("mpirun");
    if is_root() {
        cmd.arg("--allow-run-as-root");
    }
    // No binding: on a shared machine the kernel places the ranks better than a fixed core.
    let one_thread = format!("{}=1", nabla_tensor::threads::THREADS_ENV);
    cmd.args(["--oversubscribe", "--bind-to", "none", "-x", &one_thread, "-np"])
        .arg(procs.to_string())
        .arg(exe)
        .args(["--global-batch", &batch.to_string(), "--seconds", &o.seconds.to_string()]);
    eprintln!("$ mpirun -np {procs} nabla-bench-ddp --global-batch {batch} --seconds {}", o.seconds);
    let out = cmd.stderr(Stdio::inherit()).output().map_err(|e| {
        format!("cannot run mpirun ({e}); install Open MPI: apt-get install openmpi-bin libopenmpi-dev libclang-dev")
    })?;
    if !out.status.success() {
        return Err(format!("mpirun -np {procs} nabla-bench-ddp failed with {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .ok_or_else(|| format!("nabla-bench-ddp printed no JSON: {text}"))
}

/// PyTorch DDP on the same points, when `--compare-torch`: its JSON, or why not.
fn run_torch(o: &BenchOptions) -> Result<Value, String> {
    let (python, script) = ready_reference(
        o,
        "bench_ddp.py",
        "PyTorch is not installed there (pass --python or set NABLA_TORCH_PYTHON to a Python with torch)",
    )?;
    let mut cmd = Command::new(&python);
    cmd.arg(&script).arg("--world").args(o.parallelism.iter().map(usize::to_string));
    cmd.arg("--global-batch").args(o.batches.iter().map(usize::to_string));
    cmd.args(["--seconds", &o.seconds.to_string()]);
    eprintln!("$ {python} {} --world ... --global-batch ... --seconds {}", script.display(), o.seconds);
    run_reference_script(&mut cmd, &python, &script.display().to_string())
}

fn torch_rate(torch: Option<&Value>, procs: usize, batch: usize) -> Option<f64> {
    torch?["global_samples_per_s"][format!("world_{procs}_global_batch_{batch}")]["median"].as_f64()
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(0.0)
}

/// Prints the table and the goals; returns the report as JSON.
fn report(runs: &[(usize, usize, Value)], torch: Option<&Value>, torch_note: &str) -> Value {
    let rate = |procs: usize, batch: usize| {
        runs.iter().find(|(p, b, _)| *p == procs && *b == batch).map(|(_, _, v)| f(v, "median"))
    };
    println!();
    println!("Data-parallel training of the chapter-3 MLP (784-512-256-10), 1 GEMM thread per process");
    println!("PyTorch DDP (gloo): {torch_note}");
    println!(
        "{:>6} {:>5} {:>9} {:>12} {:>8} {:>10} {:>10} {:>10} {:>10} {:>12} {:>8}",
        "global",
        "procs",
        "per-proc",
        "samples/s",
        "scaling",
        "step ms",
        "comm ms",
        "allred ms",
        "MB/step",
        "torch s/s",
        "vs torch"
    );
    let mut rows = Vec::new();
    for (procs, batch, v) in runs {
        let one = rate(1, *batch);
        let scaling = one.map(|r1| f(v, "median") / r1);
        let t = torch_rate(torch, *procs, *batch);
        let vs = t.map(|t| f(v, "median") / t);
        println!(
            "{:>6} {:>5} {:>9} {:>12.0} {:>8} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>12} {:>8}",
            batch,
            procs,
            batch / procs,
            f(v, "median"),
            scaling.map_or("-".into(), |s| format!("{s:.2}x")),
            1e3 * f(v, "seconds_per_step"),
            1e3 * f(v, "comm_seconds_per_step"),
            1e3 * f(v, "allreduce_only_seconds"),
            f(v, "allreduce_bytes_per_step") / 1e6,
            t.map_or("-".into(), |t| format!("{t:.0}")),
            vs.map_or("-".into(), |r| format!("{r:.2}x")),
        );
        rows.push(json!({
            "global_batch": batch, "procs": procs, "nabla": v, "scaling": scaling,
            "torch_samples_per_s": t, "nabla_over_torch": vs,
        }));
    }
    println!();
    let mut goals = Vec::new();
    for &(batch, target) in SCALING_GOALS {
        let Some(scaling) = rate(2, batch).zip(rate(1, batch)).map(|(r2, r1)| r2 / r1) else {
            continue;
        };
        let goal = Goal::at_least(
            format!("2-process scaling >= {target}x at global batch {batch}"),
            scaling,
            target,
        );
        let verdict = if goal.met() { "met" } else { "not met" };
        println!(
            "goal: 2 processes >= {target:.1}x one process at global batch {batch}: {scaling:.2}x, {verdict}"
        );
        goals.push(goal.to_json());
    }
    let ahead: Vec<(usize, usize, f64)> = runs
        .iter()
        .filter_map(|(p, b, v)| torch_rate(torch, *p, *b).map(|t| (*p, *b, f(v, "median") / t)))
        .collect();
    if !ahead.is_empty() {
        let behind: Vec<String> = ahead
            .iter()
            .filter(|(_, _, r)| *r < 1.0)
            .map(|(p, b, r)| format!("{p} x {b}: {r:.2}x"))
            .collect();
        let met = behind.is_empty();
        println!(
            "goal: ahead of PyTorch DDP at every point: {}",
            if met { "met".to_string() } else { format!("not met (behind at {})", behind.join(", ")) }
        );
        goals.push(json!({"goal": "ahead of PyTorch DDP at every point", "met": met}));
    }
    let mut out = Map::new();
    out.insert("benchmark".into(), json!("mnist_mlp_data_parallel_mpi"));
    out.insert("rows".into(), Value::Array(rows));
    out.insert("goals".into(), Value::Array(goals));
    out.insert("torch".into(), torch.cloned().unwrap_or(Value::Null));
    out.insert("torch_source".into(), json!(torch_note));
    Value::Object(out)
}

/// Runs the distributed benchmark; returns whether it completed.
pub fn bench_distributed(args: &[String]) -> bool {
    run_driver("xtask bench --distributed", USAGE, parse(args), |o| {
        let exe = build_bench_binary("nabla-bench-ddp", Some("mpi"))?;
        let mut runs = Vec::new();
        for &batch in &o.batches {
            for &procs in &o.parallelism {
                runs.push((procs, batch, run_nabla(&exe, o, procs, batch)?));
            }
        }
        let (torch, note) = if o.compare_torch {
            match run_torch(o) {
                Ok(v) => (Some(v), "measured in this run".to_string()),
                Err(e) => {
                    eprintln!("--compare-torch: {e}");
                    (None, format!("not measured ({e})"))
                }
            }
        } else {
            (None, "not run (pass --compare-torch)".to_string())
        };
        Ok(report(&runs, torch.as_ref(), &note))
    })
}
