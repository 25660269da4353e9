//! `ones`: every element 1.

use crate::{register_initializer, Distribution, InitError, Initializer, Role};
use nabla_registry::{Alias, HyperParams};

/// Fills with `1` (PyTorch `ones_`), for example BatchNorm's scale; no hyper-parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, HyperParams)]
pub struct Ones;

impl Initializer for Ones {
    fn name(&self) -> &'static str {
        "ones"
    }
    fn distribution(&self, _shape: &[usize], _role: Role) -> Result<Distribution, InitError> {
        Ok(Distribution::Constant(1.0))
    }
}

register_initializer!(Ones, name: "ones", aliases: [Alias::new("one")], summary: "every element 1");

#[cfg(test)]
mod tests {
    use nabla_tensor::{ndarray::Array2, Rng};

    #[test]
    fn fills_ones() {
        let mut w = Array2::<f64>::zeros((3, 2));
        crate::build("ones").unwrap().fill_f64(w.view_mut().into_dyn(), &mut Rng::seed(0)).unwrap();
        assert!(w.iter().all(|&x| x == 1.0));
    }
}
