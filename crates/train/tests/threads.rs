//! The thread count changes how fast a run goes, never what it computes: the same config
//! trained on 1 and on 2 threads ends with bit-identical parameters and buffers (products are
//! split over output rows or columns, never over their inner dimension).

use nabla_layers::Module;
use nabla_train::{RunOptions, TrainConfig, Trainer};

/// Digits through a layer wide enough that its products are split over threads, with batch
/// norm, dropout and Adam, for one epoch.
fn trained_state(threads: usize) -> (Vec<f32>, f64) {
    nabla_tensor::threads::set_threads(threads);
    let text = r#"
seed = 11
epochs = 1
batch_size = 128
[data]
name = "digits"
scale = true
[model]
[[model.layers]]
name = "linear"
out_features = 384
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
    let mut t =
        Trainer::new(TrainConfig::from_toml_str(text, "<test>", &[]).expect("valid config")).expect("builds");
    let summary = t.run(&RunOptions::in_memory()).expect("trains");
    let mut state: Vec<f32> = Vec::new();
    for (_, p) in t.model().parameters() {
        state.extend(p.value().iter());
    }
    t.model().visit_buffers("", &mut |_, b| state.extend(b.iter()));
    (state, summary.final_metrics.train_loss)
}

#[test]
fn one_and_two_threads_train_bit_identical_models() {
    let (one, loss_one) = trained_state(1);
    let (two, loss_two) = trained_state(2);
    nabla_tensor::threads::set_threads(nabla_tensor::threads::default_threads());
    assert_eq!(one.len(), two.len());
    let differing = one.iter().zip(&two).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
    assert_eq!(differing, 0, "{differing} of {} values differ between 1 and 2 threads", one.len());
    assert_eq!(loss_one.to_bits(), loss_two.to_bits());
}
