//! Conformance of whole convolutional networks with PyTorch: every `Sequential` case of
//! `testdata/golden/conv.json` (or `$NABLA_GOLDEN_DIR/conv.json`), in f64 and in f32.
//!
//! A case gives its layers as descriptions (`conv2d(1->4, k3, padding 1)`, or PyTorch's module
//! reprs), its optimizer (`{"name": "SGD", "lr": .., "momentum": ..}`), the initial
//! `state_dict` and training steps. The checker parses the descriptions into registry specs
//! ([`description`]), builds the model through the layer registry from them exactly as a TOML
//! config's `[[model.layers]]` are built (each layer's input size inferred from the shape
//! flowing in, starting from the shape of one input sample), builds the optimizer through the
//! optimizer registry from the case's fields, loads `state_before`, and for every step runs the
//! forward pass in training mode, compares the logits and the cross-entropy (mean) loss,
//! backpropagates, compares every gradient, takes the optimizer step and compares the whole
//! `state_dict` (parameters, BatchNorm running statistics, `num_batches_tracked`).
//!
//! The registry builds `f32` modules. The `f64` model is the same model built from the
//! registry's effective hyper-parameters of each layer (defaults and inferred sizes filled in
//! by the registry), and must describe itself exactly as the registry-built one does.
//!
//! The op-level cases of the file (single convolutions, poolings, BatchNorm2d) are checked by
//! `nabla-autograd`'s `golden_conv` test; any other module, a missing or unknown field, an
//! unknown layer or hyper-parameter fails.

mod description;

use nabla_autograd::Var;
use nabla_golden::{
    assert_close_scalar_tol, assert_close_tol, bump, field, indices, tensor, Checked, ModifiedVectors,
    Precisions, Tolerance,
};
use nabla_layers::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm1dConfig, BatchNorm2d, BatchNorm2dConfig,
    BuildContext, Conv2d, Conv2dConfig, CrossEntropy, Flatten, Gelu, Identity, LeakyRelu, Linear,
    LinearConfig, LogSoftmax, Loss, LossRegistration, MaxPool2d, Module, Relu, Sequential, Sigmoid, Softmax,
    Tanh, Target, Unflatten,
};
use nabla_optim::{Optimizer, ParamMut};
use nabla_registry::{build, HyperParams, Params, RawParams, Spec};
use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::{Element, Rng};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The module of the cases this file checks.
const SEQUENTIAL: &str = "Sequential";
/// The modules of the op-level cases, checked by `nabla-autograd`'s `golden_conv` test.
const OP_LEVEL: [&str; 5] = ["Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d"];
/// The loss of every step (the golden README: cross-entropy, mean).
const LOSS: &str = "cross_entropy";
/// The README's f32 tolerance for the two-step CNN: 1e-4 relative, since the errors of the
/// steps compound (single layers are held to 1e-5); the absolute part is that of single layers.
const CNN_F32: Tolerance = Tolerance { atol: 1e-6, rtol: 1e-4 };

/// An element type the CNN cases are checked in: how its model and loss are built.
trait Precision: nabla_optim::Precision {
    /// The tolerance of the whole case.
    fn tolerance() -> Tolerance;
    /// The model of `specs` for input samples of `sample`.
    fn model(case: &str, specs: &[Spec], sample: &[usize]) -> Sequential<Self>;
    /// The loss.
    fn loss(case: &str) -> Box<dyn Loss<Self>>;
}

/// Builds every layer by name through the registry, as the trainer builds a config's layers;
/// returns the model and each layer's effective hyper-parameters.
fn registry_model(case: &str, specs: &[Spec], sample: &[usize]) -> (Sequential<f32>, Vec<Params>) {
    let mut ctx = BuildContext::new(sample.to_vec(), Rng::seed(0));
    let mut model = Sequential::new();
    let mut effective = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let built = build::<dyn Module<f32>>(spec, &mut ctx)
            .unwrap_or_else(|e| panic!("case {case}: layer {i} ({}): {e}", spec.name));
        model.push(built.value);
        effective.push(built.params);
    }
    (model, effective)
}

impl Precision for f32 {
    fn tolerance() -> Tolerance {
        CNN_F32
    }

    fn model(case: &str, specs: &[Spec], sample: &[usize]) -> Sequential<f32> {
        registry_model(case, specs, sample).0
    }

