//! `MpiCollective`'s `f32` all-reduce on three ranks of one machine under Open MPI's `mpirun`,
//! through the shared-memory window and through MPI's own path (`NABLA_MPI_SHARED_MEMORY=0`):
//! exact sums for lengths that do not divide by the rank count, that grow the window and that
//! shrink again, and, through the window, ranks called with different lengths all told so.
//! Built with the `mpi` feature only; `.ci/mpi-tests` runs it.
//!
//! The test starts `mpirun` on its own executable; each rank runs this same test with
//! [`RANK_MODE`] set and does the collective work instead.
#![cfg(feature = "mpi")]

use nabla_distributed::{Collective, MpiCollective};
use std::process::Command;

/// Set on the ranks the test starts.
const RANK_MODE: &str = "NABLA_TEST_ALL_REDUCE_RANK";
const TEST: &str = "all_reduce_sums_exactly_on_three_ranks_with_and_without_shared_memory";
const RANKS: usize = 3;

/// Small integers, so that every sum is exact in `f32` whatever the order of addition.
fn value(i: usize, rank: usize) -> f32 {
    ((i * 7 + rank * 3) % 11) as f32 - 5.0
}

#[test]
fn all_reduce_sums_exactly_on_three_ranks_with_and_without_shared_memory() {
    if std::env::var_os(RANK_MODE).is_some() {
        return as_a_rank();
    }
    let exe = std::env::current_exe().expect("the test's executable");
    for shared in ["1", "0"] {
        let out = Command::new("mpirun")
            .args(["--allow-run-as-root", "--oversubscribe", "-np", &RANKS.to_string()])
            .arg(&exe)
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env(RANK_MODE, "1")
            .env("NABLA_MPI_SHARED_MEMORY", shared)
            .output()
            .expect("mpirun runs (install Open MPI: .ci/mpi-tests does)");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "shared memory {shared}: {stdout}\n{stderr}");
        for rank in 0..RANKS {
            assert!(
                stdout.contains(&format!("rank {rank} of {RANKS}: all sums exact")),
                "shared memory {shared}: rank {rank} did not report: {stdout}\n{stderr}"
            );
        }
    }
}

/// One rank's part: every length summed and checked, then (through the window) a call with
/// a length of its own.
fn as_a_rank() {
    let group = MpiCollective::init().expect("MPI starts");
    let (rank, size) = (group.rank(), group.size());
    assert_eq!(size, RANKS);
    // Empty, shorter than the rank count, ragged chunks, one that grows the window to the
    // chapter-3 MLP's gradient size, and one that fits in it again.
    for len in [0, 1, 2, 5, 1000, 4099, 537_354, 3] {
        let mut buf: Vec<f32> = (0..len).map(|i| value(i, rank)).collect();
        group.all_reduce_sum_f32(&mut buf, "all-reduce under test").expect("same lengths");
        let want: Vec<f32> = (0..len).map(|i| (0..size).map(|r| value(i, r)).sum()).collect();
        let wrong = buf.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(wrong, 0, "rank {rank}: {wrong} of {len} sums differ");
    }
    if std::env::var("NABLA_MPI_SHARED_MEMORY").as_deref() == Ok("1") {
        let mut buf = vec![1.0f32; if rank == 1 { 10 } else { 12 }];
        let err = group
            .all_reduce_sum_f32(&mut buf, "mismatched all-reduce")
            .expect_err("lengths differ")
            .to_string();
        assert!(
            err.contains("mismatched all-reduce") && err.contains("rank 1: 10") && err.contains("rank 0: 12"),
            "rank {rank}: {err}"
        );
    }
    println!("rank {rank} of {size}: all sums exact");
}
