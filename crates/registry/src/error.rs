//! Errors of the registry: unknown names, duplicate registrations and invalid hyper-parameters.

use crate::ComponentKind;
use thiserror::Error;

/// A lookup by name failed, or the registrations of a kind conflict.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RegistryError {
    /// No component of this kind has this name or alias.
    #[error("unknown {kind} '{name}'{}; registered {kind}s: {}", did_you_mean(suggestions), known.join(", "))]
    Unknown {
        /// The kind that was searched.
        kind: ComponentKind,
        /// The name as given.
        name: String,
        /// The closest registered names, best first.
        suggestions: Vec<String>,
        /// Every registered name of this kind (canonical names, sorted).
        known: Vec<String>,
    },
    /// Two registrations claim the same name (after normalization).
    #[error(
        "duplicate {kind} name '{name}': registered as '{first}' by {first_module} and as '{second}' by {second_module}"
    )]
    Duplicate {
        /// The kind.
        kind: ComponentKind,
        /// The normalized name both claim.
        name: String,
        /// The first claimant's spelling.
        first: String,
        /// The module that registered the first claimant.
        first_module: String,
        /// The second claimant's spelling.
        second: String,
        /// The module that registered the second claimant.
        second_module: String,
    },
    /// A name of a component with hyper-parameters attached was malformed.
    #[error(transparent)]
    Param(#[from] ParamError),
}

/// The ` (did you mean 'a' or 'b'?)` part of an unknown-name message, empty without
/// suggestions; shared by every message that offers the closest names.
pub fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(
            " (did you mean {}?)",
            suggestions.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(" or ")
        )
    }
}

/// Implements `From<RegistryError>` and `From<ParamError>` for a kind crate's error enum,
/// whose variant `Registry(Box<RegistryError>)` holds everything the registry reports (boxed:
/// it is large, the crate's own variants small), a [`ParamError`] as [`RegistryError::Param`];
/// so `?` and [`build`](crate::build) report registry errors as the kind's error.
///
/// ```
/// use nabla_registry::{ParamError, RegistryError};
///
/// #[derive(Debug, thiserror::Error)]
/// enum WidgetError {
///     #[error(transparent)]
///     Registry(Box<RegistryError>),
/// }
/// nabla_registry::from_registry_errors!(WidgetError);
///
/// let syntax = ParamError::Syntax { input: "w:".into(), position: 2, message: "expected a key".into() };
/// let WidgetError::Registry(e) = WidgetError::from(syntax.clone());
/// assert_eq!(*e, RegistryError::Param(syntax));
/// ```
#[macro_export]
macro_rules! from_registry_errors {
    ($error:ident) => {
        impl ::core::convert::From<$crate::RegistryError> for $error {
            fn from(e: $crate::RegistryError) -> $error {
                $error::Registry(::std::boxed::Box::new(e))
            }
        }

        impl ::core::convert::From<$crate::ParamError> for $error {
            fn from(e: $crate::ParamError) -> $error {
                $error::from($crate::RegistryError::Param(e))
            }
        }
    };
}

/// A hyper-parameter problem: names the component, the key, what was expected and what was given.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ParamError {
    /// A key the component does not declare.
    #[error("{kind} '{component}' has no hyper-parameter '{key}'{}; it accepts: {}", did_you_mean(suggestions), accepted.join(", "))]
    UnknownKey {
        /// Kind of the component.
        kind: ComponentKind,
        /// Canonical name of the component.
        component: String,
        /// The offending key.
        key: String,
        /// Closest accepted keys.
        suggestions: Vec<String>,
        /// Every accepted key.
        accepted: Vec<String>,
    },
    /// A value of the wrong type.
    #[error("{kind} '{component}': '{key}' expects {expected}, got {given}")]
    WrongType {
        /// Kind of the component.
        kind: ComponentKind,
        /// Canonical name of the component.
        component: String,
        /// The key.
        key: String,
        /// The expected type.
        expected: String,
        /// What was given (type and value).
        given: String,
    },
    /// A value outside its valid range or set.
    #[error("{kind} '{component}': '{key}' must be {expected}, got {given}")]
    OutOfRange {
        /// Kind of the component.
        kind: ComponentKind,
        /// Canonical name of the component.
        component: String,
        /// The key.
        key: String,
        /// The valid range or set.
        expected: String,
        /// The given value.
        given: String,
    },
    /// A required key was not given.
    #[error("{kind} '{component}': missing required hyper-parameter '{key}' ({doc})")]
    Missing {
        /// Kind of the component.
        kind: ComponentKind,
        /// Canonical name of the component.
        component: String,
        /// The key.
        key: String,
        /// The key's documentation.
        doc: String,
    },
    /// A constraint between several keys was violated (checked by the component's factory).
    #[error("{kind} '{component}': {message}")]
    Invalid {
        /// Kind of the component.
        kind: ComponentKind,
        /// Canonical name of the component.
        component: String,
        /// What is wrong.
        message: String,
    },
    /// The compact `name:key=value,...` form could not be parsed.
    #[error("cannot parse '{input}' at character {position}: {message}")]
    Syntax {
        /// The whole input.
        input: String,
        /// Zero-based character offset of the problem.
        position: usize,
        /// What was expected.
        message: String,
    },
}
