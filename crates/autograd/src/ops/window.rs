//! Shared geometry of the sliding-window ops (convolution and pooling over `[N, C, H, W]`):
//! reading the input shape, the output-size formulas and the valid taps of a window.

use crate::error::{AutogradError, Result};
use crate::ops::linear::contiguous;
use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::pool::Indices;
use nabla_tensor::{pool, Element, TensorError};
use std::ops::Range;

/// An image op's output shape, `[N, C, H, W]` or `[C, H, W]`, held inline.
pub(crate) type ImageShape = smallvec::SmallVec<[usize; 4]>;

/// The dimensions of a `[N, C, H, W]` (or unbatched `[C, H, W]`) input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Image {
    /// Batch size (1 for unbatched input).
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Whether the input had a batch axis.
    pub batched: bool,
}

impl Image {
    /// Reads `[N, C, H, W]` or `[C, H, W]`; the batch may be empty, the other axes may not
    /// (as PyTorch: "optional 0 dim batch size").
    pub(crate) fn of(op: &'static str, shape: &[usize]) -> Result<Image> {
        let img = match *shape {
            [n, c, h, w] => Image { n, c, h, w, batched: true },
            [c, h, w] => Image { n: 1, c, h, w, batched: false },
            _ => {
                return Err(TensorError::Rank {
                    op,
                    expected: "input [N, C, H, W] or unbatched [C, H, W]",
                    shape: shape.to_vec(),
                }
                .into())
            }
        };
        if img.c == 0 || img.h == 0 || img.w == 0 {
            return Err(AutogradError::Invalid {
                op,
                message: format!(
                    "input {shape:?} has an empty channel or spatial axis (only the batch axis may be 0)"
                ),
            });
        }
        Ok(img)
    }

    /// The output shape with `c` channels of `oh x ow`, batched like the input.
    /// Inline (no allocation): it is computed on every forward pass.
    pub(crate) fn shape_with(&self, c: usize, oh: usize, ow: usize) -> ImageShape {
        if self.batched {
            ImageShape::from_slice(&[self.n, c, oh, ow])
        } else {
            ImageShape::from_slice(&[c, oh, ow])
        }
    }

    /// Elements of one `[H, W]` plane.
    pub(crate) fn plane(&self) -> usize {
        self.h * self.w
    }
}

/// `floor(a / b)` for `b > 0` (PyTorch's `div_rtn`).
fn div_floor(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

/// The convolution output length `floor((L + p_before + p_after - d (k - 1) - 1) / s) + 1`
/// (may be `<= 0` when the dilated kernel does not fit the padded input).
pub(crate) fn conv_out_len(
    len: usize,
    kernel: usize,
    dilation: usize,
    stride: usize,
    pad: [usize; 2],
) -> i64 {
    let span = len as i64 + pad[0] as i64 + pad[1] as i64 - dilation as i64 * (kernel as i64 - 1) - 1;
    div_floor(span, stride as i64) + 1
}

/// The pooling output length as PyTorch's `pooling_output_shape`:
/// `floor((L + 2p - d (k - 1) - 1 + (ceil_mode ? s - 1 : 0)) / s) + 1`, and with `ceil_mode`
/// one less when the last window would start at or past `L + p` (it must start inside the
/// input or the left padding).
pub(crate) fn pool_out_len(
    len: usize,
    kernel: usize,
    dilation: usize,
    stride: usize,
    pad: usize,
    ceil_mode: bool,
) -> i64 {
    let (len, k, d, s, p) = (len as i64, kernel as i64, dilation as i64, stride as i64, pad as i64);
    let extra = if ceil_mode { s - 1 } else { 0 };
    let mut out = div_floor(len + 2 * p - d * (k - 1) - 1 + extra, s) + 1;
    if ceil_mode && (out - 1) * s >= len + p {
        out -= 1;
    }
    out
}

/// The taps `i in 0..kernel` of a window starting at `start` (in input coordinates, may be
/// negative in the padding) whose position `start + i * dilation` lies in `0..len`.
pub(crate) fn taps(start: i64, kernel: usize, dilation: usize, len: usize) -> Range<usize> {
    let d = dilation as i64;
    let lo = if start >= 0 { 0 } else { (-start + d - 1) / d };
    let hi = if start >= len as i64 { 0 } else { (len as i64 - start + d - 1) / d };
    let (lo, hi) = (lo.min(kernel as i64) as usize, hi.min(kernel as i64) as usize);
    lo..hi.max(lo)
}

/// The valid taps of every window along one axis, computed once per call so that the
/// pooling loops do no division: for output `o` (window start `o * stride - pad`), the input
/// position of its first tap inside `0..len` and the number of such taps (spaced by
/// `dilation`); `(0, 0)` for a window entirely in the padding.
///
/// `len` must be below 2^32 (the caller checks its planes are): the pairs are kept as `u32`
/// in pooled [`Indices`], so that a pooling allocates nothing per step.
pub(crate) fn axis_taps(
    out: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
    len: usize,
) -> Taps {
    debug_assert!(u32::try_from(len).is_ok(), "axis of {len} positions");
    let mut pairs = Indices::filled(2 * out, 0);
    for (o, pair) in pairs.chunks_exact_mut(2).enumerate() {
        let start = (o * stride) as i64 - pad as i64;
        let t = taps(start, kernel, dilation, len);
        if !t.is_empty() {
            pair[0] = (start + (t.start * dilation) as i64) as u32;
            pair[1] = t.len() as u32;
        }
    }
    Taps(pairs)
}

/// Per output position of one axis, `(first valid input position, number of valid taps)`.
pub(crate) struct Taps(Indices);

impl Taps {
    /// Output positions.
    pub(crate) fn len(&self) -> usize {
        self.0.len() / 2
    }

    /// The `(first, count)` pairs in output order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.0.chunks_exact(2).map(|p| (p[0] as usize, p[1] as usize))
    }
}

