//! The scalar types nabla computes with: `f32` (training) and `f64` (gradient checks).

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::Float;
use std::fmt::{Debug, Display};
use std::iter::Sum;

/// A floating-point element type of tensors: implemented for `f32` and `f64`.
///
/// Besides the arithmetic of [`num_traits::Float`], it dispatches the GEMM kernel
/// (`matrixmultiply::sgemm` / `dgemm`) and the error function, which `std` lacks.
pub trait Element:
    Float + LinalgScalar + ScalarOperand + Sum + Default + Debug + Display + Send + Sync + 'static
{
    /// `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Converts from `f64` (rounding to nearest for `f32`).
    fn from_f64(x: f64) -> Self;

    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;

    /// The error function.
    fn erf(self) -> Self;

    /// `C = alpha * A B + beta * C` on raw strided storage (row and column strides in
    /// elements, may be negative or zero for broadcast rows), as `matrixmultiply` defines it.
    ///
    /// # Safety
    /// The pointers must be valid for the given dimensions and strides; `c` must not alias
    /// `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Element for f32 {
    const NAME: &'static str = "f32";

    fn from_f64(x: f64) -> Self {
        x as f32
    }

    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    fn erf(self) -> Self {
        libm::erff(self)
    }

    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}

impl Element for f64 {
    const NAME: &'static str = "f64";

    fn from_f64(x: f64) -> Self {
        x
    }

    fn to_f64(self) -> f64 {
        self
    }

    fn erf(self) -> Self {
        libm::erf(self)
    }

    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}
