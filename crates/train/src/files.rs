//! Atomic file writes, size-capped reads, and safetensors files: written byte-for-byte
//! deterministically with a SHA-256 checksum of every tensor, read defensively.
//!
//! # The safetensors files nabla writes
//!
//! Standard safetensors (an 8-byte little-endian header length, a JSON header padded with
//! spaces to a multiple of 8 bytes, then the tensor data), so PyTorch's
//! `safetensors.torch.load_file` reads them and `load_state_dict(strict=True)` takes the model
//! file: nabla adds no tensors, only string entries in `__metadata__`:
//!
//! * `nabla.format` = [`SAFETENSORS_FORMAT`]: the file was written by nabla, so every tensor
//!   must have a checksum;
//! * `nabla.sha256.<tensor>` = the lower-case hexadecimal SHA-256 of the tensor's data bytes
//!   exactly as stored (little-endian, row-major), what Python computes as
//!   `hashlib.sha256(t.numpy().tobytes()).hexdigest()`.
//!
//! The header's keys are in sorted order and the data is laid out by alignment (widest element
//! first), then by name, as the reference implementation does; nothing depends on hashing
//! order, so identical contents give identical bytes.
//!
//! # Reading
//!
//! [`read_safetensors`] trusts nothing in the file: the header length must fit the file and
//! [`MAX_HEADER_BYTES`]; every tensor's dtype, shape and offsets must agree, and the tensors
//! must tile the data section exactly; no allocation is sized from the header before the
//! file's actual length has confirmed it. Checksums are verified when present (and required
//! when `nabla.format` says nabla wrote the file); a file without any, such as one written by
//! PyTorch, reads with [`TensorFile::checksummed`] false. Errors name the file and, where
//! there is one, the tensor.
//!
//! # Conversions to the model's `f32`
//!
//! [`TensorFile::f32`] accepts `F32` as stored, and converts `F64`, `F16` and `BF16`, saying
//! so in a [`Conversion`]: `F16` and `BF16` widen exactly; `F64` rounds to the nearest `f32`
//! (the conversion counts the values that changed). A converted value that is not finite is
//! an error (an `F64` beyond the `f32` range would silently become infinite, and a stored NaN
//! or infinity is not a usable weight). Counters ([`TensorFile::counter`]) are PyTorch's 0-d
//! `int64` tensors; a non-negative `I64` is taken as is, and an integral, non-negative `F32` or
//! `F64` (how nabla stored counters before) is converted with a note.

use crate::TrainError;
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The `__metadata__` key marking a safetensors file written by nabla.
pub const FORMAT_KEY: &str = "nabla.format";
/// The value of [`FORMAT_KEY`]: the checksum scheme described in the module documentation.
pub const SAFETENSORS_FORMAT: &str = "nabla-safetensors-1";
/// The prefix of the `__metadata__` keys holding tensor checksums (`nabla.sha256.0.weight`).
pub const CHECKSUM_PREFIX: &str = "nabla.sha256.";
/// The largest safetensors header accepted (the reference implementation's limit).
pub const MAX_HEADER_BYTES: u64 = 100 << 20;

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, then rename, so a
/// reader (or a crash) never sees a partial file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let io = |source| TrainError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = temporary_beside(dir, path);
    let result = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)?;
    sync_dir(dir);
    Ok(())
}

/// Writes the files `files` (name, contents) of the directory `dir` as [`write_atomic`]
/// writes each, but concurrently, one thread per file (the time goes into waiting for the
/// disk, and the waits overlap), and with `dir` synced once, after the last rename: until
/// then a crash may keep any subset of the new files, each whole or absent, so the caller
/// marks the set complete with a later [`write_atomic`] (a checkpoint's manifest).
pub(crate) fn write_atomic_all(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(|source| TrainError::Io { path: dir.to_path_buf(), source })?;
    let paths: Vec<PathBuf> = files.iter().map(|(name, _)| dir.join(name)).collect();
    let temps: Vec<PathBuf> = paths.iter().map(|p| temporary_beside(dir, p)).collect();
    let written: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let writers: Vec<_> = temps
            .iter()
            .zip(files)
            .map(|(tmp, (_, bytes))| scope.spawn(move || write_synced(tmp, bytes)))
            .collect();
        writers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err(std::io::Error::other("the writing thread panicked"))))
            .collect()
    });
    let mut result = Ok(());
    for ((path, tmp), w) in paths.iter().zip(&temps).zip(written) {
        if let Err(source) = w.and_then(|()| std::fs::rename(tmp, path)) {
            let _ = std::fs::remove_file(tmp);
            if result.is_ok() {
                result = Err(TrainError::Io { path: path.clone(), source });
            }
        }
    }
    result?;
    sync_dir(dir);
    Ok(())
}

