//! `avg_pool2d`: 2-d average pooling.

use crate::pooling::window_pooling_module;
use crate::spatial::{show, Size2};
use crate::TrainingMode;
use nabla_autograd::{avg_pool2d, avg_pool2d_output_shape, AvgPool2dOptions};
use nabla_registry::HyperParams;

/// 2-d average pooling over `[N, C, H, W]`, PyTorch's `nn.AvgPool2d`: each output is the sum
/// of its window divided by the window's size (with `count_include_pad`, padding included;
/// else the number of input elements in it). Output size per axis (PyTorch's formula):
///
/// `H_out = floor((H + 2 pH - kH) / sH + 1)`
///
/// with `ceil_mode` `ceil` instead of `floor`, then one less if the last window would start at
/// or after `H + pH` ([`avg_pool2d`]).
///
/// Hyper-parameters: `kernel_size` (required), `stride` (default: the kernel size),
/// `padding` = 0 (at most half the kernel), `ceil_mode` = false, `count_include_pad` = true,
/// `divisor_override` (unset: the rule above).
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct AvgPool2d {
    /// window size k or [kH, kW]
    #[param(range = Range::at_least(1.0))]
    pub kernel_size: Size2,
    /// step of the window (default: kernel_size)
    #[param(range = Range::at_least(1.0))]
    pub stride: Option<Size2>,
    /// zero padding on both sides, p or [pH, pW]
    #[param(default = 0, range = Range::at_least(0.0))]
    pub padding: Size2,
    /// round the output size up instead of down
    #[param(default = false)]
    pub ceil_mode: bool,
    /// count the padding in the divisor
    #[param(default = true)]
    pub count_include_pad: bool,
    /// a fixed divisor for every window
    #[param(range = Range::at_least(1.0))]
    pub divisor_override: Option<usize>,
    #[param(skip)]
    training: TrainingMode,
}

impl AvgPool2d {
    /// PyTorch's defaults for a `[kH, kW]` window.
    pub fn new(kernel_size: [usize; 2]) -> Self {
        AvgPool2d {
            kernel_size: Size2(kernel_size),
            stride: None,
            padding: Size2([0, 0]),
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
            training: TrainingMode::default(),
        }
    }

    /// The op's options.
    pub fn options(&self) -> AvgPool2dOptions {
        AvgPool2dOptions {
            kernel_size: self.kernel_size.0,
            stride: self.stride.map(|s| s.0),
            padding: self.padding.0,
            ceil_mode: self.ceil_mode,
            count_include_pad: self.count_include_pad,
            divisor_override: self.divisor_override,
        }
    }
}

window_pooling_module!(AvgPool2d,
    name: "avg_pool2d",
    summary: "2-d average pooling over [N, C, H, W]",
    op: avg_pool2d,
    output_shape: avg_pool2d_output_shape,
    describe: |o| format!(
        "AvgPool2d(kernel_size={}, stride={}, padding={}, ceil_mode={}, count_include_pad={})",
        show(o.kernel_size),
        show(o.effective_stride()),
        show(o.padding),
        o.ceil_mode,
        o.count_include_pad
    ),
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_gradient;
    use crate::Module;
    use crate::{build_module, BuildContext};
    use nabla_autograd::Var;
    use nabla_registry::Value;
    use nabla_tensor::ndarray::{ArrayD, IxDyn};
    use nabla_tensor::Rng;

    use crate::raw;

    #[test]
    fn divisors_follow_count_include_pad() {
        let mut ctx = BuildContext::new([1, 2, 2], Rng::seed(0));
        let x = Var::constant(ArrayD::from_shape_fn(IxDyn(&[1, 1, 2, 2]), |i| (i[2] * 2 + i[3] + 1) as f32));
        let p = |include| {
            raw(&[
                ("kernel_size", Value::Int(2)),
                ("stride", Value::Int(1)),
                ("padding", Value::Int(1)),
                ("count_include_pad", Value::Bool(include)),
            ])
        };
        let mut inc = build_module("avg_pool2d", &p(true), &mut ctx).unwrap();
        assert_eq!(inc.output_shape(&[1, 2, 2]).unwrap(), [1, 3, 3]);
        assert_eq!(inc.forward(&x).unwrap().value()[[0, 0, 0, 0]], 0.25);
        let mut exc = build_module("avg_pool2d", &p(false), &mut ctx).unwrap();
        assert_eq!(exc.forward(&x).unwrap().value()[[0, 0, 0, 0]], 1.0);
        assert_eq!(exc.forward(&x).unwrap().value()[[0, 0, 1, 1]], 2.5);
        let e = build_module("avg_pool2d", &raw(&[("kernel_size", Value::Int(3))]), &mut ctx)
            .unwrap_err()
            .to_string();
        assert!(e.contains("avg_pool2d") && e.contains("[1, 2, 2]"), "{e}");
        assert!(inc.describe().starts_with("AvgPool2d(kernel_size=(2, 2), stride=(1, 1)"));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Rng::seed(5).normal_array::<f64>(&[2, 3, 5, 4], 0.0, 1.0);
        let m = AvgPool2d {
            padding: Size2([1, 1]),
            ceil_mode: true,
            count_include_pad: false,
            ..AvgPool2d::new([3, 2])
        };
        check_gradient(m, x);
    }
}
