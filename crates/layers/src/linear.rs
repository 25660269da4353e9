//! `linear`: the fully connected layer.

use crate::module::training_flag;
use crate::weight_bias;
use crate::{register_layer, BuildContext, BuildLayer, LayerError, Module, TrainingMode};
use nabla_autograd::{linear, Var};
use nabla_init::{Initializer, TorchLinearDefault};
use nabla_registry::HyperParams;
use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::{Element, Rng};

/// A fully connected layer, PyTorch's `nn.Linear`:
///
/// `y = x W^T + b` with `W: [out_features, in_features]` (PyTorch's layout) and
/// `b: [out_features]`, for `x: [..., in_features]`.
///
/// The forward is the fused [`linear`] op: one strided GEMM against the transposed view of
/// `W`, accumulating onto the bias rows (no transpose copy, no separate bias add).
///
/// Hyper-parameters (registry): [`LinearConfig`]. Parameters: `weight`, `bias` (in that
/// order).
#[derive(Debug)]
pub struct Linear<T: Element = f32> {
    weight: Var<T>,
    bias: Option<Var<T>>,
    training: TrainingMode,
}

impl<T: Element> Linear<T> {
    /// A layer initialized as PyTorch's `nn.Linear` (`torch_linear_default` for the weight and
    /// the bias), drawing from `rng`.
    ///
    /// `in_features = 0` gives an empty weight and a zero bias, as in PyTorch.
    ///
    /// # Errors
    /// As [`Linear::with_init`]; `torch_linear_default` fills every 2-d weight and its bias,
    /// so this does not fail in practice.
    pub fn new(
        in_features: usize,
        out_features: usize,
        bias: bool,
        rng: &mut Rng,
    ) -> Result<Self, LayerError> {
        Self::with_init(in_features, out_features, bias, &TorchLinearDefault, &TorchLinearDefault, rng)
    }

    /// A layer whose weight is drawn by `weight_init` and bias by `bias_init` (given the
    /// weight's fans), weight first, from `rng`.
    ///
    /// # Errors
    /// [`LayerError::Init`] when an initializer cannot fill the tensor (a zero fan, ...).
    pub fn with_init(
        in_features: usize,
        out_features: usize,
        bias: bool,
        weight_init: &dyn Initializer,
        bias_init: &dyn Initializer,
        rng: &mut Rng,
    ) -> Result<Self, LayerError> {
        let shape = [out_features, in_features];
        if out_features.checked_mul(in_features).is_none_or(|n| n > crate::MAX_ELEMENTS) {
            return Err(LayerError::invalid(
                "linear",
                format!("a weight of shape {shape:?} is larger than any memory can hold"),
            ));
        }
        let (w, b) = weight_bias::draw("linear", &shape, bias, weight_init, bias_init, rng)?;
        Self::from_arrays(w, b)
    }

    /// A layer with the given weight `[out, in]` and optional bias `[out]` (copied into new
    /// parameters).
    ///
    /// # Errors
    /// [`LayerError::Invalid`] when the weight is not 2-d or the bias is not `[out]`.
    pub fn from_arrays(weight: ArrayD<T>, bias: Option<ArrayD<T>>) -> Result<Self, LayerError> {
        Self::from_vars(Var::param(weight), bias.map(Var::param))
    }

    /// A layer over existing parameter variables (shared, not copied): for weight tying and
    /// for gradient checks.
    ///
    /// # Errors
    /// As [`Linear::from_arrays`].
    pub fn from_vars(weight: Var<T>, bias: Option<Var<T>>) -> Result<Self, LayerError> {
        let ws = weight.shape();
        if ws.len() != 2 {
            return Err(LayerError::invalid("linear", format!("weight must be [out, in], got shape {ws:?}")));
        }
        weight_bias::check_bias("linear", &ws, bias.as_ref())?;
        Ok(Linear { weight, bias, training: TrainingMode::default() })
    }

    /// The weight `[out_features, in_features]`.
    pub fn weight(&self) -> &Var<T> {
        &self.weight
    }

    /// The bias `[out_features]`, if the layer has one.
    pub fn bias(&self) -> Option<&Var<T>> {
        self.bias.as_ref()
    }

    /// The input size.
    pub fn in_features(&self) -> usize {
        self.weight.value().shape()[1]
    }

    /// The output size (the layer's own, whatever the input).
    pub fn out_size(&self) -> usize {
        self.weight.value().shape()[0]
    }
}

impl<T: Element> Module<T> for Linear<T> {
    fn name(&self) -> &str {
        "linear"
    }

    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        Ok(linear(input, &self.weight, self.bias.as_ref())?)
    }

    fn as_linear(&self) -> Option<(&Var<T>, Option<&Var<T>>)> {
        Some((&self.weight, self.bias.as_ref()))
    }

    /// `[..., in_features]` to `[..., out_features]`.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, LayerError> {
        match input.split_last() {
            Some((&last, rest)) if last == self.in_features() => {
                Ok(rest.iter().copied().chain([self.out_size()]).collect())
            }
            _ => Err(LayerError::invalid(
                "linear",
                format!("expected samples of shape [..., {}], got {input:?}", self.in_features()),
            )),
        }
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<T>)) {
        weight_bias::visit(prefix, &self.weight, self.bias.as_ref(), f);
    }

    training_flag!();

    fn describe(&self) -> String {
        format!(
            "Linear(in_features={}, out_features={}, bias={})",
            self.in_features(),
            self.out_size(),
            self.bias.is_some()
        )
    }
}

