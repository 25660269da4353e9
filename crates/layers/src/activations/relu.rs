//! `relu`: the rectified linear unit.

use crate::module::training_flag;
use crate::{register_layer, LayerError, Module, TrainingMode};
use nabla_autograd::Var;
use nabla_registry::HyperParams;
use nabla_tensor::Element;

/// The rectified linear unit `relu(x) = max(x, 0)`, elementwise; the gradient is 1 for
/// `x > 0` and 0 otherwise (0 at `x = 0`, as PyTorch). Nair and Hinton (2010).
///
/// No hyper-parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, HyperParams)]
pub struct Relu {
    #[param(skip)]
    training: TrainingMode,
}

impl Relu {
    /// A ReLU (in training mode, which changes nothing for it).
    pub fn new() -> Self {
        Relu::default()
    }
}

impl<T: Element> Module<T> for Relu {
    fn name(&self) -> &str {
        "relu"
    }
    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        Ok(input.relu())
    }
    training_flag!();
    fn describe(&self) -> String {
        "ReLU()".to_string()
    }
}

register_layer!(Relu, name: "relu", category: Activation, summary: "rectified linear unit max(x, 0)");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::testing::{build_and_run, check_elementwise};
    use nabla_tensor::ndarray::arr1;

    #[test]
    fn max_of_x_and_zero() {
        check_elementwise(Relu::new(), |x| x.max(0.0));
    }

    #[test]
    fn gradient_at_zero_is_zero() {
        let x = Var::<f64>::param(arr1(&[0.0, -1.0, 2.0]).into_dyn());
        Module::<f64>::forward(&mut Relu::new(), &x).unwrap().sum().backward().unwrap();
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[0.0, 0.0, 1.0]);
    }

    #[test]
    fn registered() {
        assert_eq!(build_and_run("ReLU", Default::default()).describe(), "ReLU()");
    }
}
