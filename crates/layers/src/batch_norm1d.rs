//! `batch_norm1d` (alias `bn`): batch normalization over `[N, C]` or `[N, C, L]` input.

use crate::module::{join_name, training_flag};
use crate::{register_layer, BuildContext, BuildLayer, LayerError, Module, TrainingMode};
use nabla_autograd::{batch_norm_eval, batch_norm_eval_step, batch_norm_train, ColumnStep, Var};
use nabla_registry::{Alias, HyperParams};
use nabla_tensor::ndarray::{ArrayD, ArrayView1, Ix1, IxDyn, Zip};
use nabla_tensor::Element;

/// Batch normalization of the channels of `[N, C]` or `[N, C, L]` input, PyTorch's
/// `nn.BatchNorm1d`; Ioffe and Szegedy (2015), "Batch Normalization: Accelerating Deep
/// Network Training by Reducing Internal Covariate Shift", ICML.
///
/// Per channel `c`, over the `M = N` (or `N * L`) values of that channel:
///
/// * training: `y = gamma (x - mean) / sqrt(var + eps) + beta` with the batch mean and the
///   **biased** batch variance (divide by `M`); then (with `track_running_stats`)
///   `running_mean <- (1 - momentum) running_mean + momentum mean`,
///   `running_var <- (1 - momentum) running_var + momentum var M / (M - 1)` (the
///   **unbiased** variance) and `num_batches_tracked += 1`. Needs `M >= 2`.
/// * evaluation: the same formula with `running_mean` and `running_var`, which stay
///   unchanged; without `track_running_stats` there are no running statistics and the batch
///   statistics are used in evaluation too (as PyTorch).
///
/// The forward and backward are the fused ops [`batch_norm_train`] / [`batch_norm_eval`]
/// (statistics accumulated in `f64`).
///
/// Hyper-parameters ([`BatchNorm1dConfig`]): `num_features` (`C`; default: the channels of
/// the samples flowing in, which it must equal when given), `eps` = 1e-5, `momentum` = 0.1,
/// `affine` = true (learnable `gamma`, initialized to 1, and `beta`, initialized to 0),
/// `track_running_stats` = true.
///
/// Parameters: `weight` (gamma), `bias` (beta). Buffers: `running_mean` (starts at 0),
/// `running_var` (starts at 1). Counter ([`Module::visit_counters`]): `num_batches_tracked`,
/// a `u64` (PyTorch's 0-d `int64` buffer of the same name; exact where an `f32` would stop
/// counting at 2^24).
///
/// [`BatchNorm2d`](crate::BatchNorm2d) is the same layer over images `[N, C, H, W]`
/// ([`BatchNormNd`] with `D = 2`).
pub type BatchNorm1d<T = f32> = BatchNormNd<T, 1>;

/// Batch normalization over `D` spatial dimensions at most (PyTorch's `_BatchNorm`): the
/// shared implementation of [`BatchNorm1d`] (`D = 1`: samples `[C]` or `[C, L]`) and
/// [`BatchNorm2d`](crate::BatchNorm2d) (`D = 2`: samples `[C, H, W]`); see those for the
/// formulas.
#[derive(Debug)]
pub struct BatchNormNd<T: Element, const D: usize> {
    num_features: usize,
    eps: f64,
    momentum: f64,
    weight: Option<Var<T>>,
    bias: Option<Var<T>>,
    running: Option<RunningStats<T>>,
    training: TrainingMode,
}

/// Views of the running mean and variance.
type MeanVar<'a, T> = (ArrayView1<'a, T>, ArrayView1<'a, T>);

#[derive(Clone, Debug)]
struct RunningStats<T: Element> {
    mean: ArrayD<T>,
    var: ArrayD<T>,
    num_batches_tracked: u64,
}

