//! Checkpoints: the model's parameters, buffers and counters by name in safetensors (PyTorch's
//! `state_dict` names, shapes and dtypes: `F32` tensors and `I64` 0-d counters such as
//! `1.num_batches_tracked`, so `load_state_dict(strict=True)` takes the file), the optimizer's
//! state in a second safetensors file, the counters, scheduler state and generator states in
//! JSON, and a manifest of the three.
//!
//! Layout of a run directory:
//! ```text
//! run/
//!   config.toml                 effective configuration
//!   metrics.jsonl               one line per epoch
//!   latest                      name of the newest complete checkpoint (one path component)
//!   checkpoint-epoch0003/
//!     model.safetensors         0.weight, 0.bias, 1.weight, 1.running_mean, ...
//!     optimizer.safetensors     0.weight.exp_avg, ...
//!     trainer.json              epoch, step, optimizer scalars, scheduler, generators
//!     manifest.json             length and SHA-256 of each of the three files above
//! ```
//!
//! Integrity, in two layers: each safetensors file carries the SHA-256 of every tensor in its
//! `__metadata__` (see [`crate::files`]), so a damaged tensor is named; `manifest.json`
//! (format [`FORMAT`]) records each file's length and SHA-256, covering headers, metadata and
//! `trainer.json`. Every file is size-checked against the manifest and a cap before it is
//! read. Resuming needs the complete checkpoint with its manifest; evaluation reads only
//! `model.safetensors` (verified against the manifest when there is one, and otherwise
//! accepted with a note, so that a model file written by PyTorch can be evaluated).
//!
//! Every file is written atomically (temporary file, fsync, rename); `latest` is switched
//! only after the whole checkpoint is on disk, and older checkpoints are removed after that,
//! so a crash at any point leaves the last good checkpoint intact. Identical states give
//! byte-identical files: every map is ordered.

use crate::files::{
    read_capped, read_safetensors, to_safetensors, write_atomic, write_atomic_all, Dtype, FileDigest,
    RawTensor, TensorFile,
};
use crate::{TrainConfig, TrainError, Trainer};
use nabla_layers::{Module, Sequential};
use nabla_optim::{Scalar, Scalars, StateDict};
use nabla_tensor::RngState;
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The checkpoint format written to `trainer.json` and `manifest.json`.
pub const FORMAT: &str = "nabla-checkpoint-2";
/// The most epochs a checkpoint may claim; more is corruption, not a run.
pub const MAX_EPOCHS: usize = 1_000_000_000;
/// The most optimizer steps a checkpoint may claim.
pub const MAX_STEPS: u64 = 1_000_000_000_000_000;

const LATEST_CAP: u64 = 4 << 10;
const TEXT_CAP: u64 = 4 << 20;

const MODEL_FILE: &str = "model.safetensors";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const TRAINER_FILE: &str = "trainer.json";
const MANIFEST_FILE: &str = "manifest.json";
/// The files of every checkpoint directory: the model, the optimizer state, the trainer's
/// progress and the manifest of their SHA-256 digests.
pub const CHECKPOINT_FILES: [&str; 4] = [MODEL_FILE, OPTIMIZER_FILE, TRAINER_FILE, MANIFEST_FILE];

fn file_error(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::CheckpointFile { path: path.to_path_buf(), message: message.into() }
}

/// A model's state dict: parameters and buffers in `f32`, counters as integers.
pub(crate) struct ModelState {
    pub floats: BTreeMap<String, ArrayD<f32>>,
    pub counters: BTreeMap<String, u64>,
}

impl ModelState {
    /// Whether the state has a tensor (float or counter) named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.floats.contains_key(name) || self.counters.contains_key(name)
    }
}

/// Sets the model's parameters, buffers and counters from `state`, by name; what `state` has
/// no entry for keeps its value.
fn set_model_state(model: &mut Sequential<f32>, state: &ModelState) {
    model.visit_parameters("", &mut |name, p| {
        if let Some(a) = state.floats.get(name) {
            p.value_mut().assign(a);
        }
    });
    model.visit_buffers_mut("", &mut |name, b| {
        if let Some(a) = state.floats.get(name) {
            b.assign(a);
        }
    });
    model.visit_counters_mut("", &mut |name, n| {
        if let Some(&v) = state.counters.get(name) {
            *n = v;
        }
    });
}

