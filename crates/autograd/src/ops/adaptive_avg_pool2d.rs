//! 2-d adaptive average pooling: a given output size, with PyTorch's bins.

use crate::error::{AutogradError, Result};
use crate::ops::window::{Image, Planes};
use crate::var::Var;
use nabla_tensor::Element;
use std::ops::Range;

fn check(input: &[usize], output_size: [usize; 2]) -> Result<Image> {
    let img = Image::of("adaptive_avg_pool2d", input)?;
    if output_size.contains(&0) {
        return Err(AutogradError::InvalidHyperParameter {
            op: "adaptive_avg_pool2d",
            name: "output_size",
            message: format!("must be at least 1 along both axes, got {output_size:?} (input {input:?})"),
        });
    }
    Ok(img)
}

/// The output shape of [`adaptive_avg_pool2d`] for an input `[N, C, H, W]` (or `[C, H, W]`),
/// with all of its checks: for a layer to validate its configuration at model build time.
///
/// # Errors
/// As [`adaptive_avg_pool2d`].
pub fn adaptive_avg_pool2d_output_shape(input: &[usize], output_size: [usize; 2]) -> Result<Vec<usize>> {
    let img = check(input, output_size)?;
    Ok(img.shape_with(img.c, output_size[0], output_size[1]).to_vec())
}

/// Bin `i` of `out` bins over `len` positions: `floor(i len / out) .. ceil((i + 1) len / out)`.
fn bin(i: usize, out: usize, len: usize) -> Range<usize> {
    (i * len / out)..((i + 1) * len).div_ceil(out)
}

/// 2-d adaptive average pooling as PyTorch's `adaptive_avg_pool2d`: input `[N, C, H, W]` (or
/// `[C, H, W]`) to `[N, C, oH, oW]` for `output_size = [oH, oW]`; output `(i, j)` is the mean
/// of the input over rows `floor(i H / oH) .. ceil((i + 1) H / oH)` and columns
/// `floor(j W / oW) .. ceil((j + 1) W / oW)` (PyTorch's bins: they cover the input, may
/// overlap by one, and are never empty). `[1, 1]` is global average pooling. An output size
/// larger than the input repeats input elements.
///
/// Backward: each output's gradient divided by its bin's size is added over its bin.
///
/// Not supported: PyTorch's `None` for an output axis (keep the input size); pass the
/// input's size instead.
///
/// # Errors
/// A rank error for input that is not 3-d or 4-d; [`AutogradError::Invalid`] for an empty
/// channel or spatial axis; [`AutogradError::InvalidHyperParameter`] for an output size of 0.
///
/// ```
/// use nabla_autograd::{adaptive_avg_pool2d, Var};
/// use nabla_tensor::ndarray::{Array, IxDyn};
/// let x = Var::<f64>::param(Array::from_shape_fn(IxDyn(&[1, 1, 3, 3]), |i| (i[2] * 3 + i[3]) as f64));
/// let y = adaptive_avg_pool2d(&x, [1, 1]).unwrap();
/// assert_eq!(y.value().as_slice().unwrap(), &[4.0]);
/// ```
pub fn adaptive_avg_pool2d<T: Element>(input: &Var<T>, output_size: [usize; 2]) -> Result<Var<T>> {
    let img = check(input.value().shape(), output_size)?;
    let [oh, ow] = output_size;
    let planes = Planes { input: img.plane(), output: oh * ow };
    let out = planes.pool(&input.value(), &img.shape_with(img.c, oh, ow), |plane, oplane| {
        for_each_bin(&img, output_size, |k, rows, cols| {
            let count = T::from_f64((rows.len() * cols.len()) as f64);
            let mut sum = T::zero();
            for r in rows {
                sum = plane[r * img.w + cols.start..r * img.w + cols.end].iter().fold(sum, |a, &b| a + b);
            }
            oplane[k] = sum / count;
        });
    });
    Ok(Var::custom("adaptive_avg_pool2d", &[input], out, move |args| {
        let gx = planes.scatter(args.grad_output, args.inputs[0].value().shape(), |gplane, oplane| {
            for_each_bin(&img, output_size, |k, rows, cols| {
                let delta = oplane[k] / T::from_f64((rows.len() * cols.len()) as f64);
                for r in rows {
                    for v in &mut gplane[r * img.w + cols.start..r * img.w + cols.end] {
                        *v = *v + delta;
                    }
                }
            });
        });
        [Some(gx)]
    }))
}

/// Calls `f(output index in the plane, rows, columns)` for every bin of one plane.
fn for_each_bin(img: &Image, [oh, ow]: [usize; 2], mut f: impl FnMut(usize, Range<usize>, Range<usize>)) {
    for i in 0..oh {
        let rows = bin(i, oh, img.h);
        for j in 0..ow {
            f(i * ow + j, rows.clone(), bin(j, ow, img.w));
        }
    }
}
