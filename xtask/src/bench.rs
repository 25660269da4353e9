//! `cargo xtask bench`: builds the `nabla-bench` binary (crate `nabla-benches`) in release
//! mode, runs it once per thread count (`NABLA_NUM_THREADS`, one process per count),
//! optionally runs the PyTorch reference script in the same invocation, and prints one table
//! with the ratios and the goals of issues 8 and 15.
//!
//! ```text
//! cargo xtask bench [--threads 1,2] [--batches 32,128,512] [--seconds 2] [--json FILE]
//!                   [--compare-torch] [--torch-script PATH] [--python PYTHON]
//! cargo xtask bench --model cnn ...   (the MNIST CNN: see bench_cnn.rs)
//! ```
//!
//! `--json FILE` writes the figures in the shape of the PyTorch reference script
//! (`train_samples_per_s.threads_T.batch_B.median`, `inference_samples_per_s`, `gemm_gflops`,
//! `peak_rss_mb`) plus the in-run references (`ceiling`, `sgemm`), the Adam/copy figures,
//! allocations per step and the ratios, and `epoch_samples_per_s`: one whole epoch through
//! `Trainer::run` per batch size, against the step rate (goal: at least 95 % of it).

use crate::bench_common::build::build_bench_binary;
use crate::bench_common::child::run_bench_binary;
use crate::bench_common::driver::run_driver;
use crate::bench_common::goals::{print_goal_line, print_goals, Goal};
use crate::bench_common::options::BenchOptions;
use crate::bench_common::report::{append_inputs, or_dash, pct, print_machine, print_table_head};
use crate::bench_common::torch::{
    anchors_dir, imports_torch, reference_median, reference_python, reference_script, run_reference_script,
};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::Command;

/// Timed windows per figure (nabla's and the reference's alternate, window by window).
const WINDOWS: usize = 5;

/// The width of a goal's text in the goal lines (the longest one fits).
const GOAL_WIDTH: usize = 68;

const USAGE: &str = "usage: cargo xtask bench [--model mlp|cnn] [--threads 1,2] [--batches 32,128,512] \
[--seconds S] [--json FILE] [--compare-torch] [--torch-script PATH] [--python PYTHON]";

/// Figures of other systems measured on this kind of machine (`../shared/anchors/README.md`):
/// (system, threads, [batch 32, 128, 512 training samples/s], inference samples/s at 1000).
const ANCHORS: &[(&str, usize, [f64; 3], f64)] = &[
    ("PyTorch 2.15", 1, [6.3e3, 11.4e3, 19.2e3], 74e3),
    ("PyTorch 2.15", 2, [8.5e3, 18.6e3, 29.7e3], 124e3),
    ("Candle 0.11", 1, [1.4e3, 4.4e3, 11.5e3], 71e3),
    ("Candle 0.11", 2, [1.5e3, 4.8e3, 12.6e3], 103e3),
    ("Burn 0.22 flex", 1, [5.1e3, 12.6e3, 22.9e3], 73e3),
    ("Burn 0.22 flex", 2, [4.5e3, 10.8e3, 25.1e3], 92e3),
    ("Burn 0.22 ndarray", 2, [5.0e3, 11.9e3, 19.6e3], 123e3),
    ("hand-written (anchors)", 1, [23.0e3, 30.1e3, 32.9e3], 79e3),
    ("hand-written (anchors)", 2, [21.7e3, 39.9e3, 46.4e3], 154e3),
];

fn parse(args: &[String]) -> Result<BenchOptions, String> {
    let mut o = BenchOptions::with_defaults("--threads", vec![32, 128, 512], 2.0);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        o.parse_flag(flag, &mut it)?;
        if flag == "--batches" && o.batches.contains(&1) {
            return Err("--batches: batch norm needs at least 2 samples per batch".into());
        }
    }
    Ok(o)
}

