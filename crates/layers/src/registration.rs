//! The layer and loss kinds of the registry: records, macros, the build context, and building
//! by name through [`nabla_registry::build`].
//!
//! Activations are layers: one record type ([`LayerRegistration`]) and one lookup for every
//! entry of a model's layer list, so a misspelt name gets suggestions from all of them. The
//! record's [`LayerCategory`] only groups the listing.

use crate::{LayerError, Loss, Module};
use nabla_registry::{
    normalize, ComponentInfo, ComponentKind, HyperParams, ParamError, Params, RegistryError,
};
use nabla_tensor::Rng;

/// What a registered layer is, for listings (`nabla list` shows layers and activations under
/// their own headings). It changes nothing about how the layer is found or built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerCategory {
    /// A layer proper (`linear`, `batch_norm1d`, `dropout`, ...).
    Layer,
    /// An activation function (`relu`, `gelu`, ...).
    Activation,
}

impl LayerCategory {
    /// Every category, in display order.
    pub const ALL: [LayerCategory; 2] = [LayerCategory::Layer, LayerCategory::Activation];

    /// `"layer"` or `"activation"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            LayerCategory::Layer => "layer",
            LayerCategory::Activation => "activation",
        }
    }

    /// Parses a category name, singular or plural, in any case.
    pub fn parse(s: &str) -> Option<LayerCategory> {
        let n = normalize(s);
        let n = n.strip_suffix('s').unwrap_or(&n);
        LayerCategory::ALL.into_iter().find(|c| c.as_str() == n)
    }
}

/// What a layer's build needs besides its hyper-parameters.
///
/// A model is built from a list of named layers with one context: it starts with
/// `input_shape` = the shape of one data sample (`[features]` for flat data, `[C, H, W]` for
/// images), and every successful build by name sets it to that layer's output shape
/// ([`Module::output_shape`]). So Linear needs no `in_features` in a config and BatchNorm1d no
/// `num_features`, and a shape that does not fit is an error when the model is built, naming
/// the layer.
#[derive(Clone, Debug)]
pub struct BuildContext {
    /// The shape of one sample flowing into the next layer (without the batch axis).
    pub input_shape: Vec<usize>,
    /// The model-initialization generator: Linear draws its weights from it, Dropout forks
    /// its mask generator from it ([`Rng::fork`]).
    pub rng: Rng,
    /// The weight initializer (compact spec, `"he_uniform:mode=fan_out"`) of layers that do
    /// not name their own (`[model] weight_init`); `None`: `torch_linear_default`.
    pub default_weight_init: Option<String>,
    /// The bias initializer of layers that do not name their own (`[model] bias_init`);
    /// `None`: `torch_linear_default` (PyTorch's `U(±1/sqrt(fan_in))`).
    pub default_bias_init: Option<String>,
    /// How many more parameter and buffer elements the model may allocate: every layer that
    /// allocates from a configured size asks [`BuildContext::reserve`] first, so a size from a
    /// config that the memory cannot hold is an error naming the key, never an aborted
    /// allocation. [`BuildContext::new`] starts at [`MAX_ELEMENTS`]; a trainer lowers it to its
    /// memory budget.
    pub elements_left: usize,
}

/// The most elements any model may hold: the largest `f64` array whose byte size fits in
/// `isize` (beyond it `ndarray` panics instead of returning an error).
pub const MAX_ELEMENTS: usize = (isize::MAX as usize) / 8;

impl BuildContext {
    /// A context for input samples of `input_shape`, drawing from `rng`, with no default
    /// initializers.
    pub fn new(input_shape: impl Into<Vec<usize>>, rng: Rng) -> BuildContext {
        BuildContext {
            input_shape: input_shape.into(),
            rng,
            default_weight_init: None,
            default_bias_init: None,
            elements_left: MAX_ELEMENTS,
        }
    }

