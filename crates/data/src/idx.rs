//! A reader of the IDX format (MNIST, Fashion-MNIST, the embedded digits), raw or gzipped.
//!
//! IDX is big-endian: two zero bytes, a data-type byte (`0x08` = unsigned byte, the only type
//! these data sets use), the number of dimensions, then one `u32` per dimension and the data
//! in row-major order. Images are `[N, rows, cols]` (magic `00 00 08 03`), labels `[N]`
//! (magic `00 00 08 01`).
//!
//! Hostile input is an error, never a panic and never a large allocation: the header is
//! checked before any data is copied, the size it claims is compared with the bytes actually
//! present (for gzip, with the most a deflate stream of that length can expand to, and the
//! decompression is capped at the claimed size plus one byte), truncation and trailing bytes
//! are detected, and the decompressed data may not exceed [`MAX_IDX_BYTES`].

use crate::DataError;
use flate2::read::GzDecoder;
use std::io::{ErrorKind, Read};
use std::path::Path;

/// The largest IDX payload accepted (1 GiB; Fashion-MNIST's training images are 47 MB).
pub const MAX_IDX_BYTES: u64 = 1 << 30;

/// Deflate cannot expand data by more than about 1032:1; a gzip file of `n` bytes therefore
/// holds at most `n * 1032` bytes (plus a little slack for tiny files).
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The two magic bytes that start every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Images decoded from an IDX file: `count` images of `rows x cols` grey levels, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows of each image.
    pub rows: usize,
    /// Columns of each image.
    pub cols: usize,
    /// `count * rows * cols` grey levels, one image after the other.
    pub pixels: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn ndims(self) -> u8 {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }
}

/// Whether `bytes` start like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Parses an IDX image file (raw or gzipped, detected by the gzip magic). `origin` names the
/// file in errors.
///
/// # Errors
/// Wrong magic or data type, a header claiming more data than the file holds, truncated or
/// trailing data, corrupt gzip, zero-sized images.
pub fn parse_images(bytes: &[u8], origin: &str) -> Result<IdxImages, DataError> {
    let (dims, pixels) = parse(bytes, origin, Kind::Images)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(DataError::BadHeader {
            origin: origin.to_string(),
            expected: "images",
            message: format!("images of {rows}x{cols} pixels"),
        });
    }
    Ok(IdxImages { count, rows, cols, pixels })
}

/// Parses an IDX label file (raw or gzipped) and checks every label is below `num_classes`.
///
/// # Errors
/// As [`parse_images`], plus [`DataError::BadLabel`] naming the first label out of range.
pub fn parse_labels(bytes: &[u8], origin: &str, num_classes: usize) -> Result<Vec<u8>, DataError> {
    let (_, labels) = parse(bytes, origin, Kind::Labels)?;
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| usize::from(l) >= num_classes) {
        return Err(DataError::BadLabel { origin: origin.to_string(), index, label, num_classes });
    }
    Ok(labels)
}

/// Reads and parses an IDX image file.
///
/// # Errors
/// I/O errors naming the path, and everything [`parse_images`] reports.
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_images(&read_capped(path)?, &path.display().to_string())
}

/// Reads and parses an IDX label file.
///
/// # Errors
/// I/O errors naming the path, and everything [`parse_labels`] reports.
pub fn read_labels(path: &Path, num_classes: usize) -> Result<Vec<u8>, DataError> {
    parse_labels(&read_capped(path)?, &path.display().to_string(), num_classes)
}

/// Reads a whole file, refusing files larger than any valid IDX file this reader accepts.
fn read_capped(path: &Path) -> Result<Vec<u8>, DataError> {
    let len = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?.len();
    if len > MAX_IDX_BYTES + 64 {
        return Err(DataError::TooLarge {
            origin: path.display().to_string(),
            claimed: len,
            message: format!("the file is larger than the {MAX_IDX_BYTES} bytes this reader accepts"),
        });
    }
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

/// Checks the magic of a header and returns the number of dimension words that follow.
fn check_magic(magic: &[u8], origin: &str, kind: Kind) -> Result<(), DataError> {
    let bad =
        |message: String| DataError::BadHeader { origin: origin.to_string(), expected: kind.name(), message };
    if magic[0] != 0 || magic[1] != 0 {
        return Err(bad(format!(
            "magic bytes {:02x} {:02x} {:02x} {:02x}, expected 00 00 08 {:02x}",
            magic[0],
            magic[1],
            magic[2],
            magic[3],
            kind.ndims()
        )));
    }
    if magic[2] != 0x08 {
        return Err(bad(format!("data type 0x{:02x}; only unsigned bytes (0x08) are supported", magic[2])));
    }
    if magic[3] != kind.ndims() {
        return Err(bad(format!("{} dimensions, expected {} for {}", magic[3], kind.ndims(), kind.name())));
    }
    Ok(())
}

/// Decodes the dimensions and the payload size they imply (saturating).
fn dims_and_size(words: &[u8]) -> (Vec<usize>, u64) {
    let dims: Vec<u64> =
        words.chunks_exact(4).map(|w| u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]))).collect();
    let size = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).unwrap_or(u64::MAX);
    // Each dimension is a u32, which fits in usize on the 32- and 64-bit targets we support;
    // the product is bounded below before anything is allocated.
    (dims.into_iter().map(|d| d as usize).collect(), size)
}

