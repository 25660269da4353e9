//! 2-d average pooling over `[N, C, H, W]` with PyTorch's divisor rules.

use crate::error::{AutogradError, Result};
use crate::ops::window::{Image, Planes, PoolWindow};
use crate::var::Var;
use nabla_tensor::Element;
use std::ops::Range;

/// The hyper-parameters of [`avg_pool2d`], per axis `[H, W]` (PyTorch's `AvgPool2d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2dOptions {
    /// The window size `[kH, kW]`.
    pub kernel_size: [usize; 2],
    /// The step of the window; `None` (PyTorch's default) is the kernel size.
    pub stride: Option<[usize; 2]>,
    /// Zero padding on both sides of each axis (default `[0, 0]`); at most half the kernel.
    pub padding: [usize; 2],
    /// Round the output size up instead of down (default `false`).
    pub ceil_mode: bool,
    /// Whether the padding counts in the divisor (default `true`, as PyTorch).
    pub count_include_pad: bool,
    /// A fixed divisor for every window instead of the window's size (default `None`).
    pub divisor_override: Option<usize>,
}

impl AvgPool2dOptions {
    /// PyTorch's defaults for a `[kH, kW]` window: stride = kernel, no padding, floor mode,
    /// `count_include_pad = true`, no divisor override.
    pub fn new(kernel_size: [usize; 2]) -> Self {
        AvgPool2dOptions {
            kernel_size,
            stride: None,
            padding: [0, 0],
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }

    /// The stride in effect (the kernel size when `stride` is `None`).
    pub fn effective_stride(&self) -> [usize; 2] {
        self.window().stride
    }

    /// The window for the shared pooling checks and output-size rule (no dilation).
    pub(crate) fn window(&self) -> PoolWindow {
        PoolWindow::new(self.kernel_size, self.stride, self.padding, [1, 1], self.ceil_mode)
    }

    /// Checks what does not depend on the input: kernel and stride positive, padding at most
    /// half the kernel, a divisor override other than 0.
    ///
    /// # Errors
    /// [`AutogradError::InvalidHyperParameter`] naming the hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        self.window().check("avg_pool2d")?;
        if self.divisor_override == Some(0) {
            return Err(AutogradError::InvalidHyperParameter {
                op: "avg_pool2d",
                name: "divisor_override",
                message: "must not be zero".into(),
            });
        }
        Ok(())
    }
}

fn out_size(input: &[usize], o: &AvgPool2dOptions) -> Result<(Image, [usize; 2])> {
    o.validate()?;
    o.window().out_size("avg_pool2d", input)
}

/// The output shape of [`avg_pool2d`] for an input `[N, C, H, W]` (or `[C, H, W]`), with
/// all of its checks: for a layer to validate its configuration at model build time.
///
/// # Errors
/// As [`avg_pool2d`].
pub fn avg_pool2d_output_shape(input: &[usize], options: &AvgPool2dOptions) -> Result<Vec<usize>> {
    options.validate()?;
    options.window().output_shape("avg_pool2d", input)
}

/// 2-d average pooling as PyTorch's `avg_pool2d`: for input `x [N, C, H, W]` (or
/// `[C, H, W]`), each output is the sum of its window's input values divided by a divisor.
///
/// Per axis the window of output `i` is `[i s - p, min(i s - p + k, L + p))`: clipped at the
/// end of the padded input (which only happens with `ceil_mode`). The divisor is
/// `divisor_override` when set; else with `count_include_pad` (the default) the size of that
/// clipped window, padding included; else the number of input elements in it. A window with
/// no input elements gives 0.
///
/// Output size per axis (PyTorch's formula): `H_out = floor((H + 2 pH - kH) / sH + 1)`, with
/// `ceil_mode` `ceil` instead of `floor` and then one less if the last window would start at
/// or after `H + pH`. Defaults ([`AvgPool2dOptions::new`]): stride = kernel size, padding 0,
/// floor mode, `count_include_pad = true`.
///
/// Backward: each output's gradient divided by its divisor is added to every input element
/// of its window.
///
/// # Errors
/// * a rank error for input that is not 3-d or 4-d; [`AutogradError::Invalid`] for an empty
///   channel or spatial axis;
/// * [`AutogradError::InvalidHyperParameter`]: kernel or stride 0, padding over half the
///   kernel, a divisor override of 0;
/// * [`AutogradError::OutputTooSmall`]: an output size below 1.
///
/// ```
/// use nabla_autograd::{avg_pool2d, AvgPool2dOptions, Var};
/// use nabla_tensor::ndarray::{Array, IxDyn};
/// let x = Var::<f64>::param(Array::from_shape_fn(IxDyn(&[1, 1, 2, 2]), |i| (i[2] * 2 + i[3]) as f64));
/// let opts = AvgPool2dOptions { padding: [1, 1], count_include_pad: false, ..AvgPool2dOptions::new([2, 2]) };
/// let y = avg_pool2d(&x, &opts).unwrap(); // each 2x2 window holds one input element
/// assert_eq!(y.value().as_slice().unwrap(), &[0.0, 1.0, 2.0, 3.0]);
/// ```
pub fn avg_pool2d<T: Element>(input: &Var<T>, options: &AvgPool2dOptions) -> Result<Var<T>> {
    let (img, [oh, ow]) = out_size(input.value().shape(), options)?;
    let win = Windows::new(&img, oh, ow, options);
    let planes = Planes { input: img.plane(), output: oh * ow };
    let out = planes.pool(&input.value(), &img.shape_with(img.c, oh, ow), |plane, oplane| {
        win.each(|k, rows, cols, divisor| {
            oplane[k] = if divisor == 0 {
                T::zero()
            } else {
                window_sum(plane, img.w, rows, cols) / T::from_f64(divisor as f64)
            };
        });
    });
    Ok(Var::custom("avg_pool2d", &[input], out, move |args| {
        let gx = planes.scatter(args.grad_output, args.inputs[0].value().shape(), |gplane, oplane| {
            win.each(|k, rows, cols, divisor| {
                if divisor == 0 {
                    return;
                }
                window_add(gplane, img.w, rows, cols, oplane[k] / T::from_f64(divisor as f64));
            });
        });
        [Some(gx)]
    }))
}

