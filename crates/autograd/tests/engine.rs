//! The reverse-mode engine: accumulation, release, errors, grad mode, custom ops, memory.

use nabla_autograd::{
    batch_norm_train, cross_entropy, dropout, gradcheck, linear, live_graph_nodes, live_vars, no_grad,
    AutogradError, GradcheckOptions, NoGradGuard, Reduction, Var,
};
use nabla_tensor::ndarray::{arr1, arr2, ArrayD, IxDyn};
use nabla_tensor::{pool, Rng};

fn v(x: &[f64]) -> ArrayD<f64> {
    arr1(x).into_dyn()
}

#[test]
fn gradients_accumulate_and_zero_grad_clears() {
    let x = Var::leaf(v(&[1.0, 2.0]), true);
    x.mul(&x).unwrap().sum().backward().unwrap();
    x.mul_scalar(3.0).sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[5.0, 7.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    x.set_grad(Some(v(&[1.0, 1.0])));
    assert_eq!(x.take_grad().unwrap(), v(&[1.0, 1.0]));
    assert!(x.grad().is_none());
}

#[test]
fn diamond_graph_sums_both_paths() {
    // y = sum(exp(x) * x + x): dy/dx = exp(x) (1 + x) + 1
    let x = Var::leaf(v(&[0.5, -1.0]), true);
    let e = x.exp();
    let y = e.mul(&x).unwrap().add(&x).unwrap().sum();
    y.backward().unwrap();
    let g = x.grad().unwrap();
    for (i, &xi) in [0.5f64, -1.0].iter().enumerate() {
        let want = xi.exp() * (1.0 + xi) + 1.0;
        assert!((g[i] - want).abs() < 1e-12);
    }
}

#[test]
fn second_backward_through_released_graph_is_an_error() {
    let x = Var::leaf(v(&[1.0, 2.0]), true);
    let y = x.tanh().sum();
    y.backward().unwrap();
    let before = x.grad().unwrap().clone();
    let err = y.backward().unwrap_err();
    assert!(matches!(err, AutogradError::GraphReleased { op: "sum" }), "{err}");
    assert!(err.to_string().contains("released"));
    assert_eq!(*x.grad().unwrap(), before, "a failed backward leaves gradients untouched");
    // A shared trunk: the second loss reaches the released trunk.
    let h = x.exp();
    let l1 = h.sum();
    let l2 = h.mean();
    l1.backward().unwrap();
    assert!(matches!(l2.backward(), Err(AutogradError::GraphReleased { op: "exp" })));
}

#[test]
fn retain_graph_allows_a_second_backward() {
    let x = Var::leaf(v(&[3.0]), true);
    let y = x.mul(&x).unwrap().sum();
    y.backward_opts(None, true).unwrap();
    y.backward_opts(None, false).unwrap();
    assert_eq!(x.grad().unwrap()[0], 12.0);
    assert!(y.backward().is_err());
}

#[test]
fn backward_argument_errors() {
    let x = Var::leaf(v(&[1.0, 2.0]), true);
    let y = x.exp();
    assert!(matches!(y.backward(), Err(AutogradError::NotScalar { .. })));
    assert!(matches!(y.backward_with(v(&[1.0])), Err(AutogradError::GradShape { .. })));
    let c = Var::constant(v(&[1.0]));
    assert!(matches!(c.exp().backward(), Err(AutogradError::NoGrad { .. })));
    assert!(matches!(y.set_requires_grad(false), Err(AutogradError::NotLeaf)));
    y.backward_with(v(&[1.0, 1.0])).unwrap();
    assert!((x.grad().unwrap()[1] - 2f64.exp()).abs() < 1e-12);
}

#[test]
fn no_grad_records_nothing_and_restores() {
    let w = Var::leaf(v(&[1.0, 2.0]), true);
    let base = live_graph_nodes();
    let y = no_grad(|| {
        let inner = no_grad(|| w.exp());
        assert!(!nabla_autograd::is_grad_enabled());
        inner.add(&w).unwrap()
    });
    assert!(nabla_autograd::is_grad_enabled());
    assert!(!y.requires_grad());
    assert_eq!(live_graph_nodes(), base);
    {
        let _g = NoGradGuard::new();
        assert!(!w.relu().requires_grad());
    }
    assert!(w.relu().requires_grad());
}

#[test]
fn detach_cuts_the_graph() {
    let x = Var::leaf(v(&[2.0]), true);
    let d = x.mul_scalar(3.0).detach();
    assert!(!d.requires_grad() && d.is_leaf());
    assert_eq!(d.item(), 6.0);
    let y = d.mul(&x).unwrap().sum();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap()[0], 6.0);
}

#[test]
fn value_and_grad_are_borrowable_together() {
    let p = Var::leaf(v(&[1.0, 2.0]), true);
    p.mul_scalar(2.0).sum().backward().unwrap();
    {
        let g = p.grad().unwrap();
        let mut val = p.value_mut();
        val.zip_mut_with(&*g, |w, &g| *w -= 0.5 * g);
    }
    assert_eq!(p.value().as_slice().unwrap(), &[0.0, 1.0]);
}

