//! `DataParallel`: what the trainer does differently when it is one of N processes training
//! one model (PyTorch's DistributedDataParallel with a DistributedSampler):
//!
//! - at start ([`Trainer::join_group`](crate::Trainer::join_group)): the fingerprints of the
//!   effective config, of the training progress (epochs and steps done) and of the data are
//!   compared over ranks (a mismatch is an error on
//!   every rank), then rank 0's parameters and buffers are broadcast;
//! - at start and at the start of every epoch, the dropout generators of every rank `r > 0`
//!   are derived from rank 0's (as they stand then, without drawing from them) and `r`:
//!   distinct masks on every rank, and, since only rank 0's generators are checkpointed, a
//!   resume at an epoch boundary derives the very streams the uninterrupted run drew;
//! - every epoch each rank trains on its shard of the epoch's shuffled order
//!   ([`nabla_distributed::shard_order`], padded as the sampler pads), with a batch of
//!   `batch_size` (`[distributed] batch_size = "per_process"`) or `batch_size / N`
//!   (`"global"`);
//! - after every backward the gradients are summed over ranks in a few large flat buckets in
//!   the fixed order of parameter names ([`nabla_distributed::BucketPlan`]) and divided by N,
//!   before clipping and the optimizer, so every rank takes the same step;
//! - with `sync_batch_norm`, batch normalization uses the statistics of the global batch
//!   ([`nabla_autograd::batch_stats`]); without it each rank's own, and rank 0's running
//!   statistics are broadcast before every evaluation (as DDP's `broadcast_buffers`), so
//!   evaluation and checkpoints use rank 0's;
//! - training sums, evaluation (each rank a strided share of the split) and metrics are
//!   all-reduced, so every rank reports the global numbers; only rank 0 writes files and
//!   progress.

use crate::config::{BatchSizeMeaning, DistributedConfig};
use crate::TrainError;
use nabla_autograd::{BatchStatsGuard, BatchStatsReducer, Var};
use nabla_data::Dataset;
use nabla_distributed::{check_agreement, shard_order, BucketPlan, Collective, Fingerprint};
use nabla_layers::{Module, Sequential};
use nabla_tensor::Rng;
use std::rc::Rc;
use std::time::Instant;

/// Time and volume of the collective communication of a data-parallel run, on this rank.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CommStats {
    /// Optimizer steps whose gradients were averaged.
    pub steps: u64,
    /// Seconds spent in gradient all-reduces (including waiting for the slowest rank).
    pub gradient_seconds: f64,
    /// Bytes of gradients all-reduced (sent by this rank, f32).
    pub gradient_bytes: u64,
    /// All-reduce calls for gradients (buckets times steps).
    pub gradient_calls: u64,
}

/// One rank's part of a data-parallel run.
pub(crate) struct DataParallel {
    group: Rc<dyn Collective>,
    plan: BucketPlan,
    buffer: Vec<f32>,
    shard: Vec<usize>,
    sync_batch_norm: bool,
    batch_size: usize,
    stats: CommStats,
}

/// Exit code when a rank ends the job because a collective inside an op failed.
const ABORT_CODE: i32 = 70;

/// Batch-norm statistics summed over the group.
struct GroupReducer(Rc<dyn Collective>);

impl BatchStatsReducer for GroupReducer {
    fn all_reduce_sum(&self, values: &mut [f64]) {
        if let Err(e) = self.0.all_reduce_sum_f64(values, "all-reduce of batch-norm statistics") {
            // Inside the backward there is no way to return the error; the other ranks wait.
            self.0.abort(ABORT_CODE, &e.to_string());
        }
    }
}

/// What every rank must hold the same of before they train together.
pub(crate) struct Agreement<'a> {
    /// The effective config text.
    pub(crate) effective_config: &'a str,
    /// Epochs and steps done (those of the checkpoint resumed from).
    pub(crate) progress: (usize, u64),
    /// The training, test and validation splits.
    pub(crate) data: &'a [&'a Dataset],
}

