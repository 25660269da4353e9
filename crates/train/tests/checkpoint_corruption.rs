//! Corrupt checkpoints give clear errors naming the file (and the tensor), never a panic and
//! never a silently wrong load: truncation, flipped bytes, impossible headers, wrong dtypes
//! and shapes, missing and extra tensors, a `latest` pointing outside the run, implausible
//! counters; and what evaluation does not need may be missing.

use nabla_train::files::{read_safetensors, to_safetensors, Dtype, FileDigest, RawTensor};
use nabla_train::{evaluate_checkpoint, load_for_eval, RunOptions, TrainConfig, Trainer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const CONFIG: &str = include_str!("fixtures/checkpoint.toml");

const CKPT: &str = "checkpoint-epoch0001";

fn train_into(dir: &Path) {
    let config = TrainConfig::from_toml_str(CONFIG, "corruption.toml", &[]).unwrap();
    Trainer::new(config).unwrap().run(&RunOptions::quiet(dir)).unwrap();
}

/// One trained run, shared; each case corrupts its own copy.
fn template() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        train_into(&dir);
        (tmp, dir)
    })
    .1
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

struct Run {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Run {
    fn new() -> Run {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        copy_dir(template(), &dir);
        Run { _tmp: tmp, dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(CKPT).join(name)
    }

    /// The model file's path and its bytes as written.
    fn model_file(&self) -> (PathBuf, Vec<u8>) {
        let path = self.file("model.safetensors");
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    }

    fn eval_error(&self) -> String {
        match load_for_eval(&self.dir, None, &[]) {
            Ok(_) => panic!("evaluation of a corrupt checkpoint succeeded"),
            Err(e) => e.to_string(),
        }
    }

    fn resume_error(&self) -> String {
        match Trainer::resume(&self.dir, None) {
            Ok(_) => panic!("resuming from a corrupt checkpoint succeeded"),
            Err(e) => e.to_string(),
        }
    }

    fn digest(&self, name: &str) -> FileDigest {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.file("manifest.json")).unwrap()).unwrap();
        serde_json::from_value(manifest["files"][name].clone()).unwrap()
    }

    /// Rewrites the manifest for the files as they are now: a checkpoint consistent in itself
    /// but wrong for the model, so that the checks behind the checksums are reached.
    fn reseal(&self) {
        let mut files = serde_json::Map::new();
        for name in ["model.safetensors", "optimizer.safetensors", "trainer.json"] {
            if let Ok(bytes) = std::fs::read(self.file(name)) {
                files.insert(name.into(), serde_json::to_value(FileDigest::of(&bytes)).unwrap());
            }
        }
        let manifest = serde_json::json!({ "format": "nabla-checkpoint-2", "files": files });
        std::fs::write(self.file("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    }

    /// Rewrites the model file with `edit` applied to its tensors, and reseals.
    fn edit_model(&self, edit: impl FnOnce(&mut BTreeMap<String, RawTensor>)) {
        let path = self.file("model.safetensors");
        let file = read_safetensors(&path, None).unwrap();
        let mut tensors = file.tensors().clone();
        edit(&mut tensors);
        let meta = file
            .metadata()
            .iter()
            .filter(|(k, _)| !k.starts_with("nabla."))
            .map(|(k, v)| (k.clone(), v.clone()));
        std::fs::write(&path, to_safetensors(&tensors, &meta.collect()).unwrap()).unwrap();
        self.reseal();
    }

    fn edit_trainer_json(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let path = self.file("trainer.json");
        let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut json);
        std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
        self.reseal();
    }
}

fn header_len(bytes: &[u8]) -> usize {
    u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

fn assert_has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "'{part}' missing from: {message}");
    }
}

#[test]
fn the_intact_checkpoint_resumes_and_evaluates() {
    let run = Run::new();
    let resumed = Trainer::resume(&run.dir, Some(2)).unwrap();
    assert_eq!((resumed.epochs_done(), resumed.steps_done()), (1, 2));
    let e = evaluate_checkpoint(&run.dir, None, &[]).unwrap();
    assert!(e.notes.is_empty(), "{:?}", e.notes);
    assert!(e.checkpoint.ends_with(CKPT));
    let model = read_safetensors(&run.file("model.safetensors"), None).unwrap();
    assert!(model.checksummed());
    let counter = &model.tensors()["1.num_batches_tracked"];
    assert_eq!((counter.dtype(), counter.shape()), (Dtype::I64, &[] as &[usize]));
    assert_eq!(model.counter("1.num_batches_tracked").unwrap(), (2, None), "two batches of 32");
}

