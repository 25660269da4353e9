//! `nabla-autograd`: define-by-run reverse-mode automatic differentiation over
//! [`nabla_tensor`] arrays, in the manner of PyTorch.
//!
//! * [`Var`]: a graph variable (cheap to clone). Make leaves with [`Var::leaf`] /
//!   [`Var::param`] / [`Var::constant`]; every op returns a new `Var` that records its
//!   backward step when grad mode is on and an input requires a gradient.
//! * [`Var::backward`] / [`Var::backward_with`]: the reverse pass; gradients accumulate
//!   into leaves ([`Var::grad`], [`Var::zero_grad`]); the graph is released afterwards and a
//!   second backward through it is an [`AutogradError::GraphReleased`].
//! * Ops: arithmetic with broadcasting, `matmul`, reductions, reshape/transpose/permute,
//!   activations and softmax, `concat`/`stack`/`gather_rows` as methods of `Var`; [`linear`], [`batch_norm_train`],
//!   [`batch_norm_eval`] (over `[N, C]`, `[N, C, L]`, `[N, C, H, W]`, ...), [`dropout_with_mask`]
//!   and the losses ([`cross_entropy`], [`nll_loss`], [`mse_loss`], [`bce_with_logits`]) as
//!   functions.
//! * Convolutional ops over `[N, C, H, W]`: [`conv2d`] (stride, padding incl. `"same"`,
//!   dilation, groups; im2col + strided GEMM), [`max_pool2d`], [`avg_pool2d`],
//!   [`adaptive_avg_pool2d`], [`dropout2d`]; each has a pure shape function
//!   ([`conv2d_output_shape`], ...) that runs the op's checks without data, for validating a
//!   model's configuration when it is built.
//! * Custom ops: [`Var::custom`] records any forward value with a backward closure — the
//!   same mechanism the built-in ops use.
//! * [`no_grad`] / [`NoGradGuard`]: evaluation without recording.
//! * [`gradcheck`]: finite-difference gradient checking for any function of variables.
//! * [`live_graph_nodes`]: how many recorded graph nodes are alive (for leak tests).
//!
//! # Errors and panics
//! Ops whose arguments can be wrong (shapes, axes, class indices, hyper-parameters) return
//! `Result<Var, AutogradError>`, with messages naming the shapes; elementwise functions that
//! cannot fail (`relu`, `exp`, `sum`, ...) return `Var` directly. `backward*` returns a
//! `Result` (released graph, non-scalar root, wrong upstream shape, ...). What panics, and
//! says so: the operator overloads `&a + &b` etc. on a shape mismatch (use the methods for a
//! `Result`), `Var::item` on a variable that is not one element, and `value()`/`value_mut()`/
//! `grad_mut()` when the same cell is already borrowed in a conflicting way (`RefCell` rules).
//!
//! Buffers of forward values and gradients come from [`nabla_tensor::pool`] and return to it
//! when the graph is released, so a training step repeated in a loop reuses its memory.
//!
//! ```
//! use nabla_autograd::{cross_entropy, linear, Reduction, Var};
//! use nabla_tensor::{ndarray::Array2, Rng};
//! let mut rng = Rng::seed(0);
//! let x = Var::<f32>::constant(rng.normal_array(&[4, 3], 0.0, 1.0));
//! let w = Var::param(rng.normal_array(&[2, 3], 0.0, 0.5));
//! let b = Var::param(Array2::<f32>::zeros((1, 2)).into_shape_with_order(2).unwrap().into_dyn());
//! let loss = cross_entropy(&linear(&x, &w, Some(&b)).unwrap().relu(), &[0, 1, 1, 0], 0.0, Reduction::Mean).unwrap();
//! loss.backward().unwrap();
//! assert_eq!(w.grad().unwrap().shape(), &[2, 3]);
//! ```

pub mod batch_stats;
mod error;
mod grad_mode;
mod gradcheck;
mod ops;
mod var;

pub use batch_stats::{BatchStatsGuard, BatchStatsReducer};
pub use error::{AutogradError, Result};
pub use grad_mode::{is_grad_enabled, no_grad, set_grad_enabled, NoGradGuard};
pub use gradcheck::{gradcheck, GradcheckOptions, GradcheckReport};
pub use ops::{
    adaptive_avg_pool2d, adaptive_avg_pool2d_output_shape, avg_pool2d, avg_pool2d_output_shape,
    batch_norm_eval, batch_norm_eval_step, batch_norm_train, bce_with_logits, conv2d, conv2d_output_shape,
    cross_entropy, dropout, dropout2d, dropout2d_with_mask, dropout_mask, dropout_with_mask, fused_linear,
    linear, max_pool2d, max_pool2d_output_shape, mse_loss, nll_loss, AvgPool2dOptions, BatchNormOutput,
    ColumnStep, Conv2dOptions, Conv2dPadding, MaxPool2dOptions, Reduction,
};
pub use var::{live_graph_nodes, live_vars, BackwardArgs, Grads, IntoGrads, Shape, Var};

pub use nabla_tensor;

/// The examples of the crate's README, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
