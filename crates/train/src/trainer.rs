//! The training loop: build every component by name, train and evaluate per epoch, report,
//! checkpoint and resume.

use crate::checkpoint::{self, Checkpoint};
use crate::config::{SchedulerInterval, TrainConfig};
use crate::metrics::{format_epoch, EpochMetrics, MetricsLog};
use crate::{write_atomic, TrainError};
use indicatif::{ProgressBar, ProgressStyle};
use nabla_autograd::{NoGradGuard, Var};
use nabla_data::{stratified_split, DataLoader, DataSplits, Dataset, LoaderConfig};
use nabla_layers::{BuildContext, Loss, Module, Sequential, Target};
use nabla_optim::{clip_grad_norm, clip_grad_value, grad_norm, Optimizer, ParamMut, Scheduler};
use nabla_registry::Params;
use nabla_tensor::{pool, Rng};
use ndarray::{ArrayD, ArrayView2, Axis};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

/// How a run reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on a terminal, plain lines otherwise.
    Auto,
    /// One line per epoch on standard error.
    Lines,
    /// Nothing.
    Quiet,
}

/// Where and how a run writes.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The run directory: `config.toml`, `metrics.jsonl`, checkpoints.
    pub out_dir: PathBuf,
    /// Progress reporting.
    pub progress: Progress,
}

impl RunOptions {
    /// A run in `out_dir` that reports nothing.
    pub fn quiet(out_dir: impl Into<PathBuf>) -> RunOptions {
        RunOptions { out_dir: out_dir.into(), progress: Progress::Quiet }
    }
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// Metrics of the last epoch.
    pub final_metrics: EpochMetrics,
    /// Every epoch of this invocation.
    pub history: Vec<EpochMetrics>,
    /// Best test accuracy seen and its epoch.
    pub best_test_accuracy: (f64, usize),
    /// Total wall time of this invocation, seconds.
    pub seconds: f64,
    /// The run directory.
    pub out_dir: PathBuf,
}

/// A model, its data, loss, optimizer and scheduler, built from a [`TrainConfig`].
pub struct Trainer {
    config: TrainConfig,
    effective: toml::Table,
    // Shared so that an epoch's loader can borrow the data while the step borrows the rest.
    data: Rc<DataSplits>,
    // Held out of the training split when the config asks for it.
    validation: Option<Dataset>,
    model: Sequential<f32>,
    loss: Box<dyn Loss<f32>>,
    optimizer: Box<dyn Optimizer<f32>>,
    scheduler: Option<Box<dyn Scheduler>>,
    params: Vec<(String, Var<f32>)>,
    epochs_done: usize,
    steps_done: u64,
}

fn config_error(config: &TrainConfig, table: &str, key: &str, message: impl ToString) -> TrainError {
    TrainError::Config {
        file: config.source.clone(),
        table: table.to_string(),
        key: key.to_string(),
        message: message.to_string(),
    }
}

fn params_table(name: &str, params: &Params) -> toml::Table {
    let mut t = params.to_toml();
    t.insert("name".to_string(), toml::Value::String(name.to_string()));
    t
}

impl Trainer {
    /// Builds everything the config names. Errors name the config file, the table and the key,
    /// with the registry's suggestions for unknown names.
    pub fn new(config: TrainConfig) -> Result<Trainer, TrainError> {
        let (data, data_params) = nabla_data::load(&config.data.name, &config.data.params)
            .map_err(|e| config_error(&config, "data", "", e))?;
        Trainer::with_data(config, data, &data_params)
    }

