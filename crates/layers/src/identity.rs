//! `identity`: the module that returns its input.

use crate::{register_layer, LayerError, Module};
use nabla_autograd::Var;
use nabla_tensor::Element;

/// The identity `y = x`, PyTorch's `nn.Identity`: returns the input variable itself (no copy,
/// no graph node). A placeholder, for example to switch a layer off in a config.
///
/// No hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    training: bool,
}

impl Identity {
    /// An identity.
    pub fn new() -> Self {
        Identity { training: true }
    }
}

impl Default for Identity {
    fn default() -> Self {
        Identity::new()
    }
}

impl<T: Element> Module<T> for Identity {
    fn name(&self) -> &str {
        "identity"
    }

    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        Ok(input.clone())
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn is_training(&self) -> bool {
        self.training
    }

    fn describe(&self) -> String {
        "Identity()".to_string()
    }
}

register_layer! {
    name: "identity",
    summary: "returns its input unchanged",
    params: &[],
    build: |_, _| Ok(Box::new(Identity::new())),
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_tensor::ndarray::arr2;

    #[test]
    fn returns_the_same_variable_and_passes_gradients() {
        let x = Var::<f64>::param(arr2(&[[1.0, -2.0]]).into_dyn());
        let y = Module::<f64>::forward(&mut Identity::new(), &x).unwrap();
        assert!(y.ptr_eq(&x));
        y.mul_scalar(3.0).sum().backward().unwrap();
        assert_eq!(*x.grad().unwrap(), arr2(&[[3.0, 3.0]]).into_dyn());
        let mut rng = nabla_tensor::Rng::seed(0);
        let m =
            crate::build_module("identity", &Default::default(), &mut crate::BuildContext::new(2, &mut rng))
                .unwrap();
        assert_eq!((m.describe(), m.out_features(7)), ("Identity()".to_string(), 7));
    }
}
