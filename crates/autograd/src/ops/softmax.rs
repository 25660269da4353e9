//! Differentiable `softmax` and `log_softmax` along an axis, shifted by the lane maximum so
//! that large logits neither overflow nor lose precision.

use crate::error::Result;
use crate::var::Var;
use nabla_tensor::ndarray::{ArrayView1, ArrayViewMut1, Axis, Zip};
use nabla_tensor::{check_axis, pool, Element};

fn lane_max<'a, T: Element>(lane: impl IntoIterator<Item = &'a T>) -> T {
    lane.into_iter().fold(T::neg_infinity(), |m, &v| if v > m || v.is_nan() { v } else { m })
}

/// An op that maps each lane along `axis` on its own, the softmax variants: `forward` writes
/// an output lane from an input lane, `backward` turns an upstream-gradient lane into the
/// input's gradient in place, given the output lane.
fn lanewise<T: Element>(
    x: &Var<T>,
    op: &'static str,
    axis: usize,
    forward: impl Fn(ArrayViewMut1<'_, T>, ArrayView1<'_, T>),
    backward: impl Fn(ArrayViewMut1<'_, T>, ArrayView1<'_, T>) + 'static,
) -> Result<Var<T>> {
    let xv = x.value();
    check_axis(op, axis, xv.shape())?;
    let mut out = pool::take::<T>(xv.shape());
    Zip::from(out.lanes_mut(Axis(axis))).and(xv.lanes(Axis(axis))).for_each(&forward);
    drop(xv);
    Ok(Var::custom(op, &[x], out, move |args| {
        let mut g = args.grad_output;
        Zip::from(g.lanes_mut(Axis(axis))).and(args.output.lanes(Axis(axis))).for_each(&backward);
        [Some(g)]
    }))
}

impl<T: Element> Var<T> {
    /// `exp(x - max) / sum(exp(x - max))` along `axis`.
    ///
    /// # Errors
    /// An axis-out-of-range error naming the shape.
    pub fn softmax(&self, axis: usize) -> Result<Var<T>> {
        lanewise(
            self,
            "softmax",
            axis,
            |mut o, xl| {
                let m = lane_max(xl);
                let mut s = T::zero();
                Zip::from(&mut o).and(&xl).for_each(|o, &v| {
                    *o = (v - m).exp();
                    s = s + *o;
                });
                let inv = T::one() / s;
                o.mapv_inplace(|v| v * inv);
            },
            // dx = y * (g - sum(g * y))
            |mut gl, yl| {
                let dot = gl.iter().zip(yl.iter()).fold(T::zero(), |a, (&g, &y)| a + g * y);
                Zip::from(&mut gl).and(&yl).for_each(|g, &y| *g = y * (*g - dot));
            },
        )
    }

    /// `x - max - log(sum(exp(x - max)))` along `axis`.
    ///
    /// # Errors
    /// An axis-out-of-range error naming the shape.
    pub fn log_softmax(&self, axis: usize) -> Result<Var<T>> {
        lanewise(
            self,
            "log_softmax",
            axis,
            |mut o, xl| {
                let m = lane_max(xl);
                let s = xl.iter().fold(T::zero(), |a, &v| a + (v - m).exp());
                let shift = m + s.ln();
                Zip::from(&mut o).and(&xl).for_each(|o, &v| *o = v - shift);
            },
            // dx = g - exp(y) * sum(g)
            |mut gl, yl| {
                let s = gl.sum();
                Zip::from(&mut gl).and(&yl).for_each(|g, &y| *g = *g - y.exp() * s);
            },
        )
    }
}