impl<T: Element, const D: usize> BatchNormNd<T, D> {
    /// A batch normalization of `num_features` channels; with `affine` it learns `gamma`
    /// (ones) and `beta` (zeros), with `track_running_stats` it keeps running statistics
    /// (mean 0, variance 1).
    ///
    /// # Errors
    /// [`LayerError::Invalid`] for `num_features = 0`, `eps` negative or not finite, or
    /// `momentum` outside `[0, 1]`.
    pub fn new(
        num_features: usize,
        eps: f64,
        momentum: f64,
        affine: bool,
        track_running_stats: bool,
    ) -> Result<Self, LayerError> {
        if num_features == 0 {
            return Err(LayerError::invalid(Self::NAME, "num_features must be at least 1"));
        }
        if !(eps >= 0.0 && eps.is_finite()) {
            return Err(LayerError::invalid(Self::NAME, format!("eps must be finite and >= 0, got {eps}")));
        }
        if !(0.0..=1.0).contains(&momentum) {
            return Err(LayerError::invalid(
                Self::NAME,
                format!("momentum must be in [0, 1], got {momentum}"),
            ));
        }
        let c = IxDyn(&[num_features]);
        let (weight, bias) = if affine {
            (Some(Var::param(ArrayD::ones(c.clone()))), Some(Var::param(ArrayD::zeros(c.clone()))))
        } else {
            (None, None)
        };
        let running = track_running_stats.then(|| RunningStats {
            mean: ArrayD::zeros(c.clone()),
            var: ArrayD::ones(c),
            num_batches_tracked: 0,
        });
        Ok(BatchNormNd {
            num_features,
            eps,
            momentum,
            weight,
            bias,
            running,
            training: TrainingMode::default(),
        })
    }

    /// PyTorch's defaults for `num_features` channels: `eps = 1e-5`, `momentum = 0.1`,
    /// affine, tracking running statistics.
    ///
    /// # Errors
    /// As [`BatchNormNd::new`].
    pub fn with_defaults(num_features: usize) -> Result<Self, LayerError> {
        Self::new(num_features, 1e-5, 0.1, true, true)
    }

    /// Replaces `gamma` and `beta` with the given variables (shared, not copied; for loading
    /// reference values and for gradient checks); the layer becomes affine.
    ///
    /// # Errors
    /// [`LayerError::Invalid`] unless both have shape `[num_features]`.
    pub fn with_affine(mut self, weight: Var<T>, bias: Var<T>) -> Result<Self, LayerError> {
        let c = self.num_features;
        for (what, v) in [("weight", &weight), ("bias", &bias)] {
            if v.shape() != [c] {
                return Err(LayerError::invalid(
                    Self::NAME,
                    format!("{what} has shape {:?}, expected [{c}]", v.shape()),
                ));
            }
        }
        self.weight = Some(weight);
        self.bias = Some(bias);
        Ok(self)
    }

    /// Sets the running statistics (copied).
    ///
    /// # Errors
    /// [`LayerError::Invalid`] when the layer does not track running statistics or a shape is
    /// not `[num_features]`.
    pub fn set_running_stats(
        &mut self,
        mean: ArrayView1<'_, T>,
        var: ArrayView1<'_, T>,
    ) -> Result<(), LayerError> {
        let c = self.num_features;
        if mean.len() != c || var.len() != c {
            return Err(LayerError::invalid(
                Self::NAME,
                format!("running statistics of lengths {} and {}, expected {c}", mean.len(), var.len()),
            ));
        }
        let Some(r) = self.running.as_mut() else {
            return Err(LayerError::invalid(Self::NAME, "this layer does not track running statistics"));
        };
        r.mean = mean.to_owned().into_dyn();
        r.var = var.to_owned().into_dyn();
        Ok(())
    }

    /// The number of channels `C`.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// `eps`.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// `momentum`.
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// `gamma`, when affine.
    pub fn weight(&self) -> Option<&Var<T>> {
        self.weight.as_ref()
    }

    /// `beta`, when affine.
    pub fn bias(&self) -> Option<&Var<T>> {
        self.bias.as_ref()
    }

    /// The running mean, when tracked.
    pub fn running_mean(&self) -> Option<&ArrayD<T>> {
        self.running.as_ref().map(|r| &r.mean)
    }

    /// The running (unbiased) variance, when tracked.
    pub fn running_var(&self) -> Option<&ArrayD<T>> {
        self.running.as_ref().map(|r| &r.var)
    }

    /// How many training batches updated the running statistics, when tracked.
    pub fn num_batches_tracked(&self) -> Option<u64> {
        self.running.as_ref().map(|r| r.num_batches_tracked)
    }

    /// The running statistics as `[C]` views, after checking that restored buffers still have
    /// the right shapes.
    fn checked_running(&self) -> Result<Option<MeanVar<'_, T>>, LayerError> {
        let Some(r) = &self.running else { return Ok(None) };
        let c = self.num_features;
        Ok(Some((
            channel_view(Self::NAME, "running_mean", &r.mean, c)?,
            channel_view(Self::NAME, "running_var", &r.var, c)?,
        )))
    }
}

