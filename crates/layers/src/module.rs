//! The [`Module`] trait: forward, the output shape, named parameters and buffers, train/eval
//! mode.

use crate::LayerError;
use nabla_autograd::{ColumnStep, Var};
use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::{Element, Rng};

/// Joins a dotted prefix and a name as PyTorch's `state_dict` does: `("", "weight")` gives
/// `weight`, `("0", "weight")` gives `0.weight`.
pub fn join_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else if name.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A layer, activation or container of a model.
///
/// Object-safe: models are `Box<dyn Module<f32>>` (the registry builds those), and modules
/// are generic over the element type where practical so that tests can run them in `f64`.
///
/// * [`forward`](Module::forward) takes `&mut self`: Dropout draws its masks from its own
///   seeded generator, and BatchNorm updates its running statistics in training mode.
/// * Parameters are [`Var`] leaves that require gradients, visited with stable dotted names
///   exactly as PyTorch's `state_dict` names them (`weight`, `bias`; inside a
///   [`Sequential`](crate::Sequential) child `i`'s are `"{i}.weight"`, `"{i}.bias"`), so
///   checkpoints and optimizer state can be keyed by name. A `Var` is a shared handle: the
///   optimizer updates the module's parameter through it.
/// * Buffers are non-trainable state saved with a checkpoint (BatchNorm's `running_mean`,
///   `running_var`); they can be restored through
///   [`visit_buffers_mut`](Module::visit_buffers_mut).
/// * Counters are integer state (BatchNorm's `num_batches_tracked`), kept as `u64` so that
///   they stay exact (an `f32` stops counting at 2^24) and saved as PyTorch saves them, 0-d
///   `int64` tensors under the same dotted names
///   ([`visit_counters`](Module::visit_counters)).
/// * Generators ([`visit_rngs_mut`](Module::visit_rngs_mut)) let a checkpoint save and
///   restore Dropout's mask stream, so a resumed run draws exactly the masks of an
///   uninterrupted one.
/// * Modules start in training mode, as in PyTorch.
///
/// * [`output_shape`](Module::output_shape) maps the shape of one sample (without the batch
///   axis: `[features]` for flat data, `[C, H, W]` for images) to the shape of its output, so a
///   model built from a list of layers infers each layer's input size and rejects shapes that
///   do not fit when it is built, not at the first batch.
///
/// Implementors write `name`, `forward`, `set_training`, `is_training` and `describe`, plus the
/// visitors of what they own; everything else is provided. A module that changes the shape, or
/// accepts only some shapes, must override [`output_shape`](Module::output_shape).
pub trait Module<T: Element = f32> {
    /// The registered name of the module (`"linear"`, `"relu"`, `"sequential"`).
    fn name(&self) -> &str;

    /// Runs the module on `input`, recording the graph when grad mode is on.
    ///
    /// # Errors
    /// An input shape the module cannot take (naming the shapes), or any other error of its
    /// ops; a container names the position of the failing child ([`LayerError::InLayer`]).
    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError>;

    /// The shape of one output sample for input samples of shape `input` (both without the
    /// batch axis). The default is the identity, right for elementwise activations and
    /// dropout.
    ///
    /// # Errors
    /// An input shape the module cannot take ([`LayerError::Invalid`], naming the shapes).
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, LayerError> {
        Ok(input.to_vec())
    }

