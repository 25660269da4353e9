//! nabla's own worker threads: one persistent pool per process that splits a piece of work
//! (the rows or columns of a matrix product, the samples of a convolution) into as many parts
//! as there are threads, runs part 0 on the calling thread and the others on the workers, and
//! returns when all are done.
//!
//! Why not the GEMM library's threads: `matrixmultiply` forks and joins inside every call and
//! reads its thread count once per process, so two threads lost to one on the small products
//! of a training step (issue 15) and the count could not change per call. Here the workers
//! stay alive between calls and wait for the next part by spinning for a short while (a
//! training step's products follow each other within microseconds) before they park, so a
//! hand-off costs well under a microsecond while work keeps coming and nothing while idle.
//!
//! The thread count is [`threads`]: [`set_threads`] sets it for the whole process (the CLI's
//! `--threads`); the default is `NABLA_NUM_THREADS` when set, else the physical cores that
//! the process may run on. With one thread nothing is ever spawned.
//!
//! A call made while the pool is busy — from another thread (tests, ranks run as threads) or
//! from inside a part (nested work) — runs its parts one after another on the calling thread:
//! correct, never a deadlock, and never more threads than cores.
//!
//! ```
//! use nabla_tensor::threads;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! let sum = AtomicUsize::new(0);
//! threads::split(4, |part| {
//!     sum.fetch_add(part + 1, Ordering::Relaxed);
//! });
//! assert_eq!(sum.into_inner(), 1 + 2 + 3 + 4);
//! ```

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long an idle worker spins for the next part before it parks.
const SPIN: Duration = Duration::from_micros(200);

/// The environment variable that sets the default thread count.
pub const THREADS_ENV: &str = "NABLA_NUM_THREADS";

thread_local! {
    /// Whether this thread is running a part of a split: work it starts then has one thread
    /// (its own), so a product inside a part is one kernel call, not parts run in a row.
    static IN_PART: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The thread count the calling code may use: [`set_threads`]'s value, else
/// [`default_threads`]; 1 inside a part of a [`split`].
pub fn threads() -> usize {
    if IN_PART.with(std::cell::Cell::get) {
        return 1;
    }
    match pool().threads.load(Ordering::Relaxed) {
        0 => {
            let n = default_threads();
            pool().threads.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// Sets the thread count of this process (1 = everything on the calling thread; values
/// below 1 count as 1). Workers are spawned when work first needs them and never exit.
pub fn set_threads(n: usize) {
    pool().threads.store(n.max(1), Ordering::Relaxed);
}

/// `NABLA_NUM_THREADS` when it holds a positive integer, else the physical cores this process
/// may use (at least 1).
pub fn default_threads() -> usize {
    let allowed = std::thread::available_parallelism().map_or(1, |n| n.get());
    default_from(std::env::var(THREADS_ENV).ok().as_deref(), num_cpus::get_physical(), allowed)
}

/// [`default_threads`] from the variable's value, the physical core count and the cores this
/// process may run on.
fn default_from(variable: Option<&str>, physical: usize, allowed: usize) -> usize {
    variable
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| physical.clamp(1, allowed.max(1)))
}

/// Runs `work(part)` for every `part` in `0..parts` on the calling thread and the pool's
/// workers, and returns when all have returned.
///
/// `parts` is the caller's choice (usually [`threads`], or fewer when the work is small). Parts
/// are claimed, not assigned: the calling thread starts with part 0 and then takes any part no
/// worker has claimed yet, so a worker that is slow to wake (parked, or its core busy with
/// another process) delays nothing; it finds no part left and goes back to waiting. When the
/// pool is busy (another thread's split, or a split from inside a part) every part runs on the
/// calling thread, in order.
///
/// # Panics
/// When a part panics, after every part has finished, with that part's panic. `parts` above
/// 32 768 panics before any part runs.
pub fn split<F: Fn(usize) + Sync>(parts: usize, work: F) {
    if parts == 1 {
        // Not split: the one part may split work of its own.
        work(0);
        return;
    }
    let threads = threads();
    if parts == 0 || threads == 1 {
        inline(parts, &work);
        return;
    }
    assert!(parts <= MAX_PARTS, "threads::split: {parts} parts, at most {MAX_PARTS}");
    let pool = pool();
    if pool.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
        inline(parts, &work);
        return;
    }
    let _release = ReleaseOnDrop(&pool.busy);
    let workers = pool.workers(parts.min(threads) - 1);
    let job: Job<'_> = &work;
    pool.run(&workers, job, parts);
}

/// Every part on the calling thread, in order, each seeing one thread.
fn inline(parts: usize, work: &impl Fn(usize)) {
    let outer = IN_PART.with(|p| p.replace(true));
    // Restored on unwinding too: a panicking part must not leave the thread marked.
    let _restore = RestoreOnDrop(outer);
    (0..parts).for_each(work);
}

struct RestoreOnDrop(bool);

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        IN_PART.with(|p| p.set(self.0));
    }
}

