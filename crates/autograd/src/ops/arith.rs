//! Elementwise arithmetic with NumPy broadcasting: `add`, `sub`, `mul`, `div`, scalar forms
//! and negation. Gradients of broadcast operands are summed back to their shapes.

use crate::error::Result;
use crate::var::Var;
use nabla_tensor::ndarray::{ArrayD, Zip};
use nabla_tensor::{broadcast_zip, pool, sum_to_shape, threads, Element};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The upstream gradient handed to up to two consumers: moved to one, copied for the second.
pub(crate) fn split<T: Element>(g: ArrayD<T>, na: bool, nb: bool) -> (Option<ArrayD<T>>, Option<ArrayD<T>>) {
    match (na, nb) {
        (true, true) => {
            let c = pool::copy_of(&g.view());
            (Some(g), Some(c))
        }
        (true, false) => (Some(g), None),
        (false, true) => (None, Some(g)),
        (false, false) => {
            pool::give(g);
            (None, None)
        }
    }
}

/// `g` for the first of two consumers that both need it: a pooled copy, or `g` itself when
/// the other does not need it.
pub(crate) fn fork_grad<T: Element>(g: &ArrayD<T>, other_needs: bool) -> Option<ArrayD<T>> {
    other_needs.then(|| pool::copy_of(&g.view()))
}

impl<T: Element> Var<T> {
    /// `self + other` with NumPy broadcasting.
    ///
    /// # Errors
    /// A shape mismatch naming both shapes.
    pub fn add(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = broadcast_zip("add", &self.value().view(), &other.value().view(), |a, b| a + b)?;
        let (sa, sb) = (self.shape(), other.shape());
        Ok(Var::custom("add", &[self, other], out, move |args| {
            let (na, nb) = (args.inputs[0].requires_grad(), args.inputs[1].requires_grad());
            let (ga, gb) = split(args.grad_output, na, nb);
            [
                ga.map(|g| sum_to_shape(g, &sa).expect("broadcast shape")),
                gb.map(|g| sum_to_shape(g, &sb).expect("broadcast shape")),
            ]
        }))
    }

    /// `self - other` with NumPy broadcasting (errors as [`Var::add`]).
    pub fn sub(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = broadcast_zip("sub", &self.value().view(), &other.value().view(), |a, b| a - b)?;
        let (sa, sb) = (self.shape(), other.shape());
        Ok(Var::custom("sub", &[self, other], out, move |args| {
            let (na, nb) = (args.inputs[0].requires_grad(), args.inputs[1].requires_grad());
            let (ga, mut gb) = split(args.grad_output, na, nb);
            if let Some(gb) = gb.as_mut() {
                gb.mapv_inplace(|x| -x);
            }
            [
                ga.map(|g| sum_to_shape(g, &sa).expect("broadcast shape")),
                gb.map(|g| sum_to_shape(g, &sb).expect("broadcast shape")),
            ]
        }))
    }

    /// `self * other` elementwise with NumPy broadcasting (errors as [`Var::add`]).
    pub fn mul(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = broadcast_zip("mul", &self.value().view(), &other.value().view(), |a, b| a * b)?;
        let (sa, sb) = (self.shape(), other.shape());
        Ok(Var::custom("mul", &[self, other], out, move |args| {
            let (na, nb) = (args.inputs[0].requires_grad(), args.inputs[1].requires_grad());
            let inputs = args.inputs;
            let mut g = args.grad_output;
            let gb = if nb {
                let mut t = fork_grad(&g, na).unwrap_or_else(|| std::mem::replace(&mut g, empty()));
                t.zip_mut_with(&*inputs[0].value(), |x, &a| *x = *x * a);
                Some(sum_to_shape(t, &sb).expect("broadcast shape"))
            } else {
                None
            };
            let ga = if na {
                g.zip_mut_with(&*inputs[1].value(), |x, &b| *x = *x * b);
                Some(sum_to_shape(g, &sa).expect("broadcast shape"))
            } else {
                None
            };
            [ga, gb]
        }))
    }

