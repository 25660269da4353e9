//! Layers, activations and losses of nabla, registered by name so that a model can be
//! written as a list of named layers in a config.
//!
//! * [`Module`]: the object-safe layer trait — `forward`, the output shape of a sample,
//!   parameters with PyTorch's `state_dict` names (`0.weight`), buffers (BatchNorm's running
//!   statistics), training and evaluation modes, generators for checkpoints. [`Sequential`]
//!   chains modules.
//! * Layers: [`Linear`] (weight and bias initializers chosen by name), [`Flatten`],
//!   [`Identity`], [`Dropout`], [`BatchNorm1d`]; for images `[N, C, H, W]`: [`Conv2d`],
//!   [`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool2d`], [`BatchNorm2d`], [`Dropout2d`] and
//!   [`Unflatten`] (flat IDX images to `[C, H, W]`), with per-axis sizes as PyTorch writes
//!   them ([`Size2`]: `3` or `[3, 5]`; [`Padding2`] also `"same"` / `"valid"`). Activations: [`Relu`], [`Sigmoid`],
//!   [`Tanh`], [`LeakyRelu`], [`Gelu`] (exact and tanh), [`Softmax`], [`LogSoftmax`].
//! * [`Loss`] with [`Target`]s: [`CrossEntropy`] (label smoothing), [`Nll`], [`Mse`],
//!   [`BceWithLogits`].
//! * The registry kinds [`ComponentKind::Layer`](nabla_registry::ComponentKind::Layer) (layers
//!   and activations, told apart by [`LayerCategory`] in listings only) and `Loss`: records
//!   [`LayerRegistration`], [`LossRegistration`], macros [`register_layer!`],
//!   [`register_loss!`]; build by name with [`nabla_registry::build`] for `dyn Module<f32>`
//!   (given a [`BuildContext`]: the sample shape flowing in and the model's generator) and
//!   `dyn Loss<f32>`. Every component declares its hyper-parameters once, deriving
//!   [`HyperParams`](nabla_registry::HyperParams): on itself ([`Relu`], [`Flatten`],
//!   [`CrossEntropy`], ...) or on a config struct ([`LinearConfig`], [`BatchNorm1dConfig`],
//!   [`DropoutConfig`]) implementing [`BuildLayer`].
//!
//! Modules are generic over the element type (`f32`, `f64`) through their constructors; the
//! registry builds `f32` modules. Everything runs on `nabla-autograd`'s fused ops (`linear`
//! is one strided GEMM, BatchNorm one pass forward and one backward).
//!
//! | name (aliases) | kind | hyper-parameters (defaults) |
//! | --- | --- | --- |
//! | `linear` | layer | `out_features` (required), `in_features` (from the input), `bias` true, `weight_init` / `bias_init` (model default, else `torch_linear_default`) |
//! | `flatten` | layer | `start_dim` 1, `end_dim` -1 |
//! | `identity` | layer | — |
//! | `dropout` | layer | `p` 0.5 in `[0, 1)` |
//! | `conv2d` | layer | `out_channels`, `kernel_size` (required), `in_channels` (from the input), `stride` 1, `padding` 0 \| `"same"` \| `"valid"`, `dilation` 1, `groups` 1, `bias` true, `padding_mode` zeros, `weight_init` / `bias_init` |
//! | `max_pool2d` | layer | `kernel_size` (required), `stride` (= kernel), `padding` 0, `dilation` 1, `ceil_mode` false |
//! | `avg_pool2d` | layer | `kernel_size` (required), `stride` (= kernel), `padding` 0, `ceil_mode` false, `count_include_pad` true, `divisor_override` |
//! | `adaptive_avg_pool2d` | layer | `output_size` (required) |
//! | `batch_norm2d` | layer | as `batch_norm1d`, over `[N, C, H, W]` |
//! | `dropout2d` | layer | `p` 0.5 in `[0, 1)` (whole channels) |
//! | `unflatten` | layer | `dim`, `unflattened_size` (required) |
//! | `batch_norm1d` (`bn`) | layer | `num_features` (from the input), `eps` 1e-5, `momentum` 0.1, `affine` true, `track_running_stats` true |
//! | `relu`, `sigmoid`, `tanh` | activation | — |
//! | `leaky_relu` | activation | `negative_slope` 0.01 |
//! | `gelu` | activation | `approximate` none \| tanh |
//! | `softmax`, `log_softmax` | activation | `dim` 1 |
//! | `cross_entropy` (`ce`) | loss | `label_smoothing` 0, `reduction` mean \| sum |
//! | `nll` (`nll_loss`), `mse` (`mse_loss`), `bce_with_logits` | loss | `reduction` mean \| sum |
//!
//! Names are matched case-, hyphen- and underscore-insensitively, so PyTorch's class names
//! (`BatchNorm1d`, `LeakyReLU`, `GELU`) work too.
//!
//! ```
//! use nabla_layers::{BuildContext, Loss, Module, Sequential, Target};
//! use nabla_autograd::Var;
//! use nabla_registry::{build, RawParams, Spec};
//! use nabla_tensor::Rng;
//!
//! // A model from a list of (name, hyper-parameters), as the trainer builds it: each layer's
//! // input size comes from the shape flowing out of the one before.
//! let layers = vec![
//!     Spec::new("linear").with("out_features", 16),
//!     Spec::new("bn"),
//!     Spec::new("relu"),
//!     Spec::new("dropout").with("p", 0.1),
//!     Spec::new("linear").with("out_features", 3),
//! ];
//! let mut ctx = BuildContext::new([4], Rng::seed(0));
//! let mut model = Sequential::new();
//! for spec in &layers {
//!     model.push(build::<dyn Module<f32>>(spec, &mut ctx).unwrap().value);
//! }
//! assert_eq!(ctx.input_shape, [3]);
//! let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]);
//!
//! let x = Var::constant(ctx.rng.normal_array::<f32>(&[8, 4], 0.0, 1.0));
//! let loss = build::<dyn Loss<f32>>(("cross_entropy", &RawParams::new()), ()).unwrap().value;
//! let l = loss.forward(&model.forward(&x).unwrap(), &Target::Classes(&[0, 1, 2, 0, 1, 2, 0, 1])).unwrap();
//! l.backward().unwrap();
//! assert!(model.parameters().iter().all(|(_, p)| p.grad().is_some()));
//! ```