/// The most parts one split may have. The claim word's part fields are 16 bits, and the
/// next-part counter also takes one failed claim per woken worker, so half the range is kept
/// free for those.
const MAX_PARTS: usize = 1 << 15;

struct ReleaseOnDrop<'a>(&'a AtomicBool);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

struct Worker {
    thread: Thread,
}

/// The workers one split uses (the pool's list stays locked meanwhile).
struct WorkerList<'a> {
    guard: std::sync::MutexGuard<'a, Vec<Worker>>,
    n: usize,
}

impl std::ops::Deref for WorkerList<'_> {
    type Target = [Worker];
    fn deref(&self) -> &[Worker] {
        &self.guard[..self.n]
    }
}

/// The state every thread of a split shares. It lives in a static, not on the caller's
/// stack, so a worker that wakes after its split has returned reads only live memory.
struct Shared {
    /// `generation << 32 | parts << 16 | next part`: one `fetch_add` claims the next part of
    /// the current split, and a claim at or past `parts` claims nothing.
    claim: AtomicU64,
    /// The current split's job: a `*const Job` on the caller's stack, read only by a thread
    /// that has claimed a part (the caller cannot return before that part is finished).
    job: AtomicPtr<()>,
    /// Parts of the current split that have finished.
    finished: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Shared {
    /// Claims and runs parts of the current split until none is left.
    fn work_off(&self) {
        loop {
            let claim = self.claim.fetch_add(1, Ordering::AcqRel);
            let (parts, part) = (((claim >> 16) & 0xffff) as usize, (claim & 0xffff) as usize);
            if part >= parts {
                return;
            }
            let job = self.job.load(Ordering::Acquire) as *const Job<'_>;
            // SAFETY: the caller stored the pointer before publishing the claim word (Release;
            // the claim above is Acquire) and does not return before `finished` counts this part,
            // which happens only after the call.
            let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { (*job)(part) }));
            if let Err(payload) = outcome {
                self.panic.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(payload);
            }
            self.finished.fetch_add(1, Ordering::AcqRel);
        }
    }
}

struct Pool {
    threads: AtomicUsize,
    busy: AtomicBool,
    workers: Mutex<Vec<Worker>>,
    shared: Arc<Shared>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        threads: AtomicUsize::new(0),
        busy: AtomicBool::new(false),
        workers: Mutex::new(Vec::new()),
        shared: Arc::new(Shared {
            claim: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            finished: AtomicUsize::new(0),
            panic: Mutex::new(None),
        }),
    })
}

type Job<'a> = &'a (dyn Fn(usize) + Sync);

