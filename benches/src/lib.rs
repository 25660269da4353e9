//! Benchmarks of nabla.
//!
//! * `benches/`: criterion benches (GEMM, the MLP's forward/backward, optimizer steps).
//! * the `nabla-bench` binary (run by `cargo xtask bench`): the chapter-3 MNIST MLP trained
//!   through nabla's trainer against the same model written by hand on ndarray +
//!   matrixmultiply ([`ceiling`]) in the same process, inference, GEMM through the tensor API
//!   against `sgemm`, an Adam step against a copy, peak RSS and heap allocations per step.
//!   Beside each training figure, one whole epoch through `Trainer::run` ([`epoch`]).
//!   It measures at the one GEMM thread count of its process (`NABLA_NUM_THREADS`) and
//!   prints one JSON object.
//! * the `nabla-bench-cnn` binary (run by `cargo xtask bench --model cnn`): the MNIST CNN of
//!   PyTorch's examples ([`cnn`]) trained through the trainer and run for inference, against
//!   its GEMM-bound limit measured in the same process ([`gemm_limit`]).

pub mod ceiling;
pub mod cli;
pub mod cnn;
pub mod epoch;
pub mod gemm_limit;
pub mod kernels;
pub mod measure;
pub mod output;
pub mod sys;
pub mod workload;
