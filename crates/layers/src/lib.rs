//! Layers, activations and losses of nabla, registered by name so that a model can be
//! written as a list of named layers in a config.
//!
//! * [`Module`]: the object-safe layer trait — `forward`, parameters with PyTorch's
//!   `state_dict` names (`0.weight`), buffers (BatchNorm's running statistics), training and
//!   evaluation modes, generators for checkpoints. [`Sequential`] chains modules.
//! * Layers: [`Linear`] (weight and bias initializers chosen by name), [`Flatten`],
//!   [`Identity`], [`Dropout`], [`BatchNorm1d`]. Activations: [`Relu`], [`Sigmoid`],
//!   [`Tanh`], [`LeakyRelu`], [`Gelu`] (exact and tanh), [`Softmax`], [`LogSoftmax`].
//! * [`Loss`] with [`Target`]s: [`CrossEntropy`] (label smoothing), [`Nll`], [`Mse`],
//!   [`BceWithLogits`].
//! * The registry kinds [`ComponentKind::Layer`](nabla_registry::ComponentKind::Layer),
//!   `Activation` and `Loss`: records [`LayerRegistration`], [`ActivationRegistration`],
//!   [`LossRegistration`], macros [`register_layer!`], [`register_activation!`],
//!   [`register_loss!`], and [`build_module`] / [`build_loss`] to build by name.
//!
//! Modules are generic over the element type (`f32`, `f64`) through their constructors; the
//! registry builds `f32` modules. Everything runs on `nabla-autograd`'s fused ops (`linear`
//! is one strided GEMM, BatchNorm one pass forward and one backward).
//!
//! | name (aliases) | kind | hyper-parameters (defaults) |
//! | --- | --- | --- |
//! | `linear` | layer | `out_features` (required), `in_features` (from the context), `bias` true, `weight_init` / `bias_init` (model default, else `torch_linear_default`) |
//! | `flatten` | layer | `start_dim` 1, `end_dim` -1 |
//! | `identity` | layer | — |
//! | `dropout` | layer | `p` 0.5 in `[0, 1)` |
//! | `batch_norm1d` (`bn`) | layer | `num_features` (from the context), `eps` 1e-5, `momentum` 0.1, `affine` true, `track_running_stats` true |
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
//! use nabla_layers::{build_loss, build_module, BuildContext, Module, Sequential, Target};
//! use nabla_autograd::Var;
//! use nabla_registry::{RawParams, Value};
//! use nabla_tensor::Rng;
//!
//! // A model from a list of (name, hyper-parameters), as the trainer builds it.
//! let layers: Vec<(&str, RawParams)> = vec![
//!     ("linear", [("out_features".to_string(), Value::Int(16))].into_iter().collect()),
//!     ("bn", RawParams::new()),
//!     ("relu", RawParams::new()),
//!     ("dropout", [("p".to_string(), Value::Float(0.1))].into_iter().collect()),
//!     ("linear", [("out_features".to_string(), Value::Int(3))].into_iter().collect()),
//! ];
//! let mut rng = Rng::seed(0);
//! let mut model = Sequential::new();
//! let mut features = 4;
//! for (name, params) in &layers {
//!     let mut ctx = BuildContext::new(features, &mut rng);
//!     let module = build_module(name, params, &mut ctx).unwrap();
//!     features = module.out_features(features);
//!     model.push(module);
//! }
//! let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]);
//!
//! let x = Var::constant(rng.normal_array::<f32>(&[8, 4], 0.0, 1.0));
//! let loss = build_loss("cross_entropy", &RawParams::new()).unwrap();
//! let l = loss.forward(&model.forward(&x).unwrap(), &Target::Classes(&[0, 1, 2, 0, 1, 2, 0, 1])).unwrap();
//! l.backward().unwrap();
//! assert!(model.parameters().iter().all(|(_, p)| p.grad().is_some()));
//! ```

mod activations;
mod batch_norm1d;
mod dropout;
mod error;
mod flatten;
mod identity;
mod linear;
mod losses;
mod module;
mod registration;
mod sequential;

pub use activations::{Gelu, GeluApproximate, LeakyRelu, LogSoftmax, Relu, Sigmoid, Softmax, Tanh};
pub use batch_norm1d::BatchNorm1d;
pub use dropout::Dropout;
pub use error::LayerError;
pub use flatten::Flatten;
pub use identity::Identity;
pub use linear::{Linear, DEFAULT_INIT};
pub use losses::{BceWithLogits, CrossEntropy, Loss, Mse, Nll, Target};
pub use module::{join_name, Module};
pub use registration::{
    build_loss, build_loss_with_params, build_module, build_module_with_params, resolve_module,
    ActivationRegistration, BuildContext, LayerRegistration, LossFactory, LossRegistration, ModuleFactory,
    ModuleRecord, INFERRED_FEATURE_KEYS,
};
pub use sequential::Sequential;

/// How a loss combines per-sample values (from `nabla-autograd`), for the loss constructors.
pub use nabla_autograd::Reduction;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

