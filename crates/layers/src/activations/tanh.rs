//! `tanh`: the hyperbolic tangent.

use crate::activations::training_flag;
use crate::{register_activation, LayerError, Module};
use nabla_autograd::Var;
use nabla_tensor::Element;

/// The hyperbolic tangent `tanh(x) = (e^x - e^-x) / (e^x + e^-x)`, elementwise; the gradient
/// is `1 - y^2`.
///
/// No hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tanh {
    training: bool,
}

impl Tanh {
    /// A tanh.
    pub fn new() -> Self {
        Tanh { training: true }
    }
}

impl Default for Tanh {
    fn default() -> Self {
        Tanh::new()
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

register_activation! {
    name: "tanh",
    summary: "hyperbolic tangent",
    params: &[],
    build: |_, _| Ok(Box::new(Tanh::new())),
}

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
