//! `nabla-bench`: measures nabla on the chapter-3 MNIST MLP at this process's GEMM thread
//! count (`MATMUL_NUM_THREADS`, read once by matrixmultiply) and prints one JSON object on
//! standard output (progress on standard error). `cargo xtask bench` runs it once per
//! thread count and prints the table.
//!
//! ```text
//! nabla-bench [--batches 32,128,512] [--seconds 2] [--reps 3] [--infer-batch 1000]
//!             [--gemm-sizes 512,1024] [--adam-params 10000000] [--alloc-steps 100]
//!             [--no-train] [--no-infer] [--no-gemm] [--no-adam]
//! ```

use nabla_benches::ceiling::{Ceiling, CeilingInference};
use nabla_benches::kernels;
use nabla_benches::measure::{paired, Summary, Timing};
use nabla_benches::sys::{self, CountingAlloc};
use nabla_benches::workload::{mnist_trainer, train_step, BatchPool, Inference};
use serde_json::{json, Map, Value};
use std::hint::black_box;
use std::process::ExitCode;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct Options {
    batches: Vec<usize>,
    timing: Timing,
    infer_batch: usize,
    gemm_sizes: Vec<usize>,
    adam_params: usize,
    alloc_steps: usize,
    train: bool,
    infer: bool,
    profile: Option<String>,
    gemm: bool,
    adam: bool,
}

fn list(value: &str, flag: &str) -> Result<Vec<usize>, String> {
    value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().parse::<usize>().map_err(|e| format!("{flag}: '{s}' is not a count ({e})")))
        .collect()
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        batches: vec![32, 128, 512],
        timing: Timing::default(),
        infer_batch: 1000,
        gemm_sizes: vec![512, 1024],
        adam_params: 10_000_000,
        alloc_steps: 100,
        train: true,
        infer: true,
        profile: None,
        gemm: true,
        adam: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--batches" => o.batches = list(&value("--batches")?, "--batches")?,
            "--seconds" => {
                let v = value("--seconds")?;
                o.timing.seconds = v.parse().map_err(|e| format!("--seconds: '{v}' ({e})"))?;
            }
            "--reps" => {
                o.timing.reps = list(&value("--reps")?, "--reps")?.first().copied().unwrap_or(3).max(1)
            }
            "--infer-batch" => {
                o.infer_batch =
                    list(&value("--infer-batch")?, "--infer-batch")?.first().copied().unwrap_or(1000)
            }
            "--gemm-sizes" => o.gemm_sizes = list(&value("--gemm-sizes")?, "--gemm-sizes")?,
            "--adam-params" => {
                o.adam_params = list(&value("--adam-params")?, "--adam-params")?.first().copied().unwrap_or(0)
            }
            "--alloc-steps" => {
                o.alloc_steps =
                    list(&value("--alloc-steps")?, "--alloc-steps")?.first().copied().unwrap_or(100)
            }
            "--profile" => {
                let v = value("--profile")?;
                if v != "nabla" && v != "ceiling" {
                    return Err(format!("--profile: 'nabla' or 'ceiling', not '{v}'"));
                }
                o.profile = Some(v);
            }
            "--no-train" => o.train = false,
            "--no-infer" => o.infer = false,
            "--no-gemm" => o.gemm = false,
            "--no-adam" => o.adam = false,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if o.batches.iter().any(|&b| b < 2) || o.infer_batch == 0 {
        return Err("batch sizes must be at least 2 (batch norm) and the inference batch at least 1".into());
    }
    if !(o.timing.seconds.is_finite() && o.timing.seconds > 0.0) {
        return Err("--seconds must be positive".into());
    }
    Ok(o)
}

/// Heap allocations and bytes per step over `steps` calls of `step`.
fn allocations_per_step(steps: usize, step: &mut dyn FnMut()) -> (f64, f64) {
    let (a0, b0) = sys::allocations();
    for _ in 0..steps {
        step();
    }
    let (a1, b1) = sys::allocations();
    let n = steps.max(1) as f64;
    ((a1 - a0) as f64 / n, (b1 - b0) as f64 / n)
}