#[test]
fn identical_runs_write_byte_identical_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train_into(&a);
    train_into(&b);
    for name in ["latest", "config.toml"] {
        assert_eq!(std::fs::read(a.join(name)).unwrap(), std::fs::read(b.join(name)).unwrap(), "{name}");
    }
    let mut names: Vec<_> =
        std::fs::read_dir(a.join(CKPT)).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["manifest.json", "model.safetensors", "optimizer.safetensors", "trainer.json"]);
    for name in names {
        let (x, y) = (
            std::fs::read(a.join(CKPT).join(&name)).unwrap(),
            std::fs::read(b.join(CKPT).join(&name)).unwrap(),
        );
        assert!(x == y, "{name:?} differs between identical runs");
    }
}

#[test]
fn truncation_anywhere_is_an_error_naming_the_file() {
    let run = Run::new();
    let (path, bytes) = run.model_file();
    let h = header_len(&bytes);
    let cuts = [0, 4, 8, 8 + h / 2, 8 + h, 8 + h + 3, (8 + h + bytes.len()) / 2, bytes.len() - 1];
    for &cut in &cuts {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = run.eval_error();
        assert_has(
            &err,
            &["model.safetensors", &format!("has {cut} bytes but the manifest records {}", bytes.len())],
        );
    }
    // Without the manifest the header arithmetic catches it.
    std::fs::remove_file(run.file("manifest.json")).unwrap();
    for (cut, says) in [
        (0, "too short for the 8-byte header length"),
        (4, "too short for the 8-byte header length"),
        (8, "declares a"),
        (8 + h / 2, "declares a"),
        (8 + h, "the file is truncated"),
        (bytes.len() - 1, "the file is truncated"),
    ] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        assert_has(&run.eval_error(), &["model.safetensors", says]);
    }
    std::fs::write(&path, &bytes).unwrap();
    assert!(load_for_eval(&run.dir, None, &[]).is_ok());

    let run = Run::new();
    let optimizer = std::fs::read(run.file("optimizer.safetensors")).unwrap();
    std::fs::write(run.file("optimizer.safetensors"), &optimizer[..optimizer.len() - 4]).unwrap();
    assert_has(&run.resume_error(), &["optimizer.safetensors", "manifest records"]);
    std::fs::write(run.file("optimizer.safetensors"), &optimizer).unwrap();
    let json = std::fs::read(run.file("trainer.json")).unwrap();
    std::fs::write(run.file("trainer.json"), &json[..json.len() / 2]).unwrap();
    run.reseal();
    assert_has(&run.resume_error(), &["trainer.json", "EOF"]);
}

#[test]
fn every_flipped_byte_of_the_model_file_is_caught() {
    let run = Run::new();
    let (path, bytes) = run.model_file();
    let digest = run.digest("model.safetensors");
    let original = read_safetensors(&path, Some(&digest)).unwrap();
    let data_start = 8 + header_len(&bytes);
    let probe = run.dir.join("probe.safetensors");
    // Every byte of the length and header (where a flip can still parse), and a sample of
    // the data (any flip there is a checksum mismatch), both ends included.
    let positions = (0..data_start).chain((data_start..bytes.len()).step_by(11)).chain([bytes.len() - 1]);
    for i in positions {
        for mask in [0x01u8, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            std::fs::write(&probe, &bad).unwrap();
            let err = read_safetensors(&probe, Some(&digest)).unwrap_err().to_string();
            assert!(err.contains("probe.safetensors"), "byte {i}: {err}");
            if i >= data_start {
                assert_has(&err, &["tensor '", "does not match its SHA-256 checksum"]);
            }
            // Without the manifest: an error, or (a flip in a metadata value only nabla's
            // manifest covers) exactly the original tensors.
            if let Ok(file) = read_safetensors(&probe, None) {
                assert_eq!(
                    file.tensors(),
                    original.tensors(),
                    "byte {i} ^ {mask:#x} changed a tensor silently"
                );
            }
        }
    }

    // Through evaluation: the damaged tensor is named.
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x10;
    std::fs::write(&path, &bad).unwrap();
    let err = run.eval_error();
    assert_has(&err, &["model.safetensors", "tensor '", "does not match its SHA-256 checksum"]);
    std::fs::remove_file(run.file("manifest.json")).unwrap();
    assert_eq!(run.eval_error(), err, "the tensor checksums catch it without the manifest");
}