    /// Builds everything the config names except the data, which is given (for example a
    /// training split carved into train and validation by an experiment). `data_params` are
    /// the effective hyper-parameters recorded for the data in the effective config.
    pub fn with_data(
        config: TrainConfig,
        data: DataSplits,
        data_params: &Params,
    ) -> Result<Trainer, TrainError> {
        let mut effective = toml::Table::new();
        effective.insert("seed".into(), toml::Value::Integer(config.seed as i64));
        effective.insert("epochs".into(), toml::Value::Integer(config.epochs as i64));
        effective.insert("batch_size".into(), toml::Value::Integer(config.batch_size as i64));
        effective.insert("eval_batch_size".into(), toml::Value::Integer(config.eval_batch_size as i64));
        effective.insert("drop_last".into(), toml::Value::Boolean(config.drop_last));
        effective.insert("validation_fraction".into(), toml::Value::Float(config.validation_fraction));
        let (data, validation) = if config.validation_fraction > 0.0 {
            let held_out = stratified_split(&data.train, config.validation_fraction, config.seed)
                .map_err(|e| config_error(&config, "top level", "validation_fraction", e))?;
            (DataSplits { train: held_out.train, ..data }, Some(held_out.test))
        } else {
            (data, None)
        };

        effective
            .insert("data".into(), toml::Value::Table(params_table(data_params.component(), data_params)));

        // Model: every layer by name; the context carries the shape flowing out of each layer
        // into the next, from which input sizes are inferred.
        let mut rng = Rng::seed(config.seed);
        let mut ctx = BuildContext {
            default_weight_init: config.weight_init.clone(),
            default_bias_init: config.bias_init.clone(),
            ..BuildContext::new([data.train.features()], rng.fork())
        };
        let mut model = Sequential::new();
        let mut layer_tables = Vec::new();
        for spec in &config.layers {
            let nabla_registry::Built { value: module, params } =
                nabla_registry::build::<dyn Module<f32>>((spec.name.as_str(), &spec.params), &mut ctx)
                    .map_err(|e| config_error(&config, &spec.table, "", e))?;
            layer_tables.push(toml::Value::Table(params_table(params.component(), &params)));
            model.push(module);
        }
        let classes = data.train.num_classes();
        if ctx.input_shape != [classes] {
            let ends = match ctx.input_shape.as_slice() {
                [n] => format!("{n} outputs"),
                shape => format!("outputs of shape {shape:?}"),
            };
            return Err(config_error(
                &config,
                "model.layers",
                "out_features",
                format!("the model ends with {ends} but the data set has {classes} classes"),
            ));
        }
        let mut model_table = toml::Table::new();
        if let Some(w) = &config.weight_init {
            model_table.insert("weight_init".into(), toml::Value::String(w.clone()));
        }
        if let Some(b) = &config.bias_init {
            model_table.insert("bias_init".into(), toml::Value::String(b.clone()));
        }
        model_table.insert("layers".into(), toml::Value::Array(layer_tables));
        effective.insert("model".into(), toml::Value::Table(model_table));

        // Loss.
        let nabla_registry::Built { value: loss, params: loss_params } =
            nabla_registry::build::<dyn Loss<f32>>((config.loss.name.as_str(), &config.loss.params), ())
                .map_err(|e| config_error(&config, "loss", "", e))?;
        effective
            .insert("loss".into(), toml::Value::Table(params_table(loss_params.component(), &loss_params)));

        // Optimizer and scheduler.
        let nabla_registry::Built { value: mut optimizer, params: opt_params } =
            nabla_registry::build::<dyn Optimizer<f32>>(
                (config.optimizer.name.as_str(), &config.optimizer.params),
                (),
            )
            .map_err(|e| config_error(&config, "optimizer", "", e))?;
        effective.insert(
            "optimizer".into(),
            toml::Value::Table(params_table(opt_params.component(), &opt_params)),
        );
        let scheduler = match &config.scheduler {
            Some(spec) => {
                let nabla_registry::Built { value: s, params: p } = nabla_registry::build::<dyn Scheduler>(
                    (spec.name.as_str(), &spec.params),
                    optimizer.lr(),
                )
                .map_err(|e| config_error(&config, "scheduler", "", e))?;
                let mut table = params_table(p.component(), &p);
                table.insert("interval".into(), config.scheduler_interval.as_str().into());
                effective.insert("scheduler".into(), toml::Value::Table(table));
                // The first steps use the schedule's initial rate (a warm-up starts low).
                optimizer.set_lr(s.lr());
                Some(s)
            }
            None => None,
        };
        let mut clip = toml::Table::new();
        if let Some(n) = config.clip.max_norm {
            clip.insert("max_norm".into(), toml::Value::Float(n));
        }
        if let Some(v) = config.clip.max_value {
            clip.insert("max_value".into(), toml::Value::Float(v));
        }
        if !clip.is_empty() {
            effective.insert("clip".into(), toml::Value::Table(clip));
        }
        let mut ckpt = toml::Table::new();
        ckpt.insert("every_epochs".into(), toml::Value::Integer(config.checkpoint.every_epochs as i64));
        effective.insert("checkpoint".into(), toml::Value::Table(ckpt));

        let params = model.parameters();
        Ok(Trainer {
            config,
            effective,
            data: Rc::new(data),
            validation,
            model,
            loss,
            optimizer,
            scheduler,
            params,
            epochs_done: 0,
            steps_done: 0,
        })
    }

