//! [`Tensor`]: an owned n-dimensional array of `f32` or `f64` with the operations nabla needs.
//!
//! # Which APIs panic
//! Methods return [`Result`] whenever the outcome depends on shapes, axes or indices
//! (broadcasting, matmul, reductions along axes, reshape, permute, concat, gather). The
//! operator overloads (`&a + &b`, `&a * &b`, ...) cannot return a `Result`: they **panic**
//! with the same message as the corresponding method's error (which names both shapes).
//! Constructors from shapes (`zeros`, `ones`, `uniform`, ...) cannot fail.

use crate::error::{Result, TensorError};
use crate::shape::{broadcast_zip, check_axis, check_len, check_permutation, reduced_shape};
use crate::{linalg, Element, Rng};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Axis, Dimension, IxDyn};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// An owned n-dimensional tensor of `T` (`f32` by default, or `f64`) over
/// [`ndarray::ArrayD`].
///
/// It converts from and into an `ndarray` array without copying ([`Tensor::from_array`],
/// [`Tensor::into_array`]), and any `ndarray` view can be borrowed with [`Tensor::view`].
/// Reshape, transpose and permute reorder strides without copying the data.
///
/// ```
/// use nabla_tensor::Tensor;
/// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
/// let b = Tensor::from_vec(vec![10.0, 20.0, 30.0], &[3]).unwrap();
/// let c = a.add(&b).unwrap();                       // broadcast over rows
/// assert_eq!(c.to_vec(), vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
/// let g = a.matmul(&a.clone().t().unwrap()).unwrap(); // [2,3] @ [3,2], no transpose copy
/// assert_eq!(g.shape(), &[2, 2]);
/// assert_eq!(c.sum_axes(&[0], true).unwrap().shape(), &[1, 3]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor<T: Element = f32> {
    data: ArrayD<T>,
}

impl<T: Element> Tensor<T> {
    // ----- construction and conversion -------------------------------------------------

    /// Wraps an `ndarray` array (no copy).
    pub fn from_array(data: ArrayD<T>) -> Self {
        Tensor { data }
    }

    /// Wraps an `ndarray` array of any static dimension (no copy).
    pub fn from_ndarray<D: Dimension>(data: ndarray::Array<T, D>) -> Self {
        Tensor { data: data.into_dyn() }
    }

    /// Unwraps into the `ndarray` array (no copy).
    pub fn into_array(self) -> ArrayD<T> {
        self.data
    }

    /// The underlying array.
    pub fn array(&self) -> &ArrayD<T> {
        &self.data
    }

    /// The underlying array, mutably.
    pub fn array_mut(&mut self) -> &mut ArrayD<T> {
        &mut self.data
    }