/// Runs the bench binary with `threads` GEMM threads; returns its JSON.
fn run_nabla(exe: &Path, o: &BenchOptions, threads: usize, with_adam: bool) -> Result<Value, String> {
    let batches = o.batches.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let (seconds, windows) = (o.seconds.to_string(), WINDOWS.to_string());
    let mut args = vec!["--batches", &batches, "--seconds", &seconds, "--reps", &windows];
    if !with_adam {
        args.push("--no-adam");
    }
    eprintln!("$ NABLA_NUM_THREADS={threads} nabla-bench --batches {batches} --seconds {seconds}");
    run_bench_binary(exe, "nabla-bench", threads, &args)
}

/// The PyTorch reference: measured now when `--compare-torch` and torch imports, else the
/// anchors' results file (if present). Returns (figures, where they came from).
fn torch_figures(o: &BenchOptions) -> (Option<Value>, String) {
    if o.compare_torch {
        let python = reference_python(o);
        let script = reference_script(o, "bench_mlp.py");
        if !imports_torch(&python) {
            eprintln!(
                "--compare-torch: `{python} -c \"import torch\"` fails: PyTorch is not installed here, so it is \
                 not measured in this run (install it with `python3 -m venv venv && venv/bin/pip install \
                 torch numpy`, then pass --python venv/bin/python)"
            );
        } else if !script.is_file() {
            eprintln!("--compare-torch: the reference script {} is missing", script.display());
        } else {
            let mut cmd = Command::new(&python);
            cmd.arg(&script).args(["--seconds", &o.seconds.to_string(), "--reps", "3", "--threads"]);
            cmd.args(o.parallelism.iter().map(usize::to_string)).arg("--batches");
            cmd.args(o.batches.iter().map(usize::to_string));
            eprintln!("$ {python} {} --seconds {} ...", script.display(), o.seconds);
            match run_reference_script(&mut cmd, &python, "the script") {
                Ok(v) => return (Some(v), "measured in this run".into()),
                Err(e) => eprintln!("--compare-torch: {e}"),
            }
        }
    }
    let file = anchors_dir().join("results.json");
    match std::fs::read(&file).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
        Some(v) => (Some(v), format!("anchors file {}", file.display())),
        None => (None, "anchors README table (results file not found)".into()),
    }
}

fn anchor(system: &str, threads: usize) -> Option<&'static (&'static str, usize, [f64; 3], f64)> {
    ANCHORS.iter().find(|a| a.0 == system && a.1 == threads)
}

fn batch_index(batch: usize) -> Option<usize> {
    [32, 128, 512].iter().position(|&b| b == batch)
}

/// PyTorch's training figure at (threads, batch): from the JSON when it has it, else the
/// anchors table.
fn torch_train(torch: Option<&Value>, threads: usize, batch: usize) -> Option<f64> {
    torch
        .and_then(|t| reference_median(t, "train_samples_per_s", threads, batch))
        .or_else(|| Some(anchor("PyTorch 2.15", threads)?.2[batch_index(batch)?]))
}

fn torch_infer(torch: Option<&Value>, threads: usize) -> Option<f64> {
    torch
        .and_then(|t| reference_median(t, "inference_samples_per_s", threads, 1000))
        .or_else(|| Some(anchor("PyTorch 2.15", threads)?.3))
}

/// nabla's training samples/s at `batch` in the 1-thread run, if there is one.
fn one_thread_train(runs: &[(usize, Value)], batch: usize) -> Option<f64> {
    let (_, run) = runs.iter().find(|(t, _)| *t == 1)?;
    run["train"][format!("batch_{batch}")]["nabla"]["median"].as_f64()
}

fn k(x: f64) -> String {
    if x >= 1000.0 {
        format!("{:.1}k", x / 1000.0)
    } else {
        format!("{x:.0}")
    }
}

