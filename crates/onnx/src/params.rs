//! Reading one layer's hyper-parameters out of its config table, with PyTorch's defaults for
//! keys an older config may lack. Values are read leniently where PyTorch is (a size is an
//! int or a pair), strictly otherwise, and every error names the layer and the key.

use crate::OnnxError;

/// The largest size, count or stride read from a config: far above any real layer, and low
/// enough that the shape arithmetic on such values cannot overflow.
pub(crate) const MAX_SIZE: i64 = 1 << 24;

/// One `[[model.layers]]` entry being exported.
pub(crate) struct Layer<'a> {
    /// Its position, which is also its state-dict prefix (`3.weight`).
    pub index: usize,
    /// The name as written.
    pub name: &'a str,
    /// Its hyper-parameters.
    pub params: &'a toml::Table,
}

/// `padding` of a convolution: explicit sizes (height, width) or PyTorch's strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Padding {
    /// Zero-padding of this many rows and columns on each side.
    Explicit([usize; 2]),
    /// Output size equal to the input size (stride 1); PyTorch puts an odd total's extra
    /// row or column at the bottom or right.
    Same,
}

impl Layer<'_> {
    pub fn param_error(&self, key: &str, message: impl Into<String>) -> OnnxError {
        OnnxError::Parameter {
            index: self.index,
            layer: self.name.to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    pub fn shape_error(&self, message: impl Into<String>) -> OnnxError {
        OnnxError::Shape { index: self.index, layer: self.name.to_string(), message: message.into() }
    }

    /// The state-dict name of this layer's tensor `param`.
    pub fn tensor_name(&self, param: &str) -> String {
        format!("{}.{param}", self.index)
    }

    /// The prefix of values and constants the exporter adds for this layer. It contains a
    /// `/`, which no state-dict name does, so it never collides with a checkpoint tensor.
    pub fn value_name(&self, what: &str) -> String {
        format!("{}/{what}", self.index)
    }

    pub fn has(&self, key: &str) -> bool {
        self.params.contains_key(key)
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, OnnxError> {
        match self.params.get(key) {
            None => Ok(default),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(v) => Err(self.param_error(key, format!("expects true or false, got {v}"))),
        }
    }

    pub fn f64(&self, key: &str, default: f64) -> Result<f64, OnnxError> {
        let x = match self.params.get(key) {
            None => return Ok(default),
            Some(toml::Value::Float(x)) => *x,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(v) => return Err(self.param_error(key, format!("expects a number, got {v}"))),
        };
        if x.is_finite() {
            Ok(x)
        } else {
            Err(self.param_error(key, format!("expects a finite number, got {x}")))
        }
    }

    pub fn i64(&self, key: &str, default: i64) -> Result<i64, OnnxError> {
        match self.params.get(key) {
            None => Ok(default),
            Some(v) => {
                integer(v).ok_or_else(|| self.param_error(key, format!("expects an integer, got {v}")))
            }
        }
    }

    /// A positive integer; `None` when absent.
    pub fn opt_positive(&self, key: &str) -> Result<Option<usize>, OnnxError> {
        match self.params.get(key) {
            None => Ok(None),
            Some(v) => match integer(v) {
                Some(i) if (1..=MAX_SIZE).contains(&i) => Ok(Some(i as usize)),
                _ => Err(self.param_error(key, format!("expects an integer in 1..={MAX_SIZE}, got {v}"))),
            },
        }
    }

    pub fn required_positive(&self, key: &str) -> Result<usize, OnnxError> {
        self.opt_positive(key)?.ok_or_else(|| self.param_error(key, "missing (required)"))
    }

    pub fn str(&self, key: &str, default: &str) -> Result<String, OnnxError> {
        match self.params.get(key) {
            None => Ok(default.to_string()),
            Some(toml::Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.param_error(key, format!("expects a string, got {v}"))),
        }
    }

    /// A list of integers; `None` when absent.
    pub fn int_list(&self, key: &str) -> Result<Option<Vec<i64>>, OnnxError> {
        match self.params.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    integer(v).ok_or_else(|| self.param_error(key, format!("expects integers, got {v}")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.param_error(key, format!("expects a list of integers, got {v}"))),
        }
    }

    /// A size per spatial dimension (height, width), written as PyTorch allows: an int for
    /// both, or a pair (a TOML array, or a string such as `"3,3"` or `"(3, 3)"`). `None` when
    /// absent; every entry must be at least `min`.
    pub fn pair(&self, key: &str, min: usize) -> Result<Option<[usize; 2]>, OnnxError> {
        let Some(value) = self.params.get(key) else { return Ok(None) };
        let bad = || {
            self.param_error(
                key,
                format!("expects an integer in {min}..={MAX_SIZE} or a pair of them, got {value}"),
            )
        };
        let items: Vec<i64> = match value {
            toml::Value::Array(items) => {
                items.iter().map(integer).collect::<Option<Vec<_>>>().ok_or_else(bad)?
            }
            toml::Value::String(s) => parse_int_tuple(s).ok_or_else(bad)?,
            v => vec![integer(v).ok_or_else(bad)?],
        };
        let pair = match items[..] {
            [a] => [a, a],
            [a, b] => [a, b],
            _ => return Err(bad()),
        };
        if pair.iter().any(|&x| x < min as i64 || x > MAX_SIZE) {
            return Err(bad());
        }
        Ok(Some([pair[0] as usize, pair[1] as usize]))
    }

    /// A convolution's `padding`: an int, a pair, `"valid"` (none) or `"same"`.
    pub fn padding(&self, key: &str) -> Result<Padding, OnnxError> {
        if let Some(toml::Value::String(s)) = self.params.get(key) {
            match s.trim().to_ascii_lowercase().as_str() {
                "same" => return Ok(Padding::Same),
                "valid" => return Ok(Padding::Explicit([0, 0])),
                _ => {}
            }
        }
        match self.pair(key, 0) {
            Ok(p) => Ok(Padding::Explicit(p.unwrap_or([0, 0]))),
            Err(_) => Err(self.param_error(
                key,
                format!(
                    "expects an integer in 0..={MAX_SIZE}, a pair of them, \"same\" or \"valid\", got {}",
                    self.params.get(key).map(ToString::to_string).unwrap_or_default()
                ),
            )),
        }
    }
}

/// An integer, or a float with no fractional part (a config may write `3.0`).
fn integer(v: &toml::Value) -> Option<i64> {
    match v {
        toml::Value::Integer(i) => Some(*i),
        toml::Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(*x as i64),
        _ => None,
    }
}

/// `"3"`, `"3,3"`, `"(3, 3)"`, `"[3, 3]"` or `"3x3"`.
fn parse_int_tuple(s: &str) -> Option<Vec<i64>> {
    let inner = s.trim().trim_start_matches(['(', '[']).trim_end_matches([')', ']']);
    let items: Vec<i64> = inner
        .split([',', 'x'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().ok())
        .collect::<Option<Vec<_>>>()?;
    (!items.is_empty()).then_some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn pairs_in_every_spelling() {
        let t = table(
            "a = 3\nb = [2, 5]\nc = \"(4, 1)\"\nd = \"2x3\"\ne = [1, 2, 3]\nf = 0\ng = \"x\"\nh = 3.0\ni = [7]",
        );
        let l = Layer { index: 4, name: "conv2d", params: &t };
        assert_eq!(l.pair("a", 1).unwrap(), Some([3, 3]));
        assert_eq!(l.pair("b", 1).unwrap(), Some([2, 5]));
        assert_eq!(l.pair("c", 1).unwrap(), Some([4, 1]));
        assert_eq!(l.pair("d", 1).unwrap(), Some([2, 3]));
        assert_eq!(l.pair("h", 1).unwrap(), Some([3, 3]));
        assert_eq!(l.pair("i", 1).unwrap(), Some([7, 7]));
        assert_eq!(l.pair("f", 0).unwrap(), Some([0, 0]));
        assert_eq!(l.pair("missing", 1).unwrap(), None);
        for bad in ["e", "f", "g"] {
            let e = l.pair(bad, 1).unwrap_err().to_string();
            assert!(e.starts_with(&format!("model.layers[4] ('conv2d'): {bad}: expects")), "{e}");
        }
    }

    #[test]
    fn padding_strings_and_scalars() {
        let t = table("a = \"same\"\nb = \"valid\"\nc = 2\nd = [1, 0]\ne = \"full\"\nf = -1");
        let l = Layer { index: 0, name: "conv2d", params: &t };
        assert_eq!(l.padding("a").unwrap(), Padding::Same);
        assert_eq!(l.padding("b").unwrap(), Padding::Explicit([0, 0]));
        assert_eq!(l.padding("c").unwrap(), Padding::Explicit([2, 2]));
        assert_eq!(l.padding("d").unwrap(), Padding::Explicit([1, 0]));
        assert_eq!(l.padding("missing").unwrap(), Padding::Explicit([0, 0]));
        assert!(l.padding("e").unwrap_err().to_string().contains("\"same\" or \"valid\""));
        assert!(l.padding("f").is_err());
    }

    #[test]
    fn scalars_with_defaults_and_type_errors() {
        let t = table("b = true\nx = 2\ny = 0.5\ns = \"tanh\"\nn = -3\nl = [1, -1]\nbad = \"q\"");
        let l = Layer { index: 1, name: "gelu", params: &t };
        assert!(l.bool("b", false).unwrap());
        assert!(l.bool("other", true).unwrap());
        assert!(l.bool("x", true).is_err());
        assert_eq!(l.f64("x", 0.0).unwrap(), 2.0);
        assert_eq!(l.f64("y", 0.0).unwrap(), 0.5);
        assert!(l.f64("s", 0.0).is_err());
        assert_eq!(l.i64("n", 0).unwrap(), -3);
        assert!(l.i64("y", 0).is_err());
        assert_eq!(l.opt_positive("x").unwrap(), Some(2));
        assert!(l.opt_positive("n").is_err());
        assert!(l.required_positive("missing").unwrap_err().to_string().contains("missing (required)"));
        assert_eq!(l.str("s", "none").unwrap(), "tanh");
        assert_eq!(l.int_list("l").unwrap(), Some(vec![1, -1]));
        assert!(l.int_list("bad").is_err());
        assert_eq!(l.tensor_name("weight"), "1.weight");
        assert_eq!(l.value_name("out"), "1/out");
    }
}
