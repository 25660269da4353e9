//! `softmax`: normalized exponentials along a dimension.

use crate::activations::along_dim_activation;

along_dim_activation! {
    /// The softmax along dimension `dim`: `softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m)` with
    /// `m` the maximum of the lane (so large logits neither overflow nor lose precision); the
    /// gradient is `y (g - sum(g y))`.
    ///
    /// Hyper-parameters: `dim` = 1 (the class axis of `[N, C]`; negative values count from the
    /// end, as PyTorch).
    Softmax,
    name: "softmax",
    op: softmax,
    describe: "Softmax",
    summary: "softmax along a dimension",
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::testing::{build_and_run, check_gradient, input};
    use crate::Module;
    use nabla_autograd::Var;
    use nabla_tensor::ndarray::{arr2, Axis};

    #[test]
    fn rows_sum_to_one_and_shifted_rows_match() {
        let x = arr2(&[[1.0, 2.0, 3.0], [101.0, 102.0, 103.0], [-1000.0, -999.0, -998.0]]).into_dyn();
        let y = Module::<f64>::forward(&mut Softmax::default(), &Var::constant(x)).unwrap();
        let y = y.value();
        for row in y.axis_iter(Axis(0)) {
            assert!((row.sum() - 1.0).abs() < 1e-12);
            assert!((row[0] - y[[0, 0]]).abs() < 1e-12);
        }
        let e: f64 = 1.0 + 1f64.exp() + 2f64.exp();
        assert!((y[[0, 0]] - 1.0 / e).abs() < 1e-15);
    }

    #[test]
    fn other_dims_and_gradient() {
        let x = input();
        let y0 = Module::<f64>::forward(&mut Softmax::new(0), &Var::constant(x.clone())).unwrap();
        let ym = Module::<f64>::forward(&mut Softmax::new(-2), &Var::constant(x.clone())).unwrap();
        assert_eq!(*y0.value(), *ym.value());
        for col in y0.value().axis_iter(Axis(1)) {
            assert!((col.sum() - 1.0).abs() < 1e-12);
        }
        assert!(Module::<f64>::forward(&mut Softmax::new(2), &Var::constant(x.clone())).is_err());
        check_gradient(Softmax::default(), x.clone());
        check_gradient(Softmax::new(0), x);
    }

    #[test]
    fn registered() {
        assert_eq!(build_and_run("softmax", Default::default()).describe(), "Softmax(dim=1)");
    }
}
