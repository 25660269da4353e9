//! GEMM throughput of `nabla_tensor::gemm_into` (matrixmultiply sgemm/dgemm, threaded) on
//! square matrices of 128, 512 and 1024, plus the transposed-operand form used by backward.
//!
//! Criterion's throughput is set to `2 n^3` elements per iteration, so its "elem/s" figure is
//! FLOP/s (e.g. `thrpt: 60 Gelem/s` = 60 GFLOP/s). A GFLOP/s line is also printed per size.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nabla_tensor::ndarray::Array2;
use nabla_tensor::{gemm_into, Element, Rng};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn matrices<T: Element>(n: usize, seed: u64) -> (Array2<T>, Array2<T>, Array2<T>) {
    let mut r = Rng::seed(seed);
    let a = r.uniform_array::<T>(&[n, n], T::from_f64(-1.0), T::one());
    let b = r.uniform_array::<T>(&[n, n], T::from_f64(-1.0), T::one());
    let to2 = |x: nabla_tensor::ndarray::ArrayD<T>| x.into_dimensionality().expect("2-d");
    (to2(a), to2(b), Array2::zeros((n, n)))
}

/// A quick GFLOP/s figure (outside criterion) so the number is visible at a glance.
fn print_gflops<T: Element>(n: usize, transposed: bool) {
    let (a, b, mut c) = matrices::<T>(n, 1);
    let reps = (2e9 / (2.0 * (n as f64).powi(3))).clamp(1.0, 200.0) as usize;
    let run = |c: &mut Array2<T>| {
        let bv = if transposed { b.t() } else { b.view() };
        gemm_into(T::one(), a.view(), bv, T::zero(), c.view_mut());
    };
    run(&mut c);
    let t = Instant::now();
    for _ in 0..reps {
        run(&mut c);
    }
    let secs = t.elapsed().as_secs_f64() / reps as f64;
    let gflops = 2.0 * (n as f64).powi(3) / secs / 1e9;
    println!(
        "gemm {} n={n}{}: {:.3} ms, {gflops:.1} GFLOP/s",
        T::NAME,
        if transposed { " (B transposed view)" } else { "" },
        secs * 1e3
    );
}

fn bench_gemm(c: &mut Criterion) {
    for n in [128usize, 512, 1024] {
        print_gflops::<f32>(n, false);
    }
    print_gflops::<f32>(512, true);
    print_gflops::<f64>(512, false);
    let mut group = c.benchmark_group("sgemm");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for n in [128usize, 512, 1024] {
        let (a, b, mut out) = matrices::<f32>(n, 2);
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        group.bench_with_input(BenchmarkId::new("square", n), &n, |bch, _| {
            bch.iter(|| gemm_into(1.0, black_box(a.view()), black_box(b.view()), 0.0, out.view_mut()))
        });
        group.bench_with_input(BenchmarkId::new("b_transposed", n), &n, |bch, _| {
            bch.iter(|| gemm_into(1.0, black_box(a.view()), black_box(b.t()), 0.0, out.view_mut()))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("dgemm");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let n = 512usize;
    let (a, b, mut out) = matrices::<f64>(n, 3);
    group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
    group.bench_function(BenchmarkId::new("square", n), |bch| {
        bch.iter(|| gemm_into(1.0, black_box(a.view()), black_box(b.view()), 0.0, out.view_mut()))
    });
    group.finish();
}

criterion_group!(benches, bench_gemm);
criterion_main!(benches);
