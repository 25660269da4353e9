//! The trainer driven from Rust: configs from the builder, evaluation on any data set, and
//! hooks that see every step and epoch.

mod common;

use common::parameter_bits;
use nabla_layers::Module;
use nabla_registry::Value;
use nabla_train::{
    EpochMetrics, EpochStart, RunOptions, RunSummary, StepInfo, TrainConfig, TrainError, TrainHook, Trainer,
};

const SMALL: &str = include_str!("fixtures/small.toml");

fn from_toml() -> TrainConfig {
    TrainConfig::from_toml_str(SMALL, "small.toml", &[]).unwrap()
}

/// `SMALL`, built in Rust: every form of hyper-parameters the builder takes.
fn from_builder() -> TrainConfig {
    TrainConfig::builder()
        .source("small.toml")
        .seed(3)
        .epochs(2)
        .batch_size(32)
        .data("digits", [("limit_train", 320)])
        .weight_init("he_uniform")
        .layer("linear", [("out_features", 32usize)])
        .layer("batch_norm1d", ())
        .layer("relu", ())
        .layer("dropout:p=0.2", ())
        .layer("linear", vec![("out_features", Value::Int(10))])
        .loss("cross_entropy", ())
        .optimizer("adam", [("lr", 3e-3)])
        .scheduler("step:step_size=1", [("gamma", 0.5)])
        .build()
        .unwrap()
}

fn bits(history: &[EpochMetrics]) -> Vec<[u64; 5]> {
    history
        .iter()
        .map(|m| {
            [
                m.train_loss.to_bits(),
                m.train_accuracy.to_bits(),
                m.test_loss.to_bits(),
                m.test_accuracy.to_bits(),
                m.lr.to_bits(),
            ]
        })
        .collect()
}

#[test]
fn a_builder_config_equals_the_toml_config_and_trains_bit_for_bit_alike() {
    let (built, parsed) = (from_builder(), from_toml());
    assert_eq!(built, parsed);
    let mut a = Trainer::new(built).unwrap();
    let mut b = Trainer::new(parsed).unwrap();
    assert_eq!(a.effective_config(), b.effective_config());
    let sa = a.run(&RunOptions::in_memory()).unwrap();
    let sb = b.run(&RunOptions::in_memory()).unwrap();
    assert_eq!(bits(&sa.history), bits(&sb.history));
    assert_eq!(parameter_bits(&a), parameter_bits(&b));
    assert!(sa.out_dir.is_none());
}

#[test]
fn the_builder_has_the_file_defaults_and_its_toml_reads_back() {
    let config = TrainConfig::builder()
        .data("digits", ())
        .layer("linear", [("out_features", 10)])
        .loss("cross_entropy", ())
        .optimizer("sgd:lr=0.5", [("momentum", 0.9)])
        .clip_max_norm(1.0)
        .validation_fraction(0.25)
        .build()
        .unwrap();
    let minimal = "[data]\nname = \"digits\"\n[[model.layers]]\nname = \"linear\"\nout_features = 10\n\
                   [loss]\nname = \"cross_entropy\"\n[optimizer]\nname = \"sgd\"\nlr = 0.5\nmomentum = 0.9\n\
                   [clip]\nmax_norm = 1.0\n";
    let parsed =
        TrainConfig::from_toml_str(minimal, "<builder>", &["validation_fraction=0.25".into()]).unwrap();
    assert_eq!(config, parsed, "the same defaults as a file");
    let again = TrainConfig::from_toml_str(&config.to_toml_string(), "<builder>", &[]).unwrap();
    assert_eq!(again, config, "to_toml reads back to an equal config");
}

#[test]
fn builder_errors_name_the_table_and_the_key() {
    let base = || {
        TrainConfig::builder()
            .source("mine")
            .data("digits", ())
            .layer("linear", [("out_features", 10)])
            .loss("cross_entropy", ())
            .optimizer("adam", ())
    };
    let err = |b: nabla_train::TrainConfigBuilder| b.build().unwrap_err().to_string();
    let e = err(base().epochs(0));
    assert!(e.starts_with("mine: [top level] epochs") && e.contains(">= 1"), "{e}");
    let e = err(base().validation_fraction(1.0));
    assert!(e.contains("[top level] validation_fraction") && e.contains("[0, 1)"), "{e}");
    let e = err(base().clip_max_value(-1.0));
    assert!(e.contains("[clip] max_value"), "{e}");
    let e = err(base().optimizer("adam:lr=", ()));
    assert!(e.starts_with("mine: [optimizer]"), "{e}");
    let e = err(base().layer("relu:", ()));
    assert!(e.contains("[model.layers[1]]"), "{e}");
    let e = err(TrainConfig::builder().layer("relu", ()).loss("mse", ()).optimizer("sgd", ()));
    assert!(e.contains("[data]") && e.contains("missing"), "{e}");
    let e = err(TrainConfig::builder().data("digits", ()).loss("mse", ()).optimizer("sgd", ()));
    assert!(e.contains("[model] layers") && e.contains("missing"), "{e}");
    // Hyper-parameters are validated where a file's are: when the trainer is built.
    let e =
        Trainer::new(base().optimizer("adam", [("lrr", 0.1)]).build().unwrap()).err().unwrap().to_string();
    assert!(e.contains("mine: [optimizer]") && e.contains("did you mean 'lr'"), "{e}");
}

