//! `ones`: every element 1.

use crate::constant::fixed_value_initializer;

fixed_value_initializer! {
    /// Fills with `1` (PyTorch `ones_`), for example BatchNorm's scale; no hyper-parameters.
    Ones, value: 1.0, name: "ones", alias: "one", summary: "every element 1"
}

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
