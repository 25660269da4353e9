//! Run directories that cannot be lost, bounded sizes, non-finite state kept off disk, and
//! crash consistency (issue 14, items 1 to 4), on a tiny slice of the embedded digits.

use nabla_train::{load_for_eval, MetricsLog, RunOptions, TrainConfig, TrainError, Trainer};
use std::path::Path;

const TINY: &str = include_str!("fixtures/tiny.toml");

fn config(overrides: &[&str]) -> TrainConfig {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    TrainConfig::from_toml_str(TINY, "tiny.toml", &o).unwrap()
}

fn trainer(overrides: &[&str]) -> Result<Trainer, TrainError> {
    Trainer::new(config(overrides))
}

fn checkpoint_bytes(run: &Path) -> Vec<Vec<u8>> {
    let latest = nabla_train::latest_checkpoint(run).unwrap();
    nabla_train::CHECKPOINT_FILES.iter().map(|f| std::fs::read(latest.join(f)).unwrap()).collect()
}

fn snapshot(run: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in walk(run) {
        files.push((entry.strip_prefix(run).unwrap().display().to_string(), std::fs::read(&entry).unwrap()));
    }
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.file_name().unwrap() != "lock" {
            out.push(p);
        }
    }
    out
}

#[test]
fn sizes_beyond_the_memory_budget_are_errors_naming_the_key() {
    for (set, key) in [
        ("model.layers.0.out_features=2000000000", "out_features"),
        ("model.layers.0.out_features=9223372036854775807", "out_features"),
        ("max_memory=10000", "out_features"),
    ] {
        let err = trainer(&[set]).err().unwrap_or_else(|| panic!("{set} must be refused")).to_string();
        assert!(err.contains(key) && err.contains("budget"), "{set}: {err}");
    }
    // The model fits in 200 kB, a batch of 120 samples' activations does not.
    let err = trainer(&["max_memory=200000", "model.layers.0.out_features=64"]).err().unwrap().to_string();
    assert!(err.contains("batch_size") && err.contains("max_memory"), "{err}");
    // A batch larger than the split is one full batch, as in PyTorch: nothing to refuse.
    let mut huge =
        trainer(&["batch_size=1000000000000", "eval_batch_size=9223372036854775807", "epochs=1"]).unwrap();
    let summary = huge.run(&RunOptions::in_memory()).unwrap();
    assert_eq!(summary.final_metrics.step, 1);
    for bad in ["optimizer.lr=inf", "optimizer.lr=nan", "optimizer.betas=[0.9, 1.0]"] {
        let err = trainer(&[bad]).err().unwrap_or_else(|| panic!("{bad} must be refused")).to_string();
        assert!(err.contains("must be"), "{bad}: {err}");
    }
    let err = trainer(&["optimizer.name=sgd", "optimizer.momentum=1.5"]).err().unwrap().to_string();
    assert!(err.contains("momentum") && err.contains("[0, 1)"), "{err}");
}

#[test]
fn a_new_run_never_lands_on_an_old_one_and_overwriting_keeps_it_until_the_first_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    trainer(&["epochs=1"]).unwrap().run(&RunOptions::quiet(&run)).unwrap();
    let before = snapshot(&run);

    let err = trainer(&["epochs=1"]).unwrap().run(&RunOptions::quiet(&run)).unwrap_err().to_string();
    assert!(err.contains("--overwrite"), "{err}");
    assert_eq!(snapshot(&run), before, "a refused run touches nothing");

    // An overwriting run that stops before its first checkpoint leaves the old run whole.
    let mut failing = trainer(&["optimizer.name=sgd", "epochs=2"]).unwrap();
    failing.optimizer_mut().set_lr(f64::MAX);
    let err = failing.run(&RunOptions::quiet(&run).overwriting()).unwrap_err().to_string();
    assert!(err.contains("not finite") && err.contains("this run has written no checkpoint yet"), "{err}");
    assert_eq!(snapshot(&run), before, "the old run is untouched");
    load_for_eval(&run, None, &[]).unwrap();
    Trainer::resume(&run, Some(2)).unwrap();

    // A successful overwrite replaces it: its own config, log and checkpoint only.
    let summary =
        trainer(&["epochs=2", "seed=9"]).unwrap().run(&RunOptions::quiet(&run).overwriting()).unwrap();
    let log = MetricsLog::read(&run.join("metrics.jsonl")).unwrap();
    assert_eq!(log.iter().map(|m| m.epoch).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(log.last().unwrap(), &summary.final_metrics);
    assert_eq!(TrainConfig::from_run_dir(&run).unwrap().seed, 9);
    assert_eq!(std::fs::read_to_string(run.join("latest")).unwrap(), "checkpoint-epoch0002");
    assert!(!run.join("checkpoint-epoch0001").exists());
}

