//! N-dimensional tensors of nabla over `ndarray`, for `f32` and `f64`, with GEMM through
//! `matrixmultiply` and explicit, seedable randomness.
//!
//! * [`Tensor`]: an owned tensor with broadcasting arithmetic, unary math, reductions,
//!   views, concat/stack and row gathering.
//! * [`gemm_into`] / [`matmul`]: strided GEMM (`sgemm`/`dgemm`, threaded) on `ndarray`
//!   views; transposed operands cost no copy.
//! * [`pool`]: per-thread reuse of array buffers across training steps.
//! * [`Rng`]: the explicit seeded generator (ChaCha8); there is no global RNG.
//! * [`broadcast_shape`], [`broadcast_zip`], [`sum_to_shape`]: broadcasting helpers the
//!   autograd crate builds on.
//!
//! Errors are [`TensorError`]s that name the operation and both shapes; see the module
//! docs of [`Tensor`] for which APIs return `Result` and which panic.

mod element;
mod error;
mod linalg;
pub mod pool;
mod rng;
mod shape;
mod tensor;

pub use element::Element;
pub use error::{Result, TensorError};
pub use linalg::{gemm_into, matmul};
pub use rng::{Rng, RngState};
pub use shape::{broadcast_shape, broadcast_zip, check_axis, check_permutation, reduced_shape, sum_to_shape};
pub use tensor::{sigmoid, sum_axes, Tensor};

pub use ndarray;

/// The examples of the crate's README, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
