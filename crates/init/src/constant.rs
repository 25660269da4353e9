//! `constant(value)`: every element `value`.

use crate::{param_error, register_initializer, Distribution, InitError, Initializer, Role};
use nabla_registry::ParamSpec;

/// Fills with a constant (PyTorch `constant_(tensor, val)`).
///
/// Hyper-parameters: `value` (required, finite).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constant {
    value: f64,
}

impl Constant {
    /// A constant initializer.
    ///
    /// # Errors
    /// [`InitError::Invalid`] when `value` is not finite.
    pub fn new(value: f64) -> Result<Constant, InitError> {
        if !value.is_finite() {
            return Err(InitError::Invalid {
                initializer: "constant",
                message: format!("value must be finite, got {value}"),
            });
        }
        Ok(Constant { value })
    }

    /// The value.
    pub fn value(&self) -> f64 {
        self.value
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

const PARAMS: &[ParamSpec] = &[ParamSpec::float("value", 0.0, "the value of every element").required()];

register_initializer! {
    name: "constant",
    summary: "every element equal to `value`",
    params: PARAMS,
    build: |p| Ok(Box::new(Constant::new(p.f64("value")?).map_err(|e| param_error(p, e))?)),
}

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
