//! End-to-end trainer tests on the embedded digits: config errors, determinism, exact resume,
//! the non-finite stop.

mod common;

use common::parameter_bits;
use nabla_train::{MetricsLog, RunOptions, TrainConfig, TrainError, Trainer};
use std::path::Path;

const SMALL: &str = include_str!("fixtures/small.toml");

fn config(overrides: &[&str]) -> Result<TrainConfig, TrainError> {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    TrainConfig::from_toml_str(SMALL, "small.toml", &o)
}

fn error_of(overrides: &[&str]) -> String {
    match config(overrides).and_then(Trainer::new) {
        Ok(_) => panic!("expected an error for {overrides:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn config_errors_name_file_table_key_and_suggest() {
    let unknown_optimizer = error_of(&["optimizer.name=adma"]);
    assert!(unknown_optimizer.starts_with("small.toml: [optimizer]"), "{unknown_optimizer}");
    assert!(unknown_optimizer.contains("did you mean 'adam'"), "{unknown_optimizer}");

    let unknown_layer = error_of(&["model.layers.2.name=rleu"]);
    assert!(unknown_layer.contains("[model.layers[2]]"), "{unknown_layer}");
    assert!(unknown_layer.contains("'relu'"), "{unknown_layer}");

    let unknown_key = error_of(&["model.layers.3.prob=0.5"]);
    assert!(unknown_key.contains("[model.layers[3]]") && unknown_key.contains("'prob'"), "{unknown_key}");
    assert!(unknown_key.contains("did you mean 'p'"), "{unknown_key}");

    let out_of_range = error_of(&["model.layers.3.p=1.5"]);
    assert!(out_of_range.contains("'p' must be"), "{out_of_range}");

    let wrong_type = error_of(&["optimizer.betas=\"fast\""]);
    assert!(wrong_type.contains("'betas' expects"), "{wrong_type}");

    let unknown_init = error_of(&["model.weight_init=he_unifrom"]);
    assert!(unknown_init.contains("he_uniform"), "{unknown_init}");

    let unknown_data = error_of(&["data.name=mnits"]);
    assert!(unknown_data.contains("[data]") && unknown_data.contains("'mnist'"), "{unknown_data}");

    let classes = error_of(&["model.layers.4.out_features=7"]);
    assert!(classes.contains("10 classes"), "{classes}");

    let top = TrainConfig::from_toml_str(&format!("epoch = 3\n{SMALL}"), "small.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(top.contains("[top level] epoch") && top.contains("did you mean 'epochs'"), "{top}");

    let syntax = TrainConfig::from_toml_str("epochs = [", "broken.toml", &[]).unwrap_err().to_string();
    assert!(syntax.starts_with("broken.toml: not valid TOML"), "{syntax}");

    let bad_override = config(&["model.layers.9.p=0.1"]).unwrap_err().to_string();
    assert!(bad_override.contains("no index 9"), "{bad_override}");
}

#[test]
fn overrides_and_effective_config() {
    let trainer = Trainer::new(config(&["optimizer.name=nag", "optimizer.lr=0.05"]).unwrap()).unwrap();
    let effective = trainer.effective_config();
    let table: toml::Table = effective.parse().unwrap();
    let opt = table["optimizer"].as_table().unwrap();
    assert_eq!(opt["name"].as_str(), Some("sgd"));
    assert_eq!(opt["momentum"].as_float(), Some(0.9));
    assert_eq!(opt["nesterov"].as_bool(), Some(true));
    assert_eq!(opt["lr"].as_float(), Some(0.05));
    let first = table["model"]["layers"][0].as_table().unwrap();
    assert_eq!(first["in_features"].as_integer(), Some(64), "{effective}");
    // The effective config is itself a valid config giving the same effective config.
    let again = Trainer::new(TrainConfig::from_toml_str(&effective, "effective.toml", &[]).unwrap()).unwrap();
    assert_eq!(again.effective_config(), effective);
}

fn losses(dir: &Path) -> Vec<(u64, u64, u64, u64)> {
    MetricsLog::read(&dir.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|m| (m.train_loss.to_bits(), m.train_accuracy.to_bits(), m.test_loss.to_bits(), m.lr.to_bits()))
        .collect()
}

#[test]
fn same_seed_same_metrics_and_resume_is_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));

    let mut straight = Trainer::new(config(&[]).unwrap()).unwrap();
    straight.run(&RunOptions::quiet(&a)).unwrap();
    let mut again = Trainer::new(config(&[]).unwrap()).unwrap();
    again.run(&RunOptions::quiet(&b)).unwrap();
    assert_eq!(losses(&a), losses(&b), "same seed, same metrics");
    assert_eq!(parameter_bits(&straight), parameter_bits(&again));

    let mut first = Trainer::new(config(&["epochs=1"]).unwrap()).unwrap();
    first.run(&RunOptions::quiet(&c)).unwrap();
    drop(first);
    let mut resumed = Trainer::resume(&c, Some(2)).unwrap();
    assert_eq!(resumed.epochs_done(), 1);
    resumed.run(&RunOptions::quiet(&c)).unwrap();
    assert_eq!(
        parameter_bits(&resumed),
        parameter_bits(&straight),
        "resumed parameters equal the uninterrupted run's"
    );
    assert_eq!(losses(&c), losses(&a), "resumed metrics equal the uninterrupted run's");

    let other = Trainer::new(config(&["seed=4"]).unwrap()).unwrap();
    assert_ne!(parameter_bits(&other), parameter_bits(&Trainer::new(config(&[]).unwrap()).unwrap()));
}