    /// Calls `f` with the dotted name (under `prefix`) and the variable of every parameter,
    /// in a fixed order (the order of PyTorch's `named_parameters`). The default has none.
    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<T>)) {
        let _ = (prefix, f);
    }

    /// Calls `f` with the dotted name and the value of every buffer (non-trainable state
    /// such as BatchNorm's running statistics). The default has none.
    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &ArrayD<T>)) {
        let _ = (prefix, f);
    }

    /// As [`visit_buffers`](Module::visit_buffers), mutably: to restore buffers from a
    /// checkpoint, assign into the array (keeping its shape; a forward pass with a buffer of
    /// the wrong shape is an error).
    fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut ArrayD<T>)) {
        let _ = (prefix, f);
    }

    /// Calls `f` with the dotted name and the value of every counter: integer state that
    /// PyTorch's `state_dict` holds as a 0-d `int64` tensor (BatchNorm's
    /// `num_batches_tracked`). The default has none.
    fn visit_counters(&self, prefix: &str, f: &mut dyn FnMut(&str, u64)) {
        let _ = (prefix, f);
    }

    /// As [`visit_counters`](Module::visit_counters), mutably: to restore counters from a
    /// checkpoint, or to put them back after a probe that ran in training mode.
    fn visit_counters_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut u64)) {
        let _ = (prefix, f);
    }

    /// The weight `[out, in]` and bias of a fully connected layer, for the fused
    /// evaluation-mode forward of [`Sequential`](crate::Sequential) (which multiplies and then
    /// applies the following layers' [`column_steps`](Module::column_steps) to each block of
    /// rows while it is in cache). The default: not a fully connected layer.
    fn as_linear(&self) -> Option<(&Var<T>, Option<&Var<T>>)> {
        None
    }

    /// When the module, as it is now (its mode and state), maps a `[N, F]` input column by
    /// column and element by element, appends those maps to `steps` and returns `true` (a
    /// module that passes its input through appends nothing); else returns `false` and leaves
    /// `steps` as it was. The result must equal [`forward`](Module::forward)'s bit for bit. The
    /// default: not such a module.
    fn column_steps(&self, steps: &mut Vec<ColumnStep<T>>) -> bool {
        let _ = steps;
        false
    }

    /// Calls `f` with the dotted name and the generator of every module that draws random
    /// numbers while running (Dropout's mask generator, named `rng`), so that its state can
    /// be saved ([`Rng::state`]) and restored (assign [`Rng::from_state`]). The default has
    /// none.
    fn visit_rngs_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Rng)) {
        let _ = (prefix, f);
    }

    /// Switches training mode (`true`) or evaluation mode (`false`); containers switch their
    /// children too.
    fn set_training(&mut self, training: bool);

    /// Whether the module is in training mode.
    fn is_training(&self) -> bool;

    /// A short description with the hyper-parameters, as PyTorch prints a module
    /// (`Linear(in_features=8, out_features=5, bias=true)`); containers list their children
    /// on indented lines.
    fn describe(&self) -> String;

    /// Every parameter with its dotted name, in visiting order.
    fn parameters(&self) -> Vec<(String, Var<T>)> {
        let mut out = Vec::new();
        self.visit_parameters("", &mut |name, v| out.push((name.to_string(), v.clone())));
        out
    }

    /// A copy of every buffer with its dotted name, in visiting order.
    fn buffers(&self) -> Vec<(String, ArrayD<T>)> {
        let mut out = Vec::new();
        self.visit_buffers("", &mut |name, b| out.push((name.to_string(), b.clone())));
        out
    }

    /// Every counter with its dotted name, in visiting order.
    fn counters(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        self.visit_counters("", &mut |name, n| out.push((name.to_string(), n)));
        out
    }

    /// The total number of parameter elements.
    fn num_parameters(&self) -> usize {
        let mut n = 0;
        self.visit_parameters("", &mut |_, v| n += v.len());
        n
    }

    /// Clears the gradient of every parameter ([`Var::zero_grad`]).
    fn zero_grad(&self) {
        self.visit_parameters("", &mut |_, v| v.zero_grad());
    }

    /// Switches to evaluation mode (`set_training(false)`).
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// Switches to training mode (`set_training(true)`).
    fn train(&mut self) {
        self.set_training(true);
    }
}

/// The training-mode flag of a module. It starts in training mode, as PyTorch's modules do, and
/// so does its `Default`: a module that derives its hyper-parameters
/// ([`HyperParams`](nabla_registry::HyperParams)) marks this field `#[param(skip)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrainingMode(bool);

impl Default for TrainingMode {
    fn default() -> TrainingMode {
        TrainingMode(true)
    }
}

impl TrainingMode {
    /// Whether in training mode.
    pub fn is_training(&self) -> bool {
        self.0
    }

    /// Switches training (`true`) or evaluation (`false`) mode.
    pub fn set(&mut self, training: bool) {
        self.0 = training;
    }
}

/// The `Module` methods `set_training` / `is_training` / `is_training` over a `training: TrainingMode` field.
macro_rules! training_flag {
    () => {
        fn set_training(&mut self, training: bool) {
            self.training.set(training);
        }
        fn is_training(&self) -> bool {
            self.training.is_training()
        }
    };
}
pub(crate) use training_flag;

