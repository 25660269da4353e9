//! What the sliding-window pooling layers (`max_pool2d`, `avg_pool2d`) share: their
//! [`Module`](crate::Module) impl, one op of `nabla-autograd` and its pure shape function
//! over the layer's options.

/// The [`Module`](crate::Module) impl of a pooling layer `$ty` with an inherent
/// `options(&self)`: `forward` runs `$op(input, &options)`, `output_shape` checks for
/// `[C, H, W]` samples and then asks `$output_shape(sample, &options)` (every check of the op,
/// at model build time), `describe` evaluates `$describe` with the options bound to `$o`.
macro_rules! window_pooling_module {
    ($ty:ident,
     name: $name:literal,
     op: $op:path,
     output_shape: $output_shape:path,
     describe: |$o:ident| $describe:expr $(,)?) => {
        impl<T: nabla_tensor::Element> $crate::Module<T> for $ty {
            fn name(&self) -> &str {
                $name
            }

            fn forward(
                &mut self,
                input: &nabla_autograd::Var<T>,
            ) -> Result<nabla_autograd::Var<T>, $crate::LayerError> {
                Ok($op(input, &self.options())?)
            }

            /// `[C, H, W]` to `[C, H_out, W_out]`, with every check of the op.
            fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, $crate::LayerError> {
                $crate::spatial::image($name, input)?;
                Ok($output_shape(input, &self.options())?)
            }

            $crate::module::training_flag!();

            fn describe(&self) -> String {
                let $o = self.options();
                $describe
            }
        }
    };
}
pub(crate) use window_pooling_module;
