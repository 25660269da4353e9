//! `Fingerprint` and `check_agreement`: every rank must train the same config on the same
//! data; a SHA-256 of each (truncated to 64 bits) is gathered from every rank at start and
//! compared with rank 0's, so a rank started with another config file, another `--set` or
//! another copy of the data is reported on every rank before any training step.

use crate::{Collective, DistributedError};
use sha2::{Digest, Sha256};

/// A running SHA-256 over bytes, reduced to its first 64 bits.
#[derive(Clone, Debug, Default)]
pub struct Fingerprint {
    hasher: Sha256,
}

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Fingerprint {
        Fingerprint::default()
    }

    /// Adds bytes; the length is hashed first, so `ab` + `c` differs from `a` + `bc`.
    pub fn update(&mut self, bytes: &[u8]) -> &mut Fingerprint {
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
        self
    }

    /// Adds `f32` values by their bits.
    pub fn update_f32(&mut self, values: &[f32]) -> &mut Fingerprint {
        self.hasher.update((values.len() as u64).to_le_bytes());
        for v in values {
            self.hasher.update(v.to_bits().to_le_bytes());
        }
        self
    }

    /// Adds integers (labels, shapes).
    pub fn update_usize(&mut self, values: &[usize]) -> &mut Fingerprint {
        self.hasher.update((values.len() as u64).to_le_bytes());
        for v in values {
            self.hasher.update((*v as u64).to_le_bytes());
        }
        self
    }

    /// The first 64 bits of the digest.
    pub fn finish(&self) -> u64 {
        let digest = self.hasher.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }
}

/// Gathers `value` (a fingerprint of `what`) from every rank and compares each with rank 0's.
/// Every rank gets the same answer, so on a mismatch every rank returns
/// [`DistributedError::Mismatch`] listing the differing ranks.
pub fn check_agreement(group: &dyn Collective, what: &str, value: u64) -> Result<(), DistributedError> {
    let all = group.all_gather_u64(value, &format!("all-gather of the {what} fingerprint"))?;
    if all.len() != group.size() {
        return Err(DistributedError::Invalid(format!(
            "the all-gather of the {what} fingerprint returned {} values for {} ranks",
            all.len(),
            group.size()
        )));
    }
    let reference = all[0];
    let differing: Vec<(usize, u64)> =
        all.iter().enumerate().skip(1).filter(|(_, &f)| f != reference).map(|(r, &f)| (r, f)).collect();
    if differing.is_empty() {
        return Ok(());
    }
    Err(DistributedError::Mismatch {
        what: what.to_string(),
        rank: group.rank(),
        size: group.size(),
        reference,
        differing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ThreadGroup;

    #[test]
    fn fingerprints_separate_values_and_boundaries() {
        let f = |parts: &[&[u8]]| {
            let mut fp = Fingerprint::new();
            parts.iter().for_each(|p| {
                fp.update(p);
            });
            fp.finish()
        };
        assert_eq!(f(&[b"abc"]), f(&[b"abc"]));
        assert_ne!(f(&[b"ab", b"c"]), f(&[b"a", b"bc"]));
        assert_ne!(
            Fingerprint::new().update_f32(&[0.0]).finish(),
            Fingerprint::new().update_f32(&[-0.0]).finish()
        );
    }

    #[test]
    fn a_differing_rank_is_reported_on_every_rank() {
        let results = ThreadGroup::run(3, |group| {
            let value = if group.rank() == 2 { 7 } else { 5 };
            check_agreement(&group, "effective config", value).map_err(|e| e.to_string())
        });
        for (rank, r) in results.iter().enumerate() {
            let message = r.as_ref().expect_err("mismatch");
            assert!(message.contains(&format!("rank {rank} of 3")), "{message}");
            assert!(message.contains("differing: rank 2: 0000000000000007"), "{message}");
        }
        let agree = ThreadGroup::run(2, |group| check_agreement(&group, "data", 9).is_ok());
        assert_eq!(agree, vec![true, true]);
    }
}