/// The channels of a sample `[C]` or `[C, L]` (`D = 1`) or `[C, H, W]` (`D = 2`); `None` for
/// other shapes.
pub(crate) fn channels<const D: usize>(sample: &[usize]) -> Option<usize> {
    let fits = if D == 1 { matches!(sample.len(), 1 | 2) } else { sample.len() == D + 1 };
    fits.then(|| sample[0])
}

impl<T: Element, const D: usize> BatchNormNd<T, D> {
    /// The registered name: `batch_norm1d` or `batch_norm2d`.
    pub const NAME: &'static str = if D == 1 { "batch_norm1d" } else { "batch_norm2d" };

    /// The accepted sample shapes, for messages.
    fn sample_shapes(&self) -> String {
        let c = self.num_features;
        if D == 1 {
            format!("[{c}] or [{c}, L]")
        } else {
            format!("[{c}, H, W]")
        }
    }

    fn wrong_input(&self, expected: &str) -> LayerError {
        LayerError::invalid(Self::NAME, format!("expected {expected}"))
    }
}

/// A buffer as a `[c]` view, or an error naming it when a restore changed its shape.
fn channel_view<'a, T: Element>(
    layer: &'static str,
    what: &str,
    a: &'a ArrayD<T>,
    c: usize,
) -> Result<ArrayView1<'a, T>, LayerError> {
    if a.shape() != [c] {
        return Err(LayerError::invalid(
            layer,
            format!("buffer {what} has shape {:?}, expected [{c}]", a.shape()),
        ));
    }
    Ok(a.view().into_dimensionality::<Ix1>().expect("checked 1-d"))
}

impl<T: Element, const D: usize> Module<T> for BatchNormNd<T, D> {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        let fits = {
            let value = input.value();
            let shape = value.shape();
            !shape.is_empty() && channels::<D>(&shape[1..]) == Some(self.num_features)
        };
        if !fits {
            let shape = input.shape();
            let c = self.num_features;
            let inputs = if D == 1 { format!("[N, {c}] or [N, {c}, L]") } else { format!("[N, {c}, H, W]") };
            return Err(self.wrong_input(&format!("input {inputs}, got shape {shape:?}")));
        }
        let running = self.checked_running()?;
        if let (false, Some((mean, var))) = (self.training.is_training(), running) {
            return Ok(batch_norm_eval(
                input,
                self.weight.as_ref(),
                self.bias.as_ref(),
                mean,
                var,
                self.eps,
            )?);
        }
        let out = batch_norm_train(input, self.weight.as_ref(), self.bias.as_ref(), self.eps)?;
        if self.training.is_training() {
            if let Some(r) = self.running.as_mut() {
                let m = T::from_f64(self.momentum);
                let keep = T::one() - m;
                Zip::from(&mut r.mean)
                    .and(&out.mean.view().into_dyn())
                    .for_each(|r, &b| *r = keep * *r + m * b);
                Zip::from(&mut r.var)
                    .and(&out.var_unbiased.view().into_dyn())
                    .for_each(|r, &b| *r = keep * *r + m * b);
                r.num_batches_tracked = r.num_batches_tracked.saturating_add(1);
            }
        }
        nabla_tensor::pool::give(out.mean.into_dyn());
        nabla_tensor::pool::give(out.var_unbiased.into_dyn());
        Ok(out.output)
    }

    /// Samples `[C]` or `[C, L]` (`[C, H, W]` for `D = 2`) with `C = num_features`,
    /// unchanged.
    /// BatchNorm1d in evaluation mode with running statistics, on `[N, C]`: one affine map
    /// per column.
    fn column_steps(&self, steps: &mut Vec<ColumnStep<T>>) -> bool {
        if D != 1 || self.training.is_training() {
            return false;
        }
        let Ok(Some((mean, var))) = self.checked_running() else { return false };
        steps.push(batch_norm_eval_step(self.weight.as_ref(), self.bias.as_ref(), mean, var, self.eps));
        true
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, LayerError> {
        if channels::<D>(input) != Some(self.num_features) {
            return Err(self.wrong_input(&format!("samples {}, got {input:?}", self.sample_shapes())));
        }
        Ok(input.to_vec())
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<T>)) {
        if let Some(w) = &self.weight {
            f(&join_name(prefix, "weight"), w);
        }
        if let Some(b) = &self.bias {
            f(&join_name(prefix, "bias"), b);
        }
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &ArrayD<T>)) {
        if let Some(r) = &self.running {
            f(&join_name(prefix, "running_mean"), &r.mean);
            f(&join_name(prefix, "running_var"), &r.var);
        }
    }

    fn visit_counters(&self, prefix: &str, f: &mut dyn FnMut(&str, u64)) {
        if let Some(r) = &self.running {
            f(&join_name(prefix, "num_batches_tracked"), r.num_batches_tracked);
        }
    }

    fn visit_counters_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut u64)) {
        if let Some(r) = &mut self.running {
            f(&join_name(prefix, "num_batches_tracked"), &mut r.num_batches_tracked);
        }
    }

    fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut ArrayD<T>)) {
        if let Some(r) = &mut self.running {
            f(&join_name(prefix, "running_mean"), &mut r.mean);
            f(&join_name(prefix, "running_var"), &mut r.var);
        }
    }

    training_flag!();

    fn describe(&self) -> String {
        format!(
            "BatchNorm{D}d({}, eps={:?}, momentum={:?}, affine={}, track_running_stats={})",
            self.num_features,
            self.eps,
            self.momentum,
            self.weight.is_some(),
            self.running.is_some()
        )
    }
}

