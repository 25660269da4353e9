//! A [`TrainConfig`] built in Rust, without TOML text.
//!
//! The builder fills the config's fields directly; the defaults and the checks of the
//! top-level values come from the one declaration of [`TrainConfig`]'s settings, as a config
//! file's do.

use crate::config::{
    declared_defaults, read_settings, ClipConfig, ComponentSpec, SchedulerInterval, TrainConfig,
};
use crate::TrainError;
use nabla_registry::{parse_compact, HyperParams, Params, RawParams, Value};

/// A hyper-parameter value in a form the builder accepts: a [`Value`], a number, a boolean, a
/// string, or a list of these (`[0.9, 0.98]`).
pub trait IntoValue {
    /// The registry's value.
    fn into_value(self) -> Value;
}

/// Implements [`IntoValue`] for types that convert (`From`) into the payload of one
/// [`Value`] variant.
macro_rules! into_value_variant {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $(
            impl IntoValue for $ty {
                fn into_value(self) -> Value {
                    Value::$variant(self.into())
                }
            }
        )*
    };
}

into_value_variant!(bool => Bool, i32 => Int, i64 => Int, u32 => Int, f64 => Float, &str => Str, String => Str);

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}

// Beyond `i64::MAX` a count cannot be an integer value; as a float it fails the schema's
// integer check with a message naming the key, instead of wrapping around.
impl IntoValue for u64 {
    fn into_value(self) -> Value {
        i64::try_from(self).map(Value::Int).unwrap_or(Value::Float(self as f64))
    }
}

impl IntoValue for usize {
    fn into_value(self) -> Value {
        (self as u64).into_value()
    }
}

/// A list value of the items' values, for the list forms (`Vec`, arrays).
fn list_value<T: IntoValue>(items: impl IntoIterator<Item = T>) -> Value {
    Value::List(items.into_iter().map(IntoValue::into_value).collect())
}

impl<T: IntoValue> IntoValue for Vec<T> {
    fn into_value(self) -> Value {
        list_value(self)
    }
}

impl<T: IntoValue, const N: usize> IntoValue for [T; N] {
    fn into_value(self) -> Value {
        list_value(self)
    }
}

/// Hyper-parameters in a form the builder accepts: none (`()`), [`RawParams`], validated
/// [`Params`] (their effective values), or key-value pairs such as `[("lr", 0.1)]` (for
/// values of mixed types, give each as a [`Value`]: `[("lr", Value::Float(0.1)),
/// ("nesterov", Value::Bool(true))]`).
pub trait IntoParams {
    /// The raw, not yet validated, hyper-parameters.
    fn into_params(self) -> RawParams;
}

impl IntoParams for () {
    fn into_params(self) -> RawParams {
        RawParams::new()
    }
}

impl IntoParams for RawParams {
    fn into_params(self) -> RawParams {
        self
    }
}

impl IntoParams for &RawParams {
    fn into_params(self) -> RawParams {
        self.clone()
    }
}

impl IntoParams for &Params {
    fn into_params(self) -> RawParams {
        self.values().clone()
    }
}

/// The raw hyper-parameters of key-value pairs, for the pair forms (`Vec`, arrays).
fn pairs_params<K: Into<String>, V: IntoValue>(pairs: impl IntoIterator<Item = (K, V)>) -> RawParams {
    pairs.into_iter().map(|(k, v)| (k.into(), v.into_value())).collect()
}

impl<K: Into<String>, V: IntoValue, const N: usize> IntoParams for [(K, V); N] {
    fn into_params(self) -> RawParams {
        pairs_params(self)
    }
}

impl<K: Into<String>, V: IntoValue> IntoParams for Vec<(K, V)> {
    fn into_params(self) -> RawParams {
        pairs_params(self)
    }
}

/// Builds a [`TrainConfig`] in Rust; made by [`TrainConfig::builder`].
///
/// Every component method takes a registered name (or alias) and its hyper-parameters. The
/// name may carry hyper-parameters in the compact form (`"adam:lr=3e-4"`); `params` are
/// added to those and win on a shared key. Hyper-parameters are validated when the
/// [`Trainer`](crate::Trainer) is built, exactly as a config file's are; the top-level values
/// are checked by [`TrainConfigBuilder::build`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct TrainConfigBuilder {
    config: TrainConfig,
    data: Option<ComponentSpec>,
    loss: Option<ComponentSpec>,
    optimizer: Option<ComponentSpec>,
    // The first malformed compact spec, as (table, message), reported by `build`.
    error: Option<(String, String)>,
}

impl TrainConfig {
    /// A builder for a config in Rust, with a config file's defaults (seed 0, 10 epochs,
    /// batches of 32, evaluation batches of 1000, a checkpoint every epoch).
    ///
    /// ```
    /// use nabla_train::TrainConfig;
    /// let config = TrainConfig::builder()
    ///     .epochs(5)
    ///     .data("digits", [("scale", true)])
    ///     .weight_init("he_uniform")
    ///     .layer("linear", [("out_features", 128)])
    ///     .layer("relu", ())
    ///     .layer("linear", [("out_features", 10)])
    ///     .loss("cross_entropy", ())
    ///     .optimizer("adam:lr=3e-4", ())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.layers.len(), 3);
    /// assert_eq!(config.optimizer.name, "adam");
    /// ```
    pub fn builder() -> TrainConfigBuilder {
        TrainConfigBuilder::new()
    }
}

impl Default for TrainConfigBuilder {
    fn default() -> Self {
        TrainConfigBuilder::new()
    }
}

fn empty_spec(table: &str) -> ComponentSpec {
    ComponentSpec { name: String::new(), params: RawParams::new(), table: table.to_string() }
}

