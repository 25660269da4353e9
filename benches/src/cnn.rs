//! The CNN benchmark workload through nabla's public API: the MNIST network of PyTorch's own
//! examples repository (`mnist/main.py`), built by the trainer from `configs/mnist_cnn.toml`, trained
//! with [`Trainer::train_step`] on random MNIST-shaped batches (the same random data as the
//! MLP bench, [`BatchPool`](crate::workload::BatchPool)), and run for inference through the
//! layers API ([`Inference`](crate::workload::Inference)).
//!
//! The network, as the PyTorch reference script `bench_cnn.py` writes it:
//! conv 1->32 k3, ReLU, conv 32->64 k3, ReLU, max pool 2, dropout 0.25, flatten,
//! linear 9216->128, ReLU, dropout 0.5, linear 128->10, log-softmax; NLL loss (mean);
//! Adadelta lr 1.0; PyTorch's default initialization; 1,199,882 parameters.

use crate::workload::{random_splits, trainer_on};
use nabla_train::Trainer;

/// The examples' MNIST CNN as the project trains it (`configs/mnist_cnn.toml`: the flat 784
/// features of an IDX image unflattened to `[1, 28, 28]` first), ending as `bench_cnn.py` does
/// in a log-softmax, for the NLL loss of [`BENCH_OVERRIDES`].
pub const MNIST_CNN_TOML: &str =
    concat!(include_str!("../../configs/mnist_cnn.toml"), "\n[[model.layers]]\nname = \"log_softmax\"\n");

/// What the benchmark changes in the config: the reference script's seed and its loss on the
/// log-probabilities, one epoch. (The config's epoch schedule, StepLR, never acts on the single
/// steps a benchmark takes.)
pub const BENCH_OVERRIDES: [&str; 3] = ["seed=0", "epochs=1", "loss.name=nll"];

/// The number of parameters of the network (as PyTorch counts them for `bench_cnn.py`).
pub const PARAMETERS: usize = 1_199_882;

/// The trainer of the examples' CNN at `batch`, on random data.
///
/// # Panics
/// When the config does not build (a bug the trainer's own tests would catch).
pub fn mnist_cnn_trainer(batch: usize) -> Trainer {
    let mut overrides: Vec<String> = BENCH_OVERRIDES.iter().map(|o| o.to_string()).collect();
    overrides.push(format!("batch_size={batch}"));
    trainer_on(MNIST_CNN_TOML, "mnist_cnn (nabla-benches)", &overrides, random_splits(batch as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{train_step, BatchPool, Inference};
    use nabla_layers::Module;
    use nabla_train::TrainConfig;

    #[test]
    fn the_trainer_runs_the_examples_cnn() {
        let mut t = mnist_cnn_trainer(4);
        let shapes: Vec<(String, Vec<usize>)> =
            t.model().parameters().into_iter().map(|(n, p)| (n, p.shape())).collect();
        let want: Vec<(&str, Vec<usize>)> = vec![
            ("1.weight", vec![32, 1, 3, 3]),
            ("1.bias", vec![32]),
            ("3.weight", vec![64, 32, 3, 3]),
            ("3.bias", vec![64]),
            ("8.weight", vec![128, 9216]),
            ("8.bias", vec![128]),
            ("11.weight", vec![10, 128]),
            ("11.bias", vec![10]),
        ];
        let got: Vec<(&str, Vec<usize>)> = shapes.iter().map(|(n, s)| (n.as_str(), s.clone())).collect();
        assert_eq!(got, want);
        assert_eq!(t.model().num_parameters(), PARAMETERS);
        // The reference script's seed, log-softmax and NLL loss over the project's config.
        let effective = TrainConfig::from_toml_str(&t.effective_config(), "effective", &[]).expect("valid");
        assert_eq!((effective.seed, effective.loss.name.as_str()), (0, "nll"));
        let layers: Vec<&str> = effective.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(layers.len(), 13);
        assert_eq!(layers[12], "log_softmax");
        let mut pool = BatchPool::new(4, 2, 1);
        let first = train_step(&mut t, &mut pool);
        assert!(first.is_finite() && (first - 10f64.ln()).abs() < 1.5, "{first}");
        let mut inf = Inference::new(&mut t, &pool);
        assert!(inf.step().is_finite());
    }
}
