//! A buffer saved for backward that goes back to the pool when the graph is released.

use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::{pool, Element};
use std::ops::Deref;

/// An array owned by a backward closure; returned to [`pool`] on drop.
pub(crate) struct Saved<T: Element>(Option<ArrayD<T>>);

impl<T: Element> Saved<T> {
    pub(crate) fn new(a: ArrayD<T>) -> Self {
        Saved(Some(a))
    }
}

impl<T: Element> Deref for Saved<T> {
    type Target = ArrayD<T>;
    fn deref(&self) -> &ArrayD<T> {
        self.0.as_ref().expect("present until drop")
    }
}

impl<T: Element> Drop for Saved<T> {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            pool::give(a);
        }
    }
}
