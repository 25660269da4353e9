//! `he_normal` and `he_uniform` (aliases `kaiming_normal`, `kaiming_uniform`): variance
//! `gain^2 / fan`.
//!
//! He, Zhang, Ren and Sun (2015), "Delving Deep into Rectifiers: Surpassing Human-Level
//! Performance on ImageNet Classification", ICCV: a ReLU zeroes half of its input, so keeping
//! the variance of the activations needs `Var(w) = 2 / fan_in`; in general
//! `Var(w) = gain^2 / fan` with `gain = calculate_gain(nonlinearity, a)`.
//!
//! # Defaults, and how they differ from PyTorch
//! The defaults are the textbook He initialization: `nonlinearity = "relu"`,
//! `mode = "fan_in"`, `a = 0`. PyTorch's `kaiming_uniform_`/`kaiming_normal_` default to
//! `nonlinearity = "leaky_relu"` with `a = 0`, whose gain `sqrt(2 / (1 + 0^2))` is the same
//! `sqrt(2)`, so the defaults give identical numbers. The difference shows when only `a` is
//! changed: PyTorch's `kaiming_uniform_(w, a=0.2)` silently uses the leaky-ReLU gain, whereas
//! here `a` is the negative slope of `leaky_relu` only and giving `a != 0` with another
//! nonlinearity is an error; write `nonlinearity = "leaky_relu", a = 0.2`. The `kaiming_*`
//! aliases are plain aliases with the same defaults.

use crate::fan_scaled::{fan_scaled_pair, StdFromFans};
use crate::{nonzero, FanMode, InitError, Nonlinearity, Role, Validate};
use nabla_registry::HyperParams;

/// The shared settings (hyper-parameters) of [`HeNormal`] and [`HeUniform`].
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
#[hyper(check = crate::check)]
pub struct HeConfig {
    /// fan_in keeps forward variance, fan_out backward
    #[param(default = "fan_in")]
    mode: FanMode,
    /// the activation after the layer, for the gain
    #[param(default = "relu")]
    nonlinearity: Nonlinearity,
    /// negative slope of leaky_relu (only with nonlinearity = leaky_relu)
    #[param(default = 0.0)]
    a: f64,
}

impl Default for HeConfig {
    /// `fan_in`, `relu`, `a = 0`: the textbook He initialization.
    fn default() -> HeConfig {
        HeConfig { mode: FanMode::FanIn, nonlinearity: Nonlinearity::Relu, a: 0.0 }
    }
}

impl HeConfig {
    /// He settings: which fan, the nonlinearity for the gain and `a`, the negative slope of
    /// `leaky_relu`.
    ///
    /// # Errors
    /// [`InitError::Invalid`] when `a` is not finite, or is non-zero with a nonlinearity
    /// other than `leaky_relu`.
    pub fn new(mode: FanMode, nonlinearity: Nonlinearity, a: f64) -> Result<HeConfig, InitError> {
        HeConfig { mode, nonlinearity, a }.validated()
    }

    /// `calculate_gain(nonlinearity, a)`.
    pub fn gain(&self) -> f64 {
        // `a` was checked to be finite, the only failure of `gain`.
        self.nonlinearity.gain(Some(self.a)).unwrap_or(f64::NAN)
    }
}

impl StdFromFans for HeConfig {
    /// `gain / sqrt(fan)`, as PyTorch computes it.
    fn std(&self, name: &'static str, shape: &[usize], role: Role) -> Result<f64, InitError> {
        let fan = nonzero(role.fans(shape)?.get(self.mode), name, self.mode.as_str(), shape)?;
        Ok(self.gain() / fan.sqrt())
    }
}

