//! Channel dropout over `[N, C, H, W]` (PyTorch's `dropout2d`).

use crate::error::{AutogradError, Result};
use crate::ops::dropout::{check_probability, dropout_mask};
use crate::ops::saved::Saved;
use crate::var::Var;
use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::{pool, Element, Rng, TensorError};

fn channels(op: &'static str, shape: &[usize]) -> Result<(usize, usize)> {
    match *shape {
        [n, c, _, _] => Ok((n, c)),
        _ => Err(TensorError::Rank { op, expected: "input [N, C, H, W]", shape: shape.to_vec() }.into()),
    }
}

/// `x * mask[n, c]` for input `[N, C, H, W]` and a per-channel mask `[N, C]` that is already
/// scaled (e.g. by [`dropout_mask`] of shape `[N, C]`): every element of channel `(n, c)` is
/// multiplied by `mask[n, c]`. The backward is `grad * mask[n, c]`; the mask is kept (not
/// copied) until the graph is released.
///
/// # Errors
/// A rank error for input that is not 4-d; [`AutogradError::ParamShape`] for a mask that is
/// not `[N, C]`.
pub fn dropout2d_with_mask<T: Element>(x: &Var<T>, mask: ArrayD<T>) -> Result<Var<T>> {
    let shape = x.shape();
    let (n, c) = channels("dropout2d_with_mask", &shape)?;
    if mask.shape() != [n, c] {
        return Err(AutogradError::ParamShape {
            op: "dropout2d_with_mask",
            param: "mask",
            shape: mask.shape().to_vec(),
            expected: format!("[N, C] = [{n}, {c}]"),
            input: shape,
        });
    }
    let mask = if mask.is_standard_layout() { mask } else { pool::copy_of(&mask.view()) };
    let plane = shape[2] * shape[3];
    let scale = move |a: &mut [T], b: &[T], m: &[T]| {
        if plane == 0 {
            return;
        }
        for ((ra, rb), &mv) in a.chunks_exact_mut(plane).zip(b.chunks_exact(plane)).zip(m) {
            for (o, &v) in ra.iter_mut().zip(rb) {
                *o = v * mv;
            }
        }
    };
    let mut out = pool::take::<T>(&shape);
    {
        let xv = x.value();
        let xc = crate::ops::linear::contiguous(&xv);
        let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
        scale(
            out.as_slice_mut().expect("pooled arrays are contiguous"),
            xs,
            mask.as_slice().expect("standard"),
        );
    }
    let mask = Saved::new(mask);
    Ok(Var::custom("dropout2d", &[x], out, move |args| {
        let gy = args.grad_output;
        let gyc = crate::ops::linear::contiguous(&gy);
        let gys = gyc.as_ref().unwrap_or(&gy).as_slice().expect("contiguous");
        let mut gx = pool::take::<T>(gy.shape());
        scale(
            gx.as_slice_mut().expect("pooled arrays are contiguous"),
            gys,
            mask.as_slice().expect("standard"),
        );
        drop(gyc);
        pool::give(gy);
        [Some(gx)]
    }))
}

/// Channel dropout as PyTorch's `dropout2d` in training mode: for input `[N, C, H, W]`, each
/// whole channel `x[n, c, :, :]` is zeroed with probability `p`, and the kept channels are
/// scaled by `1 / (1 - p)` (so the expectation is unchanged). The identity (the same
/// variable) when `!training` or `p == 0`; all zeros when `p == 1`.
///
/// Randomness follows [`dropout_mask`]: one 32-bit draw from `rng` per channel, in `(n, c)`
/// row-major order (the mask is `dropout_mask(&[N, C], p, rng)`), so the same seed gives the
/// same channels on every platform.
///
/// Deviation from PyTorch: only 4-d input; PyTorch also takes 3-d input (with a warning, as
/// `[N, C, L]`); use [`dropout2d_with_mask`] with a reshape for that.
///
/// # Errors
/// [`AutogradError::Invalid`] when `p` is not in `[0, 1]`; a rank error for input that is not
/// 4-d.
///
/// ```
/// use nabla_autograd::{dropout2d, Var};
/// use nabla_tensor::{ndarray::ArrayD, Rng};
/// let x = Var::<f32>::constant(ArrayD::ones(vec![2, 8, 3, 3]));
/// let y = dropout2d(&x, 0.5, true, &mut Rng::seed(0)).unwrap();
/// let v = y.value();
/// for n in 0..2 {
///     for c in 0..8 {
///         let first = v[[n, c, 0, 0]];
///         assert!(first == 0.0 || first == 2.0);
///         assert!(v.slice(nabla_tensor::ndarray::s![n, c, .., ..]).iter().all(|&e| e == first));
///     }
/// }
/// ```
pub fn dropout2d<T: Element>(x: &Var<T>, p: f64, training: bool, rng: &mut Rng) -> Result<Var<T>> {
    check_probability("dropout2d", p)?;
    let (n, c) = channels("dropout2d", x.value().shape())?;
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    let mask = dropout_mask(&[n, c], p, rng)?;
    dropout2d_with_mask(x, mask)
}
