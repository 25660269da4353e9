//! `SharedWindow`: the `f32` all-reduce of ranks that all run on one machine, through an MPI-3
//! shared-memory window (`MPI_Win_allocate_shared`, MPI 4.1 § 12.2.3) instead of MPI's
//! message path.
//!
//! Each rank owns one segment of the window, which every rank of the machine can read. One
//! all-reduce of `L` values over `N` ranks is a reduce-scatter and an all-gather in that memory:
//!
//! 1. each rank copies its buffer into its segment (or gathers it there: a gradient bucket is
//!    written straight from its tensors);
//! 2. rank `r` sums chunk `r` (values `r L / N .. (r + 1) L / N`) of every segment, in rank
//!    order, into chunk `r` of its own segment;
//! 3. each rank copies chunk `s` of segment `s`, for every `s`, into its buffer (or scatters
//!    it into the bucket's tensors).
//!
//! The three steps are separated by `MPI_Win_sync`, `MPI_Barrier`, `MPI_Win_sync` (the
//! unified memory model's pattern for a passive-target epoch, held for the window's life),
//! and a third one ends the call, so no rank overwrites its segment while another still
//! reads it. Each rank reads `L` values and writes `2 L + L / N` besides its own buffer, with no
//! system call; Open MPI's `vader` path for the same reduction copies through
//! `process_vm_readv`. The sum of each value is taken in rank order, so it is the same on
//! every rank and in every run.
//!
//! The window grows (freed and allocated again, both collective) when a call needs more
//! than it holds; every rank calls with the same length (the [`Collective`](crate::Collective)
//! contract), and each writes its length into its segment's header, so a rank called with
//! another length is reported by all of them rather than summed.

use crate::DistributedError;
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::{Communicator, SimpleCommunicator};
use std::cell::RefCell;
use std::os::raw::{c_int, c_void};

/// Floats before each segment's values: its length (a `u64`), padded to 64 bytes so the
/// values start on a cache line of their own.
const HEADER: usize = 16;

/// Values summed per pass of the reduction: a stack block the compiler keeps vectorized.
const BLOCK: usize = 1024;

/// The ranks of one machine and their shared window.
pub(crate) struct SharedWindow {
    window: RefCell<Option<Window>>,
    rank: usize,
    size: usize,
    // Declared last: the window is freed before its communicator.
    node: SimpleCommunicator,
}

/// One allocation of the window: every rank's segment, as this rank sees it.
struct Window {
    win: ffi::MPI_Win,
    segments: Vec<*mut f32>,
    /// Values per segment (after the header).
    capacity: usize,
}

impl SharedWindow {
    /// The machine-local group of `world`, when every rank of `world` is on this machine and
    /// there are at least two; `None` otherwise (the caller keeps MPI's all-reduce). A
    /// collective call: every rank of `world` makes it.
    pub(crate) fn of_one_machine(world: &SimpleCommunicator) -> Option<SharedWindow> {
        let node = world.split_shared(world.rank());
        let (rank, size) = (usize::try_from(node.rank()).ok()?, usize::try_from(node.size()).ok()?);
        // The same on every rank: either all of them share one machine or none has a group
        // as large as the world.
        (size == usize::try_from(world.size()).ok()? && size > 1).then(|| SharedWindow {
            window: RefCell::new(None),
            rank,
            size,
            node,
        })
    }

    /// `buf` replaced on every rank by the sum over ranks (see the module docs).
    ///
    /// # Errors
    /// [`DistributedError::Collective`] when the ranks were called with different lengths
    /// (every rank returns it).
    pub(crate) fn all_reduce_sum_f32(&self, buf: &mut [f32], what: &str) -> Result<(), DistributedError> {
        let len = buf.len();
        let buf = RefCell::new(buf);
        self.all_reduce_sum_f32_with(
            len,
            what,
            |own| own.copy_from_slice(&buf.borrow()),
            |offset, sums| buf.borrow_mut()[offset..offset + sums.len()].copy_from_slice(sums),
        )
    }

