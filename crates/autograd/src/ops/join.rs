//! Differentiable joining and row gathering: `concat`, `stack`, `gather_rows`.

use crate::error::Result;
use crate::var::Var;
use nabla_tensor::ndarray::{ArrayD, Axis, Slice, Zip};
use nabla_tensor::{pool, Element, TensorError};

impl<T: Element> Var<T> {
    /// Joins variables along an existing axis; the gradient is split back into the pieces.
    ///
    /// # Errors
    /// `TensorError::Empty` for no variables, `AxisOutOfRange`, or `ShapeMismatch` when
    /// another axis differs (naming the first and the offending shape).
    pub fn concat(vars: &[&Var<T>], axis: usize) -> Result<Var<T>> {
        let out = {
            let values: Vec<_> = vars.iter().map(|v| v.value()).collect();
            check_concat(&values.iter().map(|v| v.shape().to_vec()).collect::<Vec<_>>(), axis)?;
            let views: Vec<_> = values.iter().map(|v| v.view()).collect();
            nabla_tensor::ndarray::concatenate(Axis(axis), &views).expect("shapes checked")
        };
        let lens: Vec<usize> = vars.iter().map(|v| v.shape()[axis]).collect();
        Ok(Var::custom("concat", vars, out, move |args| {
            let g = args.grad_output;
            let mut start = 0isize;
            let grads = lens
                .iter()
                .zip(args.inputs)
                .map(|(&len, input)| {
                    let end = start + len as isize;
                    let piece = g.slice_axis(Axis(axis), Slice::from(start..end));
                    start = end;
                    input.requires_grad().then(|| pool::copy_of(&piece))
                })
                .collect::<crate::Grads<T>>();
            pool::give(g);
            grads
        }))
    }

    /// Stacks variables of equal shape along a new axis `axis` (`0..=ndim`).
    ///
    /// # Errors
    /// `TensorError::Empty` for no variables, `AxisOutOfRange` for `axis > ndim`, and
    /// `ShapeMismatch` naming the first shape and one that differs.
    pub fn stack(vars: &[&Var<T>], axis: usize) -> Result<Var<T>> {
        let first = vars.first().ok_or(TensorError::Empty { op: "stack", what: "the variable list" })?;
        let shape = first.shape();
        if axis > shape.len() {
            return Err(TensorError::AxisOutOfRange { op: "stack", axis, shape }.into());
        }
        if let Some(v) = vars.iter().find(|v| v.shape() != shape) {
            return Err(TensorError::ShapeMismatch { op: "stack", lhs: shape, rhs: v.shape() }.into());
        }
        let mut expanded = shape.clone();
        expanded.insert(axis, 1);
        let pieces: Vec<Var<T>> = vars.iter().map(|v| v.reshape(&expanded)).collect::<Result<_>>()?;
        let refs: Vec<&Var<T>> = pieces.iter().collect();
        Var::concat(&refs, axis)
    }

    /// The rows (indices along axis 0) in the given order, repeats allowed (an embedding
    /// lookup); the backward adds each row's gradient into the rows it came from.
    ///
    /// # Errors
    /// A rank error for a 0-d variable, an index error for an index past the first axis.
    pub fn gather_rows(&self, indices: &[usize]) -> Result<Var<T>> {
        let shape = self.shape();
        if shape.is_empty() {
            return Err(
                TensorError::Rank { op: "gather_rows", expected: "at least 1 dimension", shape }.into()
            );
        }
        if let Some(&index) = indices.iter().find(|&&i| i >= shape[0]) {
            return Err(
                TensorError::IndexOutOfRange { op: "gather_rows", index, len: shape[0], shape }.into()
            );
        }
        let out = self.value().select(Axis(0), indices);
        let indices = indices.to_vec();
        Ok(Var::custom("gather_rows", &[self], out, move |args| {
            let g = args.grad_output;
            let mut grad: ArrayD<T> = pool::zeros(&shape);
            for (k, &i) in indices.iter().enumerate() {
                let src = g.index_axis(Axis(0), k);
                Zip::from(grad.index_axis_mut(Axis(0), i)).and(&src).for_each(|d, &s| *d = *d + s);
            }
            pool::give(g);
            [Some(grad)]
        }))
    }
}

fn check_concat(shapes: &[Vec<usize>], axis: usize) -> Result<()> {
    let first = shapes.first().ok_or(TensorError::Empty { op: "concat", what: "the variable list" })?;
    nabla_tensor::check_axis("concat", axis, first)?;
    for s in &shapes[1..] {
        let fits =
            s.len() == first.len() && s.iter().zip(first).enumerate().all(|(i, (a, b))| i == axis || a == b);
        if !fits {
            return Err(
                TensorError::ShapeMismatch { op: "concat", lhs: first.clone(), rhs: s.clone() }.into()
            );
        }
    }
    Ok(())
}
