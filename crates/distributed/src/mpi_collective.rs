//! `MpiCollective`: the ranks of an MPI job (`mpirun -np N`, `srun`) as a [`Collective`],
//! over the system MPI through rsmpi, with a watchdog.
//!
//! MPI's default error handler already ends the job when a call fails, and Open MPI's
//! `mpirun` (and Slurm) end the job when one process dies, naming it ("process rank 1 ...
//! exited on signal 9"). The watchdog covers what is left: a collective that does not
//! complete within the timeout (a rank stuck, or a launcher that does not notice) ends the
//! whole job through `MPI_Abort`, with a message naming the operation, rather than hanging.
//! The timeout is `NABLA_MPI_TIMEOUT` seconds (default 300; it bounds the time between
//! the first and the last rank entering one collective, so a slow data load on one rank must
//! fit in it).
//!
//! When every rank runs on one machine, the gradient all-reduce (`f32`) goes through a
//! shared-memory window of theirs ([`SharedWindow`], see `shared_window.rs`) rather than
//! MPI's message path; `NABLA_MPI_SHARED_MEMORY=0` keeps MPI's. Across machines, and for the
//! small `f64` reductions of metrics, it is MPI's `MPI_Allreduce`.

use crate::shared_window::SharedWindow;
use crate::{Collective, DistributedError};
use mpi::collective::SystemOperation;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;
use mpi::Threading;
use std::cell::RefCell;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The default of `NABLA_MPI_TIMEOUT`, seconds.
const DEFAULT_TIMEOUT_SECONDS: f64 = 300.0;

/// Exit code of a job ended by the watchdog or by [`Collective::abort`] (EX_SOFTWARE).
const ABORT_CODE: i32 = 70;

/// What the watchdog watches: the collective in progress and its deadline.
struct Watch {
    current: Mutex<Option<(Instant, String)>>,
    wake: Condvar,
}

/// The ranks of an MPI job. Created once per process ([`MpiCollective::init`]); MPI is
/// finalized when it is dropped.
pub struct MpiCollective {
    /// The all-reduce of `f32` buffers when every rank is on this machine (and
    /// `NABLA_MPI_SHARED_MEMORY` is not `0`); freed before MPI is finalized.
    shared: Option<SharedWindow>,
    /// A copy of the buffer being all-reduced through MPI (rsmpi has no in-place
    /// all-reduce), kept so that no call allocates.
    send: RefCell<Vec<f32>>,
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    timeout: Duration,
    watch: Arc<Watch>,
    // Dropped last: finalizes MPI.
    _universe: mpi::environment::Universe,
}

impl MpiCollective {
    /// Initializes MPI (asking for full thread support, so the watchdog thread may call
    /// `MPI_Abort`; an MPI that grants less gets a watchdog that exits its own process
    /// instead) and starts the watchdog.
    ///
    /// # Errors
    /// [`DistributedError::Launch`] when MPI is already initialized or cannot start, or when
    /// `NABLA_MPI_TIMEOUT` is not a positive number of seconds or `NABLA_MPI_SHARED_MEMORY`
    /// neither `0` nor `1`.
    pub fn init() -> Result<MpiCollective, DistributedError> {
        let timeout = timeout_from_env()?;
        let (universe, threading) = mpi::initialize_with_threading(Threading::Multiple).ok_or_else(|| {
            DistributedError::Launch("MPI could not be initialized (or was initialized twice)".into())
        })?;
        // An MPI built without thread support grants less: the watchdog then must not call
        // into MPI from its own thread, and ends this process alone (the launcher ends the
        // rest of the job when one process exits without finalizing).
        let abort_through_mpi = threading == Threading::Multiple;
        let world = universe.world();
        let rank = usize::try_from(world.rank()).unwrap_or(0);
        let size = usize::try_from(world.size()).unwrap_or(1).max(1);
        let watch = Arc::new(Watch { current: Mutex::new(None), wake: Condvar::new() });
        let watched = Arc::clone(&watch);
        std::thread::Builder::new()
            .name("nabla-mpi-watchdog".into())
            .spawn(move || watchdog(rank, timeout, abort_through_mpi, &watched))
            .map_err(|e| DistributedError::Launch(format!("cannot start the MPI watchdog thread: {e}")))?;
        let shared = if shared_memory_from_env()? { SharedWindow::of_one_machine(&world) } else { None };
        Ok(MpiCollective {
            shared,
            send: RefCell::new(Vec::new()),
            world,
            rank,
            size,
            timeout,
            watch,
            _universe: universe,
        })
    }

