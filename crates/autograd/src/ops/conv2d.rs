//! 2-d convolution (PyTorch's `conv2d`, a cross-correlation) by im2col and strided GEMM.

use crate::error::{AutogradError, Result};
use crate::ops::linear::contiguous;
use crate::ops::window::{check_positive, conv_out_len, outputs_inside, too_small, Image, ImageShape};
use crate::var::Grads;
use crate::var::Var;
use nabla_tensor::ndarray::{ArrayD, ArrayView2, ArrayViewMut2};
use nabla_tensor::pool::Scratch;
use nabla_tensor::{gemm_into, pool, threads, Element};

/// How [`conv2d`] pads its input (always with zeros: PyTorch's `padding_mode = "zeros"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conv2dPadding {
    /// `[pH, pW]` zeros on both sides of each axis (PyTorch's `padding = (pH, pW)`).
    Explicit([usize; 2]),
    /// No padding (PyTorch's `padding = "valid"`, the same as `Explicit([0, 0])`).
    Valid,
    /// PyTorch's `padding = "same"`: the output has the input's size. Only for stride 1; per
    /// axis the total padding is `d (k - 1)`, of which `total / 2` goes before (top, left) and
    /// the rest after (bottom, right), so an even kernel pads one more at the end.
    Same,
}

/// The hyper-parameters of [`conv2d`], per axis `[H, W]`. The default is PyTorch's:
/// stride 1, no padding, dilation 1, one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// The step of the window, `[sH, sW]` (default `[1, 1]`).
    pub stride: [usize; 2],
    /// The zero padding (default `Explicit([0, 0])`).
    pub padding: Conv2dPadding,
    /// The spacing of the kernel taps, `[dH, dW]` (default `[1, 1]`).
    pub dilation: [usize; 2],
    /// The number of channel groups (default 1): input and output channels are split into
    /// `groups` blocks and block `g` of the output sees only block `g` of the input;
    /// `groups = C` with `O = m C` is a depthwise convolution.
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: [1, 1],
            padding: Conv2dPadding::Explicit([0, 0]),
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2dOptions {
    /// Checks the hyper-parameters that do not depend on the shapes: stride, dilation and
    /// groups positive, and `padding = "same"` only with stride 1 (as PyTorch).
    ///
    /// # Errors
    /// [`AutogradError::InvalidHyperParameter`] naming the hyper-parameter and its value.
    pub fn validate(&self) -> Result<()> {
        check_positive("conv2d", [1, 1], self.stride, self.dilation)?;
        if self.groups == 0 {
            return Err(AutogradError::InvalidHyperParameter {
                op: "conv2d",
                name: "groups",
                message: "must be at least 1, got 0".into(),
            });
        }
        if self.padding == Conv2dPadding::Same && self.stride != [1, 1] {
            return Err(AutogradError::InvalidHyperParameter {
                op: "conv2d",
                name: "padding",
                message: format!(
                    "padding = \"same\" is only supported for stride 1 (as PyTorch), got stride {:?}",
                    self.stride
                ),
            });
        }
        Ok(())
    }

    /// The zero padding `[[top, bottom], [left, right]]` for a `[kH, kW]` kernel.
    pub fn resolved_padding(&self, kernel: [usize; 2]) -> [[usize; 2]; 2] {
        match self.padding {
            Conv2dPadding::Explicit([ph, pw]) => [[ph, ph], [pw, pw]],
            Conv2dPadding::Valid => [[0, 0], [0, 0]],
            Conv2dPadding::Same => std::array::from_fn(|a| {
                let total = self.dilation[a] * kernel[a].saturating_sub(1);
                [total / 2, total - total / 2]
            }),
        }
    }
}