#[test]
fn set_is_a_typed_override() {
    let mut config = from_toml();
    config.set("optimizer.lr", Value::Float(0.25)).unwrap();
    config.set("model.layers.3.p", Value::Float(0.5)).unwrap();
    config.set("epochs", Value::Int(4)).unwrap();
    let overridden = TrainConfig::from_toml_str(
        SMALL,
        "small.toml",
        &["optimizer.lr=0.25".into(), "model.layers.3.p=0.5".into(), "epochs=4".into()],
    )
    .unwrap();
    assert_eq!(config, overridden);
    let e = config.set("model.layers.9.p", Value::Float(0.1)).unwrap_err().to_string();
    assert!(e.contains("no index 9"), "{e}");
    let e = config.set("epoch", Value::Int(3)).unwrap_err().to_string();
    assert!(e.contains("small.toml: [top level] epoch") && e.contains("did you mean 'epochs'"), "{e}");
}

#[test]
fn evaluate_on_is_evaluation_mode_without_a_graph_and_changes_nothing() {
    let mut trainer = Trainer::new(from_toml()).unwrap();
    trainer.run(&RunOptions::in_memory()).unwrap();
    let test = trainer.data().test.clone();
    let train = trainer.data().train.clone();
    let params = parameter_bits(&trainer);
    let buffers = trainer.model().buffers();
    let mut rngs = Vec::new();
    trainer.model_mut().visit_rngs_mut("", &mut |_, r| rngs.push(r.state()));

    let on_test = trainer.evaluate_on(&test).unwrap();
    assert_eq!(on_test, trainer.evaluate().unwrap(), "evaluate is evaluate_on the test split");
    let (loss, acc) = trainer.evaluate_on(&train).unwrap();
    assert!(loss.is_finite() && (0.0..=1.0).contains(&acc), "{loss} {acc}");
    // Evaluation mode is deterministic: dropout is off, batch norm uses its running statistics.
    assert_eq!(trainer.evaluate_on(&train).unwrap(), (loss, acc));

    assert_eq!(parameter_bits(&trainer), params);
    assert_eq!(trainer.model().buffers(), buffers, "running statistics untouched");
    let mut after = Vec::new();
    trainer.model_mut().visit_rngs_mut("", &mut |_, r| after.push(r.state()));
    assert_eq!(after, rngs, "no dropout draws");
    assert!(trainer
        .model()
        .parameters()
        .iter()
        .all(|(_, p)| p.grad().is_none_or(|g| g.iter().all(|v| *v == 0.0))));
    assert!(trainer.model().is_training(), "the training mode is restored");
    trainer.model_mut().set_training(false);
    trainer.evaluate_on(&test).unwrap();
    assert!(!trainer.model().is_training(), "the evaluation mode is restored too");

    // Batched by eval_batch_size: another batching gives the same mean up to rounding.
    let mut config = from_toml();
    config.eval_batch_size = 7;
    let mut small_batches = Trainer::new(config).unwrap();
    small_batches.run(&RunOptions::in_memory()).unwrap();
    let (l7, a7) = small_batches.evaluate_on(&test).unwrap();
    assert!((l7 - on_test.0).abs() < 1e-5 && a7 == on_test.1, "{l7} {a7} vs {on_test:?}");
}

/// Records everything it is told, and evaluates the training split at every epoch's end.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
    steps: Vec<StepInfo>,
    epochs: Vec<EpochMetrics>,
    starts: Vec<EpochStart>,
    train_eval: Vec<(f64, f64)>,
    summary: Option<RunSummary>,
}

impl TrainHook for Recorder {
    fn on_run_start(&mut self, trainer: &mut Trainer) -> Result<(), TrainError> {
        self.events.push(format!("start {}", trainer.epochs_done()));
        Ok(())
    }

    fn on_epoch_start(&mut self, _trainer: &mut Trainer, epoch: &EpochStart) -> Result<(), TrainError> {
        self.events.push(format!("epoch {}", epoch.epoch));
        self.starts.push(*epoch);
        Ok(())
    }

    fn on_step(&mut self, trainer: &mut Trainer, step: &StepInfo) -> Result<(), TrainError> {
        assert_eq!(trainer.steps_done(), step.step);
        self.steps.push(*step);
        Ok(())
    }

