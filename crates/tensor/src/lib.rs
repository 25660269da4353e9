//! The numeric base of nabla on plain `ndarray` arrays of `f32` and `f64`: GEMM (nabla's own
//! AVX-512 / AVX2 [`sgemm`] for `f32`, `matrixmultiply` otherwise), buffer pooling, broadcasting helpers and explicit, seedable randomness.
//! There is no tensor type of its own: every crate passes `ndarray` arrays and views.
//!
//! * [`Element`]: the scalar types (`f32`, `f64`) and their GEMM kernels.
//! * [`gemm_into`] / [`matmul`]: strided GEMM on `ndarray` views, split over [`threads`];
//!   transposed operands cost no copy.
//! * [`sgemm`] / [`SgemmKernel`]: the `f32` kernel, with per-thread packing buffers reused
//!   across calls, so a steady-state product allocates nothing.
//! * [`threads`]: the process's persistent worker threads and its thread count.
//! * [`pool`]: per-thread reuse of array buffers across training steps.
//! * [`Rng`]: the explicit seeded generator (ChaCha8); there is no global RNG.
//! * [`broadcast_shape`], [`broadcast_zip`], [`sum_to_shape`], [`sum_axes`]: broadcasting
//!   and reduction helpers the autograd crate builds on; [`sigmoid`] of one value.
//!
//! Errors are [`TensorError`]s that name the operation and both shapes. Functions return
//! `Result` whenever shapes or axes can be wrong, except the low-level hot-path
//! [`gemm_into`], which panics naming all three shapes ([`matmul`] is its checked form).

mod element;
mod error;
mod linalg;
pub mod pool;
mod rng;
mod sgemm;
mod shape;
pub mod threads;

pub use element::{sigmoid, Element, GemmKernel};
pub use error::{Result, TensorError};
pub use linalg::{gemm_into, matmul, split_parts};
pub use rng::{Rng, RngState};
pub use sgemm::{sgemm, SgemmKernel};
pub use shape::{
    broadcast_shape, broadcast_zip, check_axis, check_permutation, reduced_shape, sum_axes, sum_to_shape,
};

pub use ndarray;

/// The examples of the crate's README, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
