//! `constant(value)`: every element `value`.

use crate::{register_initializer, Distribution, InitError, Initializer, Role, Validate};
use nabla_registry::HyperParams;

/// Fills with a constant (PyTorch `constant_(tensor, val)`).
///
/// Hyper-parameters: `value` (required, finite).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
#[hyper(check = crate::check)]
pub struct Constant {
    /// the value of every element
    value: f64,
}

impl Constant {
    /// A constant initializer.
    ///
    /// # Errors
    /// [`InitError::Invalid`] when `value` is not finite.
    pub fn new(value: f64) -> Result<Constant, InitError> {
        Constant { value }.validated()
    }

    /// The value.
    pub fn value(&self) -> f64 {
        self.value
    }
}

impl Validate for Constant {
    fn validate(&self) -> Result<(), InitError> {
        if self.value.is_finite() {
            return Ok(());
        }
        Err(InitError::Invalid {
            initializer: "constant",
            message: format!("value must be finite, got {}", self.value),
        })
    }
}

impl Initializer for Constant {
    fn name(&self) -> &'static str {
        "constant"
    }
    fn distribution(&self, _shape: &[usize], _role: Role) -> Result<Distribution, InitError> {
        Ok(Distribution::Constant(self.value))
    }
}

register_initializer!(Constant, name: "constant", summary: "every element equal to `value`");

/// Declares an initializer that fills with one fixed value and has no hyper-parameters
/// (`zeros`, `ones`): the unit struct (with its docs), its [`Initializer`] impl and its
/// registration with one alias.
macro_rules! fixed_value_initializer {
    (
        $(#[$doc:meta])*
        $ty:ident, value: $value:literal, name: $name:literal, alias: $alias:literal, summary: $summary:literal
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, $crate::__private::nabla_registry::HyperParams)]
        pub struct $ty;

        impl $crate::Initializer for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn distribution(
                &self,
                _shape: &[usize],
                _role: $crate::Role,
            ) -> Result<$crate::Distribution, $crate::InitError> {
                Ok($crate::Distribution::Constant($value))
            }
        }

        $crate::register_initializer!($ty, name: $name,
            aliases: [$crate::__private::nabla_registry::Alias::new($alias)],
            summary: $summary);
    };
}

pub(crate) use fixed_value_initializer;

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_tensor::{ndarray::Array2, Rng};

    #[test]
    fn fills_the_value_and_rejects_non_finite() {
        let mut w = Array2::<f32>::zeros((2, 2));
        crate::build("constant:value=-0.25")
            .unwrap()
            .fill_f32(w.view_mut().into_dyn(), &mut Rng::seed(0))
            .unwrap();
        assert!(w.iter().all(|&x| x == -0.25));
        assert!(Constant::new(f64::NAN).is_err());
        assert!(crate::build("constant:value=inf").is_err());
    }
}
