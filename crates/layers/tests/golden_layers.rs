//! Conformance of the modules with the PyTorch reference vectors in
//! `testdata/golden/layers.json` (or `$NABLA_GOLDEN_DIR/layers.json`): Linear, every
//! activation, BatchNorm1d (train, 3-d train, eval, with the running statistics after), the
//! losses, and the end-to-end MLP (logits, loss, every gradient, running statistics and the
//! parameters after one SGD step) — in f64 and in f32, with the tolerances of the golden
//! README.

use nabla_autograd::{mse_loss, Reduction, Var};
use nabla_golden::{assert_close, assert_close_scalar, assert_close_tol, indices, tensor, Tolerance};
use nabla_layers::{
    BatchNorm1d, CrossEntropy, Gelu, GeluApproximate, LeakyRelu, Linear, LogSoftmax, Loss, Module, Mse, Relu,
    Sequential, Sigmoid, Softmax, Tanh, Target,
};
use nabla_tensor::ndarray::{ArrayD, Ix1};
use nabla_tensor::Element;
use serde_json::Value;

// The ops' golden tests' forward and backward check, the same for a module (nabla-golden
// knows no `Var`: it depends on nabla-tensor alone).
#[path = "../../autograd/tests/golden_support/mod.rs"]
mod golden_support;

use golden_support::{forward_backward, loss_backward};

fn golden() -> Value {
    nabla_golden::load("layers.json")
}

fn case<'a>(g: &'a Value, name: &str) -> &'a Value {
    g["cases"].get(name).unwrap_or_else(|| panic!("golden case {name} missing from layers.json"))
}

fn linear_case<T: Element>() {
    let g = golden();
    let c = case(&g, "Linear");
    let mut layer = Linear::<T>::from_arrays(tensor(&c["weight"]), Some(tensor(&c["bias"]))).unwrap();
    let (w, b) = (layer.weight().clone(), layer.bias().unwrap().clone());
    forward_backward("Linear", c, &[("weight", &w), ("bias", &b)], |x| layer.forward(x).unwrap());
}

fn activation_cases<T: Element>() {
    let g = golden();
    let modules: Vec<(&str, Box<dyn Module<T>>)> = vec![
        ("ReLU", Box::new(Relu::new())),
        ("Sigmoid", Box::new(Sigmoid::new())),
        ("Tanh", Box::new(Tanh::new())),
        ("LeakyReLU", Box::new(LeakyRelu::default())),
        ("GELU", Box::new(Gelu::default())),
        ("GELU_tanh", Box::new(Gelu::new(GeluApproximate::Tanh))),
        ("Softmax", Box::new(Softmax::default())),
        ("LogSoftmax", Box::new(LogSoftmax::default())),
    ];
    for (name, mut module) in modules {
        forward_backward(name, case(&g, name), &[], |x| module.forward(x).unwrap());
    }
}

fn batch_norm_cases<T: Element>() {
    let g = golden();
    for name in ["BatchNorm1d_train", "BatchNorm1d_train_3d", "BatchNorm1d_eval"] {
        let c = case(&g, name);
        let eps = c["eps"].as_f64().unwrap();
        let momentum = c["momentum"].as_f64().unwrap();
        let weight = Var::<T>::param(tensor(&c["weight"]));
        let bias = Var::<T>::param(tensor(&c["bias"]));
        let channels = weight.len();
        let mut bn = BatchNorm1d::<T>::new(channels, eps, momentum, true, true)
            .unwrap()
            .with_affine(weight.clone(), bias.clone())
            .unwrap();
        let rm: ArrayD<T> = tensor(&c["running_mean_before"]);
        let rv: ArrayD<T> = tensor(&c["running_var_before"]);
        bn.set_running_stats(
            rm.view().into_dimensionality::<Ix1>().unwrap(),
            rv.view().into_dimensionality().unwrap(),
        )
        .unwrap();
        bn.set_training(c["training"].as_bool().unwrap());
        forward_backward(name, c, &[("weight", &weight), ("bias", &bias)], |x| bn.forward(x).unwrap());
        let buffers = bn.buffers();
        assert_eq!(buffers[0].0, "running_mean");
        assert_close(&format!("{name} running_mean_after"), &buffers[0].1, &c["running_mean_after"]);
        assert_eq!(buffers[1].0, "running_var");
        assert_close(&format!("{name} running_var_after"), &buffers[1].1, &c["running_var_after"]);
        assert_eq!(
            bn.num_batches_tracked().unwrap(),
            c["num_batches_tracked_after"].as_u64().unwrap(),
            "{name} num_batches_tracked"
        );
    }
}