#[doc(hidden)]
pub mod __private {
    pub use nabla_registry;
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_autograd::Var;
    use nabla_registry::{duplicates, list, normalize, RawParams, Value};
    use nabla_tensor::ndarray::{ArrayD, IxDyn};
    use nabla_tensor::Rng;

    const LAYERS: [&str; 5] = ["batch_norm1d", "dropout", "flatten", "identity", "linear"];
    const ACTIVATIONS: [&str; 7] =
        ["gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "softmax", "tanh"];
    const LOSSES: [&str; 4] = ["bce_with_logits", "cross_entropy", "mse", "nll"];

    #[test]
    fn every_name_is_registered_once_and_kinds_do_not_overlap() {
        assert!(duplicates::<LayerRegistration>().is_empty(), "{:?}", duplicates::<LayerRegistration>());
        assert!(duplicates::<ActivationRegistration>().is_empty());
        assert!(duplicates::<LossRegistration>().is_empty());
        let names =
            |infos: Vec<&nabla_registry::ComponentInfo>| infos.iter().map(|i| i.name).collect::<Vec<_>>();
        assert_eq!(names(list::<LayerRegistration>().iter().map(|r| &r.info).collect()), LAYERS);
        assert_eq!(names(list::<ActivationRegistration>().iter().map(|r| &r.info).collect()), ACTIVATIONS);
        assert_eq!(names(list::<LossRegistration>().iter().map(|r| &r.info).collect()), LOSSES);
        let layer_keys: Vec<String> = list::<LayerRegistration>()
            .iter()
            .flat_map(|r| std::iter::once(r.info.name).chain(r.info.aliases.iter().map(|a| a.name)))
            .map(normalize)
            .collect();
        for r in list::<ActivationRegistration>() {
            for n in std::iter::once(r.info.name).chain(r.info.aliases.iter().map(|a| a.name)) {
                assert!(!layer_keys.contains(&normalize(n)), "activation {n} is shadowed by a layer");
            }
        }
        assert!(list::<LayerRegistration>().iter().all(|r| r.info.name != "sequential"));
    }

    #[test]
    fn every_layer_and_activation_builds_with_defaults_and_runs() {
        for name in LAYERS.iter().chain(ACTIVATIONS.iter()) {
            let mut rng = Rng::seed(0);
            let mut ctx = BuildContext::new(6, &mut rng);
            let raw: RawParams = if *name == "linear" {
                [("out_features".to_string(), Value::Int(3))].into_iter().collect()
            } else {
                RawParams::new()
            };
            let (mut m, params) = build_module_with_params(name, &raw, &mut ctx).unwrap();
            assert_eq!(m.name(), *name);
            assert_eq!(params.component(), *name);
            assert!(m.is_training());
            let x = Var::constant(Rng::seed(1).normal_array::<f32>(&[4, 6], 0.0, 1.0));
            let y = m.forward(&x).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(y.shape(), vec![4, m.out_features(6)], "{name}");
            assert!(y.value().iter().all(|v| v.is_finite()), "{name}");
            m.eval();
            assert!(!m.is_training());
            m.forward(&x).unwrap();
            assert!(!m.describe().is_empty());
        }
    }

    #[test]
    fn every_loss_builds_with_defaults_and_runs() {
        let out = Var::param(Rng::seed(2).normal_array::<f32>(&[4, 3], 0.0, 1.0));
        let classes = [0, 2, 1, 1];
        let probs = ArrayD::from_elem(IxDyn(&[4, 3]), 1.0f32 / 3.0);
        for name in LOSSES {
            let (loss, params) = build_loss_with_params(name, &RawParams::new()).unwrap();
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
    fn unknown_modules_list_both_kinds() {
        let mut rng = Rng::seed(0);
        let mut ctx = BuildContext::new(4, &mut rng);
        let err = build_module("lineer", &RawParams::new(), &mut ctx).unwrap_err();
        let LayerError::UnknownModule { suggestions, layers, activations, .. } = &err else {
            panic!("unexpected {err:?}")
        };
        assert_eq!(suggestions.first().map(String::as_str), Some("linear"));
        assert_eq!(layers, &LAYERS);
        assert_eq!(activations, &ACTIVATIONS);
        let msg = err.to_string();
        assert!(
            msg.contains("registered layers: batch_norm1d") && msg.contains("registered activations: gelu"),
            "{msg}"
        );
        let err = build_module("gelly", &RawParams::new(), &mut ctx).unwrap_err().to_string();
        assert!(err.contains("did you mean 'gelu'"), "{err}");
        let err =
            build_module("relu", &[("slope".to_string(), Value::Float(0.1))].into_iter().collect(), &mut ctx)
                .unwrap_err()
                .to_string();
        assert!(err.contains("activation 'relu' has no hyper-parameter 'slope'"), "{err}");
        let (record, _) = resolve_module("ReLU", &RawParams::new()).unwrap();
        assert_eq!(record.kind(), nabla_registry::ComponentKind::Activation);
        assert_eq!(resolve_module("bn", &RawParams::new()).unwrap().0.info().name, "batch_norm1d");
    }
}