/// The windows of one average pooling: per output row and column, the window's input range
/// clipped to the input and its size clipped to the padded border.
struct Windows {
    rows: Axis,
    cols: Axis,
    count_include_pad: bool,
    divisor_override: Option<usize>,
}

#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    padded: usize,
}

/// One axis of the windows: `out` windows of `kernel` at `stride` over `len` positions padded
/// by `pad` on each side. Each window's span is recomputed where it is used (a few integer
/// operations, no division), so the op keeps no per-window list and allocates nothing.
#[derive(Clone, Copy)]
struct Axis {
    out: usize,
    kernel: i64,
    stride: i64,
    pad: i64,
    len: i64,
}

impl Axis {
    fn span(&self, i: usize) -> Span {
        let start = i as i64 * self.stride - self.pad;
        let end = (start + self.kernel).min(self.len + self.pad);
        let (a, b) = (start.max(0), end.min(self.len));
        Span { start: a as usize, end: b.max(a) as usize, padded: (end - start) as usize }
    }
}

impl Windows {
    fn new(img: &Image, oh: usize, ow: usize, o: &AvgPool2dOptions) -> Self {
        let axis = |out: usize, k: usize, s: usize, p: usize, len: usize| Axis {
            out,
            kernel: k as i64,
            stride: s as i64,
            pad: p as i64,
            len: len as i64,
        };
        let st = o.effective_stride();
        Windows {
            rows: axis(oh, o.kernel_size[0], st[0], o.padding[0], img.h),
            cols: axis(ow, o.kernel_size[1], st[1], o.padding[1], img.w),
            count_include_pad: o.count_include_pad,
            divisor_override: o.divisor_override,
        }
    }

    /// Calls `f(output index in the plane, input rows, input columns, divisor)` for every
    /// window of one plane; the divisor is 0 for a window without input elements.
    fn each(&self, mut f: impl FnMut(usize, Range<usize>, Range<usize>, usize)) {
        let mut k = 0;
        for r in (0..self.rows.out).map(|i| self.rows.span(i)) {
            for c in (0..self.cols.out).map(|j| self.cols.span(j)) {
                let inside = (r.end - r.start) * (c.end - c.start);
                let divisor = match self.divisor_override {
                    _ if inside == 0 => 0,
                    Some(d) => d,
                    None if self.count_include_pad => r.padded * c.padded,
                    None => inside,
                };
                f(k, r.start..r.end, c.start..c.end, divisor);
                k += 1;
            }
        }
    }
}

/// The sum of `plane[rows, cols]` in row-major order (as PyTorch adds them). Full 2x2 and
/// 3x3 windows, by far the most common, take loops of constant length, which unroll: short
/// loops of run-time length cost more than the additions.
#[inline(always)]
fn window_sum<T: Element>(plane: &[T], w: usize, rows: Range<usize>, cols: Range<usize>) -> T {
    let first = rows.start * w + cols.start;
    match (rows.len(), cols.len()) {
        (2, 2) => fixed_sum::<T, 2, 2>(plane, first, w),
        (3, 3) => fixed_sum::<T, 3, 3>(plane, first, w),
        (nr, nc) => {
            fixed_rows(nr, w, first, nc).fold(T::zero(), |acc, r| plane[r].iter().fold(acc, |a, &v| a + v))
        }
    }
}

#[inline(always)]
fn fixed_sum<T: Element, const KH: usize, const KW: usize>(plane: &[T], first: usize, w: usize) -> T {
    let mut sum = T::zero();
    for u in 0..KH {
        let row: &[T; KW] = plane[first + u * w..][..KW].try_into().expect("KW elements");
        for &v in row {
            sum = sum + v;
        }
    }
    sum
}

/// Adds `delta` to every element of `plane[rows, cols]`.
#[inline(always)]
fn window_add<T: Element>(plane: &mut [T], w: usize, rows: Range<usize>, cols: Range<usize>, delta: T) {
    for r in fixed_rows(rows.len(), w, rows.start * w + cols.start, cols.len()) {
        for v in &mut plane[r] {
            *v = *v + delta;
        }
    }
}

/// The in-plane index ranges of the `nr` rows of a window of width `nc` starting at `first`.
#[inline(always)]
fn fixed_rows(nr: usize, w: usize, first: usize, nc: usize) -> impl Iterator<Item = Range<usize>> {
    (0..nr).map(move |u| first + u * w..first + u * w + nc)
}
