//! nabla: a deep-learning training toolkit for the CPU.
//!
//! This facade re-exports the nabla crates and links every built-in crate, so that all
//! built-in components are registered in a binary that depends on `nabla` (a crate nothing
//! references is not linked, and its `inventory` registrations vanish; see `docs/plugins.md`).

pub use nabla_autograd as autograd;
pub use nabla_data as data;
pub use nabla_init as init;
pub use nabla_layers as layers;
pub use nabla_optim as optim;
pub use nabla_registry as registry;
pub use nabla_tensor as tensor;
pub use nabla_train as train;
