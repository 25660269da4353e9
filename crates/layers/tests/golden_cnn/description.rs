//! Layer descriptions as the golden files write a model's layers, parsed into registry specs
//! (the name and raw hyper-parameters a `[[model.layers]]` table of a TOML config gives).
//!
//! A description is a layer name, optionally followed by arguments in parentheses:
//!
//! * `relu`, `ReLU()`, `flatten`: a name alone. Names are resolved by the layer registry, so
//!   PyTorch's class names (`Conv2d`, `BatchNorm2d`) and nabla's (`conv2d`) both work; an
//!   unknown name is an error.
//! * `conv2d(1->4, k3, padding 1)`, `linear(->10)`, `max_pool2d(2)`: the golden README's short
//!   form. `A->B` is the input and output size (`in_channels`/`out_channels`, or
//!   `in_features`/`out_features`; `A` may be left out, then it is inferred from the previous
//!   layer), `kN` or `kNxM` the kernel size, `key value` a hyper-parameter.
//! * `Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))`,
//!   `BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)`: PyTorch's
//!   module repr. Positional arguments follow PyTorch's constructor order; `key=value` is a
//!   hyper-parameter.
//!
//! Values are integers, floats, `True`/`False`, tuples or lists `(3, 3)`, quoted or bare words
//! (`'zeros'`, `same`). `None` is PyTorch's "default" only for a pooling `stride` and
//! `divisor_override`, where it leaves the key out; anywhere else it is an error (BatchNorm's
//! `momentum=None` is a different algorithm, not the default). PyTorch's `inplace` only
//! concerns memory and is dropped. Every other key is passed to the registry, which rejects
//! keys the layer does not have.

use nabla_layers::LayerRegistration;
use nabla_registry::{resolve, RawParams, Spec, Value};
use std::fmt;

/// A description that cannot be turned into a spec, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct DescriptionError {
    /// The description as written.
    pub description: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for DescriptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "layer description {:?}: {}", self.description, self.message)
    }
}

impl std::error::Error for DescriptionError {}

/// How the arguments of a description map to the hyper-parameters of a registered layer.
struct Signature {
    /// The hyper-parameters taken by position, in the order of PyTorch's constructor.
    positional: &'static [&'static str],
    /// The keys of `A->B`, if the layer has an input and an output size.
    arrow: Option<(&'static str, &'static str)>,
}

/// The signature of the layer registered as `name` (its canonical name).
fn signature(name: &str) -> Signature {
    let (positional, arrow): (&'static [&'static str], _) = match name {
        "conv2d" => (&nabla_golden::CONV2D_ARGUMENTS, Some(("in_channels", "out_channels"))),
        "linear" => (&["in_features", "out_features", "bias"], Some(("in_features", "out_features"))),
        "batch_norm1d" | "batch_norm2d" => {
            (&["num_features", "eps", "momentum", "affine", "track_running_stats"], None)
        }
        // PyTorch's fifth is `return_indices`, which nabla's registry rejects by name.
        "max_pool2d" => {
            (&["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"], None)
        }
        "avg_pool2d" => (
            &["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"],
            None,
        ),
        "adaptive_avg_pool2d" => (&["output_size"], None),
        "dropout" | "dropout2d" => (&["p"], None),
        "flatten" => (&["start_dim", "end_dim"], None),
        "unflatten" => (&["dim", "unflattened_size"], None),
        "leaky_relu" => (&["negative_slope"], None),
        "softmax" | "log_softmax" => (&["dim"], None),
        "gelu" => (&["approximate"], None),
        _ => (&[], None),
    };
    Signature { positional, arrow }
}

/// The keys for which PyTorch's `None` means "the default", so that it leaves the key out.
const NONE_IS_DEFAULT: [&str; 2] = ["stride", "divisor_override"];