#[test]
fn impossible_header_lengths_are_refused_before_reading() {
    let run = Run::new();
    let (path, bytes) = run.model_file();
    for length in [u64::MAX, 200 << 20, bytes.len() as u64 - 7, 0] {
        let mut bad = bytes.clone();
        bad[..8].copy_from_slice(&length.to_le_bytes());
        std::fs::write(&path, &bad).unwrap();
        let err = run.eval_error();
        let says = if length == 0 {
            "header is not a safetensors JSON object"
        } else {
            &format!("declares a {length}-byte header")
        };
        assert_has(&err, &["model.safetensors", says]);
    }
}

#[test]
fn a_header_that_lies_about_a_tensor_names_it() {
    let run = Run::new();
    let (path, text) = run.model_file();
    let h = header_len(&text);
    let header = String::from_utf8(text[8..8 + h].to_vec()).unwrap();
    for (from, to, says) in [
        (r#""shape":[16,64]"#, r#""shape":[16,65]"#, "takes 4160 bytes but the offsets"),
        (r#""dtype":"F32","shape":[16,64]"#, r#""dtype":"I32","shape":[16,64]"#, "has dtype I32"),
        (r#""dtype":"F32","shape":[16,64]"#, r#""dtype":"F99","shape":[16,64]"#, "unknown dtype 'F99'"),
    ] {
        assert!(header.contains(from), "{header}");
        let mut bad = text.clone();
        bad[8..8 + h].copy_from_slice(header.replacen(from, to, 1).as_bytes());
        std::fs::write(&path, &bad).unwrap();
        run.reseal();
        assert_has(&run.eval_error(), &["model.safetensors: tensor '0.weight'", says]);
        std::fs::write(&path, &text).unwrap();
    }
    run.reseal();
    assert!(load_for_eval(&run.dir, None, &[]).is_ok());
}

/// A change to a model file's tensors.
type Edit = Box<dyn Fn(&mut BTreeMap<String, RawTensor>)>;

#[test]
fn wrong_dtypes_shapes_and_missing_or_extra_tensors() {
    let cases: Vec<(Edit, Vec<&str>)> = vec![
        (
            Box::new(|t| {
                let w = t["0.weight"].clone();
                t.insert(
                    "0.weight".into(),
                    RawTensor::new(Dtype::I32, w.shape().to_vec(), w.data().to_vec()).unwrap(),
                );
            }),
            vec!["tensor '0.weight' has dtype I32"],
        ),
        (
            Box::new(|t| {
                let w = t["0.weight"].clone();
                t.insert(
                    "0.weight".into(),
                    RawTensor::new(Dtype::F32, vec![64, 16], w.data().to_vec()).unwrap(),
                );
            }),
            vec![
                "does not fit the model",
                "tensor '0.weight' has shape [64, 16] in the file, [16, 64] in the model",
            ],
        ),
        (
            Box::new(|t| {
                t.remove("1.running_var");
            }),
            vec!["does not fit the model", "tensor '1.running_var' is missing"],
        ),
        (
            Box::new(|t| {
                t.insert(
                    "5.weight".into(),
                    RawTensor::from_f32(&ndarray::ArrayD::zeros(ndarray::IxDyn(&[2]))),
                );
            }),
            vec!["does not fit the model", "the model has no tensor '5.weight'"],
        ),
        (
            Box::new(|t| {
                t.insert(
                    "1.num_batches_tracked".into(),
                    RawTensor::from_f32(&ndarray::ArrayD::from_elem(ndarray::IxDyn(&[]), 1.5)),
                );
            }),
            vec!["tensor '1.num_batches_tracked' holds 1.5"],
        ),
        (
            Box::new(|t| {
                t.insert(
                    "1.num_batches_tracked".into(),
                    RawTensor::new(Dtype::I64, vec![1], 2i64.to_le_bytes().to_vec()).unwrap(),
                );
            }),
            vec!["tensor '1.num_batches_tracked' has shape [1], expected []"],
        ),
        (
            Box::new(|t| {
                t.insert("1.num_batches_tracked".into(), RawTensor::scalar_i64(-2));
            }),
            vec!["tensor '1.num_batches_tracked' is negative (-2)"],
        ),
        (
            Box::new(|t| {
                t.insert(
                    "4.bias".into(),
                    RawTensor::from_f64(&ndarray::ArrayD::from_elem(ndarray::IxDyn(&[10]), 1e39)),
                );
            }),
            vec!["tensor '4.bias' has value 1e39", "outside the f32 range"],
        ),
    ];
    for (edit, parts) in cases {
        let run = Run::new();
        run.edit_model(edit);
        let err = run.eval_error();
        assert_has(&err, &parts);
        assert!(err.contains(&run.file("model.safetensors").display().to_string()), "{err}");
        assert_has(&run.resume_error(), &parts);
    }
}

#[test]
fn conversions_are_for_evaluation_only() {
    let run = Run::new();
    let before = evaluate_checkpoint(&run.dir, None, &[]).unwrap();
    let stored = read_safetensors(&run.file("model.safetensors"), None).unwrap();
    run.edit_model(|t| {
        for name in ["0.weight", "4.weight"] {
            let (a, _) = stored.f32(name).unwrap();
            t.insert(name.into(), RawTensor::from_f64(&a.mapv(f64::from)));
        }
    });
    let after = evaluate_checkpoint(&run.dir, None, &[]).unwrap();
    assert_eq!(after.notes.len(), 1, "{:?}", after.notes);
    assert_has(
        &after.notes[0],
        &["2 tensor(s) stored as F64 converted to f32 (exactly): 0.weight, 4.weight"],
    );
    assert_eq!((after.loss, after.accuracy), (before.loss, before.accuracy), "exact widening and back");
    assert_has(&run.resume_error(), &["tensor '0.weight' is stored as F64", "only evaluation converts"]);
}

#[test]
fn latest_must_name_a_checkpoint_directory_inside_the_run() {
    let run = Run::new();
    let outside = run.dir.parent().unwrap().join("outside");
    copy_dir(&run.dir.join(CKPT), &outside);
    std::os::unix::fs::symlink(&outside, run.dir.join("escape")).unwrap();
    std::fs::write(run.dir.join("plain-file"), "x").unwrap();
    for (content, says) in [
        ("/etc".to_string(), "names '/etc', an absolute path"),
        (outside.display().to_string(), "an absolute path"),
        ("../outside".to_string(), "names '../outside', which leaves the run directory"),
        (format!("{CKPT}/../../outside"), "which leaves the run directory"),
        (format!("{CKPT}/sub"), "which is not a single directory name"),
        (".".to_string(), "which is not a single directory name"),
        ("".to_string(), "is empty"),
        ("checkpoint-epoch0009".to_string(), "names 'checkpoint-epoch0009', which does not exist"),
        ("escape".to_string(), "names 'escape', a symbolic link leading outside the run directory"),
        ("plain-file".to_string(), "which is not a directory"),
        ("x".repeat(5000), "has 5000 bytes, more than the 4096 accepted"),
    ] {
        std::fs::write(run.dir.join("latest"), &content).unwrap();
        for err in [run.eval_error(), run.resume_error()] {
            assert_has(&err, &[&run.dir.join("latest").display().to_string(), says]);
        }
    }
    std::fs::write(run.dir.join("latest"), format!("{CKPT}\n")).unwrap();
    assert!(load_for_eval(&run.dir, None, &[]).is_ok(), "a trailing newline is fine");

    // A file of the checkpoint that links outside the run.
    let model = run.file("model.safetensors");
    std::fs::remove_file(&model).unwrap();
    std::os::unix::fs::symlink(outside.join("model.safetensors"), &model).unwrap();
    assert_has(
        &run.eval_error(),
        &["model.safetensors: is a symbolic link leading outside the run directory"],
    );

    std::fs::remove_file(run.dir.join("latest")).unwrap();
    let expected = format!("{} has no checkpoint yet (no 'latest' file)", run.dir.display());
    assert_eq!(run.eval_error(), expected);
    assert_eq!(run.resume_error(), expected);
}

#[test]
fn evaluation_needs_only_the_model_and_its_config() {
    let run = Run::new();
    let full = evaluate_checkpoint(&run.dir, None, &[]).unwrap();
    std::fs::remove_file(run.file("optimizer.safetensors")).unwrap();
    std::fs::remove_file(run.file("trainer.json")).unwrap();
    let model_only = evaluate_checkpoint(&run.dir, None, &[]).unwrap();
    assert_eq!((model_only.loss, model_only.accuracy), (full.loss, full.accuracy));
    assert!(model_only.notes.is_empty(), "the manifest still verifies the model: {:?}", model_only.notes);
    assert_has(&run.resume_error(), &["optimizer.safetensors: is missing"]);

    std::fs::remove_file(run.file("manifest.json")).unwrap();
    let unsealed = evaluate_checkpoint(&run.dir, None, &[]).unwrap();
    assert_eq!(unsealed.accuracy, full.accuracy);
    assert_has(&unsealed.notes.join("\n"), &["no manifest.json", "the tensors match their checksums"]);
    assert_has(&run.resume_error(), &["manifest.json: is missing: resuming needs a complete checkpoint"]);

    std::fs::remove_file(run.dir.join("config.toml")).unwrap();
    assert_has(&run.eval_error(), &["config.toml: is missing"]);
}

#[test]
fn trainer_state_is_validated() {
    let run = Run::new();
    run.edit_trainer_json(|j| j["epoch"] = serde_json::json!(1_000_000_000_000_000_000u64));
    assert_has(
        &run.resume_error(),
        &["trainer.json: epoch 1000000000000000000 is not plausible (at most 1000000000)"],
    );

    let run = Run::new();
    run.edit_trainer_json(|j| j["epoch"] = serde_json::json!(7));
    assert_has(&run.resume_error(), &["trainer.json: step 2 does not match epoch 7 at 2 steps per epoch"]);

    let run = Run::new();
    run.edit_trainer_json(|j| j["step"] = serde_json::json!(u64::MAX));
    assert_has(&run.resume_error(), &["trainer.json: step 18446744073709551615 is not plausible"]);

    let run = Run::new();
    run.edit_trainer_json(|j| {
        j["optimizer_scalars"].as_object_mut().unwrap().remove("0.weight.step").unwrap();
    });
    assert_has(&run.resume_error(), &[CKPT, "adam state: missing entry '0.weight.step'"]);

    let run = Run::new();
    run.edit_trainer_json(|j| j["surprise"] = serde_json::json!(1));
    assert_has(&run.resume_error(), &["trainer.json: unknown field `surprise`"]);

    let run = Run::new();
    let mut padded = std::fs::read(run.file("trainer.json")).unwrap();
    padded.resize(5 << 20, b' ');
    std::fs::write(run.file("trainer.json"), padded).unwrap();
    run.reseal();
    assert_has(&run.resume_error(), &["trainer.json: has 5242880 bytes, more than the 4194304 accepted"]);

    let run = Run::new();
    let mut json = std::fs::read(run.file("trainer.json")).unwrap();
    let digit = json.iter().position(|b| b.is_ascii_digit()).unwrap();
    json[digit] ^= 0x01;
    std::fs::write(run.file("trainer.json"), json).unwrap();
    assert_has(&run.resume_error(), &["trainer.json: does not match its SHA-256 checksum in the manifest"]);
}

#[test]
fn a_corrupt_manifest_is_an_error() {
    for (content, says) in [
        ("{".to_string(), "manifest.json: EOF"),
        (r#"{"format":"nabla-checkpoint-9","files":{}}"#.to_string(), "format 'nabla-checkpoint-9'"),
        (
            r#"{"format":"nabla-checkpoint-2","files":{"x.bin":{"bytes":1,"sha256":"00"}}}"#.to_string(),
            "unknown file 'x.bin'",
        ),
        (r#"{"format":"nabla-checkpoint-2","files":{}}"#.to_string(), "has no entry for model.safetensors"),
        ("x".repeat(5 << 20), "more than the 4194304 accepted"),
    ] {
        let run = Run::new();
        std::fs::write(run.file("manifest.json"), content).unwrap();
        assert_has(&run.eval_error(), &["manifest.json", says]);
    }
}