fn too_large(origin: &str, claimed: u64, message: String) -> DataError {
    DataError::TooLarge { origin: origin.to_string(), claimed, message }
}

fn parse(bytes: &[u8], origin: &str, kind: Kind) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let header_len = 4 + 4 * usize::from(kind.ndims());
    if is_gzip(bytes) {
        return parse_gzip(bytes, origin, kind, header_len);
    }
    if bytes.len() < 4 {
        return Err(DataError::BadHeader {
            origin: origin.to_string(),
            expected: kind.name(),
            message: format!("only {} bytes, too short for a header", bytes.len()),
        });
    }
    check_magic(&bytes[..4], origin, kind)?;
    if bytes.len() < header_len {
        return Err(DataError::BadHeader {
            origin: origin.to_string(),
            expected: kind.name(),
            message: format!("only {} bytes, the header needs {header_len}", bytes.len()),
        });
    }
    let (dims, size) = dims_and_size(&bytes[4..header_len]);
    if size > MAX_IDX_BYTES {
        return Err(too_large(
            origin,
            size,
            format!("more than the {MAX_IDX_BYTES} bytes this reader accepts"),
        ));
    }
    let present = (bytes.len() - header_len) as u64;
    if present < size {
        return Err(DataError::Truncated { origin: origin.to_string(), expected: size, found: present });
    }
    if present > size {
        return Err(DataError::TrailingData { origin: origin.to_string(), extra: present - size });
    }
    Ok((dims, bytes[header_len..].to_vec()))
}

fn gzip_error(origin: &str, e: std::io::Error) -> DataError {
    let message = if e.kind() == ErrorKind::UnexpectedEof {
        format!("the compressed stream ends early (truncated file): {e}")
    } else {
        e.to_string()
    };
    DataError::Gzip { origin: origin.to_string(), message }
}

