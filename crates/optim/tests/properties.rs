//! Property tests: the generic suite over every registered optimizer, and the properties of
//! particular update rules.

use nabla_optim::{clip_grad_norm, clip_grad_value, grad_norm, radam_rectifier, Optimizer, ParamMut};
use nabla_tensor::ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

// The registry-driven suite: every property over every registered optimizer.
nabla_optim::optimizer_property_suite!(cases = 32);

fn vector(values: &[f64]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.to_vec()).unwrap()
}

fn step(opt: &mut dyn Optimizer<f64>, p: &mut ArrayD<f64>, g: &ArrayD<f64>) {
    opt.step(&mut [ParamMut::new("p", p.view_mut(), Some(g.view()))]).unwrap();
}

/// Values of magnitude in [0.1, 10] with either sign (no zeros).
fn nonzero(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec((0.1f64..10.0, any::<bool>()).prop_map(|(m, s)| if s { m } else { -m }), n)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * (a.abs().max(b.abs()) + 1e-300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Decoupled weight decay with a zero gradient multiplies the parameters by exactly
    /// 1 - lr*wd per step.
    #[test]
    fn decoupled_decay_shrinks_by_exactly_one_minus_lr_wd(
        init in nonzero(1..8),
        lr in 0.0f64..0.1,
        wd in 0.0f64..1.0,
        steps in 1usize..5,
        which in 0usize..5,
    ) {
        let spec = [
            "adamw",
            "adamw:amsgrad=true",
            "adam:decoupled_weight_decay=true",
            "radam:decoupled_weight_decay=true",
            "nadam:decoupled_weight_decay=true",
        ][which];
        let separator = if spec.contains(':') { ',' } else { ':' };
        let mut opt = nabla_registry::build::<dyn nabla_optim::Optimizer<f64>>(&format!("{spec}{separator}lr={lr},weight_decay={wd}"), ()).map(|b| b.value).unwrap();
        let mut p = vector(&init);
        let zero = ArrayD::zeros(IxDyn(&[init.len()]));
        let mut expected = vector(&init);
        for _ in 0..steps {
            step(opt.as_mut(), &mut p, &zero);
            expected.mapv_inplace(|x| x * (1.0 - lr * wd));
        }
        prop_assert_eq!(p, expected, "{}", spec);
    }

    /// Adam's first step is -lr*sign(g) up to eps: exactly -lr * g / (|g| + eps).
    #[test]
    fn adam_first_step_is_lr_sign_up_to_eps(
        init in nonzero(1..8),
        grad in proptest::collection::vec(-10.0f64..10.0, 8),
        lr in 1e-4f64..0.1,
        eps in 0.0f64..1e-3,
        amsgrad in any::<bool>(),
    ) {
        let n = init.len();
        let mut opt = nabla_registry::build::<dyn nabla_optim::Optimizer<f64>>(&format!("adam:lr={lr},eps={eps},amsgrad={amsgrad}"), ()).map(|b| b.value).unwrap();
        let mut p = vector(&init);
        let g = vector(&grad[..n]);
        step(opt.as_mut(), &mut p, &g);
        for i in 0..n {
            let (delta, g) = (p[i] - init[i], g[i]);
            let sign = if g > 0.0 { 1.0 } else if g < 0.0 { -1.0 } else { 0.0 };
            let bound = lr * eps / (g.abs() + eps).max(f64::MIN_POSITIVE) + 1e-14 * (lr + init[i].abs());
            prop_assert!((delta + lr * sign).abs() <= bound, "g = {}, delta = {}, bound = {}", g, delta, bound);
        }
    }

    /// With eps = 0, Adam's trajectory does not change when the gradients are scaled.
    #[test]
    fn adam_is_invariant_to_gradient_scale(
        init in nonzero(1..6),
        grads in proptest::collection::vec(nonzero(6..7), 1..6),
        scale in 1e-3f64..1e3,
        amsgrad in any::<bool>(),
    ) {
        let n = init.len();
        let spec = format!("adam:lr=0.01,eps=0,amsgrad={amsgrad}");
        let (mut a, mut b) = (nabla_registry::build::<dyn nabla_optim::Optimizer<f64>>(&spec, ()).map(|b| b.value).unwrap(), nabla_registry::build::<dyn nabla_optim::Optimizer<f64>>(&spec, ()).map(|b| b.value).unwrap());
        let (mut p, mut q) = (vector(&init), vector(&init));
        for g in &grads {
            let g = vector(&g[..n]);
            step(a.as_mut(), &mut p, &g);
            step(b.as_mut(), &mut q, &(&g * scale));
        }
        for (x, y) in p.iter().zip(q.iter()) {
            prop_assert!((x - y).abs() <= 1e-12 * (1.0 + x.abs()), "{} vs {} (scale {})", x, y, scale);
        }
    }

    /// Adagrad's accumulator never decreases.
    #[test]
    fn adagrad_accumulator_never_decreases(
        init in nonzero(1..6),
        grads in proptest::collection::vec(proptest::collection::vec(-10.0f64..10.0, 6), 1..8),
        wd in 0.0f64..0.1,
        initial in 0.0f64..1.0,
    ) {
        let n = init.len();
        let mut opt = nabla_registry::build::<dyn nabla_optim::Optimizer<f64>>(&format!("adagrad:weight_decay={wd},initial_accumulator_value={initial}"), ()).map(|b| b.value).unwrap();
        let mut p = vector(&init);
        let mut previous = ArrayD::from_elem(IxDyn(&[n]), initial);
        for g in &grads {
            step(opt.as_mut(), &mut p, &vector(&g[..n]));
            let sum = opt.state_dict().arrays["p.sum"].clone();
            prop_assert!(sum.iter().zip(previous.iter()).all(|(s, q)| s >= q), "{} after {}", sum, previous);
            previous = sum;
        }
    }

    /// RAdam is bias-corrected momentum SGD while rho_t <= 5, and its rectifier lies in (0, 1).
    #[test]
    fn radam_is_momentum_sgd_until_rectified(
        init in nonzero(1..6),
        grads in proptest::collection::vec(proptest::collection::vec(-10.0f64..10.0, 6), 1..10),
        beta1 in 0.0f64..0.99,
        beta2 in 0.8f64..0.9999,
        lr in 1e-4f64..0.1,
    ) {
        let n = init.len();
        let mut opt = nabla_registry::build::<dyn nabla_optim::Optimizer<f64>>(&format!("radam:lr={lr},betas=[{beta1},{beta2}]"), ()).map(|b| b.value).unwrap();
        let mut p = vector(&init);
        let mut expected = vector(&init);
        let mut m = ArrayD::<f64>::zeros(IxDyn(&[n]));
        for (k, g) in grads.iter().enumerate() {
            let t = k as u64 + 1;
            let g = vector(&g[..n]);
            step(opt.as_mut(), &mut p, &g);
            match radam_rectifier(beta2, t) {
                None => {
                    m = &m * beta1 + &g * (1.0 - beta1);
                    let mhat = &m / (1.0 - beta1.powf(t as f64));
                    expected = &expected - &(mhat * lr);
                    for (a, b) in p.iter().zip(expected.iter()) {
                        prop_assert!(close(*a, *b, 1e-12) || (a - b).abs() < 1e-14, "t = {}: {} vs {}", t, a, b);
                    }
                }
                Some(r) => {
                    prop_assert!(r > 0.0 && r < 1.0, "rectifier {} at t = {}", r, t);
                    break;
                }
            }
        }
    }

    /// The rectifier lies in (0, 1) wherever it is defined, and in (0, 1] even far out where
    /// it rounds to 1.
    #[test]
    fn radam_rectifier_in_unit_interval(beta2 in 0.5f64..0.99999, t in 1u64..100_000) {
        if let Some(r) = radam_rectifier(beta2, t) {
            prop_assert!(r > 0.0 && r <= 1.0, "r = {}", r);
            let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
            let gap = 2.0 * t as f64 * beta2.powf(t as f64) / (1.0 - beta2.powf(t as f64));
            if gap > 1e-6 * rho_inf {
                prop_assert!(r < 1.0, "r = {} with rho_inf - rho_t = {}", r, gap);
            }
        }
    }

    /// SGD with L2 weight decay equals SGD without it on the loss plus wd/2 * ||p||^2.
    #[test]
    fn sgd_l2_equals_sgd_on_penalised_loss(
        init in nonzero(1..6),
        grads in proptest::collection::vec(proptest::collection::vec(-10.0f64..10.0, 6), 1..6),
        lr in 0.0f64..0.1,
        wd in 0.0f64..0.5,
        momentum in 0.0f64..0.95,
        kind in 0usize..3,
    ) {
        let n = init.len();
        let extra = ["", ",dampening=0.3", ",nesterov=true"][kind];
        let base = format!("sgd:lr={lr},momentum={momentum}{extra}");
        let (mut a, mut b) = match (nabla_registry::build::<dyn nabla_optim::Optimizer<f64>>(&format!("{base},weight_decay={wd}"), ()).map(|b| b.value), nabla_registry::build::<dyn nabla_optim::Optimizer<f64>>(&base, ()).map(|b| b.value)) {
            (Ok(a), Ok(b)) => (a, b),
            _ => return Ok(()), // nesterov with zero momentum is rejected, as in PyTorch
        };
        let (mut p, mut q) = (vector(&init), vector(&init));
        for g in &grads {
            let g = vector(&g[..n]);
            step(a.as_mut(), &mut p, &g);
            let penalised = &g + &(&q * wd);
            step(b.as_mut(), &mut q, &penalised);
        }
        for (x, y) in p.iter().zip(q.iter()) {
            prop_assert!((x - y).abs() <= 1e-12 * (1.0 + x.abs()), "{} vs {}", x, y);
        }
    }

    /// PyTorch's reparametrised Nesterov momentum (`nag`) on p' tracks the look-ahead form
    /// v <- mu*v - lr*grad(p + mu*v), p <- p + v, with p' = p + mu*v.
    #[test]
    fn nag_is_the_look_ahead_method_in_shifted_variables(
        init in nonzero(1..6),
        curvature in proptest::collection::vec(0.1f64..10.0, 6),
        lr in 1e-3f64..0.05,
        momentum in 0.1f64..0.95,
        steps in 1usize..10,
    ) {
        let n = init.len();
        let a = vector(&curvature[..n]);
        let mut opt = nabla_registry::build::<dyn nabla_optim::Optimizer<f64>>(&format!("nag:lr={lr},momentum={momentum}"), ()).map(|b| b.value).unwrap();
        let mut shifted = vector(&init);
        let (mut p, mut v) = (vector(&init), ArrayD::<f64>::zeros(IxDyn(&[n])));
        for _ in 0..steps {
            let g = &a * &shifted;
            step(opt.as_mut(), &mut shifted, &g);
            let look_ahead = &p + &(&v * momentum);
            v = &v * momentum - &(&a * &look_ahead) * lr;
            p = &p + &v;
            let expected = &p + &(&v * momentum);
            for (x, y) in shifted.iter().zip(expected.iter()) {
                prop_assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{} vs {}", x, y);
            }
        }
    }

    /// After clip_grad_norm the total norm is at most max_norm (and untouched below it);
    /// clip_grad_value bounds every element.
    #[test]
    fn clipping_guarantees_the_bound(
        grads in proptest::collection::vec(proptest::collection::vec(-100.0f64..100.0, 0..6), 1..4),
        max_norm in 0.0f64..50.0,
        norm_type in prop_oneof![Just(2.0), Just(1.0), Just(f64::INFINITY), 1.5f64..4.0],
    ) {
        let mut arrays: Vec<ArrayD<f64>> = grads.iter().map(|g| vector(g)).collect();
        let mut arrays32: Vec<ArrayD<f32>> = arrays.iter().map(|a| a.mapv(|x| x as f32)).collect();
        let original = arrays.clone();
        let mut views: Vec<_> = arrays.iter_mut().map(|a| a.view_mut()).collect();
        let before = clip_grad_norm(&mut views, max_norm, norm_type, true).unwrap();
        let after = grad_norm(arrays.iter().map(|a| a.view()), norm_type).unwrap();
        prop_assert!(after <= max_norm * (1.0 + 1e-12), "norm {} -> {} > {}", before, after, max_norm);
        if before + 1e-6 <= max_norm {
            prop_assert_eq!(&arrays, &original);
        }
        let mut views32: Vec<_> = arrays32.iter_mut().map(|a| a.view_mut()).collect();
        clip_grad_norm(&mut views32, max_norm, norm_type, true).unwrap();
        let after32 = grad_norm(arrays32.iter().map(|a| a.view()), norm_type).unwrap();
        prop_assert!(after32 <= max_norm * (1.0 + 1e-5), "f32 norm {} > {}", after32, max_norm);

        let clip = max_norm / 10.0;
        let mut views: Vec<_> = arrays.iter_mut().map(|a| a.view_mut()).collect();
        clip_grad_value(&mut views, clip).unwrap();
        prop_assert!(arrays.iter().flat_map(|a| a.iter()).all(|x| x.abs() <= clip));
    }
}
