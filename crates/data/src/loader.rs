//! Mini-batches over a [`Dataset`]: seeded shuffling per epoch, batch size, drop_last, and
//! batches copied into reused buffers.

use crate::{DataError, Dataset};
use nabla_tensor::ndarray::{s, Array2, ArrayD, ArrayView2, ArrayViewMut2, Axis, Ix2, Zip};
use nabla_tensor::{pool, Rng};

/// How a [`DataLoader`] batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoaderConfig {
    /// Examples per batch (> 0).
    pub batch_size: usize,
    /// Visit the examples in a new seeded order every epoch (else in data set order).
    pub shuffle: bool,
    /// Skip the last batch when it is smaller than `batch_size`.
    pub drop_last: bool,
    /// Seed of the shuffling.
    pub seed: u64,
}

impl Default for LoaderConfig {
    /// Batches of 32, shuffled with seed 0, last partial batch kept.
    fn default() -> LoaderConfig {
        LoaderConfig { batch_size: 32, shuffle: true, drop_last: false, seed: 0 }
    }
}

/// The order of epoch `epoch` depends only on `seed` and `epoch`: a generator seeded with a
/// SplitMix64 mix of both shuffles `0..n` (Fisher-Yates). Resuming at an epoch therefore
/// reproduces its order exactly, whatever happened before.
pub fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    fn splitmix64(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    splitmix64(seed ^ splitmix64(epoch))
}

/// Iterates a data set in mini-batches.
///
/// ```
/// use nabla_data::{DataLoader, LoaderConfig};
/// let splits = nabla_registry::build::<nabla_data::DataSplits>("digits", ()).map(|b| b.value).unwrap();
/// let mut loader = DataLoader::new(&splits.train, LoaderConfig { batch_size: 64, ..Default::default() }).unwrap();
/// let mut batch = loader.new_batch();
/// for epoch in 0..2 {
///     loader.set_epoch(epoch);
///     for i in 0..loader.len() {
///         loader.fill(i, &mut batch).unwrap(); // no allocation: the buffers are reused
///         assert_eq!(batch.x().nrows(), batch.y().len());
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub struct DataLoader<'a> {
    data: &'a Dataset,
    config: LoaderConfig,
    order: Vec<usize>,
    epoch: u64,
}

impl<'a> DataLoader<'a> {
    /// A loader positioned at epoch 0.
    ///
    /// # Errors
    /// [`DataError::Invalid`] when `batch_size` is 0.
    pub fn new(data: &'a Dataset, config: LoaderConfig) -> Result<DataLoader<'a>, DataError> {
        if config.batch_size == 0 {
            return Err(DataError::Invalid("batch_size must be at least 1".into()));
        }
        let mut loader = DataLoader { data, config, order: (0..data.len()).collect(), epoch: 0 };
        loader.set_epoch(0);
        Ok(loader)
    }

    /// The data set.
    pub fn data(&self) -> &'a Dataset {
        self.data
    }

    /// The configuration.
    pub fn config(&self) -> LoaderConfig {
        self.config
    }

