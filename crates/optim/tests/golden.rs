//! Conformance with PyTorch: every configuration of `optim.json` (testdata/golden, or the
//! directory in `NABLA_GOLDEN_DIR`), free-running over all its steps, in f64 and in f32.
//!
//! PyTorch class names and hyper-parameters are mapped through the registry itself: the
//! lowercase class name is resolved as an optimizer name and the `hyperparams` table is
//! validated against that optimizer's schema, so vector sets with other hyper-parameters are
//! checked the same way.

use nabla_golden::{tensor, Tolerance};
use nabla_optim::{OptimizerRegistration, ParamMut, Precision, Scalar};
use nabla_registry::{resolve, RawParams, Value};
use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::Element;
use serde_json::Value as Json;

const FILE: &str = "optim.json";

fn tensors<T: Element>(list: &Json) -> Vec<ArrayD<T>> {
    list.as_array().unwrap().iter().map(tensor).collect()
}

fn raw_params(hyper: &Json) -> RawParams {
    hyper
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::from_value::<Value>(v.clone()).expect("hyper-parameter value")))
        .collect()
}

const NAMES: [&str; 2] = ["0.weight", "0.bias"];

/// Runs one configuration in precision `T`; returns the worst budget use over all steps and
/// the optimizer's final state, or a description of the failure.
fn run<T: Precision>(config: &Json, tol: Tolerance) -> Result<(f64, nabla_optim::StateDict<T>), String> {
    let id = config["id"].as_str().unwrap();
    let class = config["optimizer"].as_str().unwrap();
    let resolved =
        resolve::<OptimizerRegistration>(&class.to_lowercase()).map_err(|e| format!("{id}: {e}"))?;
    let params = resolved.params(&raw_params(&config["hyperparams"])).map_err(|e| format!("{id}: {e}"))?;
    let mut opt = resolved.record.build::<T>(&params).map_err(|e| format!("{id}: {e}"))?;
    let mut values: Vec<ArrayD<T>> = tensors(&config["params_init"]);
    let mut worst = 0.0f64;
    for (k, step) in config["steps"].as_array().unwrap().iter().enumerate() {
        let grads: Vec<ArrayD<T>> = tensors(&step["grads"]);
        let mut views: Vec<ParamMut<'_, T>> = values
            .iter_mut()
            .zip(&grads)
            .zip(NAMES)
            .map(|((v, g), name)| ParamMut::new(name, v.view_mut(), Some(g.view())))
            .collect();
        opt.step(&mut views).map_err(|e| format!("{id}: step {}: {e}", k + 1))?;
        for (i, (value, reference)) in values.iter().zip(tensors::<f64>(&step["params_after"])).enumerate() {
            let used = tol.budget_used(value, &reference);
            if used > 1.0 {
                return Err(format!(
                    "{id} ({}): step {} parameter {i}: {} of the tolerance (atol {:e}, rtol {:e})\n  got      {value}\n  expected {reference}",
                    T::NAME,
                    k + 1,
                    used,
                    tol.atol,
                    tol.rtol
                ));
            }
            worst = worst.max(used);
        }
    }
    Ok((worst, opt.state_dict()))
}

fn configs() -> Vec<Json> {
    let golden = nabla_golden::load(FILE);
    let configs = golden["configs"].as_array().expect("configs").clone();
    assert!(!configs.is_empty(), "no configurations in {}", nabla_golden::path(FILE).display());
    configs
}

/// Runs `check` on every configuration, which records what fails in the list it is given,
/// then fails with all the failures at once (not only the first); returns the number of
/// configurations.
fn check_every_config(mut check: impl FnMut(&Json, &mut Vec<String>)) -> usize {
    let mut failures = Vec::new();
    let configs = configs();
    for config in &configs {
        check(config, &mut failures);
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
    configs.len()
}

#[test]
fn every_configuration_matches_pytorch_in_f64() {
    let count = check_every_config(|config, failures| match run::<f64>(config, Tolerance::F64) {
        Ok((worst, state)) => {
            println!("{:<36} f64 uses {:.2e} of the tolerance", config["id"].as_str().unwrap(), worst);
            // PyTorch's final per-parameter state has the same names as ours.
            for (name, torch_state) in NAMES.iter().zip(config["final_state"].as_array().unwrap()) {
                for (key, value) in torch_state.as_object().unwrap() {
                    let ours = format!("{name}.{key}");
                    let ok = match value {
                        Json::Object(_) => state
                            .arrays
                            .get(&ours)
                            .is_some_and(|a| Tolerance::F64.budget_used(a, &tensor(value)) <= 1.0),
                        Json::Number(n) => match state.scalars.get(&ours) {
                            Some(Scalar::U64(s)) => *s as f64 == n.as_f64().unwrap(),
                            Some(Scalar::F64(x)) => (x - n.as_f64().unwrap()).abs() <= 1e-9 * x.abs() + 1e-12,
                            None => false,
                        },
                        _ => false,
                    };
                    if !ok {
                        failures
                            .push(format!("{}: final state '{ours}' differs or is missing", config["id"]));
                    }
                }
            }
        }
        Err(e) => failures.push(e),
    });
    println!("{count} configurations pass in f64");
}

#[test]
fn every_configuration_matches_pytorch_in_f32() {
    check_every_config(|config, failures| match run::<f32>(config, Tolerance::F32) {
        Ok((worst, _)) => println!(
            "{:<36} f32 uses {:.1}% of the tolerance (PyTorch f32: max abs err {:.1e})",
            config["id"].as_str().unwrap(),
            worst * 100.0,
            config["torch_float32_max_abs_err"].as_f64().unwrap_or(f64::NAN)
        ),
        Err(e) => failures.push(e),
    });
}

#[test]
fn the_public_set_has_all_39_configurations() {
    // Only for the bundled file; another vector set may have any number.
    if !nabla_golden::is_overridden() {
        assert_eq!(configs().len(), 39);
    }
}