impl Validate for HeConfig {
    fn validate(&self) -> Result<(), InitError> {
        let HeConfig { nonlinearity, a, .. } = *self;
        if !a.is_finite() {
            return Err(InitError::Invalid {
                initializer: "he",
                message: format!("a must be finite, got {a}"),
            });
        }
        if a != 0.0 && nonlinearity != Nonlinearity::LeakyRelu {
            return Err(InitError::Invalid {
                initializer: "he",
                message: format!(
                    "a = {a} is the negative slope of leaky_relu, but nonlinearity is {nonlinearity}; \
                     set nonlinearity = \"leaky_relu\" (PyTorch's kaiming default) or leave a = 0"
                ),
            });
        }
        Ok(())
    }
}

fan_scaled_pair! {
    settings: HeConfig,
    /// `N(0, std^2)` with `std = gain / sqrt(fan)` (He et al. 2015; PyTorch `kaiming_normal_`);
    /// with the defaults `std = sqrt(2 / fan_in)`.
    ///
    /// Hyper-parameters: `mode` (`fan_in` | `fan_out`, default `fan_in`), `nonlinearity`
    /// (default `relu`), `a` (negative slope of `leaky_relu`, default 0). See the module docs for
    /// the difference from PyTorch's defaults.
    normal: HeNormal, name: "he_normal", alias: "kaiming_normal",
        summary: "N(0, gain^2/fan), gain sqrt(2) for relu (He et al. 2015)";
    /// `U(-bound, bound)` with `bound = gain * sqrt(3 / fan)`, variance `gain^2 / fan`
    /// (He et al. 2015; PyTorch `kaiming_uniform_`); with the defaults `bound = sqrt(6 / fan_in)`.
    ///
    /// Hyper-parameters as [`HeNormal`].
    uniform: HeUniform, name: "he_uniform", alias: "kaiming_uniform",
        summary: "U(±gain*sqrt(3/fan)), gain sqrt(2) for relu (He et al. 2015)";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Initializer;

    #[test]
    fn defaults_equal_pytorch_kaiming_defaults() {
        let textbook =
            crate::build("kaiming_uniform").unwrap().distribution(&[10, 20], Role::Weight).unwrap();
        let pytorch = crate::build("he_uniform:nonlinearity=leaky_relu,a=0")
            .unwrap()
            .distribution(&[10, 20], Role::Weight)
            .unwrap();
        assert_eq!(textbook, pytorch);
        assert_eq!(textbook.bounds().unwrap().1, 2f64.sqrt() / 20f64.sqrt() * 3f64.sqrt());
    }

    #[test]
    fn fan_out_and_leaky_slope() {
        let d = crate::build("he_normal:mode=fan_out,nonlinearity=leaky_relu,a=0.2")
            .unwrap()
            .distribution(&[8, 4, 3], Role::Weight)
            .unwrap();
        let expected = (2.0f64 / 1.04).sqrt() / 24f64.sqrt();
        assert!((d.std(&[8, 4, 3]) - expected).abs() < 1e-15);
    }

    #[test]
    fn slope_without_leaky_relu_is_an_error() {
        let err = crate::build("he_uniform:a=0.2").unwrap_err().to_string();
        assert!(err.contains("leaky_relu"), "{err}");
        assert!(crate::build("he_uniform:nonlinearity=swish").is_err());
        assert!(matches!(
            HeNormal::default().distribution(&[5], Role::Weight),
            Err(InitError::NoFans { .. })
        ));
    }

    #[test]
    fn default_is_the_declared_defaults() {
        use nabla_registry::{ComponentKind, Params, RawParams};
        let none = RawParams::new();
        let p = Params::validate(ComponentKind::Initializer, "he_uniform", HeConfig::SCHEMA, &none, &none)
            .unwrap();
        assert_eq!(HeConfig::from_params(&p).unwrap(), HeConfig::default());
    }

    #[test]
    fn bias_uses_the_weight_fans() {
        let weight_fans = crate::fans(&[16, 50]).unwrap();
        let d = HeUniform::default().distribution(&[16], Role::Bias { weight_fans }).unwrap();
        assert_eq!(d, HeUniform::default().distribution(&[16, 50], Role::Weight).unwrap());
    }
}