    /// Switches to `epoch`'s order (see [`epoch_seed`]); no allocation.
    pub fn set_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
        // After `set_order` the order may have another length: back to every example.
        self.order.clear();
        self.order.extend(0..self.data.len());
        if self.config.shuffle {
            Rng::seed(epoch_seed(self.config.seed, epoch)).shuffle(&mut self.order);
        }
    }

    /// Replaces this epoch's order by `order` (a sampler's choice, such as one process's
    /// shard of the epoch's shuffled order in data-parallel training); the batches are cut
    /// from it until the next [`DataLoader::set_epoch`].
    ///
    /// # Errors
    /// [`DataError::Invalid`] when an index is not an example of the data set.
    pub fn set_order(&mut self, order: &[usize]) -> Result<(), DataError> {
        if let Some(&bad) = order.iter().find(|&&i| i >= self.data.len()) {
            return Err(DataError::Invalid(format!(
                "example index {bad} in the order is out of range: the data set has {} examples",
                self.data.len()
            )));
        }
        self.order.clear();
        self.order.extend_from_slice(order);
        Ok(())
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// This epoch's order of example indices.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Number of batches per epoch.
    pub fn len(&self) -> usize {
        let (n, b) = (self.order.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// Whether an epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Examples in batch `i` (0 when `i >= len()`).
    pub fn batch_len(&self, i: usize) -> usize {
        if i >= self.len() {
            return 0;
        }
        let start = i * self.config.batch_size;
        self.config.batch_size.min(self.order.len() - start)
    }

    /// The example indices of batch `i` in this epoch's order (empty when `i >= len()`).
    pub fn batch_indices(&self, i: usize) -> &[usize] {
        let n = self.batch_len(i);
        let start = i * self.config.batch_size;
        &self.order[start.min(self.order.len())..][..n]
    }

    /// Copies batch `i` into the first rows of `x` (`[>= batch_len, features]`) and the first
    /// entries of `y`; returns the batch length.
    ///
    /// # Errors
    /// [`DataError::Invalid`] when `i >= len()` or the buffers are too small or have the
    /// wrong number of features.
    pub fn batch_into(
        &self,
        i: usize,
        mut x: ArrayViewMut2<'_, f32>,
        y: &mut [usize],
    ) -> Result<usize, DataError> {
        if i >= self.len() {
            return Err(DataError::Invalid(format!(
                "batch {i} out of range: an epoch has {} batches",
                self.len()
            )));
        }
        let n = self.batch_len(i);
        if x.nrows() < n || x.ncols() != self.data.features() || y.len() < n {
            return Err(DataError::Invalid(format!(
                "batch buffers of {}x{} and {} labels cannot hold {n} examples of {} features",
                x.nrows(),
                x.ncols(),
                y.len(),
                self.data.features()
            )));
        }
        let images = self.data.images();
        let labels = self.data.labels();
        for ((&idx, mut row), label) in
            self.batch_indices(i).iter().zip(x.axis_iter_mut(Axis(0))).zip(y.iter_mut())
        {
            let src = images.row(idx);
            // Rows of a standard-layout buffer are contiguous: one memcpy per example.
            match (row.as_slice_mut(), src.as_slice()) {
                (Some(d), Some(s)) => d.copy_from_slice(s),
                _ => Zip::from(&mut row).and(&src).for_each(|d, &s| *d = s),
            }
            *label = usize::from(labels[idx]);
        }
        Ok(n)
    }

    /// Batch `i` copied into a buffer of [`nabla_tensor::pool`] (`[batch_len, features]`),
    /// its labels into `y` (resized to the batch). A training loop that hands the buffer to
    /// `Var::pooled_constant` copies each example once per step, and the buffer goes back to
    /// the pool with the step's graph.
    ///
    /// # Errors
    /// [`DataError::Invalid`] when `i >= len()`.
    pub fn pooled_batch(&self, i: usize, y: &mut Vec<usize>) -> Result<ArrayD<f32>, DataError> {
        let n = self.batch_len(i);
        let buffer = pool::take::<f32>(&[n, self.data.features()]);
        let mut x = buffer.into_dimensionality::<Ix2>().map_err(|e| DataError::Invalid(e.to_string()))?;
        y.resize(n, 0);
        self.batch_into(i, x.view_mut(), y)?;
        Ok(x.into_dyn())
    }

    /// The rows a batch buffer needs: `batch_size`, or the whole data set when that is
    /// smaller (so a huge `batch_size` costs no more memory than one full-data batch).
    pub fn batch_rows(&self) -> usize {
        self.config.batch_size.min(self.data.len())
    }

    /// A buffer for this loader's batches ([`DataLoader::batch_rows`] rows).
    pub fn new_batch(&self) -> Batch {
        Batch {
            x: Array2::zeros((self.batch_rows(), self.data.features())),
            y: vec![0; self.batch_rows()],
            len: 0,
        }
    }

    /// Fills `batch` with batch `i` (reusing its buffers; it grows only if it was made for a
    /// smaller batch size or other features).
    ///
    /// # Errors
    /// [`DataError::Invalid`] when `i >= len()`.
    pub fn fill(&self, i: usize, batch: &mut Batch) -> Result<(), DataError> {
        let (b, f) = (self.batch_rows(), self.data.features());
        if batch.x.nrows() < b || batch.x.ncols() != f {
            batch.x = Array2::zeros((b, f));
        }
        if batch.y.len() < b {
            batch.y.resize(b, 0);
        }
        batch.len = 0;
        batch.len = self.batch_into(i, batch.x.view_mut(), &mut batch.y)?;
        Ok(())
    }
}

/// A reusable batch buffer filled by [`DataLoader::fill`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    x: Array2<f32>,
    y: Vec<usize>,
    len: usize,
}

impl Batch {
    /// The inputs, `[len, features]`.
    pub fn x(&self) -> ArrayView2<'_, f32> {
        self.x.slice(s![..self.len, ..])
    }

    /// The class indices, `len` of them.
    pub fn y(&self) -> &[usize] {
        &self.y[..self.len]
    }

    /// Examples in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Dataset {
        let images = Array2::from_shape_fn((n, 3), |(i, j)| (i * 10 + j) as f32);
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        Dataset::new(images, labels, 10, [1, 3], 255.0).unwrap()
    }

    #[test]
    fn every_index_once_per_epoch_and_rows_match_labels() {
        let d = data(103);
        let mut loader = DataLoader::new(&d, LoaderConfig { batch_size: 10, ..Default::default() }).unwrap();
        assert_eq!(loader.len(), 11);
        let mut batch = loader.new_batch();
        for epoch in 0..3 {
            loader.set_epoch(epoch);
            let mut seen = vec![0; 103];
            for i in 0..loader.len() {
                loader.fill(i, &mut batch).unwrap();
                assert_eq!(batch.len(), if i == 10 { 3 } else { 10 });
                for (row, &y) in batch.x().rows().into_iter().zip(batch.y()) {
                    let idx = (row[0] / 10.0) as usize;
                    assert_eq!(y, idx % 10);
                    assert_eq!(row[2], (idx * 10 + 2) as f32);
                    seen[idx] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "epoch {epoch}");
        }
        assert!(loader.fill(11, &mut batch).is_err());
    }

    #[test]
    fn pooled_batches_hold_the_same_examples_as_filled_ones() {
        let d = data(23);
        let loader =
            DataLoader::new(&d, LoaderConfig { batch_size: 10, seed: 7, ..Default::default() }).unwrap();
        let (mut batch, mut y) = (loader.new_batch(), Vec::new());
        for i in 0..loader.len() {
            loader.fill(i, &mut batch).unwrap();
            let x = loader.pooled_batch(i, &mut y).unwrap();
            assert_eq!(x, batch.x().into_dyn());
            assert_eq!(y, batch.y());
            pool::give(x);
        }
        assert!(loader.pooled_batch(3, &mut y).is_err());
    }

    #[test]
    fn a_huge_batch_size_allocates_one_full_data_batch() {
        let d = data(7);
        let cfg = LoaderConfig { batch_size: usize::MAX, ..Default::default() };
        let loader = DataLoader::new(&d, cfg).unwrap();
        assert_eq!((loader.len(), loader.batch_rows()), (1, 7));
        let mut batch = loader.new_batch();
        loader.fill(0, &mut batch).unwrap();
        assert_eq!(batch.len(), 7);
        assert_eq!(batch.x().dim(), (7, 3));
    }

    #[test]
    fn order_depends_only_on_seed_and_epoch() {
        let d = data(50);
        let cfg = LoaderConfig { batch_size: 8, seed: 3, ..Default::default() };
        let mut a = DataLoader::new(&d, cfg).unwrap();
        let mut b = DataLoader::new(&d, cfg).unwrap();
        a.set_epoch(1);
        a.set_epoch(5);
        b.set_epoch(5);
        assert_eq!(a.order(), b.order());
        b.set_epoch(6);
        assert_ne!(a.order(), b.order());
        let c = DataLoader::new(&d, LoaderConfig { seed: 4, ..cfg }).unwrap();
        let mut a0 = a.clone();
        a0.set_epoch(0);
        assert_ne!(a0.order(), c.order());
        let plain = DataLoader::new(&d, LoaderConfig { shuffle: false, ..cfg }).unwrap();
        assert_eq!(plain.order(), (0..50).collect::<Vec<_>>().as_slice());
    }

    #[test]
    fn drop_last_and_buffer_checks() {
        let d = data(25);
        let l = DataLoader::new(&d, LoaderConfig { batch_size: 10, drop_last: true, ..Default::default() })
            .unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l.batch_len(1), 10);
        assert_eq!(l.batch_len(2), 0);
        let mut x = Array2::<f32>::zeros((5, 3));
        let mut y = vec![0; 10];
        assert!(l.batch_into(0, x.view_mut(), &mut y).is_err());
        let mut x = Array2::<f32>::zeros((10, 3));
        assert_eq!(l.batch_into(1, x.view_mut(), &mut y).unwrap(), 10);
        assert!(DataLoader::new(&d, LoaderConfig { batch_size: 0, ..Default::default() }).is_err());
        let empty = data(0);
        let e = DataLoader::new(&empty, LoaderConfig::default()).unwrap();
        assert!(e.is_empty());
    }

    #[test]
    fn a_given_order_is_batched_until_the_next_epoch() {
        let d = data(25);
        let mut l = DataLoader::new(&d, LoaderConfig { batch_size: 4, ..Default::default() }).unwrap();
        l.set_order(&[3, 1, 4, 1, 5, 9]).unwrap();
        assert_eq!((l.len(), l.batch_len(1)), (2, 2));
        assert_eq!(l.batch_indices(1), &[5, 9]);
        assert!(l.set_order(&[25]).unwrap_err().to_string().contains("index 25"));
        l.set_epoch(1);
        assert_eq!(l.order().len(), 25);
    }
}
