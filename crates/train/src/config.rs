//! The training configuration: a TOML file in which every component is named and resolved
//! through the registry, `--set key.path=value` overrides, and the effective configuration.

use crate::TrainError;
use nabla_registry::{
    raw_params_from_toml, suggest, ComponentKind, HyperParams, ParamChoice, ParamError, Params, RawParams,
    Value,
};

/// The built-in configuration used by `nabla train` without a file: the chapter-3 MLP on the
/// embedded scikit-learn digits.
pub const DEFAULT_CONFIG: &str = include_str!("../configs/digits_mlp.toml");
use std::path::{Path, PathBuf};

/// A component named in the config, with its (unvalidated) hyper-parameters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComponentSpec {
    /// The registered name (or alias) as written.
    pub name: String,
    /// The other keys of the table: hyper-parameters, validated when the component is built.
    pub params: RawParams,
    /// Where it stands in the config (`optimizer`, `model.layers[2]`), for error messages.
    pub table: String,
}

impl ComponentSpec {
    /// The spec of a validated component: its canonical name and every effective value.
    pub(crate) fn from_params(params: &Params, table: &str) -> ComponentSpec {
        ComponentSpec {
            name: params.component().to_string(),
            params: params.values().clone(),
            table: table.to_string(),
        }
    }

    fn to_toml(&self) -> toml::Table {
        let mut t: toml::Table = self.params.iter().map(|(k, v)| (k.clone(), v.to_toml())).collect();
        t.insert("name".to_string(), toml::Value::String(self.name.clone()));
        t
    }
}

/// Gradient clipping settings (`[clip]`).
#[derive(Clone, Debug, PartialEq, Default, HyperParams)]
pub struct ClipConfig {
    /// Clip the global L2 norm of all gradients to this value.
    #[param(range = Range::open(0.0, f64::INFINITY))]
    pub max_norm: Option<f64>,
    /// Clip every gradient element to `[-max_value, max_value]`.
    #[param(range = Range::open(0.0, f64::INFINITY))]
    pub max_value: Option<f64>,
}

/// Checkpoint settings (`[checkpoint]`).
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct CheckpointConfig {
    /// Write a checkpoint every this many epochs (0: only at the end).
    #[param(default = 1, range = NON_NEGATIVE)]
    pub every_epochs: usize,
}

/// What `batch_size` counts in data-parallel training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, ParamChoice)]
pub enum BatchSizeMeaning {
    /// The batch of each process, as PyTorch's DistributedDataParallel with a
    /// DistributedSampler: N processes train on a global batch of `N * batch_size`.
    #[default]
    PerProcess,
    /// The global batch: each of N processes takes `batch_size / N` (which must divide).
    Global,
}

/// Data-parallel settings (`[distributed]`), used when the run has several processes
/// (`mpirun -np N nabla train`); a run of one process ignores them.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct DistributedConfig {
    /// batch-norm statistics over every process's batch (PyTorch's SyncBatchNorm) instead of
    /// each process's own
    #[param(default = false)]
    pub sync_batch_norm: bool,
    /// what batch_size counts: per_process (each process's batch, as PyTorch DDP) or global
    #[param(default = "per_process")]
    pub batch_size: BatchSizeMeaning,
    /// capacity of one gradient all-reduce bucket, MiB (PyTorch DDP: 25)
    #[param(default = 25.0, range = Range::open(0.0, 4096.0))]
    pub bucket_mb: f64,
}

/// When the learning-rate scheduler advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, ParamChoice)]
pub enum SchedulerInterval {
    /// Once per epoch, after evaluation (with the test loss as the metric for
    /// `reduce_on_plateau`); the default, as PyTorch's epoch-based schedulers are used.
    #[default]
    Epoch,
    /// After every optimizer step (for warm-ups and schedules counted in steps); no metric.
    Step,
}

