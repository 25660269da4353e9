//! Parameter initializers of nabla, usable alone on plain `ndarray` arrays and found by name
//! through the registry (`init = "he_uniform"`).
//!
//! * [`Initializer`]: an object-safe trait (`Box<dyn Initializer>` from the registry). It
//!   resolves to a [`Distribution`] for a given shape ([`Initializer::distribution`]), and
//!   fills `f32` or `f64` arrays in place from an explicit, seeded [`Rng`]
//!   ([`Initializer::fill_f32`], [`Initializer::fill_f64`]; generic code calls [`fill`]).
//!   Draws are made in `f64` and rounded, so the `f32` tensor of a seed is the rounded `f64`
//!   tensor of that seed; same seed, same tensor.
//! * Biases: PyTorch's Linear draws its bias from `U(±1/sqrt(fan_in))` with the fan_in of
//!   the *weight*. A bias is 1-d and has no fans of its own, so bias initialization takes the
//!   weight's [`Fans`]: [`Initializer::fill_bias_f32`] / [`fill_bias`] (that is
//!   [`Role::Bias`]). Fan-based initializers then use the weight's fans;
//!   `torch_linear_default` ([`TorchLinearDefault`]) switches to its bias formula.
//! * [`fans`] (PyTorch's rule) and [`calculate_gain`] (as `torch.nn.init.calculate_gain`).
//! * Registered: `zeros`, `ones`, `constant`, `uniform`, `normal`, `trunc_normal`,
//!   `lecun_normal`, `lecun_uniform`, `xavier_normal`, `xavier_uniform` (aliases `glorot_*`),
//!   `he_normal`, `he_uniform` (aliases `kaiming_*`), `orthogonal`, `torch_linear_default`.
//!   Each declares its hyper-parameters once, as the fields of a struct deriving
//!   [`HyperParams`](nabla_registry::HyperParams), and is registered with
//!   [`register_initializer!`]; build one by name with
//!   `nabla_registry::build::<dyn Initializer>(spec, ())`.
//!
//! Filling an empty tensor (a zero-sized dimension) is a no-op that succeeds, as in PyTorch.
//! Nothing here panics on user input.
//!
//! ```
//! use nabla_init::{fans, Initializer};
//! use nabla_registry::build;
//! use nabla_tensor::{ndarray::Array2, Rng};
//!
//! let init = build::<dyn Initializer>("he_uniform:mode=fan_in", ()).unwrap().value;
//! let mut w = Array2::<f32>::zeros((256, 784));
//! init.fill_f32(w.view_mut().into_dyn(), &mut Rng::seed(0)).unwrap();
//! let bound = (6.0f32 / 784.0).sqrt();
//! assert!(w.iter().all(|x| x.abs() <= bound));
//!
//! // A bias with PyTorch's default: U(±1/sqrt(fan_in of the weight)).
//! let mut b = nabla_tensor::ndarray::Array1::<f32>::zeros(256);
//! let linear = build::<dyn Initializer>("torch_linear_default", ()).unwrap().value;
//! linear.fill_bias_f32(b.view_mut().into_dyn(), fans(w.shape()).unwrap(), &mut Rng::seed(1)).unwrap();
//! assert!(b.iter().all(|x| x.abs() <= 1.0 / 28.0));
//! ```

mod constant;
mod distribution;
mod error;
mod fan_scaled;
mod fans;
mod he;
mod lecun;
mod normal;
mod ones;
mod orthogonal;
mod torch_linear_default;
mod trunc_normal;
mod uniform;
mod xavier;
mod zeros;

pub use constant::Constant;
pub use distribution::{truncated_normal_moments, Distribution};
pub use error::InitError;
pub use fans::{calculate_gain, fans, FanMode, Fans, Nonlinearity};
pub use he::{HeConfig, HeNormal, HeUniform};
pub use lecun::{LecunNormal, LecunUniform};
pub use normal::Normal;
pub use ones::Ones;
pub use orthogonal::Orthogonal;
pub use torch_linear_default::TorchLinearDefault;
pub use trunc_normal::TruncNormal;
pub use uniform::Uniform;
pub use xavier::{XavierConfig, XavierNormal, XavierUniform};
pub use zeros::Zeros;

use nabla_registry::{ComponentInfo, ParamError, Params};
use nabla_tensor::ndarray::ArrayViewMutD;
use nabla_tensor::{Element, Rng};
use std::fmt;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