impl DataParallel {
    /// Joins `group`: checks that every rank has the same effective config, progress and
    /// data, broadcasts rank 0's state and plans the gradient buckets.
    pub(crate) fn join(
        group: Rc<dyn Collective>,
        settings: &DistributedConfig,
        batch_size: usize,
        agreement: Agreement<'_>,
        model: &mut Sequential<f32>,
        params: &[(String, Var<f32>)],
    ) -> Result<DataParallel, TrainError> {
        let Agreement { effective_config, progress, data } = agreement;
        let n = group.size();
        check_agreement(
            group.as_ref(),
            "effective config",
            Fingerprint::new().update(effective_config.as_bytes()).finish(),
        )?;
        // Ranks resumed from different copies of a run directory (a stale one on one node)
        // would shard different epochs and stall at the end until the watchdog fires.
        check_agreement(
            group.as_ref(),
            "training progress (epochs and steps done, from the checkpoint resumed)",
            Fingerprint::new().update_usize(&[progress.0, progress.1 as usize]).finish(),
        )?;
        let mut fp = Fingerprint::new();
        for d in data {
            fp.update_usize(&[d.len(), d.features()]);
            fp.update_f32(d.images().as_slice().unwrap_or(&d.images().iter().copied().collect::<Vec<_>>()));
            fp.update(d.labels());
        }
        check_agreement(group.as_ref(), "data set", fp.finish())?;

        let batch_size = match settings.batch_size {
            BatchSizeMeaning::PerProcess => batch_size,
            BatchSizeMeaning::Global if batch_size.is_multiple_of(n) => batch_size / n,
            BatchSizeMeaning::Global => {
                return Err(TrainError::Config {
                    file: "<distributed run>".into(),
                    table: "top level".into(),
                    key: "batch_size".into(),
                    message: format!(
                        "the global batch_size {batch_size} does not divide among {n} processes \
                         ([distributed] batch_size = \"global\")"
                    ),
                })
            }
        };
        let sizes: Vec<(&str, usize)> =
            params.iter().map(|(name, p)| (name.as_str(), p.value().len())).collect();
        let capacity = (settings.bucket_mb * 1024.0 * 1024.0 / 4.0) as usize;
        let plan = BucketPlan::new(&sizes, capacity);
        let buffer = vec![0.0; plan.largest()];
        let me = DataParallel {
            group,
            plan,
            buffer,
            shard: Vec::new(),
            sync_batch_norm: settings.sync_batch_norm,
            batch_size,
            stats: CommStats::default(),
        };
        me.broadcast_state(model, params)?;
        me.derive_rank_rngs(model, "at start")?;
        Ok(me)
    }

    /// Re-derives the dropout generators of every rank but 0 from rank 0's and the rank (see
    /// the module documentation); `when` names the moment in errors.
    pub(crate) fn derive_rank_rngs(&self, model: &mut Sequential<f32>, when: &str) -> Result<(), TrainError> {
        // Rank 0's value per generator, read from a copy so that its own stream is untouched.
        let mut bases = Vec::new();
        model.visit_rngs_mut("", &mut |_, rng| bases.push(Rng::from_state(&rng.state()).next_u64()));
        for (i, base) in bases.iter_mut().enumerate() {
            let what = format!("all-gather of the dropout seed {i} {when}");
            *base = self.group.all_gather_u64(*base, &what)?[0];
        }
        let rank = self.group.rank() as u64;
        if rank > 0 {
            let mut next = bases.into_iter();
            model.visit_rngs_mut("", &mut |_, rng| {
                if let Some(base) = next.next() {
                    *rng = Rng::seed(nabla_data::epoch_seed(base, rank));
                }
            });
        }
        Ok(())
    }

    /// This rank.
    pub(crate) fn rank(&self) -> usize {
        self.group.rank()
    }

    /// The number of ranks.
    pub(crate) fn size(&self) -> usize {
        self.group.size()
    }

    /// Each process's batch.
    pub(crate) fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The communication so far.
    pub(crate) fn stats(&self) -> CommStats {
        self.stats
    }

    /// The bucket plan (for reports).
    pub(crate) fn plan(&self) -> &BucketPlan {
        &self.plan
    }

    /// This rank's shard of an epoch's order.
    pub(crate) fn shard(&mut self, order: &[usize]) -> &[usize] {
        shard_order(order, self.group.rank(), self.group.size(), false, &mut self.shard);
        &self.shard
    }

    /// This rank's strided share of an evaluation split of `n` examples (no padding, so
    /// every example is counted once over the group).
    pub(crate) fn eval_share(&self, n: usize) -> Vec<usize> {
        (self.group.rank()..n).step_by(self.group.size()).collect()
    }

