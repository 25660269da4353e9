//! Data-parallel training over a `ThreadGroup` (ranks as threads, no MPI): N processes with
//! a per-process batch of B / N train the same model as one process with batch B; ranks
//! that disagree about the config are stopped on every rank; only rank 0 writes.

mod common;

use common::{buffer_values, parameter_values};
use nabla_distributed::{Collective, ThreadGroup};
use nabla_train::{RunOptions, TrainConfig, Trainer};
use std::rc::Rc;

/// Digits, Linear -> BatchNorm1d -> ReLU -> Linear, SGD with momentum, no dropout; one
/// epoch of full batches (drop_last) so both runs take the same 22 steps.
fn config(batch_size: usize, extra: &[String]) -> TrainConfig {
    let text = format!(
        r#"
seed = 3
epochs = 1
batch_size = {batch_size}
drop_last = true
[data]
name = "digits"
scale = true
[model]
[[model.layers]]
name = "linear"
out_features = 32
[[model.layers]]
name = "batch_norm1d"
[[model.layers]]
name = "relu"
[[model.layers]]
name = "linear"
out_features = 10
[loss]
name = "cross_entropy"
[optimizer]
name = "sgd"
lr = 0.1
momentum = 0.9
[distributed]
sync_batch_norm = true
"#
    );
    TrainConfig::from_toml_str(&text, "<test>", extra).expect("valid config")
}

fn relative(a: &[f32], b: &[f32]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum::<f64>().sqrt();
    diff / norm.max(1e-30)
}

#[test]
fn two_ranks_with_half_batches_match_one_process_with_the_whole_batch() {
    let mut single = Trainer::new(config(64, &[])).expect("builds");
    let one = single.run(&RunOptions::in_memory()).expect("trains");
    assert_eq!(single.steps_done(), 22);

    let ranks = ThreadGroup::run(2, |group| {
        let mut t = Trainer::new(config(32, &[])).expect("builds");
        t.join_group(Rc::new(group)).expect("joins");
        let summary = t.run(&RunOptions::in_memory()).expect("trains");
        let stats = t.comm_stats().expect("a group of two");
        (parameter_values(&t), buffer_values(&t), summary.final_metrics, t.steps_done(), stats)
    });
    let reference = parameter_values(&single);
    for (params, bufs, metrics, steps, stats) in &ranks {
        assert_eq!(*steps, 22);
        for ((name, a), (_, b)) in params.iter().zip(&reference) {
            let r = relative(a, b);
            assert!(r < 1e-5, "{name}: relative difference {r:e}");
        }
        assert!(relative(bufs, &buffer_values(&single)) < 1e-5);
        assert!((metrics.train_loss - one.final_metrics.train_loss).abs() < 1e-5);
        assert!((metrics.test_accuracy - one.final_metrics.test_accuracy).abs() < 1e-9);
        // One bucket (far below 25 MiB) per step, the whole model each time.
        let elements: usize = reference.iter().map(|(_, v)| v.len()).sum();
        assert_eq!(stats.gradient_calls, 22);
        assert_eq!(stats.gradient_bytes, 22 * 4 * elements as u64);
    }
    // Every rank ends with identical parameters.
    assert_eq!(ranks[0].0, ranks[1].0);
}

#[test]
fn the_global_batch_size_is_divided_among_ranks() {
    let global = ["batch_size=64".to_string(), "distributed.batch_size=\"global\"".to_string()];
    let ranks = ThreadGroup::run(2, |group| {
        let mut t = Trainer::new(config(64, &global)).expect("builds");
        t.join_group(Rc::new(group)).expect("joins");
        t.run(&RunOptions::in_memory()).expect("trains");
        t.steps_done()
    });
    assert_eq!(ranks, vec![22, 22]);
    let odd = ThreadGroup::run(3, |group| {
        let mut t = Trainer::new(config(64, &global)).expect("builds");
        t.join_group(Rc::new(group)).map_err(|e| e.to_string())
    });
    assert!(odd[0].as_ref().expect_err("64 / 3").contains("does not divide among 3"));
}

#[test]
fn ranks_with_different_configs_stop_on_every_rank() {
    let errors = ThreadGroup::run(2, |group| {
        let lr = if group.rank() == 1 { "optimizer.lr=0.2" } else { "optimizer.lr=0.1" };
        let mut t = Trainer::new(config(32, &[lr.to_string()])).expect("builds");
        t.join_group(Rc::new(group)).map_err(|e| e.to_string())
    });
    for (rank, e) in errors.iter().enumerate() {
        let message = e.as_ref().expect_err("configs differ");
        assert!(message.contains(&format!("rank {rank} of 2: the effective config differs")), "{message}");
    }
}