fn mb(kb: Option<u64>) -> Value {
    kb.map_or(Value::Null, |k| json!((k as f64 / 1024.0 * 10.0).round() / 10.0))
}

fn train_figures(o: &Options, batch: usize) -> Value {
    let mut trainer = mnist_trainer(batch);
    let mut ceiling = Ceiling::new(batch, 0);
    let mut pool = BatchPool::new(batch, 8, 17);
    let mut nabla_step = || {
        black_box(train_step(&mut trainer, &mut pool));
    };
    let mut ceiling_pool = BatchPool::new(batch, 8, 17);
    for _ in 0..10 {
        nabla_step();
    }
    let mut ceiling_step = || {
        let (x, y) = ceiling_pool.next_batch();
        black_box(ceiling.train_step(x, y));
    };
    let (nabla, reference) = paired(&mut nabla_step, &mut ceiling_step, batch as f64, &o.timing);
    let (ceiling_allocs, ceiling_bytes) = allocations_per_step(o.alloc_steps, &mut ceiling_step);
    // Both systems are warm now: nabla's resident memory must not change over its steps.
    let rss_before = sys::rss_kb();
    let (allocs, bytes) = allocations_per_step(o.alloc_steps, &mut nabla_step);
    let rss_after = sys::rss_kb();
    eprintln!(
        "train threads={} batch={batch}: nabla {:.0} samples/s, ceiling {:.0} ({:.0}%), {allocs:.1} allocations/step",
        sys::gemm_threads(),
        nabla.median(),
        reference.median(),
        100.0 * nabla.median() / reference.median()
    );
    json!({
        "nabla": nabla.to_json(),
        "ceiling": reference.to_json(),
        "ratio_to_ceiling": nabla.median() / reference.median(),
        "allocations_per_step": {"nabla": allocs, "ceiling": ceiling_allocs},
        "allocated_bytes_per_step": {"nabla": bytes, "ceiling": ceiling_bytes},
        "rss_growth_kb": match (rss_before, rss_after) {
            (Some(a), Some(b)) => json!(b as i64 - a as i64),
            _ => Value::Null,
        },
    })
}

fn infer_figures(o: &Options) -> Value {
    let batch = o.infer_batch;
    let mut trainer = mnist_trainer(32);
    let mut ceiling = Ceiling::new(32, 0);
    let mut train_pool = BatchPool::new(32, 4, 5);
    for _ in 0..20 {
        train_step(&mut trainer, &mut train_pool);
        let (x, y) = train_pool.next_batch();
        ceiling.train_step(x, y);
    }
    let pool = BatchPool::new(batch, 4, 9);
    let mut inference = Inference::new(&mut trainer, &pool);
    let mut hand = CeilingInference::new(&ceiling, batch);
    let mut i = 0usize;
    let inputs = pool.inputs();
    let mut nabla_step = || {
        black_box(inference.step());
    };
    let mut ceiling_step = || {
        let x = &inputs[i % inputs.len()];
        i += 1;
        black_box(hand.forward(x.view()));
    };
    let (nabla, reference) = paired(&mut nabla_step, &mut ceiling_step, batch as f64, &o.timing);
    let (allocs, _) = allocations_per_step(o.alloc_steps.min(20), &mut nabla_step);
    eprintln!(
        "infer threads={} batch={batch}: nabla {:.0} samples/s, ceiling {:.0} ({:.0}%)",
        sys::gemm_threads(),
        nabla.median(),
        reference.median(),
        100.0 * nabla.median() / reference.median()
    );
    json!({
        "nabla": nabla.to_json(),
        "ceiling": reference.to_json(),
        "ratio_to_ceiling": nabla.median() / reference.median(),
        "allocations_per_step": {"nabla": allocs},
    })
}