#[test]
fn custom_op_errors_are_reported() {
    let x = Var::leaf(v(&[1.0, 2.0]), true);
    let bad_count = Var::custom("bad_count", &[&x], v(&[1.0, 2.0]), |_| vec![]);
    assert!(matches!(bad_count.sum().backward(), Err(AutogradError::GradCount { op: "bad_count", .. })));
    let bad_shape = Var::custom("bad_shape", &[&x], v(&[1.0, 2.0]), |_| vec![Some(v(&[1.0]))]);
    assert!(matches!(bad_shape.sum().backward(), Err(AutogradError::GradShape { op: "bad_shape", .. })));
}

#[test]
fn gradcheck_catches_a_wrong_gradient() {
    // d/dx x^2 reported as x (wrong by a factor 2).
    let wrong = |xs: &[Var<f64>]| {
        let x = &xs[0];
        let out = x.value().mapv(|a| a * a);
        Ok(Var::custom("wrong_square", &[x], out, |args| {
            let mut g = args.grad_output;
            g.zip_mut_with(&*args.inputs[0].value(), |g, &a| *g *= a);
            vec![Some(g)]
        }))
    };
    let err = gradcheck(wrong, &[v(&[1.0, -2.0])], &GradcheckOptions::default()).unwrap_err();
    assert!(matches!(err, AutogradError::GradcheckFailed { input: 0, index: 0, .. }), "{err}");
}

#[test]
fn deep_chains_drop_without_recursion() {
    let x = Var::leaf(v(&[1.0]), true);
    let mut y = x.clone();
    for _ in 0..200_000 {
        y = y.add_scalar(1e-6);
    }
    assert!(live_graph_nodes() >= 200_000);
    drop(y);
    assert_eq!(live_graph_nodes(), 0);
}

/// A training step of a small MLP (linear, batch norm, relu, dropout, cross-entropy, SGD)
/// repeated in a loop: no graph node survives a step, the number of variables stays fixed,
/// and after the first steps every buffer comes from the pool (no new large allocations).
#[test]
fn training_loop_does_not_grow_memory() {
    let mut rng = Rng::seed(1);
    let w1 = Var::<f32>::param(rng.normal_array(&[32, 20], 0.0, 0.2));
    let b1 = Var::<f32>::param(ArrayD::zeros(IxDyn(&[32])));
    let g1 = Var::<f32>::param(ArrayD::ones(IxDyn(&[32])));
    let w2 = Var::<f32>::param(rng.normal_array(&[5, 32], 0.0, 0.2));
    let b2 = Var::<f32>::param(ArrayD::zeros(IxDyn(&[5])));
    let params = [&w1, &b1, &g1, &w2, &b2];
    let x: ArrayD<f32> = rng.normal_array(&[16, 20], 0.0, 1.0);
    let targets: Vec<usize> = (0..16).map(|i| i % 5).collect();
    let mut vars_after_first = 0;
    let mut stats_after_warmup = None;
    let mut first_loss = 0.0;
    let mut last_loss = 0.0;
    for step in 0..30 {
        let xin = Var::constant(x.clone());
        let h = linear(&xin, &w1, Some(&b1)).unwrap();
        let normalized = batch_norm_train(&h, Some(&g1), None, 1e-5).unwrap();
        // The batch statistics come in pooled buffers; a loop gives them back.
        pool::give(normalized.mean.into_dyn());
        pool::give(normalized.var_unbiased.into_dyn());
        let h = normalized.output.relu();
        let h = dropout(&h, 0.1, true, &mut rng).unwrap();
        let logits = linear(&h, &w2, Some(&b2)).unwrap();
        let loss = cross_entropy(&logits, &targets, 0.0, Reduction::Mean).unwrap();
        assert!(live_graph_nodes() > 0);
        loss.backward().unwrap();
        assert_eq!(live_graph_nodes(), 0, "step {step}: graph nodes alive after backward");
        if step == 0 {
            first_loss = loss.item();
        }
        last_loss = loss.item();
        drop((xin, h, logits, loss));
        for p in params {
            let g = p.grad().unwrap();
            p.value_mut().zip_mut_with(&*g, |w, &g| *w -= 0.1 * g);
            drop(g);
            p.zero_grad();
        }
        if step == 0 {
            vars_after_first = live_vars();
        } else {
            assert_eq!(live_vars(), vars_after_first, "step {step}: variables leak");
        }
        if step == 2 {
            stats_after_warmup = Some(pool::stats::<f32>());
        }
        if step > 2 {
            let s = pool::stats::<f32>();
            let w = stats_after_warmup.unwrap();
            assert_eq!(
                s.misses, w.misses,
                "step {step}: a pooled buffer had to be allocated: {s:?} vs {w:?}"
            );
            assert_eq!(s.elements, w.elements, "step {step}: the pool grows");
        }
    }
    assert!(last_loss < first_loss, "training reduces the loss: {first_loss} -> {last_loss}");
    let _ = arr2(&[[0.0f32]]);
}
