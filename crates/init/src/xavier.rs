//! `xavier_normal` and `xavier_uniform` (aliases `glorot_normal`, `glorot_uniform`):
//! variance `gain^2 * 2 / (fan_in + fan_out)`.
//!
//! Glorot and Bengio (2010), "Understanding the difficulty of training deep feedforward
//! neural networks", AISTATS: a compromise between keeping the forward activations'
//! variance (`1/fan_in`) and the backward gradients' variance (`1/fan_out`).

use crate::fan_scaled::{fan_scaled_pair, StdFromFans};
use crate::{check_gain, nonzero, InitError, Role, Validate};
use nabla_registry::HyperParams;

/// The shared setting (hyper-parameter) of [`XavierNormal`] and [`XavierUniform`].
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
#[hyper(check = crate::check)]
pub struct XavierConfig {
    /// scale factor (see calculate_gain)
    #[param(default = 1.0, range = NON_NEGATIVE)]
    gain: f64,
}

impl Default for XavierConfig {
    /// `gain = 1`, PyTorch's default.
    fn default() -> XavierConfig {
        XavierConfig { gain: 1.0 }
    }
}

impl XavierConfig {
    /// Glorot settings with `gain` (`calculate_gain("tanh")` = 5/3 for tanh nets).
    ///
    /// # Errors
    /// [`InitError::Invalid`] unless `gain` is finite and `>= 0`.
    pub fn new(gain: f64) -> Result<XavierConfig, InitError> {
        XavierConfig { gain }.validated()
    }
}

impl StdFromFans for XavierConfig {
    /// `gain * sqrt(2 / (fan_in + fan_out))`, as PyTorch computes it.
    fn std(&self, name: &'static str, shape: &[usize], role: Role) -> Result<f64, InitError> {
        let f = role.fans(shape)?;
        let sum = nonzero(f.fan_in + f.fan_out, name, "fan_in + fan_out", shape)?;
        Ok(self.gain * (2.0 / sum).sqrt())
    }
}

impl Validate for XavierConfig {
    fn validate(&self) -> Result<(), InitError> {
        check_gain("xavier", self.gain)
    }
}

fan_scaled_pair! {
    settings: XavierConfig,
    /// `N(0, std^2)` with `std = gain * sqrt(2 / (fan_in + fan_out))` (Glorot & Bengio 2010;
    /// PyTorch `xavier_normal_(tensor, gain=1)`).
    ///
    /// Hyper-parameters: `gain` (default 1, `>= 0`; `calculate_gain("tanh")` = 5/3 for tanh nets).
    normal: XavierNormal, name: "xavier_normal", alias: "glorot_normal",
        summary: "N(0, gain^2 * 2/(fan_in+fan_out)) (Glorot & Bengio 2010)";
    /// `U(-bound, bound)` with `bound = gain * sqrt(6 / (fan_in + fan_out))`, that is variance
    /// `gain^2 * 2 / (fan_in + fan_out)` (Glorot & Bengio 2010, their "normalized
    /// initialization"; PyTorch `xavier_uniform_(tensor, gain=1)`).
    ///
    /// Hyper-parameters as [`XavierNormal`].
    uniform: XavierUniform, name: "xavier_uniform", alias: "glorot_uniform",
        summary: "U(±gain*sqrt(6/(fan_in+fan_out))) (Glorot & Bengio 2010)";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Initializer;

    #[test]
    fn bounds_follow_the_formula() {
        let u = XavierUniform(XavierConfig::new(2.0).unwrap()).distribution(&[10, 20], Role::Weight).unwrap();
        let (low, high) = u.bounds().unwrap();
        assert!((high - 2.0 * 0.2f64.sqrt()).abs() < 1e-15 && low == -high);
        let n = XavierNormal(XavierConfig::new(1.0).unwrap()).distribution(&[10, 20], Role::Weight).unwrap();
        assert!((n.std(&[10, 20]) - (2.0f64 / 30.0).sqrt()).abs() < 1e-15);
        assert!(XavierConfig::new(-1.0).is_err());
        assert!(matches!(
            XavierNormal(XavierConfig::new(1.0).unwrap()).distribution(&[4], Role::Weight),
            Err(InitError::NoFans { .. })
        ));
    }
}
