//! The chapter-3 MLP written by hand on `ndarray` buffers and the best GEMM measured on the
//! machine (`nabla_tensor::gemm_into`), with no framework at all: the ceiling that nabla's
//! figures are compared with in the same run.
//!
//! 784-512-256-10; Linear -> BatchNorm1d (batch statistics, running averages with momentum
//! 0.1) -> ReLU -> Dropout(0.2) after each hidden layer; softmax cross-entropy (mean); Adam
//! (lr 1e-3, betas 0.9/0.999, eps 1e-8) on every parameter; He-uniform weights.
//!
//! Everything is allocated once: one step writes into preallocated activations and
//! gradients, every product is one strided `sgemm` (transposed operands by strides), and the
//! elementwise work is a few fused passes:
//! * forward, per hidden layer: bias + GEMM, the channel sums of the batch statistics, then
//!   one pass for normalization, affine, ReLU and the dropout mask;
//! * backward, per hidden layer: one pass that applies the dropout/ReLU mask (recovered from
//!   the stored activation: it is positive exactly where both kept the value) and sums the
//!   batch-norm terms, one pass for the batch-norm input gradient and the bias gradient;
//! * Adam: one pass per parameter tensor.
//!
//! Dropout draws from a small xorshift generator (a framework would use something stronger;
//! the ceiling takes the cheapest).

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};

/// Layer widths.
pub const SIZES: [usize; 4] = [784, 512, 256, 10];
/// Dropout probability of the hidden layers.
pub const DROPOUT: f32 = 0.2;
const EPS_BN: f32 = 1e-5;
const MOMENTUM: f32 = 0.1;
const LR: f32 = 1e-3;
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS_ADAM: f32 = 1e-8;

/// `c = a @ b + beta * c` on row-major slices, through the best GEMM measured on the machine
/// (`nabla_tensor::gemm_into`: nabla_tensor::sgemm's kernel split over nabla's threads); `a` is
/// `[m, k]` with strides `(rsa, csa)`, `b` is `[k, n]` with strides `(rsb, csb)` and `c` is
/// a contiguous `[m, n]`.
fn sgemm(
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    let a = ArrayView2::from_shape((m, k).strides((rsa, csa)), a).expect("a fits its slice");
    let b = ArrayView2::from_shape((k, n).strides((rsb, csb)), b).expect("b fits its slice");
    let c = ArrayViewMut2::from_shape((m, n), c).expect("c is [m, n]");
    nabla_tensor::gemm_into(1.0, a, b, beta, c);
}

/// `out[c] = sum over rows of x[r, c]`.
fn column_sums(x: &[f32], cols: usize, out: &mut [f32]) {
    out.fill(0.0);
    for row in x.chunks_exact(cols) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// xorshift64*: cheap random bits for the dropout masks.
#[derive(Clone, Debug)]
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fills `row` with `0` (probability `p`) or `1 / (1 - p)`.
    fn mask(&mut self, row: &mut [f32], p: f32) {
        let threshold = (f64::from(p) * 4_294_967_296.0) as u64;
        let keep = 1.0 / (1.0 - p);
        for pair in row.chunks_mut(2) {
            let r = self.next();
            for (i, m) in pair.iter_mut().enumerate() {
                let bits = (r >> (32 * i)) & 0xffff_ffff;
                *m = if bits < threshold { 0.0 } else { keep };
            }
        }
    }
}

/// One hidden layer's batch-norm state.
#[derive(Clone, Debug)]
struct Norm {
    mean: Vec<f32>,
    invstd: Vec<f32>,
    running_mean: Vec<f32>,
    running_var: Vec<f32>,
    scale: Vec<f32>,
    shift: Vec<f32>,
    sum_g: Vec<f32>,
    sum_gx: Vec<f32>,
}

impl Norm {
    fn new(c: usize) -> Norm {
        let z = vec![0.0; c];
        Norm {
            mean: z.clone(),
            invstd: z.clone(),
            running_mean: z.clone(),
            running_var: vec![1.0; c],
            scale: z.clone(),
            shift: z.clone(),
            sum_g: z.clone(),
            sum_gx: z,
        }
    }
}

/// Parameter indices: per layer `weight, bias` and, for hidden layers, `gamma, beta`.
const W: [usize; 3] = [0, 4, 8];
const B: [usize; 3] = [1, 5, 9];
const GAMMA: [usize; 2] = [2, 6];
const BETA: [usize; 2] = [3, 7];

