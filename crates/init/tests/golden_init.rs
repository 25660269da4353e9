//! Conformance with PyTorch's initializer formulas: `testdata/golden/init.json` (or
//! `$NABLA_GOLDEN_DIR/init.json`), schema in `/work/shared/golden/README.md`.
//!
//! Fans, gains, bounds and standard deviations must match to 1e-12 relative; every
//! fan-based initializer must fail on the 1-d shape, as PyTorch does. One draw per entry is
//! also checked against the empirical tolerances of the README.

use nabla_golden::{assert_close_scalar_tol, Tolerance};
use nabla_init::{calculate_gain, fans, Distribution, FanMode, HeConfig, Initializer, Nonlinearity, Role};
use nabla_registry::{RawParams, Value};
use nabla_tensor::ndarray::{ArrayD, Ix2, IxDyn};
use nabla_tensor::Rng;
use serde_json::Value as Json;

/// Formula values (fans, gains, bounds, standard deviations) agree to 1e-12 relative.
const EXACT: Tolerance = Tolerance { atol: 0.0, rtol: 1e-12 };

fn golden() -> Json {
    nabla_golden::load("init.json")
}

fn num(v: &Json, key: &str, ctx: &str) -> f64 {
    v.get(key).and_then(Json::as_f64).unwrap_or_else(|| panic!("{ctx}: missing number '{key}'"))
}

#[track_caller]
fn close(actual: f64, expected: f64, what: &str) {
    assert_close_scalar_tol(what, actual, expected, EXACT);
}

fn raw(pairs: &[(&str, f64)]) -> RawParams {
    pairs.iter().map(|(k, v)| (k.to_string(), Value::Float(*v))).collect()
}

fn with_str(mut p: RawParams, pairs: &[(&str, &str)]) -> RawParams {
    for (k, v) in pairs {
        p.insert(k.to_string(), Value::Str(v.to_string()));
    }
    p
}

/// How each golden id is expressed here: registered name, hyper-parameters, whether it is a
/// bias, and the gain this library uses (checked against the file's `gain`).
fn mapping(id: &str, entry: &Json) -> (&'static str, RawParams, bool, Option<f64>) {
    let relu = calculate_gain("relu", None).unwrap();
    let he = |nl: &str, a: f64| {
        HeConfig::new(FanMode::FanIn, nl.parse::<Nonlinearity>().unwrap(), a).unwrap().gain()
    };
    match id {
        "uniform_" => ("uniform", raw(&[("low", 0.0), ("high", 1.0)]), false, None),
        "uniform_sym" => ("uniform", raw(&[("low", -0.1), ("high", 0.1)]), false, None),
        "normal_" => ("normal", raw(&[("mean", 0.0), ("std", 1.0)]), false, None),
        "normal_0.02" => ("normal", raw(&[("std", 0.02)]), false, None),
        "xavier_uniform_" => ("xavier_uniform", raw(&[("gain", 1.0)]), false, Some(1.0)),
        "xavier_uniform_tanh" => {
            let g = calculate_gain("tanh", None).unwrap();
            ("glorot_uniform", raw(&[("gain", g)]), false, Some(g))
        }
        "xavier_normal_" => ("xavier_normal", RawParams::new(), false, Some(1.0)),
        "kaiming_uniform_" => (
            "kaiming_uniform",
            with_str(raw(&[("a", 0.0)]), &[("nonlinearity", "leaky_relu"), ("mode", "fan_in")]),
            false,
            Some(he("leaky_relu", 0.0)),
        ),
        "kaiming_uniform_relu_fan_in" => {
            ("he_uniform", with_str(RawParams::new(), &[("mode", "fan_in")]), false, Some(relu))
        }
        "kaiming_uniform_relu_fan_out" => {
            ("he_uniform", with_str(RawParams::new(), &[("mode", "fan_out")]), false, Some(relu))
        }
        "kaiming_normal_relu_fan_in" => {
            ("kaiming_normal", with_str(RawParams::new(), &[("mode", "fan_in")]), false, Some(relu))
        }
        "kaiming_normal_relu_fan_out" => (
            "he_normal",
            with_str(RawParams::new(), &[("mode", "fan_out"), ("nonlinearity", "relu")]),
            false,
            Some(relu),
        ),
        "lecun_uniform" => ("lecun_uniform", RawParams::new(), false, Some(1.0)),
        "lecun_normal" => ("lecun_normal", RawParams::new(), false, Some(1.0)),
        "linear_default_weight" => (
            "torch_linear_default",
            RawParams::new(),
            false,
            Some(Nonlinearity::LeakyRelu.gain(Some(5f64.sqrt())).unwrap()),
        ),
        "linear_default_bias" => ("torch_linear_default", RawParams::new(), true, None),
        "trunc_normal_" | "trunc_normal_0.02_2sigma" | "trunc_normal_0.02_default_ab" => {
            if entry.get("torch_raises").is_some() {
                panic!("{id}: trunc_normal_ never raises in PyTorch");
            }
            let p = raw(&[
                ("mean", num(entry, "mean_param", id)),
                ("std", num(entry, "std_param", id)),
                ("a", num(entry, "a", id)),
                ("b", num(entry, "b", id)),
            ]);
            ("trunc_normal", p, false, None)
        }
        "orthogonal_" => ("orthogonal", RawParams::new(), false, Some(1.0)),
        "orthogonal_relu" => ("orthogonal", raw(&[("gain", relu)]), false, Some(relu)),
        other => panic!("init.json has an initializer id this test does not know: {other}"),
    }
}

