//! The distributions initializers draw from, and the samplers that fill a tensor with them.
//!
//! Every draw is made in `f64` from the caller's [`Rng`] and then rounded to the element type,
//! so an `f32` tensor is exactly the `f64` tensor of the same seed rounded to `f32`. Elements
//! are filled in the logical (row-major) order of the view, whatever its memory layout.

use crate::InitError;
use nabla_tensor::ndarray::ArrayViewMutD;
use nabla_tensor::{Element, Rng};
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// What an initializer draws from, fully resolved for one tensor (fans and gains applied).
///
/// Obtained from [`Initializer::distribution`](crate::Initializer::distribution); useful to
/// inspect the exact bound or standard deviation an initializer will use, and to fill tensors
/// of any [`Element`] type with [`Distribution::fill`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// Every element equals the value.
    Constant(f64),
    /// Uniform on `[low, high)` (after rounding to `f32` a draw may equal `high`).
    Uniform {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// `N(mean, std^2)` restricted to `[a, b]` (absolute bounds, not multiples of `std`).
    TruncatedNormal {
        /// Mean of the untruncated normal.
        mean: f64,
        /// Standard deviation of the untruncated normal.
        std: f64,
        /// Lower bound.
        a: f64,
        /// Upper bound.
        b: f64,
    },
    /// A (semi-)orthogonal matrix times `gain`, the tensor viewed as
    /// `[shape[0], numel / shape[0]]`.
    Orthogonal {
        /// Scale of the orthogonal matrix.
        gain: f64,
    },
}

impl Distribution {
    /// The theoretical mean of one element.
    pub fn mean(&self) -> f64 {
        match *self {
            Distribution::Constant(c) => c,
            Distribution::Uniform { low, high } => 0.5 * (low + high),
            Distribution::Normal { mean, .. } => mean,
            Distribution::TruncatedNormal { mean, std, a, b } => truncated_normal_moments(mean, std, a, b).0,
            Distribution::Orthogonal { .. } => 0.0,
        }
    }

    /// The theoretical standard deviation of one element of a tensor of `shape` (only the
    /// orthogonal case depends on the shape: `gain / sqrt(max(rows, cols))`).
    pub fn std(&self, shape: &[usize]) -> f64 {
        match *self {
            Distribution::Constant(_) => 0.0,
            Distribution::Uniform { low, high } => (high - low) / 12f64.sqrt(),
            Distribution::Normal { std, .. } => std,
            Distribution::TruncatedNormal { mean, std, a, b } => truncated_normal_moments(mean, std, a, b).1,
            Distribution::Orthogonal { gain } => {
                let (rows, cols) = matrix_view(shape);
                gain / (rows.max(cols).max(1) as f64).sqrt()
            }
        }
    }

    /// The closed interval every draw lies in, when bounded.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match *self {
            Distribution::Constant(c) => Some((c, c)),
            Distribution::Uniform { low, high } => Some((low, high)),
            Distribution::TruncatedNormal { a, b, .. } => Some((a, b)),
            Distribution::Normal { .. } | Distribution::Orthogonal { .. } => None,
        }
    }

    /// Fills `out` with draws from `rng` (see the module docs for the draw order).
    ///
    /// # Errors
    /// [`InitError::NeedsMatrix`] for an orthogonal fill of a tensor with fewer than 2
    /// dimensions; [`InitError::Singular`] if the orthogonal draw degenerates.
    pub fn fill<T: Element>(&self, mut out: ArrayViewMutD<'_, T>, rng: &mut Rng) -> Result<(), InitError> {
        match *self {
            Distribution::Constant(c) => out.fill(T::from_f64(c)),
            Distribution::Uniform { low, high } => {
                out.iter_mut().for_each(|x| *x = T::from_f64(rng.uniform(low, high)));
            }
            Distribution::Normal { mean, std } => {
                out.iter_mut().for_each(|x| *x = T::from_f64(rng.normal(mean, std)));
            }
            Distribution::TruncatedNormal { mean, std, a, b } => {
                let sampler = TruncatedSampler::new(mean, std, a, b)?;
                out.iter_mut().for_each(|x| *x = T::from_f64(sampler.sample(rng)));
            }
            Distribution::Orthogonal { gain } => {
                if out.ndim() < 2 {
                    return Err(InitError::NeedsMatrix {
                        initializer: "orthogonal",
                        shape: out.shape().to_vec(),
                    });
                }
                let (rows, cols) = matrix_view(out.shape());
                let q = orthonormal_columns(rows.max(cols), rows.min(cols), rng)?;
                let tall = rows.max(cols);
                // q holds the columns of a tall [tall, short] matrix, column j at j*tall.
                for (k, x) in out.iter_mut().enumerate() {
                    let (i, j) = (k / cols, k % cols);
                    let v = if rows >= cols { q[j * tall + i] } else { q[i * tall + j] };
                    *x = T::from_f64(gain * v);
                }
            }
        }
        Ok(())
    }
}

