//! `flatten`: merge a range of dimensions into one.

use crate::activations::resolve_dim;
use crate::{register_layer, LayerError, Module};
use nabla_autograd::Var;
use nabla_registry::ParamSpec;
use nabla_tensor::Element;

/// Merges dimensions `start_dim..=end_dim` into one, PyTorch's `nn.Flatten`: with the
/// defaults (`start_dim = 1`, `end_dim = -1`) an input `[N, d1, d2, ...]` becomes
/// `[N, d1 * d2 * ...]`. Negative dimensions count from the end.
///
/// When the shape does not change (a `[N, F]` input) the input variable itself is returned
/// (no copy); otherwise the elements are copied once, in row-major order. The number of
/// features per sample (what [`Module::out_features`] tracks) is unchanged.
///
/// Hyper-parameters: `start_dim` = 1, `end_dim` = -1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flatten {
    start_dim: i64,
    end_dim: i64,
    training: bool,
}

impl Flatten {
    /// Flattens `start_dim..=end_dim` (checked against the input at forward time).
    pub fn new(start_dim: i64, end_dim: i64) -> Self {
        Flatten { start_dim, end_dim, training: true }
    }

    /// The shape of the output for an input of `shape`.
    ///
    /// # Errors
    /// [`LayerError::Invalid`] for a 0-d input, dimensions out of range, or `start_dim`
    /// after `end_dim`.
    pub fn output_shape(&self, shape: &[usize]) -> Result<Vec<usize>, LayerError> {
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
        let mut out = shape[..s].to_vec();
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

impl<T: Element> Module<T> for Flatten {
    fn name(&self) -> &str {
        "flatten"
    }

    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        let shape = input.shape();
        let out = self.output_shape(&shape)?;
        if out == shape {
            return Ok(input.clone());
        }
        Ok(input.reshape(&out)?)
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn is_training(&self) -> bool {
        self.training
    }

    fn describe(&self) -> String {
        format!("Flatten(start_dim={}, end_dim={})", self.start_dim, self.end_dim)
    }
}

register_layer! {
    name: "flatten",
    summary: "merges dimensions start_dim..=end_dim into one",
    params: &[
        ParamSpec::int("start_dim", 1, "first dimension to flatten (negative: from the end)"),
        ParamSpec::int("end_dim", -1, "last dimension to flatten (negative: from the end)"),
    ],
    build: |p, _| Ok(Box::new(Flatten::new(p.i64("start_dim")?, p.i64("end_dim")?))),
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(Flatten::new(0, 1).output_shape(&[2, 3, 4]).unwrap(), vec![6, 4]);
        assert_eq!(Flatten::new(-2, -1).output_shape(&[2, 3, 4]).unwrap(), vec![2, 12]);
        assert_eq!(Flatten::new(1, 1).output_shape(&[2, 3, 4]).unwrap(), vec![2, 3, 4]);
        assert!(Flatten::new(2, 1).output_shape(&[2, 3, 4]).is_err());
        assert!(Flatten::new(1, 3).output_shape(&[2, 3, 4]).is_err());
        assert!(Flatten::default().output_shape(&[]).is_err());
        let x = Var::<f32>::constant(ArrayD::zeros(IxDyn(&[4, 5])));
        assert!(Module::<f32>::forward(&mut Flatten::default(), &x).unwrap().ptr_eq(&x));
    }

    #[test]
    fn registered() {
        let mut rng = nabla_tensor::Rng::seed(0);
        let mut ctx = crate::BuildContext::new(12, &mut rng);
        let mut m = crate::build_module("flatten", &Default::default(), &mut ctx).unwrap();
        let y = m.forward(&Var::constant(ArrayD::zeros(IxDyn(&[2, 3, 4])))).unwrap();
        assert_eq!(y.shape(), vec![2, 12]);
        assert_eq!(m.out_features(12), 12);
        assert_eq!(m.describe(), "Flatten(start_dim=1, end_dim=-1)");
    }
}