/// The temporary file [`write_atomic`] writes `path` to, in `dir` (its directory).
fn temporary_beside(dir: &Path, path: &Path) -> PathBuf {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.join(format!(".{file_name}.tmp-{}", std::process::id()))
}

/// Creates `path` holding `bytes`, synced to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Makes the renames into `dir` durable (best effort: not every platform can sync a
/// directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn file_error(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::CheckpointFile { path: path.to_path_buf(), message: message.into() }
}

fn tensor_error(path: &Path, tensor: &str, message: impl Into<String>) -> TrainError {
    TrainError::CheckpointTensor {
        path: path.to_path_buf(),
        tensor: tensor.to_string(),
        message: message.into(),
    }
}

/// A file's length and SHA-256, as a checkpoint manifest records them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    /// Length in bytes.
    pub bytes: u64,
    /// Lower-case hexadecimal SHA-256 of the whole file.
    pub sha256: String,
}

impl FileDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> FileDigest {
        FileDigest { bytes: bytes.len() as u64, sha256: sha256_hex(bytes) }
    }
}

/// The lower-case hexadecimal SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The length of the file at `path`, checked against `expected` (from a manifest) and `cap`
/// before anything is read.
fn checked_len(
    path: &Path,
    file: &std::fs::File,
    cap: u64,
    expected: Option<&FileDigest>,
) -> Result<u64, TrainError> {
    let meta = file.metadata().map_err(|source| TrainError::Io { path: path.to_path_buf(), source })?;
    if !meta.is_file() {
        return Err(file_error(path, "is not a regular file"));
    }
    let len = meta.len();
    if let Some(d) = expected {
        if len != d.bytes {
            return Err(file_error(
                path,
                format!("has {len} bytes but the manifest records {} (truncated or replaced)", d.bytes),
            ));
        }
    }
    if len > cap {
        return Err(file_error(path, format!("has {len} bytes, more than the {cap} accepted for this file")));
    }
    Ok(len)
}

fn open(path: &Path) -> Result<std::fs::File, TrainError> {
    std::fs::File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => file_error(path, "is missing"),
        _ => TrainError::Io { path: path.to_path_buf(), source },
    })
}

/// Reads a whole small file (a `latest` pointer, `trainer.json`, a config), refusing one
/// longer than `cap` bytes before reading it; with `expected`, its length and SHA-256 must
/// match.
pub fn read_capped(path: &Path, cap: u64, expected: Option<&FileDigest>) -> Result<Vec<u8>, TrainError> {
    let file = open(path)?;
    let len = checked_len(path, &file, cap, expected)?;
    let mut bytes = Vec::with_capacity(len as usize);
    // `take` bounds the read even if the file grows after its length was checked.
    file.take(cap)
        .read_to_end(&mut bytes)
        .map_err(|source| TrainError::Io { path: path.to_path_buf(), source })?;
    if let Some(d) = expected {
        if bytes.len() as u64 != d.bytes || sha256_hex(&bytes) != d.sha256 {
            return Err(file_error(
                path,
                "does not match its SHA-256 checksum in the manifest (the file is corrupt)",
            ));
        }
    }
    Ok(bytes)
}

/// A safetensors element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dtype {
    /// Boolean, one byte.
    Bool,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 8-bit integer.
    I8,
    /// 8-bit float, 5 exponent bits.
    F8E5M2,
    /// 8-bit float, 4 exponent bits.
    F8E4M3,
    /// Signed 16-bit integer.
    I16,
    /// Unsigned 16-bit integer.
    U16,
    /// IEEE half precision.
    F16,
    /// Brain float 16.
    BF16,
    /// Signed 32-bit integer.
    I32,
    /// Unsigned 32-bit integer.
    U32,
    /// IEEE single precision.
    F32,
    /// IEEE double precision.
    F64,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 64-bit integer.
    U64,
}

const DTYPES: [(Dtype, &str, usize); 15] = [
    (Dtype::Bool, "BOOL", 1),
    (Dtype::U8, "U8", 1),
    (Dtype::I8, "I8", 1),
    (Dtype::F8E5M2, "F8_E5M2", 1),
    (Dtype::F8E4M3, "F8_E4M3", 1),
    (Dtype::I16, "I16", 2),
    (Dtype::U16, "U16", 2),
    (Dtype::F16, "F16", 2),
    (Dtype::BF16, "BF16", 2),
    (Dtype::I32, "I32", 4),
    (Dtype::U32, "U32", 4),
    (Dtype::F32, "F32", 4),
    (Dtype::F64, "F64", 8),
    (Dtype::I64, "I64", 8),
    (Dtype::U64, "U64", 8),
];

