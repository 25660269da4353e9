//! A per-thread pool of array buffers, so that a training step repeated in a loop reuses the
//! buffers of the previous step instead of asking the allocator (and the kernel, for large
//! blocks) for fresh memory each time.
//!
//! The autograd engine takes its forward outputs and gradients from here and gives them back
//! when a graph is released; any code may do the same. Buffers are bucketed by their exact
//! length, so a loop whose shapes repeat hits the pool every time after the first step.
//!
//! ```
//! use nabla_tensor::pool;
//! let a = pool::zeros::<f32>(&[64, 32]);
//! assert!(a.iter().all(|&x| x == 0.0));
//! pool::give(a);                              // back into the pool
//! let b = pool::take::<f32>(&[32, 64]);       // same length: the buffer is reused
//! assert_eq!(b.shape(), &[32, 64]);
//! ```
//!
//! Every non-empty buffer is pooled, the small ones too (a loss value, a bias gradient, a
//! batch norm's per-channel statistics through [`Scratch`]), so that a steady-state training
//! step allocates nothing. The pool holds at most [`PoolLimits::max_elements`] elements in all and
//! [`PoolLimits::max_per_size`] buffers of one length; beyond that, returned buffers are freed.

use crate::Element;
use ndarray::{ArrayD, IxDyn};
use std::collections::HashMap;

/// Buffers shorter than this many elements bypass the pool (only empty ones, which own no
/// allocation).
pub const MIN_POOLED_LEN: usize = 1;

/// Bounds on what a pool keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolLimits {
    /// Total elements kept over all lengths (default 256 Mi elements: 1 GiB of `f32`).
    ///
    /// The pool keeps only buffers the thread used and gave back. A loop whose buffers fit
    /// reuses them every step, instead of returning large blocks to the kernel and faulting
    /// them in, zeroed, again on the next step. Buffers are matched by exact length, so a step
    /// keeps about one buffer per activation: the MNIST CNN's inference at batch 1000 keeps
    /// about 130 Mi elements, which the earlier default of 64 Mi could not hold (it then ran at
    /// half the speed, the rest going to page faults). [`set_limits`] lowers the bound where
    /// memory matters more than speed.
    pub max_elements: usize,
    /// Buffers kept per exact length (default 64).
    pub max_per_size: usize,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits { max_elements: 256 << 20, max_per_size: 64 }
    }
}

/// Counters of a pool, for tests and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers currently held.
    pub buffers: usize,
    /// Elements currently held.
    pub elements: usize,
    /// Requests served from the pool.
    pub hits: u64,
    /// Requests of a poolable length that had to allocate.
    pub misses: u64,
}

/// The pool of one element type on one thread. Use the free functions of this module.
#[derive(Debug)]
pub struct BufferPool<T> {
    buckets: HashMap<usize, Vec<Vec<T>>>,
    limits: PoolLimits,
    stats: PoolStats,
}

impl<T> Default for BufferPool<T> {
    fn default() -> Self {
        BufferPool { buckets: HashMap::new(), limits: PoolLimits::default(), stats: PoolStats::default() }
    }
}

