//! The normal / uniform pair of a fan-scaled initializer (Xavier, He): one setting computes a
//! standard deviation from the fans, the normal member draws `N(0, std^2)` and the uniform one
//! `U(-bound, bound)` with `bound = sqrt(3) * std`, the uniform of the same variance.

use crate::{InitError, Role};

/// The settings of a fan-scaled pair: the standard deviation for a tensor of `shape` in
/// `role`, as PyTorch computes it. `name` is the initializer's, for errors.
pub(crate) trait StdFromFans {
    /// The standard deviation both members of the pair draw with.
    fn std(&self, name: &'static str, shape: &[usize], role: Role) -> Result<f64, InitError>;
}

/// Declares a fan-scaled pair on a settings type implementing [`StdFromFans`]: the two
/// newtypes (each with its docs), `From<settings>` for both, their [`crate::Initializer`]
/// impls and their registrations with one alias each and their summaries.
macro_rules! fan_scaled_pair {
    (
        settings: $settings:ty,
        $(#[$normal_doc:meta])*
        normal: $normal:ident, name: $normal_name:literal, alias: $normal_alias:literal, summary: $normal_summary:literal;
        $(#[$uniform_doc:meta])*
        uniform: $uniform:ident, name: $uniform_name:literal, alias: $uniform_alias:literal, summary: $uniform_summary:literal;
    ) => {
        $crate::fan_scaled::fan_scaled_pair!(@member $settings, $(#[$normal_doc])* $normal,
            $normal_name, $normal_alias, $normal_summary,
            |std| $crate::Distribution::Normal { mean: 0.0, std });
        $crate::fan_scaled::fan_scaled_pair!(@member $settings, $(#[$uniform_doc])* $uniform,
            $uniform_name, $uniform_alias, $uniform_summary,
            |std| {
                let bound = 3f64.sqrt() * std;
                $crate::Distribution::Uniform { low: -bound, high: bound }
            });
    };
    // One member: the newtype, its `From`, its `Initializer` drawing `$distribution` from the
    // settings' std, and its registration.
    (@member $settings:ty, $(#[$doc:meta])* $ty:ident, $name:literal, $alias:literal, $summary:literal,
        |$std:ident| $distribution:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $ty(pub $settings);

        impl From<$settings> for $ty {
            fn from(settings: $settings) -> $ty {
                $ty(settings)
            }
        }

        impl $crate::Initializer for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn distribution(
                &self,
                shape: &[usize],
                role: $crate::Role,
            ) -> Result<$crate::Distribution, $crate::InitError> {
                let $std = $crate::fan_scaled::StdFromFans::std(&self.0, self.name(), shape, role)?;
                Ok($distribution)
            }
        }

        $crate::register_initializer!($ty, params: $settings,
            name: $name,
            aliases: [$crate::__private::nabla_registry::Alias::new($alias)],
            summary: $summary,
        );
    };
}

pub(crate) use fan_scaled_pair;
