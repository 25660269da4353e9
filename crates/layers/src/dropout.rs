//! `dropout`: inverted dropout with the module's own seeded generator.

use crate::module::{join_name, training_flag};
use crate::{register_layer, BuildContext, BuildLayer, LayerError, Module, TrainingMode};
use nabla_autograd::{dropout_mask, dropout_with_mask, ColumnStep, Var};
use nabla_registry::HyperParams;
use nabla_tensor::{Element, Rng};
use std::marker::PhantomData;

/// Inverted dropout, PyTorch's `nn.Dropout`; Srivastava et al. (2014), "Dropout: A Simple Way
/// to Prevent Neural Networks from Overfitting", JMLR.
///
/// In training mode every element is zeroed with probability `p` and the kept ones are scaled
/// by `1 / (1 - p)`, so the expectation is unchanged: `y = x * m / (1 - p)`,
/// `m ~ Bernoulli(1 - p)`; the gradient is the same mask times the upstream gradient. In
/// evaluation mode (and for `p = 0`) it is the identity and returns the input itself.
///
/// The masks come from the module's own generator (forked from the model's generator when
/// built from the registry), so a seed fixes every mask; the generator is exposed as `rng`
/// through [`Module::visit_rngs_mut`] for checkpoints. One mask is one pooled buffer filled
/// in a single pass (no per-element allocation).
///
/// Hyper-parameters ([`DropoutConfig`]): `p` = 0.5, in `[0, 1)` (`p = 1` would zero everything
/// and divide by zero; it is an error, as is anything outside the range).
pub type Dropout = MaskedDropout<Elements>;

/// What a [`MaskedDropout`] zeroes at once, with probability `p`: each element
/// ([`Elements`], the layer [`Dropout`]) or each whole channel ([`Channels`](crate::Channels),
/// [`Dropout2d`](crate::Dropout2d)).
pub trait DropUnit: Clone + Copy + std::fmt::Debug + PartialEq + 'static {
    /// The registered name of the layer (`"dropout"`).
    const NAME: &'static str;

    /// The forward of `x` in training mode (`training`) or evaluation mode, with masks from
    /// `rng`.
    ///
    /// # Errors
    /// An input the unit cannot take.
    fn forward<T: Element>(x: &Var<T>, p: f64, training: bool, rng: &mut Rng) -> Result<Var<T>, LayerError>;

    /// The shape of an output sample for input samples of shape `input` (the same; a unit
    /// may accept only some shapes).
    ///
    /// # Errors
    /// [`LayerError::Invalid`] for samples the unit cannot take.
    fn output_shape(input: &[usize]) -> Result<Vec<usize>, LayerError>;

    /// Whether the layer, with `p` and in this mode, passes a `[N, F]` input through, so a
    /// fused column pass can skip it ([`Module::column_steps`]).
    fn passes_columns(p: f64, training: bool) -> bool;
}

/// Each element on its own: [`Dropout`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Elements;

impl DropUnit for Elements {
    const NAME: &'static str = "dropout";

    fn forward<T: Element>(x: &Var<T>, p: f64, training: bool, rng: &mut Rng) -> Result<Var<T>, LayerError> {
        if Self::passes_columns(p, training) {
            return Ok(x.clone());
        }
        let mask = dropout_mask::<T>(x.value().shape(), p, rng)?;
        Ok(dropout_with_mask(x, mask)?)
    }

    fn output_shape(input: &[usize]) -> Result<Vec<usize>, LayerError> {
        Ok(input.to_vec())
    }

    /// In evaluation mode (or with `p = 0`) the input passes through.
    fn passes_columns(p: f64, training: bool) -> bool {
        !training || p == 0.0
    }
}

/// A dropout layer whose masks come from its own generator: the one implementation of
/// [`Dropout`] and [`Dropout2d`](crate::Dropout2d), which differ in their [`DropUnit`].
///
/// The generator is exposed as `rng` through [`Module::visit_rngs_mut`] for checkpoints.
#[derive(Clone, Debug)]
pub struct MaskedDropout<U: DropUnit> {
    p: f64,
    rng: Rng,
    training: TrainingMode,
    unit: PhantomData<U>,
}

