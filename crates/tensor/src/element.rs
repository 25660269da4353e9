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
/// ([`crate::sgemm`] for `f32`, `matrixmultiply::dgemm` for `f64`) and the error function, which `std` lacks.
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
    ) {
        // SAFETY: forwarded from the caller's contract, which is the kernel's.
        unsafe { Self::GEMM_KERNEL(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }

    /// The GEMM kernel of this type ([`crate::sgemm`] / `matrixmultiply::dgemm`) that
    /// [`Element::gemm`] calls.
    #[doc(hidden)]
    const GEMM_KERNEL: GemmKernel<Self>;
}

/// The signature of a GEMM kernel over `T` (`matrixmultiply`'s), in the argument order of
/// [`Element::gemm`].
pub type GemmKernel<T> = unsafe fn(
    usize,
    usize,
    usize,
    T,
    *const T,
    isize,
    isize,
    *const T,
    isize,
    isize,
    T,
    *mut T,
    isize,
    isize,
);

/// Implements [`Element`] for one float type: the two impls differ only in the type, its name,
/// its GEMM kernel and how it converts to and from `f64`, so one body serves both.
macro_rules! impl_element {
    (
        $float:ty, $name:literal, $gemm:path,
        from_f64($from_arg:ident) => $from_f64:expr,
        to_f64($to_arg:ident) => $to_f64:expr,
        erf($erf_arg:ident) => $erf:expr $(,)?
    ) => {
        impl Element for $float {
            const NAME: &'static str = $name;

            fn from_f64($from_arg: f64) -> Self {
                $from_f64
            }

            fn to_f64(self) -> f64 {
                let $to_arg = self;
                $to_f64
            }

            fn erf(self) -> Self {
                let $erf_arg = self;
                $erf
            }

            fn with_pool<R>(f: impl FnOnce(&mut BufferPool<Self>) -> R) -> R {
                thread_local! {
                    static POOL: RefCell<BufferPool<$float>> = RefCell::new(BufferPool::default());
                }
                with_local_pool(&POOL, f)
            }

            const GEMM_KERNEL: GemmKernel<Self> = $gemm;
        }
    };
}

impl_element! {
    f32, "f32", crate::sgemm::sgemm,
    from_f64(x) => x as f32,
    to_f64(x) => f64::from(x),
    erf(x) => libm::erf(f64::from(x)) as f32,
}

impl_element! {
    f64, "f64", matrixmultiply::dgemm,
    from_f64(x) => x,
    to_f64(x) => x,
    erf(x) => libm::erf(x),
}

/// Runs `f` on a thread-local pool; during thread teardown (or a re-entrant call) it runs on a
/// throw-away empty pool instead, so buffers are simply freed.
pub(crate) fn with_local_pool<T, R>(
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