    /// The configuration as given.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The effective configuration: every component's canonical name and every
    /// hyper-parameter with defaults and alias presets filled in. Loading it back gives the
    /// same run.
    pub fn effective_config(&self) -> String {
        toml::to_string_pretty(&self.effective).expect("a TOML table serializes")
    }

    /// The model.
    pub fn model(&self) -> &Sequential<f32> {
        &self.model
    }

    /// The model, mutably (for experiments that probe it).
    pub fn model_mut(&mut self) -> &mut Sequential<f32> {
        &mut self.model
    }

    /// The loss.
    pub fn loss(&self) -> &dyn Loss<f32> {
        self.loss.as_ref()
    }

    /// The validation split held out of the training data, if the config asks for one.
    pub fn validation(&self) -> Option<&Dataset> {
        self.validation.as_ref()
    }

    /// The loaded (normalized) data splits (the training split without the validation part).
    pub fn data(&self) -> &DataSplits {
        &self.data
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer<f32> {
        self.optimizer.as_ref()
    }

    /// The optimizer, mutably (for example to change its learning rate between runs).
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer<f32> {
        self.optimizer.as_mut()
    }

    /// Sets the total number of epochs [`Trainer::run`] trains to.
    pub fn set_epochs(&mut self, epochs: usize) {
        self.config.epochs = epochs;
    }

    /// Epochs completed.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Optimizer steps taken.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    /// One optimizer step on a batch; returns the batch's mean loss and its number of
    /// correct predictions.
    pub fn train_step(&mut self, x: ArrayView2<'_, f32>, y: &[usize]) -> Result<(f64, usize), TrainError> {
        let epoch = self.epochs_done + 1;
        let step = self.steps_done + 1;
        // The input goes into a pooled buffer: the same memory every step, no allocation.
        let input = Var::pooled_constant(pool::copy_of(&x.into_dyn()));
        let logits = self.model.forward(&input)?;
        let loss = self.loss.forward(&logits, &Target::Classes(y))?;
        let loss_value = f64::from(loss.item());
        if !loss_value.is_finite() {
            return Err(TrainError::NonFinite { what: "loss", value: loss_value, epoch, step });
        }
        let correct = count_correct(&logits.value(), y);
        drop(logits);
        loss.backward()?;
        drop(loss);

        // Clip, and check that every gradient is finite (one pass over the gradients).
        let norm = {
            let mut grads: Vec<_> = self.params.iter().filter_map(|(_, p)| p.grad_mut()).collect();
            let mut views: Vec<_> = grads.iter_mut().map(|g| g.view_mut()).collect();
            if let Some(max_value) = self.config.clip.max_value {
                clip_grad_value(&mut views, max_value)?;
            }
            match self.config.clip.max_norm {
                Some(max_norm) => clip_grad_norm(&mut views, max_norm, 2.0, false)?,
                None => {
                    // Only finiteness matters here: a vectorized sum of squares, and the exact
                    // `f64` norm only when that overflows or meets a NaN.
                    let fast = views.iter().map(|v| sum_of_squares(&v.view())).sum::<f64>().sqrt();
                    if fast.is_finite() {
                        fast
                    } else {
                        grad_norm(views.iter().map(|v| v.view()), 2.0)?
                    }
                }
            }
        };
        if !norm.is_finite() {
            return Err(TrainError::NonFinite { what: "gradient norm", value: norm, epoch, step });
        }

        {
            let mut values: Vec<_> = self.params.iter().map(|(_, p)| p.value_mut()).collect();
            let grads: Vec<_> = self.params.iter().map(|(_, p)| p.grad()).collect();
            let mut views: Vec<ParamMut<'_, f32>> = self
                .params
                .iter()
                .zip(values.iter_mut())
                .zip(grads.iter())
                .map(|(((name, _), value), grad)| {
                    ParamMut::new(name, value.view_mut(), grad.as_ref().map(|g| g.view()))
                })
                .collect();
            self.optimizer.step(&mut views)?;
        }
        for (_, p) in &self.params {
            p.zero_grad();
        }
        self.steps_done += 1;
        if self.config.scheduler_interval == SchedulerInterval::Step {
            if let Some(s) = self.scheduler.as_mut() {
                let lr = s.step(None)?;
                self.optimizer.set_lr(lr);
            }
        }
        Ok((loss_value, correct))
    }

    /// Trains one epoch; returns (mean loss, accuracy, samples per second).
    pub fn train_epoch(&mut self, bar: Option<&ProgressBar>) -> Result<(f64, f64, f64), TrainError> {
        let data = Rc::clone(&self.data);
        let mut loader = DataLoader::new(
            &data.train,
            LoaderConfig {
                batch_size: self.config.batch_size,
                shuffle: true,
                drop_last: self.config.drop_last,
                seed: self.config.seed,
            },
        )?;
        loader.set_epoch(self.epochs_done as u64);
        let mut batch = loader.new_batch();
        let batches = loader.len();
        self.model.set_training(true);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let start = Instant::now();
        for i in 0..batches {
            loader.fill(i, &mut batch)?;
            let n = batch.len();
            let (loss, right) = self.train_step(batch.x(), batch.y())?;
            loss_sum += loss * n as f64;
            correct += right;
            seen += n;
            if let Some(bar) = bar {
                bar.inc(1);
                if i % 8 == 0 {
                    let rate = seen as f64 / start.elapsed().as_secs_f64().max(1e-9);
                    bar.set_message(format!("loss {:.4}  {rate:.0} samples/s", loss_sum / seen as f64));
                }
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let seen_f = seen.max(1) as f64;
        Ok((loss_sum / seen_f, correct as f64 / seen_f, seen as f64 / secs.max(1e-9)))
    }

    /// Loss and accuracy on the held-out split, in evaluation mode (no graph recorded).
    pub fn evaluate(&mut self) -> Result<(f64, f64), TrainError> {
        evaluate_model(&mut self.model, self.loss.as_ref(), &self.data.test, self.config.eval_batch_size)
    }

    /// Trains the remaining epochs, writing `config.toml`, `metrics.jsonl` and checkpoints
    /// to the run directory.
    pub fn run(&mut self, options: &RunOptions) -> Result<RunSummary, TrainError> {
        let out = &options.out_dir;
        let fresh = self.epochs_done == 0;
        if fresh {
            std::fs::create_dir_all(out).map_err(|source| TrainError::Io { path: out.clone(), source })?;
            write_atomic(&out.join("config.toml"), self.effective_config().as_bytes())?;
        }
        let log = MetricsLog::open(out, fresh)?;
        let started = Instant::now();
        let mut history = Vec::new();
        let show_bar = options.progress == Progress::Auto && std::io::stderr().is_terminal();
        let lines = options.progress == Progress::Lines || (options.progress == Progress::Auto && !show_bar);
        let batches = {
            let n = self.data.train.len();
            let b = self.config.batch_size;
            if self.config.drop_last {
                n / b
            } else {
                n.div_ceil(b)
            }
        };
        while self.epochs_done < self.config.epochs {
            let epoch = self.epochs_done + 1;
            let bar = show_bar.then(|| {
                let bar = ProgressBar::new(batches as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "epoch {prefix} [{bar:30}] {pos}/{len} batches  {elapsed_precise}  {msg}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(format!("{epoch}/{}", self.config.epochs));
                bar
            });
            let epoch_start = Instant::now();
            let lr = self.optimizer.lr();
            let (train_loss, train_accuracy, samples_per_second) = self.train_epoch(bar.as_ref())?;
            let (test_loss, test_accuracy) = self.evaluate()?;
            let validation = match &self.validation {
                Some(v) => {
                    Some(evaluate_model(&mut self.model, self.loss.as_ref(), v, self.config.eval_batch_size)?)
                }
                None => None,
            };
            self.epochs_done += 1;
            if let (Some(s), SchedulerInterval::Epoch) =
                (self.scheduler.as_mut(), self.config.scheduler_interval)
            {
                // The monitored metric: the validation loss when there is a validation split.
                let new_lr = s.step(Some(validation.map_or(test_loss, |(loss, _)| loss)))?;
                self.optimizer.set_lr(new_lr);
            }
            let metrics = EpochMetrics {
                epoch,
                step: self.steps_done,
                train_loss,
                train_accuracy,
                test_loss,
                test_accuracy,
                validation_loss: validation.map(|(loss, _)| loss),
                validation_accuracy: validation.map(|(_, acc)| acc),
                lr,
                samples_per_second,
                seconds: epoch_start.elapsed().as_secs_f64(),
            };
            // Checkpoint before logging: a crash in between re-runs the epoch on resume
            // instead of logging it twice.
            let every = self.config.checkpoint.every_epochs;
            if (every > 0 && epoch % every == 0) || epoch == self.config.epochs {
                self.save_checkpoint(out)?;
            }
            log.append(&metrics)?;
            let line = format_epoch(&metrics, self.config.epochs);
            match &bar {
                Some(bar) => {
                    bar.finish_and_clear();
                    eprintln!("{line}");
                }
                None if lines => eprintln!("{line}"),
                None => {}
            }
            history.push(metrics);
        }
        let final_metrics = match history.last() {
            Some(m) => m.clone(),
            None => MetricsLog::read(&out.join("metrics.jsonl"))?
                .pop()
                .ok_or_else(|| TrainError::Checkpoint("the run has no epochs to report".into()))?,
        };
        let best = history
            .iter()
            .map(|m| (m.test_accuracy, m.epoch))
            .fold((final_metrics.test_accuracy, final_metrics.epoch), |a, b| if b.0 > a.0 { b } else { a });
        Ok(RunSummary {
            final_metrics,
            history,
            best_test_accuracy: best,
            seconds: started.elapsed().as_secs_f64(),
            out_dir: out.clone(),
        })
    }

    /// Writes a checkpoint of the current state into `run_dir` (atomically) and returns its
    /// directory.
    pub fn save_checkpoint(&mut self, run_dir: &Path) -> Result<PathBuf, TrainError> {
        let mut rngs = Vec::new();
        self.model.visit_rngs_mut("", &mut |name, rng| rngs.push((name.to_string(), rng.state())));
        let ckpt = Checkpoint {
            epoch: self.epochs_done,
            step: self.steps_done,
            tensors: model_tensors(&self.model),
            optimizer: self.optimizer.state_dict(),
            scheduler: self.scheduler.as_ref().map(|s| s.state()),
            rngs,
        };
        checkpoint::save(run_dir, &ckpt)
    }

    /// Rebuilds the trainer of the run in `run_dir` from its saved effective config and
    /// restores its latest checkpoint; [`Trainer::run`] then continues where it stopped.
    /// `extra_epochs` raises the epoch count beyond the saved config's.
    pub fn resume(run_dir: &Path, epochs: Option<usize>) -> Result<Trainer, TrainError> {
        let mut config = TrainConfig::from_file(&run_dir.join("config.toml"), &[])?;
        if let Some(e) = epochs {
            config.epochs = e;
        }
        let mut trainer = Trainer::new(config)?;
        let ckpt = checkpoint::load(run_dir)?;
        trainer.restore(ckpt)?;
        Ok(trainer)
    }

    fn restore(&mut self, ckpt: Checkpoint) -> Result<(), TrainError> {
        load_model_tensors(&mut self.model, &ckpt.tensors)?;
        self.optimizer.load_state_dict(&ckpt.optimizer)?;
        match (&mut self.scheduler, &ckpt.scheduler) {
            (Some(s), Some(state)) => {
                s.load_state(state)?;
            }
            (None, None) => {}
            _ => {
                return Err(TrainError::Checkpoint(
                    "the config and the checkpoint disagree about a scheduler".into(),
                ))
            }
        }
        let mut missing = Vec::new();
        let states: std::collections::BTreeMap<_, _> = ckpt.rngs.into_iter().collect();
        self.model.visit_rngs_mut("", &mut |name, rng| match states.get(name) {
            Some(s) => *rng = Rng::from_state(s),
            None => missing.push(name.to_string()),
        });
        if !missing.is_empty() {
            return Err(TrainError::Checkpoint(format!("no generator state for {}", missing.join(", "))));
        }
        self.epochs_done = ckpt.epoch;
        self.steps_done = ckpt.step;
        Ok(())
    }
}

fn model_tensors(model: &Sequential<f32>) -> std::collections::BTreeMap<String, ArrayD<f32>> {
    let mut tensors = std::collections::BTreeMap::new();
    model.visit_parameters("", &mut |name, p| {
        tensors.insert(name.to_string(), p.value().clone());
    });
    model.visit_buffers("", &mut |name, b| {
        tensors.insert(name.to_string(), b.clone());
    });
    tensors
}

fn load_model_tensors(
    model: &mut Sequential<f32>,
    tensors: &std::collections::BTreeMap<String, ArrayD<f32>>,
) -> Result<(), TrainError> {
    let mut problems = Vec::new();
    let mut used = 0usize;
    let mut take = |name: &str, target: &mut ArrayD<f32>| match tensors.get(name) {
        Some(saved) if saved.shape() == target.shape() => {
            target.assign(saved);
            used += 1;
        }
        Some(saved) => problems.push(format!(
            "'{name}' has shape {:?} in the checkpoint, {:?} in the model",
            saved.shape(),
            target.shape()
        )),
        None => problems.push(format!("'{name}' is missing from the checkpoint")),
    };
    model.visit_parameters("", &mut |name, p| take(name, &mut p.value_mut()));
    model.visit_buffers_mut("", &mut |name, b| take(name, b));
    if used != tensors.len() && problems.is_empty() {
        problems.push(format!("the checkpoint has {} tensors the model does not", tensors.len() - used));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(TrainError::Checkpoint(problems.join("; ")))
    }
}

/// The sum of squares of `g`, accumulated in 16 `f32` lanes per block of 4096 elements (so
/// the loop vectorizes) and across blocks in `f64`. Overflows to infinity for elements beyond
/// about `1.8e19`; callers fall back to the exact `f64` norm then.
fn sum_of_squares(g: &ndarray::ArrayViewD<'_, f32>) -> f64 {
    const LANES: usize = 16;
    let block = |xs: &[f32]| -> f64 {
        let mut acc = [0.0f32; LANES];
        let mut chunks = xs.chunks_exact(LANES);
        for c in &mut chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a += x * x;
            }
        }
        let tail: f32 = chunks.remainder().iter().map(|&x| x * x).sum();
        acc.iter().map(|&a| f64::from(a)).sum::<f64>() + f64::from(tail)
    };
    match g.as_slice_memory_order() {
        Some(xs) => xs.chunks(4096).map(block).sum(),
        None => g.iter().map(|&x| f64::from(x) * f64::from(x)).sum(),
    }
}

/// How many rows of the logits `[N, C]` have their largest entry (the first, on ties) at the
/// label; 0 when the logits are not 2-d.
pub fn count_correct(logits: &ArrayD<f32>, y: &[usize]) -> usize {
    logits
        .view()
        .into_dimensionality::<ndarray::Ix2>()
        .map(|l| {
            l.axis_iter(Axis(0))
                .zip(y)
                .filter(|(row, &label)| {
                    let mut best = 0;
                    for (j, &v) in row.iter().enumerate() {
                        if v > row[best] {
                            best = j;
                        }
                    }
                    best == label
                })
                .count()
        })
        .unwrap_or(0)
}

fn evaluate_model(
    model: &mut Sequential<f32>,
    loss: &dyn Loss<f32>,
    data: &nabla_data::Dataset,
    batch_size: usize,
) -> Result<(f64, f64), TrainError> {
    let _no_grad = NoGradGuard::new();
    model.set_training(false);
    let loader =
        DataLoader::new(data, LoaderConfig { batch_size, shuffle: false, drop_last: false, seed: 0 })?;
    let mut batch = loader.new_batch();
    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
    for i in 0..loader.len() {
        loader.fill(i, &mut batch)?;
        let input = Var::pooled_constant(pool::copy_of(&batch.x().into_dyn()));
        let logits = model.forward(&input)?;
        let l = loss.forward(&logits, &Target::Classes(batch.y()))?;
        loss_sum += f64::from(l.item()) * batch.len() as f64;
        correct += count_correct(&logits.value(), batch.y());
        seen += batch.len();
    }
    model.set_training(true);
    let n = seen.max(1) as f64;
    Ok((loss_sum / n, correct as f64 / n))
}

/// Loads the model of a run directory's latest checkpoint and evaluates it on the held-out
/// split of its data set (or of `data_override`, a data-set spec such as `mnist`).
/// Returns (loss, accuracy, number of samples).
pub fn evaluate_checkpoint(
    run_dir: &Path,
    data_override: Option<&str>,
) -> Result<(f64, f64, usize), TrainError> {
    let mut config = TrainConfig::from_file(&run_dir.join("config.toml"), &[])?;
    if let Some(spec) = data_override {
        let (name, params) = nabla_registry::parse_compact(spec).map_err(|e| TrainError::Config {
            file: "--data".into(),
            table: "data".into(),
            key: "name".into(),
            message: e.to_string(),
        })?;
        config.data.name = name;
        config.data.params = params;
    }
    let mut trainer = Trainer::new(config)?;
    let ckpt = checkpoint::load(run_dir)?;
    load_model_tensors(&mut trainer.model, &ckpt.tensors)?;
    let n = trainer.data.test.len();
    let (loss, acc) = trainer.evaluate()?;
    Ok((loss, acc, n))
}

#[cfg(test)]
mod step_tests {
    use super::{count_correct, sum_of_squares};

    #[test]
    fn correct_counts_use_the_arg_max() {
        let logits = ndarray::arr2(&[[0.1f32, 0.9], [2.0, -1.0], [0.0, 0.0]]).into_dyn();
        assert_eq!(count_correct(&logits, &[1, 1, 0]), 2);
        assert_eq!(count_correct(&ndarray::arr1(&[1.0f32]).into_dyn(), &[0]), 0);
    }

    use ndarray::{Array2, ArrayD, IxDyn};

    #[test]
    fn sum_of_squares_matches_the_exact_sum() {
        // Lengths around the lane and block sizes, values of mixed magnitude.
        for n in [0usize, 1, 15, 16, 17, 4095, 4096, 4097, 10_000] {
            let v: Vec<f32> =
                (0..n).map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3 * (1 + i % 3) as f32).collect();
            let exact: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            let a = ArrayD::from_shape_vec(IxDyn(&[n]), v).unwrap();
            let got = sum_of_squares(&a.view());
            assert!((got - exact).abs() <= 1e-6 * exact.max(1e-30), "n={n}: {got} vs {exact}");
        }
    }

    #[test]
    fn strided_views_overflow_and_nan() {
        let a = Array2::from_shape_fn((3, 5), |(i, j)| (i * 5 + j) as f32);
        let t = a.t().into_dyn();
        let exact: f64 = (0..15).map(|i| f64::from(i * i)).sum();
        assert_eq!(sum_of_squares(&t), exact);
        let big = ArrayD::from_elem(IxDyn(&[4]), 1e20f32);
        assert!(sum_of_squares(&big.view()).is_infinite(), "f32 squares overflow: the caller falls back");
        let nan = ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.0f32, f32::NAN]).unwrap();
        assert!(sum_of_squares(&nan.view()).is_nan());
    }
}