impl<U: DropUnit> MaskedDropout<U> {
    /// A dropout with probability `p` whose masks come from `rng`.
    ///
    /// # Errors
    /// [`LayerError::Invalid`] when `p` is not in `[0, 1)`.
    pub fn new(p: f64, rng: Rng) -> Result<Self, LayerError> {
        Ok(MaskedDropout {
            p: drop_probability(U::NAME, p)?,
            rng,
            training: TrainingMode::default(),
            unit: PhantomData,
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The mask generator.
    pub fn rng(&self) -> &Rng {
        &self.rng
    }

    /// The mask generator, mutably (to restore it from a checkpoint).
    pub fn rng_mut(&mut self) -> &mut Rng {
        &mut self.rng
    }
}

/// `p` when it is a drop probability in `[0, 1)`: `p = 1` would zero everything and scale by
/// `1 / 0`.
fn drop_probability(component: &str, p: f64) -> Result<f64, LayerError> {
    if (0.0..1.0).contains(&p) {
        Ok(p)
    } else {
        Err(LayerError::invalid(component, format!("p must be in [0, 1), got {p}")))
    }
}

impl<T: Element, U: DropUnit> Module<T> for MaskedDropout<U> {
    fn name(&self) -> &str {
        U::NAME
    }

    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        U::forward(input, self.p, self.training.is_training(), &mut self.rng)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, LayerError> {
        U::output_shape(input)
    }

    fn column_steps(&self, _steps: &mut Vec<ColumnStep<T>>) -> bool {
        U::passes_columns(self.p, self.training.is_training())
    }

    fn visit_rngs_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Rng)) {
        f(&join_name(prefix, "rng"), &mut self.rng);
    }

    training_flag!();

    /// PyTorch's class name, which for both units is the registered name capitalized
    /// (`Dropout(p=0.5)`, `Dropout2d(p=0.5)`).
    fn describe(&self) -> String {
        let (first, rest) = U::NAME.split_at(1);
        format!("{}{rest}(p={})", first.to_uppercase(), self.p)
    }
}

/// The hyper-parameters of a [`MaskedDropout`]: [`DropoutConfig`] (registry name `dropout`)
/// and [`Dropout2dConfig`](crate::Dropout2dConfig) (`dropout2d`). The layer's mask generator
/// is forked from the model's generator.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct DropoutLayerConfig<U: DropUnit> {
    /// probability of zeroing an element (dropout) or a whole channel (dropout2d)
    #[param(default = 0.5, range = UNIT_HALF_OPEN)]
    pub p: f64,
    #[param(skip)]
    unit: PhantomData<U>,
}

impl<U: DropUnit> DropoutLayerConfig<U> {
    /// The hyper-parameters with drop probability `p` (checked when the layer is built).
    pub fn new(p: f64) -> Self {
        DropoutLayerConfig { p, unit: PhantomData }
    }
}

/// The hyper-parameters of [`Dropout`] (registry name `dropout`).
pub type DropoutConfig = DropoutLayerConfig<Elements>;

impl<U: DropUnit> BuildLayer for DropoutLayerConfig<U> {
    fn build_layer(&mut self, ctx: &mut BuildContext) -> Result<Box<dyn Module<f32>>, LayerError> {
        Ok(Box::new(MaskedDropout::<U>::new(self.p, ctx.rng.fork())?))
    }
}

