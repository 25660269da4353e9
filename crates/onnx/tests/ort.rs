//! Exported models under ONNX Runtime give nabla's own evaluation-mode outputs: every
//! prediction equal, every logit within 1e-4. Skipped (with a message) where Python has no
//! onnxruntime; set `NABLA_PYTHON` to a Python that has it.

mod common;

use common::{argmax, conv_config, max_diff, nabla_forward, ort_run, skip, tensors, train, values, Ort};
use nabla_onnx::{export_model, export_run, write_onnx, ExportOptions, OutputHead, RunModel, Tensor};
use ndarray::{Array2, Axis};
use std::collections::BTreeMap;
use std::path::Path;

const TOLERANCE: f32 = 1e-4;

/// Exports `run` with `options`, runs it under ONNX Runtime on `x` and checks it against
/// `expected`; returns the largest difference, or `None` when skipped. `batch_statistics`:
/// the model normalizes with its batch's statistics.
fn check(
    run: &Path,
    options: &ExportOptions,
    x: &Array2<f32>,
    expected: &Array2<f32>,
    tag: &str,
    batch_statistics: bool,
) -> Option<f32> {
    let model = export_run(run, options).unwrap_or_else(|e| panic!("{tag}: {e}"));
    let path = run.join(format!("{tag}.onnx"));
    write_onnx(&model, &path).unwrap();
    let (got, report) = match ort_run(&path, x, run, batch_statistics) {
        Ort::Ran { output, report } => (output, report),
        Ort::Skipped(why) => {
            skip(&why);
            return None;
        }
    };
    assert!(report.contains(&format!("\"output\": \"{}\"", options.head.output_name())), "{report}");
    let diff = max_diff(&got, expected);
    let (a, b) = (argmax(&got), argmax(expected));
    let disagree = a.iter().zip(&b).filter(|(p, q)| p != q).count();
    eprintln!(
        "{tag}: opset {}, {} samples, max |onnxruntime - nabla| = {diff:.3e}, {disagree} predictions differ; {report}",
        options.opset,
        x.nrows()
    );
    assert_eq!(disagree, 0, "{tag}: predictions differ");
    assert!(diff <= TOLERANCE, "{tag}: max difference {diff} > {TOLERANCE}");
    Some(diff)
}

fn softmax_rows(y: &Array2<f32>) -> Array2<f32> {
    let mut p = y.mapv(f64::from);
    for mut row in p.axis_iter_mut(Axis(0)) {
        let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - m).exp());
        let s = row.sum();
        row.mapv_inplace(|v| v / s);
    }
    p.mapv(|v| v as f32)
}

#[test]
fn default_digits_model_matches_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(nabla_train::DEFAULT_CONFIG, &["epochs=3"], dir.path(), "digits");
    let (x, labels, logits) = nabla_forward(&run);
    let correct = argmax(&logits).iter().zip(&labels).filter(|(p, &l)| **p == l as usize).count();
    assert!(
        correct * 10 > labels.len() * 8,
        "the trained model is a real classifier: {correct}/{}",
        labels.len()
    );
    if check(&run, &ExportOptions::default(), &x, &logits, "digits", false).is_none() {
        return;
    }
    let probabilities = softmax_rows(&logits);
    let options = ExportOptions { head: OutputHead::Softmax, ..ExportOptions::default() };
    check(&run, &options, &x, &probabilities, "digits-softmax", false);
    let options = ExportOptions { opset: 17, ..ExportOptions::default() };
    check(&run, &options, &x, &logits, "digits-opset17", false);
}

/// Every activation, `bias = false`, BatchNorm without affine parameters and without running
/// statistics (batch statistics in evaluation too), dropout, and a final log-softmax.
const MIXED: &str = include_str!("fixtures/mixed.toml");

#[test]
fn every_activation_bias_free_and_batch_statistics_match_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(MIXED, &[], dir.path(), "mixed");
    let (x, _, logits) = nabla_forward(&run);
    let mut classes = argmax(&logits);
    classes.sort_unstable();
    classes.dedup();
    assert!(classes.len() >= 5, "a trained model, not a constant one: predicts {classes:?}");
    // Opset 17 composes GELU from Erf/Tanh and takes ReduceMean axes as an attribute; 18 as an
    // input; 20 has the Gelu operator.
    for opset in [17, 18, 20, 22] {
        let options = ExportOptions { opset, ..ExportOptions::default() };
        if check(&run, &options, &x, &logits, &format!("mixed-opset{opset}"), true).is_none() {
            return;
        }
    }
}