    fn loss(case: &str) -> Box<dyn Loss<f32>> {
        build::<dyn Loss<f32>>(LOSS, ()).unwrap_or_else(|e| panic!("case {case}: loss: {e}")).value
    }
}

/// A module whose hyper-parameters are its fields, read back from effective hyper-parameters.
fn own<M: HyperParams + Module<f64> + 'static>(p: &Params) -> Result<Box<dyn Module<f64>>, String> {
    M::from_params(p).map(|m| Box::new(m) as Box<dyn Module<f64>>).map_err(|e| e.to_string())
}

/// The `f64` layer of the effective hyper-parameters `p` of a registry-built layer (fresh
/// parameters: the case's `state_before` is loaded over them).
fn f64_layer(p: &Params, rng: &mut Rng) -> Result<Box<dyn Module<f64>>, String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let layer: Box<dyn Module<f64>> = match p.component() {
        "conv2d" => {
            let c = Conv2dConfig::from_params(p).map_err(|e| text(&e))?;
            let in_channels = c.in_channels.ok_or("the registry did not record in_channels")?;
            Box::new(
                Conv2d::<f64>::new(in_channels, c.out_channels, c.kernel_size.0, c.options(), c.bias, rng)
                    .map_err(|e| text(&e))?,
            )
        }
        "linear" => {
            let c = LinearConfig::from_params(p).map_err(|e| text(&e))?;
            let in_features = c.in_features.ok_or("the registry did not record in_features")?;
            Box::new(Linear::<f64>::new(in_features, c.out_features, c.bias, rng).map_err(|e| text(&e))?)
        }
        "batch_norm1d" => {
            let c = BatchNorm1dConfig::from_params(p).map_err(|e| text(&e))?;
            let n = c.num_features.ok_or("the registry did not record num_features")?;
            Box::new(
                BatchNorm1d::<f64>::new(n, c.eps, c.momentum, c.affine, c.track_running_stats)
                    .map_err(|e| text(&e))?,
            )
        }
        "batch_norm2d" => {
            let c = BatchNorm2dConfig::from_params(p).map_err(|e| text(&e))?;
            let n = c.num_features.ok_or("the registry did not record num_features")?;
            Box::new(
                BatchNorm2d::<f64>::new(n, c.eps, c.momentum, c.affine, c.track_running_stats)
                    .map_err(|e| text(&e))?,
            )
        }
        "max_pool2d" => own::<MaxPool2d>(p)?,
        "avg_pool2d" => own::<AvgPool2d>(p)?,
        "adaptive_avg_pool2d" => own::<AdaptiveAvgPool2d>(p)?,
        "flatten" => own::<Flatten>(p)?,
        "unflatten" => own::<Unflatten>(p)?,
        "identity" => own::<Identity>(p)?,
        "relu" => own::<Relu>(p)?,
        "sigmoid" => own::<Sigmoid>(p)?,
        "tanh" => own::<Tanh>(p)?,
        "leaky_relu" => own::<LeakyRelu>(p)?,
        "gelu" => own::<Gelu>(p)?,
        "softmax" => own::<Softmax>(p)?,
        "log_softmax" => own::<LogSoftmax>(p)?,
        "dropout" | "dropout2d" => {
            return Err("draws random masks in training mode, which no reference can reproduce".into())
        }
        other => return Err(format!("no f64 counterpart of the registered layer {other:?} in this checker")),
    };
    Ok(layer)
}

impl Precision for f64 {
    fn tolerance() -> Tolerance {
        Tolerance::F64
    }

    fn model(case: &str, specs: &[Spec], sample: &[usize]) -> Sequential<f64> {
        let (reference, effective) = registry_model(case, specs, sample);
        let mut rng = Rng::seed(0);
        let model: Sequential<f64> = effective
            .iter()
            .enumerate()
            .map(|(i, p)| {
                f64_layer(p, &mut rng)
                    .unwrap_or_else(|e| panic!("case {case}: layer {i} ({}): {e}", p.component()))
            })
            .collect();
        assert_eq!(
            model.describe(),
            reference.describe(),
            "case {case}: the f64 model is not the registry's"
        );
        model
    }