/// Everything the forward and backward passes need to know about one convolution.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    img: Image,
    /// Output channels.
    o: usize,
    groups: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    dh: usize,
    dw: usize,
    /// Top and left padding (bottom and right only shape the output size).
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    /// Input channels per group.
    fn cg(&self) -> usize {
        self.img.c / self.groups
    }
    /// Output channels per group.
    fn og(&self) -> usize {
        self.o / self.groups
    }
    /// Rows of the column matrix of one group: `C/groups * kH * kW`.
    fn kg(&self) -> usize {
        self.cg() * self.kh * self.kw
    }
    /// Output positions per channel: `H_out * W_out`.
    fn l(&self) -> usize {
        self.oh * self.ow
    }
    /// A 1x1 kernel at stride 1 without padding: the input plane is its own column matrix.
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.sh == 1 && self.sw == 1 && self.ph == 0 && self.pw == 0
    }
    fn out_shape(&self) -> ImageShape {
        self.img.shape_with(self.o, self.oh, self.ow)
    }

    /// The kernel tap `(u, v)`: its offsets and the output positions it reads from inside the
    /// input. Two integer divisions, so it is recomputed rather than kept: `im2col` runs once
    /// per sample and must not allocate.
    fn tap(&self, u: usize, v: usize) -> Tap {
        let (dy, dx) = (u * self.dh, v * self.dw);
        Tap {
            rows: outputs_inside(self.oh, self.sh, dy, self.ph, self.img.h),
            cols: outputs_inside(self.ow, self.sw, dx, self.pw, self.img.w),
            dy,
            dx,
        }
    }

    /// Calls `f(plane, tap, row)` for the rows `taps` of a column matrix `[C kH kW, H_out W_out]`,
    /// in its order `(c, u, v)`: `planes` are the input's (or its gradient's) channels, `rows`
    /// the matrix's rows from `taps.start` on. The walk [`im2col`] and [`col2im`] share, in
    /// opposite directions.
    fn each_tap_row<P, R>(
        &self,
        taps: std::ops::Range<usize>,
        planes: impl Iterator<Item = P>,
        mut rows: impl Iterator<Item = R>,
        mut f: impl FnMut(&mut P, &Tap, R),
    ) {
        let per_plane = self.kh * self.kw;
        let mut planes = planes.skip(taps.start / per_plane);
        let mut plane = None;
        for r in taps {
            if r % per_plane == 0 || plane.is_none() {
                plane = planes.next();
            }
            let t = r % per_plane;
            let row = rows.next().expect("one row per channel and tap");
            f(plane.as_mut().expect("one plane per channel"), &self.tap(t / self.kw, t % self.kw), row);
        }
    }
}

/// One kernel tap of a convolution: the output rows and columns whose input position under
/// the tap lies inside the input (not in the padding), and the tap's offset in the window.
struct Tap {
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    /// `u dH`: the tap's row offset in the (dilated) window.
    dy: usize,
    /// `v dW`: the tap's column offset.
    dx: usize,
}

impl Tap {
    /// The input row read by output row `oh` (one of [`rows`](Tap::rows)).
    fn input_row(&self, g: &Geometry, oh: usize) -> usize {
        oh * g.sh + self.dy - g.ph
    }

    /// The input column read by the first of [`cols`](Tap::cols), which must not be empty.
    fn first_input_col(&self, g: &Geometry) -> usize {
        self.cols.start * g.sw + self.dx - g.pw
    }
}

