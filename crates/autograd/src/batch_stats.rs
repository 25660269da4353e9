//! The batch-statistics reducer: the hook through which training-mode batch normalization
//! (every layer built on [`batch_norm_train`](crate::batch_norm_train), so BatchNorm1d and
//! BatchNorm2d alike) makes its statistics global over several processes, as PyTorch's
//! `SyncBatchNorm` does.
//!
//! Without a reducer (the default) the statistics are the batch's own. While a
//! [`BatchStatsGuard`] is alive on the current thread, the op sums over every process, with
//! the reducer's all-reduce, (1) the per-channel sums and the value count (giving the global
//! mean), (2) the per-channel sums of squared deviations from that mean (the global biased
//! variance, two passes as in one process), and in the backward (3) the per-channel sums of
//! the upstream gradient and of `g * xhat`, so that the input gradient is the global one
//! (Ioffe & Szegedy 2015, synchronized as in PyTorch's `torch.nn.SyncBatchNorm`). The
//! gradients of gamma and beta stay local sums: the trainer averages them over processes
//! with the other gradients.

use std::cell::RefCell;
use std::rc::Rc;

/// Sums `f64` vectors element-wise over every process of a group, in place, on every
/// process (an all-reduce); every process calls it in the same order with the same length.
///
/// The batch-norm backward cannot return an error, so an implementation that fails must
/// end the whole job (as MPI's default error handler does) rather than return wrong sums.
pub trait BatchStatsReducer {
    /// Replaces `values` by their element-wise sum over all processes.
    fn all_reduce_sum(&self, values: &mut [f64]);
}

thread_local! {
    static REDUCER: RefCell<Option<Rc<dyn BatchStatsReducer>>> = const { RefCell::new(None) };
}

/// Makes training-mode batch normalization on this thread use `reducer` until dropped (the
/// previous reducer, if any, is restored then). A batch-norm op keeps the reducer that was
/// installed at its forward for its backward, so the backward reduces too.
pub struct BatchStatsGuard {
    previous: Option<Rc<dyn BatchStatsReducer>>,
}

impl BatchStatsGuard {
    /// Installs `reducer` on the current thread.
    pub fn new(reducer: Rc<dyn BatchStatsReducer>) -> BatchStatsGuard {
        let previous = REDUCER.with(|r| r.borrow_mut().replace(reducer));
        BatchStatsGuard { previous }
    }
}

impl Drop for BatchStatsGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        REDUCER.with(|r| *r.borrow_mut() = previous);
    }
}

/// The reducer installed on this thread, if any.
pub(crate) fn current() -> Option<Rc<dyn BatchStatsReducer>> {
    REDUCER.with(|r| r.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Double;
    impl BatchStatsReducer for Double {
        fn all_reduce_sum(&self, values: &mut [f64]) {
            values.iter_mut().for_each(|v| *v *= 2.0);
        }
    }

    #[test]
    fn the_guard_installs_and_restores() {
        assert!(current().is_none());
        {
            let _g = BatchStatsGuard::new(Rc::new(Double));
            let mut v = [1.0, 2.0];
            current().expect("installed").all_reduce_sum(&mut v);
            assert_eq!(v, [2.0, 4.0]);
        }
        assert!(current().is_none());
    }

    /// Two processes holding the same batch: the global statistics equal the local ones, the
    /// unbiased variance divides by `2M - 1`, and the input gradient is unchanged.
    #[test]
    fn identical_processes_give_the_local_result() {
        use crate::{batch_norm_train, Var};
        use nabla_tensor::Rng;
        let mut rng = Rng::seed(3);
        let xa = rng.normal_array::<f64>(&[6, 3], 0.5, 2.0);
        let g = rng.normal_array::<f64>(&[6, 3], 0.0, 1.0);
        let run = |reduce: bool| {
            let _guard = reduce.then(|| BatchStatsGuard::new(Rc::new(Double)));
            let x = Var::param(xa.clone());
            let out = batch_norm_train(&x, None, None, 1e-5).expect("valid");
            let y = out.output.value().clone();
            out.output.backward_with(g.clone()).expect("backward");
            let gx = x.grad().expect("grad").clone();
            (y, out.var_unbiased, gx)
        };
        let (y1, v1, g1) = run(false);
        let (y2, v2, g2) = run(true);
        for (a, b) in y1.iter().zip(&y2).chain(g1.iter().zip(&g2)) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        for (a, b) in v1.iter().zip(&v2) {
            // local: ss / 5, global: 2 ss / 11
            assert!((a * 5.0 * 2.0 / 11.0 - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}
