//! What the sliding-window pooling layers (`max_pool2d`, `avg_pool2d`) share: their
//! [`Module`](crate::Module) impl and registration, one op of `nabla-autograd` and its pure
//! shape function over the layer's options.

/// The [`Module`](crate::Module) impl and registration (`flag_module!`) of a pooling layer
/// `$ty` with an inherent `options(&self)`: `forward` runs `$op(input, &options)`,
/// `output_shape` checks for `[C, H, W]` samples and then asks `$output_shape(sample,
/// &options)` (every check of the op, at model build time), `describe` evaluates `$describe`
/// with the options bound to `$o`.
macro_rules! window_pooling_module {
    ($ty:ident,
     name: $name:literal,
     summary: $summary:literal,
     op: $op:path,
     output_shape: $output_shape:path,
     describe: |$o:ident| $describe:expr $(,)?) => {
        $crate::module::flag_module!($ty,
            name: $name,
            summary: $summary,
            forward: |layer, input| Ok($op(input, &layer.options())?),
            // `[C, H, W]` to `[C, H_out, W_out]`, with every check of the op.
            output_shape: |layer, sample| {
                $crate::spatial::image($name, sample)?;
                Ok($output_shape(sample, &layer.options())?)
            },
            describe: |layer| {
                let $o = layer.options();
                $describe
            },
        );
    };
}
pub(crate) use window_pooling_module;
