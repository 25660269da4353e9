//! `ThreadGroup`: a group of ranks as threads of one process, for tests of everything above
//! the transport (sharding, buckets, synchronized batch norm, the trainer's reductions)
//! without MPI. Reductions add the ranks' contributions in rank order, so every rank gets
//! bit-identical results, as an MPI reduction does.

use crate::{Collective, DistributedError};
use std::sync::{Arc, Barrier, Mutex};

struct Shared {
    size: usize,
    // One slot per rank; f32 and f64 values travel as their bits.
    slots: Mutex<Vec<Vec<u64>>>,
    barrier: Barrier,
}

/// One rank of a [`ThreadGroup`].
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
}

impl ThreadGroup {
    /// The `size` ranks of a new group, to be moved into one thread each.
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        let size = size.max(1);
        let shared =
            Arc::new(Shared { size, slots: Mutex::new(vec![Vec::new(); size]), barrier: Barrier::new(size) });
        (0..size).map(|rank| ThreadGroup { rank, shared: Arc::clone(&shared) }).collect()
    }

    /// Runs `f` on every rank of a new group of `size`, one thread each, and returns the
    /// results in rank order.
    pub fn run<R: Send>(size: usize, f: impl Fn(ThreadGroup) -> R + Sync) -> Vec<R> {
        let f = &f;
        std::thread::scope(|s| {
            let handles: Vec<_> = ThreadGroup::new(size).into_iter().map(|g| s.spawn(move || f(g))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        })
    }

    /// Publishes this rank's values, waits for every rank, and returns all slots.
    fn exchange(&self, mine: Vec<u64>) -> Vec<Vec<u64>> {
        self.lock()[self.rank] = mine;
        self.shared.barrier.wait();
        let all = self.lock().clone();
        // Nobody overwrites a slot before everyone has read it.
        self.shared.barrier.wait();
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u64>>> {
        // A rank that panicked holding the lock leaves valid slots (plain vectors).
        self.shared.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_lengths(&self, all: &[Vec<u64>], what: &str) -> Result<(), DistributedError> {
        match all.iter().position(|s| s.len() != all[self.rank].len()) {
            None => Ok(()),
            Some(r) => Err(DistributedError::Collective {
                rank: self.rank,
                operation: what.to_string(),
                message: format!("rank {r} gave {} values, this rank {}", all[r].len(), all[self.rank].len()),
            }),
        }
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn broadcast_f32(&self, buf: &mut [f32], what: &str) -> Result<(), DistributedError> {
        let all = self.exchange(buf.iter().map(|v| u64::from(v.to_bits())).collect());
        self.check_lengths(&all, what)?;
        buf.iter_mut().zip(&all[0]).for_each(|(b, &v)| *b = f32::from_bits(v as u32));
        Ok(())
    }

    fn all_reduce_sum_f32(&self, buf: &mut [f32], what: &str) -> Result<(), DistributedError> {
        let all = self.exchange(buf.iter().map(|v| u64::from(v.to_bits())).collect());
        self.check_lengths(&all, what)?;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = all.iter().map(|s| f32::from_bits(s[i] as u32)).fold(0.0, |a, v| a + v);
        }
        Ok(())
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64], what: &str) -> Result<(), DistributedError> {
        let all = self.exchange(buf.iter().map(|v| v.to_bits()).collect());
        self.check_lengths(&all, what)?;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = all.iter().map(|s| f64::from_bits(s[i])).fold(0.0, |a, v| a + v);
        }
        Ok(())
    }

    fn all_gather_u64(&self, value: u64, _what: &str) -> Result<Vec<u64>, DistributedError> {
        Ok(self.exchange(vec![value]).into_iter().map(|s| s[0]).collect())
    }

    /// In one process the group's threads cannot be killed one by one: this panics with the
    /// message, which ends the test that ran the group.
    fn abort(&self, code: i32, message: &str) -> ! {
        panic!("rank {} aborted the group with code {code}: {message}", self.rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_and_broadcasts_agree_on_every_rank() {
        let out = ThreadGroup::run(3, |g| {
            let r = g.rank() as f32;
            let mut a = [r, 1.0];
            g.all_reduce_sum_f32(&mut a, "sum").expect("same lengths");
            let mut b = [f64::from(r) * 0.5];
            g.all_reduce_sum_f64(&mut b, "sum").expect("same lengths");
            let mut c = [r + 10.0; 2];
            g.broadcast_f32(&mut c, "broadcast").expect("same lengths");
            let gathered = g.all_gather_u64(g.rank() as u64 * 2, "gather").expect("gather");
            (a, b, c, gathered)
        });
        for o in &out {
            assert_eq!(o.0, [3.0, 3.0]);
            assert_eq!(o.1, [1.5]);
            assert_eq!(o.2, [10.0, 10.0]);
            assert_eq!(o.3, vec![0, 2, 4]);
        }
    }

    #[test]
    fn unequal_lengths_are_an_error() {
        let out = ThreadGroup::run(2, |g| {
            let mut v = vec![1.0f32; 1 + g.rank()];
            g.all_reduce_sum_f32(&mut v, "all-reduce of bucket 0").map_err(|e| e.to_string())
        });
        assert!(out[0].as_ref().expect_err("mismatch").contains("rank 1 gave 2 values"));
    }
}
