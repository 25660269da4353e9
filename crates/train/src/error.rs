//! Errors of the trainer.

use std::path::PathBuf;
use thiserror::Error;

/// Everything that can stop a run, each with where it happened.
#[derive(Debug, Error)]
pub enum TrainError {
    /// A config value is wrong: names the file, the table and the key.
    #[error("{file}: [{table}]{}: {message}", if key.is_empty() { String::new() } else { format!(" {key}") })]
    Config {
        /// The config file.
        file: String,
        /// The table (`optimizer`, `model.layers[2]`, `top level`).
        table: String,
        /// The key within the table (may be empty when the table itself is the problem).
        key: String,
        /// What is wrong, with the registry's suggestion where there is one.
        message: String,
    },
    /// The config is not valid TOML.
    #[error("{file}: not valid TOML: {message}")]
    ConfigSyntax {
        /// The config file.
        file: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The loss, a gradient, a weight or the optimizer state became NaN or infinite.
    #[error("training stopped: the {what} is not finite ({value}) at epoch {epoch}, step {step}; {}",
        match kept { Some(e) => format!("the checkpoint of epoch {e} is kept"), None => "this run has written no checkpoint yet".to_string() })]
    NonFinite {
        /// `loss`, `gradient norm`, `weights` or `optimizer state`.
        what: &'static str,
        /// The offending value.
        value: f64,
        /// Epoch, from 1.
        epoch: usize,
        /// Optimizer step, from 1.
        step: u64,
        /// The epoch of the run's newest checkpoint, which stays `latest`; `None` when there
        /// is none.
        kept: Option<usize>,
    },
    /// A checkpoint is missing, malformed or does not fit the model.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A checkpoint file is missing, too large, corrupt, malformed or does not fit the model.
    #[error("{}: {message}", path.display())]
    CheckpointFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// One tensor of a checkpoint file is corrupt, of an unusable dtype or shape, missing, or
    /// does not fit the model.
    #[error("{}: tensor '{tensor}' {message}", path.display())]
    CheckpointTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// The run directory cannot be used: it holds another run, or another process writes it.
    #[error("{}: {message}", dir.display())]
    RunDir {
        /// The run directory.
        dir: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The run directory has no checkpoint to resume or evaluate.
    #[error("{} has no checkpoint yet (no 'latest' file)", run_dir.display())]
    NoCheckpoint {
        /// The run directory.
        run_dir: PathBuf,
    },
    /// Building or running a layer or loss failed.
    #[error(transparent)]
    Layer(#[from] nabla_layers::LayerError),
    /// The optimizer or scheduler failed.
    #[error(transparent)]
    Optim(#[from] nabla_optim::OptimError),
    /// Loading data failed.
    #[error(transparent)]
    Data(#[from] nabla_data::DataError),
    /// A data-parallel collective failed, or the ranks disagree about the config or data.
    #[error(transparent)]
    Distributed(#[from] nabla_distributed::DistributedError),
    /// The autograd engine failed.
    #[error(transparent)]
    Autograd(#[from] nabla_autograd::AutogradError),
    /// A [`TrainHook`](crate::TrainHook) of the caller's failed for a reason of its own.
    #[error(transparent)]
    Hook(Box<dyn std::error::Error + Send + Sync + 'static>),
}
