//! Validated hyper-parameters: defaults filled in, types checked, ranges enforced.

use crate::lookup::{normalize, suggest};
use crate::schema::{ParamSpec, ParamType};
use crate::{ComponentKind, ParamError, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Hyper-parameters as given by a user (TOML table or compact form), not yet validated.
pub type RawParams = BTreeMap<String, Value>;

/// Hyper-parameters checked against a component's schema, with every default filled in.
///
/// Factories read them with the typed getters; a getter only fails when a factory asks for a
/// key its own schema does not declare, or for an `Unset` key without using the `opt_` getter.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    kind: ComponentKind,
    component: String,
    values: BTreeMap<String, Value>,
}

impl Params {
    /// Validates `given` against `schema`: `presets` (from an alias) are applied first, then the
    /// user's values; defaults fill the rest.
    pub fn validate(
        kind: ComponentKind,
        component: &str,
        schema: &[ParamSpec],
        presets: &RawParams,
        given: &RawParams,
    ) -> Result<Params, ParamError> {
        let mut values = BTreeMap::new();
        for (key, value) in presets.iter().chain(given.iter()) {
            let Some(spec) = schema.iter().find(|s| s.name == key) else {
                let accepted: Vec<String> = schema.iter().map(|s| s.name.to_string()).collect();
                return Err(ParamError::UnknownKey {
                    kind,
                    component: component.to_string(),
                    key: key.clone(),
                    suggestions: suggest(key, accepted.iter().map(String::as_str)),
                    accepted,
                });
            };
            let checked = check_value(kind, component, spec, value)?;
            values.insert(key.clone(), checked);
        }
        for spec in schema {
            if values.contains_key(spec.name) {
                continue;
            }
            match spec.default.to_value() {
                Some(v) => {
                    values.insert(spec.name.to_string(), v);
                }
                None if spec.default == crate::Const::Required => {
                    return Err(ParamError::Missing {
                        kind,
                        component: component.to_string(),
                        key: spec.name.to_string(),
                        doc: spec.doc.to_string(),
                    })
                }
                None => {}
            }
        }
        Ok(Params { kind, component: component.to_string(), values })
    }

    /// The kind of the component these parameters belong to.
    pub fn kind(&self) -> ComponentKind {
        self.kind
    }

    /// The canonical name of the component these parameters belong to.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Every value, by key (sorted).
    pub fn values(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Overrides one value without validation (for components that derive a value, such as
    /// a Linear layer's inferred input size). Prefer [`Params::validate`] for user input.
    pub fn set(&mut self, key: &str, value: Value) {
        self.values.insert(key.to_string(), value);
    }

    fn require(&self, key: &str) -> Result<&Value, ParamError> {
        self.values.get(key).ok_or_else(|| ParamError::Missing {
            kind: self.kind,
            component: self.component.clone(),
            key: key.to_string(),
            doc: "not set".to_string(),
        })
    }

    /// The value of `key` as `pick` reads it; a type error naming `expected` when `pick` finds
    /// another type.
    fn read<'a, T>(
        &'a self,
        key: &str,
        expected: &str,
        pick: fn(&'a Value) -> Option<T>,
    ) -> Result<T, ParamError> {
        let value = self.require(key)?;
        pick(value).ok_or_else(|| self.wrong(key, expected, value))
    }

    /// The list value of `key`, every element as `pick` reads it; a type error naming
    /// `expected` (the list's type) for anything else, naming the offending element.
    fn read_list<T>(
        &self,
        key: &str,
        expected: &str,
        pick: fn(&Value) -> Option<T>,
    ) -> Result<Vec<T>, ParamError> {
        match self.require(key)? {
            Value::List(items) => {
                items.iter().map(|v| pick(v).ok_or_else(|| self.wrong(key, expected, v))).collect()
            }
            v => Err(self.wrong(key, expected, v)),
        }
    }

    /// `read` of a key that may be unset: `None` when it is.
    fn optional<'a, T>(
        &'a self,
        key: &str,
        read: fn(&'a Params, &str) -> Result<T, ParamError>,
    ) -> Result<Option<T>, ParamError> {
        if self.values.contains_key(key) {
            read(self, key).map(Some)
        } else {
            Ok(None)
        }
    }

    fn wrong(&self, key: &str, expected: &str, v: &Value) -> ParamError {
        ParamError::WrongType {
            kind: self.kind,
            component: self.component.clone(),
            key: key.to_string(),
            expected: expected.to_string(),
            given: describe(v),
        }
    }

    /// A float value.
    pub fn f64(&self, key: &str) -> Result<f64, ParamError> {
        self.read(key, "a float", Value::as_f64)
    }

    /// A float value, or `None` when the key is unset.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, ParamError> {
        self.optional(key, Params::f64)
    }

    /// An integer value.
    pub fn i64(&self, key: &str) -> Result<i64, ParamError> {
        self.read(key, "an integer", Value::as_i64)
    }

    /// A non-negative integer value as `usize`.
    pub fn usize(&self, key: &str) -> Result<usize, ParamError> {
        let i = self.i64(key)?;
        usize::try_from(i).map_err(|_| ParamError::OutOfRange {
            kind: self.kind,
            component: self.component.clone(),
            key: key.to_string(),
            expected: ">= 0".to_string(),
            given: i.to_string(),
        })
    }

    /// An integer value, or `None` when the key is unset.
    pub fn opt_usize(&self, key: &str) -> Result<Option<usize>, ParamError> {
        self.optional(key, Params::usize)
    }

    /// A boolean value.
    pub fn bool(&self, key: &str) -> Result<bool, ParamError> {
        self.read(key, "a boolean", Value::as_bool)
    }

    /// A string value.
    pub fn str(&self, key: &str) -> Result<&str, ParamError> {
        self.read(key, "a string", Value::as_str)
    }

    /// A string value, or `None` when the key is unset.
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, ParamError> {
        self.optional(key, Params::str)
    }

    /// A list of floats.
    pub fn f64s(&self, key: &str) -> Result<Vec<f64>, ParamError> {
        self.read_list(key, "a list of floats", Value::as_f64)
    }

    /// A list of integers.
    pub fn i64s(&self, key: &str) -> Result<Vec<i64>, ParamError> {
        self.read_list(key, "a list of integers", Value::as_i64)
    }

    /// An out-of-range error for `key`: `expected` says what is accepted, `given` what was given.
    pub fn out_of_range(&self, key: &str, expected: &str, given: String) -> ParamError {
        ParamError::OutOfRange {
            kind: self.kind,
            component: self.component.clone(),
            key: key.to_string(),
            expected: expected.to_string(),
            given,
        }
    }

    /// An error for a constraint between keys that the factory checks itself.
    pub fn invalid(&self, message: impl Into<String>) -> ParamError {
        ParamError::Invalid { kind: self.kind, component: self.component.clone(), message: message.into() }
    }

    /// The effective configuration in the compact form, `name:key=value,...`.
    pub fn to_compact(&self) -> String {
        crate::compact::format(&self.component, &self.values)
    }

    /// The effective configuration as a TOML table (keys sorted).
    pub fn to_toml(&self) -> toml::Table {
        self.values.iter().map(|(k, v)| (k.clone(), v.to_toml())).collect()
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_compact())
    }
}