/// Prints the table and the goals; returns the merged JSON.
fn report(o: &BenchOptions, runs: &[(usize, Value)], torch: Option<&Value>, torch_source: &str) -> Value {
    let first = &runs[0].1;
    let torch_measured = torch_source.starts_with("measured");
    println!();
    println!("nabla on the chapter-3 MNIST MLP (784-512-256-10, BN+ReLU+Dropout(0.2), Adam 1e-3)");
    print_machine(first, runs.last().map(|r| &r.1));
    println!("PyTorch figures: {torch_source}; Burn/Candle figures: anchors README (not re-measured)");
    if !torch_measured {
        println!(
            "machine-adjusted: PyTorch's anchor figure times (this run's ceiling / the anchors' ceiling), \
             i.e. PyTorch as it would run on the machine as it is now"
        );
    }
    print_table_head(
        &format!("Training, samples/s (median of {WINDOWS} windows, nabla and the ceiling alternate)"),
        &[
            "threads",
            "batch",
            "nabla",
            "ceiling (hand-written, this run)",
            "nabla / ceiling",
            "PyTorch",
            "nabla / PyTorch",
            "nabla / PyTorch, machine-adjusted",
            "best other Rust (anchors)",
            "allocations / step",
        ],
    );
    let mut goals = Vec::new();
    let mut out = json!({
        "benchmark": "mnist_mlp_784_512_256_10",
        "reference": "nabla",
        "cpu_model": first["cpu_model"],
        "cpu_count": first["cpu_count"],
        "method": {
            "seconds_per_config": o.seconds,
            "windows_per_config": WINDOWS,
            "warmup": ">=5 steps and >=0.3 s",
            "train_step": "Trainer::train_step: forward + loss + backward + grad-norm check + Adam.step + zero_grad",
            "inference_step": "model in evaluation mode, no_grad, forward only",
            "threads": "one process per thread count, NABLA_NUM_THREADS",
            "data": "random float32 uniform[0,1) [B,784], labels uniform 0..9; pool of 8 batches",
            "epoch": "Trainer::run of one epoch over random MNIST-sized splits (60 000 + 10 000), run directory \
                      in the temporary directory; samples_per_s = training examples / wall time of the run",
        },
        "train_samples_per_s": {},
        "epoch_samples_per_s": {},
        "inference_samples_per_s": {},
        "gemm_gflops": {},
        "ceiling": {"train_samples_per_s": {}, "inference_samples_per_s": {}},
        "sgemm_gflops": {},
        "allocations_per_step": {},
        "rss_growth_kb": {},
        "torch_source": torch_source,
    });
    let mut peak_train: f64 = 0.0;
    for (threads, run) in runs {
        let tk = format!("threads_{threads}");
        let mut train = Map::new();
        let mut ceiling = Map::new();
        let mut allocs = Map::new();
        let mut growth = Map::new();
        for &b in &o.batches {
            let bk = format!("batch_{b}");
            let fig = &run["train"][&bk];
            let nabla = fig["nabla"]["median"].as_f64().unwrap_or(0.0);
            let ceil = fig["ceiling"]["median"].as_f64().unwrap_or(f64::NAN);
            let py = torch_train(torch, *threads, b);
            let other = ANCHORS
                .iter()
                .filter(|a| !a.0.starts_with("PyTorch") && !a.0.starts_with("hand") && a.1 == *threads)
                .filter_map(|a| Some((a.0, a.2[batch_index(b)?])))
                .max_by(|x, y| x.1.total_cmp(&y.1));
            let alloc = fig["allocations_per_step"]["nabla"].as_f64().unwrap_or(f64::NAN);
            // PyTorch measured on another day: rescale by the ceiling, measured both then
            // (anchors) and now, so that a faster or slower machine today does not count.
            let adjusted = if torch_measured {
                py
            } else {
                py.zip(anchor("hand-written (anchors)", *threads).and_then(|a| Some(a.2[batch_index(b)?])))
                    .map(|(p, c)| p * ceil / c)
            };
            println!(
                "| {threads} | {b} | {} | {} | {} | {} | {} | {} | {} | {alloc:.0} |",
                k(nabla),
                k(ceil),
                pct(nabla / ceil),
                or_dash(py, k),
                or_dash(py, |p| format!("{:.1}x", nabla / p)),
                or_dash(adjusted, |p| format!("{:.1}x", nabla / p)),
                other.map_or("-".into(), |(name, v)| format!("{} ({name})", k(v))),
            );
            goals.push(Goal::at_least(
                format!("training, {threads} thread(s), batch {b}: >= 85 % of the ceiling"),
                nabla / ceil,
                0.85,
            ));
            if let (true, Some(p)) = (torch_measured, py) {
                goals.push(Goal::at_least(
                    format!("training, {threads} thread(s), batch {b}: >= 2x PyTorch (issue 15)"),
                    nabla / p,
                    2.0,
                ));
            }
            if *threads > 1 {
                if let Some(one) = one_thread_train(runs, b) {
                    goals.push(Goal::at_least(
                        format!("training, {threads} threads, batch {b}: faster than 1 thread (issue 15)"),
                        nabla / one,
                        1.0,
                    ));
                }
            }
            if *threads == 1 && b == 32 {
                if let Some(p) = adjusted {
                    goals.push(Goal::at_least(
                        format!(
                            "training, 1 thread, batch 32: >= 3x PyTorch{}",
                            if torch_measured { "" } else { " (machine-adjusted)" }
                        ),
                        nabla / p,
                        3.0,
                    ));
                }
            }
            train.insert(bk.clone(), fig["nabla"].clone());
            ceiling.insert(bk.clone(), fig["ceiling"].clone());
            allocs.insert(bk.clone(), fig["allocations_per_step"].clone());
            growth.insert(bk, fig["rss_growth_kb"].clone());
        }
        out["train_samples_per_s"][&tk] = Value::Object(train);
        out["ceiling"]["train_samples_per_s"][&tk] = Value::Object(ceiling);
        out["allocations_per_step"][&tk] = Value::Object(allocs);
        out["rss_growth_kb"][&tk] = Value::Object(growth);
        peak_train = peak_train.max(run["peak_rss_mb_train_infer"].as_f64().unwrap_or(0.0));
    }
    print_epoch_table(o, runs, &mut goals, &mut out);
    print_table_head(
        "Inference, batch 1000, samples/s",
        &["threads", "nabla", "ceiling", "nabla / ceiling", "PyTorch", "nabla / PyTorch"],
    );
    for (threads, run) in runs {
        let tk = format!("threads_{threads}");
        let fig = &run["inference"]["batch_1000"];
        let nabla = fig["nabla"]["median"].as_f64().unwrap_or(0.0);
        let ceil = fig["ceiling"]["median"].as_f64().unwrap_or(f64::NAN);
        let py = torch_infer(torch, *threads);
        println!(
            "| {threads} | {} | {} | {} | {} | {} |",
            k(nabla),
            k(ceil),
            pct(nabla / ceil),
            or_dash(py, k),
            or_dash(py, |p| format!("{:.1}x", nabla / p))
        );
        if let (true, Some(p)) = (torch_measured, py) {
            goals.push(Goal::at_least(
                format!("inference, {threads} thread(s), batch 1000: >= 1.2x PyTorch (issue 15)"),
                nabla / p,
                1.2,
            ));
        }
        if *threads == 2 {
            goals.push(Goal::at_least(
                "inference, 2 threads, batch 1000: >= 90 % of the ceiling".into(),
                nabla / ceil,
                0.90,
            ));
        }
        out["inference_samples_per_s"][&tk] = json!({"batch_1000": fig["nabla"]});
        out["ceiling"]["inference_samples_per_s"][&tk] = json!({"batch_1000": fig["ceiling"]});
    }
    print_table_head(
        "Matrix product, GFLOP/s: nabla_tensor::matmul (split over nabla's threads) against one call of \
         matrixmultiply::sgemm (one thread) and PyTorch's torch.mm in this run",
        &[
            "threads",
            "n",
            "tensor matmul",
            "sgemm, one call",
            "matmul / sgemm",
            "PyTorch",
            "matmul / PyTorch",
        ],
    );
    for (threads, run) in runs {
        let tk = format!("threads_{threads}");
        let mut nab = Map::new();
        let mut direct = Map::new();
        if let Some(g) = run["gemm"].as_object() {
            for (key, fig) in g {
                let a = fig["nabla"]["gflops_median"].as_f64().unwrap_or(0.0);
                let s = fig["sgemm"]["gflops_median"].as_f64().unwrap_or(f64::NAN);
                let py = torch.and_then(|t| t["gemm_gflops"][&tk][key]["gflops_median"].as_f64());
                let n = key.trim_start_matches("mm_");
                println!(
                    "| {threads} | {n} | {a:.1} | {s:.1} | {} | {} | {} |",
                    pct(a / s),
                    or_dash(py, |p| format!("{p:.1}")),
                    or_dash(py, |p| pct(a / p)),
                );
                // The best GEMM measured on the machine in this run is the yardstick.
                let best = py.map_or(s, |p| p.max(s));
                goals.push(Goal::at_least(
                    format!("matmul {n}, {threads} thread(s): >= 90 % of the best GEMM measured"),
                    a / best,
                    0.90,
                ));
                nab.insert(key.clone(), fig["nabla"].clone());
                direct.insert(key.clone(), fig["sgemm"].clone());
            }
        }
        out["gemm_gflops"][&tk] = Value::Object(nab);
        out["sgemm_gflops"][&tk] = Value::Object(direct);
    }
    if let Some((_, run)) = runs.iter().find(|r| r.1.get("adam").is_some()) {
        let a = &run["adam"];
        let (adam, copy) = (
            a["adam_gbps"]["median"].as_f64().unwrap_or(0.0),
            a["copy_gbps"]["median"].as_f64().unwrap_or(f64::NAN),
        );
        println!();
        println!(
            "Adam step over {} parameters: {adam:.1} GB/s of traffic (7 x 4 bytes per parameter), \
             a plain copy {copy:.1} GB/s (2 x 4 bytes per value): {}",
            a["params"],
            pct(adam / copy)
        );
        goals.push(Goal::at_least("Adam step: >= 70 % of the copy bandwidth".into(), adam / copy, 0.70));
        out["adam_step"] = a.clone();
    }
    let peak_all = runs.iter().filter_map(|r| r.1["peak_rss_mb"].as_f64()).fold(0.0, f64::max);
    out["peak_rss_mb"] = json!(peak_train);
    out["peak_rss_mb_with_kernel_benches"] = json!(peak_all);
    let growth_max = runs
        .iter()
        .flat_map(|(_, r)| {
            o.batches.iter().filter_map(move |b| r["train"][format!("batch_{b}")]["rss_growth_kb"].as_i64())
        })
        .max()
        .unwrap_or(0);
    let allocs: Vec<f64> = runs
        .iter()
        .flat_map(|(_, r)| {
            o.batches.iter().filter_map(move |b| {
                r["train"][format!("batch_{b}")]["allocations_per_step"]["nabla"].as_f64()
            })
        })
        .collect();
    let (amin, amax) = allocs.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &a| (lo.min(a), hi.max(a)));
    println!();
    println!(
        "Memory: peak RSS {peak_train:.1} MB while training and inferring (input pools included; {peak_all:.1} MB \
         with the GEMM and 10M-parameter Adam benches); RSS growth over the timed steps at most {growth_max} KiB; \
         heap allocations per training step {amin:.0} to {amax:.0}"
    );
    println!();
    println!("Goals (issues 8 and 15):");
    print_goals(&goals, GOAL_WIDTH);
    print_goal_line(
        GOAL_WIDTH,
        "allocations: 0 per training step (issue 15)",
        &format!("{amax:.0}/step"),
        if amax == 0.0 { "met" } else { "not met" },
    );
    // Constant per thread count: a split product is one kernel call (one packing buffer) per part.
    let spread = runs
        .iter()
        .map(|(_, r)| {
            let per: Vec<f64> = o
                .batches
                .iter()
                .filter_map(|b| r["train"][format!("batch_{b}")]["allocations_per_step"]["nabla"].as_f64())
                .collect();
            per.iter().fold(f64::NEG_INFINITY, |m, &a| m.max(a))
                - per.iter().fold(f64::INFINITY, |m, &a| m.min(a))
        })
        .fold(0.0f64, f64::max);
    let memory_ok = growth_max <= 1024 && spread <= 4.0;
    print_goal_line(
        GOAL_WIDTH,
        "memory: no RSS growth, a constant number of allocations per step",
        &format!("{amax:.0}/step"),
        if memory_ok { "met" } else { "not met" },
    );
    out["goals"] = Value::Array(goals.iter().map(Goal::to_json).collect());
    append_inputs(&mut out, torch, runs);
    out
}