/// The hyper-parameters of a [`BatchNormNd`] layer, `BatchNorm1dConfig` (registry name
/// `batch_norm1d`, alias `bn`) and [`BatchNorm2dConfig`](crate::BatchNorm2dConfig)
/// (`batch_norm2d`); see [`BatchNorm1d`] for their meaning.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct BatchNormConfig<const D: usize> {
    /// number of channels C (default: the channels flowing in)
    #[param(range = Range::at_least(1.0))]
    pub num_features: Option<usize>,
    /// added to the variance for numerical stability
    #[param(default = 1e-5, range = POSITIVE)]
    pub eps: f64,
    /// weight of the batch statistics in the running averages
    #[param(default = 0.1, range = UNIT)]
    pub momentum: f64,
    /// learn a per-channel scale gamma and shift beta
    #[param(default = true)]
    pub affine: bool,
    /// keep running statistics and use them in evaluation
    #[param(default = true)]
    pub track_running_stats: bool,
}

/// The hyper-parameters of [`BatchNorm1d`] (registry name `batch_norm1d`, alias `bn`).
pub type BatchNorm1dConfig = BatchNormConfig<1>;

impl<const D: usize> BatchNormConfig<D> {
    /// The layer `component` for `inferred` channels of the samples flowing in (`what` they
    /// are, for the message when `num_features` differs), its memory reserved.
    pub(crate) fn build_for(
        &mut self,
        component: &str,
        ctx: &mut BuildContext,
        inferred: usize,
        what: &str,
    ) -> Result<Box<dyn Module<f32>>, LayerError> {
        let c = ctx.infer(component, "num_features", self.num_features, inferred, what)?;
        self.num_features = Some(c);
        // Weight, bias, running mean and variance.
        ctx.reserve(component, "num_features", &[4, c])?;
        let layer =
            BatchNormNd::<f32, D>::new(c, self.eps, self.momentum, self.affine, self.track_running_stats)?;
        Ok(Box::new(layer))
    }
}

impl BuildLayer for BatchNorm1dConfig {
    fn build_layer(&mut self, ctx: &mut BuildContext) -> Result<Box<dyn Module<f32>>, LayerError> {
        let input = &ctx.input_shape;
        let Some(inferred) = channels::<1>(input) else {
            return Err(LayerError::invalid(
                "batch_norm1d",
                format!("expected samples [C] or [C, L], got {input:?}"),
            ));
        };
        let what = if input.len() == 1 { "features" } else { "channels" };
        self.build_for("batch_norm1d", ctx, inferred, what)
    }
}