/// The model's state dict, keyed as PyTorch keys it.
pub(crate) fn model_state(model: &Sequential<f32>) -> ModelState {
    let mut floats = BTreeMap::new();
    model.visit_parameters("", &mut |name, p| {
        floats.insert(name.to_string(), p.value().clone());
    });
    model.visit_buffers("", &mut |name, b| {
        floats.insert(name.to_string(), b.clone());
    });
    let counters = model.counters().into_iter().collect();
    ModelState { floats, counters }
}

/// Everything needed to continue a run exactly, as saved.
pub(crate) struct Checkpoint {
    pub epoch: usize,
    pub step: u64,
    pub model: ModelState,
    pub optimizer: StateDict<f32>,
    pub scheduler: Option<Scalars>,
    pub rngs: Vec<(String, RngState)>,
    /// Some epoch of the run was trained by several processes (see [`check_progress`]).
    pub data_parallel: bool,
}

/// A checkpoint as read back: the model file is kept as stored, to be checked against the
/// model it is restored into.
pub(crate) struct LoadedCheckpoint {
    pub epoch: usize,
    pub step: u64,
    pub model: TensorFile,
    pub optimizer: StateDict<f32>,
    pub scheduler: Option<Scalars>,
    pub rngs: Vec<(String, RngState)>,
    pub data_parallel: bool,
    dir: PathBuf,
    trainer_json: PathBuf,
}

impl LoadedCheckpoint {
    /// An error about the checkpoint as a whole (optimizer or scheduler state spans two
    /// files), naming its directory.
    pub(crate) fn error(&self, e: impl std::fmt::Display) -> TrainError {
        file_error(&self.dir, e.to_string())
    }
}

