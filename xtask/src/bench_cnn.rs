//! `cargo xtask bench --model cnn`: the MNIST CNN of PyTorch's examples. Builds the
//! `nabla-bench-cnn` binary (crate `nabla-benches`) in release mode, runs it once per GEMM
//! thread count (`NABLA_NUM_THREADS`, one process per count), optionally
//! runs the PyTorch reference script `bench_cnn.py` in the same invocation, and prints one
//! table with the ratios and the goals of issue 12.
//!
//! ```text
//! cargo xtask bench --model cnn [--threads 1,2] [--batches 64,256] [--seconds 2] [--json FILE]
//!                               [--compare-torch] [--torch-script PATH] [--python PYTHON]
//! ```
//!
//! The python of `--compare-torch` is `--python`, else `$NABLA_TORCH_PYTHON`, else
//! `/work/V/bin/python` when it exists (the venv of the development machines), else
//! `python3`. Without a PyTorch measured in the run, PyTorch's figures come from the anchors
//! README (another machine of this kind: indicative only).

use crate::bench_common::build::build_bench_binary;
use crate::bench_common::child::run_bench_binary;
use crate::bench_common::driver::run_driver;
use crate::bench_common::goals::{print_goal_line, print_goals, Goal};
use crate::bench_common::options::BenchOptions;
use crate::bench_common::report::{append_inputs, or_dash, pct, print_machine, print_table_head};
use crate::bench_common::torch::{ready_reference, reference_median, run_reference_script};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::Command;

const USAGE: &str = "usage: cargo xtask bench --model cnn [--threads 1,2] [--batches 64,256] [--seconds S] \
[--json FILE] [--compare-torch] [--torch-script PATH] [--python PYTHON]";

/// The inference batch of the issue (and of `bench_cnn.py`'s default).
const INFER_BATCH: usize = 1000;

/// PyTorch's figures at one thread count: training samples/s per batch, inference samples/s.
struct TorchAnchor {
    threads: usize,
    train: [(usize, f64); 2],
    infer: f64,
}

/// PyTorch 2.15 on the examples' CNN from `../shared/anchors/README.md` (2 cores Intel Xeon,
/// 2026-12-02; inference at batch 1000).
const TORCH_ANCHORS: [TorchAnchor; 2] = [
    TorchAnchor { threads: 1, train: [(64, 724.0), (256, 688.0)], infer: 1340.0 },
    TorchAnchor { threads: 2, train: [(64, 1281.0), (256, 1060.0)], infer: 2411.0 },
];

/// The goals of issue 12 (ratios that must be reached).
const TRAIN_VS_TORCH: f64 = 2.0;
const INFER_VS_TORCH: f64 = 1.5;
const OF_LIMIT: f64 = 0.70;
/// "Peak RSS well under PyTorch's", read as at most half of it.
const RSS_VS_TORCH: f64 = 0.5;

/// The width of a goal's text in the goal lines (the longest one fits).
const GOAL_WIDTH: usize = 66;

fn parse(args: &[String]) -> Result<BenchOptions, String> {
    let mut o = BenchOptions::with_defaults("--threads", vec![64, 256], 2.0);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        o.parse_flag(flag, &mut it)?;
    }
    Ok(o)
}

/// Runs the bench binary with `threads` GEMM threads; returns its JSON.
fn run_nabla(exe: &Path, o: &BenchOptions, threads: usize) -> Result<Value, String> {
    let batches = o.batches.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let seconds = o.seconds.to_string();
    let infer = INFER_BATCH.to_string();
    let args = ["--batches", &batches, "--seconds", &seconds, "--infer-batch", &infer];
    eprintln!("$ NABLA_NUM_THREADS={threads} nabla-bench-cnn {}", args.join(" "));
    run_bench_binary(exe, "nabla-bench-cnn", threads, &args)
}

/// PyTorch measured now at `threads` (with `--compare-torch`, when the python imports torch);
/// the reason otherwise.
fn measure_torch(o: &BenchOptions, threads: usize) -> Result<Value, String> {
    let (py, script) =
        ready_reference(o, "bench_cnn.py", "give a python with PyTorch (--python or $NABLA_TORCH_PYTHON)")?;
    let mut cmd = Command::new(&py);
    cmd.arg(&script).args(["--seconds", &o.seconds.to_string(), "--reps", "3", "--threads"]);
    cmd.arg(threads.to_string()).arg("--batches");
    cmd.args(o.batches.iter().map(usize::to_string));
    cmd.args(["--infer-batch", &INFER_BATCH.to_string()]);
    eprintln!("$ {py} {} --seconds {} --threads {threads} ...", script.display(), o.seconds);
    run_reference_script(&mut cmd, &py, "the script")
}

