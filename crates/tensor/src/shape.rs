//! Shape helpers: NumPy broadcasting, reduction of broadcast gradients, axis checks.

use crate::error::{Result, TensorError};
use crate::{pool, Element};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Zip};

/// The NumPy broadcast of two shapes: shapes are aligned at their last axis and each pair
/// of lengths must be equal or contain a 1.
///
/// ```
/// use nabla_tensor::broadcast_shape;
/// assert_eq!(broadcast_shape(&[4, 1, 3], &[5, 1]).unwrap(), vec![4, 5, 3]);
/// assert!(broadcast_shape(&[2, 3], &[4]).is_err());
/// ```
pub fn broadcast_shape(lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    let n = lhs.len().max(rhs.len());
    let mut out = vec![0; n];
    for (i, o) in out.iter_mut().enumerate() {
        let l = if i + lhs.len() >= n { lhs[i + lhs.len() - n] } else { 1 };
        let r = if i + rhs.len() >= n { rhs[i + rhs.len() - n] } else { 1 };
        *o = if l == r || r == 1 {
            l
        } else if l == 1 {
            r
        } else {
            return Err(TensorError::ShapeMismatch { op: "broadcast", lhs: lhs.to_vec(), rhs: rhs.to_vec() });
        };
    }
    Ok(out)
}

/// Elementwise `f(a, b)` with NumPy broadcasting, written into a pooled buffer in one fused
/// loop. `op` names the operation in errors.
pub fn broadcast_zip<T: Element>(
    op: &'static str,
    a: &ArrayViewD<'_, T>,
    b: &ArrayViewD<'_, T>,
    f: impl Fn(T, T) -> T,
) -> Result<ArrayD<T>> {
    let shape = if a.shape() == b.shape() {
        a.shape().to_vec()
    } else {
        broadcast_shape(a.shape(), b.shape()).map_err(|_| TensorError::ShapeMismatch {
            op,
            lhs: a.shape().to_vec(),
            rhs: b.shape().to_vec(),
        })?
    };
    let av = a.broadcast(IxDyn(&shape)).expect("broadcastable");
    let bv = b.broadcast(IxDyn(&shape)).expect("broadcastable");
    let mut out = pool::take::<T>(&shape);
    Zip::from(&mut out).and(&av).and(&bv).for_each(|o, &x, &y| *o = f(x, y));
    Ok(out)
}

/// Sums a (broadcast) gradient back to the shape of the operand that was broadcast:
/// leading extra axes are summed away and axes where `target` has length 1 are summed with
/// keepdim. Returns `grad` itself (no copy) when the shapes already agree.
///
/// # Errors
/// [`TensorError::ShapeMismatch`] when `target` does not broadcast to `grad`'s shape.
pub fn sum_to_shape<T: Element>(grad: ArrayD<T>, target: &[usize]) -> Result<ArrayD<T>> {
    if grad.shape() == target {
        return Ok(grad);
    }
    let mismatch = || TensorError::ShapeMismatch {
        op: "sum_to_shape",
        lhs: grad.shape().to_vec(),
        rhs: target.to_vec(),
    };
    let nd = grad.ndim();
    if target.len() > nd {
        return Err(mismatch());
    }
    let lead = nd - target.len();
    for (i, &t) in target.iter().enumerate() {
        let g = grad.shape()[lead + i];
        if t != g && t != 1 {
            return Err(mismatch());
        }
    }
    let mut cur: Option<ArrayD<T>> = None;
    // Reduce from the last axis to the first so that axis numbers stay valid.
    for ax in (0..nd).rev() {
        let reduce = ax < lead || (target[ax - lead] == 1 && grad.shape()[ax] != 1);
        if reduce {
            let src = cur.as_ref().map_or_else(|| grad.view(), |c| c.view());
            let summed = src.sum_axis(Axis(ax)).insert_axis(Axis(ax));
            cur = Some(summed);
        }
    }
    let summed = cur.unwrap_or_else(|| grad.clone());
    let out =
        summed.into_shape_with_order(IxDyn(target)).expect("reduced shape has the target's element count");
    pool::give(grad);
    Ok(out)
}

/// Checks that `axis < ndim`, naming `op` and the shape otherwise.
pub fn check_axis(op: &'static str, axis: usize, shape: &[usize]) -> Result<()> {
    if axis < shape.len() {
        Ok(())
    } else {
        Err(TensorError::AxisOutOfRange { op, axis, shape: shape.to_vec() })
    }
}

/// The shape after reducing `axes` (with or without keeping them as length 1).
pub fn reduced_shape(op: &'static str, shape: &[usize], axes: &[usize], keepdim: bool) -> Result<Vec<usize>> {
    for &a in axes {
        check_axis(op, a, shape)?;
    }
    let mut out = Vec::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if axes.contains(&i) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    Ok(out)
}