fn describe(v: &Value) -> String {
    format!("{} ({v})", v.type_name())
}

fn check_value(
    kind: ComponentKind,
    component: &str,
    spec: &ParamSpec,
    value: &Value,
) -> Result<Value, ParamError> {
    let wrong = || ParamError::WrongType {
        kind,
        component: component.to_string(),
        key: spec.name.to_string(),
        expected: spec.ty.to_string(),
        given: describe(value),
    };
    let out_of_range = |expected: String| ParamError::OutOfRange {
        kind,
        component: component.to_string(),
        key: spec.name.to_string(),
        expected,
        given: value.to_string(),
    };
    let in_range = |x: f64| {
        if spec.range.contains(x) {
            Ok(())
        } else if !x.is_finite() {
            Err(out_of_range(format!("finite and {} ({})", spec.range, spec.doc)))
        } else {
            Err(out_of_range(format!("{} ({})", spec.range, spec.doc)))
        }
    };
    match (spec.ty, value) {
        (ParamType::Float, Value::Float(x)) => in_range(*x).map(|_| Value::Float(*x)),
        (ParamType::Float, Value::Int(i)) => in_range(*i as f64).map(|_| Value::Float(*i as f64)),
        (ParamType::Int, Value::Int(i)) => in_range(*i as f64).map(|_| Value::Int(*i)),
        (ParamType::Bool, Value::Bool(b)) => Ok(Value::Bool(*b)),
        (ParamType::Str, Value::Str(s)) => Ok(Value::Str(s.clone())),
        (ParamType::Choice(options), Value::Str(s)) => options
            .iter()
            .find(|o| normalize(o) == normalize(s))
            .map(|o| Value::Str(o.to_string()))
            .ok_or_else(|| out_of_range(format!("one of {}", options.join(", ")))),
        (ParamType::FloatList(len), Value::List(items)) => {
            if let Some(n) = len {
                if items.len() != n {
                    return Err(out_of_range(format!("a list of exactly {n} floats")));
                }
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let x = match item {
                    Value::Float(x) => *x,
                    Value::Int(i) => *i as f64,
                    _ => return Err(wrong()),
                };
                in_range(x)?;
                out.push(Value::Float(x));
            }
            Ok(Value::List(out))
        }
        (ParamType::IntList, Value::List(items)) => {
            for item in items {
                match item {
                    Value::Int(i) => in_range(*i as f64)?,
                    _ => return Err(wrong()),
                }
            }
            Ok(value.clone())
        }
        (ParamType::IntPair(_), Value::Int(i)) => in_range(*i as f64).map(|_| Value::Int(*i)),
        (ParamType::IntPair(_), Value::List(items)) => {
            if items.len() != 2 {
                return Err(out_of_range(format!("{} (a list of exactly 2 integers [h, w])", spec.ty)));
            }
            for item in items {
                match item {
                    Value::Int(i) => in_range(*i as f64)?,
                    _ => return Err(wrong()),
                }
            }
            Ok(value.clone())
        }
        (ParamType::IntPair(words), Value::Str(s)) => words
            .iter()
            .find(|w| normalize(w) == normalize(s))
            .map(|w| Value::Str(w.to_string()))
            .ok_or_else(|| out_of_range(spec.ty.to_string())),
        _ => Err(wrong()),
    }
}