/// Scalars keep their exact bits: `f64` values as hexadecimal bit patterns (JSON has no
/// infinity, and a plateau scheduler's initial best is one).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum JsonScalar {
    F64Bits(String),
    U64(u64),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRng {
    seed: String,
    stream: u64,
    word_pos: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainerJson {
    format: String,
    epoch: usize,
    step: u64,
    optimizer_scalars: BTreeMap<String, JsonScalar>,
    scheduler: Option<BTreeMap<String, JsonScalar>>,
    rngs: BTreeMap<String, JsonRng>,
    // Written only when true, so a run of one process writes the bytes it always did.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    data_parallel: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    files: BTreeMap<String, FileDigest>,
}

fn scalars_to_json(s: &Scalars) -> BTreeMap<String, JsonScalar> {
    s.iter()
        .map(|(k, v)| {
            let j = match v {
                Scalar::F64(x) => JsonScalar::F64Bits(format!("{:016x}", x.to_bits())),
                Scalar::U64(n) => JsonScalar::U64(*n),
            };
            (k.clone(), j)
        })
        .collect()
}

fn scalars_from_json(s: BTreeMap<String, JsonScalar>, file: &Path) -> Result<Scalars, TrainError> {
    s.into_iter()
        .map(|(k, v)| {
            let scalar = match v {
                JsonScalar::U64(n) => Scalar::U64(n),
                JsonScalar::F64Bits(hex) => {
                    Scalar::F64(f64::from_bits(u64::from_str_radix(&hex, 16).map_err(|_| {
                        file_error(file, format!("scalar '{k}' is not a hexadecimal bit pattern"))
                    })?))
                }
            };
            Ok((k, scalar))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The directory name for a checkpoint of `epoch`: `checkpoint-epochNNNN`, or its alternate
/// `checkpoint-epochNNNN-b` when `latest` names the first (a run overwriting another at the
/// same epoch must not write into the checkpoint that is still current).
fn checkpoint_name(run_dir: &Path, epoch: usize) -> String {
    let base = format!("checkpoint-epoch{epoch:04}");
    let current = read_capped(&run_dir.join("latest"), LATEST_CAP, None)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|s| s.trim().to_string());
    if current.as_deref() == Some(base.as_str()) {
        format!("{base}-b")
    } else {
        base
    }
}

/// Writes a checkpoint into `run_dir` and points `latest` at it (returning its directory),
/// `latest` names it: what must be durable before the checkpoint becomes current (the
/// epoch's metrics line, the config) is written there.
pub(crate) fn save_with(
    run_dir: &Path,
    ckpt: &Checkpoint,
    before_latest: impl FnOnce() -> Result<(), TrainError>,
) -> Result<PathBuf, TrainError> {
    let name = checkpoint_name(run_dir, ckpt.epoch);
    let dir = run_dir.join(&name);
    // Not current (see checkpoint_name): a stale leftover, or an older run's.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|source| TrainError::Io { path: dir.clone(), source })?;
    }

    let mut tensors: BTreeMap<String, RawTensor> =
        ckpt.model.floats.iter().map(|(k, a)| (k.clone(), RawTensor::from_f32(a))).collect();
    for (k, &n) in &ckpt.model.counters {
        let n = i64::try_from(n).map_err(|_| {
            TrainError::Checkpoint(format!("counter '{k}' = {n} does not fit PyTorch's int64"))
        })?;
        tensors.insert(k.clone(), RawTensor::scalar_i64(n));
    }
    let meta = BTreeMap::from([
        ("format".to_string(), "pt".to_string()),
        ("epoch".to_string(), ckpt.epoch.to_string()),
        ("step".to_string(), ckpt.step.to_string()),
    ]);
    let model = to_safetensors(&tensors, &meta)?;
    let optimizer_tensors =
        ckpt.optimizer.arrays.iter().map(|(k, a)| (k.clone(), RawTensor::from_f32(a))).collect();
    let optimizer = to_safetensors(&optimizer_tensors, &BTreeMap::new())?;
    let json = TrainerJson {
        format: FORMAT.to_string(),
        epoch: ckpt.epoch,
        step: ckpt.step,
        optimizer_scalars: scalars_to_json(&ckpt.optimizer.scalars),
        scheduler: ckpt.scheduler.as_ref().map(scalars_to_json),
        rngs: ckpt
            .rngs
            .iter()
            .map(|(n, s)| {
                (
                    n.clone(),
                    JsonRng { seed: hex(&s.seed), stream: s.stream, word_pos: s.word_pos.to_string() },
                )
            })
            .collect(),
        data_parallel: ckpt.data_parallel,
    };
    let trainer = serde_json::to_string_pretty(&json).expect("checkpoint metadata serializes");
    let manifest = Manifest {
        format: FORMAT.to_string(),
        files: BTreeMap::from([
            (MODEL_FILE.to_string(), FileDigest::of(&model)),
            (OPTIMIZER_FILE.to_string(), FileDigest::of(&optimizer)),
            (TRAINER_FILE.to_string(), FileDigest::of(trainer.as_bytes())),
        ]),
    };
    let manifest = serde_json::to_string_pretty(&manifest).expect("a manifest serializes");

    write_atomic_all(
        &dir,
        &[(MODEL_FILE, &model), (OPTIMIZER_FILE, &optimizer), (TRAINER_FILE, trainer.as_bytes())],
    )?;
    // The manifest last, once the files it names are durable: a checkpoint with a manifest
    // is complete.
    write_atomic(&dir.join(MANIFEST_FILE), manifest.as_bytes())?;
    before_latest()?;
    write_atomic(&run_dir.join("latest"), name.as_bytes())?;
    // Older checkpoints go only once the new one is complete and current.
    if let Ok(entries) = std::fs::read_dir(run_dir) {
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name.starts_with("checkpoint-epoch") && file_name != name {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(dir)
}

/// A checkpoint directory that `latest` names, checked to lie inside its run directory.
struct CheckpointDir {
    run: PathBuf,
    dir: PathBuf,
}

impl CheckpointDir {
    /// The path of one of its files, refusing a symbolic link that leads outside the run
    /// directory (a missing file is reported by whoever reads it).
    fn file(&self, name: &str) -> Result<PathBuf, TrainError> {
        let path = self.dir.join(name);
        if let Ok(real) = path.canonicalize() {
            if !real.starts_with(&self.run) {
                return Err(file_error(&path, "is a symbolic link leading outside the run directory"));
            }
        }
        Ok(path)
    }

    fn manifest(&self) -> Result<Option<Manifest>, TrainError> {
        let path = self.file(MANIFEST_FILE)?;
        if std::fs::symlink_metadata(&path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            return Ok(None);
        }
        let bytes = read_capped(&path, TEXT_CAP, None)?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| file_error(&path, format!("{e}")))?;
        if manifest.format != FORMAT {
            return Err(file_error(&path, format!("format '{}' is not '{FORMAT}'", manifest.format)));
        }
        for (name, digest) in &manifest.files {
            if ![MODEL_FILE, OPTIMIZER_FILE, TRAINER_FILE].contains(&name.as_str()) {
                return Err(file_error(&path, format!("lists an unknown file '{name}'")));
            }
            if digest.sha256.len() != 64 {
                return Err(file_error(&path, format!("the checksum of '{name}' is not a SHA-256")));
            }
        }
        Ok(Some(manifest))
    }

    /// Reads the model file, verified against the manifest when there is one; `false` in
    /// second place when there is none (a checkpoint written by another program, or
    /// interrupted), so that the caller can say what could not be verified.
    fn read_model(&self) -> Result<(TensorFile, bool), TrainError> {
        let model_path = self.file(MODEL_FILE)?;
        Ok(match self.manifest()? {
            Some(m) => {
                let digest = m.digest(&self.dir.join(MANIFEST_FILE), MODEL_FILE)?;
                (read_safetensors(&model_path, Some(digest))?, true)
            }
            None => (read_safetensors(&model_path, None)?, false),
        })
    }
}

impl Manifest {
    fn digest(&self, path: &Path, name: &str) -> Result<&FileDigest, TrainError> {
        self.files.get(name).ok_or_else(|| file_error(path, format!("has no entry for {name}")))
    }
}

/// The checkpoint directory that `run_dir/latest` names, with the checks a resume makes: the
/// file is short UTF-8 text naming one existing directory inside `run_dir`, not a path that
/// leaves it (by `..`, an absolute path or a symbolic link).
pub fn latest_checkpoint(run_dir: &Path) -> Result<PathBuf, TrainError> {
    latest_dir(run_dir).map(|checkpoint| checkpoint.dir)
}

/// The checkpoint directory named by `run_dir/latest`: a single name of a directory inside
/// `run_dir`.
fn latest_dir(run_dir: &Path) -> Result<CheckpointDir, TrainError> {
    let latest = run_dir.join("latest");
    match std::fs::symlink_metadata(&latest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TrainError::NoCheckpoint { run_dir: run_dir.to_path_buf() })
        }
        Err(source) => return Err(TrainError::Io { path: latest, source }),
        Ok(_) => {}
    }
    let bytes = read_capped(&latest, LATEST_CAP, None)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| file_error(&latest, "is not UTF-8 text"))?;
    let name = text.trim();
    let refuse = |why: &str| {
        file_error(
            &latest,
            format!("names '{name}', {why}; it must name a checkpoint directory inside the run directory"),
        )
    };
    if name.is_empty() {
        return Err(file_error(
            &latest,
            "is empty; it must name a checkpoint directory inside the run directory",
        ));
    }
    let path = Path::new(name);
    if path.is_absolute() || name.starts_with(['/', '\\']) {
        return Err(refuse("an absolute path"));
    }
    if path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(refuse("which leaves the run directory"));
    }
    let mut components = path.components();
    let single =
        matches!(components.next(), Some(std::path::Component::Normal(_))) && components.next().is_none();
    if !single || name.contains(['/', '\\', '\0']) {
        return Err(refuse("which is not a single directory name"));
    }
    let run =
        run_dir.canonicalize().map_err(|source| TrainError::Io { path: run_dir.to_path_buf(), source })?;
    let dir = run_dir.join(name);
    let real = dir.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => refuse("which does not exist"),
        _ => TrainError::Io { path: dir.clone(), source: e },
    })?;
    if !real.starts_with(&run) || real == run {
        return Err(refuse("a symbolic link leading outside the run directory"));
    }
    if !real.is_dir() {
        return Err(refuse("which is not a directory"));
    }
    Ok(CheckpointDir { run, dir })
}