/// The output positions `o in 0..out` whose input position `o * stride + offset - pad` lies in
/// `0..len` (`offset` is a tap's offset `i * dilation`); those are contiguous.
pub(crate) fn outputs_inside(
    out: usize,
    stride: usize,
    offset: usize,
    pad: usize,
    len: usize,
) -> Range<usize> {
    // o * stride >= pad - offset  and  o * stride <= len - 1 + pad - offset
    let lo = if pad > offset { (pad - offset).div_ceil(stride) } else { 0 };
    let hi = if len + pad > offset { (len - 1 + pad - offset) / stride + 1 } else { 0 };
    let (lo, hi) = (lo.min(out), hi.min(out));
    lo..hi.max(lo)
}

/// The [`AutogradError::OutputTooSmall`] of a window op.
pub(crate) fn too_small(
    op: &'static str,
    input: &[usize],
    kernel: [usize; 2],
    dilation: [usize; 2],
    stride: [usize; 2],
    padding: [[usize; 2]; 2],
    output: [i64; 2],
) -> AutogradError {
    AutogradError::OutputTooSmall {
        op,
        input: input.to_vec(),
        window: format!(
            "kernel {kernel:?} with dilation {dilation:?}, stride {stride:?} and padding {padding:?} \
             ([before, after] per axis)"
        ),
        output,
    }
}

/// Checks that kernel, stride and dilation are positive (the checks every window op shares).
pub(crate) fn check_positive(
    op: &'static str,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<()> {
    for (name, v) in [("kernel_size", kernel), ("stride", stride), ("dilation", dilation)] {
        if v.contains(&0) {
            return Err(AutogradError::InvalidHyperParameter {
                op,
                name,
                message: format!("must be positive along both axes, got {v:?}"),
            });
        }
    }
    Ok(())
}

/// The window of a pooling op per axis `[H, W]`, with the stride in effect: what PyTorch's
/// checks of pooling hyper-parameters and its output-size rule read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolWindow {
    /// The window size `[kH, kW]`.
    pub kernel: [usize; 2],
    /// The step of the window.
    pub stride: [usize; 2],
    /// The padding on both sides of each axis.
    pub padding: [usize; 2],
    /// The spacing of the window's taps.
    pub dilation: [usize; 2],
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
}

