//! `cross_entropy` (alias `ce`): softmax cross-entropy of logits.

use crate::losses::{Loss, ReductionParam, Target};
use crate::{register_loss, LayerError};
use nabla_autograd::{cross_entropy, Reduction, Var};
use nabla_registry::{Alias, HyperParams};
use nabla_tensor::ndarray::ArrayViewD;
use nabla_tensor::{pool, Element};

/// Cross-entropy of logits `x: [N, C]` against a target distribution, fused with
/// log-softmax (PyTorch's `CrossEntropyLoss`, no class weights, no ignore index):
///
/// `loss_i = -sum_c q_ic log_softmax(x_i)_c`, reduced by `mean` over the batch (default) or
/// `sum`, where with label smoothing `s` over `C` classes
/// `q_i = (1 - s) onehot(target_i) + s / C` for class-index targets
/// ([`Target::Classes`]), or `q_i = (1 - s) p_i + s / C` for class-probability targets
/// ([`Target::Values`] of shape `[N, C]`, as PyTorch accepts). The gradient is
/// `(softmax(x) - q) / N` for the mean.
///
/// Hyper-parameters: `label_smoothing` = 0 (in `[0, 1]`), `reduction` = `mean` | `sum`.
/// Class indices go through the fused [`cross_entropy`] op; probability targets through
/// `log_softmax`, a product and a sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, HyperParams)]
pub struct CrossEntropy {
    /// weight s of the uniform distribution mixed into the target
    #[param(default = 0.0, range = UNIT)]
    label_smoothing: f64,
    /// how per-sample losses are combined: mean | sum
    #[param(default = "mean")]
    reduction: ReductionParam,
}

impl CrossEntropy {
    /// A cross-entropy with label smoothing `label_smoothing` and `reduction`.
    ///
    /// # Errors
    /// [`LayerError::Invalid`] for a smoothing outside `[0, 1]`.
    pub fn new(label_smoothing: f64, reduction: Reduction) -> Result<Self, LayerError> {
        if !(0.0..=1.0).contains(&label_smoothing) {
            return Err(LayerError::invalid(
                "cross_entropy",
                format!("label_smoothing must be in [0, 1], got {label_smoothing}"),
            ));
        }
        Ok(CrossEntropy { label_smoothing, reduction: ReductionParam(reduction) })
    }

    /// The label smoothing.
    pub fn label_smoothing(&self) -> f64 {
        self.label_smoothing
    }

    /// The reduction.
    pub fn reduction(&self) -> Reduction {
        self.reduction.0
    }

    fn with_probabilities<T: Element>(
        &self,
        x: &Var<T>,
        p: &ArrayViewD<'_, T>,
    ) -> Result<Var<T>, LayerError> {
        let shape = x.shape();
        if shape.len() != 2 || p.shape() != shape.as_slice() {
            return Err(LayerError::invalid(
                "cross_entropy",
                format!(
                    "class-probability targets need logits [N, C] and targets of the same shape, got \
                     logits {shape:?} and targets {:?}",
                    p.shape()
                ),
            ));
        }
        let (n, c) = (shape[0], shape[1]);
        let s = self.label_smoothing;
        let mut q = pool::copy_of(p);
        if s > 0.0 {
            let (keep, spread) = (T::from_f64(1.0 - s), T::from_f64(s / c as f64));
            q.mapv_inplace(|v| v * keep + spread);
        }
        let per_element = x.log_softmax(1)?.mul(&Var::constant(q))?;
        Ok(match self.reduction.0 {
            Reduction::None => per_element.sum_axes(&[1], false)?.neg(),
            Reduction::Sum => per_element.sum().neg(),
            Reduction::Mean => per_element.sum().mul_scalar(T::from_f64(-1.0 / n as f64)),
        })
    }
}

impl<T: Element> Loss<T> for CrossEntropy {
    fn name(&self) -> &str {
        "cross_entropy"
    }

    fn forward(&self, output: &Var<T>, target: &Target<'_, T>) -> Result<Var<T>, LayerError> {
        match target {
            Target::Classes(classes) => {
                Ok(cross_entropy(output, classes, self.label_smoothing, self.reduction.0)?)
            }
            Target::Values(p) => self.with_probabilities(output, p),
        }
    }

    fn describe(&self) -> String {
        format!(
            "cross_entropy(label_smoothing={}, reduction={})",
            self.label_smoothing,
            self.reduction.as_str()
        )
    }
}

register_loss!(CrossEntropy,
    name: "cross_entropy",
    aliases: [Alias::new("ce")],
    summary: "softmax cross-entropy of logits against class indices or probabilities",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_loss;
    use nabla_registry::{RawParams, Value};
    use nabla_tensor::ndarray::{arr2, Array2};

    fn logits() -> Array2<f64> {
        arr2(&[[1.0, -0.5, 0.25], [0.1, 2.0, -1.0]])
    }

    #[test]
    fn probability_targets_equal_class_targets_when_one_hot() {
        for (s, red) in [(0.0, Reduction::Mean), (0.2, Reduction::Mean), (0.1, Reduction::Sum)] {
            let ce = CrossEntropy::new(s, red).unwrap();
            let a = Var::param(logits().into_dyn());
            let la = ce.forward(&a, &Target::Classes(&[2, 1])).unwrap();
            la.backward().unwrap();
            let b = Var::param(logits().into_dyn());
            let onehot = arr2(&[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]).into_dyn();
            let lb = ce.forward(&b, &Target::Values(onehot.view())).unwrap();
            lb.backward().unwrap();
            assert!((la.item() - lb.item()).abs() < 1e-12, "{s} {red:?}");
            let (ga, gb) = (a.grad().unwrap().clone(), b.grad().unwrap().clone());
            assert!(ga.iter().zip(gb.iter()).all(|(x, y)| (x - y).abs() < 1e-12));
        }
    }

    #[test]
    fn uniform_logits_give_log_c_and_sum_is_n_times_mean() {
        let x = Var::<f64>::param(Array2::zeros((3, 4)).into_dyn());
        let mean = CrossEntropy::default().forward(&x, &Target::Classes(&[0, 1, 3])).unwrap();
        assert!((mean.item() - 4f64.ln()).abs() < 1e-12);
        let sum = CrossEntropy::new(0.0, Reduction::Sum)
            .unwrap()
            .forward(&x, &Target::Classes(&[0, 1, 3]))
            .unwrap();
        assert!((sum.item() - 3.0 * 4f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn invalid_smoothing_targets_and_shapes_are_errors() {
        assert!(CrossEntropy::new(1.5, Reduction::Mean).is_err());
        let x = Var::<f64>::param(logits().into_dyn());
        assert!(CrossEntropy::default().forward(&x, &Target::Classes(&[3, 0])).is_err());
        assert!(CrossEntropy::default().forward(&x, &Target::Classes(&[0])).is_err());
        let wrong = Array2::<f64>::zeros((2, 2)).into_dyn();
        assert!(CrossEntropy::default().forward(&x, &Target::Values(wrong.view())).is_err());
    }

    #[test]
    fn registry_builds_with_smoothing_and_reduction() {
        let raw: RawParams = [
            ("label_smoothing".to_string(), Value::Float(0.1)),
            ("reduction".to_string(), Value::Str("sum".into())),
        ]
        .into_iter()
        .collect();
        let loss = build_loss("cross_entropy", &raw).unwrap();
        assert_eq!(loss.describe(), "cross_entropy(label_smoothing=0.1, reduction=sum)");
        let bad: RawParams = [("reduction".to_string(), Value::Str("none".into()))].into_iter().collect();
        assert!(build_loss("ce", &bad).is_err());
    }
}
