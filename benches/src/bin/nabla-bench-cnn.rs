//! `nabla-bench-cnn`: measures nabla on the MNIST CNN of PyTorch's examples at this process's
//! GEMM thread count (`NABLA_NUM_THREADS`), with the GEMM-bound
//! limit of each figure measured in the same process, and prints one JSON object on standard
//! output (progress on standard error). `cargo xtask bench --model cnn` runs it once per
//! thread count and prints the table.
//!
//! ```text
//! nabla-bench-cnn [--batches 64,256] [--seconds 2] [--reps 3] [--infer-batch 1000]
//!                 [--alloc-steps 5] [--gemm-seconds 0.3] [--no-infer] [--profile]
//! ```

use nabla_benches::cli::{exit_with_usage, Args, StepOptions};
use nabla_benches::cnn::{mnist_cnn_trainer, PARAMETERS};
use nabla_benches::gemm_limit::{limit, mnist_cnn_products, Limit, RateCache};
use nabla_benches::measure::{single, Timing};
use nabla_benches::output::{insert_machine, mb, print_with_loadavg_end};
use nabla_benches::sys::{self, allocations_per_step, rss_growth_kb, CountingAlloc};
use nabla_benches::workload::{train_step, BatchPool, Inference};
use serde_json::{json, Map, Value};
use std::hint::black_box;
use std::process::ExitCode;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const USAGE: &str = "usage: nabla-bench-cnn [--batches 64,256] [--seconds 2] [--reps 3] [--infer-batch 1000]
                       [--alloc-steps 5] [--gemm-seconds 0.3] [--no-infer] [--profile]
Measures the MNIST CNN of PyTorch's examples at the GEMM thread count of this process
(NABLA_NUM_THREADS) against its GEMM-bound limit and prints one JSON object;
`cargo xtask bench --model cnn` runs it per thread count and prints the table.
--profile runs only nabla's training step at the first batch size for --seconds, for perf.";

