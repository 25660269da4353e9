//! `leaky_relu`: ReLU with a small slope for negative inputs.

use crate::module::training_flag;
use crate::{register_layer, LayerError, Module, TrainingMode};
use nabla_autograd::Var;
use nabla_registry::HyperParams;
use nabla_tensor::Element;

/// The leaky ReLU `leaky_relu(x) = x` for `x > 0`, else `negative_slope * x`, elementwise;
/// the gradient at `x = 0` is `negative_slope` (as PyTorch). Maas, Hannun and Ng (2013).
///
/// Hyper-parameters: `negative_slope` = 0.01 (PyTorch's default).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
#[hyper(check = Self::check)]
pub struct LeakyRelu {
    /// slope for negative inputs
    #[param(default = 0.01)]
    negative_slope: f64,
    #[param(skip)]
    training: TrainingMode,
}

impl LeakyRelu {
    /// A leaky ReLU with the given slope for negative inputs.
    ///
    /// # Errors
    /// [`LayerError::Invalid`] for a slope that is not finite.
    pub fn new(negative_slope: f64) -> Result<Self, LayerError> {
        let relu = LeakyRelu { negative_slope, training: TrainingMode::default() };
        relu.check().map_err(|message| LayerError::invalid("leaky_relu", message))?;
        Ok(relu)
    }

    /// What the constructor and the registry check.
    fn check(&self) -> Result<(), String> {
        if self.negative_slope.is_finite() {
            Ok(())
        } else {
            Err(format!("negative_slope must be finite, got {}", self.negative_slope))
        }
    }

    /// The slope for negative inputs.
    pub fn negative_slope(&self) -> f64 {
        self.negative_slope
    }
}

impl Default for LeakyRelu {
    /// Slope 0.01.
    fn default() -> Self {
        LeakyRelu { negative_slope: 0.01, training: TrainingMode::default() }
    }
}

impl<T: Element> Module<T> for LeakyRelu {
    fn name(&self) -> &str {
        "leaky_relu"
    }
    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        Ok(input.leaky_relu(self.negative_slope))
    }
    training_flag!();
    fn describe(&self) -> String {
        format!("LeakyReLU(negative_slope={})", self.negative_slope)
    }
}

register_layer!(LeakyRelu,
    name: "leaky_relu",
    category: Activation,
    summary: "leaky ReLU: x for x > 0, else negative_slope * x",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::testing::{build_and_run, check_elementwise};
    use nabla_registry::{RawParams, Value};
    use nabla_tensor::ndarray::arr1;

    #[test]
    fn slope_for_negative_inputs() {
        check_elementwise(LeakyRelu::default(), |x| if x > 0.0 { x } else { 0.01 * x });
        check_elementwise(LeakyRelu::new(0.2).unwrap(), |x| if x > 0.0 { x } else { 0.2 * x });
        assert!(LeakyRelu::new(f64::NAN).is_err());
    }

    #[test]
    fn gradient_at_zero_is_the_slope() {
        let x = Var::<f64>::param(arr1(&[0.0]).into_dyn());
        Module::<f64>::forward(&mut LeakyRelu::new(0.3).unwrap(), &x).unwrap().sum().backward().unwrap();
        assert_eq!(x.grad().unwrap()[0], 0.3);
    }

    #[test]
    fn registered_with_slope() {
        let raw: RawParams = [("negative_slope".to_string(), Value::Float(0.2))].into_iter().collect();
        assert_eq!(build_and_run("leaky_relu", raw).describe(), "LeakyReLU(negative_slope=0.2)");
        assert_eq!(build_and_run("LeakyReLU", RawParams::new()).describe(), "LeakyReLU(negative_slope=0.01)");
        let mut ctx = crate::BuildContext::new([4], nabla_tensor::Rng::seed(0));
        let inf: RawParams =
            [("negative_slope".to_string(), Value::Float(f64::INFINITY))].into_iter().collect();
        let err = crate::build_module("leaky_relu", &inf, &mut ctx).unwrap_err().to_string();
        assert!(err.contains("negative_slope must be finite"), "{err}");
    }
}
