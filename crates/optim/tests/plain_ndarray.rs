//! `nabla-optim` on its own: plain `ndarray` arrays, gradients computed by hand, optimizers
//! both from the registry and constructed directly.

use nabla_optim::{Adam, EitherDecayKeys, L2DecayKeys, MomentKeys, Optimizer, ParamMut, RuleOptimizer, Sgd};
use nabla_tensor::ndarray::{Array1, Array2, ArrayD, Ix1};
use nabla_tensor::Rng;

struct Problem {
    x: Array2<f32>,
    y: Array1<f32>,
    w_true: Array1<f32>,
}

fn problem() -> Problem {
    let mut rng = Rng::seed(3);
    let x: Array2<f32> = rng.normal_array(&[128, 5], 0.0, 1.0).into_dimensionality().unwrap();
    let w_true: Array1<f32> = rng.normal_array(&[5], 0.0, 1.0).into_dimensionality().unwrap();
    let y = x.dot(&w_true) - 1.0;
    Problem { x, y, w_true }
}

/// Trains `w` and `b` on least squares; returns the final loss.
fn train(
    opt: &mut dyn Optimizer<f32>,
    p: &Problem,
    w: &mut ArrayD<f32>,
    b: &mut ArrayD<f32>,
    steps: usize,
) -> f32 {
    let n = p.y.len() as f32;
    let mut loss = f32::INFINITY;
    for _ in 0..steps {
        let residual = p.x.dot(&w.view().into_dimensionality::<Ix1>().unwrap()) + b[[0]] - &p.y;
        loss = residual.mapv(|r| r * r).sum() / n;
        let grad_w = (p.x.t().dot(&residual) * (2.0 / n)).into_dyn();
        let grad_b = Array1::from_elem(1, residual.sum() * 2.0 / n).into_dyn();
        opt.step(&mut [
            ParamMut::new("w", w.view_mut(), Some(grad_w.view())),
            ParamMut::new("b", b.view_mut(), Some(grad_b.view())),
        ])
        .unwrap();
    }
    loss
}

#[test]
fn registry_optimizers_fit_a_linear_model() {
    let p = problem();
    for (spec, steps) in
        [("adam:lr=0.05", 400), ("nag:lr=0.05", 200), ("rmsprop:lr=0.01", 600), ("adadelta", 1500)]
    {
        let mut opt =
            nabla_registry::build::<dyn nabla_optim::Optimizer<f32>>(spec, ()).map(|b| b.value).unwrap();
        let (mut w, mut b) = (ArrayD::zeros(vec![5]), ArrayD::zeros(vec![1]));
        let loss = train(opt.as_mut(), &p, &mut w, &mut b, steps);
        let err = (&w - &p.w_true.clone().into_dyn()).mapv(f32::abs).fold(0.0f32, |a, &e| a.max(e));
        assert!(
            loss < 1e-3 && err < 2e-2 && (b[[0]] + 1.0).abs() < 2e-2,
            "{spec}: loss {loss}, |w - w*| {err}, b {}",
            b[[0]]
        );
    }
}

#[test]
fn optimizers_constructed_without_the_registry() {
    let p = problem();
    let adam = Adam {
        lr: 0.05,
        amsgrad: false,
        moments: MomentKeys { betas: [0.9, 0.999], eps: 1e-8 },
        decay: EitherDecayKeys { weight_decay: 0.0, decoupled_weight_decay: false, maximize: false },
    };
    let sgd = Sgd {
        lr: 0.05,
        momentum: 0.9,
        dampening: 0.0,
        nesterov: true,
        decay: L2DecayKeys { weight_decay: 0.0, maximize: false },
    };
    let mut optimizers: Vec<Box<dyn Optimizer<f32>>> = vec![
        Box::new(RuleOptimizer::new("adam", adam, 0.05, 0.0)),
        Box::new(RuleOptimizer::new("sgd", sgd, 0.05, 0.0)),
    ];
    for opt in &mut optimizers {
        let (mut w, mut b) = (ArrayD::zeros(vec![5]), ArrayD::zeros(vec![1]));
        let loss = train(opt.as_mut(), &p, &mut w, &mut b, 400);
        assert!(loss < 1e-4, "{}: loss {loss}", opt.name());
    }
    // The registry builds the same optimizer: identical trajectories.
    let mut direct = RuleOptimizer::<f32, Adam>::new("adam", adam, 0.05, 0.0);
    let mut named = nabla_registry::build::<dyn nabla_optim::Optimizer<f32>>("adam:lr=0.05", ())
        .map(|b| b.value)
        .unwrap();
    let (mut w1, mut b1) = (ArrayD::zeros(vec![5]), ArrayD::zeros(vec![1]));
    let (mut w2, mut b2) = (ArrayD::zeros(vec![5]), ArrayD::zeros(vec![1]));
    train(&mut direct, &p, &mut w1, &mut b1, 20);
    train(named.as_mut(), &p, &mut w2, &mut b2, 20);
    assert_eq!((w1, b1), (w2, b2));
}
