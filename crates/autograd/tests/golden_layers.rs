//! Conformance with the PyTorch reference vectors in `testdata/golden/layers.json` (or
//! `$NABLA_GOLDEN_DIR/layers.json`): activations, losses, Linear, BatchNorm1d and a small MLP,
//! forward and backward, in f64 and in f32.

use nabla_autograd::{batch_norm_eval, batch_norm_train, cross_entropy, linear, mse_loss, Reduction, Var};
use nabla_golden::{assert_close, assert_close_scalar, indices, tensor};
use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::Element;
use serde_json::Value;

mod golden_support;

use golden_support::{forward_backward, loss_backward, running_average};

fn golden() -> Value {
    nabla_golden::load("layers.json")
}

/// An activation as a plain function of a variable.
type Activation<T> = fn(&Var<T>) -> Var<T>;

fn activations<T: Element>() -> usize {
    let g = golden();
    let cases = &g["cases"];
    let ops: [(&str, Activation<T>); 8] = [
        ("ReLU", |x| x.relu()),
        ("Sigmoid", |x| x.sigmoid()),
        ("Tanh", |x| x.tanh()),
        ("LeakyReLU", |x| x.leaky_relu(0.01)),
        ("GELU", |x| x.gelu()),
        ("GELU_tanh", |x| x.gelu_tanh()),
        ("Softmax", |x| x.softmax(1).unwrap()),
        ("LogSoftmax", |x| x.log_softmax(1).unwrap()),
    ];
    let mut checked = 0;
    for (name, op) in ops {
        let Some(case) = cases.get(name) else {
            eprintln!("golden case {name} absent; skipped");
            continue;
        };
        forward_backward(name, case, &[], op);
        checked += 1;
    }
    checked
}

#[test]
fn activations_match_pytorch() {
    assert!(activations::<f64>() > 0, "no activation case found");
    assert!(activations::<f32>() > 0, "no activation case found");
}

fn losses<T: Element>() {
    let g = golden();
    for name in ["CrossEntropyLoss", "CrossEntropyLoss_label_smoothing"] {
        let Some(case) = g["cases"].get(name) else { continue };
        let x = Var::<T>::param(tensor(&case["input"]));
        let s = case["label_smoothing"].as_f64().unwrap();
        let loss = cross_entropy(&x, &indices(&case["target"]), s, Reduction::Mean).unwrap();
        loss_backward(name, case, &x, loss);
    }
    if let Some(case) = g["cases"].get("MSELoss") {
        let x = Var::<T>::param(tensor(&case["input"]));
        let t = Var::<T>::param(tensor(&case["target"]));
        loss_backward("MSELoss", case, &x, mse_loss(&x, &t, Reduction::Mean).unwrap());
        assert_close("MSELoss grad_target", &t.grad().unwrap(), &case["grad_target"]);
    }
}

fn linear_case<T: Element>() {
    let g = golden();
    let Some(case) = g["cases"].get("Linear") else { return };
    let w = Var::<T>::param(tensor(&case["weight"]));
    let b = Var::<T>::param(tensor(&case["bias"]));
    forward_backward("Linear", case, &[("weight", &w), ("bias", &b)], |x| linear(x, &w, Some(&b)).unwrap());
}

fn batch_norm_cases<T: Element>() {
    let g = golden();
    for name in ["BatchNorm1d_train", "BatchNorm1d_train_3d", "BatchNorm1d_eval"] {
        let Some(case) = g["cases"].get(name) else { continue };
        let w = Var::<T>::param(tensor(&case["weight"]));
        let b = Var::<T>::param(tensor(&case["bias"]));
        let eps = case["eps"].as_f64().unwrap();
        let momentum = case["momentum"].as_f64().unwrap();
        let rm: ArrayD<T> = tensor(&case["running_mean_before"]);
        let rv: ArrayD<T> = tensor(&case["running_var_before"]);
        let mut stats = None;
        forward_backward(name, case, &[("weight", &w), ("bias", &b)], |x| {
            if case["training"].as_bool().unwrap() {
                let out = batch_norm_train(x, Some(&w), Some(&b), eps).unwrap();
                stats = Some((out.mean, out.var_unbiased));
                out.output
            } else {
                let rm1 = rm.view().into_dimensionality().unwrap();
                let rv1 = rv.view().into_dimensionality().unwrap();
                batch_norm_eval(x, Some(&w), Some(&b), rm1, rv1, eps).unwrap()
            }
        });
        match stats {
            Some((mean, var)) => {
                let (rm_after, rv_after) =
                    (running_average(&rm, &mean, momentum), running_average(&rv, &var, momentum));
                assert_close(&format!("{name} running_mean_after"), &rm_after, &case["running_mean_after"]);
                assert_close(&format!("{name} running_var_after"), &rv_after, &case["running_var_after"]);
            }
            None => assert_close(&format!("{name} running_mean unchanged"), &rm, &case["running_mean_after"]),
        }
    }
}

/// The end-to-end MLP case built from the ops (Linear, BatchNorm1d train, ReLU, cross-entropy).
fn mlp_case<T: Element>() {
    let g = golden();
    let Some(case) = g["cases"].get("MLP") else { return };
    let p = |name: &str| Var::<T>::param(tensor(&case["params"][name]));
    let names = [
        "0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "4.weight", "4.bias", "6.weight",
        "6.bias",
    ];
    let params: Vec<Var<T>> = names.iter().map(|n| p(n)).collect();
    let x = Var::<T>::param(tensor(&case["input"]));
    let h = linear(&x, &params[0], Some(&params[1])).unwrap();
    let h = batch_norm_train(&h, Some(&params[2]), Some(&params[3]), 1e-5).unwrap().output.relu();
    let h = linear(&h, &params[4], Some(&params[5])).unwrap();
    let h = batch_norm_train(&h, Some(&params[6]), Some(&params[7]), 1e-5).unwrap().output.relu();
    let logits = linear(&h, &params[8], Some(&params[9])).unwrap();
    assert_close("MLP output", &logits.value(), &case["output"]);
    let loss = cross_entropy(&logits, &indices(&case["target"]), 0.0, Reduction::Mean).unwrap();
    assert_close_scalar("MLP loss", loss.item(), case["loss"].as_f64().unwrap());
    loss.backward().unwrap();
    assert_close("MLP grad_input", &x.grad().unwrap(), &case["grad_input"]);
    for (n, v) in names.iter().zip(&params) {
        if n.ends_with(".bias") && (n.starts_with('0') || n.starts_with('3')) {
            // Analytically zero (a bias feeding BatchNorm): compare absolutely.
            let gmax = v.grad().unwrap().iter().fold(0.0f64, |m, x| m.max((*x).to_f64().abs()));
            assert!(gmax < if T::NAME == "f64" { 1e-12 } else { 1e-6 }, "MLP {n}: {gmax}");
        } else {
            assert_close(&format!("MLP grad {n}"), &v.grad().unwrap(), &case["grads"][*n]);
        }
    }
}

nabla_golden::tests_in_f64_and_f32! {
    losses_match_pytorch: losses,
    linear_matches_pytorch: linear_case,
    batch_norm_matches_pytorch: batch_norm_cases,
    mlp_matches_pytorch: mlp_case,
}
