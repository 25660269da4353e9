//! In-memory classification data sets, train/test splits and their normalization.

use crate::{DataError, IdxImages};
use nabla_tensor::ndarray::{Array1, Array2, Axis, Zip};
use nabla_tensor::Rng;

/// An in-memory image classification data set: `images` `[N, rows*cols]` as `f32` (one
/// flattened image per row, row-major pixels) and one label in `0..num_classes` per image.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    images: Array2<f32>,
    labels: Vec<u8>,
    num_classes: usize,
    image_shape: [usize; 2],
    max_value: f32,
}

impl Dataset {
    /// A data set from its parts. `max_value` is the largest possible raw value (the grey
    /// level that [`Normalization::scale`] maps to 1: 255 for MNIST, 16 for digits).
    ///
    /// # Errors
    /// [`DataError::Invalid`] when the shapes disagree, `num_classes` is 0 or above 256, or
    /// `max_value` is not positive; [`DataError::BadLabel`] for a label `>= num_classes`.
    pub fn new(
        images: Array2<f32>,
        labels: Vec<u8>,
        num_classes: usize,
        image_shape: [usize; 2],
        max_value: f32,
    ) -> Result<Dataset, DataError> {
        if images.nrows() != labels.len() {
            return Err(DataError::CountMismatch {
                origin: "Dataset::new".to_string(),
                images: images.nrows(),
                labels: labels.len(),
            });
        }
        if image_shape[0].checked_mul(image_shape[1]) != Some(images.ncols()) {
            return Err(DataError::Invalid(format!(
                "images have {} features, image shape {image_shape:?} needs {}x{}",
                images.ncols(),
                image_shape[0],
                image_shape[1]
            )));
        }
        if num_classes == 0 || num_classes > 256 {
            return Err(DataError::Invalid(format!("num_classes must be in 1..=256, got {num_classes}")));
        }
        if !(max_value.is_finite() && max_value > 0.0) {
            return Err(DataError::Invalid(format!("max_value must be positive, got {max_value}")));
        }
        if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| usize::from(l) >= num_classes)
        {
            return Err(DataError::BadLabel {
                origin: "Dataset::new".to_string(),
                index,
                label,
                num_classes,
            });
        }
        Ok(Dataset { images, labels, num_classes, image_shape, max_value })
    }

    /// A data set from decoded IDX images and labels; `origin` names the source in errors.
    ///
    /// # Errors
    /// [`DataError::CountMismatch`] when there are not as many labels as images, and the
    /// checks of [`Dataset::new`].
    pub fn from_idx(
        images: IdxImages,
        labels: Vec<u8>,
        num_classes: usize,
        max_value: f32,
        origin: &str,
    ) -> Result<Dataset, DataError> {
        if images.count != labels.len() {
            return Err(DataError::CountMismatch {
                origin: origin.to_string(),
                images: images.count,
                labels: labels.len(),
            });
        }
        let features = images.rows.checked_mul(images.cols).ok_or_else(|| {
            DataError::Invalid(format!("{origin}: images of {}x{} pixels", images.rows, images.cols))
        })?;
        // Takes the decoded buffer as it is: no copy of the data set is made.
        let array = Array2::from_shape_vec((images.count, features), images.pixels)
            .map_err(|e| DataError::Invalid(format!("{origin}: {e}")))?;
        Dataset::new(array, labels, num_classes, [images.rows, images.cols], max_value)
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The images, `[N, features]`.
    pub fn images(&self) -> &Array2<f32> {
        &self.images
    }

    /// The labels, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Number of classes (labels are in `0..num_classes`).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// `[rows, cols]` of one image.
    pub fn image_shape(&self) -> [usize; 2] {
        self.image_shape
    }

    /// Features per example (`rows * cols`).
    pub fn features(&self) -> usize {
        self.images.ncols()
    }

    /// The largest raw value (255 for MNIST, 16 for digits).
    pub fn max_value(&self) -> f32 {
        self.max_value
    }

    /// How many examples each class has.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        self.labels.iter().for_each(|&l| counts[usize::from(l)] += 1);
        counts
    }

    /// The examples at `indices`, in that order.
    ///
    /// # Errors
    /// [`DataError::Invalid`] for an index `>= len()`.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset, DataError> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(DataError::Invalid(format!("index {bad} out of range for {} examples", self.len())));
        }
        Ok(Dataset {
            images: self.images.select(Axis(0), indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            num_classes: self.num_classes,
            image_shape: self.image_shape,
            max_value: self.max_value,
        })
    }

    /// At most `limit` examples chosen by a seeded shuffle (then kept in their original
    /// order): the same `(seed, salt)` always picks the same subset.
    pub fn limited(&self, limit: usize, seed: u64, salt: u64) -> Dataset {
        if limit >= self.len() {
            return self.clone();
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        Rng::seed(seed ^ salt).shuffle(&mut order);
        let mut chosen = order[..limit].to_vec();
        chosen.sort_unstable();
        // In range by construction.
        self.subset(&chosen).unwrap_or_else(|_| self.clone())
    }

    fn images_mut(&mut self) -> &mut Array2<f32> {
        &mut self.images
    }
}