/// A complete training configuration.
///
/// Its top-level keys (`seed` ... `validation_fraction`) are declared here once, with their
/// defaults and ranges (`#[derive(HyperParams)]`): the file reader, the builder's checks and
/// the saved config all follow from these fields. The component tables are kept as written
/// (`#[param(skip)]`) and validated by the registry when the trainer builds them.
#[derive(Clone, Debug, PartialEq, HyperParams)]
pub struct TrainConfig {
    /// Where the config came from (a path, or `<built-in digits_mlp>`), for error messages.
    #[param(skip)]
    pub source: String,
    /// seed of every random draw (initialization, shuffling, dropout)
    #[param(default = 0, range = Range::closed(0.0, 9.223_372_036_854_776e18))]
    pub seed: u64,
    /// number of epochs
    #[param(default = 10, range = Range::at_least(1.0))]
    pub epochs: usize,
    /// training batch size
    #[param(default = 32, range = Range::at_least(1.0))]
    pub batch_size: usize,
    /// evaluation batch size
    #[param(default = 1000, range = Range::at_least(1.0))]
    pub eval_batch_size: usize,
    /// drop the last incomplete training batch of an epoch
    #[param(default = false)]
    pub drop_last: bool,
    /// fraction of the training split held out (stratified, seeded by seed) as a validation
    /// split, evaluated every epoch and fed to epoch-wise schedulers such as
    /// reduce_on_plateau; 0 evaluates on the test split only
    #[param(default = 0.0, range = UNIT_HALF_OPEN)]
    pub validation_fraction: f64,
    /// memory budget of the run in bytes, checked against the model and batch sizes before
    /// anything is allocated (default: half the available memory; capped at the available memory)
    #[param(range = Range::at_least(1.0))]
    pub max_memory: Option<u64>,
    /// The data set (`[data]`, `name` plus the data set's hyper-parameters, including its
    /// normalization: `scale`, `standardize`).
    #[param(skip)]
    pub data: ComponentSpec,
    /// The layers, in order (`[[model.layers]]`).
    #[param(skip)]
    pub layers: Vec<ComponentSpec>,
    /// Weight initializer for layers that do not name their own (`[model] weight_init`).
    #[param(skip)]
    pub weight_init: Option<String>,
    /// Bias initializer for layers that do not name their own (`[model] bias_init`).
    #[param(skip)]
    pub bias_init: Option<String>,
    /// The loss (`[loss]`).
    #[param(skip)]
    pub loss: ComponentSpec,
    /// The optimizer (`[optimizer]`).
    #[param(skip)]
    pub optimizer: ComponentSpec,
    /// The learning-rate scheduler (`[scheduler]`), if any.
    #[param(skip)]
    pub scheduler: Option<ComponentSpec>,
    /// When the scheduler steps (`[scheduler] interval = "epoch" | "step"`).
    #[param(skip)]
    pub scheduler_interval: SchedulerInterval,
    /// Gradient clipping.
    #[param(skip)]
    pub clip: ClipConfig,
    /// Checkpointing.
    #[param(skip)]
    pub checkpoint: CheckpointConfig,
    /// Data-parallel training.
    #[param(skip)]
    pub distributed: DistributedConfig,
}

impl TrainConfig {
    /// The built-in chapter-3 MLP on the embedded digits.
    pub fn default_digits() -> TrainConfig {
        TrainConfig::from_toml_str(DEFAULT_CONFIG, "<built-in digits_mlp.toml>", &[])
            .expect("the built-in config is valid")
    }