fn geometry(input: &[usize], weight: &[usize], options: &Conv2dOptions) -> Result<Geometry> {
    const OP: &str = "conv2d";
    options.validate()?;
    let img = Image::of(OP, input)?;
    let groups = options.groups;
    let expected = |what: String| AutogradError::ParamShape {
        op: OP,
        param: "weight",
        shape: weight.to_vec(),
        expected: what,
        input: input.to_vec(),
    };
    let &[o, wc, kh, kw] = weight else {
        return Err(expected("a 4-d weight [O, C/groups, kH, kW]".into()));
    };
    if img.c % groups != 0 {
        return Err(AutogradError::InvalidHyperParameter {
            op: OP,
            name: "groups",
            message: format!("{groups} does not divide the {} input channels of input {input:?}", img.c),
        });
    }
    if o == 0 || o % groups != 0 {
        return Err(AutogradError::InvalidHyperParameter {
            op: OP,
            name: "groups",
            message: format!(
                "{groups} does not divide the {o} output channels of weight {weight:?} (input {input:?})"
            ),
        });
    }
    if wc != img.c / groups || kh == 0 || kw == 0 {
        return Err(expected(format!(
            "[O, C/groups = {}, kH >= 1, kW >= 1] (groups = {groups})",
            img.c / groups
        )));
    }
    let pad = options.resolved_padding([kh, kw]);
    let (s, d) = (options.stride, options.dilation);
    let out = [conv_out_len(img.h, kh, d[0], s[0], pad[0]), conv_out_len(img.w, kw, d[1], s[1], pad[1])];
    if out.iter().any(|&v| v < 1) {
        return Err(too_small(OP, input, [kh, kw], d, s, pad, out));
    }
    Ok(Geometry {
        img,
        o,
        groups,
        kh,
        kw,
        sh: s[0],
        sw: s[1],
        dh: d[0],
        dw: d[1],
        ph: pad[0][0],
        pw: pad[1][0],
        oh: out[0] as usize,
        ow: out[1] as usize,
    })
}

/// The output shape of [`conv2d`] for an input `[N, C, H, W]` (or `[C, H, W]`) and a weight
/// `[O, C/groups, kH, kW]`, with every check of [`conv2d`] except the bias shape: for a layer
/// to validate its configuration when the model is built.
///
/// # Errors
/// As [`conv2d`].
pub fn conv2d_output_shape(input: &[usize], weight: &[usize], options: &Conv2dOptions) -> Result<Vec<usize>> {
    Ok(geometry(input, weight, options)?.out_shape().to_vec())
}