fn parse_gzip(
    bytes: &[u8],
    origin: &str,
    kind: Kind,
    header_len: usize,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let mut decoder = GzDecoder::new(bytes);
    let mut header = vec![0u8; header_len];
    let mut got = 0;
    while got < header_len {
        match decoder.read(&mut header[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(gzip_error(origin, e)),
        }
    }
    if got < 4 {
        return Err(DataError::BadHeader {
            origin: origin.to_string(),
            expected: kind.name(),
            message: format!("the decompressed data has only {got} bytes, too short for a header"),
        });
    }
    check_magic(&header[..4], origin, kind)?;
    if got < header_len {
        return Err(DataError::BadHeader {
            origin: origin.to_string(),
            expected: kind.name(),
            message: format!("the decompressed data has only {got} bytes, the header needs {header_len}"),
        });
    }
    let (dims, size) = dims_and_size(&header[4..]);
    if size > MAX_IDX_BYTES {
        return Err(too_large(
            origin,
            size,
            format!("more than the {MAX_IDX_BYTES} bytes this reader accepts"),
        ));
    }
    let most = (bytes.len() as u64).saturating_mul(MAX_DEFLATE_RATIO).saturating_add(1024);
    if size > most {
        return Err(too_large(
            origin,
            size,
            format!("but a gzip file of {} bytes cannot hold more than {most}", bytes.len()),
        ));
    }
    // Never trust the claim for the allocation: start from what the compressed size suggests
    // and let the vector grow only as real data arrives; read one byte past the claim to
    // detect trailing data (and so reach the gzip trailer, whose CRC is then verified).
    let mut data = Vec::with_capacity((size as usize).min(bytes.len().saturating_mul(8)).min(1 << 26));
    let mut limited = decoder.take(size + 1);
    limited.read_to_end(&mut data).map_err(|e| gzip_error(origin, e))?;
    let found = data.len() as u64;
    if found < size {
        return Err(DataError::Truncated { origin: origin.to_string(), expected: size, found });
    }
    if found > size {
        return Err(DataError::TrailingData { origin: origin.to_string(), extra: found - size });
    }
    Ok((dims, data))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    /// A raw IDX image file.
    pub(crate) fn images_file(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, 3];
        for d in [count, rows, cols] {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(pixels);
        v
    }

    /// A raw IDX label file.
    pub(crate) fn labels_file(labels: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, 1];
        v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        v.extend_from_slice(labels);
        v
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn parses_raw_and_gzip_images_and_labels() {
        let pixels: Vec<u8> = (0..24).collect();
        let raw = images_file(2, 3, 4, &pixels);
        let a = parse_images(&raw, "raw").unwrap();
        assert_eq!((a.count, a.rows, a.cols), (2, 3, 4));
        assert_eq!(a.pixels, pixels);
        assert_eq!(parse_images(&gzip(&raw), "gz").unwrap(), a);
        let labels = labels_file(&[0, 9, 3]);
        assert_eq!(parse_labels(&labels, "l", 10).unwrap(), vec![0, 9, 3]);
        assert_eq!(parse_labels(&gzip(&labels), "l", 10).unwrap(), vec![0, 9, 3]);
        let empty = parse_images(&images_file(0, 28, 28, &[]), "empty").unwrap();
        assert_eq!(empty.count, 0);
    }

    #[test]
    fn wrong_magic_type_and_dimensions_are_errors() {
        let mut f = images_file(1, 2, 2, &[0; 4]);
        f[0] = 1;
        assert!(matches!(parse_images(&f, "x"), Err(DataError::BadHeader { .. })));
        let mut f = images_file(1, 2, 2, &[0; 4]);
        f[2] = 0x0d; // float data
        let err = parse_images(&f, "x").unwrap_err().to_string();
        assert!(err.contains("0x0d"), "{err}");
        // A label file given as images and vice versa.
        assert!(matches!(parse_images(&labels_file(&[1, 2]), "x"), Err(DataError::BadHeader { .. })));
        assert!(matches!(
            parse_labels(&images_file(1, 1, 1, &[0]), "x", 10),
            Err(DataError::BadHeader { .. })
        ));
        assert!(matches!(parse_images(&images_file(1, 0, 5, &[]), "x"), Err(DataError::BadHeader { .. })));
        assert!(matches!(parse_images(&[0, 0], "x"), Err(DataError::BadHeader { .. })));
        assert!(matches!(parse_images(&[0, 0, 8, 3, 0, 0], "x"), Err(DataError::BadHeader { .. })));
        assert!(matches!(parse_images(b"hello world, not idx", "x"), Err(DataError::BadHeader { .. })));
    }

    #[test]
    fn claims_beyond_the_file_are_rejected_before_allocating() {
        // Raw: 4 billion images claimed, 4 bytes present.
        let f = images_file(u32::MAX, 28, 28, &[0; 4]);
        assert!(matches!(parse_images(&f, "x"), Err(DataError::TooLarge { .. })));
        let f = images_file(1000, 28, 28, &[0; 100]);
        let err = parse_images(&f, "x").unwrap_err();
        assert!(matches!(err, DataError::Truncated { expected: 784_000, found: 100, .. }), "{err}");
        // Gzip: a 10 MB claim in a file of a few dozen bytes.
        let f = gzip(&images_file(10_000, 28, 28, &[0; 10]));
        let err = parse_images(&f, "x").unwrap_err();
        assert!(matches!(err, DataError::TooLarge { .. }), "{err}");
        // Labels: the count says 5, there are 3.
        let mut l = labels_file(&[1, 2, 3]);
        l[7] = 5;
        assert!(matches!(parse_labels(&l, "x", 10), Err(DataError::Truncated { .. })));
        assert!(matches!(parse_labels(&gzip(&l), "x", 10), Err(DataError::Truncated { .. })));
    }

    #[test]
    fn truncated_trailing_and_corrupt_gzip_are_errors() {
        let raw = images_file(4, 5, 5, &[7; 100]);
        let gz = gzip(&raw);
        assert!(matches!(parse_images(&raw[..raw.len() - 1], "x"), Err(DataError::Truncated { .. })));
        let mut long = raw.clone();
        long.push(0);
        assert!(matches!(parse_images(&long, "x"), Err(DataError::TrailingData { extra: 1, .. })));
        assert!(matches!(parse_images(&gzip(&long), "x"), Err(DataError::TrailingData { .. })));
        for cut in [gz.len() - 4, gz.len() / 2, 12] {
            let err = parse_images(&gz[..cut], "x").unwrap_err();
            assert!(
                matches!(
                    err,
                    DataError::Gzip { .. } | DataError::Truncated { .. } | DataError::BadHeader { .. }
                ),
                "cut {cut}: {err}"
            );
        }
        let mut flipped = gz.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(parse_images(&flipped, "x").is_err());
        // A damaged CRC in the trailer.
        let mut bad_crc = gz.clone();
        let crc_at = bad_crc.len() - 8;
        bad_crc[crc_at] ^= 1;
        assert!(matches!(parse_images(&bad_crc, "x"), Err(DataError::Gzip { .. })));
    }

    #[test]
    fn labels_outside_the_classes_are_errors() {
        let err = parse_labels(&labels_file(&[0, 1, 10, 2]), "lab", 10).unwrap_err();
        assert!(matches!(err, DataError::BadLabel { index: 2, label: 10, .. }), "{err}");
        assert!(err.to_string().contains("lab"));
    }
}
