//! Property tests: for random shapes, uniform draws stay within their bounds, and the sample
//! mean and variance of large draws match the formulas within tolerances that scale with
//! 1/sqrt(n); orthogonal draws satisfy `W W^T = gain^2 I` (or `W^T W`).

use nabla_init::{Distribution, InitError, Initializer, Role};
use nabla_tensor::ndarray::{ArrayD, Ix2, IxDyn};
use nabla_tensor::Rng;
use proptest::prelude::*;

fn build(spec: &str) -> Result<Box<dyn Initializer>, InitError> {
    nabla_registry::build::<dyn Initializer>(spec, ()).map(|built| built.value)
}

const SPECS: &[&str] = &[
    "he_uniform",
    "he_uniform:mode=fan_out,nonlinearity=leaky_relu,a=0.3",
    "he_normal",
    "he_normal:mode=fan_out,nonlinearity=tanh",
    "xavier_uniform:gain=1.7",
    "xavier_normal",
    "lecun_uniform",
    "lecun_normal",
    "torch_linear_default",
    "uniform:low=-2,high=0.5",
    "normal:mean=1,std=0.3",
    "trunc_normal",
    "trunc_normal:std=0.02,a=-0.04,b=0.04",
    "trunc_normal:mean=0.1,std=1,a=0.5,b=4",
];

/// Shapes of 2 to 4 dimensions (weights, conv kernels).
fn shapes() -> impl Strategy<Value = Vec<usize>> {
    (1usize..64, 1usize..64, prop::collection::vec(1usize..5, 0..3)).prop_map(|(a, b, rest)| {
        let mut s = vec![a, b];
        s.extend(rest);
        s
    })
}

/// Running moments over several fills of one shape, so every case sees at least `MIN_N`
/// samples from the shape's own distribution.
const MIN_N: usize = 20_000;

fn moments(
    init: &dyn Initializer,
    shape: &[usize],
    f32_path: bool,
    seed: u64,
) -> (f64, f64, f64, f64, usize) {
    let numel: usize = shape.iter().product();
    let reps = MIN_N.div_ceil(numel);
    let mut rng = Rng::seed(seed);
    let (mut sum, mut sumsq, mut min, mut max) = (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    let mut a64 = ArrayD::<f64>::zeros(IxDyn(shape));
    let mut a32 = ArrayD::<f32>::zeros(IxDyn(shape));
    for _ in 0..reps {
        let values: Vec<f64> = if f32_path {
            init.fill_f32(a32.view_mut(), &mut rng).unwrap();
            a32.iter().map(|&x| f64::from(x)).collect()
        } else {
            init.fill_f64(a64.view_mut(), &mut rng).unwrap();
            a64.iter().copied().collect()
        };
        for x in values {
            sum += x;
            sumsq += x * x;
            min = min.min(x);
            max = max.max(x);
        }
    }
    let n = reps * numel;
    let mean = sum / n as f64;
    let var = (sumsq / n as f64 - mean * mean).max(0.0);
    (mean, var, min, max, n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn draws_match_their_formulas(spec_idx in 0..SPECS.len(), shape in shapes(), f32_path: bool, seed: u64) {
        let init = build(SPECS[spec_idx]).unwrap();
        let dist = init.distribution(&shape, Role::Weight).unwrap();
        let (mean, var, min, max, n) = moments(&*init, &shape, f32_path, seed);
        let (tmean, tstd) = (dist.mean(), dist.std(&shape));
        let n = n as f64;
        // Bounds (rounded to f32 on the f32 path, where rounding is monotone).
        if let Some((low, high)) = dist.bounds() {
            let (low, high) = if f32_path { (f64::from(low as f32), f64::from(high as f32)) } else { (low, high) };
            prop_assert!(low <= min && max <= high, "{}: [{min}, {max}] outside [{low}, {high}]", SPECS[spec_idx]);
        }
        // Mean within 6 standard errors; variance within 6 standard errors of the sample
        // variance (fourth moment at most 3 sigma^4 for these distributions: sd <= sqrt(2/n) sigma^2).
        prop_assert!((mean - tmean).abs() <= 6.0 * tstd / n.sqrt(), "{}: mean {mean} vs {tmean}", SPECS[spec_idx]);
        let tvar = tstd * tstd;
        prop_assert!(
            (var - tvar).abs() <= 6.0 * (2.0 / n).sqrt() * tvar,
            "{} on {shape:?}: variance {var} vs {tvar} (n = {n})", SPECS[spec_idx]
        );
    }

    #[test]
    fn orthogonal_gram_is_gain_squared_identity(
        rows in 1usize..40,
        cols in 1usize..40,
        extra in prop::option::of(1usize..4),
        gain in 0.1f64..3.0,
        f32_path: bool,
        seed: u64,
    ) {
        let mut shape = vec![rows, cols];
        shape.extend(extra);
        let spec = format!("orthogonal:gain={gain}");
        let init = build(&spec).unwrap();
        prop_assert_eq!(init.distribution(&shape, Role::Weight).unwrap(), Distribution::Orthogonal { gain });
        let w: ArrayD<f64> = if f32_path {
            let mut a = ArrayD::<f32>::zeros(IxDyn(&shape));
            init.fill_f32(a.view_mut(), &mut Rng::seed(seed)).unwrap();
            a.mapv(f64::from)
        } else {
            let mut a = ArrayD::<f64>::zeros(IxDyn(&shape));
            init.fill_f64(a.view_mut(), &mut Rng::seed(seed)).unwrap();
            a
        };
        let cols = w.len() / rows;
        let m = w.into_shape_with_order((rows, cols)).unwrap().into_dimensionality::<Ix2>().unwrap();
        let gram = if rows <= cols { m.dot(&m.t()) } else { m.t().dot(&m) };
        let tol = if f32_path { 1e-5 } else { 1e-10 } * gain * gain;
        for ((i, j), &v) in gram.indexed_iter() {
            let target = if i == j { gain * gain } else { 0.0 };
            prop_assert!((v - target).abs() <= tol, "{rows}x{cols}: gram[{i},{j}] = {v}, want {target}");
        }
    }

    #[test]
    fn same_seed_same_tensor(spec_idx in 0..SPECS.len(), shape in shapes(), seed: u64) {
        let init = build(SPECS[spec_idx]).unwrap();
        let draw = |s| {
            let mut a = ArrayD::<f32>::zeros(IxDyn(&shape));
            init.fill_f32(a.view_mut(), &mut Rng::seed(s)).unwrap();
            a
        };
        prop_assert_eq!(draw(seed), draw(seed));
    }
}