/// Checks that `axes` is a permutation of `0..shape.len()`.
pub fn check_permutation(op: &'static str, axes: &[usize], shape: &[usize]) -> Result<()> {
    let mut seen = vec![false; shape.len()];
    let ok = axes.len() == shape.len()
        && axes.iter().all(|&a| a < seen.len() && !std::mem::replace(&mut seen[a], true));
    if ok {
        Ok(())
    } else {
        Err(TensorError::InvalidPermutation { op, axes: axes.to_vec(), shape: shape.to_vec() })
    }
}

/// Sums a view along `axes` (duplicates count once), keeping them as length 1 when `keepdim`.
///
/// ```
/// use nabla_tensor::{ndarray::arr2, sum_axes};
/// let x = arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn();
/// assert_eq!(sum_axes(&x.view(), &[0], false).unwrap().as_slice().unwrap(), &[5.0, 7.0, 9.0]);
/// assert_eq!(sum_axes(&x.view(), &[1], true).unwrap().shape(), &[2, 1]);
/// ```
///
/// # Errors
/// [`TensorError::AxisOutOfRange`].
pub fn sum_axes<T: Element>(x: &ArrayViewD<'_, T>, axes: &[usize], keepdim: bool) -> Result<ArrayD<T>> {
    let out_shape = reduced_shape("sum_axes", x.shape(), axes, keepdim)?;
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut cur: Option<ArrayD<T>> = None;
    for &ax in sorted.iter().rev() {
        let next = match &cur {
            None => x.sum_axis(Axis(ax)),
            Some(c) => c.sum_axis(Axis(ax)),
        };
        cur = Some(next);
    }
    let r = cur.unwrap_or_else(|| x.to_owned());
    // Summing only drops (or, with keepdim, re-adds as 1) the reduced axes.
    Ok(r.into_shape_with_order(IxDyn(&out_shape)).expect("same element count"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, ArrayD};

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shape(&[3], &[2, 3]).unwrap(), vec![2, 3]);
        assert_eq!(broadcast_shape(&[], &[2]).unwrap(), vec![2]);
        assert_eq!(broadcast_shape(&[0, 1], &[1, 5]).unwrap(), vec![0, 5]);
        let e = broadcast_shape(&[2, 3], &[3, 2]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("[2, 3]") && msg.contains("[3, 2]"), "{msg}");
    }

    #[test]
    fn sum_to_shape_sums_broadcast_axes() {
        let g: ArrayD<f64> = arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn();
        let r = sum_to_shape(g.clone(), &[3]).unwrap();
        assert_eq!(r.as_slice().unwrap(), &[5.0, 7.0, 9.0]);
        let r = sum_to_shape(g.clone(), &[2, 1]).unwrap();
        assert_eq!(r.shape(), &[2, 1]);
        assert_eq!(r.as_slice().unwrap(), &[6.0, 15.0]);
        let r = sum_to_shape(g.clone(), &[]).unwrap();
        assert_eq!(r.shape(), &[] as &[usize]);
        assert_eq!(r[[]], 21.0);
        assert!(sum_to_shape(g, &[2]).is_err());
    }

    #[test]
    fn sum_axes_reduces_views() {
        let a: ArrayD<f64> = arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn();
        assert_eq!(sum_axes(&a.view(), &[0], false).unwrap().as_slice().unwrap(), &[5.0, 7.0, 9.0]);
        assert_eq!(sum_axes(&a.view(), &[1], true).unwrap().as_slice().unwrap(), &[6.0, 15.0]);
        assert_eq!(sum_axes(&a.view(), &[1], true).unwrap().shape(), &[2, 1]);
        let all = sum_axes(&a.view(), &[1, 0, 1], true).unwrap();
        assert_eq!((all.shape(), all[[0, 0]]), (&[1usize, 1][..], 21.0));
        assert_eq!(sum_axes(&a.view(), &[], false).unwrap(), a);
        // A transposed (non-contiguous) view.
        assert_eq!(sum_axes(&a.t(), &[1], false).unwrap().as_slice().unwrap(), &[5.0, 7.0, 9.0]);
        assert!(matches!(sum_axes(&a.view(), &[2], false), Err(TensorError::AxisOutOfRange { .. })));
    }

    #[test]
    fn broadcast_zip_adds_rows() {
        let a: ArrayD<f32> = arr2(&[[1.0, 2.0], [3.0, 4.0]]).into_dyn();
        let b: ArrayD<f32> = ndarray::arr1(&[10.0, 20.0]).into_dyn();
        let c = broadcast_zip("add", &a.view(), &b.view(), |x, y| x + y).unwrap();
        assert_eq!(c.as_slice().unwrap(), &[11.0, 22.0, 13.0, 24.0]);
        assert!(broadcast_zip("add", &a.view(), &ndarray::arr1(&[1.0f32; 3]).into_dyn().view(), |x, y| x
            + y)
        .is_err());
    }
}