#[test]
fn only_rank_zero_writes_the_run_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    ThreadGroup::run(2, |group| {
        let rank = group.rank();
        let mut t = Trainer::new(config(32, &[])).expect("builds");
        t.join_group(Rc::new(group)).expect("joins");
        t.run(&RunOptions::quiet(root.join(format!("rank{rank}")))).expect("trains");
    });
    assert!(root.join("rank0/config.toml").is_file());
    assert!(root.join("rank0/metrics.jsonl").is_file());
    assert!(!root.join("rank1").exists());
    let saved = std::fs::read_to_string(root.join("rank0/config.toml")).expect("saved");
    assert!(saved.contains("[distributed]") && saved.contains("batch_size = \"per_process\""), "{saved}");
}

/// A checkpoint of a data-parallel run resumes on another number of processes: on two
/// ranks an epoch of 1438 digits at 32 per rank is 23 steps, on one process 45; the step
/// count goes on from the checkpoint's, and the optimizer state is the one saved.
#[test]
fn a_data_parallel_checkpoint_resumes_on_another_number_of_processes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = dir.path().join("run");
    let extra = ["epochs=2".to_string(), "drop_last=false".to_string()];
    ThreadGroup::run(2, |group| {
        let mut t = Trainer::new(config(32, &extra)).expect("builds");
        t.join_group(Rc::new(group)).expect("joins");
        t.run(&RunOptions::quiet(run.clone())).expect("trains");
    });
    let mut alone = Trainer::resume_with(&run, Some(3), &[]).expect("resumes on one process");
    assert_eq!((alone.epochs_done(), alone.steps_done()), (2, 46));
    alone.run(&RunOptions::quiet(run.clone())).expect("trains on");
    assert_eq!(alone.steps_done(), 46 + 45);

    // And back on two ranks: the same checkpoint on each, the step count going on.
    let steps = ThreadGroup::run(2, |group| {
        let mut t = Trainer::resume_with(&run, Some(4), &[]).expect("resumes on two ranks");
        t.join_group(Rc::new(group)).expect("joins");
        t.run(&RunOptions::quiet(run.clone())).expect("trains");
        t.steps_done()
    });
    assert_eq!(steps, vec![46 + 45 + 23; 2]);

    // The checkpoints say that their steps per epoch vary.
    let json = std::fs::read_to_string(run.join("checkpoint-epoch0004/trainer.json")).expect("trainer.json");
    assert!(json.contains("\"data_parallel\": true"), "{json}");
}

/// [`config`] with a dropout layer in place of the batch norm: the masks are drawn on every
/// rank.
fn dropout_config(epochs: usize) -> TrainConfig {
    let extra =
        [format!("epochs={epochs}"), "model.layers.1.name=dropout".into(), "model.layers.1.p=0.5".into()];
    config(32, &extra)
}

/// A data-parallel run with dropout resumed at an epoch boundary on the same number of
/// processes is bit-for-bit the uninterrupted run: only rank 0's generators are
/// checkpointed, and every other rank's are derived from them at each epoch's start.
#[test]
fn a_data_parallel_run_with_dropout_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let straight = ThreadGroup::run(2, |group| {
        let mut t = Trainer::new(dropout_config(3)).expect("builds");
        t.join_group(Rc::new(group)).expect("joins");
        t.run(&RunOptions::quiet(dir.path().join("straight"))).expect("trains");
        parameter_values(&t)
    });
    let run = dir.path().join("resumed");
    ThreadGroup::run(2, |group| {
        let mut t = Trainer::new(dropout_config(1)).expect("builds");
        t.join_group(Rc::new(group)).expect("joins");
        t.run(&RunOptions::quiet(run.clone())).expect("trains");
    });
    let resumed = ThreadGroup::run(2, |group| {
        let mut t = Trainer::resume_with(&run, Some(3), &[]).expect("resumes");
        t.join_group(Rc::new(group)).expect("joins");
        t.run(&RunOptions::quiet(run.clone())).expect("trains on");
        parameter_values(&t)
    });
    assert_eq!(straight[0], straight[1], "every rank holds the same model");
    assert_eq!(resumed[0], straight[0], "the resumed run is the uninterrupted one");
}

/// Ranks resumed from different checkpoints of one run (a stale copy of the run directory on
/// one node) are stopped at start on every rank, before any epoch is sharded differently.
#[test]
fn ranks_resumed_at_different_epochs_stop_on_every_rank() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ahead, behind) = (dir.path().join("ahead"), dir.path().join("behind"));
    for (run, epochs) in [(&ahead, 2), (&behind, 1)] {
        let mut t = Trainer::new(config(32, &[format!("epochs={epochs}")])).expect("builds");
        t.run(&RunOptions::quiet(run.clone())).expect("trains");
    }
    let errors = ThreadGroup::run(2, |group| {
        let run = if group.rank() == 0 { &ahead } else { &behind };
        let mut t = Trainer::resume_with(run, Some(3), &[]).expect("resumes");
        t.join_group(Rc::new(group)).map_err(|e| e.to_string())
    });
    for (rank, e) in errors.iter().enumerate() {
        let message = e.as_ref().expect_err("progress differs");
        assert!(message.contains(&format!("rank {rank} of 2: the training progress")), "{message}");
    }
}
