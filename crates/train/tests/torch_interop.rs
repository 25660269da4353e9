//! Reading what PyTorch writes: `testdata/torch/mlp_*.safetensors` are `save_file` of a
//! `Sequential(Linear(64, 8), BatchNorm1d(8), ReLU, Linear(8, 10))` state_dict in four dtypes
//! (`testdata/torch/make_state_dict.py`), loaded here through the path `nabla eval` uses.

use nabla_autograd::Var;
use nabla_layers::Module;
use nabla_train::{evaluate_checkpoint, load_for_eval, read_safetensors};
use std::path::{Path, PathBuf};

const CONFIG: &str = include_str!("fixtures/torch_mlp.toml");

fn torch_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/torch").join(name)
}

/// A run directory whose only checkpoint is PyTorch's file as `model.safetensors`.
fn run_with(file: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), CONFIG).unwrap();
    let ckpt = dir.path().join("checkpoint-epoch0001");
    std::fs::create_dir(&ckpt).unwrap();
    std::fs::copy(torch_file(file), ckpt.join("model.safetensors")).unwrap();
    std::fs::write(dir.path().join("latest"), "checkpoint-epoch0001\n").unwrap();
    dir
}

#[test]
fn pytorch_state_dicts_load_and_compute_pytorchs_logits() {
    let probe = read_safetensors(&torch_file("probe.safetensors"), None).unwrap();
    let (input, _) = probe.f32("input").unwrap();
    for (tag, conversion) in [
        ("f32", None),
        ("f64", Some("stored as F64 converted to f32 (")),
        ("f16", Some("stored as F16 converted to f32 (exactly)")),
        ("bf16", Some("stored as BF16 converted to f32 (exactly)")),
    ] {
        let run = run_with(&format!("mlp_{tag}.safetensors"));
        let mut loaded = load_for_eval(run.path(), None, &[]).unwrap();
        let notes = loaded.notes.join("\n");
        assert!(notes.contains("no nabla checksums (written by another program)"), "{tag}: {notes}");
        match conversion {
            None => assert_eq!(loaded.notes.len(), 1, "{tag}: {notes}"),
            Some(text) => {
                assert!(notes.contains(text), "{tag}: {notes}");
                assert!(notes.contains("8 tensor(s)") && notes.contains("0.weight"), "{tag}: {notes}");
            }
        }
        if tag == "f64" {
            assert!(notes.contains("values rounded to the nearest f32"), "{notes}");
        }
        let model = loaded.trainer.model_mut();
        assert_eq!(
            model.counters(),
            [("1.num_batches_tracked".to_string(), 3)],
            "{tag}: PyTorch's int64 counter"
        );

        if tag == "f32" {
            // Every value exactly as stored.
            let file = read_safetensors(&torch_file("mlp_f32.safetensors"), None).unwrap();
            let mut state: Vec<(String, Vec<u32>)> = Vec::new();
            model.visit_parameters("", &mut |n, p| {
                state.push((n.to_string(), p.value().iter().map(|x| x.to_bits()).collect()))
            });
            model.visit_buffers("", &mut |n, b| {
                state.push((n.to_string(), b.iter().map(|x| x.to_bits()).collect()))
            });
            assert_eq!(state.len(), 8);
            for (name, bits) in state {
                let (stored, _) = file.f32(&name).unwrap();
                assert_eq!(bits, stored.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), "{name}");
            }
        }

        model.set_training(false);
        let logits = model.forward(&Var::constant(input.clone())).unwrap();
        let (want, _) = probe.f32(&format!("logits.{tag}")).unwrap();
        assert_eq!(logits.value().shape(), want.shape());
        for (got, want) in logits.value().iter().zip(want.iter()) {
            assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{tag}: {got} vs PyTorch's {want}");
        }

        let evaluation = evaluate_checkpoint(run.path(), None, &[]).unwrap();
        assert_eq!(evaluation.notes, loaded.notes);
        assert!(evaluation.samples > 0 && evaluation.loss.is_finite(), "{evaluation:?}");
    }
}

#[test]
fn a_pytorch_file_that_does_not_fit_names_the_tensors() {
    let run = run_with("mlp_f32.safetensors");
    let wider = CONFIG.replace("out_features = 8", "out_features = 9");
    std::fs::write(run.path().join("config.toml"), wider).unwrap();
    let err = load_for_eval(run.path(), None, &[]).err().unwrap().to_string();
    assert!(err.contains("model.safetensors: does not fit the model"), "{err}");
    assert!(err.contains("tensor '0.weight' has shape [8, 64] in the file, [9, 64] in the model"), "{err}");
}
