//! Fused batch normalization over `[N, C]` or `[N, C, L]` input, with its fused backward.

use crate::error::{AutogradError, Result};
use crate::var::Var;
use nabla_tensor::ndarray::{Array1, ArrayD, ArrayView1};
use nabla_tensor::{pool, Element, TensorError};

/// The result of [`batch_norm_train`]: the normalized output and the batch statistics a
/// layer needs to update its running averages.
#[derive(Debug)]
pub struct BatchNormOutput<T: Element> {
    /// `gamma * (x - mean) / sqrt(var + eps) + beta`.
    pub output: Var<T>,
    /// The per-channel batch mean, `[C]`.
    pub mean: Array1<T>,
    /// The per-channel **unbiased** batch variance (`sum / (M - 1)`), `[C]`, as PyTorch
    /// feeds into `running_var`.
    pub var_unbiased: Array1<T>,
}

struct Dims {
    c: usize,
    l: usize,
    m: usize,
}

fn dims<T: Element>(
    op: &'static str,
    x: &Var<T>,
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
) -> Result<Dims> {
    let s = x.shape();
    if s.len() != 2 && s.len() != 3 {
        return Err(TensorError::Rank { op, expected: "input [N, C] or [N, C, L]", shape: s }.into());
    }
    let c = s[1];
    let l = if s.len() == 3 { s[2] } else { 1 };
    for (what, p) in [("weight", weight), ("bias", bias)] {
        if let Some(p) = p {
            if p.shape() != [c] {
                return Err(AutogradError::Invalid {
                    op,
                    message: format!("{what} has shape {:?}, expected [{c}] for input {s:?}", p.shape()),
                });
            }
        }
    }
    Ok(Dims { c, l, m: s[0] * l })
}

/// Calls `f(channel, lane)` for every contiguous lane of one channel of a `[N, C, L]`
/// row-major buffer.
fn lanes<T>(xs: &[T], d: &Dims, mut f: impl FnMut(usize, &[T])) {
    if d.c == 0 || d.l == 0 {
        return;
    }
    if d.l == 1 {
        for row in xs.chunks_exact(d.c) {
            for (c, v) in row.iter().enumerate() {
                f(c, std::slice::from_ref(v));
            }
        }
    } else {
        for (j, lane) in xs.chunks_exact(d.l).enumerate() {
            f(j % d.c, lane);
        }
    }
}

/// A standard-layout copy when `x` is not contiguous.
fn contiguous<T: Element>(x: &ArrayD<T>) -> Option<ArrayD<T>> {
    (!x.is_standard_layout()).then(|| pool::copy_of(&x.view()))
}

fn param_or<T: Element>(p: Option<&Var<T>>, c: usize, default: f64) -> Vec<f64> {
    match p {
        Some(p) => p.value().iter().map(|v| (*v).to_f64()).collect(),
        None => vec![default; c],
    }
}

