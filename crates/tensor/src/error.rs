//! The error type of `nabla-tensor`.

use thiserror::Error;

/// An error of a tensor operation: shapes that do not fit together, a bad axis or index.
///
/// Every message names the operation and the shapes involved, so that a failing layer
/// can be traced from the message alone.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TensorError {
    /// Two operands whose shapes cannot be combined (broadcast, matmul, concat, ...).
    #[error("{op}: shapes {lhs:?} and {rhs:?} are incompatible")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// Shape of the left (first) operand.
        lhs: Vec<usize>,
        /// Shape of the right (second) operand.
        rhs: Vec<usize>,
    },
    /// A flat buffer whose length does not match the requested shape.
    #[error("{op}: {len} elements cannot have shape {shape:?} ({expected} elements)")]
    DataLength {
        /// The operation.
        op: &'static str,
        /// The requested shape.
        shape: Vec<usize>,
        /// The number of elements the shape needs.
        expected: usize,
        /// The number of elements given.
        len: usize,
    },
    /// An axis that the tensor does not have.
    #[error("{op}: axis {axis} is out of range for a tensor of shape {shape:?}")]
    AxisOutOfRange {
        /// The operation.
        op: &'static str,
        /// The axis asked for.
        axis: usize,
        /// The shape of the tensor.
        shape: Vec<usize>,
    },
    /// An axis list that is not a permutation of `0..ndim`.
    #[error("{op}: axes {axes:?} are not a permutation of the axes of shape {shape:?}")]
    InvalidPermutation {
        /// The operation.
        op: &'static str,
        /// The axes given.
        axes: Vec<usize>,
        /// The shape of the tensor.
        shape: Vec<usize>,
    },
    /// An index past the end of an axis.
    #[error("{op}: index {index} is out of range for axis length {len} (shape {shape:?})")]
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The index given.
        index: usize,
        /// The length of the indexed axis.
        len: usize,
        /// The shape of the tensor.
        shape: Vec<usize>,
    },
    /// A tensor with the wrong number of dimensions for the operation.
    #[error("{op}: expected {expected}, got shape {shape:?}")]
    Rank {
        /// The operation.
        op: &'static str,
        /// What was expected, e.g. "a 2-d or 3-d tensor".
        expected: &'static str,
        /// The shape given.
        shape: Vec<usize>,
    },
    /// A view that cannot be taken without copying (e.g. reshaping a non-contiguous tensor
    /// as a view).
    #[error("{op}: a tensor of shape {shape:?} with strides {strides:?} is not contiguous")]
    NotContiguous {
        /// The operation.
        op: &'static str,
        /// The shape of the tensor.
        shape: Vec<usize>,
        /// Its strides in elements.
        strides: Vec<isize>,
    },
    /// An operation that needs at least one element or operand and got none.
    #[error("{op}: {what} is empty")]
    Empty {
        /// The operation.
        op: &'static str,
        /// What was empty.
        what: &'static str,
    },
}

/// Result of a tensor operation.
pub type Result<T, E = TensorError> = std::result::Result<T, E>;
