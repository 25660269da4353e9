//! N-dimensional tensors of nabla over `ndarray`, for `f32` and `f64`, with GEMM through
//! `matrixmultiply` and explicit, seedable randomness.

mod element;
mod rng;

pub use element::Element;
pub use rng::{Rng, RngState};

pub use ndarray;