/// Parses one layer description into a spec with the layer's canonical registry name.
///
/// # Errors
/// An unknown layer name (with the registry's suggestions), unbalanced parentheses, an
/// argument that is not a value, a key given twice, more positional arguments than the layer
/// takes, a positional argument after a keyword one, or `None` where it is not a default.
pub fn parse(description: &str) -> Result<Spec, DescriptionError> {
    let error = |message: String| DescriptionError { description: description.to_string(), message };
    let text = description.trim();
    let (name, args) = match text.find('(') {
        Some(open) => {
            let inner = text[open + 1..]
                .strip_suffix(')')
                .ok_or_else(|| error("the arguments do not end with ')'".into()))?;
            (text[..open].trim(), inner)
        }
        None => (text, ""),
    };
    if name.is_empty() {
        return Err(error("no layer name".into()));
    }
    let record = resolve::<LayerRegistration>(name).map_err(|e| error(e.to_string()))?;
    let canonical = record.info().name;
    let sig = signature(canonical);
    let mut params = RawParams::new();
    let mut set = |key: &str, value: Option<Value>| -> Result<(), DescriptionError> {
        if params.contains_key(key) {
            return Err(error(format!("{key} is given twice")));
        }
        match value {
            Some(v) => {
                params.insert(key.to_string(), v);
            }
            None if NONE_IS_DEFAULT.contains(&key) => {}
            None => return Err(error(format!("{key} = None is not a default nabla can take"))),
        }
        Ok(())
    };
    let mut positional = 0;
    let mut keyword_seen = false;
    for arg in split_top_level(args).map_err(error)? {
        let arg = arg.trim();
        if arg.is_empty() {
            // `ReLU()` has no arguments; an empty one between commas is malformed.
            if args.trim().is_empty() {
                continue;
            }
            return Err(error("an empty argument".into()));
        }
        if let Some((from, to)) = arg.split_once("->") {
            let (in_key, out_key) = sig
                .arrow
                .ok_or_else(|| error(format!("{canonical} has no input and output size for {arg:?}")))?;
            if !from.trim().is_empty() {
                set(in_key, value(from).map_err(error)?)?;
            }
            set(out_key, value(to).map_err(error)?)?;
            keyword_seen = true;
        } else if let Some(kernel) = kernel_shorthand(arg) {
            if !sig.positional.contains(&"kernel_size") {
                return Err(error(format!("{canonical} has no kernel size for {arg:?}")));
            }
            set("kernel_size", Some(kernel))?;
            keyword_seen = true;
        } else if let Some((key, v)) = keyword(arg) {
            if key != "inplace" {
                set(key, value(v).map_err(error)?)?;
            }
            keyword_seen = true;
        } else {
            if keyword_seen {
                return Err(error(format!("positional argument {arg:?} after a keyword argument")));
            }
            let key = sig.positional.get(positional).ok_or_else(|| {
                error(format!(
                    "{canonical} takes {} positional argument(s) ({}), got another: {arg:?}",
                    sig.positional.len(),
                    sig.positional.join(", ")
                ))
            })?;
            set(key, value(arg).map_err(error)?)?;
            positional += 1;
        }
    }
    Ok(Spec { name: canonical.to_string(), params })
}

/// `key=value` or `key value` with an identifier key, split at the first `=` or blank outside
/// brackets.
fn keyword(arg: &str) -> Option<(&str, &str)> {
    let split = arg.find('=').or_else(|| arg.find(char::is_whitespace))?;
    let (key, rest) = (arg[..split].trim(), &arg[split + 1..]);
    let identifier = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (identifier && !key.contains(['(', '['])).then_some((key, rest.trim()))
}

/// `k3` or `k3x5`: a kernel size.
fn kernel_shorthand(arg: &str) -> Option<Value> {
    let sizes = arg.strip_prefix('k')?;
    let parts: Vec<&str> = sizes.split('x').collect();
    let numbers: Option<Vec<i64>> = parts
        .iter()
        .map(|p| if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) { p.parse().ok() } else { None })
        .collect();
    match numbers?.as_slice() {
        [k] => Some(Value::Int(*k)),
        [h, w] => Some(Value::List(vec![Value::Int(*h), Value::Int(*w)])),
        _ => None,
    }
}

/// Splits at the commas outside parentheses, brackets and quotes.
fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let (mut depth, mut quote, mut start) = (0i32, None, 0);
    let mut parts = Vec::new();
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unbalanced {c:?} in {s:?}"));
                }
            }
            (None, ',') if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 || quote.is_some() {
        return Err(format!("unbalanced brackets or quotes in {s:?}"));
    }
    parts.push(&s[start..]);
    Ok(parts)
}

