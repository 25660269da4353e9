//! Shared machinery: loading the data, building a model by registry names, training loops
//! with per-step losses, evaluation on any split, probes of activations and gradients, and a
//! progress bar per run.

use crate::{Budget, DataChoice, Experiment, ExperimentError, Options};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nabla_autograd::{NoGradGuard, Var};
use nabla_data::{DataLoader, DataSplits, Dataset, LoaderConfig};
use nabla_layers::{Module, Target};
use nabla_registry::{Params, RawParams, Value};
use nabla_train::{count_correct, ComponentSpec, Progress, TrainConfig, TrainError, Trainer};
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
    /// `optimizer` (a compact spec), named `"<experiment> <label>"` in errors.
    pub fn session(
        &self,
        label: &str,
        mlp: &Mlp,
        optimizer: &str,
        data: &Data,
        batch_size: usize,
        seed: u64,
    ) -> Result<Session, ExperimentError> {
        let context = format!("{} {label}", self.experiment.name());
        Session::new(context, mlp, optimizer, data, data.splits.clone(), batch_size, seed)
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
        let (splits, params) = nabla_data::load(name, &raw)
            .map_err(|source| ExperimentError::data(self.experiment.name(), source))?;
        Ok(Data { splits, params })
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

impl RunBar {
    fn step(&self, step: u64, loss: f64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if step % 16 == 0 {
                bar.set_message(format!("loss {loss:.4}"));
            }
        }
    }

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

    /// The layers as a config's `[[model.layers]]` tables.
    fn toml(&self, classes: usize) -> String {
        let mut s =
            format!("[model]\nweight_init = {:?}\nbias_init = {:?}\n", self.weight_init, self.bias_init);
        for &h in &self.hidden {
            s.push_str(&format!("[[model.layers]]\nname = \"linear\"\nout_features = {h}\n"));
            if self.batch_norm {
                s.push_str("[[model.layers]]\nname = \"batch_norm1d\"\n");
            }
            s.push_str(&format!("[[model.layers]]\nname = {:?}\n", self.activation));
            if self.dropout > 0.0 {
                s.push_str(&format!("[[model.layers]]\nname = \"dropout\"\np = {:?}\n", self.dropout));
            }
        }
        s.push_str(&format!("[[model.layers]]\nname = \"linear\"\nout_features = {classes}\n"));
        s
    }
}

/// One training run: a trainer built from names, and its own loop.
pub(crate) struct Session {
    pub trainer: Trainer,
    batch_size: usize,
    seed: u64,
    epochs_done: u64,
    context: String,
}

/// How an epoch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EpochEnd {
    /// Every step ran.
    Done,
    /// The loss or a gradient became non-finite; the run stops.
    Diverged,
}

impl Session {
    /// Builds the model `mlp` with the optimizer `optimizer` (a compact spec such as
    /// `sgd:lr=0.1`) on `splits` (a copy is given to the trainer).
    pub fn new(
        context: String,
        mlp: &Mlp,
        optimizer: &str,
        data: &Data,
        splits: DataSplits,
        batch_size: usize,
        seed: u64,
    ) -> Result<Session, ExperimentError> {
        let text = format!(
            "seed = {seed}\nepochs = 1\nbatch_size = {batch_size}\ndrop_last = true\n\
             [data]\nname = {:?}\n{}[loss]\nname = \"cross_entropy\"\n[optimizer]\nname = \"sgd\"\n",
            data.params.component(),
            mlp.toml(splits.train.num_classes()),
        );
        let mut config = TrainConfig::from_toml_str(&text, &context, &[])
            .map_err(|e| ExperimentError::train(context.clone(), e))?;
        let (name, params) = nabla_registry::parse_compact(optimizer)
            .map_err(|e| ExperimentError::probe(context.clone(), format!("optimizer '{optimizer}': {e}")))?;
        config.optimizer = ComponentSpec { name, params, table: "optimizer".to_string() };
        let batch_size = batch_size.min(splits.train.len()).max(1);
        config.batch_size = batch_size;
        let trainer = Trainer::with_data(config, splits, &data.params)
            .map_err(|e| ExperimentError::train(context.clone(), e))?;
        Ok(Session { trainer, batch_size, seed, epochs_done: 0, context })
    }

    /// Optimizer steps in one epoch over `n` examples.
    pub fn steps_per_epoch(n: usize, batch_size: usize) -> usize {
        let b = batch_size.min(n).max(1);
        n / b
    }

