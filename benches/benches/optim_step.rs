//! One optimizer step over 1 M and 10 M `f32` parameters for every built-in optimizer,
//! reported as bytes of memory traffic per second so it can be compared with the memory
//! bandwidth: each step reads the parameter, the gradient and every state buffer and writes
//! back the parameter and the buffers, i.e. `4 * n * (3 + 2 * buffers)` bytes.
//!
//! Two baselines of the same size: a plain copy (`2 * 4n` bytes: one read, one write) and
//! the bare `p -= lr * g` loop (`3 * 4n` bytes).
//!
//! Run with `cargo bench -p nabla-benches --bench optim_step`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nabla_optim::ParamMut;
use nabla_tensor::ndarray::{ArrayD, IxDyn, Zip};
use nabla_tensor::Rng;
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 2] = [1_000_000, 10_000_000];

const OPTIMIZERS: [&str; 14] = [
    "sgd",
    "momentum",
    "nag",
    "adagrad",
    "rmsprop",
    "rmsprop:centered=true,momentum=0.9",
    "adadelta",
    "adam",
    "adam:amsgrad=true",
    "adamw",
    "radam",
    "nadam",
    "adamax",
    "sgd:weight_decay=0.01",
];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("optim_step");
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    for n in SIZES {
        let mut rng = Rng::seed(0);
        let mut param = rng.normal_array::<f32>(&[n], 0.0, 1.0);
        let grad = rng.normal_array::<f32>(&[n], 0.0, 1.0);

        let bytes = |streams: usize| Throughput::Bytes((4 * n * streams) as u64);
        let mut dst = ArrayD::<f32>::zeros(IxDyn(&[n]));
        group.throughput(bytes(2));
        group.bench_with_input(BenchmarkId::new("copy", n), &n, |b, _| {
            b.iter(|| dst.assign(black_box(&grad)));
        });
        group.throughput(bytes(3));
        group.bench_with_input(BenchmarkId::new("p-=lr*g", n), &n, |b, _| {
            b.iter(|| Zip::from(&mut param).and(black_box(&grad)).for_each(|p, &g| *p -= 1e-6 * g));
        });

        for spec in OPTIMIZERS {
            let mut opt = nabla_registry::build::<dyn nabla_optim::Optimizer<f32>>(
                &format!("{spec}{}lr=1e-6", if spec.contains(':') { ',' } else { ':' }),
                (),
            )
            .map(|b| b.value)
            .expect("built-in optimizer");
            let mut step = |opt: &mut dyn nabla_optim::Optimizer<f32>| {
                opt.step(&mut [ParamMut::new("w", param.view_mut(), Some(grad.view()))]).expect("step");
            };
            // The first step allocates the state; measure the steady state.
            step(opt.as_mut());
            let buffers = opt.state_dict().arrays.len();
            group.throughput(bytes(3 + 2 * buffers));
            group.bench_with_input(BenchmarkId::new(spec, n), &n, |b, _| b.iter(|| step(opt.as_mut())));
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
