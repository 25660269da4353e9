//! The training loop: build every component by name, train and evaluate per epoch, report,
//! checkpoint and resume.

use crate::budget::{self, Plan};
use crate::checkpoint::{self, Checkpoint, LoadedCheckpoint};
use crate::config::{SchedulerInterval, TrainConfig};
use crate::data_parallel::{Agreement, CommStats, DataParallel};
use crate::hooks::{EpochStart, ProgressHook, StepInfo, TrainHook};
use crate::metrics::EpochMetrics;
use crate::run_dir::{DirMode, RunWriter};
use crate::TrainError;
use nabla_autograd::{NoGradGuard, Var};
use nabla_data::{stratified_split, DataLoader, DataSplits, Dataset, LoaderConfig};
use nabla_layers::{BuildContext, Loss, Module, Sequential, Target};
use nabla_optim::{clip_grad_norm, clip_grad_value, grad_norm, Optimizer, ParamMut, Scheduler};
use nabla_registry::{Params, Value};
use nabla_tensor::{pool, Rng};
use ndarray::{ArrayD, ArrayView2, Axis};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// One entry per parameter, inline for up to 16 (a step of a usual model allocates nothing
/// for its gradient and optimizer views).
type PerParam<V> = smallvec::SmallVec<[V; 16]>;

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
    /// The run directory: `config.toml`, `metrics.jsonl`, checkpoints. `None`: the run
    /// writes no file at all (for experiments and tests that only need the numbers).
    pub out_dir: Option<PathBuf>,
    /// Progress reporting.
    pub progress: Progress,
    /// A fresh run may replace an earlier run in `out_dir` (whose files stay untouched until
    /// the new run's first checkpoint); without it a directory holding files is refused.
    pub overwrite: bool,
}

impl RunOptions {
    /// A run in `out_dir`, reporting as `progress` asks.
    pub fn new(out_dir: impl Into<PathBuf>, progress: Progress) -> RunOptions {
        RunOptions { out_dir: Some(out_dir.into()), progress, overwrite: false }
    }

    /// A run in `out_dir` that reports nothing.
    pub fn quiet(out_dir: impl Into<PathBuf>) -> RunOptions {
        RunOptions::new(out_dir, Progress::Quiet)
    }

    /// A run that writes no file and reports nothing.
    pub fn in_memory() -> RunOptions {
        RunOptions { out_dir: None, progress: Progress::Quiet, overwrite: false }
    }