    /// Reads a config file and applies `--set` overrides (`key.path=value`).
    pub fn from_file(path: &Path, overrides: &[String]) -> Result<TrainConfig, TrainError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TrainError::Io { path: path.to_path_buf(), source })?;
        TrainConfig::from_toml_str(&text, &path.display().to_string(), overrides)
    }

    /// The effective config saved in a run directory (`config.toml`), as
    /// [`Trainer::resume`](crate::Trainer::resume) reads it.
    pub fn from_run_dir(run_dir: &Path) -> Result<TrainConfig, TrainError> {
        TrainConfig::from_file(&run_dir.join("config.toml"), &[])
    }

    /// Parses a config from TOML text; `source` names it in errors.
    pub fn from_toml_str(text: &str, source: &str, overrides: &[String]) -> Result<TrainConfig, TrainError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| TrainError::ConfigSyntax {
            file: source.to_string(),
            message: e.to_string(),
        })?;
        for o in overrides {
            apply_override(&mut table, o).map_err(|message| TrainError::Config {
                file: source.to_string(),
                table: "--set".to_string(),
                key: o.clone(),
                message,
            })?;
        }
        Parser { file: source.to_string() }.config(&table)
    }

    /// Sets one value by its key path, exactly as the override `--set path=value` does, but
    /// with a typed value (no quoting): `config.set("data.data_dir", Value::Str(dir))`. The
    /// config is checked again afterwards, so an unknown top-level key or a value of the wrong
    /// type is an error naming [`TrainConfig::source`].
    pub fn set(&mut self, path: &str, value: Value) -> Result<(), TrainError> {
        let mut table = self.to_toml();
        set_path(&mut table, path, value.to_toml()).map_err(|message| TrainError::Config {
            file: self.source.clone(),
            table: "--set".to_string(),
            key: path.to_string(),
            message,
        })?;
        *self = Parser { file: self.source.clone() }.config(&table)?;
        Ok(())
    }

    /// The config as a TOML table, in the layout [`TrainConfig::from_toml_str`] reads back
    /// to an equal config. Every key of the file format is written here, and only here: the
    /// trainer's effective config is this table of the config with its components validated.
    pub fn to_toml(&self) -> toml::Table {
        let mut t = raw_to_toml(&self.to_raw());
        t.insert("data".into(), toml::Value::Table(self.data.to_toml()));
        let mut model = toml::Table::new();
        if let Some(w) = &self.weight_init {
            model.insert("weight_init".into(), toml::Value::String(w.clone()));
        }
        if let Some(b) = &self.bias_init {
            model.insert("bias_init".into(), toml::Value::String(b.clone()));
        }
        let layers = self.layers.iter().map(|l| toml::Value::Table(l.to_toml())).collect();
        model.insert("layers".into(), toml::Value::Array(layers));
        t.insert("model".into(), toml::Value::Table(model));
        t.insert("loss".into(), toml::Value::Table(self.loss.to_toml()));
        t.insert("optimizer".into(), toml::Value::Table(self.optimizer.to_toml()));
        if let Some(spec) = &self.scheduler {
            let mut table = spec.to_toml();
            table.insert("interval".into(), self.scheduler_interval.as_str().into());
            t.insert("scheduler".into(), toml::Value::Table(table));
        }
        let clip = raw_to_toml(&self.clip.to_raw());
        if !clip.is_empty() {
            t.insert("clip".into(), toml::Value::Table(clip));
        }
        t.insert("checkpoint".into(), toml::Value::Table(raw_to_toml(&self.checkpoint.to_raw())));
        t.insert("distributed".into(), toml::Value::Table(raw_to_toml(&self.distributed.to_raw())));
        t
    }

    /// [`TrainConfig::to_toml`] as text.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(&self.to_toml()).expect("a TOML table serializes")
    }

    /// The effective config: these top-level values with every component replaced by its
    /// validated parameters (canonical names, alias presets and defaults filled in). Loading
    /// its TOML back gives the same run.
    pub(crate) fn effective(
        &self,
        data: &Params,
        layers: &[Params],
        loss: &Params,
        optimizer: &Params,
        scheduler: Option<&Params>,
    ) -> TrainConfig {
        TrainConfig {
            data: ComponentSpec::from_params(data, "data"),
            layers: layers
                .iter()
                .enumerate()
                .map(|(i, p)| ComponentSpec::from_params(p, &format!("model.layers[{i}]")))
                .collect(),
            loss: ComponentSpec::from_params(loss, "loss"),
            optimizer: ComponentSpec::from_params(optimizer, "optimizer"),
            scheduler: scheduler.map(|p| ComponentSpec::from_params(p, "scheduler")),
            ..self.clone()
        }
    }
}

/// Applies one `key.path=value` override to a TOML table. The value is TOML (`3e-4`,
/// `[0.9, 0.98]`, `true`, `"x"`); a bare word is taken as a string (`optimizer.name=adamw`).
/// Numeric path segments index arrays (`model.layers.3.p=0.5`).
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let (path, value) =
        assignment.split_once('=').ok_or_else(|| format!("expected key.path=value, got '{assignment}'"))?;
    set_path(table, path, parse_override_value(value.trim()))
}

fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let path: Vec<&str> = path.trim().split('.').collect();
    if path.iter().any(|s| s.is_empty()) {
        return Err(format!("empty segment in the key path '{}'", path.join(".")));
    }
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_in(&mut root, &path, "", value);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result
}

fn set_in(node: &mut toml::Value, path: &[&str], walked: &str, new: toml::Value) -> Result<(), String> {
    let (head, rest) = path.split_first().expect("non-empty path");
    let here = if walked.is_empty() { head.to_string() } else { format!("{walked}.{head}") };
    let child = match node {
        toml::Value::Table(t) => {
            if rest.is_empty() {
                t.insert(head.to_string(), new);
                return Ok(());
            }
            t.entry(head.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()))
        }
        toml::Value::Array(items) => {
            let len = items.len();
            let i: usize =
                head.parse().map_err(|_| format!("'{walked}' is an array: '{head}' is not an index"))?;
            let item =
                items.get_mut(i).ok_or_else(|| format!("'{walked}' has {len} entries, no index {i}"))?;
            if rest.is_empty() {
                *item = new;
                return Ok(());
            }
            item
        }
        other => return Err(format!("'{walked}' is a {}, not a table or array", other.type_str())),
    };
    set_in(child, rest, &here, new)
}

