//! `conv2d`: the 2-d convolution layer.

use crate::module::training_flag;
use crate::spatial::{image, show, Padding2, Size2};
use crate::weight_bias;
use crate::{register_layer, BuildContext, BuildLayer, LayerError, Module, TrainingMode};
use nabla_autograd::{conv2d, conv2d_output_shape, Conv2dOptions, Conv2dPadding, Var};
use nabla_init::{Initializer, TorchLinearDefault};
use nabla_registry::{HyperParams, ParamChoice};
use nabla_tensor::{Element, Rng};

/// A 2-d convolution, PyTorch's `nn.Conv2d` (a cross-correlation); LeCun et al. (1998),
/// "Gradient-Based Learning Applied to Document Recognition", Proc. IEEE.
///
/// For input `[N, C, H, W]`, weight `[O, C/groups, kH, kW]` and bias `[O]`,
/// `y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x[n, g C/groups + c, i sH - pH + u dH, j sW - pW + v dW]`
/// (zeros outside the input), with output size per axis (PyTorch's formula)
///
/// `H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH + 1)`
///
/// (`padding = "same"`: `H_out = H`, stride 1 only). The forward and backward are the
/// [`conv2d`] op: im2col and strided GEMMs, buffers pooled across steps.
///
/// Hyper-parameters ([`Conv2dConfig`]): `out_channels` (required), `kernel_size` (required,
/// `k` or `[kH, kW]`), `in_channels` (from the samples flowing in), `stride` = 1,
/// `padding` = 0 (`p`, `[pH, pW]`, `"valid"` or `"same"`), `dilation` = 1, `groups` = 1
/// (`groups = in_channels` is depthwise), `bias` = true, `padding_mode` = `zeros` (the only
/// mode supported: `reflect`, `replicate` and `circular` are PyTorch's other modes, and an
/// error here), `weight_init` / `bias_init` (default: the model's, else PyTorch's
/// `kaiming_uniform(a = sqrt(5))` = `U(±1/sqrt(fan_in))` with
/// `fan_in = in_channels / groups * kH * kW`, the bias `U(±1/sqrt(fan_in))` of the weight's
/// fan-in).
///
/// Parameters: `weight`, `bias` (in that order).
#[derive(Debug)]
pub struct Conv2d<T: Element = f32> {
    weight: Var<T>,
    bias: Option<Var<T>>,
    options: Conv2dOptions,
    training: TrainingMode,
}

impl<T: Element> Conv2d<T> {
    /// A layer over existing parameters `weight [O, C/groups, kH, kW]` and `bias [O]` (shared,
    /// not copied).
    ///
    /// # Errors
    /// [`LayerError::Invalid`] when the weight is not 4-d, the bias not `[O]`, or an option is
    /// invalid (stride, dilation or groups 0, groups not dividing `O`, `"same"` with stride
    /// other than 1).
    pub fn from_vars(
        weight: Var<T>,
        bias: Option<Var<T>>,
        options: Conv2dOptions,
    ) -> Result<Self, LayerError> {
        options.validate()?;
        let ws = weight.shape();
        if ws.len() != 4 || ws.contains(&0) {
            return Err(LayerError::invalid(
                "conv2d",
                format!(
                    "weight must be [out_channels, in_channels/groups, kH, kW] of positive sizes, got {ws:?}"
                ),
            ));
        }
        if !ws[0].is_multiple_of(options.groups) {
            return Err(LayerError::invalid(
                "conv2d",
                format!("groups = {} does not divide out_channels = {}", options.groups, ws[0]),
            ));
        }
        weight_bias::check_bias("conv2d", &ws, bias.as_ref())?;
        Ok(Conv2d { weight, bias, options, training: TrainingMode::default() })
    }

    /// A layer of `in_channels -> out_channels` with a `kernel` window, its weight drawn by
    /// `weight_init` and its bias by `bias_init` (given the weight's fans), weight first.
    ///
    /// # Errors
    /// As [`Conv2d::from_vars`]; groups not dividing `in_channels`; [`LayerError::Init`] when an
    /// initializer cannot fill the tensor.
    #[allow(clippy::too_many_arguments)]
    pub fn with_init(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        options: Conv2dOptions,
        bias: bool,
        weight_init: &dyn Initializer,
        bias_init: &dyn Initializer,
        rng: &mut Rng,
    ) -> Result<Self, LayerError> {
        options.validate()?;
        if !in_channels.is_multiple_of(options.groups) {
            return Err(LayerError::invalid(
                "conv2d",
                format!("groups = {} does not divide in_channels = {in_channels}", options.groups),
            ));
        }
        let shape = [out_channels, in_channels / options.groups, kernel[0], kernel[1]];
        let (w, b) = weight_bias::draw("conv2d", &shape, bias, weight_init, bias_init, rng)?;
        Self::from_vars(Var::param(w), b.map(Var::param), options)
    }

