//! `nabla-bench`: measures nabla on the chapter-3 MNIST MLP at this process's GEMM thread
//! count (`NABLA_NUM_THREADS`) and prints one JSON object on
//! standard output (progress on standard error). `cargo xtask bench` runs it once per
//! thread count and prints the table.
//!
//! ```text
//! nabla-bench [--batches 32,128,512] [--seconds 2] [--reps 3] [--infer-batch 1000]
//!             [--gemm-sizes 512,1024] [--adam-params 10000000] [--alloc-steps 100]
//!             [--epoch-samples 60000] [--no-epoch]
//!             [--no-train] [--no-infer] [--no-gemm] [--no-adam]
//! ```

use nabla_benches::ceiling::{Ceiling, CeilingInference};
use nabla_benches::cli::{exit_with_usage, Args, StepOptions};
use nabla_benches::epoch::{epoch_trainer, time_epoch, MNIST_TRAIN};
use nabla_benches::kernels;
use nabla_benches::measure::{paired, window_rate, Summary, Timing};
use nabla_benches::output::{insert_machine, mb, print_with_loadavg_end};
use nabla_benches::sys::{self, allocations_per_step, rss_growth_kb, CountingAlloc};
use nabla_benches::workload::{mnist_trainer, train_step, BatchPool, Inference};
use serde_json::{json, Map, Value};
use std::hint::black_box;
use std::process::ExitCode;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct Options {
    step: StepOptions,
    gemm_sizes: Vec<usize>,
    adam_params: usize,
    // Training examples of the end-to-end epoch (0: none).
    epoch_samples: usize,
    train: bool,
    profile: Option<String>,
    gemm: bool,
    adam: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        step: StepOptions {
            batches: vec![32, 128, 512],
            timing: Timing::default(),
            infer_batch: 1000,
            alloc_steps: 100,
            infer: true,
        },
        gemm_sizes: vec![512, 1024],
        adam_params: 10_000_000,
        epoch_samples: MNIST_TRAIN,
        train: true,
        profile: None,
        gemm: true,
        adam: true,
    };
    o.step.read_all(&mut Args::from_env(), |flag, args| {
        match flag {
            "--gemm-sizes" => o.gemm_sizes = args.counts(flag)?,
            "--adam-params" => o.adam_params = args.count(flag)?,
            "--epoch-samples" => o.epoch_samples = args.count(flag)?,
            "--no-epoch" => o.epoch_samples = 0,
            "--profile" => {
                let v = args.value(flag)?;
                if !["nabla", "ceiling", "epoch"].contains(&v.as_str()) {
                    return Err(format!("--profile: 'nabla', 'ceiling' or 'epoch', not '{v}'"));
                }
                o.profile = Some(v);
            }
            "--no-train" => o.train = false,
            "--no-gemm" => o.gemm = false,
            "--no-adam" => o.adam = false,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if o.step.batches.iter().any(|&b| b < 2) || o.step.infer_batch == 0 {
        return Err("batch sizes must be at least 2 (batch norm) and the inference batch at least 1".into());
    }
    Ok(o)
}

/// The figures of nabla against the ceiling on the same steps: both summaries and the ratio.
fn versus_ceiling(nabla: &Summary, reference: &Summary) -> Map<String, Value> {
    let mut figures = Map::new();
    figures.insert("nabla".into(), nabla.to_json());
    figures.insert("ceiling".into(), reference.to_json());
    figures.insert("ratio_to_ceiling".into(), json!(nabla.median() / reference.median()));
    figures
}

/// The progress line of a figure against the ceiling (`kind` is `train` or `infer`).
fn progress(kind: &str, batch: usize, nabla: &Summary, reference: &Summary) -> String {
    format!(
        "{kind} threads={} batch={batch}: nabla {:.0} samples/s, ceiling {:.0} ({:.0}%)",
        sys::gemm_threads(),
        nabla.median(),
        reference.median(),
        100.0 * nabla.median() / reference.median()
    )
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
    let (nabla, reference) = paired(&mut nabla_step, &mut ceiling_step, batch as f64, &o.step.timing);
    let (ceiling_allocs, ceiling_bytes) = allocations_per_step(o.step.alloc_steps, &mut ceiling_step);
    // Both systems are warm now: nabla's resident memory must not change over its steps.
    let ((allocs, bytes), growth) =
        rss_growth_kb(|| allocations_per_step(o.step.alloc_steps, &mut nabla_step));
    eprintln!("{}, {allocs:.1} allocations/step", progress("train", batch, &nabla, &reference));
    let mut figures = versus_ceiling(&nabla, &reference);
    figures.insert("allocations_per_step".into(), json!({"nabla": allocs, "ceiling": ceiling_allocs}));
    figures.insert("allocated_bytes_per_step".into(), json!({"nabla": bytes, "ceiling": ceiling_bytes}));
    figures.insert("rss_growth_kb".into(), json!(growth));
    if o.epoch_samples > 0 {
        figures.insert("epoch".into(), epoch_figures(o, batch, &nabla, &mut nabla_step));
    }
    Value::Object(figures)
}

/// One whole epoch through `Trainer::run` at `batch` against the isolated step rate: the
/// step's rate in a window just before and one just after the epoch (their mean, so that the
/// ratio compares the two under the same load on a shared machine; `step` is the step row's
/// figure, for the windows' length).
fn epoch_figures(o: &Options, batch: usize, step: &Summary, nabla_step: &mut dyn FnMut()) -> Value {
    let mut trainer = epoch_trainer(batch, o.epoch_samples);
    let (per_step, window) = (step.ms_per_step() / 1000.0, o.step.timing.seconds / 2.0);
    let before = window_rate(nabla_step, batch as f64, per_step, window);
    let e = time_epoch(&mut trainer);
    let after = window_rate(nabla_step, batch as f64, per_step, window);
    let step_rate = 0.5 * (before + after);
    eprintln!(
        "epoch threads={} batch={batch}: {} + {} samples in {:.2} s (train loop {:.2}, evaluation {:.3}, \
         files {:.3}): {:.0} samples/s, step around it {:.0} ({:.0}%)",
        sys::gemm_threads(),
        e.samples,
        e.eval_samples,
        e.seconds,
        e.train_seconds,
        e.eval_seconds,
        e.files_seconds(),
        e.samples_per_s(),
        step_rate,
        100.0 * e.samples_per_s() / step_rate
    );
    let mut figures = e.to_json(step_rate);
    figures["step_samples_per_s_around"] = json!([before, after]);
    figures
}

fn infer_figures(o: &Options) -> Value {
    let batch = o.step.infer_batch;
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
    let (nabla, reference) = paired(&mut nabla_step, &mut ceiling_step, batch as f64, &o.step.timing);
    let (allocs, _) = allocations_per_step(o.step.alloc_steps.min(20), &mut nabla_step);
    eprintln!("{}", progress("infer", batch, &nabla, &reference));
    let mut figures = versus_ceiling(&nabla, &reference);
    figures.insert("allocations_per_step".into(), json!({"nabla": allocs}));
    Value::Object(figures)
}

fn gemm_figures(o: &Options, n: usize) -> Value {
    let timing = Timing { seconds: (o.step.timing.seconds / 2.0).max(0.3), ..o.step.timing };
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
    let timing = Timing { seconds: (o.step.timing.seconds / 2.0).max(0.3), ..o.step.timing };
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
    let batch = o.step.batches[0];
    if system == "epoch" {
        let mut trainer = epoch_trainer(batch, o.epoch_samples.max(batch));
        let e = time_epoch(&mut trainer);
        eprintln!("epoch batch={batch}: {:.0} samples/s ({:.2} s)", e.samples_per_s(), e.seconds);
        return;
    }
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
    let s = nabla_benches::measure::single(&mut *step, batch as f64, &Timing { reps: 1, ..o.step.timing });
    eprintln!("{system} batch={batch}: {:.0} samples/s", s.median());
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => return exit_with_usage("nabla-bench", include_str!("usage.txt"), &e),
    };
    if let Some(system) = &o.profile {
        profile(system, &o);
        return ExitCode::SUCCESS;
    }
    let mut out = Map::new();
    insert_machine(&mut out);
    out.insert(
        "timing".into(),
        json!({"seconds_per_figure": o.step.timing.seconds, "windows": o.step.timing.reps,
               "warmup": ">=5 steps and >=0.3 s", "order": "nabla and reference windows alternate"}),
    );
    if o.train {
        let mut train = Map::new();
        for &b in &o.step.batches {
            train.insert(format!("batch_{b}"), train_figures(&o, b));
        }
        out.insert("train".into(), Value::Object(train));
    }
    if o.step.infer {
        out.insert("inference".into(), json!({ format!("batch_{}", o.step.infer_batch): infer_figures(&o) }));
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
    print_with_loadavg_end(out);
    ExitCode::SUCCESS
}
