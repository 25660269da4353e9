//! Errors of data-parallel training.

use thiserror::Error;

/// What can go wrong between the processes of a group.
#[derive(Debug, Error)]
pub enum DistributedError {
    /// Ranks disagree about something that must be identical (the effective config, the data
    /// set): every rank returns this error, so every rank can say so and exit.
    #[error("rank {rank} of {size}: the {what} differs between ranks (rank 0: {reference:016x}; differing: {}); every rank must run the same config on the same data", format_ranks(differing))]
    Mismatch {
        /// What was compared (`effective config`, `training data`).
        what: String,
        /// This process's rank.
        rank: usize,
        /// The number of processes.
        size: usize,
        /// Rank 0's fingerprint.
        reference: u64,
        /// The ranks whose fingerprint differs from rank 0's, with their fingerprints.
        differing: Vec<(usize, u64)>,
    },
    /// A collective operation failed (the message says which and why).
    #[error("rank {rank}: {operation} failed: {message}")]
    Collective {
        /// This process's rank.
        rank: usize,
        /// The operation and what it carried (`all-reduce of gradient bucket 0`).
        operation: String,
        /// Why.
        message: String,
    },
    /// The processes of a group were given inconsistent sizes or arguments.
    #[error("{0}")]
    Invalid(String),
    /// Started under a launcher but built without the `mpi` feature, or MPI could not start.
    #[error("{0}")]
    Launch(String),
}

impl DistributedError {
    /// Whether every rank reaches this error together (so a rank can exit normally instead of
    /// aborting the job on behalf of the others).
    pub fn is_collective(&self) -> bool {
        matches!(self, DistributedError::Mismatch { .. })
    }
}

fn format_ranks(ranks: &[(usize, u64)]) -> String {
    ranks.iter().map(|(r, f)| format!("rank {r}: {f:016x}")).collect::<Vec<_>>().join(", ")
}
