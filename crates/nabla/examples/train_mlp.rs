//! The chapter-3 MLP in a few lines of library code: every component named, as in a config.
//! Run: `cargo run --release -p nabla --example train_mlp`
use nabla::train::{Progress, RunOptions, TrainConfig, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = TrainConfig::from_toml_str(
        r#"
        epochs = 20
        data = { name = "digits" }
        loss = { name = "cross_entropy" }
        optimizer = { name = "adam", lr = 1e-3 }
        [model]
        weight_init = "he_uniform"
        layers = [
            { name = "linear", out_features = 512 }, { name = "batch_norm1d" }, { name = "relu" }, { name = "dropout", p = 0.2 },
            { name = "linear", out_features = 256 }, { name = "batch_norm1d" }, { name = "relu" }, { name = "dropout", p = 0.2 },
            { name = "linear", out_features = 10 },
        ]
        "#,
        "example",
        &[],
    )?;
    let summary = Trainer::new(config)?
        .run(&RunOptions { out_dir: "runs/example".into(), progress: Progress::Auto })?;
    println!("test accuracy: {:.2}%", 100.0 * summary.final_metrics.test_accuracy);
    Ok(())
}
