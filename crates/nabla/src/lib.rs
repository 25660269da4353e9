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
pub use nabla_distributed as distributed;
pub use nabla_init as init;
pub use nabla_layers as layers;
pub use nabla_onnx as onnx;
pub use nabla_optim as optim;
pub use nabla_registry as registry;
pub use nabla_tensor as tensor;
pub use nabla_train as train;

use nabla_layers::{LayerCategory, LayerRegistration};
use nabla_registry::{Component, ComponentInfo, ComponentKind, RegistryError};

fn infos<C: Component>() -> Vec<&'static ComponentInfo> {
    nabla_registry::list::<C>().into_iter().map(|c| c.info()).collect()
}

/// Every registered component of a kind (built-in and linked plugins), sorted by name. The
/// layers include the activations (see [`sections`] for them apart).
pub fn catalog(kind: ComponentKind) -> Vec<&'static ComponentInfo> {
    match kind {
        ComponentKind::Optimizer => infos::<nabla_optim::OptimizerRegistration>(),
        ComponentKind::Scheduler => infos::<nabla_optim::SchedulerRegistration>(),
        ComponentKind::Initializer => infos::<nabla_init::InitializerRegistration>(),
        ComponentKind::Layer => infos::<LayerRegistration>(),
        ComponentKind::Loss => infos::<nabla_layers::LossRegistration>(),
        ComponentKind::Dataset => infos::<nabla_data::DatasetRegistration>(),
        // The trainer's settings are declared like components but not registered.
        ComponentKind::Trainer => Vec::new(),
    }
}

/// One heading of a listing such as `nabla list`: a kind, or for the layers one category
/// (layers proper, activations).
#[derive(Clone, Debug)]
pub struct Section {
    /// The heading in the singular (`optimizer`, `layer`, `activation`, ...).
    pub name: &'static str,
    /// Its components, sorted by name.
    pub components: Vec<&'static ComponentInfo>,
}

/// The sections of a full listing, in display order: every kind, the layers split by
/// category.
///
/// ```
/// let sections = nabla::sections();
/// let names: Vec<&str> = sections.iter().map(|s| s.name).collect();
/// assert_eq!(names, ["optimizer", "scheduler", "initializer", "layer", "activation", "loss", "dataset"]);
/// assert!(nabla::section("activations").unwrap().components.iter().any(|c| c.name == "relu"));
/// ```
pub fn sections() -> Vec<Section> {
    let layers = |category: LayerCategory| {
        let records = nabla_registry::list::<LayerRegistration>().into_iter();
        Section {
            name: category.as_str(),
            components: records.filter(|r| r.category == category).map(|r| &r.info).collect(),
        }
    };
    ComponentKind::ALL
        .into_iter()
        .flat_map(|kind| match kind {
            ComponentKind::Layer => LayerCategory::ALL.map(layers).to_vec(),
            other => vec![Section { name: other.as_str(), components: catalog(other) }],
        })
        .collect()
}

/// The section called `name` (singular or plural, any case: `activations`, `Optimizer`,
/// `lr_scheduler`), if there is one.
pub fn section(name: &str) -> Option<Section> {
    let wanted = LayerCategory::parse(name)
        .map(|c| c.as_str())
        .or_else(|| ComponentKind::parse(name).map(|k| k.as_str()))?;
    sections().into_iter().find(|s| s.name == wanted)
}

/// Every name clash among the registered components of all kinds (empty when the registry is
/// consistent).
pub fn registry_conflicts() -> Vec<RegistryError> {
    let mut all = nabla_registry::duplicates::<nabla_optim::OptimizerRegistration>();
    all.extend(nabla_registry::duplicates::<nabla_optim::SchedulerRegistration>());
    all.extend(nabla_registry::duplicates::<nabla_init::InitializerRegistration>());
    all.extend(nabla_registry::duplicates::<LayerRegistration>());
    all.extend(nabla_registry::duplicates::<nabla_layers::LossRegistration>());
    all.extend(nabla_registry::duplicates::<nabla_data::DatasetRegistration>());
    all
}