    /// A read-only view.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        self.data.view()
    }

    /// A mutable view.
    pub fn view_mut(&mut self) -> ArrayViewMutD<'_, T> {
        self.data.view_mut()
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::zero())
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::one())
    }

    /// A tensor filled with `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Tensor { data: ArrayD::from_elem(IxDyn(shape), value) }
    }

    /// A 0-d tensor holding `value`.
    pub fn scalar(value: T) -> Self {
        Self::full(&[], value)
    }

    /// A tensor from a row-major (C-order) buffer (no copy).
    ///
    /// # Errors
    /// [`TensorError::DataLength`] when `data.len()` is not the product of `shape`.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        check_len("from_vec", shape, data.len())?;
        Ok(Tensor { data: ArrayD::from_shape_vec(IxDyn(shape), data).expect("length checked") })
    }

    /// Uniform draws in `[low, high)` from `rng`.
    pub fn uniform(shape: &[usize], low: T, high: T, rng: &mut Rng) -> Self {
        Tensor { data: rng.uniform_array(shape, low, high) }
    }

    /// Normal draws with the given mean and standard deviation from `rng`.
    pub fn normal(shape: &[usize], mean: T, std: T, rng: &mut Rng) -> Self {
        Tensor { data: rng.normal_array(shape, mean, std) }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.data.ndim()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements in row-major (logical) order.
    pub fn to_vec(&self) -> Vec<T> {
        self.data.iter().copied().collect()
    }

    /// Whether the data is laid out in standard row-major order (so a reshape is free).
    pub fn is_contiguous(&self) -> bool {
        self.data.is_standard_layout()
    }

    /// The same tensor in standard row-major layout (copies only if it is not already).
    pub fn contiguous(self) -> Self {
        if self.data.is_standard_layout() {
            self
        } else {
            Tensor { data: self.data.as_standard_layout().into_owned() }
        }
    }

    // ----- elementwise -------------------------------------------------------------------

    /// `self + other` with NumPy broadcasting.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming both shapes when they do not broadcast.
    pub fn add(&self, other: &Self) -> Result<Self> {
        self.zip_with("add", other, |a, b| a + b)
    }

    /// `self - other` with NumPy broadcasting (errors as [`Tensor::add`]).
    pub fn sub(&self, other: &Self) -> Result<Self> {
        self.zip_with("sub", other, |a, b| a - b)
    }

    /// `self * other` elementwise with NumPy broadcasting (errors as [`Tensor::add`]).
    pub fn mul(&self, other: &Self) -> Result<Self> {
        self.zip_with("mul", other, |a, b| a * b)
    }

    /// `self / other` elementwise with NumPy broadcasting (errors as [`Tensor::add`]).
    pub fn div(&self, other: &Self) -> Result<Self> {
        self.zip_with("div", other, |a, b| a / b)
    }

    /// `f(a, b)` elementwise with NumPy broadcasting, in one fused loop; `op` names the
    /// operation in errors.
    pub fn zip_with(&self, op: &'static str, other: &Self, f: impl Fn(T, T) -> T) -> Result<Self> {
        Ok(Tensor { data: broadcast_zip(op, &self.data.view(), &other.data.view(), f)? })
    }

    /// `f(x)` for every element.
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        Tensor { data: self.data.mapv(f) }
    }

    /// Applies `f` to every element in place.
    pub fn map_inplace(&mut self, f: impl Fn(T) -> T) {
        self.data.mapv_inplace(f);
    }

    /// `self + s` for a scalar `s`.
    pub fn add_scalar(&self, s: T) -> Self {
        self.map(|x| x + s)
    }

    /// `self * s` for a scalar `s`.
    pub fn mul_scalar(&self, s: T) -> Self {
        self.map(|x| x * s)
    }

    /// `e^x`.
    pub fn exp(&self) -> Self {
        self.map(T::exp)
    }

    /// Natural logarithm.
    pub fn log(&self) -> Self {
        self.map(T::ln)
    }

    /// Square root.
    pub fn sqrt(&self) -> Self {
        self.map(T::sqrt)
    }

    /// `x^p` for a real exponent.
    pub fn powf(&self, p: T) -> Self {
        self.map(|x| x.powf(p))
    }

    /// Absolute value.
    pub fn abs(&self) -> Self {
        self.map(T::abs)
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Self {
        self.map(T::tanh)
    }

    /// The logistic sigmoid `1 / (1 + e^-x)` (computed without overflow for large `|x|`).
    pub fn sigmoid(&self) -> Self {
        self.map(sigmoid)
    }

    /// The error function.
    pub fn erf(&self) -> Self {
        self.map(T::erf)
    }

    /// `max(x, 0)`.
    pub fn relu(&self) -> Self {
        self.map(|x| if x > T::zero() { x } else { T::zero() })
    }

    // ----- reductions --------------------------------------------------------------------

    /// The sum of all elements (0 for an empty tensor).
    pub fn sum(&self) -> T {
        self.data.sum()
    }

    /// The mean of all elements (NaN for an empty tensor).
    pub fn mean(&self) -> T {
        self.sum() / T::from_f64(self.len() as f64)
    }

    /// Sums along `axes` (in any order; duplicates count once), keeping them as length-1
    /// axes when `keepdim`.
    ///
    /// # Errors
    /// [`TensorError::AxisOutOfRange`] for an axis the tensor does not have.
    pub fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Self> {
        Ok(Tensor { data: sum_axes(&self.data.view(), axes, keepdim)? })
    }

    /// Means along `axes` (errors as [`Tensor::sum_axes`]).
    pub fn mean_axes(&self, axes: &[usize], keepdim: bool) -> Result<Self> {
        let mut s = sum_axes(&self.data.view(), axes, keepdim)?;
        let count = self.len() / s.len().max(1);
        let inv = T::one() / T::from_f64(count as f64);
        s.mapv_inplace(|x| x * inv);
        Ok(Tensor { data: s })
    }

    /// The maximum along `axis` (NaN propagates).
    ///
    /// # Errors
    /// [`TensorError::AxisOutOfRange`]; [`TensorError::Empty`] when the axis has length 0.
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Self> {
        self.check_reducible("max_axis", axis)?;
        let m = self.data.map_axis(Axis(axis), |lane| {
            lane.iter().fold(T::neg_infinity(), |acc, &x| if x > acc || x.is_nan() { x } else { acc })
        });
        Ok(Tensor { data: keep(m, axis, keepdim) })
    }

    /// The index of the (first) maximum along `axis`.
    ///
    /// # Errors
    /// As [`Tensor::max_axis`].
    pub fn argmax_axis(&self, axis: usize, keepdim: bool) -> Result<ArrayD<usize>> {
        self.check_reducible("argmax_axis", axis)?;
        let m = self.data.map_axis(Axis(axis), |lane| {
            let mut best = 0;
            let mut bv = T::neg_infinity();
            for (i, &x) in lane.iter().enumerate() {
                if x > bv || (x.is_nan() && !bv.is_nan()) {
                    best = i;
                    bv = x;
                }
            }
            best
        });
        Ok(if keepdim { m.insert_axis(Axis(axis)) } else { m })
    }

    /// The variance along `axis` with `ddof` delta degrees of freedom (0: biased,
    /// 1: unbiased); a lane of length `<= ddof` gives NaN or infinity.
    ///
    /// # Errors
    /// As [`Tensor::max_axis`].
    pub fn var_axis(&self, axis: usize, ddof: usize, keepdim: bool) -> Result<Self> {
        self.check_reducible("var_axis", axis)?;
        let n = self.shape()[axis];
        let v = self.data.map_axis(Axis(axis), |lane| {
            let mean = lane.sum() / T::from_f64(n as f64);
            let ss = lane.iter().fold(T::zero(), |acc, &x| acc + (x - mean) * (x - mean));
            ss / T::from_f64(n as f64 - ddof as f64)
        });
        Ok(Tensor { data: keep(v, axis, keepdim) })
    }

    fn check_reducible(&self, op: &'static str, axis: usize) -> Result<()> {
        check_axis(op, axis, self.shape())?;
        if self.shape()[axis] == 0 {
            return Err(TensorError::Empty { op, what: "the reduced axis" });
        }
        Ok(())
    }

    // ----- shape views -------------------------------------------------------------------

    /// The same elements with a new shape. Free (no copy) when the tensor is contiguous;
    /// otherwise the data is first copied into row-major order.
    ///
    /// # Errors
    /// [`TensorError::DataLength`] when the element counts differ.
    pub fn reshape(self, shape: &[usize]) -> Result<Self> {
        check_len("reshape", shape, self.len())?;
        let data = self.contiguous().data;
        Ok(Tensor { data: data.into_shape_with_order(IxDyn(shape)).expect("checked") })
    }

    /// A reshaped view without copying.
    ///
    /// # Errors
    /// [`TensorError::DataLength`]; [`TensorError::NotContiguous`] when the tensor is not in
    /// standard layout (use [`Tensor::reshape`], which copies then).
    pub fn reshape_view(&self, shape: &[usize]) -> Result<ArrayViewD<'_, T>> {
        check_len("reshape_view", shape, self.len())?;
        if !self.is_contiguous() {
            return Err(TensorError::NotContiguous {
                op: "reshape_view",
                shape: self.shape().to_vec(),
                strides: self.data.strides().to_vec(),
            });
        }
        Ok(self.data.view().into_shape_with_order(IxDyn(shape)).expect("checked"))
    }

    /// Swaps the last two axes (a matrix transpose; no copy).
    ///
    /// # Errors
    /// [`TensorError::Rank`] for a tensor with fewer than 2 dimensions.
    pub fn t(self) -> Result<Self> {
        let n = self.ndim();
        if n < 2 {
            return Err(TensorError::Rank {
                op: "t",
                expected: "at least 2 dimensions",
                shape: self.shape().to_vec(),
            });
        }
        self.transpose(n - 2, n - 1)
    }

    /// Swaps axes `a` and `b` (no copy).
    ///
    /// # Errors
    /// [`TensorError::AxisOutOfRange`].
    pub fn transpose(mut self, a: usize, b: usize) -> Result<Self> {
        check_axis("transpose", a, self.shape())?;
        check_axis("transpose", b, self.shape())?;
        self.data.swap_axes(a, b);
        Ok(self)
    }

    /// Reorders the axes: axis `i` of the result is axis `axes[i]` of `self` (no copy).
    ///
    /// # Errors
    /// [`TensorError::InvalidPermutation`].
    pub fn permute(self, axes: &[usize]) -> Result<Self> {
        check_permutation("permute", axes, self.shape())?;
        Ok(Tensor { data: self.data.permuted_axes(IxDyn(axes)) })
    }

    /// A view with axes `a` and `b` swapped.
    ///
    /// # Errors
    /// [`TensorError::AxisOutOfRange`].
    pub fn transpose_view(&self, a: usize, b: usize) -> Result<ArrayViewD<'_, T>> {
        check_axis("transpose_view", a, self.shape())?;
        check_axis("transpose_view", b, self.shape())?;
        let mut v = self.data.view();
        v.swap_axes(a, b);
        Ok(v)
    }

    /// A view with permuted axes (see [`Tensor::permute`]).
    ///
    /// # Errors
    /// [`TensorError::InvalidPermutation`].
    pub fn permute_view(&self, axes: &[usize]) -> Result<ArrayViewD<'_, T>> {
        check_permutation("permute_view", axes, self.shape())?;
        Ok(self.data.view().permuted_axes(IxDyn(axes)))
    }

    // ----- joining and indexing ----------------------------------------------------------

    /// Joins tensors along an existing axis.
    ///
    /// # Errors
    /// [`TensorError::Empty`] for no tensors, [`TensorError::AxisOutOfRange`], and
    /// [`TensorError::ShapeMismatch`] naming the first and the offending shape when the other
    /// axes differ.
    pub fn concat(tensors: &[&Self], axis: usize) -> Result<Self> {
        let first = tensors.first().ok_or(TensorError::Empty { op: "concat", what: "the tensor list" })?;
        check_axis("concat", axis, first.shape())?;
        for t in &tensors[1..] {
            let same_rank = t.ndim() == first.ndim();
            let fits = same_rank
                && t.shape().iter().zip(first.shape()).enumerate().all(|(i, (a, b))| i == axis || a == b);
            if !fits {
                return Err(TensorError::ShapeMismatch {
                    op: "concat",
                    lhs: first.shape().to_vec(),
                    rhs: t.shape().to_vec(),
                });
            }
        }
        let views: Vec<_> = tensors.iter().map(|t| t.view()).collect();
        Ok(Tensor { data: ndarray::concatenate(Axis(axis), &views).expect("shapes checked") })
    }

    /// Stacks tensors of equal shape along a new axis `axis` (`0..=ndim`).
    ///
    /// # Errors
    /// As [`Tensor::concat`]; every shape must equal the first.
    pub fn stack(tensors: &[&Self], axis: usize) -> Result<Self> {
        let first = tensors.first().ok_or(TensorError::Empty { op: "stack", what: "the tensor list" })?;
        if axis > first.ndim() {
            return Err(TensorError::AxisOutOfRange { op: "stack", axis, shape: first.shape().to_vec() });
        }
        if let Some(t) = tensors.iter().find(|t| t.shape() != first.shape()) {
            return Err(TensorError::ShapeMismatch {
                op: "stack",
                lhs: first.shape().to_vec(),
                rhs: t.shape().to_vec(),
            });
        }
        let views: Vec<_> = tensors.iter().map(|t| t.view()).collect();
        Ok(Tensor { data: ndarray::stack(Axis(axis), &views).expect("shapes checked") })
    }

    /// The rows (indices along axis 0) in the given order, e.g. to assemble a batch.
    ///
    /// # Errors
    /// [`TensorError::Rank`] for a 0-d tensor, [`TensorError::IndexOutOfRange`] for an index
    /// past the first axis.
    pub fn gather_rows(&self, indices: &[usize]) -> Result<Self> {
        if self.ndim() == 0 {
            return Err(TensorError::Rank {
                op: "gather_rows",
                expected: "at least 1 dimension",
                shape: vec![],
            });
        }
        let len = self.shape()[0];
        if let Some(&index) = indices.iter().find(|&&i| i >= len) {
            return Err(TensorError::IndexOutOfRange {
                op: "gather_rows",
                index,
                len,
                shape: self.shape().to_vec(),
            });
        }
        Ok(Tensor { data: self.data.select(Axis(0), indices) })
    }

    // ----- products ----------------------------------------------------------------------

    /// The matrix product (2-d, or batched 3-d; see [`crate::matmul`]). Strided operands
    /// (e.g. from [`Tensor::t`]) are multiplied without copying.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming both shapes, [`TensorError::Rank`].
    pub fn matmul(&self, other: &Self) -> Result<Self> {
        Ok(Tensor { data: linalg::matmul(&self.view(), &other.view())? })
    }
}

