//! Aggregation over seeds: mean with min-max band and standard deviation, curve binning.

use serde::{Deserialize, Serialize};

/// Summary of one quantity over seeds (non-finite values are left out and counted).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Mean over the finite values (NaN when there are none).
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub std: f64,
    /// Smallest finite value.
    pub min: f64,
    /// Largest finite value.
    pub max: f64,
    /// How many values were finite.
    pub n: usize,
}

impl Spread {
    /// The spread of `values`, ignoring NaN and infinities.
    pub fn of(values: &[f64]) -> Spread {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let n = finite.len();
        if n == 0 {
            return Spread { mean: f64::NAN, std: f64::NAN, min: f64::NAN, max: f64::NAN, n };
        }
        let mean = finite.iter().sum::<f64>() / n as f64;
        let var =
            if n > 1 { finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
        let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Spread { mean, std: var.sqrt(), min, max, n }
    }

    /// Whether the mean is a number (some value was finite).
    pub fn is_finite(&self) -> bool {
        self.n > 0
    }

    /// Whether every value of `self` is below every value of `other` (the ranges over seeds
    /// do not overlap). Needs at least two values on each side: with one seed the spread is
    /// unknown, and nothing is "clearly" below anything.
    pub fn entirely_below(&self, other: &Spread) -> bool {
        self.n >= 2 && other.n >= 2 && self.max < other.min
    }

    /// `mean ± std` with `digits` decimals, scaled by `scale` (100 for percentages).
    pub fn pm(&self, scale: f64, digits: usize) -> String {
        if !self.is_finite() {
            return "diverged".to_string();
        }
        if self.n > 1 {
            format!("{:.*} ± {:.*}", digits, self.mean * scale, digits, self.std * scale)
        } else {
            format!("{:.*}", digits, self.mean * scale)
        }
    }
}

/// One point of a curve aggregated over seeds: mean with a min-max band.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BandPoint {
    /// The abscissa.
    pub x: f64,
    /// Mean over seeds.
    pub mean: f64,
    /// Minimum over seeds.
    pub lo: f64,
    /// Maximum over seeds.
    pub hi: f64,
}

/// Aggregates curves of several seeds point by point: at index `i`, the mean and the
/// min-max of the seeds that have a finite value there. A curve may be shorter than the
/// others (a diverged run stops); points where no seed has a value are left out.
pub fn band(xs: &[f64], curves: &[Vec<f64>]) -> Vec<BandPoint> {
    xs.iter()
        .enumerate()
        .filter_map(|(i, &x)| {
            let values: Vec<f64> = curves.iter().filter_map(|c| c.get(i).copied()).collect();
            let s = Spread::of(&values);
            s.is_finite().then_some(BandPoint { x, mean: s.mean, lo: s.min, hi: s.max })
        })
        .collect()
}

/// Averages consecutive groups of `width` values (the last group may be shorter): a per-step
/// loss curve becomes a readable one. Returns the bin means and the index of each bin's
/// last step (from 1).
pub fn bin(values: &[f64], width: usize) -> (Vec<f64>, Vec<f64>) {
    let width = width.max(1);
    let mut means = Vec::new();
    let mut ends = Vec::new();
    for (k, chunk) in values.chunks(width).enumerate() {
        means.push(chunk.iter().sum::<f64>() / chunk.len() as f64);
        ends.push((k * width + chunk.len()) as f64);
    }
    (means, ends)
}

/// The spread over seeds of each curve's value at index `len - 1` (a curve that stopped
/// before, because its run diverged, counts as NaN).
pub fn last_values(curves: &[Vec<f64>], len: usize) -> Spread {
    let values: Vec<f64> =
        curves.iter().map(|c| if len > 0 && c.len() >= len { c[len - 1] } else { f64::NAN }).collect();
    Spread::of(&values)
}

/// The spread over seeds of the mean of the last `fraction` of each curve (at least one
/// point): a stable "final value" of a noisy per-step curve. A curve that stopped early
/// (diverged) counts as NaN.
pub fn tail_mean(curves: &[Vec<f64>], full_len: usize, fraction: f64) -> Spread {
    let values: Vec<f64> = curves
        .iter()
        .map(|c| {
            if c.len() < full_len || c.is_empty() {
                return f64::NAN;
            }
            let k = ((c.len() as f64 * fraction).ceil() as usize).clamp(1, c.len());
            c[c.len() - k..].iter().sum::<f64>() / k as f64
        })
        .collect();
    Spread::of(&values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_ignores_non_finite_values() {
        let s = Spread::of(&[1.0, 3.0, f64::NAN, 2.0]);
        assert_eq!((s.mean, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert!((s.std - 1.0).abs() < 1e-12);
        assert!(!Spread::of(&[f64::INFINITY]).is_finite());
        assert_eq!(Spread::of(&[f64::NAN]).pm(1.0, 2), "diverged");
        assert_eq!(Spread::of(&[0.5]).pm(100.0, 1), "50.0");
        assert_eq!(Spread::of(&[0.5, 0.7]).pm(100.0, 0), "60 ± 14");
    }

    #[test]
    fn ranges_overlap_or_not() {
        let a = Spread::of(&[1.0, 2.0]);
        let b = Spread::of(&[2.5, 3.0]);
        assert!(a.entirely_below(&b) && !b.entirely_below(&a));
        assert!(!a.entirely_below(&Spread::of(&[1.5, 3.0])));
        assert!(
            !Spread::of(&[1.0]).entirely_below(&Spread::of(&[2.0])),
            "one seed says nothing about spread"
        );
    }

    #[test]
    fn bands_follow_the_seeds_that_exist() {
        let b = band(&[1.0, 2.0, 3.0], &[vec![1.0, 2.0, 3.0], vec![3.0, 4.0]]);
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].mean, b[0].lo, b[0].hi), (2.0, 1.0, 3.0));
        assert_eq!((b[2].mean, b[2].lo, b[2].hi), (3.0, 3.0, 3.0));
        assert!(band(&[1.0], &[vec![f64::NAN]]).is_empty());
    }

    #[test]
    fn binning_and_tails() {
        let (m, e) = bin(&[1.0, 3.0, 5.0, 7.0, 9.0], 2);
        assert_eq!(m, [2.0, 6.0, 9.0]);
        assert_eq!(e, [2.0, 4.0, 5.0]);
        assert_eq!(last_values(&[vec![1.0, 2.0], vec![3.0, 4.0]], 2).mean, 3.0);
        assert_eq!(last_values(&[vec![1.0, 2.0], vec![3.0]], 2).n, 1);
        let t = tail_mean(&[vec![4.0, 2.0, 0.0, 2.0], vec![1.0, 1.0]], 4, 0.5);
        assert_eq!((t.mean, t.n), (1.0, 1));
    }
}
