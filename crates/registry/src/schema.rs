//! Hyper-parameter schemas: what a component accepts, with types, defaults, ranges and docs.
//!
//! Schemas are `const` data so that they can live inside `inventory` records, which must be
//! built at compile time.

use crate::value::Value;
use std::fmt;

/// The type a hyper-parameter must have.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamType {
    /// A float; integers are accepted and widened.
    Float,
    /// A whole number.
    Int,
    /// `true` or `false`.
    Bool,
    /// Any string.
    Str,
    /// One of a fixed set of strings (compared case-, hyphen- and underscore-insensitively,
    /// stored in the spelling given here).
    Choice(&'static [&'static str]),
    /// A list of floats, of exactly this many elements when `Some`.
    FloatList(Option<usize>),
    /// A list of whole numbers (for example the milestones of a multi-step schedule).
    IntList,
    /// A size per spatial axis as PyTorch writes it: one whole number for both axes, a list
    /// of exactly two (`[h, w]`), or one of these words (a convolution's `"same"`; empty:
    /// numbers only). The range applies to every number.
    IntPair(&'static [&'static str]),
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::Float => f.write_str("float"),
            ParamType::Int => f.write_str("integer"),
            ParamType::Bool => f.write_str("boolean"),
            ParamType::Str => f.write_str("string"),
            ParamType::Choice(options) => write!(f, "one of {}", options.join("|")),
            ParamType::FloatList(Some(n)) => write!(f, "list of {n} floats"),
            ParamType::FloatList(None) => f.write_str("list of floats"),
            ParamType::IntList => f.write_str("list of integers"),
            ParamType::IntPair(words) => {
                f.write_str("integer or [h, w]")?;
                words.iter().try_for_each(|w| write!(f, " or \"{w}\""))
            }
        }
    }
}

/// A compile-time default value (or the absence of one).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Const {
    /// The parameter must be given.
    Required,
    /// The parameter may be left out and then has no value (the component decides).
    Unset,
    /// A boolean default.
    Bool(bool),
    /// An integer default.
    Int(i64),
    /// A float default.
    Float(f64),
    /// A string default.
    Str(&'static str),
    /// A list-of-floats default.
    Floats(&'static [f64]),
    /// A list-of-integers default.
    Ints(&'static [i64]),
}

impl Const {
    /// The runtime value of this default, if it has one.
    pub fn to_value(&self) -> Option<Value> {
        Some(match *self {
            Const::Required | Const::Unset => return None,
            Const::Bool(b) => Value::Bool(b),
            Const::Int(i) => Value::Int(i),
            Const::Float(x) => Value::Float(x),
            Const::Str(s) => Value::Str(s.to_string()),
            Const::Floats(xs) => Value::List(xs.iter().map(|&x| Value::Float(x)).collect()),
            Const::Ints(xs) => Value::List(xs.iter().map(|&x| Value::Int(x)).collect()),
        })
    }
}

impl fmt::Display for Const {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Const::Required => f.write_str("(required)"),
            Const::Unset => f.write_str("(unset)"),
            other => write!(f, "{}", other.to_value().expect("has a value")),
        }
    }
}

/// One end of a [`Range`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// No limit on this side.
    Unbounded,
    /// The value may equal the limit.
    Inclusive(f64),
    /// The value must be strictly beyond the limit.
    Exclusive(f64),
}

/// The valid numeric range of a hyper-parameter (applied to every element of a list).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Lower end.
    pub low: Bound,
    /// Upper end.
    pub high: Bound,
}

impl Range {
    /// Any value.
    pub const ANY: Range = Range { low: Bound::Unbounded, high: Bound::Unbounded };
    /// `x >= 0`.
    pub const NON_NEGATIVE: Range = Range::at_least(0.0);
    /// `x > 0`.
    pub const POSITIVE: Range = Range::greater_than(0.0);
    /// `0 <= x < 1` (decay rates, dropout probabilities).
    pub const UNIT_HALF_OPEN: Range = Range::closed_open(0.0, 1.0);
    /// `0 <= x <= 1`.
    pub const UNIT: Range = Range::closed(0.0, 1.0);

    /// `x >= low`.
    pub const fn at_least(low: f64) -> Range {
        Range { low: Bound::Inclusive(low), high: Bound::Unbounded }
    }
    /// `x > low`.
    pub const fn greater_than(low: f64) -> Range {
        Range { low: Bound::Exclusive(low), high: Bound::Unbounded }
    }
    /// `low <= x <= high`.
    pub const fn closed(low: f64, high: f64) -> Range {
        Range { low: Bound::Inclusive(low), high: Bound::Inclusive(high) }
    }
    /// `low <= x < high`.
    pub const fn closed_open(low: f64, high: f64) -> Range {
        Range { low: Bound::Inclusive(low), high: Bound::Exclusive(high) }
    }
    /// `low < x < high`.
    pub const fn open(low: f64, high: f64) -> Range {
        Range { low: Bound::Exclusive(low), high: Bound::Exclusive(high) }
    }