/// `[shape[0], numel / shape[0]]` (0 columns for an empty tensor).
fn matrix_view(shape: &[usize]) -> (usize, usize) {
    let rows = shape.first().copied().unwrap_or(1);
    let numel: usize = shape.iter().product();
    (rows, numel.checked_div(rows).unwrap_or(0))
}

/// The standard normal density.
fn phi(x: f64) -> f64 {
    if x.is_infinite() {
        0.0
    } else {
        (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
    }
}

/// The standard normal distribution function.
fn big_phi(x: f64) -> f64 {
    0.5 * (1.0 + <f64 as Element>::erf(x * FRAC_1_SQRT_2))
}

/// `x * phi(x)`, which tends to 0 at infinity.
fn x_phi(x: f64) -> f64 {
    if x.is_infinite() {
        0.0
    } else {
        x * phi(x)
    }
}

/// Mean and standard deviation of `N(mean, std^2)` restricted to `[a, b]`:
/// with `alpha = (a - mean)/std`, `beta = (b - mean)/std`, `Z = Phi(beta) - Phi(alpha)`,
/// mean `= mean + std (phi(alpha) - phi(beta)) / Z` and variance
/// `= std^2 [1 + (alpha phi(alpha) - beta phi(beta)) / Z - ((phi(alpha) - phi(beta)) / Z)^2]`.
/// Accurate while `Z` is not tiny (both bounds deep in the same tail lose precision).
pub fn truncated_normal_moments(mean: f64, std: f64, a: f64, b: f64) -> (f64, f64) {
    let (alpha, beta) = ((a - mean) / std, (b - mean) / std);
    let z = big_phi(beta) - big_phi(alpha);
    let d = (phi(alpha) - phi(beta)) / z;
    let var = std * std * (1.0 + (x_phi(alpha) - x_phi(beta)) / z - d * d);
    (mean + std * d, var.max(0.0).sqrt())
}

/// An exact sampler of the truncated normal (Robert, 1995, "Simulation of truncated normal
/// variables"): plain normal rejection for wide intervals around the mean, uniform proposals
/// for narrow intervals, and exponential proposals in a tail. Every branch accepts with
/// probability above about 0.3, so sampling takes a bounded expected number of draws.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TruncatedSampler {
    mean: f64,
    std: f64,
    a: f64,
    b: f64,
    alpha: f64,
    beta: f64,
}

impl TruncatedSampler {
    /// Checks the parameters: finite mean, positive finite std, `a < b`, and an interval
    /// within 1000 standard deviations of the mean (beyond that its mass underflows).
    pub(crate) fn new(mean: f64, std: f64, a: f64, b: f64) -> Result<TruncatedSampler, InitError> {
        let invalid = |message: String| Err(InitError::Invalid { initializer: "trunc_normal", message });
        if !mean.is_finite() || !std.is_finite() || std <= 0.0 {
            return invalid(format!("needs a finite mean and a finite std > 0, got mean {mean}, std {std}"));
        }
        if a.is_nan() || b.is_nan() || a >= b {
            return invalid(format!("needs a < b, got a = {a}, b = {b}"));
        }
        let (alpha, beta) = ((a - mean) / std, (b - mean) / std);
        if alpha > 1000.0 || beta < -1000.0 {
            return invalid(format!(
                "[a, b] = [{a}, {b}] lies more than 1000 standard deviations from the mean {mean}"
            ));
        }
        Ok(TruncatedSampler { mean, std, a, b, alpha, beta })
    }

