//! The differentiable operations. Elementwise, reduction, shape and matrix ops are methods of
//! [`Var`](crate::Var); layer-level fused ops and losses are free functions.

pub(crate) mod arith;
mod batch_norm;
mod dropout;
mod join;
mod linear;
mod loss;
mod matmul;
mod reduce;
mod reshape;
pub(crate) mod saved;
mod softmax;
mod unary;

pub use batch_norm::{batch_norm_eval, batch_norm_train, BatchNormOutput};
pub use dropout::{dropout, dropout_mask, dropout_with_mask};
pub use linear::linear;
pub use loss::{bce_with_logits, cross_entropy, mse_loss, nll_loss, Reduction};
