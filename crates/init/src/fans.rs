//! Fans (PyTorch's `_calculate_fan_in_and_fan_out`) and gains (`torch.nn.init.calculate_gain`).

use crate::InitError;
use nabla_registry::ParamChoice;
use std::str::FromStr;

/// The fans of a weight tensor, as PyTorch computes them.
///
/// For a shape `[d0, d1, d2, ...]`: `receptive_field = d2 * d3 * ...` (1 for a matrix),
/// `fan_in = d1 * receptive_field`, `fan_out = d0 * receptive_field`. A Linear weight
/// `[out, in]` has `fan_in = in`, `fan_out = out`; a convolution weight
/// `[out_channels, in_channels, kH, kW]` has `fan_in = in_channels * kH * kW`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fans {
    /// Inputs feeding one output unit.
    pub fan_in: usize,
    /// Outputs fed by one input unit.
    pub fan_out: usize,
    /// Product of the dimensions after the second.
    pub receptive_field: usize,
}

impl Fans {
    /// The fans of a tensor of `shape`; same as [`fans`].
    pub fn of(shape: &[usize]) -> Result<Fans, InitError> {
        fans(shape)
    }

    /// `fan_in` or `fan_out`, as selected by `mode`.
    pub fn get(&self, mode: FanMode) -> usize {
        match mode {
            FanMode::FanIn => self.fan_in,
            FanMode::FanOut => self.fan_out,
        }
    }
}

/// The fans of a tensor of `shape` (see [`Fans`]).
///
/// # Errors
/// [`InitError::NoFans`] when `shape` has fewer than two dimensions, as in PyTorch.
///
/// ```
/// let f = nabla_init::fans(&[64, 3, 3, 3]).unwrap();
/// assert_eq!((f.fan_in, f.fan_out, f.receptive_field), (27, 576, 9));
/// assert!(nabla_init::fans(&[7]).is_err());
/// ```
pub fn fans(shape: &[usize]) -> Result<Fans, InitError> {
    if shape.len() < 2 {
        return Err(InitError::NoFans { shape: shape.to_vec() });
    }
    let receptive_field: usize = shape[2..].iter().product();
    Ok(Fans { fan_in: shape[1] * receptive_field, fan_out: shape[0] * receptive_field, receptive_field })
}

/// Which fan a variance-scaling initializer divides by (PyTorch's `mode`; the hyper-parameter
/// spellings are `fan_in` and `fan_out`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ParamChoice)]
pub enum FanMode {
    /// Preserve the variance of the activations in the forward pass.
    FanIn,
    /// Preserve the variance of the gradients in the backward pass.
    FanOut,
}

impl FanMode {
    /// `"fan_in"` or `"fan_out"`.
    pub fn as_str(&self) -> &'static str {
        ParamChoice::as_str(self)
    }
}

impl FromStr for FanMode {
    type Err = InitError;
    /// Parses `fan_in` or `fan_out`, case-, hyphen- and underscore-insensitively.
    fn from_str(s: &str) -> Result<FanMode, InitError> {
        parse_choice(s).ok_or_else(|| InitError::Invalid {
            initializer: "fan mode",
            message: format!("mode must be fan_in or fan_out, got '{s}'"),
        })
    }
}

/// The variant of a choice spelled `s` up to case, hyphens and underscores.
fn parse_choice<C: ParamChoice>(s: &str) -> Option<C> {
    let key = nabla_registry::normalize(s);
    C::OPTIONS.iter().find(|o| nabla_registry::normalize(o) == key).and_then(|o| C::from_option(o))
}

/// The nonlinearities [`calculate_gain`] knows, with PyTorch's names (`leaky_relu`,
/// `conv_transpose2d`, ...), which are also the spellings of the `nonlinearity`
/// hyper-parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ParamChoice)]
pub enum Nonlinearity {
    /// Identity, gain 1.
    Linear,
    /// `conv1d`, gain 1.
    Conv1d,
    /// `conv2d`, gain 1.
    Conv2d,
    /// `conv3d`, gain 1.
    Conv3d,
    /// `conv_transpose1d`, gain 1.
    ConvTranspose1d,
    /// `conv_transpose2d`, gain 1.
    ConvTranspose2d,
    /// `conv_transpose3d`, gain 1.
    ConvTranspose3d,
    /// Logistic sigmoid, gain 1.
    Sigmoid,
    /// Hyperbolic tangent, gain 5/3.
    Tanh,
    /// ReLU, gain sqrt(2).
    Relu,
    /// Leaky ReLU with negative slope `a`, gain sqrt(2 / (1 + a^2)).
    LeakyRelu,
    /// SELU, gain 3/4.
    Selu,
}

impl Nonlinearity {
    /// Every nonlinearity, in PyTorch's documentation order.
    pub const ALL: [Nonlinearity; 12] = [
        Nonlinearity::Linear,
        Nonlinearity::Conv1d,
        Nonlinearity::Conv2d,
        Nonlinearity::Conv3d,
        Nonlinearity::ConvTranspose1d,
        Nonlinearity::ConvTranspose2d,
        Nonlinearity::ConvTranspose3d,
        Nonlinearity::Sigmoid,
        Nonlinearity::Tanh,
        Nonlinearity::Relu,
        Nonlinearity::LeakyRelu,
        Nonlinearity::Selu,
    ];

