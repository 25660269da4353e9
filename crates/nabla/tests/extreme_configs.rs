//! Configs with extreme values for every numeric key of every registered component (issue 14,
//! item 7): building the trainer, and a short run when it builds, ends in `Ok` or an error,
//! never a panic or an aborted allocation. Keys are enumerated from the registry's schemas,
//! so a new component is covered without touching this file.

use nabla::registry::{ComponentKind, ParamSpec, ParamType, Value};
use nabla::train::{RunOptions, TrainConfig, Trainer};
use proptest::prelude::*;

/// Every build gets at most this much memory: the budget check is part of what is tested.
const BASE: &str = include_str!("fixtures/extreme_base.toml");

/// The slot of the layer list where the layer under test goes.
const SLOT: usize = 2;

/// Where a key of a component goes in a config.
#[derive(Clone, Debug)]
struct Target {
    kind: ComponentKind,
    component: &'static str,
    spec: &'static ParamSpec,
}

/// The trainer's own numeric settings, by config path.
const TRAINER_KEYS: &[(&str, ParamType)] = &[
    ("seed", ParamType::Int),
    ("epochs", ParamType::Int),
    ("batch_size", ParamType::Int),
    ("eval_batch_size", ParamType::Int),
    ("validation_fraction", ParamType::Float),
    ("max_memory", ParamType::Int),
    ("clip.max_norm", ParamType::Float),
    ("clip.max_value", ParamType::Float),
    ("checkpoint.every_epochs", ParamType::Int),
];

fn targets() -> Vec<Target> {
    let mut out = Vec::new();
    for kind in ComponentKind::ALL {
        for info in nabla::catalog(kind) {
            for spec in info.params {
                if matches!(
                    spec.ty,
                    ParamType::Float | ParamType::Int | ParamType::FloatList(_) | ParamType::IntList
                ) {
                    out.push(Target { kind, component: info.name, spec });
                }
            }
        }
    }
    out
}

fn extreme_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => prop::sample::select(vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            1.0 - f64::EPSILON,
            1.0 + f64::EPSILON,
            f64::MIN_POSITIVE,
            1e-300,
            1e300,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1e10,
            -1e10,
            9.007_199_254_740_992e15,
        ]),
        1 => any::<f64>(),
    ]
}

fn extreme_int() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => prop::sample::select(vec![
            0,
            1,
            -1,
            2,
            i64::MAX,
            i64::MIN,
            i64::from(i32::MAX),
            1 << 32,
            1 << 40,
            1_000_000_000_000,
            2_000_000_000,
        ]),
        1 => any::<i64>(),
    ]
}

fn value_for(ty: ParamType) -> BoxedStrategy<Value> {
    let number = prop_oneof![extreme_float().prop_map(Value::Float), extreme_int().prop_map(Value::Int)];
    match ty {
        ParamType::Float | ParamType::Int => number.boxed(),
        ParamType::FloatList(_) | ParamType::IntList => {
            prop::collection::vec(number, 0..4).prop_map(Value::List).boxed()
        }
        _ => Just(Value::Bool(true)).boxed(),
    }
}

/// One assignment: a component key, or one of the trainer's settings.
fn assignment() -> BoxedStrategy<(Option<Target>, String, Value)> {
    let all = targets();
    let component = prop::sample::select(all)
        .prop_flat_map(|t| (Just(t.clone()), value_for(t.spec.ty)))
        .prop_map(|(t, v)| (Some(t), String::new(), v));
    let trainer = prop::sample::select(TRAINER_KEYS.to_vec())
        .prop_flat_map(|(key, ty)| (Just(key.to_string()), value_for(ty)))
        .prop_map(|(k, v)| (None, k, v));
    prop_oneof![4 => component, 1 => trainer].boxed()
}

/// The base config with the assignments applied; `Err` when the config itself refuses them.
fn config_with(assignments: &[(Option<Target>, String, Value)]) -> Result<TrainConfig, String> {
    let mut config = TrainConfig::from_toml_str(BASE, "extreme.toml", &[]).map_err(|e| e.to_string())?;
    for (target, key, value) in assignments {
        let set =
            |config: &mut TrainConfig, path: &str, v: Value| config.set(path, v).map_err(|e| e.to_string());
        match target {
            None => set(&mut config, key, value.clone())?,
            Some(t) => {
                let name = Value::Str(t.component.to_string());
                let key = t.spec.name;
                match t.kind {
                    ComponentKind::Optimizer | ComponentKind::Scheduler | ComponentKind::Loss => {
                        let table = t.kind.as_str();
                        set(&mut config, &format!("{table}.name"), name)?;
                        set(&mut config, &format!("{table}.{key}"), value.clone())?;
                    }
                    ComponentKind::Dataset => {
                        set(&mut config, "data.name", name)?;
                        set(&mut config, &format!("data.{key}"), value.clone())?;
                    }
                    ComponentKind::Layer => {
                        set(&mut config, &format!("model.layers.{SLOT}.name"), name)?;
                        set(&mut config, &format!("model.layers.{SLOT}.{key}"), value.clone())?;
                    }
                    ComponentKind::Trainer => set(&mut config, key, value.clone())?,
                    ComponentKind::Initializer => {
                        let spec = format!("{}:{key}={value}", t.component);
                        set(&mut config, "model.weight_init", Value::Str(spec))?;
                    }
                }
            }
        }
    }
    Ok(config)
}

/// Builds the trainer and, when it builds and a run is small, trains one epoch.
fn exercise(config: TrainConfig) {
    let Ok(mut trainer) = Trainer::new(config) else { return };
    let small = trainer.data().train.len() <= 512
        && trainer.config().batch_size >= 4
        && trainer.data().test.len() <= 512;
    if small {
        trainer.set_epochs(1);
        let _ = trainer.run(&RunOptions::in_memory());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn extreme_values_never_panic(assignments in prop::collection::vec(assignment(), 1..3)) {
        if let Ok(config) = config_with(&assignments) {
            exercise(config);
        }
    }
}

#[test]
fn every_kind_has_numeric_keys_to_vary() {
    let all = targets();
    for kind in [
        ComponentKind::Optimizer,
        ComponentKind::Scheduler,
        ComponentKind::Initializer,
        ComponentKind::Layer,
        ComponentKind::Dataset,
    ] {
        assert!(all.iter().any(|t| t.kind == kind), "no numeric key of any {kind}");
    }
    assert!(all.len() > 50, "{} keys", all.len());
}