    /// The guard making batch norm global for one step, with `sync_batch_norm`.
    pub(crate) fn batch_stats_guard(&self) -> Option<BatchStatsGuard> {
        self.sync_batch_norm.then(|| BatchStatsGuard::new(Rc::new(GroupReducer(Rc::clone(&self.group)))))
    }

    /// Sums `values` over ranks.
    pub(crate) fn sum(&self, values: &mut [f64], what: &str) -> Result<(), TrainError> {
        Ok(self.group.all_reduce_sum_f64(values, what)?)
    }

    /// Replaces every gradient by its mean over ranks, bucket by bucket.
    pub(crate) fn average_gradients(
        &mut self,
        params: &[(String, Var<f32>)],
        step: u64,
    ) -> Result<(), TrainError> {
        let started = Instant::now();
        let scale = 1.0 / self.group.size() as f32;
        for (b, bucket) in self.plan.buckets().iter().enumerate() {
            let gather = &mut |buf: &mut [f32]| {
                for slot in &bucket.slots {
                    let dst = &mut buf[slot.offset..slot.offset + slot.len];
                    match params[slot.param].1.grad() {
                        Some(g) => match g.as_slice() {
                            Some(values) => dst.copy_from_slice(values),
                            None => dst.iter_mut().zip(g.iter()).for_each(|(d, &v)| *d = v),
                        },
                        // A parameter the loss does not reach contributes zeros, as in DDP.
                        None => dst.fill(0.0),
                    }
                }
            };
            // The sums may come in pieces that cut across tensors: each slot takes its overlap.
            let scatter = &mut |offset: usize, sums: &[f32]| {
                let piece = offset..offset + sums.len();
                for slot in &bucket.slots {
                    let (start, end) = (piece.start.max(slot.offset), piece.end.min(slot.offset + slot.len));
                    if start >= end {
                        continue;
                    }
                    if let Some(mut g) = params[slot.param].1.grad_mut() {
                        let src = &sums[start - offset..end - offset];
                        let within = start - slot.offset..end - slot.offset;
                        match g.as_slice_mut() {
                            Some(dst) => dst[within].iter_mut().zip(src).for_each(|(d, &v)| *d = v * scale),
                            None => {
                                g.iter_mut().skip(within.start).zip(src).for_each(|(d, &v)| *d = v * scale)
                            }
                        }
                    }
                }
            };
            self.group.all_reduce_sum_f32_with(
                &mut self.buffer[..bucket.len],
                &format!("all-reduce of gradient bucket {b} at step {step}"),
                gather,
                scatter,
            )?;
            self.stats.gradient_bytes += (bucket.len * 4) as u64;
            self.stats.gradient_calls += 1;
        }
        self.stats.steps += 1;
        self.stats.gradient_seconds += started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Rank 0's parameters and buffers on every rank (one flat broadcast, model order).
    pub(crate) fn broadcast_state(
        &self,
        model: &mut Sequential<f32>,
        params: &[(String, Var<f32>)],
    ) -> Result<(), TrainError> {
        let mut flat: Vec<f32> = Vec::new();
        for (_, p) in params {
            flat.extend(p.value().iter());
        }
        model.visit_buffers("", &mut |_, b| flat.extend(b.iter()));
        self.group.broadcast_f32(&mut flat, "broadcast of the initial parameters and buffers")?;
        let mut at = 0;
        for (_, p) in params {
            let mut v = p.value_mut();
            let n = v.len();
            v.iter_mut().zip(&flat[at..at + n]).for_each(|(d, &s)| *d = s);
            at += n;
        }
        unpack_buffers(model, &flat[at..]);
        Ok(())
    }

    /// Rank 0's buffers (batch-norm running statistics) on every rank.
    pub(crate) fn broadcast_buffers(&self, model: &mut Sequential<f32>) -> Result<(), TrainError> {
        let mut flat: Vec<f32> = Vec::new();
        model.visit_buffers("", &mut |_, b| flat.extend(b.iter()));
        if flat.is_empty() {
            return Ok(());
        }
        self.group.broadcast_f32(&mut flat, "broadcast of the buffers before evaluation")?;
        unpack_buffers(model, &flat);
        Ok(())
    }
}

fn unpack_buffers(model: &mut Sequential<f32>, flat: &[f32]) {
    let mut at = 0;
    model.visit_buffers_mut("", &mut |_, b| {
        let n = b.len();
        b.iter_mut().zip(&flat[at..at + n]).for_each(|(d, &s)| *d = s);
        at += n;
    });
}
