//! Loss functions: fused cross-entropy from logits (with label smoothing), negative
//! log-likelihood, mean squared error and binary cross-entropy with logits.

use crate::error::{AutogradError, Result};
use crate::ops::saved::Saved;
use crate::var::Var;
use nabla_tensor::ndarray::{ArrayD, IxDyn, Zip};
use nabla_tensor::pool::Scratch;
use nabla_tensor::{pool, sigmoid, Element, TensorError};

/// How per-sample (or per-element) losses are combined, as PyTorch's `reduction`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// The mean (PyTorch's default `'mean'`); a 0-d result.
    #[default]
    Mean,
    /// The sum (`'sum'`); a 0-d result.
    Sum,
    /// No reduction (`'none'`): one loss per sample (per element for elementwise losses).
    None,
}

impl Reduction {
    /// Combines per-sample losses `l` (consumed).
    fn apply<T: Element>(self, l: ArrayD<T>) -> ArrayD<T> {
        match self {
            Reduction::None => l,
            Reduction::Sum => {
                let total = l.sum();
                pool::give(l);
                pool::full(&[], total)
            }
            Reduction::Mean => {
                let n = T::from_f64(l.len() as f64);
                let mean = l.sum() / n;
                pool::give(l);
                pool::full(&[], mean)
            }
        }
    }

    /// The upstream gradient of each per-sample loss, as an array that broadcasts to the
    /// per-sample shape: a 0-d `g/n` or `g`, or `g` itself for `None`.
    fn per_sample<T: Element>(self, g: ArrayD<T>, n: usize) -> ArrayD<T> {
        match self {
            Reduction::None => g,
            Reduction::Sum => g,
            Reduction::Mean => {
                let inv = T::one() / T::from_f64(n as f64);
                let mut g = g;
                g.mapv_inplace(|v| v * inv);
                g
            }
        }
    }
}

/// The class indices, kept for the backward in a pooled buffer (as `f64`: exact for every index
/// below 2^53), so that a step allocates nothing for them.
fn saved_targets(targets: &[usize]) -> Scratch<f64> {
    targets.iter().map(|&t| t as f64).collect()
}

fn check_targets(op: &'static str, shape: &[usize], targets: &[usize]) -> Result<(usize, usize)> {
    if shape.len() != 2 {
        return Err(TensorError::Rank { op, expected: "2-d logits [N, C]", shape: shape.to_vec() }.into());
    }
    let (n, c) = (shape[0], shape[1]);
    if targets.len() != n {
        return Err(AutogradError::Invalid {
            op,
            message: format!("{} targets for input of shape {shape:?}", targets.len()),
        });
    }
    if let Some((i, &t)) = targets.iter().enumerate().find(|(_, &t)| t >= c) {
        return Err(AutogradError::Invalid {
            op,
            message: format!("target {t} at position {i} is out of range for {c} classes"),
        });
    }
    Ok((n, c))
}

