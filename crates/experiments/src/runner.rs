//! Shared machinery: loading the data, building a model by registry names, runs of the
//! trainer with per-step losses and hooks, probes of activations and gradients, and a
//! progress bar per run.

use crate::{Budget, DataChoice, Experiment, ExperimentError, Options};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nabla_autograd::{NoGradGuard, Var};
use nabla_data::{DataSplits, Dataset};
use nabla_layers::{Module, Target};
use nabla_registry::{Params, RawParams, Value};
use nabla_train::{
    EpochMetrics, Progress, RunOptions, RunSummary, StepInfo, TrainConfig, TrainConfigBuilder, TrainError,
    TrainHook, Trainer,
};
use ndarray::{Array2, ArrayD};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// What an experiment runs with.
pub(crate) struct Ctx<'a> {
    pub options: &'a Options,
    pub experiment: Experiment,
    runs_done: std::cell::Cell<usize>,
}

impl<'a> Ctx<'a> {
    pub fn new(options: &'a Options, experiment: Experiment) -> Ctx<'a> {
        Ctx { options, experiment, runs_done: std::cell::Cell::new(0) }
    }

    pub fn budget(&self) -> Budget {
        self.options.budget
    }

    /// A training session of this experiment on the data's own splits: the model `mlp` with
    /// `optimizer` (a compact spec) for `size.epochs` epochs of batches of `size.batch_size`,
    /// named `"<experiment> <label>"` in errors.
    pub fn session(
        &self,
        label: &str,
        mlp: &Mlp,
        optimizer: &str,
        data: &Data,
        size: &RunSize,
        seed: u64,
    ) -> Result<Session, ExperimentError> {
        let context = format!("{} {label}", self.experiment.name());
        Session::new(context, mlp, optimizer, data, data.splits.clone(), size.batch_size, seed, size.epochs)
    }

    pub fn seeds(&self) -> Vec<u64> {
        (0..self.options.seeds.max(1) as u64).collect()
    }

    /// The SVG of a figure: its path and its link relative to the report. [`Figure::save`]
    /// writes the PNG copy beside it.
    ///
    /// [`Figure::save`]: crate::plot::Figure::save
    pub fn figure_path(&self, what: &str) -> (PathBuf, String) {
        let rel = format!("figures/{}-{what}.svg", self.experiment.name());
        (self.options.out_dir.join(&rel), rel)
    }

    /// Loads the data set with at most `limit_train` / `limit_test` examples (seeded
    /// subsets, the same for every seed), scaled to [0, 1].
    pub fn load(&self, limit_train: usize, limit_test: usize) -> Result<Data, ExperimentError> {
        let name = self.options.data.name();
        let mut raw = RawParams::new();
        raw.insert("scale".into(), Value::Bool(true));
        raw.insert("limit_train".into(), Value::Int(limit_train as i64));
        raw.insert("limit_test".into(), Value::Int(limit_test as i64));
        if let (DataChoice::Mnist, Some(dir)) = (self.options.data, &self.options.data_dir) {
            raw.insert("data_dir".into(), Value::Str(dir.display().to_string()));
        }
        let nabla_registry::Built { value: splits, params } =
            nabla_registry::build::<nabla_data::DataSplits>((name, &raw), ())
                .map_err(|source| ExperimentError::data(self.experiment.name(), source))?;
        Ok(Data { splits, params })
    }

    /// Loads the data set ([`Ctx::load`]) with `size`'s limits and counts the steps of a run
    /// of `size` on it: what every run of an experiment shares.
    pub fn setup(&self, size: &RunSize) -> Result<Setup, ExperimentError> {
        let data = self.load(size.limit_train, size.limit_test)?;
        let per_epoch = Session::steps_per_epoch(data.splits.train.len(), size.batch_size);
        Ok(Setup { data, seeds: self.seeds(), per_epoch, total: per_epoch * size.epochs })
    }

    /// A progress bar for one run (`total` steps); a line when the run ends.
    pub fn bar(&self, label: &str, total: u64) -> RunBar {
        let n = self.runs_done.get() + 1;
        self.runs_done.set(n);
        let label = format!("{} #{n} {label}", self.experiment.name());
        let progress = self.options.progress;
        let terminal = std::io::stderr().is_terminal();
        let bar = (progress == Progress::Auto && terminal).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} steps, {elapsed} elapsed, eta {eta} {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.clone());
            bar
        });
        RunBar { bar, lines: progress != Progress::Quiet, label, start: Instant::now() }
    }
}