    /// A layer initialized as PyTorch's `nn.Conv2d` (`torch_linear_default`).
    ///
    /// # Errors
    /// As [`Conv2d::with_init`].
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        options: Conv2dOptions,
        bias: bool,
        rng: &mut Rng,
    ) -> Result<Self, LayerError> {
        let d = TorchLinearDefault;
        Self::with_init(in_channels, out_channels, kernel, options, bias, &d, &d, rng)
    }

    /// The weight `[out_channels, in_channels/groups, kH, kW]`.
    pub fn weight(&self) -> &Var<T> {
        &self.weight
    }

    /// The bias `[out_channels]`, if any.
    pub fn bias(&self) -> Option<&Var<T>> {
        self.bias.as_ref()
    }

    /// Stride, padding, dilation and groups.
    pub fn options(&self) -> &Conv2dOptions {
        &self.options
    }
}

impl<T: Element> Module<T> for Conv2d<T> {
    fn name(&self) -> &str {
        "conv2d"
    }

    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        Ok(conv2d(input, &self.weight, self.bias.as_ref(), &self.options)?)
    }

    /// `[C, H, W]` to `[O, H_out, W_out]` (the formula above), with every check of the op.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, LayerError> {
        image("conv2d", input)?;
        Ok(conv2d_output_shape(input, &self.weight.shape(), &self.options)?)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<T>)) {
        weight_bias::visit(prefix, &self.weight, self.bias.as_ref(), f);
    }

    training_flag!();

    fn describe(&self) -> String {
        let ws = self.weight.shape();
        let o = &self.options;
        let padding = match o.padding {
            Conv2dPadding::Explicit(p) => show(p),
            Conv2dPadding::Valid => "valid".into(),
            Conv2dPadding::Same => "same".into(),
        };
        format!(
            "Conv2d({}, {}, kernel_size={}, stride={}, padding={padding}, dilation={}, groups={}, bias={})",
            ws[1] * o.groups,
            ws[0],
            show([ws[2], ws[3]]),
            show(o.stride),
            show(o.dilation),
            o.groups,
            self.bias.is_some()
        )
    }
}

/// PyTorch's `padding_mode` of `nn.Conv2d`. Only `zeros` is implemented; the others are
/// accepted by the schema so that a PyTorch config gets a clear "not supported" error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ParamChoice)]
pub enum PaddingMode {
    /// Pad with zeros.
    Zeros,
    /// Mirror the input at its border (not supported).
    Reflect,
    /// Repeat the border value (not supported).
    Replicate,
    /// Wrap around (not supported).
    Circular,
}

/// The hyper-parameters of [`Conv2d`] (registry name `conv2d`); see there for their meaning.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct Conv2dConfig {
    /// number of output channels
    #[param(range = Range::at_least(1.0))]
    pub out_channels: usize,
    /// window size k or [kH, kW]
    #[param(range = Range::at_least(1.0))]
    pub kernel_size: Size2,
    /// number of input channels (default: from the previous layer)
    #[param(range = Range::at_least(1.0))]
    pub in_channels: Option<usize>,
    /// step of the window, s or [sH, sW]
    #[param(default = 1, range = Range::at_least(1.0))]
    pub stride: Size2,
    /// zero padding on both sides, p or [pH, pW], or "same" / "valid"
    #[param(default = 0, range = Range::at_least(0.0))]
    pub padding: Padding2,
    /// spacing of the kernel taps, d or [dH, dW]
    #[param(default = 1, range = Range::at_least(1.0))]
    pub dilation: Size2,
    /// channel groups (in_channels for depthwise)
    #[param(default = 1, range = Range::at_least(1.0))]
    pub groups: usize,
    /// learn an additive bias
    #[param(default = true)]
    pub bias: bool,
    /// how the border is padded (zeros only)
    #[param(default = "zeros")]
    pub padding_mode: PaddingMode,
    /// weight initializer, compact form (default: the model's, else torch_linear_default)
    pub weight_init: Option<String>,
    /// bias initializer, compact form (default: the model's, else torch_linear_default)
    pub bias_init: Option<String>,
}

