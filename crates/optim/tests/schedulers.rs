//! Every registered scheduler: builds from the registry, gives finite non-negative rates and
//! resumes exactly from its saved state; and the registry-level behaviour of the schedules.

use nabla_optim::testing::build_scheduler;
use nabla_optim::{OptimError, Scalar, Scheduler, SchedulerRegistration};
use nabla_registry::{list, Component, Const, ParamType, RawParams, Value};

/// Values for the required hyper-parameters, by type, so that every schedule can be built.
fn required_values(record: &SchedulerRegistration) -> RawParams {
    record
        .info()
        .params
        .iter()
        .filter(|s| s.default == Const::Required)
        .map(|s| {
            let v = match s.ty {
                ParamType::Int => Value::Int(3),
                ParamType::Float => Value::Float(0.5),
                ParamType::IntList => Value::List(vec![Value::Int(2), Value::Int(4)]),
                other => panic!("no test value for a required {other} hyper-parameter"),
            };
            (s.name.to_string(), v)
        })
        .collect()
}

fn metric(k: usize) -> Option<f64> {
    // Improves, then plateaus, so reduce_on_plateau acts too.
    Some(if k < 3 { 10.0 - k as f64 } else { 7.0 })
}

#[test]
fn every_scheduler_resumes_exactly() {
    let records = list::<SchedulerRegistration>();
    let names: Vec<&str> = records.iter().map(|r| r.info().name).collect();
    for expected in [
        "constant",
        "cosine_annealing",
        "exponential",
        "linear_warmup",
        "multistep",
        "reduce_on_plateau",
        "step",
    ] {
        assert!(names.contains(&expected), "{expected} not registered: {names:?}");
    }
    let mut configs: Vec<(String, RawParams)> =
        records.iter().map(|r| (r.info().name.to_string(), required_values(r))).collect();
    configs.push((
        "linear_warmup".into(),
        [
            ("then".to_string(), Value::Str("plateau:patience=1".into())),
            ("warmup_steps".to_string(), Value::Int(2)),
        ]
        .into_iter()
        .collect(),
    ));
    for (name, raw) in configs {
        let build = || nabla_registry::build::<dyn Scheduler>((name.as_str(), &raw), 0.1).unwrap().value;
        let mut straight = build();
        let lrs: Vec<f64> = (0..20).map(|k| straight.step(metric(k)).unwrap()).collect();
        assert!(lrs.iter().all(|lr| lr.is_finite() && *lr >= 0.0), "{name}: {lrs:?}");
        for cut in [0, 1, 5, 13] {
            let mut first = build();
            for k in 0..cut {
                first.step(metric(k)).unwrap();
            }
            let saved = first.state();
            let mut resumed = build();
            resumed.load_state(&saved).unwrap();
            assert_eq!(resumed.state(), saved, "{name}");
            assert_eq!(resumed.steps(), cut as u64);
            for (k, expected) in lrs.iter().enumerate().skip(cut) {
                assert_eq!(
                    resumed.step(metric(k)).unwrap().to_bits(),
                    expected.to_bits(),
                    "{name} resumed at {cut}, step {k}"
                );
            }
        }
    }
}

#[test]
fn bad_state_is_rejected_and_changes_nothing() {
    let mut s = build_scheduler("cosine:t_max=10", 1.0).unwrap();
    s.step(None).unwrap();
    let good = s.state();
    let mut missing = good.clone();
    missing.remove("step");
    assert!(matches!(s.load_state(&missing), Err(OptimError::MissingState { .. })));
    let mut extra = good.clone();
    extra.insert("best".into(), Scalar::F64(1.0));
    assert!(matches!(s.load_state(&extra), Err(OptimError::UnexpectedState { .. })));
    let mut mistyped = good.clone();
    mistyped.insert("step".into(), Scalar::F64(1.0));
    assert!(matches!(s.load_state(&mistyped), Err(OptimError::BadState { .. })));
    assert_eq!(s.state(), good);

    let mut w = build_scheduler("warmup:then=\"cosine:t_max=3\"", 1.0).unwrap();
    let mut inner_missing = w.state();
    inner_missing.remove("inner.step");
    let err = w.load_state(&inner_missing).unwrap_err();
    assert!(matches!(err, OptimError::MissingState { ref key, .. } if key == "step"), "{err}");
}

#[test]
fn names_aliases_and_errors() {
    assert_eq!(build_scheduler("cosine:t_max=5", 1.0).unwrap().name(), "cosine_annealing");
    assert_eq!(build_scheduler("plateau", 1.0).unwrap().name(), "reduce_on_plateau");
    let err = build_scheduler("cosin:t_max=5", 1.0).unwrap_err().to_string();
    assert!(err.contains("cosine_annealing") && err.contains("did you mean"), "{err}");
    let err = build_scheduler("step", 1.0).unwrap_err().to_string();
    assert!(err.contains("step_size"), "{err}");
}

#[test]
fn warmup_then_cosine_by_the_numbers() {
    let mut s: Box<dyn Scheduler> = build_scheduler(
        "linear_warmup:warmup_steps=4,start_factor=0.25,then=\"cosine:t_max=2,eta_min=0.1\"",
        2.0,
    )
    .unwrap();
    let mut lrs = vec![s.lr()];
    lrs.extend((0..8).map(|_| s.step(None).unwrap()));
    let expected = [0.5, 0.875, 1.25, 1.625, 2.0, 1.05, 0.1, 0.1, 0.1];
    for (a, b) in lrs.iter().zip(expected) {
        assert!((a - b).abs() < 1e-12, "{lrs:?}");
    }
}