/// One sample's `[C, H, W]` image.
#[derive(Clone)]
struct Image {
    c: usize,
    h: usize,
    w: usize,
    v: Vec<f32>,
}

impl Image {
    fn at(&self, c: usize, y: usize, x: usize) -> f32 {
        self.v[(c * self.h + y) * self.w + x]
    }

    /// Padding [top, left, bottom, right]: zeros, or PyTorch's reflect (mirror without the
    /// edge).
    fn pad(&self, p: [usize; 4], reflect: bool) -> Image {
        let (h, w) = (self.h + p[0] + p[2], self.w + p[1] + p[3]);
        let mirror = |i: isize, n: usize| -> usize {
            let n = n as isize;
            let i = if i < 0 { -i } else { i };
            (if i >= n { 2 * (n - 1) - i } else { i }) as usize
        };
        let mut v = Vec::with_capacity(self.c * h * w);
        for c in 0..self.c {
            for y in 0..h {
                for x in 0..w {
                    let (sy, sx) = (y as isize - p[0] as isize, x as isize - p[1] as isize);
                    let inside = sy >= 0 && sx >= 0 && (sy as usize) < self.h && (sx as usize) < self.w;
                    v.push(if inside {
                        self.at(c, sy as usize, sx as usize)
                    } else if reflect {
                        self.at(c, mirror(sy, self.h), mirror(sx, self.w))
                    } else {
                        0.0
                    });
                }
            }
        }
        Image { c: self.c, h, w, v }
    }
}

/// Output size as PyTorch's pooling_output_shape computes it.
fn pooled(n: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
    let span = d * (k - 1) + 1;
    let num = n + 2 * p - span;
    let mut out = if ceil { num.div_ceil(s) } else { num / s } + 1;
    if ceil && (out - 1) * s >= n + p {
        out -= 1;
    }
    out
}

/// A direct implementation of the layers of `common::conv_config`, with PyTorch's semantics, to check
/// what ONNX Runtime computes from the exported attributes.
fn reference(x: &[f32], t: &BTreeMap<String, Tensor>, adaptive: [usize; 2]) -> Vec<f32> {
    let w = |n: &str| t[n].data();
    let mut img = Image { c: 2, h: 9, w: 7, v: x.to_vec() };
    let conv = |img: &Image,
                name: &str,
                out: usize,
                k: [usize; 2],
                s: [usize; 2],
                d: [usize; 2],
                groups: usize,
                bias: Option<&str>| {
        let (oh, ow) =
            ((img.h - d[0] * (k[0] - 1) - 1) / s[0] + 1, (img.w - d[1] * (k[1] - 1) - 1) / s[1] + 1);
        let cin = img.c / groups;
        let mut v = vec![0.0f32; out * oh * ow];
        for o in 0..out {
            let g = o / (out / groups);
            for y in 0..oh {
                for xx in 0..ow {
                    let mut acc = bias.map_or(0.0, |b| w(b)[o]);
                    for ci in 0..cin {
                        for ky in 0..k[0] {
                            for kx in 0..k[1] {
                                let wv = w(name)[((o * cin + ci) * k[0] + ky) * k[1] + kx];
                                acc += wv * img.at(g * cin + ci, y * s[0] + ky * d[0], xx * s[1] + kx * d[1]);
                            }
                        }
                    }
                    v[(o * oh + y) * ow + xx] = acc;
                }
            }
        }
        Image { c: out, h: oh, w: ow, v }
    };
    // 1: conv2d 2 -> 4, k3, padding 1.
    img = conv(&img.pad([1, 1, 1, 1], false), "1.weight", 4, [3, 3], [1, 1], [1, 1], 1, Some("1.bias"));
    // 2, 3: batch_norm2d (running statistics), relu.
    for c in 0..img.c {
        let (g, b, m, var) =
            (w("2.weight")[c], w("2.bias")[c], w("2.running_mean")[c], w("2.running_var")[c]);
        for v in &mut img.v[c * img.h * img.w..(c + 1) * img.h * img.w] {
            *v = ((*v - m) / (var + 1e-5).sqrt() * g + b).max(0.0);
        }
    }
    // 4: max_pool2d k2 (stride 2), ceil_mode: partial windows at the end count.
    let (oh, ow) = (pooled(img.h, 2, 2, 0, 1, true), pooled(img.w, 2, 2, 0, 1, true));
    let mut v = Vec::new();
    for c in 0..img.c {
        for y in 0..oh {
            for xx in 0..ow {
                let mut m = f32::NEG_INFINITY;
                for iy in y * 2..(y * 2 + 2).min(img.h) {
                    for ix in xx * 2..(xx * 2 + 2).min(img.w) {
                        m = m.max(img.at(c, iy, ix));
                    }
                }
                v.push(m);
            }
        }
    }
    img = Image { c: img.c, h: oh, w: ow, v };
    // 6: conv2d 4 -> 6, k [4, 2], "same" (extra row and column at the bottom and right),
    // groups 2, no bias.
    img = conv(&img.pad([1, 0, 2, 1], false), "6.weight", 6, [4, 2], [1, 1], [1, 1], 2, None);
    // 7: avg_pool2d k3, stride 1, padding 1, count_include_pad = false.
    let mut v = Vec::new();
    for c in 0..img.c {
        for y in 0..img.h {
            for xx in 0..img.w {
                let (mut sum, mut n) = (0.0, 0);
                for iy in y.saturating_sub(1)..(y + 2).min(img.h) {
                    for ix in xx.saturating_sub(1)..(xx + 2).min(img.w) {
                        sum += img.at(c, iy, ix);
                        n += 1;
                    }
                }
                v.push(sum / n as f32);
            }
        }
    }
    img.v = v;
    // 8: conv2d 6 -> 6, k3, stride 2, dilation [1, 2], reflect padding [1, 2].
    img = conv(&img.pad([1, 2, 1, 2], true), "8.weight", 6, [3, 3], [2, 2], [1, 2], 1, Some("8.bias"));
    // 9: adaptive_avg_pool2d to `adaptive` (dividing the input), 10: flatten.
    let (kh, kw) = (img.h / adaptive[0], img.w / adaptive[1]);
    let mut flat = Vec::new();
    for c in 0..img.c {
        for oy in 0..adaptive[0] {
            for ox in 0..adaptive[1] {
                let mut sum = 0.0;
                for iy in oy * kh..(oy + 1) * kh {
                    for ix in ox * kw..(ox + 1) * kw {
                        sum += img.at(c, iy, ix);
                    }
                }
                flat.push(sum / (kh * kw) as f32);
            }
        }
    }
    // 11: linear.
    let (wl, bl) = (w("11.weight"), w("11.bias"));
    (0..10).map(|o| bl[o] + (0..flat.len()).map(|i| wl[o * flat.len() + i] * flat[i]).sum::<f32>()).collect()
}

