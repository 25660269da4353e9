//! A steady-state training step through the trainer allocates nothing: the MLP of
//! `configs/mnist_mlp.toml` and the CNN of `configs/mnist_cnn.toml`, on one and two threads,
//! after a few warm-up steps (the buffer pool, the index pool and the graph's node free list
//! then hold everything a step needs). Only where the CPU lacks AVX2 does the product fall back
//! to matrixmultiply, which allocates its packing buffers inside every call; there the count
//! must merely stay the same from step to step.
//!
//! One test in this binary: the counting allocator sees every thread of the process.

use nabla_benches::cnn::mnist_cnn_trainer;
use nabla_benches::sys::{allocations_per_step, CountingAlloc};
use nabla_benches::workload::{mnist_trainer, train_step, BatchPool};
use nabla_tensor::{threads, SgemmKernel};
use nabla_train::Trainer;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Allocations of each of three rounds of steps of `trainer` after warm-up.
fn rounds(trainer: &mut Trainer, batch: usize) -> [f64; 3] {
    let mut pool = BatchPool::new(batch, 4, 1);
    for _ in 0..6 {
        train_step(trainer, &mut pool);
    }
    std::array::from_fn(|_| {
        allocations_per_step(3, &mut || {
            train_step(trainer, &mut pool);
        })
        .0
    })
}

#[test]
fn a_steady_training_step_allocates_nothing() {
    let own_kernel = SgemmKernel::detected() != SgemmKernel::Matrixmultiply;
    for n in [1, 2] {
        threads::set_threads(n);
        for (model, batch, mut trainer) in [("mlp", 16, mnist_trainer(16)), ("cnn", 4, mnist_cnn_trainer(4))]
        {
            let per_step = rounds(&mut trainer, batch);
            if own_kernel {
                assert_eq!(
                    per_step, [0.0; 3],
                    "{model} at batch {batch} on {n} threads: allocations per step"
                );
            } else {
                assert!(
                    per_step.iter().all(|&a| a == per_step[0]),
                    "{model} at batch {batch} on {n} threads: allocations per step vary: {per_step:?}"
                );
            }
        }
    }
}