    pub(crate) fn sample(&self, rng: &mut Rng) -> f64 {
        let z = if self.alpha >= 0.0 {
            tail(rng, self.alpha, self.beta)
        } else if self.beta <= 0.0 {
            -tail(rng, -self.beta, -self.alpha)
        } else if self.beta - self.alpha >= 2.5 {
            // The interval holds at least Phi(2.5) - 1/2 = 0.49 of the mass.
            loop {
                let z: f64 = rng.normal(0.0, 1.0);
                if z >= self.alpha && z <= self.beta {
                    break z;
                }
            }
        } else {
            // Narrow interval around 0: uniform proposal, accept with exp(-z^2/2).
            loop {
                let z = rng.uniform(self.alpha, self.beta);
                if rng.next_f64() <= (-0.5 * z * z).exp() {
                    break z;
                }
            }
        };
        (self.mean + self.std * z).clamp(self.a, self.b)
    }
}

/// A standard normal draw restricted to `[alpha, beta]` with `0 <= alpha < beta`.
fn tail(rng: &mut Rng, alpha: f64, beta: f64) -> f64 {
    if beta * beta - alpha * alpha <= 2.5 {
        // Uniform proposal; the density ratio exp((alpha^2 - z^2)/2) is at least exp(-1.25).
        loop {
            let z = rng.uniform(alpha, beta);
            if rng.next_f64() <= (0.5 * (alpha * alpha - z * z)).exp() {
                break z;
            }
        }
    } else {
        // Translated exponential proposal with Robert's optimal rate.
        let lambda = 0.5 * (alpha + (alpha * alpha + 4.0).sqrt());
        loop {
            let z = alpha - (1.0 - rng.next_f64()).ln() / lambda;
            if z > beta {
                continue;
            }
            let d = z - lambda;
            if rng.next_f64() <= (-0.5 * d * d).exp() {
                break z;
            }
        }
    }
}

