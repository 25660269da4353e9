//! Property tests: the IDX parser returns `Ok` or `Err` on any input, never panics (and,
//! by construction, never allocates more than the input can justify).

use flate2::write::GzEncoder;
use flate2::Compression;
use nabla_data::idx::{parse_images, parse_labels};
use nabla_data::{DataError, Dataset};
use proptest::prelude::*;
use std::io::Write;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn images_file(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for d in [count, rows, cols] {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(pixels);
    v
}

fn labels_file(labels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

/// A valid file (images or labels, raw or gzipped) and its kind.
fn valid_file() -> impl Strategy<Value = (Vec<u8>, bool)> {
    (1u32..6, 1u32..5, 1u32..5, any::<bool>(), any::<bool>()).prop_map(|(n, r, c, images, gz)| {
        let raw = if images {
            images_file(n, r, c, &vec![17; (n * r * c) as usize])
        } else {
            labels_file(&(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>())
        };
        (if gz { gzip(&raw) } else { raw }, images)
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    SetWord(usize, u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (0usize..4, any::<u32>()).prop_map(|(w, v)| Mutation::SetWord(w, v)),
    ]
}

fn apply(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    let len = bytes.len();
    match *m {
        Mutation::Flip(i, b) => bytes[i % len] ^= b,
        Mutation::Truncate(i) => bytes.truncate(i % len),
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
        Mutation::SetWord(w, v) => {
            // Overwrite a header word (count / rows / cols) of a raw file.
            let at = 4 * w;
            if at + 4 <= len {
                bytes[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
        }
    }
    bytes
}

/// Mostly small dimensions (so that some files are exactly valid), sometimes huge ones.
fn dim() -> impl Strategy<Value = u32> {
    prop_oneof![3 => 0u32..5, 1 => any::<u32>()]
}

fn check(bytes: &[u8]) {
    if let Ok(images) = parse_images(bytes, "fuzz") {
        assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
        assert!(images.pixels.len() <= bytes.len().saturating_mul(1100) + 1024);
    }
    if let Ok(labels) = parse_labels(bytes, "fuzz", 10) {
        assert!(labels.iter().all(|&l| l < 10));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&bytes);
        // The same bytes behind an IDX magic, and behind a gzip magic.
        let mut idx = vec![0, 0, 8, 3];
        idx.extend_from_slice(&bytes);
        check(&idx);
        let mut gz = vec![0x1f, 0x8b, 8, 0];
        gz.extend_from_slice(&bytes);
        check(&gz);
        check(&gzip(&idx));
    }

    #[test]
    fn mutated_valid_files_never_panic((file, _images) in valid_file(), ms in prop::collection::vec(mutation(), 1..4)) {
        let mutated = ms.iter().fold(file, apply);
        check(&mutated);
    }

    #[test]
    fn header_claims_are_checked_against_the_bytes(
        count in dim(),
        rows in dim(),
        cols in dim(),
        extra in 0usize..64,
        gz: bool,
    ) {
        let raw = images_file(count, rows, cols, &vec![1; extra]);
        let bytes = if gz { gzip(&raw) } else { raw };
        let claimed = u128::from(count) * u128::from(rows) * u128::from(cols);
        match parse_images(&bytes, "claim") {
            Ok(img) => prop_assert_eq!(img.pixels.len() as u128, claimed),
            Err(e) => prop_assert!(claimed != extra as u128 || rows == 0 || cols == 0, "valid file rejected: {}", e),
        }
    }
}

#[test]
fn image_and_label_counts_that_disagree_are_errors() {
    let images = parse_images(&images_file(3, 2, 2, &[0; 12]), "i").unwrap();
    let labels = parse_labels(&labels_file(&[1, 2]), "l", 10).unwrap();
    let err = Dataset::from_idx(images, labels, 10, 255.0, "pair").unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { images: 3, labels: 2, .. }), "{err}");
}
