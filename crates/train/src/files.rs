//! Atomic file writes and safetensors files of named arrays.

use crate::TrainError;
use nabla_tensor::Element;
use ndarray::{ArrayD, IxDyn};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, then rename, so a
/// reader (or a crash) never sees a partial file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let io = |source| TrainError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn dtype_of<T: Element>() -> Dtype {
    if T::NAME == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// Serializes named arrays (in standard layout order) to safetensors bytes with string metadata.
pub fn to_safetensors<T: Element>(
    arrays: &BTreeMap<String, ArrayD<T>>,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>, TrainError> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = arrays
        .iter()
        .map(|(name, a)| {
            let mut buf = Vec::with_capacity(a.len() * std::mem::size_of::<T>());
            for x in a.iter() {
                let x = Element::to_f64(*x);
                if T::NAME == "f32" {
                    buf.extend_from_slice(&(x as f32).to_le_bytes());
                } else {
                    buf.extend_from_slice(&x.to_le_bytes());
                }
            }
            (name.clone(), buf, a.shape().to_vec())
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, buf, shape)| {
            safetensors::tensor::TensorView::new(dtype_of::<T>(), shape.clone(), buf)
                .map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TrainError::Checkpoint(format!("cannot serialize tensors: {e}")))?;
    let metadata = if metadata.is_empty() { None } else { Some(metadata) };
    safetensors::serialize(views, metadata)
        .map_err(|e| TrainError::Checkpoint(format!("cannot serialize tensors: {e}")))
}

/// Named arrays and string metadata read from a safetensors file.
#[derive(Debug)]
pub struct TensorFile<T> {
    /// Arrays by name.
    pub arrays: BTreeMap<String, ArrayD<T>>,
    /// The file's `__metadata__` strings.
    pub metadata: HashMap<String, String>,
}

/// Reads a safetensors file of arrays of element type `T`; a file of another dtype, a
/// malformed header or a truncated body is an error naming the file.
pub fn read_safetensors<T: Element>(path: &Path) -> Result<TensorFile<T>, TrainError> {
    let bytes = std::fs::read(path).map_err(|source| TrainError::Io { path: path.to_path_buf(), source })?;
    let bad = |m: String| TrainError::Checkpoint(format!("{}: {m}", path.display()));
    let st =
        SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("bad header: {e}")))?;
    let mut arrays = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != dtype_of::<T>() {
            return Err(bad(format!(
                "tensor '{name}' has dtype {:?}, expected {:?}",
                view.dtype(),
                dtype_of::<T>()
            )));
        }
        let data = view.data();
        let values: Vec<T> = if T::NAME == "f32" {
            data.chunks_exact(4)
                .map(|c| T::from_f64(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
                .collect()
        } else {
            data.chunks_exact(8)
                .map(|c| T::from_f64(f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])))
                .collect()
        };
        let array = ArrayD::from_shape_vec(IxDyn(view.shape()), values)
            .map_err(|e| bad(format!("tensor '{name}' has an inconsistent shape: {e}")))?;
        arrays.insert(name, array);
    }
    Ok(TensorFile { arrays, metadata: meta.metadata().clone().unwrap_or_default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_round_trip_keeps_names_shapes_and_bits() {
        let dir = tempfile::tempdir().unwrap();
        let mut arrays = BTreeMap::new();
        arrays.insert(
            "0.weight".to_string(),
            ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.5f32, -2.0, 3.25, 0.1, 1e-30, -0.0]).unwrap(),
        );
        arrays.insert(
            "1.running_var".to_string(),
            ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0f32, 2.0, 3.0]).unwrap(),
        );
        let meta = HashMap::from([("epoch".to_string(), "3".to_string())]);
        let path = dir.path().join("model.safetensors");
        write_atomic(&path, &to_safetensors(&arrays, meta).unwrap()).unwrap();
        let back = read_safetensors::<f32>(&path).unwrap();
        assert_eq!(back.metadata["epoch"], "3");
        assert_eq!(back.arrays.len(), 2);
        for (name, a) in &arrays {
            let b = &back.arrays[name];
            assert_eq!(a.shape(), b.shape());
            assert!(a.iter().zip(b.iter()).all(|(x, y)| x.to_bits() == y.to_bits()), "{name}");
        }
        let wrong = read_safetensors::<f64>(&path).unwrap_err().to_string();
        assert!(wrong.contains("dtype"), "{wrong}");
        std::fs::write(&path, b"garbage").unwrap();
        assert!(read_safetensors::<f32>(&path).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary files left behind");
    }
}
