//! The [`Loss`] trait, its [`Target`]s, and the registered losses: `cross_entropy` (alias
//! `ce`), `nll`, `mse` and `bce_with_logits`.

mod bce_with_logits;
mod cross_entropy;
mod mse;
mod nll;

pub use bce_with_logits::BceWithLogits;
pub use cross_entropy::CrossEntropy;
pub use mse::Mse;
pub use nll::Nll;

use crate::LayerError;
use nabla_autograd::{Reduction, Var};
use nabla_registry::{ParamError, ParamType, ParamValue, Params, Value};
use nabla_tensor::ndarray::{ArrayD, ArrayViewD};
use nabla_tensor::{pool, Element};

/// What a model's output is compared with.
#[derive(Clone, Debug)]
pub enum Target<'a, T> {
    /// One class index per sample (`[N]`), for classification.
    Classes(&'a [usize]),
    /// Target values of the output's shape (regression targets, binary labels, class
    /// probabilities).
    Values(ArrayViewD<'a, T>),
}

impl<T> Target<'_, T> {
    /// `"class indices"` or `"values"`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Classes(_) => "class indices",
            Target::Values(_) => "values",
        }
    }
}

/// A loss function: the model's output and a target in, a scalar [`Var`] out (for the
/// `sum`/`mean` reductions) to call `backward` on.
///
/// Object-safe; the registry builds `Box<dyn Loss<f32>>`. Losses are stateless, so
/// `forward` takes `&self`.
pub trait Loss<T: Element = f32> {
    /// The registered name (`"cross_entropy"`).
    fn name(&self) -> &str;

    /// The loss of `output` against `target`.
    ///
    /// # Errors
    /// A target of a kind the loss does not take, shapes that do not match (naming them), a
    /// class index out of range.
    fn forward(&self, output: &Var<T>, target: &Target<'_, T>) -> Result<Var<T>, LayerError>;

    /// A short description with the hyper-parameters (`cross_entropy(label_smoothing=0.1,
    /// reduction=mean)`).
    fn describe(&self) -> String;
}

/// Prints [`Loss::describe`].
impl<T: Element> std::fmt::Debug for dyn Loss<T> + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The `reduction` hyper-parameter of every loss: the registry offers `mean` and `sum` only,
/// because a trained loss must be a scalar, while the constructors also take
/// [`Reduction::None`] (per-sample losses). A choice over a type of `nabla-autograd`, so its
/// [`ParamValue`] is written here rather than derived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReductionParam(pub(crate) Reduction);

impl ReductionParam {
    /// PyTorch's spelling.
    pub(crate) fn as_str(&self) -> &'static str {
        match self.0 {
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
            Reduction::None => "none",
        }
    }
}

impl ParamValue for ReductionParam {
    const TYPE: ParamType = ParamType::Choice(&["mean", "sum"]);

    fn read(params: &Params, key: &str) -> Result<Self, ParamError> {
        match params.str(key)? {
            "mean" => Ok(ReductionParam(Reduction::Mean)),
            "sum" => Ok(ReductionParam(Reduction::Sum)),
            other => Err(params.invalid(format!("{key} must be mean or sum, got '{other}'"))),
        }
    }

    fn to_value(&self) -> Option<Value> {
        Some(Value::Str(self.as_str().to_string()))
    }
}

