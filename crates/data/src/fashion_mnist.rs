//! `fashion_mnist`: Zalando's article images, read from a directory.

use crate::common::IdxDirParams;
use crate::local::{data_dir, load_idx_dir};
use crate::{register_dataset, DataError, DataSplits};
use nabla_registry::Alias;

/// Subfolders of the data directory searched (before the directory itself) for Fashion-MNIST.
pub const FASHION_MNIST_SUBDIRS: &[&str] = &["fashion-mnist", "fashion_mnist", "FashionMNIST"];

/// Loads `fashion_mnist`: 60,000 training and 10,000 test images of 28x28, grey levels
/// 0..255, 10 classes (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker,
/// Bag, Ankle boot), from the standard four file names (as MNIST).
///
/// The directory is the `data_dir` hyper-parameter, else `$NABLA_DATA_DIR`; the files are
/// looked for in its `fashion-mnist` (or `fashion_mnist`, `FashionMNIST`) subfolder first,
/// then in the directory itself, so a directory holding MNIST's files directly is only used
/// when no such subfolder exists. Get them with `nabla data fetch fashion_mnist --dir DIR`.
/// Licence MIT (Xiao, Rasul, Vollgraf 2017, Zalando SE).
fn load(p: &IdxDirParams) -> Result<DataSplits, DataError> {
    let dir = data_dir(p.data_dir.as_deref(), "fashion_mnist")?;
    p.prepare.finish(load_idx_dir("fashion_mnist", &dir, FASHION_MNIST_SUBDIRS)?)
}

register_dataset!(IdxDirParams,
    name: "fashion_mnist",
    aliases: [Alias::new("fashion")],
    summary: "Fashion-MNIST (60,000 + 10,000 28x28 article images) from data_dir or $NABLA_DATA_DIR",
    load: load,
);
