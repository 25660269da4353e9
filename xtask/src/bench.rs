//! `cargo xtask bench`: builds the `nabla-bench` binary (crate `nabla-benches`) in release
//! mode, runs it once per GEMM thread count (matrixmultiply reads `MATMUL_NUM_THREADS` once
//! per process), optionally runs the PyTorch reference script in the same invocation, and
//! prints one table with the ratios and the goals of issue 8.
//!
//! ```text
//! cargo xtask bench [--threads 1,2] [--batches 32,128,512] [--seconds 2] [--json FILE]
//!                   [--compare-torch] [--torch-script PATH] [--python python3]
//! cargo xtask bench --model cnn ...   (the MNIST CNN: see bench_cnn.rs)
//! ```
//!
//! `--json FILE` writes the figures in the shape of the PyTorch reference script
//! (`train_samples_per_s.threads_T.batch_B.median`, `inference_samples_per_s`, `gemm_gflops`,
//! `peak_rss_mb`) plus the in-run references (`ceiling`, `sgemm`), the Adam/copy figures,
//! allocations per step and the ratios.

use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Timed windows per figure (nabla's and the reference's alternate, window by window).
const WINDOWS: usize = 5;

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

struct Options {
    threads: Vec<usize>,
    batches: Vec<usize>,
    seconds: f64,
    json: Option<PathBuf>,
    compare_torch: bool,
    torch_script: Option<PathBuf>,
    python: String,
}

pub(crate) fn list(value: Option<&String>, flag: &str) -> Result<Vec<usize>, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    let items: Result<Vec<usize>, String> = value
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<usize>().map_err(|_| format!("{flag}: '{s}' is not a positive count")))
        .collect();
    let items = items?;
    if items.is_empty() || items.contains(&0) {
        return Err(format!("{flag}: give positive counts, e.g. {flag} 1,2"));
    }
    Ok(items)
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        threads: vec![1, 2],
        batches: vec![32, 128, 512],
        seconds: 2.0,
        json: None,
        compare_torch: false,
        torch_script: None,
        python: "python3".to_string(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--threads" => o.threads = list(it.next(), "--threads")?,
            "--batches" => {
                o.batches = list(it.next(), "--batches")?;
                if o.batches.contains(&1) {
                    return Err("--batches: batch norm needs at least 2 samples per batch".into());
                }
            }
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a value")?;
                o.seconds = v.parse().map_err(|_| format!("--seconds: '{v}' is not a number"))?;
                if !(o.seconds.is_finite() && o.seconds > 0.0) {
                    return Err("--seconds must be positive".into());
                }
            }
            "--json" => o.json = Some(PathBuf::from(it.next().ok_or("--json needs a file name")?)),
            "--compare-torch" => o.compare_torch = true,
            "--torch-script" => {
                o.torch_script = Some(PathBuf::from(it.next().ok_or("--torch-script needs a path")?))
            }
            "--python" => o.python = it.next().ok_or("--python needs a program")?.clone(),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(o)
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Builds the binary `bin` of `nabla-benches` in release mode and returns the path of the
/// executable.
pub(crate) fn build_bin(bin: &str) -> Result<PathBuf, String> {
    eprintln!("$ cargo build --release -p nabla-benches --bin {bin}");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "-p",
            "nabla-benches",
            "--bin",
            bin,
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("building {bin} failed"));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo did not report the {bin} executable"))
}

/// Runs the bench binary with `threads` GEMM threads; returns its JSON.
fn run_nabla(exe: &Path, o: &Options, threads: usize, with_adam: bool) -> Result<Value, String> {
    let batches = o.batches.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let mut cmd = Command::new(exe);
    cmd.env("MATMUL_NUM_THREADS", threads.to_string()).args([
        "--batches",
        &batches,
        "--seconds",
        &o.seconds.to_string(),
        "--reps",
        &WINDOWS.to_string(),
    ]);
    if !with_adam {
        cmd.arg("--no-adam");
    }
    eprintln!("$ MATMUL_NUM_THREADS={threads} nabla-bench --batches {batches} --seconds {}", o.seconds);
    let out =
        cmd.stderr(Stdio::inherit()).output().map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!("nabla-bench failed with {}", out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("nabla-bench printed no JSON: {e}"))
}

