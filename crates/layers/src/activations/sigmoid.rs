//! `sigmoid`: the logistic function.

use crate::activations::training_flag;
use crate::{register_activation, LayerError, Module};
use nabla_autograd::Var;
use nabla_tensor::Element;

/// The logistic sigmoid `sigmoid(x) = 1 / (1 + e^-x)`, elementwise; the gradient is
/// `y (1 - y)`.
///
/// No hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sigmoid {
    training: bool,
}

impl Sigmoid {
    /// A sigmoid.
    pub fn new() -> Self {
        Sigmoid { training: true }
    }
}

impl Default for Sigmoid {
    fn default() -> Self {
        Sigmoid::new()
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

register_activation! {
    name: "sigmoid",
    summary: "logistic sigmoid 1 / (1 + e^-x)",
    params: &[],
    build: |_, _| Ok(Box::new(Sigmoid::new())),
}

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
