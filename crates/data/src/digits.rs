//! `digits`: scikit-learn's 8x8 handwritten digits, embedded in the binary.

use crate::common::{check_not_empty, Preparation};
use crate::{idx, register_dataset, stratified_split, DataError, DataSplits, Dataset};
use nabla_registry::{Alias, HyperParams};

const IMAGES_GZ: &[u8] = include_bytes!("../data/digits-images-idx3-ubyte.gz");
const LABELS_GZ: &[u8] = include_bytes!("../data/digits-labels-idx1-ubyte.gz");

/// The largest grey level of the digits (each pixel counts "on" pixels of a 4x4 block).
pub const DIGITS_MAX_VALUE: f32 = 16.0;

/// All 1,797 embedded digits (8x8, grey levels 0..16, labels 0..9), unsplit and unscaled.
///
/// The UCI "Optical Recognition of Handwritten Digits" test set as scikit-learn ships it
/// (Alpaydin & Kaynak 1998, CC BY 4.0; see `crates/data/data/README.md`).
///
/// # Errors
/// Only if the embedded files were damaged at build time.
pub fn digits() -> Result<Dataset, DataError> {
    let images = idx::parse_images(IMAGES_GZ, "embedded digits images")?;
    let labels = idx::parse_labels(LABELS_GZ, "embedded digits labels", 10)?;
    Dataset::from_idx(images, labels, 10, DIGITS_MAX_VALUE, "embedded digits")
}

/// The hyper-parameters of `digits`.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct DigitsParams {
    /// fraction of each class held out for testing
    #[param(default = 0.2, range = Range::open(0.0, 1.0))]
    pub test_fraction: f64,
    /// Subsets and normalization.
    #[param(flatten)]
    pub prepare: Preparation,
}

/// Loads the `digits` data set: [`digits`] split by [`stratified_split`] with `test_fraction`
/// and `split_seed`, then `limit_*` and normalization.
fn load(p: &DigitsParams) -> Result<DataSplits, DataError> {
    let all = digits()?;
    let test_fraction = p.test_fraction;
    let splits = stratified_split(&all, test_fraction, p.prepare.split_seed)?;
    check_not_empty(&splits, "digits", |split| {
        format!(
            "test_fraction = {test_fraction} leaves no {split} example of the {} embedded digits",
            all.len()
        )
    })?;
    p.prepare.finish(splits)
}

register_dataset!(DigitsParams,
    name: "digits",
    aliases: [Alias::new("sklearn_digits")],
    summary: "scikit-learn 8x8 digits (1,797 images, embedded; seeded stratified split)",
    load: load,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_digits_have_the_published_counts() {
        let d = digits().unwrap();
        assert_eq!(d.len(), 1797);
        assert_eq!(d.image_shape(), [8, 8]);
        assert_eq!(d.class_counts(), vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert_eq!(d.images().iter().fold(0.0f32, |m, &x| m.max(x)), 16.0);
        // The first image of scikit-learn's digits is a 0 whose first row is 0 0 5 13 9 1 0 0.
        assert_eq!(d.labels()[0], 0);
        assert_eq!(
            d.images().row(0).iter().take(8).copied().collect::<Vec<_>>(),
            vec![0., 0., 5., 13., 9., 1., 0., 0.]
        );
    }

    #[test]
    fn default_split_is_stratified_scaled_and_deterministic() {
        let s = nabla_registry::build::<crate::DataSplits>("digits", ()).map(|b| b.value).unwrap();
        assert_eq!(s.train.len() + s.test.len(), 1797);
        assert_eq!(s.test.len(), 359);
        let full = digits().unwrap().class_counts();
        for (c, (&te, &all)) in s.test.class_counts().iter().zip(&full).enumerate() {
            assert_eq!(te, (0.2 * all as f64).round() as usize, "class {c}");
        }
        assert!(s.train.images().iter().all(|&x| (0.0..=1.0).contains(&x)));
        assert_eq!(s, nabla_registry::build::<crate::DataSplits>("digits", ()).map(|b| b.value).unwrap());
        assert_ne!(
            s.test,
            nabla_registry::build::<crate::DataSplits>("digits:split_seed=1", ())
                .map(|b| b.value)
                .unwrap()
                .test
        );
        let small = nabla_registry::build::<crate::DataSplits>(
            "digits:limit_train=100,limit_test=50,scale=false",
            (),
        )
        .map(|b| b.value)
        .unwrap();
        assert_eq!((small.train.len(), small.test.len()), (100, 50));
        assert_eq!(small.train.max_value(), 16.0);
        assert!(nabla_registry::build::<crate::DataSplits>("digits:test_fraction=1.5", ())
            .map(|b| b.value)
            .is_err());
    }

    #[test]
    fn a_test_fraction_that_empties_a_split_is_an_error() {
        for (fraction, split) in [(0.999, "training"), (0.001, "test")] {
            let err =
                nabla_registry::build::<crate::DataSplits>(&format!("digits:test_fraction={fraction}"), ())
                    .map(|b| b.value)
                    .unwrap_err();
            assert!(matches!(err, DataError::EmptySplit { split: s, .. } if s == split), "{err}");
            let msg = err.to_string();
            assert!(msg.contains("digits") && msg.contains(&format!("{split} set is empty")), "{msg}");
            assert!(msg.contains(&fraction.to_string()), "{msg}");
        }
    }
}