mod activations;
mod adaptive_avg_pool2d;
mod avg_pool2d;
mod batch_norm1d;
mod batch_norm2d;
mod conv2d;
mod dims;
mod dropout;
mod dropout2d;
mod error;
mod flatten;
mod identity;
mod linear;
mod losses;
mod max_pool2d;
mod module;
mod pooling;
mod registration;
mod sequential;
mod spatial;
#[cfg(test)]
mod testing;
mod unflatten;
mod weight_bias;

pub use activations::{Gelu, GeluApproximate, LeakyRelu, LogSoftmax, Relu, Sigmoid, Softmax, Tanh};
pub use adaptive_avg_pool2d::AdaptiveAvgPool2d;
pub use avg_pool2d::AvgPool2d;
pub use batch_norm1d::{BatchNorm1d, BatchNorm1dConfig, BatchNormConfig, BatchNormNd};
pub use batch_norm2d::{BatchNorm2d, BatchNorm2dConfig};
pub use conv2d::{Conv2d, Conv2dConfig, PaddingMode};
pub use dropout::{DropUnit, Dropout, DropoutConfig, DropoutLayerConfig, Elements, MaskedDropout};
pub use dropout2d::{Channels, Dropout2d, Dropout2dConfig};
pub use error::LayerError;
pub use flatten::Flatten;
pub use identity::Identity;
pub use linear::{Linear, LinearConfig};
pub use losses::{BceWithLogits, CrossEntropy, Loss, Mse, Nll, Target};
pub use max_pool2d::MaxPool2d;
pub use module::{join_name, Module, TrainingMode};
pub use registration::{
    BuildContext, BuildLayer, LayerCategory, LayerRegistration, LossFactory, LossRegistration, ModuleFactory,
    MAX_ELEMENTS,
};
pub use sequential::Sequential;
pub use spatial::{Padding2, Size2};
pub use unflatten::Unflatten;
pub use weight_bias::DEFAULT_INIT;

/// How a loss combines per-sample values (from `nabla-autograd`), for the loss constructors.
pub use nabla_autograd::Reduction;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

#[doc(hidden)]
pub mod __private {
    pub use crate::registration::{build_layer, build_loss};
    pub use nabla_registry;
}

/// Builds one layer by name on `ctx`'s input for the unit tests, leaving `ctx.input_shape` as
/// it was so that a test can build several layers for the same input.
#[cfg(test)]
pub(crate) fn build_module(
    name: &str,
    params: &nabla_registry::RawParams,
    ctx: &mut BuildContext,
) -> Result<Box<dyn Module<f32>>, LayerError> {
    let input = ctx.input_shape.clone();
    let built = nabla_registry::build::<dyn Module<f32>>((name, params), &mut *ctx);
    ctx.input_shape = input;
    built.map(|b| b.value)
}

