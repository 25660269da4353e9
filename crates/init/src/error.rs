//! The error type of `nabla-init`.

use nabla_registry::RegistryError;
use thiserror::Error;

/// Everything that can go wrong when building an initializer or filling a tensor.
///
/// No function of this crate panics on user input (names, hyper-parameters, shapes); they
/// return one of these instead.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum InitError {
    /// Fans are undefined for tensors with fewer than two dimensions (PyTorch raises
    /// `ValueError` in the same case).
    #[error(
        "fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions (shape {shape:?}); \
         to initialize a bias from its layer's fans, use `fill_bias_*` with the weight's fans"
    )]
    NoFans {
        /// The offending shape.
        shape: Vec<usize>,
    },
    /// The fan an initializer divides by is zero (a tensor with a zero-sized dimension).
    #[error("{initializer}: {fan} is 0 for shape {shape:?}, the variance would be infinite")]
    ZeroFan {
        /// The initializer's name.
        initializer: &'static str,
        /// `fan_in`, `fan_out` or `fan_in + fan_out`.
        fan: &'static str,
        /// The shape.
        shape: Vec<usize>,
    },
    /// `orthogonal` needs at least a matrix.
    #[error("{initializer} needs a tensor with at least 2 dimensions, got shape {shape:?}")]
    NeedsMatrix {
        /// The initializer's name.
        initializer: &'static str,
        /// The offending shape.
        shape: Vec<usize>,
    },
    /// A nonlinearity that `calculate_gain` does not know.
    #[error(
        "unsupported nonlinearity '{name}'; supported: linear, conv1d, conv2d, conv3d, conv_transpose1d, \
         conv_transpose2d, conv_transpose3d, sigmoid, tanh, relu, leaky_relu, selu"
    )]
    UnsupportedNonlinearity {
        /// The name as given.
        name: String,
    },
    /// A hyper-parameter value that a constructor rejects (for example `low > high`).
    #[error("{initializer}: {message}")]
    Invalid {
        /// The initializer's name.
        initializer: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The random matrix drawn for `orthogonal` was numerically singular (probability zero
    /// for a continuous draw; reported rather than producing NaNs).
    #[error("orthogonal: the random matrix of shape [{rows}, {cols}] was numerically singular")]
    Singular {
        /// Rows of the matrix view.
        rows: usize,
        /// Columns of the matrix view.
        cols: usize,
    },
    /// An unknown initializer name, a malformed compact spec or invalid hyper-parameters for a
    /// registered initializer ([`RegistryError::Param`]).
    #[error(transparent)]
    Registry(Box<RegistryError>),
}

nabla_registry::from_registry_errors!(InitError);
