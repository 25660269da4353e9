//! `normal(mean, std)`: `N(mean, std^2)`.

use crate::{register_initializer, Distribution, InitError, Initializer, Role, Validate};
use nabla_registry::{Alias, HyperParams};

/// Draws every element from `N(mean, std^2)` (PyTorch `normal_(tensor, mean=0, std=1)`);
/// `normal:std=0.02` is the GPT-2/BERT embedding initialization.
///
/// Hyper-parameters: `mean` (default 0), `std` (default 1, `>= 0`).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
#[hyper(check = crate::check)]
pub struct Normal {
    /// mean
    #[param(default = 0.0)]
    mean: f64,
    /// standard deviation
    #[param(default = 1.0, range = NON_NEGATIVE)]
    std: f64,
}

impl Normal {
    /// A normal initializer.
    ///
    /// # Errors
    /// [`InitError::Invalid`] unless `mean` is finite and `std` finite and `>= 0`.
    pub fn new(mean: f64, std: f64) -> Result<Normal, InitError> {
        Normal { mean, std }.validated()
    }
}

impl Validate for Normal {
    fn validate(&self) -> Result<(), InitError> {
        let Normal { mean, std } = *self;
        if mean.is_finite() && std.is_finite() && std >= 0.0 {
            return Ok(());
        }
        Err(InitError::Invalid {
            initializer: "normal",
            message: format!("needs a finite mean and a finite std >= 0, got mean {mean}, std {std}"),
        })
    }
}

impl Initializer for Normal {
    fn name(&self) -> &'static str {
        "normal"
    }
    fn distribution(&self, _shape: &[usize], _role: Role) -> Result<Distribution, InitError> {
        Ok(Distribution::Normal { mean: self.mean, std: self.std })
    }
}

register_initializer!(Normal, name: "normal", aliases: [Alias::new("gaussian")], summary: "N(mean, std^2)");

#[cfg(test)]
mod tests {
    use nabla_tensor::{ndarray::Array1, Rng};

    #[test]
    fn draws_with_the_given_moments() {
        let n = 20_000;
        let mut b = Array1::<f64>::zeros(n);
        crate::build("normal:mean=3,std=0.5")
            .unwrap()
            .fill_f64(b.view_mut().into_dyn(), &mut Rng::seed(4))
            .unwrap();
        let mean = b.mean().unwrap();
        let std = b.std(0.0);
        assert!((mean - 3.0).abs() < 6.0 * 0.5 / (n as f64).sqrt(), "{mean}");
        assert!((std - 0.5).abs() < 6.0 * 0.5 * (2.0 / n as f64).sqrt(), "{std}");
        assert!(crate::build("normal:std=-1").is_err());
    }
}
