//! Data-parallel training for nabla: the same model trained by N processes, each on its own
//! shard of every epoch, gradients averaged after every backward pass.
//!
//! This crate holds what the trainer needs and nothing of the trainer itself:
//! - [`Collective`]: the group operations the trainer calls at fixed points (broadcast of
//!   the initial state from rank 0, all-reduce of gradient buckets and metrics, all-gather of
//!   fingerprints, abort).
//! - [`shard_order`]: PyTorch `DistributedSampler` sharding of an epoch's order.
//! - [`BucketPlan`]: gradients packed into a few large flat buckets in a fixed order of
//!   parameter names.
//! - [`Fingerprint`] and [`check_agreement`]: every rank must run the same config on the
//!   same data, checked at start.
//! - [`ThreadGroup`]: a group of ranks as threads of one process (tests, no MPI needed).
//! - `MpiCollective` (cargo feature `mpi`): the ranks of an MPI job, with a watchdog that
//!   ends the whole job when a collective does not complete in time; the gradient all-reduce
//!   of ranks on one machine goes through an MPI-3 shared-memory window.
//! - [`launched_world_size`]: whether this process was started by `mpirun` or `srun`;
//!   [`local_processes`]: how many of its processes share this machine.

mod bucket_plan;
mod collective;
mod error;
mod fingerprint;
mod launch;
#[cfg(feature = "mpi")]
mod mpi_collective;
mod shard;
#[cfg(feature = "mpi")]
mod shared_window;
mod thread_group;

pub use bucket_plan::{Bucket, BucketPlan, BucketSlot};
pub use collective::Collective;
pub use error::DistributedError;
pub use fingerprint::{check_agreement, Fingerprint};
pub use launch::{launched_world_size, local_processes, Launcher};
#[cfg(feature = "mpi")]
pub use mpi_collective::MpiCollective;
pub use shard::{shard_len, shard_order};
pub use thread_group::ThreadGroup;