impl Pool {
    /// The first `n` workers (spawning the missing ones), or as many as the system allows.
    /// Only the holder of `busy` calls this, so the lock is never contended; holding the
    /// guard (not a copy of the list) keeps a split free of allocations.
    fn workers(&self, n: usize) -> WorkerList<'_> {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        while workers.len() < n {
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("nabla-worker-{}", workers.len() + 1))
                .spawn(move || worker_loop(&shared));
            match spawned {
                Ok(handle) => workers.push(Worker { thread: handle.thread().clone() }),
                // The system refuses a thread: the parts run on the threads there are.
                Err(_) => break,
            }
        }
        let n = n.min(workers.len());
        WorkerList { guard: workers, n }
    }

    /// Publishes the split, wakes `workers`, works off parts here and waits for the rest.
    fn run(&self, workers: &[Worker], job: Job<'_>, parts: usize) {
        let shared = &*self.shared;
        let job_ref: *const Job<'_> = &job;
        shared.finished.store(0, Ordering::Relaxed);
        shared.job.store(job_ref as *mut (), Ordering::Relaxed);
        let generation = (shared.claim.load(Ordering::Relaxed) >> 32).wrapping_add(1) & 0xffff_ffff;
        shared.claim.store(generation << 32 | (parts as u64) << 16, Ordering::Release);
        for w in workers {
            w.thread.unpark();
        }
        {
            let _restore = RestoreOnDrop(IN_PART.with(|p| p.replace(true)));
            shared.work_off();
        }
        // Parts claimed by workers borrow `job` from this frame: wait for them, even when a
        // part panicked.
        let mut spins = 0u32;
        while shared.finished.load(Ordering::Acquire) != parts {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(4096) {
                std::thread::yield_now();
            }
            std::hint::spin_loop();
        }
        let payload = shared.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(payload) = payload {
            resume_unwind(payload);
        }
    }
}

fn worker_loop(shared: &Shared) {
    IN_PART.with(|p| p.set(true));
    let mut seen = shared.claim.load(Ordering::Acquire) >> 32;
    loop {
        let idle_since = Instant::now();
        let mut spins = 0u32;
        loop {
            let generation = shared.claim.load(Ordering::Acquire) >> 32;
            if generation != seen {
                seen = generation;
                break;
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(256) && idle_since.elapsed() > SPIN {
                // A lost wake-up cannot happen: an unpark before this park makes it return.
                std::thread::park();
            } else {
                std::hint::spin_loop();
            }
        }
        shared.work_off();
    }
}

/// Products and convolutions with fewer multiply-adds than this run on one thread: handing
/// out the parts would cost more than the second thread saves (measured on the MLP's and the
/// CNN's shapes).
pub const MIN_SPLIT_WORK: usize = 1 << 16;

/// The fewest elements a part of an elementwise pass keeps (128 KB of `f32`: a few
/// microseconds of memory traffic, against well under one for the hand-off).
pub const MIN_PART_ELEMENTS: usize = 1 << 15;

/// Into how many parts `len` units (elements, rows, samples, planes) are worth cutting: one
/// per thread as long as each part keeps at least `min_per_part` units, and at least 1.
pub fn parts_of(len: usize, min_per_part: usize) -> usize {
    threads().min(len / min_per_part.max(1)).max(1)
}

/// Runs `work` over `0..len` cut into `parts` contiguous ranges, one per part of a
/// [`split`]. The ranges cover `0..len` once, in order of their parts.
///
/// ```
/// use nabla_tensor::threads::{parts_of, split_ranges, MIN_PART_ELEMENTS};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let covered = AtomicUsize::new(0);
/// split_ranges(100_000, parts_of(100_000, MIN_PART_ELEMENTS), |r| {
///     covered.fetch_add(r.len(), Ordering::Relaxed);
/// });
/// assert_eq!(covered.into_inner(), 100_000);
/// ```
pub fn split_ranges<F: Fn(std::ops::Range<usize>) + Sync>(len: usize, parts: usize, work: F) {
    let parts = parts.max(1);
    let per = len.div_ceil(parts);
    split(parts, |part| work((part * per).min(len)..((part + 1) * per).min(len)));
}

/// A mutable slice shared by the parts of a [`split`], each part writing its own disjoint
/// ranges (the samples of a batch, the rows of an output).
///
/// ```
/// use nabla_tensor::threads::{split, DisjointSlice};
/// let mut out = vec![0usize; 8];
/// let shared = DisjointSlice::new(&mut out);
/// split(2, |part| {
///     // SAFETY: part 0 writes 0..4 and part 1 writes 4..8.
///     let mine = unsafe { shared.range(part * 4, part * 4 + 4) };
///     mine.iter_mut().for_each(|v| *v = part);
/// });
/// assert_eq!(out, [0, 0, 0, 0, 1, 1, 1, 1]);
/// ```
pub struct DisjointSlice<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: std::marker::PhantomData<&'a mut [T]>,
}

