//! Differentiable matrix product (2-d and batched 3-d) on strided GEMM.

use crate::error::Result;
use crate::var::Var;
use nabla_tensor::ndarray::{ArrayD, ArrayView3, ArrayViewD, Axis, Ix3};
use nabla_tensor::{gemm_into, matmul, pool, Element};

/// Views a 2-d or 3-d array as 3-d (a 2-d one as a batch of one).
pub(crate) fn as3<'a, T: Element>(x: ArrayViewD<'a, T>) -> ArrayView3<'a, T> {
    let x = if x.ndim() == 2 { x.insert_axis(Axis(0)) } else { x };
    x.into_dimensionality::<Ix3>().expect("2-d or 3-d")
}

impl<T: Element> Var<T> {
    /// The matrix product: `[m,k] @ [k,n]`, batched `[b,m,k] @ [b,k,n]` (a batch of 1
    /// broadcasts), `[b,m,k] @ [k,n]` or `[m,k] @ [b,k,n]`. Forward and backward run on
    /// strided GEMM: the transposes in `dA = dC B^T`, `dB = A^T dC` are views, not copies.
    ///
    /// # Errors
    /// A shape mismatch naming both shapes, or a rank error for other than 2-d/3-d operands.
    pub fn matmul(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = matmul(&self.value().view(), &other.value().view())?;
        Ok(Var::custom("matmul", &[self, other], out, |args| {
            let (na, nb) = (args.inputs[0].requires_grad(), args.inputs[1].requires_grad());
            let a = args.inputs[0].value();
            let b = args.inputs[1].value();
            let g = args.grad_output;
            let (a3, b3, g3) = (as3(a.view()), as3(b.view()), as3(g.view()));
            let batch = g3.dim().0;
            let ga = na.then(|| {
                grad_operand(a.shape(), batch, |i| {
                    (
                        g3.index_axis(Axis(0), i),
                        b3.index_axis(Axis(0), pick(b3.dim().0, i)).reversed_axes(),
                        false,
                    )
                })
            });
            let gb = nb.then(|| {
                grad_operand(b.shape(), batch, |i| {
                    (
                        a3.index_axis(Axis(0), pick(a3.dim().0, i)).reversed_axes(),
                        g3.index_axis(Axis(0), i),
                        true,
                    )
                })
            });
            pool::give(g);
            [ga, gb]
        }))
    }
}

fn pick(len: usize, i: usize) -> usize {
    if len == 1 {
        0
    } else {
        i
    }
}

/// The gradient of one operand of shape `shape` (2-d or 3-d): the sum over the output batch
/// of the products given by `factors(i)`, accumulated in place with GEMM's `beta`.
fn grad_operand<'a, T: Element, F>(shape: &[usize], batch: usize, factors: F) -> ArrayD<T>
where
    F: Fn(
        usize,
    ) -> (nabla_tensor::ndarray::ArrayView2<'a, T>, nabla_tensor::ndarray::ArrayView2<'a, T>, bool),
{
    let own_batch = if shape.len() == 3 { shape[0] } else { 1 };
    let shared = own_batch == 1 && batch != 1;
    let mut out = if shared || batch == 0 { pool::zeros::<T>(shape) } else { pool::take::<T>(shape) };
    {
        let (r, c) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        let mut o3 =
            out.view_mut().into_shape_with_order((own_batch, r, c)).expect("pooled arrays are contiguous");
        for i in 0..batch {
            let (x, y, _) = factors(i);
            let beta = if shared { T::one() } else { T::zero() };
            gemm_into(T::one(), x, y, beta, o3.index_axis_mut(Axis(0), pick(own_batch, i)));
        }
    }
    out
}
