//! Timing in windows, as the PyTorch reference script does: warm up (and calibrate the time
//! of one step), then time `reps` equal windows and report the median, the best and the
//! aggregate rate.
//!
//! [`paired`] times two step functions in alternating windows (a, b, a, b, ...), so that a
//! system and its reference see the same load on a shared machine and their ratio is fair.

use serde_json::{json, Value};
use std::time::Instant;

/// How long to measure one figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Timed seconds per figure, split into `reps` windows.
    pub seconds: f64,
    /// Number of timed windows.
    pub reps: usize,
    /// Minimum warm-up time in seconds (at least 5 steps are run in any case).
    pub warmup_seconds: f64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { seconds: 2.0, reps: 3, warmup_seconds: 0.3 }
    }
}

/// Rates measured in windows: `units` per second (samples, GFLOP, bytes).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Rate of each window.
    pub windows: Vec<f64>,
    /// Steps run in each window.
    pub steps_per_window: usize,
    /// Total timed seconds.
    pub seconds: f64,
    /// Units of work per step (samples per step, GFLOP per product, ...).
    pub units_per_step: f64,
    /// Aggregate rate over all windows.
    pub overall: f64,
}

impl Summary {
    fn new(windows: &[(usize, f64)], units_per_step: f64) -> Summary {
        let rates = windows.iter().map(|&(n, t)| n as f64 * units_per_step / t).collect();
        let steps: usize = windows.iter().map(|w| w.0).sum();
        let secs: f64 = windows.iter().map(|w| w.1).sum();
        Summary {
            windows: rates,
            steps_per_window: windows.first().map_or(0, |w| w.0),
            seconds: secs,
            units_per_step,
            overall: steps as f64 * units_per_step / secs.max(1e-12),
        }
    }

    /// The median window rate.
    pub fn median(&self) -> f64 {
        let mut r = self.windows.clone();
        r.sort_by(f64::total_cmp);
        match r.len() {
            0 => 0.0,
            n if n % 2 == 1 => r[n / 2],
            n => 0.5 * (r[n / 2 - 1] + r[n / 2]),
        }
    }

    /// The best window rate.
    pub fn best(&self) -> f64 {
        self.windows.iter().copied().fold(0.0, f64::max)
    }

    /// Milliseconds per step at the median rate.
    pub fn ms_per_step(&self) -> f64 {
        1000.0 * self.units_per_step / self.median().max(1e-12)
    }

    /// The window rates as the JSON reports show them (see [`thousandths`]).
    fn rounded_windows(&self) -> Vec<f64> {
        self.windows.iter().copied().map(thousandths).collect()
    }

    /// The summary in the PyTorch reference script's shape (`median`, `best`, `overall`,
    /// `windows`, `steps_per_window`, `seconds`, `ms_per_step_median`).
    pub fn to_json(&self) -> Value {
        json!({
            "median": self.median(),
            "best": self.best(),
            "overall": self.overall,
            "windows": self.rounded_windows(),
            "steps_per_window": self.steps_per_window,
            "seconds": thousandths(self.seconds),
            "ms_per_step_median": self.ms_per_step(),
        })
    }

    /// The summary of a GEMM timing (rates in GFLOP/s), in the reference script's shape
    /// (`gflops_median`, `gflops_best`, ...).
    pub fn to_gemm_json(&self) -> Value {
        json!({
            "gflops_median": self.median(),
            "gflops_best": self.best(),
            "gflops_overall": self.overall,
            "windows_gflops": self.rounded_windows(),
            "steps_per_window": self.steps_per_window,
            "seconds": thousandths(self.seconds),
            "ms_per_mm_median": self.ms_per_step() / self.units_per_step,
        })
    }
}

