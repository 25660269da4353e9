//! `max_pool2d`: 2-d max pooling.

use crate::pooling::window_pooling_module;
use crate::spatial::{show, Size2};
use crate::TrainingMode;
use nabla_autograd::{max_pool2d, max_pool2d_output_shape, MaxPool2dOptions};
use nabla_registry::HyperParams;

/// 2-d max pooling over `[N, C, H, W]`, PyTorch's `nn.MaxPool2d`:
/// `y[n, c, i, j] = max_{u, v} x[n, c, i sH - pH + u dH, j sW - pW + v dW]` over the taps inside
/// the input (the padding is `-inf`). Output size per axis (PyTorch's formula):
///
/// `H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH + 1)`
///
/// with `ceil_mode` `ceil` instead of `floor`, then one less if the last window would start at
/// or after `H + pH`. The gradient goes to each window's first maximum ([`max_pool2d`]).
///
/// Hyper-parameters: `kernel_size` (required, `k` or `[kH, kW]`), `stride` (default: the
/// kernel size), `padding` = 0 (at most half the effective kernel), `dilation` = 1,
/// `ceil_mode` = false. PyTorch's `return_indices` is not supported.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct MaxPool2d {
    /// window size k or [kH, kW]
    #[param(range = Range::at_least(1.0))]
    pub kernel_size: Size2,
    /// step of the window (default: kernel_size)
    #[param(range = Range::at_least(1.0))]
    pub stride: Option<Size2>,
    /// -inf padding on both sides, p or [pH, pW]
    #[param(default = 0, range = Range::at_least(0.0))]
    pub padding: Size2,
    /// spacing of the window taps
    #[param(default = 1, range = Range::at_least(1.0))]
    pub dilation: Size2,
    /// round the output size up instead of down
    #[param(default = false)]
    pub ceil_mode: bool,
    #[param(skip)]
    training: TrainingMode,
}

impl MaxPool2d {
    /// PyTorch's defaults for a `[kH, kW]` window: stride = kernel, no padding, dilation 1,
    /// floor mode.
    pub fn new(kernel_size: [usize; 2]) -> Self {
        MaxPool2d {
            kernel_size: Size2(kernel_size),
            stride: None,
            padding: Size2([0, 0]),
            dilation: Size2([1, 1]),
            ceil_mode: false,
            training: TrainingMode::default(),
        }
    }

    /// The op's options.
    pub fn options(&self) -> MaxPool2dOptions {
        MaxPool2dOptions {
            kernel_size: self.kernel_size.0,
            stride: self.stride.map(|s| s.0),
            padding: self.padding.0,
            dilation: self.dilation.0,
            ceil_mode: self.ceil_mode,
        }
    }
}

window_pooling_module!(MaxPool2d,
    name: "max_pool2d",
    summary: "2-d max pooling over [N, C, H, W]",
    op: max_pool2d,
    output_shape: max_pool2d_output_shape,
    describe: |o| format!(
        "MaxPool2d(kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={})",
        show(o.kernel_size),
        show(o.effective_stride()),
        show(o.padding),
        show(o.dilation),
        o.ceil_mode
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
    fn pools_and_checks_shapes_when_built() {
        let mut ctx = BuildContext::new([2, 5, 5], Rng::seed(0));
        let mut m = build_module("max_pool2d", &raw(&[("kernel_size", Value::Int(2))]), &mut ctx).unwrap();
        assert_eq!(m.output_shape(&[2, 5, 5]).unwrap(), [2, 2, 2]);
        let ceil = raw(&[("kernel_size", Value::Int(2)), ("ceil_mode", Value::Bool(true))]);
        assert_eq!(
            build_module("max_pool2d", &ceil, &mut ctx).unwrap().output_shape(&[2, 5, 5]).unwrap(),
            [2, 3, 3]
        );
        let x = ArrayD::from_shape_fn(IxDyn(&[1, 2, 5, 5]), |i| (i[1] * 25 + i[2] * 5 + i[3]) as f32);
        let y = m.forward(&Var::constant(x)).unwrap();
        assert_eq!(
            y.value().iter().copied().collect::<Vec<_>>(),
            [6.0, 8.0, 16.0, 18.0, 31.0, 33.0, 41.0, 43.0]
        );
        assert_eq!(
            m.describe(),
            "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=false)"
        );
        let rejected = |params: &[(&str, Value)], ctx: &mut BuildContext| {
            build_module("max_pool2d", &raw(params), ctx).unwrap_err().to_string()
        };
        let e = rejected(&[("kernel_size", Value::Int(6))], &mut ctx);
        assert!(e.contains("max_pool2d") && e.contains("[2, 5, 5]"), "{e}");
        let e = rejected(&[("kernel_size", Value::Int(2)), ("stride", Value::Int(0))], &mut ctx);
        assert!(e.contains("stride"), "{e}");
        let e = rejected(&[("kernel_size", Value::Int(2)), ("padding", Value::Int(2))], &mut ctx);
        assert!(e.contains("padding"), "{e}");
        let e = rejected(&[("kernel_size", Value::Int(2))], &mut BuildContext::new([50], Rng::seed(0)));
        assert!(e.contains("[50]") && e.contains("unflatten"), "{e}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Rng::seed(4).normal_array::<f64>(&[2, 2, 5, 6], 0.0, 1.0);
        let m = MaxPool2d { stride: Some(Size2([2, 1])), padding: Size2([1, 1]), ..MaxPool2d::new([3, 2]) };
        check_gradient(m, x);
    }
}