#[test]
fn convolutions_and_pools_match_a_direct_implementation_under_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    // Global pooling, and adaptive pooling to a divisor of the 3x2 map: windows 3x1 (an AveragePool).
    for (adaptive, spelled) in [([1, 1], "1"), ([1, 2], "[1, 2]")] {
        let flat = 6 * adaptive[0] * adaptive[1];
        let specs: Vec<(&str, Vec<usize>)> = vec![
            ("1.weight", vec![4, 2, 3, 3]),
            ("1.bias", vec![4]),
            ("2.weight", vec![4]),
            ("2.bias", vec![4]),
            ("2.running_mean", vec![4]),
            ("2.running_var", vec![4]),
            ("6.weight", vec![6, 2, 4, 2]),
            ("8.weight", vec![6, 6, 3, 3]),
            ("8.bias", vec![6]),
            ("11.weight", vec![10, flat]),
            ("11.bias", vec![10]),
        ];
        let tensors = tensors(&specs, 7);
        let config = conv_config([2, 9, 7], spelled);
        let model =
            RunModel::from_config_str(&config, "conv.toml", tensors.clone(), "conv.safetensors").unwrap();
        let onnx = export_model(&model, &ExportOptions::default()).unwrap();
        let path = dir.path().join(format!("conv-{}x{}.onnx", adaptive[0], adaptive[1]));
        write_onnx(&onnx, &path).unwrap();

        let rows = 12;
        let x = Array2::from_shape_vec((rows, 126), values(rows * 126, 99)).unwrap();
        let expected: Vec<f32> = x
            .axis_iter(Axis(0))
            .flat_map(|row| reference(row.as_slice().unwrap(), &tensors, adaptive))
            .collect();
        let expected = Array2::from_shape_vec((rows, 10), expected).unwrap();
        let got = match ort_run(&path, &x, dir.path(), false) {
            Ort::Ran { output, .. } => output,
            Ort::Skipped(why) => return skip(&why),
        };
        let diff = max_diff(&got, &expected);
        eprintln!("conv (adaptive {adaptive:?}): max |onnxruntime - direct| = {diff:.3e}");
        assert!(diff <= TOLERANCE, "max difference {diff}");
        assert_eq!(argmax(&got), argmax(&expected));
    }
}
