//! nabla: a deep-learning training toolkit for the CPU.
//!
//! This facade re-exports the nabla crates and links every built-in crate, so that all
//! built-in components are registered in a binary that depends on `nabla` (a crate nothing
//! references is not linked, and its `inventory` registrations vanish; see `docs/plugins.md`).
//!
//! ```
//! use nabla::registry::ComponentKind;
//! let optimizers = nabla::catalog(ComponentKind::Optimizer);
//! assert!(optimizers.iter().any(|info| info.name == "radam"));
//! ```

pub use nabla_autograd as autograd;
pub use nabla_data as data;
pub use nabla_init as init;
pub use nabla_layers as layers;
pub use nabla_onnx as onnx;
pub use nabla_optim as optim;
pub use nabla_registry as registry;
pub use nabla_tensor as tensor;
pub use nabla_train as train;

use nabla_registry::{Component, ComponentInfo, ComponentKind, RegistryError};

fn infos<C: Component>() -> Vec<&'static ComponentInfo> {
    nabla_registry::list::<C>().into_iter().map(|c| c.info()).collect()
}

/// Every registered component of a kind (built-in and linked plugins), sorted by name.
pub fn catalog(kind: ComponentKind) -> Vec<&'static ComponentInfo> {
    match kind {
        ComponentKind::Optimizer => infos::<nabla_optim::OptimizerRegistration>(),
        ComponentKind::Scheduler => infos::<nabla_optim::SchedulerRegistration>(),
        ComponentKind::Initializer => infos::<nabla_init::InitializerRegistration>(),
        ComponentKind::Layer => infos::<nabla_layers::LayerRegistration>(),
        ComponentKind::Activation => infos::<nabla_layers::ActivationRegistration>(),
        ComponentKind::Loss => infos::<nabla_layers::LossRegistration>(),
        ComponentKind::Dataset => infos::<nabla_data::DatasetRegistration>(),
        // The trainer's settings are declared like components but not registered.
        ComponentKind::Trainer => Vec::new(),
    }
}

/// Every name clash among the registered components of all kinds (empty when the registry is
/// consistent).
pub fn registry_conflicts() -> Vec<RegistryError> {
    let mut all = nabla_registry::duplicates::<nabla_optim::OptimizerRegistration>();
    all.extend(nabla_registry::duplicates::<nabla_optim::SchedulerRegistration>());
    all.extend(nabla_registry::duplicates::<nabla_init::InitializerRegistration>());
    all.extend(nabla_registry::duplicates::<nabla_layers::LayerRegistration>());
    all.extend(nabla_registry::duplicates::<nabla_layers::ActivationRegistration>());
    all.extend(nabla_registry::duplicates::<nabla_layers::LossRegistration>());
    all.extend(nabla_registry::duplicates::<nabla_data::DatasetRegistration>());
    all
}
