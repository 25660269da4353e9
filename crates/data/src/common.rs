//! Hyper-parameters shared by the registered data sets, and what they do after loading.

use crate::{DataError, DataSplits, Normalization, Standardize};
use nabla_registry::{ParamSpec, Params, Range};

/// `split_seed`: seed of the held-out split (digits) and of the `limit_*` subsets.
pub(crate) const SPLIT_SEED: ParamSpec =
    ParamSpec::int("split_seed", 0, "seed of the held-out split and of the limit_* subsets")
        .range(Range::NON_NEGATIVE);
/// `limit_train`: at most this many training examples.
pub(crate) const LIMIT_TRAIN: ParamSpec =
    ParamSpec::int("limit_train", 0, "use at most this many training examples (seeded choice)")
        .range(Range::at_least(1.0))
        .unset();
/// `limit_test`: at most this many test examples.
pub(crate) const LIMIT_TEST: ParamSpec =
    ParamSpec::int("limit_test", 0, "use at most this many test examples (seeded choice)")
        .range(Range::at_least(1.0))
        .unset();
/// `scale`: divide by the largest grey level.
pub(crate) const SCALE: ParamSpec =
    ParamSpec::bool("scale", true, "divide by the largest grey level (255, or 16 for digits), giving [0, 1]");
/// `standardize`: mean/std standardization with training statistics.
pub(crate) const STANDARDIZE: ParamSpec = ParamSpec::choice(
    "standardize",
    &["none", "global", "per_feature"],
    "none",
    "subtract the mean and divide by the std of the training split (after scaling)",
);
/// `data_dir`: where the IDX files are.
pub(crate) const DATA_DIR: ParamSpec =
    ParamSpec::string("data_dir", "", "directory of the IDX files (default: $NABLA_DATA_DIR)").unset();

/// Salts that make the training and test subsets of `limit_*` independent.
const TRAIN_SALT: u64 = 0x7472_6169_6e5f_6c69;
const TEST_SALT: u64 = 0x7465_7374_5f6c_696d;

/// The `split_seed` hyper-parameter.
pub(crate) fn split_seed(p: &Params) -> Result<u64, DataError> {
    Ok(p.usize("split_seed")? as u64)
}

/// The normalization the hyper-parameters ask for.
pub(crate) fn normalization(p: &Params) -> Result<Normalization, DataError> {
    let name = p.str("standardize")?;
    let standardize = Standardize::parse(name)
        .ok_or_else(|| p.invalid(format!("standardize must be none, global or per_feature, got '{name}'")))?;
    Ok(Normalization { scale: p.bool("scale")?, standardize })
}

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

/// Applies `limit_train`, `limit_test` and the normalization.
pub(crate) fn finish(mut splits: DataSplits, p: &Params) -> Result<DataSplits, DataError> {
    let seed = split_seed(p)?;
    if let Some(n) = p.opt_usize("limit_train")? {
        splits.train = splits.train.limited(n, seed, TRAIN_SALT);
    }
    if let Some(n) = p.opt_usize("limit_test")? {
        splits.test = splits.test.limited(n, seed, TEST_SALT);
    }
    splits.normalize(normalization(p)?)?;
    Ok(splits)
}
