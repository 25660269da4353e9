//! `shard_order`: one rank's disjoint share of an epoch's order, with the semantics of
//! PyTorch's `torch.utils.data.DistributedSampler`.
//!
//! Every rank computes the same shuffled order (same seed, same epoch), then:
//! - `drop_tail = false` (the sampler's default, `drop_last=False`): the order is padded to
//!   a multiple of `world` by repeating its first entries, so every rank gets
//!   `ceil(n / world)` examples (a few examples are seen twice per epoch);
//! - `drop_tail = true`: the order is cut to a multiple of `world` (`floor(n / world)` each;
//!   a few examples are not seen this epoch);
//!
//! and rank `r` takes the entries `r, r + world, r + 2 world, ...` of the result. The shards
//! are disjoint (up to the padding), their union is the whole order, and consecutive blocks of
//! `world * b` entries of the order are exactly the union of the ranks' batches of `b`, so N
//! processes with batch `b` see the batches of one process with batch `N b`.

/// The number of examples each of `world` ranks gets from an order of `n` (see the module).
pub fn shard_len(n: usize, world: usize, drop_tail: bool) -> usize {
    let world = world.max(1);
    if drop_tail {
        n / world
    } else {
        n.div_ceil(world)
    }
}

/// Rank `rank`'s share of `order` among `world` ranks, written into `out` (cleared first, so
/// the caller can reuse it every epoch). `world == 1` copies the order unchanged.
///
/// # Panics
/// Never for `rank < world`; a `rank >= world` or `world == 0` gives an empty shard.
pub fn shard_order(order: &[usize], rank: usize, world: usize, drop_tail: bool, out: &mut Vec<usize>) {
    out.clear();
    if world == 0 || rank >= world || order.is_empty() {
        return;
    }
    let per_rank = shard_len(order.len(), world, drop_tail);
    // Entry k of the padded order is order[k % n]: padding repeats the order from its start
    // (more than once when the order is shorter than the group).
    out.extend((0..per_rank).map(|i| order[(rank + i * world) % order.len()]));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards(order: &[usize], world: usize, drop_tail: bool) -> Vec<Vec<usize>> {
        (0..world)
            .map(|r| {
                let mut out = Vec::new();
                shard_order(order, r, world, drop_tail, &mut out);
                out
            })
            .collect()
    }

    #[test]
    fn padding_repeats_the_start_as_pytorch_does() {
        // DistributedSampler(range(10) without shuffling, num_replicas=4): padded to 12 with
        // [0, 1]; rank r takes r::4.
        let order: Vec<usize> = (0..10).collect();
        let s = shards(&order, 4, false);
        assert_eq!(s, vec![vec![0, 4, 8], vec![1, 5, 9], vec![2, 6, 0], vec![3, 7, 1]]);
        // drop_last=True: cut to 8.
        assert_eq!(shards(&order, 4, true), vec![vec![0, 4], vec![1, 5], vec![2, 6], vec![3, 7]]);
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_order() {
        let order = vec![7, 3, 9, 1, 0, 5, 2, 8, 6, 4, 11, 10];
        for world in 1..=5 {
            let s = shards(&order, world, true);
            let mut all: Vec<usize> = s.concat();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), world * (order.len() / world), "world {world}");
            let padded = shards(&order, world, false);
            assert!(padded.iter().all(|p| p.len() == order.len().div_ceil(world)));
            let mut union: Vec<usize> = padded.concat();
            union.sort_unstable();
            union.dedup();
            assert_eq!(union.len(), order.len());
        }
        assert_eq!(shards(&order, 1, false)[0], order);
    }

    #[test]
    fn blocks_of_the_order_are_the_union_of_the_ranks_batches() {
        let order: Vec<usize> = (0..24).rev().collect();
        let (world, b) = (2, 4);
        let s = shards(&order, world, false);
        for k in 0..order.len() / (world * b) {
            let mut block = order[k * world * b..(k + 1) * world * b].to_vec();
            let mut union: Vec<usize> = s.iter().flat_map(|r| r[k * b..(k + 1) * b].to_vec()).collect();
            block.sort_unstable();
            union.sort_unstable();
            assert_eq!(block, union);
        }
    }

    #[test]
    fn degenerate_groups_give_empty_shards() {
        let mut out = vec![1];
        shard_order(&[1, 2, 3], 2, 2, false, &mut out);
        assert!(out.is_empty());
        shard_order(&[1, 2, 3], 0, 0, false, &mut out);
        assert!(out.is_empty());
        // More ranks than examples: every rank still gets one (padded) example.
        shard_order(&[5], 2, 3, false, &mut out);
        assert_eq!(out, vec![5]);
    }
}