struct Options {
    step: StepOptions,
    gemm_timing: Timing,
    profile: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        step: StepOptions {
            batches: vec![64, 256],
            timing: Timing { seconds: 2.0, reps: 3, warmup_seconds: 0.3 },
            infer_batch: 1000,
            alloc_steps: 5,
            infer: true,
        },
        gemm_timing: Timing { seconds: 0.3, reps: 3, warmup_seconds: 0.05 },
        profile: false,
    };
    o.step.read_all(&mut Args::from_env(), |flag, args| {
        match flag {
            "--gemm-seconds" => o.gemm_timing.seconds = args.seconds(flag)?,
            "--profile" => o.profile = true,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if o.step.batches.is_empty() || o.step.batches.contains(&0) || o.step.infer_batch == 0 {
        return Err("batch sizes must be positive".into());
    }
    Ok(o)
}

/// Allocations (and bytes) per step in two successive windows of `steps` steps, and the
/// resident memory's growth over both: a warm step must allocate the same every time and
/// not grow.
fn allocation_windows(steps: usize, step: &mut dyn FnMut()) -> ([f64; 2], [f64; 2], Option<i64>) {
    let (((allocs_1, bytes_1), (allocs_2, bytes_2)), growth) =
        rss_growth_kb(|| (allocations_per_step(steps, step), allocations_per_step(steps, step)));
    ([allocs_1, allocs_2], [bytes_1, bytes_2], growth)
}

/// The limit's figures, with each product's shape and sgemm rate.
fn limit_json(l: &Limit) -> Value {
    json!({
        "samples_per_s": l.samples_per_s(),
        "gemm_gflop_per_sample": l.flop_per_sample() / 1e9,
        "sgemm_gflops_over_the_step": l.gflops(),
        "products": l.products.iter().map(|(p, s)| json!({
            "layer": p.layer, "pass": p.pass, "m": p.m, "k": p.k, "n": p.n,
            "a_transposed": p.a_transposed, "b_transposed": p.b_transposed,
            "per_step": p.count, "sgemm_gflops": s.median(),
        })).collect::<Vec<_>>(),
    })
}

fn train_figures(o: &Options, batch: usize) -> Value {
    let mut trainer = mnist_cnn_trainer(batch);
    let mut pool = BatchPool::new(batch, 4, 17);
    let mut step = || {
        black_box(train_step(&mut trainer, &mut pool));
    };
    let nabla = single(&mut step, batch as f64, &o.step.timing);
    let (allocs, bytes, growth) = allocation_windows(o.step.alloc_steps, &mut step);
    eprintln!(
        "cnn train threads={} batch={batch}: nabla {:.0} samples/s, {:.1} allocations/step",
        sys::gemm_threads(),
        nabla.median(),
        allocs[1],
    );
    json!({
        "nabla": nabla.to_json(),
        "allocations_per_step": allocs,
        "allocated_bytes_per_step": bytes,
        "steps_per_allocation_window": o.step.alloc_steps,
        "rss_growth_kb": growth,
    })
}

fn infer_figures(o: &Options) -> Value {
    let batch = o.step.infer_batch;
    let mut trainer = mnist_cnn_trainer(64);
    let mut train_pool = BatchPool::new(64, 2, 5);
    for _ in 0..3 {
        train_step(&mut trainer, &mut train_pool);
    }
    let pool = BatchPool::new(batch, 2, 9);
    let mut inference = Inference::new(&mut trainer, &pool);
    let mut step = || {
        black_box(inference.step());
    };
    let nabla = single(&mut step, batch as f64, &o.step.timing);
    let (allocs, _, growth) = allocation_windows(o.step.alloc_steps, &mut step);
    eprintln!(
        "cnn infer threads={} batch={batch}: nabla {:.0} samples/s",
        sys::gemm_threads(),
        nabla.median()
    );
    json!({
        "nabla": nabla.to_json(),
        "allocations_per_step": allocs,
        "rss_growth_kb": growth,
    })
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => return exit_with_usage("nabla-bench-cnn", USAGE, &e),
    };
    if o.profile {
        let batch = o.step.batches[0];
        let mut trainer = mnist_cnn_trainer(batch);
        let mut pool = BatchPool::new(batch, 4, 17);
        let s = single(
            &mut || {
                black_box(train_step(&mut trainer, &mut pool));
            },
            batch as f64,
            &Timing { reps: 1, ..o.step.timing },
        );
        eprintln!("cnn train batch={batch}: {:.0} samples/s", s.median());
        return ExitCode::SUCCESS;
    }
    let mut out = Map::new();
    insert_machine(&mut out);
    out.insert("parameters".into(), json!(PARAMETERS));
    out.insert(
        "timing".into(),
        json!({"seconds_per_figure": o.step.timing.seconds, "windows": o.step.timing.reps,
               "warmup": ">=5 steps and >=0.3 s", "gemm_seconds_per_shape": o.gemm_timing.seconds}),
    );
    // nabla first, so that its peak resident memory is not the GEMM probes' buffers.
    let mut figures: Vec<(String, usize, bool, Value)> = Vec::new();
    for &b in &o.step.batches {
        figures.push(("train".into(), b, true, train_figures(&o, b)));
    }
    if o.step.infer {
        figures.push(("inference".into(), o.step.infer_batch, false, infer_figures(&o)));
    }
    out.insert("peak_rss_mb".into(), mb(sys::peak_rss_kb()));
    let mut cache = RateCache::default();
    let (mut train, mut inference) = (Map::new(), Map::new());
    for (kind, batch, training, mut fig) in figures {
        let lim = limit(mnist_cnn_products(batch, training), batch, &o.gemm_timing, &mut cache);
        let rate = fig["nabla"]["median"].as_f64().unwrap_or(0.0);
        eprintln!(
            "cnn {kind} threads={} batch={batch}: GEMM-bound limit {:.0} samples/s, nabla at {:.0} % of it",
            sys::gemm_threads(),
            lim.samples_per_s(),
            100.0 * rate / lim.samples_per_s()
        );
        fig["limit"] = limit_json(&lim);
        fig["ratio_to_limit"] = json!(rate / lim.samples_per_s());
        let target = if training { &mut train } else { &mut inference };
        target.insert(format!("batch_{batch}"), fig);
    }
    out.insert("train".into(), Value::Object(train));
    if o.step.infer {
        out.insert("inference".into(), Value::Object(inference));
    }
    print_with_loadavg_end(out);
    ExitCode::SUCCESS
}