#[test]
fn an_overwrite_at_the_same_epoch_never_writes_into_the_current_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    trainer(&["epochs=1"]).unwrap().run(&RunOptions::quiet(&run)).unwrap();
    trainer(&["epochs=1", "seed=1"]).unwrap().run(&RunOptions::quiet(&run).overwriting()).unwrap();
    assert_eq!(std::fs::read_to_string(run.join("latest")).unwrap(), "checkpoint-epoch0001-b");
    assert!(!run.join("checkpoint-epoch0001").exists());
    load_for_eval(&run, None, &[]).unwrap();
    let mut resumed = Trainer::resume(&run, Some(2)).unwrap();
    resumed.run(&RunOptions::quiet(&run)).unwrap();
}

#[test]
fn non_finite_weights_stop_the_run_and_never_reach_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // One batch per epoch: the loss and gradients of the only step are finite, its update
    // is not.
    let mut t = trainer(&["optimizer.name=sgd", "batch_size=1000", "epochs=1"]).unwrap();
    t.optimizer_mut().set_lr(f64::MAX);
    let err = t.run(&RunOptions::quiet(&run)).unwrap_err();
    assert!(matches!(err, TrainError::NonFinite { what: "weights", kept: None, .. }), "{err}");
    assert!(!run.join("latest").exists(), "no checkpoint of non-finite weights");
    assert!(MetricsLog::read(&run.join("metrics.jsonl")).unwrap().is_empty());
    assert!(matches!(t.save_checkpoint(&run), Err(TrainError::NonFinite { .. })));

    let mut good = trainer(&["epochs=1"]).unwrap();
    good.run(&RunOptions::quiet(tmp.path().join("good"))).unwrap();
    good.optimizer_mut().set_lr(f64::MAX);
    good.set_epochs(2);
    let err = good.run(&RunOptions::quiet(tmp.path().join("good"))).unwrap_err().to_string();
    assert!(err.contains("the checkpoint of epoch 1 is kept"), "{err}");
}

#[test]
fn checkpoints_are_byte_identical_across_identical_and_resumed_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    trainer(&[]).unwrap().run(&RunOptions::quiet(&a)).unwrap();
    trainer(&[]).unwrap().run(&RunOptions::quiet(&b)).unwrap();
    assert_eq!(checkpoint_bytes(&a), checkpoint_bytes(&b));

    trainer(&["epochs=1"]).unwrap().run(&RunOptions::quiet(&c)).unwrap();
    // A crash after the metrics line of epoch 2 and before its checkpoint: a line past the
    // checkpoint, half a line, and a stale temporary file.
    let line = std::fs::read_to_string(c.join("metrics.jsonl")).unwrap();
    let second = line.replace("\"epoch\":1", "\"epoch\":2");
    std::fs::write(c.join("metrics.jsonl"), format!("{line}{second}{{\"epoch\":3,\"ste")).unwrap();
    std::fs::write(c.join(".latest.tmp-99999"), "checkpoint-epoch0002").unwrap();

    let mut resumed = Trainer::resume(&c, Some(3)).unwrap();
    let summary = resumed.run(&RunOptions::quiet(&c)).unwrap();
    assert_eq!(checkpoint_bytes(&c), checkpoint_bytes(&a), "resumed = uninterrupted, byte for byte");
    let log = MetricsLog::read(&c.join("metrics.jsonl")).unwrap();
    assert_eq!(log.iter().map(|m| m.epoch).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(!c.join(".latest.tmp-99999").exists());
    // The saved config and the summary describe the whole run, not the resumed part.
    assert_eq!(TrainConfig::from_run_dir(&c).unwrap().epochs, 3);
    let best =
        log.iter()
            .fold((f64::MIN, 0), |b, m| if m.test_accuracy > b.0 { (m.test_accuracy, m.epoch) } else { b });
    assert_eq!(summary.best_test_accuracy, best);
}

#[test]
fn a_resume_that_would_do_nothing_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    trainer(&["epochs=2"]).unwrap().run(&RunOptions::quiet(&run)).unwrap();
    for epochs in [Some(1), Some(2), None] {
        let mut resumed = Trainer::resume(&run, epochs).expect("a finished run loads for inspection");
        let err = resumed.run(&RunOptions::quiet(&run)).err().unwrap().to_string();
        assert!(err.contains("has done 2 epochs") && err.contains("--epochs N with N > 2"), "{err}");
    }
}
