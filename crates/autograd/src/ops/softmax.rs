//! Differentiable `softmax` and `log_softmax` along an axis, shifted by the lane maximum so
//! that large logits neither overflow nor lose precision.

use crate::error::Result;
use crate::var::Var;
use nabla_tensor::ndarray::{Axis, Zip};
use nabla_tensor::{check_axis, pool, Element};

fn lane_max<'a, T: Element>(lane: impl IntoIterator<Item = &'a T>) -> T {
    lane.into_iter().fold(T::neg_infinity(), |m, &v| if v > m || v.is_nan() { v } else { m })
}

impl<T: Element> Var<T> {
    /// `exp(x - max) / sum(exp(x - max))` along `axis`.
    ///
    /// # Errors
    /// An axis-out-of-range error naming the shape.
    pub fn softmax(&self, axis: usize) -> Result<Var<T>> {
        check_axis("softmax", axis, &self.shape())?;
        let x = self.value();
        let mut out = pool::take::<T>(x.shape());
        Zip::from(out.lanes_mut(Axis(axis))).and(x.lanes(Axis(axis))).for_each(|mut o, xl| {
            let m = lane_max(xl);
            let mut s = T::zero();
            Zip::from(&mut o).and(&xl).for_each(|o, &v| {
                *o = (v - m).exp();
                s = s + *o;
            });
            let inv = T::one() / s;
            o.mapv_inplace(|v| v * inv);
        });
        drop(x);
        Ok(Var::custom("softmax", &[self], out, move |args| {
            // dx = y * (g - sum(g * y))
            let mut g = args.grad_output;
            Zip::from(g.lanes_mut(Axis(axis))).and(args.output.lanes(Axis(axis))).for_each(|mut gl, yl| {
                let dot = gl.iter().zip(yl.iter()).fold(T::zero(), |a, (&g, &y)| a + g * y);
                Zip::from(&mut gl).and(&yl).for_each(|g, &y| *g = y * (*g - dot));
            });
            vec![Some(g)]
        }))
    }

    /// `x - max - log(sum(exp(x - max)))` along `axis`.
    ///
    /// # Errors
    /// An axis-out-of-range error naming the shape.
    pub fn log_softmax(&self, axis: usize) -> Result<Var<T>> {
        check_axis("log_softmax", axis, &self.shape())?;
        let x = self.value();
        let mut out = pool::take::<T>(x.shape());
        Zip::from(out.lanes_mut(Axis(axis))).and(x.lanes(Axis(axis))).for_each(|mut o, xl| {
            let m = lane_max(xl);
            let s = xl.iter().fold(T::zero(), |a, &v| a + (v - m).exp());
            let shift = m + s.ln();
            Zip::from(&mut o).and(&xl).for_each(|o, &v| *o = v - shift);
        });
        drop(x);
        Ok(Var::custom("log_softmax", &[self], out, move |args| {
            // dx = g - exp(y) * sum(g)
            let mut g = args.grad_output;
            Zip::from(g.lanes_mut(Axis(axis))).and(args.output.lanes(Axis(axis))).for_each(|mut gl, yl| {
                let s = gl.sum();
                Zip::from(&mut gl).and(&yl).for_each(|g, &y| *g = *g - y.exp() * s);
            });
            vec![Some(g)]
        }))
    }
}
