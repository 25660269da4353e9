//! `adaptive_avg_pool2d`: average pooling to a given output size.

use crate::module::training_flag;
use crate::spatial::{image, show, Size2};
use crate::{register_layer, LayerError, Module, TrainingMode};
use nabla_autograd::{adaptive_avg_pool2d, adaptive_avg_pool2d_output_shape, Var};
use nabla_registry::HyperParams;
use nabla_tensor::Element;

/// Adaptive 2-d average pooling, PyTorch's `nn.AdaptiveAvgPool2d`: `[N, C, H, W]` to
/// `[N, C, oH, oW]`, output `(i, j)` the mean over rows `floor(i H / oH) .. ceil((i + 1) H / oH)`
/// and columns `floor(j W / oW) .. ceil((j + 1) W / oW)` ([`adaptive_avg_pool2d`]);
/// `output_size = 1` is global average pooling. Lin et al. (2014), "Network In Network".
///
/// Hyper-parameters: `output_size` (required, `o` or `[oH, oW]`; PyTorch's `None` for "keep
/// this axis" is not supported: give the size).
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct AdaptiveAvgPool2d {
    /// output size o or [oH, oW]
    #[param(range = Range::at_least(1.0))]
    pub output_size: Size2,
    #[param(skip)]
    training: TrainingMode,
}

impl AdaptiveAvgPool2d {
    /// Pools to `[oH, oW]`.
    pub fn new(output_size: [usize; 2]) -> Self {
        AdaptiveAvgPool2d { output_size: Size2(output_size), training: TrainingMode::default() }
    }
}

impl<T: Element> Module<T> for AdaptiveAvgPool2d {
    fn name(&self) -> &str {
        "adaptive_avg_pool2d"
    }

    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        Ok(adaptive_avg_pool2d(input, self.output_size.0)?)
    }

    /// `[C, H, W]` to `[C, oH, oW]`.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, LayerError> {
        image("adaptive_avg_pool2d", input)?;
        Ok(adaptive_avg_pool2d_output_shape(input, self.output_size.0)?)
    }

    training_flag!();

    fn describe(&self) -> String {
        format!("AdaptiveAvgPool2d(output_size={})", show(self.output_size.0))
    }
}

register_layer!(AdaptiveAvgPool2d,
    name: "adaptive_avg_pool2d",
    summary: "average pooling of [N, C, H, W] to a given [oH, oW]",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_gradient;
    use crate::{build_module, BuildContext};
    use nabla_registry::{RawParams, Value};
    use nabla_tensor::ndarray::{ArrayD, IxDyn};
    use nabla_tensor::Rng;

    #[test]
    fn global_average_and_bins() {
        let mut ctx = BuildContext::new([2, 3, 4], Rng::seed(0));
        let one: RawParams = [("output_size".to_string(), Value::Int(1))].into_iter().collect();
        let mut m = build_module("adaptive_avg_pool2d", &one, &mut ctx).unwrap();
        assert_eq!(m.output_shape(&[2, 3, 4]).unwrap(), [2, 1, 1]);
        let x = ArrayD::from_shape_fn(IxDyn(&[1, 2, 3, 4]), |i| (i[1] * 12 + i[2] * 4 + i[3]) as f32);
        let y = m.forward(&Var::constant(x)).unwrap();
        assert_eq!(y.value().iter().copied().collect::<Vec<_>>(), [5.5, 17.5]);
        assert_eq!(m.describe(), "AdaptiveAvgPool2d(output_size=(1, 1))");
        assert!(
            build_module("adaptive_avg_pool2d", &RawParams::new(), &mut ctx).is_err(),
            "output_size is required"
        );
        let mut flat = BuildContext::new([8], Rng::seed(0));
        assert!(build_module("adaptive_avg_pool2d", &one, &mut flat)
            .unwrap_err()
            .to_string()
            .contains("[8]"));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Rng::seed(6).normal_array::<f64>(&[2, 2, 5, 7], 0.0, 1.0);
        let m = AdaptiveAvgPool2d::new([3, 2]);
        check_gradient(m, x);
    }
}
