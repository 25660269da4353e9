//! The registered activations, each a [`Module`](crate::Module) without parameters:
//! `relu`, `sigmoid`, `tanh`, `leaky_relu`, `gelu`, `softmax` and `log_softmax`.
//!
//! They are generic over the element type (`impl<T: Element> Module<T>`), keep a training
//! flag only to report it (they behave the same in both modes), and run one fused op of
//! `nabla-autograd` each. Each derives [`HyperParams`](nabla_registry::HyperParams) on itself
//! (its fields are its hyper-parameters) and is registered as a layer of category
//! `Activation`.

mod gelu;
mod leaky_relu;
mod log_softmax;
mod relu;
mod sigmoid;
mod softmax;
mod tanh;

pub use gelu::{Gelu, GeluApproximate};
pub use leaky_relu::LeakyRelu;
pub use log_softmax::LogSoftmax;
pub use relu::Relu;
pub use sigmoid::Sigmoid;
pub use softmax::Softmax;
pub use tanh::Tanh;

/// A normalization along one dimension (`softmax`, `log_softmax`): the struct, with the doc
/// comment given, whose one hyper-parameter is `dim` = 1 (negative counts from the end), with
/// `new`, `dim()` and `Default`; its [`Module`](crate::Module) impl, whose `forward` runs the
/// [`Var`](nabla_autograd::Var) method `$op` along `dim` resolved against the input and whose
/// `output_shape` checks `dim` against the samples (and their batch axis); its registration
/// as an activation named `$name`. `$describe` is the PyTorch class name it prints.
macro_rules! along_dim_activation {
    ($(#[$doc:meta])* $ty:ident,
     name: $name:literal,
     op: $op:ident,
     describe: $describe:literal,
     summary: $summary:literal $(,)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, nabla_registry::HyperParams)]
        pub struct $ty {
            /// the dimension to normalize along (negative: from the end)
            #[param(default = 1)]
            dim: i64,
            #[param(skip)]
            training: $crate::TrainingMode,
        }

        impl $ty {
            #[doc = concat!("A `", $name, "` along `dim` (checked against the input at forward time).")]
            pub fn new(dim: i64) -> Self {
                $ty { dim, training: $crate::TrainingMode::default() }
            }

            /// The dimension.
            pub fn dim(&self) -> i64 {
                self.dim
            }
        }

        impl Default for $ty {
            /// Along dimension 1.
            fn default() -> Self {
                $ty::new(1)
            }
        }

        $crate::module::flag_module!($ty,
            name: $name,
            category: Activation,
            summary: $summary,
            forward: |module, input| {
                let axis = $crate::dims::resolve_dim($name, module.dim, input.ndim())?;
                Ok(input.$op(axis)?)
            },
            // `dim` checked against the samples (and their batch axis), then the identity.
            output_shape: |module, sample| {
                $crate::dims::resolve_dim($name, module.dim, sample.len() + 1)?;
                Ok(sample.to_vec())
            },
            describe: |module| format!(concat!($describe, "(dim={})"), module.dim),
        );
    };
}
use along_dim_activation;

#[cfg(test)]
pub(crate) mod testing {
    //! Shared checks of the activation tests.

    pub use crate::testing::check_gradient;
    use crate::{build_module, BuildContext, Module};
    use nabla_autograd::Var;
    use nabla_registry::RawParams;
    use nabla_tensor::ndarray::{arr2, ArrayD};
    use nabla_tensor::Rng;

    /// Inputs away from the kinks at 0, with large and small magnitudes.
    pub fn input() -> ArrayD<f64> {
        arr2(&[[-3.1, -0.7, 0.2, 1.3], [4.0, -0.05, 0.9, -1.6], [0.4, 2.2, -2.5, 0.11]]).into_dyn()
    }

    /// Checks an elementwise module against `f` (f64 and f32), its gradient by finite
    /// differences, and that training mode changes nothing.
    pub fn check_elementwise<M: Module<f64> + Module<f32> + Clone>(module: M, f: impl Fn(f64) -> f64) {
        let x = input();
        let mut m = module.clone();
        let y = Module::<f64>::forward(&mut m, &Var::constant(x.clone())).unwrap();
        for (got, &xi) in y.value().iter().zip(x.iter()) {
            assert!((got - f(xi)).abs() <= 1e-12 * (1.0 + f(xi).abs()), "f({xi}) = {}, got {got}", f(xi));
        }
        let y32 = Module::<f32>::forward(&mut m, &Var::constant(x.mapv(|v| v as f32))).unwrap();
        for (got, &xi) in y32.value().iter().zip(x.iter()) {
            assert!((f64::from(*got) - f(xi)).abs() <= 1e-6 * (1.0 + f(xi).abs()));
        }
        check_gradient(module.clone(), x.clone());
        let mut eval = module;
        Module::<f64>::set_training(&mut eval, false);
        assert!(!Module::<f64>::is_training(&eval));
        let ye = Module::<f64>::forward(&mut eval, &Var::constant(x)).unwrap();
        assert_eq!(*ye.value(), *y.value());
    }

    /// Builds `name` from the registry with `params` and runs it on a batch.
    pub fn build_and_run(name: &str, params: RawParams) -> Box<dyn Module<f32>> {
        let mut ctx = BuildContext::new([4], Rng::seed(0));
        let mut m = build_module(name, &params, &mut ctx).unwrap();
        let y = m.forward(&Var::constant(input().mapv(|v| v as f32))).unwrap();
        assert_eq!(y.shape(), vec![3, 4]);
        assert_eq!(m.output_shape(&[4]).unwrap(), [4]);
        assert!(m.parameters().is_empty());
        m
    }
}
