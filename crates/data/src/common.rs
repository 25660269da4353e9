//! Hyper-parameters shared by the registered data sets, and what they do after loading.

use crate::{DataError, DataSplits, Normalization, Standardize};
use nabla_registry::HyperParams;

/// What every built-in data set does after reading its examples: the `limit_*` subsets and
/// the normalization. Flattened into each data set's hyper-parameters (`#[param(flatten)]`).
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct Preparation {
    /// seed of the held-out split and of the limit_* subsets
    #[param(default = 0, range = NON_NEGATIVE)]
    pub split_seed: u64,
    /// use at most this many training examples (seeded choice)
    #[param(range = Range::at_least(1.0))]
    pub limit_train: Option<usize>,
    /// use at most this many test examples (seeded choice)
    #[param(range = Range::at_least(1.0))]
    pub limit_test: Option<usize>,
    /// divide by the largest grey level (255, or 16 for digits), giving [0, 1]
    #[param(default = true)]
    pub scale: bool,
    /// subtract the mean and divide by the std of the training split (after scaling)
    #[param(default = "none")]
    pub standardize: Standardize,
}

/// The hyper-parameters of a data set read from a directory of the four IDX files.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct IdxDirParams {
    /// directory of the IDX files (default: $NABLA_DATA_DIR)
    pub data_dir: Option<String>,
    /// Subsets and normalization.
    #[param(flatten)]
    pub prepare: Preparation,
}

/// Salts that make the training and test subsets of `limit_*` independent.
const TRAIN_SALT: u64 = 0x7472_6169_6e5f_6c69;
const TEST_SALT: u64 = 0x7465_7374_5f6c_696d;

/// Refuses splits without examples: training on an empty set would "succeed" with an
/// accuracy of 0.00% and a loss of 0. `origin` says, for `training` or `test`, where the
/// examples should have come from.
pub(crate) fn check_not_empty(
    splits: &DataSplits,
    dataset: &str,
    origin: impl Fn(&'static str) -> String,
) -> Result<(), DataError> {
    for (split, data) in [("training", &splits.train), ("test", &splits.test)] {
        if data.is_empty() {
            return Err(DataError::EmptySplit { dataset: dataset.to_string(), split, origin: origin(split) });
        }
    }
    Ok(())
}

impl Preparation {
    /// Applies `limit_train`, `limit_test` and the normalization.
    pub(crate) fn finish(&self, mut splits: DataSplits) -> Result<DataSplits, DataError> {
        if let Some(n) = self.limit_train {
            splits.train = splits.train.limited(n, self.split_seed, TRAIN_SALT);
        }
        if let Some(n) = self.limit_test {
            splits.test = splits.test.limited(n, self.split_seed, TEST_SALT);
        }
        splits.normalize(Normalization { scale: self.scale, standardize: self.standardize })?;
        Ok(splits)
    }
}
