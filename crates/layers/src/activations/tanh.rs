//! `tanh`: the hyperbolic tangent.

use crate::module::training_flag;
use crate::{register_layer, LayerError, Module, TrainingMode};
use nabla_autograd::Var;
use nabla_registry::HyperParams;
use nabla_tensor::Element;

/// The hyperbolic tangent `tanh(x) = (e^x - e^-x) / (e^x + e^-x)`, elementwise; the gradient
/// is `1 - y^2`.
///
/// No hyper-parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, HyperParams)]
pub struct Tanh {
    #[param(skip)]
    training: TrainingMode,
}

impl Tanh {
    /// A tanh.
    pub fn new() -> Self {
        Tanh::default()
    }
}

impl<T: Element> Module<T> for Tanh {
    fn name(&self) -> &str {
        "tanh"
    }
    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        Ok(input.tanh())
    }
    training_flag!();
    fn describe(&self) -> String {
        "Tanh()".to_string()
    }
}

register_layer!(Tanh, name: "tanh", category: Activation, summary: "hyperbolic tangent");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::testing::{build_and_run, check_elementwise};

    #[test]
    fn hyperbolic_tangent() {
        check_elementwise(Tanh::new(), f64::tanh);
    }

    #[test]
    fn registered() {
        assert_eq!(build_and_run("tanh", Default::default()).name(), "tanh");
    }
}
