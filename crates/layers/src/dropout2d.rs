//! `dropout2d`: channel dropout with the module's own seeded generator.

use crate::dropout::drop_probability;
use crate::module::{join_name, training_flag};
use crate::spatial::image;
use crate::{register_layer, BuildContext, BuildLayer, LayerError, Module, TrainingMode};
use nabla_autograd::{dropout2d, Var};
use nabla_registry::HyperParams;
use nabla_tensor::{Element, Rng};

/// Channel dropout, PyTorch's `nn.Dropout2d`; Tompson et al. (2015), "Efficient Object
/// Localization Using Convolutional Networks", CVPR.
///
/// In training mode every whole channel `x[n, c, :, :]` of an `[N, C, H, W]` input is zeroed
/// with probability `p` and the kept channels are scaled by `1 / (1 - p)`; in evaluation mode
/// (and for `p = 0`) it is the identity. The masks (one draw per `(n, c)`) come from the
/// module's own generator, forked from the model's, exposed as `rng` for checkpoints.
///
/// Hyper-parameters ([`Dropout2dConfig`]): `p` = 0.5, in `[0, 1)`.
#[derive(Clone, Debug)]
pub struct Dropout2d {
    p: f64,
    rng: Rng,
    training: TrainingMode,
}

impl Dropout2d {
    /// A channel dropout with probability `p` whose masks come from `rng`.
    ///
    /// # Errors
    /// [`LayerError::Invalid`] when `p` is not in `[0, 1)`.
    pub fn new(p: f64, rng: Rng) -> Result<Self, LayerError> {
        Ok(Dropout2d { p: drop_probability("dropout2d", p)?, rng, training: TrainingMode::default() })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl<T: Element> Module<T> for Dropout2d {
    fn name(&self) -> &str {
        "dropout2d"
    }

    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        Ok(dropout2d(input, self.p, self.training.is_training(), &mut self.rng)?)
    }

    /// Image samples `[C, H, W]`, unchanged.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, LayerError> {
        image("dropout2d", input)?;
        Ok(input.to_vec())
    }

    fn visit_rngs_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Rng)) {
        f(&join_name(prefix, "rng"), &mut self.rng);
    }

    training_flag!();

    fn describe(&self) -> String {
        format!("Dropout2d(p={})", self.p)
    }
}

/// The hyper-parameters of [`Dropout2d`] (registry name `dropout2d`); its mask generator is
/// forked from the model's generator.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct Dropout2dConfig {
    /// probability of zeroing a channel
    #[param(default = 0.5, range = UNIT_HALF_OPEN)]
    pub p: f64,
}

impl BuildLayer for Dropout2dConfig {
    fn build_layer(&mut self, ctx: &mut BuildContext) -> Result<Box<dyn Module<f32>>, LayerError> {
        Ok(Box::new(Dropout2d::new(self.p, ctx.rng.fork())?))
    }
}

register_layer!(Dropout2dConfig,
    name: "dropout2d",
    summary: "channel dropout: zero whole channels of [N, C, H, W] with probability p in training",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_module;
    use nabla_registry::RawParams;
    use nabla_tensor::ndarray::{s, ArrayD, IxDyn};

    #[test]
    fn drops_whole_channels_in_training_only() {
        let mut ctx = BuildContext::new([16, 3, 3], Rng::seed(2));
        let mut m = build_module("dropout2d", &RawParams::new(), &mut ctx).unwrap();
        let x = Var::constant(ArrayD::from_elem(IxDyn(&[4, 16, 3, 3]), 1.0f32));
        let y = m.forward(&x).unwrap();
        let v = y.value();
        let mut dropped = 0;
        for n in 0..4usize {
            for c in 0..16usize {
                let ch = v.slice(s![n, c, .., ..]);
                let first = ch[[0, 0]];
                assert!(first == 0.0 || first == 2.0);
                assert!(ch.iter().all(|&e| e == first));
                dropped += usize::from(first == 0.0);
            }
        }
        assert!((10..54).contains(&dropped), "{dropped} of 64 channels dropped at p = 0.5");
        m.eval();
        assert!(m.forward(&x).unwrap().ptr_eq(&x));
        let mut flat = BuildContext::new([16], Rng::seed(0));
        assert!(build_module("dropout2d", &RawParams::new(), &mut flat)
            .unwrap_err()
            .to_string()
            .contains("[16]"));
        assert!(Dropout2d::new(1.0, Rng::seed(0)).is_err());
    }
}
