//! Reading what an export needs from a run directory: the effective config's layer tables
//! and data set, and the latest checkpoint's model tensors. Every read is capped, and a
//! malformed file is an error naming it.

use crate::OnnxError;
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest `config.toml` read (an effective config is a few kilobytes).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The largest `latest` pointer read (it holds one directory name).
pub const MAX_LATEST_BYTES: u64 = 4 << 10;

/// The largest `model.safetensors` read: an ONNX model is one protobuf message, and protobuf
/// messages are limited to 2 GiB, so larger weights could not be written anyway.
pub const MAX_CHECKPOINT_BYTES: u64 = (2 << 30) - (1 << 20);

/// A float32 tensor from the checkpoint, in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Tensor {
    /// A tensor of `shape` holding `data` in row-major order; `None` when the lengths differ.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Option<Tensor> {
        let len = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
        (len == data.len()).then_some(Tensor { shape, data })
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
}

/// A component table of the config: its registered `name` and the other keys.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentTable {
    /// The name as written (the effective config holds canonical names).
    pub name: String,
    /// The hyper-parameters (every key but `name`).
    pub params: toml::Table,
}

/// What the exporter reads from a run: the layers in order, the data set, the model tensors,
/// and where each came from (for error messages and the model's metadata).
#[derive(Clone, Debug, PartialEq)]
pub struct RunModel {
    /// The `[[model.layers]]` tables in order.
    pub layers: Vec<ComponentTable>,
    /// The `[data]` table, if the config has one (used only when the layers do not fix the
    /// input size).
    pub data: Option<ComponentTable>,
    /// Model tensors by state-dict name (`0.weight`, `1.running_mean`).
    pub tensors: BTreeMap<String, Tensor>,
    /// The config file, as named in errors.
    pub config_file: String,
    /// The checkpoint file, as named in errors.
    pub checkpoint_file: String,
    /// The checkpoint's directory name (`checkpoint-epoch0003`), when read from a run.
    pub checkpoint: Option<String>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> OnnxError + '_ {
    move |source| OnnxError::Io { path: path.to_path_buf(), source }
}

/// Reads at most `limit` bytes of `path`; a longer file is [`OnnxError::TooLarge`].
pub(crate) fn read_capped(path: &Path, limit: u64, hint: &'static str) -> Result<Vec<u8>, OnnxError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let size = file.metadata().map_err(io_error(path))?.len();
    if size > limit {
        return Err(OnnxError::TooLarge { path: path.to_path_buf(), size, limit, hint });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // The metadata may lie (a file growing while read, a special file): the cap holds anyway.
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io_error(path))?;
    if bytes.len() as u64 > limit {
        return Err(OnnxError::TooLarge { path: path.to_path_buf(), size: bytes.len() as u64, limit, hint });
    }
    Ok(bytes)
}

fn component(value: &toml::Value, context: &str, file: &str) -> Result<ComponentTable, OnnxError> {
    let bad = |message: String| OnnxError::Config { file: file.to_string(), message };
    let table =
        value.as_table().ok_or_else(|| bad(format!("{context} is a {}, not a table", value.type_str())))?;
    let name = match table.get("name") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(v) => return Err(bad(format!("{context}.name is a {}, not a string", v.type_str()))),
        None => return Err(bad(format!("{context} has no name"))),
    };
    let params = table.iter().filter(|(k, _)| *k != "name").map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(ComponentTable { name, params })
}

/// Parses the layers and the data table out of a config's text.
fn parse_config(text: &str, file: &str) -> Result<(Vec<ComponentTable>, Option<ComponentTable>), OnnxError> {
    let bad = |message: String| OnnxError::Config { file: file.to_string(), message };
    let root: toml::Table = text.parse().map_err(|e: toml::de::Error| bad(format!("not valid TOML: {e}")))?;
    let model = root
        .get("model")
        .ok_or_else(|| bad("no [model] table".to_string()))?
        .as_table()
        .ok_or_else(|| bad("model is not a table".to_string()))?;
    let layers = match model.get("layers") {
        Some(toml::Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| component(item, &format!("model.layers[{i}]"), file))
            .collect::<Result<Vec<_>, _>>()?,
        Some(toml::Value::Array(_)) => return Err(bad("model.layers is empty".to_string())),
        Some(v) => return Err(bad(format!("model.layers is a {}, not an array of tables", v.type_str()))),
        None => return Err(bad("no [[model.layers]] tables".to_string())),
    };
    let data = root.get("data").map(|d| component(d, "data", file)).transpose()?;
    Ok((layers, data))
}

fn dtype_name(dtype: Dtype) -> String {
    format!("{dtype:?}")
}

/// Decodes a safetensors file's float32 tensors; `file` names it in errors.
pub(crate) fn decode_safetensors(bytes: &[u8], path: &Path) -> Result<BTreeMap<String, Tensor>, OnnxError> {
    let bad = |message: String| OnnxError::Checkpoint { path: path.to_path_buf(), message };
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        // Counters (BatchNorm's num_batches_tracked, I64 as in PyTorch) play no part in the
        // evaluation-mode graph.
        if view.dtype() == Dtype::I64 && name.ends_with("num_batches_tracked") {
            continue;
        }
        if view.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor '{name}' has dtype {}; nabla checkpoints and this exporter use F32",
                dtype_name(view.dtype())
            )));
        }
        let data: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let tensor = Tensor::new(view.shape().to_vec(), data).ok_or_else(|| {
            bad(format!("tensor '{name}': its data does not fill shape {:?}", view.shape()))
        })?;
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}