register_layer!(BatchNorm1dConfig,
    name: "batch_norm1d",
    aliases: [Alias::new("bn")],
    summary: "batch normalization over [N, C] or [N, C, L] with running statistics",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_module, BuildContext};
    use nabla_registry::{RawParams, Value};
    use nabla_tensor::ndarray::{arr1, Array2, Axis};
    use nabla_tensor::Rng;

    fn batch(n: usize, c: usize, seed: u64) -> ArrayD<f64> {
        let mut rng = Rng::seed(seed);
        let mut x = rng.normal_array::<f64>(&[n, c], 0.0, 2.0);
        for (j, mut col) in x.axis_iter_mut(Axis(1)).enumerate() {
            col.mapv_inplace(|v| v + j as f64);
        }
        x
    }

    #[test]
    fn training_normalizes_with_biased_variance_and_tracks_unbiased() {
        let x = batch(10, 3, 0);
        let mut bn = BatchNorm1d::<f64>::with_defaults(3).unwrap();
        let y = bn.forward(&Var::constant(x.clone())).unwrap();
        let y = y.value().clone().into_dimensionality::<nabla_tensor::ndarray::Ix2>().unwrap();
        for col in y.axis_iter(Axis(1)) {
            let mean = col.mean().unwrap();
            let var = col.mapv(|v| (v - mean).powi(2)).mean().unwrap();
            assert!(mean.abs() < 1e-12);
            assert!((var - 1.0).abs() < 1e-5, "{var}");
        }
        let x2: Array2<f64> = x.into_dimensionality().unwrap();
        let mean = x2.mean_axis(Axis(0)).unwrap();
        let var_unbiased = x2.var_axis(Axis(0), 1.0);
        let rm = bn.running_mean().unwrap();
        let rv = bn.running_var().unwrap();
        for j in 0..3 {
            assert!((rm[j] - 0.1 * mean[j]).abs() < 1e-12);
            assert!((rv[j] - (0.9 + 0.1 * var_unbiased[j])).abs() < 1e-12);
        }
        assert_eq!(bn.num_batches_tracked(), Some(1));
    }

    #[test]
    fn eval_uses_running_stats_and_changes_nothing() {
        let mut bn = BatchNorm1d::<f64>::new(2, 0.0, 0.1, false, true).unwrap();
        bn.set_running_stats(arr1(&[1.0, -1.0]).view(), arr1(&[4.0, 0.25]).view()).unwrap();
        bn.eval();
        let x = Var::constant(nabla_tensor::ndarray::arr2(&[[3.0, 0.0], [1.0, -1.5]]).into_dyn());
        let y = bn.forward(&x).unwrap();
        assert_eq!(*y.value(), nabla_tensor::ndarray::arr2(&[[1.0, 2.0], [0.0, -1.0]]).into_dyn());
        assert_eq!(bn.running_mean().unwrap(), &arr1(&[1.0, -1.0]).into_dyn());
        assert_eq!(bn.num_batches_tracked(), Some(0));
        // One sample is fine in eval, not in training.
        let one = Var::constant(nabla_tensor::ndarray::arr2(&[[3.0, 0.0]]).into_dyn());
        assert!(bn.forward(&one).is_ok());
        bn.train();
        assert!(bn.forward(&one).is_err());
    }

    #[test]
    fn without_running_stats_eval_uses_the_batch() {
        let x = batch(6, 4, 1);
        let mut tracked = BatchNorm1d::<f64>::new(4, 1e-5, 0.1, true, false).unwrap();
        let train = tracked.forward(&Var::constant(x.clone())).unwrap().value().clone();
        tracked.eval();
        let eval = tracked.forward(&Var::constant(x)).unwrap().value().clone();
        assert_eq!(train, eval);
        assert!(tracked.buffers().is_empty());
        assert!(tracked.running_mean().is_none() && tracked.num_batches_tracked().is_none());
    }

    #[test]
    fn three_d_input_pools_over_n_and_l() {
        let mut rng = Rng::seed(2);
        let x = rng.normal_array::<f64>(&[3, 2, 5], 1.0, 3.0);
        let mut bn = BatchNorm1d::<f64>::with_defaults(2).unwrap();
        let y = bn.forward(&Var::constant(x.clone())).unwrap();
        for c in 0..2 {
            let vals: Vec<f64> = y.value().index_axis(Axis(1), c).iter().copied().collect();
            let mean = vals.iter().sum::<f64>() / 15.0;
            assert!(mean.abs() < 1e-12);
            let xs: Vec<f64> = x.index_axis(Axis(1), c).iter().copied().collect();
            let xm = xs.iter().sum::<f64>() / 15.0;
            assert!((bn.running_mean().unwrap()[c] - 0.1 * xm).abs() < 1e-12);
        }
    }

    #[test]
    fn names_buffers_and_restore() {
        let mut bn = BatchNorm1d::<f32>::with_defaults(3).unwrap();
        let names: Vec<String> = bn.parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        let buffers = bn.buffers();
        assert_eq!(
            buffers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["running_mean", "running_var"]
        );
        assert_eq!(bn.counters(), [("num_batches_tracked".to_string(), 0)]);
        bn.visit_buffers_mut("1", &mut |name, b| match name {
            "1.running_mean" => b.fill(2.0),
            "1.running_var" => b.fill(4.0),
            other => panic!("unexpected buffer {other}"),
        });
        assert!(bn.running_var().unwrap().iter().all(|&v| v == 4.0));
        // Past 2^24, where an f32 count would stop moving.
        bn.visit_counters_mut("1", &mut |name, n| {
            assert_eq!(name, "1.num_batches_tracked");
            *n = (1 << 24) + 1;
        });
        assert_eq!(bn.num_batches_tracked(), Some((1 << 24) + 1));
        bn.forward(&Var::constant(
            ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0.0, 1.0, 2.0, 3.0, 4.0, 6.0]).unwrap(),
        ))
        .unwrap();
        assert_eq!(bn.num_batches_tracked(), Some((1 << 24) + 2));
        bn.visit_buffers_mut("", &mut |name, b| {
            if name == "running_mean" {
                *b = ArrayD::zeros(IxDyn(&[5]));
            }
        });
        bn.eval();
        let err = bn.forward(&Var::constant(ArrayD::zeros(IxDyn(&[2, 3])))).unwrap_err().to_string();
        assert!(err.contains("running_mean") && err.contains("[5]"), "{err}");
        let affine_free = BatchNorm1d::<f32>::new(3, 1e-5, 0.1, false, true).unwrap();
        assert!(affine_free.parameters().is_empty());
    }

    #[test]
    fn wrong_inputs_and_settings_are_errors() {
        let mut bn = BatchNorm1d::<f32>::with_defaults(3).unwrap();
        for shape in [vec![4, 2], vec![4], vec![4, 3, 2, 1]] {
            let err = bn.forward(&Var::constant(ArrayD::zeros(IxDyn(&shape)))).unwrap_err().to_string();
            assert!(err.contains("[N, 3]"), "{err}");
        }
        assert!(BatchNorm1d::<f32>::new(0, 1e-5, 0.1, true, true).is_err());
        assert!(BatchNorm1d::<f32>::new(3, -1.0, 0.1, true, true).is_err());
        assert!(BatchNorm1d::<f32>::new(3, 1e-5, 1.5, true, true).is_err());
        let bad = Var::param(ArrayD::zeros(IxDyn(&[2])));
        assert!(BatchNorm1d::<f32>::with_defaults(3).unwrap().with_affine(bad.clone(), bad).is_err());
        let mut untracked = BatchNorm1d::<f32>::new(2, 1e-5, 0.1, true, false).unwrap();
        assert!(untracked.set_running_stats(arr1(&[0.0, 0.0]).view(), arr1(&[1.0, 1.0]).view()).is_err());
    }

    #[test]
    fn registry_infers_num_features() {
        let mut ctx = BuildContext::new([5], Rng::seed(0));
        for name in ["batch_norm1d", "bn", "BatchNorm1d", "batchnorm1d"] {
            let m = build_module(name, &RawParams::new(), &mut ctx).unwrap();
            assert_eq!(
                m.describe(),
                "BatchNorm1d(5, eps=1e-5, momentum=0.1, affine=true, track_running_stats=true)"
            );
            assert_eq!(m.output_shape(&[5]).unwrap(), [5]);
            assert_eq!(m.output_shape(&[5, 7]).unwrap(), [5, 7]);
            assert!(m.output_shape(&[4]).is_err() && m.output_shape(&[5, 1, 1]).is_err());
        }
        let wrong: RawParams = [("num_features".to_string(), Value::Int(4))].into_iter().collect();
        assert!(build_module("bn", &wrong, &mut ctx).is_err());
        let right: RawParams =
            [("num_features".to_string(), Value::Int(5)), ("affine".to_string(), Value::Bool(false))]
                .into_iter()
                .collect();
        assert!(build_module("bn", &right, &mut ctx).unwrap().parameters().is_empty());
        let mut sequence = BuildContext::new([6, 10], Rng::seed(0));
        let err = build_module("bn", &wrong, &mut sequence).unwrap_err().to_string();
        assert!(err.contains("the channels flowing into this layer number 6"), "{err}");
        let mut image = BuildContext::new([1, 2, 3], Rng::seed(0));
        assert!(build_module("bn", &RawParams::new(), &mut image).is_err());
    }
}
