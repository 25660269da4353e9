//! State export and import of the built-in optimizers: exact resumption through a plain
//! key -> array/scalar map, and clear errors for state that does not fit.

use nabla_optim::testing::build_optimizer;
use nabla_optim::{OptimError, Optimizer, ParamGroup, ParamMut, Scalar, StateDict};
use nabla_tensor::ndarray::{ArrayD, IxDyn};
use nabla_tensor::Rng;

fn run(opt: &mut dyn Optimizer<f32>, w: &mut ArrayD<f32>, b: &mut ArrayD<f32>, rng: &mut Rng, steps: usize) {
    for _ in 0..steps {
        let gw = rng.normal_array::<f32>(w.shape(), 0.0, 1.0);
        let gb = rng.normal_array::<f32>(b.shape(), 0.0, 1.0);
        opt.step(&mut [
            ParamMut::new("layer.weight", w.view_mut(), Some(gw.view())),
            ParamMut::new("layer.bias", b.view_mut(), Some(gb.view())).in_group(1),
        ])
        .unwrap();
    }
}

/// A copy through plain vectors, as a checkpoint file would do.
fn through_plain_data(state: &StateDict<f32>) -> StateDict<f32> {
    let mut out = StateDict::default();
    for (k, a) in &state.arrays {
        let data: Vec<f32> = a.iter().copied().collect();
        out.arrays.insert(k.clone(), ArrayD::from_shape_vec(IxDyn(a.shape()), data).unwrap());
    }
    out.scalars = state.scalars.clone();
    out
}

#[test]
fn checkpoint_with_groups_and_a_changed_lr_resumes_exactly() {
    for spec in [
        "sgd:momentum=0.9",
        "nag",
        "adam:amsgrad=true",
        "adamw",
        "nadam",
        "radam",
        "rmsprop:centered=true,momentum=0.5",
        "adagrad",
        "adadelta",
        "adamax",
    ] {
        let fresh = || {
            let mut o = build_optimizer::<f32>(spec).unwrap();
            o.add_group(ParamGroup::new(0.5, 0.0)).unwrap();
            o
        };
        let mut rng = Rng::seed(7);
        let (mut w, mut b) =
            (rng.normal_array::<f32>(&[4, 3], 0.0, 1.0), rng.normal_array::<f32>(&[3], 0.0, 1.0));
        let (mut w2, mut b2) = (w.clone(), b.clone());
        let mut rng2 = rng.clone();

        let mut straight = fresh();
        run(straight.as_mut(), &mut w, &mut b, &mut rng, 3);
        straight.set_lr(straight.lr() * 0.1);
        run(straight.as_mut(), &mut w, &mut b, &mut rng, 4);

        let mut first = fresh();
        run(first.as_mut(), &mut w2, &mut b2, &mut rng2, 3);
        first.set_lr(first.lr() * 0.1);
        let saved = through_plain_data(&first.state_dict());
        drop(first);
        let mut resumed = fresh();
        resumed.load_state_dict(&saved).unwrap();
        assert_eq!(resumed.lr(), straight.lr(), "{spec}");
        run(resumed.as_mut(), &mut w2, &mut b2, &mut rng2, 4);

        assert_eq!(w.mapv(f32::to_bits), w2.mapv(f32::to_bits), "{spec}");
        assert_eq!(b.mapv(f32::to_bits), b2.mapv(f32::to_bits), "{spec}");
        assert_eq!(resumed.state_dict(), straight.state_dict(), "{spec}");
        assert_eq!(straight.state_dict().scalars["layer.bias.step"], Scalar::U64(7));
    }
}

fn adam_state() -> StateDict<f32> {
    let mut o = build_optimizer::<f32>("adam").unwrap();
    let mut w = ArrayD::<f32>::ones(IxDyn(&[2, 2]));
    let g = ArrayD::<f32>::ones(IxDyn(&[2, 2]));
    o.step(&mut [ParamMut::new("w", w.view_mut(), Some(g.view()))]).unwrap();
    o.state_dict()
}

#[test]
fn state_of_another_configuration_is_rejected_with_the_key() {
    let state = adam_state();
    assert_eq!(
        state.arrays.keys().collect::<Vec<_>>(),
        ["w.exp_avg", "w.exp_avg_sq"],
        "PyTorch's state names, keyed by parameter name"
    );

    let err = build_optimizer::<f32>("adam:amsgrad=true").unwrap().load_state_dict(&state).unwrap_err();
    assert_eq!(err, OptimError::MissingState { owner: "adam".into(), key: "w.max_exp_avg_sq".into() });

    let err = build_optimizer::<f32>("sgd").unwrap().load_state_dict(&state).unwrap_err();
    assert!(matches!(&err, OptimError::UnexpectedState { key, .. } if key == "w.exp_avg"), "{err}");
    assert!(err.to_string().contains("w.exp_avg"), "{err}");

    let err = build_optimizer::<f32>("nadam").unwrap().load_state_dict(&state).unwrap_err();
    assert_eq!(err, OptimError::MissingState { owner: "nadam".into(), key: "w.mu_product".into() });

    let mut two_groups = build_optimizer::<f32>("adam").unwrap();
    two_groups.add_group(ParamGroup::new(1.0, 0.1)).unwrap();
    assert!(matches!(
        two_groups.load_state_dict(&state),
        Err(OptimError::GroupCount { saved: 1, current: 2, .. })
    ));
}

#[test]
fn mis_shaped_state_is_reported() {
    let mut state = adam_state();
    state.arrays.insert("w.exp_avg_sq".into(), ArrayD::zeros(IxDyn(&[4])));
    let err = build_optimizer::<f32>("adam").unwrap().load_state_dict(&state).unwrap_err();
    assert!(matches!(&err, OptimError::BadState { key, .. } if key == "w.exp_avg_sq"), "{err}");

    // Consistent state of another shape than the parameter: detected at the next step,
    // before anything changes.
    let state = adam_state();
    let mut o = build_optimizer::<f32>("adam").unwrap();
    o.load_state_dict(&state).unwrap();
    let mut w = ArrayD::<f32>::ones(IxDyn(&[4]));
    let g = ArrayD::<f32>::ones(IxDyn(&[4]));
    let err = o.step(&mut [ParamMut::new("w", w.view_mut(), Some(g.view()))]).unwrap_err();
    assert_eq!(err, OptimError::StateShape { param: "w".into(), value: vec![4], state: vec![2, 2] });
    assert!(w.iter().all(|&x| x == 1.0));
    assert_eq!(o.state_dict(), state);
}
