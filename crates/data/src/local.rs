//! Finding and reading the four standard IDX files of MNIST-like data sets in a directory.

use crate::{idx, DataError, DataSplits, Dataset};
use nabla_registry::Params;
use std::path::{Path, PathBuf};

/// The environment variable naming the data directory when no `data_dir` is given.
pub const DATA_DIR_ENV: &str = "NABLA_DATA_DIR";

/// The standard file names, without `.gz`: training images and labels, test images and labels.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The directory from the `data_dir` hyper-parameter, else from `$NABLA_DATA_DIR`.
pub(crate) fn data_dir(p: &Params, dataset: &str) -> Result<PathBuf, DataError> {
    if let Some(dir) = p.opt_str("data_dir")?.filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Err(DataError::NoDataDir { dataset: dataset.to_string() }),
    }
}

/// The path of one standard file in `dir`, uncompressed preferred over `.gz`, if present.
fn present(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))].into_iter().find(|p| p.is_file())
}

/// Finds the four files: in the subfolders `subdirs` of `root` first, then in `root` itself;
/// the first directory holding all four wins.
///
/// # Errors
/// [`DataError::MissingFile`] naming the first missing file of the most complete directory
/// and every directory searched.
pub fn find_idx_files(dataset: &str, root: &Path, subdirs: &[&str]) -> Result<[PathBuf; 4], DataError> {
    let candidates: Vec<PathBuf> = subdirs.iter().map(|s| root.join(s)).chain([root.to_path_buf()]).collect();
    let mut best: Option<(usize, &PathBuf)> = None;
    for dir in &candidates {
        let found: Vec<Option<PathBuf>> = IDX_FILES.iter().map(|n| present(dir, n)).collect();
        let count = found.iter().filter(|f| f.is_some()).count();
        if let [Some(a), Some(b), Some(c), Some(d)] = &found[..] {
            return Ok([a.clone(), b.clone(), c.clone(), d.clone()]);
        }
        // Prefer the most complete directory; on a tie, the root (where `fetch` writes).
        if best.is_none_or(|(n, _)| count > n || (count == n && dir == root)) {
            best = Some((count, dir));
        }
    }
    let dir = best.map_or(root, |(_, d)| d.as_path());
    let missing = IDX_FILES.iter().find(|n| present(dir, n).is_none()).unwrap_or(&IDX_FILES[0]);
    Err(DataError::MissingFile {
        dataset: dataset.to_string(),
        path: dir.join(format!("{missing}.gz")),
        searched: candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", "),
    })
}

/// Loads an MNIST-like data set (10 classes, grey levels 0..255) from its four IDX files
/// found by [`find_idx_files`]; not normalized.
///
/// # Errors
/// Missing files, and everything the IDX reader reports (including image/label counts that
/// disagree and labels outside 0..9).
pub fn load_idx_dir(dataset: &str, root: &Path, subdirs: &[&str]) -> Result<DataSplits, DataError> {
    let [train_x, train_y, test_x, test_y] = find_idx_files(dataset, root, subdirs)?;
    let split = |x: &Path, y: &Path, which: &str| -> Result<Dataset, DataError> {
        let images = idx::read_images(x)?;
        let labels = idx::read_labels(y, 10)?;
        let origin = format!("{dataset} {which} ({} and {})", x.display(), y.display());
        Dataset::from_idx(images, labels, 10, 255.0, &origin)
    };
    DataSplits::new(split(&train_x, &train_y, "train")?, split(&test_x, &test_y, "test")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::tests::{gzip, images_file, labels_file};

    fn write_set(dir: &Path, n_train: u32, gz: bool) {
        std::fs::create_dir_all(dir).unwrap();
        let files = [
            images_file(n_train, 2, 2, &vec![9; 4 * n_train as usize]),
            labels_file(&vec![3; n_train as usize]),
            images_file(2, 2, 2, &[1; 8]),
            labels_file(&[0, 9]),
        ];
        for (name, bytes) in IDX_FILES.iter().zip(files) {
            if gz {
                std::fs::write(dir.join(format!("{name}.gz")), gzip(&bytes)).unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }

    #[test]
    fn finds_files_in_subfolders_first_then_root() {
        let tmp = tempfile::tempdir().unwrap();
        write_set(tmp.path(), 3, true);
        let s = load_idx_dir("mnist", tmp.path(), &["mnist"]).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (3, 2));
        write_set(&tmp.path().join("mnist"), 5, false);
        let s = load_idx_dir("mnist", tmp.path(), &["mnist"]).unwrap();
        assert_eq!(s.train.len(), 5);
        assert_eq!(s.test.labels(), &[0, 9]);
    }

    #[test]
    fn a_missing_file_names_the_path_and_the_fetch_command() {
        let tmp = tempfile::tempdir().unwrap();
        write_set(tmp.path(), 3, true);
        std::fs::remove_file(tmp.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
        let err = load_idx_dir("fashion_mnist", tmp.path(), &["fashion-mnist", "fashion_mnist"]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("t10k-labels-idx1-ubyte.gz"), "{msg}");
        assert!(msg.contains("nabla data fetch fashion_mnist --dir"), "{msg}");
        assert!(msg.contains("fashion-mnist"), "{msg}");
    }

    #[test]
    fn counts_that_disagree_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        write_set(tmp.path(), 3, false);
        std::fs::write(tmp.path().join("train-labels-idx1-ubyte"), labels_file(&[1, 2])).unwrap();
        let err = load_idx_dir("mnist", tmp.path(), &[]).unwrap_err();
        assert!(matches!(err, DataError::CountMismatch { images: 3, labels: 2, .. }), "{err}");
    }
}