    /// Whether `x` lies in the range. NaN never does, unless the range is [`Range::ANY`];
    /// nor does an infinity on an unbounded side (`>= 0` means finite and non-negative), since
    /// an infinite learning rate, decay or epsilon can only make training diverge. A range
    /// that admits an infinity says so with an infinite bound (`Range::closed(1.0, f64::INFINITY)`).
    pub fn contains(&self, x: f64) -> bool {
        if *self == Range::ANY {
            return true;
        }
        let low_ok = match self.low {
            Bound::Unbounded => x > f64::NEG_INFINITY,
            Bound::Inclusive(l) => x >= l,
            Bound::Exclusive(l) => x > l,
        };
        let high_ok = match self.high {
            Bound::Unbounded => x < f64::INFINITY,
            Bound::Inclusive(h) => x <= h,
            Bound::Exclusive(h) => x < h,
        };
        low_ok && high_ok
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.low, self.high) {
            (Bound::Unbounded, Bound::Unbounded) => f.write_str("any"),
            (low, Bound::Unbounded) => match low {
                Bound::Inclusive(l) => write!(f, ">= {l}"),
                Bound::Exclusive(l) => write!(f, "> {l}"),
                Bound::Unbounded => unreachable!(),
            },
            (Bound::Unbounded, high) => match high {
                Bound::Inclusive(h) => write!(f, "<= {h}"),
                Bound::Exclusive(h) => write!(f, "< {h}"),
                Bound::Unbounded => unreachable!(),
            },
            (low, high) => {
                let (open, l) = match low {
                    Bound::Inclusive(l) => ('[', l),
                    Bound::Exclusive(l) => ('(', l),
                    Bound::Unbounded => unreachable!(),
                };
                let (close, h) = match high {
                    Bound::Inclusive(h) => (']', h),
                    Bound::Exclusive(h) => (')', h),
                    Bound::Unbounded => unreachable!(),
                };
                write!(f, "{open}{l}, {h}{close}")
            }
        }
    }
}

/// The declaration of one hyper-parameter: name, type, default, valid range and a one-line doc.
///
/// Built in `const` context with the constructors and builder methods:
/// ```
/// use nabla_registry::{ParamSpec, Range};
/// const LR: ParamSpec = ParamSpec::float("lr", 1e-3, "learning rate").range(Range::NON_NEGATIVE);
/// const BETAS: ParamSpec = ParamSpec::floats("betas", &[0.9, 0.999], "decay rates of the moments")
///     .len(2)
///     .range(Range::UNIT_HALF_OPEN);
/// assert_eq!(LR.name, "lr");
/// assert_eq!(BETAS.ty.to_string(), "list of 2 floats");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    /// The key, snake_case, PyTorch's spelling where PyTorch has one.
    pub name: &'static str,
    /// The accepted type.
    pub ty: ParamType,
    /// The default.
    pub default: Const,
    /// Valid numeric range (numbers and number lists only).
    pub range: Range,
    /// One line of documentation.
    pub doc: &'static str,
}

impl ParamSpec {
    /// A float parameter with a default.
    pub const fn float(name: &'static str, default: f64, doc: &'static str) -> ParamSpec {
        ParamSpec { name, ty: ParamType::Float, default: Const::Float(default), range: Range::ANY, doc }
    }
    /// An integer parameter with a default.
    pub const fn int(name: &'static str, default: i64, doc: &'static str) -> ParamSpec {
        ParamSpec { name, ty: ParamType::Int, default: Const::Int(default), range: Range::ANY, doc }
    }
    /// A boolean parameter with a default.
    pub const fn bool(name: &'static str, default: bool, doc: &'static str) -> ParamSpec {
        ParamSpec { name, ty: ParamType::Bool, default: Const::Bool(default), range: Range::ANY, doc }
    }
    /// A free string parameter with a default.
    pub const fn string(name: &'static str, default: &'static str, doc: &'static str) -> ParamSpec {
        ParamSpec { name, ty: ParamType::Str, default: Const::Str(default), range: Range::ANY, doc }
    }
    /// A parameter restricted to a set of strings, with a default from that set.
    pub const fn choice(
        name: &'static str,
        options: &'static [&'static str],
        default: &'static str,
        doc: &'static str,
    ) -> ParamSpec {
        ParamSpec {
            name,
            ty: ParamType::Choice(options),
            default: Const::Str(default),
            range: Range::ANY,
            doc,
        }
    }
    /// A list-of-floats parameter with a default.
    pub const fn floats(name: &'static str, default: &'static [f64], doc: &'static str) -> ParamSpec {
        ParamSpec {
            name,
            ty: ParamType::FloatList(None),
            default: Const::Floats(default),
            range: Range::ANY,
            doc,
        }
    }
    /// A list-of-integers parameter with a default.
    pub const fn ints(name: &'static str, default: &'static [i64], doc: &'static str) -> ParamSpec {
        ParamSpec { name, ty: ParamType::IntList, default: Const::Ints(default), range: Range::ANY, doc }
    }
    /// Restricts the valid range.
    pub const fn range(mut self, range: Range) -> ParamSpec {
        self.range = range;
        self
    }
    /// Requires a float list to have exactly `n` elements.
    pub const fn len(mut self, n: usize) -> ParamSpec {
        if let ParamType::FloatList(_) = self.ty {
            self.ty = ParamType::FloatList(Some(n));
        }
        self
    }
    /// Makes the parameter required (no default).
    pub const fn required(mut self) -> ParamSpec {
        self.default = Const::Required;
        self
    }
    /// Makes the parameter optional with no value when left out.
    pub const fn unset(mut self) -> ParamSpec {
        self.default = Const::Unset;
        self
    }
}