/// `n` orthonormal columns of length `m >= n`, stored column after column: classical
/// Gram-Schmidt with one reorthogonalization pass ("twice is enough") on normal draws, which
/// is the Q of a QR factorization whose R has a positive diagonal (Saxe et al.'s recipe, with
/// PyTorch's sign convention).
fn orthonormal_columns(m: usize, n: usize, rng: &mut Rng) -> Result<Vec<f64>, InitError> {
    let mut q = vec![0.0f64; m * n];
    let mut coef = vec![0.0f64; n];
    for j in 0..n {
        let (done, rest) = q.split_at_mut(j * m);
        let v = &mut rest[..m];
        v.iter_mut().for_each(|x| *x = rng.normal(0.0, 1.0));
        let norm0 = norm(v);
        for _pass in 0..2 {
            for (i, c) in coef[..j].iter_mut().enumerate() {
                *c = dot(&done[i * m..(i + 1) * m], v);
            }
            for (i, &c) in coef[..j].iter().enumerate() {
                v.iter_mut().zip(&done[i * m..(i + 1) * m]).for_each(|(x, &qi)| *x -= c * qi);
            }
        }
        let nv = norm(v);
        if !nv.is_finite() || nv <= 1e-10 * norm0 {
            return Err(InitError::Singular { rows: m, cols: n });
        }
        v.iter_mut().for_each(|x| *x /= nv);
    }
    Ok(q)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_tensor::ndarray::{Array2, ArrayD, IxDyn};

    fn sample_stats(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn truncated_moments_match_known_values() {
        // trunc_normal_(0, 1, -2, 2): std 0.8796256610342398 (PyTorch reference).
        let (m, s) = truncated_normal_moments(0.0, 1.0, -2.0, 2.0);
        assert!(m.abs() < 1e-15);
        assert!((s - 0.8796256610342398).abs() < 1e-14, "{s}");
        // Unbounded: plain normal.
        let (m, s) = truncated_normal_moments(1.0, 2.0, f64::NEG_INFINITY, f64::INFINITY);
        assert_eq!((m, s), (1.0, 2.0));
        // Half normal: mean sqrt(2/pi), variance 1 - 2/pi.
        let (m, s) = truncated_normal_moments(0.0, 1.0, 0.0, f64::INFINITY);
        assert!((m - (2.0 / PI).sqrt()).abs() < 1e-15);
        assert!((s - (1.0 - 2.0 / PI).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn truncated_sampler_matches_moments_in_every_branch() {
        // (mean, std, a, b): wide central, narrow central, tail with uniform proposals,
        // tail with exponential proposals, mirrored tail, one-sided.
        let cases = [
            (0.0, 1.0, -2.0, 2.0),
            (0.5, 2.0, 0.0, 1.0),
            (0.0, 1.0, 1.0, 1.5),
            (0.0, 1.0, 2.0, 6.0),
            (1.0, 0.5, -1.0, 0.0),
            (0.0, 1.0, f64::NEG_INFINITY, -0.3),
        ];
        let n = 40_000;
        for (k, &(mean, std, a, b)) in cases.iter().enumerate() {
            let sampler = TruncatedSampler::new(mean, std, a, b).unwrap();
            let mut rng = Rng::seed(k as u64);
            let xs: Vec<f64> = (0..n).map(|_| sampler.sample(&mut rng)).collect();
            assert!(xs.iter().all(|&x| a <= x && x <= b), "case {k}");
            let (m, s) = sample_stats(&xs);
            let (tm, ts) = truncated_normal_moments(mean, std, a, b);
            let tol = 6.0 * ts / (n as f64).sqrt();
            assert!((m - tm).abs() < tol, "case {k}: mean {m} vs {tm}");
            assert!((s - ts).abs() < 6.0 * ts * (2.0 / n as f64).sqrt(), "case {k}: std {s} vs {ts}");
        }
    }

    #[test]
    fn truncated_sampler_rejects_bad_parameters() {
        assert!(TruncatedSampler::new(0.0, 0.0, -1.0, 1.0).is_err());
        assert!(TruncatedSampler::new(0.0, 1.0, 1.0, 1.0).is_err());
        assert!(TruncatedSampler::new(0.0, 1.0, f64::NAN, 1.0).is_err());
        assert!(TruncatedSampler::new(0.0, 1.0, 2000.0, 3000.0).is_err());
        assert!(TruncatedSampler::new(f64::INFINITY, 1.0, 0.0, 1.0).is_err());
    }

    #[test]
    fn orthogonal_fill_is_orthogonal_for_wide_tall_and_square() {
        for (rows, cols) in [(3, 7), (7, 3), (5, 5), (1, 4), (4, 1)] {
            let mut w = Array2::<f64>::zeros((rows, cols));
            Distribution::Orthogonal { gain: 2.0 }.fill(w.view_mut().into_dyn(), &mut Rng::seed(3)).unwrap();
            let gram = if rows <= cols { w.dot(&w.t()) } else { w.t().dot(&w) };
            let k = rows.min(cols);
            for i in 0..k {
                for j in 0..k {
                    let expect = if i == j { 4.0 } else { 0.0 };
                    assert!((gram[[i, j]] - expect).abs() < 1e-12, "{rows}x{cols} gram[{i},{j}]");
                }
            }
        }
    }

    #[test]
    fn orthogonal_needs_a_matrix_and_fills_empty_tensors() {
        let mut v = ArrayD::<f32>::zeros(IxDyn(&[4]));
        let err = Distribution::Orthogonal { gain: 1.0 }.fill(v.view_mut(), &mut Rng::seed(0)).unwrap_err();
        assert!(matches!(err, InitError::NeedsMatrix { .. }));
        let mut e = ArrayD::<f32>::zeros(IxDyn(&[0, 3]));
        Distribution::Orthogonal { gain: 1.0 }.fill(e.view_mut(), &mut Rng::seed(0)).unwrap();
    }

    #[test]
    fn f32_fill_is_the_rounded_f64_fill() {
        let dists = [
            Distribution::Uniform { low: -0.3, high: 0.7 },
            Distribution::Normal { mean: 1.0, std: 0.1 },
            Distribution::TruncatedNormal { mean: 0.0, std: 0.02, a: -0.04, b: 0.04 },
            Distribution::Orthogonal { gain: 1.5 },
        ];
        for d in dists {
            let mut a = ArrayD::<f64>::zeros(IxDyn(&[6, 4]));
            let mut b = ArrayD::<f32>::zeros(IxDyn(&[6, 4]));
            d.fill(a.view_mut(), &mut Rng::seed(11)).unwrap();
            d.fill(b.view_mut(), &mut Rng::seed(11)).unwrap();
            assert_eq!(a.mapv(|x| x as f32), b, "{d:?}");
        }
    }

    #[test]
    fn fill_follows_logical_order_on_transposed_views() {
        let d = Distribution::Normal { mean: 0.0, std: 1.0 };
        let mut a = Array2::<f64>::zeros((3, 5));
        d.fill(a.view_mut().into_dyn(), &mut Rng::seed(5)).unwrap();
        let mut b = Array2::<f64>::zeros((5, 3));
        let bt = b.view_mut().reversed_axes();
        d.fill(bt.into_dyn(), &mut Rng::seed(5)).unwrap();
        assert_eq!(a, b.t());
    }
}
