//! `sigmoid`: the logistic function.

use crate::module::training_flag;
use crate::{register_layer, LayerError, Module, TrainingMode};
use nabla_autograd::Var;
use nabla_registry::HyperParams;
use nabla_tensor::Element;

/// The logistic sigmoid `sigmoid(x) = 1 / (1 + e^-x)`, elementwise; the gradient is
/// `y (1 - y)`.
///
/// No hyper-parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, HyperParams)]
pub struct Sigmoid {
    #[param(skip)]
    training: TrainingMode,
}

impl Sigmoid {
    /// A sigmoid.
    pub fn new() -> Self {
        Sigmoid::default()
    }
}

impl<T: Element> Module<T> for Sigmoid {
    fn name(&self) -> &str {
        "sigmoid"
    }
    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        Ok(input.sigmoid())
    }
    training_flag!();
    fn describe(&self) -> String {
        "Sigmoid()".to_string()
    }
}

register_layer!(Sigmoid, name: "sigmoid", category: Activation, summary: "logistic sigmoid 1 / (1 + e^-x)");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::testing::{build_and_run, check_elementwise};

    #[test]
    fn logistic() {
        check_elementwise(Sigmoid::new(), |x| 1.0 / (1.0 + (-x).exp()));
    }

    #[test]
    fn registered() {
        assert_eq!(build_and_run("sigmoid", Default::default()).name(), "sigmoid");
    }
}