    /// Takes the elements of a tensor of `shape` (from `component`'s hyper-parameter `key`)
    /// out of [`BuildContext::elements_left`]; returns the element count.
    ///
    /// # Errors
    /// An invalid hyper-parameter of `component` naming `key` when the product overflows or
    /// exceeds what is left of the budget.
    pub fn reserve(&mut self, component: &str, key: &str, shape: &[usize]) -> Result<usize, LayerError> {
        let n = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        match n {
            Some(n) if n <= self.elements_left => {
                self.elements_left -= n;
                Ok(n)
            }
            _ => {
                let size = match n {
                    Some(n) => format!("{n} elements"),
                    None => "more elements than a usize can count".to_string(),
                };
                Err(ParamError::Invalid {
                    kind: ComponentKind::Layer,
                    component: component.to_string(),
                    message: format!(
                        "{key}: a tensor of shape {shape:?} needs {size}, but the model's memory \
                         budget has {} elements left (raise max_memory, or make {key} smaller)",
                        self.elements_left
                    ),
                }
                .into())
            }
        }
    }

    /// The size of the last axis of the input (the features a Linear layer maps).
    ///
    /// # Errors
    /// [`LayerError::Invalid`] naming `component` when the input has no axis.
    pub fn features(&self, component: &str) -> Result<usize, LayerError> {
        self.input_shape.last().copied().ok_or_else(|| {
            LayerError::invalid(component, "needs inputs with a feature axis, got samples of shape []")
        })
    }

    /// A size taken from the input: `inferred` unless the config gave `key` (`given`), which
    /// must then agree; `what` names the size in the error (`features`, `channels`).
    ///
    /// # Errors
    /// An invalid hyper-parameter of `component` when `given` differs from `inferred`.
    pub fn infer(
        &self,
        component: &str,
        key: &str,
        given: Option<usize>,
        inferred: usize,
        what: &str,
    ) -> Result<usize, LayerError> {
        match given {
            Some(given) if given != inferred => Err(ParamError::Invalid {
                kind: ComponentKind::Layer,
                component: component.to_string(),
                message: format!(
                    "{key} = {given}, but the {what} flowing into this layer number {inferred}; \
                     leave {key} out to take it from the previous layer"
                ),
            }
            .into()),
            _ => Ok(inferred),
        }
    }
}

/// The factory of a layer: validated hyper-parameters (to which it adds the values it derives,
/// such as an inferred input size) and the build context in, an `f32` module out.
pub type ModuleFactory = fn(&mut Params, &mut BuildContext) -> Result<Box<dyn Module<f32>>, LayerError>;

/// The factory of a loss: validated hyper-parameters in, an `f32` loss out.
pub type LossFactory = fn(&Params) -> Result<Box<dyn Loss<f32>>, LayerError>;

/// The registration record of a layer or activation (`linear`, `batch_norm1d`, `relu`, ...).
/// Submit one with [`register_layer!`](crate::register_layer).
#[derive(Debug)]
pub struct LayerRegistration {
    /// Name, aliases, summary, schema.
    pub info: ComponentInfo,
    /// Layer or activation (for listings).
    pub category: LayerCategory,
    /// Builds the layer.
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

nabla_registry::collect_records!(LayerRegistration, Layer);
nabla_registry::collect_records!(LossRegistration, Loss);

/// Layers and activations are built by name with [`nabla_registry::build`], given the build
/// context; a successful build moves the context's `input_shape` on to the layer's output
/// shape, so a model is one loop over its layer list:
///
/// ```
/// use nabla_layers::{BuildContext, Module, Sequential};
/// use nabla_registry::{build, Value};
/// use nabla_tensor::Rng;
///
/// let mut ctx = BuildContext::new([8], Rng::seed(0));
/// let mut model = Sequential::new();
/// for spec in ["linear:out_features=4", "relu", "linear:out_features=2"] {
///     model.push(build::<dyn Module<f32>>(spec, &mut ctx).unwrap().value);
/// }
/// assert_eq!(ctx.input_shape, [2]);
///
/// // The effective hyper-parameters record the inferred input size.
/// let linear = build::<dyn Module<f32>>("linear:out_features=3", &mut ctx).unwrap();
/// assert_eq!(linear.params.get("in_features"), Some(&Value::Int(2)));
///
/// let err = build::<dyn Module<f32>>("relux", &mut ctx).unwrap_err().to_string();
/// assert!(err.contains("did you mean 'relu'"), "{err}");
/// ```
impl nabla_registry::Kind for dyn Module<f32> {
    type Record = LayerRegistration;
    type Output = Box<dyn Module<f32>>;
    type Context<'c> = &'c mut BuildContext;
    type Error = LayerError;