#[doc(hidden)]
pub mod __private {
    use crate::Initializer;
    pub use nabla_registry;
    use nabla_registry::{ParamError, Params};

    /// The factory [`register_initializer!`](crate::register_initializer) uses: reads the hyper-parameters `P` (derived
    /// [`HyperParams`](nabla_registry::HyperParams), which checks them) and turns them into the
    /// initializer `I` (`P` itself, or a type made from it).
    pub fn build_typed<P, I>(params: &Params) -> Result<Box<dyn Initializer>, ParamError>
    where
        P: nabla_registry::HyperParams,
        I: Initializer + From<P> + 'static,
    {
        Ok(Box::new(I::from(P::from_params(params)?)))
    }
}

/// What a tensor is, for the initializers that care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A weight, or any tensor initialized on its own: its fans come from its own shape
    /// ([`fans`]), which fails for fewer than 2 dimensions.
    Weight,
    /// The bias of a layer whose weight has fans `weight_fans`. Fan-based initializers use
    /// these fans; `torch_linear_default` draws `U(±1/sqrt(weight_fans.fan_in))`.
    Bias {
        /// The fans of the layer's weight.
        weight_fans: Fans,
    },
}

impl Role {
    /// The fans an initializer uses for a tensor of `shape` in this role.
    ///
    /// # Errors
    /// [`InitError::NoFans`] for a [`Role::Weight`] of fewer than 2 dimensions.
    pub fn fans(&self, shape: &[usize]) -> Result<Fans, InitError> {
        match *self {
            Role::Weight => fans(shape),
            Role::Bias { weight_fans } => Ok(weight_fans),
        }
    }
}

/// A parameter initializer: resolves to a [`Distribution`] for a tensor and fills it in place.
///
/// Object-safe; the registry hands out `Box<dyn Initializer>`. Implementors write
/// [`name`](Initializer::name) and [`distribution`](Initializer::distribution); the fill
/// methods are provided.
pub trait Initializer: Send + Sync + fmt::Debug {
    /// The registered name (`"he_uniform"`, ...).
    fn name(&self) -> &'static str;

    /// The distribution for a tensor of `shape` in `role` (fans and gain applied).
    ///
    /// # Errors
    /// [`InitError::NoFans`] when the initializer needs fans and `role` gives none;
    /// [`InitError::ZeroFan`] when the fan it divides by is zero;
    /// [`InitError::NeedsMatrix`] for `orthogonal` on fewer than 2 dimensions.
    fn distribution(&self, shape: &[usize], role: Role) -> Result<Distribution, InitError>;

    /// Fills an `f32` tensor (a weight, fans from its own shape).
    fn fill_f32(&self, out: ArrayViewMutD<'_, f32>, rng: &mut Rng) -> Result<(), InitError> {
        fill(self, out, rng)
    }

    /// Fills an `f64` tensor (a weight, fans from its own shape).
    fn fill_f64(&self, out: ArrayViewMutD<'_, f64>, rng: &mut Rng) -> Result<(), InitError> {
        fill(self, out, rng)
    }

    /// Fills an `f32` bias of a layer whose weight has `weight_fans`.
    fn fill_bias_f32(
        &self,
        out: ArrayViewMutD<'_, f32>,
        weight_fans: Fans,
        rng: &mut Rng,
    ) -> Result<(), InitError> {
        fill_bias(self, out, weight_fans, rng)
    }

    /// Fills an `f64` bias of a layer whose weight has `weight_fans`.
    fn fill_bias_f64(
        &self,
        out: ArrayViewMutD<'_, f64>,
        weight_fans: Fans,
        rng: &mut Rng,
    ) -> Result<(), InitError> {
        fill_bias(self, out, weight_fans, rng)
    }
}

/// Fills `out` with `init`'s distribution in `role`, for any element type (what the fill
/// methods call). An empty tensor is left alone and succeeds.
pub fn fill_role<T: Element, I: Initializer + ?Sized>(
    init: &I,
    out: ArrayViewMutD<'_, T>,
    role: Role,
    rng: &mut Rng,
) -> Result<(), InitError> {
    if out.is_empty() {
        return Ok(());
    }
    init.distribution(out.shape(), role)?.fill(out, rng)
}

/// Fills a weight (or any tensor, fans from its shape) for any element type.
pub fn fill<T: Element, I: Initializer + ?Sized>(
    init: &I,
    out: ArrayViewMutD<'_, T>,
    rng: &mut Rng,
) -> Result<(), InitError> {
    fill_role(init, out, Role::Weight, rng)
}