    fn loss(case: &str) -> Box<dyn Loss<f64>> {
        let resolved = nabla_registry::resolve::<LossRegistration>(LOSS)
            .unwrap_or_else(|e| panic!("case {case}: loss: {e}"));
        let params = resolved.params(&RawParams::new()).unwrap_or_else(|e| panic!("case {case}: loss: {e}"));
        assert_eq!(params.component(), "cross_entropy", "case {case}: the f64 loss");
        Box::new(CrossEntropy::from_params(&params).unwrap_or_else(|e| panic!("case {case}: loss: {e}")))
    }
}

/// Fails unless `obj` has exactly the keys `keys`.
fn check_fields(what: &str, obj: &Value, keys: &[&str]) {
    let obj = obj.as_object().unwrap_or_else(|| panic!("{what} is not an object"));
    for key in keys {
        assert!(obj.contains_key(*key), "{what}: missing field {key:?}");
    }
    for key in obj.keys() {
        assert!(keys.contains(&key.as_str()), "{what}: field {key:?} is not understood by this checker");
    }
}

/// A JSON hyper-parameter as the registry's value (as a TOML config would give it).
fn hyper(what: &str, v: &Value) -> nabla_registry::Value {
    use nabla_registry::Value as H;
    match v {
        Value::Bool(b) => H::Bool(*b),
        Value::Number(n) => {
            n.as_i64().map(H::Int).or_else(|| n.as_f64().map(H::Float)).expect("a JSON number")
        }
        Value::String(s) => H::Str(s.clone()),
        Value::Array(xs) => H::List(xs.iter().map(|x| hyper(what, x)).collect()),
        other => panic!("{what}: {other} is not a hyper-parameter value"),
    }
}

/// The optimizer of a case's `optimizer` field, through the optimizer registry: `name` is the
/// registered name (PyTorch's class names resolve), every other field a hyper-parameter.
fn optimizer<T: Precision>(case: &str, spec: &Value) -> Box<dyn Optimizer<T>> {
    let what = format!("case {case}: optimizer");
    let obj = spec.as_object().unwrap_or_else(|| panic!("{what} is not an object"));
    let name = field(spec, "name").as_str().unwrap_or_else(|| panic!("{what}: name is not a string"));
    let raw: RawParams =
        obj.iter().filter(|(k, _)| *k != "name").map(|(k, v)| (k.clone(), hyper(&what, v))).collect();
    build::<dyn Optimizer<T>>((name, &raw), ()).unwrap_or_else(|e| panic!("{what}: {e}")).value
}

/// The integer of a 0-d counter tensor (`num_batches_tracked`).
fn counter(what: &str, v: &Value) -> u64 {
    assert_eq!(nabla_golden::shape(field(v, "shape")), Vec::<usize>::new(), "{what}: a counter is 0-d");
    match indices(v).as_slice() {
        [n] => *n as u64,
        other => panic!("{what}: a counter holds one integer, got {other:?}"),
    }
}

/// The names of a model's whole state: parameters, buffers, counters.
fn state_names<T: Element>(model: &Sequential<T>) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
    names.extend(model.buffers().into_iter().map(|(n, _)| n));
    names.extend(model.counters().into_iter().map(|(n, _)| n));
    names
}

/// Fails unless the entries of the state object `state` are exactly the model's state.
fn check_state_names<T: Element>(what: &str, model: &Sequential<T>, state: &Value) {
    let given: BTreeSet<String> =
        state.as_object().unwrap_or_else(|| panic!("{what} is not an object")).keys().cloned().collect();
    let model_names = state_names(model);
    assert_eq!(
        given,
        model_names,
        "{what}: entries not in the model {:?}, model state missing {:?}",
        given.difference(&model_names).collect::<Vec<_>>(),
        model_names.difference(&given).collect::<Vec<_>>()
    );
}

/// Loads a whole `state_dict` into the model (after checking that it is exactly the model's).
fn load_state<T: Element>(what: &str, model: &mut Sequential<T>, state: &Value) {
    check_state_names(what, model, state);
    let load = |name: &str, target: &mut ArrayD<T>| {
        let value = tensor::<T>(&state[name]);
        assert_eq!(value.shape(), target.shape(), "{what}: {name} has the wrong shape");
        *target = value;
    };
    for (name, var) in model.parameters() {
        load(&name, &mut var.value_mut());
    }
    model.visit_buffers_mut("", &mut |name, b| load(name, b));
    model.visit_counters_mut("", &mut |name, n| *n = counter(&format!("{what}: {name}"), &state[name]));
}

