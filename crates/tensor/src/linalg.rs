//! Matrix products through the strided kernels of [`Element::gemm`] (nabla's own
//! [`crate::sgemm`] for `f32`, `matrixmultiply::dgemm` for `f64`), split over nabla's own
//! threads ([`crate::threads`]).
//!
//! The kernel takes any row and column stride (including negative ones), so transposed,
//! permuted and sliced views are multiplied in place, without copying. It runs on one thread
//! per call: a product big enough to pay for a hand-off is cut into blocks of rows (or
//! columns) of the output, one per thread, each a single-threaded kernel call.

use crate::error::{Result, TensorError};
use crate::{pool, threads, Element};
use ndarray::{ArrayD, ArrayView2, ArrayViewD, ArrayViewMut2, Axis, Ix2, Ix3};

/// `c = alpha * a @ b + beta * c`, written into the existing buffer `c`.
///
/// `a` is `[m, k]`, `b` is `[k, n]` and `c` is `[m, n]`; all three may have any strides
/// (pass `w.t()` for a transposed operand: no copy is made). With `beta == 0` the old
/// contents of `c` are not read (they may be anything, even NaN).
///
/// # Panics
/// When the shapes do not fit together (the message names all three shapes). This is the
/// low-level hot-path form; [`matmul`] checks and returns a `Result` instead.
///
/// ```
/// use nabla_tensor::{gemm_into, ndarray::{arr2, Array2}};
/// let a = arr2(&[[1.0f32, 2.0], [3.0, 4.0]]);
/// let mut c = Array2::<f32>::zeros((2, 2));
/// gemm_into(1.0, a.view(), a.t(), 0.0, c.view_mut()); // a @ a^T, no transpose copy
/// assert_eq!(c, arr2(&[[5.0, 11.0], [11.0, 25.0]]));
/// ```
pub fn gemm_into<T: Element>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm_into: shapes {:?} @ {:?} do not fit the output {:?}",
        a.shape(),
        b.shape(),
        c.shape()
    );
    let (rsa, csa) = (a.strides()[0], a.strides()[1]);
    let (rsb, csb) = (b.strides()[0], b.strides()[1]);
    let (rsc, csc) = (c.strides()[0], c.strides()[1]);
    let (a, b, c) =
        (SharedPtr(a.as_ptr().cast_mut()), SharedPtr(b.as_ptr().cast_mut()), SharedPtr(c.as_mut_ptr()));
    let split = Split::of(m, k, n, threads::threads());
    threads::split(split.parts, |part| {
        let (start, len) = split.range(part);
        if len == 0 {
            return;
        }
        // SAFETY: the pointers come from live views whose strides are passed along unchanged;
        // each part's rows (or columns) lie inside those views, the parts' blocks of `c` are
        // disjoint, and `c` is a unique mutable view, so it aliases neither `a` nor `b`. The
        // kernel returns before touching `a`/`b` when a dimension is zero. `split` returns only
        // when every part has, so the views outlive every access.
        unsafe {
            let s = start as isize;
            if split.by_rows {
                T::gemm(
                    len,
                    k,
                    n,
                    alpha,
                    a.at(s * rsa),
                    rsa,
                    csa,
                    b.at(0),
                    rsb,
                    csb,
                    beta,
                    c.at(s * rsc),
                    rsc,
                    csc,
                );
            } else {
                T::gemm(
                    m,
                    k,
                    len,
                    alpha,
                    a.at(0),
                    rsa,
                    csa,
                    b.at(s * csb),
                    rsb,
                    csb,
                    beta,
                    c.at(s * csc),
                    rsc,
                    csc,
                );
            }
        }
    });
}

/// A raw pointer shared by the parts of one product (each part touches its own elements).
#[derive(Clone, Copy)]
struct SharedPtr<T>(*mut T);

impl<T> SharedPtr<T> {
    /// The pointer `offset` elements on (a method, so that closures capture the `Sync` wrapper
    /// rather than its raw field).
    ///
    /// # Safety
    /// As `pointer::offset`: the result must stay inside the view the pointer came from.
    unsafe fn at(self, offset: isize) -> *mut T {
        // SAFETY: forwarded from the caller's contract.
        unsafe { self.0.offset(offset) }
    }
}
// SAFETY: only used inside `gemm_into`, whose parts read the operands and write disjoint
// blocks of the output, and which outlives all of them.
unsafe impl<T> Send for SharedPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SharedPtr<T> {}

