//! `BucketPlan`: the gradients of a model packed into a few large flat buckets, in a fixed
//! order of parameter names, so that averaging them over ranks takes a few large all-reduce
//! calls rather than one per tensor (PyTorch DDP's gradient buckets, default 25 MiB).
//!
//! The order is the parameter names sorted (byte-wise), not the model's traversal order, so
//! that it is a property of the names alone; consecutive parameters fill a bucket up to its
//! capacity, and a parameter larger than the capacity gets a bucket of its own (tensors are
//! never split).

/// Where one parameter's gradient sits in a bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketSlot {
    /// The parameter's index in the list given to [`BucketPlan::new`].
    pub param: usize,
    /// Its first element in the bucket.
    pub offset: usize,
    /// Its number of elements.
    pub len: usize,
}

/// One flat bucket: the slots of its parameters, back to back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// The parameters it holds, in order.
    pub slots: Vec<BucketSlot>,
    /// Its total number of elements.
    pub len: usize,
}

/// The buckets of a model's gradients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketPlan {
    buckets: Vec<Bucket>,
}

impl BucketPlan {
    /// Plans buckets of at most `capacity` elements (at least 1) for the parameters
    /// `(name, element count)`.
    pub fn new(params: &[(&str, usize)], capacity: usize) -> BucketPlan {
        let capacity = capacity.max(1);
        let mut order: Vec<usize> = (0..params.len()).collect();
        order.sort_by(|&a, &b| params[a].0.cmp(params[b].0));
        let mut buckets: Vec<Bucket> = Vec::new();
        let mut current = Bucket { slots: Vec::new(), len: 0 };
        for i in order {
            let len = params[i].1;
            if current.len > 0 && current.len + len > capacity {
                buckets.push(std::mem::replace(&mut current, Bucket { slots: Vec::new(), len: 0 }));
            }
            current.slots.push(BucketSlot { param: i, offset: current.len, len });
            current.len += len;
        }
        if !current.slots.is_empty() {
            buckets.push(current);
        }
        BucketPlan { buckets }
    }

    /// The buckets, in the order every rank reduces them.
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// The number of elements over all buckets.
    pub fn elements(&self) -> usize {
        self.buckets.iter().map(|b| b.len).sum()
    }

    /// The largest bucket's number of elements (the size of one reusable buffer).
    pub fn largest(&self) -> usize {
        self.buckets.iter().map(|b| b.len).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_sorted_names_and_respect_the_capacity() {
        let params = [("1.weight", 60), ("0.weight", 30), ("0.bias", 5), ("1.bias", 10), ("2.weight", 200)];
        let plan = BucketPlan::new(&params, 100);
        let names: Vec<Vec<&str>> =
            plan.buckets().iter().map(|b| b.slots.iter().map(|s| params[s.param].0).collect()).collect();
        assert_eq!(names, vec![vec!["0.bias", "0.weight", "1.bias"], vec!["1.weight"], vec!["2.weight"]]);
        assert_eq!(plan.buckets()[0].slots[2], BucketSlot { param: 3, offset: 35, len: 10 });
        assert_eq!(plan.elements(), 305);
        assert_eq!(plan.largest(), 200);
        assert!(plan.buckets().iter().all(|b| b.len <= 100 || b.slots.len() == 1));
    }

    #[test]
    fn the_plan_does_not_depend_on_the_given_order() {
        let a = [("b", 3), ("a", 4), ("c", 5)];
        let b = [("c", 5), ("a", 4), ("b", 3)];
        let names = |p: &[(&str, usize)]| -> Vec<Vec<String>> {
            BucketPlan::new(p, 8)
                .buckets()
                .iter()
                .map(|bk| bk.slots.iter().map(|s| p[s.param].0.to_string()).collect())
                .collect()
        };
        assert_eq!(names(&a), names(&b));
        assert!(BucketPlan::new(&[], 8).buckets().is_empty());
    }
}
