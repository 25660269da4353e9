//! `dropout2d`: channel dropout with the module's own seeded generator.

use crate::spatial::image;
use crate::{register_layer, DropUnit, DropoutLayerConfig, LayerError, MaskedDropout};
use nabla_autograd::{dropout2d, Var};
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
pub type Dropout2d = MaskedDropout<Channels>;

/// Whole channels `[H, W]` of `[N, C, H, W]` input: [`Dropout2d`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Channels;

impl DropUnit for Channels {
    const NAME: &'static str = "dropout2d";

    fn forward<T: Element>(x: &Var<T>, p: f64, training: bool, rng: &mut Rng) -> Result<Var<T>, LayerError> {
        Ok(dropout2d(x, p, training, rng)?)
    }

    /// Image samples `[C, H, W]`, unchanged.
    fn output_shape(input: &[usize]) -> Result<Vec<usize>, LayerError> {
        image(Self::NAME, input)?;
        Ok(input.to_vec())
    }

    /// Never: the op takes `[N, C, H, W]` input only, in evaluation mode too.
    fn passes_columns(_p: f64, _training: bool) -> bool {
        false
    }
}

/// The hyper-parameters of [`Dropout2d`] (registry name `dropout2d`).
pub type Dropout2dConfig = DropoutLayerConfig<Channels>;

register_layer!(Dropout2dConfig,
    name: "dropout2d",
    summary: "channel dropout: zero whole channels of [N, C, H, W] with probability p in training",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_module, BuildContext, Module};
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
