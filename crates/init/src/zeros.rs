//! `zeros`: every element 0.

use crate::constant::fixed_value_initializer;

fixed_value_initializer! {
    /// Fills with `0` (PyTorch `zeros_`). The usual bias initializer; no hyper-parameters.
    Zeros, value: 0.0, name: "zeros", alias: "zero", summary: "every element 0"
}

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
