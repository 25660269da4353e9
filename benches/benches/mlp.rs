//! Forward + backward of the MNIST-shaped MLP 784-512-256-10 (linear + relu, cross-entropy).
//!
//! * `autograd/fwd_bwd/128`: nabla-autograd at batch 128 (forward, loss, backward, zero_grad).
//! * `autograd/fwd_bwd_bn_dropout/128`: the same with batch norm and dropout after each
//!   hidden linear layer.
//! * `autograd/train_step/32`: a whole training step at batch 32 including an SGD update.
//! * `handwritten/...`: the same MLP written directly on ndarray + `gemm_into` with
//!   preallocated buffers: the baseline the autograd numbers are measured against.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nabla_autograd::{batch_norm_train, cross_entropy, dropout, linear, Reduction, Var};
use nabla_tensor::ndarray::{Array1, Array2, ArrayD, Axis, Ix2, Zip};
use nabla_tensor::{gemm_into, Rng};
use std::time::Duration;

const SIZES: [usize; 4] = [784, 512, 256, 10];

struct Mlp {
    weights: Vec<Var<f32>>,
    biases: Vec<Var<f32>>,
    gammas: Vec<Var<f32>>,
}

impl Mlp {
    fn new(rng: &mut Rng) -> Self {
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        let mut gammas = Vec::new();
        for w in SIZES.windows(2) {
            let bound = 1.0 / (w[0] as f32).sqrt();
            weights.push(Var::param(rng.uniform_array(&[w[1], w[0]], -bound, bound)));
            biases.push(Var::param(rng.uniform_array(&[w[1]], -bound, bound)));
            gammas.push(Var::param(ArrayD::ones(vec![w[1]])));
        }
        Mlp { weights, biases, gammas }
    }

    fn params(&self) -> impl Iterator<Item = &Var<f32>> {
        self.weights.iter().chain(&self.biases).chain(&self.gammas)
    }

    fn loss(&self, x: &ArrayD<f32>, targets: &[usize], bn_dropout: Option<&mut Rng>) -> Var<f32> {
        let mut h = Var::constant(x.clone());
        let mut rng = bn_dropout;
        let last = self.weights.len() - 1;
        for (i, (w, b)) in self.weights.iter().zip(&self.biases).enumerate() {
            h = linear(&h, w, Some(b)).unwrap();
            if i < last {
                if let Some(r) = rng.as_deref_mut() {
                    h = batch_norm_train(&h, Some(&self.gammas[i]), None, 1e-5).unwrap().output;
                    h = h.relu();
                    h = dropout(&h, 0.1, true, r).unwrap();
                } else {
                    h = h.relu();
                }
            }
        }
        cross_entropy(&h, targets, 0.0, Reduction::Mean).unwrap()
    }

    fn step(&self, x: &ArrayD<f32>, targets: &[usize], lr: f32) {
        let loss = self.loss(x, targets, None);
        loss.backward().unwrap();
        for p in self.weights.iter().chain(&self.biases) {
            let g = p.grad().unwrap();
            p.value_mut().zip_mut_with(&*g, |w, &g| *w -= lr * g);
            drop(g);
            p.zero_grad();
        }
    }
}

/// The same MLP by hand: preallocated buffers, strided GEMM, fused loops.
struct Handwritten {
    w: Vec<Array2<f32>>,
    b: Vec<Array1<f32>>,
    gw: Vec<Array2<f32>>,
    gb: Vec<Array1<f32>>,
    acts: Vec<Array2<f32>>,
    deltas: Vec<Array2<f32>>,
}

impl Handwritten {
    fn new(rng: &mut Rng, batch: usize) -> Self {
        let mut s =
            Handwritten { w: vec![], b: vec![], gw: vec![], gb: vec![], acts: vec![], deltas: vec![] };
        for w in SIZES.windows(2) {
            let bound = 1.0 / (w[0] as f32).sqrt();
            let wa: ArrayD<f32> = rng.uniform_array(&[w[1], w[0]], -bound, bound);
            s.w.push(wa.into_dimensionality::<Ix2>().unwrap());
            s.b.push(Array1::zeros(w[1]));
            s.gw.push(Array2::zeros((w[1], w[0])));
            s.gb.push(Array1::zeros(w[1]));
            s.acts.push(Array2::zeros((batch, w[1])));
            s.deltas.push(Array2::zeros((batch, w[1])));
        }
        s
    }