#[test]
fn non_finite_loss_stops_with_epoch_and_step_and_keeps_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut trainer = Trainer::new(config(&["epochs=1"]).unwrap()).unwrap();
    trainer.run(&RunOptions::quiet(&dir)).unwrap();
    let good = std::fs::read(dir.join("checkpoint-epoch0001/model.safetensors")).unwrap();

    // Continue the same run with an absurd learning rate: the loss overflows.
    trainer.optimizer_mut().set_lr(1e30);
    trainer.set_epochs(3);
    let message = match trainer.run(&RunOptions::quiet(&dir)) {
        Err(e @ TrainError::NonFinite { .. }) => e.to_string(),
        other => panic!("expected a non-finite stop, got {other:?}"),
    };
    assert!(message.contains("epoch 2") && message.contains("step"), "{message}");
    assert_eq!(std::fs::read_to_string(dir.join("latest")).unwrap(), "checkpoint-epoch0001");
    assert_eq!(std::fs::read(dir.join("checkpoint-epoch0001/model.safetensors")).unwrap(), good);
}

#[test]
fn schedulers_step_per_epoch_or_per_step() {
    // Per epoch (the default): `step` with gamma 0.5 halves the rate after every epoch.
    let tmp = tempfile::tempdir().unwrap();
    let mut per_epoch = Trainer::new(config(&[]).unwrap()).unwrap();
    let summary = per_epoch.run(&RunOptions::quiet(tmp.path().join("epoch"))).unwrap();
    let lrs: Vec<f64> = summary.history.iter().map(|m| m.lr).collect();
    assert_eq!(lrs, [3e-3, 1.5e-3]);

    // Per step: a warm-up starts at start_factor * lr before the first step and reaches the
    // base rate after warmup_steps optimizer steps (320 samples / 32 = 10 steps per epoch).
    let warm = [
        "scheduler.name=linear_warmup",
        "scheduler.interval=step",
        "scheduler.warmup_steps=10",
        "scheduler.start_factor=0.1",
    ];
    let mut cfg = config(&warm).unwrap();
    cfg.scheduler.as_mut().unwrap().params.remove("step_size");
    cfg.scheduler.as_mut().unwrap().params.remove("gamma");
    let mut per_step = Trainer::new(cfg).unwrap();
    assert!((per_step.optimizer().lr() - 3e-4).abs() < 1e-12, "{}", per_step.optimizer().lr());
    per_step.set_epochs(1);
    let summary = per_step.run(&RunOptions::quiet(tmp.path().join("step"))).unwrap();
    assert!((summary.history[0].lr - 3e-4).abs() < 1e-12);
    assert!((per_step.optimizer().lr() - 3e-3).abs() < 1e-12, "{}", per_step.optimizer().lr());
    let effective: toml::Table = per_step.effective_config().parse().unwrap();
    assert_eq!(effective["scheduler"]["interval"].as_str(), Some("step"));

    let bad = config(&["scheduler.interval=batch"]).unwrap_err().to_string();
    assert!(bad.contains("[scheduler] interval") && bad.contains("epoch or step"), "{bad}");
}

#[test]
fn a_validation_split_is_held_out_of_training_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = Trainer::new(config(&[]).unwrap()).unwrap();
    assert!(plain.validation().is_none());
    let mut cfg = config(&["validation_fraction=0.25", "scheduler.name=plateau"]).unwrap();
    let plateau = cfg.scheduler.as_mut().unwrap();
    plateau.params.remove("step_size");
    plateau.params.remove("gamma");
    let mut held = Trainer::new(cfg).unwrap();
    let (train, val) = (held.data().train.len(), held.validation().unwrap().len());
    assert_eq!(train + val, plain.data().train.len());
    assert!((76..=84).contains(&val), "a stratified quarter of 320 images (rounded per class), got {val}");
    assert_eq!(held.data().test.len(), plain.data().test.len(), "the test split is untouched");
    let summary = held.run(&RunOptions::quiet(tmp.path().join("val"))).unwrap();
    for m in &summary.history {
        let (loss, acc) = (m.validation_loss.unwrap(), m.validation_accuracy.unwrap());
        assert!(loss.is_finite() && (0.0..=1.0).contains(&acc), "{m:?}");
    }
    let logged = MetricsLog::read(&tmp.path().join("val/metrics.jsonl")).unwrap();
    assert_eq!(logged[0].validation_loss, summary.history[0].validation_loss);

    let bad = config(&["validation_fraction=1.0"]).unwrap_err().to_string();
    assert!(bad.contains("[top level] validation_fraction"), "{bad}");
}