    fn build(
        record: &'static LayerRegistration,
        params: &mut Params,
        ctx: &mut BuildContext,
    ) -> Result<Box<dyn Module<f32>>, LayerError> {
        let module = (record.build)(params, ctx)?;
        ctx.input_shape = module.output_shape(&ctx.input_shape)?;
        Ok(module)
    }
}

nabla_registry::context_free_kind! {
    /// Losses are built by name with [`nabla_registry::build`] (no context):
    ///
    /// ```
    /// use nabla_layers::{Loss, Target};
    /// use nabla_autograd::Var;
    /// use nabla_tensor::ndarray::arr2;
    /// let loss = nabla_registry::build::<dyn Loss<f32>>("ce", ()).unwrap().value;
    /// assert_eq!(loss.name(), "cross_entropy");
    /// let logits = Var::<f32>::param(arr2(&[[0.0, 0.0]]).into_dyn());
    /// let l = loss.forward(&logits, &Target::Classes(&[1])).unwrap();
    /// assert!((l.item() - 2f32.ln()).abs() < 1e-6);
    /// ```
    impl Kind for dyn Loss<f32> {
        fn build(record: &'static LossRegistration, params) -> Result<Box<dyn Loss<f32>>, LayerError> {
            (record.build)(params)
        }
    }
}

/// A layer's hyper-parameters (a struct deriving [`HyperParams`]) and how they build the layer
/// for the input the context describes.
///
/// `build_layer` takes `&mut self` so that it can fill in what it derives from the context
/// (Linear's `in_features`): every key left out of the config but set afterwards is recorded
/// in the effective hyper-parameters.
///
/// A module whose fields are its hyper-parameters (activations, `flatten`) derives
/// [`HyperParams`] on itself and is its own `BuildLayer` (a clone of it is the layer); a layer
/// with parameters or a generator declares a separate struct (`LinearConfig`).
pub trait BuildLayer: HyperParams {
    /// Builds the layer for inputs of `ctx.input_shape`, drawing from `ctx.rng`.
    ///
    /// # Errors
    /// A value that contradicts the input (`in_features` given and different), an input
    /// shape the layer cannot take, an initializer that cannot be built or cannot fill.
    fn build_layer(&mut self, ctx: &mut BuildContext) -> Result<Box<dyn Module<f32>>, LayerError>;
}

impl<M: Module<f32> + HyperParams + Clone + 'static> BuildLayer for M {
    fn build_layer(&mut self, _: &mut BuildContext) -> Result<Box<dyn Module<f32>>, LayerError> {
        Ok(Box::new(self.clone()))
    }
}

/// The factory [`register_layer!`](crate::register_layer) uses.
#[doc(hidden)]
pub fn build_layer<H: BuildLayer>(
    params: &mut Params,
    ctx: &mut BuildContext,
) -> Result<Box<dyn Module<f32>>, LayerError> {
    let mut hyper = H::from_params(params)?;
    let module = hyper.build_layer(ctx)?;
    for (key, value) in hyper.to_raw() {
        if params.get(&key).is_none() {
            params.set(&key, value);
        }
    }
    Ok(module)
}

/// The factory [`register_loss!`](crate::register_loss) uses.
#[doc(hidden)]
pub fn build_loss<L: Loss<f32> + HyperParams + 'static>(
    params: &Params,
) -> Result<Box<dyn Loss<f32>>, LayerError> {
    Ok(Box::new(L::from_params(params)?))
}

