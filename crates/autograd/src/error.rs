//! The error type of `nabla-autograd`.

use nabla_tensor::TensorError;
use thiserror::Error;

/// An error of graph construction, of an op's arguments, or of a backward pass.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum AutogradError {
    /// A shape, axis or index error of the underlying tensor operation (names both shapes).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// `backward` reached a node whose graph was already released by an earlier backward.
    #[error(
        "backward through a released graph (op `{op}`): the graph's buffers were freed by an \
         earlier backward; run the forward pass again, or pass retain_graph = true to the \
         first backward"
    )]
    GraphReleased {
        /// The op whose graph was released.
        op: &'static str,
    },
    /// `backward` on a variable that does not require gradients (a constant, or the result
    /// of ops on constants or computed under `no_grad`).
    #[error("backward on a variable that does not require grad (shape {shape:?})")]
    NoGrad {
        /// The shape of the variable.
        shape: Vec<usize>,
    },
    /// `backward()` without an upstream gradient on a variable with more than one element.
    #[error("backward() needs a scalar (one element), got shape {shape:?}; use backward_with")]
    NotScalar {
        /// The shape of the variable.
        shape: Vec<usize>,
    },
    /// A gradient whose shape differs from the variable it belongs to (an upstream gradient
    /// given to `backward_with`, or one returned by a custom op's backward).
    #[error("{op}: gradient of shape {got:?} for a variable of shape {expected:?}")]
    GradShape {
        /// The op (or `backward_with`).
        op: &'static str,
        /// The shape of the variable.
        expected: Vec<usize>,
        /// The shape of the gradient.
        got: Vec<usize>,
    },
    /// A custom op's backward returned a different number of gradients than it has inputs.
    #[error("{op}: backward returned {got} gradients for {expected} inputs")]
    GradCount {
        /// The op.
        op: &'static str,
        /// The number of inputs.
        expected: usize,
        /// The number of gradients returned.
        got: usize,
    },
    /// An invalid argument of an op (a class index out of range, a bad hyper-parameter,
    /// too few values per channel for batch statistics, ...).
    #[error("{op}: {message}")]
    Invalid {
        /// The op.
        op: &'static str,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A hyper-parameter of a convolution, pooling or dropout op outside its range, by itself
    /// or for the given input: stride or dilation 0, `groups` not dividing the channels,
    /// `padding = "same"` with a stride other than 1, pooling padding over half the kernel, ...
    #[error("{op}: invalid {name}: {message}")]
    InvalidHyperParameter {
        /// The op.
        op: &'static str,
        /// The hyper-parameter (`stride`, `padding`, `groups`, ...).
        name: &'static str,
        /// What is wrong, with the offending value and, where it matters, the input shape.
        message: String,
    },
    /// A parameter (weight, bias, mask) whose shape does not fit the input and options.
    #[error("{op}: {param} has shape {shape:?}, expected {expected} for input {input:?}")]
    ParamShape {
        /// The op.
        op: &'static str,
        /// Which parameter.
        param: &'static str,
        /// Its shape.
        shape: Vec<usize>,
        /// The shape it should have, in words (e.g. `[O, C/groups = 2, kH, kW]`).
        expected: String,
        /// The shape of the input.
        input: Vec<usize>,
    },
    /// A sliding-window op (convolution, pooling) whose output would have fewer than one
    /// element along a spatial axis: the (dilated) kernel is larger than the padded input.
    #[error(
        "{op}: input {input:?} is too small for {window}: output size {output:?}, each must be at least 1"
    )]
    OutputTooSmall {
        /// The op.
        op: &'static str,
        /// The shape of the input.
        input: Vec<usize>,
        /// The window: kernel size, dilation, stride and padding per axis.
        window: String,
        /// The output size `[H_out, W_out]` the formula gives (may be zero or negative).
        output: [i64; 2],
    },
    /// `set_requires_grad` on a non-leaf variable.
    #[error("requires_grad can only be changed on leaf variables")]
    NotLeaf,
    /// [`crate::gradcheck`] found an analytic gradient that disagrees with finite differences.
    #[error("gradcheck: input {input}, element {index}: analytic {analytic:e} vs numeric {numeric:e}")]
    GradcheckFailed {
        /// Which input.
        input: usize,
        /// Flat (row-major) index of the element.
        index: usize,
        /// The gradient from backward.
        analytic: f64,
        /// The central finite difference.
        numeric: f64,
    },
}

/// Result of an autograd operation.
pub type Result<T, E = AutogradError> = std::result::Result<T, E>;