    fn fwd_bwd(&mut self, x: &Array2<f32>, targets: &[usize], lr: Option<f32>) -> f32 {
        let n = x.nrows();
        let layers = self.w.len();
        for l in 0..layers {
            let (before, after) = self.acts.split_at_mut(l);
            let input = if l == 0 { x.view() } else { before[l - 1].view() };
            let out = &mut after[0];
            for mut row in out.rows_mut() {
                row.assign(&self.b[l]);
            }
            gemm_into(1.0, input, self.w[l].t(), 1.0, out.view_mut());
            if l + 1 < layers {
                out.mapv_inplace(|v| v.max(0.0));
            }
        }
        // Softmax cross-entropy gradient into the last delta.
        let mut loss = 0.0f32;
        let inv_n = 1.0 / n as f32;
        let logits = &self.acts[layers - 1];
        let d = &mut self.deltas[layers - 1];
        for ((lr_, mut dr), &t) in logits.rows().into_iter().zip(d.rows_mut()).zip(targets) {
            let m = lr_.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let mut s = 0.0;
            Zip::from(&mut dr).and(&lr_).for_each(|d, &v| {
                *d = (v - m).exp();
                s += *d;
            });
            loss += (s.ln() + m - lr_[t]) * inv_n;
            dr.mapv_inplace(|v| v / s * inv_n);
            dr[t] -= inv_n;
        }
        for l in (0..layers).rev() {
            let input = if l == 0 { x.view() } else { self.acts[l - 1].view() };
            gemm_into(1.0, self.deltas[l].t(), input, 0.0, self.gw[l].view_mut());
            self.gb[l] = self.deltas[l].sum_axis(Axis(0));
            if l > 0 {
                let (lo, hi) = self.deltas.split_at_mut(l);
                gemm_into(1.0, hi[0].view(), self.w[l].view(), 0.0, lo[l - 1].view_mut());
                Zip::from(&mut lo[l - 1]).and(&self.acts[l - 1]).for_each(|d, &a| {
                    if a <= 0.0 {
                        *d = 0.0
                    }
                });
            }
        }
        if let Some(lr) = lr {
            for l in 0..layers {
                self.w[l].scaled_add(-lr, &self.gw[l]);
                self.b[l].scaled_add(-lr, &self.gb[l]);
            }
        }
        loss
    }
}

fn data(batch: usize, rng: &mut Rng) -> (ArrayD<f32>, Vec<usize>) {
    let x = rng.uniform_array::<f32>(&[batch, 784], 0.0, 1.0);
    let t = (0..batch).map(|_| rng.below(10)).collect();
    (x, t)
}

fn bench_mlp(c: &mut Criterion) {
    let mut rng = Rng::seed(0);
    let mlp = Mlp::new(&mut rng);
    let mut group = c.benchmark_group("mlp_784_512_256_10");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));

    let (x128, t128) = data(128, &mut rng);
    group.bench_function(BenchmarkId::new("autograd/fwd_bwd", 128), |b| {
        b.iter(|| {
            let loss = mlp.loss(&x128, &t128, None);
            loss.backward().unwrap();
            mlp.params().for_each(Var::zero_grad);
        })
    });
    let mut drop_rng = Rng::seed(5);
    group.bench_function(BenchmarkId::new("autograd/fwd_bwd_bn_dropout", 128), |b| {
        b.iter(|| {
            let loss = mlp.loss(&x128, &t128, Some(&mut drop_rng));
            loss.backward().unwrap();
            mlp.params().for_each(Var::zero_grad);
        })
    });
    let mut hw = Handwritten::new(&mut Rng::seed(0), 128);
    let x128_2 = x128.clone().into_dimensionality::<Ix2>().unwrap();
    group.bench_function(BenchmarkId::new("handwritten/fwd_bwd", 128), |b| {
        b.iter(|| hw.fwd_bwd(&x128_2, &t128, None))
    });

    let (x32, t32) = data(32, &mut rng);
    group.bench_function(BenchmarkId::new("autograd/train_step", 32), |b| {
        b.iter(|| mlp.step(&x32, &t32, 1e-3))
    });
    let mut hw32 = Handwritten::new(&mut Rng::seed(0), 32);
    let x32_2 = x32.clone().into_dimensionality::<Ix2>().unwrap();
    group.bench_function(BenchmarkId::new("handwritten/train_step", 32), |b| {
        b.iter(|| hw32.fwd_bwd(&x32_2, &t32, Some(1e-3)))
    });
    group.finish();
}

criterion_group!(benches, bench_mlp);
criterion_main!(benches);
