//! The error type of the experiments.

use std::path::PathBuf;
use thiserror::Error;

/// Everything that can stop an experiment. Names, options and files come from outside the
/// program, so every problem with them is one of these (never a panic).
#[derive(Debug, Error)]
pub enum ExperimentError {
    /// An experiment name that is not one of the five.
    #[error("unknown experiment '{name}'{hint}; experiments: {known}")]
    UnknownExperiment {
        /// The name as given.
        name: String,
        /// ` (did you mean 'x'?)` or empty.
        hint: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A command-line option is missing its value, has a bad value or is unknown.
    #[error("{0}")]
    Usage(String),
    /// Building or running a model failed (config, data, layers, optimizer).
    #[error("{context}: {source}")]
    Train {
        /// Which experiment and setting.
        context: String,
        /// The cause (boxed: the error stays small on the happy path).
        source: Box<nabla_train::TrainError>,
    },
    /// Loading the data set failed.
    #[error("{context}: {source}")]
    Data {
        /// Which experiment.
        context: String,
        /// The cause (boxed: the error stays small on the happy path).
        source: Box<nabla_data::DataError>,
    },
    /// A layer or the autograd engine failed while probing a model.
    #[error("{context}: {message}")]
    Probe {
        /// Which experiment and setting.
        context: String,
        /// What failed.
        message: String,
    },
    /// Drawing a figure failed.
    #[error("{}: cannot draw the figure: {message}", path.display())]
    Plot {
        /// The figure file.
        path: PathBuf,
        /// The plotting library's message.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

impl ExperimentError {
    /// A training error in the given context.
    pub(crate) fn train(context: impl Into<String>, source: nabla_train::TrainError) -> ExperimentError {
        ExperimentError::Train { context: context.into(), source: Box::new(source) }
    }

    /// A data error in the given context.
    pub(crate) fn data(context: impl Into<String>, source: nabla_data::DataError) -> ExperimentError {
        ExperimentError::Data { context: context.into(), source: Box::new(source) }
    }

    /// A probing error (layer, autograd) in the given context.
    pub(crate) fn probe(context: impl Into<String>, message: impl ToString) -> ExperimentError {
        ExperimentError::Probe { context: context.into(), message: message.to_string() }
    }
}
