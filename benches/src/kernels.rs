//! Kernel figures: square matrix products through nabla's tensor API (split over nabla's
//! threads) against one direct call of `matrixmultiply::sgemm` (which runs on one thread), and
//! an Adam step over many parameters against a plain copy of the same size (the memory
//! bandwidth the step could reach).

use crate::measure::{paired, Summary, Timing};
use nabla_optim::{Optimizer, ParamMut};
use nabla_tensor::{matmul, pool, Rng};
use ndarray::{Array2, ArrayD, IxDyn};
use std::hint::black_box;

fn square(n: usize, rng: &mut Rng) -> Array2<f32> {
    rng.uniform_array::<f32>(&[n, n], -1.0, 1.0).into_dimensionality().expect("2-d")
}

/// `n x n` products: `nabla_tensor::matmul` (the result is a pooled array, given back each
/// time) against one `matrixmultiply::sgemm` call into a preallocated output, in alternating
/// windows. Rates are GFLOP/s (`2 n^3` per product); returns (nabla, sgemm).
pub fn gemm(n: usize, timing: &Timing) -> (Summary, Summary) {
    let mut rng = Rng::seed(n as u64);
    let a = square(n, &mut rng);
    let b = square(n, &mut rng);
    let (ad, bd) = (a.view().into_dyn(), b.view().into_dyn());
    let mut c = Array2::<f32>::zeros((n, n));
    let mut nabla = || {
        let out = matmul(black_box(&ad), black_box(&bd)).expect("square product");
        black_box(&out);
        pool::give(out);
    };
    let mut direct = || {
        // SAFETY: all three are contiguous n x n arrays; `c` is borrowed mutably only here.
        unsafe {
            matrixmultiply::sgemm(
                n,
                n,
                n,
                1.0,
                a.as_ptr(),
                n as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        black_box(&c);
    };
    let gflop = 2.0 * (n as f64).powi(3) / 1e9;
    paired(&mut nabla, &mut direct, gflop, timing)
}

/// The traffic of one Adam step over `n` parameters, in bytes: it reads the parameter, the
/// gradient and both moments and writes the parameter and both moments.
pub fn adam_bytes(n: usize) -> f64 {
    (4 * n * 7) as f64
}

/// The traffic of a copy of `n` values, in bytes (one read, one write).
pub fn copy_bytes(n: usize) -> f64 {
    (4 * n * 2) as f64
}

/// One Adam step (the registered `adam`, lr 1e-6) over `n` parameters in one tensor,
/// against `dst.assign(src)` of `n` values, in alternating windows. Rates are GB/s of the
/// traffic above; returns (adam, copy).
pub fn adam_vs_copy(n: usize, timing: &Timing) -> (Summary, Summary) {
    let mut rng = Rng::seed(3);
    let mut param = rng.normal_array::<f32>(&[n], 0.0, 1.0);
    let grad = rng.normal_array::<f32>(&[n], 0.0, 1.0);
    let mut opt = nabla_registry::build::<dyn nabla_optim::Optimizer<f32>>("adam:lr=1e-6", ())
        .map(|b| b.value)
        .expect("adam is registered");
    let mut dst = ArrayD::<f32>::zeros(IxDyn(&[n]));
    let mut step = |opt: &mut dyn Optimizer<f32>| {
        opt.step(&mut [ParamMut::new("w", param.view_mut(), Some(grad.view()))]).expect("adam step");
    };
    step(opt.as_mut()); // allocate the state outside the timing
    let mut adam = || step(opt.as_mut());
    let mut copy = || {
        dst.assign(black_box(&grad));
        black_box(&dst);
    };
    let (adam_s, copy_s) = paired(&mut adam, &mut copy, 1.0, timing);
    // Rates were counted in steps per second: convert to GB/s of each one's traffic.
    let scale = |s: Summary, bytes: f64| Summary {
        windows: s.windows.iter().map(|r| r * bytes / 1e9).collect(),
        overall: s.overall * bytes / 1e9,
        units_per_step: bytes / 1e9,
        ..s
    };
    (scale(adam_s, adam_bytes(n)), scale(copy_s, copy_bytes(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_kernel_figures_are_positive() {
        let t = Timing { seconds: 0.01, reps: 1, warmup_seconds: 0.0 };
        let (a, b) = gemm(16, &t);
        assert!(a.median() > 0.0 && b.median() > 0.0);
        let (a, c) = adam_vs_copy(1000, &t);
        assert!(a.median() > 0.0 && c.median() > 0.0);
        assert!((a.units_per_step - adam_bytes(1000) / 1e9).abs() < 1e-15);
    }
}
