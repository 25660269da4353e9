//! The error type of `nabla-optim`.

use nabla_registry::RegistryError;
use thiserror::Error;

/// Everything that can go wrong in an optimizer step, a state import, a scheduler or a clip.
///
/// Every variant names what was wrong and where (the parameter name or state key), so that a
/// trainer can pass the message to the user unchanged.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum OptimError {
    /// A parameter names a parameter group the optimizer does not have.
    #[error("parameter '{param}' is in group {group}, but the optimizer has {groups} group(s)")]
    UnknownGroup {
        /// The parameter's name.
        param: String,
        /// The group index it asked for.
        group: usize,
        /// How many groups the optimizer has.
        groups: usize,
    },
    /// A gradient's shape differs from its parameter's shape.
    #[error("parameter '{param}' has shape {value:?} but its gradient has shape {grad:?}")]
    GradShape {
        /// The parameter's name.
        param: String,
        /// The parameter's shape.
        value: Vec<usize>,
        /// The gradient's shape.
        grad: Vec<usize>,
    },
    /// The optimizer state kept for a parameter has another shape than the parameter
    /// (typically a checkpoint of another model, or a renamed parameter).
    #[error(
        "optimizer state of parameter '{param}' has shape {state:?} but the parameter has shape {value:?}"
    )]
    StateShape {
        /// The parameter's name.
        param: String,
        /// The parameter's shape.
        value: Vec<usize>,
        /// The shape of the stored state.
        state: Vec<usize>,
    },
    /// Two parameters handed to one `step` share a name (their state would be mixed up).
    #[error("two parameters are named '{name}'; optimizer state is kept by name, so names must be unique")]
    DuplicateParam {
        /// The repeated name.
        name: String,
    },
    /// A parameter group's settings are invalid.
    #[error("invalid parameter group: {message}")]
    InvalidGroup {
        /// What is wrong.
        message: String,
    },
    /// A state dictionary lacks an entry the optimizer or scheduler needs.
    #[error("{owner} state: missing entry '{key}'")]
    MissingState {
        /// The optimizer or scheduler name.
        owner: String,
        /// The missing key.
        key: String,
    },
    /// A state dictionary has an entry the optimizer or scheduler does not know (for example
    /// the state of another optimizer, or of an Adam without `amsgrad`).
    #[error("{owner} state: unexpected entry '{key}' (expected entries: {expected})")]
    UnexpectedState {
        /// The optimizer or scheduler name.
        owner: String,
        /// The unknown key.
        key: String,
        /// The entries expected per parameter (or in total).
        expected: String,
    },
    /// A state entry has the wrong type or shape.
    #[error("{owner} state: entry '{key}' {message}")]
    BadState {
        /// The optimizer or scheduler name.
        owner: String,
        /// The offending key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The checkpoint was saved with another number of parameter groups.
    #[error("{owner} state has {saved} parameter group(s), the optimizer has {current}; add the groups before loading")]
    GroupCount {
        /// The optimizer name.
        owner: String,
        /// Groups in the checkpoint.
        saved: usize,
        /// Groups of the optimizer.
        current: usize,
    },
    /// The total gradient norm is NaN or infinite and the caller asked for an error.
    #[error("the total gradient norm is not finite ({norm}); a gradient holds NaN or infinity")]
    NonFiniteNorm {
        /// The computed norm.
        norm: f64,
    },
    /// A scheduler that reacts to a metric was stepped without one.
    #[error("scheduler '{scheduler}' needs the monitored metric in every step")]
    MissingMetric {
        /// The scheduler name.
        scheduler: String,
    },
    /// An argument of a function call is out of its domain.
    #[error("{function}: {message}")]
    InvalidArgument {
        /// The function.
        function: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Building by name failed: an unknown name, a duplicate registration, a malformed spec
    /// or invalid hyper-parameters ([`RegistryError::Param`]).
    #[error(transparent)]
    Registry(Box<RegistryError>),
}

nabla_registry::from_registry_errors!(OptimError);
