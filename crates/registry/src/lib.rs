//! The by-name component registry of nabla.
//!
//! Every component of nabla — optimizer, learning-rate scheduler, initializer, layer,
//! activation, loss and data set — registers itself at link time through
//! [`inventory`](https://docs.rs/inventory), and the trainer finds it by name
//! (`optimizer = "radam"`, `init = "he_uniform"`). This crate holds the machinery shared by all
//! kinds:
//!
//! * [`ComponentInfo`]: what every record carries — canonical name, [`Alias`]es (optionally with
//!   preset hyper-parameters), a one-line summary, the defining `module_path!()` and the
//!   hyper-parameter schema ([`ParamSpec`]: name, type, default, valid range, doc).
//! * [`resolve`]: case-, hyphen- and underscore-insensitive lookup; an unknown name is an error
//!   listing the closest names and every name of that kind; two records claiming one name is an
//!   error naming both modules.
//! * [`Params`]: hyper-parameters validated against a schema, from a TOML table
//!   ([`Value::from_toml`]) or from the compact command-line form ([`parse_compact`]:
//!   `adam:lr=3e-4,betas=[0.9,0.98]`), with defaults filled in; printable and savable.
//! * [`list`], [`names`] and [`duplicates`] for listings and self-checks.
//!
//! Each kind's record type lives in the crate that defines the kind's trait (the optimizer
//! record in `nabla-optim`, and so on), because its factory returns that trait. Those crates
//! declare their record with [`collect_records!`] (which implements [`Component`] for it and
//! collects it with `inventory`), implement [`Kind`] ([`context_free_kind!`] for a kind built
//! from its hyper-parameters alone), turn registry errors into their own with
//! [`from_registry_errors!`] and offer a `register_<kind>!` macro built on
//! [`submit_component!`] and [`submit_typed!`].
//!
//! # Example: a kind and a component
//! ```
//! use nabla_registry::{resolve, Alias, ComponentInfo, Const, ParamSpec, Params, ParamError, Range};
//!
//! pub struct LossRecord {
//!     pub info: ComponentInfo,
//!     pub build: fn(&Params) -> Result<f64, ParamError>,
//! }
//! nabla_registry::collect_records!(LossRecord, Loss);
//!
//! nabla_registry::submit_component!(LossRecord {
//!     name: "huber",
//!     aliases: [Alias::with_presets("smooth_l1", &[("delta", Const::Float(1.0))])],
//!     summary: "Huber loss",
//!     params: &[ParamSpec::float("delta", 1.0, "threshold").range(Range::POSITIVE)],
//!     build: |p| p.f64("delta"),
//! });
//!
//! let found = resolve::<LossRecord>("Smooth-L1").unwrap();
//! assert_eq!(found.info().name, "huber");
//! let params = found.params(&Default::default()).unwrap();
//! assert_eq!((found.record.build)(&params).unwrap(), 1.0);
//! ```
//!
//! # The linker pitfall
//! A crate that nothing references is not linked, and its registrations vanish without a
//! word. Reference plugin crates from your binary (`use my_plugin as _;`); see
//! `docs/plugins.md`.

mod build;
mod compact;
mod error;
mod hyper;
mod lookup;
mod params;
mod schema;
mod value;

pub use build::{build, Built, IntoSpec, Kind, Spec};
pub use compact::{format as format_compact, parse_compact};
pub use error::{did_you_mean, ParamError, RegistryError};
pub use hyper::{HyperParams, ParamChoice, ParamValue};
pub use lookup::{
    duplicates, list, names, normalize, resolve, resolve_spec, suggest, Alias, Component, ComponentInfo,
    ComponentKind, Resolved,
};
pub use params::{Params, RawParams};
pub use schema::{Bound, Const, ParamSpec, ParamType, Range};
pub use value::Value;

#[doc(hidden)]
pub use inventory;

/// Parses a TOML table into raw hyper-parameters; `context` names where the table came from
/// (for example `optimizer` or `model.layers[2]`) in the error.
pub fn raw_params_from_toml(table: &toml::Table, context: &str) -> Result<RawParams, String> {
    table
        .iter()
        .map(|(k, v)| {
            Value::from_toml(v).map(|v| (k.clone(), v)).map_err(|found| {
                format!(
                    "{context}.{k}: hyper-parameters are numbers, booleans, strings or lists, found {found}"
                )
            })
        })
        .collect()
}

/// Makes `$record` the registration record of the component kind `ComponentKind::$kind`: collects
/// its values with `inventory` and implements [`Component`] for it, whose common part is the
/// record's field `info: ComponentInfo`. A kind crate calls it once, after declaring its record
/// type (see the crate example).
#[macro_export]
macro_rules! collect_records {
    ($record:ty, $kind:ident) => {
        $crate::inventory::collect!($record);

        impl $crate::Component for $record {
            const KIND: $crate::ComponentKind = $crate::ComponentKind::$kind;
            fn info(&self) -> &$crate::ComponentInfo {
                &self.info
            }
        }
    };
}

/// Submits a registration record of a kind through `inventory`, filling in the common
/// [`ComponentInfo`] (with `module_path!()` of the call site). The kind's own fields follow
/// the common ones. Kind crates wrap this in their `register_<kind>!` macro.
#[macro_export]
macro_rules! submit_component {
    ($record:path {
        name: $name:expr,
        $(aliases: [$($alias:expr),* $(,)?],)?
        summary: $summary:expr,
        params: $params:expr
        $(, $field:ident : $value:expr)* $(,)?
    }) => {
        $crate::inventory::submit! {
            $record {
                info: $crate::ComponentInfo {
                    name: $name,
                    aliases: &[$($($alias),*)?],
                    summary: $summary,
                    module: ::core::module_path!(),
                    params: $params,
                },
                $($field: $value),*
            }
        }
    };
}

/// Submits the record of a component whose hyper-parameters are the derived
/// [`HyperParams`] of `$params`: [`submit_component!`] with the schema taken from
/// `<$params as HyperParams>::SCHEMA` and the kind's own fields in braces, followed by the
/// component's name, optional aliases and summary. A kind's
/// `register_<kind>!(Type, name: .., aliases: [..], summary: ..)` passes its arguments on:
///
/// ```ignore
/// nabla_registry::submit_typed!(LossRecord, Huber, { build: build_huber }, name: "huber", summary: "Huber loss");
/// ```
#[macro_export]
macro_rules! submit_typed {
    ($record:path, $params:ty, { $($field:ident : $value:expr),* $(,)? },
        name: $name:expr,
        $(aliases: [$($alias:expr),* $(,)?],)?
        summary: $summary:expr $(,)?
    ) => {
        $crate::submit_component!($record {
            name: $name,
            aliases: [$($($alias),*)?],
            summary: $summary,
            params: <$params as $crate::HyperParams>::SCHEMA,
            $($field: $value),*
        });
    };
}