impl Conv2dConfig {
    /// The op's options.
    pub fn options(&self) -> Conv2dOptions {
        Conv2dOptions {
            stride: self.stride.0,
            padding: match self.padding {
                Padding2::Explicit(p) => Conv2dPadding::Explicit(p),
                Padding2::Valid => Conv2dPadding::Valid,
                Padding2::Same => Conv2dPadding::Same,
            },
            dilation: self.dilation.0,
            groups: self.groups,
        }
    }
}

impl BuildLayer for Conv2dConfig {
    fn build_layer(&mut self, ctx: &mut BuildContext) -> Result<Box<dyn Module<f32>>, LayerError> {
        if self.padding_mode != PaddingMode::Zeros {
            return Err(LayerError::invalid(
                "conv2d",
                format!(
                    "padding_mode = \"{}\" is not supported (only \"zeros\")",
                    self.padding_mode.as_str()
                ),
            ));
        }
        let [c, _, _] = image("conv2d", &ctx.input_shape)?;
        let in_channels = ctx.infer("conv2d", "in_channels", self.in_channels, c, "channels")?;
        self.in_channels = Some(in_channels);
        let options = self.options();
        // Every shape check before any weight is drawn: a bad config fails fast and names
        // the shapes.
        let [kh, kw] = self.kernel_size.0;
        let weight_shape = [self.out_channels, in_channels / self.groups.max(1), kh, kw];
        if in_channels % self.groups != 0 || !self.out_channels.is_multiple_of(self.groups) {
            return Err(LayerError::invalid(
                "conv2d",
                format!(
                    "groups = {} must divide in_channels = {in_channels} and out_channels = {} (input samples {:?})",
                    self.groups, self.out_channels, ctx.input_shape
                ),
            ));
        }
        conv2d_output_shape(&ctx.input_shape, &weight_shape, &options)?;
        let (out_channels, kernel, bias) = (self.out_channels, self.kernel_size.0, self.bias);
        let inits = [&self.weight_init, &self.bias_init];
        weight_bias::build_layer(ctx, "conv2d", "out_channels", &weight_shape, bias, inits, |w, b, rng| {
            Conv2d::<f32>::with_init(in_channels, out_channels, kernel, options, bias, w, b, rng)
        })
    }
}