/// Registers a layer or activation by name (from any crate; plugins use it the same way): a
/// type implementing [`BuildLayer`] (its [`HyperParams`] derive is the one declaration of the
/// layer's keys, defaults, ranges and docs), with name, optional aliases, optional category
/// (`Layer`, the default, or `Activation`) and summary:
///
/// ```
/// use nabla_autograd::Var;
/// use nabla_layers::{register_layer, BuildContext, LayerError, Module, TrainingMode};
/// use nabla_registry::{build, HyperParams};
/// use nabla_tensor::Rng;
///
/// /// `y = factor * x`.
/// #[derive(Clone, Debug, HyperParams)]
/// struct Scale {
///     /// the factor
///     #[param(default = 2.0)]
///     factor: f32,
///     #[param(skip)]
///     training: TrainingMode,
/// }
///
/// impl Module<f32> for Scale {
///     fn name(&self) -> &str { "scale" }
///     fn forward(&mut self, input: &Var<f32>) -> Result<Var<f32>, LayerError> {
///         Ok(input.mul_scalar(self.factor))
///     }
///     fn set_training(&mut self, training: bool) { self.training.set(training); }
///     fn is_training(&self) -> bool { self.training.is_training() }
///     fn describe(&self) -> String { format!("Scale(factor={})", self.factor) }
/// }
///
/// register_layer!(Scale, name: "scale", category: Activation, summary: "multiplies by a constant");
///
/// let m = build::<dyn Module<f32>>("scale:factor=3", &mut BuildContext::new([4], Rng::seed(0))).unwrap();
/// assert_eq!(m.value.describe(), "Scale(factor=3)");
/// ```
///
/// A layer that needs the context (its input size, the model's generator) declares its
/// hyper-parameters on a config struct and implements [`BuildLayer`] for it, recording what
/// it infers:
///
/// ```
/// use nabla_layers::{register_layer, BuildContext, BuildLayer, LayerError, Linear, Module};
/// use nabla_registry::{build, HyperParams, Value};
/// use nabla_tensor::Rng;
///
/// /// A square linear map (as many outputs as inputs).
/// #[derive(Debug, HyperParams)]
/// struct SquareConfig {
///     /// inputs and outputs (default: from the previous layer)
///     size: Option<usize>,
/// }
///
/// impl BuildLayer for SquareConfig {
///     fn build_layer(&mut self, ctx: &mut BuildContext) -> Result<Box<dyn Module<f32>>, LayerError> {
///         let n = ctx.infer("square", "size", self.size, ctx.features("square")?, "features")?;
///         self.size = Some(n);
///         Ok(Box::new(Linear::new(n, n, false, &mut ctx.rng)?))
///     }
/// }
///
/// register_layer!(SquareConfig, name: "square", summary: "a square linear map");
///
/// let mut ctx = BuildContext::new([5], Rng::seed(0));
/// let square = build::<dyn Module<f32>>("square", &mut ctx).unwrap();
/// assert_eq!(square.params.get("size"), Some(&Value::Int(5)));
/// assert!(build::<dyn Module<f32>>("square:size=4", &mut ctx).is_err());
/// ```
///
/// The explicit form fills the record's fields itself: `register_layer! { name: "...",
/// aliases: [...], summary: "...", params: SCHEMA, category: LayerCategory::Layer,
/// build: factory }` with a [`ModuleFactory`].
#[macro_export]
macro_rules! register_layer {
    (name: $($body:tt)*) => {
        $crate::__private::nabla_registry::submit_component!($crate::LayerRegistration { name: $($body)* });
    };
    (@category $category:expr, $ty:ty, $($rest:tt)*) => {
        $crate::__private::nabla_registry::submit_typed!($crate::LayerRegistration, $ty,
            { category: $category, build: $crate::__private::build_layer::<$ty> }, $($rest)*);
    };
    ($ty:ty,
        name: $name:expr,
        $(aliases: [$($alias:expr),* $(,)?],)?
        category: $category:ident,
        summary: $summary:expr $(,)?
    ) => {
        $crate::register_layer!(@category $crate::LayerCategory::$category, $ty,
            name: $name, $(aliases: [$($alias),*],)? summary: $summary);
    };
    ($ty:ty, $($rest:tt)*) => {
        $crate::register_layer!(@category $crate::LayerCategory::Layer, $ty, $($rest)*);
    };
}

