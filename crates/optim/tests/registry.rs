//! The optimizer and scheduler kinds in the registry: every built-in is registered once,
//! builds with its defaults in both precisions, aliases carry their presets, and unknown
//! names (such as a plugin whose crate is not linked) give a clear error.

use nabla_optim::testing::{build_error, build_optimizer};
use nabla_optim::{OptimError, OptimizerRegistration, SchedulerRegistration};
use nabla_registry::{duplicates, list, resolve, Component, RawParams, RegistryError, Value};

const BUILT_IN: [&str; 9] =
    ["adadelta", "adagrad", "adam", "adamax", "adamw", "nadam", "radam", "rmsprop", "sgd"];

#[test]
fn every_built_in_is_registered_once_and_builds() {
    let names: Vec<&str> = list::<OptimizerRegistration>().iter().map(|r| r.info().name).collect();
    assert_eq!(names, BUILT_IN);
    assert!(duplicates::<OptimizerRegistration>().is_empty());
    assert!(duplicates::<SchedulerRegistration>().is_empty());
    for record in list::<OptimizerRegistration>() {
        let info = record.info();
        assert!(info.module.starts_with("nabla_optim::"), "{}", info.module);
        assert!(info.params.iter().all(|s| !s.doc.is_empty()));
        assert!(info.params.iter().any(|s| s.name == "lr"), "{} has no lr", info.name);
        let params = resolve::<OptimizerRegistration>(info.name).unwrap().params(&RawParams::new()).unwrap();
        let a = record.build::<f32>(&params).unwrap();
        let b = record.build::<f64>(&params).unwrap();
        assert_eq!((a.name(), b.name()), (info.name, info.name));
        assert_eq!(a.lr(), params.f64("lr").unwrap());
        assert!(a.is_elementwise());
    }
}

#[test]
fn pytorch_defaults() {
    let lr = |name: &str| build_optimizer::<f32>(name).unwrap().lr();
    assert_eq!(
        [
            lr("sgd"),
            lr("adagrad"),
            lr("rmsprop"),
            lr("adadelta"),
            lr("adam"),
            lr("adamw"),
            lr("radam"),
            lr("nadam"),
            lr("adamax")
        ],
        [1e-3, 1e-2, 1e-2, 1.0, 1e-3, 1e-3, 1e-3, 2e-3, 2e-3]
    );
    assert_eq!(build_optimizer::<f32>("adamw").unwrap().groups()[0].weight_decay, 1e-2);
    assert_eq!(build_optimizer::<f32>("adam").unwrap().groups()[0].weight_decay, 0.0);
}

#[test]
fn aliases_apply_their_presets_and_users_override_them() {
    let (_, p) =
        nabla_registry::build::<dyn nabla_optim::Optimizer<f32>>(("momentum", &RawParams::new()), ())
            .map(|b| (b.value, b.params))
            .unwrap();
    assert_eq!((p.component(), p.f64("momentum").unwrap(), p.bool("nesterov").unwrap()), ("sgd", 0.9, false));
    for alias in ["nag", "Nesterov"] {
        let (opt, p) =
            nabla_registry::build::<dyn nabla_optim::Optimizer<f64>>((alias, &RawParams::new()), ())
                .map(|b| (b.value, b.params))
                .unwrap();
        assert_eq!((opt.name(), p.f64("momentum").unwrap(), p.bool("nesterov").unwrap()), ("sgd", 0.9, true));
    }
    let given: RawParams = [("momentum".to_string(), Value::Float(0.5))].into_iter().collect();
    let p = nabla_registry::build::<dyn nabla_optim::Optimizer<f32>>(("nag", &given), ()).unwrap().params;
    assert_eq!(p.f64("momentum").unwrap(), 0.5);
}

#[test]
fn unknown_names_list_the_known_optimizers() {
    // The Lion plugin is not linked into this test binary: its name is unknown here.
    let err = build_optimizer::<f32>("lion").unwrap_err();
    let OptimError::Registry(registry_error) = &err else { panic!("{err}") };
    let RegistryError::Unknown { known, .. } = registry_error.as_ref() else { panic!("{err}") };
    assert_eq!(known, &BUILT_IN);
    let message = err.to_string();
    assert!(message.starts_with("unknown optimizer 'lion'") && message.contains("adam, adamax"), "{message}");

    build_error::<f32>("adamm", &["did you mean 'adam'"]);
    build_error::<f32>("adam:betas=[0.9,1.5]", &["betas", "1.5"]);
    build_error::<f32>("sgd:nesterov=true", &["Nesterov momentum requires momentum > 0"]);
}
