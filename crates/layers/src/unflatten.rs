//! `unflatten`: split one dimension into several (flat IDX images to `[N, C, H, W]`).

use crate::dims::{per_sample, resolve_dim};
use crate::module::flag_module;
use crate::{LayerError, TrainingMode};
use nabla_autograd::Shape;
use nabla_registry::HyperParams;

/// Splits dimension `dim` into `unflattened_size`, PyTorch's `nn.Unflatten`: with `dim = 1`,
/// `unflattened_size = [1, 28, 28]` a batch of flat MNIST images `[N, 784]` becomes
/// `[N, 1, 28, 28]`. One size may be `-1` (inferred). The inverse of
/// [`Flatten`](crate::Flatten); the elements keep their row-major order (the view is copied
/// once, into a pooled buffer).
///
/// `dim` counts the batch axis, as in PyTorch (negative: from the end); in a model the batch
/// axis cannot be split (`dim = 0` is an error).
///
/// Hyper-parameters: `dim` (required), `unflattened_size` (required, a list of sizes).
#[derive(Clone, Debug, PartialEq, Eq, HyperParams)]
pub struct Unflatten {
    /// the dimension to split (counting the batch axis; negative: from the end)
    dim: i64,
    /// the sizes it is split into (one may be -1)
    unflattened_size: Vec<i64>,
    #[param(skip)]
    training: TrainingMode,
}

impl Unflatten {
    /// Splits `dim` into `sizes` (checked against the input when the shape is known).
    pub fn new(dim: i64, sizes: Vec<i64>) -> Self {
        Unflatten { dim, unflattened_size: sizes, training: TrainingMode::default() }
    }

    /// The output shape for a whole input (batch axis included) of `shape`.
    ///
    /// # Errors
    /// [`LayerError::Invalid`] when `dim` is out of range, the sizes are empty, not positive
    /// (except one `-1`), or do not multiply to the size of `dim`.
    pub fn unflattened_shape(&self, shape: &[usize]) -> Result<Shape, LayerError> {
        let d = resolve_dim("unflatten", self.dim, shape.len())?;
        let sizes = &self.unflattened_size;
        let bad = |why: String| LayerError::invalid("unflatten", why);
        let unknown = sizes.iter().filter(|&&s| s == -1).count();
        if sizes.is_empty() || unknown > 1 || sizes.iter().any(|&s| s == 0 || s < -1) {
            return Err(bad(format!("unflattened_size {sizes:?}: sizes must be >= 1, with at most one -1")));
        }
        let known = sizes
            .iter()
            .filter(|&&s| s > 0)
            .try_fold(1usize, |acc, &s| acc.checked_mul(s as usize))
            .ok_or_else(|| bad(format!("unflattened_size {sizes:?}: the product overflows")))?;
        let size = shape[d];
        let fits = if unknown == 1 { size.is_multiple_of(known) } else { size == known };
        if !fits {
            return Err(bad(format!(
                "unflattened_size {sizes:?} does not fit dimension {} of size {size} (input {shape:?})",
                self.dim
            )));
        }
        let mut out = Shape::from_slice(&shape[..d]);
        out.extend(sizes.iter().map(|&s| if s == -1 { size / known } else { s as usize }));
        out.extend_from_slice(&shape[d + 1..]);
        Ok(out)
    }
}

flag_module!(Unflatten,
    name: "unflatten",
    summary: "splits dimension dim into unflattened_size (flat images to [C, H, W])",
    forward: |unflatten, input| {
        let out = unflatten.unflattened_shape(input.value().shape())?;
        Ok(input.reshape(&out)?)
    },
    output_shape: |unflatten, sample| per_sample(sample, |batch| {
        if resolve_dim("unflatten", unflatten.dim, batch.len())? == 0 {
            return Err(LayerError::invalid(
                "unflatten",
                format!(
                    "dim {} is the batch axis of samples {sample:?}; a layer of a model keeps it (use dim = 1)",
                    unflatten.dim
                ),
            ));
        }
        unflatten.unflattened_shape(batch).map(|s| s.to_vec())
    }),
    describe: |unflatten| {
        format!("Unflatten(dim={}, unflattened_size={:?})", unflatten.dim, unflatten.unflattened_size)
    },
);

#[cfg(test)]
mod tests {
    use crate::{build_module, BuildContext};
    use nabla_autograd::Var;
    use nabla_registry::{RawParams, Value};
    use nabla_tensor::ndarray::{ArrayD, IxDyn};
    use nabla_tensor::Rng;

    fn spec(dim: i64, sizes: &[i64]) -> RawParams {
        [
            ("dim".to_string(), Value::Int(dim)),
            ("unflattened_size".to_string(), Value::List(sizes.iter().map(|&s| Value::Int(s)).collect())),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn flat_images_become_nchw_and_back() {
        let mut ctx = BuildContext::new([12], Rng::seed(0));
        let mut m = build_module("unflatten", &spec(1, &[1, 3, 4]), &mut ctx).unwrap();
        assert_eq!(m.output_shape(&[12]).unwrap(), [1, 3, 4]);
        let data = ArrayD::from_shape_fn(IxDyn(&[2, 12]), |i| (i[0] * 12 + i[1]) as f32);
        let x = Var::param(data.clone());
        let y = m.forward(&x).unwrap();
        assert_eq!(y.shape(), [2, 1, 3, 4]);
        assert_eq!(y.value()[[1, 0, 2, 3]], 23.0);
        y.sum().backward().unwrap();
        assert_eq!(x.grad().unwrap().shape(), &[2, 12]);
        assert_eq!(
            build_module("unflatten", &spec(-1, &[-1, 4]), &mut ctx).unwrap().output_shape(&[12]).unwrap(),
            [3, 4]
        );
        assert_eq!(m.describe(), "Unflatten(dim=1, unflattened_size=[1, 3, 4])");
    }

    #[test]
    fn sizes_that_do_not_fit_are_errors() {
        let mut ctx = BuildContext::new([12], Rng::seed(0));
        for (dim, sizes, needle) in [
            (1, &[1, 3, 5][..], "does not fit"),
            (1, &[-1, -1][..], "at most one -1"),
            (1, &[0, 12][..], ">= 1"),
            (1, &[][..], ">= 1"),
            (0, &[1, 12][..], "batch axis"),
            (3, &[1, 12][..], "out of range"),
            (1, &[-1, 5][..], "does not fit"),
        ] {
            let e = build_module("unflatten", &spec(dim, sizes), &mut ctx).unwrap_err().to_string();
            assert!(e.contains("unflatten") && e.contains(needle), "{sizes:?}: {e}");
        }
        let missing: RawParams = [("dim".to_string(), Value::Int(1))].into_iter().collect();
        assert!(build_module("unflatten", &missing, &mut ctx).is_err());
    }
}