/// How much data an experiment's runs see and how long they train, at one budget: the part
/// of an experiment's plan that [`Ctx::setup`] and [`Ctx::session`] take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RunSize {
    /// Training examples loaded (a seeded subset).
    pub limit_train: usize,
    /// Test examples loaded (a seeded subset).
    pub limit_test: usize,
    /// Epochs of every run.
    pub epochs: usize,
    /// Examples in a training batch.
    pub batch_size: usize,
}

impl RunSize {
    /// `batches of B, E epochs (S steps)`, for a report's setup, given the `steps` of a run.
    pub fn describe(&self, steps: usize) -> String {
        format!("batches of {}, {} epochs ({steps} steps)", self.batch_size, self.epochs)
    }
}

/// What every run of an experiment shares ([`Ctx::setup`]).
pub(crate) struct Setup {
    pub data: Data,
    pub seeds: Vec<u64>,
    /// Optimizer steps in one epoch over the training split.
    pub per_epoch: usize,
    /// Optimizer steps in a whole run.
    pub total: usize,
}

/// A loaded data set and its effective hyper-parameters.
pub(crate) struct Data {
    pub splits: DataSplits,
    pub params: Params,
}

impl Data {
    /// `MNIST: 10000 training / 5000 test images of 784 features`.
    pub fn describe(&self) -> String {
        format!(
            "{}: {} training / {} test images of {} features (seeded subsets, scaled to [0, 1])",
            self.params.component(),
            self.splits.train.len(),
            self.splits.test.len(),
            self.splits.train.features()
        )
    }
}

/// A progress bar for one run, or plain lines.
pub(crate) struct RunBar {
    bar: Option<ProgressBar>,
    lines: bool,
    label: String,
    start: Instant,
}

impl TrainHook for RunBar {
    fn on_step(&mut self, _trainer: &mut Trainer, step: &StepInfo) -> Result<(), TrainError> {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if step.step.is_multiple_of(16) {
                bar.set_message(format!("loss {:.4}", step.loss));
            }
        }
        Ok(())
    }
}

impl RunBar {
    /// Ends the run with a one-line summary.
    pub fn finish(self, summary: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.lines {
            eprintln!("{}: {summary} ({:.1}s)", self.label, self.start.elapsed().as_secs_f64());
        }
    }
}

/// A multilayer perceptron named component by component.
#[derive(Clone, Debug)]
pub(crate) struct Mlp {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// The registered activation.
    pub activation: String,
    /// BatchNorm1d between each hidden Linear and its activation.
    pub batch_norm: bool,
    /// Dropout after each hidden activation (0: none).
    pub dropout: f64,
    /// Weight initializer (compact spec).
    pub weight_init: String,
    /// Bias initializer (compact spec).
    pub bias_init: String,
}

impl Mlp {
    pub fn new(hidden: Vec<usize>, activation: &str, weight_init: &str) -> Mlp {
        Mlp {
            hidden,
            activation: activation.to_string(),
            batch_norm: false,
            dropout: 0.0,
            weight_init: weight_init.to_string(),
            bias_init: "zeros".to_string(),
        }
    }

    /// `784-256-128-10`.
    pub fn shape(&self, data: &Data) -> String {
        let mut sizes = vec![data.splits.train.features()];
        sizes.extend(&self.hidden);
        sizes.push(data.splits.train.num_classes());
        sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-")
    }

    /// The model's initializers and layers, added to `config`; the classifier has `classes`
    /// outputs.
    fn add_to(&self, config: TrainConfigBuilder, classes: usize) -> TrainConfigBuilder {
        let mut config = config.weight_init(&self.weight_init).bias_init(&self.bias_init);
        for &h in &self.hidden {
            config = config.layer("linear", [("out_features", h)]);
            if self.batch_norm {
                config = config.layer("batch_norm1d", ());
            }
            config = config.layer(&self.activation, ());
            if self.dropout > 0.0 {
                config = config.layer("dropout", [("p", self.dropout)]);
            }
        }
        config.layer("linear", [("out_features", classes)])
    }
}

