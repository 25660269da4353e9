//! The layer, activation and loss kinds of the registry: records, macros, and building by
//! name.

use crate::{LayerError, Loss, Module};
use nabla_registry::{
    resolve, suggest, Component, ComponentInfo, ComponentKind, Params, RawParams, RegistryError,
};
use nabla_tensor::Rng;

/// What a layer or activation factory needs besides its hyper-parameters.
///
/// The trainer builds a model from a list of named layers: it starts with
/// `in_features` = the number of features of the data, and after each module sets it to
/// [`Module::out_features`] of that module. Linear therefore needs no `in_features` in a
/// config, and BatchNorm1d no `num_features`.
pub struct BuildContext<'a> {
    /// The size of the feature axis flowing into the module.
    pub in_features: usize,
    /// The model-initialization generator: Linear draws its weights from it, Dropout forks
    /// its mask generator from it ([`Rng::fork`]).
    pub rng: &'a mut Rng,
    /// The weight initializer (compact spec, `"he_uniform:mode=fan_out"`) of layers that do
    /// not name their own (`[model] weight_init`); `None`: `torch_linear_default`.
    pub default_weight_init: Option<&'a str>,
    /// The bias initializer of layers that do not name their own (`[model] bias_init`);
    /// `None`: `torch_linear_default` (PyTorch's `U(±1/sqrt(fan_in))`).
    pub default_bias_init: Option<&'a str>,
}

impl<'a> BuildContext<'a> {
    /// A context with `in_features` and the generator, and no default initializers.
    pub fn new(in_features: usize, rng: &'a mut Rng) -> BuildContext<'a> {
        BuildContext { in_features, rng, default_weight_init: None, default_bias_init: None }
    }
}

impl std::fmt::Debug for BuildContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field("in_features", &self.in_features)
            .field("default_weight_init", &self.default_weight_init)
            .field("default_bias_init", &self.default_bias_init)
            .finish_non_exhaustive()
    }
}

