//! The training configuration: a TOML file in which every component is named and resolved
//! through the registry, `--set key.path=value` overrides, and the effective configuration.

use crate::TrainError;
use nabla_registry::{raw_params_from_toml, suggest, Params, RawParams, Value};
use std::path::{Path, PathBuf};

/// The built-in configuration used by `nabla train` without a file: the chapter-3 MLP on the
/// embedded scikit-learn digits.
pub const DEFAULT_CONFIG: &str = include_str!("../configs/digits_mlp.toml");

/// Seed of a config that names none.
pub(crate) const DEFAULT_SEED: u64 = 0;
/// Epochs of a config that names none.
pub(crate) const DEFAULT_EPOCHS: usize = 10;
/// Training batch size of a config that names none.
pub(crate) const DEFAULT_BATCH_SIZE: usize = 32;
/// Evaluation batch size of a config that names none.
pub(crate) const DEFAULT_EVAL_BATCH_SIZE: usize = 1000;
/// Checkpoint interval (epochs) of a config that names none.
pub(crate) const DEFAULT_CHECKPOINT_EVERY: usize = 1;

/// A component named in the config, with its (unvalidated) hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
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
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ClipConfig {
    /// Clip the global L2 norm of all gradients to this value.
    pub max_norm: Option<f64>,
    /// Clip every gradient element to `[-max_value, max_value]`.
    pub max_value: Option<f64>,
}

/// Checkpoint settings (`[checkpoint]`).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointConfig {
    /// Write a checkpoint every this many epochs (0: only at the end).
    pub every_epochs: usize,
}

/// When the learning-rate scheduler advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SchedulerInterval {
    /// Once per epoch, after evaluation (with the test loss as the metric for
    /// `reduce_on_plateau`); the default, as PyTorch's epoch-based schedulers are used.
    #[default]
    Epoch,
    /// After every optimizer step (for warm-ups and schedules counted in steps); no metric.
    Step,
}

impl SchedulerInterval {
    /// The config spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            SchedulerInterval::Epoch => "epoch",
            SchedulerInterval::Step => "step",
        }
    }
}

/// A complete training configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Where the config came from (a path, or `<built-in digits_mlp>`), for error messages.
    pub source: String,
    /// Seed of every random draw (initialization, shuffling, dropout).
    pub seed: u64,
    /// Number of epochs.
    pub epochs: usize,
    /// Training batch size.
    pub batch_size: usize,
    /// Evaluation batch size.
    pub eval_batch_size: usize,
    /// Drop the last incomplete training batch of an epoch.
    pub drop_last: bool,
    /// Fraction of the training split held out (stratified, seeded by `seed`) as a validation
    /// split, evaluated every epoch and fed to epoch-wise schedulers such as
    /// `reduce_on_plateau`; 0 (the default) evaluates on the test split only.
    pub validation_fraction: f64,
    /// The data set (`[data]`, `name` plus the data set's hyper-parameters, including its
    /// normalization: `scale`, `standardize`).
    pub data: ComponentSpec,
    /// The layers, in order (`[[model.layers]]`).
    pub layers: Vec<ComponentSpec>,
    /// Weight initializer for layers that do not name their own (`[model] weight_init`).
    pub weight_init: Option<String>,
    /// Bias initializer for layers that do not name their own (`[model] bias_init`).
    pub bias_init: Option<String>,
    /// The loss (`[loss]`).
    pub loss: ComponentSpec,
    /// The optimizer (`[optimizer]`).
    pub optimizer: ComponentSpec,
    /// The learning-rate scheduler (`[scheduler]`), if any.
    pub scheduler: Option<ComponentSpec>,
    /// When the scheduler steps (`[scheduler] interval = "epoch" | "step"`).
    pub scheduler_interval: SchedulerInterval,
    /// Gradient clipping.
    pub clip: ClipConfig,
    /// Checkpointing.
    pub checkpoint: CheckpointConfig,
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
        let mut t = toml::Table::new();
        t.insert("seed".into(), toml::Value::Integer(self.seed as i64));
        t.insert("epochs".into(), toml::Value::Integer(self.epochs as i64));
        t.insert("batch_size".into(), toml::Value::Integer(self.batch_size as i64));
        t.insert("eval_batch_size".into(), toml::Value::Integer(self.eval_batch_size as i64));
        t.insert("drop_last".into(), toml::Value::Boolean(self.drop_last));
        t.insert("validation_fraction".into(), toml::Value::Float(self.validation_fraction));
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
        let mut clip = toml::Table::new();
        if let Some(n) = self.clip.max_norm {
            clip.insert("max_norm".into(), toml::Value::Float(n));
        }
        if let Some(v) = self.clip.max_value {
            clip.insert("max_value".into(), toml::Value::Float(v));
        }
        if !clip.is_empty() {
            t.insert("clip".into(), toml::Value::Table(clip));
        }
        let mut checkpoint = toml::Table::new();
        checkpoint.insert("every_epochs".into(), toml::Value::Integer(self.checkpoint.every_epochs as i64));
        t.insert("checkpoint".into(), toml::Value::Table(checkpoint));
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