/// Batch normalization in training mode: per channel `c`, over the `M = N` (or `N * L`)
/// values of that channel, `y = gamma (x - mean) / sqrt(var + eps) + beta` with the batch
/// mean and the **biased** batch variance; `weight` (gamma) and `bias` (beta) are optional
/// (`affine = false`). Statistics are accumulated in `f64`.
///
/// The backward is fused: with `xhat = (x - mean) / sqrt(var + eps)`,
/// `dbeta = sum g`, `dgamma = sum g xhat`, `dx = gamma / sqrt(var + eps) / M * (M g - dbeta - xhat dgamma)`.
///
/// Returns the output and the batch mean and unbiased variance for the running statistics
/// (`running_var <- (1 - momentum) running_var + momentum var_unbiased`, as PyTorch).
///
/// # Errors
/// Input that is not 2-d/3-d, parameters not of shape `[C]`, or `M < 2` (PyTorch: "expected
/// more than 1 value per channel when training").
pub fn batch_norm_train<T: Element>(
    x: &Var<T>,
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    eps: f64,
) -> Result<BatchNormOutput<T>> {
    let d = dims("batch_norm_train", x, weight, bias)?;
    if d.m < 2 {
        return Err(AutogradError::Invalid {
            op: "batch_norm_train",
            message: format!(
                "expected more than 1 value per channel when training, got input shape {:?}",
                x.shape()
            ),
        });
    }
    let xv = x.value();
    let xc = contiguous(&xv);
    let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
    let mut sum = vec![0.0f64; d.c];
    lanes(xs, &d, |c, lane| sum[c] += lane.iter().map(|v| (*v).to_f64()).sum::<f64>());
    let m = d.m as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / m).collect();
    let mut ss = vec![0.0f64; d.c];
    lanes(xs, &d, |c, lane| {
        let mu = mean[c];
        ss[c] += lane.iter().map(|v| ((*v).to_f64() - mu).powi(2)).sum::<f64>();
    });
    let var: Vec<f64> = ss.iter().map(|s| s / m).collect();
    let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let gamma = param_or(weight, d.c, 1.0);
    let beta = param_or(bias, d.c, 0.0);
    let mut out = pool::take::<T>(xv.shape());
    {
        let os = out.as_slice_mut().expect("pooled arrays are contiguous");
        let mut k = 0;
        lanes(xs, &d, |c, lane| {
            let (mu, a, b) = (mean[c], invstd[c] * gamma[c], beta[c]);
            for (o, v) in os[k..k + lane.len()].iter_mut().zip(lane) {
                *o = T::from_f64(((*v).to_f64() - mu) * a + b);
            }
            k += lane.len();
        });
    }
    drop(xc);
    drop(xv);
    let mean_out = Array1::from_iter(mean.iter().map(|&v| T::from_f64(v)));
    let var_unbiased = Array1::from_iter(ss.iter().map(|&s| T::from_f64(s / (m - 1.0))));
    let inputs = collect_inputs(x, weight, bias);
    let (has_w, has_b) = (weight.is_some(), bias.is_some());
    let output = Var::custom("batch_norm", &inputs, out, move |args| {
        let xv = args.inputs[0].value();
        let xc = contiguous(&xv);
        let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
        let g = args.grad_output;
        let gc = contiguous(&g);
        let gsl = gc.as_ref().unwrap_or(&g).as_slice().expect("contiguous");
        // Channel sums of g and g * xhat.
        let mut sg = vec![0.0f64; d.c];
        let mut sgx = vec![0.0f64; d.c];
        let mut k = 0;
        lanes(xs, &d, |c, lane| {
            let (mu, is) = (mean[c], invstd[c]);
            for (gv, v) in gsl[k..k + lane.len()].iter().zip(lane) {
                let gv = (*gv).to_f64();
                sg[c] += gv;
                sgx[c] += gv * ((*v).to_f64() - mu) * is;
            }
            k += lane.len();
        });
        let gx = args.inputs[0].requires_grad().then(|| {
            let mut gx = pool::take::<T>(xv.shape());
            let os = gx.as_slice_mut().expect("pooled arrays are contiguous");
            let mut k = 0;
            lanes(xs, &d, |c, lane| {
                let (mu, is) = (mean[c], invstd[c]);
                let scale = gamma[c] * is / m;
                for ((o, gv), v) in os[k..k + lane.len()].iter_mut().zip(&gsl[k..k + lane.len()]).zip(lane) {
                    let xhat = ((*v).to_f64() - mu) * is;
                    *o = T::from_f64(scale * (m * (*gv).to_f64() - sg[c] - xhat * sgx[c]));
                }
                k += lane.len();
            });
            gx
        });
        let mut grads = vec![gx];
        if has_w {
            grads.push(args.inputs[1].requires_grad().then(|| to_array(&sgx)));
        }
        if has_b {
            let i = if has_w { 2 } else { 1 };
            grads.push(args.inputs[i].requires_grad().then(|| to_array(&sg)));
        }
        drop(gc);
        drop(xc);
        drop(xv);
        pool::give(g);
        grads
    });
    Ok(BatchNormOutput { output, mean: mean_out, var_unbiased })
}

