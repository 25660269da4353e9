//! Shared by the property tests of the ops (`conv_ops`, `gradcheck_ops`).

use nabla_autograd::{gradcheck, GradcheckOptions, Var};
use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::Rng;
use proptest::prelude::*;

/// Uniform values in `[lo, hi)` of the given shape, from `seed`.
pub fn arr(shape: &[usize], seed: u64, lo: f64, hi: f64) -> ArrayD<f64> {
    Rng::seed(seed).uniform_array(shape, lo, hi)
}

/// Gradcheck (default tolerances) of `f` over `inputs`, with respect to the inputs `wrt` marks
/// (all when `None`), as a proptest case: it fails on a mismatch, or when nothing was checked
/// though some input has elements.
pub fn check_wrt(
    f: impl Fn(&[Var<f64>]) -> nabla_autograd::Result<Var<f64>>,
    inputs: &[ArrayD<f64>],
    wrt: Option<Vec<bool>>,
) -> Result<(), TestCaseError> {
    let opts = GradcheckOptions { wrt, ..GradcheckOptions::default() };
    match gradcheck(f, inputs, &opts) {
        Ok(r) => {
            prop_assert!(r.checked > 0 || inputs.iter().all(|a| a.is_empty()));
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(e.to_string())),
    }
}
