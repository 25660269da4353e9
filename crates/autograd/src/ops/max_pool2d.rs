//! 2-d max pooling over `[N, C, H, W]`, with the gradient routed to each window's maximum.

use crate::error::Result;
use crate::ops::linear::contiguous;
use crate::ops::window::{check_pool_params, pool_out_size, taps, Image};
use crate::var::Var;
use nabla_tensor::{pool, Element};

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
        self.stride.unwrap_or(self.kernel_size)
    }

    /// Checks what does not depend on the input: kernel, stride and dilation positive, padding
    /// at most half the effective kernel.
    ///
    /// # Errors
    /// [`crate::AutogradError::InvalidHyperParameter`] naming the hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        check_pool_params(
            "max_pool2d",
            self.kernel_size,
            self.effective_stride(),
            self.padding,
            self.dilation,
        )
    }
}

fn out_size(input: &[usize], o: &MaxPool2dOptions) -> Result<(Image, [usize; 2])> {
    let img = Image::of("max_pool2d", input)?;
    let out = pool_out_size(
        "max_pool2d",
        input,
        &img,
        o.kernel_size,
        o.effective_stride(),
        o.padding,
        o.dilation,
        o.ceil_mode,
    )?;
    Ok((img, out))
}

/// The output shape of [`max_pool2d`] for an input `[N, C, H, W]` (or `[C, H, W]`), with
/// all of its checks: for a layer to validate its configuration at model build time.
///
/// # Errors
/// As [`max_pool2d`].
pub fn max_pool2d_output_shape(input: &[usize], options: &MaxPool2dOptions) -> Result<Vec<usize>> {
    let (img, [oh, ow]) = out_size(input, options)?;
    Ok(img.shape_with(img.c, oh, ow))
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
/// gradients of overlapping windows add up. The maxima are found again from the input
/// during backward instead of storing indices.
///
/// # Errors
/// * a rank error for input that is not 3-d or 4-d; [`crate::AutogradError::Invalid`] for an
///   empty channel or spatial axis;
/// * [`crate::AutogradError::InvalidHyperParameter`]: kernel, stride or dilation 0, padding
///   over half the effective kernel size `d (k - 1) + 1`;
/// * [`crate::AutogradError::OutputTooSmall`]: an output size below 1.
///
/// ```
/// use nabla_autograd::{max_pool2d, MaxPool2dOptions, Var};
/// use nabla_tensor::ndarray::{Array, IxDyn};
/// let x = Var::<f32>::param(Array::from_shape_fn(IxDyn(&[1, 1, 4, 4]), |i| (i[2] * 4 + i[3]) as f32));
/// let y = max_pool2d(&x, &MaxPool2dOptions::new([2, 2])).unwrap();
/// assert_eq!(y.value().as_slice().unwrap(), &[5.0, 7.0, 13.0, 15.0]);
/// ```
pub fn max_pool2d<T: Element>(input: &Var<T>, options: &MaxPool2dOptions) -> Result<Var<T>> {
    let (img, [oh, ow]) = out_size(&input.shape(), options)?;
    let win = Window::new(&img, options, oh, ow);
    let out_shape = img.shape_with(img.c, oh, ow);
    let mut out = pool::take::<T>(&out_shape);
    {
        let xv = input.value();
        let xc = contiguous(&xv);
        let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
        let os = out.as_slice_mut().expect("pooled arrays are contiguous");
        win.for_each_max(xs, |k, idx, plane| os[k] = idx.map_or(T::neg_infinity(), |i| plane[i]));
    }
    Ok(Var::custom("max_pool2d", &[input], out, move |args| {
        let gy = args.grad_output;
        let gyc = contiguous(&gy);
        let gys = gyc.as_ref().unwrap_or(&gy).as_slice().expect("contiguous");
        let xv = args.inputs[0].value();
        let xc = contiguous(&xv);
        let xs = xc.as_ref().unwrap_or(&xv).as_slice().expect("contiguous");
        let mut gx = pool::zeros::<T>(xv.shape());
        let gxs = gx.as_slice_mut().expect("pooled arrays are contiguous");
        let plane_len = img.plane();
        win.for_each_max(xs, |k, idx, _| {
            if let Some(i) = idx {
                let slot = &mut gxs[k / (oh * ow) * plane_len + i];
                *slot = *slot + gys[k];
            }
        });
        drop((xc, xv, gyc));
        pool::give(gy);
        vec![Some(gx)]
    }))
}

/// The windows of one max pooling.
struct Window {
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
}

impl Window {
    fn new(img: &Image, o: &MaxPool2dOptions, oh: usize, ow: usize) -> Self {
        Window {
            planes: img.n * img.c,
            h: img.h,
            w: img.w,
            oh,
            ow,
            k: o.kernel_size,
            s: o.effective_stride(),
            p: o.padding,
            d: o.dilation,
        }
    }

    /// Calls `f(output index, in-plane index of the window's maximum, plane)` for every output
    /// element in order. The maximum is PyTorch's: the first strictly greater value (or NaN)
    /// wins, starting from `-inf` at the window's first valid tap. A dilated window can skip
    /// over a small input entirely (taps only in the padding): its index is `None`, its
    /// output `-inf` as in PyTorch, and it passes no gradient.
    fn for_each_max<T: Element>(&self, xs: &[T], mut f: impl FnMut(usize, Option<usize>, &[T])) {
        let mut k = 0;
        for plane in xs.chunks_exact(self.h * self.w).take(self.planes) {
            for i in 0..self.oh {
                let hs = (i * self.s[0]) as i64 - self.p[0] as i64;
                let rows = taps(hs, self.k[0], self.d[0], self.h);
                for j in 0..self.ow {
                    let ws = (j * self.s[1]) as i64 - self.p[1] as i64;
                    let cols = taps(ws, self.k[1], self.d[1], self.w);
                    if rows.is_empty() || cols.is_empty() {
                        f(k, None, plane);
                        k += 1;
                        continue;
                    }
                    let row0 = (hs + (rows.start * self.d[0]) as i64) as usize;
                    let col0 = (ws + (cols.start * self.d[1]) as i64) as usize;
                    let mut best = row0 * self.w + col0;
                    let mut max = T::neg_infinity();
                    for u in rows.clone() {
                        let r = (hs + (u * self.d[0]) as i64) as usize * self.w;
                        for v in cols.clone() {
                            let idx = r + (ws + (v * self.d[1]) as i64) as usize;
                            let val = plane[idx];
                            if val > max || val.is_nan() {
                                max = val;
                                best = idx;
                            }
                        }
                    }
                    f(k, Some(best), plane);
                    k += 1;
                }
            }
        }
    }
}