register_layer!(Conv2dConfig, name: "conv2d", summary: "2-d convolution over [N, C, H, W] (im2col + GEMM)");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_module;
    use crate::testing::gradcheck_layer;
    use nabla_registry::Value;
    use nabla_tensor::ndarray::{ArrayD, IxDyn};

    use crate::raw;

    fn pair(a: i64, b: i64) -> Value {
        Value::List(vec![Value::Int(a), Value::Int(b)])
    }

    #[test]
    fn builds_from_the_context_and_infers_in_channels() {
        let mut ctx = BuildContext::new([3, 10, 9], Rng::seed(0));
        let spec = raw(&[("out_channels", Value::Int(4)), ("kernel_size", Value::Int(3))]);
        let built = nabla_registry::build::<dyn Module<f32>>(("conv2d", &spec), &mut ctx).unwrap();
        assert_eq!(ctx.input_shape, [4, 8, 7]);
        assert_eq!(built.params.get("in_channels"), Some(&Value::Int(3)));
        assert_eq!(built.params.get("stride"), Some(&Value::Int(1)));
        let m = built.value;
        let names: Vec<String> = m.parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        assert_eq!(m.parameters()[0].1.shape(), [4, 3, 3, 3]);
        assert_eq!(
            m.describe(),
            "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=true)"
        );
        // PyTorch's default init: U(±1/sqrt(fan_in)), fan_in = 3 * 3 * 3.
        let bound = 1.0 / 27f32.sqrt() + 1e-6;
        assert!(m.parameters().iter().all(|(_, p)| p.value().iter().all(|v| v.abs() <= bound)));

        let mut ctx = BuildContext::new([4, 8, 8], Rng::seed(0));
        let depthwise = raw(&[
            ("out_channels", Value::Int(8)),
            ("kernel_size", pair(3, 1)),
            ("stride", pair(2, 1)),
            ("padding", Value::Str("valid".into())),
            ("dilation", Value::Int(1)),
            ("groups", Value::Int(4)),
            ("bias", Value::Bool(false)),
        ]);
        let m = build_module("conv2d", &depthwise, &mut ctx).unwrap();
        assert_eq!(m.parameters().len(), 1);
        assert_eq!(m.parameters()[0].1.shape(), [8, 1, 3, 1]);
        assert_eq!(m.output_shape(&[4, 8, 8]).unwrap(), [8, 3, 8]);
        let same = raw(&[
            ("out_channels", Value::Int(2)),
            ("kernel_size", Value::Int(4)),
            ("padding", Value::Str("same".into())),
        ]);
        assert_eq!(
            build_module("conv2d", &same, &mut ctx).unwrap().output_shape(&[4, 8, 8]).unwrap(),
            [2, 8, 8]
        );
        let y = build_module("conv2d", &same, &mut ctx)
            .unwrap()
            .forward(&Var::constant(ArrayD::zeros(IxDyn(&[2, 4, 8, 8]))))
            .unwrap();
        assert_eq!(y.shape(), [2, 2, 8, 8]);
    }

    #[test]
    fn bad_configs_are_errors_naming_the_layer_and_the_shapes() {
        let mut ctx = BuildContext::new([2, 5, 5], Rng::seed(0));
        fn err_of(pairs: &[(&str, Value)], ctx: &mut BuildContext) -> String {
            build_module("conv2d", &raw(pairs), ctx).unwrap_err().to_string()
        }
        let base = [("out_channels", Value::Int(4)), ("kernel_size", Value::Int(3))];
        let with = |extra: (&'static str, Value)| {
            let mut v = base.to_vec();
            v.retain(|(k, _)| *k != extra.0);
            v.push(extra);
            v
        };
        let e = err_of(&with(("kernel_size", Value::Int(7))), &mut ctx);
        assert!(e.contains("conv2d") && e.contains("[2, 5, 5]"), "{e}");
        let e = err_of(&with(("stride", Value::Int(0))), &mut ctx);
        assert!(e.contains("stride") && e.contains("conv2d"), "{e}");
        let e = err_of(&with(("groups", Value::Int(3))), &mut ctx);
        assert!(e.contains("groups = 3") && e.contains("in_channels = 2"), "{e}");
        let e = err_of(&with(("in_channels", Value::Int(3))), &mut ctx);
        assert!(e.contains("in_channels = 3") && e.contains('2'), "{e}");
        let e = err_of(&with(("padding_mode", Value::Str("reflect".into()))), &mut ctx);
        assert!(e.contains("reflect") && e.contains("not supported"), "{e}");
        let e = err_of(
            &with(("padding", Value::Str("same".into())))
                .into_iter()
                .chain([("stride", Value::Int(2))])
                .collect::<Vec<_>>(),
            &mut ctx,
        );
        assert!(e.contains("same") && e.contains("stride"), "{e}");
        let e = err_of(&with(("padding", Value::Str("full".into()))), &mut ctx);
        assert!(e.contains("padding"), "{e}");
        let mut flat = BuildContext::new([784], Rng::seed(0));
        let e = err_of(&base, &mut flat);
        assert!(e.contains("[784]") && e.contains("unflatten"), "{e}");
        assert!(
            build_module("conv2d", &raw(&[("out_channels", Value::Int(2))]), &mut ctx).is_err(),
            "kernel_size is required"
        );
    }

    #[test]
    fn weights_beyond_the_budget_are_errors_naming_the_key() {
        let mut ctx = BuildContext { elements_left: 100, ..BuildContext::new([1, 8, 8], Rng::seed(0)) };
        let pairs = [("out_channels", Value::Int(16)), ("kernel_size", Value::Int(3))];
        let e = build_module("conv2d", &raw(&pairs), &mut ctx).unwrap_err().to_string();
        assert!(e.contains("out_channels") && e.contains("budget"), "{e}");
        assert_eq!(ctx.elements_left, 100, "a refused layer takes nothing");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::seed(2);
        let x = rng.normal_array::<f64>(&[2, 4, 5, 6], 0.0, 1.0);
        let w = rng.normal_array::<f64>(&[6, 2, 3, 2], 0.0, 1.0);
        let b = rng.normal_array::<f64>(&[6], 0.0, 1.0);
        let options = Conv2dOptions {
            stride: [2, 1],
            padding: Conv2dPadding::Explicit([1, 0]),
            dilation: [1, 2],
            groups: 2,
        };
        gradcheck_layer(
            |v| Conv2d::from_vars(v[1].clone(), Some(v[2].clone()), options)?.forward(&v[0]),
            &[x, w, b],
        );
    }
}
