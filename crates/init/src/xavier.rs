//! `xavier_normal` and `xavier_uniform` (aliases `glorot_normal`, `glorot_uniform`):
//! variance `gain^2 * 2 / (fan_in + fan_out)`.
//!
//! Glorot and Bengio (2010), "Understanding the difficulty of training deep feedforward
//! neural networks", AISTATS: a compromise between keeping the forward activations'
//! variance (`1/fan_in`) and the backward gradients' variance (`1/fan_out`).

use crate::{
    check_gain, nonzero, register_initializer, Distribution, InitError, Initializer, Role, Validate,
};
use nabla_registry::{Alias, HyperParams};

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

/// `N(0, std^2)` with `std = gain * sqrt(2 / (fan_in + fan_out))` (Glorot & Bengio 2010;
/// PyTorch `xavier_normal_(tensor, gain=1)`).
///
/// Hyper-parameters: `gain` (default 1, `>= 0`; `calculate_gain("tanh")` = 5/3 for tanh nets).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct XavierNormal(pub XavierConfig);

/// `U(-bound, bound)` with `bound = gain * sqrt(6 / (fan_in + fan_out))`, that is variance
/// `gain^2 * 2 / (fan_in + fan_out)` (Glorot & Bengio 2010, their "normalized
/// initialization"; PyTorch `xavier_uniform_(tensor, gain=1)`).
///
/// Hyper-parameters as [`XavierNormal`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct XavierUniform(pub XavierConfig);

impl From<XavierConfig> for XavierNormal {
    fn from(config: XavierConfig) -> XavierNormal {
        XavierNormal(config)
    }
}

impl From<XavierConfig> for XavierUniform {
    fn from(config: XavierConfig) -> XavierUniform {
        XavierUniform(config)
    }
}

impl Initializer for XavierNormal {
    fn name(&self) -> &'static str {
        "xavier_normal"
    }
    fn distribution(&self, shape: &[usize], role: Role) -> Result<Distribution, InitError> {
        Ok(Distribution::Normal { mean: 0.0, std: self.0.std(self.name(), shape, role)? })
    }
}

impl Initializer for XavierUniform {
    fn name(&self) -> &'static str {
        "xavier_uniform"
    }
    fn distribution(&self, shape: &[usize], role: Role) -> Result<Distribution, InitError> {
        let bound = 3f64.sqrt() * self.0.std(self.name(), shape, role)?;
        Ok(Distribution::Uniform { low: -bound, high: bound })
    }
}

register_initializer!(XavierNormal, params: XavierConfig,
    name: "xavier_normal",
    aliases: [Alias::new("glorot_normal")],
    summary: "N(0, gain^2 * 2/(fan_in+fan_out)) (Glorot & Bengio 2010)",
);

register_initializer!(XavierUniform, params: XavierConfig,
    name: "xavier_uniform",
    aliases: [Alias::new("glorot_uniform")],
    summary: "U(±gain*sqrt(6/(fan_in+fan_out))) (Glorot & Bengio 2010)",
);

#[cfg(test)]
mod tests {
    use super::*;

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