/// Prints the end-to-end rows (one whole epoch through `Trainer::run` against the step of the
/// same batch and thread count, timed around it), adds their goals and writes them to `out`
/// (`epoch_samples_per_s`).
fn print_epoch_table(o: &BenchOptions, runs: &[(usize, Value)], goals: &mut Vec<Goal>, out: &mut Value) {
    let Some(first) =
        o.batches.first().and_then(|b| runs[0].1["train"][format!("batch_{b}")]["epoch"].as_object())
    else {
        return;
    };
    print_table_head(
        &format!(
            "End to end, samples/s: one epoch of {} training examples through Trainer::run (loader, \
             accuracy, evaluation on {} test examples, metrics line, checkpoint; wall time / training examples) \
             against the step in a window just before and one just after it (their mean)",
            first["samples"], first["eval_samples"]
        ),
        &[
            "threads",
            "batch",
            "step (around the epoch)",
            "epoch",
            "epoch / step",
            "train loop / step",
            "evaluation, s",
            "files (log, checkpoint), s",
        ],
    );
    for (threads, run) in runs {
        let mut epochs = Map::new();
        for &b in &o.batches {
            let bk = format!("batch_{b}");
            let e = &run["train"][&bk]["epoch"];
            let step = e["step_samples_per_s"].as_f64().unwrap_or(f64::NAN);
            let rate = e["samples_per_s"].as_f64().unwrap_or(0.0);
            let loop_rate = e["train_loop_samples_per_s"].as_f64().unwrap_or(0.0);
            println!(
                "| {threads} | {b} | {} | {} | {} | {} | {:.3} | {:.3} |",
                k(step),
                k(rate),
                pct(rate / step),
                pct(loop_rate / step),
                e["eval_seconds"].as_f64().unwrap_or(f64::NAN),
                e["files_seconds"].as_f64().unwrap_or(f64::NAN),
            );
            goals.push(Goal::at_least(
                format!("epoch loop, {threads} thread(s), batch {b}: >= 95 % of the step rate"),
                rate / step,
                0.95,
            ));
            epochs.insert(bk, e.clone());
        }
        out["epoch_samples_per_s"][format!("threads_{threads}")] = Value::Object(epochs);
    }
}

/// Runs the benchmark of `--model` (`mlp`, the default, or `cnn`: [`crate::bench_cnn`]);
/// returns whether it completed.
pub fn bench(args: &[String]) -> bool {
    let mut args = args.to_vec();
    if let Some(i) = args.iter().position(|a| a == "--model") {
        let model = args.get(i + 1).cloned().unwrap_or_default();
        args.drain(i..(i + 2).min(args.len()));
        match model.as_str() {
            "mlp" => {}
            "cnn" => return crate::bench_cnn::bench(&args),
            other => {
                eprintln!("xtask bench: --model is mlp or cnn, not '{other}'");
                return false;
            }
        }
    }
    run_driver("xtask bench", USAGE, parse(&args), |o| {
        let exe = build_bench_binary("nabla-bench", None)?;
        let mut runs = Vec::new();
        for (i, &t) in o.parallelism.iter().enumerate() {
            runs.push((t, run_nabla(&exe, o, t, i == 0)?));
        }
        let (torch, source) = torch_figures(o);
        Ok(report(o, &runs, torch.as_ref(), &source))
    })
}