/// Registers a loss by name: a type implementing [`Loss<f32>`](crate::Loss) and
/// [`HyperParams`] (derived), with name, optional aliases and summary:
/// `register_loss!(Mse, name: "mse", aliases: [Alias::new("mse_loss")], summary: "...")`.
///
/// The explicit form `register_loss! { name: ..., summary: ..., params: ..., build: f }`
/// (a [`LossFactory`]) fills the record itself.
#[macro_export]
macro_rules! register_loss {
    (name: $($body:tt)*) => {
        $crate::__private::nabla_registry::submit_component!($crate::LossRegistration { name: $($body)* });
    };
    ($ty:ty, $($rest:tt)*) => {
        $crate::__private::nabla_registry::submit_typed!($crate::LossRegistration, $ty,
            { build: $crate::__private::build_loss::<$ty> }, $($rest)*);
    };
}

/// An unknown layer name, listed by category: what [`LayerError`] makes of the registry's
/// unknown-layer error (whose suggestions already span layers and activations).
pub(crate) fn unknown_module(name: String, suggestions: Vec<String>) -> LayerError {
    let names = |category| {
        nabla_registry::list::<LayerRegistration>()
            .into_iter()
            .filter(|r| r.category == category)
            .map(|r| r.info.name.to_string())
            .collect()
    };
    LayerError::UnknownModule {
        name,
        suggestions,
        layers: names(LayerCategory::Layer),
        activations: names(LayerCategory::Activation),
    }
}

impl From<RegistryError> for LayerError {
    fn from(e: RegistryError) -> LayerError {
        match e {
            RegistryError::Param(p) => LayerError::Param(Box::new(p)),
            RegistryError::Unknown { kind: ComponentKind::Layer, name, suggestions, .. } => {
                unknown_module(name, suggestions)
            }
            other => LayerError::Registry(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_registry::{build, Built, RawParams, Value};

    #[test]
    fn inferred_sizes_are_recorded_in_the_effective_params() {
        let mut ctx = BuildContext::new([12], Rng::seed(0));
        let raw: RawParams = [("out_features".to_string(), Value::Int(4))].into_iter().collect();
        let Built { params: linear, .. } = build::<dyn Module<f32>>(("linear", &raw), &mut ctx).unwrap();
        assert_eq!(linear.get("in_features"), Some(&Value::Int(12)));
        assert_eq!(linear.get("weight_init"), None, "unset initializers stay unset");
        assert_eq!(ctx.input_shape, [4]);
        let Built { params: bn, .. } = build::<dyn Module<f32>>("bn", &mut ctx).unwrap();
        assert_eq!(bn.get("num_features"), Some(&Value::Int(4)));
        let Built { params: relu, .. } = build::<dyn Module<f32>>("relu", &mut ctx).unwrap();
        assert!(relu.values().is_empty(), "{relu:?}");
    }

    #[test]
    fn shapes_that_do_not_fit_fail_at_build_time() {
        let mut ctx = BuildContext::new([3, 5], Rng::seed(0));
        let bn = build::<dyn Module<f32>>("bn", &mut ctx).unwrap();
        assert_eq!(
            bn.value.describe(),
            "BatchNorm1d(3, eps=1e-5, momentum=0.1, affine=true, track_running_stats=true)"
        );
        let err = build::<dyn Module<f32>>("softmax:dim=3", &mut ctx).unwrap_err().to_string();
        assert!(err.contains("dim 3 is out of range"), "{err}");
        let mut ctx = BuildContext::new(Vec::new(), Rng::seed(0));
        let err = build::<dyn Module<f32>>("linear:out_features=2", &mut ctx).unwrap_err().to_string();
        assert!(err.contains("feature axis"), "{err}");
    }

    #[test]
    fn categories_parse_singular_and_plural() {
        assert_eq!(LayerCategory::parse("Activations"), Some(LayerCategory::Activation));
        assert_eq!(LayerCategory::parse("layer"), Some(LayerCategory::Layer));
        assert_eq!(LayerCategory::parse("loss"), None);
    }
}
