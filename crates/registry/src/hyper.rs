//! Typed hyper-parameters: one struct per component declares every key once.
//!
//! A component's hyper-parameters are a struct deriving [`HyperParams`]; each field is one key
//! whose type gives the schema type, whose doc comment gives the documentation and whose
//! `#[param(default = .., range = ..)]` gives the default and the valid range. From that one
//! declaration follow the schema ([`HyperParams::SCHEMA`], shown by `nabla list` and used for
//! validation and did-you-mean), the reader ([`HyperParams::from_params`]) and the writer
//! ([`HyperParams::to_raw`], for building configs in code).
//!
//! ```
//! use nabla_registry::{HyperParams, ParamChoice, Params, ComponentKind, RawParams, Value};
//!
//! #[derive(Clone, Copy, Debug, PartialEq, ParamChoice)]
//! pub enum Mode { FanIn, FanOut }
//!
//! /// Hyper-parameters of a made-up component.
//! #[derive(Debug, PartialEq, HyperParams)]
//! #[hyper(check = Self::check)]
//! pub struct Example {
//!     /// learning rate
//!     #[param(default = 1e-3, range = NON_NEGATIVE)]
//!     pub lr: f64,
//!     /// decay rates [beta1, beta2]
//!     #[param(default = [0.9, 0.999], range = UNIT_HALF_OPEN)]
//!     pub betas: [f64; 2],
//!     /// which fan to use
//!     #[param(default = "fan_in")]
//!     pub mode: Mode,
//!     /// number of output units
//!     #[param(range = POSITIVE)]
//!     pub out_features: usize,
//!     /// an optional cap
//!     pub max_norm: Option<f64>,
//! }
//!
//! impl Example {
//!     fn check(&self) -> Result<(), String> {
//!         (self.betas[0] <= self.betas[1]).then_some(()).ok_or_else(|| "beta1 > beta2".to_string())
//!     }
//! }
//!
//! assert_eq!(Example::SCHEMA.len(), 5);
//! assert_eq!(Example::SCHEMA[1].ty.to_string(), "list of 2 floats");
//! let given: RawParams = [("out_features".to_string(), Value::Int(4))].into_iter().collect();
//! let params = Params::validate(ComponentKind::Layer, "example", Example::SCHEMA, &RawParams::new(), &given).unwrap();
//! let example = Example::from_params(&params).unwrap();
//! assert_eq!(example, Example { lr: 1e-3, betas: [0.9, 0.999], mode: Mode::FanIn, out_features: 4, max_norm: None });
//! assert_eq!(example.to_raw().len(), 4); // the unset max_norm is left out
//! ```

use crate::{ParamError, ParamType, Params, RawParams, Value};

pub use nabla_registry_derive::{HyperParams, ParamChoice};

/// The hyper-parameters of a component, declared once as a struct: its schema, its reader and
/// its writer. Derive it (`#[derive(HyperParams)]`, see the [module docs](self)); on a unit
/// struct the derive gives an empty schema (a component without hyper-parameters).
///
/// Field attribute `#[param(...)]`:
/// * `default = EXPR`: the default (a literal of the field's type; a string for choices; an
///   array literal for lists). Without a default a field is required, unless it is an
///   `Option`, which is then unset when left out.
/// * `range = NAME` (a [`Range`](crate::Range) constant: `NON_NEGATIVE`, `POSITIVE`,
///   `UNIT_HALF_OPEN`, `UNIT`) or `range = EXPR` (`Range::closed(0.0, 2.0)`).
/// * `name = "key"`: the key when it differs from the field name.
/// * `required`: no default even for an `Option`.
/// * `skip`: not a hyper-parameter (filled with `Default::default()`).
/// * `flatten`: the field's type derives `HyperParams` too and its keys join this struct's
///   (after its own), so keys shared by several components are declared once.
///
/// The field's doc comment is the key's documentation (required). Struct attribute
/// `#[hyper(check = path)]` names a `fn(&Self) -> Result<(), String>` for constraints between
/// keys, and `#[hyper(crate = "path")]` where `nabla_registry` is when it is re-exported.
///
/// Field types: `f64`, `f32`, the integer types (negative values and overflow are range
/// errors naming the key), `bool`, `String`, `[f64; N]` (exactly `N` elements), `Vec<f64>`,
/// `Vec<i64>`, `Vec<usize>`, `Vec<u64>`, any [`ParamChoice`] enum, and `Option` of any of these.
pub trait HyperParams: Sized {
    /// The schema: one entry per key, in declaration order.
    const SCHEMA: &'static [crate::ParamSpec];