/// 2-d convolution as PyTorch's `conv2d`: for input `x [N, C, H, W]` (or unbatched
/// `[C, H, W]`), weight `[O, C/groups, kH, kW]` and optional bias `[O]`,
///
/// `y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x[n, g C/groups + c, i sH - pH + u dH, j sW - pW + v dW]`
///
/// with `g = o / (O/groups)` the group of output channel `o`, and zeros outside the input
/// (a cross-correlation, like every deep-learning "convolution"). The output is
/// `[N, O, H_out, W_out]` with, per axis (PyTorch's formula),
///
/// `H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH + 1)`
///
/// (with `padding = "same"`, `pH + pH` is the top plus bottom padding and `H_out = H`).
/// Defaults are in [`Conv2dOptions::default`]: stride 1, padding 0, dilation 1, groups 1.
/// Supported: per-axis stride, padding (explicit, `"valid"`, `"same"`) and dilation, groups
/// (including depthwise, `groups = C`), zero padding only (PyTorch's `padding_mode =
/// "zeros"`), `f32` and `f64`.
///
/// Implementation: per sample, the input is unfolded into a column matrix
/// `[C/groups kH kW, H_out W_out]` per group (im2col; skipped for a 1x1 kernel at stride 1
/// without padding, where the input is its own column matrix), and the output is
/// `W_g @ cols_g` through the strided GEMM of `nabla-tensor`, the bias written in first.
/// Backward, per sample: `grad_weight += dY_g @ cols_g^T` (the columns are unfolded again
/// rather than kept, so no memory grows with the batch), `grad_input = col2im(W_g^T @ dY_g)`
/// (transposes are strided views, never copies), `grad_bias = sum of dY over N, H, W`; only
/// the gradients that are needed are computed. Column buffers come from
/// [`nabla_tensor::pool`], so repeated calls reuse them.
///
/// # Errors
/// * a rank error for input that is not 3-d or 4-d; [`AutogradError::Invalid`] for an empty
///   channel or spatial axis;
/// * [`AutogradError::InvalidHyperParameter`]: stride, dilation or groups 0, groups not
///   dividing the input or output channels, `"same"` with a stride other than 1;
/// * [`AutogradError::ParamShape`]: weight not `[O, C/groups, kH, kW]` with positive sizes,
///   bias not `[O]`;
/// * [`AutogradError::OutputTooSmall`]: the dilated kernel is larger than the padded input.
///
/// ```
/// use nabla_autograd::{conv2d, Conv2dOptions, Conv2dPadding, Var};
/// use nabla_tensor::ndarray::ArrayD;
/// let x = Var::<f32>::constant(ArrayD::ones(vec![1, 1, 4, 4]));
/// let w = Var::param(ArrayD::ones(vec![2, 1, 3, 3]));
/// let opts = Conv2dOptions { padding: Conv2dPadding::Same, ..Conv2dOptions::default() };
/// let y = conv2d(&x, &w, None, &opts).unwrap();
/// assert_eq!(y.shape(), [1, 2, 4, 4]);
/// assert_eq!(y.value()[[0, 0, 0, 0]], 4.0); // a corner sees 2x2 ones
/// assert_eq!(y.value()[[0, 1, 1, 1]], 9.0);
/// ```
pub fn conv2d<T: Element>(
    input: &Var<T>,
    weight: &Var<T>,
    bias: Option<&Var<T>>,
    options: &Conv2dOptions,
) -> Result<Var<T>> {
    let g = geometry(input.value().shape(), weight.value().shape(), options)?;
    if let Some(b) = bias {
        if b.value().shape() != [g.o] {
            return Err(AutogradError::ParamShape {
                op: "conv2d",
                param: "bias",
                shape: b.shape(),
                expected: format!("[{}] (one per output channel)", g.o),
                input: input.shape(),
            });
        }
    }
    let out = {
        let xv = input.value();
        let xc = contiguous(&xv);
        let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
        let wv = weight.value();
        let wc = contiguous(&wv);
        let ws = wc.as_ref().unwrap_or(&wv).as_slice().expect("contiguous");
        let bv = bias.map(|b| b.value());
        let bc = bv.as_ref().and_then(|b| contiguous(b));
        let bs = bv.as_ref().map(|b| bc.as_ref().unwrap_or(b).as_slice().expect("contiguous"));
        forward(&g, xs, ws, bs)
    };
    let all = [input, weight, bias.unwrap_or(input)];
    let inputs = if bias.is_some() { &all[..] } else { &all[..2] };
    Ok(Var::custom("conv2d", inputs, out, move |args| {
        let gy = args.grad_output;
        let gyc = contiguous(&gy);
        let gys = gyc.as_ref().unwrap_or(&gy).as_slice().expect("contiguous");
        let has_bias = args.inputs.len() == 3;
        let need_x = args.inputs[0].requires_grad();
        let need_w = args.inputs[1].requires_grad();
        let gb = (has_bias && args.inputs[2].requires_grad()).then(|| bias_grad(&g, gys));
        let (gx, gw) = if need_x || need_w {
            let xv = args.inputs[0].value();
            let xc = contiguous(&xv);
            let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
            let wv = args.inputs[1].value();
            let wc = contiguous(&wv);
            let ws = wc.as_ref().unwrap_or(&wv).as_slice().expect("contiguous");
            backward(&g, gys, xs, ws, need_x, need_w)
        } else {
            (None, None)
        };
        drop(gyc);
        pool::give(gy);
        let mut grads = Grads::new();
        grads.push(gx);
        grads.push(gw);
        if has_bias {
            grads.push(gb);
        }
        grads
    }))
}

fn mat<T>(s: &[T], rows: usize, cols: usize) -> ArrayView2<'_, T> {
    ArrayView2::from_shape((rows, cols), &s[..rows * cols]).expect("buffer holds rows * cols")
}

