//! 2-d max pooling over `[N, C, H, W]`, with the gradient routed to each window's maximum.

use crate::error::{AutogradError, Result};
use crate::grad_mode::is_grad_enabled;
use crate::ops::linear::contiguous;
use crate::ops::window::{axis_taps, PoolWindow, Taps};
use crate::var::Var;
use nabla_tensor::pool::Indices;
use nabla_tensor::{pool, threads, Element};

/// The hyper-parameters of [`max_pool2d`], per axis `[H, W]` (PyTorch's `MaxPool2d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2dOptions {
    /// The window size `[kH, kW]`.
    pub kernel_size: [usize; 2],
    /// The step of the window; `None` (PyTorch's default) is the kernel size.
    pub stride: Option<[usize; 2]>,
    /// Implicit `-inf` padding on both sides of each axis (default `[0, 0]`); at most half
    /// the effective kernel size `d (k - 1) + 1`.
    pub padding: [usize; 2],
    /// The spacing of the window's taps (default `[1, 1]`).
    pub dilation: [usize; 2],
    /// Round the output size up instead of down (default `false`).
    pub ceil_mode: bool,
}

impl MaxPool2dOptions {
    /// PyTorch's defaults for a `[kH, kW]` window: stride = kernel, no padding, dilation 1,
    /// floor mode.
    pub fn new(kernel_size: [usize; 2]) -> Self {
        MaxPool2dOptions { kernel_size, stride: None, padding: [0, 0], dilation: [1, 1], ceil_mode: false }
    }

    /// The stride in effect (the kernel size when `stride` is `None`).
    pub fn effective_stride(&self) -> [usize; 2] {
        self.window().stride
    }

    /// The window for the shared pooling checks and output-size rule.
    pub(crate) fn window(&self) -> PoolWindow {
        PoolWindow::new(self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
    }

    /// Checks what does not depend on the input: kernel, stride and dilation positive, padding
    /// at most half the effective kernel.
    ///
    /// # Errors
    /// [`crate::AutogradError::InvalidHyperParameter`] naming the hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        self.window().check("max_pool2d")
    }
}

/// The output shape of [`max_pool2d`] for an input `[N, C, H, W]` (or `[C, H, W]`), with
/// all of its checks: for a layer to validate its configuration at model build time.
///
/// # Errors
/// As [`max_pool2d`].
pub fn max_pool2d_output_shape(input: &[usize], options: &MaxPool2dOptions) -> Result<Vec<usize>> {
    options.window().output_shape("max_pool2d", input)
}

