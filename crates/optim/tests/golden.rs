//! Conformance with PyTorch: every configuration of `optim.json` (testdata/golden, or the
//! directory in `NABLA_GOLDEN_DIR`), free-running over all its steps, in f64 and in f32.
//!
//! PyTorch class names and hyper-parameters are mapped through the registry itself: the
//! lowercase class name is resolved as an optimizer name and the `hyperparams` table is
//! validated against that optimizer's schema, so vector sets with other hyper-parameters are
//! checked the same way.

use nabla_optim::{OptimizerRegistration, ParamMut, Precision, Scalar};
use nabla_registry::{resolve, RawParams, Value};
use nabla_tensor::ndarray::{ArrayD, IxDyn};
use nabla_tensor::Element;
use serde_json::Value as Json;
use std::path::PathBuf;

fn golden_path() -> PathBuf {
    match std::env::var_os("NABLA_GOLDEN_DIR") {
        Some(dir) => PathBuf::from(dir).join("optim.json"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/optim.json"),
    }
}

fn load() -> Json {
    let path = golden_path();
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn tensor<T: Element>(t: &Json) -> ArrayD<T> {
    let shape: Vec<usize> =
        t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let data: Vec<T> =
        t["data"].as_array().unwrap().iter().map(|x| T::from_f64(x.as_f64().unwrap())).collect();
    ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap()
}

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

/// Largest `|a - r| / (atol + rtol*|r|)` over a comparison (<= 1 passes).
fn budget_used<T: Element>(actual: &ArrayD<T>, reference: &ArrayD<f64>, atol: f64, rtol: f64) -> f64 {
    actual
        .iter()
        .zip(reference.iter())
        .map(|(&a, &r)| {
            let d = (a.to_f64() - r).abs();
            if d.is_nan() {
                f64::INFINITY
            } else {
                d / (atol + rtol * r.abs())
            }
        })
        .fold(0.0, f64::max)
}

const NAMES: [&str; 2] = ["0.weight", "0.bias"];

/// Runs one configuration in precision `T`; returns the worst budget use over all steps and
/// the optimizer's final state, or a description of the failure.
fn run<T: Precision>(
    config: &Json,
    atol: f64,
    rtol: f64,
) -> Result<(f64, nabla_optim::StateDict<T>), String> {
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
            let used = budget_used(value, &reference, atol, rtol);
            if used > 1.0 {
                return Err(format!(
                    "{id} ({}): step {} parameter {i}: {} of the tolerance (atol {atol:e}, rtol {rtol:e})\n  got      {value}\n  expected {reference}",
                    T::NAME,
                    k + 1,
                    used
                ));
            }
            worst = worst.max(used);
        }
    }
    Ok((worst, opt.state_dict()))
}

fn configs() -> Vec<Json> {
    let golden = load();
    let configs = golden["configs"].as_array().expect("configs").clone();
    assert!(!configs.is_empty(), "no configurations in {}", golden_path().display());
    configs
}

#[test]
fn every_configuration_matches_pytorch_in_f64() {
    let mut failures = Vec::new();
    let configs = configs();
    for config in &configs {
        match run::<f64>(config, 1e-10, 1e-9) {
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
                                .is_some_and(|a| budget_used(a, &tensor::<f64>(value), 1e-10, 1e-9) <= 1.0),
                            Json::Number(n) => match state.scalars.get(&ours) {
                                Some(Scalar::U64(s)) => *s as f64 == n.as_f64().unwrap(),
                                Some(Scalar::F64(x)) => {
                                    (x - n.as_f64().unwrap()).abs() <= 1e-9 * x.abs() + 1e-12
                                }
                                None => false,
                            },
                            _ => false,
                        };
                        if !ok {
                            failures.push(format!(
                                "{}: final state '{ours}' differs or is missing",
                                config["id"]
                            ));
                        }
                    }
                }
            }
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
    println!("{} configurations pass in f64", configs.len());
}

#[test]
fn every_configuration_matches_pytorch_in_f32() {
    let mut failures = Vec::new();
    let configs = configs();
    for config in &configs {
        match run::<f32>(config, 1e-6, 1e-5) {
            Ok((worst, _)) => println!(
                "{:<36} f32 uses {:.1}% of the tolerance (PyTorch f32: max abs err {:.1e})",
                config["id"].as_str().unwrap(),
                worst * 100.0,
                config["torch_float32_max_abs_err"].as_f64().unwrap_or(f64::NAN)
            ),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_public_set_has_all_39_configurations() {
    // Only for the bundled file; another vector set may have any number.
    if std::env::var_os("NABLA_GOLDEN_DIR").is_none() {
        assert_eq!(configs().len(), 39);
    }
}
