//! `zeros`: every element 0.

use crate::{register_initializer, Distribution, InitError, Initializer, Role};
use nabla_registry::{Alias, HyperParams};

/// Fills with `0` (PyTorch `zeros_`). The usual bias initializer; no hyper-parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, HyperParams)]
pub struct Zeros;

impl Initializer for Zeros {
    fn name(&self) -> &'static str {
        "zeros"
    }
    fn distribution(&self, _shape: &[usize], _role: Role) -> Result<Distribution, InitError> {
        Ok(Distribution::Constant(0.0))
    }
}

register_initializer!(Zeros, name: "zeros", aliases: [Alias::new("zero")], summary: "every element 0");

#[cfg(test)]
mod tests {
    use nabla_tensor::{ndarray::Array1, Rng};

    #[test]
    fn fills_zeros_even_for_1d() {
        let mut b = Array1::<f32>::from_elem(5, 3.0);
        crate::build("zeros").unwrap().fill_f32(b.view_mut().into_dyn(), &mut Rng::seed(0)).unwrap();
        assert!(b.iter().all(|&x| x == 0.0));
    }
}
