//! Differentiable reshape, transpose and permute.

use crate::error::Result;
use crate::var::{Shape, Var};
use nabla_tensor::ndarray::{ArrayD, IxDyn};
use nabla_tensor::{check_axis, check_permutation, pool, Element, TensorError};

/// A standard-layout pooled copy of `x` with the given shape (same element count).
fn reshaped<T: Element>(x: &ArrayD<T>, shape: &[usize]) -> ArrayD<T> {
    pool::copy_of(&x.view()).into_shape_with_order(IxDyn(shape)).expect("same element count")
}

impl<T: Element> Var<T> {
    /// The same elements (row-major order) with a new shape.
    ///
    /// # Errors
    /// A data-length error naming both shapes when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<T>> {
        let from = Shape::from_slice(self.value().shape());
        let n: usize = shape.iter().product();
        if n != self.len() {
            return Err(TensorError::DataLength {
                op: "reshape",
                shape: shape.to_vec(),
                expected: n,
                len: self.len(),
            }
            .into());
        }
        let out = reshaped(&self.value(), shape);
        Ok(Var::custom("reshape", &[self], out, move |args| {
            let g = args.grad_output;
            let r = reshaped(&g, &from);
            pool::give(g);
            [Some(r)]
        }))
    }

    /// Flattens all axes after the first: `[n, ...] -> [n, prod(...)]`.
    ///
    /// # Errors
    /// A rank error for a 0-d variable.
    pub fn flatten(&self) -> Result<Var<T>> {
        let s = self.shape();
        if s.is_empty() {
            return Err(
                TensorError::Rank { op: "flatten", expected: "at least 1 dimension", shape: s }.into()
            );
        }
        self.reshape(&[s[0], s[1..].iter().product()])
    }

    /// Swaps axes `a` and `b`; the result is laid out contiguously.
    ///
    /// # Errors
    /// An axis-out-of-range error naming the shape.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Var<T>> {
        let shape = self.shape();
        check_axis("transpose", a, &shape)?;
        check_axis("transpose", b, &shape)?;
        let mut axes: Vec<usize> = (0..shape.len()).collect();
        axes.swap(a, b);
        self.permute(&axes)
    }

    /// Swaps the last two axes (a matrix transpose).
    ///
    /// # Errors
    /// A rank error for fewer than 2 dimensions.
    pub fn t(&self) -> Result<Var<T>> {
        let n = self.ndim();
        if n < 2 {
            return Err(TensorError::Rank {
                op: "t",
                expected: "at least 2 dimensions",
                shape: self.shape(),
            }
            .into());
        }
        self.transpose(n - 2, n - 1)
    }

    /// Reorders the axes: axis `i` of the result is axis `axes[i]` of `self`; the result is
    /// laid out contiguously.
    ///
    /// # Errors
    /// An invalid-permutation error naming the axes and the shape.
    pub fn permute(&self, axes: &[usize]) -> Result<Var<T>> {
        check_permutation("permute", axes, &self.shape())?;
        let out = pool::copy_of(&self.value().view().permuted_axes(IxDyn(axes)));
        let mut inverse = vec![0; axes.len()];
        for (i, &a) in axes.iter().enumerate() {
            inverse[a] = i;
        }
        Ok(Var::custom("permute", &[self], out, move |args| {
            let g = args.grad_output;
            let r = pool::copy_of(&g.view().permuted_axes(IxDyn(&inverse)));
            pool::give(g);
            [Some(r)]
        }))
    }
}