    /// Trains one epoch over `train` (shuffled by the run's seed and the epoch number), appending
    /// each step's loss to `losses` and calling `after_step` after every step.
    pub fn epoch(
        &mut self,
        train: &Dataset,
        bar: &RunBar,
        losses: &mut Vec<f64>,
        after_step: &mut dyn FnMut(&mut Session, u64) -> Result<(), ExperimentError>,
    ) -> Result<EpochEnd, ExperimentError> {
        let mut loader = DataLoader::new(
            train,
            LoaderConfig { batch_size: self.batch_size, shuffle: true, drop_last: true, seed: self.seed },
        )
        .map_err(|e| ExperimentError::train(self.context.clone(), e.into()))?;
        loader.set_epoch(self.epochs_done);
        let mut batch = loader.new_batch();
        self.trainer.model_mut().set_training(true);
        for i in 0..loader.len() {
            loader.fill(i, &mut batch).map_err(|e| ExperimentError::train(self.context.clone(), e.into()))?;
            match self.trainer.train_step(batch.x(), batch.y()) {
                Ok((loss, _)) => {
                    losses.push(loss);
                    let step = self.trainer.steps_done();
                    bar.step(step, loss);
                    after_step(self, step)?;
                }
                Err(TrainError::NonFinite { .. }) => return Ok(EpochEnd::Diverged),
                Err(e) => return Err(ExperimentError::train(self.context.clone(), e)),
            }
        }
        self.epochs_done += 1;
        Ok(EpochEnd::Done)
    }

    /// Mean loss and accuracy on `data`, in evaluation mode, without recording a graph.
    pub fn evaluate(&mut self, data: &Dataset) -> Result<(f64, f64), ExperimentError> {
        let ctx = self.context.clone();
        let _no_grad = NoGradGuard::new();
        self.trainer.model_mut().set_training(false);
        let loader = DataLoader::new(
            data,
            LoaderConfig { batch_size: 1000, shuffle: false, drop_last: false, seed: 0 },
        )
        .map_err(|e| ExperimentError::train(ctx.clone(), e.into()))?;
        let mut batch = loader.new_batch();
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for i in 0..loader.len() {
            loader.fill(i, &mut batch).map_err(|e| ExperimentError::train(ctx.clone(), e.into()))?;
            let input = Var::constant(batch.x().to_owned().into_dyn());
            let logits =
                self.trainer.model_mut().forward(&input).map_err(|e| ExperimentError::probe(&ctx, e))?;
            let loss = self
                .trainer
                .loss()
                .forward(&logits, &Target::Classes(batch.y()))
                .map_err(|e| ExperimentError::probe(&ctx, e))?;
            loss_sum += f64::from(loss.item()) * batch.len() as f64;
            correct += count_correct(&logits.value(), batch.y());
        }
        self.trainer.model_mut().set_training(true);
        let n = data.len().max(1) as f64;
        Ok((loss_sum / n, correct as f64 / n))
    }