/// Cross-entropy of logits `[N, C]` against class indices, fused with log-softmax
/// (numerically stable: each row is shifted by its maximum).
///
/// With label smoothing `s` the target distribution is `q = (1 - s) onehot + s / C`; the
/// per-sample loss is `-sum_c q_c log_softmax(x)_c` and the gradient is
/// `softmax(x) - q` (times the upstream gradient, `/ N` for the mean). As PyTorch's
/// `CrossEntropyLoss(label_smoothing=s, reduction=...)` (no class weights, no ignore index).
///
/// # Errors
/// Logits that are not 2-d, a target count other than `N`, a class index `>= C`, or a
/// smoothing outside `[0, 1]`.
///
/// ```
/// use nabla_autograd::{cross_entropy, Reduction, Var};
/// use nabla_tensor::ndarray::arr2;
/// let logits = Var::<f64>::param(arr2(&[[0.0, 0.0], [0.0, 0.0]]).into_dyn());
/// let loss = cross_entropy(&logits, &[0, 1], 0.0, Reduction::Mean).unwrap();
/// assert!((loss.item() - 2f64.ln()).abs() < 1e-12);
/// loss.backward().unwrap();
/// assert_eq!(logits.grad().unwrap()[[0, 0]], -0.25);
/// ```
pub fn cross_entropy<T: Element>(
    logits: &Var<T>,
    targets: &[usize],
    label_smoothing: f64,
    reduction: Reduction,
) -> Result<Var<T>> {
    let (n, c) = check_targets("cross_entropy", logits.value().shape(), targets)?;
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(AutogradError::Invalid {
            op: "cross_entropy",
            message: format!("label_smoothing must be in [0, 1], got {label_smoothing}"),
        });
    }
    let s = label_smoothing;
    let x = logits.value();
    let mut probs = pool::take::<T>(&[n, c]);
    let mut losses = pool::zeros::<T>(&[n]);
    Zip::from(probs.rows_mut())
        .and(x.rows())
        .and(&mut losses)
        .and(&nabla_tensor::ndarray::ArrayView1::from(targets).into_dyn())
        .for_each(|mut p, xr, l, &t| {
            let m = xr.iter().fold(T::neg_infinity(), |m, &v| if v > m { v } else { m }).to_f64();
            let mut sum = 0.0f64;
            let mut sum_x = 0.0f64;
            Zip::from(&mut p).and(&xr).for_each(|p, &v| {
                let e = (v.to_f64() - m).exp();
                *p = T::from_f64(e);
                sum += e;
                sum_x += v.to_f64();
            });
            let lse = m + sum.ln();
            let inv = 1.0 / sum;
            p.mapv_inplace(|v| T::from_f64(v.to_f64() * inv));
            let logp_t = xr[t].to_f64() - lse;
            let sum_logp = sum_x - c as f64 * lse;
            *l = T::from_f64(-((1.0 - s) * logp_t + s / c as f64 * sum_logp));
        });
    drop(x);
    let out = reduction.apply(losses);
    let probs = Saved::new(probs);
    let targets = saved_targets(targets);
    let (on, off) = (T::from_f64(1.0 - s + s / c as f64), T::from_f64(s / c as f64));
    Ok(Var::custom("cross_entropy", &[logits], out, move |args| {
        let w = reduction.per_sample(args.grad_output, n);
        let wb = w.broadcast(IxDyn(&[n])).expect("per-sample weights");
        let mut grad = pool::take::<T>(&[n, c]);
        Zip::from(grad.rows_mut())
            .and(probs.rows())
            .and(&wb)
            .and(&nabla_tensor::ndarray::ArrayView1::from(&targets[..]).into_dyn())
            .for_each(|mut gr, pr, &wi, &t| {
                let t = t as usize;
                Zip::from(&mut gr).and(&pr).for_each(|g, &p| *g = (p - off) * wi);
                gr[t] = (pr[t] - on) * wi;
            });
        pool::give(w);
        [Some(grad)]
    }))
}

/// Negative log-likelihood of log-probabilities `[N, C]` (e.g. from
/// [`Var::log_softmax`]) against class indices: `-log_probs[i, target_i]`, reduced.
///
/// # Errors
/// As [`cross_entropy`].
pub fn nll_loss<T: Element>(log_probs: &Var<T>, targets: &[usize], reduction: Reduction) -> Result<Var<T>> {
    let (n, c) = check_targets("nll_loss", log_probs.value().shape(), targets)?;
    let x = log_probs.value();
    let mut losses = pool::take::<T>(&[n]);
    losses.iter_mut().zip(targets).enumerate().for_each(|(i, (l, &t))| *l = -x[[i, t]]);
    drop(x);
    let out = reduction.apply(losses);
    let targets = saved_targets(targets);
    Ok(Var::custom("nll_loss", &[log_probs], out, move |args| {
        let w = reduction.per_sample(args.grad_output, n);
        let wb = w.broadcast(IxDyn(&[n])).expect("per-sample weights");
        let mut grad = pool::zeros::<T>(&[n, c]);
        for (i, (&t, &wi)) in targets.iter().zip(wb.iter()).enumerate() {
            grad[[i, t as usize]] = -wi;
        }
        pool::give(w);
        [Some(grad)]
    }))
}

