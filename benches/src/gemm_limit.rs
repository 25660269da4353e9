//! The GEMM-bound limit of a convolutional network: the samples/s it would reach if its
//! matrix products ran at the speed the best GEMM measured on the machine (`gemm_into`:
//! nabla_tensor::sgemm's kernel split over nabla's threads) reaches on exactly those products
//! and everything else (im2col, activations, pooling, dropout, the loss, the optimizer) took
//! no time.
//!
//! The products are the ones nabla's ops issue, with their shapes and operand layouts:
//! `conv2d` works per sample, `W [O, C kH kW] @ cols [C kH kW, L]` forward (`L = H_out W_out`),
//! `dY [O, L] @ cols^T` for the weight gradient and `W^T @ dY [O, L]` for the input's column
//! gradient (transposes are strided views, not copies); `linear` is one product per pass,
//! `X [B, in] @ W^T`, `dY @ W`, `dY^T @ X`. Each distinct shape is timed on its own
//! (warm caches: the limit errs on the high side, against nabla), and the limit is
//! `batch / sum_i (flop_i / rate_i)` over the products of one step.

use crate::measure::{single, Summary, Timing};
use nabla_tensor::Rng;
use ndarray::Array2;
use std::collections::BTreeMap;
use std::hint::black_box;

/// One matrix product of a step, `C [m, n] = A [m, k] B [k, n]`, issued `count` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Product {
    /// The layer (`conv2`).
    pub layer: &'static str,
    /// The pass: `forward`, `dW` (weight gradient) or `dX` (input gradient).
    pub pass: &'static str,
    /// Rows of `A` and `C`.
    pub m: usize,
    /// The inner length.
    pub k: usize,
    /// Columns of `B` and `C`.
    pub n: usize,
    /// `A` is read through a transposed view of a row-major `[k, m]` array.
    pub a_transposed: bool,
    /// `B` is read through a transposed view of a row-major `[n, k]` array.
    pub b_transposed: bool,
    /// How many times one step issues it.
    pub count: usize,
}

impl Product {
    /// Floating-point operations of one product (`2 m k n`).
    pub fn flop(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }

    /// The shape and layout, which decide the speed (not the name or count).
    fn key(&self) -> (usize, usize, usize, bool, bool) {
        (self.m, self.k, self.n, self.a_transposed, self.b_transposed)
    }
}

/// A convolution with stride 1, no padding, dilation 1 and one group, as the benchmark's CNN
/// has them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv {
    /// Name of the layer in the listing (`conv1`).
    pub name: &'static str,
    /// Input channels.
    pub c: usize,
    /// Output channels.
    pub o: usize,
    /// Kernel size (square).
    pub k: usize,
    /// Input height and width (square).
    pub size: usize,
    /// Whether the backward computes the input's gradient (not for the first layer, whose
    /// input is data).
    pub input_grad: bool,
}

/// The products of one convolution at `batch`: forward, and with `training` the backward.
pub fn conv_products(conv: &Conv, batch: usize, training: bool) -> Vec<Product> {
    let out = conv.size - conv.k + 1;
    let (l, kg) = (out * out, conv.c * conv.k * conv.k);
    let p = |pass, m, k, n, a_transposed, b_transposed| Product {
        layer: conv.name,
        pass,
        m,
        k,
        n,
        a_transposed,
        b_transposed,
        count: batch,
    };
    let mut v = vec![p("forward", conv.o, kg, l, false, false)];
    if training {
        v.push(p("dW", conv.o, l, kg, false, true));
        if conv.input_grad {
            v.push(p("dX", kg, conv.o, l, true, false));
        }
    }
    v
}

/// The products of a linear layer `in_f -> out_f` at `batch`.
pub fn linear_products(
    name: &'static str,
    in_f: usize,
    out_f: usize,
    batch: usize,
    training: bool,
) -> Vec<Product> {
    let p = |pass, m, k, n, a_transposed, b_transposed| Product {
        layer: name,
        pass,
        m,
        k,
        n,
        a_transposed,
        b_transposed,
        count: 1,
    };
    let mut v = vec![p("forward", batch, in_f, out_f, false, true)];
    if training {
        v.push(p("dX", batch, out_f, in_f, false, false));
        v.push(p("dW", out_f, batch, in_f, true, false));
    }
    v
}

/// The products of one step of the examples' MNIST CNN ([`crate::cnn`]) at `batch`: a
/// training step (forward and backward) or, without `training`, an inference forward.
pub fn mnist_cnn_products(batch: usize, training: bool) -> Vec<Product> {
    let conv1 = Conv { name: "conv1", c: 1, o: 32, k: 3, size: 28, input_grad: false };
    let conv2 = Conv { name: "conv2", c: 32, o: 64, k: 3, size: 26, input_grad: true };
    let mut v = conv_products(&conv1, batch, training);
    v.extend(conv_products(&conv2, batch, training));
    v.extend(linear_products("fc1", 9216, 128, batch, training));
    v.extend(linear_products("fc2", 128, 10, batch, training));
    v
}

/// A row-major `[rows, cols]` buffer of uniform values.
fn buffer(rows: usize, cols: usize, rng: &mut Rng) -> Vec<f32> {
    rng.uniform_array::<f32>(&[rows * cols], -1.0, 1.0).into_raw_vec_and_offset().0
}

