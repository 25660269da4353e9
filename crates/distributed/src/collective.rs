//! The collective operations of a group of processes, as the trainer calls them.

use crate::DistributedError;

/// The group operations data-parallel training needs, over `size()` processes numbered
/// `0..size()`. Every process calls the same operations in the same order with buffers of
/// the same length (the trainer guarantees it: the configs and data are checked equal at
/// start). `what` names the operation in errors and in the message of a timed-out collective
/// (`all-reduce of gradient bucket 1 at step 20`).
///
/// A group of one process is the identity everywhere; the trainer does not even call it then,
/// so a run without a group is bit-for-bit the run of a group of one.
pub trait Collective {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;

    /// The number of processes.
    fn size(&self) -> usize;

    /// Replaces `buf` on every rank by rank 0's `buf`.
    fn broadcast_f32(&self, buf: &mut [f32], what: &str) -> Result<(), DistributedError>;

    /// Replaces `buf` on every rank by the element-wise sum over ranks.
    fn all_reduce_sum_f32(&self, buf: &mut [f32], what: &str) -> Result<(), DistributedError>;

    /// The element-wise sum over ranks of the `scratch.len()` values that `fill` writes,
    /// handed to `take(offset, sums)` in pieces that cover `0..scratch.len()` once, in any
    /// order: the all-reduce of a buffer the caller never holds whole (a gradient bucket
    /// gathered from its tensors and scattered back into them). A group that reduces in memory
    /// of its own (MPI's shared-memory window) fills and reads that memory directly; by
    /// default `scratch` is filled, [`all_reduce_sum_f32`](Self::all_reduce_sum_f32)-ed and
    /// taken whole.
    fn all_reduce_sum_f32_with(
        &self,
        scratch: &mut [f32],
        what: &str,
        fill: &mut dyn FnMut(&mut [f32]),
        take: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<(), DistributedError> {
        through_scratch(self, scratch, what, fill, take)
    }

    /// Replaces `buf` on every rank by the element-wise sum over ranks.
    fn all_reduce_sum_f64(&self, buf: &mut [f64], what: &str) -> Result<(), DistributedError>;

    /// Every rank's `value`, in rank order, on every rank.
    fn all_gather_u64(&self, value: u64, what: &str) -> Result<Vec<u64>, DistributedError>;

    /// Ends every process of the group with `code` after printing `message` (one rank failed
    /// alone, so the others must not wait for it forever).
    fn abort(&self, code: i32, message: &str) -> !;
}

/// [`Collective::all_reduce_sum_f32_with`] through `scratch`: filled, all-reduced, taken whole.
pub(crate) fn through_scratch<C: Collective + ?Sized>(
    group: &C,
    scratch: &mut [f32],
    what: &str,
    fill: &mut dyn FnMut(&mut [f32]),
    take: &mut dyn FnMut(usize, &[f32]),
) -> Result<(), DistributedError> {
    fill(scratch);
    group.all_reduce_sum_f32(scratch, what)?;
    take(0, scratch);
    Ok(())
}
