//! The nabla trainer: a config in which every component is named — data set, layers,
//! initializers, loss, optimizer, scheduler — resolved through the registry, written as TOML
//! or built in Rust ([`TrainConfig::builder`]), a training loop with per-step and per-epoch
//! hooks ([`TrainHook`]), metrics and progress, and exact checkpoints.
//!
//! ```no_run
//! use nabla_train::{RunOptions, TrainConfig, Trainer};
//! let config = TrainConfig::default_digits();
//! let mut trainer = Trainer::new(config).unwrap();
//! let summary = trainer.run(&RunOptions::quiet("runs/example").overwriting()).unwrap();
//! println!("test accuracy {:.2}%", 100.0 * summary.final_metrics.test_accuracy);
//! ```

pub mod budget;
mod builder;
pub mod checkpoint;
mod config;
pub mod data_parallel;
mod error;
pub mod files;
pub mod hooks;
mod metrics;
pub mod run_dir;
mod trainer;

pub use builder::{IntoParams, IntoValue, TrainConfigBuilder};
pub use checkpoint::{
    evaluate_checkpoint, init_from, latest_checkpoint, load_for_eval, EvalModel, Evaluation, InitReport,
    CHECKPOINT_FILES,
};
pub use config::{
    apply_override, default_run_dir, BatchSizeMeaning, CheckpointConfig, ClipConfig, ComponentSpec,
    DistributedConfig, SchedulerInterval, TrainConfig, DEFAULT_CONFIG,
};
pub use data_parallel::CommStats;
pub use error::TrainError;
pub use files::{read_safetensors, to_safetensors, write_atomic, Dtype, FileDigest, RawTensor, TensorFile};
pub use hooks::{EpochStart, StepInfo, TrainHook};
pub use metrics::{format_epoch, EpochMetrics, MetricsLog};
pub use trainer::{count_correct, Progress, RunOptions, RunSummary, Trainer};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
