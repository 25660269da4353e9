//! Gradient clipping by global norm and by value (as `torch.nn.utils.clip_grad_norm_` and
//! `clip_grad_value_`).
//!
//! Clip before [`Optimizer::step`](crate::Optimizer::step), on the same gradients. Norms are
//! accumulated in `f64` whatever the element type.

use crate::OptimError;
use nabla_tensor::ndarray::{ArrayViewD, ArrayViewMutD};
use nabla_tensor::Element;

/// The `norm_type`-norm of all gradients together, as if concatenated into one vector
/// (`f64::INFINITY` for the max-norm). `norm_type` must be positive.
pub fn grad_norm<'a, T: Element>(
    grads: impl IntoIterator<Item = ArrayViewD<'a, T>>,
    norm_type: f64,
) -> Result<f64, OptimError> {
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(OptimError::InvalidArgument {
            function: "grad_norm",
            message: format!("norm_type must be > 0 (or infinity), got {norm_type}"),
        });
    }
    let grads = grads.into_iter();
    if norm_type == f64::INFINITY {
        // NaN must win, so f64::max (which ignores NaN) is not enough.
        return Ok(grads.fold(0.0f64, |acc, g| {
            g.iter().fold(acc, |acc, &x| {
                let a = x.to_f64().abs();
                if a.is_nan() || acc.is_nan() {
                    f64::NAN
                } else {
                    acc.max(a)
                }
            })
        }));
    }
    if norm_type == 2.0 {
        // Two passes at most: the vectorized sum of squares, and the exact `f64` one only when
        // that overflowed or met a NaN (so a finite result is never lost to `T`'s range).
        // Inline for up to 16 tensors: no allocation per step for a usual model.
        let grads: smallvec::SmallVec<[ArrayViewD<'a, T>; 16]> = grads.collect();
        let fast: f64 = grads.iter().map(sum_of_squares).sum();
        let sum = if fast.is_finite() {
            fast
        } else {
            grads.iter().map(|g| g.iter().map(|&x| x.to_f64() * x.to_f64()).sum::<f64>()).sum()
        };
        return Ok(sum.sqrt());
    }
    let sum: f64 = grads.map(|g| g.iter().map(|&x| x.to_f64().abs().powf(norm_type)).sum::<f64>()).sum();
    Ok(sum.powf(1.0 / norm_type))
}

/// The sum of squares of `g`, accumulated in 16 lanes of `T` per block of 4096 elements (so
/// the loop vectorizes) and across blocks in `f64`. For `f32` it overflows to infinity for
/// elements beyond about `1.8e19`, where [`grad_norm`] falls back to the exact `f64` sum; a
/// NaN anywhere gives NaN.
pub fn sum_of_squares<T: Element>(g: &ArrayViewD<'_, T>) -> f64 {
    const LANES: usize = 16;
    let block = |xs: &[T]| -> f64 {
        let mut acc = [T::zero(); LANES];
        let mut chunks = xs.chunks_exact(LANES);
        for c in &mut chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a = *a + x * x;
            }
        }
        let tail = chunks.remainder().iter().fold(T::zero(), |s, &x| s + x * x);
        acc.iter().map(|&a| a.to_f64()).sum::<f64>() + tail.to_f64()
    };
    match g.as_slice_memory_order() {
        Some(xs) => xs.chunks(4096).map(block).sum(),
        None => g.iter().map(|&x| x.to_f64() * x.to_f64()).sum(),
    }
}

/// Scales all gradients by a common factor so that their total `norm_type`-norm is at most
/// `max_norm`, and returns the total norm *before* clipping.
///
/// As PyTorch: the factor is `max_norm / (norm + 1e-6)`, applied only when it is below 1.
/// When the norm is NaN or infinite: with `error_if_nonfinite` the call fails with
/// [`OptimError::NonFiniteNorm`] and leaves the gradients unchanged; without it an infinite
/// norm scales every gradient by 0 (infinite entries become NaN) and a NaN norm changes
/// nothing, so the NaN reaches the optimizer as it would have without clipping.
pub fn clip_grad_norm<T: Element>(
    grads: &mut [ArrayViewMutD<'_, T>],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<f64, OptimError> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(OptimError::InvalidArgument {
            function: "clip_grad_norm",
            message: format!("max_norm must be >= 0, got {max_norm}"),
        });
    }
    let norm = grad_norm(grads.iter().map(|g| g.view()), norm_type)?;
    if !norm.is_finite() && error_if_nonfinite {
        return Err(OptimError::NonFiniteNorm { norm });
    }
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        let coef = T::from_f64(coef);
        for g in grads.iter_mut() {
            g.mapv_inplace(|x| x * coef);
        }
    }
    Ok(norm)
}

