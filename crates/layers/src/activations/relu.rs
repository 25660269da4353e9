//! `relu`: the rectified linear unit.

use crate::module::stateless_module;

stateless_module! {
    /// The rectified linear unit `relu(x) = max(x, 0)`, elementwise; the gradient is 1 for
    /// `x > 0` and 0 otherwise (0 at `x = 0`, as PyTorch). Nair and Hinton (2010).
    ///
    /// No hyper-parameters.
    Relu,
    name: "relu",
    category: Activation,
    summary: "rectified linear unit max(x, 0)",
    describe: "ReLU()",
    forward: |input| input.relu(),
    column_steps: |steps| {
        steps.push(nabla_autograd::ColumnStep::Relu);
        true
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::testing::{build_and_run, check_elementwise};
    use crate::Module;
    use nabla_autograd::Var;
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
