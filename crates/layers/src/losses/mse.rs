//! `mse`: mean squared error.

use crate::losses::reduction_loss;
use nabla_autograd::mse_loss;

reduction_loss! {
    /// Mean squared error, PyTorch's `MSELoss`:
    ///
    /// `loss = reduce((x - t)^2)` over every element, by `mean` (divide by the number of
    /// elements, default) or `sum`; the gradient is `2 (x - t) / numel` for the mean.
    ///
    /// Targets: [`Target::Values`](crate::Target::Values) of the output's shape; or
    /// [`Target::Classes`](crate::Target::Classes), turned into values — one-hot rows for an output `[N, C]`
    /// with `C > 1`, the class number itself for an output `[N]` or `[N, 1]`.
    ///
    /// Hyper-parameters: `reduction` = `mean` | `sum`.
    Mse,
    name: "mse",
    aliases: [nabla_registry::Alias::new("mse_loss")],
    summary: "mean squared error",
    elementwise: mse_loss,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::{Loss, Target};
    use nabla_autograd::{Reduction, Var};
    use nabla_tensor::ndarray::arr2;

    #[test]
    fn mean_and_sum_of_squares_with_gradient() {
        let x = Var::<f64>::param(arr2(&[[1.0, 2.0], [3.0, 5.0]]).into_dyn());
        let t = arr2(&[[1.0, 0.0], [0.0, 1.0]]).into_dyn();
        let l = Mse::default().forward(&x, &Target::Values(t.view())).unwrap();
        assert!((l.item() - (0.0 + 4.0 + 9.0 + 16.0) / 4.0).abs() < 1e-12);
        l.backward().unwrap();
        assert_eq!(*x.grad().unwrap(), arr2(&[[0.0, 1.0], [1.5, 2.0]]).into_dyn());
        let s = Mse::new(Reduction::Sum).forward(&x, &Target::Values(t.view())).unwrap();
        assert!((s.item() - 29.0).abs() < 1e-12);
    }

    #[test]
    fn class_targets_are_one_hot() {
        let x = Var::<f32>::param(arr2(&[[1.0, 2.0], [3.0, 5.0]]).into_dyn());
        let by_class = Mse::default().forward(&x, &Target::Classes(&[0, 1])).unwrap();
        let t = arr2(&[[1.0f32, 0.0], [0.0, 1.0]]).into_dyn();
        let by_value = Mse::default().forward(&x, &Target::Values(t.view())).unwrap();
        assert_eq!(by_class.item(), by_value.item());
        let wrong = arr2(&[[1.0f32, 0.0, 0.0]]).into_dyn();
        assert!(Mse::default().forward(&x, &Target::Values(wrong.view())).is_err());
    }
}
