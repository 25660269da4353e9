//! Dropout by a given mask.

use crate::error::{AutogradError, Result};
use crate::ops::saved::Saved;
use crate::var::Var;
use nabla_tensor::ndarray::{ArrayD, Zip};
use nabla_tensor::{pool, Element, Rng, TensorError};

/// `Ok` when `p` is a drop probability in `[0, 1]` (the check of every dropout op).
///
/// # Errors
/// [`AutogradError::Invalid`] naming `op` and `p`.
pub(crate) fn check_probability(op: &'static str, p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(AutogradError::Invalid { op, message: format!("p must be in [0, 1], got {p}") })
    }
}

/// A dropout mask for `shape`: each element is `0` with probability `p` (to within `2^-32`),
/// else `1 / (1 - p)` (inverted dropout, so the expectation is unchanged); all zeros when
/// `p == 1`, all kept when `p == 0`. Each element takes one 32-bit draw from `rng`
/// ([`Rng::fill_u32`]).
///
/// # Errors
/// [`AutogradError::Invalid`] when `p` is not in `[0, 1]`.
pub fn dropout_mask<T: Element>(shape: &[usize], p: f64, rng: &mut Rng) -> Result<ArrayD<T>> {
    check_probability("dropout", p)?;
    let keep = if p < 1.0 { T::from_f64(1.0 / (1.0 - p)) } else { T::zero() };
    // Each element is decided by one 32-bit draw compared with p * 2^32 (exact for p = 0 and
    // p = 1, otherwise p to within 2^-32); draws are made in bulk, a block at a time.
    let threshold = (p * 4_294_967_296.0).round() as u64;
    let mut m = pool::take::<T>(shape);
    let slots = m.as_slice_mut().expect("pooled arrays are contiguous");
    let mut bits = [0u32; 512];
    for block in slots.chunks_mut(bits.len()) {
        let bits = &mut bits[..block.len()];
        rng.fill_u32(bits);
        for (v, &r) in block.iter_mut().zip(bits.iter()) {
            *v = if u64::from(r) < threshold { T::zero() } else { keep };
        }
    }
    Ok(m)
}

/// `x * mask` where `mask` (same shape as `x`) is already scaled, e.g. by [`dropout_mask`];
/// the backward is `grad * mask`. The mask is kept (not copied) until the graph is released.
///
/// # Errors
/// A shape mismatch naming both shapes.
pub fn dropout_with_mask<T: Element>(x: &Var<T>, mask: ArrayD<T>) -> Result<Var<T>> {
    let xv = x.value();
    if xv.shape() != mask.shape() {
        return Err(TensorError::ShapeMismatch {
            op: "dropout_with_mask",
            lhs: xv.shape().to_vec(),
            rhs: mask.shape().to_vec(),
        }
        .into());
    }
    let mut out = pool::take::<T>(xv.shape());
    Zip::from(&mut out).and(&*xv).and(&mask).for_each(|o, &v, &m| *o = v * m);
    drop(xv);
    let mask = Saved::new(mask);
    Ok(Var::custom("dropout", &[x], out, move |args| {
        let mut g = args.grad_output;
        g.zip_mut_with(&*mask, |g, &m| *g = *g * m);
        [Some(g)]
    }))
}

/// Dropout with probability `p` in training mode (a fresh mask from `rng`); the identity
/// (the same variable) when `!training` or `p == 0`.
///
/// # Errors
/// As [`dropout_mask`].
pub fn dropout<T: Element>(x: &Var<T>, p: f64, training: bool, rng: &mut Rng) -> Result<Var<T>> {
    check_probability("dropout", p)?;
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    let mask = dropout_mask(x.value().shape(), p, rng)?;
    dropout_with_mask(x, mask)
}