/// Compares the model's whole state with a `state_dict` object.
fn compare_state<T: Element>(what: &str, model: &Sequential<T>, state: &Value, tol: Tolerance) {
    check_state_names(what, model, state);
    for (name, var) in model.parameters() {
        assert_close_tol(&format!("{what} {name}"), &var.value(), &state[&name], tol);
    }
    for (name, b) in model.buffers() {
        assert_close_tol(&format!("{what} {name}"), &b, &state[&name], tol);
    }
    for (name, n) in model.counters() {
        assert_eq!(n, counter(&format!("{what} {name}"), &state[&name]), "{what} {name}");
    }
}

/// One optimizer step over the model's parameters, as the trainer takes it.
fn optimizer_step<T: Element>(what: &str, model: &Sequential<T>, opt: &mut dyn Optimizer<T>) {
    let params = model.parameters();
    let mut values: Vec<_> = params.iter().map(|(_, p)| p.value_mut()).collect();
    let grads: Vec<_> = params.iter().map(|(_, p)| p.grad()).collect();
    let mut views: Vec<ParamMut<'_, T>> = params
        .iter()
        .zip(values.iter_mut())
        .zip(grads.iter())
        .map(|(((name, _), value), grad)| {
            ParamMut::new(name, value.view_mut(), grad.as_ref().map(|g| g.view()))
        })
        .collect();
    opt.step(&mut views).unwrap_or_else(|e| panic!("{what}: optimizer step: {e}"));
}

/// The specs of a case's `layers` field.
fn layer_specs(case: &str, layers: &Value) -> Vec<Spec> {
    let layers = layers.as_array().unwrap_or_else(|| panic!("case {case}: layers is not a list"));
    assert!(!layers.is_empty(), "case {case}: no layers");
    layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let text = l.as_str().unwrap_or_else(|| panic!("case {case}: layer {i} is not a string: {l}"));
            description::parse(text).unwrap_or_else(|e| panic!("case {case}: layer {i}: {e}"))
        })
        .collect()
}

/// The fields of one step of a case.
const STEP_FIELDS: [&str; 6] = ["input", "target", "logits", "loss", "grads", "state_after"];

/// Checks one `Sequential` case in `T`.
fn sequential_case<T: Precision>(name: &str, case: &Value) {
    check_fields(&format!("case {name}"), case, &["module", "layers", "optimizer", "state_before", "steps"]);
    let specs = layer_specs(name, field(case, "layers"));
    let steps = field(case, "steps").as_array().unwrap_or_else(|| panic!("case {name}: steps is not a list"));
    assert!(!steps.is_empty(), "case {name}: no steps");
    let input_shape = nabla_golden::shape(field(field(&steps[0], "input"), "shape"));
    assert!(!input_shape.is_empty(), "case {name}: the input has no batch axis");
    let mut model = T::model(name, &specs, &input_shape[1..]);
    load_state(&format!("case {name} state_before"), &mut model, field(case, "state_before"));
    let mut opt = optimizer::<T>(name, field(case, "optimizer"));
    let loss = T::loss(name);
    let tol = T::tolerance();
    for (k, step) in steps.iter().enumerate() {
        let what = |s: &str| format!("case {name} step {k} {s}");
        check_fields(&what(""), step, &STEP_FIELDS);
        model.train();
        model.zero_grad();
        let x = Var::constant(tensor::<T>(field(step, "input")));
        let logits = model.forward(&x).unwrap_or_else(|e| panic!("{}: {e}", what("forward")));
        assert_close_tol(&what("logits"), &logits.value(), field(step, "logits"), tol);
        let target = indices(field(step, "target"));
        let l = loss
            .forward(&logits, &Target::Classes(&target))
            .unwrap_or_else(|e| panic!("{}: {e}", what("loss")));
        let want = field(step, "loss").as_f64().unwrap_or_else(|| panic!("{}: not a number", what("loss")));
        assert_close_scalar_tol(&what("loss"), l.item(), want, tol);
        l.backward().unwrap_or_else(|e| panic!("{}: {e}", what("backward")));
        let grads = field(step, "grads");
        let param_names: BTreeSet<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
        let grad_names: BTreeSet<String> = grads
            .as_object()
            .unwrap_or_else(|| panic!("{} is not an object", what("grads")))
            .keys()
            .cloned()
            .collect();
        assert_eq!(grad_names, param_names, "{}: one per parameter", what("grads"));
        for (p, var) in model.parameters() {
            let g = var.grad().unwrap_or_else(|| panic!("{}: no gradient", what(&p)));
            assert_close_tol(&what(&format!("grad {p}")), &g, &grads[&p], tol);
        }
        optimizer_step(&what(""), &model, opt.as_mut());
        compare_state(&what("state_after"), &model, field(step, "state_after"), tol);
    }
}