/// One training run: a trainer built from names, run by its own loop.
pub(crate) struct Session {
    pub trainer: Trainer,
    context: String,
}

/// What a run of a session recorded.
pub(crate) struct Trained {
    /// The loss of every step taken.
    pub losses: Vec<f64>,
    /// The trainer's summary; `None` when the loss or a gradient became non-finite, which
    /// ends the run early (the losses up to there are kept).
    pub summary: Option<RunSummary>,
}

impl Trained {
    /// The test loss and accuracy after the last epoch (NaN for a diverged run).
    pub fn final_test(&self) -> (f64, f64) {
        self.summary
            .as_ref()
            .map_or((f64::NAN, f64::NAN), |s| (s.final_metrics.test_loss, s.final_metrics.test_accuracy))
    }
}

/// Records the loss of every step.
#[derive(Default)]
struct Losses(Vec<f64>);

impl TrainHook for Losses {
    fn on_step(&mut self, _trainer: &mut Trainer, step: &StepInfo) -> Result<(), TrainError> {
        self.0.push(step.loss);
        Ok(())
    }
}

/// A hook calling `F` after every step.
pub(crate) struct EachStep<F>(F);

/// A hook calling `f(trainer, step)` after every step.
pub(crate) fn each_step<F: FnMut(&mut Trainer, &StepInfo) -> Result<(), TrainError>>(f: F) -> EachStep<F> {
    EachStep(f)
}

impl<F: FnMut(&mut Trainer, &StepInfo) -> Result<(), TrainError>> TrainHook for EachStep<F> {
    fn on_step(&mut self, trainer: &mut Trainer, step: &StepInfo) -> Result<(), TrainError> {
        (self.0)(trainer, step)
    }
}

/// A hook calling `F` at the end of every epoch.
pub(crate) struct EachEpoch<F>(F);

/// A hook calling `f(trainer, metrics)` at the end of every epoch.
pub(crate) fn each_epoch<F: FnMut(&mut Trainer, &EpochMetrics) -> Result<(), TrainError>>(
    f: F,
) -> EachEpoch<F> {
    EachEpoch(f)
}

impl<F: FnMut(&mut Trainer, &EpochMetrics) -> Result<(), TrainError>> TrainHook for EachEpoch<F> {
    fn on_epoch_end(&mut self, trainer: &mut Trainer, metrics: &EpochMetrics) -> Result<(), TrainError> {
        (self.0)(trainer, metrics)
    }
}