/// The effective config saved in a run directory (size-capped).
pub(crate) fn read_run_config(run_dir: &Path) -> Result<TrainConfig, TrainError> {
    let path = run_dir.join("config.toml");
    let bytes = read_capped(&path, TEXT_CAP, None)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| file_error(&path, "is not UTF-8 text"))?;
    TrainConfig::from_toml_str(text, &path.display().to_string(), &[])
}

/// Reads the complete checkpoint that `run_dir/latest` names, verified against its manifest.
pub(crate) fn load(run_dir: &Path) -> Result<LoadedCheckpoint, TrainError> {
    let ckpt = latest_dir(run_dir)?;
    let manifest_path = ckpt.dir.join(MANIFEST_FILE);
    let manifest = ckpt.manifest()?.ok_or_else(|| {
        file_error(
            &manifest_path,
            format!(
                "is missing: resuming needs a complete checkpoint of format {FORMAT} (an older or \
                 interrupted one can still be evaluated with `nabla eval`)"
            ),
        )
    })?;
    let model =
        read_safetensors(&ckpt.file(MODEL_FILE)?, Some(manifest.digest(&manifest_path, MODEL_FILE)?))?;
    let optimizer_path = ckpt.file(OPTIMIZER_FILE)?;
    let optimizer =
        read_safetensors(&optimizer_path, Some(manifest.digest(&manifest_path, OPTIMIZER_FILE)?))?;
    let arrays = optimizer
        .tensors()
        .keys()
        .map(|name| match optimizer.f32(name)? {
            (a, None) => Ok((name.clone(), a)),
            (_, Some(c)) => Err(TrainError::CheckpointTensor {
                path: optimizer_path.clone(),
                tensor: name.clone(),
                message: format!(
                    "is stored as {}, but optimizer state must be F32 as nabla writes it",
                    c.from
                ),
            }),
        })
        .collect::<Result<BTreeMap<_, _>, TrainError>>()?;

    let json_path = ckpt.file(TRAINER_FILE)?;
    let bytes = read_capped(&json_path, TEXT_CAP, Some(manifest.digest(&manifest_path, TRAINER_FILE)?))?;
    let json: TrainerJson =
        serde_json::from_slice(&bytes).map_err(|e| file_error(&json_path, format!("{e}")))?;
    if json.format != FORMAT {
        return Err(file_error(&json_path, format!("format '{}' is not '{FORMAT}'", json.format)));
    }
    if json.epoch > MAX_EPOCHS {
        return Err(file_error(
            &json_path,
            format!("epoch {} is not plausible (at most {MAX_EPOCHS})", json.epoch),
        ));
    }
    if json.step > MAX_STEPS {
        return Err(file_error(
            &json_path,
            format!("step {} is not plausible (at most {MAX_STEPS})", json.step),
        ));
    }
    let rngs = json
        .rngs
        .into_iter()
        .map(|(n, r)| {
            let bad = || file_error(&json_path, format!("generator '{n}' is malformed"));
            let seed = unhex32(&r.seed).ok_or_else(bad)?;
            let word_pos = r.word_pos.parse::<u128>().map_err(|_| bad())?;
            Ok((n, RngState { seed, stream: r.stream, word_pos }))
        })
        .collect::<Result<Vec<_>, TrainError>>()?;
    Ok(LoadedCheckpoint {
        epoch: json.epoch,
        step: json.step,
        model,
        optimizer: StateDict { arrays, scalars: scalars_from_json(json.optimizer_scalars, &json_path)? },
        scheduler: json.scheduler.map(|s| scalars_from_json(s, &json_path)).transpose()?,
        rngs,
        data_parallel: json.data_parallel,
        dir: ckpt.dir,
        trainer_json: json_path,
    })
}