/// Checks every `Sequential` case of a parsed `conv.json` in `T`; returns their names.
///
/// # Panics
/// On any mismatch, an unknown module, layer or hyper-parameter, a missing or unknown field.
fn check_all<T: Precision>(golden: &Value) -> Vec<String> {
    nabla_golden::check_every_case(golden, |name, module, case| match module {
        SEQUENTIAL => {
            sequential_case::<T>(name, case);
            Checked::Here
        }
        m if OP_LEVEL.contains(&m) => Checked::Elsewhere,
        other => panic!("case {name}: unknown module {other:?}"),
    })
}

/// [`check_all`] in f64 and in f32.
const BOTH: Precisions = Precisions { f64: check_all::<f64>, f32: check_all::<f32> };

#[test]
fn every_sequential_case_matches_pytorch_in_f64_and_f32() {
    BOTH.check_file("conv.json", |names| assert_eq!(names, ["CNN"]));
}

// ----- corrupted, renamed and other cases ------------------------------------------------------

fn bundled() -> Value {
    nabla_golden::read_json(&nabla_golden::bundled_dir().join("conv.json"))
}

/// The name of the first `Sequential` case of `golden`.
fn cnn_name(golden: &Value) -> String {
    nabla_golden::first_case(golden, SEQUENTIAL)
}

/// A corruption of a case: a tag, the text its failure must contain, and the change.
type Corruption<'a> = (&'a str, &'a str, &'a dyn Fn(&mut Value));