/// The factory of a layer or activation: validated hyper-parameters and the build context
/// in, an `f32` module out.
pub type ModuleFactory = fn(&Params, &mut BuildContext<'_>) -> Result<Box<dyn Module<f32>>, LayerError>;

/// The factory of a loss: validated hyper-parameters in, an `f32` loss out.
pub type LossFactory = fn(&Params) -> Result<Box<dyn Loss<f32>>, LayerError>;

/// The registration record of a layer (`linear`, `batch_norm1d`, `dropout`, ...). Submit one
/// with [`register_layer!`](crate::register_layer).
#[derive(Debug)]
pub struct LayerRegistration {
    /// Name, aliases, summary, schema.
    pub info: ComponentInfo,
    /// Builds the layer.
    pub build: ModuleFactory,
}

/// The registration record of an activation (`relu`, `gelu`, ...). Submit one with
/// [`register_activation!`](crate::register_activation).
#[derive(Debug)]
pub struct ActivationRegistration {
    /// Name, aliases, summary, schema.
    pub info: ComponentInfo,
    /// Builds the activation.
    pub build: ModuleFactory,
}

/// The registration record of a loss (`cross_entropy`, `mse`, ...). Submit one with
/// [`register_loss!`](crate::register_loss).
#[derive(Debug)]
pub struct LossRegistration {
    /// Name, aliases, summary, schema.
    pub info: ComponentInfo,
    /// Builds the loss.
    pub build: LossFactory,
}

nabla_registry::inventory::collect!(LayerRegistration);
nabla_registry::inventory::collect!(ActivationRegistration);
nabla_registry::inventory::collect!(LossRegistration);

impl Component for LayerRegistration {
    const KIND: ComponentKind = ComponentKind::Layer;
    fn info(&self) -> &ComponentInfo {
        &self.info
    }
}

impl Component for ActivationRegistration {
    const KIND: ComponentKind = ComponentKind::Activation;
    fn info(&self) -> &ComponentInfo {
        &self.info
    }
}

impl Component for LossRegistration {
    const KIND: ComponentKind = ComponentKind::Loss;
    fn info(&self) -> &ComponentInfo {
        &self.info
    }
}

/// Registers a layer by name (from any crate; plugins use it the same way). The fields are
/// `name`, optional `aliases: [Alias::new(..), ..]`, `summary`, `params` (the
/// `&'static [ParamSpec]` schema) and `build` (a [`ModuleFactory`]; a non-capturing closure
/// works):
///
/// ```
/// use nabla_autograd::Var;
/// use nabla_layers::{build_module, register_layer, BuildContext, LayerError, Module};
/// use nabla_registry::{ParamSpec, RawParams, Value};
/// use nabla_tensor::Rng;
///
/// /// `y = factor * x`.
/// struct Scale { factor: f32, training: bool }
///
/// impl Module<f32> for Scale {
///     fn name(&self) -> &str { "scale" }
///     fn forward(&mut self, input: &Var<f32>) -> Result<Var<f32>, LayerError> {
///         Ok(input.mul_scalar(self.factor))
///     }
///     fn set_training(&mut self, training: bool) { self.training = training; }
///     fn is_training(&self) -> bool { self.training }
///     fn describe(&self) -> String { format!("Scale(factor={})", self.factor) }
/// }
///
/// register_layer! {
///     name: "scale",
///     summary: "multiplies by a constant",
///     params: &[ParamSpec::float("factor", 2.0, "the factor")],
///     build: |p, _ctx| Ok(Box::new(Scale { factor: p.f64("factor")? as f32, training: true })),
/// }
///
/// let mut rng = Rng::seed(0);
/// let raw: RawParams = [("factor".to_string(), Value::Float(3.0))].into_iter().collect();
/// let m = build_module("scale", &raw, &mut BuildContext::new(4, &mut rng)).unwrap();
/// assert_eq!(m.describe(), "Scale(factor=3)");
/// ```
#[macro_export]
macro_rules! register_layer {
    ($($body:tt)*) => {
        $crate::__private::nabla_registry::submit_component!($crate::LayerRegistration { $($body)* });
    };
}

/// Registers an activation by name; the same fields as
/// [`register_layer!`](crate::register_layer).
#[macro_export]
macro_rules! register_activation {
    ($($body:tt)*) => {
        $crate::__private::nabla_registry::submit_component!($crate::ActivationRegistration { $($body)* });
    };
}

/// Registers a loss by name: `register_loss! { name: "...", aliases: [...], summary: "...",
/// params: SCHEMA, build: |params| Ok(Box::new(...)) }` (a [`LossFactory`]).
#[macro_export]
macro_rules! register_loss {
    ($($body:tt)*) => {
        $crate::__private::nabla_registry::submit_component!($crate::LossRegistration { $($body)* });
    };
}

/// The record a module name resolved to: a layer or an activation.
#[derive(Clone, Copy, Debug)]
pub enum ModuleRecord {
    /// A registered layer.
    Layer(&'static LayerRegistration),
    /// A registered activation.
    Activation(&'static ActivationRegistration),
}

impl ModuleRecord {
    /// The record's common part (name, aliases, schema).
    pub fn info(&self) -> &'static ComponentInfo {
        match self {
            ModuleRecord::Layer(r) => &r.info,
            ModuleRecord::Activation(r) => &r.info,
        }
    }

    /// [`ComponentKind::Layer`] or [`ComponentKind::Activation`].
    pub fn kind(&self) -> ComponentKind {
        match self {
            ModuleRecord::Layer(_) => ComponentKind::Layer,
            ModuleRecord::Activation(_) => ComponentKind::Activation,
        }
    }

    /// The record's factory.
    pub fn factory(&self) -> ModuleFactory {
        match self {
            ModuleRecord::Layer(r) => r.build,
            ModuleRecord::Activation(r) => r.build,
        }
    }
}

/// Finds a module by name (case-, hyphen- and underscore-insensitively, aliases included):
/// among the layers first, then among the activations. Returns the record and the
/// hyper-parameters `given` validated against its schema (alias presets applied, defaults
/// filled in).
///
/// # Errors
/// [`LayerError::UnknownModule`] listing the closest names and every name of both kinds;
/// [`LayerError::Registry`] when two records claim the name; [`LayerError::Param`] for
/// invalid hyper-parameters.
pub fn resolve_module(name: &str, given: &RawParams) -> Result<(ModuleRecord, Params), LayerError> {
    match resolve::<LayerRegistration>(name) {
        Ok(found) => return Ok((ModuleRecord::Layer(found.record), found.params(given)?)),
        Err(RegistryError::Unknown { .. }) => {}
        Err(other) => return Err(other.into()),
    }
    match resolve::<ActivationRegistration>(name) {
        Ok(found) => Ok((ModuleRecord::Activation(found.record), found.params(given)?)),
        Err(RegistryError::Unknown { .. }) => Err(unknown_module(name)),
        Err(other) => Err(other.into()),
    }
}

fn unknown_module(name: &str) -> LayerError {
    let layers = nabla_registry::list::<LayerRegistration>();
    let activations = nabla_registry::list::<ActivationRegistration>();
    let all = layers
        .iter()
        .map(|r| &r.info)
        .chain(activations.iter().map(|r| &r.info))
        .flat_map(|i| std::iter::once(i.name).chain(i.aliases.iter().map(|a| a.name)));
    LayerError::UnknownModule {
        name: name.to_string(),
        suggestions: suggest(name, all),
        layers: layers.iter().map(|r| r.info.name.to_string()).collect(),
        activations: activations.iter().map(|r| r.info.name.to_string()).collect(),
    }
}

/// Builds a layer or activation by name from raw hyper-parameters (a config table): layers
/// are searched first, then activations.
///
/// ```
/// use nabla_layers::{build_module, BuildContext, Module};
/// use nabla_registry::{RawParams, Value};
/// use nabla_tensor::Rng;
/// let mut rng = Rng::seed(0);
/// let mut ctx = BuildContext::new(8, &mut rng);
/// let params: RawParams = [("out_features".to_string(), Value::Int(4))].into_iter().collect();
/// let linear = build_module("linear", &params, &mut ctx).unwrap();
/// assert_eq!(linear.out_features(8), 4);
/// let err = build_module("relux", &RawParams::new(), &mut ctx).unwrap_err().to_string();
/// assert!(err.contains("did you mean 'relu'"), "{err}");
/// ```
///
/// # Errors
/// As [`resolve_module`], and the factory's errors (an initializer that cannot be built, an
/// `in_features` that contradicts the context, ...).
pub fn build_module(
    name: &str,
    params: &RawParams,
    ctx: &mut BuildContext<'_>,
) -> Result<Box<dyn Module<f32>>, LayerError> {
    build_module_with_params(name, params, ctx).map(|(m, _)| m)
}

/// Schema keys whose value, when left out, is the feature size flowing into the layer
/// ([`BuildContext::in_features`]).
pub const INFERRED_FEATURE_KEYS: &[&str] = &["in_features", "num_features"];

/// As [`build_module`], also returning the effective hyper-parameters (alias presets and
/// defaults filled in, and inferred sizes — [`INFERRED_FEATURE_KEYS`] — recorded), for
/// saving with a run.
///
/// # Errors
/// As [`build_module`].
pub fn build_module_with_params(
    name: &str,
    params: &RawParams,
    ctx: &mut BuildContext<'_>,
) -> Result<(Box<dyn Module<f32>>, Params), LayerError> {
    let (record, mut validated) = resolve_module(name, params)?;
    let module = (record.factory())(&validated, ctx)?;
    for key in INFERRED_FEATURE_KEYS {
        if validated.get(key).is_none() && record.info().params.iter().any(|p| p.name == *key) {
            validated.set(key, nabla_registry::Value::Int(ctx.in_features as i64));
        }
    }
    Ok((module, validated))
}

/// Builds a loss by name from raw hyper-parameters.
///
/// ```
/// use nabla_layers::{build_loss, Target};
/// use nabla_autograd::Var;
/// use nabla_registry::RawParams;
/// use nabla_tensor::ndarray::arr2;
/// let loss = build_loss("ce", &RawParams::new()).unwrap();
/// assert_eq!(loss.name(), "cross_entropy");
/// let logits = Var::<f32>::param(arr2(&[[0.0, 0.0]]).into_dyn());
/// let l = loss.forward(&logits, &Target::Classes(&[1])).unwrap();
/// assert!((l.item() - 2f32.ln()).abs() < 1e-6);
/// ```
///
/// # Errors
/// An unknown name (with suggestions and every loss name), invalid hyper-parameters.
pub fn build_loss(name: &str, params: &RawParams) -> Result<Box<dyn Loss<f32>>, LayerError> {
    build_loss_with_params(name, params).map(|(l, _)| l)
}

/// As [`build_loss`], also returning the effective hyper-parameters.
///
/// # Errors
/// As [`build_loss`].
pub fn build_loss_with_params(
    name: &str,
    params: &RawParams,
) -> Result<(Box<dyn Loss<f32>>, Params), LayerError> {
    let found = resolve::<LossRegistration>(name)?;
    let validated = found.params(params)?;
    let loss = (found.record.build)(&validated)?;
    Ok((loss, validated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_registry::Value;
    use nabla_tensor::Rng;

    #[test]
    fn inferred_sizes_are_recorded_in_the_effective_params() {
        let mut rng = Rng::seed(0);
        let mut ctx = BuildContext::new(12, &mut rng);
        let raw: RawParams = [("out_features".to_string(), Value::Int(4))].into_iter().collect();
        let (_, linear) = build_module_with_params("linear", &raw, &mut ctx).unwrap();
        assert_eq!(linear.get("in_features"), Some(&Value::Int(12)));
        let (_, bn) = build_module_with_params("bn", &RawParams::new(), &mut ctx).unwrap();
        assert_eq!(bn.get("num_features"), Some(&Value::Int(12)));
        let (_, relu) = build_module_with_params("relu", &RawParams::new(), &mut ctx).unwrap();
        assert!(relu.values().is_empty(), "{relu:?}");
    }
}
