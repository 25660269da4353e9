//! `torch_linear_default`: what PyTorch's `nn.Linear` (and `nn.ConvNd`) do in
//! `reset_parameters`.

use crate::{nonzero, register_initializer, Distribution, InitError, Initializer, Nonlinearity, Role};
use nabla_registry::{Alias, HyperParams};

/// PyTorch's default for Linear and convolution layers.
///
/// * Weight ([`Role::Weight`]): `kaiming_uniform_(w, a=sqrt(5))`, i.e. leaky-ReLU gain
///   `sqrt(2 / (1 + 5)) = sqrt(1/3)` and `bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)`:
///   `U(±1/sqrt(fan_in))`, variance `1 / (3 fan_in)`.
/// * Bias ([`Role::Bias`], through `fill_bias_*` with the weight's fans):
///   `U(±1/sqrt(fan_in))` with the `fan_in` of the *weight*; `bound = 0` (all zeros) when that
///   `fan_in` is 0, as in PyTorch.
///
/// Filling a 1-d tensor as a weight is an error ([`InitError::NoFans`]): a bias needs its
/// weight's fans. He et al. (2015) for the formula; the `a = sqrt(5)` choice is PyTorch's
/// (it reproduces the older Lua Torch `U(±1/sqrt(fan_in))` default). No hyper-parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, HyperParams)]
pub struct TorchLinearDefault;

impl Initializer for TorchLinearDefault {
    fn name(&self) -> &'static str {
        "torch_linear_default"
    }
    fn distribution(&self, shape: &[usize], role: Role) -> Result<Distribution, InitError> {
        let bound = match role {
            Role::Weight => {
                let fan_in = nonzero(crate::fans(shape)?.fan_in, self.name(), "fan_in", shape)?;
                let gain = Nonlinearity::LeakyRelu.gain(Some(5f64.sqrt()))?;
                3f64.sqrt() * (gain / fan_in.sqrt())
            }
            Role::Bias { weight_fans } => {
                if weight_fans.fan_in > 0 {
                    1.0 / (weight_fans.fan_in as f64).sqrt()
                } else {
                    0.0
                }
            }
        };
        Ok(Distribution::Uniform { low: -bound, high: bound })
    }
}

register_initializer!(TorchLinearDefault,
    name: "torch_linear_default",
    aliases: [Alias::new("pytorch_default"), Alias::new("torch_conv_default")],
    summary: "PyTorch Linear default: weight and bias U(±1/sqrt(fan_in))",
);

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_tensor::{ndarray::Array1, Rng};

    #[test]
    fn weight_and_bias_bounds_are_one_over_sqrt_fan_in() {
        let w = TorchLinearDefault.distribution(&[10, 25], Role::Weight).unwrap();
        assert!((w.bounds().unwrap().1 - 0.2).abs() < 1e-15);
        let weight_fans = crate::fans(&[10, 25]).unwrap();
        let b = TorchLinearDefault.distribution(&[10], Role::Bias { weight_fans }).unwrap();
        assert_eq!(b.bounds(), Some((-0.2, 0.2)));
        assert!(matches!(
            TorchLinearDefault.distribution(&[10], Role::Weight),
            Err(InitError::NoFans { .. })
        ));
        let mut bias = Array1::<f32>::zeros(10);
        TorchLinearDefault.fill_bias_f32(bias.view_mut().into_dyn(), weight_fans, &mut Rng::seed(0)).unwrap();
        assert!(bias.iter().all(|x| x.abs() <= 0.2) && bias.iter().any(|&x| x != 0.0));
    }
}