impl<T> BufferPool<T> {
    fn take_vec(&mut self, len: usize) -> Option<Vec<T>> {
        if len < MIN_POOLED_LEN {
            return None;
        }
        match self.buckets.get_mut(&len).and_then(Vec::pop) {
            Some(v) => {
                self.stats.hits += 1;
                self.stats.buffers -= 1;
                self.stats.elements -= len;
                Some(v)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    fn give_vec(&mut self, v: Vec<T>) {
        let len = v.len();
        if len < MIN_POOLED_LEN || self.stats.elements + len > self.limits.max_elements {
            return;
        }
        let bucket = self.buckets.entry(len).or_default();
        if bucket.len() >= self.limits.max_per_size {
            return;
        }
        bucket.push(v);
        self.stats.buffers += 1;
        self.stats.elements += len;
    }
}

/// An array of the given shape with **unspecified** (but initialized) contents: either a
/// recycled buffer holding old values, or fresh zeros. Use it only when every element is
/// written before it is read.
pub fn take<T: Element>(shape: &[usize]) -> ArrayD<T> {
    let len: usize = shape.iter().product();
    let v = T::with_pool(|p| p.take_vec(len)).unwrap_or_else(|| vec![T::zero(); len]);
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("pool: length matches shape")
}

/// An array of the given shape filled with `value`, from the pool when possible.
pub fn full<T: Element>(shape: &[usize], value: T) -> ArrayD<T> {
    let len: usize = shape.iter().product();
    let v = match T::with_pool(|p| p.take_vec(len)) {
        Some(mut v) => {
            v.fill(value);
            v
        }
        None => vec![value; len],
    };
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("pool: length matches shape")
}

/// An array of zeros of the given shape, from the pool when possible.
pub fn zeros<T: Element>(shape: &[usize]) -> ArrayD<T> {
    full(shape, T::zero())
}

/// A copy of `src` (any layout) in standard layout, in a pooled buffer.
pub fn copy_of<T: Element>(src: &ndarray::ArrayViewD<'_, T>) -> ArrayD<T> {
    let mut out = take(src.shape());
    out.assign(src);
    out
}

/// Gives an array's buffer back to the pool (or frees it when the pool is full or the
/// buffer is small).
pub fn give<T: Element>(a: ArrayD<T>) {
    let (v, _) = a.into_raw_vec_and_offset();
    T::with_pool(|p| p.give_vec(v));
}

/// The counters of this thread's pool of `T`.
pub fn stats<T: Element>() -> PoolStats {
    T::with_pool(|p| p.stats)
}

/// Frees every buffer held by this thread's pool of `T` (the counters of hits and misses stay).
pub fn clear<T: Element>() {
    T::with_pool(|p| {
        p.buckets.clear();
        p.stats.buffers = 0;
        p.stats.elements = 0;
    });
}

/// Sets the bounds of this thread's pool of `T`; buffers above the new bounds are freed.
pub fn set_limits<T: Element>(limits: PoolLimits) {
    T::with_pool(|p| {
        p.limits = limits;
        if p.stats.elements > limits.max_elements {
            p.buckets.clear();
            p.stats.buffers = 0;
            p.stats.elements = 0;
        }
        for bucket in p.buckets.values_mut() {
            while bucket.len() > limits.max_per_size {
                let v = bucket.pop().expect("non-empty");
                p.stats.buffers -= 1;
                p.stats.elements -= v.len();
            }
        }
    });
}

/// A plain vector of `len` elements from this thread's pool, given back when dropped: the
/// per-step scratch of an op (per-channel sums, coefficients) without an allocation per step.
///
/// ```
/// use nabla_tensor::pool::Scratch;
/// let mut sums = Scratch::<f64>::zeros(4);
/// sums[1] += 2.5;
/// let scaled: Scratch<f64> = sums.iter().map(|s| s * 2.0).collect();
/// assert_eq!(&scaled[..], &[0.0, 5.0, 0.0, 0.0]);
/// ```
#[derive(Debug)]
pub struct Scratch<T: Element>(Vec<T>);

impl<T: Element> Scratch<T> {
    /// `len` copies of `value`.
    pub fn full(len: usize, value: T) -> Scratch<T> {
        match T::with_pool(|p| p.take_vec(len)) {
            Some(mut v) => {
                v.fill(value);
                Scratch(v)
            }
            None => Scratch(vec![value; len]),
        }
    }

    /// `len` zeros.
    pub fn zeros(len: usize) -> Scratch<T> {
        Scratch::full(len, T::zero())
    }
}

impl<T: Element> std::ops::Deref for Scratch<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Element> std::ops::DerefMut for Scratch<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<'a, T: Element> IntoIterator for &'a Scratch<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a, T: Element> IntoIterator for &'a mut Scratch<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut()
    }
}

impl<T: Element> Clone for Scratch<T> {
    fn clone(&self) -> Self {
        self.iter().copied().collect()
    }
}

impl<T: Element> FromIterator<T> for Scratch<T> {
    /// From the pool when the iterator knows its exact length (every `map` of a slice does).
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut iter = iter.into_iter();
        match iter.size_hint() {
            (low, Some(high)) if low == high => {
                let mut out = Scratch::zeros(low);
                let mut written = 0;
                for slot in out.0.iter_mut() {
                    let Some(v) = iter.next() else { break };
                    *slot = v;
                    written += 1;
                }
                // An iterator whose hint was wrong still gives exactly its items.
                out.0.truncate(written);
                out.0.extend(iter);
                out
            }
            _ => Scratch(iter.collect()),
        }
    }
}