/// The hyper-parameters of [`Linear`] (registry name `linear`):
///
/// * `out_features` (required, `>= 1`);
/// * `in_features` (optional): taken from the build context (the size of the last axis of the
///   samples flowing in); when given it must equal that size;
/// * `bias` = true;
/// * `weight_init`, `bias_init`: initializers in the compact form (`"he_uniform:mode=fan_out"`,
///   `"zeros"`), resolved through `nabla-init`'s registry; unset, they default to the
///   model's `default_weight_init` / `default_bias_init`, and then to
///   `torch_linear_default` — PyTorch's `U(±1/sqrt(in_features))` for both, the bias using the
///   weight's `fan_in`. The weight is drawn before the bias, from the model's generator.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct LinearConfig {
    /// size of each output sample
    #[param(range = Range::at_least(1.0))]
    pub out_features: usize,
    /// size of each input sample (default: from the previous layer)
    #[param(range = Range::at_least(1.0))]
    pub in_features: Option<usize>,
    /// learn an additive bias
    #[param(default = true)]
    pub bias: bool,
    /// weight initializer, compact form (default: the model's, else torch_linear_default)
    pub weight_init: Option<String>,
    /// bias initializer, compact form (default: the model's, else torch_linear_default)
    pub bias_init: Option<String>,
}

impl BuildLayer for LinearConfig {
    fn build_layer(&mut self, ctx: &mut BuildContext) -> Result<Box<dyn Module<f32>>, LayerError> {
        let in_features =
            ctx.infer("linear", "in_features", self.in_features, ctx.features("linear")?, "features")?;
        self.in_features = Some(in_features);
        let (out_features, bias) = (self.out_features, self.bias);
        let weight_shape = [out_features, in_features];
        let inits = [&self.weight_init, &self.bias_init];
        weight_bias::build_layer(ctx, "linear", "out_features", &weight_shape, bias, inits, |w, b, rng| {
            Linear::<f32>::with_init(in_features, out_features, bias, w, b, rng)
        })
    }
}