/// Checks that a checkpoint's counters fit the run it is restored into: checkpoints are taken
/// at epoch ends, so the step count is the epochs times the steps per epoch.
pub(crate) fn check_progress(trainer: &Trainer, ckpt: &LoadedCheckpoint) -> Result<(), TrainError> {
    let config = trainer.config();
    let n = trainer.data().train.len();
    if ckpt.data_parallel {
        // Each epoch of a data-parallel run takes as many steps as its process count gives
        // (a resume may change it), which the checkpoint does not record epoch by epoch; a
        // step count is plausible when no epoch took more steps than there are examples.
        let most = (ckpt.epoch as u64).checked_mul(n.max(1) as u64);
        if most.is_none_or(|m| ckpt.step > m) {
            return Err(file_error(
                &ckpt.trainer_json,
                format!(
                    "step {} is more than {} examples per epoch allow in {} epochs; the checkpoint is \
                     corrupt or from another data set",
                    ckpt.step, n, ckpt.epoch
                ),
            ));
        }
        return Ok(());
    }
    let per_epoch =
        if config.drop_last { n / config.batch_size.max(1) } else { n.div_ceil(config.batch_size.max(1)) };
    let expected = (ckpt.epoch as u64).checked_mul(per_epoch as u64);
    if expected != Some(ckpt.step) {
        return Err(file_error(
            &ckpt.trainer_json,
            format!(
                "step {} does not match epoch {} at {per_epoch} steps per epoch; the checkpoint is corrupt \
                 or from another data set or batch size",
                ckpt.step, ckpt.epoch
            ),
        ));
    }
    Ok(())
}

