//! Conformance of the convolutional ops with the PyTorch reference vectors in
//! `testdata/golden/conv.json` (or `$NABLA_GOLDEN_DIR/conv.json`), forward and backward, in
//! f64 and in f32.
//!
//! Every case of the file is checked except the `Sequential` (CNN) case, which belongs to the
//! layer-level tests (`crates/layers/tests/golden_cnn`). Each case is dispatched on its `module` field and every hyper-parameter
//! is read from the case's own fields, never from its name, so a file with other cases,
//! shapes and hyper-parameters is checked in full. An unknown module, a missing field, a
//! field this checker does not interpret, or a field inconsistent with the tensors fails.

use nabla_autograd::{
    adaptive_avg_pool2d, avg_pool2d, batch_norm_eval, batch_norm_train, conv2d, max_pool2d, AvgPool2dOptions,
    Conv2dOptions, Conv2dPadding, MaxPool2dOptions, Var,
};
use nabla_golden::{
    assert_close, bump, change_element, field, pair, tensor, Checked, ModifiedVectors, Precisions,
    CONV2D_ARGUMENTS,
};
use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::Element;
use serde_json::Value;

mod golden_support;

use golden_support::{forward_backward, running_average};

/// The module of the case that this file leaves to the layer-level tests.
const LAYER_LEVEL: &str = "Sequential";

/// A case's fields, checked against the fields its module may have (`required` must all be
/// there; `optional` may be).
fn check_fields(name: &str, case: &Value, required: &[&str], optional: &[&str]) {
    let obj = case.as_object().unwrap_or_else(|| panic!("case {name} is not an object"));
    for key in required {
        assert!(obj.contains_key(*key), "case {name}: missing field {key:?}");
    }
    for key in obj.keys() {
        assert!(
            required.contains(&key.as_str()) || optional.contains(&key.as_str()),
            "case {name}: field {key:?} is not understood by this checker (a hyper-parameter it would ignore)"
        );
    }
}

fn boolean(name: &str, case: &Value, key: &str) -> bool {
    field(case, key).as_bool().unwrap_or_else(|| panic!("case {name}: {key} is not a boolean"))
}

fn number(name: &str, case: &Value, key: &str) -> f64 {
    field(case, key).as_f64().unwrap_or_else(|| panic!("case {name}: {key} is not a number"))
}

fn count(name: &str, case: &Value, key: &str) -> usize {
    field(case, key).as_u64().unwrap_or_else(|| panic!("case {name}: {key} is not a non-negative integer"))
        as usize
}

/// An optional field; JSON `null` counts as absent (PyTorch's `None`).
fn optional<'a>(case: &'a Value, key: &str) -> Option<&'a Value> {
    case.get(key).filter(|v| !v.is_null())
}

/// The inputs and reference tensors every case has.
const IO: [&str; 5] = ["module", "input", "output", "grad_output", "grad_input"];

fn conv2d_case<T: Element>(name: &str, case: &Value) {
    let has_bias = boolean(name, case, "has_bias");
    let mut required = IO.to_vec();
    // The case says `has_bias` for PyTorch's `bias` argument (its `bias` is the tensor).
    required.extend(CONV2D_ARGUMENTS.iter().filter(|&&a| a != "bias"));
    required.extend(["weight", "grad_weight", "has_bias"]);
    if has_bias {
        required.extend(["bias", "grad_bias"]);
    }
    check_fields(name, case, &required, &[]);
    let mode = field(case, "padding_mode");
    assert_eq!(mode, "zeros", "case {name}: padding_mode {mode} is not supported (zeros only)");
    let padding = match field(case, "padding") {
        Value::String(s) if s == "same" => Conv2dPadding::Same,
        Value::String(s) if s == "valid" => Conv2dPadding::Valid,
        Value::String(s) => panic!("case {name}: unknown padding {s:?}"),
        p => Conv2dPadding::Explicit(pair(p)),
    };
    let opts = Conv2dOptions {
        stride: pair(field(case, "stride")),
        padding,
        dilation: pair(field(case, "dilation")),
        groups: count(name, case, "groups"),
    };
    let w = Var::<T>::param(tensor(field(case, "weight")));
    let b = has_bias.then(|| Var::<T>::param(tensor(field(case, "bias"))));
    // The layer-level fields must describe the tensors (a corrupted field fails here).
    let (ws, xs) = (w.shape(), nabla_golden::shape(field(field(case, "input"), "shape")));
    assert_eq!(count(name, case, "out_channels"), ws[0], "case {name}: out_channels vs weight {ws:?}");
    assert_eq!(
        count(name, case, "in_channels"),
        xs[xs.len() - 3],
        "case {name}: in_channels vs input {xs:?}"
    );
    assert_eq!(pair(field(case, "kernel_size")), [ws[2], ws[3]], "case {name}: kernel_size vs weight {ws:?}");
    let mut params = vec![("weight", &w)];
    if let Some(b) = &b {
        params.push(("bias", b));
    }
    forward_backward(name, case, &params, |x| {
        conv2d(x, &w, b.as_ref(), &opts).unwrap_or_else(|e| panic!("case {name}: {e}"))
    });
}

