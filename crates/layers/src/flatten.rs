//! `flatten`: merge a range of dimensions into one.

use crate::dims::{per_sample, resolve_dim};
use crate::module::flag_module;
use crate::{LayerError, TrainingMode};
use nabla_autograd::Shape;
use nabla_registry::HyperParams;

/// Merges dimensions `start_dim..=end_dim` into one, PyTorch's `nn.Flatten`: with the
/// defaults (`start_dim = 1`, `end_dim = -1`) an input `[N, d1, d2, ...]` becomes
/// `[N, d1 * d2 * ...]`. Negative dimensions count from the end.
///
/// When the shape does not change (a `[N, F]` input) the input variable itself is returned
/// (no copy); otherwise the elements are copied once, in row-major order. The dimensions count
/// the batch axis, as in PyTorch, so in a model (where [`Module::output_shape`] sees samples
/// without it) `start_dim` 0 would merge the batch into the features and is an error, unless
/// it merges nothing (`end_dim` 0).
///
/// Hyper-parameters: `start_dim` = 1, `end_dim` = -1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, HyperParams)]
pub struct Flatten {
    /// first dimension to flatten (negative: from the end)
    #[param(default = 1)]
    start_dim: i64,
    /// last dimension to flatten (negative: from the end)
    #[param(default = -1)]
    end_dim: i64,
    #[param(skip)]
    training: TrainingMode,
}

impl Flatten {
    /// Flattens `start_dim..=end_dim` (checked against the input at forward time).
    pub fn new(start_dim: i64, end_dim: i64) -> Self {
        Flatten { start_dim, end_dim, training: TrainingMode::default() }
    }

    /// The shape of the output for a whole input (batch axis included) of `shape`.
    ///
    /// # Errors
    /// [`LayerError::Invalid`] for a 0-d input, dimensions out of range, or `start_dim`
    /// after `end_dim`.
    pub fn flattened_shape(&self, shape: &[usize]) -> Result<Shape, LayerError> {
        if shape.is_empty() {
            return Err(LayerError::invalid("flatten", "cannot flatten a 0-d input"));
        }
        let s = resolve_dim("flatten", self.start_dim, shape.len())?;
        let e = resolve_dim("flatten", self.end_dim, shape.len())?;
        if s > e {
            return Err(LayerError::invalid(
                "flatten",
                format!(
                    "start_dim {} comes after end_dim {} for an input of shape {shape:?}",
                    self.start_dim, self.end_dim
                ),
            ));
        }
        let mut out = Shape::from_slice(&shape[..s]);
        out.push(shape[s..=e].iter().product());
        out.extend_from_slice(&shape[e + 1..]);
        Ok(out)
    }
}

impl Default for Flatten {
    /// `start_dim = 1`, `end_dim = -1`.
    fn default() -> Self {
        Flatten::new(1, -1)
    }
}

flag_module!(Flatten,
    name: "flatten",
    summary: "merges dimensions start_dim..=end_dim into one",
    forward: |flatten, input| {
        let out = flatten.flattened_shape(input.value().shape())?;
        if out[..] == input.value().shape()[..] {
            return Ok(input.clone());
        }
        Ok(input.reshape(&out)?)
    },
    output_shape: |flatten, sample| per_sample(sample, |batch| {
        let start = resolve_dim("flatten", flatten.start_dim, batch.len())?;
        let end = resolve_dim("flatten", flatten.end_dim, batch.len())?;
        if start == 0 && end > 0 {
            return Err(LayerError::invalid(
                "flatten",
                format!(
                    "start_dim {} merges the batch axis into the features of samples {sample:?}; \
                     a layer of a model keeps the batch axis (use start_dim = 1)",
                    flatten.start_dim
                ),
            ));
        }
        flatten.flattened_shape(batch).map(|s| s.to_vec())
    }),
    describe: |flatten| format!("Flatten(start_dim={}, end_dim={})", flatten.start_dim, flatten.end_dim),
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Module;
    use nabla_autograd::Var;
    use nabla_tensor::ndarray::{ArrayD, IxDyn};

    #[test]
    fn merges_trailing_dims_and_passes_gradients_back() {
        let data = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| (i[0] * 12 + i[1] * 4 + i[2]) as f64);
        let x = Var::param(data.clone());
        let y = Module::<f64>::forward(&mut Flatten::default(), &x).unwrap();
        assert_eq!(y.shape(), vec![2, 12]);
        assert_eq!(y.value().iter().copied().collect::<Vec<_>>(), data.iter().copied().collect::<Vec<_>>());
        y.backward_with(ArrayD::from_elem(IxDyn(&[2, 12]), 2.0)).unwrap();
        assert_eq!(x.grad().unwrap().shape(), &[2, 3, 4]);
        assert!(x.grad().unwrap().iter().all(|&g| g == 2.0));
    }

    #[test]
    fn ranges_and_no_copy_when_already_flat() {
        assert_eq!(Flatten::new(0, 1).flattened_shape(&[2, 3, 4]).unwrap()[..], [6, 4]);
        assert_eq!(Flatten::new(-2, -1).flattened_shape(&[2, 3, 4]).unwrap()[..], [2, 12]);
        assert_eq!(Flatten::new(1, 1).flattened_shape(&[2, 3, 4]).unwrap()[..], [2, 3, 4]);
        assert!(Flatten::new(2, 1).flattened_shape(&[2, 3, 4]).is_err());
        assert!(Flatten::new(1, 3).flattened_shape(&[2, 3, 4]).is_err());
        assert!(Flatten::default().flattened_shape(&[]).is_err());
        let x = Var::<f32>::constant(ArrayD::zeros(IxDyn(&[4, 5])));
        assert!(Module::<f32>::forward(&mut Flatten::default(), &x).unwrap().ptr_eq(&x));
    }

    #[test]
    fn sample_shapes_leave_the_batch_axis_alone() {
        let f = |start, end, sample: &[usize]| Module::<f32>::output_shape(&Flatten::new(start, end), sample);
        assert_eq!(f(1, -1, &[3, 4, 5]).unwrap(), [60]);
        assert_eq!(f(2, 3, &[3, 4, 5]).unwrap(), [3, 20]);
        assert_eq!(f(-2, -1, &[3, 4, 5]).unwrap(), [3, 20]);
        assert_eq!(f(1, -1, &[12]).unwrap(), [12]);
        assert_eq!(f(0, 0, &[12]).unwrap(), [12]);
        let err = f(0, -1, &[3, 4]).unwrap_err().to_string();
        assert!(err.contains("batch axis"), "{err}");
        assert!(f(1, 4, &[3, 4]).is_err());
    }

    #[test]
    fn registered() {
        let mut ctx = crate::BuildContext::new([3, 4], nabla_tensor::Rng::seed(0));
        let mut m = crate::build_module("flatten", &Default::default(), &mut ctx).unwrap();
        let y = m.forward(&Var::constant(ArrayD::zeros(IxDyn(&[2, 3, 4])))).unwrap();
        assert_eq!(y.shape(), vec![2, 12]);
        assert_eq!(m.output_shape(&[3, 4]).unwrap(), [12]);
        assert_eq!(m.output_shape(&[12]).unwrap(), [12]);
        assert_eq!(m.describe(), "Flatten(start_dim=1, end_dim=-1)");
    }
}
