//! The scalar types nabla computes with: `f32` (training) and `f64` (gradient checks).

use crate::pool::BufferPool;
use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::Float;
use std::cell::RefCell;
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

    /// The error function (for `f32` computed in `f64` and rounded, so it is correctly
    /// rounded in practice).
    fn erf(self) -> Self;

    /// Runs `f` on this thread's buffer pool of this element type (see [`crate::pool`]).
    #[doc(hidden)]
    fn with_pool<R>(f: impl FnOnce(&mut BufferPool<Self>) -> R) -> R;

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
        libm::erf(f64::from(self)) as f32
    }

    fn with_pool<R>(f: impl FnOnce(&mut BufferPool<Self>) -> R) -> R {
        thread_local! {
            static POOL: RefCell<BufferPool<f32>> = RefCell::new(BufferPool::default());
        }
        with_local_pool(&POOL, f)
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

    fn with_pool<R>(f: impl FnOnce(&mut BufferPool<Self>) -> R) -> R {
        thread_local! {
            static POOL: RefCell<BufferPool<f64>> = RefCell::new(BufferPool::default());
        }
        with_local_pool(&POOL, f)
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

/// Runs `f` on a thread-local pool; during thread teardown (or a re-entrant call) it runs on a
/// throw-away empty pool instead, so buffers are simply freed.
fn with_local_pool<T: Element, R>(
    key: &'static std::thread::LocalKey<RefCell<BufferPool<T>>>,
    f: impl FnOnce(&mut BufferPool<T>) -> R,
) -> R {
    let mut f = Some(f);
    let done = key
        .try_with(|p| match p.try_borrow_mut() {
            Ok(mut pool) => Some((f.take().expect("called once"))(&mut pool)),
            Err(_) => None,
        })
        .ok()
        .flatten();
    match done {
        Some(r) => r,
        None => (f.take().expect("called once"))(&mut BufferPool::default()),
    }
}
/// The logistic sigmoid of one value, without overflow for large `|x|`.
///
/// ```
/// use nabla_tensor::sigmoid;
/// assert_eq!(sigmoid(0.0f32), 0.5);
/// assert!(sigmoid(-1000.0f64) == 0.0 && sigmoid(1000.0f64) == 1.0);
/// ```
pub fn sigmoid<T: Element>(x: T) -> T {
    // e^-x overflows for very negative x; the equivalent form e^x / (1 + e^x) does not.
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_matches_the_formula_and_saturates_without_nan() {
        for x in [-30.0f64, -2.5, -1e-3, 0.0, 1e-3, 2.5, 30.0] {
            assert!((sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs() < 1e-15, "{x}");
        }
        assert!(sigmoid(-1000.0f64) == 0.0 && sigmoid(1000.0f64) == 1.0);
        assert!(sigmoid(-200.0f32) == 0.0 && sigmoid(200.0f32) == 1.0);
    }
}