/// 2-d max pooling as PyTorch's `max_pool2d`: for input `x [N, C, H, W]` (or `[C, H, W]`),
///
/// `y[n, c, i, j] = max_{u < kH, v < kW} x[n, c, i sH - pH + u dH, j sW - pW + v dW]`
///
/// over the taps inside the input (the padding is `-inf`, so it never wins). Per axis
/// (PyTorch's formula) `H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH + 1)`, with
/// `ceil_mode` `ceil` instead of `floor`, and then one less if the last window would start at
/// or after `H + pH` (every window must start inside the input or the top/left padding).
/// Defaults ([`MaxPool2dOptions::new`]): stride = kernel size, padding 0, dilation 1, floor
/// mode.
///
/// Backward: each output's gradient goes to the position of its window's maximum, the first
/// one in row-major window order on ties (as PyTorch; a NaN counts as the maximum), and
/// gradients of overlapping windows add up. The forward pass keeps each window's argmax (a
/// `u32` per output) when a gradient will be needed.
///
/// # Errors
/// * a rank error for input that is not 3-d or 4-d; [`crate::AutogradError::Invalid`] for an
///   empty channel or spatial axis;
/// * [`crate::AutogradError::InvalidHyperParameter`]: kernel, stride or dilation 0, padding
///   over half the effective kernel size `d (k - 1) + 1`;
/// * [`crate::AutogradError::OutputTooSmall`]: an output size below 1;
/// * [`crate::AutogradError::Invalid`] for planes `H * W` of more than `2^32` elements.
///
/// ```
/// use nabla_autograd::{max_pool2d, MaxPool2dOptions, Var};
/// use nabla_tensor::ndarray::{Array, IxDyn};
/// let x = Var::<f32>::param(Array::from_shape_fn(IxDyn(&[1, 1, 4, 4]), |i| (i[2] * 4 + i[3]) as f32));
/// let y = max_pool2d(&x, &MaxPool2dOptions::new([2, 2])).unwrap();
/// assert_eq!(y.value().as_slice().unwrap(), &[5.0, 7.0, 13.0, 15.0]);
/// ```
pub fn max_pool2d<T: Element>(input: &Var<T>, options: &MaxPool2dOptions) -> Result<Var<T>> {
    let (img, [oh, ow]) = options.window().out_size("max_pool2d", input.value().shape())?;
    if u32::try_from(img.plane()).is_err() {
        return Err(AutogradError::Invalid {
            op: "max_pool2d",
            message: format!(
                "input {:?}: planes of more than 2^32 elements are not supported",
                input.value().shape()
            ),
        });
    }
    let (k, s, p, d) = (options.kernel_size, options.effective_stride(), options.padding, options.dilation);
    let win = Window {
        w: img.w,
        plane: img.plane(),
        dh: d[0],
        dw: d[1],
        rows: axis_taps(oh, k[0], s[0], p[0], d[0], img.h),
        cols: axis_taps(ow, k[1], s[1], p[1], d[1], img.w),
    };
    // The argmax of each window is kept (in-plane, as u32) only when backward will need it.
    let record = is_grad_enabled() && input.requires_grad();
    let mut out = pool::take::<T>(&img.shape_with(img.c, oh, ow));
    let mut argmax = Indices::filled(if record { out.len() } else { 0 }, 0);
    {
        let xv = input.value();
        let xc = contiguous(&xv);
        let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
        let os = threads::DisjointSlice::new(out.as_slice_mut().expect("pooled arrays are contiguous"));
        let am = threads::DisjointSlice::new(&mut argmax[..]);
        let per_plane = win.rows.len() * win.cols.len();
        // Planes are independent: each thread takes a range of them.
        threads::split_ranges(img.n * img.c, win.parts(img.n * img.c), |r| {
            // SAFETY: the plane ranges of a split are disjoint, so are their outputs.
            let (o, a) = unsafe {
                let a = record.then(|| am.range(r.start * per_plane, r.end * per_plane));
                (os.range(r.start * per_plane, r.end * per_plane), a)
            };
            win.forward(&xs[r.start * win.plane..r.end * win.plane], o, a);
        });
    }
    Ok(Var::custom("max_pool2d", &[input], out, move |args| {
        let gy = args.grad_output;
        let gyc = contiguous(&gy);
        let gys = gyc.as_ref().unwrap_or(&gy).as_slice().expect("contiguous");
        let mut gx = pool::zeros::<T>(args.inputs[0].value().shape());
        let planes = gx.len() / win.plane.max(1);
        let gxs = threads::DisjointSlice::new(gx.as_slice_mut().expect("pooled arrays are contiguous"));
        let per_plane = win.rows.len() * win.cols.len();
        if per_plane > 0 {
            threads::split_ranges(planes, win.parts(planes), |r| {
                // SAFETY: the plane ranges of a split are disjoint; each scatters in its planes.
                let gx_r = unsafe { gxs.range(r.start * win.plane, r.end * win.plane) };
                let (gy_r, a_r) = (
                    &gys[r.start * per_plane..r.end * per_plane],
                    &argmax[r.start * per_plane..r.end * per_plane],
                );
                for (gplane, (gyp, ap)) in gx_r
                    .chunks_exact_mut(win.plane)
                    .zip(gy_r.chunks_exact(per_plane).zip(a_r.chunks_exact(per_plane)))
                {
                    for (&g, &a) in gyp.iter().zip(ap) {
                        if a != NO_TAP {
                            gplane[a as usize] = gplane[a as usize] + g;
                        }
                    }
                }
            });
        }
        drop(gyc);
        pool::give(gy);
        [Some(gx)]
    }))
}

/// The argmax of a window with no tap inside the input.
const NO_TAP: u32 = u32::MAX;

/// The windows of one max pooling: per output row and column, the first valid tap and the
/// number of valid taps.
struct Window {
    w: usize,
    plane: usize,
    dh: usize,
    dw: usize,
    rows: Taps,
    cols: Taps,
}

impl Window {
    /// Parts for `planes` planes: each part has an elementwise pass's worth of input.
    fn parts(&self, planes: usize) -> usize {
        threads::parts_of(planes, (threads::MIN_PART_ELEMENTS / self.plane.max(1)).max(1))
    }