/// The PyTorch reference: measured now when `--compare-torch` and torch imports, else the
/// anchors' results file (if present). Returns (figures, where they came from).
fn torch_figures(o: &Options) -> (Option<Value>, String) {
    let anchors = workspace_root().join("../shared/anchors/torch");
    if o.compare_torch {
        let has_torch = Command::new(&o.python)
            .args(["-c", "import torch"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let script = o.torch_script.clone().unwrap_or_else(|| anchors.join("bench_mlp.py"));
        if !has_torch {
            eprintln!(
                "--compare-torch: `{} -c \"import torch\"` fails: PyTorch is not installed here, so it is \
                 not measured in this run (install it with `python3 -m venv venv && venv/bin/pip install \
                 torch numpy`, then pass --python venv/bin/python)",
                o.python
            );
        } else if !script.is_file() {
            eprintln!("--compare-torch: the reference script {} is missing", script.display());
        } else {
            let mut cmd = Command::new(&o.python);
            cmd.arg(&script).args(["--seconds", &o.seconds.to_string(), "--reps", "3", "--threads"]);
            cmd.args(o.threads.iter().map(usize::to_string)).arg("--batches");
            cmd.args(o.batches.iter().map(usize::to_string));
            eprintln!("$ {} {} --seconds {} ...", o.python, script.display(), o.seconds);
            match cmd.stderr(Stdio::inherit()).output() {
                Ok(out) if out.status.success() => match serde_json::from_slice::<Value>(&out.stdout) {
                    Ok(v) => return (Some(v), "measured in this run".into()),
                    Err(e) => eprintln!("--compare-torch: the script printed no JSON ({e})"),
                },
                Ok(out) => eprintln!("--compare-torch: the script failed with {}", out.status),
                Err(e) => eprintln!("--compare-torch: cannot run {}: {e}", o.python),
            }
        }
    }
    let file = anchors.join("results.json");
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
        .and_then(|t| {
            t["train_samples_per_s"][format!("threads_{threads}")][format!("batch_{batch}")]["median"]
                .as_f64()
        })
        .or_else(|| Some(anchor("PyTorch 2.15", threads)?.2[batch_index(batch)?]))
}

fn torch_infer(torch: Option<&Value>, threads: usize) -> Option<f64> {
    torch
        .and_then(|t| {
            t["inference_samples_per_s"][format!("threads_{threads}")]["batch_1000"]["median"].as_f64()
        })
        .or_else(|| Some(anchor("PyTorch 2.15", threads)?.3))
}

fn k(x: f64) -> String {
    if x >= 1000.0 {
        format!("{:.1}k", x / 1000.0)
    } else {
        format!("{x:.0}")
    }
}

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| "-".to_string(), f)
}

fn pct(x: f64) -> String {
    format!("{:.0} %", 100.0 * x)
}

struct Goal {
    text: String,
    ratio: f64,
    target: f64,
}