/// The logistic sigmoid of one value, without overflow for large `|x|`.
pub fn sigmoid<T: Element>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// Sums a view along `axes` (duplicates count once), keeping them as length 1 when `keepdim`.
///
/// # Errors
/// [`TensorError::AxisOutOfRange`].
pub fn sum_axes<T: Element>(x: &ArrayViewD<'_, T>, axes: &[usize], keepdim: bool) -> Result<ArrayD<T>> {
    let out_shape = reduced_shape("sum_axes", x.shape(), axes, keepdim)?;
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut cur: Option<ArrayD<T>> = None;
    for &ax in sorted.iter().rev() {
        let next = match &cur {
            None => x.sum_axis(Axis(ax)),
            Some(c) => c.sum_axis(Axis(ax)),
        };
        cur = Some(next);
    }
    let r = cur.unwrap_or_else(|| x.to_owned());
    Ok(r.into_shape_with_order(IxDyn(&out_shape)).expect("same element count"))
}

fn keep<T>(a: ArrayD<T>, axis: usize, keepdim: bool) -> ArrayD<T> {
    if keepdim {
        a.insert_axis(Axis(axis))
    } else {
        a
    }
}

impl<T: Element> From<ArrayD<T>> for Tensor<T> {
    fn from(data: ArrayD<T>) -> Self {
        Tensor { data }
    }
}