/// PyTorch's pooling `stride`: absent or `None` is the kernel size.
fn stride(case: &Value) -> Option<[usize; 2]> {
    optional(case, "stride").map(pair)
}

fn max_pool2d_case<T: Element>(name: &str, case: &Value) {
    let mut required = IO.to_vec();
    required.push("kernel_size");
    check_fields(name, case, &required, &["stride", "padding", "dilation", "ceil_mode", "return_indices"]);
    if let Some(r) = optional(case, "return_indices") {
        assert_eq!(r, false, "case {name}: return_indices is not supported");
    }
    let opts = MaxPool2dOptions {
        kernel_size: pair(field(case, "kernel_size")),
        stride: stride(case),
        padding: optional(case, "padding").map_or([0, 0], pair),
        dilation: optional(case, "dilation").map_or([1, 1], pair),
        ceil_mode: case.get("ceil_mode").is_some() && boolean(name, case, "ceil_mode"),
    };
    forward_backward::<T>(name, case, &[], |x| {
        max_pool2d(x, &opts).unwrap_or_else(|e| panic!("case {name}: {e}"))
    });
}

fn avg_pool2d_case<T: Element>(name: &str, case: &Value) {
    let mut required = IO.to_vec();
    required.push("kernel_size");
    check_fields(
        name,
        case,
        &required,
        &["stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"],
    );
    let opts = AvgPool2dOptions {
        kernel_size: pair(field(case, "kernel_size")),
        stride: stride(case),
        padding: optional(case, "padding").map_or([0, 0], pair),
        ceil_mode: case.get("ceil_mode").is_some() && boolean(name, case, "ceil_mode"),
        // PyTorch's default is true.
        count_include_pad: case.get("count_include_pad").is_none()
            || boolean(name, case, "count_include_pad"),
        divisor_override: optional(case, "divisor_override").map(|_| count(name, case, "divisor_override")),
    };
    forward_backward::<T>(name, case, &[], |x| {
        avg_pool2d(x, &opts).unwrap_or_else(|e| panic!("case {name}: {e}"))
    });
}

fn adaptive_avg_pool2d_case<T: Element>(name: &str, case: &Value) {
    let mut required = IO.to_vec();
    required.push("output_size");
    check_fields(name, case, &required, &[]);
    let xs = nabla_golden::shape(field(field(case, "input"), "shape"));
    // PyTorch's `None` for an axis keeps the input's size.
    let size = match field(case, "output_size") {
        Value::Array(v) if v.len() == 2 => {
            let axis = |i: usize| if v[i].is_null() { xs[xs.len() - 2 + i] } else { pair(&v[i])[0] };
            [axis(0), axis(1)]
        }
        v => pair(v),
    };
    forward_backward::<T>(name, case, &[], |x| {
        adaptive_avg_pool2d(x, size).unwrap_or_else(|e| panic!("case {name}: {e}"))
    });
}

