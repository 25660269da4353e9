//! `sigmoid`: the logistic function.

use crate::module::stateless_module;

stateless_module! {
    /// The logistic sigmoid `sigmoid(x) = 1 / (1 + e^-x)`, elementwise; the gradient is
    /// `y (1 - y)`.
    ///
    /// No hyper-parameters.
    Sigmoid,
    name: "sigmoid",
    category: Activation,
    summary: "logistic sigmoid 1 / (1 + e^-x)",
    describe: "Sigmoid()",
    forward: |input| input.sigmoid(),
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
