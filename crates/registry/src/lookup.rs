//! Registration records, by-name lookup with aliases and did-you-mean, duplicate detection.

use crate::{Const, ParamError, ParamSpec, Params, RawParams, RegistryError};
use std::collections::BTreeMap;
use std::fmt;

/// The kinds of component nabla resolves by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// Optimizers (`sgd`, `adam`, ...).
    Optimizer,
    /// Learning-rate schedulers (`cosine`, `step`, ...).
    Scheduler,
    /// Parameter initializers (`he_uniform`, ...).
    Initializer,
    /// Layers (`linear`, `batch_norm1d`, `dropout`, ...), activation functions (`relu`,
    /// `gelu`, ...) included: every entry of a model's layer list is one of these.
    Layer,
    /// Loss functions (`cross_entropy`, `mse`, ...).
    Loss,
    /// Data sets (`digits`, `mnist`, ...).
    Dataset,
    /// The trainer's own settings (a config's top level, `[clip]`, `[checkpoint]`): declared
    /// like a component's hyper-parameters, but not registered (not in [`ComponentKind::ALL`]).
    Trainer,
}

impl ComponentKind {
    /// Every kind, in display order.
    pub const ALL: [ComponentKind; 6] = [
        ComponentKind::Optimizer,
        ComponentKind::Scheduler,
        ComponentKind::Initializer,
        ComponentKind::Layer,
        ComponentKind::Loss,
        ComponentKind::Dataset,
    ];

    /// The kind's name in messages and on the command line (`optimizer`, `scheduler`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            ComponentKind::Optimizer => "optimizer",
            ComponentKind::Scheduler => "scheduler",
            ComponentKind::Initializer => "initializer",
            ComponentKind::Layer => "layer",
            ComponentKind::Loss => "loss",
            ComponentKind::Dataset => "dataset",
            ComponentKind::Trainer => "trainer",
        }
    }

    /// Parses a kind name (singular or plural, any case).
    pub fn parse(s: &str) -> Option<ComponentKind> {
        let n = normalize(s);
        let n = n.strip_suffix('s').unwrap_or(&n);
        ComponentKind::ALL
            .into_iter()
            .find(|k| normalize(k.as_str()) == n || (n == "lrscheduler" && *k == ComponentKind::Scheduler))
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Another name for a component, optionally with preset hyper-parameters
/// (`momentum` is `sgd` with `momentum = 0.9`). User-given values override presets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alias {
    /// The alias.
    pub name: &'static str,
    /// Hyper-parameters the alias sets.
    pub presets: &'static [(&'static str, Const)],
}

impl Alias {
    /// A plain alias.
    pub const fn new(name: &'static str) -> Alias {
        Alias { name, presets: &[] }
    }
    /// An alias that presets hyper-parameters.
    pub const fn with_presets(name: &'static str, presets: &'static [(&'static str, Const)]) -> Alias {
        Alias { name, presets }
    }
    /// The presets as raw parameters.
    pub fn preset_params(&self) -> RawParams {
        self.presets.iter().filter_map(|(k, c)| c.to_value().map(|v| (k.to_string(), v))).collect()
    }
}

/// What every registration record carries, whatever its kind.
#[derive(Clone, Copy, Debug)]
pub struct ComponentInfo {
    /// Canonical snake_case name.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [Alias],
    /// One-line summary.
    pub summary: &'static str,
    /// `module_path!()` of the registration (shown when two records collide).
    pub module: &'static str,
    /// The hyper-parameter schema.
    pub params: &'static [ParamSpec],
}

/// A registration record of one kind. Implemented by the record type that each kind's crate
/// collects with `inventory` (for example `nabla_optim::OptimizerRegistration`).
pub trait Component: inventory::Collect + Sync + 'static {
    /// The kind of component this record registers.
    const KIND: ComponentKind;
    /// The common part of the record.
    fn info(&self) -> &ComponentInfo;
}

/// A successful lookup: the record and, when the name was an alias, that alias.
pub struct Resolved<C: 'static> {
    /// The registration record.
    pub record: &'static C,
    /// The alias the name matched, if it was not the canonical name.
    pub alias: Option<&'static Alias>,
}

impl<C: Component> fmt::Debug for Resolved<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("kind", &C::KIND)
            .field("name", &self.record.info().name)
            .field("alias", &self.alias.map(|a| a.name))
            .finish()
    }
}