    /// Reads validated parameters (see [`Params::validate`]); fails only on constraints
    /// between keys (`#[hyper(check)]`) or on values outside the field's integer type.
    fn from_params(params: &Params) -> Result<Self, ParamError>;

    /// The values as raw parameters (unset options left out), to validate or save again.
    fn to_raw(&self) -> RawParams;
}

/// A fieldless enum whose variants are the accepted strings of a key. Derive it
/// (`#[derive(ParamChoice)]`): variants are spelled in snake_case unless renamed with
/// `#[param(name = "...")]`.
pub trait ParamChoice: Sized + 'static {
    /// The spellings, in declaration order.
    const OPTIONS: &'static [&'static str];
    /// The variant spelled `option` (as validated: exactly one of [`Self::OPTIONS`]).
    fn from_option(option: &str) -> Option<Self>;
    /// The spelling of this variant.
    fn as_str(&self) -> &'static str;
}

/// A type a hyper-parameter field can have: its schema type and how to read and write it.
pub trait ParamValue: Sized {
    /// The schema type.
    const TYPE: ParamType;
    /// Reads the value of `key` from validated parameters.
    fn read(params: &Params, key: &str) -> Result<Self, ParamError>;
    /// The value as a raw parameter (`None`: unset).
    fn to_value(&self) -> Option<Value>;
}

impl ParamValue for f32 {
    const TYPE: ParamType = ParamType::Float;
    fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
        let x = params.f64(key)?;
        let narrowed = x as f32;
        if x.is_finite() && !narrowed.is_finite() {
            return Err(params.out_of_range(key, "a value that fits in f32", x.to_string()));
        }
        Ok(narrowed)
    }
    fn to_value(&self) -> Option<Value> {
        Some(Value::Float(f64::from(*self)))
    }
}

/// The types that one [`Params`] accessor reads as they are (`$read`, borrowed for a string)
/// and that convert into a [`Value`] of their schema type.
macro_rules! plain_param {
    ($($ty:ty: $schema:ident, $read:ident;)*) => {$(
        impl ParamValue for $ty {
            const TYPE: ParamType = ParamType::$schema;
            fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
                params.$read(key).map(<$ty>::from)
            }
            fn to_value(&self) -> Option<Value> {
                Some(Value::from(self.clone()))
            }
        }
    )*};
}
plain_param! {
    f64: Float, f64;
    bool: Bool, bool;
    String: Str, str;
}

macro_rules! integer_param {
    ($($int:ty),*) => {$(
        impl ParamValue for $int {
            const TYPE: ParamType = ParamType::Int;
            fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
                let i = params.i64(key)?;
                <$int>::try_from(i).map_err(|_| {
                    params.out_of_range(
                        key,
                        &format!("an integer in [{}, {}]", <$int>::MIN, <$int>::MAX),
                        i.to_string(),
                    )
                })
            }
            fn to_value(&self) -> Option<Value> {
                // u64/usize above i64::MAX have no integer Value: as a float they fail validation
                // with a type error naming the key instead of being clamped silently.
                Some(i64::try_from(*self).map(Value::Int).unwrap_or(Value::Float(*self as f64)))
            }
        }
    )*};
}
integer_param!(i32, i64, u32, u64, usize);

impl ParamValue for Vec<f64> {
    const TYPE: ParamType = ParamType::FloatList(None);
    fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
        params.f64s(key)
    }
    fn to_value(&self) -> Option<Value> {
        Some(Value::List(self.iter().map(|&x| Value::Float(x)).collect()))
    }
}