#[test]
fn calculate_gain_matches_pytorch() {
    let g = golden();
    let gains = g["calculate_gain"].as_object().expect("calculate_gain table");
    assert!(gains.len() >= 11);
    for (key, expected) in gains {
        let expected = expected.as_f64().unwrap();
        let (name, param) = match key.split_once('(') {
            None => (key.as_str(), None),
            Some((name, rest)) => {
                let arg = rest.strip_suffix(')').unwrap();
                let param = match arg {
                    "None" => None,
                    "sqrt(5)" => Some(5f64.sqrt()),
                    x => Some(x.parse::<f64>().unwrap_or_else(|_| panic!("cannot parse gain argument {x}"))),
                };
                (name, param)
            }
        };
        close(calculate_gain(name, param).unwrap(), expected, &format!("calculate_gain {key}"));
    }
}

#[test]
fn fans_bounds_and_stds_match_pytorch() {
    let g = golden();
    let shapes = g["shapes"].as_array().expect("shapes");
    assert_eq!(shapes.len(), 4);
    let mut checked = 0;
    for s in shapes {
        let shape = nabla_golden::shape(&s["shape"]);
        let ctx = format!("shape {shape:?}");
        let our_fans = fans(&shape);
        if s["fan_error"].is_null() {
            let f = our_fans.clone().unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(f.fan_in as f64, num(s, "fan_in", &ctx), "{ctx} fan_in");
            assert_eq!(f.fan_out as f64, num(s, "fan_out", &ctx), "{ctx} fan_out");
            assert_eq!(
                f.receptive_field as f64,
                num(s, "receptive_field_size", &ctx),
                "{ctx} receptive field"
            );
        } else {
            assert!(our_fans.is_err(), "{ctx}: PyTorch has no fans here ({})", s["fan_error"]);
        }
        for (id, entry) in s["initializers"].as_object().unwrap() {
            let ctx = format!("{ctx} {id}");
            let (name, params, bias, gain) = mapping(id, entry);
            let init = nabla_registry::build::<dyn Initializer>((name, &params), ())
                .unwrap_or_else(|e| panic!("{ctx}: {e}"))
                .value;
            let dist = if bias {
                our_fans
                    .clone()
                    .and_then(|weight_fans| init.distribution(&[shape[0]], Role::Bias { weight_fans }))
            } else {
                init.distribution(&shape, Role::Weight)
            };
            if entry.get("torch_raises").and_then(Json::as_bool) == Some(true) {
                assert!(dist.is_err(), "{ctx}: PyTorch raises ({}), we gave {dist:?}", entry["error"]);
                let mut t = ArrayD::<f64>::zeros(IxDyn(&shape));
                assert!(init.fill_f64(t.view_mut(), &mut Rng::seed(0)).is_err(), "{ctx}: fill must fail");
                checked += 1;
                continue;
            }
            let dist = dist.unwrap_or_else(|e| panic!("{ctx}: {e}"));
            if let (Some(ours), Some(theirs)) = (gain, entry.get("gain")) {
                close(ours, theirs.as_f64().unwrap(), &format!("{ctx} gain"));
            }
            if let Some(fan) = entry.get("fan") {
                let f = our_fans.clone().unwrap();
                let ours = if id.ends_with("fan_out") { f.fan_out } else { f.fan_in };
                assert_eq!(fan.as_u64().unwrap() as usize, ours, "{ctx}: fan");
            }
            compare(&ctx, &dist, entry, &shape);
            empirical(&ctx, &*init, &dist, bias, &shape);
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * 21, "every (shape, initializer) pair of init.json is checked");
}

fn compare(ctx: &str, dist: &Distribution, entry: &Json, shape: &[usize]) {
    let kind = entry["distribution"].as_str().unwrap();
    match (kind, *dist) {
        ("uniform", Distribution::Uniform { low, high }) => {
            close(low, num(entry, "low", ctx), &format!("{ctx} low"));
            close(high, num(entry, "high", ctx), &format!("{ctx} high"));
            if let Some(bound) = entry.get("bound") {
                close(high, bound.as_f64().unwrap(), &format!("{ctx} bound"));
            }
        }
        ("normal", Distribution::Normal { mean, std }) => {
            close(mean, num(entry, "mean", ctx), &format!("{ctx} mean"));
            close(std, num(entry, "std", ctx), &format!("{ctx} std"));
        }
        ("truncated_normal", Distribution::TruncatedNormal { mean, std, a, b }) => {
            close(mean, num(entry, "mean_param", ctx), &format!("{ctx} mean_param"));
            close(std, num(entry, "std_param", ctx), &format!("{ctx} std_param"));
            close(a, num(entry, "low", ctx), &format!("{ctx} a"));
            close(b, num(entry, "high", ctx), &format!("{ctx} b"));
        }
        ("orthogonal", Distribution::Orthogonal { gain }) => {
            close(gain, num(entry, "gain", ctx), &format!("{ctx} gain"));
            close(dist.std(shape), num(entry, "rms", ctx), &format!("{ctx} rms"));
        }
        (kind, d) => panic!("{ctx}: PyTorch draws from a {kind} distribution, we from {d:?}"),
    }
    close(dist.mean(), num(entry, "mean", ctx), &format!("{ctx} theoretical mean"));
    close(dist.std(shape), num(entry, "std", ctx), &format!("{ctx} theoretical std"));
}

/// The README's sanity checks on one draw of the shape.
fn empirical(ctx: &str, init: &dyn Initializer, dist: &Distribution, bias: bool, shape: &[usize]) {
    let mut t = ArrayD::<f64>::zeros(IxDyn(shape));
    let mut rng = Rng::seed(0);
    if bias {
        let weight_fans = fans(shape).unwrap();
        init.fill_bias_f64(t.view_mut(), weight_fans, &mut rng).unwrap();
    } else {
        init.fill_f64(t.view_mut(), &mut rng).unwrap();
    }
    let n = t.len() as f64;
    let mean = t.sum() / n;
    let std = (t.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
    let expected = dist.std(shape);
    if t.len() >= 1000 {
        assert!(
            (std - expected).abs() <= 5.0 * expected / n.sqrt(),
            "{ctx}: empirical std {std} vs {expected}"
        );
    }
    if let Some((low, high)) = dist.bounds() {
        assert!(t.iter().all(|&x| low <= x && x <= high), "{ctx}: draw outside [{low}, {high}]");
    }
    if let Distribution::Orthogonal { gain } = *dist {
        let rows = shape[0];
        let m =
            t.into_shape_with_order((rows, n as usize / rows)).unwrap().into_dimensionality::<Ix2>().unwrap();
        let gram = if m.nrows() <= m.ncols() { m.dot(&m.t()) } else { m.t().dot(&m) };
        for ((i, j), &v) in gram.indexed_iter() {
            let target = if i == j { gain * gain } else { 0.0 };
            assert!((v - target).abs() < 1e-10, "{ctx}: gram[{i},{j}] = {v}");
        }
    }
}