impl<C: Component> Resolved<C> {
    /// The component's common record.
    pub fn info(&self) -> &'static ComponentInfo {
        self.record.info()
    }

    /// Validates user-given hyper-parameters (after the alias presets) and fills defaults.
    pub fn params(&self, given: &RawParams) -> Result<Params, ParamError> {
        let presets = self.alias.map(Alias::preset_params).unwrap_or_default();
        let info = self.record.info();
        Params::validate(C::KIND, info.name, info.params, &presets, given)
    }
}

/// Normalizes a name for lookup: lower case, without `_`, `-`, spaces and dots, so that
/// "He-Uniform", "he_uniform" and "HeUniform" compare equal.
pub fn normalize(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, '_' | '-' | ' ' | '.')).flat_map(char::to_lowercase).collect()
}

/// The closest candidates to `query` (at most three, best first).
pub fn suggest<'a>(query: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let q = normalize(query);
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .filter_map(|c| {
            let n = normalize(c);
            let distance = strsim::levenshtein(&q, &n);
            let close = distance <= (n.len().max(q.len()) / 3).max(2);
            let contains = q.len() >= 3 && (n.contains(&q) || q.contains(&n));
            (close || contains).then(|| (if close { distance } else { distance + 10 }, c.to_string()))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// Every record of kind `C`, sorted by canonical name.
pub fn list<C: Component>() -> Vec<&'static C> {
    let mut all: Vec<&'static C> = inventory::iter::<C>.into_iter().collect();
    all.sort_by_key(|c| c.info().name);
    all
}

/// The canonical name of every record of kind `C`, sorted.
pub fn names<C: Component>() -> Vec<&'static str> {
    list::<C>().into_iter().map(|c| c.info().name).collect()
}

/// Checks that no two records of kind `C` claim the same name or alias; returns every conflict.
pub fn duplicates<C: Component>() -> Vec<RegistryError> {
    let mut seen: BTreeMap<String, (&'static str, &'static str)> = BTreeMap::new();
    let mut errors = Vec::new();
    for record in list::<C>() {
        let info = record.info();
        let names = std::iter::once(info.name).chain(info.aliases.iter().map(|a| a.name));
        for name in names {
            let key = normalize(name);
            if let Some(&(first, first_module)) = seen.get(&key) {
                errors.push(RegistryError::Duplicate {
                    kind: C::KIND,
                    name: key.clone(),
                    first: first.to_string(),
                    first_module: first_module.to_string(),
                    second: name.to_string(),
                    second_module: info.module.to_string(),
                });
            } else {
                seen.insert(key, (name, info.module));
            }
        }
    }
    errors
}

/// Finds the record of kind `C` whose name or alias matches `name` (case-, hyphen- and
/// underscore-insensitively). Errors: unknown (with suggestions and all names), or a name
/// claimed by two records (naming both modules).
pub fn resolve<C: Component>(name: &str) -> Result<Resolved<C>, RegistryError> {
    let key = normalize(name);
    let mut found: Option<Resolved<C>> = None;
    for record in list::<C>() {
        let info = record.info();
        let hit = if normalize(info.name) == key {
            Some(None)
        } else {
            info.aliases.iter().find(|a| normalize(a.name) == key).map(Some)
        };
        if let Some(alias) = hit {
            if let Some(previous) = &found {
                let (first, second) = (previous.record.info(), info);
                return Err(RegistryError::Duplicate {
                    kind: C::KIND,
                    name: key,
                    first: previous.alias.map_or(first.name, |a| a.name).to_string(),
                    first_module: first.module.to_string(),
                    second: alias.map_or(info.name, |a| a.name).to_string(),
                    second_module: second.module.to_string(),
                });
            }
            found = Some(Resolved { record, alias });
        }
    }
    found.ok_or_else(|| {
        let records = list::<C>();
        let all_names = records
            .iter()
            .flat_map(|r| std::iter::once(r.info().name).chain(r.info().aliases.iter().map(|a| a.name)));
        RegistryError::Unknown {
            kind: C::KIND,
            name: name.to_string(),
            suggestions: suggest(name, all_names),
            known: names::<C>().into_iter().map(String::from).collect(),
        }
    })
}

/// Resolves a compact spec (`adam:lr=3e-4`) to its record and validated hyper-parameters.
pub fn resolve_spec<C: Component>(spec: &str) -> Result<(Resolved<C>, Params), RegistryError> {
    let (name, raw) = crate::parse_compact(spec)?;
    let resolved = resolve::<C>(&name)?;
    let params = resolved.params(&raw)?;
    Ok((resolved, params))
}