    /// These options, allowing a fresh run to replace an earlier run in the directory.
    pub fn overwriting(self) -> RunOptions {
        RunOptions { overwrite: true, ..self }
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
    /// The run directory, if the run wrote one.
    pub out_dir: Option<PathBuf>,
}

/// A model, its data, loss, optimizer and scheduler, built from a [`TrainConfig`].
pub struct Trainer {
    config: TrainConfig,
    effective: TrainConfig,
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
    // Restored from a checkpoint (possibly of epoch 0): its directory holds this run.
    resumed: bool,
    // The epoch of the newest checkpoint on disk, for the truth of a stop message.
    last_checkpoint: Option<usize>,
    // Set when this trainer is one rank of a data-parallel group of two or more.
    parallel: Option<DataParallel>,
    // Some epoch of this run, before a resume included, was trained by several processes:
    // its checkpoints say so, as their steps per epoch then vary (see checkpoint.rs).
    was_data_parallel: bool,
}

fn config_error(config: &TrainConfig, table: &str, key: &str, message: impl ToString) -> TrainError {
    TrainError::Config {
        file: config.source.clone(),
        table: table.to_string(),
        key: key.to_string(),
        message: message.to_string(),
    }
}

impl Trainer {
    /// Builds everything the config names. Errors name the config file, the table and the key,
    /// with the registry's suggestions for unknown names.
    pub fn new(config: TrainConfig) -> Result<Trainer, TrainError> {
        let nabla_registry::Built { value: data, params: data_params } =
            nabla_registry::build::<DataSplits>((config.data.name.as_str(), &config.data.params), ())
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
        let (data, validation) = if config.validation_fraction > 0.0 {
            let held_out = stratified_split(&data.train, config.validation_fraction, config.seed)
                .map_err(|e| config_error(&config, "top level", "validation_fraction", e))?;
            (DataSplits { train: held_out.train, ..data }, Some(held_out.test))
        } else {
            (data, None)
        };

        // Model: every layer by name; the context carries the shape flowing out of each layer
        // into the next, from which input sizes are inferred.
        let mut rng = Rng::seed(config.seed);
        // Every size is checked against the memory budget before it is allocated.
        let budget = budget::budget_bytes(config.max_memory);
        let elements = Plan::parameter_elements(budget);
        let mut ctx = BuildContext {
            default_weight_init: config.weight_init.clone(),
            default_bias_init: config.bias_init.clone(),
            elements_left: elements.min(nabla_layers::MAX_ELEMENTS),
            ..BuildContext::new([data.train.features()], rng.fork())
        };
        let mut model = Sequential::new();
        let mut layer_params = Vec::new();
        let mut activations = data.train.features() as u64;
        for spec in &config.layers {
            let nabla_registry::Built { value: module, params } =
                nabla_registry::build::<dyn Module<f32>>((spec.name.as_str(), &spec.params), &mut ctx)
                    .map_err(|e| config_error(&config, &spec.table, "", e))?;
            layer_params.push(params);
            model.push(module);
            let out = ctx.input_shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
            activations = out.and_then(|o| activations.checked_add(o)).unwrap_or(u64::MAX);
        }
        let plan = Plan {
            budget,
            parameters: (elements.min(nabla_layers::MAX_ELEMENTS) - ctx.elements_left) as u64,
            activations_per_sample: activations,
        };
        let eval_split = validation.as_ref().map_or(0, Dataset::len).max(data.test.len());
        plan.check_batches(
            &config.source,
            config.batch_size.min(data.train.len()),
            config.eval_batch_size.min(eval_split),
        )?;
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

        let nabla_registry::Built { value: loss, params: loss_params } =
            nabla_registry::build::<dyn Loss<f32>>((config.loss.name.as_str(), &config.loss.params), ())
                .map_err(|e| config_error(&config, "loss", "", e))?;
        let nabla_registry::Built { value: mut optimizer, params: opt_params } =
            nabla_registry::build::<dyn Optimizer<f32>>(
                (config.optimizer.name.as_str(), &config.optimizer.params),
                (),
            )
            .map_err(|e| config_error(&config, "optimizer", "", e))?;
        let (scheduler, scheduler_params) = match &config.scheduler {
            Some(spec) => {
                let nabla_registry::Built { value: s, params: p } = nabla_registry::build::<dyn Scheduler>(
                    (spec.name.as_str(), &spec.params),
                    optimizer.lr(),
                )
                .map_err(|e| config_error(&config, "scheduler", "", e))?;
                // The first steps use the schedule's initial rate (a warm-up starts low).
                optimizer.set_lr(s.lr());
                (Some(s), Some(p))
            }
            None => (None, None),
        };
        let effective = config.effective(
            data_params,
            &layer_params,
            &loss_params,
            &opt_params,
            scheduler_params.as_ref(),
        );

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
            resumed: false,
            last_checkpoint: None,
            parallel: None,
            was_data_parallel: false,
        })
    }

    /// Makes this trainer one rank of a data-parallel run over `group` (every rank calls
    /// this with the same config, after building or resuming): checks that every rank has the
    /// same effective config and data (an error on every rank otherwise), then takes rank 0's
    /// parameters and buffers; see [`crate::data_parallel`] for what changes. A group of one
    /// process changes nothing, so such a run is bit-for-bit the run without a group.
    pub fn join_group(&mut self, group: Rc<dyn nabla_distributed::Collective>) -> Result<(), TrainError> {
        if group.size() <= 1 {
            return Ok(());
        }
        let data = Rc::clone(&self.data);
        let mut splits = vec![&data.train, &data.test];
        splits.extend(self.validation.as_ref());
        let parallel = DataParallel::join(
            group,
            &self.config.distributed,
            self.config.batch_size,
            Agreement {
                effective_config: &self.effective_config(),
                progress: (self.epochs_done, self.steps_done),
                data: &splits,
            },
            &mut self.model,
            &self.params,
        )?;
        self.parallel = Some(parallel);
        self.was_data_parallel = true;
        Ok(())
    }

    /// This process's rank in its data-parallel group (0 without one).
    pub fn rank(&self) -> usize {
        self.parallel.as_ref().map_or(0, DataParallel::rank)
    }

    /// The number of processes training this model (1 without a group).
    pub fn world_size(&self) -> usize {
        self.parallel.as_ref().map_or(1, DataParallel::size)
    }

    /// The gradient communication so far, in a data-parallel run.
    pub fn comm_stats(&self) -> Option<CommStats> {
        self.parallel.as_ref().map(DataParallel::stats)
    }

    /// The number of gradient buckets and their total elements, in a data-parallel run.
    pub fn gradient_buckets(&self) -> Option<(usize, usize)> {
        self.parallel.as_ref().map(|p| (p.plan().buckets().len(), p.plan().elements()))
    }

    /// The configuration as given.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The effective configuration: every component's canonical name and every
    /// hyper-parameter with defaults and alias presets filled in. Loading it back gives the
    /// same run.
    pub fn effective_config(&self) -> String {
        self.effective.to_toml_string()
    }

    /// The effective configuration as a config (see [`Trainer::effective_config`]).
    pub fn effective(&self) -> &TrainConfig {
        &self.effective
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
        // The input goes into a pooled buffer: the same memory every step, no allocation.
        self.step_on(Var::pooled_constant(pool::copy_of(&x.into_dyn())), y)
    }

    /// [`Trainer::train_step`] on an input already in a pooled buffer (`[B, features]`).
    fn step_on(&mut self, input: Var<f32>, y: &[usize]) -> Result<(f64, usize), TrainError> {
        let step = self.steps_done + 1;
        // Held over the forward and the backward: both reduce batch-norm sums.
        let _sync_bn = self.parallel.as_ref().and_then(DataParallel::batch_stats_guard);
        let logits = self.model.forward(&input)?;
        let loss = self.loss.forward(&logits, &Target::Classes(y))?;
        let loss_value = f64::from(loss.item());
        if !loss_value.is_finite() {
            return Err(self.non_finite("loss", loss_value, step));
        }
        let correct = count_correct(&logits.value(), y);
        drop(logits);
        loss.backward()?;
        drop(loss);
        if let Some(p) = self.parallel.as_mut() {
            p.average_gradients(&self.params, step)?;
        }

        // Clip, and check that every gradient is finite (one pass over the gradients).
        let norm = {
            let mut grads: PerParam<_> = self.params.iter().filter_map(|(_, p)| p.grad_mut()).collect();
            let mut views: PerParam<_> = grads.iter_mut().map(|g| g.view_mut()).collect();
            if let Some(max_value) = self.config.clip.max_value {
                clip_grad_value(&mut views, max_value)?;
            }
            match self.config.clip.max_norm {
                Some(max_norm) => clip_grad_norm(&mut views, max_norm, 2.0, false)?,
                None => grad_norm(views.iter().map(|v| v.view()), 2.0)?,
            }
        };
        if !norm.is_finite() {
            return Err(self.non_finite("gradient norm", norm, step));
        }

        {
            let mut values: PerParam<_> = self.params.iter().map(|(_, p)| p.value_mut()).collect();
            let grads: PerParam<_> = self.params.iter().map(|(_, p)| p.grad()).collect();
            let mut views: PerParam<ParamMut<'_, f32>> = self
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
        // The step itself can overflow (a huge learning rate): weights must stay finite.
        if let Some(bad) = self.params.iter().find_map(|(_, p)| first_non_finite(p.value().view())) {
            return Err(self.non_finite("weights", bad, step));
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

    fn non_finite(&self, what: &'static str, value: f64, step: u64) -> TrainError {
        TrainError::NonFinite { what, value, epoch: self.epochs_done + 1, step, kept: self.last_checkpoint }
    }

    /// Trains one epoch, calling every hook's [`TrainHook::on_epoch_start`] and, after each
    /// step, [`TrainHook::on_step`]; returns (mean loss, accuracy, samples per second). The
    /// epoch count does not advance: [`Trainer::run_with`] does that after evaluating.
    pub fn train_epoch(&mut self, hooks: &mut [&mut dyn TrainHook]) -> Result<(f64, f64, f64), TrainError> {
        let data = Rc::clone(&self.data);
        let mut loader = DataLoader::new(
            &data.train,
            LoaderConfig {
                batch_size: self.parallel.as_ref().map_or(self.config.batch_size, DataParallel::batch_size),
                shuffle: true,
                drop_last: self.config.drop_last,
                seed: self.config.seed,
            },
        )?;
        loader.set_epoch(self.epochs_done as u64);
        if let Some(p) = self.parallel.as_mut() {
            let shard = p.shard(loader.order()).to_vec();
            loader.set_order(&shard)?;
            p.derive_rank_rngs(&mut self.model, &format!("at the start of epoch {}", self.epochs_done + 1))?;
        }
        let mut y = Vec::with_capacity(loader.batch_rows());
        let batches = loader.len();
        let epoch = self.epochs_done + 1;
        let start = EpochStart { epoch, epochs: self.config.epochs, batches };
        for hook in hooks.iter_mut() {
            hook.on_epoch_start(self, &start)?;
        }
        self.model.set_training(true);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        // Throughput counts training only, not the time the hooks take.
        let mut in_hooks = Duration::ZERO;
        let started = Instant::now();
        for i in 0..batches {
            // Gathered straight into the step's pooled input: each example is copied once.
            let x = loader.pooled_batch(i, &mut y)?;
            let n = y.len();
            let lr = self.optimizer.lr();
            let (loss, right) = self.step_on(Var::pooled_constant(x), &y)?;
            loss_sum += loss * n as f64;
            correct += right;
            seen += n;
            let hooks_started = Instant::now();
            let step = StepInfo {
                epoch,
                step: self.steps_done,
                batch: i + 1,
                batches,
                samples: n,
                loss,
                correct: right,
                lr,
            };
            for hook in hooks.iter_mut() {
                hook.on_step(self, &step)?;
            }
            in_hooks += hooks_started.elapsed();
        }
        let secs = started.elapsed().saturating_sub(in_hooks).as_secs_f64();
        if let Some(p) = &self.parallel {
            let mut sums = [loss_sum, correct as f64, seen as f64];
            p.sum(&mut sums, &format!("all-reduce of the epoch {epoch} training metrics"))?;
            // Counts are whole numbers well inside f64's exact range.
            (loss_sum, correct, seen) = (sums[0], sums[1] as usize, sums[2] as usize);
        }
        let seen_f = seen.max(1) as f64;
        Ok((loss_sum / seen_f, correct as f64 / seen_f, seen as f64 / secs.max(1e-9)))
    }

    /// Loss and accuracy on the held-out split, in evaluation mode (no graph recorded).
    pub fn evaluate(&mut self) -> Result<(f64, f64), TrainError> {
        let data = Rc::clone(&self.data);
        self.evaluate_on(&data.test)
    }

    /// Mean loss and accuracy of the model on `data`, in evaluation mode (dropout off, batch
    /// norm on its running statistics) without recording a graph, in batches of the config's
    /// `eval_batch_size`. The model's training mode is restored afterwards, so a hook may call
    /// this in the middle of a run without changing the run.
    ///
    /// In a data-parallel run every rank must call it together: each evaluates its strided
    /// share of `data` and the sums are all-reduced, so every rank returns the numbers of the
    /// whole split (with rank 0's batch-norm running statistics).
    pub fn evaluate_on(&mut self, data: &Dataset) -> Result<(f64, f64), TrainError> {
        match &self.parallel {
            None => {
                evaluate_model(&mut self.model, self.loss.as_ref(), data, self.config.eval_batch_size, None)
            }
            Some(p) => {
                p.broadcast_buffers(&mut self.model)?;
                let share = p.eval_share(data.len());
                let (loss, accuracy) = evaluate_model(
                    &mut self.model,
                    self.loss.as_ref(),
                    data,
                    self.config.eval_batch_size,
                    Some(&share),
                )?;
                let n = share.len() as f64;
                let mut sums = [loss * n, accuracy * n, n];
                p.sum(&mut sums, "all-reduce of the evaluation metrics")?;
                let total = sums[2].max(1.0);
                Ok((sums[0] / total, sums[1] / total))
            }
        }
    }

    /// Trains the remaining epochs, writing `config.toml`, `metrics.jsonl` and checkpoints
    /// to the run directory; [`Trainer::run_with`] without hooks of the caller's.
    pub fn run(&mut self, options: &RunOptions) -> Result<RunSummary, TrainError> {
        self.run_with(options, &mut [])
    }

    /// Trains the remaining epochs, calling `hooks` (after the run's own progress display,
    /// in order) at every step and epoch. With a run directory, the run holds its lock
    /// ([`crate::run_dir`]) throughout; a fresh run refuses a directory holding files unless
    /// [`RunOptions::overwrite`]; every epoch appends its metrics line (synced) and then
    /// writes its checkpoint when due, which becomes `latest` last, before the hooks see the
    /// epoch. A crash at any point leaves a checkpoint, config and log that agree up to the
    /// checkpoint's epoch (a resume drops the lines past it).
    pub fn run_with(
        &mut self,
        options: &RunOptions,
        hooks: &mut [&mut dyn TrainHook],
    ) -> Result<RunSummary, TrainError> {
        // A resumed run with no epoch left would exit successfully having done nothing: the
        // user asked for training, so say how to get it. (Loading a finished run to inspect
        // or evaluate it is fine; only running it is refused.)
        if self.resumed && self.config.epochs <= self.epochs_done {
            let done = self.epochs_done;
            return Err(TrainError::RunDir {
                dir: options.out_dir.clone().unwrap_or_default(),
                message: format!(
                    "has done {done} epochs and the run asks for {}; pass --epochs N with N > {done} \
                     to train further",
                    self.config.epochs
                ),
            });
        }
        // In a data-parallel run only rank 0 writes files and reports progress.
        let out = options.out_dir.as_deref().filter(|_| self.rank() == 0);
        let mut writer = match out {
            Some(dir) => {
                let mode = match (self.resumed || self.epochs_done > 0, options.overwrite) {
                    (true, _) => DirMode::Resume,
                    (false, true) => DirMode::Overwrite,
                    (false, false) => DirMode::New,
                };
                Some(RunWriter::open(dir, mode, self.effective_config(), self.epochs_done)?)
            }
            None => None,
        };
        let mut progress =
            ProgressHook::new(if self.rank() == 0 { options.progress } else { Progress::Quiet });
        let mut all: Vec<&mut dyn TrainHook> = Vec::with_capacity(hooks.len() + 1);
        all.push(&mut progress);
        for hook in hooks.iter_mut() {
            all.push(&mut **hook);
        }
        self.run_epochs(out, writer.as_mut(), &mut all)
    }

    fn run_epochs(
        &mut self,
        out: Option<&Path>,
        mut writer: Option<&mut RunWriter>,
        hooks: &mut [&mut dyn TrainHook],
    ) -> Result<RunSummary, TrainError> {
        let started = Instant::now();
        for hook in hooks.iter_mut() {
            hook.on_run_start(self)?;
        }
        let mut history = Vec::new();
        while self.epochs_done < self.config.epochs {
            let epoch = self.epochs_done + 1;
            let epoch_start = Instant::now();
            let lr = self.optimizer.lr();
            let (train_loss, train_accuracy, samples_per_second) = self.train_epoch(hooks)?;
            let (test_loss, test_accuracy) = self.evaluate()?;
            let validation = match self.validation.take() {
                Some(v) => {
                    let result = self.evaluate_on(&v);
                    self.validation = Some(v);
                    Some(result?)
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
            let every = self.config.checkpoint.every_epochs;
            if let (Some(out), Some(writer)) = (out, writer.as_deref_mut()) {
                writer.log_epoch(&metrics)?;
                if (every > 0 && epoch.is_multiple_of(every)) || epoch == self.config.epochs {
                    self.save_checkpoint_with(out, || writer.before_latest())?;
                }
            }
            for hook in hooks.iter_mut() {
                hook.on_epoch_end(self, &metrics)?;
            }
            history.push(metrics);
        }
        // The whole run's record, the epochs before a resume included.
        let whole = match writer {
            Some(w) => w.history()?,
            None => history.clone(),
        };
        let final_metrics = match whole.last() {
            Some(m) => m.clone(),
            None => return Err(TrainError::Checkpoint("the run has no epochs to report".into())),
        };
        let best = whole
            .iter()
            .map(|m| (m.test_accuracy, m.epoch))
            .fold((final_metrics.test_accuracy, final_metrics.epoch), |a, b| if b.0 > a.0 { b } else { a });
        let summary = RunSummary {
            final_metrics,
            history,
            best_test_accuracy: best,
            seconds: started.elapsed().as_secs_f64(),
            out_dir: out.map(Path::to_path_buf),
        };
        for hook in hooks.iter_mut() {
            hook.on_run_end(self, &summary)?;
        }
        Ok(summary)
    }

    /// Writes a checkpoint of the current state into `run_dir` (atomically) and returns its
    /// directory.
    ///
    /// # Errors
    /// [`TrainError::NonFinite`] when a weight, buffer or optimizer state is not finite: such
    /// a state is never written.
    pub fn save_checkpoint(&mut self, run_dir: &Path) -> Result<PathBuf, TrainError> {
        self.save_checkpoint_with(run_dir, || Ok(()))
    }

    fn save_checkpoint_with(
        &mut self,
        run_dir: &Path,
        before_latest: impl FnOnce() -> Result<(), TrainError>,
    ) -> Result<PathBuf, TrainError> {
        let model = checkpoint::model_state(&self.model);
        let optimizer = self.optimizer.state_dict();
        let stop = |what, value| TrainError::NonFinite {
            what,
            value,
            epoch: self.epochs_done,
            step: self.steps_done,
            kept: self.last_checkpoint,
        };
        if let Some(bad) = model.floats.values().find_map(|a| first_non_finite(a.view())) {
            return Err(stop("weights", bad));
        }
        if let Some(bad) = optimizer.arrays.values().find_map(|a| first_non_finite(a.view())) {
            return Err(stop("optimizer state", bad));
        }
        if let Some(bad) = optimizer.scalars.values().filter_map(|s| s.as_f64()).find(|v| !v.is_finite()) {
            return Err(stop("optimizer state", bad));
        }
        let mut rngs = Vec::new();
        self.model.visit_rngs_mut("", &mut |name, rng| rngs.push((name.to_string(), rng.state())));
        let ckpt = Checkpoint {
            epoch: self.epochs_done,
            step: self.steps_done,
            model,
            optimizer,
            scheduler: self.scheduler.as_ref().map(|s| s.state()),
            rngs,
            data_parallel: self.was_data_parallel,
        };
        let dir = checkpoint::save_with(run_dir, &ckpt, before_latest)?;
        self.last_checkpoint = Some(self.epochs_done);
        Ok(dir)
    }

    /// Rebuilds the trainer of the run in `run_dir` from its saved effective config and
    /// restores its latest checkpoint; [`Trainer::run`] then continues where it stopped.
    /// `epochs`, if given, replaces the saved config's epoch count (to train further).
    pub fn resume(run_dir: &Path, epochs: Option<usize>) -> Result<Trainer, TrainError> {
        Trainer::resume_with(run_dir, epochs, &[])
    }

    /// [`Trainer::resume`] with typed overrides of the saved config, each applied as
    /// [`TrainConfig::set`] does (for example `("data.data_dir", Value::Str(dir))` when the
    /// data has moved).
    pub fn resume_with(
        run_dir: &Path,
        epochs: Option<usize>,
        overrides: &[(&str, Value)],
    ) -> Result<Trainer, TrainError> {
        let mut config = checkpoint::read_run_config(run_dir)?;
        for (path, value) in overrides {
            config.set(path, value.clone())?;
        }
        if let Some(e) = epochs {
            config.epochs = e;
        }
        let mut trainer = Trainer::new(config)?;
        let ckpt = checkpoint::load(run_dir)?;
        trainer.restore(ckpt)?;
        Ok(trainer)
    }

    fn restore(&mut self, ckpt: LoadedCheckpoint) -> Result<(), TrainError> {
        checkpoint::check_progress(self, &ckpt)?;
        self.was_data_parallel = ckpt.data_parallel;
        // Resuming converts nothing, so there are no notes to pass on.
        checkpoint::restore_model(&mut self.model, &ckpt.model, checkpoint::Conversions::Refuse)?;
        self.optimizer.load_state_dict(&ckpt.optimizer).map_err(|e| ckpt.error(e))?;
        match (&mut self.scheduler, &ckpt.scheduler) {
            (Some(s), Some(state)) => {
                s.load_state(state).map_err(|e| ckpt.error(e))?;
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
        self.resumed = true;
        self.last_checkpoint = Some(ckpt.epoch);
        Ok(())
    }
}

/// The first NaN or infinity in `a`, if any (one vectorizable pass: `x - x` is 0 exactly
/// for every finite `x` and NaN otherwise).
#[allow(clippy::eq_op)] // `x - x` is the finiteness test, not a mistake
fn first_non_finite(a: ndarray::ArrayViewD<'_, f32>) -> Option<f64> {
    let all_finite = match a.as_slice_memory_order() {
        Some(xs) => {
            let mut acc = [0.0f32; 16];
            let mut chunks = xs.chunks_exact(16);
            for c in &mut chunks {
                for (s, &x) in acc.iter_mut().zip(c) {
                    *s += x - x;
                }
            }
            let tail: f32 = chunks.remainder().iter().map(|&x| x - x).sum();
            acc.iter().sum::<f32>() + tail == 0.0
        }
        None => a.iter().all(|x| x.is_finite()),
    };
    if all_finite {
        None
    } else {
        a.iter().find(|x| !x.is_finite()).map(|&x| f64::from(x))
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
    share: Option<&[usize]>,
) -> Result<(f64, f64), TrainError> {
    let _no_grad = NoGradGuard::new();
    let was_training = model.is_training();
    model.set_training(false);
    let mut loader =
        DataLoader::new(data, LoaderConfig { batch_size, shuffle: false, drop_last: false, seed: 0 })?;
    if let Some(share) = share {
        loader.set_order(share)?;
    }
    let mut y = Vec::with_capacity(loader.batch_rows());
    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
    for i in 0..loader.len() {
        let input = Var::pooled_constant(loader.pooled_batch(i, &mut y)?);
        let logits = model.forward(&input)?;
        let l = loss.forward(&logits, &Target::Classes(&y))?;
        loss_sum += f64::from(l.item()) * y.len() as f64;
        correct += count_correct(&logits.value(), &y);
        seen += y.len();
    }
    model.set_training(was_training);
    let n = seen.max(1) as f64;
    Ok((loss_sum / n, correct as f64 / n))
}

#[cfg(test)]
mod step_tests {
    use super::count_correct;

    #[test]
    fn correct_counts_use_the_arg_max() {
        let logits = ndarray::arr2(&[[0.1f32, 0.9], [2.0, -1.0], [0.0, 0.0]]).into_dyn();
        assert_eq!(count_correct(&logits, &[1, 1, 0]), 2);
        assert_eq!(count_correct(&ndarray::arr1(&[1.0f32]).into_dyn(), &[0]), 0);
    }
}
