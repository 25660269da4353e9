//! Differentiable elementwise functions: `exp`, `log`, `powf`, `sqrt`, `relu`, `leaky_relu`,
//! `sigmoid`, `tanh`, `gelu` (exact) and `gelu_tanh`.
//!
//! Each forward is one fused `Zip` loop into a pooled buffer; each backward multiplies the
//! upstream gradient in place by the local derivative (written in terms of the input `x` and
//! the output `y`), so no buffer is allocated.

use crate::ops::arith::map_pooled;
use crate::var::Var;
use nabla_tensor::ndarray::Zip;
use nabla_tensor::{sigmoid, threads, Element};

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// `1 / sqrt(2 pi)`.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
const GELU_TANH_C: f64 = 0.044_715;

/// An elementwise op `y = f(x)` with derivative `dy/dx = df(x, y)`.
fn unary<T: Element>(
    x: &Var<T>,
    name: &'static str,
    f: impl Fn(T) -> T + Sync,
    df: impl Fn(T, T) -> T + Sync + 'static,
) -> Var<T> {
    let out = map_pooled(&x.value(), f);
    Var::custom(name, &[x], out, move |args| {
        let mut g = args.grad_output;
        let xv = args.inputs[0].value();
        let y = args.output;
        match (xv.as_slice(), y.as_slice()) {
            (Some(xs), Some(ys)) if g.is_standard_layout() => {
                let gs = threads::DisjointSlice::new(g.as_slice_mut().expect("standard layout"));
                threads::split_ranges(
                    xs.len(),
                    threads::parts_of(xs.len(), threads::MIN_PART_ELEMENTS),
                    |r| {
                        // SAFETY: the ranges of a split are disjoint.
                        let gr = unsafe { gs.range(r.start, r.end) };
                        for ((g, &x), &y) in gr.iter_mut().zip(&xs[r.clone()]).zip(&ys[r]) {
                            *g = *g * df(x, y);
                        }
                    },
                );
            }
            _ => Zip::from(&mut g).and(&*xv).and(y).for_each(|g, &x, &y| *g = *g * df(x, y)),
        }
        drop(xv);
        [Some(g)]
    })
}

/// An elementwise op whose value `f` and derivative `df` (both of the input alone) are
/// evaluated in `f64` and rounded to `T`, as PyTorch computes GELU for every element type.
fn unary_in_f64<T: Element>(x: &Var<T>, name: &'static str, f: fn(f64) -> f64, df: fn(f64) -> f64) -> Var<T> {
    unary(x, name, move |x| T::from_f64(f(x.to_f64())), move |x, _| T::from_f64(df(x.to_f64())))
}

/// The exact GELU `x Phi(x)` of one value, computed in `f64`.
pub(crate) fn gelu_f64(x: f64) -> f64 {
    0.5 * x * (1.0 + libm_erf(x * FRAC_1_SQRT_2))
}

fn libm_erf(x: f64) -> f64 {
    <f64 as Element>::erf(x)
}

fn gelu_grad_f64(x: f64) -> f64 {
    let cdf = 0.5 * (1.0 + libm_erf(x * FRAC_1_SQRT_2));
    let pdf = INV_SQRT_2PI * (-0.5 * x * x).exp();
    cdf + x * pdf
}

fn gelu_tanh_f64(x: f64) -> f64 {
    let u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
    0.5 * x * (1.0 + u.tanh())
}

fn gelu_tanh_grad_f64(x: f64) -> f64 {
    let u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
    let t = u.tanh();
    let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_C * x * x);
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
}

impl<T: Element> Var<T> {
    /// `e^x`.
    pub fn exp(&self) -> Var<T> {
        unary(self, "exp", T::exp, |_, y| y)
    }

    /// The natural logarithm.
    pub fn log(&self) -> Var<T> {
        unary(self, "log", T::ln, |x, _| T::one() / x)
    }

    /// `x^p` for a real exponent `p`.
    pub fn powf(&self, p: f64) -> Var<T> {
        let pt = T::from_f64(p);
        let pm1 = T::from_f64(p - 1.0);
        unary(self, "powf", move |x| x.powf(pt), move |x, _| pt * x.powf(pm1))
    }

    /// The square root.
    pub fn sqrt(&self) -> Var<T> {
        let half = T::from_f64(0.5);
        unary(self, "sqrt", T::sqrt, move |_, y| half / y)
    }

    /// `max(x, 0)`; the gradient at 0 is 0 (as in PyTorch).
    pub fn relu(&self) -> Var<T> {
        let z = T::zero();
        unary(self, "relu", move |x| if x > z { x } else { z }, move |_, y| if y > z { T::one() } else { z })
    }

    /// `x` for `x > 0`, else `negative_slope * x`; the gradient at 0 is `negative_slope`
    /// (as in PyTorch). PyTorch's default slope is 0.01.
    pub fn leaky_relu(&self, negative_slope: f64) -> Var<T> {
        let s = T::from_f64(negative_slope);
        let z = T::zero();
        unary(
            self,
            "leaky_relu",
            move |x| if x > z { x } else { x * s },
            move |x, _| if x > z { T::one() } else { s },
        )
    }

    /// The logistic sigmoid `1 / (1 + e^-x)`.
    pub fn sigmoid(&self) -> Var<T> {
        unary(self, "sigmoid", sigmoid, |_, y| y * (T::one() - y))
    }

    /// The hyperbolic tangent.
    pub fn tanh(&self) -> Var<T> {
        unary(self, "tanh", T::tanh, |_, y| T::one() - y * y)
    }

    /// The exact GELU `x Phi(x) = x (1 + erf(x / sqrt 2)) / 2` (PyTorch's default
    /// `approximate='none'`), evaluated in `f64` and rounded.
    pub fn gelu(&self) -> Var<T> {
        unary_in_f64(self, "gelu", gelu_f64, gelu_grad_f64)
    }

    /// The tanh approximation of GELU, `x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2`
    /// (PyTorch's `approximate='tanh'`), evaluated in `f64` and rounded.
    pub fn gelu_tanh(&self) -> Var<T> {
        unary_in_f64(self, "gelu_tanh", gelu_tanh_f64, gelu_tanh_grad_f64)
    }
}