impl Session {
    /// Builds the model `mlp` with the optimizer `optimizer` (a compact spec such as
    /// `sgd:lr=0.1`) on `splits` (a copy is given to the trainer), for `epochs` epochs of
    /// shuffled batches of `batch_size` (the last incomplete batch dropped).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        context: String,
        mlp: &Mlp,
        optimizer: &str,
        data: &Data,
        splits: DataSplits,
        batch_size: usize,
        seed: u64,
        epochs: usize,
    ) -> Result<Session, ExperimentError> {
        let config = TrainConfig::builder()
            .source(context.clone())
            .seed(seed)
            .epochs(epochs)
            .batch_size(batch_size.min(splits.train.len()).max(1))
            .drop_last(true)
            .data(data.params.component(), &data.params)
            .loss("cross_entropy", ())
            .optimizer(optimizer, ());
        let config = mlp
            .add_to(config, splits.train.num_classes())
            .build()
            .map_err(|e| ExperimentError::train(context.clone(), e))?;
        let trainer = Trainer::with_data(config, splits, &data.params)
            .map_err(|e| ExperimentError::train(context.clone(), e))?;
        Ok(Session { trainer, context })
    }

    /// Optimizer steps in one epoch over `n` examples.
    pub fn steps_per_epoch(n: usize, batch_size: usize) -> usize {
        let b = batch_size.min(n).max(1);
        n / b
    }

    /// `e` as an error of this session.
    pub fn error(&self, e: TrainError) -> ExperimentError {
        ExperimentError::train(self.context.clone(), e)
    }

    /// Trains every epoch of the session (writing no file), with `bar` and `hooks` called
    /// at every step and epoch. Divergence ends the run without an error.
    pub fn run(
        &mut self,
        bar: &mut RunBar,
        hooks: &mut [&mut dyn TrainHook],
    ) -> Result<Trained, ExperimentError> {
        let mut losses = Losses::default();
        let mut all: Vec<&mut dyn TrainHook> = vec![&mut losses, bar];
        for hook in hooks.iter_mut() {
            all.push(&mut **hook);
        }
        let summary = match self.trainer.run_with(&RunOptions::in_memory(), &mut all) {
            Ok(summary) => Some(summary),
            Err(TrainError::NonFinite { .. }) => None,
            Err(e) => return Err(self.error(e)),
        };
        Ok(Trained { losses: losses.0, summary })
    }

    /// Mean loss and accuracy on `data`, in evaluation mode, without recording a graph.
    pub fn evaluate(&mut self, data: &Dataset) -> Result<(f64, f64), ExperimentError> {
        self.trainer.evaluate_on(data).map_err(|e| self.error(e))
    }

    /// [`probe`] of the session's model.
    pub fn probe(
        &mut self,
        x: &Array2<f32>,
        training: bool,
        visit: &mut dyn FnMut(usize, &str, &ArrayD<f32>),
    ) -> Result<(), ExperimentError> {
        probe(&mut self.trainer, x, training, visit).map_err(|e| self.error(e))
    }

    /// [`weight_grad_norms`] of the session's model.
    pub fn weight_grad_norms(&mut self, x: &Array2<f32>, y: &[usize]) -> Result<Vec<f64>, ExperimentError> {
        weight_grad_norms(&mut self.trainer, x, y).map_err(|e| self.error(e))
    }
}

/// Runs the model on `x` without recording, and calls `visit(child index, child name, child
/// output)` for every layer. In evaluation mode, or in training mode (batch statistics, as a
/// training step sees them) with every buffer, counter and generator saved before and restored after,
/// so that the probe changes nothing.
pub(crate) fn probe(
    trainer: &mut Trainer,
    x: &Array2<f32>,
    training: bool,
    visit: &mut dyn FnMut(usize, &str, &ArrayD<f32>),
) -> Result<(), TrainError> {
    let _no_grad = NoGradGuard::new();
    let model = trainer.model_mut();
    let saved = training.then(|| {
        let mut rngs = Vec::new();
        model.visit_rngs_mut("", &mut |_, r| rngs.push(r.state()));
        (model.buffers(), model.counters(), rngs)
    });
    model.set_training(training);
    let mut h = Var::constant(x.clone().into_dyn());
    let mut result = Ok(());
    for (i, child) in model.iter_mut().enumerate() {
        match child.forward(&h) {
            Ok(out) => {
                visit(i, child.name(), &out.value());
                h = out;
            }
            Err(e) => {
                result = Err(e.into());
                break;
            }
        }
    }
    if let Some((buffers, counters, rngs)) = saved {
        let mut buffers = buffers.into_iter();
        model.visit_buffers_mut("", &mut |_, b| {
            if let Some((_, saved)) = buffers.next() {
                b.assign(&saved);
            }
        });
        let mut counters = counters.into_iter();
        model.visit_counters_mut("", &mut |_, n| {
            if let Some((_, saved)) = counters.next() {
                *n = saved;
            }
        });
        let mut rngs = rngs.into_iter();
        model.visit_rngs_mut("", &mut |_, r| {
            if let Some(state) = rngs.next() {
                *r = nabla_tensor::Rng::from_state(&state);
            }
        });
    }
    model.set_training(true);
    result
}