fn loss_cases<T: Element>() {
    let g = golden();
    for name in ["CrossEntropyLoss", "CrossEntropyLoss_label_smoothing"] {
        let c = case(&g, name);
        let loss = CrossEntropy::new(c["label_smoothing"].as_f64().unwrap(), Reduction::Mean).unwrap();
        let x = Var::<T>::param(tensor(&c["input"]));
        loss_backward(name, c, &x, loss.forward(&x, &Target::Classes(&indices(&c["target"]))).unwrap());
    }
    let c = case(&g, "MSELoss");
    let x = Var::<T>::param(tensor(&c["input"]));
    let target: ArrayD<T> = tensor(&c["target"]);
    let l = Mse::new(Reduction::Mean).forward(&x, &Target::Values(target.view())).unwrap();
    loss_backward("MSELoss", c, &x, l);
    // The Loss trait treats targets as constants; the op under it differentiates both sides.
    let t = Var::<T>::param(target);
    mse_loss(&Var::constant(tensor(&c["input"])), &t, Reduction::Mean).unwrap().backward().unwrap();
    assert_close("MSELoss grad_target", &t.grad().unwrap(), &c["grad_target"]);
}

fn mlp_case<T: Element>() {
    let g = golden();
    let c = case(&g, "MLP");
    let p = |name: &str| tensor::<T>(&c["params"][name]);
    let bn = |i: usize| {
        let (w, b) = (p(&format!("{i}.weight")), p(&format!("{i}.bias")));
        BatchNorm1d::<T>::with_defaults(w.len()).unwrap().with_affine(Var::param(w), Var::param(b)).unwrap()
    };
    let linear = |i: usize| {
        Linear::<T>::from_arrays(p(&format!("{i}.weight")), Some(p(&format!("{i}.bias")))).unwrap()
    };
    let mut model = Sequential::<T>::new()
        .with(linear(0))
        .with(bn(1))
        .with(Relu::new())
        .with(linear(3))
        .with(bn(4))
        .with(Relu::new())
        .with(linear(6));
    let params = model.parameters();
    let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    let want_names: Vec<&str> =
        c["param_names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, want_names);

    let x = Var::<T>::param(tensor(&c["input"]));
    let logits = model.forward(&x).unwrap();
    assert_close("MLP output", &logits.value(), &c["output"]);
    let loss = CrossEntropy::default().forward(&logits, &Target::Classes(&indices(&c["target"]))).unwrap();
    assert_close_scalar("MLP loss", loss.item(), c["loss"].as_f64().unwrap());
    loss.backward().unwrap();
    assert_close("MLP grad_input", &x.grad().unwrap(), &c["grad_input"]);
    let absolute = Tolerance { rtol: 0.0, ..Tolerance::for_element::<T>() };
    for (name, var) in &params {
        let want = &c["grads"][name.as_str()];
        if name == "0.bias" || name == "3.bias" {
            // Analytically zero; the reference holds rounding noise of order 1e-17.
            assert_close_tol(&format!("MLP grad {name}"), &var.grad().unwrap(), want, absolute);
        } else {
            assert_close(&format!("MLP grad {name}"), &var.grad().unwrap(), want);
        }
    }
    let buffers = model.buffers();
    for key in ["1.running_mean", "1.running_var", "4.running_mean", "4.running_var"] {
        let (_, value) =
            buffers.iter().find(|(n, _)| n == key).unwrap_or_else(|| panic!("buffer {key} missing"));
        assert_close(&format!("MLP {key}"), value, &c["running_stats_after"][key]);
    }
    assert_eq!(
        model.counters(),
        [("1.num_batches_tracked".to_string(), 1), ("4.num_batches_tracked".to_string(), 1)]
    );

    // One plain SGD step by hand: p <- p - lr * g.
    let lr = T::from_f64(c["sgd_hyperparams"]["lr"].as_f64().unwrap());
    assert_eq!(c["sgd_hyperparams"]["momentum"].as_f64().unwrap(), 0.0);
    for (_, var) in &params {
        let g = var.grad().unwrap();
        nabla_tensor::ndarray::Zip::from(&mut *var.value_mut()).and(&*g).for_each(|p, &g| *p = *p - lr * g);
    }
    for (name, var) in model.parameters() {
        assert_close(
            &format!("MLP {name} after SGD"),
            &var.value(),
            &c["params_after_sgd_step"][name.as_str()],
        );
    }
}

nabla_golden::tests_in_f64_and_f32! {
    linear_matches_pytorch: linear_case,
    activations_match_pytorch: activation_cases,
    batch_norm1d_matches_pytorch: batch_norm_cases,
    losses_match_pytorch: loss_cases,
    mlp_matches_pytorch_end_to_end: mlp_case,
}