impl<const N: usize> ParamValue for [f64; N] {
    const TYPE: ParamType = ParamType::FloatList(Some(N));
    fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
        let values = params.f64s(key)?;
        <[f64; N]>::try_from(values.as_slice()).map_err(|_| {
            params.out_of_range(
                key,
                &format!("a list of exactly {N} floats"),
                format!("{} values", values.len()),
            )
        })
    }
    fn to_value(&self) -> Option<Value> {
        Some(Value::List(self.iter().map(|&x| Value::Float(x)).collect()))
    }
}

impl ParamValue for Vec<i64> {
    const TYPE: ParamType = ParamType::IntList;
    fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
        params.i64s(key)
    }
    fn to_value(&self) -> Option<Value> {
        Some(Value::List(self.iter().map(|&i| Value::Int(i)).collect()))
    }
}

macro_rules! unsigned_list_param {
    ($($int:ty),*) => {$(
        impl ParamValue for Vec<$int> {
            const TYPE: ParamType = ParamType::IntList;
            fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
                params
                    .i64s(key)?
                    .into_iter()
                    .map(|i| <$int>::try_from(i).map_err(|_| params.out_of_range(key, "integers >= 0", i.to_string())))
                    .collect()
            }
            fn to_value(&self) -> Option<Value> {
                Some(Value::List(self.iter().map(|&i| Value::Int(i64::try_from(i).unwrap_or(i64::MAX))).collect()))
            }
        }
    )*};
}
unsigned_list_param!(usize, u64);