/// `x` rounded to thousandths: the reports' raw figures need no more digits.
fn thousandths(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs `step` for at least 5 calls and `timing.warmup_seconds`; returns seconds per step.
fn warm_up(step: &mut dyn FnMut(), timing: &Timing) -> f64 {
    let start = Instant::now();
    let mut n = 0usize;
    while n < 5 || start.elapsed().as_secs_f64() < timing.warmup_seconds {
        step();
        n += 1;
    }
    start.elapsed().as_secs_f64() / n as f64
}

fn steps_per_window(per_step: f64, timing: &Timing) -> usize {
    ((timing.seconds / timing.reps.max(1) as f64 / per_step.max(1e-9)).round() as usize).max(3)
}

fn window(step: &mut dyn FnMut(), steps: usize) -> (usize, f64) {
    let start = Instant::now();
    for _ in 0..steps {
        step();
    }
    (steps, start.elapsed().as_secs_f64())
}

/// The rate of `step` (`units_per_step` per second) over one window of about `seconds`, its
/// step count taken from `per_step` seconds per step (already warm: no warm-up).
pub fn window_rate(step: &mut dyn FnMut(), units_per_step: f64, per_step: f64, seconds: f64) -> f64 {
    let steps = ((seconds / per_step.max(1e-9)).round() as usize).max(3);
    let (n, t) = window(step, steps);
    n as f64 * units_per_step / t.max(1e-12)
}

/// Times one step function: warm-up, then `reps` windows; rates are `units_per_step` per
/// second.
pub fn single(step: &mut dyn FnMut(), units_per_step: f64, timing: &Timing) -> Summary {
    let per_step = warm_up(step, timing);
    let steps = steps_per_window(per_step, timing);
    let windows: Vec<_> = (0..timing.reps.max(1)).map(|_| window(step, steps)).collect();
    Summary::new(&windows, units_per_step)
}

/// Times two step functions doing the same amount of work per step in alternating windows
/// (each gets `timing.seconds`); returns the summaries of `a` and `b`.
pub fn paired(
    a: &mut dyn FnMut(),
    b: &mut dyn FnMut(),
    units_per_step: f64,
    timing: &Timing,
) -> (Summary, Summary) {
    let steps_a = steps_per_window(warm_up(a, timing), timing);
    let steps_b = steps_per_window(warm_up(b, timing), timing);
    let (mut wa, mut wb) = (Vec::new(), Vec::new());
    for _ in 0..timing.reps.max(1) {
        wa.push(window(a, steps_a));
        wb.push(window(b, steps_b));
    }
    (Summary::new(&wa, units_per_step), Summary::new(&wb, units_per_step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_statistics() {
        let s = Summary::new(&[(10, 1.0), (10, 0.5), (10, 2.0)], 2.0);
        assert_eq!(s.windows, vec![20.0, 40.0, 10.0]);
        assert_eq!(s.median(), 20.0);
        assert_eq!(s.best(), 40.0);
        assert!((s.overall - 60.0 / 3.5).abs() < 1e-12);
        assert!((s.ms_per_step() - 100.0).abs() < 1e-9);
        let even = Summary::new(&[(1, 1.0), (3, 1.0)], 1.0);
        assert_eq!(even.median(), 2.0);
    }

    #[test]
    fn summaries_in_json_round_their_windows_and_seconds_to_thousandths() {
        let s = Summary::new(&[(3, 0.7), (3, 0.9)], 1.0);
        let j = s.to_json();
        assert_eq!(j["windows"], json!([4.286, 3.333]));
        assert_eq!(j["seconds"], json!(1.6));
        assert_eq!(j["steps_per_window"], json!(3));
        let g = s.to_gemm_json();
        assert_eq!(g["windows_gflops"], j["windows"]);
        assert_eq!(
            (g["seconds"].clone(), g["gflops_median"].clone()),
            (j["seconds"].clone(), j["median"].clone())
        );
    }

    #[test]
    fn paired_runs_both_in_windows() {
        let (mut na, mut nb) = (0usize, 0usize);
        let t = Timing { seconds: 0.01, reps: 2, warmup_seconds: 0.0 };
        let (a, b) = paired(&mut || na += 1, &mut || nb += 1, 1.0, &t);
        assert_eq!(a.windows.len(), 2);
        assert_eq!(b.windows.len(), 2);
        assert!(na >= 5 + 2 * 3 && nb >= 5 + 2 * 3);
        assert!(a.median() > 0.0 && b.median() > 0.0);
    }
}
