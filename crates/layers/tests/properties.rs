//! Property tests over random shapes and hyper-parameters: BatchNorm1d's normalization and
//! running statistics, Dropout's scaling, and Linear against a plain matrix product.

use nabla_autograd::Var;
use nabla_layers::{BatchNorm1d, Dropout, Linear, Module};
use nabla_tensor::ndarray::{Axis, IxDyn};
use nabla_tensor::Rng;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// In training, every channel of the output has mean `beta` and biased variance
    /// `gamma^2 var / (var + eps)`; the running statistics move by `momentum` towards the
    /// batch mean and the unbiased variance.
    #[test]
    fn batch_norm_normalizes_each_channel(
        n in 2usize..7, c in 1usize..5, l in 1usize..4, three_d in any::<bool>(),
        momentum in 0.0f64..1.0, seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let shape = if three_d { vec![n, c, l] } else { vec![n, c] };
        let x = rng.normal_array::<f64>(&shape, 0.5, 2.0);
        let gamma = rng.uniform_array::<f64>(&[c], 0.5, 2.0);
        let beta = rng.normal_array::<f64>(&[c], 0.0, 1.0);
        let eps = 1e-5;
        let mut bn = BatchNorm1d::<f64>::new(c, eps, momentum, true, true)
            .unwrap()
            .with_affine(Var::param(gamma.clone()), Var::param(beta.clone()))
            .unwrap();
        let y = bn.forward(&Var::constant(x.clone())).unwrap();
        let y = y.value();
        for ch in 0..c {
            let xs: Vec<f64> = x.index_axis(Axis(1), ch).iter().copied().collect();
            let ys: Vec<f64> = y.index_axis(Axis(1), ch).iter().copied().collect();
            let m = xs.len() as f64;
            let xm = xs.iter().sum::<f64>() / m;
            let xv = xs.iter().map(|v| (v - xm).powi(2)).sum::<f64>() / m;
            let ym = ys.iter().sum::<f64>() / m;
            let yv = ys.iter().map(|v| (v - ym).powi(2)).sum::<f64>() / m;
            prop_assert!((ym - beta[ch]).abs() < 1e-9);
            prop_assert!((yv - gamma[ch].powi(2) * xv / (xv + eps)).abs() < 1e-9 * (1.0 + yv));
            let rm = bn.running_mean().unwrap()[ch];
            let rv = bn.running_var().unwrap()[ch];
            prop_assert!((rm - momentum * xm).abs() < 1e-12);
            prop_assert!((rv - ((1.0 - momentum) + momentum * xv * m / (m - 1.0))).abs() < 1e-9);
        }
    }

    /// Every output element is 0 or `x / (1 - p)`, and the same seed gives the same mask.
    #[test]
    fn dropout_keeps_or_zeroes_and_scales(p in 0.0f64..0.95, rows in 1usize..20, seed in any::<u64>()) {
        let x = Rng::seed(seed ^ 1).normal_array::<f32>(&[rows, 7], 0.0, 1.0);
        let mut a = Dropout::new(p, Rng::seed(seed)).unwrap();
        let mut b = Dropout::new(p, Rng::seed(seed)).unwrap();
        let ya = Module::<f32>::forward(&mut a, &Var::constant(x.clone())).unwrap();
        let yb = Module::<f32>::forward(&mut b, &Var::constant(x.clone())).unwrap();
        prop_assert_eq!(&*ya.value(), &*yb.value());
        let scale = (1.0 / (1.0 - p)) as f32;
        for (&y, &x) in ya.value().iter().zip(x.iter()) {
            prop_assert!(y == 0.0 || (y - x * scale).abs() <= 1e-6 * (1.0 + (x * scale).abs()));
        }
    }

    /// Linear over a batch equals the textbook `x W^T + b`, for any leading shape.
    #[test]
    fn linear_is_an_affine_map(
        rows in 1usize..6, extra in 1usize..3, fin in 1usize..9, fout in 1usize..9, seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let mut layer = Linear::<f64>::new(fin, fout, true, &mut rng).unwrap();
        let x = rng.normal_array::<f64>(&[rows, extra, fin], 0.0, 1.0);
        let y = layer.forward(&Var::constant(x.clone())).unwrap();
        prop_assert_eq!(y.shape(), vec![rows, extra, fout]);
        let w = layer.weight().value().clone();
        let b = layer.bias().unwrap().value().clone();
        for r in 0..rows {
            for e in 0..extra {
                for o in 0..fout {
                    let want = b[o] + (0..fin).map(|i| x[IxDyn(&[r, e, i])] * w[IxDyn(&[o, i])]).sum::<f64>();
                    prop_assert!((y.value()[IxDyn(&[r, e, o])] - want).abs() < 1e-12);
                }
            }
        }
    }
}
