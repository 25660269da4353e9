//! Dynamically typed hyper-parameter values, as they arrive from TOML or the command line.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One hyper-parameter value before or after validation.
///
/// Integers and floats are kept apart so that the compact form and TOML round-trip exactly;
/// validation widens an integer to a float where the schema asks for a float.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (a name such as `"fan_in"` or `"he_uniform"`).
    Str(String),
    /// A list, such as Adam's `betas = [0.9, 0.999]`.
    List(Vec<Value>),
}

impl Value {
    /// A short description of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::List(_) => "a list",
        }
    }

    /// The value as a float, an integer widened (what a float key accepts), else `None`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The value as an integer, else `None`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a boolean, else `None`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as a string, else `None`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Converts a TOML value; dates and tables are not hyper-parameters and are rejected
    /// with a description of what was found.
    pub fn from_toml(value: &toml::Value) -> Result<Value, String> {
        Ok(match value {
            toml::Value::Boolean(b) => Value::Bool(*b),
            toml::Value::Integer(i) => Value::Int(*i),
            toml::Value::Float(f) => Value::Float(*f),
            toml::Value::String(s) => Value::Str(s.clone()),
            toml::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_toml).collect::<Result<Vec<_>, _>>()?)
            }
            toml::Value::Datetime(d) => return Err(format!("a date ({d})")),
            toml::Value::Table(_) => return Err("a table".to_string()),
        })
    }

    /// Converts to a TOML value (non-finite floats are written as TOML's `inf`/`nan`).
    pub fn to_toml(&self) -> toml::Value {
        match self {
            Value::Bool(b) => toml::Value::Boolean(*b),
            Value::Int(i) => toml::Value::Integer(*i),
            Value::Float(f) => toml::Value::Float(*f),
            Value::Str(s) => toml::Value::String(s.clone()),
            Value::List(items) => toml::Value::Array(items.iter().map(Value::to_toml).collect()),
        }
    }
}

/// True when `s` can be written in the compact form without quotes and reads back as a string.
pub(crate) fn is_bare_word(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !matches!(s.to_ascii_lowercase().as_str(), "true" | "false" | "inf" | "infinity" | "nan")
}

/// Writes the value in the compact command-line syntax (`3e-4`, `[0.9,0.98]`, `fan_in`, `"a b"`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            // `{:?}` is Rust's shortest round-trip representation and always marks a float
            // (`1.0`, `1e-8`), so integers and floats stay apart after a round trip.
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) if is_bare_word(s) => write!(f, "{s}"),
            Value::Str(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i64::from(i))
    }
}

impl From<usize> for Value {
    fn from(i: usize) -> Value {
        // Sizes beyond i64::MAX are saturated; validation then reports them out of range.
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}