impl<'a, T> DisjointSlice<'a, T> {
    /// Shares `slice` (borrowed mutably for as long as the result lives).
    pub fn new(slice: &'a mut [T]) -> Self {
        DisjointSlice { ptr: slice.as_mut_ptr(), len: slice.len(), _borrow: std::marker::PhantomData }
    }

    /// The elements `[start, end)`.
    ///
    /// # Safety
    /// No two results alive at the same time may overlap.
    ///
    /// # Panics
    /// When the range is not inside the slice.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn range(&self, start: usize, end: usize) -> &mut [T] {
        assert!(start <= end && end <= self.len, "range {start}..{end} of a slice of {}", self.len);
        // SAFETY: in bounds (asserted) of a slice borrowed for 'a; disjointness is the caller's
        // contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), end - start) }
    }

    /// The columns `cols` of the row-major `rows × width` matrix that starts at element
    /// `offset`: a block of a matrix whose columns the parts share out.
    ///
    /// # Safety
    /// No two results (of this or of [`range`](Self::range)) alive at the same time may overlap.
    ///
    /// # Panics
    /// When the matrix is not inside the slice or the columns not inside the matrix.
    pub unsafe fn column_block(
        &self,
        rows: usize,
        width: usize,
        offset: usize,
        cols: std::ops::Range<usize>,
    ) -> ndarray::ArrayViewMut2<'_, T> {
        let inside =
            rows.checked_mul(width).and_then(|n| n.checked_add(offset)).is_some_and(|end| end <= self.len);
        assert!(
            inside && cols.start <= cols.end && cols.end <= width,
            "columns {cols:?} of a {rows} × {width} matrix at {offset} of a slice of {}",
            self.len
        );
        use ndarray::ShapeBuilder;
        let shape = (rows, cols.len()).strides((width, 1));
        // SAFETY: every element (i, j) is at offset + i * width + cols.start + j, inside the
        // slice (asserted); disjointness is the caller's contract.
        unsafe { ndarray::ArrayViewMut2::from_shape_ptr(shape, self.ptr.add(offset + cols.start)) }
    }
}

// SAFETY: the parts use disjoint ranges (the contract of `range`), so sharing the pointer
// across threads is sharing `&mut [T]` pieces, which is sound for `T: Send`.
unsafe impl<T: Send> Send for DisjointSlice<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for DisjointSlice<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_part_runs_once_whatever_the_part_count() {
        for parts in [0, 1, 2, 3, 7, 64] {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            split(parts, |p| {
                hits[p].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "{parts} parts");
        }
    }

    #[test]
    fn nested_and_concurrent_splits_finish() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        split(2, |_| {
                            split(3, |_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        assert_eq!(total.into_inner(), 4 * 200 * 2 * 3);
    }

    #[test]
    fn a_panicking_part_panics_the_caller_after_all_parts_finish() {
        let finished = AtomicUsize::new(0);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            split(2, |p| {
                if p == 1 {
                    panic!("part one failed");
                }
                finished.fetch_add(1, Ordering::Relaxed);
            })
        }));
        // With one thread (a 1-core machine) part 1 runs here too and panics just the same.
        let payload = caught.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"part one failed"));
        assert_eq!(finished.load(Ordering::Relaxed), 1);
        // The pool still works afterwards.
        let after = AtomicUsize::new(0);
        split(2, |_| {
            after.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(after.into_inner(), 2);
    }

    #[test]
    fn code_inside_a_part_sees_one_thread() {
        let inside = Mutex::new(Vec::new());
        split(2, |_| inside.lock().unwrap().push(threads()));
        assert!(inside.into_inner().unwrap().iter().all(|&t| t == 1));
        assert!(threads() >= 1);
    }

    #[test]
    fn the_default_reads_the_environment_variable_or_counts_cores() {
        assert_eq!(default_from(Some("3"), 8, 8), 3);
        assert_eq!(default_from(Some(" 12 "), 2, 2), 12, "an explicit count may oversubscribe");
        assert_eq!(default_from(Some("0"), 4, 8), 4, "0 is not a count");
        assert_eq!(default_from(Some("many"), 4, 8), 4);
        assert_eq!(default_from(None, 16, 2), 2, "no more than the cores the process may use");
        assert_eq!(default_from(None, 0, 0), 1);
        assert!(default_threads() >= 1);
    }
}