    /// `self / other` elementwise with NumPy broadcasting (errors as [`Var::add`]).
    pub fn div(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = broadcast_zip("div", &self.value().view(), &other.value().view(), |a, b| a / b)?;
        let (sa, sb) = (self.shape(), other.shape());
        Ok(Var::custom("div", &[self, other], out, move |args| {
            let (na, nb) = (args.inputs[0].requires_grad(), args.inputs[1].requires_grad());
            let (inputs, output) = (args.inputs, args.output);
            let mut g = args.grad_output;
            let b = inputs[1].value();
            let gb = if nb {
                // d(a/b)/db = -(a/b)/b = -out/b
                let mut t = fork_grad(&g, na).unwrap_or_else(|| std::mem::replace(&mut g, empty()));
                Zip::from(&mut t).and(output).and_broadcast(&*b).for_each(|x, &o, &bv| *x = -*x * o / bv);
                Some(sum_to_shape(t, &sb).expect("broadcast shape"))
            } else {
                None
            };
            let ga = if na {
                g.zip_mut_with(&*b, |x, &bv| *x = *x / bv);
                Some(sum_to_shape(g, &sa).expect("broadcast shape"))
            } else {
                None
            };
            [ga, gb]
        }))
    }

    /// `self + s` for a scalar `s`.
    pub fn add_scalar(&self, s: T) -> Var<T> {
        let out = map_pooled(&self.value(), |x| x + s);
        Var::custom("add_scalar", &[self], out, |args| [Some(args.grad_output)])
    }

    /// `self * s` for a scalar `s`.
    pub fn mul_scalar(&self, s: T) -> Var<T> {
        let out = map_pooled(&self.value(), |x| x * s);
        Var::custom("mul_scalar", &[self], out, move |mut args| {
            args.grad_output.mapv_inplace(|g| g * s);
            [Some(args.grad_output)]
        })
    }

    /// `-self`.
    pub fn neg(&self) -> Var<T> {
        self.mul_scalar(-T::one())
    }
}

/// `f(x)` for every element, into a pooled buffer in standard layout.
/// `f` of every element of `x`, into a pooled array; a contiguous `x` is split over the
/// threads when it is large enough (elementwise, so the result is the same).
pub(crate) fn map_pooled<T: Element>(x: &ArrayD<T>, f: impl Fn(T) -> T + Sync) -> ArrayD<T> {
    let mut out = pool::take::<T>(x.shape());
    match x.as_slice() {
        Some(xs) => {
            let os = threads::DisjointSlice::new(out.as_slice_mut().expect("pooled arrays are contiguous"));
            threads::split_ranges(xs.len(), threads::parts_of(xs.len(), threads::MIN_PART_ELEMENTS), |r| {
                // SAFETY: the ranges of a split are disjoint.
                let o = unsafe { os.range(r.start, r.end) };
                o.iter_mut().zip(&xs[r]).for_each(|(o, &v)| *o = f(v));
            });
        }
        _ => Zip::from(&mut out).and(x).for_each(|o, &v| *o = f(v)),
    }
    out
}

pub(crate) fn empty<T: Element>() -> ArrayD<T> {
    ArrayD::from_shape_vec(nabla_tensor::ndarray::IxDyn(&[0]), Vec::new()).expect("empty")
}

macro_rules! var_binop {
    ($trait:ident, $method:ident) => {
        /// Elementwise with broadcasting. **Panics** when the shapes do not broadcast (the
        /// message names both shapes); use the method of the same name for a `Result`.
        impl<T: Element> $trait<&Var<T>> for &Var<T> {
            type Output = Var<T>;
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                Var::$method(self, rhs).unwrap_or_else(|e| panic!("{e}"))
            }
        }
    };
}
var_binop!(Add, add);
var_binop!(Sub, sub);
var_binop!(Mul, mul);
var_binop!(Div, div);

impl<T: Element> Neg for &Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        Var::neg(self)
    }
}
