//! Inference's fused fully connected layer: `x @ weight^T + bias` followed by per-column
//! elementwise steps (batch norm with running statistics, ReLU, ...) applied to each block of
//! output rows while it is still in cache, the blocks split over nabla's threads.

use crate::error::Result;
use crate::ops::linear::{as_rows, as_rows_mut, check_linear, contiguous};
use crate::var::Var;
use nabla_tensor::ndarray::{ArrayView2, Dimension, Ix2};
use nabla_tensor::{gemm_into, pool, split_parts, threads, Element};

/// One elementwise step applied to every element of an output column `j`.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnStep<T> {
    /// `(v - sub[j]) * mul[j] + add[j]`: batch normalization with fixed statistics (the
    /// coefficients come from [`crate::batch_norm_eval_step`], so the result is the one
    /// [`crate::batch_norm_eval`] gives).
    Affine {
        /// Subtracted first (the running mean).
        sub: Vec<T>,
        /// Then multiplied (`gamma / sqrt(running_var + eps)`).
        mul: Vec<T>,
        /// Then added (`beta`).
        add: Vec<T>,
    },
    /// `v` when `v > 0`, else 0 (as [`Var::relu`]).
    Relu,
}

impl<T: Element> ColumnStep<T> {
    /// The number of columns the step is for, if it is tied to one.
    fn columns(&self) -> Option<usize> {
        match self {
            ColumnStep::Affine { sub, .. } => Some(sub.len()),
            ColumnStep::Relu => None,
        }
    }

    fn apply(&self, row: &mut [T]) {
        match self {
            ColumnStep::Affine { sub, mul, add } => {
                for (((v, &s), &m), &a) in row.iter_mut().zip(sub).zip(mul).zip(add) {
                    *v = (*v - s) * m + a;
                }
            }
            ColumnStep::Relu => {
                let z = T::zero();
                row.iter_mut().for_each(|v| *v = if *v > z { *v } else { z });
            }
        }
    }
}

/// `steps` applied in order to `linear(x, weight, bias)`, computed without recording a graph
/// (the result is a constant: this is the evaluation-mode forward). The output equals the
/// unfused ops' bit for bit: the bias is written first and the product accumulated onto it,
/// as [`crate::linear`] does, and each step is the same expression as its op.
///
/// The rows are cut into one block per thread ([`split_parts`]), each computing its product
/// and then its steps on rows it has just written. Smaller blocks would keep the rows in L1,
/// but every block's product packs the whole weight again (1.6 MB for 784 x 512).
///
/// # Errors
/// As [`crate::linear`] (shapes), and a step whose length is not `weight`'s row count.
pub fn fused_linear<T: Element>(
    x: &Var<T>,
    weight: &Var<T>,
    bias: Option<&Var<T>>,
    steps: &[ColumnStep<T>],
) -> Result<Var<T>> {
    let (rows, in_f, out_f, out_shape) = check_linear("fused_linear", x, weight, bias)?;
    if let Some(bad) = steps.iter().find_map(|s| s.columns().filter(|&c| c != out_f)) {
        return Err(crate::AutogradError::Invalid {
            op: "fused_linear",
            message: format!("a step over {bad} columns after a layer of {out_f} outputs"),
        });
    }
    let xv = x.value();
    let wv = weight.value();
    let xc = contiguous(&xv);
    let x2 = as_rows(xc.as_ref().unwrap_or(&xv), rows, in_f);
    let w2 = wv.view().into_dimensionality::<Ix2>().expect("checked 2-d");
    let bv = bias.map(|b| b.value());
    let bias_row = bv.as_ref().map(|b| b.as_slice().expect("a bias is contiguous"));
    let mut out = pool::take::<T>(out_shape.slice());
    {
        let o2 = as_rows_mut(&mut out, rows, out_f);
        let os = threads::DisjointSlice::new(o2.into_slice().expect("contiguous"));
        let parts = split_parts(rows.saturating_mul(in_f).saturating_mul(out_f), rows, threads::threads());
        threads::split_ranges(rows, parts, |r| {
            // SAFETY: `out` is a contiguous [rows, out_f] buffer that outlives the split; the
            // row ranges of a split are disjoint.
            let ys = unsafe { os.range(r.start * out_f, r.end * out_f) };
            block_forward(x2.slice(nabla_tensor::ndarray::s![r, ..]), w2, bias_row, steps, ys);
        });
    }
    drop(xc);
    Ok(Var::constant(out))
}

