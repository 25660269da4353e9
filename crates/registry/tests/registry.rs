//! Registry behaviour on two test-only kinds: lookup, aliases, did-you-mean, duplicates, validation.

use nabla_registry::{
    duplicates, list, resolve, resolve_spec, Alias, Component, ComponentInfo, ComponentKind, Const,
    ParamError, ParamSpec, Params, Range, RawParams, RegistryError, Value,
};

/// What the test factories build: (lr, momentum, nesterov).
type Built = (f64, f64, bool);

/// A test kind standing in for optimizers.
pub struct TestOptimizer {
    /// Common record.
    pub info: ComponentInfo,
    /// Factory.
    pub build: fn(&Params) -> Result<Built, ParamError>,
}
nabla_registry::collect_records!(TestOptimizer, Optimizer);

const SGD_PARAMS: &[ParamSpec] = &[
    ParamSpec::float("lr", 1e-3, "learning rate").range(Range::NON_NEGATIVE),
    ParamSpec::float("momentum", 0.0, "momentum factor").range(Range::NON_NEGATIVE),
    ParamSpec::bool("nesterov", false, "use Nesterov momentum"),
];

nabla_registry::submit_component!(TestOptimizer {
    name: "sgd",
    aliases: [
        Alias::with_presets("momentum", &[("momentum", Const::Float(0.9))]),
        Alias::with_presets("nag", &[("momentum", Const::Float(0.9)), ("nesterov", Const::Bool(true))]),
    ],
    summary: "stochastic gradient descent",
    params: SGD_PARAMS,
    build: |p| Ok((p.f64("lr")?, p.f64("momentum")?, p.bool("nesterov")?)),
});

nabla_registry::submit_component!(TestOptimizer {
    name: "adam",
    summary: "Adam",
    params: &[
        ParamSpec::float("lr", 1e-3, "learning rate").range(Range::NON_NEGATIVE),
        ParamSpec::floats("betas", &[0.9, 0.999], "moment decay rates").len(2).range(Range::UNIT_HALF_OPEN),
        ParamSpec::choice("mode", &["fan_in", "fan_out"], "fan_in", "which fan"),
        ParamSpec::int("warmup", 0, "warm-up steps").range(Range::NON_NEGATIVE),
        ParamSpec::string("tag", "x", "free text").unset(),
        ParamSpec::float("size", 0.0, "a required size").required(),
    ],
    build: |p| Ok((p.f64("lr")?, p.f64s("betas")?[0], false)),
});

nabla_registry::submit_component!(TestOptimizer {
    name: "he_uniform",
    aliases: [Alias::new("kaiming_uniform")],
    summary: "name-normalization probe",
    params: &[],
    build: |_| Ok((0.0, 0.0, false)),
});

/// A second test kind with a deliberate name clash.
pub struct Clashing {
    /// Common record.
    pub info: ComponentInfo,
}
nabla_registry::collect_records!(Clashing, Loss);
mod first_plugin {
    nabla_registry::submit_component!(super::Clashing { name: "huber", summary: "one", params: &[] });
}
mod second_plugin {
    nabla_registry::submit_component!(super::Clashing {
        name: "smooth_l1",
        aliases: [nabla_registry::Alias::new("Huber")],
        summary: "two",
        params: &[],
    });
}

fn none() -> RawParams {
    RawParams::new()
}