impl<T: Element> From<Tensor<T>> for ArrayD<T> {
    fn from(t: Tensor<T>) -> Self {
        t.data
    }
}

macro_rules! binop {
    ($trait:ident, $method:ident) => {
        /// Elementwise with broadcasting. **Panics** when the shapes do not broadcast (the
        /// message names both shapes); use the method of the same name for a `Result`.
        impl<T: Element> $trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, rhs).unwrap_or_else(|e| panic!("{e}"))
            }
        }
    };
}
binop!(Add, add);
binop!(Sub, sub);
binop!(Mul, mul);
binop!(Div, div);

impl<T: Element> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        self.map(|x| -x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), shape).unwrap()
    }

    #[test]
    fn construction_round_trips_without_copy() {
        let a = ArrayD::<f32>::zeros(IxDyn(&[2, 3]));
        let p = a.as_ptr();
        let t = Tensor::from_array(a);
        assert_eq!(t.view().as_ptr(), p);
        assert_eq!(t.into_array().as_ptr(), p);
        assert!(matches!(
            Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3]),
            Err(TensorError::DataLength { .. })
        ));
        let mut r = Rng::seed(3);
        let u = Tensor::<f64>::uniform(&[100], -1.0, 1.0, &mut r);
        assert!(u.to_vec().iter().all(|x| (-1.0..1.0).contains(x)));
        let n1 = Tensor::<f32>::normal(&[4], 0.0, 1.0, &mut Rng::seed(5));
        let n2 = Tensor::<f32>::normal(&[4], 0.0, 1.0, &mut Rng::seed(5));
        assert_eq!(n1, n2);
    }

    #[test]
    fn elementwise_and_broadcasting() {
        let a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let col = t(&[10.0, 20.0], &[2, 1]);
        assert_eq!((&a + &col).to_vec(), vec![11.0, 12.0, 23.0, 24.0]);
        assert_eq!((&a * &col).to_vec(), vec![10.0, 20.0, 60.0, 80.0]);
        assert_eq!((&a - &a).sum(), 0.0);
        assert_eq!((&a / &a).to_vec(), vec![1.0; 4]);
        assert_eq!((-&a).sum(), -10.0);
        let bad = t(&[1.0, 2.0, 3.0], &[3]);
        let msg = a.add(&bad).unwrap_err().to_string();
        assert!(msg.contains("[2, 2]") && msg.contains("[3]"), "{msg}");
        assert!((a.exp().log().sum() - 10.0).abs() < 1e-12);
        assert_eq!(a.powf(2.0).to_vec(), vec![1.0, 4.0, 9.0, 16.0]);
        assert_eq!(
            a.sqrt().mul(&a.sqrt()).unwrap().to_vec().iter().map(|x| x.round()).collect::<Vec<_>>(),
            vec![1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(t(&[-1.0, 2.0], &[2]).relu().to_vec(), vec![0.0, 2.0]);
        assert_eq!(t(&[-1.0, 2.0], &[2]).abs().to_vec(), vec![1.0, 2.0]);
        assert!((t(&[0.0], &[1]).sigmoid().to_vec()[0] - 0.5).abs() < 1e-15);
        assert!(sigmoid(-1000.0f64) == 0.0 && sigmoid(1000.0f64) == 1.0);
        assert!((t(&[0.5], &[1]).erf().to_vec()[0] - 0.5204998778130465).abs() < 1e-15);
        assert!((t(&[0.5], &[1]).tanh().to_vec()[0] - 0.5f64.tanh()).abs() < 1e-15);
    }

    #[test]
    #[should_panic(expected = "[2, 2] and [3]")]
    fn operators_panic_with_both_shapes() {
        let _ = &t(&[1.0; 4], &[2, 2]) + &t(&[1.0; 3], &[3]);
    }

    #[test]
    fn reductions() {
        let a = t(&[1.0, 5.0, 3.0, 4.0, 2.0, 6.0], &[2, 3]);
        assert_eq!(a.sum(), 21.0);
        assert_eq!(a.mean(), 3.5);
        assert_eq!(a.sum_axes(&[0], false).unwrap().to_vec(), vec![5.0, 7.0, 9.0]);
        assert_eq!(a.sum_axes(&[1], true).unwrap().shape(), &[2, 1]);
        assert_eq!(a.sum_axes(&[1, 0], true).unwrap().shape(), &[1, 1]);
        assert_eq!(a.sum_axes(&[], false).unwrap(), a);
        assert_eq!(a.mean_axes(&[1], false).unwrap().to_vec(), vec![3.0, 4.0]);
        assert_eq!(a.max_axis(1, false).unwrap().to_vec(), vec![5.0, 6.0]);
        assert_eq!(a.max_axis(0, true).unwrap().shape(), &[1, 3]);
        assert_eq!(a.argmax_axis(1, false).unwrap().as_slice().unwrap(), &[1, 2]);
        let v = a.var_axis(1, 1, false).unwrap().to_vec();
        assert!((v[0] - 4.0).abs() < 1e-12 && (v[1] - 4.0).abs() < 1e-12);
        let v0 = a.var_axis(1, 0, true).unwrap();
        assert_eq!(v0.shape(), &[2, 1]);
        assert!((v0.to_vec()[0] - 8.0 / 3.0).abs() < 1e-12);
        assert!(matches!(a.sum_axes(&[2], false), Err(TensorError::AxisOutOfRange { .. })));
        let e = Tensor::<f64>::zeros(&[2, 0]);
        assert!(matches!(e.max_axis(1, false), Err(TensorError::Empty { .. })));
    }

    #[test]
    fn views_do_not_copy() {
        let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let p = a.view().as_ptr();
        let r = a.clone().reshape(&[3, 2]).unwrap();
        assert_eq!(r.shape(), &[3, 2]);
        let tr = a.clone().t().unwrap();
        assert_eq!(tr.shape(), &[3, 2]);
        assert_eq!(tr.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert!(!tr.is_contiguous());
        assert_eq!(a.transpose_view(0, 1).unwrap().as_ptr(), p);
        assert_eq!(a.reshape_view(&[6]).unwrap().as_ptr(), p);
        assert!(matches!(tr.reshape_view(&[6]), Err(TensorError::NotContiguous { .. })));
        assert_eq!(tr.clone().reshape(&[6]).unwrap().to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let c = Tensor::<f64>::zeros(&[2, 3, 4]).permute(&[2, 0, 1]).unwrap();
        assert_eq!(c.shape(), &[4, 2, 3]);
        assert!(Tensor::<f64>::zeros(&[2, 3]).permute(&[0, 0]).is_err());
        assert!(Tensor::<f64>::zeros(&[2]).t().is_err());
        assert!(a.clone().reshape(&[4]).is_err());
    }

    #[test]
    fn joining_and_gathering() {
        let a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let b = t(&[5.0, 6.0], &[1, 2]);
        let c = Tensor::concat(&[&a, &b], 0).unwrap();
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(c.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let msg = Tensor::concat(&[&a, &b], 1).unwrap_err().to_string();
        assert!(msg.contains("[2, 2]") && msg.contains("[1, 2]"), "{msg}");
        let s = Tensor::stack(&[&a, &a], 1).unwrap();
        assert_eq!(s.shape(), &[2, 2, 2]);
        assert!(Tensor::stack(&[&a, &b], 0).is_err());
        assert!(Tensor::<f64>::concat(&[], 0).is_err());
        let g = c.gather_rows(&[2, 0, 2]).unwrap();
        assert_eq!(g.to_vec(), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
        assert!(matches!(c.gather_rows(&[3]), Err(TensorError::IndexOutOfRange { index: 3, .. })));
    }

    #[test]
    fn matmul_of_transposed_tensor() {
        let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let g = a.matmul(&a.clone().t().unwrap()).unwrap();
        assert_eq!(g.to_vec(), vec![14.0, 32.0, 32.0, 77.0]);
        let msg = a.matmul(&a).unwrap_err().to_string();
        assert!(msg.contains("[2, 3] and [2, 3]"), "{msg}");
    }
}