/// The [`Module`] impl, for every element type, of a module whose only state besides its
/// hyper-parameters is its `training: TrainingMode` flag, and its registration under `name`
/// (the name it reports too), with the optional `category` and the `summary`. `forward`, the
/// optional `output_shape` and `column_steps`, and `describe` are the bodies given, in which
/// the first name between the bars is the module (`self`) and the second the method's
/// argument; `output_shape` defaults to the identity and `column_steps` to "not such a
/// module".
macro_rules! flag_module {
    ($ty:ident,
     name: $name:literal,
     $(category: $category:ident,)?
     summary: $summary:literal,
     forward: |$fm:ident, $input:ident| $forward:expr,
     $(output_shape: |$om:ident, $sample:ident| $output_shape:expr,)?
     $(column_steps: |$cm:ident, $steps:ident| $column_steps:expr,)?
     describe: |$dm:ident| $describe:expr $(,)?) => {
        impl<T: nabla_tensor::Element> $crate::Module<T> for $ty {
            fn name(&self) -> &str {
                $name
            }
            fn forward(
                &mut self,
                $input: &nabla_autograd::Var<T>,
            ) -> Result<nabla_autograd::Var<T>, $crate::LayerError> {
                let $fm = self;
                $forward
            }
            $(
                fn output_shape(&self, $sample: &[usize]) -> Result<Vec<usize>, $crate::LayerError> {
                    let $om = self;
                    $output_shape
                }
            )?
            $(
                fn column_steps(&self, $steps: &mut Vec<nabla_autograd::ColumnStep<T>>) -> bool {
                    let $cm = self;
                    $column_steps
                }
            )?
            $crate::module::training_flag!();
            fn describe(&self) -> String {
                let $dm = self;
                $describe
            }
        }

        $crate::register_layer!($ty, name: $name, $(category: $category,)? summary: $summary);
    };
}
pub(crate) use flag_module;

/// A module with no hyper-parameters and no state but its training flag (which changes nothing
/// for it): the struct, with the doc comment given and `new()`, and its `flag_module!`
/// (Module impl and registration), whose `forward` evaluates `forward` on the input.
macro_rules! stateless_module {
    ($(#[$doc:meta])* $ty:ident,
     name: $name:literal,
     $(category: $category:ident,)?
     summary: $summary:literal,
     describe: $describe:literal,
     forward: |$input:ident| $forward:expr
     $(, column_steps: |$steps:ident| $column_steps:expr)? $(,)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, nabla_registry::HyperParams)]
        pub struct $ty {
            #[param(skip)]
            training: $crate::TrainingMode,
        }

        impl $ty {
            #[doc = concat!("A `", stringify!($ty), "` (in training mode, which changes nothing for it).")]
            pub fn new() -> Self {
                Self::default()
            }
        }

        $crate::module::flag_module!($ty,
            name: $name,
            $(category: $category,)?
            summary: $summary,
            forward: |_module, $input| Ok($forward),
            $(column_steps: |_module, $steps| $column_steps,)?
            describe: |_module| $describe.to_string(),
        );
    };
}
pub(crate) use stateless_module;

/// Prints [`Module::describe`], so that `Box<dyn Module>` works with `{:?}` and `unwrap_err`.
impl<T: Element> std::fmt::Debug for dyn Module<T> + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl<T: Element, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        (**self).forward(input)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, LayerError> {
        (**self).output_shape(input)
    }
    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<T>)) {
        (**self).visit_parameters(prefix, f)
    }
    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &ArrayD<T>)) {
        (**self).visit_buffers(prefix, f)
    }
    fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut ArrayD<T>)) {
        (**self).visit_buffers_mut(prefix, f)
    }
    fn visit_counters(&self, prefix: &str, f: &mut dyn FnMut(&str, u64)) {
        (**self).visit_counters(prefix, f)
    }
    fn visit_counters_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut u64)) {
        (**self).visit_counters_mut(prefix, f)
    }
    fn visit_rngs_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Rng)) {
        (**self).visit_rngs_mut(prefix, f)
    }
    fn set_training(&mut self, training: bool) {
        (**self).set_training(training)
    }
    fn is_training(&self) -> bool {
        (**self).is_training()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_join_like_state_dict() {
        assert_eq!(join_name("", "weight"), "weight");
        assert_eq!(join_name("0", "weight"), "0.weight");
        assert_eq!(join_name("1.2", "running_mean"), "1.2.running_mean");
        assert_eq!(join_name("3", ""), "3");
    }
}
