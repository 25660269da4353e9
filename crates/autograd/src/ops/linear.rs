//! The fused affine map of a fully connected layer.

use crate::error::{AutogradError, Result};
use crate::var::{Grads, Var};
use nabla_tensor::ndarray::{ArrayD, ArrayView2, ArrayViewMut2, Dimension, Ix2, IxDyn, Zip};
use nabla_tensor::{gemm_into, pool, Element, TensorError};

/// `x @ weight^T + bias` with `weight: [out, in]` (PyTorch's layout) and `bias: [out]`, for
/// `x: [..., in]` (leading axes are flattened into rows).
///
/// Forward: the bias is written into the output rows, then one strided GEMM against the
/// transposed view of `weight` accumulates onto it (no transpose copy). Backward: `dx = dy W`,
/// `dW = dy^T x` (both strided GEMM), `db = sum of dy's rows`; only the gradients that are
/// needed are computed.
///
/// # Errors
/// A shape error naming the shapes when `weight` is not 2-d, `x`'s last axis is not
/// `in`, or `bias` is not `[out]`.
///
/// ```
/// use nabla_autograd::{linear, Var};
/// use nabla_tensor::ndarray::{arr1, arr2};
/// let x = Var::<f32>::constant(arr2(&[[1.0, 2.0]]).into_dyn());
/// let w = Var::param(arr2(&[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).into_dyn());
/// let b = Var::param(arr1(&[0.5, 0.5, 0.5]).into_dyn());
/// let y = linear(&x, &w, Some(&b)).unwrap();
/// assert_eq!(y.value().as_slice().unwrap(), &[1.5, 2.5, 3.5]);
/// ```
pub fn linear<T: Element>(x: &Var<T>, weight: &Var<T>, bias: Option<&Var<T>>) -> Result<Var<T>> {
    let (rows, in_f, out_f, out_shape) = check_linear("linear", x, weight, bias)?;
    let out_shape = out_shape.slice();
    let xv = x.value();
    let wv = weight.value();
    let xc = contiguous(&xv);
    let x2 = as_rows(xc.as_ref().unwrap_or(&xv), rows, in_f);
    let w2 = wv.view().into_dimensionality::<Ix2>().expect("2-d");
    let mut out;
    {
        let beta;
        if let Some(b) = bias {
            out = pool::take::<T>(out_shape);
            let bv = b.value();
            let mut o2 = as_rows_mut(&mut out, rows, out_f);
            for mut row in o2.rows_mut() {
                row.assign(&bv.view().into_dimensionality::<nabla_tensor::ndarray::Ix1>().expect("1-d"));
            }
            beta = T::one();
        } else {
            out = pool::take::<T>(out_shape);
            beta = T::zero();
        }
        gemm_into(T::one(), x2, w2.t(), beta, as_rows_mut(&mut out, rows, out_f));
    }
    drop(xc);
    drop((xv, wv));
    let all = [x, weight, bias.unwrap_or(x)];
    let inputs = if bias.is_some() { &all[..] } else { &all[..2] };
    Ok(Var::custom("linear", inputs, out, move |args| {
        let g = args.grad_output;
        let gc = contiguous(&g);
        let g2 = as_rows(gc.as_ref().unwrap_or(&g), rows, out_f);
        let gx = args.inputs[0].requires_grad().then(|| {
            let w = args.inputs[1].value();
            let mut gx = pool::take::<T>(args.inputs[0].value().shape());
            let w2 = w.view().into_dimensionality::<Ix2>().expect("2-d");
            gemm_into(T::one(), g2, w2, T::zero(), as_rows_mut(&mut gx, rows, in_f));
            gx
        });
        let gw = args.inputs[1].requires_grad().then(|| {
            let xv = args.inputs[0].value();
            let xc = contiguous(&xv);
            let x2 = as_rows(xc.as_ref().unwrap_or(&xv), rows, in_f);
            let mut gw = pool::take::<T>(&[out_f, in_f]);
            gemm_into(T::one(), g2.t(), x2, T::zero(), as_rows_mut(&mut gw, out_f, in_f));
            gw
        });
        let gb = (args.inputs.len() == 3 && args.inputs[2].requires_grad()).then(|| {
            let mut gb = pool::zeros::<T>(&[out_f]);
            for row in g2.rows() {
                Zip::from(&mut gb).and(&row.into_dyn()).for_each(|s, &v| *s = *s + v);
            }
            gb
        });
        drop(gc);
        pool::give(g);
        let mut grads: Grads<T> = [gx, gw].into_iter().collect();
        if args.inputs.len() == 3 {
            grads.push(gb);
        }
        grads
    }))
}

/// The checks of a fully connected layer's operands: `(rows, in, out, output shape)` for
/// `x: [..., in]`, `weight: [out, in]` and `bias: [out]`; `op` names the caller in errors.
pub(crate) fn check_linear<T: Element>(
    op: &'static str,
    x: &Var<T>,
    weight: &Var<T>,
    bias: Option<&Var<T>>,
) -> Result<(usize, usize, usize, IxDyn)> {
    // Borrowed shapes: a checked call allocates nothing.
    let (xv, wv) = (x.value(), weight.value());
    let (xs, ws) = (xv.shape(), wv.shape());
    if ws.len() != 2 || xs.is_empty() || xs[xs.len() - 1] != ws[1] {
        return Err(TensorError::ShapeMismatch {
            op: "linear (input vs weight [out, in])",
            lhs: xs.to_vec(),
            rhs: ws.to_vec(),
        }
        .into());
    }
    let (out_f, in_f) = (ws[0], ws[1]);
    if let Some(b) = bias {
        if b.value().shape() != [out_f] {
            return Err(AutogradError::Invalid {
                op,
                message: format!("bias has shape {:?}, expected [{out_f}] for weight {ws:?}", b.shape()),
            });
        }
    }
    let rows = xs[..xs.len() - 1].iter().product();
    // IxDyn keeps up to four axes inline: no allocation for the usual shapes.
    let mut out_shape = IxDyn(xs);
    out_shape[xs.len() - 1] = out_f;
    Ok((rows, in_f, out_f, out_shape))
}

/// A standard-layout copy when `x` is not contiguous (else `None`: use `x` itself).
pub(crate) fn contiguous<T: Element>(x: &ArrayD<T>) -> Option<ArrayD<T>> {
    (!x.is_standard_layout()).then(|| pool::copy_of(&x.view()))
}

/// A contiguous array viewed as `[rows, cols]`.
pub(crate) fn as_rows<T: Element>(x: &ArrayD<T>, rows: usize, cols: usize) -> ArrayView2<'_, T> {
    x.view().into_shape_with_order((rows, cols)).expect("contiguous with rows*cols elements")
}

/// A contiguous array viewed mutably as `[rows, cols]`.
pub(crate) fn as_rows_mut<T: Element>(x: &mut ArrayD<T>, rows: usize, cols: usize) -> ArrayViewMut2<'_, T> {
    x.view_mut().into_shape_with_order((rows, cols)).expect("contiguous with rows*cols elements")
}