/// Fills the bias of a layer whose weight has `weight_fans`, for any element type.
pub fn fill_bias<T: Element, I: Initializer + ?Sized>(
    init: &I,
    out: ArrayViewMutD<'_, T>,
    weight_fans: Fans,
    rng: &mut Rng,
) -> Result<(), InitError> {
    fill_role(init, out, Role::Bias { weight_fans }, rng)
}

/// The registration record of an initializer (collected with `inventory`). Submit one with
/// [`register_initializer!`].
#[derive(Debug)]
pub struct InitializerRegistration {
    /// Name, aliases, summary, module and hyper-parameter schema.
    pub info: ComponentInfo,
    /// Builds the initializer from validated hyper-parameters.
    pub build: fn(&Params) -> Result<Box<dyn Initializer>, ParamError>,
}

nabla_registry::collect_records!(InitializerRegistration, Initializer);

nabla_registry::context_free_kind! {
    /// Initializers are built by name with [`nabla_registry::build`] (no context):
    ///
    /// ```
    /// use nabla_init::{Initializer, Role};
    /// let he = nabla_registry::build::<dyn Initializer>("kaiming_uniform:mode=fan_out", ()).unwrap();
    /// assert_eq!(he.value.name(), "he_uniform");
    /// assert_eq!(he.params.get("nonlinearity"), Some(&nabla_registry::Value::Str("relu".into())));
    /// let bound = he.value.distribution(&[10, 20], Role::Weight).unwrap().bounds().unwrap().1;
    /// assert!((bound - (6.0f64 / 10.0).sqrt()).abs() < 1e-15); // fan_out = 10
    /// ```
    impl Kind for dyn Initializer {
        fn build(record: &'static InitializerRegistration, params)
            -> Result<Box<dyn Initializer>, InitError> {
            Ok((record.build)(params)?)
        }
    }
}

/// Registers an initializer: a type implementing [`Initializer`] and
/// [`HyperParams`](nabla_registry::HyperParams) (derived: its fields are the hyper-parameters),
/// with name, optional aliases and summary:
///
/// ```
/// use nabla_init::{register_initializer, Distribution, InitError, Initializer, Role};
/// use nabla_registry::HyperParams;
///
/// /// Every element `2 * value`.
/// #[derive(Debug, HyperParams)]
/// struct Twice {
///     /// half of every element
///     #[param(default = 1.0)]
///     value: f64,
/// }
///
/// impl Initializer for Twice {
///     fn name(&self) -> &'static str { "twice" }
///     fn distribution(&self, _: &[usize], _: Role) -> Result<Distribution, InitError> {
///         Ok(Distribution::Constant(2.0 * self.value))
///     }
/// }
///
/// register_initializer!(Twice, name: "twice", summary: "every element 2 * value");
///
/// let init = nabla_registry::build::<dyn Initializer>("twice:value=0.25", ()).unwrap().value;
/// assert_eq!(init.distribution(&[3], Role::Weight).unwrap(), Distribution::Constant(0.5));
/// ```
///
/// `register_initializer!(HeNormal, params: HeConfig, ...)` registers an initializer built
/// from another hyper-parameter type (`HeNormal: From<HeConfig>`), for initializers that share
/// one declaration. The explicit form `register_initializer! { name: ..., summary: ...,
/// params: SCHEMA, build: factory }` fills the record itself.
#[macro_export]
macro_rules! register_initializer {
    (name: $($body:tt)*) => {
        $crate::__private::nabla_registry::submit_component!($crate::InitializerRegistration { name: $($body)* });
    };
    ($ty:ty, params: $params:ty, $($rest:tt)*) => {
        $crate::__private::nabla_registry::submit_typed!($crate::InitializerRegistration, $params,
            { build: $crate::__private::build_typed::<$params, $ty> }, $($rest)*);
    };
    ($ty:ty, $($rest:tt)*) => {
        $crate::register_initializer!($ty, params: $ty, $($rest)*);
    };
}

/// The constraints of an initializer's hyper-parameters that the schema cannot state (finite
/// values, `low <= high`), checked once for the constructor and the registry alike.
pub(crate) trait Validate: Sized {
    /// Checks the hyper-parameters.
    fn validate(&self) -> Result<(), InitError>;

    /// `self` when valid: what a constructor returns.
    fn validated(self) -> Result<Self, InitError> {
        self.validate().map(|()| self)
    }
}

/// [`Validate::validate`] as a `#[hyper(check)]`: the registry reports the message as an
/// invalid hyper-parameter of the initializer.
pub(crate) fn check<V: Validate>(v: &V) -> Result<(), String> {
    v.validate().map_err(|e| e.to_string())
}

/// Checks a `gain` hyper-parameter: finite and `>= 0`.
pub(crate) fn check_gain(initializer: &'static str, gain: f64) -> Result<(), InitError> {
    if gain.is_finite() && gain >= 0.0 {
        return Ok(());
    }
    Err(InitError::Invalid { initializer, message: format!("gain must be finite and >= 0, got {gain}") })
}

/// The fan a variance-scaling initializer divides by, or [`InitError::ZeroFan`].
pub(crate) fn nonzero(
    fan: usize,
    initializer: &'static str,
    which: &'static str,
    shape: &[usize],
) -> Result<f64, InitError> {
    if fan == 0 {
        Err(InitError::ZeroFan { initializer, fan: which, shape: shape.to_vec() })
    } else {
        Ok(fan as f64)
    }
}

/// Builds an initializer from a compact spec, for the unit tests.
#[cfg(test)]
pub(crate) fn build(spec: &str) -> Result<Box<dyn Initializer>, InitError> {
    nabla_registry::build::<dyn Initializer>(spec, ()).map(|built| built.value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_registry::{duplicates, list, names, RawParams};
    use nabla_tensor::ndarray::{ArrayD, IxDyn};

    #[test]
    fn every_initializer_is_registered_once() {
        assert!(duplicates::<InitializerRegistration>().is_empty());
        let registered = names::<InitializerRegistration>();
        for expected in [
            "constant",
            "he_normal",
            "he_uniform",
            "lecun_normal",
            "lecun_uniform",
            "normal",
            "ones",
            "orthogonal",
            "torch_linear_default",
            "trunc_normal",
            "uniform",
            "xavier_normal",
            "xavier_uniform",
            "zeros",
        ] {
            assert!(registered.contains(&expected), "{expected} missing from {registered:?}");
        }
        for alias in ["glorot_normal", "glorot_uniform", "kaiming_normal", "kaiming_uniform"] {
            assert!(build(alias).is_ok(), "{alias}");
        }
    }

    #[test]
    fn unknown_names_and_bad_params_are_errors() {
        let err = build("he_unifrom").unwrap_err().to_string();
        assert!(err.contains("he_uniform"), "{err}");
        assert!(build("he_uniform:mode=fan_avg").is_err());
        assert!(build("uniform:low=1,high=0").is_err());
        assert!(build("constant").is_err(), "constant needs a value");
        let nabla_registry::Built { value: init, params } =
            nabla_registry::build::<dyn Initializer>(("glorot_uniform", &RawParams::new()), ()).unwrap();
        assert_eq!(init.name(), "xavier_uniform");
        assert_eq!(params.f64("gain").unwrap(), 1.0);
    }

    #[test]
    fn same_seed_same_tensor_for_every_initializer() {
        for record in list::<InitializerRegistration>() {
            let raw: RawParams = if record.info.name == "constant" {
                [("value".to_string(), nabla_registry::Value::Float(0.5))].into_iter().collect()
            } else {
                RawParams::new()
            };
            let init = nabla_registry::build::<dyn Initializer>((record.info.name, &raw), ()).unwrap().value;
            let draw = |seed| {
                let mut a = ArrayD::<f32>::zeros(IxDyn(&[12, 5, 3]));
                init.fill_f32(a.view_mut(), &mut Rng::seed(seed)).unwrap();
                a
            };
            assert_eq!(draw(42), draw(42), "{}", record.info.name);
            let constant =
                matches!(init.distribution(&[12, 5, 3], Role::Weight).unwrap(), Distribution::Constant(_));
            assert_eq!(draw(42) != draw(43), !constant, "{}", record.info.name);
        }
    }

    #[test]
    fn empty_tensors_are_a_no_op() {
        let init = build("he_uniform:mode=fan_out").unwrap();
        let mut a = ArrayD::<f64>::zeros(IxDyn(&[0, 4]));
        init.fill_f64(a.view_mut(), &mut Rng::seed(0)).unwrap();
        assert!(matches!(init.distribution(&[0, 4], Role::Weight), Err(InitError::ZeroFan { .. })));
    }
}