/// Clamps every gradient element into `[-clip_value, clip_value]` (NaN stays NaN).
pub fn clip_grad_value<T: Element>(
    grads: &mut [ArrayViewMutD<'_, T>],
    clip_value: f64,
) -> Result<(), OptimError> {
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(OptimError::InvalidArgument {
            function: "clip_grad_value",
            message: format!("clip_value must be >= 0, got {clip_value}"),
        });
    }
    let (lo, hi) = (T::from_f64(-clip_value), T::from_f64(clip_value));
    for g in grads.iter_mut() {
        g.mapv_inplace(|x| {
            if x < lo {
                lo
            } else if x > hi {
                hi
            } else {
                x
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_tensor::ndarray::{arr1, Array2, ArrayD, IxDyn};

    #[test]
    fn norm_of_several_tensors() {
        let a = arr1(&[3.0f64]).into_dyn();
        let b = arr1(&[0.0, -4.0]).into_dyn();
        assert_eq!(grad_norm([a.view(), b.view()], 2.0).unwrap(), 5.0);
        assert_eq!(grad_norm([a.view(), b.view()], 1.0).unwrap(), 7.0);
        assert_eq!(grad_norm([a.view(), b.view()], f64::INFINITY).unwrap(), 4.0);
        assert!(grad_norm([a.view()], 0.0).is_err());
    }

    #[test]
    fn clips_only_above_the_bound() {
        let mut a = arr1(&[3.0f32]).into_dyn();
        let mut b = arr1(&[4.0f32]).into_dyn();
        let n = clip_grad_norm(&mut [a.view_mut(), b.view_mut()], 10.0, 2.0, true).unwrap();
        assert_eq!((n, a[0], b[0]), (5.0, 3.0, 4.0));
        let n = clip_grad_norm(&mut [a.view_mut(), b.view_mut()], 1.0, 2.0, true).unwrap();
        assert_eq!(n, 5.0);
        assert!((a[0] - 0.6).abs() < 1e-6 && (b[0] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn non_finite_norms() {
        let mut a = arr1(&[f64::NAN, 1.0]).into_dyn();
        let err = clip_grad_norm(&mut [a.view_mut()], 1.0, 2.0, true).unwrap_err();
        assert!(matches!(err, OptimError::NonFiniteNorm { .. }));
        assert_eq!(a[1], 1.0);
        let mut b = arr1(&[f64::INFINITY, 1.0]).into_dyn();
        assert!(clip_grad_norm(&mut [b.view_mut()], 1.0, f64::INFINITY, false).unwrap().is_infinite());
        assert_eq!(b[1], 0.0);
        assert!(grad_norm([a.view()], f64::INFINITY).unwrap().is_nan());
    }

    #[test]
    fn sum_of_squares_matches_the_exact_sum() {
        // Lengths around the lane and block sizes, values of mixed magnitude.
        for n in [0usize, 1, 15, 16, 17, 4095, 4096, 4097, 10_000] {
            let v: Vec<f32> =
                (0..n).map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3 * (1 + i % 3) as f32).collect();
            let exact: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            let a = ArrayD::from_shape_vec(IxDyn(&[n]), v).unwrap();
            let got = sum_of_squares(&a.view());
            assert!((got - exact).abs() <= 1e-6 * exact.max(1e-30), "n={n}: {got} vs {exact}");
        }
    }

    #[test]
    fn sum_of_squares_of_strided_views_overflow_and_nan() {
        let a = Array2::from_shape_fn((3, 5), |(i, j)| (i * 5 + j) as f32);
        let t = a.t().into_dyn();
        let exact: f64 = (0..15).map(|i| f64::from(i * i)).sum();
        assert_eq!(sum_of_squares(&t), exact);
        let big = ArrayD::from_elem(IxDyn(&[4]), 1e20f32);
        assert!(sum_of_squares(&big.view()).is_infinite(), "f32 squares overflow");
        let nan = ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.0f32, f32::NAN]).unwrap();
        assert!(sum_of_squares(&nan.view()).is_nan());
    }

    #[test]
    fn the_norm_falls_back_to_f64_when_f32_squares_overflow() {
        // 1e20 squared overflows f32 but not f64: the norm is still exact.
        let big = ArrayD::from_elem(IxDyn(&[4]), 1e20f32);
        let n = grad_norm([big.view()], 2.0).unwrap();
        assert!((n / (2.0 * f64::from(1e20f32)) - 1.0).abs() < 1e-12, "{n}");
        let nan = ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.0f32, f32::NAN]).unwrap();
        assert!(grad_norm([big.view(), nan.view()], 2.0).unwrap().is_nan());
    }

    #[test]
    fn clamps_values() {
        let mut a = arr1(&[-3.0f64, 0.5, 2.0, f64::NAN]).into_dyn();
        clip_grad_value(&mut [a.view_mut()], 1.0).unwrap();
        assert_eq!(&a.as_slice().unwrap()[..3], &[-1.0, 0.5, 1.0]);
        assert!(a[3].is_nan());
        assert!(clip_grad_value(&mut [a.view_mut()], -1.0).is_err());
    }
}