impl Dtype {
    /// The name in a safetensors header (`F32`, `BF16`, `F8_E4M3`).
    pub fn name(self) -> &'static str {
        DTYPES.iter().find(|d| d.0 == self).map_or("?", |d| d.1)
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        DTYPES.iter().find(|d| d.0 == self).map_or(1, |d| d.2)
    }

    /// The dtype a header names, if it is one of the byte-sized types above.
    pub fn parse(name: &str) -> Option<Dtype> {
        DTYPES.iter().find(|d| d.1 == name).map(|d| d.0)
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tensor as stored: dtype, shape and little-endian row-major bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl RawTensor {
    /// A tensor of `dtype` and `shape` with the given bytes, which must number exactly
    /// elements times the element size.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] when the byte count does not fit.
    pub fn new(dtype: Dtype, shape: Vec<usize>, data: Vec<u8>) -> Result<RawTensor, TrainError> {
        let want = shape.iter().try_fold(dtype.size(), |n, &d| n.checked_mul(d));
        if want != Some(data.len()) {
            return Err(TrainError::Checkpoint(format!(
                "a {dtype} tensor of shape {shape:?} cannot hold {} bytes",
                data.len()
            )));
        }
        Ok(RawTensor { dtype, shape, data })
    }

    /// An `F32` tensor of `a`'s values in logical (row-major) order.
    pub fn from_f32(a: &ArrayD<f32>) -> RawTensor {
        // Into a buffer of the final size, 4 bytes at a time: this vectorizes, where
        // collecting a `flat_map` pushes byte by byte (a checkpoint converts 1.6 M values).
        let mut data = vec![0u8; a.len() * 4];
        for (d, x) in data.chunks_exact_mut(4).zip(a.iter()) {
            d.copy_from_slice(&x.to_le_bytes());
        }
        RawTensor { dtype: Dtype::F32, shape: a.shape().to_vec(), data }
    }

    /// An `F64` tensor of `a`'s values in logical (row-major) order.
    pub fn from_f64(a: &ArrayD<f64>) -> RawTensor {
        let data = a.iter().flat_map(|x| x.to_le_bytes()).collect();
        RawTensor { dtype: Dtype::F64, shape: a.shape().to_vec(), data }
    }

    /// A 0-d `I64` tensor (a counter, as PyTorch stores `num_batches_tracked`).
    pub fn scalar_i64(value: i64) -> RawTensor {
        RawTensor { dtype: Dtype::I64, shape: Vec::new(), data: value.to_le_bytes().to_vec() }
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// The shape (`[]` for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The stored bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    fn len(&self) -> usize {
        self.data.len() / self.dtype.size()
    }
}

/// How a tensor was converted to the model's `f32` on reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// The stored dtype.
    pub from: Dtype,
    /// Values that changed (rounded to the nearest `f32`); 0 for an exact widening.
    pub rounded: usize,
    /// Values in the tensor.
    pub values: usize,
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    match (exp, man) {
        (0, 0) => f32::from_bits(sign),
        // Subnormal: man * 2^-24, exact in f32.
        (0, m) => {
            let v = m as f32 * f32::from_bits(0x3380_0000);
            if sign == 0 {
                v
            } else {
                -v
            }
        }
        (0x1f, 0) => f32::from_bits(sign | 0x7f80_0000),
        (0x1f, m) => f32::from_bits(sign | 0x7fc0_0000 | (m << 13)),
        // Rebias the exponent from 15 to 127.
        (e, m) => f32::from_bits(sign | ((e + 112) << 23) | (m << 13)),
    }
}

fn chunks<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    data.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

