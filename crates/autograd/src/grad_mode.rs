//! Switching graph recording off: [`no_grad`] and [`NoGradGuard`].

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops record a graph on this thread (true unless inside [`no_grad`] or while a
/// [`NoGradGuard`] lives).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Sets whether ops record a graph on this thread; returns the previous setting.
pub fn set_grad_enabled(enabled: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(enabled))
}

/// Runs `f` without recording a graph (for evaluation and for parameter updates): every
/// op result inside is a constant. Nests, and restores the previous mode even if `f` panics.
///
/// ```
/// use nabla_autograd::{no_grad, Var};
/// use nabla_tensor::ndarray::arr1;
/// let w = Var::<f32>::leaf(arr1(&[1.0, 2.0]).into_dyn(), true);
/// let y = no_grad(|| w.mul_scalar(3.0));
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Disables graph recording until dropped (then restores the previous mode).
#[derive(Debug)]
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Disables graph recording on this thread.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        NoGradGuard { previous: set_grad_enabled(false) }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.previous);
    }
}
