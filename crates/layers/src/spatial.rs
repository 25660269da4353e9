//! The per-axis sizes of the 2-d layers, written as PyTorch writes them: one integer for both
//! axes or a pair `[h, w]` (and, for a convolution's padding, `"same"` / `"valid"`), and the
//! `[C, H, W]` check every image layer makes when a model is built.

use crate::LayerError;
use nabla_registry::{ParamError, ParamType, ParamValue, Params, Value};

/// A size per spatial axis `[h, w]` (kernel size, stride, dilation, pooling padding): in a
/// config `3` (both axes) or `[3, 5]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size2(pub [usize; 2]);

/// One element of a size as an unsigned integer (the schema's range has checked the sign).
fn count(params: &Params, key: &str, v: &Value) -> Result<usize, ParamError> {
    match v {
        Value::Int(i) => {
            usize::try_from(*i).map_err(|_| params.out_of_range(key, "integers >= 0", v.to_string()))
        }
        other => {
            Err(params.out_of_range(key, "an integer or a list of two integers [h, w]", other.to_string()))
        }
    }
}

/// Reads an integer or a pair of integers.
fn pair(params: &Params, key: &str, v: &Value) -> Result<[usize; 2], ParamError> {
    match v {
        Value::Int(_) => {
            let n = count(params, key, v)?;
            Ok([n, n])
        }
        Value::List(items) if items.len() == 2 => {
            Ok([count(params, key, &items[0])?, count(params, key, &items[1])?])
        }
        other => {
            Err(params.out_of_range(key, "an integer or a list of two integers [h, w]", other.to_string()))
        }
    }
}

fn to_value(p: [usize; 2]) -> Value {
    let int = |n: usize| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    if p[0] == p[1] {
        int(p[0])
    } else {
        Value::List(vec![int(p[0]), int(p[1])])
    }
}

fn missing(params: &Params, key: &str) -> ParamError {
    params.out_of_range(key, "an integer or a list of two integers [h, w]", "nothing".into())
}

impl ParamValue for Size2 {
    const TYPE: ParamType = ParamType::IntPair(&[]);
    fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
        let v = params.get(key).ok_or_else(|| missing(params, key))?;
        pair(params, key, v).map(Size2)
    }
    fn to_value(&self) -> Option<Value> {
        Some(to_value(self.0))
    }
}

/// A convolution's zero padding: `[ph, pw]` on both sides of each axis (`1` or `[1, 2]` in a
/// config), `"valid"` (none) or `"same"` (the output keeps the input size; stride 1 only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding2 {
    /// `[ph, pw]` on both sides.
    Explicit([usize; 2]),
    /// No padding.
    Valid,
    /// Output size = input size (PyTorch's split: the odd extra row and column at the end).
    Same,
}

impl ParamValue for Padding2 {
    const TYPE: ParamType = ParamType::IntPair(&["same", "valid"]);
    fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
        match params.get(key).ok_or_else(|| missing(params, key))? {
            Value::Str(s) if s == "same" => Ok(Padding2::Same),
            Value::Str(s) if s == "valid" => Ok(Padding2::Valid),
            v => pair(params, key, v).map(Padding2::Explicit),
        }
    }
    fn to_value(&self) -> Option<Value> {
        Some(match self {
            Padding2::Explicit(p) => to_value(*p),
            Padding2::Valid => Value::Str("valid".into()),
            Padding2::Same => Value::Str("same".into()),
        })
    }
}

/// The `[C, H, W]` of the samples flowing into the image layer `component`.
///
/// # Errors
/// [`LayerError::Invalid`] naming the layer and the shape, with the fix for flat data.
pub(crate) fn image(component: &str, input: &[usize]) -> Result<[usize; 3], LayerError> {
    match *input {
        [c, h, w] => Ok([c, h, w]),
        _ => Err(LayerError::invalid(
            component,
            format!(
                "expects image samples [C, H, W], got samples of shape {input:?}{}",
                if input.len() == 1 {
                    "; flat data needs an `unflatten` layer first (dim = 1, unflattened_size = [C, H, W])"
                } else {
                    ""
                }
            ),
        )),
    }
}

/// `[h, w]` in PyTorch's printing: `3` for `(3, 3)` is printed `(3, 3)` too.
pub(crate) fn show(p: [usize; 2]) -> String {
    format!("({}, {})", p[0], p[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_registry::{ComponentKind, Const, ParamSpec, Range, RawParams};

    fn validate(ty: ParamType, v: Value) -> Result<Params, ParamError> {
        let spec = [ParamSpec {
            name: "k",
            ty,
            default: Const::Required,
            range: Range::at_least(1.0),
            doc: "a size",
        }];
        let raw: RawParams = [("k".to_string(), v)].into_iter().collect();
        Params::validate(ComponentKind::Layer, "probe", &spec, &raw, &RawParams::new())
    }

    #[test]
    fn an_integer_or_a_pair_or_a_word() {
        let p = validate(Size2::TYPE, Value::Int(3)).unwrap();
        assert_eq!(Size2::read(&p, "k").unwrap(), Size2([3, 3]));
        assert_eq!(Size2([3, 3]).to_value(), Some(Value::Int(3)));
        let p = validate(Size2::TYPE, Value::List(vec![Value::Int(2), Value::Int(5)])).unwrap();
        assert_eq!(Size2::read(&p, "k").unwrap(), Size2([2, 5]));
        assert_eq!(Size2([2, 5]).to_value(), Some(Value::List(vec![Value::Int(2), Value::Int(5)])));
        for bad in [
            Value::Int(0),
            Value::List(vec![Value::Int(1)]),
            Value::List(vec![Value::Int(1), Value::Int(0)]),
            Value::List(vec![Value::Int(1), Value::Float(2.0)]),
            Value::Str("same".into()),
            Value::Float(2.0),
        ] {
            let err = validate(Size2::TYPE, bad.clone()).unwrap_err().to_string();
            assert!(err.contains("'k'") || err.contains("k"), "{bad:?}: {err}");
        }
        let p = validate(Padding2::TYPE, Value::Str("Same".into())).unwrap();
        assert_eq!(Padding2::read(&p, "k").unwrap(), Padding2::Same);
        let p = validate(Padding2::TYPE, Value::Str("valid".into())).unwrap();
        assert_eq!(Padding2::read(&p, "k").unwrap(), Padding2::Valid);
        let err = validate(Padding2::TYPE, Value::Str("full".into())).unwrap_err().to_string();
        assert!(err.contains("\"same\"") && err.contains("full"), "{err}");
        assert_eq!(ParamType::IntPair(&["same"]).to_string(), "integer or [h, w] or \"same\"");
    }

    #[test]
    fn images_are_checked() {
        assert_eq!(image("conv2d", &[1, 28, 28]).unwrap(), [1, 28, 28]);
        let err = image("conv2d", &[784]).unwrap_err().to_string();
        assert!(err.contains("conv2d") && err.contains("[784]") && err.contains("unflatten"), "{err}");
        assert!(image("max_pool2d", &[2, 3]).is_err());
    }
}