/// The hand-written MLP with its training state and step buffers for one batch size.
#[derive(Clone, Debug)]
pub struct Ceiling {
    batch: usize,
    params: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    exp_avg: Vec<Vec<f32>>,
    exp_avg_sq: Vec<Vec<f32>>,
    step: i32,
    norms: Vec<Norm>,
    /// Pre-normalization linear outputs of the hidden layers, then the logits.
    z: Vec<Array2<f32>>,
    /// Hidden activations after ReLU and dropout.
    a: Vec<Array2<f32>>,
    /// Gradients with respect to `z` (and, before the in-place updates, to `a`).
    d: Vec<Array2<f32>>,
    mask: Vec<f32>,
    rng: XorShift,
    dropout: f32,
}

impl Ceiling {
    /// A freshly initialized model (He-uniform weights, PyTorch's default bias init,
    /// gamma 1, beta 0) with buffers for training at `batch` (at least 2).
    ///
    /// # Panics
    /// When `batch < 2` (batch norm needs two samples per channel).
    pub fn new(batch: usize, seed: u64) -> Ceiling {
        assert!(batch >= 2, "batch norm needs a batch of at least 2");
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut uniform = |n: usize, bound: f32| -> Vec<f32> {
            (0..n).map(|_| ((rng.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * bound).collect()
        };
        let mut params = Vec::new();
        for (l, w) in SIZES.windows(2).enumerate() {
            let (fan_in, out) = (w[0], w[1]);
            params.push(uniform(out * fan_in, (6.0 / fan_in as f32).sqrt()));
            params.push(uniform(out, 1.0 / (fan_in as f32).sqrt()));
            if l < 2 {
                params.push(vec![1.0; out]);
                params.push(vec![0.0; out]);
            }
        }
        let zeros: Vec<Vec<f32>> = params.iter().map(|p| vec![0.0; p.len()]).collect();
        let act = |c: usize| Array2::zeros((batch, c));
        Ceiling {
            batch,
            grads: zeros.clone(),
            exp_avg: zeros.clone(),
            exp_avg_sq: zeros,
            params,
            step: 0,
            norms: vec![Norm::new(SIZES[1]), Norm::new(SIZES[2])],
            z: vec![act(SIZES[1]), act(SIZES[2]), act(SIZES[3])],
            a: vec![act(SIZES[1]), act(SIZES[2])],
            d: vec![act(SIZES[1]), act(SIZES[2]), act(SIZES[3])],
            mask: vec![0.0; SIZES[1]],
            rng: XorShift(seed ^ 0x5851_f42d_4c95_7f2d | 1),
            dropout: DROPOUT,
        }
    }

    /// The same model with another dropout probability (in `[0, 1)`; 0 for deterministic
    /// steps, as in the test against autograd).
    ///
    /// # Panics
    /// When `p` is not in `[0, 1)`.
    pub fn with_dropout(mut self, p: f32) -> Ceiling {
        assert!((0.0..1.0).contains(&p), "dropout must be in [0, 1)");
        self.dropout = p;
        self
    }

    /// The parameters, in the order `[w0, b0, gamma0, beta0, w1, b1, gamma1, beta1, w2, b2]`
    /// (weights `[out, in]` row-major, as PyTorch).
    pub fn parameters(&self) -> &[Vec<f32>] {
        &self.params
    }

    /// The gradients of the last step (same order as [`Ceiling::parameters`]).
    pub fn gradients(&self) -> &[Vec<f32>] {
        &self.grads
    }

    /// The number of parameters (537,354).
    pub fn parameter_count(&self) -> usize {
        self.params.iter().map(Vec::len).sum()
    }

    /// `z = x @ W^T + b` for layer `l`.
    fn affine(&self, l: usize, x: ArrayView2<'_, f32>, z: &mut Array2<f32>) {
        let (fan_in, out) = (SIZES[l], SIZES[l + 1]);
        let rows = x.nrows();
        let bias = &self.params[B[l]];
        let zs = z.as_slice_mut().expect("contiguous");
        for row in zs.chunks_exact_mut(out) {
            row.copy_from_slice(bias);
        }
        let xs = x.as_slice().expect("contiguous input");
        sgemm((rows, fan_in, out), xs, (fan_in, 1), &self.params[W[l]], (1, fan_in), 1.0, zs);
    }

    /// One training step (forward, loss, backward, Adam) on `x: [batch, 784]`; returns the
    /// mean loss.
    ///
    /// # Panics
    /// When `x` is not a contiguous `[batch, 784]` or a label is not below 10.
    pub fn train_step(&mut self, x: ArrayView2<'_, f32>, y: &[usize]) -> f32 {
        let n = self.batch;
        assert_eq!(x.dim(), (n, SIZES[0]));
        assert_eq!(y.len(), n);
        let inv_n = 1.0 / n as f32;
        // Forward.
        for l in 0..2 {
            let c = SIZES[l + 1];
            let mut z = std::mem::take(&mut self.z[l]);
            {
                let input = if l == 0 { x.view() } else { self.a[l - 1].view() };
                self.affine(l, input, &mut z);
            }
            let zs = z.as_slice().expect("contiguous");
            let norm = &mut self.norms[l];
            column_sums(zs, c, &mut norm.mean);
            norm.mean.iter_mut().for_each(|m| *m *= inv_n);
            norm.sum_g.fill(0.0);
            for row in zs.chunks_exact(c) {
                for ((s, &v), &m) in norm.sum_g.iter_mut().zip(row).zip(&norm.mean) {
                    *s += (v - m) * (v - m);
                }
            }
            let (gamma, beta) = (&self.params[GAMMA[l]], &self.params[BETA[l]]);
            for ch in 0..c {
                let ss = norm.sum_g[ch];
                norm.invstd[ch] = 1.0 / (ss * inv_n + EPS_BN).sqrt();
                norm.running_mean[ch] += MOMENTUM * (norm.mean[ch] - norm.running_mean[ch]);
                let unbiased = ss / (n as f32 - 1.0);
                norm.running_var[ch] += MOMENTUM * (unbiased - norm.running_var[ch]);
                norm.scale[ch] = gamma[ch] * norm.invstd[ch];
                norm.shift[ch] = beta[ch] - norm.mean[ch] * norm.scale[ch];
            }
            let a = self.a[l].as_slice_mut().expect("contiguous");
            let mask = &mut self.mask[..c];
            for (arow, zrow) in a.chunks_exact_mut(c).zip(zs.chunks_exact(c)) {
                self.rng.mask(mask, self.dropout);
                for ((((o, &v), &s), &t), &m) in
                    arow.iter_mut().zip(zrow).zip(&norm.scale).zip(&norm.shift).zip(mask.iter())
                {
                    *o = (v * s + t).max(0.0) * m;
                }
            }
            self.z[l] = z;
        }
        let mut logits = std::mem::take(&mut self.z[2]);
        self.affine(2, self.a[1].view(), &mut logits);
        // Softmax cross-entropy: d2 = (softmax - onehot) / n.
        let classes = SIZES[3];
        let mut loss = 0.0f32;
        {
            let d2 = self.d[2].as_slice_mut().expect("contiguous");
            let ls = logits.as_slice().expect("contiguous");
            for ((drow, lrow), &t) in d2.chunks_exact_mut(classes).zip(ls.chunks_exact(classes)).zip(y) {
                let m = lrow.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                let mut s = 0.0;
                for (d, &v) in drow.iter_mut().zip(lrow) {
                    *d = (v - m).exp();
                    s += *d;
                }
                loss += (s.ln() + m - lrow[t]) * inv_n;
                let k = inv_n / s;
                drow.iter_mut().for_each(|d| *d *= k);
                drow[t] -= inv_n;
            }
        }
        self.z[2] = logits;
        // Backward, output layer.
        self.backward_affine(2, n);
        // Hidden layers, last first.
        let keep = 1.0 / (1.0 - self.dropout);
        for l in (0..2).rev() {
            let c = SIZES[l + 1];
            let norm = &mut self.norms[l];
            let zs = self.z[l].as_slice().expect("contiguous");
            let a = self.a[l].as_slice().expect("contiguous");
            let d = self.d[l].as_slice_mut().expect("contiguous");
            // Dropout and ReLU: the activation is positive exactly where both passed it.
            norm.sum_g.fill(0.0);
            norm.sum_gx.fill(0.0);
            for ((drow, arow), zrow) in d.chunks_exact_mut(c).zip(a.chunks_exact(c)).zip(zs.chunks_exact(c)) {
                for ((((g, &av), &zv), sg), (sgx, &m)) in drow
                    .iter_mut()
                    .zip(arow)
                    .zip(zrow)
                    .zip(norm.sum_g.iter_mut())
                    .zip(norm.sum_gx.iter_mut().zip(&norm.mean))
                {
                    let gv = if av > 0.0 { *g * keep } else { 0.0 };
                    *g = gv;
                    *sg += gv;
                    *sgx += gv * (zv - m);
                }
            }
            // Batch norm: dz = A dy - (Bc - mean Cc) - z Cc per channel.
            let gamma = &self.params[GAMMA[l]];
            let (gg, gbeta) = {
                let (lo, hi) = self.grads.split_at_mut(BETA[l]);
                (&mut lo[GAMMA[l]], &mut hi[0])
            };
            for ch in 0..c {
                let is = norm.invstd[ch];
                let coef = gamma[ch] * is;
                let cc = coef * is * is * norm.sum_gx[ch] * inv_n;
                gg[ch] = norm.sum_gx[ch] * is;
                gbeta[ch] = norm.sum_g[ch];
                // Reuse scale/shift as the per-channel coefficients of dz.
                norm.scale[ch] = coef;
                norm.shift[ch] = coef * norm.sum_g[ch] * inv_n - norm.mean[ch] * cc;
                norm.sum_gx[ch] = cc;
            }
            for (drow, zrow) in d.chunks_exact_mut(c).zip(zs.chunks_exact(c)) {
                for ((((g, &zv), &a_), &b_), &c_) in
                    drow.iter_mut().zip(zrow).zip(&norm.scale).zip(&norm.shift).zip(&norm.sum_gx)
                {
                    *g = a_ * *g - b_ - zv * c_;
                }
            }
            if l == 0 {
                self.backward_first(x, n);
            } else {
                self.backward_affine(l, n);
            }
        }
        self.adam();
        loss
    }

    /// Gradients of layer `l`'s weight and bias from `d[l]`, and `d[l-1] = d[l] @ W_l`.
    fn backward_affine(&mut self, l: usize, n: usize) {
        let (fan_in, out) = (SIZES[l], SIZES[l + 1]);
        let d = self.d[l].as_slice().expect("contiguous");
        let input = self.a[l - 1].as_slice().expect("contiguous");
        sgemm((out, n, fan_in), d, (1, out), input, (fan_in, 1), 0.0, &mut self.grads[W[l]]);
        column_sums(d, out, &mut self.grads[B[l]]);
        let (lo, hi) = self.d.split_at_mut(l);
        let prev = lo[l - 1].as_slice_mut().expect("contiguous");
        sgemm(
            (n, out, fan_in),
            hi[0].as_slice().expect("contiguous"),
            (out, 1),
            &self.params[W[l]],
            (fan_in, 1),
            0.0,
            prev,
        );
    }

    /// Gradients of the first layer's weight and bias (no input gradient).
    fn backward_first(&mut self, x: ArrayView2<'_, f32>, n: usize) {
        let (fan_in, out) = (SIZES[0], SIZES[1]);
        let d = self.d[0].as_slice().expect("contiguous");
        let xs = x.as_slice().expect("contiguous input");
        sgemm((out, n, fan_in), d, (1, out), xs, (fan_in, 1), 0.0, &mut self.grads[W[0]]);
        column_sums(d, out, &mut self.grads[B[0]]);
    }

    fn adam(&mut self) {
        self.step += 1;
        let bc1 = 1.0 - BETA1.powi(self.step);
        let bc2 = 1.0 - BETA2.powi(self.step);
        let step_size = LR / bc1;
        let inv_sqrt_bc2 = 1.0 / bc2.sqrt();
        for (((p, g), m), v) in self
            .params
            .iter_mut()
            .zip(&self.grads)
            .zip(self.exp_avg.iter_mut())
            .zip(self.exp_avg_sq.iter_mut())
        {
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m += (1.0 - BETA1) * (g - *m);
                *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                *p -= step_size * *m / (v.sqrt() * inv_sqrt_bc2 + EPS_ADAM);
            }
        }
    }
}

/// The same model in evaluation mode (running statistics, no dropout) with buffers for one
/// inference batch size.
#[derive(Clone, Debug)]
pub struct CeilingInference {
    params: Vec<Vec<f32>>,
    scale: Vec<Vec<f32>>,
    shift: Vec<Vec<f32>>,
    z: Vec<Array2<f32>>,
}

impl CeilingInference {
    /// The evaluation-mode form of `model` for batches of `batch` rows.
    pub fn new(model: &Ceiling, batch: usize) -> CeilingInference {
        let (mut scale, mut shift) = (Vec::new(), Vec::new());
        for (l, norm) in model.norms.iter().enumerate() {
            let s: Vec<f32> = norm
                .running_var
                .iter()
                .zip(&model.params[GAMMA[l]])
                .map(|(&v, &g)| g / (v + EPS_BN).sqrt())
                .collect();
            let t = model.params[BETA[l]]
                .iter()
                .zip(&norm.running_mean)
                .zip(&s)
                .map(|((&b, &m), &s)| b - m * s)
                .collect();
            scale.push(s);
            shift.push(t);
        }
        CeilingInference {
            params: model.params.clone(),
            scale,
            shift,
            z: (1..4).map(|i| Array2::zeros((batch, SIZES[i]))).collect(),
        }
    }