/// Whether restoring a model may convert stored dtypes to the model's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conversions {
    /// Only `F32` tensors and `I64` counters, as nabla writes them (resuming).
    Refuse,
    /// Convert by the rule of [`crate::files`], with notes (evaluation).
    Allow,
}

/// Restores the model's parameters, buffers and counters from `file`, all or nothing: every
/// name the model has must be in the file with its shape, and the file must have nothing
/// else. Returns notes on the conversions made.
pub(crate) fn restore_model(
    model: &mut Sequential<f32>,
    file: &TensorFile,
    conversions: Conversions,
) -> Result<Vec<String>, TrainError> {
    let wanted = model_state(model);
    let path = file.path();
    let mut problems = Vec::new();
    let mut floats = BTreeMap::new();
    let mut converted: BTreeMap<Dtype, (Vec<String>, usize, usize)> = BTreeMap::new();
    let refuse = |name: &str, from: Dtype| {
        TrainError::CheckpointTensor {
        path: path.to_path_buf(),
        tensor: name.to_string(),
        message: format!(
            "is stored as {from}; resuming needs the dtypes nabla writes (F32, I64 counters), only evaluation converts"
        ),
    }
    };
    for (name, target) in &wanted.floats {
        if !file.tensors().contains_key(name) {
            problems.push(format!("tensor '{name}' is missing"));
            continue;
        }
        let (array, conversion) = file.f32(name)?;
        if array.shape() != target.shape() {
            problems.push(format!(
                "tensor '{name}' has shape {:?} in the file, {:?} in the model",
                array.shape(),
                target.shape()
            ));
            continue;
        }
        if let Some(c) = conversion {
            if conversions == Conversions::Refuse {
                return Err(refuse(name, c.from));
            }
            let entry = converted.entry(c.from).or_default();
            entry.0.push(name.clone());
            entry.1 += c.rounded;
            entry.2 += c.values;
        }
        floats.insert(name.clone(), array);
    }
    let mut counters = BTreeMap::new();
    let mut converted_counters: BTreeMap<Dtype, Vec<String>> = BTreeMap::new();
    for name in wanted.counters.keys() {
        if !file.tensors().contains_key(name) {
            problems.push(format!("tensor '{name}' is missing"));
            continue;
        }
        let (value, from) = file.counter(name)?;
        if let Some(from) = from {
            if conversions == Conversions::Refuse {
                return Err(refuse(name, from));
            }
            converted_counters.entry(from).or_default().push(name.clone());
        }
        counters.insert(name.clone(), value);
    }
    let extra: Vec<String> =
        file.tensors().keys().filter(|k| !wanted.has(k)).map(|k| format!("'{k}'")).collect();
    if !extra.is_empty() {
        problems.push(format!("the model has no tensor {}", extra.join(", ")));
    }
    if !problems.is_empty() {
        return Err(file_error(path, format!("does not fit the model: {}", problems.join("; "))));
    }

    let restored = ModelState { floats, counters };
    set_model_state(model, &restored);

    let mut notes = Vec::new();
    for (from, (names, rounded, values)) in converted {
        let how = if rounded == 0 {
            "exactly".to_string()
        } else {
            format!("{rounded} of {values} values rounded to the nearest f32")
        };
        notes.push(format!(
            "{}: {} tensor(s) stored as {from} converted to f32 ({how}): {}",
            path.display(),
            names.len(),
            names.join(", ")
        ));
    }
    for (from, names) in converted_counters {
        notes.push(format!(
            "{}: counter(s) stored as {from} converted to int64: {}",
            path.display(),
            names.join(", ")
        ));
    }
    Ok(notes)
}

