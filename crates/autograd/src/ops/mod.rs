//! The differentiable operations. Elementwise, reduction, shape and matrix ops are methods of
//! [`Var`](crate::Var); layer-level fused ops and losses are free functions.

mod adaptive_avg_pool2d;
pub(crate) mod arith;
mod avg_pool2d;
mod batch_norm;
mod conv2d;
mod dropout;
mod dropout2d;
mod fused_linear;
mod join;
mod linear;
mod loss;
mod matmul;
mod max_pool2d;
mod reduce;
mod reshape;
pub(crate) mod saved;
mod softmax;
mod unary;
mod window;

pub use adaptive_avg_pool2d::{adaptive_avg_pool2d, adaptive_avg_pool2d_output_shape};
pub use avg_pool2d::{avg_pool2d, avg_pool2d_output_shape, AvgPool2dOptions};
pub use batch_norm::{batch_norm_eval, batch_norm_eval_step, batch_norm_train, BatchNormOutput};
pub use conv2d::{conv2d, conv2d_output_shape, Conv2dOptions, Conv2dPadding};
pub use dropout::{dropout, dropout_mask, dropout_with_mask};
pub use dropout2d::{dropout2d, dropout2d_with_mask};
pub use fused_linear::{fused_linear, ColumnStep};
pub use linear::linear;
pub use loss::{bce_with_logits, cross_entropy, mse_loss, nll_loss, Reduction};
pub use max_pool2d::{max_pool2d, max_pool2d_output_shape, MaxPool2dOptions};
