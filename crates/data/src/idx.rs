//! A reader of the IDX format (MNIST, Fashion-MNIST, the embedded digits), raw or gzipped.
//!
//! IDX is big-endian: two zero bytes, a data-type byte (`0x08` = unsigned byte, the only type
//! these data sets use), the number of dimensions, then one `u32` per dimension and the data
//! in row-major order. Images are `[N, rows, cols]` (magic `00 00 08 03`), labels `[N]`
//! (magic `00 00 08 01`). A gzipped file may hold several gzip members one after the other
//! (`cat a.gz b.gz`); their contents are read as one stream, as `gunzip` does.
//!
//! Hostile input is an error, never a panic, an abort or an allocation the input cannot
//! justify:
//! * the header's dimensions are multiplied with checked arithmetic and the product compared
//!   with [`MAX_IDX_BYTES`] and with what the input can hold (the bytes after the header of
//!   a raw file; for gzip, the most a deflate stream of the compressed length can expand
//!   to) before anything is allocated;
//! * the output is then allocated once, at the declared size (a failed allocation is an
//!   error), and the data is decoded in small chunks straight into it, converted on the way
//!   (images to `f32`): the input is never read whole and never copied, so loading an image
//!   file needs the floats it yields plus a few hundred kilobytes;
//! * truncation, trailing bytes and corrupt gzip (including every member's CRC) are detected.

use crate::file::open_regular;
use crate::DataError;
use flate2::bufread::MultiGzDecoder;
use std::io::{self, BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

/// The largest IDX payload accepted, in bytes (= grey levels; 1 GiB, 4 GiB as `f32`).
/// Fashion-MNIST's training images are 47 MB.
pub const MAX_IDX_BYTES: u64 = 1 << 30;

/// Deflate cannot expand data by more than about 1032:1; a gzip file of `n` bytes therefore
/// holds at most `n * 1032` bytes (plus a little slack for tiny files), whatever the number
/// of members.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The two magic bytes that start every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Bytes decoded per step: the only scratch memory besides the output.
const CHUNK: usize = 1 << 16;

/// Images decoded from an IDX file: `count` images of `rows x cols` grey levels, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows of each image.
    pub rows: usize,
    /// Columns of each image.
    pub cols: usize,
    /// `count * rows * cols` grey levels (0 to 255, exact in `f32`), one image after the
    /// other. Converted while decoding, so that no byte copy of the data is ever held.
    pub pixels: Vec<f32>,
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

/// How the IDX bytes arrive, and how much the input can hold.
#[derive(Clone, Copy)]
enum Stream {
    /// Uncompressed, `len` bytes in all (header included).
    Raw { len: u64 },
    /// Gzip, `compressed` bytes in all.
    Gzip { compressed: u64 },
}

impl Stream {
    fn what(self) -> &'static str {
        match self {
            Stream::Raw { .. } => "the file",
            Stream::Gzip { .. } => "the decompressed data",
        }
    }

    fn error(self, origin: &str, e: io::Error) -> DataError {
        match self {
            Stream::Raw { .. } => DataError::Io { path: PathBuf::from(origin), source: e },
            Stream::Gzip { .. } => gzip_error(origin, e),
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
/// Wrong magic or data type, a header claiming more data than the file holds or than
/// [`MAX_IDX_BYTES`], truncated or trailing data, corrupt gzip, zero-sized images.
pub fn parse_images(bytes: &[u8], origin: &str) -> Result<IdxImages, DataError> {
    images(bytes, bytes.len() as u64, origin)
}

/// Parses an IDX label file (raw or gzipped) and checks every label is below `num_classes`.
///
/// # Errors
/// As [`parse_images`], plus [`DataError::BadLabel`] naming the first label out of range.
pub fn parse_labels(bytes: &[u8], origin: &str, num_classes: usize) -> Result<Vec<u8>, DataError> {
    labels(bytes, bytes.len() as u64, origin, num_classes)
}

/// Reads and parses an IDX image file, streaming it from disk.
///
/// # Errors
/// [`DataError::NotAFile`] (a directory, FIFO, ... at `path`), [`DataError::Unreadable`],
/// read errors naming the path, and everything [`parse_images`] reports.
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    let (file, len) = open_regular(path)?;
    images(BufReader::with_capacity(CHUNK, file), len, &path.display().to_string())
}

/// Reads and parses an IDX label file, streaming it from disk.
///
/// # Errors
/// As [`read_images`], plus [`DataError::BadLabel`].
pub fn read_labels(path: &Path, num_classes: usize) -> Result<Vec<u8>, DataError> {
    let (file, len) = open_regular(path)?;
    labels(BufReader::with_capacity(CHUNK, file), len, &path.display().to_string(), num_classes)
}

fn images(input: impl BufRead, len: u64, origin: &str) -> Result<IdxImages, DataError> {
    let (dims, pixels) = decode::<f32>(input, len, origin, Kind::Images)?;
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

fn labels(input: impl BufRead, len: u64, origin: &str, num_classes: usize) -> Result<Vec<u8>, DataError> {
    let (_, labels) = decode::<u8>(input, len, origin, Kind::Labels)?;
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| usize::from(l) >= num_classes) {
        return Err(DataError::BadLabel { origin: origin.to_string(), index, label, num_classes });
    }
    Ok(labels)
}

/// Checks the magic of a header against the kind expected.
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

fn too_large(origin: &str, claimed: u64, message: String) -> DataError {
    DataError::TooLarge { origin: origin.to_string(), claimed, message }
}

/// The payload size the dimensions declare, refused (before anything is allocated) when the
/// product overflows or exceeds [`MAX_IDX_BYTES`].
fn declared_size(dims: &[u32], origin: &str) -> Result<u64, DataError> {
    let shown = || dims.iter().map(u32::to_string).collect::<Vec<_>>().join(" x ");
    match dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d))) {
        None => Err(too_large(
            origin,
            u64::MAX,
            format!(
                "its dimensions {} overflow 64 bits; this reader accepts at most {MAX_IDX_BYTES}",
                shown()
            ),
        )),
        Some(size) if size > MAX_IDX_BYTES => Err(too_large(
            origin,
            size,
            format!("({}), more than the {MAX_IDX_BYTES} bytes this reader accepts", shown()),
        )),
        Some(size) => Ok(size),
    }
}

