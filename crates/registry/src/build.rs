//! One way to build a component of any kind by name: [`build`].
//!
//! Each kind's crate implements [`Kind`] for the trait object its components are used as
//! (`dyn Optimizer<f32>`, `dyn Module<f32>`, `dyn Initializer`, ...): which record type holds
//! the kind's registrations, what a build produces, what it needs besides the
//! hyper-parameters (a context: nothing for an optimizer, the incoming shape and the model's
//! generator for a layer) and which error it reports. Then every kind is built the same way:
//!
//! ```ignore
//! let adam = nabla_registry::build::<dyn Optimizer<f32>>("adam:lr=3e-4", ())?;
//! let relu = nabla_registry::build::<dyn Module<f32>>(&spec, &mut context)?;
//! ```
//!
//! and the result carries the effective hyper-parameters ([`Built::params`]: alias presets
//! and defaults filled in), which is what a run saves as its effective config.

use crate::{parse_compact, resolve, Component, ParamError, Params, RawParams, RegistryError, Value};
use std::borrow::Cow;

/// A kind of component that can be built by name. Implemented by each kind's crate for the
/// type its components are used as (a trait object such as `dyn Optimizer<f32>`).
pub trait Kind {
    /// The registration record of this kind.
    type Record: Component;
    /// What a build produces (a boxed trait object).
    type Output;
    /// What a build needs besides the hyper-parameters (`()` when nothing).
    type Context<'c>;
    /// The kind's error type.
    type Error: From<RegistryError> + From<ParamError>;

    /// Builds from a resolved record and its validated hyper-parameters. `params` may be
    /// amended with values the build derives (a layer's inferred input size), so that the
    /// effective configuration records them.
    fn build(
        record: &'static Self::Record,
        params: &mut Params,
        context: Self::Context<'_>,
    ) -> Result<Self::Output, Self::Error>;
}

/// Implements [`Kind`] for a kind whose components are built from their hyper-parameters
/// alone (context `()`), from the one thing that differs between such kinds: the factory call
/// on the resolved record. Its signature names the record, the output and the error (the
/// record's `params` are the validated [`Params`], `&mut` as in [`Kind::build`]); a kind with
/// a context (a layer's shape, a scheduler's base learning rate) implements [`Kind`] itself.
///
/// ```
/// use nabla_registry::{build, ComponentInfo, ParamError, ParamSpec, Params, RegistryError};
///
/// /// What the components of the kind are used as.
/// pub trait Penalty {
///     fn weight(&self) -> f64;
/// }
///
/// pub struct PenaltyRecord {
///     pub info: ComponentInfo,
///     pub build: fn(&Params) -> Result<Box<dyn Penalty>, ParamError>,
/// }
/// nabla_registry::collect_records!(PenaltyRecord, Loss);
///
/// #[derive(Debug, thiserror::Error)]
/// pub enum PenaltyError {
///     #[error(transparent)]
///     Registry(Box<RegistryError>),
/// }
/// nabla_registry::from_registry_errors!(PenaltyError);
///
/// nabla_registry::context_free_kind! {
///     impl Kind for dyn Penalty {
///         fn build(record: &'static PenaltyRecord, params) -> Result<Box<dyn Penalty>, PenaltyError> {
///             Ok((record.build)(params)?)
///         }
///     }
/// }
///
/// struct L2(f64);
/// impl Penalty for L2 {
///     fn weight(&self) -> f64 {
///         self.0
///     }
/// }
/// nabla_registry::submit_component!(PenaltyRecord {
///     name: "l2",
///     summary: "squared weights",
///     params: &[ParamSpec::float("weight", 0.01, "factor")],
///     build: |p| Ok(Box::new(L2(p.f64("weight")?))),
/// });
///
/// assert_eq!(build::<dyn Penalty>("l2:weight=0.5", ()).unwrap().value.weight(), 0.5);
/// assert!(matches!(build::<dyn Penalty>("l3", ()), Err(PenaltyError::Registry(_))));
/// ```
#[macro_export]
macro_rules! context_free_kind {
    (
        $(#[$attr:meta])*
        impl $(<$($generic:ident: $bound:path),+>)? Kind for $kind:ty {
            fn build($record:ident: &'static $record_type:ty, $params:ident)
                -> Result<$output:ty, $error:ty> $body:block
        }
    ) => {
        $(#[$attr])*
        impl $(<$($generic: $bound),+>)? $crate::Kind for $kind {
            type Record = $record_type;
            type Output = $output;
            type Context<'c> = ();
            type Error = $error;

            fn build(
                $record: &'static $record_type,
                $params: &mut $crate::Params,
                _: (),
            ) -> ::core::result::Result<$output, $error> $body
        }
    };
}

/// A built component and its effective hyper-parameters.
#[derive(Debug)]
pub struct Built<T> {
    /// The component.
    pub value: T,
    /// The effective hyper-parameters (alias presets, defaults and derived values filled in).
    pub params: Params,
}

/// A component named with its (unvalidated) hyper-parameters: what a config table or the
/// compact form `adam:lr=3e-4` says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    /// The registered name or alias.
    pub name: String,
    /// The hyper-parameters as given.
    pub params: RawParams,
}

impl Spec {
    /// A component with no hyper-parameters given (all defaults).
    pub fn new(name: impl Into<String>) -> Spec {
        Spec { name: name.into(), params: RawParams::new() }
    }

    /// Parses the compact form (`adam:lr=3e-4,betas=[0.9,0.98]`).
    ///
    /// # Errors
    /// A malformed spec, with the position of the problem.
    pub fn parse(compact: &str) -> Result<Spec, ParamError> {
        let (name, params) = parse_compact(compact)?;
        Ok(Spec { name, params })
    }

    /// Sets one hyper-parameter (builder style).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Spec {
        self.params.insert(key.into(), value.into());
        self
    }
}

impl std::str::FromStr for Spec {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Spec, ParamError> {
        Spec::parse(s)
    }
}

/// Anything that names a component with hyper-parameters: a compact string, a [`Spec`], or a
/// name with a table of raw parameters.
pub trait IntoSpec {
    /// The spec, borrowing when possible.
    ///
    /// # Errors
    /// A malformed compact string.
    fn to_spec(&self) -> Result<Cow<'_, Spec>, ParamError>;
}

impl IntoSpec for &str {
    fn to_spec(&self) -> Result<Cow<'_, Spec>, ParamError> {
        Spec::parse(self).map(Cow::Owned)
    }
}

