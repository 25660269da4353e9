//! `lecun_normal` and `lecun_uniform`: variance `1 / fan_in`.
//!
//! LeCun, Bottou, Orr and Müller (1998), "Efficient BackProp", in *Neural Networks: Tricks of
//! the Trade*: draw weights with standard deviation `fan_in^(-1/2)` so that a unit's
//! weighted sum has unit variance when its inputs do. Equal to
//! `kaiming_*_(mode='fan_in', nonlinearity='linear')` in PyTorch, which has no LeCun
//! initializer of its own.

use crate::{nonzero, register_initializer, Distribution, InitError, Initializer, Role};
use nabla_registry::HyperParams;

/// `N(0, 1/fan_in)`: standard deviation `1 / sqrt(fan_in)` (LeCun et al. 1998).
///
/// A plain normal, as `kaiming_normal_(nonlinearity='linear')`; Keras's `lecun_normal`
/// instead draws a truncated normal at ±2 std rescaled by 1/0.8796 to the same variance.
/// No hyper-parameters; needs fans (a tensor of at least 2 dimensions, or a bias given its
/// weight's fans).
#[derive(Clone, Copy, Debug, Default, PartialEq, HyperParams)]
pub struct LecunNormal;

/// `U(-bound, bound)` with `bound = sqrt(3 / fan_in)`: variance `1 / fan_in`
/// (LeCun et al. 1998). No hyper-parameters; needs fans.
#[derive(Clone, Copy, Debug, Default, PartialEq, HyperParams)]
pub struct LecunUniform;

fn lecun_std(name: &'static str, shape: &[usize], role: Role) -> Result<f64, InitError> {
    let fan_in = nonzero(role.fans(shape)?.fan_in, name, "fan_in", shape)?;
    Ok(1.0 / fan_in.sqrt())
}

impl Initializer for LecunNormal {
    fn name(&self) -> &'static str {
        "lecun_normal"
    }
    fn distribution(&self, shape: &[usize], role: Role) -> Result<Distribution, InitError> {
        Ok(Distribution::Normal { mean: 0.0, std: lecun_std(self.name(), shape, role)? })
    }
}

impl Initializer for LecunUniform {
    fn name(&self) -> &'static str {
        "lecun_uniform"
    }
    fn distribution(&self, shape: &[usize], role: Role) -> Result<Distribution, InitError> {
        let bound = 3f64.sqrt() * lecun_std(self.name(), shape, role)?;
        Ok(Distribution::Uniform { low: -bound, high: bound })
    }
}

register_initializer!(LecunNormal, name: "lecun_normal", summary: "N(0, 1/fan_in) (LeCun et al. 1998)");

register_initializer!(LecunUniform, name: "lecun_uniform", summary: "U(±sqrt(3/fan_in)) (LeCun et al. 1998)");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variance_is_one_over_fan_in() {
        let d = LecunNormal.distribution(&[30, 16, 2], Role::Weight).unwrap();
        assert_eq!(d, Distribution::Normal { mean: 0.0, std: 1.0 / 32f64.sqrt() });
        let u = LecunUniform.distribution(&[30, 16, 2], Role::Weight).unwrap();
        assert!((u.std(&[30, 16, 2]) - 1.0 / 32f64.sqrt()).abs() < 1e-15);
        assert!(matches!(LecunUniform.distribution(&[30], Role::Weight), Err(InitError::NoFans { .. })));
        assert!(matches!(LecunNormal.distribution(&[3, 0], Role::Weight), Err(InitError::ZeroFan { .. })));
    }
}
