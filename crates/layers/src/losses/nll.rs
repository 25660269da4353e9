//! `nll`: negative log-likelihood of log-probabilities.

use crate::losses::{reduction_loss, Target};
use crate::LayerError;
use nabla_autograd::nll_loss;

reduction_loss! {
    /// Negative log-likelihood of log-probabilities `x: [N, C]` (the output of a `log_softmax`
    /// layer) against class indices, PyTorch's `NLLLoss` without class weights:
    ///
    /// `loss_i = -x[i, target_i]`, reduced by `mean` over the batch (default) or `sum`; the
    /// gradient is `-1/N` (mean) at each target entry and 0 elsewhere.
    ///
    /// Takes [`Target::Classes`] only (a [`Target::Values`] is an error: use `cross_entropy`
    /// for class probabilities). `log_softmax` followed by `nll` equals `cross_entropy`.
    ///
    /// Hyper-parameters: `reduction` = `mean` | `sum`.
    Nll,
    name: "nll",
    aliases: [nabla_registry::Alias::new("nll_loss")],
    summary: "negative log-likelihood of log-probabilities against class indices",
    forward: |output, target, reduction| match target {
        Target::Classes(classes) => Ok(nll_loss(output, classes, reduction)?),
        Target::Values(_) => Err(LayerError::invalid(
            "nll",
            "expects class indices as targets, got values; use cross_entropy for class probabilities",
        )),
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::CrossEntropy;
    use crate::losses::{Loss, Target};
    use nabla_autograd::{Reduction, Var};
    use nabla_tensor::ndarray::arr2;

    #[test]
    fn log_softmax_then_nll_is_cross_entropy() {
        let data = arr2(&[[0.3, -1.0, 2.0, 0.0], [1.5, 0.5, -0.5, 0.1], [0.0, 0.0, 0.0, 3.0]]).into_dyn();
        let classes = [2, 0, 1];
        for red in [Reduction::Mean, Reduction::Sum] {
            let a = Var::<f64>::param(data.clone());
            let la = Nll::new(red).forward(&a.log_softmax(1).unwrap(), &Target::Classes(&classes)).unwrap();
            la.backward().unwrap();
            let b = Var::<f64>::param(data.clone());
            let lb = CrossEntropy::new(0.0, red).unwrap().forward(&b, &Target::Classes(&classes)).unwrap();
            lb.backward().unwrap();
            assert!((la.item() - lb.item()).abs() < 1e-12);
            let (ga, gb) = (a.grad().unwrap().clone(), b.grad().unwrap().clone());
            assert!(ga.iter().zip(gb.iter()).all(|(x, y)| (x - y).abs() < 1e-12));
        }
    }

    #[test]
    fn picks_the_target_entry_and_rejects_values() {
        let x = Var::<f32>::param(arr2(&[[-1.0, -2.0], [-3.0, -4.0]]).into_dyn());
        let l = Nll::new(Reduction::Sum).forward(&x, &Target::Classes(&[1, 0])).unwrap();
        assert_eq!(l.item(), 5.0);
        l.backward().unwrap();
        assert_eq!(*x.grad().unwrap(), arr2(&[[0.0, -1.0], [-1.0, 0.0]]).into_dyn());
        let v = arr2(&[[0.0f32, 1.0], [1.0, 0.0]]).into_dyn();
        let err = Nll::default().forward(&x, &Target::Values(v.view())).unwrap_err();
        assert!(err.to_string().contains("class indices"), "{err}");
        assert!(Nll::default().forward(&x, &Target::Classes(&[2, 0])).is_err());
    }
}