#[test]
fn lookup_ignores_case_hyphens_and_underscores() {
    for name in ["he_uniform", "He-Uniform", "HeUniform", "HE_UNIFORM", "kaiming-uniform", "KaimingUniform"] {
        let found = resolve::<TestOptimizer>(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(found.info().name, "he_uniform", "{name}");
    }
}

#[test]
fn aliases_apply_presets_and_user_values_override_them() {
    let nag = resolve::<TestOptimizer>("nag").unwrap();
    assert_eq!(nag.info().name, "sgd");
    assert_eq!(nag.alias.unwrap().name, "nag");
    let p = nag.params(&none()).unwrap();
    assert_eq!((nag.record.build)(&p).unwrap(), (1e-3, 0.9, true));

    let mut given = none();
    given.insert("momentum".into(), Value::Float(0.5));
    let p = nag.params(&given).unwrap();
    assert_eq!(p.f64("momentum").unwrap(), 0.5);

    let plain = resolve::<TestOptimizer>("sgd").unwrap();
    assert!(plain.alias.is_none());
    assert_eq!(plain.params(&none()).unwrap().f64("momentum").unwrap(), 0.0);
}

#[test]
fn unknown_names_suggest_the_closest_and_list_all() {
    let err = resolve::<TestOptimizer>("adma").unwrap_err();
    let RegistryError::Unknown { suggestions, known, .. } = &err else { panic!("{err}") };
    assert_eq!(suggestions.first().map(String::as_str), Some("adam"));
    assert_eq!(known, &["adam", "he_uniform", "sgd"]);
    let msg = err.to_string();
    assert!(msg.contains("unknown optimizer 'adma'"), "{msg}");
    assert!(msg.contains("did you mean 'adam'"), "{msg}");
    assert!(msg.contains("adam, he_uniform, sgd"), "{msg}");

    let far = resolve::<TestOptimizer>("zzzzzzzz").unwrap_err();
    assert!(!far.to_string().contains("did you mean"), "{far}");
}

#[test]
fn duplicate_names_are_errors_naming_both_modules() {
    let err = resolve::<Clashing>("huber").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::Duplicate { .. }), "{msg}");
    assert!(msg.contains("first_plugin") && msg.contains("second_plugin"), "{msg}");
    // The unclashing name still resolves.
    assert_eq!(resolve::<Clashing>("smooth-l1").unwrap().info().name, "smooth_l1");
    assert_eq!(duplicates::<Clashing>().len(), 1);
    assert!(duplicates::<TestOptimizer>().is_empty());
}

#[test]
fn records_know_their_module() {
    let all = list::<TestOptimizer>();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|r| r.info().module == "registry"), "{:?}", all[0].info().module);
}

fn adam_with(key: &str, value: Value) -> Result<Params, ParamError> {
    let mut given = none();
    given.insert("size".into(), Value::Float(1.0));
    given.insert(key.into(), value);
    resolve::<TestOptimizer>("adam").unwrap().params(&given)
}

#[test]
fn validation_fills_defaults_and_widens_integers() {
    let p = adam_with("lr", Value::Int(1)).unwrap();
    assert_eq!(p.get("lr"), Some(&Value::Float(1.0)));
    assert_eq!(p.f64s("betas").unwrap(), vec![0.9, 0.999]);
    assert_eq!(p.str("mode").unwrap(), "fan_in");
    assert_eq!(p.opt_str("tag").unwrap(), None);
    assert_eq!(p.to_compact(), "adam:betas=[0.9,0.999],lr=1.0,mode=fan_in,size=1.0,warmup=0");
    let toml = p.to_toml();
    assert_eq!(toml["warmup"].as_integer(), Some(0));
}

#[test]
fn validation_errors_name_component_key_expected_and_given() {
    let unknown = adam_with("lrr", Value::Float(0.1)).unwrap_err().to_string();
    assert!(unknown.contains("optimizer 'adam' has no hyper-parameter 'lrr'"), "{unknown}");
    assert!(unknown.contains("did you mean 'lr'"), "{unknown}");

    let wrong = adam_with("betas", Value::Str("fast".into())).unwrap_err().to_string();
    assert!(wrong.contains("'betas' expects list of 2 floats, got a string (fast)"), "{wrong}");

    let range = adam_with("lr", Value::Float(-1.0)).unwrap_err().to_string();
    assert!(range.contains("'lr' must be >= 0"), "{range}");
    assert!(range.contains("got -1.0"), "{range}");

    for x in [f64::INFINITY, f64::NAN, f64::NEG_INFINITY] {
        let inf = adam_with("lr", Value::Float(x)).unwrap_err().to_string();
        assert!(inf.contains("'lr' must be finite and >= 0"), "{inf}");
    }
    assert!(nabla_registry::Range::closed(1.0, f64::INFINITY).contains(f64::INFINITY));
    assert!(!nabla_registry::Range::at_least(1.0).contains(f64::INFINITY));
    assert!(nabla_registry::Range::ANY.contains(f64::INFINITY));

    let len = adam_with("betas", Value::List(vec![Value::Float(0.9)])).unwrap_err().to_string();
    assert!(len.contains("exactly 2 floats"), "{len}");

    let elem = adam_with("betas", Value::List(vec![Value::Float(0.9), Value::Float(1.0)])).unwrap_err();
    assert!(elem.to_string().contains("[0, 1)"), "{elem}");

    let choice = adam_with("mode", Value::Str("fan_avg".into())).unwrap_err().to_string();
    assert!(choice.contains("one of fan_in, fan_out"), "{choice}");
    assert_eq!(adam_with("mode", Value::Str("Fan-Out".into())).unwrap().str("mode").unwrap(), "fan_out");

    let int = adam_with("warmup", Value::Float(2.5)).unwrap_err().to_string();
    assert!(int.contains("'warmup' expects integer"), "{int}");

    let missing = resolve::<TestOptimizer>("adam").unwrap().params(&none()).unwrap_err().to_string();
    assert!(missing.contains("missing required hyper-parameter 'size'"), "{missing}");
}

