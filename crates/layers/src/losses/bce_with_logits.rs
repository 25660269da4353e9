//! `bce_with_logits`: binary cross-entropy of logits.

use crate::losses::reduction_loss;
use nabla_autograd::bce_with_logits;

reduction_loss! {
    /// Binary cross-entropy of logits `x` against targets `t` in `[0, 1]`, PyTorch's
    /// `BCEWithLogitsLoss` without weights, in the stable form
    ///
    /// `l = max(x, 0) - x t + log(1 + e^-|x|)` (= `-t log sigmoid(x) - (1 - t) log(1 - sigmoid(x))`),
    ///
    /// reduced by `mean` over every element (default) or `sum`; the gradient is
    /// `(sigmoid(x) - t) / numel` for the mean.
    ///
    /// Targets: [`Target::Values`](crate::Target::Values) of the output's shape; or
    /// [`Target::Classes`](crate::Target::Classes): for an output `[N]` or `[N, 1]` (one logit per sample,
    /// binary classification) the class (0 or 1) is the target; for an output `[N, C]` with `C > 1`, one-hot
    /// rows (one-vs-rest).
    ///
    /// Hyper-parameters: `reduction` = `mean` | `sum`.
    BceWithLogits,
    name: "bce_with_logits",
    summary: "binary cross-entropy of logits (sigmoid fused in)",
    elementwise: bce_with_logits,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::{Loss, Target};
    use nabla_autograd::{Reduction, Var};
    use nabla_tensor::ndarray::{arr1, arr2};

    /// The textbook form, for moderate logits.
    fn naive(x: f64, t: f64) -> f64 {
        let s = 1.0 / (1.0 + (-x).exp());
        -(t * s.ln() + (1.0 - t) * (1.0 - s).ln())
    }

    #[test]
    fn matches_the_textbook_formula_and_gradient() {
        let xs = [-2.0, -0.3, 0.0, 0.7, 3.0];
        let ts = [0.0, 1.0, 0.5, 1.0, 0.0];
        let x = Var::<f64>::param(arr1(&xs).into_dyn());
        let t = arr1(&ts).into_dyn();
        let l = BceWithLogits::default().forward(&x, &Target::Values(t.view())).unwrap();
        let want: f64 = xs.iter().zip(ts).map(|(&x, t)| naive(x, t)).sum::<f64>() / 5.0;
        assert!((l.item() - want).abs() < 1e-12);
        l.backward().unwrap();
        for ((g, &x), t) in x.grad().unwrap().iter().zip(&xs).zip(ts) {
            let s = 1.0 / (1.0 + (-x).exp());
            assert!((g - (s - t) / 5.0).abs() < 1e-12);
        }
    }

    #[test]
    fn large_logits_stay_finite_and_classes_are_labels() {
        let x = Var::<f32>::param(arr2(&[[200.0], [-200.0]]).into_dyn());
        let l = BceWithLogits::new(Reduction::Sum).forward(&x, &Target::Classes(&[1, 0])).unwrap();
        assert!(l.item().abs() < 1e-6, "{}", l.item());
        let wrong = BceWithLogits::new(Reduction::Sum).forward(&x, &Target::Classes(&[0, 1])).unwrap();
        assert!((wrong.item() - 400.0).abs() < 1e-3);
    }
}
