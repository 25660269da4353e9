//! `log_softmax`: logarithm of the softmax along a dimension.

use crate::activations::resolve_dim;
use crate::module::training_flag;
use crate::{register_layer, LayerError, Module, TrainingMode};
use nabla_autograd::Var;
use nabla_registry::HyperParams;
use nabla_tensor::Element;

/// The log-softmax along dimension `dim`: `log_softmax(x)_i = x_i - m - log sum_j e^(x_j - m)`
/// with `m` the maximum of the lane (stable for large logits); the gradient is
/// `g - e^y sum(g)`. Followed by the `nll` loss it gives the cross-entropy.
///
/// Hyper-parameters: `dim` = 1 (negative values count from the end, as PyTorch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, HyperParams)]
pub struct LogSoftmax {
    /// the dimension to normalize along (negative: from the end)
    #[param(default = 1)]
    dim: i64,
    #[param(skip)]
    training: TrainingMode,
}

impl LogSoftmax {
    /// A log-softmax along `dim` (checked against the input at forward time).
    pub fn new(dim: i64) -> Self {
        LogSoftmax { dim, training: TrainingMode::default() }
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
    /// Checks `dim` against the samples (and their batch axis), then the identity.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, LayerError> {
        resolve_dim("log_softmax", self.dim, input.len() + 1)?;
        Ok(input.to_vec())
    }
    training_flag!();
    fn describe(&self) -> String {
        format!("LogSoftmax(dim={})", self.dim)
    }
}

register_layer!(LogSoftmax, name: "log_softmax", category: Activation, summary: "log of the softmax along a dimension");

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