impl<T: Element> Drop for Scratch<T> {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        T::with_pool(|p| p.give_vec(v));
    }
}

thread_local! {
    static INDEX_POOL: std::cell::RefCell<BufferPool<u32>> = std::cell::RefCell::new(BufferPool::default());
}

/// A vector of `u32` indices from this thread's index pool, given back when dropped: what an
/// op keeps between its forward and backward passes besides values (a max pooling's argmax
/// per output), so that it costs no allocation per step. The index pool has the default
/// [`PoolLimits`].
///
/// ```
/// use nabla_tensor::pool::Indices;
/// let mut argmax = Indices::filled(3, u32::MAX);
/// argmax[1] = 7;
/// assert_eq!(&argmax[..], &[u32::MAX, 7, u32::MAX]);
/// ```
#[derive(Debug)]
pub struct Indices(Vec<u32>);

impl Indices {
    /// `len` copies of `value`.
    pub fn filled(len: usize, value: u32) -> Indices {
        match crate::element::with_local_pool(&INDEX_POOL, |p| p.take_vec(len)) {
            Some(mut v) => {
                v.fill(value);
                Indices(v)
            }
            None => Indices(vec![value; len]),
        }
    }
}

impl std::ops::Deref for Indices {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        &self.0
    }
}

impl std::ops::DerefMut for Indices {
    fn deref_mut(&mut self) -> &mut [u32] {
        &mut self.0
    }
}

impl Drop for Indices {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        crate::element::with_local_pool(&INDEX_POOL, |p| p.give_vec(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_by_length() {
        clear::<f64>();
        let before = stats::<f64>();
        let a = full::<f64>(&[40, 10], 3.0);
        let ptr = a.as_ptr();
        give(a);
        assert_eq!(stats::<f64>().buffers, 1);
        let b = zeros::<f64>(&[10, 40]);
        assert_eq!(b.as_ptr(), ptr);
        assert!(b.iter().all(|&x| x == 0.0));
        let after = stats::<f64>();
        assert_eq!(after.hits, before.hits + 1);
        assert_eq!(after.buffers, 0);
    }

    #[test]
    fn small_buffers_are_pooled_empty_ones_bypass_and_limits_hold() {
        clear::<f32>();
        give(zeros::<f32>(&[3]));
        give(zeros::<f32>(&[0]));
        assert_eq!(stats::<f32>().buffers, 1);
        clear::<f32>();
        let first = Scratch::<f32>::zeros(5);
        let ptr = first.as_ptr();
        drop(first);
        assert_eq!(Scratch::<f32>::full(5, 1.0).as_ptr(), ptr, "a dropped scratch is reused");
        let first = Indices::filled(6, 0);
        let ptr = first.as_ptr();
        drop(first);
        let again = Indices::filled(6, 9);
        assert_eq!((again.as_ptr(), &again[..]), (ptr, &[9u32; 6][..]), "dropped indices are reused");
        clear::<f32>();
        set_limits::<f32>(PoolLimits { max_elements: 1 << 20, max_per_size: 2 });
        let arrays: Vec<_> = (0..5).map(|_| zeros::<f32>(&[1000])).collect();
        arrays.into_iter().for_each(give);
        assert_eq!(stats::<f32>().buffers, 2);
        set_limits::<f32>(PoolLimits::default());
    }
}