fn block_forward<T: Element>(
    x: ArrayView2<'_, T>,
    w: ArrayView2<'_, T>,
    bias: Option<&[T]>,
    steps: &[ColumnStep<T>],
    ys: &mut [T],
) {
    let out_f = w.nrows();
    let beta = match bias {
        Some(b) => {
            ys.chunks_exact_mut(out_f.max(1)).for_each(|row| row.copy_from_slice(b));
            T::one()
        }
        None => T::zero(),
    };
    let y2 =
        nabla_tensor::ndarray::ArrayViewMut2::from_shape((x.nrows(), out_f), &mut *ys).expect("block shape");
    gemm_into(T::one(), x, w.t(), beta, y2);
    if out_f > 0 {
        for row in ys.chunks_exact_mut(out_f) {
            steps.iter().for_each(|s| s.apply(row));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{batch_norm_eval, batch_norm_eval_step, linear, no_grad};
    use nabla_tensor::ndarray::Array1;
    use nabla_tensor::Rng;

    fn uniform(shape: &[usize], seed: u64) -> Var<f32> {
        Var::constant(Rng::seed(seed).uniform_array::<f32>(shape, -1.0, 1.0))
    }

    #[test]
    fn equals_linear_then_batch_norm_then_relu_bit_for_bit() {
        // 300 rows: several blocks and a ragged last one; wide enough to be split.
        for (rows, with_bias) in [(300, true), (7, false), (0, true)] {
            let x = uniform(&[rows, 96], 1);
            let w = uniform(&[128, 96], 2);
            let b = uniform(&[128], 3);
            let gamma = uniform(&[128], 4);
            let beta = uniform(&[128], 5);
            let mean = Rng::seed(6).uniform_array::<f32>(&[128], -0.5, 0.5);
            let var = Rng::seed(7).uniform_array::<f32>(&[128], 0.1, 2.0);
            let mean1: Array1<f32> = mean.clone().into_dimensionality().unwrap();
            let var1: Array1<f32> = var.clone().into_dimensionality().unwrap();
            let bias = with_bias.then_some(&b);
            let want = no_grad(|| {
                let y = linear(&x, &w, bias).unwrap();
                let y =
                    batch_norm_eval(&y, Some(&gamma), Some(&beta), mean1.view(), var1.view(), 1e-5).unwrap();
                y.relu().value().clone()
            });
            let step = batch_norm_eval_step(Some(&gamma), Some(&beta), mean1.view(), var1.view(), 1e-5);
            let got = fused_linear(&x, &w, bias, &[step, ColumnStep::Relu]).unwrap();
            assert_eq!(got.shape(), want.shape());
            let same = got.value().iter().zip(want.iter()).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{rows} rows, bias {with_bias}: fused differs from the ops");
        }
    }

    #[test]
    fn shapes_and_step_lengths_are_checked() {
        let x = uniform(&[4, 3], 1);
        let w = uniform(&[5, 3], 2);
        assert!(fused_linear(&x, &uniform(&[5, 4], 2), None, &[]).is_err());
        let short = ColumnStep::Affine { sub: vec![0.0; 4], mul: vec![1.0; 4], add: vec![0.0; 4] };
        let err = fused_linear(&x, &w, None, &[short]).unwrap_err().to_string();
        assert!(err.contains("4 columns") && err.contains("5 outputs"), "{err}");
    }
}
