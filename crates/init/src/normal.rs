//! `normal(mean, std)`: `N(mean, std^2)`.

use crate::{param_error, register_initializer, Distribution, InitError, Initializer, Role};
use nabla_registry::{ParamSpec, Range};

/// Draws every element from `N(mean, std^2)` (PyTorch `normal_(tensor, mean=0, std=1)`);
/// `normal:std=0.02` is the GPT-2/BERT embedding initialization.
///
/// Hyper-parameters: `mean` (default 0), `std` (default 1, `>= 0`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normal {
    mean: f64,
    std: f64,
}

impl Normal {
    /// A normal initializer.
    ///
    /// # Errors
    /// [`InitError::Invalid`] unless `mean` is finite and `std` finite and `>= 0`.
    pub fn new(mean: f64, std: f64) -> Result<Normal, InitError> {
        if !(mean.is_finite() && std.is_finite() && std >= 0.0) {
            return Err(InitError::Invalid {
                initializer: "normal",
                message: format!("needs a finite mean and a finite std >= 0, got mean {mean}, std {std}"),
            });
        }
        Ok(Normal { mean, std })
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

const PARAMS: &[ParamSpec] = &[
    ParamSpec::float("mean", 0.0, "mean"),
    ParamSpec::float("std", 1.0, "standard deviation").range(Range::NON_NEGATIVE),
];

register_initializer! {
    name: "normal",
    aliases: [nabla_registry::Alias::new("gaussian")],
    summary: "N(mean, std^2)",
    params: PARAMS,
    build: |p| Ok(Box::new(Normal::new(p.f64("mean")?, p.f64("std")?).map_err(|e| param_error(p, e))?)),
}

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