#[test]
fn compact_specs_resolve_and_validate() {
    let (found, params) = resolve_spec::<TestOptimizer>("Momentum:lr=0.1").unwrap();
    assert_eq!(found.info().name, "sgd");
    assert_eq!((found.record.build)(&params).unwrap(), (0.1, 0.9, false));
    let err = resolve_spec::<TestOptimizer>("sgd:lr=").unwrap_err().to_string();
    assert!(err.contains("expected a value"), "{err}");
    let err = resolve_spec::<TestOptimizer>("sgd:lr=0.1,lr=0.2").unwrap_err().to_string();
    assert!(err.contains("given twice"), "{err}");
}

#[test]
fn toml_tables_become_raw_params() {
    let table: toml::Table = toml::from_str("lr = 3e-4\nbetas = [0.9, 0.98]\nsize = 2").unwrap();
    let raw = nabla_registry::raw_params_from_toml(&table, "optimizer").unwrap();
    let p = resolve::<TestOptimizer>("adam").unwrap().params(&raw).unwrap();
    assert_eq!(p.f64s("betas").unwrap(), vec![0.9, 0.98]);
    assert_eq!(p.f64("size").unwrap(), 2.0);
    let bad: toml::Table = toml::from_str("lr = { a = 1 }").unwrap();
    let err = nabla_registry::raw_params_from_toml(&bad, "optimizer").unwrap_err();
    assert!(err.contains("optimizer.lr") && err.contains("a table"), "{err}");
}

#[test]
fn kinds_parse_from_singular_and_plural() {
    assert_eq!(ComponentKind::parse("optimizers"), Some(ComponentKind::Optimizer));
    assert_eq!(ComponentKind::parse("Initializer"), Some(ComponentKind::Initializer));
    assert_eq!(ComponentKind::parse("lr_scheduler"), Some(ComponentKind::Scheduler));
    assert_eq!(ComponentKind::parse("datasets"), Some(ComponentKind::Dataset));
    assert_eq!(ComponentKind::parse("widget"), None);
}

/// A test kind for typed registrations.
pub struct Typed {
    /// Common record.
    pub info: ComponentInfo,
    /// Factory.
    pub build: fn(&Params) -> Result<f64, ParamError>,
}
nabla_registry::collect_records!(Typed, Scheduler);

/// A component registered with `submit_typed!`: the schema comes from its derive.
#[derive(Debug, nabla_registry::HyperParams)]
struct Decay {
    /// decay factor
    #[param(default = 0.5, range = UNIT)]
    gamma: f64,
}

nabla_registry::submit_typed!(Typed, Decay, { build: |p| Ok(<Decay as nabla_registry::HyperParams>::from_params(p)?.gamma) },
    name: "decay",
    aliases: [Alias::new("exponential")],
    summary: "typed registration probe",
);

#[test]
fn typed_registrations_take_the_schema_from_the_derive() {
    let found = resolve::<Typed>("exponential").unwrap();
    assert_eq!(found.info().name, "decay");
    assert_eq!(found.info().params.len(), 1);
    assert_eq!(found.info().params[0].doc, "decay factor");
    let p = found.params(&none()).unwrap();
    assert_eq!((found.record.build)(&p).unwrap(), 0.5);
}
