//! `log_softmax`: logarithm of the softmax along a dimension.

use crate::activations::{resolve_dim, training_flag};
use crate::{register_activation, LayerError, Module};
use nabla_autograd::Var;
use nabla_registry::ParamSpec;
use nabla_tensor::Element;

/// The log-softmax along dimension `dim`: `log_softmax(x)_i = x_i - m - log sum_j e^(x_j - m)`
/// with `m` the maximum of the lane (stable for large logits); the gradient is
/// `g - e^y sum(g)`. Followed by the `nll` loss it gives the cross-entropy.
///
/// Hyper-parameters: `dim` = 1 (negative values count from the end, as PyTorch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSoftmax {
    dim: i64,
    training: bool,
}

impl LogSoftmax {
    /// A log-softmax along `dim` (checked against the input at forward time).
    pub fn new(dim: i64) -> Self {
        LogSoftmax { dim, training: true }
    }

    /// The dimension.
    pub fn dim(&self) -> i64 {
        self.dim
    }
}

impl Default for LogSoftmax {
    /// Along dimension 1.
    fn default() -> Self {
        LogSoftmax::new(1)
    }
}

impl<T: Element> Module<T> for LogSoftmax {
    fn name(&self) -> &str {
        "log_softmax"
    }
    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        let axis = resolve_dim("log_softmax", self.dim, input.ndim())?;
        Ok(input.log_softmax(axis)?)
    }
    training_flag!();
    fn describe(&self) -> String {
        format!("LogSoftmax(dim={})", self.dim)
    }
}

register_activation! {
    name: "log_softmax",
    summary: "log of the softmax along a dimension",
    params: &[ParamSpec::int("dim", 1, "the dimension to normalize along (negative: from the end)")],
    build: |p, _| Ok(Box::new(LogSoftmax::new(p.i64("dim")?))),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::testing::{build_and_run, check_gradient, input};
    use crate::activations::Softmax;

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
