//! The error type of `nabla-data`.

use nabla_registry::RegistryError;
use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong reading, loading, batching or downloading data.
///
/// Files and hyper-parameters come from outside the program, so every problem with them is
/// one of these (never a panic); `origin` names the file or the embedded data set.
#[derive(Debug, Error)]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Something other than a regular file stands where a data file should be.
    #[error("{}: expected a data file, found {found}", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What is there: `a directory`, `a FIFO (named pipe)`, `a socket`, ...
        found: &'static str,
    },
    /// A data file exists but cannot be inspected or opened.
    #[error("{}: unreadable: {reason}", path.display())]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// What is wrong, in words (`permission denied (...)`, `a symbolic link whose target
        /// does not exist`, ...).
        reason: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The training or test split of a data set has no examples.
    #[error(
        "{dataset}: the {split} set is empty ({origin}); training and evaluation need at least one example"
    )]
    EmptySplit {
        /// The data set.
        dataset: String,
        /// `training` or `test`.
        split: &'static str,
        /// Where the examples came from (the file, or the split that produced none).
        origin: String,
    },
    /// A file of a data set is not where it was looked for.
    #[error(
        "{dataset}: missing {} (looked in {searched}); download it with `nabla data fetch {dataset} --dir DIR` \
         and pass data_dir = DIR or set NABLA_DATA_DIR",
        path.display()
    )]
    MissingFile {
        /// The data set.
        dataset: String,
        /// The first missing file, in the most likely directory.
        path: PathBuf,
        /// Every directory that was searched.
        searched: String,
    },
    /// Neither a `data_dir` hyper-parameter nor `NABLA_DATA_DIR` says where the files are.
    #[error(
        "{dataset}: no data directory; pass data_dir = DIR (or --data-dir DIR) or set NABLA_DATA_DIR, \
         after `nabla data fetch {dataset} --dir DIR`"
    )]
    NoDataDir {
        /// The data set.
        dataset: String,
    },
    /// Not an IDX file of the expected kind.
    #[error("{origin}: not an IDX {expected} file: {message}")]
    BadHeader {
        /// The file or embedded data set.
        origin: String,
        /// `images` or `labels`.
        expected: &'static str,
        /// What is wrong (magic bytes, data type, dimensions).
        message: String,
    },
    /// The header claims more data than the file holds, or more than this reader accepts.
    #[error("{origin}: the header claims {claimed} bytes of data, {message}")]
    TooLarge {
        /// The file or embedded data set.
        origin: String,
        /// Bytes the header implies (saturated at `u64::MAX`).
        claimed: u64,
        /// Why that is impossible.
        message: String,
    },
    /// The data ends before the header's item count is reached.
    #[error("{origin}: truncated: expected {expected} bytes after the header, found {found}")]
    Truncated {
        /// The file or embedded data set.
        origin: String,
        /// Bytes the header implies.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// Bytes follow the last item.
    #[error(
        "{origin}: {}{extra} unexpected bytes after the last item (corrupt or not an IDX file)",
        if *at_least { "at least " } else { "" }
    )]
    TrailingData {
        /// The file or embedded data set.
        origin: String,
        /// How many bytes follow (or, when `at_least`, how many were seen before stopping).
        extra: u64,
        /// Whether more may follow: a compressed stream is not inflated past the first
        /// excess chunk, which could be a bomb's gigabytes.
        at_least: bool,
    },
    /// The gzip stream is corrupt.
    #[error("{origin}: corrupt gzip data: {message}")]
    Gzip {
        /// The file or embedded data set.
        origin: String,
        /// The decoder's message.
        message: String,
    },
    /// Image and label files disagree on the number of items.
    #[error("{origin}: {images} images but {labels} labels")]
    CountMismatch {
        /// The data set and split.
        origin: String,
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A label outside `0..num_classes`.
    #[error("{origin}: label {label} at index {index} is outside 0..{num_classes}")]
    BadLabel {
        /// The file or embedded data set.
        origin: String,
        /// Position of the label.
        index: usize,
        /// The label.
        label: u8,
        /// The number of classes.
        num_classes: usize,
    },
    /// Invalid arguments (batch size 0, wrong buffer shapes, mismatched arrays, ...).
    #[error("{0}")]
    Invalid(String),
    /// No mirror delivered a file with the published checksum.
    #[error("{file}: download failed from every mirror:\n  {}", attempts.join("\n  "))]
    Download {
        /// The file name.
        file: String,
        /// One line per mirror: the URL and what went wrong.
        attempts: Vec<String>,
    },
    /// `fetch` does not know the data set.
    #[error("cannot fetch '{name}': {message}")]
    CannotFetch {
        /// The name given.
        name: String,
        /// Why (unknown, or nothing to download).
        message: String,
    },
    /// A download was needed but this build of `nabla-data` has no download client.
    #[error(
        "cannot download {dataset}: nabla-data was built without the `fetch` cargo feature; rebuild with \
         `--features fetch` (the `nabla` CLI enables it), or place the files in a directory yourself \
         and pass data_dir = DIR"
    )]
    FetchDisabled {
        /// The data set.
        dataset: String,
    },
    /// Unknown data set name, malformed spec or invalid hyper-parameters of a data set
    /// ([`RegistryError::Param`]).
    #[error(transparent)]
    Registry(Box<RegistryError>),
}

nabla_registry::from_registry_errors!(DataError);

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> DataError {
        DataError::Io { path: path.into(), source }
    }
}