/// Into how many parts a product of `work` multiply-adds, cut along a side of `len` rows (or
/// columns), is worth splitting on `threads` threads: 1 below [`threads::MIN_SPLIT_WORK`], else one per
/// thread as long as each part keeps at least two register tiles of that side.
///
/// ```
/// use nabla_tensor::split_parts;
/// assert_eq!(split_parts(64 * 784 * 512, 512, 2), 2);
/// assert_eq!(split_parts(8 * 8 * 8, 8, 2), 1); // too small to pay for a hand-off
/// ```
pub fn split_parts(work: usize, len: usize, threads: usize) -> usize {
    if work < threads::MIN_SPLIT_WORK {
        1
    } else {
        threads.min(len / (2 * SPLIT_ALIGN)).max(1)
    }
}

/// Rows or columns of `c` per part are a multiple of this (the kernels' register tile), so
/// that no part ends with a ragged tile another part could have finished.
const SPLIT_ALIGN: usize = 8;

/// How one product is cut into parts: blocks of rows of `c` (each part packs all of `b`) or
/// of columns (each packs all of `a`), along the longer side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Split {
    parts: usize,
    by_rows: bool,
    chunk: usize,
    len: usize,
}

impl Split {
    fn of(m: usize, k: usize, n: usize, threads: usize) -> Split {
        let by_rows = m >= n;
        let len = if by_rows { m } else { n };
        let parts = split_parts(m.saturating_mul(k).saturating_mul(n), len, threads);
        let chunk = len.div_ceil(parts).div_ceil(SPLIT_ALIGN) * SPLIT_ALIGN;
        Split { parts, by_rows, chunk, len }
    }

    /// The first row (or column) of `part` and how many it has.
    fn range(&self, part: usize) -> (usize, usize) {
        let start = (part * self.chunk).min(self.len);
        (start, self.chunk.min(self.len - start))
    }
}

/// The matrix product of two 2-d or 3-d arrays, into a new (pooled) array.
///
/// * `[m, k] @ [k, n] -> [m, n]`
/// * `[b, m, k] @ [b, k, n] -> [b, m, n]` (batched; a batch length of 1 broadcasts)
/// * `[b, m, k] @ [k, n]` and `[m, k] @ [b, k, n] -> [b, m, n]` (the 2-d side is shared)
///
/// Operands may have any strides; no copy is made for transposed views.
///
/// # Errors
/// [`TensorError::ShapeMismatch`] naming both shapes when the inner lengths (or batch
/// lengths) differ; [`TensorError::Rank`] for operands that are not 2-d or 3-d.
pub fn matmul<T: Element>(a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>) -> Result<ArrayD<T>> {
    let mismatch =
        || TensorError::ShapeMismatch { op: "matmul", lhs: a.shape().to_vec(), rhs: b.shape().to_vec() };
    for x in [a.shape(), b.shape()] {
        if !(2..=3).contains(&x.len()) {
            return Err(TensorError::Rank {
                op: "matmul",
                expected: "a 2-d or 3-d tensor",
                shape: x.to_vec(),
            });
        }
    }
    if a.ndim() == 2 && b.ndim() == 2 {
        let a2 = a.view().into_dimensionality::<Ix2>().expect("2-d");
        let b2 = b.view().into_dimensionality::<Ix2>().expect("2-d");
        if a2.ncols() != b2.nrows() {
            return Err(mismatch());
        }
        let mut out = pool::take::<T>(&[a2.nrows(), b2.ncols()]);
        let o2 = out.view_mut().into_dimensionality::<Ix2>().expect("2-d");
        gemm_into(T::one(), a2, b2, T::zero(), o2);
        return Ok(out);
    }
    let a3 = as_batched(a);
    let b3 = as_batched(b);
    let (ba, m, k) = a3.dim();
    let (bb, k2, n) = b3.dim();
    if k != k2 || !(ba == bb || ba == 1 || bb == 1) {
        return Err(mismatch());
    }
    let batch = ba.max(bb);
    let mut out = pool::take::<T>(&[batch, m, n]);
    {
        let mut o3 = out.view_mut().into_dimensionality::<Ix3>().expect("3-d");
        for i in 0..batch {
            let ai = a3.index_axis(Axis(0), if ba == 1 { 0 } else { i });
            let bi = b3.index_axis(Axis(0), if bb == 1 { 0 } else { i });
            gemm_into(T::one(), ai, bi, T::zero(), o3.index_axis_mut(Axis(0), i));
        }
    }
    Ok(out)
}