/// One value; `None` for PyTorch's `None`.
fn value(text: &str) -> Result<Option<Value>, String> {
    let t = text.trim();
    let bracketed = |open: char, close: char| t.strip_prefix(open).and_then(|r| r.strip_suffix(close));
    if let Some(inner) = bracketed('(', ')').or_else(|| bracketed('[', ']')) {
        let mut items = Vec::new();
        let parts = split_top_level(inner)?;
        let n = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            // Python's one-element tuple `(3,)` ends with an empty item.
            if part.trim().is_empty() && i == n - 1 && n > 1 {
                continue;
            }
            items.push(value(part)?.ok_or_else(|| format!("None inside {t:?}"))?);
        }
        return Ok(Some(Value::List(items)));
    }
    let quoted = |q: char| t.strip_prefix(q).and_then(|r| r.strip_suffix(q));
    if let Some(s) = quoted('\'').or_else(|| quoted('"')) {
        return Ok(Some(Value::Str(s.to_string())));
    }
    match t {
        "None" => return Ok(None),
        "True" | "true" => return Ok(Some(Value::Bool(true))),
        "False" | "false" => return Ok(Some(Value::Bool(false))),
        _ => {}
    }
    if let Ok(n) = t.parse::<i64>() {
        return Ok(Some(Value::Int(n)));
    }
    if let Ok(x) = t.parse::<f64>() {
        if x.is_finite() {
            return Ok(Some(Value::Float(x)));
        }
    }
    let word = t.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if word {
        Ok(Some(Value::Str(t.to_string())))
    } else {
        Err(format!("{t:?} is not a value (a number, True/False, a tuple or a word)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, pairs: &[(&str, Value)]) -> Spec {
        Spec { name: name.into(), params: pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect() }
    }

    fn pair(a: i64, b: i64) -> Value {
        Value::List(vec![Value::Int(a), Value::Int(b)])
    }

    #[test]
    fn the_readme_short_form() {
        assert_eq!(
            parse("conv2d(1->4, k3, padding 1)").unwrap(),
            spec(
                "conv2d",
                &[
                    ("in_channels", Value::Int(1)),
                    ("out_channels", Value::Int(4)),
                    ("kernel_size", Value::Int(3)),
                    ("padding", Value::Int(1))
                ]
            )
        );
        assert_eq!(parse("linear(->10)").unwrap(), spec("linear", &[("out_features", Value::Int(10))]));
        assert_eq!(
            parse("batch_norm2d(4)").unwrap(),
            spec("batch_norm2d", &[("num_features", Value::Int(4))])
        );
        assert_eq!(parse("max_pool2d(2)").unwrap(), spec("max_pool2d", &[("kernel_size", Value::Int(2))]));
        assert_eq!(parse(" relu ").unwrap(), spec("relu", &[]));
        assert_eq!(parse("conv2d(2->6, k3x5, stride 2)").unwrap().params["kernel_size"], pair(3, 5));
    }

    #[test]
    fn pytorch_module_reprs() {
        assert_eq!(
            parse("Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)").unwrap(),
            spec(
                "conv2d",
                &[
                    ("in_channels", Value::Int(1)),
                    ("out_channels", Value::Int(4)),
                    ("kernel_size", pair(3, 3)),
                    ("stride", pair(1, 1)),
                    ("padding", pair(1, 1)),
                    ("bias", Value::Bool(false)),
                ]
            )
        );
        assert_eq!(
            parse("BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)").unwrap(),
            spec(
                "batch_norm2d",
                &[
                    ("num_features", Value::Int(4)),
                    ("eps", Value::Float(1e-5)),
                    ("momentum", Value::Float(0.1)),
                    ("affine", Value::Bool(true)),
                    ("track_running_stats", Value::Bool(true)),
                ]
            )
        );
        assert_eq!(parse("ReLU()").unwrap(), spec("relu", &[]));
        assert_eq!(parse("ReLU(inplace=True)").unwrap(), spec("relu", &[]));
        assert_eq!(
            parse("MaxPool2d(kernel_size=2, stride=None, padding=0, dilation=1, ceil_mode=False)").unwrap(),
            spec(
                "max_pool2d",
                &[
                    ("kernel_size", Value::Int(2)),
                    ("padding", Value::Int(0)),
                    ("dilation", Value::Int(1)),
                    ("ceil_mode", Value::Bool(false)),
                ]
            )
        );
        assert_eq!(
            parse("Conv2d(4, 4, 3, padding='same', padding_mode=\"zeros\")").unwrap().params["padding"],
            Value::Str("same".into())
        );
        assert_eq!(parse("AdaptiveAvgPool2d((2, 3))").unwrap().params["output_size"], pair(2, 3));
        assert_eq!(
            parse("AdaptiveAvgPool2d(output_size=(1,))").unwrap().params["output_size"],
            Value::List(vec![Value::Int(1)])
        );
        assert_eq!(
            parse("Flatten(start_dim=1, end_dim=-1)").unwrap(),
            spec("flatten", &[("start_dim", Value::Int(1)), ("end_dim", Value::Int(-1))])
        );
        assert_eq!(
            parse("Dropout(p=0.25, inplace=False)").unwrap(),
            spec("dropout", &[("p", Value::Float(0.25))])
        );
    }

    fn message(description: &str) -> String {
        parse(description).unwrap_err().to_string()
    }

    #[test]
    fn unknown_and_malformed_descriptions_are_errors() {
        let m = message("conv3d(1->4, k3)");
        assert!(m.contains("\"conv3d(1->4, k3)\"") && m.contains("conv3d"), "{m}");
        for (description, says) in [
            ("Conv2D(1, 4, 3", "do not end with ')'"),
            ("", "no layer name"),
            ("relu(1->2)", "relu has no input and output size"),
            ("linear(k3)", "linear has no kernel size"),
            ("conv2d(1->4, k3, padding 1, padding 2)", "padding is given twice"),
            ("max_pool2d(2, 2, 0, 1, False, False, 7)", "takes 6 positional"),
            ("conv2d(kernel_size=3, 4)", "after a keyword"),
            ("batch_norm2d(4, momentum=None)", "momentum = None"),
            ("conv2d(1->4, k3, padding 1+)", "is not a value"),
            ("conv2d(1->4, k3, padding (1, 1)", "unbalanced"),
            ("conv2d(1->4,, k3)", "an empty argument"),
        ] {
            let m = message(description);
            assert!(m.contains(says), "{description:?}: {m}");
        }
    }
}