fn batch_norm2d_case<T: Element>(name: &str, case: &Value) {
    let affine = case.get("affine").is_none() || boolean(name, case, "affine");
    let mut required = IO.to_vec();
    required.extend([
        "training",
        "eps",
        "momentum",
        "running_mean_before",
        "running_var_before",
        "running_mean_after",
        "running_var_after",
        "num_batches_tracked_after",
    ]);
    if affine {
        required.extend(["weight", "bias", "grad_weight", "grad_bias"]);
    }
    check_fields(name, case, &required, &["affine", "num_batches_tracked_before", "track_running_stats"]);
    if let Some(t) = optional(case, "track_running_stats") {
        assert_eq!(t, true, "case {name}: track_running_stats = false is not supported by this checker");
    }
    let xs = nabla_golden::shape(field(field(case, "input"), "shape"));
    assert_eq!(xs.len(), 4, "case {name}: BatchNorm2d input must be [N, C, H, W], got {xs:?}");
    let training = boolean(name, case, "training");
    let eps = number(name, case, "eps");
    let tracked_before = optional(case, "num_batches_tracked_before")
        .map_or(0, |_| count(name, case, "num_batches_tracked_before"));
    let tracked_after = tracked_before + usize::from(training);
    assert_eq!(
        count(name, case, "num_batches_tracked_after"),
        tracked_after,
        "case {name}: num_batches_tracked"
    );
    // PyTorch's momentum `None` is the cumulative average 1 / num_batches_tracked.
    let momentum = match optional(case, "momentum") {
        Some(_) => number(name, case, "momentum"),
        None => 1.0 / tracked_after.max(1) as f64,
    };
    let w = affine.then(|| Var::<T>::param(tensor(field(case, "weight"))));
    let b = affine.then(|| Var::<T>::param(tensor(field(case, "bias"))));
    let rm: ArrayD<T> = tensor(field(case, "running_mean_before"));
    let rv: ArrayD<T> = tensor(field(case, "running_var_before"));
    let mut params = Vec::new();
    if let (Some(w), Some(b)) = (&w, &b) {
        params.extend([("weight", w), ("bias", b)]);
    }
    let mut stats = None;
    forward_backward(name, case, &params, |x| {
        if training {
            let out = batch_norm_train(x, w.as_ref(), b.as_ref(), eps)
                .unwrap_or_else(|e| panic!("case {name}: {e}"));
            stats = Some((out.mean, out.var_unbiased));
            out.output
        } else {
            let rm1 = rm.view().into_dimensionality().expect("running_mean is 1-d");
            let rv1 = rv.view().into_dimensionality().expect("running_var is 1-d");
            batch_norm_eval(x, w.as_ref(), b.as_ref(), rm1, rv1, eps)
                .unwrap_or_else(|e| panic!("case {name}: {e}"))
        }
    });
    let (rm_after, rv_after) = match stats {
        Some((mean, var)) => (running_average(&rm, &mean, momentum), running_average(&rv, &var, momentum)),
        None => (rm.clone(), rv.clone()),
    };
    assert_close(&format!("{name} running_mean_after"), &rm_after, field(case, "running_mean_after"));
    assert_close(&format!("{name} running_var_after"), &rv_after, field(case, "running_var_after"));
}

/// Checks every case of a parsed `conv.json` in `T` except the layer-level ones; returns the
/// names of the cases checked.
///
/// # Panics
/// On any mismatch, unknown module, missing or unknown field.
fn check_all<T: Element>(golden: &Value) -> Vec<String> {
    nabla_golden::check_every_case(golden, |name, module, case| {
        match module {
            "Conv2d" => conv2d_case::<T>(name, case),
            "MaxPool2d" => max_pool2d_case::<T>(name, case),
            "AvgPool2d" => avg_pool2d_case::<T>(name, case),
            "AdaptiveAvgPool2d" => adaptive_avg_pool2d_case::<T>(name, case),
            "BatchNorm2d" => batch_norm2d_case::<T>(name, case),
            LAYER_LEVEL => return Checked::Elsewhere,
            other => panic!("case {name}: unknown module {other:?}"),
        }
        Checked::Here
    })
}

/// [`check_all`] in f64 and in f32.
const BOTH: Precisions = Precisions { f64: check_all::<f64>, f32: check_all::<f32> };

