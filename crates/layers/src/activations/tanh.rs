//! `tanh`: the hyperbolic tangent.

use crate::module::stateless_module;

stateless_module! {
    /// The hyperbolic tangent `tanh(x) = (e^x - e^-x) / (e^x + e^-x)`, elementwise; the gradient
    /// is `1 - y^2`.
    ///
    /// No hyper-parameters.
    Tanh,
    name: "tanh",
    category: Activation,
    summary: "hyperbolic tangent",
    describe: "Tanh()",
    forward: |input| input.tanh(),
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