/// Times `nabla_tensor::gemm_into` (nabla_tensor::sgemm's kernel split over nabla's threads, the
/// best GEMM measured on the machine) on `p`'s shape and layout; rates are GFLOP/s.
pub fn sgemm_rate(p: &Product, timing: &Timing) -> Summary {
    let mut rng = Rng::seed((p.m * 31 + p.k * 7 + p.n) as u64);
    let a_store = Array2::from_shape_vec(
        if p.a_transposed { (p.k, p.m) } else { (p.m, p.k) },
        buffer(p.m, p.k, &mut rng),
    )
    .expect("m*k values");
    let b_store = Array2::from_shape_vec(
        if p.b_transposed { (p.n, p.k) } else { (p.k, p.n) },
        buffer(p.k, p.n, &mut rng),
    )
    .expect("k*n values");
    // Row-major [m, k], or the transposed view of a row-major [k, m].
    let a = if p.a_transposed { a_store.t() } else { a_store.view() };
    let b = if p.b_transposed { b_store.t() } else { b_store.view() };
    let mut c = Array2::<f32>::zeros((p.m, p.n));
    let mut step = || {
        nabla_tensor::gemm_into(1.0, black_box(a), black_box(b), 0.0, c.view_mut());
        black_box(&c);
    };
    single(&mut step, p.flop() / 1e9, timing)
}

/// The limit of one step's products.
#[derive(Clone, Debug)]
pub struct Limit {
    /// Each product with the sgemm rate measured on its shape.
    pub products: Vec<(Product, Summary)>,
    /// Samples per step.
    pub batch: usize,
}

impl Limit {
    /// GEMM floating-point operations per sample.
    pub fn flop_per_sample(&self) -> f64 {
        self.products.iter().map(|(p, _)| p.flop() * p.count as f64).sum::<f64>() / self.batch as f64
    }

    /// Seconds the products of one step take at the measured sgemm rates (medians).
    pub fn seconds_per_step(&self) -> f64 {
        self.products.iter().map(|(p, s)| p.flop() * p.count as f64 / (s.median() * 1e9)).sum()
    }

    /// The GEMM-bound limit in samples/s.
    pub fn samples_per_s(&self) -> f64 {
        self.batch as f64 / self.seconds_per_step()
    }

    /// The sgemm rate over the whole step, GFLOP/s (total operations over total time).
    pub fn gflops(&self) -> f64 {
        self.flop_per_sample() * self.batch as f64 / self.seconds_per_step() / 1e9
    }
}

/// Rates already measured in this process, by shape and layout, so a shape shared by several
/// figures is timed once.
#[derive(Debug, Default)]
pub struct RateCache(BTreeMap<(usize, usize, usize, bool, bool), Summary>);

/// The limit of `products` (one step of `batch` samples), timing each shape not in `cache`.
pub fn limit(products: Vec<Product>, batch: usize, timing: &Timing, cache: &mut RateCache) -> Limit {
    let products = products
        .into_iter()
        .map(|p| {
            let s = cache.0.entry(p.key()).or_insert_with(|| sgemm_rate(&p, timing)).clone();
            (p, s)
        })
        .collect();
    Limit { products, batch }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cnn_products_have_the_layers_shapes() {
        let fwd = mnist_cnn_products(2, false);
        let names: Vec<(&str, &str)> = fwd.iter().map(|p| (p.layer, p.pass)).collect();
        assert_eq!(
            names,
            [("conv1", "forward"), ("conv2", "forward"), ("fc1", "forward"), ("fc2", "forward")]
        );
        // conv2: [64, 32*3*3] @ [288, 24*24] per sample.
        assert_eq!((fwd[1].m, fwd[1].k, fwd[1].n, fwd[1].count), (64, 288, 576, 2));
        // About 24 MFLOP per sample forward (bench_cnn.py: 24.3 with the elementwise work).
        let per_sample: f64 = fwd.iter().map(|p| p.flop() * p.count as f64).sum::<f64>() / 2.0;
        assert!((per_sample / 1e6 - 23.96).abs() < 0.05, "{per_sample}");
        // Training: no input gradient for the first convolution.
        let train = mnist_cnn_products(2, true);
        assert_eq!(train.len(), 2 + 3 + 3 + 3);
        assert!(!train.iter().any(|p| p.layer == "conv1" && p.pass == "dX"));
    }

    #[test]
    fn a_limit_adds_the_times_of_its_products() {
        let t = Timing { seconds: 0.01, reps: 1, warmup_seconds: 0.0 };
        let mut cache = RateCache::default();
        let products = linear_products("fc", 16, 8, 4, true);
        let lim = limit(products.clone(), 4, &t, &mut cache);
        assert_eq!(cache.0.len(), 3);
        assert!((lim.flop_per_sample() - 3.0 * 2.0 * 16.0 * 8.0).abs() < 1e-9);
        let by_hand: f64 = lim.products.iter().map(|(p, s)| p.flop() / (s.median() * 1e9)).sum();
        assert!((lim.samples_per_s() - 4.0 / by_hand).abs() < 1e-6 * lim.samples_per_s());
        // Timed once: a second limit over the same shapes reuses the rates.
        let again = limit(products, 4, &t, &mut cache);
        assert_eq!(again.products[0].1, lim.products[0].1);
    }
}
