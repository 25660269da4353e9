//! Shared by the trainer's integration tests: a trained model's state read back, to compare
//! runs that must agree (resumed and uninterrupted, ranks and one process, thread counts).

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use nabla_layers::Module;
use nabla_train::Trainer;

/// Each parameter's name and values, in the model's order.
pub fn parameter_values(trainer: &Trainer) -> Vec<(String, Vec<f32>)> {
    trainer.model().parameters().into_iter().map(|(n, p)| (n, p.value().iter().copied().collect())).collect()
}

/// Each parameter's name and the bits of its values, in the model's order: equal only for
/// bit-identical parameters.
pub fn parameter_bits(trainer: &Trainer) -> Vec<(String, Vec<u32>)> {
    parameter_values(trainer)
        .into_iter()
        .map(|(name, values)| (name, values.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

/// The values of every buffer (batch-norm running statistics), concatenated in the model's
/// order.
pub fn buffer_values(trainer: &Trainer) -> Vec<f32> {
    let mut out = Vec::new();
    trainer.model().visit_buffers("", &mut |_, b| out.extend(b.iter().copied()));
    out
}