/// The forward of an elementwise loss of two operands of one shape (no broadcasting): the
/// loss `f(x, t)` of every element, reduced, with the shape for the backward.
///
/// # Errors
/// A shape mismatch naming both shapes.
fn pointwise_loss<T: Element>(
    op: &'static str,
    input: &Var<T>,
    target: &Var<T>,
    reduction: Reduction,
    f: impl Fn(T, T) -> T,
) -> Result<(Vec<usize>, ArrayD<T>)> {
    let (shape, target_shape) = (input.shape(), target.shape());
    if shape != target_shape {
        return Err(TensorError::ShapeMismatch { op, lhs: shape, rhs: target_shape }.into());
    }
    let mut losses = pool::take::<T>(&shape);
    Zip::from(&mut losses).and(&*input.value()).and(&*target.value()).for_each(|o, &x, &t| *o = f(x, t));
    let out = match reduction {
        Reduction::None => losses,
        r => {
            let o = r.apply(losses.clone());
            pool::give(losses);
            o
        }
    };
    Ok((shape, out))
}

/// Mean squared error `(input - target)^2`, reduced (PyTorch's `MSELoss`); both operands
/// get gradients when they require them (`2 (x - t)`, `/ numel` for the mean).
///
/// # Errors
/// A shape mismatch naming both shapes (no broadcasting).
pub fn mse_loss<T: Element>(input: &Var<T>, target: &Var<T>, reduction: Reduction) -> Result<Var<T>> {
    let (shape, out) = pointwise_loss("mse_loss", input, target, reduction, |x, t| (x - t) * (x - t))?;
    let numel = input.len();
    Ok(Var::custom("mse_loss", &[input, target], out, move |args| {
        let w = reduction.per_sample(args.grad_output, numel);
        let two = T::from_f64(2.0);
        let mut gi = pool::take::<T>(&shape);
        Zip::from(&mut gi)
            .and(&*args.inputs[0].value())
            .and(&*args.inputs[1].value())
            .and_broadcast(&w)
            .for_each(|g, &x, &t, &wi| *g = two * (x - t) * wi);
        let gt = args.inputs[1].requires_grad().then(|| gi.mapv(|v| -v));
        let gi = args.inputs[0].requires_grad().then_some(gi);
        vec![gi, gt]
    }))
}

/// Binary cross-entropy of logits against targets in `[0, 1]`, in the stable form
/// `max(x, 0) - x t + log(1 + e^-|x|)` (PyTorch's `BCEWithLogitsLoss`, no weights).
/// Gradients: `sigmoid(x) - t` for the logits and `-x` for the targets.
///
/// # Errors
/// A shape mismatch naming both shapes.
pub fn bce_with_logits<T: Element>(logits: &Var<T>, target: &Var<T>, reduction: Reduction) -> Result<Var<T>> {
    let (shape, out) = pointwise_loss("bce_with_logits", logits, target, reduction, |x, t| {
        x.max(T::zero()) - x * t + (-x.abs()).exp().ln_1p()
    })?;
    let numel = logits.len();
    Ok(Var::custom("bce_with_logits", &[logits, target], out, move |args| {
        let w = reduction.per_sample(args.grad_output, numel);
        let x = args.inputs[0].value();
        let gx = args.inputs[0].requires_grad().then(|| {
            let mut g = pool::take::<T>(&shape);
            Zip::from(&mut g)
                .and(&*x)
                .and(&*args.inputs[1].value())
                .and_broadcast(&w)
                .for_each(|g, &x, &t, &wi| *g = (sigmoid(x) - t) * wi);
            g
        });
        let gt = args.inputs[1].requires_grad().then(|| {
            let mut g = pool::take::<T>(&shape);
            Zip::from(&mut g).and(&*x).and_broadcast(&w).for_each(|g, &x, &wi| *g = -x * wi);
            g
        });
        vec![gx, gt]
    }))
}