impl PoolWindow {
    /// The window of a pooling op whose `stride` defaults to the kernel size (PyTorch's
    /// `stride=None`).
    pub(crate) fn new(
        kernel: [usize; 2],
        stride: Option<[usize; 2]>,
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Self {
        PoolWindow { kernel, stride: stride.unwrap_or(kernel), padding, dilation, ceil_mode }
    }

    /// PyTorch's checks of pooling hyper-parameters: kernel, stride and dilation positive, and
    /// padding at most half the effective kernel `d (k - 1) + 1` on each axis.
    ///
    /// # Errors
    /// [`AutogradError::InvalidHyperParameter`] naming `op` and the hyper-parameter.
    pub(crate) fn check(&self, op: &'static str) -> Result<()> {
        let PoolWindow { kernel, stride, padding, dilation, .. } = *self;
        check_positive(op, kernel, stride, dilation)?;
        for a in 0..2 {
            let effective = dilation[a] * (kernel[a] - 1) + 1;
            if padding[a] > effective / 2 {
                return Err(AutogradError::InvalidHyperParameter {
                    op,
                    name: "padding",
                    message: format!(
                        "{padding:?} must be at most half the effective kernel size d (k - 1) + 1 on each \
                         axis (kernel {kernel:?}, dilation {dilation:?})"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The image read from `input` (`[N, C, H, W]` or `[C, H, W]`) and the pooling output size
    /// `[H_out, W_out]`, after [`check`](PoolWindow::check) and the check for an output of at
    /// least 1x1.
    ///
    /// # Errors
    /// As [`Image::of`] and [`check`](PoolWindow::check); [`AutogradError::OutputTooSmall`].
    pub(crate) fn out_size(&self, op: &'static str, input: &[usize]) -> Result<(Image, [usize; 2])> {
        let img = Image::of(op, input)?;
        self.check(op)?;
        let PoolWindow { kernel, stride, padding, dilation, ceil_mode } = *self;
        let lens = [img.h, img.w];
        let out: [i64; 2] = std::array::from_fn(|a| {
            pool_out_len(lens[a], kernel[a], dilation[a], stride[a], padding[a], ceil_mode)
        });
        if out.iter().any(|&o| o < 1) {
            return Err(too_small(
                op,
                input,
                kernel,
                dilation,
                stride,
                [[padding[0]; 2], [padding[1]; 2]],
                out,
            ));
        }
        Ok((img, [out[0] as usize, out[1] as usize]))
    }

    /// The output shape of pooling `input`: its batch and channels, `[H_out, W_out]`.
    ///
    /// # Errors
    /// As [`out_size`](PoolWindow::out_size).
    pub(crate) fn output_shape(&self, op: &'static str, input: &[usize]) -> Result<Vec<usize>> {
        let (img, [oh, ow]) = self.out_size(op, input)?;
        Ok(img.shape_with(img.c, oh, ow).to_vec())
    }
}

/// The `[H, W]` planes of a pooling op that maps each input plane (of `input` elements) to an
/// output plane (of `output` elements) on its own, in the batch's `(n, c)` order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Planes {
    /// Elements of an input plane.
    pub input: usize,
    /// Elements of an output plane.
    pub output: usize,
}

impl Planes {
    /// The forward pass: a pooled buffer of `out_shape` whose planes `pool(input plane, output
    /// plane)` fills, reading `x` as contiguous.
    pub(crate) fn pool<T: Element>(
        &self,
        x: &ArrayD<T>,
        out_shape: &[usize],
        mut pool_plane: impl FnMut(&[T], &mut [T]),
    ) -> ArrayD<T> {
        let mut out = pool::take::<T>(out_shape);
        let xc = contiguous(x);
        let xs = xc.as_ref().unwrap_or(x).as_slice().expect("contiguous");
        let os = out.as_slice_mut().expect("pooled arrays are contiguous");
        for (plane, oplane) in xs.chunks_exact(self.input).zip(os.chunks_exact_mut(self.output)) {
            pool_plane(plane, oplane);
        }
        out
    }

    /// The backward pass: the input's gradient (zeros of `input_shape`) to which
    /// `scatter(input-gradient plane, output-gradient plane)` adds each plane's share of the
    /// upstream gradient `gy`, which goes back to the pool.
    pub(crate) fn scatter<T: Element>(
        &self,
        gy: ArrayD<T>,
        input_shape: &[usize],
        mut scatter_plane: impl FnMut(&mut [T], &[T]),
    ) -> ArrayD<T> {
        let mut gx = pool::zeros::<T>(input_shape);
        {
            let gyc = contiguous(&gy);
            let gys = gyc.as_ref().unwrap_or(&gy).as_slice().expect("contiguous");
            let gxs = gx.as_slice_mut().expect("pooled arrays are contiguous");
            for (gplane, oplane) in gxs.chunks_exact_mut(self.input).zip(gys.chunks_exact(self.output)) {
                scatter_plane(gplane, oplane);
            }
        }
        pool::give(gy);
        gx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lengths_follow_the_pytorch_formulas() {
        assert_eq!(conv_out_len(28, 3, 1, 1, [0, 0]), 26);
        assert_eq!(conv_out_len(8, 3, 1, 2, [1, 1]), 4);
        assert_eq!(conv_out_len(2, 3, 1, 1, [0, 0]), 0);
        assert_eq!(conv_out_len(1, 3, 2, 1, [0, 0]), -3);
        // ceil_mode: 7 with k2 s2 gives 4; the last window must start inside input + left pad.
        assert_eq!(pool_out_len(7, 2, 1, 2, 0, false), 3);
        assert_eq!(pool_out_len(7, 2, 1, 2, 0, true), 4);
        assert_eq!(pool_out_len(6, 2, 1, 2, 1, true), 4);
        assert_eq!(pool_out_len(5, 3, 1, 2, 1, true), 3);
        // (out - 1) * s >= len + p drops the last window.
        assert_eq!(pool_out_len(4, 2, 1, 3, 1, true), 2);
        assert_eq!(pool_out_len(1, 3, 1, 1, 0, false), -1);
    }

    #[test]
    fn taps_and_inside_outputs_agree_with_brute_force() {
        for len in 1..6usize {
            for k in 1..4usize {
                for d in 1..3usize {
                    for start in -4i64..6 {
                        let want: Vec<usize> =
                            (0..k).filter(|&i| (0..len as i64).contains(&(start + (i * d) as i64))).collect();
                        let r = taps(start, k, d, len);
                        assert_eq!(
                            r.clone().collect::<Vec<_>>(),
                            want,
                            "len {len} k {k} d {d} start {start}"
                        );
                    }
                    for s in 1..4usize {
                        for pad in 0..3usize {
                            for off in 0..5usize {
                                let out = 5;
                                let want: Vec<usize> = (0..out)
                                    .filter(|&o| {
                                        (0..len as i64).contains(&((o * s + off) as i64 - pad as i64))
                                    })
                                    .collect();
                                let got: Vec<usize> = outputs_inside(out, s, off, pad, len).collect();
                                assert_eq!(got, want, "len {len} s {s} pad {pad} off {off}");
                            }
                        }
                    }
                }
            }
        }
    }
}
