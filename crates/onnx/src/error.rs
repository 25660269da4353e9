//! The errors of an export: each names the file, the layer or the tensor at fault.

use std::path::PathBuf;

/// Why a run could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A file is larger than the exporter reads.
    #[error("{}: {size} bytes is more than the {limit} bytes read for this file{hint}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        limit: u64,
        /// Why the cap is what it is (may be empty).
        hint: &'static str,
    },

    /// The run's configuration is missing something or malformed.
    #[error("{file}: {message}")]
    Config {
        /// The config file (or the name given to an in-memory config).
        file: String,
        /// What is wrong.
        message: String,
    },

    /// The checkpoint (the `latest` pointer or the safetensors file) is unusable.
    #[error("{}: {message}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A layer has no ONNX mapping.
    #[error(
        "model.layers[{index}]: layer '{layer}' cannot be exported to ONNX{hint}; exportable layers: {exportable}"
    )]
    UnsupportedLayer {
        /// The layer's position in `[[model.layers]]`.
        index: usize,
        /// Its name as written in the config.
        layer: String,
        /// A did-you-mean suggestion (may be empty).
        hint: String,
        /// The names that can be exported, comma separated.
        exportable: String,
    },

    /// A hyper-parameter has a value the exporter cannot read or cannot express in ONNX.
    #[error("model.layers[{index}] ('{layer}'): {key}: {message}")]
    Parameter {
        /// The layer's position.
        index: usize,
        /// Its name as written.
        layer: String,
        /// The hyper-parameter.
        key: String,
        /// What is wrong.
        message: String,
    },

    /// The values flowing into a layer do not have a shape it accepts.
    #[error("model.layers[{index}] ('{layer}'): {message}")]
    Shape {
        /// The layer's position.
        index: usize,
        /// Its name as written.
        layer: String,
        /// What is wrong.
        message: String,
    },

    /// A tensor the layer needs is not in the checkpoint.
    #[error("model.layers[{index}] ('{layer}'): tensor '{tensor}' is missing from {file}")]
    MissingTensor {
        /// The layer's position.
        index: usize,
        /// Its name as written.
        layer: String,
        /// The state-dict name (`0.weight`).
        tensor: String,
        /// The checkpoint file.
        file: String,
    },

    /// A tensor in the checkpoint does not have the shape the config implies.
    #[error(
        "model.layers[{}] ('{}'): tensor '{}' in {} has shape {:?}, the config implies {:?}",
        .0.index, .0.layer, .0.tensor, .0.file, .0.found, .0.expected
    )]
    TensorShape(Box<TensorMismatch>),

    /// The checkpoint has tensors that no layer of the config uses: config and checkpoint
    /// disagree (for example `bias = false` but a bias was saved).
    #[error("{file}: tensors not used by any layer of the config: {}", names.join(", "))]
    UnusedTensors {
        /// The checkpoint file.
        file: String,
        /// The unused names.
        names: Vec<String>,
    },

    /// The export options cannot be honoured.
    #[error("export options: {0}")]
    Options(String),

    /// The input shape could not be determined.
    #[error("cannot determine the model's input shape: {0}")]
    InputShape(String),

    /// Bytes that are not an ONNX model.
    #[error("not an ONNX model: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// The details of [`OnnxError::TensorShape`] (boxed: they would make every result large).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorMismatch {
    /// The layer's position.
    pub index: usize,
    /// Its name as written.
    pub layer: String,
    /// The state-dict name.
    pub tensor: String,
    /// The checkpoint file.
    pub file: String,
    /// The shape the layer's hyper-parameters and input imply.
    pub expected: Vec<usize>,
    /// The shape in the checkpoint.
    pub found: Vec<usize>,
}