    /// The sum over ranks of the `len` values `fill` writes into this rank's segment, handed
    /// to `take(offset, sums)` chunk by chunk straight from the segments (the contract of
    /// [`Collective::all_reduce_sum_f32_with`](crate::Collective::all_reduce_sum_f32_with)).
    ///
    /// # Errors
    /// As [`all_reduce_sum_f32`](Self::all_reduce_sum_f32).
    pub(crate) fn all_reduce_sum_f32_with(
        &self,
        len: usize,
        what: &str,
        fill: impl FnOnce(&mut [f32]),
        mut take: impl FnMut(usize, &[f32]),
    ) -> Result<(), DistributedError> {
        let mut slot = self.window.borrow_mut();
        if slot.as_ref().is_none_or(|w| w.capacity < len) {
            if let Some(old) = slot.take() {
                old.free();
            }
            *slot = Some(Window::allocate(&self.node, self.size, len));
        }
        let w = slot.as_ref().expect("allocated above");
        let (me, n) = (self.rank, self.size);
        let chunk = |r: usize| (r * len / n)..((r + 1) * len / n);
        // SAFETY (whole block): every segment holds HEADER + capacity >= HEADER + len floats
        // and stays mapped while `w` lives. Between two synchronizations each rank writes only
        // its own segment's header and values (step 1), or chunk `me` of its own segment (step
        // 2), and reads only what no rank writes in that phase.
        unsafe {
            let own = w.segments[me];
            own.cast::<u64>().write(len as u64);
            fill(std::slice::from_raw_parts_mut(own.add(HEADER), len));
            w.synchronize(&self.node);

            let length_of = |segment: &*mut f32| segment.cast::<u64>().read();
            if w.segments.iter().any(|s| length_of(s) != len as u64) {
                let ranks = w
                    .segments
                    .iter()
                    .enumerate()
                    .map(|(r, s)| format!("rank {r}: {}", length_of(s)))
                    .collect::<Vec<_>>();
                // Every rank sees the same headers and returns the same error; the barrier
                // keeps the segments stable until all have read them.
                w.synchronize(&self.node);
                return Err(DistributedError::Collective {
                    rank: self.rank,
                    operation: what.to_string(),
                    message: format!("the ranks were called with different lengths ({})", ranks.join(", ")),
                });
            }

            let mine = chunk(me);
            let mut block = [0.0f32; BLOCK];
            let mut start = mine.start;
            while start < mine.end {
                let m = BLOCK.min(mine.end - start);
                let acc = &mut block[..m];
                acc.copy_from_slice(std::slice::from_raw_parts(w.segments[0].add(HEADER + start), m));
                for &segment in &w.segments[1..] {
                    let values = std::slice::from_raw_parts(segment.add(HEADER + start), m);
                    acc.iter_mut().zip(values).for_each(|(a, &v)| *a += v);
                }
                std::ptr::copy_nonoverlapping(acc.as_ptr(), own.add(HEADER + start), m);
                start += m;
            }
            w.synchronize(&self.node);

            for (s, &segment) in w.segments.iter().enumerate() {
                let part = chunk(s);
                take(part.start, std::slice::from_raw_parts(segment.add(HEADER + part.start), part.len()));
            }
            w.synchronize(&self.node);
        }
        Ok(())
    }
}

impl Window {
    /// A window of `capacity` values per rank on `node` (collective).
    fn allocate(node: &SimpleCommunicator, size: usize, capacity: usize) -> Window {
        let bytes = ((HEADER + capacity) * std::mem::size_of::<f32>()) as ffi::MPI_Aint;
        let mut base: *mut c_void = std::ptr::null_mut();
        // SAFETY: a zeroed handle is only an out-parameter, overwritten by the call.
        let mut win: ffi::MPI_Win = unsafe { std::mem::zeroed() };
        let unit = std::mem::size_of::<f32>() as c_int;
        // SAFETY: `base` and `win` are valid out-parameters; `node` is a live communicator.
        // MPI's default error handler ends the job if the allocation fails.
        unsafe {
            ffi::MPI_Win_allocate_shared(
                bytes,
                unit,
                ffi::RSMPI_INFO_NULL,
                node.as_raw(),
                (&mut base as *mut *mut c_void).cast(),
                &mut win,
            );
            ffi::MPI_Win_lock_all(ffi::MPI_MODE_NOCHECK as c_int, win);
        }
        let segments = (0..size)
            .map(|r| {
                let (mut len, mut disp) = (0 as ffi::MPI_Aint, 0 as c_int);
                let mut ptr: *mut c_void = std::ptr::null_mut();
                // SAFETY: `win` is the shared window just allocated; `r` is a rank of it.
                unsafe {
                    ffi::MPI_Win_shared_query(
                        win,
                        r as c_int,
                        &mut len,
                        &mut disp,
                        (&mut ptr as *mut *mut c_void).cast(),
                    )
                };
                ptr.cast::<f32>()
            })
            .collect();
        Window { win, segments, capacity }
    }

    /// Makes every rank's earlier writes to the window visible to every rank (collective).
    fn synchronize(&self, node: &SimpleCommunicator) {
        // SAFETY: a live window in a passive-target epoch, and its communicator.
        unsafe {
            ffi::MPI_Win_sync(self.win);
            ffi::MPI_Barrier(node.as_raw());
            ffi::MPI_Win_sync(self.win);
        }
    }

    /// Ends the epoch and frees the window (collective).
    fn free(mut self) {
        // SAFETY: the window is live and in the epoch opened by `allocate`; freeing it ends
        // every segment pointer's validity, and `self` (holding them) is consumed.
        unsafe {
            ffi::MPI_Win_unlock_all(self.win);
            ffi::MPI_Win_free(&mut self.win);
        }
    }
}

impl Drop for SharedWindow {
    fn drop(&mut self) {
        if let Some(w) = self.window.get_mut().take() {
            w.free();
        }
    }
}
