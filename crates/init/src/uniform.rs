//! `uniform(low, high)`: `U(low, high)`.

use crate::{register_initializer, Distribution, InitError, Initializer, Role, Validate};
use nabla_registry::HyperParams;

/// Draws every element from `U(low, high)` (PyTorch `uniform_(tensor, a=0, b=1)`; PyTorch
/// calls the bounds `a` and `b`). Mean `(low + high)/2`, variance `(high - low)^2 / 12`.
///
/// Hyper-parameters: `low` (default 0), `high` (default 1), finite with `low <= high`.
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
#[hyper(check = crate::check)]
pub struct Uniform {
    /// lower bound (PyTorch's `a`)
    #[param(default = 0.0)]
    low: f64,
    /// upper bound (PyTorch's `b`)
    #[param(default = 1.0)]
    high: f64,
}

impl Uniform {
    /// A uniform initializer on `[low, high)`.
    ///
    /// # Errors
    /// [`InitError::Invalid`] unless both are finite and `low <= high`.
    pub fn new(low: f64, high: f64) -> Result<Uniform, InitError> {
        Uniform { low, high }.validated()
    }
}

impl Validate for Uniform {
    fn validate(&self) -> Result<(), InitError> {
        let Uniform { low, high } = *self;
        if low.is_finite() && high.is_finite() && low <= high {
            return Ok(());
        }
        Err(InitError::Invalid {
            initializer: "uniform",
            message: format!("needs finite low <= high, got low = {low}, high = {high}"),
        })
    }
}

impl Initializer for Uniform {
    fn name(&self) -> &'static str {
        "uniform"
    }
    fn distribution(&self, _shape: &[usize], _role: Role) -> Result<Distribution, InitError> {
        Ok(Distribution::Uniform { low: self.low, high: self.high })
    }
}

register_initializer!(Uniform, name: "uniform", summary: "U(low, high)");

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_tensor::{ndarray::Array1, Rng};

    #[test]
    fn draws_in_bounds_also_for_1d_and_validates() {
        let mut b = Array1::<f64>::zeros(1000);
        crate::build("uniform:low=-0.1,high=0.3")
            .unwrap()
            .fill_f64(b.view_mut().into_dyn(), &mut Rng::seed(2))
            .unwrap();
        assert!(b.iter().all(|&x| (-0.1..0.3).contains(&x)));
        assert!(b.iter().any(|&x| x < 0.0) && b.iter().any(|&x| x > 0.2));
        assert!(Uniform::new(1.0, 0.0).is_err());
        assert!(Uniform::new(0.0, f64::INFINITY).is_err());
        assert_eq!(
            Uniform::new(0.5, 0.5).unwrap().distribution(&[3], Role::Weight).unwrap().bounds(),
            Some((0.5, 0.5))
        );
    }
}
