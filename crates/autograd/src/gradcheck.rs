//! Gradient checking against central finite differences in `f64`.

use crate::error::{AutogradError, Result};
use crate::grad_mode::no_grad;
use crate::var::Var;
use nabla_tensor::ndarray::{ArrayD, Zip};
use nabla_tensor::Rng;

/// Settings of [`gradcheck`].
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// The finite-difference step (default `1e-6`).
    pub eps: f64,
    /// Absolute tolerance (default `1e-6`).
    pub atol: f64,
    /// Relative tolerance (default `1e-4`).
    pub rtol: f64,
    /// Which inputs to differentiate (`None`: all); the others are constants.
    pub wrt: Option<Vec<bool>>,
    /// Seed of the random projection of a non-scalar output.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions { eps: 1e-6, atol: 1e-6, rtol: 1e-4, wrt: None, seed: 0 }
    }
}

/// What [`gradcheck`] compared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GradcheckReport {
    /// Number of gradient elements compared.
    pub checked: usize,
    /// Largest `|analytic - numeric|`.
    pub max_abs_err: f64,
}

/// Checks the gradients that backward computes for `f` against central finite differences.
///
/// `f` maps variables made from `inputs` to one output variable. A non-scalar output `y` is
/// reduced to the scalar `L = sum(y * w)` with fixed random weights `w` (i.e. backward runs
/// with upstream `w`), so every output element takes part. For every element `x_j` of every
/// differentiated input, `(L(x_j + eps) - L(x_j - eps)) / (2 eps)` must match the analytic
/// gradient within `atol + rtol * |numeric|`.
///
/// # Errors
/// [`AutogradError::GradcheckFailed`] at the first mismatch (naming input, element and both
/// values), or any error of `f` or of backward.
///
/// ```
/// use nabla_autograd::{gradcheck, GradcheckOptions};
/// use nabla_tensor::ndarray::arr2;
/// let x = arr2(&[[0.3, -1.2], [2.0, 0.5]]).into_dyn();
/// gradcheck(|v| Ok(v[0].tanh().mul(&v[0])?), &[x], &GradcheckOptions::default()).unwrap();
/// ```
pub fn gradcheck<F>(f: F, inputs: &[ArrayD<f64>], opts: &GradcheckOptions) -> Result<GradcheckReport>
where
    F: Fn(&[Var<f64>]) -> Result<Var<f64>>,
{
    let wrt = |i: usize| opts.wrt.as_ref().is_none_or(|w| w.get(i).copied().unwrap_or(false));
    let vars: Vec<Var<f64>> = inputs.iter().enumerate().map(|(i, a)| Var::leaf(a.clone(), wrt(i))).collect();
    let y = f(&vars)?;
    let mut rng = Rng::seed(opts.seed);
    let w = rng.uniform_array::<f64>(&y.shape(), 0.5, 1.5);
    if !y.requires_grad() {
        // Nothing depends on a differentiated input: every gradient is zero.
        let mut report = GradcheckReport::default();
        for (i, a) in inputs.iter().enumerate().filter(|(i, _)| wrt(*i)) {
            check_input(&f, inputs, i, a, &ArrayD::zeros(a.raw_dim()), &w, opts, &mut report)?;
        }
        return Ok(report);
    }
    y.backward_with(w.clone())?;
    let mut report = GradcheckReport::default();
    for (i, v) in vars.iter().enumerate() {
        if !wrt(i) {
            continue;
        }
        let analytic = v.grad().map(|g| g.clone()).unwrap_or_else(|| ArrayD::zeros(inputs[i].raw_dim()));
        check_input(&f, inputs, i, &inputs[i], &analytic, &w, opts, &mut report)?;
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn check_input<F>(
    f: &F,
    inputs: &[ArrayD<f64>],
    i: usize,
    base: &ArrayD<f64>,
    analytic: &ArrayD<f64>,
    w: &ArrayD<f64>,
    opts: &GradcheckOptions,
    report: &mut GradcheckReport,
) -> Result<()>
where
    F: Fn(&[Var<f64>]) -> Result<Var<f64>>,
{
    let eval = |perturbed: ArrayD<f64>| -> Result<f64> {
        no_grad(|| {
            let vars: Vec<Var<f64>> = inputs
                .iter()
                .enumerate()
                .map(|(k, a)| Var::constant(if k == i { perturbed.clone() } else { a.clone() }))
                .collect();
            let y = f(&vars)?;
            let y = y.value();
            let mut s = 0.0;
            Zip::from(&*y).and(w).for_each(|&a, &b| s += a * b);
            Ok(s)
        })
    };
    for (j, &an) in analytic.iter().enumerate() {
        let mut plus = base.as_standard_layout().into_owned();
        let mut minus = plus.clone();
        plus.as_slice_mut().expect("standard")[j] += opts.eps;
        minus.as_slice_mut().expect("standard")[j] -= opts.eps;
        let numeric = (eval(plus)? - eval(minus)?) / (2.0 * opts.eps);
        let err = (an - numeric).abs();
        report.checked += 1;
        report.max_abs_err = report.max_abs_err.max(err);
        let within = err <= opts.atol + opts.rtol * numeric.abs();
        if !within {
            return Err(AutogradError::GradcheckFailed { input: i, index: j, analytic: an, numeric });
        }
    }
    Ok(())
}