/// How standardization statistics are computed (always on the training split only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, nabla_registry::ParamChoice)]
pub enum Standardize {
    /// No standardization.
    #[default]
    None,
    /// One mean and one standard deviation over all training pixels (as the usual MNIST
    /// `Normalize((0.1307,), (0.3081,))`).
    Global,
    /// A mean and a standard deviation per feature (pixel position); a feature that is
    /// constant in the training split gets std 1 (it is only centred), as scikit-learn's
    /// `StandardScaler` does.
    PerFeature,
}

/// Normalization applied once to both splits when loading (so batches are plain copies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Normalization {
    /// Divide by the data set's largest grey level ([`Dataset::max_value`]), giving [0, 1].
    pub scale: bool,
    /// Then standardize with statistics of the training split.
    pub standardize: Standardize,
}

/// Standardization statistics: `x <- (x - mean) / std`, per feature (or one value for
/// [`Standardize::Global`], repeated over the features).
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    /// Mean per feature.
    pub mean: Array1<f32>,
    /// Standard deviation per feature (never 0).
    pub std: Array1<f32>,
}

impl Standardizer {
    /// Computes the statistics of `data` (in `f64`; population standard deviation).
    ///
    /// # Errors
    /// [`DataError::Invalid`] for an empty data set or `Standardize::None`.
    pub fn fit(data: &Dataset, mode: Standardize) -> Result<Standardizer, DataError> {
        if data.is_empty() {
            return Err(DataError::Invalid(
                "cannot compute standardization statistics of an empty split".into(),
            ));
        }
        let x = data.images();
        let n = x.nrows() as f64;
        let f = x.ncols();
        let (mean, std) = match mode {
            Standardize::None => return Err(DataError::Invalid("no standardization requested".into())),
            Standardize::Global => {
                let count = n * f as f64;
                let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / count;
                let var = x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / count;
                let std = if var > 0.0 { var.sqrt() } else { 1.0 };
                (Array1::from_elem(f, mean as f32), Array1::from_elem(f, std as f32))
            }
            Standardize::PerFeature => {
                let mut sum = Array1::<f64>::zeros(f);
                for row in x.rows() {
                    Zip::from(&mut sum).and(&row).for_each(|s, &v| *s += f64::from(v));
                }
                let mean = sum.mapv(|s| s / n);
                let mut sq = Array1::<f64>::zeros(f);
                for row in x.rows() {
                    Zip::from(&mut sq)
                        .and(&row)
                        .and(&mean)
                        .for_each(|s, &v, &m| *s += (f64::from(v) - m).powi(2));
                }
                let std = sq.mapv(|s| if s > 0.0 { (s / n).sqrt() } else { 1.0 });
                (mean.mapv(|m| m as f32), std.mapv(|s| s as f32))
            }
        };
        Ok(Standardizer { mean, std })
    }

