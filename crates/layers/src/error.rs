//! The error type of `nabla-layers`.

use nabla_autograd::AutogradError;
use nabla_init::InitError;
use nabla_registry::{did_you_mean, ParamError, RegistryError};
use thiserror::Error;

/// Everything that can go wrong when building a layer, activation or loss, or running one.
///
/// Nothing in this crate panics on user input (names, hyper-parameters, shapes, targets);
/// the functions return one of these instead.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum LayerError {
    /// An op failed: a shape that does not fit the layer (naming both shapes), a class index
    /// out of range, too few values per channel for batch statistics, ...
    #[error(transparent)]
    Autograd(#[from] AutogradError),
    /// An unknown loss name (with suggestions), or two registrations claiming one name. (An
    /// unknown layer name is [`LayerError::UnknownModule`].)
    #[error(transparent)]
    Registry(Box<RegistryError>),
    /// Invalid hyper-parameters: an unknown key, a wrong type, a value out of range, a
    /// missing required key, or a constraint between keys.
    #[error(transparent)]
    Param(Box<ParamError>),
    /// An initializer named by a layer could not be built or could not fill its tensor.
    #[error("{context}: {source}")]
    Init {
        /// Which layer and hyper-parameter (`linear weight_init 'he_unifrom'`).
        context: String,
        /// What went wrong.
        source: Box<InitError>,
    },
    /// A name that is no registered layer (activations included), with the closest names and
    /// every name by category.
    #[error(
        "unknown layer or activation '{name}'{}; registered layers: {}; registered activations: {}",
        did_you_mean(suggestions),
        layers.join(", "),
        activations.join(", ")
    )]
    UnknownModule {
        /// The name as given.
        name: String,
        /// The closest registered names of both kinds, best first.
        suggestions: Vec<String>,
        /// Every registered layer (canonical names, sorted).
        layers: Vec<String>,
        /// Every registered activation (canonical names, sorted).
        activations: Vec<String>,
    },
    /// An invalid argument of a layer's constructor or of a forward call (a dropout
    /// probability of 1, a weight that is not 2-d, an input with the wrong number of
    /// channels, a target of the wrong kind, ...).
    #[error("{component}: {message}")]
    Invalid {
        /// The layer, activation or loss (`dropout`, `batch_norm1d`, ...).
        component: String,
        /// What is wrong, with the offending values.
        message: String,
    },
    /// An error inside a child of a container, with the child's dotted position (as in the
    /// parameter names: `3`, or `1.0` for nested containers) and name.
    #[error("layer {path} ({layer}): {source}")]
    InLayer {
        /// The dotted position of the child (`3`, `1.0`).
        path: String,
        /// The child's name (`linear`).
        layer: String,
        /// The child's error.
        source: Box<LayerError>,
    },
}

impl LayerError {
    /// An [`LayerError::Invalid`] for `component`.
    pub fn invalid(component: impl Into<String>, message: impl Into<String>) -> LayerError {
        LayerError::Invalid { component: component.into(), message: message.into() }
    }

    /// Wraps this error as coming from the child at `index` (named `layer`) of a container;
    /// positions of nested containers are joined with dots (`1.0`).
    pub fn in_layer(self, index: usize, layer: &str) -> LayerError {
        match self {
            LayerError::InLayer { path, layer: inner, source } => {
                LayerError::InLayer { path: format!("{index}.{path}"), layer: inner, source }
            }
            other => LayerError::InLayer {
                path: index.to_string(),
                layer: layer.to_string(),
                source: Box::new(other),
            },
        }
    }

    /// The innermost error (for an [`LayerError::InLayer`] the error of the child).
    pub fn root(&self) -> &LayerError {
        match self {
            LayerError::InLayer { source, .. } => source.root(),
            other => other,
        }
    }
}

impl From<ParamError> for LayerError {
    fn from(e: ParamError) -> LayerError {
        LayerError::Param(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_positions_join_with_dots_and_root_unwraps() {
        let inner = LayerError::invalid("linear", "bad");
        let e = inner.clone().in_layer(2, "linear").in_layer(1, "sequential");
        match &e {
            LayerError::InLayer { path, layer, .. } => {
                assert_eq!(path, "1.2");
                assert_eq!(layer, "linear");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(e.root(), &inner);
        assert_eq!(e.to_string(), "layer 1.2 (linear): linear: bad");
    }

    #[test]
    fn registry_param_errors_become_param_errors() {
        let p = ParamError::Syntax { input: "x".into(), position: 0, message: "m".into() };
        assert!(matches!(LayerError::from(RegistryError::Param(p)), LayerError::Param(_)));
    }
}