    /// PyTorch's name (`"leaky_relu"`, ...).
    pub fn as_str(&self) -> &'static str {
        ParamChoice::as_str(self)
    }

    /// The recommended gain; `param` is the negative slope of `leaky_relu` (`None` means
    /// PyTorch's default 0.01) and is ignored by the others, as in PyTorch.
    ///
    /// # Errors
    /// [`InitError::Invalid`] when the slope is not finite.
    pub fn gain(&self, param: Option<f64>) -> Result<f64, InitError> {
        Ok(match self {
            Nonlinearity::Linear
            | Nonlinearity::Conv1d
            | Nonlinearity::Conv2d
            | Nonlinearity::Conv3d
            | Nonlinearity::ConvTranspose1d
            | Nonlinearity::ConvTranspose2d
            | Nonlinearity::ConvTranspose3d
            | Nonlinearity::Sigmoid => 1.0,
            Nonlinearity::Tanh => 5.0 / 3.0,
            Nonlinearity::Relu => 2.0f64.sqrt(),
            Nonlinearity::LeakyRelu => {
                let slope = param.unwrap_or(0.01);
                if !slope.is_finite() {
                    return Err(InitError::Invalid {
                        initializer: "calculate_gain",
                        message: format!("negative_slope {slope} is not a valid number"),
                    });
                }
                (2.0 / (1.0 + slope * slope)).sqrt()
            }
            Nonlinearity::Selu => 3.0 / 4.0,
        })
    }
}

impl FromStr for Nonlinearity {
    type Err = InitError;
    /// Parses PyTorch's names, case-, hyphen- and underscore-insensitively.
    fn from_str(s: &str) -> Result<Nonlinearity, InitError> {
        parse_choice(s).ok_or_else(|| InitError::UnsupportedNonlinearity { name: s.to_string() })
    }
}

/// The recommended gain for a nonlinearity, exactly as `torch.nn.init.calculate_gain`:
/// 1 for linear, convolutions and sigmoid; 5/3 for tanh; sqrt(2) for relu;
/// sqrt(2 / (1 + slope^2)) for leaky_relu (`param` is the slope, default 0.01); 3/4 for selu.
///
/// # Errors
/// [`InitError::UnsupportedNonlinearity`] for an unknown name.
///
/// ```
/// use nabla_init::calculate_gain;
/// assert_eq!(calculate_gain("relu", None).unwrap(), 2f64.sqrt());
/// assert!((calculate_gain("leaky_relu", Some(5f64.sqrt())).unwrap() - (1.0f64 / 3.0).sqrt()).abs() < 1e-15);
/// assert!(calculate_gain("swish", None).is_err());
/// ```
pub fn calculate_gain(nonlinearity: &str, param: Option<f64>) -> Result<f64, InitError> {
    nonlinearity.parse::<Nonlinearity>()?.gain(param)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_follow_pytorch() {
        assert_eq!(fans(&[10, 20]).unwrap(), Fans { fan_in: 20, fan_out: 10, receptive_field: 1 });
        assert_eq!(fans(&[4, 2, 3, 5, 7]).unwrap(), Fans { fan_in: 210, fan_out: 420, receptive_field: 105 });
        assert_eq!(fans(&[3, 0]).unwrap().fan_in, 0);
        assert!(matches!(fans(&[7]), Err(InitError::NoFans { .. })));
        assert!(matches!(fans(&[]), Err(InitError::NoFans { .. })));
    }

    #[test]
    fn gains_follow_pytorch() {
        assert_eq!(calculate_gain("conv_transpose2d", None).unwrap(), 1.0);
        assert_eq!(calculate_gain("tanh", None).unwrap(), 5.0 / 3.0);
        assert_eq!(calculate_gain("SELU", None).unwrap(), 0.75);
        let default_slope = calculate_gain("leaky_relu", None).unwrap();
        assert_eq!(default_slope, calculate_gain("leaky-relu", Some(0.01)).unwrap());
        assert_eq!(calculate_gain("leaky_relu", Some(0.0)).unwrap(), 2f64.sqrt());
        assert!(calculate_gain("leaky_relu", Some(f64::NAN)).is_err());
        let err = calculate_gain("gelu", None).unwrap_err();
        assert!(err.to_string().contains("'gelu'"), "{err}");
        for n in Nonlinearity::ALL {
            assert_eq!(n.as_str().parse::<Nonlinearity>().unwrap(), n);
        }
        assert_eq!(Nonlinearity::ALL.map(|n| n.as_str()).as_slice(), Nonlinearity::OPTIONS);
        assert_eq!("Fan-Out".parse::<FanMode>().unwrap(), FanMode::FanOut);
        assert!("fan_avg".parse::<FanMode>().is_err());
    }
}