/// Checks that each corruption of the first `Sequential` case of `original` fails in f64 and
/// f32 with a message naming the case and containing the corruption's text.
fn assert_each_fails(original: &Value, corruptions: &[Corruption<'_>]) {
    let name = cnn_name(original);
    for (tag, expect, corrupt) in corruptions {
        let mut g = original.clone();
        corrupt(&mut g["cases"][&name]);
        let tmp = ModifiedVectors::with("conv.json", tag, &g);
        for msg in BOTH.failures(&tmp.path()) {
            assert!(msg.contains(&format!("case {name}")), "{tag}: the failure names the case: {msg}");
            assert!(msg.contains(expect), "{tag}: expected {expect:?} in: {msg}");
        }
    }
}

#[test]
fn corrupted_cases_fail() {
    let last = |c: &Value| c["steps"].as_array().unwrap().len() - 1;
    assert_each_fails(
        &bundled(),
        &[
            ("logits", "step 0 logits", &|c| bump(&mut c["steps"][0]["logits"], 5, 1e-3)),
            ("loss", "step 1 loss", &|c| {
                let l = c["steps"][1]["loss"].as_f64().unwrap();
                c["steps"][1]["loss"] = (l * 1.001).into();
            }),
            ("grad", "grad 4.weight", &|c| bump(&mut c["steps"][0]["grads"]["4.weight"], 7, 1e-3)),
            ("weight_after", "state_after 0.weight", &|c| {
                let k = last(c);
                bump(&mut c["steps"][k]["state_after"]["0.weight"], 0, 1e-3)
            }),
            ("running_var", "state_after 1.running_var", &|c| {
                bump(&mut c["steps"][0]["state_after"]["1.running_var"], 1, 1e-3)
            }),
            ("tracked", "1.num_batches_tracked", &|c| {
                let k = last(c);
                c["steps"][k]["state_after"]["1.num_batches_tracked"]["data"][0] = 7.into();
            }),
            ("initial", "logits", &|c| bump(&mut c["state_before"]["8.bias"], 2, 1e-2)),
            // The hyper-parameters are read: a changed momentum changes the second step (the
            // first has an empty momentum buffer), a changed layer the first.
            ("momentum", "step 1", &|c| c["optimizer"]["momentum"] = 0.8.into()),
            ("lr", "step 0 state_after", &|c| c["optimizer"]["lr"] = 0.11.into()),
            ("pooling", "step 0 logits", &|c| {
                let layers = c["layers"].as_array_mut().unwrap();
                let i = layers.iter().position(|l| l.as_str().unwrap().starts_with("max_pool2d")).unwrap();
                layers[i] = "avg_pool2d(2)".into();
            }),
            ("dilation", "layer 6 (avg_pool2d)", &|c| {
                // A dilated kernel shrinks the image so far that a later pooling window no
                // longer fits: the model fails to build, naming the layer.
                let layers = c["layers"].as_array_mut().unwrap();
                let i = layers.iter().position(|l| l.as_str().unwrap().contains("padding")).unwrap();
                layers[i] = "conv2d(1->4, k3, padding 1, dilation 2)".into();
            }),
            // Unknown names and fields fail loudly, never skipped.
            ("unknown_layer", "conv3d", &|c| c["layers"][0] = "conv3d(1->4, k3, padding 1)".into()),
            ("unknown_hyper", "nesterov_momentum", &|c| c["optimizer"]["nesterov_momentum"] = true.into()),
            ("unknown_optimizer", "sgdd", &|c| c["optimizer"]["name"] = "sgdd".into()),
            ("layer_hyper", "weight_standardization", &|c| {
                c["layers"][0] = "conv2d(1->4, k3, padding 1, weight_standardization 1)".into()
            }),
            ("missing_state", "model state missing", &|c| {
                c["state_before"].as_object_mut().unwrap().remove("1.running_mean");
            }),
            ("extra_state", "entries not in the model", &|c| {
                c["steps"][0]["state_after"]["9.weight"] = json!({"shape": [1], "data": [0.0]});
            }),
            ("extra_field", "\"loss_fn\"", &|c| c["loss_fn"] = "mse".into()),
            ("missing_field", "\"grads\"", &|c| {
                c["steps"][1].as_object_mut().unwrap().remove("grads");
            }),
            ("module", "unknown module", &|c| c["module"] = "Sequential2".into()),
        ],
    );
}

/// PyTorch's repr of each layer of the bundled CNN, as `print(model)` writes it.
const CNN_REPRS: [&str; 9] = [
    "Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))",
    "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
    "ReLU()",
    "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
    "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1))",
    "ReLU()",
    "AvgPool2d(kernel_size=2, stride=2, padding=0)",
    "Flatten(start_dim=1, end_dim=-1)",
    "Linear(in_features=8, out_features=10, bias=True)",
];

#[test]
fn renamed_and_rewritten_cases_are_checked() {
    let original = bundled();
    let name = cnn_name(&original);
    let cnn = &original["cases"][&name];
    assert_eq!(cnn["layers"].as_array().unwrap().len(), CNN_REPRS.len());
    let mut repr = cnn.clone();
    repr["layers"] = json!(CNN_REPRS);
    // PyTorch's defaults written out, under nabla's name of the optimizer.
    repr["optimizer"] = json!({"name": "sgd", "lr": cnn["optimizer"]["lr"], "momentum": cnn["optimizer"]["momentum"],
        "dampening": 0.0, "weight_decay": 0.0, "nesterov": false});
    let g = json!({"meta": original["meta"], "cases": {"net_a": cnn, "net_b_reprs": repr}});
    let tmp = ModifiedVectors::with("conv.json", "renamed", &g);
    let golden = nabla_golden::read_json(&tmp.path());
    assert_eq!(BOTH.check(&golden), ["net_a", "net_b_reprs"]);
    // The reprs are read too: a changed momentum in one fails.
    let mut g = g;
    g["cases"]["net_b_reprs"]["layers"][1] =
        "BatchNorm2d(4, eps=1e-05, momentum=0.2, affine=True, track_running_stats=True)".into();
    let tmp = ModifiedVectors::with("conv.json", "renamed_momentum", &g);
    let msg = nabla_golden::failure(&tmp.path(), check_all::<f64>);
    assert!(msg.contains("case net_b_reprs step 0 state_after 1.running_mean"), "{msg}");
}

// ----- a case of other shapes and hyper-parameters ---------------------------------------------

/// A tensor as the golden files write it.
fn json_tensor<T: Element>(a: &ArrayD<T>) -> Value {
    json!({"shape": a.shape(), "data": a.iter().map(|x| x.to_f64()).collect::<Vec<_>>()})
}

/// The model's whole state as a `state_dict` object.
fn json_state<T: Element>(model: &Sequential<T>) -> Value {
    let mut state = serde_json::Map::new();
    for (name, var) in model.parameters() {
        state.insert(name, json_tensor(&var.value()));
    }
    for (name, b) in model.buffers() {
        state.insert(name, json_tensor(&b));
    }
    for (name, n) in model.counters() {
        state.insert(name, json!({"shape": [], "data": [n]}));
    }
    Value::Object(state)
}

/// Records a `Sequential` case with nabla's own f64 trajectory (random initial state, random
/// inputs and targets). Its values are only as right as nabla; it serves to show that a case
/// with other shapes, layers and hyper-parameters is read from its fields and checked in full.
fn record_case(
    layers: &[&str],
    optimizer_spec: Value,
    input: &[usize],
    classes: usize,
    steps: usize,
) -> Value {
    let specs = layer_specs("recorded", &json!(layers));
    let mut model = <f64 as Precision>::model("recorded", &specs, &input[1..]);
    let before = json_state(&model);
    let mut opt = optimizer::<f64>("recorded", &optimizer_spec);
    let loss = <f64 as Precision>::loss("recorded");
    let mut rng = Rng::seed(11);
    let mut recorded = Vec::new();
    for _ in 0..steps {
        let x = rng.normal_array::<f64>(input, 0.0, 1.0);
        let target: Vec<usize> = (0..input[0]).map(|i| (i * 7 + recorded.len() * 3) % classes).collect();
        model.zero_grad();
        let logits = model.forward(&Var::constant(x.clone())).unwrap();
        let l = loss.forward(&logits, &Target::Classes(&target)).unwrap();
        l.backward().unwrap();
        let grads: serde_json::Map<String, Value> =
            model.parameters().into_iter().map(|(n, v)| (n, json_tensor(&v.grad().unwrap()))).collect();
        optimizer_step("recorded", &model, opt.as_mut());
        recorded.push(json!({
            "input": json_tensor(&x),
            "target": {"shape": [target.len()], "data": target},
            "logits": json_tensor(&logits.value()),
            "loss": l.item(),
            "grads": grads,
            "state_after": json_state(&model),
        }));
    }
    json!({"module": SEQUENTIAL, "layers": layers, "optimizer": optimizer_spec, "state_before": before, "steps": recorded})
}

#[test]
fn a_case_of_other_shapes_and_hyper_parameters_is_checked_in_full() {
    let layers = [
        "conv2d(2->3, k3x2, stride 2, padding 1)",
        "BatchNorm2d(3, eps=0.001, momentum=0.3)",
        "tanh",
        "max_pool2d(kernel_size=2, stride=1)",
        "Conv2d(3, 6, kernel_size=(2, 2), groups=3, bias=False)",
        "adaptive_avg_pool2d(1)",
        "flatten",
        "linear(->5)",
    ];
    let sgd = json!({"name": "SGD", "lr": 0.05, "momentum": 0.5, "nesterov": true});
    let case = record_case(&layers, sgd, &[3, 2, 9, 7], 5, 3);
    let g = json!({"meta": bundled()["meta"], "cases": {"other": case, "op_level": {"module": "Conv2d"}}});
    let tmp = ModifiedVectors::with("conv.json", "other", &g);
    let golden = nabla_golden::read_json(&tmp.path());
    // f32 against the f64 trajectory, at the README's tolerance of the two-step CNN.
    assert_eq!(BOTH.check(&golden), ["other"]);
    // Each hyper-parameter is read from the case: changed, the check fails.
    assert_each_fails(
        &g,
        &[
            ("other_stride", "step 0 logits", &|c| {
                c["layers"][0] = "conv2d(2->3, k3x2, stride 1, padding 1)".into()
            }),
            ("other_eps", "step 0 logits", &|c| {
                c["layers"][1] = "BatchNorm2d(3, eps=0.1, momentum=0.3)".into()
            }),
            ("other_bn_momentum", "1.running_mean", &|c| {
                c["layers"][1] = "BatchNorm2d(3, eps=0.001, momentum=0.1)".into()
            }),
            ("other_groups", "4.weight", &|c| {
                c["layers"][4] = "Conv2d(3, 6, kernel_size=(2, 2), groups=1, bias=False)".into()
            }),
            ("other_bias", "model state missing", &|c| {
                c["layers"][4] = "Conv2d(3, 6, kernel_size=(2, 2), groups=3)".into()
            }),
            ("other_nesterov", "step 0 state_after", &|c| c["optimizer"]["nesterov"] = false.into()),
        ],
    );
}
