//! The nabla trainer: a TOML config in which every component is named — data set, layers,
//! initializers, loss, optimizer, scheduler — resolved through the registry, a training loop
//! with metrics and progress, and exact checkpoints.
//!
//! ```no_run
//! use nabla_train::{RunOptions, TrainConfig, Trainer};
//! let config = TrainConfig::default_digits();
//! let mut trainer = Trainer::new(config).unwrap();
//! let summary = trainer.run(&RunOptions::quiet("runs/example")).unwrap();
//! println!("test accuracy {:.2}%", 100.0 * summary.final_metrics.test_accuracy);
//! ```

pub mod checkpoint;
mod config;
mod error;
pub mod files;
mod metrics;
mod trainer;

pub use checkpoint::{evaluate_checkpoint, load_for_eval, EvalModel, Evaluation};
pub use config::{
    apply_override, default_run_dir, CheckpointConfig, ClipConfig, ComponentSpec, SchedulerInterval,
    TrainConfig, DEFAULT_CONFIG,
};
pub use error::TrainError;
pub use files::{read_safetensors, to_safetensors, write_atomic, Dtype, FileDigest, RawTensor, TensorFile};
pub use metrics::{format_epoch, EpochMetrics, MetricsLog};
pub use trainer::{count_correct, Progress, RunOptions, RunSummary, Trainer};