    /// The watchdog's timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs one collective under the watchdog.
    fn watched<R>(&self, what: &str, f: impl FnOnce() -> R) -> R {
        self.arm(Some((Instant::now() + self.timeout, what.to_string())));
        let r = f();
        self.arm(None);
        r
    }

    fn arm(&self, state: Option<(Instant, String)>) {
        *self.watch.current.lock().unwrap_or_else(|e| e.into_inner()) = state;
        self.watch.wake.notify_one();
    }
}

/// `NABLA_MPI_SHARED_MEMORY`: `0` keeps MPI's own all-reduce even on one machine (to compare
/// them, or with an MPI whose shared windows misbehave); `1` or unset uses the shared window.
fn shared_memory_from_env() -> Result<bool, DistributedError> {
    match std::env::var("NABLA_MPI_SHARED_MEMORY") {
        Err(_) => Ok(true),
        Ok(text) => match text.trim() {
            "1" => Ok(true),
            "0" => Ok(false),
            _ => Err(DistributedError::Launch(format!(
                "NABLA_MPI_SHARED_MEMORY: expected 0 or 1, got '{text}'"
            ))),
        },
    }
}

fn timeout_from_env() -> Result<Duration, DistributedError> {
    let seconds = match std::env::var("NABLA_MPI_TIMEOUT") {
        Err(_) => DEFAULT_TIMEOUT_SECONDS,
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => s,
            _ => {
                return Err(DistributedError::Launch(format!(
                    "NABLA_MPI_TIMEOUT: expected a positive number of seconds, got '{text}'"
                )))
            }
        },
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// Sleeps until the armed collective's deadline; ends the job if it is still the same one.
fn watchdog(rank: usize, timeout: Duration, abort_through_mpi: bool, watch: &Watch) {
    let mut guard = watch.current.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let deadline = guard.as_ref().map(|(d, _)| *d);
        match deadline {
            None => guard = watch.wake.wait(guard).unwrap_or_else(|e| e.into_inner()),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    let what = guard.as_ref().map(|(_, w)| w.clone()).unwrap_or_default();
                    eprintln!(
                        "nabla: rank {rank}: the {what} did not complete within {:.0} s: another rank is lost or stuck; ending the job",
                        timeout.as_secs_f64()
                    );
                    if abort_through_mpi {
                        // SAFETY: MPI granted MPI_THREAD_MULTIPLE before this thread started;
                        // MPI_Abort ends every process of the job and does not return.
                        unsafe {
                            mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, ABORT_CODE);
                        }
                    }
                    std::process::exit(ABORT_CODE);
                }
                guard = watch.wake.wait_timeout(guard, d - now).unwrap_or_else(|e| e.into_inner()).0;
            }
        }
    }
}

impl Collective for MpiCollective {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn broadcast_f32(&self, buf: &mut [f32], what: &str) -> Result<(), DistributedError> {
        self.watched(what, || self.world.process_at_rank(0).broadcast_into(buf));
        Ok(())
    }

    fn all_reduce_sum_f32(&self, buf: &mut [f32], what: &str) -> Result<(), DistributedError> {
        if let Some(shared) = &self.shared {
            return self.watched(what, || shared.all_reduce_sum_f32(buf, what));
        }
        let mut send = self.send.borrow_mut();
        send.clear();
        send.extend_from_slice(buf);
        self.watched(what, || self.world.all_reduce_into(&send[..], buf, SystemOperation::sum()));
        Ok(())
    }

    fn all_reduce_sum_f32_with(
        &self,
        scratch: &mut [f32],
        what: &str,
        fill: &mut dyn FnMut(&mut [f32]),
        take: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<(), DistributedError> {
        if let Some(shared) = &self.shared {
            return self.watched(what, || shared.all_reduce_sum_f32_with(scratch.len(), what, fill, take));
        }
        crate::collective::through_scratch(self, scratch, what, fill, take)
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64], what: &str) -> Result<(), DistributedError> {
        let send = buf.to_vec();
        self.watched(what, || self.world.all_reduce_into(&send[..], buf, SystemOperation::sum()));
        Ok(())
    }

    fn all_gather_u64(&self, value: u64, what: &str) -> Result<Vec<u64>, DistributedError> {
        let mut all = vec![0u64; self.size];
        self.watched(what, || self.world.all_gather_into(&value, &mut all[..]));
        Ok(all)
    }

    fn abort(&self, code: i32, message: &str) -> ! {
        eprintln!("nabla: rank {} of {}: {message}", self.rank, self.size);
        self.world.abort(code)
    }
}