/// Batch normalization in evaluation mode: normalizes with the given running statistics,
/// `y = gamma (x - running_mean) / sqrt(running_var + eps) + beta`. Gradients flow to the
/// input, gamma and beta.
///
/// # Errors
/// As [`batch_norm_train`] (shapes), and running statistics not of length `C`.
pub fn batch_norm_eval<T: Element>(
    x: &Var<T>,
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    running_mean: ArrayView1<'_, T>,
    running_var: ArrayView1<'_, T>,
    eps: f64,
) -> Result<Var<T>> {
    let d = dims("batch_norm_eval", x, weight, bias)?;
    if running_mean.len() != d.c || running_var.len() != d.c {
        return Err(AutogradError::Invalid {
            op: "batch_norm_eval",
            message: format!(
                "running stats of lengths {} and {}, expected {} for input {:?}",
                running_mean.len(),
                running_var.len(),
                d.c,
                x.shape()
            ),
        });
    }
    let mean: Vec<f64> = running_mean.iter().map(|v| (*v).to_f64()).collect();
    let invstd: Vec<f64> = running_var.iter().map(|v| 1.0 / ((*v).to_f64() + eps).sqrt()).collect();
    let gamma = param_or(weight, d.c, 1.0);
    let beta = param_or(bias, d.c, 0.0);
    let xv = x.value();
    let xc = contiguous(&xv);
    let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
    let mut out = pool::take::<T>(xv.shape());
    {
        let os = out.as_slice_mut().expect("pooled arrays are contiguous");
        let mut k = 0;
        lanes(xs, &d, |c, lane| {
            let (mu, a, b) = (mean[c], invstd[c] * gamma[c], beta[c]);
            for (o, v) in os[k..k + lane.len()].iter_mut().zip(lane) {
                *o = T::from_f64(((*v).to_f64() - mu) * a + b);
            }
            k += lane.len();
        });
    }
    drop(xc);
    drop(xv);
    let inputs = collect_inputs(x, weight, bias);
    let (has_w, has_b) = (weight.is_some(), bias.is_some());
    Ok(Var::custom("batch_norm_eval", &inputs, out, move |args| {
        let xv = args.inputs[0].value();
        let xc = contiguous(&xv);
        let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
        let g = args.grad_output;
        let gc = contiguous(&g);
        let gsl = gc.as_ref().unwrap_or(&g).as_slice().expect("contiguous");
        let mut sg = vec![0.0f64; d.c];
        let mut sgx = vec![0.0f64; d.c];
        let mut k = 0;
        lanes(xs, &d, |c, lane| {
            for (gv, v) in gsl[k..k + lane.len()].iter().zip(lane) {
                sg[c] += (*gv).to_f64();
                sgx[c] += (*gv).to_f64() * ((*v).to_f64() - mean[c]) * invstd[c];
            }
            k += lane.len();
        });
        let gx = args.inputs[0].requires_grad().then(|| {
            let mut gx = pool::take::<T>(xv.shape());
            let os = gx.as_slice_mut().expect("pooled arrays are contiguous");
            let mut k = 0;
            lanes(gsl, &d, |c, lane| {
                let a = gamma[c] * invstd[c];
                for (o, gv) in os[k..k + lane.len()].iter_mut().zip(lane) {
                    *o = T::from_f64((*gv).to_f64() * a);
                }
                k += lane.len();
            });
            gx
        });
        let mut grads = vec![gx];
        if has_w {
            grads.push(args.inputs[1].requires_grad().then(|| to_array(&sgx)));
        }
        if has_b {
            let i = if has_w { 2 } else { 1 };
            grads.push(args.inputs[i].requires_grad().then(|| to_array(&sg)));
        }
        drop(gc);
        drop(xc);
        drop(xv);
        pool::give(g);
        grads
    }))
}

fn collect_inputs<'a, T: Element>(
    x: &'a Var<T>,
    w: Option<&'a Var<T>>,
    b: Option<&'a Var<T>>,
) -> Vec<&'a Var<T>> {
    let mut v = vec![x];
    v.extend(w);
    v.extend(b);
    v
}

fn to_array<T: Element>(v: &[f64]) -> ArrayD<T> {
    Array1::from_iter(v.iter().map(|&x| T::from_f64(x))).into_dyn()
}