    /// Writes each window's maximum into `out` and, when given, its in-plane index into
    /// `argmax`. The maximum is PyTorch's: the first strictly greater value (or NaN) wins,
    /// starting from `-inf` at the window's first valid tap. A dilated window can skip over a
    /// small input entirely (taps only in the padding): its output is `-inf` as in PyTorch,
    /// and it passes no gradient.
    fn forward<T: Element>(&self, xs: &[T], out: &mut [T], mut argmax: Option<&mut [u32]>) {
        let per_plane = self.rows.len() * self.cols.len();
        if per_plane == 0 {
            return;
        }
        for (p, (plane, oplane)) in
            xs.chunks_exact(self.plane).zip(out.chunks_exact_mut(per_plane)).enumerate()
        {
            let mut k = 0;
            for (r0, nr) in self.rows.iter() {
                for (c0, nc) in self.cols.iter() {
                    let (max, best) = if nr == 0 || nc == 0 {
                        (T::neg_infinity(), NO_TAP as usize)
                    } else {
                        self.window_max(plane, r0, nr, c0, nc)
                    };
                    oplane[k] = max;
                    if let Some(a) = argmax.as_deref_mut() {
                        a[p * per_plane + k] = best as u32;
                    }
                    k += 1;
                }
            }
        }
    }

    /// The window's maximum and its in-plane index.
    ///
    /// The fast loops start from the first valid tap (the same as PyTorch's start at `-inf`,
    /// which the first tap always replaces or equals), compare with `>` only and merely note
    /// whether a NaN went by: a NaN test inside the running select makes it several times
    /// slower. Windows holding a NaN are done again by [`exact_max`]. The common 2x2 and 3x3
    /// windows get loops of constant length, which unroll.
    #[inline(always)]
    fn window_max<T: Element>(&self, plane: &[T], r0: usize, nr: usize, c0: usize, nc: usize) -> (T, usize) {
        let first = r0 * self.w + c0;
        let row_step = self.dh * self.w;
        let (max, best, nan) = match (nr, nc, self.dw) {
            (2, 2, 1) => fixed::<T, 2, 2>(plane, first, row_step),
            (3, 3, 1) => fixed::<T, 3, 3>(plane, first, row_step),
            _ => {
                let (mut max, mut best, mut nan) = (plane[first], first, false);
                for u in 0..nr {
                    for v in 0..nc {
                        let idx = first + u * row_step + v * self.dw;
                        let val = plane[idx];
                        nan |= val.is_nan();
                        (max, best) = select(val > max, (val, idx), (max, best));
                    }
                }
                (max, best, nan)
            }
        };
        if nan {
            return exact_max(plane, first, nr, nc, row_step, self.dw);
        }
        (max, best)
    }
}

/// `a` when `cond`, else `b`; a plain select, which compiles to conditional moves (which
/// element wins is data-dependent: a branch on it would mispredict about every other time).
#[inline(always)]
fn select<X>(cond: bool, a: X, b: X) -> X {
    if cond {
        a
    } else {
        b
    }
}

/// The fast window loop for a full `KH x KW` window at column dilation 1.
#[inline(always)]
fn fixed<T: Element, const KH: usize, const KW: usize>(
    plane: &[T],
    first: usize,
    row_step: usize,
) -> (T, usize, bool) {
    let (mut max, mut best, mut nan) = (plane[first], first, false);
    for u in 0..KH {
        let start = first + u * row_step;
        for (v, &val) in plane[start..start + KW].iter().enumerate() {
            nan |= val.is_nan();
            (max, best) = select(val > max, (val, start + v), (max, best));
        }
    }
    (max, best, nan)
}

/// PyTorch's loop to the letter: from `-inf` at the first tap, a value replaces the running
/// maximum when it is greater or NaN (so a NaN wins, and the last NaN of the window).
#[cold]
fn exact_max<T: Element>(
    plane: &[T],
    first: usize,
    nr: usize,
    nc: usize,
    row_step: usize,
    dw: usize,
) -> (T, usize) {
    let (mut max, mut best) = (T::neg_infinity(), first);
    for u in 0..nr {
        for v in 0..nc {
            let idx = first + u * row_step + v * dw;
            let val = plane[idx];
            if val > max || val.is_nan() {
                max = val;
                best = idx;
            }
        }
    }
    (max, best)
}