    /// Runs the model on `x` without recording, and calls `visit(child index, child name,
    /// child output)` for every layer. In evaluation mode, or in training mode (batch
    /// statistics, as a training step sees them) with every buffer, counter and generator saved before
    /// and restored after, so that the probe changes nothing.
    pub fn probe(
        &mut self,
        x: &Array2<f32>,
        training: bool,
        visit: &mut dyn FnMut(usize, &str, &ArrayD<f32>),
    ) -> Result<(), ExperimentError> {
        let ctx = self.context.clone();
        let _no_grad = NoGradGuard::new();
        let model = self.trainer.model_mut();
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
                    result = Err(ExperimentError::probe(&ctx, e));
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
    pub fn weight_grad_norms(&mut self, x: &Array2<f32>, y: &[usize]) -> Result<Vec<f64>, ExperimentError> {
        let ctx = self.context.clone();
        let model = self.trainer.model_mut();
        model.zero_grad();
        model.set_training(true);
        let logits = model
            .forward(&Var::constant(x.clone().into_dyn()))
            .map_err(|e| ExperimentError::probe(&ctx, e))?;
        let loss = self
            .trainer
            .loss()
            .forward(&logits, &Target::Classes(y))
            .map_err(|e| ExperimentError::probe(&ctx, e))?;
        drop(logits);
        loss.backward().map_err(|e| ExperimentError::probe(&ctx, e))?;
        let mut norms = Vec::new();
        for child in self.trainer.model().iter().filter(|c| c.name() == "linear") {
            child.visit_parameters("", &mut |name, v| {
                if name == "weight" {
                    let n = v.grad().map(|g| g.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt());
                    norms.push(n.unwrap_or(0.0));
                }
            });
        }
        self.trainer.model().zero_grad();
        Ok(norms)
    }
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
    fn an_mlp_is_written_layer_by_layer() {
        let mut mlp = Mlp::new(vec![8, 4], "tanh", "xavier_uniform");
        mlp.batch_norm = true;
        mlp.dropout = 0.5;
        let t = mlp.toml(3);
        assert_eq!(t.matches("name = \"linear\"").count(), 3);
        assert_eq!(t.matches("batch_norm1d").count(), 2);
        assert_eq!(t.matches("name = \"tanh\"").count(), 2);
        assert_eq!(t.matches("p = 0.5").count(), 2);
        assert!(t.contains("weight_init = \"xavier_uniform\""));
    }

    #[test]
    fn a_session_trains_evaluates_and_probes_on_digits() {
        let options = Options { data: DataChoice::Digits, ..Options::new(Budget::Smoke) };
        let ctx = Ctx::new(&options, Experiment::Activation);
        let data = ctx.load(200, 100).unwrap();
        assert_eq!((data.splits.train.len(), data.splits.test.len()), (200, 100));
        let mlp = Mlp::new(vec![16, 16], "sigmoid", "xavier_uniform");
        assert_eq!(mlp.shape(&data), "64-16-16-10");
        let mut s = Session::new("t".into(), &mlp, "sgd:lr=0.5", &data, data.splits.clone(), 32, 0).unwrap();
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
        let bar = ctx.bar("test", 6);
        let mut losses = Vec::new();
        let mut calls = 0;
        for _ in 0..3 {
            let end = s.epoch(&data.splits.train, &bar, &mut losses, &mut |_, _| {
                calls += 1;
                Ok(())
            });
            assert_eq!(end.unwrap(), EpochEnd::Done);
        }
        bar.finish("done");
        assert_eq!(losses.len(), 3 * Session::steps_per_epoch(200, 32));
        assert_eq!(calls, losses.len());
        let after = s.evaluate(&data.splits.test).unwrap();
        assert!(after.0 < before.0, "training lowers the test loss: {before:?} -> {after:?}");
        let mut seen = Vec::new();
        s.probe(&x, false, &mut |i, name, out| seen.push((i, name.to_string(), out.shape().to_vec())))
            .unwrap();
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[1], (1, "sigmoid".to_string(), vec![64, 16]));
        assert_eq!(seen[4].2, vec![64, 10]);
    }

    #[test]
    fn a_training_mode_probe_leaves_batch_norm_and_dropout_state_alone() {
        let options =
            Options { data: DataChoice::Digits, progress: Progress::Quiet, ..Options::new(Budget::Smoke) };
        let ctx = Ctx::new(&options, Experiment::Batchnorm);
        let data = ctx.load(200, 50).unwrap();
        let mut mlp = Mlp::new(vec![16], "relu", "he_uniform");
        mlp.batch_norm = true;
        mlp.dropout = 0.5;
        let mut s = Session::new("t".into(), &mlp, "sgd", &data, data.splits.clone(), 32, 0).unwrap();
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
    fn divergence_ends_the_epoch_instead_of_failing() {
        let options =
            Options { data: DataChoice::Digits, progress: Progress::Quiet, ..Options::new(Budget::Smoke) };
        let ctx = Ctx::new(&options, Experiment::Init);
        let data = ctx.load(200, 50).unwrap();
        let mlp = Mlp::new(vec![64, 64, 64], "relu", "normal:std=30");
        let mut s = Session::new("t".into(), &mlp, "sgd:lr=10", &data, data.splits.clone(), 32, 0).unwrap();
        let bar = ctx.bar("diverge", 6);
        let mut losses = Vec::new();
        let mut end = EpochEnd::Done;
        for _ in 0..5 {
            end = s.epoch(&data.splits.train, &bar, &mut losses, &mut |_, _| Ok(())).unwrap();
            if end == EpochEnd::Diverged {
                break;
            }
        }
        assert_eq!(end, EpochEnd::Diverged, "losses {losses:?}");
    }
}
