//! Helpers shared by the export tests: training small runs, nabla's own evaluation-mode
//! forward, and running a model under ONNX Runtime through `ort_check.py`.

#![allow(dead_code)]

use nabla_autograd::{NoGradGuard, Var};
use nabla_layers::Module;
use nabla_onnx::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto};
use nabla_onnx::Tensor;
use nabla_train::{RunOptions, TrainConfig, Trainer};
use ndarray::{Array2, Axis};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Trains `config` (TOML text, with `--set` style overrides) into `dir/name`; returns the run.
pub fn train(config: &str, overrides: &[&str], dir: &Path, name: &str) -> PathBuf {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let config = TrainConfig::from_toml_str(config, name, &overrides).expect("the test config is valid");
    let run = dir.join(name);
    Trainer::new(config).expect("the trainer builds").run(&RunOptions::quiet(&run)).expect("training runs");
    run
}

/// The run's test split (normalized as in training), its labels, and nabla's
/// evaluation-mode output for the whole split as one batch.
pub fn nabla_forward(run: &Path) -> (Array2<f32>, Vec<u8>, Array2<f32>) {
    let mut trainer = Trainer::resume(run, None).expect("the run resumes");
    let x = trainer.data().test.images().clone();
    let labels = trainer.data().test.labels().to_vec();
    let model = trainer.model_mut();
    model.set_training(false);
    let _no_grad = NoGradGuard::new();
    let y = model.forward(&Var::constant(x.clone().into_dyn())).expect("forward").value().clone();
    let y = y.into_dimensionality::<ndarray::Ix2>().expect("2-d output");
    (x, labels, y)
}

/// What ONNX Runtime gave, or why it was not run.
pub enum Ort {
    /// Outputs of the model (row-major, the input's rows) and the script's JSON report.
    Ran { output: Array2<f32>, report: String },
    /// Python or onnxruntime is not available: the caller skips.
    Skipped(String),
}

/// Runs `model` on `x` under ONNX Runtime: Python from `$NABLA_PYTHON`, else `python3`.
/// `batch_statistics`: the model normalizes with its batch's statistics, so one row alone
/// gives another output than within the batch.
pub fn ort_run(model: &Path, x: &Array2<f32>, work: &Path, batch_statistics: bool) -> Ort {
    let python = std::env::var("NABLA_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ort_check.py");
    let input = work.join(format!("{}.in.f32", model.file_name().unwrap().to_string_lossy()));
    let output = work.join(format!("{}.out.f32", model.file_name().unwrap().to_string_lossy()));
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&input, bytes).unwrap();
    let shape = format!("{},{}", x.nrows(), x.ncols());
    let mut command = Command::new(&python);
    command.arg(&script).arg(model).arg(&input).arg(&shape).arg(&output);
    if batch_statistics {
        command.arg("--batch-statistics");
    }
    let run = command.output();
    let out = match run {
        Ok(out) => out,
        Err(e) => return Ort::Skipped(format!("cannot run '{python}': {e}")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => {}
        Some(77) => return Ort::Skipped(stderr.trim().to_string()),
        _ => panic!("ort_check.py failed ({}): {stderr}", out.status),
    }
    let values: Vec<f32> = std::fs::read(&output)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let cols = values.len() / x.nrows();
    let output = Array2::from_shape_vec((x.nrows(), cols), values).expect("rows x classes");
    Ort::Ran { output, report: String::from_utf8_lossy(&out.stdout).trim().to_string() }
}

/// The message printed when ONNX Runtime is not available.
pub fn skip(why: &str) {
    eprintln!("skipped: onnxruntime not installed (pip install onnxruntime numpy) [{why}]");
}

/// Index of the largest entry of each row (the first on ties).
pub fn argmax(y: &Array2<f32>) -> Vec<usize> {
    y.axis_iter(Axis(0))
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// The largest absolute difference between two arrays of one shape.
pub fn max_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The node's attribute `name`.
pub fn attr<'a>(node: &'a NodeProto, name: &str) -> &'a AttributeProto {
    node.attribute
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("{} has no attribute {name}", node.op_type))
}

/// An integer-list attribute.
pub fn attr_ints(node: &NodeProto, name: &str) -> Vec<i64> {
    let a = attr(node, name);
    assert_eq!(a.r#type, AttributeType::Ints as i32, "{name}");
    a.ints.clone()
}

/// An integer attribute.
pub fn attr_int(node: &NodeProto, name: &str) -> i64 {
    let a = attr(node, name);
    assert_eq!(a.r#type, AttributeType::Int as i32, "{name}");
    a.i
}

/// The op types of a graph's nodes in order.
pub fn ops(model: &nabla_onnx::proto::ModelProto) -> Vec<String> {
    model.graph.as_ref().unwrap().node.iter().map(|n| n.op_type.clone()).collect()
}

/// Deterministic pseudo-random values in [-0.5, 0.5) (no generator needed for synthetic tensors).
pub fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect()
}

/// Synthetic tensors of the given names and shapes, the `i`-th seeded with `first_seed + i`;
/// running variances made positive.
pub fn tensors<S: AsRef<[usize]>>(specs: &[(&str, S)], first_seed: u32) -> BTreeMap<String, Tensor> {
    specs
        .iter()
        .enumerate()
        .map(|(i, (name, shape))| {
            let shape = shape.as_ref();
            let mut v = values(shape.iter().product(), first_seed + i as u32);
            if name.ends_with("running_var") {
                v.iter_mut().for_each(|x| *x = x.abs() + 0.5);
            }
            (name.to_string(), Tensor::new(shape.to_vec(), v).unwrap())
        })
        .collect()
}

/// Convolutions, pools and reshapes as `torch.nn` names them, on `[channels, height, width]`
/// images, ending in `adaptive_avg_pool2d` to `output_size` (TOML: `1` or `[1, 2]`) and a linear
/// layer to 10 classes. Parameters: 1 (conv), 2 (batch norm), 6 and 8 (convs), 11 (linear).
pub fn conv_config(image: [usize; 3], output_size: &str) -> String {
    CONV.replace("IMAGE", &format!("{image:?}")).replace("OUTPUT", output_size)
}

const CONV: &str = include_str!("../fixtures/conv.toml");