/// A model restored from a run's latest checkpoint for evaluation.
pub struct EvalModel {
    /// The trainer built from the run's config, its model holding the checkpoint's values.
    pub trainer: Trainer,
    /// The checkpoint directory read.
    pub checkpoint: PathBuf,
    /// What the caller should know: dtype conversions made, integrity not verifiable.
    pub notes: Vec<String>,
}

/// Builds the model of the run in `run_dir` from its `config.toml` and loads the model
/// tensors of its latest checkpoint, which is all that evaluation needs (the optimizer state
/// and `trainer.json` are not read). `data_override` replaces the data set (a spec such as
/// `mnist`). A model file written by another program (PyTorch's `save_file` of a
/// `state_dict`) is accepted, converted to `f32` by the rule of [`crate::files`], with notes.
///
/// # Errors
/// A missing or malformed config, no checkpoint yet, a `latest` that does not name a
/// directory inside `run_dir`, a model file that is corrupt or does not fit the model; each
/// names the file and, where one is at fault, the tensor.
pub fn load_for_eval(
    run_dir: &Path,
    data_override: Option<&str>,
    overrides: &[(&str, nabla_registry::Value)],
) -> Result<EvalModel, TrainError> {
    let mut config = read_run_config(run_dir)?;
    if let Some(spec) = data_override {
        let (name, params) = nabla_registry::parse_compact(spec).map_err(|e| TrainError::Config {
            file: "--data".into(),
            table: "data".into(),
            key: "name".into(),
            message: e.to_string(),
        })?;
        config.data.name = name;
        config.data.params = params;
    }
    for (path, value) in overrides {
        config.set(path, value.clone())?;
    }
    let ckpt = latest_dir(run_dir)?;
    let mut notes = Vec::new();
    let (file, verified) = ckpt.read_model()?;
    if !verified {
        notes.push(if file.checksummed() {
            format!(
                "{}: no {MANIFEST_FILE}; the tensors match their checksums but the header is unverified",
                ckpt.dir.display()
            )
        } else {
            format!(
                "{}: no nabla checksums (written by another program); its integrity cannot be verified",
                file.path().display()
            )
        });
    }
    let mut trainer = Trainer::new(config)?;
    notes.extend(restore_model(trainer.model_mut(), &file, Conversions::Allow)?);
    Ok(EvalModel { trainer, checkpoint: ckpt.dir, notes })
}

/// The evaluation of a checkpoint.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Mean loss on the held-out split.
    pub loss: f64,
    /// Accuracy on the held-out split, in `[0, 1]`.
    pub accuracy: f64,
    /// Number of held-out samples.
    pub samples: usize,
    /// The checkpoint directory evaluated.
    pub checkpoint: PathBuf,
    /// Notes from loading ([`EvalModel::notes`]).
    pub notes: Vec<String>,
}

