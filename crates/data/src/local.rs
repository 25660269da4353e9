//! Finding and reading the four standard IDX files of MNIST-like data sets in a directory.

use crate::{idx, DataError, DataSplits, Dataset};
use std::io::ErrorKind;
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
pub(crate) fn data_dir(given: Option<&str>, dataset: &str) -> Result<PathBuf, DataError> {
    if let Some(dir) = given.filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Err(DataError::NoDataDir { dataset: dataset.to_string() }),
    }
}

/// Whether something stands at `path`, readable or not: an entry that cannot be inspected
/// (permission denied) or a dangling link counts, so that reading it reports what is wrong
/// instead of the file being called missing.
fn exists(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => true,
        Err(e) if e.kind() == ErrorKind::NotFound => std::fs::symlink_metadata(path).is_ok(),
        Err(_) => false,
    }
}

/// The path of one standard file in `dir`: a regular file, uncompressed preferred over
/// `.gz`; failing that, whatever else stands at either name (a directory, a FIFO, an
/// unreadable entry), which the reader then reports for what it is.
fn present(dir: &Path, name: &str) -> Option<PathBuf> {
    let candidates = [dir.join(name), dir.join(format!("{name}.gz"))];
    if let Some(file) = candidates.iter().find(|p| p.is_file()) {
        return Some(file.clone());
    }
    candidates.into_iter().find(|p| exists(p))
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
/// Missing files, something other than a regular file in place of one
/// ([`DataError::NotAFile`], [`DataError::Unreadable`]), an image file declaring no images
/// ([`DataError::EmptySplit`]), and everything the IDX reader reports (including image/label
/// counts that disagree and labels outside 0..9).
pub fn load_idx_dir(dataset: &str, root: &Path, subdirs: &[&str]) -> Result<DataSplits, DataError> {
    let [train_x, train_y, test_x, test_y] = find_idx_files(dataset, root, subdirs)?;
    let split = |x: &Path, y: &Path, which: &'static str| -> Result<Dataset, DataError> {
        let images = idx::read_images(x)?;
        if images.count == 0 {
            return Err(DataError::EmptySplit {
                dataset: dataset.to_string(),
                split: which,
                origin: format!("{} holds 0 images", x.display()),
            });
        }
        let labels = idx::read_labels(y, 10)?;
        let origin = format!("{dataset} {which} ({} and {})", x.display(), y.display());
        Dataset::from_idx(images, labels, 10, 255.0, &origin)
    };
    DataSplits::new(split(&train_x, &train_y, "training")?, split(&test_x, &test_y, "test")?)
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

    /// A temporary folder holding a whole set with `n_train` training images (gzipped when
    /// `gz`).
    fn temp_set(n_train: u32, gz: bool) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        write_set(tmp.path(), n_train, gz);
        tmp
    }

    /// Removes the file `name` of the set in `dir` and returns its path, where a test puts
    /// something else (or nothing).
    fn remove_from_set(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::remove_file(&path).unwrap();
        path
    }

    #[test]
    fn finds_files_in_subfolders_first_then_root() {
        let tmp = temp_set(3, true);
        let s = load_idx_dir("mnist", tmp.path(), &["mnist"]).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (3, 2));
        write_set(&tmp.path().join("mnist"), 5, false);
        let s = load_idx_dir("mnist", tmp.path(), &["mnist"]).unwrap();
        assert_eq!(s.train.len(), 5);
        assert_eq!(s.test.labels(), &[0, 9]);
    }

    #[test]
    fn a_missing_file_names_the_path_and_the_fetch_command() {
        let tmp = temp_set(3, true);
        remove_from_set(tmp.path(), "t10k-labels-idx1-ubyte.gz");
        let err = load_idx_dir("fashion_mnist", tmp.path(), &["fashion-mnist", "fashion_mnist"]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("t10k-labels-idx1-ubyte.gz"), "{msg}");
        assert!(msg.contains("nabla data fetch fashion_mnist --dir"), "{msg}");
        assert!(msg.contains("fashion-mnist"), "{msg}");
    }

    #[test]
    fn a_directory_in_place_of_a_file_is_named_as_such() {
        let tmp = temp_set(3, true);
        let path = remove_from_set(tmp.path(), "train-images-idx3-ubyte.gz");
        std::fs::create_dir(&path).unwrap();
        let err = load_idx_dir("mnist", tmp.path(), &["mnist"]).unwrap_err();
        assert!(matches!(&err, DataError::NotAFile { path: p, found: "a directory" } if *p == path), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()) && msg.contains("a directory"), "{msg}");
        assert!(!msg.contains("missing"), "{msg}");
        // A regular file next to the directory is still found (uncompressed preferred).
        std::fs::write(tmp.path().join("train-images-idx3-ubyte"), images_file(1, 2, 2, &[5; 4])).unwrap();
        std::fs::write(tmp.path().join("train-labels-idx1-ubyte"), labels_file(&[4])).unwrap();
        assert_eq!(load_idx_dir("mnist", tmp.path(), &[]).unwrap().train.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_in_place_of_a_file_is_named_and_never_opened() {
        let tmp = temp_set(3, false);
        let path = remove_from_set(tmp.path(), "t10k-labels-idx1-ubyte");
        match std::process::Command::new("mkfifo").arg(&path).status() {
            Ok(status) if status.success() => {}
            other => {
                eprintln!("note: mkfifo unavailable ({other:?}); FIFO test skipped");
                return;
            }
        }
        // Opening the FIFO for reading would block this test forever: it must be refused first.
        let err = load_idx_dir("mnist", tmp.path(), &[]).unwrap_err();
        assert!(matches!(&err, DataError::NotAFile { found: "a FIFO (named pipe)", .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_file_says_permission_denied() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = temp_set(3, true);
        let path = tmp.path().join("train-labels-idx1-ubyte.gz");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::File::open(&path).is_ok() {
            eprintln!("note: running with the right to read any file (root?); permission test skipped");
            return;
        }
        let err = load_idx_dir("mnist", tmp.path(), &[]).unwrap_err();
        assert!(matches!(&err, DataError::Unreadable { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains("unreadable: permission denied"),
            "{msg}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_link_is_not_called_missing() {
        let tmp = temp_set(3, true);
        let path = remove_from_set(tmp.path(), "t10k-images-idx3-ubyte.gz");
        std::os::unix::fs::symlink(tmp.path().join("gone.gz"), &path).unwrap();
        let err = load_idx_dir("mnist", tmp.path(), &[]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(&err, DataError::Unreadable { .. }), "{msg}");
        assert!(msg.contains(&path.display().to_string()) && msg.contains("symbolic link"), "{msg}");
    }

    #[test]
    fn empty_training_or_test_images_are_errors_naming_the_file() {
        let tmp = temp_set(0, true);
        let err = load_idx_dir("fashion_mnist", tmp.path(), &[]).unwrap_err();
        assert!(matches!(&err, DataError::EmptySplit { split: "training", .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.starts_with("fashion_mnist: the training set is empty"), "{msg}");
        assert!(msg.contains(&tmp.path().join("train-images-idx3-ubyte.gz").display().to_string()), "{msg}");

        write_set(tmp.path(), 3, true);
        std::fs::write(tmp.path().join("t10k-images-idx3-ubyte.gz"), gzip(&images_file(0, 2, 2, &[])))
            .unwrap();
        std::fs::write(tmp.path().join("t10k-labels-idx1-ubyte.gz"), gzip(&labels_file(&[]))).unwrap();
        let err = load_idx_dir("mnist", tmp.path(), &[]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(&err, DataError::EmptySplit { split: "test", .. }), "{msg}");
        assert!(msg.contains("t10k-images-idx3-ubyte.gz holds 0 images"), "{msg}");
    }

    #[test]
    fn a_multi_member_gzip_file_loads() {
        let tmp = temp_set(3, true);
        let raw = images_file(3, 2, 2, &[9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2]);
        let mut multi = gzip(&raw[..10]);
        multi.extend(gzip(&raw[10..]));
        std::fs::write(tmp.path().join("train-images-idx3-ubyte.gz"), multi).unwrap();
        let s = load_idx_dir("mnist", tmp.path(), &[]).unwrap();
        assert_eq!(s.train.images().row(2).to_vec(), vec![1.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn counts_that_disagree_are_errors() {
        let tmp = temp_set(3, false);
        std::fs::write(tmp.path().join("train-labels-idx1-ubyte"), labels_file(&[1, 2])).unwrap();
        let err = load_idx_dir("mnist", tmp.path(), &[]).unwrap_err();
        assert!(matches!(err, DataError::CountMismatch { images: 3, labels: 2, .. }), "{err}");
    }
}
