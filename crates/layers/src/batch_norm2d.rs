//! `batch_norm2d`: batch normalization over the channels of images `[N, C, H, W]`.

use crate::batch_norm1d::channels;
use crate::spatial::image;
use crate::{register_layer, BatchNormConfig, BatchNormNd, BuildContext, BuildLayer, LayerError, Module};

/// Batch normalization of the channels of `[N, C, H, W]` input, PyTorch's `nn.BatchNorm2d`;
/// Ioffe and Szegedy (2015), "Batch Normalization: Accelerating Deep Network Training by
/// Reducing Internal Covariate Shift", ICML.
///
/// Per channel `c`, over the `M = N H W` values of that channel: in training
/// `y = gamma (x - mean) / sqrt(var + eps) + beta` with the batch mean and **biased** variance,
/// then `running_mean <- (1 - momentum) running_mean + momentum mean`,
/// `running_var <- (1 - momentum) running_var + momentum var M / (M - 1)` and
/// `num_batches_tracked += 1`; in evaluation the running statistics are used. The same layer
/// as [`BatchNorm1d`](crate::BatchNorm1d) on other shapes ([`BatchNormNd`] with `D = 2`).
///
/// Hyper-parameters ([`BatchNorm2dConfig`]): `num_features` (`C`; default: the channels
/// flowing in), `eps` = 1e-5, `momentum` = 0.1, `affine` = true, `track_running_stats` = true.
/// Parameters `weight`, `bias`; buffers `running_mean`, `running_var`; counter
/// `num_batches_tracked` (PyTorch's names).
pub type BatchNorm2d<T = f32> = BatchNormNd<T, 2>;

/// The hyper-parameters of [`BatchNorm2d`] (registry name `batch_norm2d`); see there.
pub type BatchNorm2dConfig = BatchNormConfig<2>;

impl BuildLayer for BatchNorm2dConfig {
    fn build_layer(&mut self, ctx: &mut BuildContext) -> Result<Box<dyn Module<f32>>, LayerError> {
        image("batch_norm2d", &ctx.input_shape)?;
        let inferred = channels::<2>(&ctx.input_shape).expect("an image sample");
        self.build_for("batch_norm2d", ctx, inferred, "channels")
    }
}

register_layer!(BatchNorm2dConfig,
    name: "batch_norm2d",
    summary: "batch normalization over the channels of [N, C, H, W] with running statistics",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_module;
    use crate::testing::gradcheck_layer;
    use nabla_autograd::Var;
    use nabla_registry::{RawParams, Value};
    use nabla_tensor::ndarray::Axis;
    use nabla_tensor::Rng;

    #[test]
    fn normalizes_each_channel_over_batch_and_plane_and_tracks_statistics() {
        let mut ctx = BuildContext::new([3, 4, 5], Rng::seed(0));
        let built =
            nabla_registry::build::<dyn Module<f32>>(("batch_norm2d", &RawParams::new()), &mut ctx).unwrap();
        assert_eq!(built.params.get("num_features"), Some(&Value::Int(3)));
        let mut bn = built.value;
        let x = Rng::seed(1).normal_array::<f32>(&[6, 3, 4, 5], 2.0, 3.0);
        let y = bn.forward(&Var::constant(x.clone())).unwrap();
        for c in 0..3 {
            let ch = y.value().index_axis(Axis(1), c).to_owned();
            let mean = ch.mean().unwrap();
            let var = ch.mapv(|v| (v - mean).powi(2)).mean().unwrap();
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3, "{mean} {var}");
        }
        let names: Vec<String> = bn.buffers().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["running_mean", "running_var"]);
        assert_eq!(bn.counters(), [("num_batches_tracked".to_string(), 1)]);
        let m = bn.buffers()[0].1.clone();
        let x0 = x.index_axis(Axis(1), 0);
        assert!((m[0] - 0.1 * x0.mean().unwrap()).abs() < 1e-5);
        bn.eval();
        bn.forward(&Var::constant(x)).unwrap();
        assert_eq!(bn.counters()[0].1, 1, "evaluation leaves the statistics alone");
        assert_eq!(
            bn.describe(),
            "BatchNorm2d(3, eps=1e-5, momentum=0.1, affine=true, track_running_stats=true)"
        );
        assert_eq!(bn.name(), "batch_norm2d");
        let err =
            bn.forward(&Var::constant(Rng::seed(1).normal_array::<f32>(&[6, 3], 0.0, 1.0))).unwrap_err();
        assert!(err.to_string().contains("[N, 3, H, W]"), "{err}");
        let mut flat = BuildContext::new([12], Rng::seed(0));
        let e = build_module("batch_norm2d", &RawParams::new(), &mut flat).unwrap_err().to_string();
        assert!(e.contains("batch_norm2d") && e.contains("[12]"), "{e}");
        let four: RawParams = [("num_features".to_string(), Value::Int(4))].into_iter().collect();
        assert!(build_module("batch_norm2d", &four, &mut ctx).is_err());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::seed(3);
        let x = rng.normal_array::<f64>(&[3, 2, 3, 2], 0.0, 1.0);
        let w = rng.normal_array::<f64>(&[2], 1.0, 0.3);
        let b = rng.normal_array::<f64>(&[2], 0.0, 1.0);
        gradcheck_layer(
            |v| BatchNorm2d::<f64>::with_defaults(2)?.with_affine(v[1].clone(), v[2].clone())?.forward(&v[0]),
            &[x, w, b],
        );
    }
}
