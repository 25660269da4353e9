//! The optimizer kind of the registry: the record, the macro and building by name.

use crate::rule::{RuleOptimizer, UpdateRule};
use crate::{OptimError, Optimizer};
use nabla_registry::{ComponentInfo, HyperParams, ParamError, Params};
use nabla_tensor::Element;

/// Builds an optimizer over `T` from validated hyper-parameters.
pub type Build<T> = fn(&Params) -> Result<Box<dyn Optimizer<T>>, ParamError>;
/// Builds an `f32` optimizer from validated hyper-parameters.
pub type BuildF32 = Build<f32>;
/// Builds an `f64` optimizer from validated hyper-parameters.
pub type BuildF64 = Build<f64>;

/// The registration record of an optimizer: name, aliases, schema and a factory per precision.
///
/// Submit one with [`register_optimizer!`](crate::register_optimizer).
#[derive(Debug)]
pub struct OptimizerRegistration {
    /// Name, aliases, summary, schema.
    pub info: ComponentInfo,
    /// The `f32` factory.
    pub build_f32: BuildF32,
    /// The `f64` factory.
    pub build_f64: BuildF64,
}

nabla_registry::collect_records!(OptimizerRegistration, Optimizer);

/// The element types optimizers come in (`f32`, `f64`): picks the record's factory.
pub trait Precision: Element {
    /// The factory of `record` for this element type.
    fn factory(record: &OptimizerRegistration) -> Build<Self>;
}

impl Precision for f32 {
    fn factory(record: &OptimizerRegistration) -> BuildF32 {
        record.build_f32
    }
}

impl Precision for f64 {
    fn factory(record: &OptimizerRegistration) -> BuildF64 {
        record.build_f64
    }
}

impl OptimizerRegistration {
    /// Builds the optimizer in precision `T` from validated hyper-parameters.
    pub fn build<T: Precision>(&self, params: &Params) -> Result<Box<dyn Optimizer<T>>, ParamError> {
        T::factory(self)(params)
    }
}

nabla_registry::context_free_kind! {
    /// Optimizers are built by name with [`nabla_registry::build`] (no context), in either
    /// precision: `build::<dyn Optimizer<f64>>("adam:lr=3e-4", ())`.
    impl<T: Precision> Kind for dyn Optimizer<T> {
        fn build(record: &'static OptimizerRegistration, params)
            -> Result<Box<dyn Optimizer<T>>, OptimError> {
            Ok(record.build::<T>(params)?)
        }
    }
}

/// The factory [`register_optimizer!`](crate::register_optimizer) uses for an update rule.
#[doc(hidden)]
pub fn build_rule<T: Element, R: UpdateRule + HyperParams>(
    params: &Params,
) -> Result<Box<dyn Optimizer<T>>, ParamError> {
    Ok(Box::new(RuleOptimizer::<T, R>::from_params(params)?))
}

/// Registers an optimizer with the registry (from any crate: plugins use it the same way).
///
/// The usual form takes a type implementing [`UpdateRule`] and
/// [`HyperParams`](nabla_registry::HyperParams) (derived: the struct is the one declaration
/// of the optimizer's keys, defaults, ranges and docs), and registers both precisions of
/// [`RuleOptimizer`] over it (aliases are optional):
///
/// ```
/// use nabla_optim::{register_optimizer, Optimizer, ParamMut, Update, UpdateRule};
/// use nabla_registry::{build, Alias, HyperParams};
/// use nabla_tensor::ndarray::{arr1, Zip};
/// use nabla_tensor::Element;
///
/// /// Sign descent: p <- p - lr * sign(g).
/// #[derive(Debug, HyperParams)]
/// struct SignDescent {
///     /// learning rate
///     #[param(default = 0.01, range = NON_NEGATIVE)]
///     lr: f64,
/// }
///
/// impl UpdateRule for SignDescent {
///     fn buffers(&self) -> &'static [&'static str] {
///         &[]
///     }
///     fn update<T: Element>(&self, Update { hyper, value, grad, .. }: Update<'_, T>) {
///         let lr = T::from_f64(hyper.lr);
///         Zip::from(value).and(grad).for_each(|p, &g| {
///             if g != T::zero() {
///                 *p = *p - lr * g.signum();
///             }
///         });
///     }
/// }
///
/// register_optimizer!(SignDescent,
///     name: "sign_descent",
///     aliases: [Alias::new("signsgd")],
///     summary: "sign descent",
/// );
///
/// let mut opt = build::<dyn Optimizer<f32>>("signsgd:lr=0.5", ()).unwrap().value;
/// let (mut p, g) = (arr1(&[1.0f32, 1.0]).into_dyn(), arr1(&[3.0f32, -0.1]).into_dyn());
/// opt.step(&mut [ParamMut::new("p", p.view_mut(), Some(g.view()))]).unwrap();
/// assert_eq!(p, arr1(&[0.5, 1.5]).into_dyn());
/// ```
///
/// The explicit form fills the record's fields itself, for optimizers that implement
/// [`Optimizer`] directly: `register_optimizer! { name: "...", aliases: [...], summary: "...",
/// params: SCHEMA, build_f32: f32_factory, build_f64: f64_factory }`.
#[macro_export]
macro_rules! register_optimizer {
    (name: $($body:tt)*) => {
        $crate::__private::nabla_registry::submit_component!($crate::OptimizerRegistration { name: $($body)* });
    };
    ($rule:ty, $($rest:tt)*) => {
        $crate::__private::nabla_registry::submit_typed!($crate::OptimizerRegistration, $rule, {
            build_f32: $crate::__private::build_rule::<f32, $rule>,
            build_f64: $crate::__private::build_rule::<f64, $rule>,
        }, $($rest)*);
    };
}