const TOP_KEYS: &[&str] = &[
    "seed",
    "epochs",
    "batch_size",
    "eval_batch_size",
    "drop_last",
    "validation_fraction",
    "data",
    "model",
    "loss",
    "optimizer",
    "scheduler",
    "clip",
    "checkpoint",
];

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

    fn uint(
        &self,
        table: &toml::Table,
        name: &str,
        key: &str,
        default: u64,
        min: u64,
    ) -> Result<u64, TrainError> {
        match table.get(key) {
            None => Ok(default),
            Some(toml::Value::Integer(i)) if *i >= min as i64 => Ok(*i as u64),
            Some(v) => Err(self.err(name, key, format!("expects an integer >= {min}, got {v}"))),
        }
    }

    fn float(&self, table: &toml::Table, name: &str, key: &str) -> Result<Option<f64>, TrainError> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::Float(x)) if *x > 0.0 && x.is_finite() => Ok(Some(*x)),
            Some(toml::Value::Integer(i)) if *i > 0 => Ok(Some(*i as f64)),
            Some(v) => Err(self.err(name, key, format!("expects a positive number, got {v}"))),
        }
    }

    fn boolean(&self, table: &toml::Table, name: &str, key: &str, default: bool) -> Result<bool, TrainError> {
        match table.get(key) {
            None => Ok(default),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(v) => Err(self.err(name, key, format!("expects true or false, got {v}"))),
        }
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

    fn required_component(
        &self,
        root: &toml::Table,
        key: &str,
        reserved: &[&str],
    ) -> Result<ComponentSpec, TrainError> {
        match self.sub_table(root, key)? {
            Some(t) => self.component(t, key, reserved),
            None => Err(self.err(key, "", format!("missing table [{key}]"))),
        }
    }

    fn config(&self, root: &toml::Table) -> Result<TrainConfig, TrainError> {
        self.check_keys(root, "top level", TOP_KEYS)?;
        let seed = self.uint(root, "top level", "seed", DEFAULT_SEED, 0)?;
        let epochs = self.uint(root, "top level", "epochs", DEFAULT_EPOCHS as u64, 1)? as usize;
        let batch_size = self.uint(root, "top level", "batch_size", DEFAULT_BATCH_SIZE as u64, 1)? as usize;
        let eval_batch_size =
            self.uint(root, "top level", "eval_batch_size", DEFAULT_EVAL_BATCH_SIZE as u64, 1)? as usize;
        let drop_last = self.boolean(root, "top level", "drop_last", false)?;
        let validation_fraction = match root.get("validation_fraction") {
            None => 0.0,
            Some(toml::Value::Float(x)) if (0.0..1.0).contains(x) => *x,
            Some(toml::Value::Integer(0)) => 0.0,
            Some(v) => {
                return Err(self.err(
                    "top level",
                    "validation_fraction",
                    format!("expects a number in [0, 1), got {v}"),
                ))
            }
        };

        let data = self.required_component(root, "data", &[])?;

        let model =
            self.sub_table(root, "model")?.ok_or_else(|| self.err("model", "", "missing table [model]"))?;
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

        let loss = self.required_component(root, "loss", &[])?;
        let optimizer = self.required_component(root, "optimizer", &[])?;
        let (scheduler, scheduler_interval) = match self.sub_table(root, "scheduler")? {
            Some(t) => {
                let interval = match self.string(t, "scheduler", "interval")?.as_deref() {
                    None | Some("epoch") => SchedulerInterval::Epoch,
                    Some("step") => SchedulerInterval::Step,
                    Some(other) => {
                        return Err(self.err(
                            "scheduler",
                            "interval",
                            format!("expects epoch or step, got '{other}'"),
                        ))
                    }
                };
                (Some(self.component(t, "scheduler", &["interval"])?), interval)
            }
            None => (None, SchedulerInterval::Epoch),
        };
        let clip = match self.sub_table(root, "clip")? {
            Some(t) => {
                self.check_keys(t, "clip", &["max_norm", "max_value"])?;
                ClipConfig {
                    max_norm: self.float(t, "clip", "max_norm")?,
                    max_value: self.float(t, "clip", "max_value")?,
                }
            }
            None => ClipConfig::default(),
        };
        let checkpoint = match self.sub_table(root, "checkpoint")? {
            Some(t) => {
                self.check_keys(t, "checkpoint", &["every_epochs"])?;
                let every = self.uint(t, "checkpoint", "every_epochs", DEFAULT_CHECKPOINT_EVERY as u64, 0)?;
                CheckpointConfig { every_epochs: every as usize }
            }
            None => CheckpointConfig { every_epochs: DEFAULT_CHECKPOINT_EVERY },
        };
        Ok(TrainConfig {
            source: self.file.clone(),
            seed,
            epochs,
            batch_size,
            eval_batch_size,
            drop_last,
            validation_fraction,
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
        })
    }
}

/// Where a run writes its files (`--out DIR`, default `runs/<timestamp>`).
pub fn default_run_dir() -> PathBuf {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    PathBuf::from("runs").join(format!("run-{secs}"))
}