/// The checkpoint directory that `run_dir/latest` names, checked to be a plain directory name
/// inside the run (a pointer such as `../x` or `/etc` is refused).
fn latest_checkpoint(run_dir: &Path) -> Result<(String, PathBuf), OnnxError> {
    let latest = run_dir.join("latest");
    if !latest.exists() {
        return Err(OnnxError::Checkpoint {
            path: latest,
            message: "missing: the run has no checkpoint yet (one is written at the end of each \
                      checkpointed epoch)"
                .to_string(),
        });
    }
    let bytes = read_capped(&latest, MAX_LATEST_BYTES, "")?;
    let bad = |message: String| OnnxError::Checkpoint { path: latest.clone(), message };
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".to_string()))?;
    let name = text.trim();
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    if !plain {
        return Err(bad(format!("'{name}' is not the name of a checkpoint directory in the run")));
    }
    Ok((name.to_string(), run_dir.join(name)))
}

impl RunModel {
    /// Reads the effective config (`config.toml`) and the model tensors of the checkpoint
    /// that `latest` names from a run directory.
    ///
    /// # Errors
    /// [`OnnxError::Io`], [`OnnxError::TooLarge`], [`OnnxError::Config`] or
    /// [`OnnxError::Checkpoint`], naming the file.
    pub fn load(run_dir: &Path) -> Result<RunModel, OnnxError> {
        let config_path = run_dir.join("config.toml");
        let config_file = config_path.display().to_string();
        let bytes = read_capped(&config_path, MAX_CONFIG_BYTES, "")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| OnnxError::Config { file: config_file.clone(), message: "not UTF-8 text".into() })?;
        let (layers, data) = parse_config(&text, &config_file)?;
        let (name, dir) = latest_checkpoint(run_dir)?;
        let model_path = dir.join("model.safetensors");
        let bytes = read_capped(
            &model_path,
            MAX_CHECKPOINT_BYTES,
            " (an ONNX file is one protobuf message, limited to 2 GiB)",
        )?;
        let tensors = decode_safetensors(&bytes, &model_path)?;
        Ok(RunModel {
            layers,
            data,
            tensors,
            config_file,
            checkpoint_file: model_path.display().to_string(),
            checkpoint: Some(name),
        })
    }

    /// A model from a config's text (only `[[model.layers]]` and `[data]` are read) and
    /// tensors by state-dict name, for models that are not in a run directory. `config_file`
    /// and `checkpoint_file` name the sources in errors.
    ///
    /// # Errors
    /// [`OnnxError::Config`] when the text is not TOML or has no layers.
    pub fn from_config_str(
        config: &str,
        config_file: &str,
        tensors: BTreeMap<String, Tensor>,
        checkpoint_file: &str,
    ) -> Result<RunModel, OnnxError> {
        let (layers, data) = parse_config(config, config_file)?;
        Ok(RunModel {
            layers,
            data,
            tensors,
            config_file: config_file.to_string(),
            checkpoint_file: checkpoint_file.to_string(),
            checkpoint: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_check_their_length() {
        assert!(Tensor::new(vec![2, 3], vec![0.0; 6]).is_some());
        assert!(Tensor::new(vec![2, 3], vec![0.0; 5]).is_none());
        assert!(Tensor::new(vec![usize::MAX, 3], vec![]).is_none());
        assert_eq!(Tensor::new(vec![], vec![1.5]).unwrap().data(), &[1.5]);
    }

    #[test]
    fn config_errors_name_the_file_and_the_table() {
        let err = |text: &str| parse_config(text, "run/config.toml").unwrap_err().to_string();
        assert!(err("x = ").contains("run/config.toml: not valid TOML"));
        assert!(err("seed = 1").contains("no [model] table"));
        assert!(err("[model]\nlayers = []").contains("model.layers is empty"));
        assert!(err("[model]\nlayers = 3").contains("not an array"));
        assert!(err("[[model.layers]]\nout_features = 3").contains("model.layers[0] has no name"));
        assert!(err("[[model.layers]]\nname = 3").contains("model.layers[0].name is a integer"));
        let (layers, data) =
            parse_config("[data]\nname = \"digits\"\n[[model.layers]]\nname = \"relu\"", "f").unwrap();
        assert_eq!(layers[0].name, "relu");
        assert_eq!(data.unwrap().name, "digits");
    }

    #[test]
    fn latest_must_name_a_directory_of_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let e = latest_checkpoint(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no checkpoint yet"), "{e}");
        for bad in ["../elsewhere", "/etc", "", "a\\b", ".."] {
            std::fs::write(dir.path().join("latest"), bad).unwrap();
            let e = latest_checkpoint(dir.path()).unwrap_err().to_string();
            assert!(e.contains("not the name of a checkpoint directory"), "{bad}: {e}");
        }
        std::fs::write(dir.path().join("latest"), "checkpoint-epoch0002\n").unwrap();
        assert_eq!(latest_checkpoint(dir.path()).unwrap().0, "checkpoint-epoch0002");
        std::fs::write(dir.path().join("latest"), vec![b'x'; 5000]).unwrap();
        assert!(matches!(latest_checkpoint(dir.path()), Err(OnnxError::TooLarge { .. })));
    }

    #[test]
    fn capped_reads_and_bad_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_capped(&path, 10, "").unwrap().len(), 10);
        let e = read_capped(&path, 9, " (why)").unwrap_err().to_string();
        assert!(e.contains("10 bytes is more than the 9 bytes") && e.ends_with("(why)"), "{e}");
        assert!(matches!(read_capped(&dir.path().join("none"), 9, ""), Err(OnnxError::Io { .. })));
        let e = decode_safetensors(b"garbage", &path).unwrap_err().to_string();
        assert!(e.contains("not a valid safetensors file"), "{e}");
    }
}