    /// The logits of `x: [batch, 784]` (borrowed from the internal buffer).
    ///
    /// # Panics
    /// When `x` is not a contiguous `[batch, 784]`.
    pub fn forward(&mut self, x: ArrayView2<'_, f32>) -> &Array2<f32> {
        let rows = x.nrows();
        assert_eq!(self.z[0].nrows(), rows);
        for l in 0..3 {
            let (fan_in, out) = (SIZES[l], SIZES[l + 1]);
            let (lo, hi) = self.z.split_at_mut(l);
            let zs = hi[0].as_slice_mut().expect("contiguous");
            for row in zs.chunks_exact_mut(out) {
                row.copy_from_slice(&self.params[B[l]]);
            }
            let input = if l == 0 {
                x.as_slice().expect("contiguous input")
            } else {
                lo[l - 1].as_slice().expect("contiguous")
            };
            sgemm((rows, fan_in, out), input, (fan_in, 1), &self.params[W[l]], (1, fan_in), 1.0, zs);
            if l < 2 {
                for row in zs.chunks_exact_mut(out) {
                    for ((v, &s), &t) in row.iter_mut().zip(&self.scale[l]).zip(&self.shift[l]) {
                        *v = (*v * s + t).max(0.0);
                    }
                }
            }
        }
        &self.z[2]
    }
}

/// The per-channel running mean of batch norm `layer` (0 or 1), for tests.
pub fn running_mean(model: &Ceiling, layer: usize) -> Array1<f32> {
    Array1::from(model.norms[layer].running_mean.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize, seed: u64) -> (Array2<f32>, Vec<usize>) {
        let mut r = XorShift(seed | 1);
        let x = Array2::from_shape_fn((n, 784), |_| (r.next() >> 40) as f32 / (1u64 << 24) as f32);
        let y = (0..n).map(|_| (r.next() % 10) as usize).collect();
        (x, y)
    }

    #[test]
    fn parameter_count_matches_the_model() {
        assert_eq!(Ceiling::new(4, 0).parameter_count(), 537_354);
    }

    #[test]
    fn training_fits_a_fixed_batch() {
        let mut m = Ceiling::new(16, 1);
        let (x, y) = batch(16, 3);
        let first = m.train_step(x.view(), &y);
        assert!((first - 10f32.ln()).abs() < 1.5, "initial loss {first}");
        let mut last = first;
        for _ in 0..30 {
            last = m.train_step(x.view(), &y);
        }
        assert!(last.is_finite() && last < 0.3 * first, "{first} -> {last}");
        assert!(running_mean(&m, 0).iter().any(|&v| v != 0.0));
    }

    /// The ceiling computes the same model as nabla's ops: with dropout off, its loss and
    /// every gradient match `linear`/`batch_norm_train`/`relu`/`cross_entropy` on the same
    /// weights, and its Adam update matches nabla's `adam`.
    #[test]
    fn same_loss_gradients_and_adam_step_as_autograd() {
        use nabla_autograd::{batch_norm_train, cross_entropy, linear, Reduction, Var};
        use nabla_optim::ParamMut;
        use ndarray::{ArrayD, IxDyn};
        let n = 12;
        let mut m = Ceiling::new(n, 5).with_dropout(0.0);
        let (x, y) = batch(n, 6);
        let before: Vec<Vec<f32>> = m.parameters().to_vec();
        let loss = m.train_step(x.view(), &y);
        let shapes: Vec<Vec<usize>> = (0..3)
            .flat_map(|l| {
                let (i, o) = (SIZES[l], SIZES[l + 1]);
                let mut v = vec![vec![o, i], vec![o]];
                if l < 2 {
                    v.extend([vec![o], vec![o]]);
                }
                v
            })
            .collect();
        let vars: Vec<Var<f32>> = before
            .iter()
            .zip(&shapes)
            .map(|(p, s)| Var::param(ArrayD::from_shape_vec(IxDyn(s), p.clone()).unwrap()))
            .collect();
        let mut h = Var::constant(x.clone().into_dyn());
        for l in 0..3 {
            let base = [0, 4, 8][l];
            h = linear(&h, &vars[base], Some(&vars[base + 1])).unwrap();
            if l < 2 {
                h = batch_norm_train(&h, Some(&vars[base + 2]), Some(&vars[base + 3]), 1e-5).unwrap().output;
                h = h.relu();
            }
        }
        let reference = cross_entropy(&h, &y, 0.0, Reduction::Mean).unwrap();
        assert!((reference.item() - loss).abs() < 1e-4, "{} vs {loss}", reference.item());
        reference.backward().unwrap();
        for (i, (v, g)) in vars.iter().zip(m.gradients()).enumerate() {
            let want = v.grad().unwrap();
            // Biases before batch norm have zero gradient up to rounding: compare absolutely.
            let scale = want.iter().fold(1e-3f32, |a, &b| a.max(b.abs()));
            for (a, b) in want.iter().zip(g) {
                assert!((a - b).abs() <= 1e-4 * scale, "parameter {i}: {a} vs {b} (scale {scale})");
            }
        }
        let mut adam = nabla_registry::build::<dyn nabla_optim::Optimizer<f32>>("adam:lr=1e-3", ())
            .map(|b| b.value)
            .unwrap();
        let names: Vec<String> = (0..vars.len()).map(|i| format!("p{i}")).collect();
        let mut values: Vec<_> = vars.iter().map(|v| v.value().clone()).collect();
        let grads: Vec<_> = m
            .gradients()
            .iter()
            .zip(&shapes)
            .map(|(g, s)| ArrayD::from_shape_vec(IxDyn(s), g.clone()).unwrap())
            .collect();
        let mut views: Vec<_> = names
            .iter()
            .zip(values.iter_mut())
            .zip(&grads)
            .map(|((n, v), g)| ParamMut::new(n, v.view_mut(), Some(g.view())))
            .collect();
        adam.step(&mut views).unwrap();
        drop(views);
        for (i, (want, got)) in values.iter().zip(m.parameters()).enumerate() {
            if i == B[0] || i == B[1] {
                // Their gradients are rounding noise, so the first Adam step (about lr times
                // the sign of the gradient) may go either way.
                continue;
            }
            for (a, b) in want.iter().zip(got) {
                assert!((a - b).abs() <= 1e-6 * (1.0 + a.abs()), "parameter {i} after Adam: {a} vs {b}");
            }
        }
    }

    #[test]
    fn dropout_mask_rate_and_scale() {
        let mut r = XorShift(7);
        let mut row = vec![0.0f32; 10_000];
        r.mask(&mut row, 0.2);
        let zeros = row.iter().filter(|&&v| v == 0.0).count();
        assert!((1700..2300).contains(&zeros), "{zeros}");
        assert!(row.iter().all(|&v| v == 0.0 || (v - 1.25).abs() < 1e-6));
    }

    #[test]
    fn inference_gives_finite_logits() {
        let mut m = Ceiling::new(8, 2);
        let (x, y) = batch(8, 4);
        m.train_step(x.view(), &y);
        let mut inf = CeilingInference::new(&m, 8);
        let logits = inf.forward(x.view());
        assert_eq!(logits.dim(), (8, 10));
        assert!(logits.iter().all(|v| v.is_finite()));
    }
}