fn mat_mut<T>(s: &mut [T], rows: usize, cols: usize) -> ArrayViewMut2<'_, T> {
    ArrayViewMut2::from_shape((rows, cols), &mut s[..rows * cols]).expect("buffer holds rows * cols")
}

/// Into how many parts to cut `units` independent pieces of a convolution's work (samples, or
/// rows of the column matrix): one per thread, once the whole is worth splitting (a sample is
/// `o * kg * l` multiply-adds per group). Each piece is computed by the same code whatever the
/// split, so the split changes no result.
fn parts(g: &Geometry, units: usize) -> usize {
    let work = g.o.saturating_mul(g.kg()).saturating_mul(g.l()).saturating_mul(g.img.n);
    if work < threads::MIN_SPLIT_WORK {
        1
    } else {
        threads::threads().min(units).max(1)
    }
}

fn forward<T: Element>(g: &Geometry, xs: &[T], ws: &[T], bias: Option<&[T]>) -> ArrayD<T> {
    let mut out = pool::take::<T>(&g.out_shape());
    let out_sample = g.o * g.l();
    let os = threads::DisjointSlice::new(out.as_slice_mut().expect("pooled arrays are contiguous"));
    threads::split_ranges(g.img.n, parts(g, g.img.n), |samples| {
        // SAFETY: the sample ranges of a split are disjoint, so are their output samples.
        let ys = unsafe { os.range(samples.start * out_sample, samples.end * out_sample) };
        forward_samples(g, samples, xs, ws, bias, ys);
    });
    out
}

/// The forward of samples `range`, written into `ys` (their output samples).
fn forward_samples<T: Element>(
    g: &Geometry,
    range: std::ops::Range<usize>,
    xs: &[T],
    ws: &[T],
    bias: Option<&[T]>,
    ys: &mut [T],
) {
    let (l, kg, og) = (g.l(), g.kg(), g.og());
    let (in_sample, out_sample) = (g.img.c * g.img.plane(), g.o * l);
    // Taken from (and given back to) the pool of the thread running the part.
    let mut cols = (!g.pointwise() && !range.is_empty()).then(|| pool::take::<T>(&[g.groups * kg, l]));
    for (i, n) in range.enumerate() {
        let x_n = &xs[n * in_sample..(n + 1) * in_sample];
        let y_n = &mut ys[i * out_sample..(i + 1) * out_sample];
        let cols_n = columns(g, x_n, 0..g.groups * kg, cols.as_mut());
        let beta = match bias {
            Some(b) => {
                for (row, &bo) in y_n.chunks_exact_mut(l).zip(b) {
                    row.fill(bo);
                }
                T::one()
            }
            None => T::zero(),
        };
        for grp in 0..g.groups {
            let w_g = mat(&ws[grp * og * kg..], og, kg);
            let c_g = mat(&cols_n[grp * kg * l..], kg, l);
            gemm_into(T::one(), w_g, c_g, beta, mat_mut(&mut y_n[grp * og * l..], og, l));
        }
    }
    if let Some(c) = cols {
        pool::give(c);
    }
}

/// The rows `taps` of one sample's column matrix: unfolded into `buf` by [`im2col`], or, for
/// a pointwise convolution (no buffer), those channels of the sample itself.
fn columns<'a, T: Element>(
    g: &Geometry,
    x_n: &'a [T],
    taps: std::ops::Range<usize>,
    buf: Option<&'a mut ArrayD<T>>,
) -> &'a [T] {
    let l = g.l();
    match buf {
        Some(buf) => {
            let buf = &mut buf.as_slice_mut().expect("pooled arrays are contiguous")[..taps.len() * l];
            im2col(g, x_n, taps, buf);
            buf
        }
        None => &x_n[taps.start * l..taps.end * l],
    }
}