impl RawTensor {
    /// The values as `f32`, converting `F64`, `F16` and `BF16` (see the module documentation
    /// for the rule); the message of an error does not name the tensor (the caller does).
    fn to_f32(&self) -> Result<(Vec<f32>, Option<Conversion>), String> {
        let n = self.len();
        let (values, exact): (Vec<f32>, Vec<bool>) = match self.dtype {
            Dtype::F32 => return Ok((chunks::<4>(&self.data).map(f32::from_le_bytes).collect(), None)),
            Dtype::F64 => chunks::<8>(&self.data)
                .map(|b| {
                    let x = f64::from_le_bytes(b);
                    let y = x as f32;
                    (y, f64::from(y) == x || x.is_nan())
                })
                .unzip(),
            Dtype::F16 => chunks::<2>(&self.data).map(|b| (f16_to_f32(u16::from_le_bytes(b)), true)).unzip(),
            Dtype::BF16 => chunks::<2>(&self.data)
                .map(|b| (f32::from_bits(u32::from(u16::from_le_bytes(b)) << 16), true))
                .unzip(),
            other => {
                return Err(format!(
                    "has dtype {other}, which cannot be loaded as f32 (expected F32, or F64, F16 or BF16 to convert)"
                ))
            }
        };
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            let stored = match self.dtype {
                Dtype::F64 => f64::from_le_bytes(chunks::<8>(&self.data[8 * i..]).next().unwrap_or_default()),
                _ => f64::from(values[i]),
            };
            let why = if stored.is_finite() { "outside the f32 range" } else { "not finite" };
            return Err(format!(
                "has value {stored:e} at flat index {i}, {why}; refusing to convert {} to f32",
                self.dtype
            ));
        }
        let rounded = exact.iter().filter(|e| !**e).count();
        Ok((values, Some(Conversion { from: self.dtype, rounded, values: n })))
    }
}

/// The tensors and `__metadata__` of a safetensors file.
#[derive(Debug)]
pub struct TensorFile {
    path: PathBuf,
    tensors: BTreeMap<String, RawTensor>,
    metadata: BTreeMap<String, String>,
    checksummed: bool,
}

impl TensorFile {
    /// The file it was read from (named in errors).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tensors by name.
    pub fn tensors(&self) -> &BTreeMap<String, RawTensor> {
        &self.tensors
    }

    /// The `__metadata__` strings, the `nabla.*` entries included.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Whether every tensor was verified against a nabla checksum (false for a file written
    /// by another program, such as PyTorch).
    pub fn checksummed(&self) -> bool {
        self.checksummed
    }

    fn get(&self, name: &str) -> Result<&RawTensor, TrainError> {
        self.tensors.get(name).ok_or_else(|| tensor_error(&self.path, name, "is missing"))
    }

    /// Tensor `name` as an `f32` array, converted from `F64`, `F16` or `BF16` by the rule in
    /// the module documentation (the [`Conversion`] says how; `None` when stored as `F32`).
    ///
    /// # Errors
    /// [`TrainError::CheckpointTensor`] naming the file and tensor: missing, another dtype,
    /// or a converted value that is not finite.
    pub fn f32(&self, name: &str) -> Result<(ArrayD<f32>, Option<Conversion>), TrainError> {
        let t = self.get(name)?;
        let (values, conversion) = t.to_f32().map_err(|m| tensor_error(&self.path, name, m))?;
        let array = ArrayD::from_shape_vec(IxDyn(&t.shape), values)
            .map_err(|e| tensor_error(&self.path, name, format!("has an inconsistent shape: {e}")))?;
        Ok((array, conversion))
    }

    /// Tensor `name` as a counter: a 0-d non-negative `I64` (PyTorch's `num_batches_tracked`);
    /// an integral, non-negative 0-d `F32` or `F64` is converted (the dtype is returned then).
    ///
    /// # Errors
    /// [`TrainError::CheckpointTensor`] naming the file and tensor: missing, not 0-d, negative,
    /// not an integer, or another dtype.
    pub fn counter(&self, name: &str) -> Result<(u64, Option<Dtype>), TrainError> {
        let t = self.get(name)?;
        let bad = |m: String| tensor_error(&self.path, name, m);
        if !t.shape.is_empty() {
            return Err(bad(format!("has shape {:?}, expected [] (a 0-d int64 counter)", t.shape)));
        }
        let float = match t.dtype {
            Dtype::I64 => {
                let v = i64::from_le_bytes(chunks::<8>(&t.data).next().unwrap_or_default());
                return u64::try_from(v).map(|v| (v, None)).map_err(|_| bad(format!("is negative ({v})")));
            }
            Dtype::F32 => f64::from(f32::from_le_bytes(chunks::<4>(&t.data).next().unwrap_or_default())),
            Dtype::F64 => f64::from_le_bytes(chunks::<8>(&t.data).next().unwrap_or_default()),
            other => return Err(bad(format!("has dtype {other}, expected I64 (a counter)"))),
        };
        // 2^53: beyond it a float no longer holds every integer.
        if !(float >= 0.0 && float.fract() == 0.0 && float <= 9_007_199_254_740_992.0) {
            return Err(bad(format!("holds {float}, which is not a non-negative integer count")));
        }
        Ok((float as u64, Some(t.dtype)))
    }
}

#[derive(Serialize)]
struct HeaderEntry<'a> {
    dtype: &'static str,
    shape: &'a [usize],
    data_offsets: [usize; 2],
}

