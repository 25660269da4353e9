//! The CNN benchmark workload through nabla's public API: the MNIST network of PyTorch's own
//! examples repository (`mnist/main.py`), built by the trainer from a TOML config, trained
//! with [`Trainer::train_step`] on random MNIST-shaped batches (the same random data as the
//! MLP bench, [`BatchPool`](crate::workload::BatchPool)), and run for inference through the
//! layers API ([`Inference`](crate::workload::Inference)).
//!
//! The network, as the PyTorch reference script `bench_cnn.py` writes it:
//! conv 1->32 k3, ReLU, conv 32->64 k3, ReLU, max pool 2, dropout 0.25, flatten,
//! linear 9216->128, ReLU, dropout 0.5, linear 128->10, log-softmax; NLL loss (mean);
//! Adadelta lr 1.0; PyTorch's default initialization; 1,199,882 parameters.

use crate::workload::trainer_on_random_data;
use nabla_train::Trainer;

/// The examples' MNIST CNN as a nabla config (what `configs/mnist_cnn.toml` trains, here with
/// its training schedule left out: a benchmark takes single steps). The flat 784 features of
/// an IDX image are unflattened to `[1, 28, 28]` first.
pub const MNIST_CNN_TOML: &str = r#"
seed = 0
epochs = 1
batch_size = 64

[data]
name = "mnist"
scale = true

[[model.layers]]
name = "unflatten"
dim = 1
unflattened_size = [1, 28, 28]

[[model.layers]]
name = "conv2d"
out_channels = 32
kernel_size = 3

[[model.layers]]
name = "relu"

[[model.layers]]
name = "conv2d"
out_channels = 64
kernel_size = 3

[[model.layers]]
name = "relu"

[[model.layers]]
name = "max_pool2d"
kernel_size = 2

[[model.layers]]
name = "dropout"
p = 0.25

[[model.layers]]
name = "flatten"

[[model.layers]]
name = "linear"
out_features = 128

[[model.layers]]
name = "relu"

[[model.layers]]
name = "dropout"
p = 0.5

[[model.layers]]
name = "linear"
out_features = 10

[[model.layers]]
name = "log_softmax"

[loss]
name = "nll"

[optimizer]
name = "adadelta"
lr = 1.0
"#;

/// The number of parameters of the network (as PyTorch counts them for `bench_cnn.py`).
pub const PARAMETERS: usize = 1_199_882;

/// The trainer of the examples' CNN at `batch`, on random data.
///
/// # Panics
/// When the config does not build (a bug the trainer's own tests would catch).
pub fn mnist_cnn_trainer(batch: usize) -> Trainer {
    trainer_on_random_data(MNIST_CNN_TOML, "mnist_cnn (nabla-benches)", batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{train_step, BatchPool, Inference};
    use nabla_layers::Module;

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
        let mut pool = BatchPool::new(4, 2, 1);
        let first = train_step(&mut t, &mut pool);
        assert!(first.is_finite() && (first - 10f64.ln()).abs() < 1.5, "{first}");
        let mut inf = Inference::new(&mut t, &pool);
        assert!(inf.step().is_finite());
    }
}