    /// Applies the statistics to `data` in place.
    ///
    /// # Errors
    /// [`DataError::Invalid`] when the number of features differs.
    pub fn apply(&self, data: &mut Dataset) -> Result<(), DataError> {
        if data.features() != self.mean.len() {
            return Err(DataError::Invalid(format!(
                "standardizer has {} features, data has {}",
                self.mean.len(),
                data.features()
            )));
        }
        let inv: Array1<f32> = self.std.mapv(|s| 1.0 / s);
        for mut row in data.images_mut().rows_mut() {
            Zip::from(&mut row).and(&self.mean).and(&inv).for_each(|x, &m, &i| *x = (*x - m) * i);
        }
        Ok(())
    }
}

/// A training and a test split, with the normalization applied to both.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSplits {
    /// The training split.
    pub train: Dataset,
    /// The held-out split.
    pub test: Dataset,
    /// What [`DataSplits::normalize`] applied (default: nothing).
    pub normalization: Normalization,
    /// The statistics used for standardization (fitted on `train`), if any.
    pub standardizer: Option<Standardizer>,
}

impl DataSplits {
    /// Two splits, not yet normalized.
    ///
    /// # Errors
    /// [`DataError::Invalid`] when the splits disagree on image shape or classes.
    pub fn new(train: Dataset, test: Dataset) -> Result<DataSplits, DataError> {
        if train.image_shape() != test.image_shape() || train.num_classes() != test.num_classes() {
            return Err(DataError::Invalid(format!(
                "train ({:?}, {} classes) and test ({:?}, {} classes) splits disagree",
                train.image_shape(),
                train.num_classes(),
                test.image_shape(),
                test.num_classes()
            )));
        }
        Ok(DataSplits { train, test, normalization: Normalization::default(), standardizer: None })
    }

    /// Scales both splits to [0, 1] and/or standardizes them with statistics of the training
    /// split only. Can be applied once.
    ///
    /// # Errors
    /// [`DataError::Invalid`] when the splits were already normalized or the training split
    /// is empty and standardization is requested.
    pub fn normalize(&mut self, normalization: Normalization) -> Result<(), DataError> {
        if self.normalization != Normalization::default() {
            return Err(DataError::Invalid(format!(
                "the splits are already normalized ({:?})",
                self.normalization
            )));
        }
        if normalization.scale {
            for split in [&mut self.train, &mut self.test] {
                let inv = 1.0 / split.max_value();
                split.images_mut().mapv_inplace(|x| x * inv);
            }
        }
        if normalization.standardize != Standardize::None {
            let s = Standardizer::fit(&self.train, normalization.standardize)?;
            s.apply(&mut self.train)?;
            s.apply(&mut self.test)?;
            self.standardizer = Some(s);
        }
        self.normalization = normalization;
        Ok(())
    }
}