/// Loads the model of a run directory's latest checkpoint ([`load_for_eval`]) and evaluates
/// it on the held-out split of its data set (or of `data_override`, a data-set spec such as
/// `mnist`).
///
/// # Errors
/// As [`load_for_eval`], and any error of the evaluation itself.
pub fn evaluate_checkpoint(
    run_dir: &Path,
    data_override: Option<&str>,
    overrides: &[(&str, nabla_registry::Value)],
) -> Result<Evaluation, TrainError> {
    let EvalModel { mut trainer, checkpoint, notes } = load_for_eval(run_dir, data_override, overrides)?;
    let samples = trainer.data().test.len();
    let (loss, accuracy) = trainer.evaluate()?;
    Ok(Evaluation { loss, accuracy, samples, checkpoint, notes })
}

/// What [`init_from`] loaded into the model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InitReport {
    /// The file the weights came from.
    pub source: PathBuf,
    /// The model's tensors that were set from the file, by name.
    pub loaded: Vec<String>,
    /// The model's tensors left at their initial values, each with the reason (missing from
    /// the file, or another shape there). Empty in strict mode.
    pub kept: Vec<String>,
    /// The file's tensors the model has no place for. Empty in strict mode.
    pub unused: Vec<String>,
    /// Notes on dtype conversions (a PyTorch file in F64, F16 or BF16).
    pub notes: Vec<String>,
}

/// The model file that `source` names: a `.safetensors` file itself, or the latest
/// checkpoint's `model.safetensors` of a run directory (verified against its manifest).
fn weights_file(source: &Path) -> Result<TensorFile, TrainError> {
    if source.is_dir() {
        return Ok(latest_dir(source)?.read_model()?.0);
    }
    read_safetensors(source, None)
}

/// Starts a model from the weights (parameters, buffers and counters) of `source`: a
/// safetensors file (a nabla checkpoint's `model.safetensors`, or a PyTorch `state_dict`
/// saved with `safetensors.torch.save_file`) or a run directory (its latest checkpoint).
///
/// `strict`: every tensor of the model must be in the file with its shape and the file must
/// have no other, as PyTorch's `load_state_dict(strict=True)`; the error names every missing,
/// unexpected and mis-shaped tensor. Otherwise (fine-tuning a changed head) the tensors with a
/// matching name and shape are loaded and the report lists the rest. F64, F16 and BF16 tensors
/// are converted to f32 with notes.
///
/// # Errors
/// An unreadable or corrupt file (naming the tensor), and in strict mode any mismatch.
pub fn init_from(model: &mut Sequential<f32>, source: &Path, strict: bool) -> Result<InitReport, TrainError> {
    let file = weights_file(source)?;
    let mut report = InitReport { source: file.path().to_path_buf(), ..InitReport::default() };
    if strict {
        report.notes = restore_model(model, &file, Conversions::Allow)?;
        let state = model_state(model);
        report.loaded = state.floats.keys().chain(state.counters.keys()).cloned().collect();
        return Ok(report);
    }
    let wanted = model_state(model);
    let mut floats = BTreeMap::new();
    for (name, target) in &wanted.floats {
        if !file.tensors().contains_key(name) {
            report.kept.push(format!("'{name}' (not in the file)"));
            continue;
        }
        let (array, conversion) = file.f32(name)?;
        if array.shape() != target.shape() {
            report.kept.push(format!(
                "'{name}' (shape {:?} in the file, {:?} in the model)",
                array.shape(),
                target.shape()
            ));
            continue;
        }
        if let Some(c) = conversion {
            report.notes.push(format!(
                "{}: '{name}' stored as {} converted to f32",
                file.path().display(),
                c.from
            ));
        }
        floats.insert(name.clone(), array);
    }
    let mut counters = BTreeMap::new();
    for name in wanted.counters.keys() {
        if file.tensors().contains_key(name) {
            counters.insert(name.clone(), file.counter(name)?.0);
        } else {
            report.kept.push(format!("'{name}' (not in the file)"));
        }
    }
    report.unused = file.tensors().keys().filter(|k| !wanted.has(k)).cloned().collect();
    let loaded = ModelState { floats, counters };
    set_model_state(model, &loaded);
    report.loaded = loaded.floats.keys().chain(loaded.counters.keys()).cloned().collect();
    Ok(report)
}
