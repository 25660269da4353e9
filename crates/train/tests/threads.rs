//! The thread count changes how fast a run goes, never what it computes: the same config
//! trained on 1 and on 2 threads ends with bit-identical parameters and buffers (products are
//! split over output rows or columns, never over their inner dimension).

mod common;

use common::{buffer_values, parameter_values};
use nabla_train::{RunOptions, TrainConfig, Trainer};

/// One epoch of `model` (its layers, loss and optimizer) on the scaled digits in batches of
/// 128, from `seed`.
fn one_epoch_on_digits(seed: u64, model: &str) -> String {
    format!(
        r#"
seed = {seed}
epochs = 1
batch_size = 128
[data]
name = "digits"
scale = true
{model}"#
    )
}

/// A layer wide enough that its products are split over threads, with batch norm, dropout
/// and Adam (its 77k parameters enough for the optimizer step to be split too).
const MLP: &str = r#"
[[model.layers]]
name = "linear"
out_features = 1024
[[model.layers]]
name = "batch_norm1d"
[[model.layers]]
name = "relu"
[[model.layers]]
name = "dropout"
p = 0.2
[[model.layers]]
name = "linear"
out_features = 10
[loss]
name = "cross_entropy"
[optimizer]
name = "adam"
lr = 0.001
"#;

/// The digits as 8x8 images through two convolutions (split over samples forward and for the
/// input gradient, over the weight gradient's columns), batch norm and pooling.
const CNN: &str = r#"
[[model.layers]]
name = "unflatten"
dim = 1
unflattened_size = [1, 8, 8]
[[model.layers]]
name = "conv2d"
out_channels = 16
kernel_size = 3
padding = 1
[[model.layers]]
name = "batch_norm2d"
[[model.layers]]
name = "relu"
[[model.layers]]
name = "conv2d"
out_channels = 16
kernel_size = 3
[[model.layers]]
name = "max_pool2d"
kernel_size = 2
[[model.layers]]
name = "flatten"
[[model.layers]]
name = "linear"
out_features = 10
[loss]
name = "cross_entropy"
[optimizer]
name = "sgd"
lr = 0.05
momentum = 0.9
"#;

/// The parameters and buffers after one epoch of `text` on `threads` threads, and the loss.
fn trained_state(text: &str, threads: usize) -> (Vec<f32>, f64) {
    nabla_tensor::threads::set_threads(threads);
    let config = TrainConfig::from_toml_str(text, "<test>", &[]).expect("valid config");
    let mut t = Trainer::new(config).expect("builds");
    let summary = t.run(&RunOptions::in_memory()).expect("trains");
    let mut state: Vec<f32> = parameter_values(&t).into_iter().flat_map(|(_, values)| values).collect();
    state.extend(buffer_values(&t));
    (state, summary.final_metrics.train_loss)
}

#[test]
fn one_and_two_threads_train_bit_identical_models() {
    // One test, not one per model: the thread count is the process's.
    for (name, text) in [("mlp", one_epoch_on_digits(11, MLP)), ("cnn", one_epoch_on_digits(12, CNN))] {
        let (one, loss_one) = trained_state(&text, 1);
        let (two, loss_two) = trained_state(&text, 2);
        assert_eq!(one.len(), two.len());
        let differing = one.iter().zip(&two).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(
            differing,
            0,
            "{name}: {differing} of {} values differ between 1 and 2 threads",
            one.len()
        );
        assert_eq!(loss_one.to_bits(), loss_two.to_bits(), "{name}");
    }
    nabla_tensor::threads::set_threads(nabla_tensor::threads::default_threads());
}
