//! The chapter-3 MLP in a few lines of library code: every component named, as in a config,
//! with a hook of our own that prints the loss every 20 steps.
//! Run: `cargo run --release -p nabla --example train_mlp`
use nabla::train::{Progress, RunOptions, StepInfo, TrainConfig, TrainError, TrainHook, Trainer};

/// Prints the running loss every `every` steps.
struct EveryNSteps {
    every: u64,
}

impl TrainHook for EveryNSteps {
    fn on_step(&mut self, _trainer: &mut Trainer, step: &StepInfo) -> Result<(), TrainError> {
        if step.step.is_multiple_of(self.every) {
            eprintln!("step {:>5}  loss {:.4}", step.step, step.loss);
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = TrainConfig::builder().epochs(20).data("digits", ()).weight_init("he_uniform");
    for width in [512, 256] {
        config = config
            .layer("linear", [("out_features", width)])
            .layer("batch_norm1d", ())
            .layer("relu", ())
            .layer("dropout", [("p", 0.2)]);
    }
    let config = config
        .layer("linear", [("out_features", 10)])
        .loss("cross_entropy", ())
        .optimizer("adam:lr=1e-3", ())
        .build()?;
    let mut trainer = Trainer::new(config)?;
    let summary = trainer.run_with(
        &RunOptions::new("runs/example", Progress::Lines).overwriting(),
        &mut [&mut EveryNSteps { every: 20 }],
    )?;
    println!("test accuracy: {:.2}%", 100.0 * summary.final_metrics.test_accuracy);
    Ok(())
}