/// Prints the table and the goals; returns the merged JSON.
fn report(o: &Options, runs: &[(usize, Value)], torch: Option<&Value>, torch_source: &str) -> Value {
    let first = &runs[0].1;
    let torch_measured = torch_source.starts_with("measured");
    println!();
    println!("nabla on the chapter-3 MNIST MLP (784-512-256-10, BN+ReLU+Dropout(0.2), Adam 1e-3)");
    println!(
        "machine: {} x {}, load average {} -> {}",
        first["cpu_count"],
        first["cpu_model"].as_str().unwrap_or("?"),
        first["loadavg_start"][0],
        runs.last().map_or(Value::Null, |r| r.1["loadavg_end"][0].clone())
    );
    println!("PyTorch figures: {torch_source}; Burn/Candle figures: anchors README (not re-measured)");
    if !torch_measured {
        println!(
            "machine-adjusted: PyTorch's anchor figure times (this run's ceiling / the anchors' ceiling), \
             i.e. PyTorch as it would run on the machine as it is now"
        );
    }
    println!();
    println!("Training, samples/s (median of {WINDOWS} windows, nabla and the ceiling alternate)");
    println!();
    println!(
        "| threads | batch | nabla | ceiling (hand-written, this run) | nabla / ceiling | PyTorch | nabla / PyTorch | nabla / PyTorch, machine-adjusted | best other Rust (anchors) | allocations / step |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
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
            "threads": "one process per thread count, MATMUL_NUM_THREADS",
            "data": "random float32 uniform[0,1) [B,784], labels uniform 0..9; pool of 8 batches",
        },
        "train_samples_per_s": {},
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
                opt(py, k),
                opt(py, |p| format!("{:.1}x", nabla / p)),
                opt(adjusted, |p| format!("{:.1}x", nabla / p)),
                other.map_or("-".into(), |(name, v)| format!("{} ({name})", k(v))),
            );
            goals.push(Goal {
                text: format!("training, {threads} thread(s), batch {b}: >= 85 % of the ceiling"),
                ratio: nabla / ceil,
                target: 0.85,
            });
            if *threads == 1 && b == 32 {
                if let Some(p) = adjusted {
                    goals.push(Goal {
                        text: format!(
                            "training, 1 thread, batch 32: >= 3x PyTorch{}",
                            if torch_measured { "" } else { " (machine-adjusted)" }
                        ),
                        ratio: nabla / p,
                        target: 3.0,
                    });
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
    println!();
    println!("Inference, batch 1000, samples/s");
    println!();
    println!("| threads | nabla | ceiling | nabla / ceiling | PyTorch | nabla / PyTorch |");
    println!("|---|---|---|---|---|---|");
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
            opt(py, k),
            opt(py, |p| format!("{:.1}x", nabla / p))
        );
        if *threads == 2 {
            goals.push(Goal {
                text: "inference, 2 threads, batch 1000: >= 90 % of the ceiling".into(),
                ratio: nabla / ceil,
                target: 0.90,
            });
        }
        out["inference_samples_per_s"][&tk] = json!({"batch_1000": fig["nabla"]});
        out["ceiling"]["inference_samples_per_s"][&tk] = json!({"batch_1000": fig["ceiling"]});
    }
    println!();
    println!("Matrix product, GFLOP/s: nabla_tensor::matmul against matrixmultiply::sgemm called directly");
    println!();
    println!("| threads | n | tensor matmul | sgemm | ratio |");
    println!("|---|---|---|---|---|");
    for (threads, run) in runs {
        let tk = format!("threads_{threads}");
        let mut nab = Map::new();
        let mut direct = Map::new();
        if let Some(g) = run["gemm"].as_object() {
            for (key, fig) in g {
                let a = fig["nabla"]["gflops_median"].as_f64().unwrap_or(0.0);
                let s = fig["sgemm"]["gflops_median"].as_f64().unwrap_or(f64::NAN);
                println!(
                    "| {threads} | {} | {a:.1} | {s:.1} | {} |",
                    key.trim_start_matches("mm_"),
                    pct(a / s)
                );
                goals.push(Goal {
                    text: format!(
                        "matmul {}, {threads} thread(s): >= 90 % of sgemm",
                        key.trim_start_matches("mm_")
                    ),
                    ratio: a / s,
                    target: 0.90,
                });
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
        goals.push(Goal {
            text: "Adam step: >= 70 % of the copy bandwidth".into(),
            ratio: adam / copy,
            target: 0.70,
        });
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
    println!("Goals (issue 8):");
    for g in &goals {
        let verdict = if g.ratio >= g.target {
            "met".to_string()
        } else {
            format!("short by {:.0} %", 100.0 * (1.0 - g.ratio / g.target))
        };
        let shown = if g.target > 1.5 { format!("{:.2}x", g.ratio) } else { pct(g.ratio) };
        println!("  {:<62} {shown:>8}  {verdict}", g.text);
    }
    let memory_ok = growth_max <= 1024 && amax - amin <= 4.0;
    println!(
        "  {:<62} {:>8}  {}",
        "memory: no RSS growth, a constant number of allocations per step",
        format!("{amax:.0}/step"),
        if memory_ok { "met" } else { "not met" }
    );
    out["goals"] = Value::Array(
        goals
            .iter()
            .map(
                |g| json!({"goal": g.text, "ratio": g.ratio, "target": g.target, "met": g.ratio >= g.target}),
            )
            .collect(),
    );
    if let Some(t) = torch {
        out["torch"] = t.clone();
    }
    out["runs"] = Value::Array(runs.iter().map(|(_, r)| r.clone()).collect());
    out
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
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("xtask bench: {e}");
            }
            eprintln!("{USAGE}");
            return e.is_empty();
        }
    };
    let exe = match build_bin("nabla-bench") {
        Ok(p) => p,
        Err(e) => {
            eprintln!("xtask bench: {e}");
            return false;
        }
    };
    let mut runs = Vec::new();
    for (i, &t) in o.threads.iter().enumerate() {
        match run_nabla(&exe, &o, t, i == 0) {
            Ok(v) => runs.push((t, v)),
            Err(e) => {
                eprintln!("xtask bench: {e}");
                return false;
            }
        }
    }
    let (torch, source) = torch_figures(&o);
    let merged = report(&o, &runs, torch.as_ref(), &source);
    if let Some(path) = &o.json {
        let text = serde_json::to_string_pretty(&merged).expect("JSON serializes");
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("xtask bench: cannot write {}: {e}", path.display());
            return false;
        }
        eprintln!("wrote {}", path.display());
    }
    true
}
