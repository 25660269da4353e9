//! Differentiable sums and means, over everything or along axes.

use crate::error::Result;
use crate::var::{Shape, Var};
use nabla_tensor::ndarray::{ArrayD, IxDyn};
use nabla_tensor::{pool, reduced_shape, sum_axes, Element};

impl<T: Element> Var<T> {
    /// The sum of all elements, as a 0-d variable.
    pub fn sum(&self) -> Var<T> {
        let s = self.value().sum();
        let shape = Shape::from_slice(self.value().shape());
        Var::custom("sum", &[self], pool::full(&[], s), move |args| {
            let g = first(&args.grad_output);
            pool::give(args.grad_output);
            [Some(pool::full(&shape, g))]
        })
    }

    /// The mean of all elements, as a 0-d variable (NaN for an empty variable).
    pub fn mean(&self) -> Var<T> {
        let n = T::from_f64(self.len() as f64);
        let s = self.value().sum() / n;
        let shape = Shape::from_slice(self.value().shape());
        Var::custom("mean", &[self], pool::full(&[], s), move |args| {
            let g = first(&args.grad_output) / n;
            pool::give(args.grad_output);
            [Some(pool::full(&shape, g))]
        })
    }

    /// Sums along `axes` (duplicates count once), keeping them as length-1 axes when
    /// `keepdim`.
    ///
    /// # Errors
    /// An axis-out-of-range error naming the shape.
    pub fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Var<T>> {
        self.reduce_axes("sum_axes", axes, keepdim, false)
    }

    /// Means along `axes` (errors as [`Var::sum_axes`]).
    pub fn mean_axes(&self, axes: &[usize], keepdim: bool) -> Result<Var<T>> {
        self.reduce_axes("mean_axes", axes, keepdim, true)
    }

    fn reduce_axes(&self, op: &'static str, axes: &[usize], keepdim: bool, mean: bool) -> Result<Var<T>> {
        let shape = self.shape();
        let kept = reduced_shape(op, &shape, axes, true)?;
        let mut out = sum_axes(&self.value().view(), axes, keepdim)?;
        let count = shape.iter().product::<usize>() / kept.iter().product::<usize>().max(1);
        let scale = if mean { T::one() / T::from_f64(count as f64) } else { T::one() };
        if mean {
            out.mapv_inplace(|x| x * scale);
        }
        Ok(Var::custom(op, &[self], out, move |args| {
            let g = args.grad_output;
            let gs = (!g.is_standard_layout()).then(|| pool::copy_of(&g.view()));
            let src = gs.as_ref().unwrap_or(&g);
            let gk = src.view().into_shape_with_order(IxDyn(&kept)).expect("same element count");
            let mut out = pool::take::<T>(&shape);
            let b = gk.broadcast(IxDyn(&shape)).expect("kept axes broadcast");
            nabla_tensor::ndarray::Zip::from(&mut out).and(&b).for_each(|o, &v| *o = v * scale);
            drop(gs);
            pool::give(g);
            [Some(out)]
        }))
    }
}

fn first<T: Element>(g: &ArrayD<T>) -> T {
    *g.iter().next().expect("one-element gradient")
}