/// Splits `data` into train and test, stratified by class: within each class (in label
/// order) the examples are shuffled by one generator seeded with `seed`, and the first
/// `round(test_fraction * class_count)` go to the test split. Both splits keep the original
/// order of the examples. Same data, fraction and seed: same split.
///
/// # Errors
/// [`DataError::Invalid`] unless `0 < test_fraction < 1`.
pub fn stratified_split(data: &Dataset, test_fraction: f64, seed: u64) -> Result<DataSplits, DataError> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::Invalid(format!("test_fraction must be in (0, 1), got {test_fraction}")));
    }
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); data.num_classes()];
    for (i, &l) in data.labels().iter().enumerate() {
        by_class[usize::from(l)].push(i);
    }
    let mut rng = Rng::seed(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut members in by_class {
        rng.shuffle(&mut members);
        let n_test = ((test_fraction * members.len() as f64).round() as usize).min(members.len());
        test.extend_from_slice(&members[..n_test]);
        train.extend_from_slice(&members[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    DataSplits::new(data.subset(&train)?, data.subset(&test)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Dataset {
        let images = Array2::from_shape_vec((4, 2), vec![0., 2., 4., 2., 8., 2., 4., 2.]).unwrap();
        Dataset::new(images, vec![0, 1, 2, 1], 3, [1, 2], 8.0).unwrap()
    }

    #[test]
    fn construction_checks_shapes_and_labels() {
        let d = toy();
        assert_eq!(d.class_counts(), vec![1, 2, 1]);
        assert!(Dataset::new(Array2::zeros((2, 2)), vec![0], 3, [1, 2], 1.0).is_err());
        assert!(Dataset::new(Array2::zeros((1, 3)), vec![0], 3, [1, 2], 1.0).is_err());
        assert!(matches!(
            Dataset::new(Array2::zeros((1, 2)), vec![3], 3, [1, 2], 1.0),
            Err(DataError::BadLabel { .. })
        ));
        assert!(d.subset(&[4]).is_err());
        assert_eq!(d.subset(&[3, 0]).unwrap().labels(), &[1, 0]);
        let idx = IdxImages { count: 2, rows: 1, cols: 2, pixels: vec![1., 2., 3., 4.] };
        assert!(matches!(
            Dataset::from_idx(idx, vec![0], 10, 255.0, "t"),
            Err(DataError::CountMismatch { .. })
        ));
    }

    #[test]
    fn limited_is_seeded_and_keeps_order() {
        let d = toy();
        let a = d.limited(2, 7, 1);
        assert_eq!(a, d.limited(2, 7, 1));
        assert_eq!(a.len(), 2);
        assert_eq!(d.limited(10, 7, 1), d);
    }

    #[test]
    fn scaling_and_standardization_use_train_statistics() {
        let mut s = DataSplits::new(toy(), toy()).unwrap();
        s.normalize(Normalization { scale: true, standardize: Standardize::PerFeature }).unwrap();
        let st = s.standardizer.clone().unwrap();
        // Feature 0 scaled: 0, .5, 1, .5 -> mean .5, std sqrt(.125); feature 1 constant -> std 1.
        assert!((st.mean[0] - 0.5).abs() < 1e-7 && (st.std[0] - 0.125f32.sqrt()).abs() < 1e-7);
        assert_eq!((st.mean[1], st.std[1]), (0.25, 1.0));
        let col0: Vec<f32> = s.train.images().column(0).to_vec();
        let mean: f32 = col0.iter().sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6);
        assert!(s.train.images().column(1).iter().all(|&x| x == 0.0));
        assert!(s.normalize(Normalization { scale: true, standardize: Standardize::None }).is_err());

        let mut g = DataSplits::new(toy(), toy()).unwrap();
        g.normalize(Normalization { scale: false, standardize: Standardize::Global }).unwrap();
        let all: Vec<f32> = g.train.images().iter().copied().collect();
        let m = all.iter().sum::<f32>() / 8.0;
        let v = all.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / 8.0;
        assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5, "{m} {v}");
    }

    #[test]
    fn stratified_split_is_per_class_and_seeded() {
        let labels: Vec<u8> = (0..100).map(|i| if i < 60 { 0 } else { 1 }).collect();
        let images = Array2::from_shape_fn((100, 1), |(i, _)| i as f32);
        let d = Dataset::new(images, labels, 2, [1, 1], 100.0).unwrap();
        let s = stratified_split(&d, 0.25, 1).unwrap();
        assert_eq!(s.test.class_counts(), vec![15, 10]);
        assert_eq!(s.train.class_counts(), vec![45, 30]);
        assert_eq!(s, stratified_split(&d, 0.25, 1).unwrap());
        assert_ne!(s.test, stratified_split(&d, 0.25, 2).unwrap().test);
        let mut all: Vec<f32> = s.train.images().iter().chain(s.test.images().iter()).copied().collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..100).map(|i| i as f32).collect::<Vec<_>>());
        assert!(stratified_split(&d, 1.0, 0).is_err());
        assert!(stratified_split(&d, f64::NAN, 0).is_err());
    }
}