/// `(grad_input, grad_weight)`, each only when asked for.
///
/// The input gradient is split over samples (each sample's is its own); the weight gradient
/// over its columns (each part unfolds its own rows of every sample's column matrix and sums
/// over the samples in order), so that no result depends on the thread count.
fn backward<T: Element>(
    g: &Geometry,
    gys: &[T],
    xs: &[T],
    ws: &[T],
    need_x: bool,
    need_w: bool,
) -> (Option<ArrayD<T>>, Option<ArrayD<T>>) {
    let (l, kg, og) = (g.l(), g.kg(), g.og());
    let (in_sample, out_sample) = (g.img.c * g.img.plane(), g.o * l);
    let pointwise = g.pointwise();
    let in_shape = g.img.shape_with(g.img.c, g.img.h, g.img.w);
    let gw = need_w.then(|| {
        let mut gw = pool::zeros::<T>(&[g.o, g.cg(), g.kh, g.kw]);
        let gws = threads::DisjointSlice::new(gw.as_slice_mut().expect("pooled arrays are contiguous"));
        let taps = g.groups * kg;
        let split = parts(g, taps);
        // Each part owns a range of the column matrix's rows, so of the weight gradient's
        // columns: it unfolds only those rows and sums its columns over the samples in order.
        // Every part takes a buffer of the largest part's size: parts are claimed by whichever
        // thread is free, so one size keeps each thread's pool serving any of them.
        let part_rows = taps.div_ceil(split);
        threads::split_ranges(taps, split, |mine| {
            if mine.is_empty() {
                return;
            }
            let mut cols = (!pointwise).then(|| pool::take::<T>(&[part_rows, l]));
            for n in 0..g.img.n {
                let gy_n = &gys[n * out_sample..(n + 1) * out_sample];
                let x_n = &xs[n * in_sample..(n + 1) * in_sample];
                let cols_n = columns(g, x_n, mine.clone(), cols.as_mut());
                for grp in mine.start / kg..mine.end.div_ceil(kg) {
                    let rows = mine.start.max(grp * kg)..mine.end.min((grp + 1) * kg);
                    let dy_g = mat(&gy_n[grp * og * l..], og, l);
                    let c_g = mat(&cols_n[(rows.start - mine.start) * l..], rows.len(), l);
                    // SAFETY: the parts' row ranges are disjoint, so are these column blocks.
                    let gw_g = unsafe {
                        gws.column_block(og, kg, grp * og * kg, rows.start - grp * kg..rows.end - grp * kg)
                    };
                    gemm_into(T::one(), dy_g, c_g.t(), T::one(), gw_g);
                }
            }
            if let Some(c) = cols {
                pool::give(c);
            }
        });
        gw
    });
    let gx = need_x.then(|| {
        // col2im accumulates into the input gradient; the pointwise GEMM overwrites it.
        let mut gx = if pointwise { pool::take::<T>(&in_shape) } else { pool::zeros::<T>(&in_shape) };
        let gxs = threads::DisjointSlice::new(gx.as_slice_mut().expect("pooled arrays are contiguous"));
        threads::split_ranges(g.img.n, parts(g, g.img.n), |samples| {
            let mut dcols = (!pointwise && !samples.is_empty()).then(|| pool::take::<T>(&[g.groups * kg, l]));
            for n in samples {
                let gy_n = &gys[n * out_sample..(n + 1) * out_sample];
                // SAFETY: the sample ranges of a split are disjoint: sample n is this part's.
                let gx_n = unsafe { gxs.range(n * in_sample, (n + 1) * in_sample) };
                let dst: &mut [T] = match dcols.as_mut() {
                    Some(buf) => buf.as_slice_mut().expect("pooled arrays are contiguous"),
                    None => &mut *gx_n,
                };
                for grp in 0..g.groups {
                    let w_g = mat(&ws[grp * og * kg..], og, kg);
                    let dy_g = mat(&gy_n[grp * og * l..], og, l);
                    gemm_into(T::one(), w_g.t(), dy_g, T::zero(), mat_mut(&mut dst[grp * kg * l..], kg, l));
                }
                if let Some(buf) = dcols.as_ref() {
                    col2im(g, buf.as_slice().expect("pooled arrays are contiguous"), gx_n);
                }
            }
            if let Some(b) = dcols {
                pool::give(b);
            }
        });
        gx
    });
    (gx, gw)
}

