//! PyTorch-style dimension arguments of the layers (`dim`, `start_dim`, ...): resolving one
//! against an input, and the sample shape through a layer whose shape rule counts the batch
//! axis, as those arguments do.

use crate::LayerError;

/// Resolves a PyTorch-style dimension (negative counts from the end) for an input of `ndim`
/// dimensions.
pub(crate) fn resolve_dim(component: &str, dim: i64, ndim: usize) -> Result<usize, LayerError> {
    let n = ndim as i64;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        return Err(LayerError::invalid(
            component,
            format!(
                "dim {dim} is out of range for an input with {ndim} dimensions (valid: {} to {})",
                -n,
                n - 1
            ),
        ));
    }
    Ok(d as usize)
}

/// The shape of one output sample for input samples of shape `sample`, through a layer whose
/// shape rule `whole` takes whole inputs (batch axis included, as PyTorch counts dimensions):
/// the rule on a batch of one, whose axis is dropped again (the batch size does not matter to
/// a shape rule). The rule reports a dimension that would touch the batch axis.
///
/// # Errors
/// As `whole`.
pub(crate) fn per_sample(
    sample: &[usize],
    whole: impl FnOnce(&[usize]) -> Result<Vec<usize>, LayerError>,
) -> Result<Vec<usize>, LayerError> {
    let batch: Vec<usize> = std::iter::once(1).chain(sample.iter().copied()).collect();
    Ok(whole(&batch)?.split_off(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_dims_count_from_the_end() {
        assert_eq!(resolve_dim("softmax", 1, 2).unwrap(), 1);
        assert_eq!(resolve_dim("softmax", -1, 3).unwrap(), 2);
        assert_eq!(resolve_dim("softmax", -3, 3).unwrap(), 0);
        assert!(resolve_dim("softmax", 2, 2).is_err());
        assert!(resolve_dim("softmax", -3, 2).is_err());
    }
}