/// Builder methods that set one top-level field of the config to the value given, each named
/// as its field.
macro_rules! field_setters {
    ($($(#[$doc:meta])* $field:ident: $ty:ty,)*) => {
        $(
            $(#[$doc])*
            pub fn $field(mut self, $field: $ty) -> Self {
                self.config.$field = $field;
                self
            }
        )*
    };
}

impl TrainConfigBuilder {
    /// A builder with a config file's defaults and no components yet.
    pub fn new() -> TrainConfigBuilder {
        TrainConfigBuilder {
            config: TrainConfig {
                source: "<builder>".to_string(),
                data: empty_spec("data"),
                loss: empty_spec("loss"),
                optimizer: empty_spec("optimizer"),
                // The top-level values are the declared defaults, as for a file that names none.
                ..declared_defaults("top level")
            },
            data: None,
            loss: None,
            optimizer: None,
            error: None,
        }
    }

    /// What errors name as the config's file (default `<builder>`).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.config.source = source.into();
        self
    }

    field_setters! {
        /// Seed of every random draw (initialization, shuffling, dropout).
        seed: u64,
        /// Number of epochs (at least 1).
        epochs: usize,
        /// Training batch size (at least 1).
        batch_size: usize,
        /// Evaluation batch size (at least 1).
        eval_batch_size: usize,
        /// Drop the last incomplete training batch of an epoch.
        drop_last: bool,
        /// Fraction of the training split held out as a validation split, in `[0, 1)`.
        validation_fraction: f64,
        /// When the scheduler steps (default: once per epoch).
        scheduler_interval: SchedulerInterval,
    }

    /// The data set (`[data]`).
    pub fn data(mut self, name: &str, params: impl IntoParams) -> Self {
        self.data = self.spec("data", name, params);
        self
    }

    /// Appends a layer (`[[model.layers]]`).
    pub fn layer(mut self, name: &str, params: impl IntoParams) -> Self {
        let table = format!("model.layers[{}]", self.config.layers.len());
        if let Some(spec) = self.spec(&table, name, params) {
            self.config.layers.push(spec);
        }
        self
    }

    /// Weight initializer of the layers that do not name their own (`[model] weight_init`).
    pub fn weight_init(mut self, init: &str) -> Self {
        self.config.weight_init = Some(init.to_string());
        self
    }

    /// Bias initializer of the layers that do not name their own (`[model] bias_init`).
    pub fn bias_init(mut self, init: &str) -> Self {
        self.config.bias_init = Some(init.to_string());
        self
    }

    /// The loss (`[loss]`).
    pub fn loss(mut self, name: &str, params: impl IntoParams) -> Self {
        self.loss = self.spec("loss", name, params);
        self
    }

    /// The optimizer (`[optimizer]`).
    pub fn optimizer(mut self, name: &str, params: impl IntoParams) -> Self {
        self.optimizer = self.spec("optimizer", name, params);
        self
    }

    /// The learning-rate scheduler (`[scheduler]`).
    pub fn scheduler(mut self, name: &str, params: impl IntoParams) -> Self {
        self.config.scheduler = self.spec("scheduler", name, params);
        self
    }

    /// Clip the global L2 norm of all gradients to `max_norm` (positive).
    pub fn clip_max_norm(mut self, max_norm: f64) -> Self {
        self.config.clip.max_norm = Some(max_norm);
        self
    }

    /// Clip every gradient element to `[-max_value, max_value]` (positive).
    pub fn clip_max_value(mut self, max_value: f64) -> Self {
        self.config.clip.max_value = Some(max_value);
        self
    }

    /// Write a checkpoint every this many epochs (0: only at the end).
    pub fn checkpoint_every(mut self, epochs: usize) -> Self {
        self.config.checkpoint.every_epochs = epochs;
        self
    }

    fn spec(&mut self, table: &str, name: &str, params: impl IntoParams) -> Option<ComponentSpec> {
        match parse_compact(name) {
            Ok((name, mut merged)) => {
                merged.extend(params.into_params());
                Some(ComponentSpec { name, params: merged, table: table.to_string() })
            }
            Err(e) => {
                self.error.get_or_insert_with(|| (table.to_string(), e.to_string()));
                None
            }
        }
    }

    /// The config. Errors name the builder's source, the table and the key, as a config
    /// file's do: a missing data set, layer, loss or optimizer, a malformed compact spec, or
    /// a top-level value out of range.
    pub fn build(self) -> Result<TrainConfig, TrainError> {
        let TrainConfigBuilder { mut config, data, loss, optimizer, error } = self;
        let file = config.source.clone();
        let err = |table: &str, key: &str, message: String| TrainError::Config {
            file: file.clone(),
            table: table.to_string(),
            key: key.to_string(),
            message,
        };
        if let Some((table, message)) = error {
            return Err(err(&table, "", message));
        }
        // The same declaration checks these values as checks a file's.
        let checked: TrainConfig = read_settings(&config.to_raw(), &file, "top level")?;
        let _: ClipConfig = read_settings(&config.clip.to_raw(), &file, "clip")?;
        debug_assert_eq!(checked.to_raw(), config.to_raw());
        let missing = |table: &str, example: &str| {
            err(table, "", format!("missing: name the component, e.g. .{table}(\"{example}\", ())"))
        };
        config.data = data.ok_or_else(|| missing("data", "digits"))?;
        if config.layers.is_empty() {
            return Err(err(
                "model",
                "layers",
                "missing: add the layers with .layer(name, params)".to_string(),
            ));
        }
        config.loss = loss.ok_or_else(|| missing("loss", "cross_entropy"))?;
        config.optimizer = optimizer.ok_or_else(|| missing("optimizer", "adam"))?;
        Ok(config)
    }
}
