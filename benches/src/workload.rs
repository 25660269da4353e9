//! The benchmark workload through nabla's public API: the chapter-3 MNIST MLP built by the
//! trainer from `configs/mnist_mlp.toml` (784-512-256-10, BatchNorm1d + ReLU + Dropout(0.2),
//! He-uniform, cross-entropy, Adam 1e-3), trained with [`Trainer::train_step`] on random
//! MNIST-shaped batches, and run for inference through the layers API in evaluation mode.

use nabla_autograd::{NoGradGuard, Var};
use nabla_data::{DataSplits, Dataset, DatasetRegistration};
use nabla_layers::Module;
use nabla_registry::RawParams;
use nabla_tensor::Rng;
use nabla_train::{TrainConfig, Trainer};
use ndarray::{Array2, ArrayView2};

/// The chapter-3 MNIST MLP configuration (the project's `configs/mnist_mlp.toml`).
pub const MNIST_MLP_TOML: &str = include_str!("../../configs/mnist_mlp.toml");

/// Batches of random MNIST-shaped data: `x` uniform in `[0, 1)`, labels uniform in `0..10`.
#[derive(Clone, Debug)]
pub struct BatchPool {
    xs: Vec<Array2<f32>>,
    ys: Vec<Vec<usize>>,
    next: usize,
}

impl BatchPool {
    /// `count` batches of `batch` rows.
    pub fn new(batch: usize, count: usize, seed: u64) -> BatchPool {
        let mut rng = Rng::seed(seed);
        let xs = (0..count)
            .map(|_| rng.uniform_array::<f32>(&[batch, 784], 0.0, 1.0).into_dimensionality().expect("2-d"))
            .collect();
        let ys = (0..count).map(|_| (0..batch).map(|_| rng.below(10)).collect()).collect();
        BatchPool { xs, ys, next: 0 }
    }

    /// The next batch, round robin.
    pub fn next_batch(&mut self) -> (ArrayView2<'_, f32>, &[usize]) {
        let i = self.next % self.xs.len();
        self.next += 1;
        (self.xs[i].view(), &self.ys[i])
    }

    /// All inputs.
    pub fn inputs(&self) -> &[Array2<f32>] {
        &self.xs
    }
}

/// A small random MNIST-shaped data set (the trainer only needs its shape and classes here).
pub fn random_splits(seed: u64) -> DataSplits {
    random_splits_of(64, 64, seed)
}

/// A random MNIST-shaped data set of `train` and `test` examples: pixels uniform in `[0, 1)`
/// (already scaled, so `max_value` is 1), labels uniform in `0..10`.
pub fn random_splits_of(train: usize, test: usize, seed: u64) -> DataSplits {
    let mut rng = Rng::seed(seed);
    let mut make = |n: usize| {
        let x = rng.uniform_array::<f32>(&[n, 784], 0.0, 1.0).into_dimensionality().expect("2-d");
        let y = (0..n).map(|_| rng.below(10) as u8).collect();
        Dataset::new(x, y, 10, [28, 28], 1.0).expect("valid random data set")
    };
    let train = make(train);
    let test = make(test);
    DataSplits::new(train, test).expect("matching splits")
}

/// The trainer of `configs/mnist_mlp.toml` at `batch`, on random data.
///
/// # Panics
/// When the project's config does not build (a bug the trainer's own tests would catch).
pub fn mnist_trainer(batch: usize) -> Trainer {
    trainer_on_random_data(MNIST_MLP_TOML, "configs/mnist_mlp.toml", batch)
}

/// The trainer of the MNIST config `toml` (called `name` in messages) at `batch`, evaluating
/// at 1000, on [`random_splits`]: the benchmarks time steps, not learning.
///
/// # Panics
/// When the config does not build (a bug the trainer's own tests would catch).
pub fn trainer_on_random_data(toml: &str, name: &str, batch: usize) -> Trainer {
    trainer_on(toml, name, &[format!("batch_size={batch}")], random_splits(batch as u64))
}

/// The trainer of the MNIST config `toml` (called `name` in messages) with `overrides`
/// (`key=value`, after `eval_batch_size=1000`) on `data`.
///
/// # Panics
/// When the config does not build (a bug the trainer's own tests would catch).
pub fn trainer_on(toml: &str, name: &str, overrides: &[String], data: DataSplits) -> Trainer {
    let mut all = vec!["eval_batch_size=1000".to_string()];
    all.extend_from_slice(overrides);
    let config =
        TrainConfig::from_toml_str(toml, name, &all).unwrap_or_else(|e| panic!("{name} parses: {e:?}"));
    let resolved = nabla_registry::resolve::<DatasetRegistration>(&config.data.name)
        .expect("the mnist data set is registered");
    let params = resolved.params(&RawParams::new()).expect("mnist's default hyper-parameters are valid");
    Trainer::with_data(config, data, &params).unwrap_or_else(|e| panic!("the model of {name} builds: {e:?}"))
}

/// One training step of `trainer` on the pool's next batch; returns the loss.
///
/// # Panics
/// When the step fails (a non-finite loss on random data would be a bug).
pub fn train_step(trainer: &mut Trainer, pool: &mut BatchPool) -> f64 {
    let (x, y) = pool.next_batch();
    trainer.train_step(x, y).expect("training step").0
}

/// Inference through the layers API: the trainer's model in evaluation mode, without a
/// graph, on constant inputs made once.
pub struct Inference<'a> {
    trainer: &'a mut Trainer,
    inputs: Vec<Var<f32>>,
    next: usize,
}

impl<'a> Inference<'a> {
    /// Switches `trainer`'s model to evaluation mode (until dropped) for the pool's inputs.
    pub fn new(trainer: &'a mut Trainer, pool: &BatchPool) -> Inference<'a> {
        trainer.model_mut().set_training(false);
        let inputs = pool.inputs().iter().map(|x| Var::constant(x.clone().into_dyn())).collect();
        Inference { trainer, inputs, next: 0 }
    }

    /// The forward pass on the next input; returns the first logit (so the work is used).
    ///
    /// # Panics
    /// When the forward pass fails.
    pub fn step(&mut self) -> f32 {
        let _guard = NoGradGuard::new();
        let x = &self.inputs[self.next % self.inputs.len()];
        self.next += 1;
        let logits = self.trainer.model_mut().forward(x).expect("inference forward");
        let first = logits.value().iter().next().copied().unwrap_or(0.0);
        first
    }
}

impl Drop for Inference<'_> {
    fn drop(&mut self) {
        self.trainer.model_mut().set_training(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trainer_runs_the_chapter_3_model() {
        let mut t = mnist_trainer(8);
        let count: usize = t.model().parameters().iter().map(|(_, p)| p.len()).sum();
        assert_eq!(count, 537_354);
        let mut pool = BatchPool::new(8, 2, 1);
        let first = train_step(&mut t, &mut pool);
        assert!((first - 10f64.ln()).abs() < 1.5, "{first}");
        let mut inf = Inference::new(&mut t, &pool);
        assert!(inf.step().is_finite());
        drop(inf);
        assert!(t.model().is_training());
    }
}