register_layer!(DropoutConfig,
    name: "dropout",
    summary: "inverted dropout: zero with probability p, scale the rest by 1/(1-p) in training",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_module, BuildContext};
    use nabla_registry::{RawParams, Value};
    use nabla_tensor::ndarray::{ArrayD, IxDyn};

    fn ones(n: usize) -> Var<f64> {
        Var::param(ArrayD::from_elem(IxDyn(&[n, 50]), 1.0))
    }

    #[test]
    fn zeroes_about_p_and_scales_the_rest() {
        let mut d = Dropout::new(0.3, Rng::seed(1)).unwrap();
        let x = ones(200);
        let y = Module::<f64>::forward(&mut d, &x).unwrap();
        let v = y.value();
        let scale = 1.0 / 0.7;
        assert!(v.iter().all(|&e| e == 0.0 || (e - scale).abs() < 1e-15));
        let dropped = v.iter().filter(|&&e| e == 0.0).count() as f64 / v.len() as f64;
        // 10000 Bernoulli(0.3) draws: std 0.0046; 5 sigma.
        assert!((dropped - 0.3).abs() < 0.023, "{dropped}");
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 1.0).abs() < 0.05, "{mean}");
        let kept: Vec<bool> = v.iter().map(|&e| e != 0.0).collect();
        drop(v);
        y.sum().backward().unwrap();
        let g = x.grad().unwrap();
        for (gi, k) in g.iter().zip(kept) {
            assert_eq!(*gi, if k { scale } else { 0.0 });
        }
    }

    #[test]
    fn identity_in_eval_and_for_p_zero() {
        let mut d = Dropout::new(0.5, Rng::seed(1)).unwrap();
        Module::<f64>::set_training(&mut d, false);
        let x = ones(3);
        assert!(Module::<f64>::forward(&mut d, &x).unwrap().ptr_eq(&x));
        let mut z = Dropout::new(0.0, Rng::seed(1)).unwrap();
        assert!(Module::<f64>::forward(&mut z, &x).unwrap().ptr_eq(&x));
    }

    #[test]
    fn masks_are_fixed_by_the_seed_and_continue_after_a_restore() {
        let draw = |d: &mut Dropout| {
            Module::<f32>::forward(d, &Var::constant(ArrayD::from_elem(IxDyn(&[4, 8]), 1.0f32)))
                .unwrap()
                .value()
                .clone()
        };
        let mut a = Dropout::new(0.5, Rng::seed(9)).unwrap();
        let mut b = Dropout::new(0.5, Rng::seed(9)).unwrap();
        let first = draw(&mut a);
        assert_eq!(first, draw(&mut b));
        let mut saved = None;
        Module::<f32>::visit_rngs_mut(&mut a, "2", &mut |name, rng| {
            assert_eq!(name, "2.rng");
            saved = Some(rng.state());
        });
        let next = draw(&mut a);
        assert_ne!(next, first, "a new mask each step");
        let mut c = Dropout::new(0.5, Rng::seed(0)).unwrap();
        Module::<f32>::visit_rngs_mut(&mut c, "", &mut |_, rng| *rng = Rng::from_state(&saved.unwrap()));
        assert_eq!(draw(&mut c), next);
        assert_ne!(draw(&mut Dropout::new(0.5, Rng::seed(10)).unwrap()), first);
    }

    #[test]
    fn p_outside_zero_one_is_an_error() {
        for p in [1.0, 1.5, -0.1, f64::NAN] {
            let err = Dropout::new(p, Rng::seed(0)).unwrap_err().to_string();
            assert!(err.contains("[0, 1)"), "{err}");
        }
        let mut ctx = BuildContext::new([4], Rng::seed(0));
        let one: RawParams = [("p".to_string(), Value::Float(1.0))].into_iter().collect();
        assert!(build_module("dropout", &one, &mut ctx).is_err());
    }

    #[test]
    fn registry_forks_the_model_generator() {
        let build = |seed| {
            let mut ctx = BuildContext::new([4], Rng::seed(seed));
            let mut m = build_module("dropout", &RawParams::new(), &mut ctx).unwrap();
            assert_eq!(m.describe(), "Dropout(p=0.5)");
            let y = m.forward(&Var::constant(ArrayD::from_elem(IxDyn(&[8, 4]), 1.0f32))).unwrap();
            let v = y.value().clone();
            (v, ctx.rng)
        };
        let (a, rng_a) = build(4);
        let (b, rng_b) = build(4);
        assert_eq!(a, b);
        assert_eq!(rng_a, rng_b);
        assert_ne!(rng_a, Rng::seed(4), "fork advances the model generator");
    }
}