fn gzip_error(origin: &str, e: io::Error) -> DataError {
    let message = if e.kind() == ErrorKind::UnexpectedEof {
        format!("the compressed stream ends early (truncated file): {e}")
    } else {
        e.to_string()
    };
    DataError::Gzip { origin: origin.to_string(), message }
}

/// One `read`, retried on interruption.
fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Fills `buf` unless the input ends first; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match read_some(reader, &mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Decodes an IDX stream of `input_len` bytes (raw or gzip, told apart by the first bytes)
/// into its dimensions and its items converted to `T`.
fn decode<T: From<u8>>(
    mut input: impl BufRead,
    input_len: u64,
    origin: &str,
    kind: Kind,
) -> Result<(Vec<usize>, Vec<T>), DataError> {
    let head = input.fill_buf().map_err(|e| Stream::Raw { len: input_len }.error(origin, e))?;
    if is_gzip(head) {
        decode_stream(MultiGzDecoder::new(input), origin, kind, Stream::Gzip { compressed: input_len })
    } else {
        decode_stream(input, origin, kind, Stream::Raw { len: input_len })
    }
}

fn decode_stream<T: From<u8>>(
    mut reader: impl Read,
    origin: &str,
    kind: Kind,
    stream: Stream,
) -> Result<(Vec<usize>, Vec<T>), DataError> {
    let bad =
        |message: String| DataError::BadHeader { origin: origin.to_string(), expected: kind.name(), message };
    let header_len = 4 + 4 * usize::from(kind.ndims());
    let mut header_buf = [0u8; 16];
    let header = &mut header_buf[..header_len];
    let got = read_full(&mut reader, header).map_err(|e| stream.error(origin, e))?;
    if got < 4 {
        return Err(bad(format!("{} has only {got} bytes, too short for a header", stream.what())));
    }
    check_magic(&header[..4], origin, kind)?;
    if got < header_len {
        return Err(bad(format!("{} has only {got} bytes, the header needs {header_len}", stream.what())));
    }
    let dims: Vec<u32> =
        header[4..].chunks_exact(4).map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]])).collect();
    let size = declared_size(&dims, origin)?;
    match stream {
        Stream::Raw { len } => {
            let present = len.saturating_sub(header_len as u64);
            if present < size {
                return Err(DataError::Truncated {
                    origin: origin.to_string(),
                    expected: size,
                    found: present,
                });
            }
            if present > size {
                return Err(DataError::TrailingData {
                    origin: origin.to_string(),
                    extra: present - size,
                    at_least: false,
                });
            }
        }
        Stream::Gzip { compressed } => {
            let most = compressed.saturating_mul(MAX_DEFLATE_RATIO).saturating_add(1024);
            if size > most {
                return Err(too_large(
                    origin,
                    size,
                    format!("but a gzip file of {compressed} bytes cannot hold more than {most}"),
                ));
            }
        }
    }
    let dims =
        dims.iter().map(|&d| usize::try_from(d)).collect::<Result<Vec<usize>, _>>().map_err(|_| {
            too_large(origin, size, "a dimension does not fit in this platform's usize".into())
        })?;
    let count = usize::try_from(size)
        .map_err(|_| too_large(origin, size, "more items than this platform can address".into()))?;

    // The one allocation of the output, at the size checked above; decoding fills it in
    // place, so it never grows or moves.
    let mut out: Vec<T> = Vec::new();
    out.try_reserve_exact(count).map_err(|e| {
        let bytes = size.saturating_mul(std::mem::size_of::<T>() as u64);
        too_large(
            origin,
            size,
            format!("and the {bytes} bytes of memory to decode it into are not available: {e}"),
        )
    })?;
    let mut chunk = vec![0u8; CHUNK.min(count + 1)];
    while out.len() < count {
        let want = (count - out.len()).min(chunk.len());
        let n = read_some(&mut reader, &mut chunk[..want]).map_err(|e| stream.error(origin, e))?;
        if n == 0 {
            return Err(DataError::Truncated {
                origin: origin.to_string(),
                expected: size,
                found: out.len() as u64,
            });
        }
        out.extend(chunk[..n].iter().map(|&b| T::from(b)));
    }
    // One more read: bytes past the last item are an error (a raw file may have grown since
    // its length was checked), and for gzip, reaching the end verifies the CRC and length of
    // the last member.
    let extra = read_some(&mut reader, &mut chunk).map_err(|e| stream.error(origin, e))?;
    if extra > 0 {
        // Not read further: the excess of a gzip stream may inflate to gigabytes (a raw file
        // only lands here if it grew after its length was checked).
        return Err(DataError::TrailingData {
            origin: origin.to_string(),
            extra: extra as u64,
            at_least: true,
        });
    }
    Ok((dims, out))
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
        assert_eq!(a.pixels, pixels.iter().map(|&p| f32::from(p)).collect::<Vec<_>>());
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
        let err = parse_images(&gzip(&long), "x").unwrap_err();
        assert!(matches!(err, DataError::TrailingData { at_least: true, .. }), "{err}");
        assert!(err.to_string().contains("at least 1 unexpected bytes"), "{err}");
        assert!(parse_images(&long, "x").unwrap_err().to_string().contains(": 1 unexpected bytes"));
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
    fn multi_member_gzip_is_read_whole() {
        // `cat a.gz b.gz`: the header and part of the data in one member, the rest in others
        // (one of them empty, as `gzip` writes for an empty input).
        let pixels: Vec<u8> = (0..120).map(|i| (i * 3) as u8).collect();
        let raw = images_file(5, 4, 6, &pixels);
        let mut multi = gzip(&raw[..20]);
        multi.extend(gzip(&[]));
        multi.extend(gzip(&raw[20..90]));
        multi.extend(gzip(&raw[90..]));
        let a = parse_images(&multi, "multi").unwrap();
        assert_eq!(a, parse_images(&raw, "raw").unwrap());
        let labels = labels_file(&[1, 2, 3, 4]);
        let mut multi = gzip(&labels[..6]);
        multi.extend(gzip(&labels[6..]));
        assert_eq!(parse_labels(&multi, "multi", 10).unwrap(), vec![1, 2, 3, 4]);
        // A second member that carries bytes past the last item is trailing data.
        let mut long = gzip(&raw);
        long.extend(gzip(&[0]));
        assert!(matches!(parse_images(&long, "x"), Err(DataError::TrailingData { .. })));
        // A damaged second member is corrupt gzip, not a short file.
        let mut bad = gzip(&raw[..50]);
        let mut second = gzip(&raw[50..]);
        let crc_at = second.len() - 8;
        second[crc_at] ^= 1;
        bad.extend(second);
        assert!(matches!(parse_images(&bad, "x"), Err(DataError::Gzip { .. })));
        // Garbage after the last member is not a member: corrupt, not silently ignored.
        let mut garbage = gzip(&raw);
        garbage.extend([0; 8]);
        assert!(matches!(parse_images(&garbage, "x"), Err(DataError::Gzip { .. })));
    }

    #[test]
    fn absurd_headers_are_refused_before_allocating() {
        // u32::MAX^3 overflows u64: a clear error, no panic, nothing allocated.
        for gz in [false, true] {
            let f = images_file(u32::MAX, u32::MAX, u32::MAX, &[0; 16]);
            let f = if gz { gzip(&f) } else { f };
            let err = parse_images(&f, "absurd").unwrap_err();
            assert!(matches!(err, DataError::TooLarge { claimed: u64::MAX, .. }), "{err}");
            assert!(err.to_string().contains("overflow"), "{err}");
        }
        // Just over the cap, in a gzip whose length would allow it: refused by the cap (a
        // `TooLarge` before any decoding, where an attempt would report truncation).
        let claim = MAX_IDX_BYTES + 1;
        let f = gzip(&images_file(1, 1, claim as u32, &[]));
        let padded: Vec<u8> =
            f.iter().copied().chain(std::iter::repeat_n(0, (claim / 1000) as usize)).collect();
        let err = parse_images(&padded, "cap").unwrap_err();
        assert!(matches!(err, DataError::TooLarge { claimed, .. } if claimed == claim), "{err}");
        assert!(err.to_string().contains(&MAX_IDX_BYTES.to_string()), "{err}");
    }

    #[test]
    fn labels_outside_the_classes_are_errors() {
        let err = parse_labels(&labels_file(&[0, 1, 10, 2]), "lab", 10).unwrap_err();
        assert!(matches!(err, DataError::BadLabel { index: 2, label: 10, .. }), "{err}");
        assert!(err.to_string().contains("lab"));
    }
}