fn parse_override_value(text: &str) -> toml::Value {
    let doc = format!("v = {text}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").expect("the key was just written"),
        Err(_) => toml::Value::String(text.to_string()),
    }
}

struct Parser {
    file: String,
}

impl Parser {
    fn err(&self, table: &str, key: &str, message: impl Into<String>) -> TrainError {
        TrainError::Config {
            file: self.file.clone(),
            table: table.to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn check_keys(&self, table: &toml::Table, name: &str, allowed: &[&str]) -> Result<(), TrainError> {
        for key in table.keys() {
            if !allowed.contains(&key.as_str()) {
                let near = suggest(key, allowed.iter().copied());
                let hint = match near.first() {
                    Some(s) => format!(" (did you mean '{s}'?)"),
                    None => String::new(),
                };
                return Err(self.err(
                    name,
                    key,
                    format!("unknown key{hint}; allowed: {}", allowed.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn string(&self, table: &toml::Table, name: &str, key: &str) -> Result<Option<String>, TrainError> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.err(name, key, format!("expects a string, got {v}"))),
        }
    }

    fn sub_table<'a>(
        &self,
        table: &'a toml::Table,
        key: &str,
    ) -> Result<Option<&'a toml::Table>, TrainError> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::Table(t)) => Ok(Some(t)),
            Some(v) => Err(self.err(key, key, format!("expects a table [{key}], got {v}"))),
        }
    }

    /// A component table: `name` plus hyper-parameters; `reserved` keys are read by the caller.
    fn component(
        &self,
        table: &toml::Table,
        context: &str,
        reserved: &[&str],
    ) -> Result<ComponentSpec, TrainError> {
        let name = match table.get("name") {
            Some(toml::Value::String(s)) => s.clone(),
            Some(v) => {
                return Err(self.err(context, "name", format!("expects a component name (string), got {v}")))
            }
            None => {
                return Err(self.err(context, "name", "missing: name the component, e.g. name = \"adam\""))
            }
        };
        let rest: toml::Table = table
            .iter()
            .filter(|(k, _)| *k != "name" && !reserved.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let params = raw_params_from_toml(&rest, context).map_err(|m| self.err(context, "", m))?;
        Ok(ComponentSpec { name, params, table: context.to_string() })
    }

    /// The table `[key]`, which every config has.
    fn required_table<'a>(&self, root: &'a toml::Table, key: &str) -> Result<&'a toml::Table, TrainError> {
        self.sub_table(root, key)?.ok_or_else(|| self.err(key, "", format!("missing table [{key}]")))
    }

    /// The component of the table `[key]`, which every config has.
    fn required_component(&self, root: &toml::Table, key: &str) -> Result<ComponentSpec, TrainError> {
        self.component(self.required_table(root, key)?, key, &[])
    }

    fn config(&self, root: &toml::Table) -> Result<TrainConfig, TrainError> {
        let settings: toml::Table = root
            .iter()
            .filter(|(k, _)| !TOP_TABLES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut config: TrainConfig = self.settings(&settings, "top level")?;

        let data = self.required_component(root, "data")?;

        let model = self.required_table(root, "model")?;
        self.check_keys(model, "model", &["layers", "weight_init", "bias_init"])?;
        let layers = match model.get("layers") {
            Some(toml::Value::Array(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    toml::Value::Table(t) => self.component(t, &format!("model.layers[{i}]"), &[]),
                    v => {
                        Err(self.err(&format!("model.layers[{i}]"), "", format!("expects a table, got {v}")))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(v) => {
                return Err(self.err(
                    "model",
                    "layers",
                    format!("expects a non-empty array of tables, got {v}"),
                ))
            }
            None => {
                return Err(self.err(
                    "model",
                    "layers",
                    "missing: list the layers as [[model.layers]] tables",
                ))
            }
        };
        let weight_init = self.string(model, "model", "weight_init")?;
        let bias_init = self.string(model, "model", "bias_init")?;

        let loss = self.required_component(root, "loss")?;
        let optimizer = self.required_component(root, "optimizer")?;
        let (scheduler, scheduler_interval) = match self.sub_table(root, "scheduler")? {
            Some(t) => {
                let interval = match t.get("interval") {
                    None => SchedulerInterval::default(),
                    Some(toml::Value::String(s)) => SchedulerInterval::from_option(&normalize_choice(s))
                        .ok_or_else(|| {
                            self.err("scheduler", "interval", format!("expects epoch or step, got '{s}'"))
                        })?,
                    Some(v) => {
                        return Err(self.err(
                            "scheduler",
                            "interval",
                            format!("expects epoch or step, got {v}"),
                        ))
                    }
                };
                (Some(self.component(t, "scheduler", &["interval"])?), interval)
            }
            None => (None, SchedulerInterval::default()),
        };
        let clip: ClipConfig = self.optional_settings(root, "clip")?;
        let checkpoint: CheckpointConfig = self.optional_settings(root, "checkpoint")?;
        let distributed: DistributedConfig = self.optional_settings(root, "distributed")?;
        config.source = self.file.clone();
        Ok(TrainConfig {
            data,
            layers,
            weight_init,
            bias_init,
            loss,
            optimizer,
            scheduler,
            scheduler_interval,
            clip,
            checkpoint,
            distributed,
            ..config
        })
    }

    /// Reads the settings table `name` of `root` as [`Self::settings`], or their defaults
    /// when the config has no such table.
    fn optional_settings<H: HyperParams + Default>(
        &self,
        root: &toml::Table,
        name: &str,
    ) -> Result<H, TrainError> {
        match self.sub_table(root, name)? {
            Some(t) => self.settings(t, name),
            None => Ok(H::default()),
        }
    }

    /// Reads a table of the trainer's own settings against their declaration.
    fn settings<H: HyperParams>(&self, table: &toml::Table, name: &str) -> Result<H, TrainError> {
        let raw = raw_params_from_toml(table, name).map_err(|m| self.err(name, "", m))?;
        read_settings(&raw, &self.file, name)
    }
}

/// The tables of a config; every other top-level key is one of [`TrainConfig`]'s settings.
const TOP_TABLES: &[&str] =
    &["data", "model", "loss", "optimizer", "scheduler", "clip", "checkpoint", "distributed"];

/// Implements `Default` for settings tables as the values their declaration gives a table
/// that names no key, so the defaults are written once, in the `#[param(default)]`s.
macro_rules! default_from_declaration {
    ($($settings:ty => $table:literal),* $(,)?) => {
        $(
            impl Default for $settings {
                fn default() -> $settings {
                    declared_defaults($table)
                }
            }
        )*
    };
}

default_from_declaration!(CheckpointConfig => "checkpoint", DistributedConfig => "distributed");

/// The settings `H` declares for a table that names none of its keys.
pub(crate) fn declared_defaults<H: HyperParams>(table: &str) -> H {
    read_settings(&RawParams::new(), "<defaults>", table).expect("the defaults are valid")
}

/// Validates raw settings against `H`'s declaration; errors name the file, table and key as
/// the rest of a config's errors do.
pub(crate) fn read_settings<H: HyperParams>(
    raw: &RawParams,
    file: &str,
    table: &str,
) -> Result<H, TrainError> {
    let config_error = |key: &str, message: String| TrainError::Config {
        file: file.to_string(),
        table: table.to_string(),
        key: key.to_string(),
        message,
    };
    let params = Params::validate(ComponentKind::Trainer, table, H::SCHEMA, &RawParams::new(), raw)
        .map_err(|e| settings_error(e, &config_error))?;
    H::from_params(&params).map_err(|e| settings_error(e, &config_error))
}

/// A registry error about a setting, in the words of a config error.
fn settings_error(e: ParamError, config_error: &dyn Fn(&str, String) -> TrainError) -> TrainError {
    match e {
        ParamError::UnknownKey { key, suggestions, accepted, .. } => {
            let hint = suggestions.first().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
            let mut allowed = accepted;
            if let Some(table_keys) = (allowed.iter().any(|k| k == "seed")).then_some(TOP_TABLES) {
                allowed.extend(table_keys.iter().map(|t| t.to_string()));
            }
            config_error(&key, format!("unknown key{hint}; allowed: {}", allowed.join(", ")))
        }
        ParamError::WrongType { key, expected, given, .. } => {
            config_error(&key, format!("expects {expected}, got {given}"))
        }
        ParamError::OutOfRange { key, expected, given, .. } => {
            config_error(&key, format!("expects {expected}, got {given}"))
        }
        ParamError::Missing { key, doc, .. } => config_error(&key, format!("missing ({doc})")),
        ParamError::Invalid { message, .. } => config_error("", message),
        other => config_error("", other.to_string()),
    }
}

/// Raw settings as a TOML table.
fn raw_to_toml(raw: &RawParams) -> toml::Table {
    raw.iter().map(|(k, v)| (k.clone(), v.to_toml())).collect()
}

/// The spelling a choice is stored in: lower case with underscores.
fn normalize_choice(s: &str) -> String {
    s.trim().to_lowercase().replace('-', "_")
}

/// Where a run writes its files (`--out DIR`, default `runs/<timestamp>`).
pub fn default_run_dir() -> PathBuf {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    PathBuf::from("runs").join(format!("run-{secs}"))
}