    fn on_epoch_end(&mut self, trainer: &mut Trainer, metrics: &EpochMetrics) -> Result<(), TrainError> {
        self.events.push(format!("end {}", metrics.epoch));
        let train = trainer.data().train.clone();
        self.train_eval.push(trainer.evaluate_on(&train)?);
        self.epochs.push(metrics.clone());
        Ok(())
    }

    fn on_run_end(&mut self, _trainer: &mut Trainer, summary: &RunSummary) -> Result<(), TrainError> {
        self.events.push("run end".to_string());
        self.summary = Some(summary.clone());
        Ok(())
    }
}

#[test]
fn a_hook_sees_every_step_and_epoch_and_measuring_changes_nothing() {
    let mut config = from_toml();
    config.epochs = 3;
    let mut plain = Trainer::new(config.clone()).unwrap();
    let plain_summary = plain.run(&RunOptions::in_memory()).unwrap();

    let mut hooked = Trainer::new(config).unwrap();
    let mut recorder = Recorder::default();
    let summary = hooked.run_with(&RunOptions::in_memory(), &mut [&mut recorder]).unwrap();

    // 320 samples in batches of 32: 10 steps per epoch, numbered through the run.
    assert_eq!(recorder.steps.len(), 30);
    for (i, s) in recorder.steps.iter().enumerate() {
        assert_eq!(
            (s.step, s.epoch, s.batch, s.batches, s.samples),
            (i as u64 + 1, i / 10 + 1, i % 10 + 1, 10, 32)
        );
        assert!(s.loss.is_finite() && s.correct <= s.samples);
    }
    let lrs: Vec<f64> = recorder.steps.iter().map(|s| s.lr).collect();
    assert_eq!((lrs[0], lrs[10], lrs[20]), (3e-3, 1.5e-3, 7.5e-4), "the step's learning rate");
    assert_eq!(
        recorder.starts.iter().map(|e| (e.epoch, e.epochs, e.batches)).collect::<Vec<_>>(),
        [(1, 3, 10), (2, 3, 10), (3, 3, 10)]
    );
    assert_eq!(
        recorder.events,
        ["start 0", "epoch 1", "end 1", "epoch 2", "end 2", "epoch 3", "end 3", "run end"]
    );
    assert_eq!(recorder.epochs, summary.history);
    assert_eq!(recorder.summary.as_ref().map(|s| s.history.clone()), Some(summary.history.clone()));
    // The epoch's mean training loss is the sample-weighted mean of its steps' losses.
    let mean: f64 = recorder.steps[..10].iter().map(|s| s.loss * 32.0).sum::<f64>() / 320.0;
    assert_eq!(mean.to_bits(), summary.history[0].train_loss.to_bits());

    // Evaluating the training split in every epoch's hook left the run bit for bit alone.
    assert_eq!(bits(&summary.history), bits(&plain_summary.history));
    assert_eq!(parameter_bits(&hooked), parameter_bits(&plain));
    assert!(recorder.train_eval.iter().all(|(l, a)| l.is_finite() && (0.0..=1.0).contains(a)));
}

/// Stops the run at a given step with an error of its own.
struct StopAt(u64);

#[derive(Debug, thiserror::Error)]
#[error("stopped by the test at step {0}")]
struct Stopped(u64);

impl TrainHook for StopAt {
    fn on_step(&mut self, _trainer: &mut Trainer, step: &StepInfo) -> Result<(), TrainError> {
        if step.step == self.0 {
            return Err(TrainError::Hook(Box::new(Stopped(step.step))));
        }
        Ok(())
    }
}

#[test]
fn a_hook_error_stops_the_run_and_is_returned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut trainer = Trainer::new(from_toml()).unwrap();
    let err = trainer.run_with(&RunOptions::quiet(&dir), &mut [&mut StopAt(13)]).unwrap_err();
    assert_eq!(err.to_string(), "stopped by the test at step 13");
    assert!(matches!(&err, TrainError::Hook(e) if e.downcast_ref::<Stopped>().is_some()));
    assert_eq!(trainer.steps_done(), 13);
    assert_eq!(trainer.epochs_done(), 1);
    // The first epoch was logged and checkpointed before the hook stopped the second.
    let logged = nabla_train::MetricsLog::read(&dir.join("metrics.jsonl")).unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(std::fs::read_to_string(dir.join("latest")).unwrap(), "checkpoint-epoch0001");
}

#[test]
fn an_in_memory_run_reports_from_its_history_only() {
    let mut trainer = Trainer::new(from_toml()).unwrap();
    let summary = trainer.run(&RunOptions::in_memory()).unwrap();
    assert_eq!((summary.history.len(), summary.out_dir), (2, None));
    // Nothing left to train, and no log to read the last epoch from.
    let e = trainer.run(&RunOptions::in_memory()).unwrap_err().to_string();
    assert!(e.contains("no epochs to report"), "{e}");
}