#[derive(Serialize)]
#[serde(untagged)]
enum HeaderValue<'a> {
    Metadata(&'a BTreeMap<String, String>),
    Tensor(HeaderEntry<'a>),
}

/// Serializes named tensors to safetensors bytes with `metadata` in `__metadata__`, adding
/// [`FORMAT_KEY`] and a [`CHECKSUM_PREFIX`] checksum of every tensor. Identical inputs give
/// identical bytes.
///
/// # Errors
/// [`TrainError::Checkpoint`] for an empty tensor name, the name `__metadata__`, or a
/// metadata key of nabla's own (`nabla.*`).
pub fn to_safetensors(
    tensors: &BTreeMap<String, RawTensor>,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, TrainError> {
    if let Some(key) = metadata.keys().find(|k| k.starts_with("nabla.")) {
        return Err(TrainError::Checkpoint(format!(
            "metadata key '{key}' is reserved for nabla's checksums"
        )));
    }
    if let Some(name) = tensors.keys().find(|n| n.is_empty() || *n == "__metadata__") {
        return Err(TrainError::Checkpoint(format!("'{name}' cannot name a tensor in a safetensors file")));
    }
    let mut meta = metadata.clone();
    meta.insert(FORMAT_KEY.to_string(), SAFETENSORS_FORMAT.to_string());
    for (name, t) in tensors {
        meta.insert(format!("{CHECKSUM_PREFIX}{name}"), sha256_hex(&t.data));
    }
    // Widest elements first keeps every tensor aligned to its element size, as the
    // reference writer does (PyTorch may view the bytes in place).
    let mut order: Vec<(&String, &RawTensor)> = tensors.iter().collect();
    order.sort_by(|a, b| b.1.dtype.size().cmp(&a.1.dtype.size()).then(a.0.cmp(b.0)));
    let mut header = BTreeMap::new();
    header.insert("__metadata__", HeaderValue::Metadata(&meta));
    let mut offset = 0usize;
    for (name, t) in &order {
        let end = offset + t.data.len();
        header.insert(
            name.as_str(),
            HeaderValue::Tensor(HeaderEntry {
                dtype: t.dtype.name(),
                shape: &t.shape,
                data_offsets: [offset, end],
            }),
        );
        offset = end;
    }
    let mut json = serde_json::to_vec(&header)
        .map_err(|e| TrainError::Checkpoint(format!("cannot serialize a safetensors header: {e}")))?;
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for (_, t) in &order {
        out.extend_from_slice(&t.data);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorInfo {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// A tensor's place in the data section, from a validated header.
struct Slot {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    begin: usize,
    end: usize,
}

/// Parses and checks a header against the length of the data section that follows it.
fn parse_header(
    path: &Path,
    json: &[u8],
    data_len: u64,
) -> Result<(Vec<Slot>, BTreeMap<String, String>), TrainError> {
    let text =
        std::str::from_utf8(json).map_err(|e| file_error(path, format!("header is not UTF-8: {e}")))?;
    let mut entries: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(text.trim_end_matches(' '))
            .map_err(|e| file_error(path, format!("header is not a safetensors JSON object: {e}")))?;
    let metadata = match entries.remove("__metadata__") {
        None => BTreeMap::new(),
        Some(m) => serde_json::from_value(m)
            .map_err(|e| file_error(path, format!("__metadata__ is not a map of strings: {e}")))?,
    };
    let mut slots = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let bad =
            |m: String| tensor_error(path, &name, format!("has an invalid shape, data type, or offset: {m}"));
        let info: TensorInfo = serde_json::from_value(value).map_err(|e| bad(format!("{e}")))?;
        let dtype =
            Dtype::parse(&info.dtype).ok_or_else(|| bad(format!("unknown dtype '{}'", info.dtype)))?;
        let shape = info
            .shape
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<Result<Vec<usize>, _>>()
            .map_err(|_| bad(format!("shape {:?} does not fit in memory", info.shape)))?;
        let bytes = shape.iter().try_fold(dtype.size() as u64, |n, &d| n.checked_mul(d as u64));
        let [begin, end] = info.data_offsets;
        match bytes {
            Some(b) if end >= begin && end - begin == b && end <= data_len => {}
            Some(b) if end >= begin && end - begin == b => {
                return Err(bad(format!(
                    "offsets [{begin}, {end}] run past the {data_len} bytes of data (the file is truncated)"
                )))
            }
            Some(b) => {
                return Err(bad(format!(
                    "{dtype} of shape {shape:?} takes {b} bytes but the offsets [{begin}, {end}] span {}",
                    end.wrapping_sub(begin) as i128
                )))
            }
            None => return Err(bad(format!("shape {shape:?} of {dtype} overflows"))),
        }
        // Both offsets are at most `data_len`, which the file's actual length bounds.
        slots.push(Slot { name, dtype, shape, begin: begin as usize, end: end as usize });
    }
    // The tensors must tile the data section: no gaps, no overlaps, nothing after.
    slots.sort_by_key(|s| (s.begin, s.end));
    let mut at = 0usize;
    for s in &slots {
        if s.begin != at {
            let what = if s.begin < at { "overlaps the tensor before it" } else { "leaves a gap before it" };
            return Err(tensor_error(
                path,
                &s.name,
                format!(
                    "has an invalid shape, data type, or offset: data at [{}, {}] {what}",
                    s.begin, s.end
                ),
            ));
        }
        at = s.end;
    }
    if at as u64 != data_len {
        return Err(file_error(
            path,
            format!("the tensors cover {at} bytes of data but the file holds {data_len} after the header"),
        ));
    }
    Ok((slots, metadata))
}

/// Reads a safetensors file, checking its header against its length before reading the data,
/// and verifying the tensors' checksums (see the module documentation). With `expected`
/// (from a manifest), the file's length is checked before reading and its SHA-256 after.
///
/// # Errors
/// Errors name the file, and the tensor when one is at fault: a missing or non-regular file,
/// a header longer than [`MAX_HEADER_BYTES`] or the file, a malformed header, a tensor whose
/// dtype, shape and offsets disagree, data that is truncated or too long, a checksum mismatch.
pub fn read_safetensors(path: &Path, expected: Option<&FileDigest>) -> Result<TensorFile, TrainError> {
    let io = |source| TrainError::Io { path: path.to_path_buf(), source };
    let mut file = open(path)?;
    let len = checked_len(path, &file, u64::MAX, expected)?;
    if len < 8 {
        return Err(file_error(
            path,
            format!("has {len} bytes, too short for the 8-byte header length of a safetensors file"),
        ));
    }
    let mut head = [0u8; 8];
    file.read_exact(&mut head).map_err(io)?;
    let header_len = u64::from_le_bytes(head);
    if header_len > MAX_HEADER_BYTES || header_len > len - 8 {
        return Err(file_error(
            path,
            format!(
                "declares a {header_len}-byte header, but the file has {} bytes after the length and headers are limited to {MAX_HEADER_BYTES}",
                len - 8
            ),
        ));
    }
    let mut json = vec![0u8; header_len as usize];
    file.read_exact(&mut json).map_err(io)?;
    let data_len = len - 8 - header_len;
    let (slots, metadata) = parse_header(path, &json, data_len)?;
    // The header accounts for exactly `data_len` bytes, which the file's length confirmed.
    let mut data = Vec::with_capacity(data_len as usize);
    file.take(data_len).read_to_end(&mut data).map_err(io)?;
    if data.len() as u64 != data_len {
        return Err(file_error(path, "shrank while it was read"));
    }

    let nabla = metadata.get(FORMAT_KEY);
    let checksummed = nabla.is_some();
    let has_checksums = metadata.keys().any(|k| k.starts_with(CHECKSUM_PREFIX));
    match nabla {
        Some(f) if f != SAFETENSORS_FORMAT => {
            return Err(file_error(path, format!("{FORMAT_KEY} is '{f}', not '{SAFETENSORS_FORMAT}'")))
        }
        None if has_checksums => {
            return Err(file_error(
                path,
                format!("has tensor checksums but no {FORMAT_KEY} entry (corrupt metadata)"),
            ))
        }
        _ => {}
    }
    let mut tensors = BTreeMap::new();
    for s in slots {
        let bytes = &data[s.begin..s.end];
        if nabla.is_some() {
            match metadata.get(&format!("{CHECKSUM_PREFIX}{}", s.name)) {
                None => return Err(tensor_error(path, &s.name, "has no checksum in the metadata")),
                Some(sum) if *sum != sha256_hex(bytes) => {
                    return Err(tensor_error(
                        path,
                        &s.name,
                        "does not match its SHA-256 checksum (the file is corrupt)",
                    ))
                }
                Some(_) => {}
            }
        }
        tensors.insert(s.name, RawTensor { dtype: s.dtype, shape: s.shape, data: bytes.to_vec() });
    }
    if let Some(orphan) = metadata
        .keys()
        .filter_map(|k| k.strip_prefix(CHECKSUM_PREFIX))
        .find(|name| !tensors.contains_key(*name))
    {
        return Err(tensor_error(path, orphan, "has a checksum but is missing from the file"));
    }
    if let Some(d) = expected {
        let mut hasher = Sha256::new();
        hasher.update(head);
        hasher.update(&json);
        hasher.update(&data);
        if hex(&hasher.finalize()) != d.sha256 {
            // Every tensor matched its own checksum, so the damage is in the header.
            return Err(file_error(
                path,
                "does not match its SHA-256 checksum in the manifest (the header or metadata is corrupt)",
            ));
        }
    }
    Ok(TensorFile { path: path.to_path_buf(), tensors, metadata, checksummed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sample() -> BTreeMap<String, RawTensor> {
        let mut t = BTreeMap::new();
        t.insert(
            "0.weight".to_string(),
            RawTensor::from_f32(
                &ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.5f32, -2.0, 3.25, 0.1, 1e-30, -0.0]).unwrap(),
            ),
        );
        t.insert(
            "1.running_var".to_string(),
            RawTensor::from_f32(&ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0f32, 2.0, 3.0]).unwrap()),
        );
        t.insert("1.num_batches_tracked".to_string(), RawTensor::scalar_i64(1 << 40));
        t
    }

    #[test]
    fn round_trip_keeps_names_shapes_bits_and_counters() {
        let dir = tempfile::tempdir().unwrap();
        let tensors = sample();
        let meta = BTreeMap::from([("epoch".to_string(), "3".to_string())]);
        let path = dir.path().join("model.safetensors");
        let bytes = to_safetensors(&tensors, &meta).unwrap();
        write_atomic(&path, &bytes).unwrap();
        let back = read_safetensors(&path, Some(&FileDigest::of(&bytes))).unwrap();
        assert!(back.checksummed());
        assert_eq!(back.metadata()["epoch"], "3");
        assert_eq!(back.tensors(), &tensors);
        let (w, conversion) = back.f32("0.weight").unwrap();
        assert_eq!(conversion, None);
        assert_eq!(w.shape(), [2, 3]);
        assert_eq!(w.iter().map(|x| x.to_bits()).collect::<Vec<_>>()[5], (-0.0f32).to_bits());
        assert_eq!(back.counter("1.num_batches_tracked").unwrap(), (1 << 40, None));
        let wrong = back.f32("1.num_batches_tracked").unwrap_err().to_string();
        assert!(wrong.contains("'1.num_batches_tracked'") && wrong.contains("dtype I64"), "{wrong}");
        assert!(back.counter("0.weight").unwrap_err().to_string().contains("expected []"));
        assert!(back.f32("2.weight").unwrap_err().to_string().contains("'2.weight' is missing"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary files left behind");
    }

    #[test]
    fn the_reference_implementation_reads_what_we_write() {
        let bytes = to_safetensors(&sample(), &BTreeMap::new()).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut names = st.names();
        names.sort();
        assert_eq!(names, ["0.weight", "1.num_batches_tracked", "1.running_var"]);
        let counter = st.tensor("1.num_batches_tracked").unwrap();
        assert_eq!(counter.dtype(), safetensors::Dtype::I64);
        assert!(counter.shape().is_empty());
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let meta = meta.metadata().clone().unwrap();
        assert_eq!(meta[FORMAT_KEY], SAFETENSORS_FORMAT);
        assert_eq!(
            meta["nabla.sha256.1.running_var"],
            sha256_hex(st.tensor("1.running_var").unwrap().data())
        );
        // Data starts 8-aligned and the 8-byte counter comes first.
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        assert_eq!(header_len % 8, 0);
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len as usize]).unwrap();
        assert_eq!(header["1.num_batches_tracked"]["data_offsets"], serde_json::json!([0, 8]));
    }

    #[test]
    fn identical_contents_give_identical_bytes() {
        // Maps built independently (a HashMap's order differs between instances).
        let build = || {
            let m: HashMap<String, String> =
                (0..32).map(|i| (format!("key{i}"), format!("value{i}"))).collect();
            to_safetensors(&sample(), &m.into_iter().collect()).unwrap()
        };
        let first = build();
        for _ in 0..8 {
            assert_eq!(build(), first);
        }
    }

    #[test]
    fn conversions_follow_the_documented_rule() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let mut t = BTreeMap::new();
        t.insert("exact".to_string(), RawTensor::from_f64(&ArrayD::from_elem(IxDyn(&[2]), 0.5)));
        t.insert(
            "rounded".to_string(),
            RawTensor::from_f64(&ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.1, 0.25, 1e-50]).unwrap()),
        );
        t.insert("huge".to_string(), RawTensor::from_f64(&ArrayD::from_elem(IxDyn(&[1]), 1e39)));
        t.insert("nan".to_string(), RawTensor::from_f64(&ArrayD::from_elem(IxDyn(&[1]), f64::NAN)));
        let halves: Vec<u8> =
            [0x3c00u16, 0xc000, 0x0001, 0x7bff].iter().flat_map(|h| h.to_le_bytes()).collect();
        t.insert("half".to_string(), RawTensor::new(Dtype::F16, vec![4], halves).unwrap());
        let brains: Vec<u8> = [0x3f80u16, 0xc049].iter().flat_map(|h| h.to_le_bytes()).collect();
        t.insert("brain".to_string(), RawTensor::new(Dtype::BF16, vec![2], brains).unwrap());
        t.insert("int".to_string(), RawTensor::new(Dtype::I32, vec![1], vec![1, 0, 0, 0]).unwrap());
        t.insert("old_counter".to_string(), RawTensor::from_f32(&ArrayD::from_elem(IxDyn(&[]), 7.0)));
        t.insert("bad_counter".to_string(), RawTensor::from_f32(&ArrayD::from_elem(IxDyn(&[]), 1.5)));
        t.insert("negative".to_string(), RawTensor::scalar_i64(-1));
        write_atomic(&path, &to_safetensors(&t, &BTreeMap::new()).unwrap()).unwrap();
        let f = read_safetensors(&path, None).unwrap();

        let (a, c) = f.f32("exact").unwrap();
        assert_eq!(a.as_slice().unwrap(), [0.5, 0.5]);
        assert_eq!(c, Some(Conversion { from: Dtype::F64, rounded: 0, values: 2 }));
        let (a, c) = f.f32("rounded").unwrap();
        assert_eq!(a.as_slice().unwrap(), [0.1f32, 0.25, 0.0]);
        assert_eq!(c.unwrap().rounded, 2);
        let huge = f.f32("huge").unwrap_err().to_string();
        assert!(huge.contains("'huge'") && huge.contains("outside the f32 range"), "{huge}");
        assert!(f.f32("nan").unwrap_err().to_string().contains("not finite"));
        let (a, c) = f.f32("half").unwrap();
        assert_eq!(a.as_slice().unwrap(), [1.0, -2.0, 2f32.powi(-24), 65504.0]);
        assert_eq!(c, Some(Conversion { from: Dtype::F16, rounded: 0, values: 4 }));
        assert_eq!(f.f32("brain").unwrap().0.as_slice().unwrap(), [1.0, -3.140625]);
        assert!(f.f32("int").unwrap_err().to_string().contains("dtype I32"));
        assert_eq!(f.counter("old_counter").unwrap(), (7, Some(Dtype::F32)));
        assert!(f.counter("bad_counter").unwrap_err().to_string().contains("not a non-negative integer"));
        assert!(f.counter("negative").unwrap_err().to_string().contains("negative (-1)"));
    }

    #[test]
    fn every_f16_widens_exactly() {
        for h in 0..=u16::MAX {
            let got = f16_to_f32(h);
            let (sign, exp, man) = (h >> 15, i32::from((h >> 10) & 0x1f), f64::from(h & 0x3ff));
            let magnitude = match exp {
                0 => man * 2f64.powi(-24),
                31 if man == 0.0 => f64::INFINITY,
                31 => f64::NAN,
                e => (1.0 + man / 1024.0) * 2f64.powi(e - 15),
            };
            let want = if sign == 1 { -magnitude } else { magnitude };
            if want.is_nan() {
                assert!(got.is_nan(), "{h:#06x}");
            } else {
                assert_eq!(f64::from(got), want, "{h:#06x}");
                assert_eq!(got.is_sign_negative(), sign == 1, "{h:#06x}");
            }
        }
    }

    #[test]
    fn capped_reads_check_the_length_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latest");
        std::fs::write(&path, vec![b'x'; 5000]).unwrap();
        let err = read_capped(&path, 4096, None).unwrap_err().to_string();
        assert!(err.contains("latest") && err.contains("5000 bytes"), "{err}");
        let digest = FileDigest::of(b"hello");
        std::fs::write(&path, b"hellp").unwrap();
        assert!(read_capped(&path, 4096, Some(&digest)).unwrap_err().to_string().contains("SHA-256"));
        std::fs::write(&path, b"hello!").unwrap();
        assert!(read_capped(&path, 4096, Some(&digest))
            .unwrap_err()
            .to_string()
            .contains("manifest records 5"));
        let missing = read_capped(&dir.path().join("nope"), 10, None).unwrap_err().to_string();
        assert!(missing.ends_with("nope: is missing"), "{missing}");
    }
}