impl IntoSpec for &String {
    fn to_spec(&self) -> Result<Cow<'_, Spec>, ParamError> {
        Spec::parse(self).map(Cow::Owned)
    }
}

impl IntoSpec for String {
    fn to_spec(&self) -> Result<Cow<'_, Spec>, ParamError> {
        Spec::parse(self).map(Cow::Owned)
    }
}

impl IntoSpec for &Spec {
    fn to_spec(&self) -> Result<Cow<'_, Spec>, ParamError> {
        Ok(Cow::Borrowed(*self))
    }
}

impl IntoSpec for Spec {
    fn to_spec(&self) -> Result<Cow<'_, Spec>, ParamError> {
        Ok(Cow::Borrowed(self))
    }
}

impl IntoSpec for (&str, &RawParams) {
    fn to_spec(&self) -> Result<Cow<'_, Spec>, ParamError> {
        Ok(Cow::Owned(Spec { name: self.0.to_string(), params: self.1.clone() }))
    }
}

/// Builds a component of kind `K` by name: resolves the name (aliases, did-you-mean),
/// validates the hyper-parameters against the record's schema (alias presets first, then the
/// given values, then defaults) and runs the kind's factory.
///
/// ```ignore
/// let Built { value: optimizer, params } = nabla_registry::build::<dyn Optimizer<f32>>("nag:lr=0.05", ())?;
/// assert_eq!(params.get("momentum"), Some(&Value::Float(0.9)));
/// ```
///
/// # Errors
/// A malformed spec, an unknown name (with the closest names), a name claimed twice, invalid
/// hyper-parameters, and the factory's own errors — all as `K::Error`.
pub fn build<K: Kind + ?Sized>(
    spec: impl IntoSpec,
    context: K::Context<'_>,
) -> Result<Built<K::Output>, K::Error> {
    let spec = spec.to_spec()?;
    let resolved = resolve::<K::Record>(&spec.name)?;
    let mut params = resolved.params(&spec.params)?;
    let value = K::build(resolved.record, &mut params, context)?;
    Ok(Built { value, params })
}
