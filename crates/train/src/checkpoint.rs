//! Checkpoints: the model's parameters and buffers by name in safetensors (readable by
//! PyTorch's safetensors loader with the same names), the optimizer's state in a second
//! safetensors file, and the counters, scheduler state and generator states in JSON.
//!
//! Layout of a run directory:
//! ```text
//! run/
//!   config.toml                 effective configuration
//!   metrics.jsonl               one line per epoch
//!   latest                      name of the newest complete checkpoint
//!   checkpoint-epoch0003/
//!     model.safetensors         0.weight, 0.bias, 1.weight, 1.running_mean, ...
//!     optimizer.safetensors     0.weight.exp_avg, ...
//!     trainer.json              epoch, step, optimizer scalars, scheduler, generators
//! ```
//! Every file is written atomically (temporary file, fsync, rename); `latest` is switched
//! only after the whole checkpoint is on disk, and older checkpoints are removed after that,
//! so a crash at any point leaves the last good checkpoint intact.

use crate::files::{read_safetensors, to_safetensors, write_atomic};
use crate::TrainError;
use nabla_optim::{Scalar, Scalars, StateDict};
use nabla_tensor::RngState;
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Everything needed to continue a run exactly.
pub(crate) struct Checkpoint {
    pub epoch: usize,
    pub step: u64,
    pub tensors: BTreeMap<String, ArrayD<f32>>,
    pub optimizer: StateDict<f32>,
    pub scheduler: Option<Scalars>,
    pub rngs: Vec<(String, RngState)>,
}

/// Scalars keep their exact bits: `f64` values as hexadecimal bit patterns (JSON has no
/// infinity, and a plateau scheduler's initial best is one).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum JsonScalar {
    F64Bits(String),
    U64(u64),
}

#[derive(Serialize, Deserialize)]
struct JsonRng {
    seed: String,
    stream: u64,
    word_pos: String,
}

#[derive(Serialize, Deserialize)]
struct TrainerJson {
    format: String,
    epoch: usize,
    step: u64,
    optimizer_scalars: BTreeMap<String, JsonScalar>,
    scheduler: Option<BTreeMap<String, JsonScalar>>,
    rngs: BTreeMap<String, JsonRng>,
}

const FORMAT: &str = "nabla-checkpoint-1";

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
                        TrainError::Checkpoint(format!(
                            "{}: scalar '{k}' is not a hexadecimal bit pattern",
                            file.display()
                        ))
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

/// Writes a checkpoint into `run_dir` and points `latest` at it; returns its directory.
pub(crate) fn save(run_dir: &Path, ckpt: &Checkpoint) -> Result<PathBuf, TrainError> {
    let name = format!("checkpoint-epoch{:04}", ckpt.epoch);
    let dir = run_dir.join(&name);
    let meta = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("epoch".to_string(), ckpt.epoch.to_string()),
        ("step".to_string(), ckpt.step.to_string()),
    ]);
    write_atomic(&dir.join("model.safetensors"), &to_safetensors(&ckpt.tensors, meta)?)?;
    write_atomic(
        &dir.join("optimizer.safetensors"),
        &to_safetensors(&ckpt.optimizer.arrays, HashMap::new())?,
    )?;
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
    };
    let text = serde_json::to_string_pretty(&json).expect("checkpoint metadata serializes");
    write_atomic(&dir.join("trainer.json"), text.as_bytes())?;
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

/// Reads the checkpoint that `run_dir/latest` names.
pub(crate) fn load(run_dir: &Path) -> Result<Checkpoint, TrainError> {
    let latest = run_dir.join("latest");
    let name =
        std::fs::read_to_string(&latest).map_err(|source| TrainError::Io { path: latest.clone(), source })?;
    let dir = run_dir.join(name.trim());
    let model = read_safetensors::<f32>(&dir.join("model.safetensors"))?;
    let optimizer = read_safetensors::<f32>(&dir.join("optimizer.safetensors"))?;
    let json_path = dir.join("trainer.json");
    let text = std::fs::read_to_string(&json_path)
        .map_err(|source| TrainError::Io { path: json_path.clone(), source })?;
    let json: TrainerJson = serde_json::from_str(&text)
        .map_err(|e| TrainError::Checkpoint(format!("{}: {e}", json_path.display())))?;
    if json.format != FORMAT {
        return Err(TrainError::Checkpoint(format!(
            "{}: format '{}' is not '{FORMAT}'",
            json_path.display(),
            json.format
        )));
    }
    let rngs = json
        .rngs
        .into_iter()
        .map(|(n, r)| {
            let bad =
                || TrainError::Checkpoint(format!("{}: generator '{n}' is malformed", json_path.display()));
            let seed = unhex32(&r.seed).ok_or_else(bad)?;
            let word_pos = r.word_pos.parse::<u128>().map_err(|_| bad())?;
            Ok((n, RngState { seed, stream: r.stream, word_pos }))
        })
        .collect::<Result<Vec<_>, TrainError>>()?;
    Ok(Checkpoint {
        epoch: json.epoch,
        step: json.step,
        tensors: model.arrays,
        optimizer: StateDict {
            arrays: optimizer.arrays,
            scalars: scalars_from_json(json.optimizer_scalars, &json_path)?,
        },
        scheduler: json.scheduler.map(|s| scalars_from_json(s, &json_path)).transpose()?,
        rngs,
    })
}
