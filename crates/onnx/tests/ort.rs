//! Exported models under ONNX Runtime give nabla's own evaluation-mode outputs: every
//! prediction equal, every logit within 1e-4. Skipped (with a message) where Python has no
//! onnxruntime; set `NABLA_PYTHON` to a Python that has it.

mod common;

use common::{argmax, max_diff, nabla_forward, ort_run, skip, train, Ort};
use nabla_onnx::{export_run, write_onnx, ExportOptions, OutputHead};
use ndarray::{Array2, Axis};
use std::path::Path;

const TOLERANCE: f32 = 1e-4;

/// Exports `run` with `options`, runs it under ONNX Runtime on `x` and checks it against
/// `expected`; returns the largest difference, or `None` when skipped. `batch_statistics`:
/// the model normalizes with its batch's statistics.
fn check(
    run: &Path,
    options: &ExportOptions,
    x: &Array2<f32>,
    expected: &Array2<f32>,
    tag: &str,
    batch_statistics: bool,
) -> Option<f32> {
    let model = export_run(run, options).unwrap_or_else(|e| panic!("{tag}: {e}"));
    let path = run.join(format!("{tag}.onnx"));
    write_onnx(&model, &path).unwrap();
    let (got, report) = match ort_run(&path, x, run, batch_statistics) {
        Ort::Ran { output, report } => (output, report),
        Ort::Skipped(why) => {
            skip(&why);
            return None;
        }
    };
    assert!(report.contains(&format!("\"output\": \"{}\"", options.head.output_name())), "{report}");
    let diff = max_diff(&got, expected);
    let (a, b) = (argmax(&got), argmax(expected));
    let disagree = a.iter().zip(&b).filter(|(p, q)| p != q).count();
    eprintln!(
        "{tag}: opset {}, {} samples, max |onnxruntime - nabla| = {diff:.3e}, {disagree} predictions differ; {report}",
        options.opset,
        x.nrows()
    );
    assert_eq!(disagree, 0, "{tag}: predictions differ");
    assert!(diff <= TOLERANCE, "{tag}: max difference {diff} > {TOLERANCE}");
    Some(diff)
}

fn softmax_rows(y: &Array2<f32>) -> Array2<f32> {
    let mut p = y.mapv(f64::from);
    for mut row in p.axis_iter_mut(Axis(0)) {
        let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - m).exp());
        let s = row.sum();
        row.mapv_inplace(|v| v / s);
    }
    p.mapv(|v| v as f32)
}

#[test]
fn default_digits_model_matches_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(nabla_train::DEFAULT_CONFIG, &["epochs=3"], dir.path(), "digits");
    let (x, labels, logits) = nabla_forward(&run);
    let correct = argmax(&logits).iter().zip(&labels).filter(|(p, &l)| **p == l as usize).count();
    assert!(
        correct * 10 > labels.len() * 8,
        "the trained model is a real classifier: {correct}/{}",
        labels.len()
    );
    if check(&run, &ExportOptions::default(), &x, &logits, "digits", false).is_none() {
        return;
    }
    let probabilities = softmax_rows(&logits);
    let options = ExportOptions { head: OutputHead::Softmax, ..ExportOptions::default() };
    check(&run, &options, &x, &probabilities, "digits-softmax", false);
    let options = ExportOptions { opset: 17, ..ExportOptions::default() };
    check(&run, &options, &x, &logits, "digits-opset17", false);
}

/// Every activation, `bias = false`, BatchNorm without affine parameters and without running
/// statistics (batch statistics in evaluation too), dropout, and a final log-softmax.
const MIXED: &str = r#"
seed = 3
epochs = 2
batch_size = 64

[data]
name = "digits"

[model]
weight_init = "xavier_uniform"

[[model.layers]]
name = "flatten"

[[model.layers]]
name = "linear"
out_features = 48
bias = false

[[model.layers]]
name = "batch_norm1d"
affine = false
eps = 1e-3

[[model.layers]]
name = "gelu"

[[model.layers]]
name = "dropout"
p = 0.3

[[model.layers]]
name = "linear"
out_features = 32

[[model.layers]]
name = "batch_norm1d"
track_running_stats = false

[[model.layers]]
name = "leaky_relu"
negative_slope = 0.2

[[model.layers]]
name = "linear"
out_features = 24
bias = false

[[model.layers]]
name = "gelu"
approximate = "tanh"

[[model.layers]]
name = "identity"

[[model.layers]]
name = "tanh"

[[model.layers]]
name = "linear"
out_features = 16

[[model.layers]]
name = "sigmoid"

[[model.layers]]
name = "linear"
out_features = 10

[[model.layers]]
name = "relu"

[[model.layers]]
name = "linear"
out_features = 10

[[model.layers]]
name = "log_softmax"

[loss]
name = "nll"

[optimizer]
name = "adam"
lr = 3e-3
"#;

#[test]
fn every_activation_bias_free_and_batch_statistics_match_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(MIXED, &[], dir.path(), "mixed");
    let (x, _, logits) = nabla_forward(&run);
    // Opset 17 composes GELU from Erf/Tanh and takes ReduceMean axes as an attribute; 18 as an
    // input; 20 has the Gelu operator.
    for opset in [17, 18, 20, 22] {
        let options = ExportOptions { opset, ..ExportOptions::default() };
        if check(&run, &options, &x, &logits, &format!("mixed-opset{opset}"), true).is_none() {
            return;
        }
    }
}