fn as_batched<'a, T: Element>(x: &ArrayViewD<'a, T>) -> ndarray::ArrayView3<'a, T> {
    let v = x.clone();
    if v.ndim() == 2 {
        v.insert_axis(Axis(0)).into_dimensionality::<Ix3>().expect("3-d")
    } else {
        v.into_dimensionality::<Ix3>().expect("3-d")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Array3, ShapeBuilder};
    use proptest::prelude::*;

    fn naive(a: &ArrayView2<'_, f64>, b: &ArrayView2<'_, f64>) -> Array2<f64> {
        let (m, k) = a.dim();
        let n = b.ncols();
        let mut c = Array2::zeros((m, n));
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += a[[i, p]] * b[[p, j]];
                }
                c[[i, j]] = s;
            }
        }
        c
    }

    fn filled(rows: usize, cols: usize, fortran: bool, seed: u64) -> Array2<f64> {
        let mut r = crate::Rng::seed(seed);
        let mut a = if fortran { Array2::zeros((rows, cols).f()) } else { Array2::zeros((rows, cols)) };
        a.iter_mut().for_each(|x| *x = r.uniform(-1.0, 1.0));
        a
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn gemm_matches_naive(m in 0usize..9, k in 0usize..9, n in 0usize..9,
                              ta in any::<bool>(), tb in any::<bool>(), fc in any::<bool>(),
                              alpha in -2.0f64..2.0, beta in -2.0f64..2.0, seed in 0u64..1000) {
            // Operands stored transposed (or in Fortran order) and viewed back: strided input.
            let a_store = if ta { filled(k, m, false, seed) } else { filled(m, k, false, seed) };
            let b_store = if tb { filled(n, k, false, seed + 1) } else { filled(k, n, false, seed + 1) };
            let a = if ta { a_store.t() } else { a_store.view() };
            let b = if tb { b_store.t() } else { b_store.view() };
            let c0 = filled(m, n, fc, seed + 2);
            let mut c = c0.clone();
            gemm_into(alpha, a, b, beta, c.view_mut());
            let want = naive(&a, &b) * alpha + &c0 * beta;
            for (x, y) in c.iter().zip(want.iter()) {
                prop_assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{x} vs {y}");
            }
            let p = matmul(&a.into_dyn(), &b.into_dyn()).unwrap();
            let want = naive(&a, &b);
            prop_assert_eq!(p.shape(), want.shape());
            for (x, y) in p.iter().zip(want.iter()) {
                prop_assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()));
            }
        }
    }

    #[test]
    fn split_products_match_one_thread_on_every_layout() {
        // Big enough to be split (threads::MIN_SPLIT_WORK), odd sizes so the last part is ragged.
        for (m, k, n) in [(203, 57, 41), (37, 61, 229), (64, 784, 48)] {
            for (ta, tb, reversed) in [(false, false, false), (true, false, false), (false, true, true)] {
                let a_store = if ta { filled(k, m, false, 7) } else { filled(m, k, false, 7) };
                let b_store = if tb { filled(n, k, true, 8) } else { filled(k, n, false, 8) };
                let a = if ta { a_store.t() } else { a_store.view() };
                let mut b = if tb { b_store.t() } else { b_store.view() };
                let rev_b;
                if reversed {
                    // Negative strides: the view starts at the last row.
                    rev_b = b.slice(ndarray::s![..;-1, ..]).to_owned();
                    b = rev_b.view();
                }
                let c0 = filled(m, n, false, 9);
                let mut c = c0.clone();
                gemm_into(0.5, a, b, -1.5, c.view_mut());
                let want = naive(&a, &b) * 0.5 + &c0 * -1.5;
                for (x, y) in c.iter().zip(want.iter()) {
                    assert!((x - y).abs() <= 1e-11 * (1.0 + y.abs()), "{m}x{k}x{n}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn splits_cover_the_output_once_in_aligned_blocks() {
        for (m, k, n, threads) in
            [(512, 784, 32, 2), (32, 784, 512, 2), (203, 57, 41, 3), (16, 4096, 16, 8), (8, 8, 8, 2)]
        {
            let s = Split::of(m, k, n, threads);
            let mut covered = 0;
            for p in 0..s.parts {
                let (start, len) = s.range(p);
                assert_eq!(start, covered.min(s.len));
                assert!(start % SPLIT_ALIGN == 0);
                covered = start + len;
            }
            assert_eq!(covered, if s.by_rows { m } else { n }, "{m}x{k}x{n} over {threads}");
            assert!(s.parts <= threads);
        }
        assert_eq!(Split::of(8, 8, 8, 2).parts, 1, "small products stay on one thread");
        assert_eq!(Split::of(512, 784, 32, 2), Split { parts: 2, by_rows: true, chunk: 256, len: 512 });
    }

    #[test]
    fn beta_zero_ignores_nan_and_f32_works() {
        let a = Array2::<f32>::ones((3, 4));
        let b = Array2::<f32>::ones((4, 2));
        let mut c = Array2::<f32>::from_elem((3, 2), f32::NAN);
        gemm_into(1.0, a.view(), b.view(), 0.0, c.view_mut());
        assert!(c.iter().all(|&x| x == 4.0));
        let a0 = Array2::<f32>::zeros((3, 0));
        let b0 = Array2::<f32>::zeros((0, 2));
        let mut c = Array2::<f32>::from_elem((3, 2), f32::NAN);
        gemm_into(1.0, a0.view(), b0.view(), 0.0, c.view_mut());
        assert!(c.iter().all(|&x| x == 0.0));
    }

    #[test]
    #[should_panic(expected = "[3, 4] @ [5, 2]")]
    fn gemm_into_names_shapes() {
        let a = Array2::<f32>::ones((3, 4));
        let b = Array2::<f32>::ones((5, 2));
        let mut c = Array2::<f32>::zeros((3, 2));
        gemm_into(1.0, a.view(), b.view(), 0.0, c.view_mut());
    }

    #[test]
    fn batched_forms_and_errors() {
        let a = Array3::<f64>::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as f64 * 0.1);
        let b = Array3::<f64>::from_shape_fn((2, 4, 5), |(i, j, k)| (i + j + 2 * k) as f64 * 0.3);
        let c = matmul(&a.view().into_dyn(), &b.view().into_dyn()).unwrap();
        assert_eq!(c.shape(), &[2, 3, 5]);
        for i in 0..2 {
            let want = naive(&a.index_axis(Axis(0), i), &b.index_axis(Axis(0), i));
            let got = c.index_axis(Axis(0), i);
            assert!(got.iter().zip(want.iter()).all(|(x, y)| (x - y).abs() < 1e-12));
        }
        // 3-d @ 2-d shares the right operand; a transposed 3-d view multiplies in place.
        let w = b.index_axis(Axis(0), 1).to_owned();
        let c = matmul(&a.view().into_dyn(), &w.view().into_dyn()).unwrap();
        let want = naive(&a.index_axis(Axis(0), 1), &w.view());
        assert!(c.index_axis(Axis(0), 1).iter().zip(want.iter()).all(|(x, y)| (x - y).abs() < 1e-12));
        let at = a.view().permuted_axes([0, 2, 1]);
        let c = matmul(&at.into_dyn(), &a.view().into_dyn()).unwrap();
        assert_eq!(c.shape(), &[2, 4, 4]);
        let e = matmul(&a.view().into_dyn(), &a.view().into_dyn()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("[2, 3, 4]"), "{msg}");
        let v = ndarray::Array1::<f64>::zeros(3);
        assert!(matches!(matmul(&v.view().into_dyn(), &a.view().into_dyn()), Err(TensorError::Rank { .. })));
    }
}