register_layer!(LinearConfig, name: "linear", summary: "fully connected layer y = x W^T + b");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_module;
    use crate::testing::gradcheck_layer;
    use nabla_registry::{RawParams, Value};
    use nabla_tensor::ndarray::{arr1, arr2};

    use crate::raw;

    #[test]
    fn affine_map_with_pytorch_layout() {
        let w = arr2(&[[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]]).into_dyn();
        let mut l = Linear::<f64>::from_arrays(w, Some(arr1(&[0.5, -0.5]).into_dyn())).unwrap();
        let y = l.forward(&Var::constant(arr2(&[[1.0, 1.0, 1.0], [2.0, 0.0, -2.0]]).into_dyn())).unwrap();
        assert_eq!(*y.value(), arr2(&[[6.5, -1.0], [-3.5, -1.5]]).into_dyn());
        assert_eq!((l.in_features(), l.out_size()), (3, 2));
        assert_eq!(Module::<f64>::output_shape(&l, &[3]).unwrap(), [2]);
        assert_eq!(Module::<f64>::output_shape(&l, &[7, 3]).unwrap(), [7, 2]);
        let err = Module::<f64>::output_shape(&l, &[4]).unwrap_err().to_string();
        assert!(err.contains("[..., 3]") && err.contains("[4]"), "{err}");
        assert!(Module::<f64>::output_shape(&l, &[]).is_err());
        let names: Vec<String> = l.parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        assert_eq!(l.describe(), "Linear(in_features=3, out_features=2, bias=true)");
    }

    #[test]
    fn shapes_are_checked() {
        assert!(Linear::<f32>::from_arrays(arr1(&[1.0]).into_dyn(), None).is_err());
        let w = arr2(&[[1.0f32, 2.0]]).into_dyn();
        assert!(Linear::from_arrays(w.clone(), Some(arr1(&[1.0, 2.0]).into_dyn())).is_err());
        let mut l = Linear::from_arrays(w, None).unwrap();
        let err = l.forward(&Var::constant(arr2(&[[1.0f32, 2.0, 3.0]]).into_dyn())).unwrap_err();
        assert!(err.to_string().contains("[1, 3]"), "{err}");
    }

    #[test]
    fn default_init_is_pytorchs_bound_and_seeded() {
        let mut rng = Rng::seed(3);
        let l = Linear::<f32>::new(25, 40, true, &mut rng).unwrap();
        let bound = 0.2 + 1e-7;
        assert!(l.weight().value().iter().all(|v| v.abs() <= bound));
        assert!(l.bias().unwrap().value().iter().all(|v| v.abs() <= bound));
        let again = Linear::<f32>::new(25, 40, true, &mut Rng::seed(3)).unwrap();
        assert_eq!(*again.weight().value(), *l.weight().value());
        assert_eq!(*again.bias().unwrap().value(), *l.bias().unwrap().value());
        let empty = Linear::<f32>::new(0, 4, true, &mut rng).unwrap();
        assert!(empty.bias().unwrap().value().iter().all(|&v| v == 0.0));
        let orthogonal = nabla_registry::build::<dyn Initializer>("orthogonal", ()).unwrap().value;
        let err = Linear::<f32>::with_init(3, 2, true, &TorchLinearDefault, orthogonal.as_ref(), &mut rng)
            .unwrap_err();
        assert!(err.to_string().contains("linear bias_init 'orthogonal'"), "{err}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::seed(1);
        let x = rng.normal_array::<f64>(&[3, 4], 0.0, 1.0);
        let w = rng.normal_array::<f64>(&[2, 4], 0.0, 1.0);
        let b = rng.normal_array::<f64>(&[2], 0.0, 1.0);
        gradcheck_layer(|v| Linear::from_vars(v[1].clone(), Some(v[2].clone()))?.forward(&v[0]), &[x, w, b]);
    }

    #[test]
    fn registry_takes_in_features_from_the_context_and_named_initializers() {
        let mut ctx = BuildContext::new([6], Rng::seed(0));
        let l = build_module("linear", &raw(&[("out_features", Value::Int(3))]), &mut ctx).unwrap();
        assert_eq!(l.output_shape(&[6]).unwrap(), [3]);
        assert_eq!(l.describe(), "Linear(in_features=6, out_features=3, bias=true)");
        let given = raw(&[("out_features", Value::Int(3)), ("in_features", Value::Int(5))]);
        let err = build_module("linear", &given, &mut ctx).unwrap_err().to_string();
        assert!(err.contains("in_features = 5") && err.contains("6"), "{err}");
        let zeros = raw(&[
            ("out_features", Value::Int(2)),
            ("bias", Value::Bool(true)),
            ("weight_init", Value::Str("constant:value=0.5".into())),
            ("bias_init", Value::Str("zeros".into())),
        ]);
        let l = build_module("linear", &zeros, &mut ctx).unwrap();
        let params = l.parameters();
        assert!(params[0].1.value().iter().all(|&v| v == 0.5));
        assert!(params[1].1.value().iter().all(|&v| v == 0.0));
        let no_bias = raw(&[("out_features", Value::Int(2)), ("bias", Value::Bool(false))]);
        assert_eq!(build_module("linear", &no_bias, &mut ctx).unwrap().parameters().len(), 1);
        let typo = raw(&[("out_features", Value::Int(2)), ("weight_init", Value::Str("he_unifrom".into()))]);
        let err = build_module("linear", &typo, &mut ctx).unwrap_err().to_string();
        assert!(err.contains("weight_init") && err.contains("he_uniform"), "{err}");
        assert!(build_module("linear", &RawParams::new(), &mut ctx).is_err(), "out_features is required");
    }

    #[test]
    fn model_defaults_apply_when_the_layer_names_none() {
        let mut ctx = BuildContext {
            default_weight_init: Some("ones".into()),
            default_bias_init: Some("constant:value=-1".into()),
            ..BuildContext::new([4], Rng::seed(0))
        };
        let l = build_module("linear", &raw(&[("out_features", Value::Int(2))]), &mut ctx).unwrap();
        let params = l.parameters();
        assert!(params[0].1.value().iter().all(|&v| v == 1.0));
        assert!(params[1].1.value().iter().all(|&v| v == -1.0));
        let own = raw(&[("out_features", Value::Int(2)), ("weight_init", Value::Str("zeros".into()))]);
        let l = build_module("linear", &own, &mut ctx).unwrap();
        assert!(l.parameters()[0].1.value().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn sizes_beyond_the_budget_are_errors_naming_the_key_not_aborts() {
        for out in [2_000_000_000i64, i64::MAX] {
            let mut ctx = BuildContext { elements_left: 1 << 20, ..BuildContext::new([64], Rng::seed(0)) };
            let huge = raw(&[("out_features", Value::Int(out))]);
            let err = build_module("linear", &huge, &mut ctx).unwrap_err().to_string();
            assert!(err.contains("out_features") && err.contains("budget"), "{err}");
            assert_eq!(ctx.elements_left, 1 << 20, "a refused layer takes nothing");
        }
        let mut ctx = BuildContext::new([usize::MAX / 2], Rng::seed(0));
        let err = build_module("linear", &raw(&[("out_features", Value::Int(4))]), &mut ctx).unwrap_err();
        assert!(err.to_string().contains("usize"), "{err}");
        let err = Linear::<f32>::new(usize::MAX, 2, true, &mut Rng::seed(0)).unwrap_err();
        assert!(err.to_string().contains("larger than any memory"), "{err}");
        let mut ctx = BuildContext { elements_left: 30, ..BuildContext::new([4], Rng::seed(0)) };
        build_module("linear", &raw(&[("out_features", Value::Int(6))]), &mut ctx).unwrap();
        assert_eq!(ctx.elements_left, 0, "4x6 weight and 6 biases");
    }
}