/// Builds a loss by name for the unit tests.
#[cfg(test)]
pub(crate) fn build_loss(
    name: &str,
    params: &nabla_registry::RawParams,
) -> Result<Box<dyn Loss<f32>>, LayerError> {
    nabla_registry::build::<dyn Loss<f32>>((name, params), ()).map(|b| b.value)
}

/// Test support: raw hyper-parameters from `(key, value)` pairs, as a config table gives them.
#[cfg(test)]
pub(crate) fn raw(pairs: &[(&str, nabla_registry::Value)]) -> nabla_registry::RawParams {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_autograd::Var;
    use nabla_registry::{
        build, duplicates, list, resolve, Built, ComponentKind, HyperParams, RawParams, Value,
    };
    use nabla_tensor::ndarray::{ArrayD, IxDyn};
    use nabla_tensor::Rng;

    const LAYERS: [&str; 12] = [
        "adaptive_avg_pool2d",
        "avg_pool2d",
        "batch_norm1d",
        "batch_norm2d",
        "conv2d",
        "dropout",
        "dropout2d",
        "flatten",
        "identity",
        "linear",
        "max_pool2d",
        "unflatten",
    ];
    const ACTIVATIONS: [&str; 7] =
        ["gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "softmax", "tanh"];
    const LOSSES: [&str; 4] = ["bce_with_logits", "cross_entropy", "mse", "nll"];

    fn names(category: LayerCategory) -> Vec<&'static str> {
        list::<LayerRegistration>()
            .into_iter()
            .filter(|r| r.category == category)
            .map(|r| r.info.name)
            .collect()
    }

    #[test]
    fn every_name_is_registered_once_in_its_category() {
        // One kind for layers and activations: no activation can be shadowed by a layer.
        assert!(duplicates::<LayerRegistration>().is_empty(), "{:?}", duplicates::<LayerRegistration>());
        assert!(duplicates::<LossRegistration>().is_empty());
        assert_eq!(names(LayerCategory::Layer), LAYERS);
        assert_eq!(names(LayerCategory::Activation), ACTIVATIONS);
        let losses: Vec<&str> = list::<LossRegistration>().iter().map(|r| r.info.name).collect();
        assert_eq!(losses, LOSSES);
        assert!(list::<LayerRegistration>().iter().all(|r| r.info.name != "sequential"));
    }

    #[test]
    fn every_layer_and_activation_builds_with_defaults_and_runs() {
        let int = |k: &str, v: i64| (k.to_string(), Value::Int(v));
        for name in LAYERS.iter().chain(ACTIVATIONS.iter()) {
            let image =
                ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm2d", "dropout2d"];
            let sample: Vec<usize> = if image.contains(name) { vec![2, 4, 4] } else { vec![6] };
            let raw: RawParams = match *name {
                "linear" => [int("out_features", 3)].into_iter().collect(),
                "conv2d" => [int("out_channels", 3), int("kernel_size", 3)].into_iter().collect(),
                "max_pool2d" | "avg_pool2d" => [int("kernel_size", 2)].into_iter().collect(),
                "adaptive_avg_pool2d" => [int("output_size", 1)].into_iter().collect(),
                "unflatten" => [
                    int("dim", 1),
                    ("unflattened_size".to_string(), Value::List(vec![Value::Int(2), Value::Int(3)])),
                ]
                .into_iter()
                .collect(),
                _ => RawParams::new(),
            };
            let mut ctx = BuildContext::new(sample.clone(), Rng::seed(0));
            let Built { value: mut m, params } = build::<dyn Module<f32>>((*name, &raw), &mut ctx).unwrap();
            assert_eq!(m.name(), *name);
            assert_eq!(params.component(), *name);
            assert!(m.is_training());
            let batch: Vec<usize> = std::iter::once(4).chain(sample.iter().copied()).collect();
            let x = Var::constant(Rng::seed(1).normal_array::<f32>(&batch, 0.0, 1.0));
            let y = m.forward(&x).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(y.shape()[1..], ctx.input_shape, "{name}: the context moves on to the output shape");
            assert!(y.value().iter().all(|v| v.is_finite()), "{name}");
            m.eval();
            assert!(!m.is_training());
            m.forward(&x).unwrap();
            assert!(!m.describe().is_empty());
        }
    }

    /// The component read from its declared defaults.
    fn declared_defaults<H: nabla_registry::HyperParams>() -> H {
        let none = RawParams::new();
        let p =
            nabla_registry::Params::validate(ComponentKind::Layer, "probe", H::SCHEMA, &none, &none).unwrap();
        H::from_params(&p).unwrap()
    }

    #[test]
    fn rust_defaults_are_the_declared_defaults() {
        assert_eq!(declared_defaults::<Flatten>(), Flatten::default());
        let pool = |p: &[(&str, i64)]| -> RawParams {
            p.iter().map(|(k, v)| (k.to_string(), Value::Int(*v))).collect()
        };
        let with = |raw: &RawParams, schema| {
            nabla_registry::Params::validate(ComponentKind::Layer, "probe", schema, &RawParams::new(), raw)
                .unwrap()
        };
        let k = pool(&[("kernel_size", 2)]);
        assert_eq!(MaxPool2d::from_params(&with(&k, MaxPool2d::SCHEMA)).unwrap(), MaxPool2d::new([2, 2]));
        assert_eq!(AvgPool2d::from_params(&with(&k, AvgPool2d::SCHEMA)).unwrap(), AvgPool2d::new([2, 2]));
        let o = pool(&[("output_size", 3)]);
        assert_eq!(
            AdaptiveAvgPool2d::from_params(&with(&o, AdaptiveAvgPool2d::SCHEMA)).unwrap(),
            AdaptiveAvgPool2d::new([3, 3])
        );
        assert_eq!(declared_defaults::<LeakyRelu>(), LeakyRelu::default());
        assert_eq!(declared_defaults::<Gelu>(), Gelu::default());
        assert_eq!(declared_defaults::<Softmax>(), Softmax::default());
        assert_eq!(declared_defaults::<LogSoftmax>(), LogSoftmax::default());
        assert_eq!(declared_defaults::<CrossEntropy>(), CrossEntropy::default());
        assert_eq!(declared_defaults::<Mse>(), Mse::default());
        assert_eq!(declared_defaults::<Nll>(), Nll::default());
        assert_eq!(declared_defaults::<BceWithLogits>(), BceWithLogits::default());
    }

    #[test]
    fn every_loss_builds_with_defaults_and_runs() {
        let out = Var::param(Rng::seed(2).normal_array::<f32>(&[4, 3], 0.0, 1.0));
        let classes = [0, 2, 1, 1];
        let probs = ArrayD::from_elem(IxDyn(&[4, 3]), 1.0f32 / 3.0);
        for name in LOSSES {
            let Built { value: loss, params } = build::<dyn Loss<f32>>(name, ()).unwrap();
            assert_eq!(loss.name(), name);
            assert_eq!(params.str("reduction").unwrap(), "mean");
            let l = loss.forward(&out, &Target::Classes(&classes)).unwrap();
            assert_eq!(l.shape(), Vec::<usize>::new(), "{name}");
            assert!(l.item().is_finite());
            l.backward().unwrap();
            if name != "nll" {
                assert!(loss.forward(&out, &Target::Values(probs.view())).unwrap().item().is_finite());
            }
        }
        let err = build_loss("cross_entropyy", &RawParams::new()).unwrap_err().to_string();
        assert!(err.contains("did you mean 'cross_entropy'") && err.contains("bce_with_logits"), "{err}");
    }

    #[test]
    fn unknown_modules_list_both_categories() {
        let mut ctx = BuildContext::new([4], Rng::seed(0));
        let err = build_module("lineer", &RawParams::new(), &mut ctx).unwrap_err();
        let LayerError::UnknownModule { suggestions, layers, activations, .. } = &err else {
            panic!("unexpected {err:?}")
        };
        assert_eq!(suggestions.first().map(String::as_str), Some("linear"));
        assert_eq!(layers, &LAYERS);
        assert_eq!(activations, &ACTIVATIONS);
        let msg = err.to_string();
        assert!(
            msg.contains("registered layers: adaptive_avg_pool2d, avg_pool2d, batch_norm1d")
                && msg.contains("registered activations: gelu"),
            "{msg}"
        );
        let err = build_module("gelly", &RawParams::new(), &mut ctx).unwrap_err().to_string();
        assert!(err.contains("did you mean 'gelu'"), "{err}");
        let err =
            build_module("relu", &[("slope".to_string(), Value::Float(0.1))].into_iter().collect(), &mut ctx)
                .unwrap_err()
                .to_string();
        assert!(err.contains("layer 'relu' has no hyper-parameter 'slope'"), "{err}");
        let relu = resolve::<LayerRegistration>("ReLU").unwrap();
        assert_eq!(relu.record.category, LayerCategory::Activation);
        assert_eq!(resolve::<LayerRegistration>("bn").unwrap().info().name, "batch_norm1d");
    }
}