/// The L2 norm of the loss gradient with respect to each Linear layer's weight, input side
/// first, on one batch in training mode; nothing is updated and the gradients are cleared.
pub(crate) fn weight_grad_norms(
    trainer: &mut Trainer,
    x: &Array2<f32>,
    y: &[usize],
) -> Result<Vec<f64>, TrainError> {
    let model = trainer.model_mut();
    model.zero_grad();
    model.set_training(true);
    let logits = model.forward(&Var::constant(x.clone().into_dyn()))?;
    let loss = trainer.loss().forward(&logits, &Target::Classes(y))?;
    drop(logits);
    loss.backward()?;
    let mut norms = Vec::new();
    let mut result = Ok(());
    for child in trainer.model().iter().filter(|c| c.name() == "linear") {
        child.visit_parameters("", &mut |name, v| {
            if name == "weight" {
                let norm = v.grad().map(|g| nabla_optim::grad_norm(std::iter::once(g.view()), 2.0));
                match norm.transpose() {
                    Ok(n) => norms.push(n.unwrap_or(0.0)),
                    Err(e) => result = Err(e),
                }
            }
        });
    }
    trainer.model().zero_grad();
    result?;
    Ok(norms)
}

/// The first `n` examples of a data set as a matrix and labels (a fixed probe batch).
pub(crate) fn head(data: &Dataset, n: usize) -> (Array2<f32>, Vec<usize>) {
    let n = n.min(data.len());
    let x = data.images().slice(ndarray::s![..n, ..]).to_owned();
    let y = data.labels()[..n].iter().map(|&l| usize::from(l)).collect();
    (x, y)
}

