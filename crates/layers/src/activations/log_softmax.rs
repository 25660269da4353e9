//! `log_softmax`: logarithm of the softmax along a dimension.

use crate::activations::along_dim_activation;

along_dim_activation! {
    /// The log-softmax along dimension `dim`: `log_softmax(x)_i = x_i - m - log sum_j e^(x_j - m)`
    /// with `m` the maximum of the lane (stable for large logits); the gradient is
    /// `g - e^y sum(g)`. Followed by the `nll` loss it gives the cross-entropy.
    ///
    /// Hyper-parameters: `dim` = 1 (negative values count from the end, as PyTorch).
    LogSoftmax,
    name: "log_softmax",
    op: log_softmax,
    describe: "LogSoftmax",
    summary: "log of the softmax along a dimension",
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::testing::{build_and_run, check_gradient, input};
    use crate::activations::Softmax;
    use crate::Module;
    use nabla_autograd::Var;

    #[test]
    fn is_the_log_of_softmax() {
        let x = input();
        for dim in [0, 1, -1] {
            let l = Module::<f64>::forward(&mut LogSoftmax::new(dim), &Var::constant(x.clone())).unwrap();
            let s = Module::<f64>::forward(&mut Softmax::new(dim), &Var::constant(x.clone())).unwrap();
            for (a, b) in l.value().iter().zip(s.value().iter()) {
                assert!((a - b.ln()).abs() < 1e-12);
            }
        }
        check_gradient(LogSoftmax::default(), x.clone());
        assert!(
            Module::<f32>::forward(&mut LogSoftmax::new(-3), &Var::constant(x.mapv(|v| v as f32))).is_err()
        );
    }

    #[test]
    fn registered() {
        assert_eq!(build_and_run("log_softmax", Default::default()).describe(), "LogSoftmax(dim=1)");
    }
}
