//! What the layers with a weight and an optional bias (`linear`, `conv2d`) share: their
//! default initializer, drawing both parameters, checking the bias against the weight,
//! visiting them under PyTorch's names, and resolving their initializers when built from a
//! config.

use crate::module::join_name;
use crate::{BuildContext, LayerError, Module};
use nabla_autograd::Var;
use nabla_init::{fans, fill, fill_bias, Initializer};
use nabla_tensor::ndarray::{ArrayD, IxDyn};
use nabla_tensor::{Element, Rng};

/// The initializer used when neither the layer nor the model names one: PyTorch's
/// `reset_parameters` of `nn.Linear`, which `nn.Conv2d` shares (alias `torch_conv_default`).
pub const DEFAULT_INIT: &str = "torch_linear_default";

/// A weight of `shape` drawn by `weight_init`, then (when `bias`) a bias `[shape[0]]` drawn by
/// `bias_init` given the weight's fans, both from `rng`.
///
/// # Errors
/// [`LayerError::Init`] naming `component`, the key and the initializer when one cannot fill
/// its tensor (a zero fan, ...).
pub(crate) fn draw<T: Element>(
    component: &str,
    shape: &[usize],
    bias: bool,
    weight_init: &dyn Initializer,
    bias_init: &dyn Initializer,
    rng: &mut Rng,
) -> Result<(ArrayD<T>, Option<ArrayD<T>>), LayerError> {
    let init_error = |what: &str, name: &str, e| LayerError::Init {
        context: format!("{component} {what} '{name}'"),
        source: Box::new(e),
    };
    let mut w = ArrayD::<T>::zeros(IxDyn(shape));
    fill(weight_init, w.view_mut(), rng).map_err(|e| init_error("weight_init", weight_init.name(), e))?;
    let b = if bias {
        let weight_fans = fans(shape).map_err(|e| init_error("bias_init", bias_init.name(), e))?;
        let mut b = ArrayD::<T>::zeros(IxDyn(&[shape[0]]));
        fill_bias(bias_init, b.view_mut(), weight_fans, rng)
            .map_err(|e| init_error("bias_init", bias_init.name(), e))?;
        Some(b)
    } else {
        None
    };
    Ok((w, b))
}

/// Checks that `bias` (when there is one) is `[O]` for the weight `[O, ...]` of `weight_shape`.
///
/// # Errors
/// [`LayerError::Invalid`] naming `component` and both shapes.
pub(crate) fn check_bias<T: Element>(
    component: &str,
    weight_shape: &[usize],
    bias: Option<&Var<T>>,
) -> Result<(), LayerError> {
    match bias {
        Some(b) if b.shape() != [weight_shape[0]] => Err(LayerError::invalid(
            component,
            format!(
                "bias has shape {:?}, expected [{}] for weight {weight_shape:?}",
                b.shape(),
                weight_shape[0]
            ),
        )),
        _ => Ok(()),
    }
}

/// Calls `f` with `weight` and then `bias` (if any) under `prefix`, as PyTorch's
/// `named_parameters` lists them.
pub(crate) fn visit<T: Element>(
    prefix: &str,
    weight: &Var<T>,
    bias: Option<&Var<T>>,
    f: &mut dyn FnMut(&str, &Var<T>),
) {
    f(&join_name(prefix, "weight"), weight);
    if let Some(b) = bias {
        f(&join_name(prefix, "bias"), b);
    }
}

/// Builds `component` from a config, in the order the checks should fail: its weight and bias
/// initializers from their specs `[weight_init, bias_init]` (compact form; unset, the model's
/// defaults in `ctx`, else [`DEFAULT_INIT`]), then the memory of its weight of `weight_shape`
/// and (when `bias`) its bias `[O]` reserved under `key` (the hyper-parameter that sets the
/// size), then the layer made by `construct(weight_init, bias_init, model generator)`.
///
/// # Errors
/// [`LayerError::Init`] naming `component`, the key and the spec when a spec does not build;
/// as [`BuildContext::reserve`]; as `construct`.
pub(crate) fn build_layer<M: Module<f32> + 'static>(
    ctx: &mut BuildContext,
    component: &str,
    key: &str,
    weight_shape: &[usize],
    bias: bool,
    [weight_init, bias_init]: [&Option<String>; 2],
    construct: impl FnOnce(&dyn Initializer, &dyn Initializer, &mut Rng) -> Result<M, LayerError>,
) -> Result<Box<dyn Module<f32>>, LayerError> {
    let initializer = |own: &Option<String>, model: &Option<String>, key: &str| {
        let spec = own.as_deref().or(model.as_deref()).unwrap_or(DEFAULT_INIT);
        nabla_registry::build::<dyn Initializer>(spec, ()).map(|built| built.value).map_err(|e| {
            LayerError::Init { context: format!("{component} {key} '{spec}'"), source: Box::new(e) }
        })
    };
    let weight_init = initializer(weight_init, &ctx.default_weight_init, "weight_init")?;
    let bias_init = initializer(bias_init, &ctx.default_bias_init, "bias_init")?;
    ctx.reserve(component, key, weight_shape)?;
    if bias {
        ctx.reserve(component, key, &weight_shape[..1])?;
    }
    Ok(Box::new(construct(weight_init.as_ref(), bias_init.as_ref(), &mut ctx.rng)?))
}