/// A loss whose one hyper-parameter is its `reduction` (`mse`, `nll`, `bce_with_logits`): the
/// struct, with the doc comment given, with `new(reduction)` and `reduction()`; its [`Loss`]
/// impl, whose `forward` evaluates the expression given with the output, the target and the
/// [`Reduction`] bound to the names given, and which describes itself as
/// `name(reduction=...)`; its registration under `name` with the optional aliases. With
/// `elementwise: op` instead of `forward`, the loss is `op` of the output and its
/// [`dense_target`].
macro_rules! reduction_loss {
    // An elementwise loss of the output and its dense target ([`dense_target`]): the op
    // `$op(output, target, reduction)` of `nabla-autograd`.
    ($(#[$doc:meta])* $ty:ident,
     name: $name:literal,
     $(aliases: [$($alias:expr),* $(,)?],)?
     summary: $summary:literal,
     elementwise: $op:path $(,)?) => {
        $crate::losses::reduction_loss! {
            $(#[$doc])*
            $ty,
            name: $name,
            $(aliases: [$($alias),*],)?
            summary: $summary,
            forward: |output, target, reduction| {
                let target = $crate::losses::dense_target($name, output, target)?;
                Ok($op(output, &target, reduction)?)
            },
        }
    };
    ($(#[$doc:meta])* $ty:ident,
     name: $name:literal,
     $(aliases: [$($alias:expr),* $(,)?],)?
     summary: $summary:literal,
     forward: |$output:ident, $target:ident, $reduction:ident| $forward:expr $(,)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, nabla_registry::HyperParams)]
        pub struct $ty {
            /// how per-sample losses are combined: mean | sum
            #[param(default = "mean")]
            reduction: $crate::losses::ReductionParam,
        }

        impl $ty {
            #[doc = concat!("A `", $name, "` loss with `reduction`.")]
            pub fn new(reduction: nabla_autograd::Reduction) -> Self {
                $ty { reduction: $crate::losses::ReductionParam(reduction) }
            }

            /// The reduction.
            pub fn reduction(&self) -> nabla_autograd::Reduction {
                self.reduction.0
            }
        }

        impl<T: nabla_tensor::Element> $crate::Loss<T> for $ty {
            fn name(&self) -> &str {
                $name
            }

            fn forward(
                &self,
                $output: &nabla_autograd::Var<T>,
                $target: &$crate::Target<'_, T>,
            ) -> Result<nabla_autograd::Var<T>, $crate::LayerError> {
                let $reduction = self.reduction.0;
                $forward
            }

            fn describe(&self) -> String {
                format!(concat!($name, "(reduction={})"), self.reduction.as_str())
            }
        }

        $crate::register_loss!($ty, name: $name, $(aliases: [$($alias),*],)? summary: $summary);
    };
}
use reduction_loss;

/// The dense target of an elementwise loss (`mse`, `bce_with_logits`) as a constant of the
/// output's shape: `Values` are copied as they are (the shapes must match); `Classes` are
/// turned into values: for an output `[N]` or `[N, 1]` the class itself (`0.0`/`1.0`/...),
/// for an output `[N, C]` with `C > 1` the one-hot rows.
pub(crate) fn dense_target<T: Element>(
    loss: &str,
    output: &Var<T>,
    target: &Target<'_, T>,
) -> Result<Var<T>, LayerError> {
    let shape = output.shape();
    match target {
        Target::Values(v) => {
            if v.shape() != shape.as_slice() {
                return Err(LayerError::invalid(
                    loss,
                    format!("target of shape {:?} for output of shape {shape:?}", v.shape()),
                ));
            }
            Ok(Var::constant(pool::copy_of(v)))
        }
        Target::Classes(classes) => {
            let n = shape.first().copied().unwrap_or(0);
            if shape.is_empty() || shape.len() > 2 || classes.len() != n {
                return Err(LayerError::invalid(
                    loss,
                    format!(
                        "{} class indices for output of shape {shape:?}; class targets need an output \
                         [N] or [N, C] with one class per sample",
                        classes.len()
                    ),
                ));
            }
            let c = if shape.len() == 2 { shape[1] } else { 1 };
            let mut dense: ArrayD<T> = pool::zeros(&shape);
            let flat = dense.as_slice_mut().expect("pooled arrays are contiguous");
            if c == 1 {
                for (d, &k) in flat.iter_mut().zip(classes.iter()) {
                    *d = T::from_f64(k as f64);
                }
            } else {
                for (i, &k) in classes.iter().enumerate() {
                    if k >= c {
                        return Err(LayerError::invalid(
                            loss,
                            format!("class {k} at position {i} is out of range for {c} outputs"),
                        ));
                    }
                    flat[i * c + k] = T::one();
                }
            }
            Ok(Var::constant(dense))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_tensor::ndarray::{arr1, arr2};

    #[test]
    fn classes_become_one_hot_or_values() {
        let out = Var::<f64>::constant(arr2(&[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]).into_dyn());
        let t = dense_target("mse", &out, &Target::Classes(&[2, 0])).unwrap();
        assert_eq!(*t.value(), arr2(&[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]).into_dyn());
        let single = Var::<f64>::constant(arr2(&[[0.0], [0.0]]).into_dyn());
        let t = dense_target("bce_with_logits", &single, &Target::Classes(&[1, 0])).unwrap();
        assert_eq!(*t.value(), arr2(&[[1.0], [0.0]]).into_dyn());
        let flat = Var::<f64>::constant(arr1(&[0.0, 0.0]).into_dyn());
        let t = dense_target("bce_with_logits", &flat, &Target::Classes(&[0, 1])).unwrap();
        assert_eq!(*t.value(), arr1(&[0.0, 1.0]).into_dyn());
        assert!(dense_target("mse", &out, &Target::Classes(&[3, 0])).is_err());
        assert!(dense_target("mse", &out, &Target::Classes(&[0])).is_err());
        let wrong = arr2(&[[1.0, 2.0]]).into_dyn();
        assert!(dense_target("mse", &out, &Target::Values(wrong.view())).is_err());
    }
}
