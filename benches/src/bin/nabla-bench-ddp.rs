//! `nabla-bench-ddp`: one process of a data-parallel benchmark of the chapter-3 MNIST MLP
//! (784-512-256-10, `configs/mnist_mlp.toml`), started by `mpirun -np W`; built with the
//! `mpi` feature and run by `cargo xtask bench --distributed`.
//!
//! Every rank trains its own random MNIST-shaped batches of `global batch / W` through
//! [`Trainer::train_step`](nabla_train::Trainer::train_step), the gradients averaged over
//! the ranks as in `nabla train` under `mpirun`; as PyTorch's `bench_ddp.py`, windows of
//! steps are timed between barriers and rank 0 prints one JSON object: the global training
//! samples/s of each window and their median, and per step the seconds spent in the
//! gradient all-reduces (waiting for the slowest rank included) and the bytes all-reduced,
//! and the time of one all-reduce of the gradients' size alone (the transfer cost).
//!
//! ```text
//! mpirun -np W nabla-bench-ddp --global-batch 512 [--seconds 4] [--reps 3]
//! ```

use nabla_benches::cli::Args;
use nabla_benches::workload::{mnist_trainer, train_step, BatchPool};
use nabla_distributed::{Collective, MpiCollective};
use serde_json::json;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

struct Options {
    global_batch: usize,
    seconds: f64,
    reps: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options { global_batch: 512, seconds: 4.0, reps: 3 };
    let mut args = Args::from_env();
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--global-batch" => {
                let v = args.value(&flag)?;
                o.global_batch = v.parse().map_err(|_| format!("--global-batch: '{v}' is not a count"))?;
            }
            "--seconds" => {
                let v = args.value(&flag)?;
                o.seconds = v.parse().map_err(|_| format!("--seconds: '{v}' is not a number"))?;
                if !(o.seconds.is_finite() && o.seconds > 0.0) {
                    return Err("--seconds must be positive".into());
                }
            }
            "--reps" => {
                let v = args.value(&flag)?;
                o.reps = v.parse().map_err(|_| format!("--reps: '{v}' is not a count"))?;
                if o.reps == 0 {
                    return Err("--reps must be at least 1".into());
                }
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(o)
}

/// Every rank waits for every other (an all-gather of nothing much).
fn barrier(group: &dyn Collective) -> Result<(), String> {
    group.all_gather_u64(0, "benchmark barrier").map(|_| ()).map_err(|e| e.to_string())
}

fn run(o: &Options, group: Rc<MpiCollective>) -> Result<(), String> {
    let world = group.size();
    if !o.global_batch.is_multiple_of(world) || o.global_batch / world < 2 {
        return Err(format!(
            "the global batch {} does not split into batches of at least 2 on {world} processes",
            o.global_batch
        ));
    }
    let batch = o.global_batch / world;
    let mut trainer = mnist_trainer(batch);
    trainer.join_group(group.clone()).map_err(|e| e.to_string())?;
    // Each rank its own data, as DistributedSampler shards give.
    let mut pool = BatchPool::new(batch, 4, 1000 + group.rank() as u64);
    for _ in 0..10 {
        train_step(&mut trainer, &mut pool);
    }
    // Calibrate on a fixed count of steps, the same on every rank (each step is a
    // collective: ranks stopping at different counts would mismatch their collectives);
    // the slowest rank's time sets the window length on every rank.
    const CALIBRATION_STEPS: u64 = 20;
    barrier(group.as_ref())?;
    let started = Instant::now();
    for _ in 0..CALIBRATION_STEPS {
        train_step(&mut trainer, &mut pool);
    }
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let times = group.all_gather_u64(nanos, "benchmark calibration").map_err(|e| e.to_string())?;
    let slowest = times.iter().copied().max().unwrap_or(nanos).max(1) as f64 * 1e-9;
    let per_step = slowest / CALIBRATION_STEPS as f64;
    let steps = ((o.seconds / o.reps as f64 / per_step) as usize).max(3);

    let before = trainer.comm_stats().unwrap_or_default();
    let mut windows = Vec::with_capacity(o.reps);
    let timed = Instant::now();
    for _ in 0..o.reps {
        barrier(group.as_ref())?;
        let t0 = Instant::now();
        for _ in 0..steps {
            train_step(&mut trainer, &mut pool);
        }
        barrier(group.as_ref())?;
        windows.push((steps * o.global_batch) as f64 / t0.elapsed().as_secs_f64());
    }
    let wall = timed.elapsed().as_secs_f64();
    let after = trainer.comm_stats().unwrap_or_default();
    let total_steps = (steps * o.reps) as f64;
    let comm_seconds = (after.gradient_seconds - before.gradient_seconds) / total_steps;
    let bytes = (after.gradient_bytes - before.gradient_bytes) as f64 / total_steps;
    let calls = (after.gradient_calls - before.gradient_calls) as f64 / total_steps;
    // The all-reduce alone on a buffer of the gradients' size, without training in
    // between: the transfer cost for a projection, apart from the waiting for a slower rank
    // that the in-step figure includes.
    let (_, elements) = trainer.gradient_buckets().unwrap_or((0, 0));
    let mut buf = vec![1.0f32; elements.max(1)];
    const ALLREDUCE_REPS: usize = 20;
    barrier(group.as_ref())?;
    let t0 = Instant::now();
    for _ in 0..ALLREDUCE_REPS {
        group.all_reduce_sum_f32(&mut buf, "benchmark all-reduce").map_err(|e| e.to_string())?;
    }
    let allreduce_only = if world > 1 { t0.elapsed().as_secs_f64() / ALLREDUCE_REPS as f64 } else { 0.0 };
    let mut sorted = windows.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if group.rank() == 0 {
        let (buckets, elements) = trainer.gradient_buckets().unwrap_or((0, 0));
        let report = json!({
            "world": world,
            "global_batch": o.global_batch,
            "per_process_batch": batch,
            "median": median,
            "best": sorted[sorted.len() - 1],
            "windows": windows,
            "steps_per_window": steps,
            "seconds_per_step": wall / total_steps,
            "comm_seconds_per_step": comm_seconds,
            "allreduce_bytes_per_step": bytes,
            "allreduce_calls_per_step": calls,
            "allreduce_only_seconds": allreduce_only,
            "buckets": buckets,
            "gradient_elements": elements,
        });
        println!("{report}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("nabla-bench-ddp: {e}");
            return ExitCode::FAILURE;
        }
    };
    let group = match MpiCollective::init() {
        Ok(g) => Rc::new(g),
        Err(e) => {
            eprintln!("nabla-bench-ddp: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = run(&options, Rc::clone(&group)) {
        // The other ranks wait in a collective: end them all.
        group.abort(1, &format!("nabla-bench-ddp: {e}"));
    }
    ExitCode::SUCCESS
}
