//! `nabla export`: a trained run to an ONNX file, and readable errors for a wrong format,
//! a run without a checkpoint and an opset out of range.

use std::process::{Command, Output};

fn nabla(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nabla")).args(args).output().expect("the nabla binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn export_writes_an_onnx_model_and_explains_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let trained = nabla(&["train", "--quiet", "--epochs", "1", "--out", run_s]);
    assert!(trained.status.success(), "{}", stderr(&trained));

    let model = dir.path().join("model.onnx");
    let model_s = model.to_str().unwrap();
    let out = nabla(&["export", run_s, "--format", "onnx", "--out", model_s, "--softmax"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout.contains("opset 20, 8 nodes, 14 initializers, input 'input' -> output 'probabilities'"),
        "{stdout}"
    );
    let bytes = std::fs::read(&model).unwrap();
    let decoded = nabla::onnx::decode(&bytes).unwrap();
    assert_eq!(decoded.graph.unwrap().node.last().unwrap().op_type, "Softmax");

    let out = nabla(&["export", run_s, "--format", "tflite", "--out", model_s]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--format 'tflite' is not supported; the only export format is onnx"));

    let out = nabla(&["export", run_s, "--format", "onnx", "--out", model_s, "--opset", "12"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("opset 12 is not supported; choose 17..=22"), "{}", stderr(&out));

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = nabla(&["export", empty.to_str().unwrap(), "--format", "onnx", "--out", model_s]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("config.toml"), "{}", stderr(&out));
}