/// Mean and standard deviation (population) of every element of `a`.
pub(crate) fn mean_std(a: &ArrayD<f32>) -> (f64, f64) {
    let n = a.len().max(1) as f64;
    let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = a.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn statistics_of_arrays() {
        let (m, s) = mean_std(&arr2(&[[1.0f32, 3.0], [1.0, 3.0]]).into_dyn());
        assert_eq!((m, s), (2.0, 1.0));
    }

    #[test]
    fn an_mlp_is_built_layer_by_layer_as_its_config_file_would_be() {
        let mut mlp = Mlp::new(vec![8, 4], "tanh", "xavier_uniform");
        mlp.batch_norm = true;
        mlp.dropout = 0.5;
        let base = TrainConfig::builder().data("digits", ()).loss("cross_entropy", ()).optimizer("sgd", ());
        let built = mlp.add_to(base, 3).build().unwrap();
        let mut text = String::from(
            "[data]\nname = \"digits\"\n[loss]\nname = \"cross_entropy\"\n[optimizer]\nname = \"sgd\"\n\
             [model]\nweight_init = \"xavier_uniform\"\nbias_init = \"zeros\"\n",
        );
        for h in [8, 4] {
            text.push_str(&format!("[[model.layers]]\nname = \"linear\"\nout_features = {h}\n"));
            text.push_str("[[model.layers]]\nname = \"batch_norm1d\"\n[[model.layers]]\nname = \"tanh\"\n");
            text.push_str("[[model.layers]]\nname = \"dropout\"\np = 0.5\n");
        }
        text.push_str("[[model.layers]]\nname = \"linear\"\nout_features = 3\n");
        let parsed = TrainConfig::from_toml_str(&text, "<builder>", &[]).unwrap();
        assert_eq!(built, parsed);
        assert_eq!(built.layers.len(), 9);
    }

    #[test]
    fn a_session_trains_evaluates_and_probes_on_digits() {
        let options = Options { data: DataChoice::Digits, ..Options::new(Budget::Smoke) };
        let ctx = Ctx::new(&options, Experiment::Activation);
        let data = ctx.load(200, 100).unwrap();
        assert_eq!((data.splits.train.len(), data.splits.test.len()), (200, 100));
        let mlp = Mlp::new(vec![16, 16], "sigmoid", "xavier_uniform");
        assert_eq!(mlp.shape(&data), "64-16-16-10");
        let mut s =
            Session::new("t".into(), &mlp, "sgd:lr=0.5", &data, data.splits.clone(), 32, 0, 3).unwrap();
        let (x, y) = head(&data.splits.train, 64);
        let norms = s.weight_grad_norms(&x, &y).unwrap();
        assert_eq!(norms.len(), 3);
        assert!(norms.iter().all(|n| *n > 0.0 && n.is_finite()), "{norms:?}");
        assert!(s
            .trainer
            .model()
            .parameters()
            .iter()
            .all(|(_, p)| p.grad().is_none_or(|g| g.iter().all(|v| *v == 0.0))));
        let before = s.evaluate(&data.splits.test).unwrap();
        let mut bar = ctx.bar("test", 18);
        let (mut steps, mut epochs) = (Vec::new(), Vec::new());
        let mut on_step = each_step(|_, step| {
            steps.push(step.step);
            Ok(())
        });
        let mut on_epoch = each_epoch(|t, m| {
            let test = t.data().test.clone();
            epochs.push((m.epoch, m.test_loss, t.evaluate_on(&test)?.0));
            Ok(())
        });
        let run = s.run(&mut bar, &mut [&mut on_step, &mut on_epoch]).unwrap();
        bar.finish("done");
        let per_epoch = Session::steps_per_epoch(200, 32);
        assert_eq!(run.losses.len(), 3 * per_epoch);
        assert_eq!(steps, (1..=3 * per_epoch as u64).collect::<Vec<_>>());
        assert_eq!(epochs.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(epochs.iter().all(|e| e.1 == e.2), "the epoch's test loss is evaluate_on the test split");
        let after = s.evaluate(&data.splits.test).unwrap();
        assert_eq!(run.final_test(), after);
        assert!(after.0 < before.0, "training lowers the test loss: {before:?} -> {after:?}");
        let mut seen = Vec::new();
        s.probe(&x, false, &mut |i, name, out| seen.push((i, name.to_string(), out.shape().to_vec())))
            .unwrap();
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[1], (1, "sigmoid".to_string(), vec![64, 16]));
        assert_eq!(seen[4].2, vec![64, 10]);
    }

    /// Options of a smoke run on the digits that prints no progress.
    fn quiet_digits_smoke() -> Options {
        Options { data: DataChoice::Digits, progress: Progress::Quiet, ..Options::new(Budget::Smoke) }
    }

    #[test]
    fn a_training_mode_probe_leaves_batch_norm_and_dropout_state_alone() {
        let options = quiet_digits_smoke();
        let ctx = Ctx::new(&options, Experiment::Batchnorm);
        let data = ctx.load(200, 50).unwrap();
        let mut mlp = Mlp::new(vec![16], "relu", "he_uniform");
        mlp.batch_norm = true;
        mlp.dropout = 0.5;
        let mut s = Session::new("t".into(), &mlp, "sgd", &data, data.splits.clone(), 32, 0, 1).unwrap();
        let (x, _) = head(&data.splits.train, 64);
        let before = s.trainer.model().buffers();
        let counters_before = s.trainer.model().counters();
        let mut rng_before = Vec::new();
        s.trainer.model_mut().visit_rngs_mut("", &mut |_, r| rng_before.push(r.state()));
        let mut bn_out = None;
        s.probe(&x, true, &mut |i, _, out| {
            if i == 1 {
                bn_out = Some(mean_std(out));
            }
        })
        .unwrap();
        let (m, sd) = bn_out.unwrap();
        assert!(m.abs() < 1e-3 && (sd - 1.0).abs() < 1e-2, "batch statistics normalize: {m} {sd}");
        assert_eq!(s.trainer.model().buffers(), before, "running statistics restored");
        assert_eq!(s.trainer.model().counters(), counters_before, "batch counters restored");
        let mut rng_after = Vec::new();
        s.trainer.model_mut().visit_rngs_mut("", &mut |_, r| rng_after.push(r.state()));
        assert_eq!(rng_after, rng_before, "dropout generator restored");
        assert!(s.trainer.model().is_training());
    }

    #[test]
    fn divergence_ends_the_run_instead_of_failing() {
        let options = quiet_digits_smoke();
        let ctx = Ctx::new(&options, Experiment::Init);
        let data = ctx.load(200, 50).unwrap();
        let mlp = Mlp::new(vec![64, 64, 64], "relu", "normal:std=30");
        let mut s =
            Session::new("t".into(), &mlp, "sgd:lr=10", &data, data.splits.clone(), 32, 0, 5).unwrap();
        let mut bar = ctx.bar("diverge", 30);
        let run = s.run(&mut bar, &mut []).unwrap();
        assert!(run.summary.is_none(), "losses {:?}", run.losses);
        assert!(run.losses.len() < 30 && run.final_test().0.is_nan());
    }
}
