//! `gelu`: the Gaussian error linear unit, exact or with the tanh approximation.

use crate::module::training_flag;
use crate::{register_layer, LayerError, Module, TrainingMode};
use nabla_autograd::Var;
use nabla_registry::{HyperParams, ParamChoice};
use nabla_tensor::Element;

/// Which form of GELU to compute (PyTorch's `approximate`: `"none"` or `"tanh"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ParamChoice)]
pub enum GeluApproximate {
    /// The exact `x Phi(x)` (`approximate = "none"`, the default).
    #[default]
    None,
    /// The tanh approximation (`approximate = "tanh"`).
    Tanh,
}

impl GeluApproximate {
    /// `"none"` or `"tanh"`.
    pub fn as_str(&self) -> &'static str {
        ParamChoice::as_str(self)
    }
}

/// The Gaussian error linear unit, Hendrycks and Gimpel (2016), elementwise:
///
/// * exact (`approximate = "none"`, default): `gelu(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2`;
/// * `approximate = "tanh"`: `x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2`.
///
/// Both are evaluated in `f64` and rounded, as PyTorch's `GELU(approximate=...)`.
///
/// Hyper-parameters: `approximate` = `none` | `tanh` (default `none`: `Gelu::default()` is the
/// exact GELU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, HyperParams)]
pub struct Gelu {
    /// none: exact erf form; tanh: tanh approximation
    #[param(default = "none")]
    approximate: GeluApproximate,
    #[param(skip)]
    training: TrainingMode,
}

impl Gelu {
    /// A GELU of the given form.
    pub fn new(approximate: GeluApproximate) -> Self {
        Gelu { approximate, training: TrainingMode::default() }
    }

    /// The form computed.
    pub fn approximate(&self) -> GeluApproximate {
        self.approximate
    }
}

impl<T: Element> Module<T> for Gelu {
    fn name(&self) -> &str {
        "gelu"
    }
    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        Ok(match self.approximate {
            GeluApproximate::None => input.gelu(),
            GeluApproximate::Tanh => input.gelu_tanh(),
        })
    }
    training_flag!();
    fn describe(&self) -> String {
        format!("GELU(approximate='{}')", self.approximate.as_str())
    }
}

register_layer!(Gelu,
    name: "gelu",
    category: Activation,
    summary: "Gaussian error linear unit x Phi(x) (exact or tanh approximation)",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::testing::{build_and_run, check_elementwise};
    use nabla_registry::{RawParams, Value};

    fn erf(x: f64) -> f64 {
        <f64 as Element>::erf(x)
    }

    #[test]
    fn exact_and_tanh_forms() {
        check_elementwise(Gelu::default(), |x| 0.5 * x * (1.0 + erf(x / 2f64.sqrt())));
        let c = (2.0 / std::f64::consts::PI).sqrt();
        check_elementwise(Gelu::new(GeluApproximate::Tanh), move |x| {
            0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
        });
    }

    #[test]
    fn registered_with_both_forms() {
        assert_eq!(build_and_run("gelu", RawParams::new()).describe(), "GELU(approximate='none')");
        let raw: RawParams = [("approximate".to_string(), Value::Str("tanh".into()))].into_iter().collect();
        assert_eq!(build_and_run("gelu", raw).describe(), "GELU(approximate='tanh')");
        let mut ctx = crate::BuildContext::new([4], nabla_tensor::Rng::seed(0));
        let bad: RawParams = [("approximate".to_string(), Value::Str("erf".into()))].into_iter().collect();
        assert!(crate::build_module("gelu", &bad, &mut ctx).is_err());
    }
}
