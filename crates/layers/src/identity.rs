//! `identity`: the module that returns its input.

use crate::module::stateless_module;

stateless_module! {
    /// The identity `y = x`, PyTorch's `nn.Identity`: returns the input variable itself (no copy,
    /// no graph node). A placeholder, for example to switch a layer off in a config.
    ///
    /// No hyper-parameters.
    Identity,
    name: "identity",
    summary: "returns its input unchanged",
    describe: "Identity()",
    forward: |input| input.clone(),
    column_steps: |_steps| true,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Module;
    use nabla_autograd::Var;
    use nabla_tensor::ndarray::arr2;

    #[test]
    fn returns_the_same_variable_and_passes_gradients() {
        let x = Var::<f64>::param(arr2(&[[1.0, -2.0]]).into_dyn());
        let y = Module::<f64>::forward(&mut Identity::new(), &x).unwrap();
        assert!(y.ptr_eq(&x));
        y.mul_scalar(3.0).sum().backward().unwrap();
        assert_eq!(*x.grad().unwrap(), arr2(&[[3.0, 3.0]]).into_dyn());
        let mut ctx = crate::BuildContext::new([2], nabla_tensor::Rng::seed(0));
        let m = crate::build_module("identity", &Default::default(), &mut ctx).unwrap();
        assert_eq!((m.describe(), m.output_shape(&[7, 3]).unwrap()), ("Identity()".to_string(), vec![7, 3]));
    }
}
