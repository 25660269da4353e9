//! Explicit, seedable randomness. There is no hidden global generator in nabla: every random
//! draw takes an [`Rng`].

use crate::Element;
use ndarray::{ArrayD, ArrayViewMutD, IxDyn};
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A seedable random generator (ChaCha8: portable, so a seed gives the same stream on every
/// platform and word size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    inner: ChaCha8Rng,
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn seed(seed: u64) -> Rng {
        Rng { inner: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// An independent generator derived from this one (for a layer, a loader, a worker);
    /// advances `self`.
    pub fn fork(&mut self) -> Rng {
        Rng { inner: ChaCha8Rng::seed_from_u64(self.inner.random()) }
    }

    /// The full state, for checkpoints: the 32-byte seed, the stream and the word position.
    pub fn state(&self) -> RngState {
        RngState {
            seed: self.inner.get_seed(),
            stream: self.inner.get_stream(),
            word_pos: self.inner.get_word_pos(),
        }
    }

    /// Restores a generator from [`Rng::state`]; it continues exactly where the saved one was.
    pub fn from_state(state: &RngState) -> Rng {
        let mut inner = ChaCha8Rng::from_seed(state.seed);
        inner.set_stream(state.stream);
        inner.set_word_pos(state.word_pos);
        Rng { inner }
    }

    /// A uniform draw in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        self.inner.random::<f64>()
    }

    /// A uniform draw in `[low, high)`.
    pub fn uniform<T: Element>(&mut self, low: T, high: T) -> T {
        let u = self.next_f64();
        T::from_f64(low.to_f64() + (high.to_f64() - low.to_f64()) * u)
    }

    /// A normal draw with the given mean and standard deviation.
    pub fn normal<T: Element>(&mut self, mean: T, std: T) -> T {
        let z: f64 = StandardNormal.sample(&mut self.inner);
        T::from_f64(mean.to_f64() + std.to_f64() * z)
    }

    /// A uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        self.inner.random_range(0..n)
    }

    /// A raw 64-bit draw.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.random()
    }

    /// Fills `out` with raw 32-bit draws in one bulk pass over the generator's output (much
    /// faster per value than repeated [`Rng::next_u64`] calls; used for dropout masks).
    pub fn fill_u32(&mut self, out: &mut [u32]) {
        self.inner.fill(out);
    }

    /// Shuffles a slice in place (Fisher-Yates).
    pub fn shuffle<X>(&mut self, items: &mut [X]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// Fills `out` with uniform draws in `[low, high)`.
    pub fn fill_uniform<T: Element>(&mut self, mut out: ArrayViewMutD<'_, T>, low: T, high: T) {
        out.iter_mut().for_each(|x| *x = self.uniform(low, high));
    }

    /// Fills `out` with normal draws.
    pub fn fill_normal<T: Element>(&mut self, mut out: ArrayViewMutD<'_, T>, mean: T, std: T) {
        out.iter_mut().for_each(|x| *x = self.normal(mean, std));
    }

    /// A new array of uniform draws in `[low, high)`.
    pub fn uniform_array<T: Element>(&mut self, shape: &[usize], low: T, high: T) -> ArrayD<T> {
        let mut a = ArrayD::zeros(IxDyn(shape));
        self.fill_uniform(a.view_mut(), low, high);
        a
    }

    /// A new array of normal draws.
    pub fn normal_array<T: Element>(&mut self, shape: &[usize], mean: T, std: T) -> ArrayD<T> {
        let mut a = ArrayD::zeros(IxDyn(shape));
        self.fill_normal(a.view_mut(), mean, std);
        a
    }
}

/// The saved state of an [`Rng`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngState {
    /// The 32-byte ChaCha seed.
    pub seed: [u8; 32],
    /// The stream number.
    pub stream: u64,
    /// The position in the stream, in 32-bit words.
    pub word_pos: u128,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_u32_draws_are_seeded_resumable_and_uniform() {
        let (mut a, mut b) = (Rng::seed(11), Rng::seed(11));
        let mut x = vec![0u32; 1000];
        let mut y = vec![0u32; 1000];
        a.fill_u32(&mut x[..300]);
        let saved = a.state();
        a.fill_u32(&mut x[300..]);
        b.fill_u32(&mut y);
        assert_eq!(x, y, "block boundaries do not change the stream");
        let mut c = Rng::from_state(&saved);
        let mut z = vec![0u32; 700];
        c.fill_u32(&mut z);
        assert_eq!(&z[..], &x[300..]);
        let high = x.iter().filter(|&&v| v >= 1 << 31).count();
        assert!((400..600).contains(&high), "{high} of 1000 in the upper half");
    }

    #[test]
    fn same_seed_same_stream_and_state_round_trips() {
        let mut a = Rng::seed(7);
        let mut b = Rng::seed(7);
        let xs: Vec<f64> = (0..10).map(|_| a.next_f64()).collect();
        let ys: Vec<f64> = (0..10).map(|_| b.next_f64()).collect();
        assert_eq!(xs, ys);
        let saved = a.state();
        let next: Vec<f32> = (0..5).map(|_| a.normal(0.0f32, 1.0)).collect();
        let mut restored = Rng::from_state(&saved);
        let again: Vec<f32> = (0..5).map(|_| restored.normal(0.0f32, 1.0)).collect();
        assert_eq!(next, again);
        assert_ne!(Rng::seed(8).next_f64(), Rng::seed(7).next_f64());
    }

    #[test]
    fn uniform_stays_in_bounds() {
        let mut r = Rng::seed(1);
        for _ in 0..1000 {
            let x = r.uniform(-0.5f32, 0.25);
            assert!((-0.5..0.25).contains(&x) || x == 0.25, "{x}");
        }
    }
}