/// The outputs of one reference run per thread count as one: the per-thread figures side by
/// side, the largest peak RSS, the rest from the first run.
fn merge_torch(runs: &[Value]) -> Value {
    let mut merged = runs.first().cloned().unwrap_or(Value::Null);
    for run in runs.iter().skip(1) {
        for key in ["train_samples_per_s", "inference_samples_per_s"] {
            if let (Some(dst), Some(src)) = (merged[key].as_object_mut(), run[key].as_object()) {
                dst.extend(src.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let peak =
            merged["peak_rss_mb"].as_f64().unwrap_or(0.0).max(run["peak_rss_mb"].as_f64().unwrap_or(0.0));
        merged["peak_rss_mb"] = json!(peak);
    }
    merged
}

/// PyTorch's training figure at (threads, batch): measured, else the anchors.
fn torch_train(torch: Option<&Value>, threads: usize, batch: usize) -> Option<f64> {
    match torch {
        Some(t) => reference_median(t, "train_samples_per_s", threads, batch),
        None => TORCH_ANCHORS
            .iter()
            .find(|a| a.threads == threads)
            .and_then(|a| a.train.iter().find(|(b, _)| *b == batch).map(|(_, v)| *v)),
    }
}

fn torch_infer(torch: Option<&Value>, threads: usize) -> Option<f64> {
    match torch {
        Some(t) => reference_median(t, "inference_samples_per_s", threads, INFER_BATCH),
        None => TORCH_ANCHORS.iter().find(|a| a.threads == threads).map(|a| a.infer),
    }
}

/// The goals of one figure (`training, 1 thread(s), batch 64`): a fraction of its GEMM-bound
/// limit, and a factor over PyTorch when there is a PyTorch figure.
fn push_figure_goals(
    goals: &mut Vec<Goal>,
    figure: &str,
    of_limit: f64,
    vs_torch: Option<f64>,
    torch_target: f64,
) {
    goals.push(Goal::at_least(
        format!("{figure}: >= {} of the GEMM-bound limit", pct(OF_LIMIT)),
        of_limit,
        OF_LIMIT,
    ));
    if let Some(ratio) = vs_torch {
        goals.push(Goal::at_least(format!("{figure}: >= {torch_target}x PyTorch"), ratio, torch_target));
    }
}

/// Prints the tables and the goals; returns the merged JSON.
fn report(o: &BenchOptions, runs: &[(usize, Value)], torch: Option<&Value>, torch_source: &str) -> Value {
    let first = &runs[0].1;
    println!();
    println!(
        "nabla on the MNIST CNN of PyTorch's examples (conv 1-32-64 k3, max pool, dropout, 9216-128-10, \
         NLL, Adadelta lr 1.0; {} parameters)",
        first["parameters"]
    );
    print_machine(first, runs.last().map(|r| &r.1));
    println!("PyTorch figures: {torch_source}");
    println!(
        "GEMM-bound limit: the step's matrix products (nabla's shapes and layouts) at the GFLOP/s \
         gemm_into (nabla_tensor::sgemm's kernel split over nabla's threads) reaches on each of them in \
         this run; everything else free"
    );
    print_table_head(
        "Training, samples/s (median of the windows)",
        &[
            "threads",
            "batch",
            "nabla",
            "GEMM-bound limit",
            "nabla / limit",
            "sgemm GFLOP/s over the step",
            "PyTorch",
            "nabla / PyTorch",
            "allocations / step",
            "RSS growth",
        ],
    );
    let mut goals = Vec::new();
    let mut memory_ok = true;
    let mut out = json!({
        "benchmark": "mnist_cnn_pytorch_examples",
        "reference": "nabla",
        "cpu_model": first["cpu_model"],
        "cpu_count": first["cpu_count"],
        "method": {
            "seconds_per_figure": o.seconds,
            "train_step": "Trainer::train_step: forward + NLL + backward + grad-norm check + Adadelta.step + zero_grad",
            "inference_step": "model in evaluation mode, no_grad, forward only",
            "threads": "one process per thread count, NABLA_NUM_THREADS",
            "data": "random float32 uniform[0,1) [B,784] unflattened to [B,1,28,28], labels uniform 0..9",
            "limit": "batch / sum over the step's products of flop / (sgemm GFLOP/s on that shape and layout)",
        },
        "train_samples_per_s": {},
        "inference_samples_per_s": {},
        "limit_samples_per_s": {"train": {}, "inference": {}},
        "torch_source": torch_source,
    });
    for (threads, run) in runs {
        let tk = format!("threads_{threads}");
        let (mut train, mut limits) = (Map::new(), Map::new());
        for &b in &o.batches {
            let bk = format!("batch_{b}");
            let fig = &run["train"][&bk];
            let nabla = fig["nabla"]["median"].as_f64().unwrap_or(0.0);
            let lim = fig["limit"]["samples_per_s"].as_f64().unwrap_or(f64::NAN);
            let gflops = fig["limit"]["sgemm_gflops_over_the_step"].as_f64().unwrap_or(f64::NAN);
            let py = torch_train(torch, *threads, b);
            let allocs: Vec<f64> = fig["allocations_per_step"]
                .as_array()
                .map_or(vec![], |a| a.iter().filter_map(Value::as_f64).collect());
            let growth = fig["rss_growth_kb"].as_i64().unwrap_or(0);
            // Constant: the same count in both windows, and no resident memory gained.
            memory_ok &= allocs.windows(2).all(|w| w[0] == w[1]) && growth <= 1024;
            println!(
                "| {threads} | {b} | {nabla:.0} | {lim:.0} | {} | {gflops:.1} | {} | {} | {} | {growth} KiB |",
                pct(nabla / lim),
                or_dash(py, |p| format!("{p:.0}")),
                or_dash(py, |p| format!("{:.2}x", nabla / p)),
                allocs.last().map_or("-".into(), |a| format!("{a:.0}")),
            );
            let figure = format!("training, {threads} thread(s), batch {b}");
            push_figure_goals(&mut goals, &figure, nabla / lim, py.map(|p| nabla / p), TRAIN_VS_TORCH);
            train.insert(bk.clone(), fig["nabla"].clone());
            limits.insert(bk, fig["limit"].clone());
        }
        out["train_samples_per_s"][&tk] = Value::Object(train);
        out["limit_samples_per_s"]["train"][&tk] = Value::Object(limits);
    }
    print_table_head(
        &format!("Inference, batch {INFER_BATCH}, samples/s"),
        &["threads", "nabla", "GEMM-bound limit", "nabla / limit", "PyTorch", "nabla / PyTorch"],
    );
    let bk = format!("batch_{INFER_BATCH}");
    for (threads, run) in runs {
        let tk = format!("threads_{threads}");
        let fig = &run["inference"][&bk];
        let nabla = fig["nabla"]["median"].as_f64().unwrap_or(0.0);
        let lim = fig["limit"]["samples_per_s"].as_f64().unwrap_or(f64::NAN);
        let py = torch_infer(torch, *threads);
        println!(
            "| {threads} | {nabla:.0} | {lim:.0} | {} | {} | {} |",
            pct(nabla / lim),
            or_dash(py, |p| format!("{p:.0}")),
            or_dash(py, |p| format!("{:.2}x", nabla / p))
        );
        let figure = format!("inference, {threads} thread(s)");
        push_figure_goals(&mut goals, &figure, nabla / lim, py.map(|p| nabla / p), INFER_VS_TORCH);
        out["inference_samples_per_s"][&tk] = json!({ &bk: fig["nabla"] });
        out["limit_samples_per_s"]["inference"][&tk] = json!({ &bk: fig["limit"] });
    }
    let peak = runs.iter().filter_map(|r| r.1["peak_rss_mb"].as_f64()).fold(0.0, f64::max);
    let torch_peak = torch.and_then(|t| t["peak_rss_mb"].as_f64());
    println!();
    println!(
        "Memory: peak RSS of nabla's bench process {peak:.1} MB (training at every batch and inference at {INFER_BATCH}); \
         PyTorch's script {}",
        or_dash(torch_peak, |p| format!("{p:.1} MB (the larger of its per-thread processes)"))
    );
    if let Some(p) = torch_peak {
        goals.push(Goal::at_most("peak RSS: at most half of PyTorch's".into(), peak / p, RSS_VS_TORCH));
    }
    out["peak_rss_mb"] = json!(peak);
    println!();
    println!("Goals (issue 12):");
    print_goals(&goals, GOAL_WIDTH);
    print_goal_line(
        GOAL_WIDTH,
        "memory: the same allocations every step, no RSS growth",
        "",
        if memory_ok { "met" } else { "not met" },
    );
    let mut goal_json: Vec<Value> = goals.iter().map(Goal::to_json).collect();
    goal_json
        .push(json!({"goal": "memory: the same allocations every step, no RSS growth", "met": memory_ok}));
    out["goals"] = Value::Array(goal_json);
    append_inputs(&mut out, torch, runs);
    out
}

/// Runs the CNN benchmark; returns whether it completed.
pub fn bench(args: &[String]) -> bool {
    run_driver("xtask bench --model cnn", USAGE, parse(args), |o| {
        let exe = build_bench_binary("nabla-bench-cnn", None)?;
        // nabla and PyTorch take turns per thread count, so that the two figures of a ratio are
        // measured minutes apart at most on a machine whose load drifts.
        let mut runs = Vec::new();
        let mut torch_runs = Vec::new();
        let mut torch_error = None;
        for &t in &o.parallelism {
            runs.push((t, run_nabla(&exe, o, t)?));
            if o.compare_torch && torch_error.is_none() {
                match measure_torch(o, t) {
                    Ok(v) => torch_runs.push(v),
                    Err(e) => torch_error = Some(e),
                }
            }
        }
        let (torch, source) = match (o.compare_torch, torch_error) {
            (true, None) => {
                (Some(merge_torch(&torch_runs)), "measured in this run (bench_cnn.py)".to_string())
            }
            (true, Some(e)) => {
                eprintln!("--compare-torch: {e}; PyTorch is not measured in this run");
                (None, "anchors README, another machine (indicative only)".to_string())
            }
            (false, _) => (
                None,
                "anchors README, another machine (indicative only; --compare-torch measures it)".to_string(),
            ),
        };
        Ok(report(o, &runs, torch.as_ref(), &source))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_common::torch::reference_python;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_parse_and_bad_ones_are_errors() {
        let o =
            parse(&args(&["--threads", "2", "--batches", "32,128", "--seconds", "0.5", "--compare-torch"]))
                .unwrap();
        assert_eq!(
            (o.parallelism, o.batches, o.seconds, o.compare_torch),
            (vec![2], vec![32, 128], 0.5, true)
        );
        let d = parse(&[]).unwrap();
        assert_eq!((d.parallelism, d.batches, d.python), (vec![1, 2], vec![64, 256], None));
        assert_eq!(reference_python(&parse(&args(&["--python", "/opt/py"])).unwrap()), "/opt/py");
        for bad in [&["--seconds", "0"][..], &["--threads", "0"], &["--batches"], &["--frobnicate"]] {
            assert!(!parse(&args(bad)).unwrap_err().is_empty(), "{bad:?}");
        }
        assert_eq!(parse(&args(&["--help"])).unwrap_err(), "");
    }

    #[test]
    fn reference_runs_merge_per_thread_and_fall_back_to_the_anchors() {
        let one = json!({"train_samples_per_s": {"threads_1": {"batch_64": {"median": 400.0}}},
            "inference_samples_per_s": {"threads_1": {"batch_1000": {"median": 600.0}}}, "peak_rss_mb": 900.0});
        let two = json!({"train_samples_per_s": {"threads_2": {"batch_64": {"median": 700.0}}},
            "inference_samples_per_s": {"threads_2": {"batch_1000": {"median": 1100.0}}}, "peak_rss_mb": 1000.0});
        let m = merge_torch(&[one, two]);
        assert_eq!(torch_train(Some(&m), 1, 64), Some(400.0));
        assert_eq!(torch_train(Some(&m), 2, 64), Some(700.0));
        assert_eq!(torch_infer(Some(&m), 2), Some(1100.0));
        assert_eq!(m["peak_rss_mb"], 1000.0);
        // Measured figures are never mixed with the anchors: a missing one stays missing.
        assert_eq!(torch_train(Some(&m), 1, 256), None);
        assert_eq!(torch_train(None, 1, 256), Some(688.0));
        assert_eq!(torch_infer(None, 2), Some(2411.0));
        assert_eq!(torch_train(None, 4, 64), None);
    }
}