fn gemm_figures(o: &Options, n: usize) -> Value {
    let timing = Timing { seconds: (o.timing.seconds / 2.0).max(0.3), ..o.timing };
    let (nabla, direct): (Summary, Summary) = kernels::gemm(n, &timing);
    eprintln!(
        "gemm threads={} n={n}: tensor matmul {:.1} GFLOP/s, sgemm {:.1} ({:.0}%)",
        sys::gemm_threads(),
        nabla.median(),
        direct.median(),
        100.0 * nabla.median() / direct.median()
    );
    json!({
        "nabla": nabla.to_gemm_json(),
        "sgemm": direct.to_gemm_json(),
        "ratio_to_sgemm": nabla.median() / direct.median(),
    })
}

fn adam_figures(o: &Options) -> Value {
    let n = o.adam_params;
    let timing = Timing { seconds: (o.timing.seconds / 2.0).max(0.3), ..o.timing };
    let (adam, copy) = kernels::adam_vs_copy(n, &timing);
    eprintln!(
        "adam step over {n} parameters: {:.1} GB/s, copy {:.1} GB/s ({:.0}%)",
        adam.median(),
        copy.median(),
        100.0 * adam.median() / copy.median()
    );
    json!({
        "params": n,
        "bytes_per_step": {"adam": kernels::adam_bytes(n), "copy": kernels::copy_bytes(n)},
        "adam_gbps": adam.to_json(),
        "copy_gbps": copy.to_json(),
        "ratio_to_copy": adam.median() / copy.median(),
    })
}

/// Runs only one system's training step at the first batch size for `--seconds` (for
/// `perf record`), and prints its rate.
fn profile(system: &str, o: &Options) {
    let batch = o.batches[0];
    let mut pool = BatchPool::new(batch, 8, 17);
    let mut step: Box<dyn FnMut()> = if system == "nabla" {
        let mut trainer = mnist_trainer(batch);
        Box::new(move || {
            black_box(train_step(&mut trainer, &mut pool));
        })
    } else {
        let mut ceiling = Ceiling::new(batch, 0);
        Box::new(move || {
            let (x, y) = pool.next_batch();
            black_box(ceiling.train_step(x, y));
        })
    };
    let s = nabla_benches::measure::single(&mut *step, batch as f64, &Timing { reps: 1, ..o.timing });
    eprintln!("{system} batch={batch}: {:.0} samples/s", s.median());
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("nabla-bench: {e}");
            }
            eprintln!("{}", include_str!("usage.txt"));
            return if e.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
        }
    };
    if let Some(system) = &o.profile {
        profile(system, &o);
        return ExitCode::SUCCESS;
    }
    let mut out = Map::new();
    out.insert("threads".into(), json!(sys::gemm_threads()));
    out.insert("cpu_model".into(), json!(sys::cpu_model()));
    out.insert("cpu_count".into(), json!(std::thread::available_parallelism().map_or(0, |n| n.get())));
    out.insert("loadavg_start".into(), json!(sys::loadavg()));
    out.insert(
        "timing".into(),
        json!({"seconds_per_figure": o.timing.seconds, "windows": o.timing.reps,
               "warmup": ">=5 steps and >=0.3 s", "order": "nabla and reference windows alternate"}),
    );
    if o.train {
        let mut train = Map::new();
        for &b in &o.batches {
            train.insert(format!("batch_{b}"), train_figures(&o, b));
        }
        out.insert("train".into(), Value::Object(train));
    }
    if o.infer {
        out.insert("inference".into(), json!({ format!("batch_{}", o.infer_batch): infer_figures(&o) }));
    }
    out.insert("peak_rss_mb_train_infer".into(), mb(sys::peak_rss_kb()));
    if o.gemm {
        let mut g = Map::new();
        for &n in &o.gemm_sizes {
            g.insert(format!("mm_{n}x{n}"), gemm_figures(&o, n));
        }
        out.insert("gemm".into(), Value::Object(g));
    }
    if o.adam && o.adam_params > 0 {
        out.insert("adam".into(), adam_figures(&o));
    }
    out.insert("peak_rss_mb".into(), mb(sys::peak_rss_kb()));
    out.insert("loadavg_end".into(), json!(sys::loadavg()));
    println!("{}", serde_json::to_string_pretty(&Value::Object(out)).expect("JSON serializes"));
    ExitCode::SUCCESS
}