#[test]
fn every_op_level_case_matches_pytorch_in_f64_and_f32() {
    // The bundled file: 8 Conv2d, 3 MaxPool2d, 3 AvgPool2d, 2 AdaptiveAvgPool2d and 2
    // BatchNorm2d cases (and the CNN, checked by the layers crate).
    BOTH.check_file("conv.json", |names| assert_eq!(names.len(), 18, "{names:?}"));
}

// ----- a corrupted file fails -----------------------------------------------------------------

/// A corruption of the first case of a module: the tag of the corrupted file, the module and
/// the change to the case.
type CaseEdit<'a> = (&'a str, &'a str, fn(&mut Value));

#[test]
fn corrupted_vectors_fail() {
    let original = nabla_golden::read_json(&nabla_golden::bundled_dir().join("conv.json"));
    let corrupt = |what: &str, f: &dyn Fn(&mut Value) -> String| {
        let mut g = original.clone();
        let case = f(&mut g);
        let tmp = ModifiedVectors::with("conv.json", what, &g);
        for msg in BOTH.failures(&tmp.path()) {
            assert!(msg.contains(&case), "{what}: the failure names case {case}: {msg}");
        }
    };
    let edits: [CaseEdit<'_>; 9] = [
        // One number changed beyond both tolerances: an output, a gradient of the weight, of
        // a pooling input, and a running statistic.
        ("output", "Conv2d", |c| bump(&mut c["output"], 3, 1e-3)),
        ("grad_weight", "Conv2d", |c| change_element(&mut c["grad_weight"], 0, |x| x * 1.001 + 1e-4)),
        ("grad_input", "MaxPool2d", |c| bump(&mut c["grad_input"], 0, 0.5)),
        ("running_var", "BatchNorm2d", |c| bump(&mut c["running_var_after"], 1, 1e-3)),
        // A hyper-parameter changed: the result no longer matches (or the shapes do not fit).
        ("dilation", "Conv2d", |c| c["dilation"] = serde_json::json!([2, 2])),
        ("groups", "Conv2d", |c| c["in_channels"] = 99.into()),
        // A missing field, an unknown field, an unknown module.
        ("missing", "Conv2d", |c| {
            c.as_object_mut().unwrap().remove("groups");
        }),
        ("unknown_field", "MaxPool2d", |c| c["divisor_override"] = 3.into()),
        ("module", "AdaptiveAvgPool2d", |c| c["module"] = "AdaptiveMaxPool2d".into()),
    ];
    for (tag, module, edit) in edits {
        corrupt(tag, &|g| {
            let name = nabla_golden::first_case(g, module);
            edit(&mut g["cases"][&name]);
            name
        });
    }
    // The padding counted or not, in a case that pads.
    corrupt("count_include_pad", &|g| {
        let name = g["cases"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, c)| c["module"] == "AvgPool2d" && c["padding"] != 0)
            .map(|(n, _)| n.clone())
            .unwrap();
        let flipped = !g["cases"][&name].get("count_include_pad").and_then(Value::as_bool).unwrap_or(true);
        g["cases"][&name]["count_include_pad"] = flipped.into();
        name
    });
}

#[test]
fn other_cases_and_hyper_parameters_are_read_from_the_fields() {
    // A file of new cases, made from the bundled ones with other names: the checker finds
    // them by module and checks them all (here the MaxPool2d case's -inf padding moved into a
    // new case name, with the stride written out as PyTorch's default None).
    let original = nabla_golden::read_json(&nabla_golden::bundled_dir().join("conv.json"));
    let mut g = serde_json::json!({"meta": original["meta"].clone(), "cases": {}});
    for (i, (_, case)) in original["cases"].as_object().unwrap().iter().enumerate() {
        let mut case = case.clone();
        if case["module"] == "MaxPool2d" && case["stride"] == case["kernel_size"] {
            case["stride"] = Value::Null;
        }
        g["cases"][format!("renamed_{i}")] = case;
    }
    let tmp = ModifiedVectors::with("conv.json", "renamed", &g);
    let golden = nabla_golden::read_json(&tmp.path());
    let names = check_all::<f64>(&golden);
    assert_eq!(names.len(), original["cases"].as_object().unwrap().len() - 1);
    assert!(names.iter().all(|n| n.starts_with("renamed_")));
}
