//! The plugin in a training config: the trainer resolves `lion` by name with no change to the
//! trainer or the built-in crates, once the binary links the plugin crate.

// The one line a binary needs so that the plugin's registration is linked (docs/plugins.md).
use nabla_lion as _;

use nabla_train::{RunOptions, TrainConfig, Trainer};

const CONFIG: &str = include_str!("fixtures/lion.toml");

#[test]
fn a_config_naming_lion_trains_with_it() {
    let config = TrainConfig::from_toml_str(CONFIG, "lion.toml", &[]).unwrap();
    let mut trainer = Trainer::new(config).unwrap();
    assert_eq!(trainer.optimizer().name(), "lion");
    let effective: toml::Table = trainer.effective_config().parse().unwrap();
    assert_eq!(effective["optimizer"]["name"].as_str(), Some("lion"));

    let dir = tempfile::tempdir().unwrap();
    let summary = trainer.run(&RunOptions::quiet(dir.path())).unwrap();
    let first = &summary.history[0];
    let last = summary.history.last().unwrap();
    assert!(last.train_loss < first.train_loss, "{first:?} -> {last:?}");
    assert!(last.test_accuracy > 0.5, "well above chance (0.1); lion reached only {:.3}", last.test_accuracy);
}

#[test]
fn the_alias_resolves_from_a_config_too() {
    let config =
        TrainConfig::from_toml_str(CONFIG, "lion.toml", &["optimizer.name=evolved-sign-momentum".into()])
            .unwrap();
    assert_eq!(Trainer::new(config).unwrap().optimizer().name(), "lion");
}
