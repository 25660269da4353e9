//! Shared by the golden tests of the ops (`golden_conv`, `golden_layers`, and by path the
//! layers' `golden_layers`): one forward and backward pass of an op, or of a loss, against a
//! case of the PyTorch reference vectors, and the running statistics PyTorch's batch norm
//! keeps.

// Each of those test binaries compiles this module and uses part of it.
#![allow(dead_code)]

use nabla_autograd::Var;
use nabla_golden::{assert_close, assert_close_scalar, field, tensor};
use nabla_tensor::ndarray::{Array1, ArrayD};
use nabla_tensor::Element;
use serde_json::Value;

/// Runs forward and backward for one case and compares output and input gradient; `params`
/// are compared with their `grad_<name>` fields. Returns the input variable.
pub fn forward_backward<T: Element>(
    name: &str,
    case: &Value,
    params: &[(&str, &Var<T>)],
    op: impl FnOnce(&Var<T>) -> Var<T>,
) -> Var<T> {
    let x = Var::<T>::param(tensor(field(case, "input")));
    let y = op(&x);
    assert_close(&format!("{name} output"), &y.value(), field(case, "output"));
    y.backward_with(tensor(field(case, "grad_output")))
        .unwrap_or_else(|e| panic!("case {name}: backward: {e}"));
    {
        let gx = x.grad().unwrap_or_else(|| panic!("case {name}: no input gradient"));
        assert_close(&format!("{name} grad_input"), &gx, field(case, "grad_input"));
    }
    for (p, v) in params {
        let g = v.grad().unwrap_or_else(|| panic!("case {name}: no gradient for {p}"));
        assert_close(&format!("{name} grad_{p}"), &g, field(case, &format!("grad_{p}")));
    }
    x
}

/// Compares the scalar `loss` of the input `x` with the case's `loss`, backpropagates it and
/// compares the gradient of `x` with the case's `grad_input`.
pub fn loss_backward<T: Element>(name: &str, case: &Value, x: &Var<T>, loss: Var<T>) {
    let want = field(case, "loss").as_f64().unwrap_or_else(|| panic!("case {name}: loss is not a number"));
    assert_close_scalar(name, loss.item(), want);
    loss.backward().unwrap_or_else(|e| panic!("case {name}: backward: {e}"));
    let gx = x.grad().unwrap_or_else(|| panic!("case {name}: no input gradient"));
    assert_close(&format!("{name} grad_input"), &gx, field(case, "grad_input"));
}

/// A running statistic after one training batch, as PyTorch's batch norm updates it:
/// `(1 - momentum) * running + momentum * batch`.
pub fn running_average<T: Element>(running: &ArrayD<T>, batch: &Array1<T>, momentum: f64) -> ArrayD<T> {
    let m = T::from_f64(momentum);
    Array1::from_iter(running.iter().zip(batch).map(|(&r, &v)| (T::one() - m) * r + m * v)).into_dyn()
}