fn bias_grad<T: Element>(g: &Geometry, gys: &[T]) -> ArrayD<T> {
    let l = g.l();
    let mut sums = Scratch::<f64>::zeros(g.o);
    for (k, row) in gys.chunks_exact(l).enumerate() {
        sums[k % g.o] += row_sum(row);
    }
    let mut out = pool::take::<T>(&[g.o]);
    out.iter_mut().zip(&sums).for_each(|(o, &s)| *o = T::from_f64(s));
    out
}

/// The sum of one output row: in 8 lanes of the element type (so it vectorizes; a single
/// running sum is a serial chain), the lanes then added in `f64`.
fn row_sum<T: Element>(row: &[T]) -> f64 {
    let mut lanes = [T::zero(); 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &v) in lanes.iter_mut().zip(c) {
            *a = *a + v;
        }
    }
    lanes.iter().chain(tail).map(|v| (*v).to_f64()).sum()
}

/// Unfolds the rows `taps` of one sample `[C, H, W]`'s column matrix `[C kH kW, H_out W_out]`
/// into `cols` (`taps.len()` rows): row `(c, u, v)` holds the input under kernel tap `(u, v)` of
/// channel `c` for every output position, zero where the tap falls into the padding.
fn im2col<T: Element>(g: &Geometry, x: &[T], taps: std::ops::Range<usize>, cols: &mut [T]) {
    let w = g.img.w;
    g.each_tap_row(taps, x.chunks_exact(g.img.plane()), cols.chunks_exact_mut(g.l()), |plane, tap, row| {
        row[..tap.rows.start * g.ow].fill(T::zero());
        row[tap.rows.end * g.ow..].fill(T::zero());
        for oh in tap.rows.clone() {
            let ih = tap.input_row(g, oh);
            let src = &plane[ih * w..(ih + 1) * w];
            let dst = &mut row[oh * g.ow..(oh + 1) * g.ow];
            dst[..tap.cols.start].fill(T::zero());
            dst[tap.cols.end..].fill(T::zero());
            if tap.cols.is_empty() {
                continue;
            }
            let iw0 = tap.first_input_col(g);
            let dst = &mut dst[tap.cols.clone()];
            if g.sw == 1 {
                dst.copy_from_slice(&src[iw0..iw0 + dst.len()]);
            } else {
                for (d, s) in dst.iter_mut().zip(src[iw0..].iter().step_by(g.sw)) {
                    *d = *s;
                }
            }
        }
    });
}

/// The adjoint of [`im2col`]: adds each entry of the column matrix back onto the input
/// position it was read from (positions in the padding are dropped).
fn col2im<T: Element>(g: &Geometry, cols: &[T], x: &mut [T]) {
    let w = g.img.w;
    let taps = 0..g.groups * g.kg();
    g.each_tap_row(taps, x.chunks_exact_mut(g.img.plane()), cols.chunks_exact(g.l()), |plane, tap, row| {
        if tap.cols.is_empty() {
            return;
        }
        let iw0 = tap.first_input_col(g);
        for oh in tap.rows.clone() {
            let ih = tap.input_row(g, oh);
            let dst = &mut plane[ih * w..(ih + 1) * w];
            let src = &row[oh * g.ow + tap.cols.start..oh * g.ow + tap.cols.end];
            if g.sw == 1 {
                for (d, &s) in dst[iw0..iw0 + src.len()].iter_mut().zip(src) {
                    *d = *d + s;
                }
            } else {
                for (d, &s) in dst[iw0..].iter_mut().step_by(g.sw).zip(src) {
                    *d = *d + s;
                }
            }
        }
    });
}