impl<T: ParamValue> ParamValue for Option<T> {
    const TYPE: ParamType = T::TYPE;
    fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
        match params.get(key) {
            Some(_) => T::read(params, key).map(Some),
            None => Ok(None),
        }
    }
    fn to_value(&self) -> Option<Value> {
        self.as_ref().and_then(T::to_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ComponentKind, Const, Range};

    /// A derive over every supported field type.
    #[derive(Debug, PartialEq, HyperParams)]
    #[hyper(crate = "crate")]
    struct Every {
        /// a float
        #[param(default = 0.5, range = UNIT)]
        x: f64,
        /// an integer with an integer-literal default given to a float field
        #[param(default = 3)]
        y: f64,
        /// a count
        #[param(default = 2, range = POSITIVE)]
        n: usize,
        /// a flag
        #[param(default = true)]
        flag: bool,
        /// a name
        #[param(default = "abc")]
        label: String,
        /// a pair
        #[param(default = [1, 2.5])]
        pair: [f64; 2],
        /// milestones
        #[param(default = [10, 20])]
        milestones: Vec<usize>,
        /// required
        #[param(name = "renamed")]
        must: i64,
        /// optional
        maybe: Option<f64>,
        /// not a hyper-parameter
        #[param(skip)]
        scratch: Vec<u8>,
    }

    fn validate(given: &[(&str, Value)]) -> Result<Params, ParamError> {
        let given: RawParams = given.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        Params::validate(ComponentKind::Layer, "every", Every::SCHEMA, &RawParams::new(), &given)
    }

    #[test]
    fn schema_follows_the_declaration() {
        let s = Every::SCHEMA;
        let names: Vec<&str> = s.iter().map(|p| p.name).collect();
        assert_eq!(names, ["x", "y", "n", "flag", "label", "pair", "milestones", "renamed", "maybe"]);
        assert_eq!(s[0].default, Const::Float(0.5));
        assert_eq!(s[0].range, Range::UNIT);
        assert_eq!(s[1].default, Const::Float(3.0));
        assert_eq!(s[2].ty, ParamType::Int);
        assert_eq!(s[5].ty, ParamType::FloatList(Some(2)));
        assert_eq!(s[5].default, Const::Floats(&[1.0, 2.5]));
        assert_eq!(s[6].default, Const::Ints(&[10, 20]));
        assert_eq!(s[7].default, Const::Required);
        assert_eq!(s[8].default, Const::Unset);
        assert_eq!(s[4].doc, "a name");
    }

    #[test]
    fn reads_and_writes_round_trip() {
        let params = validate(&[("renamed", Value::Int(-4)), ("maybe", Value::Float(2.0))]).unwrap();
        let every = Every::from_params(&params).unwrap();
        assert_eq!(every.must, -4);
        assert_eq!(every.maybe, Some(2.0));
        assert_eq!(every.milestones, vec![10, 20]);
        assert!(every.scratch.is_empty());
        let again = Params::validate(
            ComponentKind::Layer,
            "every",
            Every::SCHEMA,
            &RawParams::new(),
            &every.to_raw(),
        )
        .unwrap();
        assert_eq!(again, params);
    }

    #[test]
    fn errors_name_the_key() {
        let missing = validate(&[]).unwrap_err().to_string();
        assert!(missing.contains("renamed"), "{missing}");
        let range = validate(&[("renamed", Value::Int(1)), ("n", Value::Int(0))]).unwrap_err().to_string();
        assert!(range.contains("'n'") || range.contains(" n"), "{range}");
        // An integer that the field's type cannot hold is a range error, not a wrap-around.
        let params =
            validate(&[("renamed", Value::Int(1)), ("milestones", Value::List(vec![Value::Int(-1)]))])
                .unwrap();
        let err = Every::from_params(&params).unwrap_err().to_string();
        assert!(err.contains("milestones"), "{err}");
    }

    /// Keys shared by several components.
    #[derive(Debug, PartialEq, HyperParams)]
    #[hyper(crate = "crate", check = Shared::check)]
    struct Shared {
        /// a seed
        #[param(default = 7)]
        seed: u64,
    }

    impl Shared {
        fn check(&self) -> Result<(), String> {
            (self.seed != 13).then_some(()).ok_or_else(|| "unlucky".to_string())
        }
    }

    /// A component with its own key and the shared ones.
    #[derive(Debug, PartialEq, HyperParams)]
    #[hyper(crate = "crate")]
    struct WithShared {
        /// its own
        #[param(default = 0.5)]
        own: f64,
        #[param(flatten)]
        shared: Shared,
    }

    #[test]
    fn flattened_keys_join_the_schema_reader_and_writer() {
        let names: Vec<&str> = WithShared::SCHEMA.iter().map(|p| p.name).collect();
        assert_eq!(names, ["own", "seed"]);
        let validate = |given: &RawParams| {
            Params::validate(
                ComponentKind::Dataset,
                "with_shared",
                WithShared::SCHEMA,
                &RawParams::new(),
                given,
            )
        };
        let params = validate(&RawParams::new()).unwrap();
        let value = WithShared::from_params(&params).unwrap();
        assert_eq!(value, WithShared { own: 0.5, shared: Shared { seed: 7 } });
        assert_eq!(value.to_raw().len(), 2);
        let unlucky: RawParams = [("seed".to_string(), Value::Int(13))].into_iter().collect();
        let err = WithShared::from_params(&validate(&unlucky).unwrap()).unwrap_err().to_string();
        assert!(err.contains("unlucky"), "{err}");
    }

    /// A component without hyper-parameters.
    #[derive(Debug, PartialEq, HyperParams)]
    #[hyper(crate = "crate")]
    struct Nothing;

    #[test]
    fn a_unit_struct_has_an_empty_schema() {
        assert!(Nothing::SCHEMA.is_empty());
        let params = Params::validate(
            ComponentKind::Layer,
            "nothing",
            Nothing::SCHEMA,
            &RawParams::new(),
            &RawParams::new(),
        )
        .unwrap();
        assert_eq!(Nothing::from_params(&params).unwrap(), Nothing);
        assert!(Nothing.to_raw().is_empty());
    }

    #[derive(Clone, Copy, Debug, PartialEq, ParamChoice)]
    #[hyper(crate = "crate")]
    enum Mode {
        FanIn,
        #[param(name = "out")]
        FanOut,
    }

    #[test]
    fn choices_are_snake_case_or_renamed() {
        assert_eq!(Mode::OPTIONS, &["fan_in", "out"]);
        assert_eq!(Mode::FanOut.to_string(), "out");
        assert_eq!(Mode::from_option("fan_in"), Some(Mode::FanIn));
        assert_eq!(<Mode as ParamValue>::TYPE, ParamType::Choice(&["fan_in", "out"]));
    }
}
