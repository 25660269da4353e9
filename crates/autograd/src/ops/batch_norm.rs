//! Fused batch normalization over `[N, C]` or `[N, C, *]` input (BatchNorm1d, 2d, 3d), with
//! its fused backward.

use crate::batch_stats::BatchStatsReducer;
use crate::error::{AutogradError, Result};
use crate::ops::fused_linear::ColumnStep;
use crate::var::{Grads, Var};
use nabla_tensor::ndarray::{Array1, ArrayD, ArrayView1};
use nabla_tensor::pool::Scratch;
use nabla_tensor::{pool, Element, TensorError};
use std::rc::Rc;

/// The result of [`batch_norm_train`]: the normalized output and the batch statistics a
/// layer needs to update its running averages.
#[derive(Debug)]
pub struct BatchNormOutput<T: Element> {
    /// `gamma * (x - mean) / sqrt(var + eps) + beta`.
    pub output: Var<T>,
    /// The per-channel batch mean, `[C]` (a pooled buffer: `pool::give` it back when done).
    pub mean: Array1<T>,
    /// The per-channel **unbiased** batch variance (`sum / (M - 1)`), `[C]`, as PyTorch
    /// feeds into `running_var` (pooled, as `mean`).
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
    let xv = x.value();
    let s = xv.shape();
    if s.len() < 2 {
        return Err(TensorError::Rank {
            op,
            expected: "input [N, C] or [N, C, *] (e.g. [N, C, L], [N, C, H, W])",
            shape: s.to_vec(),
        }
        .into());
    }
    let c = s[1];
    // The trailing (spatial) axes are one lane per (sample, channel): `[N, C, L]` with
    // `L = prod(s[2..])`, 1 for 2-d input.
    let l = s[2..].iter().product();
    for (what, p) in [("weight", weight), ("bias", bias)] {
        if let Some(p) = p {
            if p.value().shape() != [c] {
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
/// row-major buffer (`L` the product of the spatial axes).
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

fn param_or<T: Element>(p: Option<&Var<T>>, c: usize, default: f64) -> Scratch<f64> {
    match p {
        Some(p) => p.value().iter().map(|v| (*v).to_f64()).collect(),
        None => Scratch::full(c, default),
    }
}

/// Batch normalization in training mode, for input `[N, C]` (BatchNorm1d), `[N, C, L]`
/// (BatchNorm1d), `[N, C, H, W]` (BatchNorm2d) or any `[N, C, *]`: per channel `c`, over the
/// `M = N * prod(*)` values of that channel (over `N, H, W` for images), `y = gamma (x - mean) / sqrt(var + eps) + beta` with the batch
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
/// Input of fewer than 2 dimensions, parameters not of shape `[C]`, or `M < 2` (PyTorch:
/// "expected more than 1 value per channel when training").
pub fn batch_norm_train<T: Element>(
    x: &Var<T>,
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    eps: f64,
) -> Result<BatchNormOutput<T>> {
    let mut d = dims("batch_norm_train", x, weight, bias)?;
    let reducer = crate::batch_stats::current();
    let xv = x.value();
    let xc = contiguous(&xv);
    let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
    let (mean, ss) = match &reducer {
        None => channel_moments(xs, &d),
        Some(r) => {
            let (mean, ss, m) = global_moments(r.as_ref(), xs, &d);
            // From here on `m` counts the values of every process (the backward's mean).
            d.m = m;
            (mean, ss)
        }
    };
    if d.m < 2 {
        return Err(AutogradError::Invalid {
            op: "batch_norm_train",
            message: format!(
                "expected more than 1 value per channel when training, got input shape {:?}",
                x.shape()
            ),
        });
    }
    let m = d.m as f64;
    let invstd: Scratch<f64> = ss.iter().map(|s| 1.0 / (s / m + eps).sqrt()).collect();
    let stats = ChannelStats { mean, invstd, gamma: param_or(weight, d.c, 1.0) };
    let out = normalized(&xv, xs, &d, &stats, &param_or(bias, d.c, 0.0));
    drop(xc);
    drop(xv);
    let mean_out = channel_array(stats.mean.iter().copied());
    let var_unbiased = channel_array(ss.iter().map(|&s| s / (m - 1.0)));
    let output =
        record("batch_norm", x, weight, bias, d, stats, out, reducer, |os, g, xs, d, st, sg, sgx| {
            input_grad_into(os, g, xs, d, &st.mean, &st.invstd, &st.gamma, sg, sgx)
        });
    Ok(BatchNormOutput { output, mean: mean_out, var_unbiased })
}

/// Batch normalization in evaluation mode, for input `[N, C, *]` as [`batch_norm_train`]:
/// normalizes with the given running statistics,
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
    let stats = eval_stats(weight, running_mean, running_var, eps);
    let xv = x.value();
    let xc = contiguous(&xv);
    let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
    let out = normalized(&xv, xs, &d, &stats, &param_or(bias, d.c, 0.0));
    drop(xc);
    drop(xv);
    Ok(record("batch_norm_eval", x, weight, bias, d, stats, out, None, |os, g, _, d, st, _, _| {
        // dx = g * gamma * invstd: the affine map `g * a + 0` of the upstream gradient.
        let zero = Scratch::zeros(d.c);
        let a: Scratch<f64> = st.gamma.iter().zip(&st.invstd).map(|(g, s)| g * s).collect();
        normalize_into(os, g, d, &zero, &a, &Scratch::full(d.c, 1.0), &zero);
    }))
}

/// Batch normalization with running statistics as one per-column step of
/// [`crate::fused_linear`], for the `[N, C]` output of a fully connected layer: the same
/// coefficients as [`batch_norm_eval`], so the fused result equals the op's bit for bit.
/// `running_mean`, `running_var` and (when given) `weight` and `bias` have length `C`.
pub fn batch_norm_eval_step<T: Element>(
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    running_mean: ArrayView1<'_, T>,
    running_var: ArrayView1<'_, T>,
    eps: f64,
) -> ColumnStep<T> {
    let st = eval_stats(weight, running_mean, running_var, eps);
    let c = st.mean.len();
    let coef = coefficients(&st.mean, &st.invstd, &st.gamma, &param_or(bias, c, 0.0));
    let (sub, rest) = coef.split_at(c);
    let (mul, add) = rest.split_at(c);
    ColumnStep::Affine { sub: sub.to_vec(), mul: mul.to_vec(), add: add.to_vec() }
}

/// The constants of evaluation mode: the running statistics and gamma, in `f64`.
fn eval_stats<T: Element>(
    weight: Option<&Var<T>>,
    running_mean: ArrayView1<'_, T>,
    running_var: ArrayView1<'_, T>,
    eps: f64,
) -> ChannelStats {
    let mean: Scratch<f64> = running_mean.iter().map(|v| (*v).to_f64()).collect();
    let invstd: Scratch<f64> = running_var.iter().map(|v| 1.0 / ((*v).to_f64() + eps).sqrt()).collect();
    let c = mean.len();
    ChannelStats { mean, invstd, gamma: param_or(weight, c, 1.0) }
}

/// `[mean.., invstd * gamma.., beta..]` in the element type: the coefficients of
/// `(x - mean) * a + b`, computed once per call.
fn coefficients<T: Element>(mean: &[f64], invstd: &[f64], gamma: &[f64], beta: &[f64]) -> Scratch<T> {
    to_elements(
        mean.iter().copied().chain(invstd.iter().zip(gamma).map(|(s, g)| s * g)).chain(beta.iter().copied()),
    )
}

/// The per-channel constants of a batch-norm op, shared by its forward and backward.
struct ChannelStats {
    mean: Scratch<f64>,
    invstd: Scratch<f64>,
    gamma: Scratch<f64>,
}

/// `gamma * (x - mean) * invstd + beta` into a pooled buffer of `x`'s shape.
fn normalized<T: Element>(x: &ArrayD<T>, xs: &[T], d: &Dims, st: &ChannelStats, beta: &[f64]) -> ArrayD<T> {
    let mut out = pool::take::<T>(x.shape());
    let os = out.as_slice_mut().expect("pooled arrays are contiguous");
    normalize_into(os, xs, d, &st.mean, &st.invstd, &st.gamma, beta);
    out
}

/// Writes the input gradient given the upstream gradient, the input, the stats and the
/// channel sums of `g` and `g * xhat`.
type InputGrad<T> = fn(&mut [T], &[T], &[T], &Dims, &ChannelStats, &[f64], &[f64]);

/// Records a batch-norm op with its output. The backward shared by training and evaluation:
/// the channel sums of `g` and `g * xhat` (gamma's and beta's gradients), and `x`'s gradient
/// through `input_grad` when it is needed.
#[allow(clippy::too_many_arguments)]
fn record<T: Element>(
    name: &'static str,
    x: &Var<T>,
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    d: Dims,
    stats: ChannelStats,
    out: ArrayD<T>,
    reducer: Option<Rc<dyn BatchStatsReducer>>,
    input_grad: InputGrad<T>,
) -> Var<T> {
    let (inputs, count) = collect_inputs(x, weight, bias);
    let (has_w, has_b) = (weight.is_some(), bias.is_some());
    Var::custom(name, &inputs[..count], out, move |args| {
        let xv = args.inputs[0].value();
        let xc = contiguous(&xv);
        let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
        let g = args.grad_output;
        let gc = contiguous(&g);
        let gsl = gc.as_ref().unwrap_or(&g).as_slice().expect("contiguous");
        let (sg, sgx) = grad_sums(gsl, xs, &d, &stats.mean, &stats.invstd);
        let gx = args.inputs[0].requires_grad().then(|| {
            let mut gx = pool::take::<T>(xv.shape());
            let os = gx.as_slice_mut().expect("pooled arrays are contiguous");
            match &reducer {
                None => input_grad(os, gsl, xs, &d, &stats, &sg, &sgx),
                Some(r) => {
                    // The input gradient of global statistics needs the global sums; gamma's
                    // and beta's gradients stay local (they are averaged with the others).
                    let mut sums: Scratch<f64> = sg.iter().chain(&sgx).copied().collect();
                    r.all_reduce_sum(&mut sums);
                    let (gsg, gsgx) = sums.split_at(d.c);
                    input_grad(os, gsl, xs, &d, &stats, gsg, gsgx);
                }
            }
            gx
        });
        let grads = with_affine_grads(args.inputs, gx, has_w, has_b, &sg, &sgx);
        drop(gc);
        drop(xc);
        drop(xv);
        pool::give(g);
        grads
    })
}

/// Per-channel mean and sum of squared deviations over every process (see
/// [`crate::batch_stats`]), and the number of values per channel over all of them: the sums
/// and counts first, then the squared deviations from the global mean (two passes, as
/// [`channel_moments`]).
fn global_moments<T: Element>(
    r: &dyn BatchStatsReducer,
    xs: &[T],
    d: &Dims,
) -> (Scratch<f64>, Scratch<f64>, usize) {
    let mut sums = Scratch::zeros(d.c + 1);
    lanes(xs, d, |c, lane| sums[c] += lane.iter().map(|v| (*v).to_f64()).sum::<f64>());
    sums[d.c] = d.m as f64;
    r.all_reduce_sum(&mut sums);
    let m = sums[d.c];
    let mean: Scratch<f64> = sums[..d.c].iter().map(|s| s / m.max(1.0)).collect();
    let mut ss = Scratch::zeros(d.c);
    lanes(xs, d, |c, lane| {
        let mu = mean[c];
        ss[c] += lane.iter().map(|v| ((*v).to_f64() - mu).powi(2)).sum::<f64>();
    });
    r.all_reduce_sum(&mut ss);
    // Counts are whole numbers well inside f64's exact range.
    (mean, ss, m as usize)
}

/// Converts per-channel `f64` values to the element type.
fn to_elements<T: Element>(v: impl Iterator<Item = f64>) -> Scratch<T> {
    v.map(T::from_f64).collect()
}

/// Per-channel mean and sum of squared deviations of a `[N, C]` or `[N, C, L]` buffer,
/// accumulated in `f64` (two passes). For `L == 1` the loops run along rows, one channel per
/// lane, so they vectorize.
fn channel_moments<T: Element>(xs: &[T], d: &Dims) -> (Scratch<f64>, Scratch<f64>) {
    let m = d.m as f64;
    let mut sum = Scratch::<f64>::zeros(d.c);
    let mut ss = Scratch::zeros(d.c);
    if d.l == 1 && d.c > 0 {
        for row in xs.chunks_exact(d.c) {
            for (s, v) in sum.iter_mut().zip(row) {
                *s += (*v).to_f64();
            }
        }
        sum.iter_mut().for_each(|s| *s /= m);
        for row in xs.chunks_exact(d.c) {
            for ((s, v), mu) in ss.iter_mut().zip(row).zip(&sum) {
                let dv = (*v).to_f64() - mu;
                *s += dv * dv;
            }
        }
    } else {
        lanes(xs, d, |c, lane| sum[c] += lane.iter().map(|v| (*v).to_f64()).sum::<f64>());
        sum.iter_mut().for_each(|s| *s /= m);
        lanes(xs, d, |c, lane| {
            let mu = sum[c];
            ss[c] += lane.iter().map(|v| ((*v).to_f64() - mu).powi(2)).sum::<f64>();
        });
    }
    (sum, ss)
}

/// `out = (x - mean) * invstd * gamma + beta` per channel, in the element type.
fn normalize_into<T: Element>(
    out: &mut [T],
    xs: &[T],
    d: &Dims,
    mean: &[f64],
    invstd: &[f64],
    gamma: &[f64],
    beta: &[f64],
) {
    let coef: Scratch<T> = coefficients(mean, invstd, gamma, beta);
    let (mu, rest) = coef.split_at(d.c);
    let (a, b) = rest.split_at(d.c);
    if d.l == 1 && d.c > 0 {
        for (orow, xrow) in out.chunks_exact_mut(d.c).zip(xs.chunks_exact(d.c)) {
            for ((((o, &v), &mu), &a), &b) in orow.iter_mut().zip(xrow).zip(mu).zip(a).zip(b) {
                *o = (v - mu) * a + b;
            }
        }
    } else {
        let mut k = 0;
        lanes(xs, d, |c, lane| {
            let (mu, a, b) = (mu[c], a[c], b[c]);
            for (o, &v) in out[k..k + lane.len()].iter_mut().zip(lane) {
                *o = (v - mu) * a + b;
            }
            k += lane.len();
        });
    }
}

/// Per-channel sums of the upstream gradient `g` and of `g * xhat`, in `f64`.
fn grad_sums<T: Element>(
    g: &[T],
    xs: &[T],
    d: &Dims,
    mean: &[f64],
    invstd: &[f64],
) -> (Scratch<f64>, Scratch<f64>) {
    let mut sg = Scratch::zeros(d.c);
    let mut sgx = Scratch::zeros(d.c);
    if d.l == 1 && d.c > 0 {
        for (grow, xrow) in g.chunks_exact(d.c).zip(xs.chunks_exact(d.c)) {
            for (((s, sx), (gv, v)), mu) in
                sg.iter_mut().zip(sgx.iter_mut()).zip(grow.iter().zip(xrow)).zip(mean)
            {
                let gv = (*gv).to_f64();
                *s += gv;
                *sx += gv * ((*v).to_f64() - mu);
            }
        }
    } else {
        let mut k = 0;
        lanes(xs, d, |c, lane| {
            let mu = mean[c];
            for (gv, v) in g[k..k + lane.len()].iter().zip(lane) {
                let gv = (*gv).to_f64();
                sg[c] += gv;
                sgx[c] += gv * ((*v).to_f64() - mu);
            }
            k += lane.len();
        });
    }
    sgx.iter_mut().zip(invstd).for_each(|(s, is)| *s *= is);
    (sg, sgx)
}

/// The training-mode input gradient
/// `dx = gamma invstd / M (M g - sum g - xhat sum(g xhat))`, written per channel as
/// `dx = A g - B - (x - mean) C` with `A = gamma invstd`, `B = A sum(g) / M` and
/// `C = A invstd sum(g xhat) / M`, in the element type.
#[allow(clippy::too_many_arguments)]
fn input_grad_into<T: Element>(
    out: &mut [T],
    g: &[T],
    xs: &[T],
    d: &Dims,
    mean: &[f64],
    invstd: &[f64],
    gamma: &[f64],
    sg: &[f64],
    sgx: &[f64],
) {
    let m = d.m as f64;
    let coef: Scratch<T> = to_elements(
        mean.iter()
            .copied()
            .chain(gamma.iter().zip(invstd).map(|(g, s)| g * s))
            .chain((0..d.c).map(|c| gamma[c] * invstd[c] * sg[c] / m))
            .chain((0..d.c).map(|c| gamma[c] * invstd[c] * invstd[c] * sgx[c] / m)),
    );
    let (mu, rest) = coef.split_at(d.c);
    let (a, rest) = rest.split_at(d.c);
    let (b, cc) = rest.split_at(d.c);
    if d.l == 1 && d.c > 0 {
        for ((orow, grow), xrow) in
            out.chunks_exact_mut(d.c).zip(g.chunks_exact(d.c)).zip(xs.chunks_exact(d.c))
        {
            for ((((((o, &gv), &v), &mu), &a), &b), &cc) in
                orow.iter_mut().zip(grow).zip(xrow).zip(mu).zip(a).zip(b).zip(cc)
            {
                *o = a * gv - b - (v - mu) * cc;
            }
        }
    } else {
        let mut k = 0;
        lanes(xs, d, |c, lane| {
            let (mu, a, b, cc) = (mu[c], a[c], b[c], cc[c]);
            for ((o, &gv), &v) in out[k..k + lane.len()].iter_mut().zip(&g[k..k + lane.len()]).zip(lane) {
                *o = a * gv - b - (v - mu) * cc;
            }
            k += lane.len();
        });
    }
}

/// The op's inputs `[x, weight?, bias?]` in a fixed array and its used length (no allocation).
fn collect_inputs<'a, T: Element>(
    x: &'a Var<T>,
    w: Option<&'a Var<T>>,
    b: Option<&'a Var<T>>,
) -> ([&'a Var<T>; 3], usize) {
    let mut v = [x; 3];
    let mut n = 1;
    for p in [w, b].into_iter().flatten() {
        v[n] = p;
        n += 1;
    }
    (v, n)
}

/// The gradients in input order: `x`'s, then gamma's (the channel sums of `g * xhat`) and
/// beta's (the channel sums of `g`) when the op has them and they are needed.
fn with_affine_grads<T: Element>(
    inputs: &[Var<T>],
    gx: Option<ArrayD<T>>,
    has_w: bool,
    has_b: bool,
    sg: &[f64],
    sgx: &[f64],
) -> Grads<T> {
    let mut grads = Grads::new();
    grads.push(gx);
    if has_w {
        grads.push(inputs[1].requires_grad().then(|| to_array(sgx)));
    }
    if has_b {
        let i = if has_w { 2 } else { 1 };
        grads.push(inputs[i].requires_grad().then(|| to_array(sg)));
    }
    grads
}

/// Per-channel values in a pooled `[C]` array (its owner may give it back to the pool).
fn channel_array<T: Element>(v: impl ExactSizeIterator<Item = f64>) -> Array1<T> {
    let mut out = pool::take::<T>(&[v.len()]);
    out.iter_mut().zip(v).for_each(|(o, x)| *o = T::from_f64(x));
    out.into_dimensionality().expect("one axis")
}

fn to_array<T: Element>(v: &[f64]) -> ArrayD<T> {
    let mut out = pool::take::<T>(&[v.len()]);
    out.iter_mut().zip(v).for_each(|(o, &x)| *o = T::from_f64(x));
    out
}
