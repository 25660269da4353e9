//! `mnist`: LeCun, Cortes and Burges's handwritten digits, read from a directory.

use crate::common::IdxDirParams;
use crate::local::{data_dir, load_idx_dir};
use crate::{register_dataset, DataError, DataSplits};

/// Subfolders of the data directory searched (before the directory itself) for MNIST.
pub const MNIST_SUBDIRS: &[&str] = &["mnist", "MNIST"];

/// Loads `mnist`: 60,000 training and 10,000 test images of 28x28, grey levels 0..255,
/// labels 0..9, from the standard four files (`train-images-idx3-ubyte[.gz]`,
/// `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`,
/// `t10k-labels-idx1-ubyte[.gz]`).
///
/// The directory is the `data_dir` hyper-parameter, else `$NABLA_DATA_DIR`; the files are
/// looked for in its `mnist` (or `MNIST`) subfolder first, then in the directory itself.
/// Get them with `nabla data fetch mnist --dir DIR`. Licence CC BY-SA 3.0 (LeCun, Cortes,
/// Burges).
fn load(p: &IdxDirParams) -> Result<DataSplits, DataError> {
    let dir = data_dir(p.data_dir.as_deref(), "mnist")?;
    p.prepare.finish(load_idx_dir("mnist", &dir, MNIST_SUBDIRS)?)
}

register_dataset!(IdxDirParams,
    name: "mnist",
    summary: "MNIST handwritten digits (60,000 + 10,000 28x28 images) from data_dir or $NABLA_DATA_DIR",
    load: load,
);
