//! The `nabla` command-line tool: thin argument parsing and printing over the library.

mod group;

use clap::{Parser, Subcommand};
use group::Group;
use nabla::registry::{ComponentInfo, Value};
use nabla::train::{evaluate_checkpoint, Progress, RunOptions, TrainConfig, Trainer};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "nabla",
    version,
    about = "Train neural networks on the CPU; every component resolved by name"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model from a TOML config (without one: the chapter-3 MLP on the embedded digits).
    Train {
        /// The config file (see configs/).
        config: Option<PathBuf>,
        /// Override a config value, e.g. `--set optimizer.lr=3e-4` or `--set model.layers.3.p=0.5`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// The run directory (default: runs/run-<timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue the run in this directory from its latest checkpoint.
        #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["config", "overrides", "out"])]
        resume: Option<PathBuf>,
        /// Train until this many epochs in total (overrides the config; at least 1).
        #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        epochs: Option<usize>,
        /// Replace the run already in --out (its files stay until the new run's first
        /// checkpoint); without it a directory holding files is refused.
        #[arg(long, conflicts_with = "resume")]
        overwrite: bool,
        /// Memory budget of the run, checked against the model and batch sizes before anything
        /// is allocated (bytes, or with a suffix: 512M, 4G; default: half the available memory).
        #[arg(long, value_name = "BYTES", value_parser = parse_max_memory)]
        max_memory: Option<i64>,
        /// Directory of the data set's files (the same as `--set data.data_dir=DIR`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Threads for the products (default: `NABLA_NUM_THREADS`, else the physical cores; under mpirun or srun, divided among the job's processes on the machine).
        #[arg(long)]
        threads: Option<usize>,
        /// Start from the weights (and buffers) of a safetensors file (a nabla checkpoint or a
        /// PyTorch state_dict) or of a run directory's latest checkpoint, strictly checked.
        #[arg(long, value_name = "FILE_OR_RUN", conflicts_with = "resume")]
        init_from: Option<PathBuf>,
        /// With --init-from: load the tensors whose name and shape match and list the rest
        /// (fine-tuning a changed head) instead of requiring an exact fit.
        #[arg(long, requires = "init_from")]
        partial: bool,
        /// Print the effective configuration and exit.
        #[arg(long)]
        print_config: bool,
        /// Print nothing but errors and the final summary line.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write the step-0 state of a config (its initialized model, effective config and a
    /// checkpoint at epoch 0) into a run directory, without training.
    Init {
        /// The config file (without one: the built-in digits MLP).
        config: Option<PathBuf>,
        /// Override a config value, e.g. `--set seed=3`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// The run directory to create.
        #[arg(long)]
        out: PathBuf,
        /// Directory of data files (the data set's data_dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// List registered components (all kinds, or one: optimizers, schedulers, initializers,
    /// layers, activations, losses, datasets).
    List {
        /// The kind to list.
        kind: Option<String>,
    },
    /// Data sets: download MNIST or Fashion-MNIST with checksum verification.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Reproduce the chapter-3 claims (dropout, activation, batchnorm, init, optimizer) with
    /// figures and a report (the same as `cargo xtask experiments`).
    Experiment {
        /// The experiments to run (default: all five).
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// Tiny subsets, one seed, a few hundred steps per run (under a minute).
        #[arg(long)]
        quick: bool,
        /// The data set: mnist (from --data-dir or NABLA_DATA_DIR) or digits (embedded).
        #[arg(long, default_value = "mnist")]
        data: String,
        /// Directory holding mnist/ (the four IDX files).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Seeds per setting (default 3; 1 with --quick).
        #[arg(long)]
        seeds: Option<usize>,
        /// Report directory (default docs/experiments; target/experiments-quick with --quick).
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Evaluate the latest checkpoint of a run on its held-out split.
    Eval {
        /// The run directory.
        run_dir: PathBuf,
        /// Evaluate on another data set instead (a spec such as `mnist` or `digits:test_fraction=0.5`).
        #[arg(long)]
        data: Option<String>,
        /// Directory of the data set's files (sets the data set's `data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Export the evaluation-mode model of a run's latest checkpoint (ONNX).
    Export {
        /// The run directory (with config.toml and latest).
        run_dir: PathBuf,
        /// The model format; only `onnx` for now.
        #[arg(long)]
        format: String,
        /// The model file to write, e.g. model.onnx.
        #[arg(long)]
        out: PathBuf,
        /// Append a softmax over the classes (output `probabilities`).
        #[arg(long, conflicts_with = "log_softmax")]
        softmax: bool,
        /// Append a log-softmax over the classes (output `log_probabilities`).
        #[arg(long)]
        log_softmax: bool,
        /// The ONNX opset (17 to 22; default 20).
        #[arg(long)]
        opset: Option<i64>,
        /// Input features per sample, when neither the layers nor the data set tell.
        #[arg(long)]
        input_features: Option<usize>,
        /// Directory of data files (sets NABLA_DATA_DIR), read only when the layers do not
        /// fix the input size.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Plot the training and test loss and accuracy per epoch of one or more runs in one
    /// figure (SVG and a PNG copy beside it).
    Plot {
        /// The run directories (each with its metrics.jsonl).
        #[arg(required = true, value_name = "RUN")]
        runs: Vec<PathBuf>,
        /// The figure file (`.svg`; default: plot.svg in the first run's directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Download a data set's four IDX files into a directory, verifying their SHA-256.
    Fetch {
        /// `mnist` or `fashion_mnist`.
        name: String,
        /// Target directory (created if needed).
        #[arg(long)]
        dir: PathBuf,
        /// A mirror base URL to try (repeatable; replaces the default mirror list).
        #[arg(long = "mirror", value_name = "URL")]
        mirrors: Vec<String>,
    },
}

fn fetch(name: &str, dir: &std::path::Path, mirrors: &[String]) -> Result<(), String> {
    use nabla::data::{fetch_spec, FetchEvent, FetchSpec};
    let spec = FetchSpec::known(name).map_err(|e| e.to_string())?.with_mirrors(mirrors);
    let report = fetch_spec(&spec, dir, &mut |event| match event {
        FetchEvent::AlreadyPresent { file } => eprintln!("{file}: already present, checksum verified"),
        FetchEvent::Trying { file, url } => eprintln!("{file}: downloading {url}"),
        FetchEvent::Rejected { file, url, reason } => {
            eprintln!("{file}: {url} failed: {reason}; trying the next mirror")
        }
        FetchEvent::Saved { file, bytes, .. } => {
            eprintln!("{file}: saved ({bytes} bytes, checksum verified)")
        }
        #[allow(unreachable_patterns)]
        _ => {}
    })
    .map_err(|e| e.to_string())?;
    println!("{}: {} files verified in {}", name, report.files.len(), report.dir.display());
    Ok(())
}

/// `--data-dir DIR` as the typed override `data.data_dir = DIR` (none without the flag).
fn data_dir_override(dir: Option<&Path>) -> Result<Vec<(&'static str, Value)>, String> {
    match dir {
        None => Ok(Vec::new()),
        Some(d) => {
            let d = d.to_str().ok_or_else(|| format!("--data-dir: '{}' is not valid UTF-8", d.display()))?;
            Ok(vec![("data.data_dir", Value::Str(d.to_string()))])
        }
    }
}

/// `--max-memory`: a byte count as the config's integer `max_memory`.
fn parse_max_memory(text: &str) -> Result<i64, String> {
    let bytes = nabla::train::budget::parse_bytes(text)?;
    i64::try_from(bytes).map_err(|_| format!("'{text}' is more bytes than a config integer holds"))
}

fn set_threads(threads: Option<usize>) {
    if let Some(t) = threads.or_else(threads_per_process) {
        nabla::tensor::threads::set_threads(t);
    }
}

/// Under mpirun or srun, the default thread count of one process: processes of one job on one
/// machine share its cores, so each takes its share (at least 1). `None` outside a launcher or
/// when `NABLA_NUM_THREADS` sets the count (it is then taken as it is).
fn threads_per_process() -> Option<usize> {
    use nabla::tensor::threads;
    if std::env::var_os(threads::THREADS_ENV).is_some() {
        return None;
    }
    nabla::distributed::launched_world_size()?;
    let local = nabla::distributed::local_processes().unwrap_or(1);
    Some((threads::default_threads() / local).max(1))
}

#[allow(clippy::too_many_arguments)]
/// A new trainer from a config file (or the built-in one), `--set` overrides, the data
/// directory and an epoch count.
fn new_trainer(
    config: Option<&Path>,
    overrides: &[String],
    data_dir: Option<&Path>,
    epochs: Option<usize>,
) -> Result<Trainer, String> {
    let typed = data_dir_override(data_dir)?;
    let mut cfg = match config {
        Some(path) => TrainConfig::from_file(path, overrides),
        None => {
            TrainConfig::from_toml_str(nabla::train::DEFAULT_CONFIG, "<built-in digits_mlp.toml>", overrides)
        }
    }
    .map_err(|e| e.to_string())?;
    for (path, value) in &typed {
        cfg.set(path, value.clone()).map_err(|e| e.to_string())?;
    }
    if let Some(e) = epochs {
        cfg.epochs = e;
    }
    Trainer::new(cfg).map_err(|e| e.to_string())
}

/// Prints what `--init-from` loaded.
fn report_init(report: &nabla::train::InitReport, quiet: bool) {
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    if !quiet {
        eprintln!("nabla: {} tensors loaded from {}", report.loaded.len(), report.source.display());
    }
    if !report.kept.is_empty() {
        eprintln!("nabla: kept at their initial values: {}", report.kept.join(", "));
    }
    if !report.unused.is_empty() {
        eprintln!("nabla: not used from the file: {}", report.unused.join(", "));
    }
}

/// Where a run writes and how (`--overwrite`, `--max-memory`).
struct RunFlags {
    overwrite: bool,
    max_memory: Option<i64>,
}

/// An error of `nabla train`, and whether every rank of a group reached it together (then
/// each rank says so and exits; otherwise the failing rank ends the whole job).
struct TrainFailure {
    message: String,
    everywhere: bool,
}

impl From<String> for TrainFailure {
    fn from(message: String) -> TrainFailure {
        TrainFailure { message, everywhere: false }
    }
}

#[allow(clippy::too_many_arguments)]
fn train(
    group: &Group,
    config: Option<PathBuf>,
    mut overrides: Vec<String>,
    out: Option<PathBuf>,
    resume: Option<PathBuf>,
    epochs: Option<usize>,
    data_dir: Option<PathBuf>,
    init: Option<(PathBuf, bool)>,
    flags: RunFlags,
    print_config: bool,
    quiet: bool,
) -> Result<(), TrainFailure> {
    // Only rank 0 talks (the trainer already keeps the others' progress quiet).
    let rank0 = group.rank() == 0;
    let quiet = quiet || !rank0;
    let progress = if quiet { Progress::Quiet } else { Progress::Auto };
    if let Some(bytes) = flags.max_memory {
        overrides.push(format!("max_memory={bytes}"));
    }
    let (mut trainer, out_dir) = match resume {
        Some(dir) => {
            let mut typed = data_dir_override(data_dir.as_deref())?;
            if let Some(bytes) = flags.max_memory {
                typed.push(("max_memory", Value::Int(bytes)));
            }
            (Trainer::resume_with(&dir, epochs, &typed).map_err(|e| e.to_string())?, dir)
        }
        None => {
            let mut trainer = new_trainer(config.as_deref(), &overrides, data_dir.as_deref(), epochs)?;
            if let Some((source, partial)) = init {
                let report = nabla::train::init_from(trainer.model_mut(), &source, !partial)
                    .map_err(|e| e.to_string())?;
                report_init(&report, quiet);
            }
            (trainer, out.unwrap_or_else(nabla::train::default_run_dir))
        }
    };
    if print_config {
        if rank0 {
            print!("{}", trainer.effective_config());
        }
        return Ok(());
    }
    if let Some(collective) = group.collective() {
        // Every rank reaches a join error together: the config and data checks compare all
        // ranks, and what follows them depends only on what they compared.
        trainer
            .join_group(collective)
            .map_err(|e| TrainFailure { message: e.to_string(), everywhere: true })?;
    }
    if !quiet {
        let data = trainer.data();
        let processes = match group.size() {
            1 => String::new(),
            n => format!(" on {n} processes (each a shard of every epoch)"),
        };
        eprintln!(
            "nabla: training on '{}' ({} train / {} test samples, {} features){processes} for {} epochs; run directory {}",
            trainer.config().data.name,
            data.train.len(),
            data.test.len(),
            data.train.features(),
            trainer.config().epochs,
            out_dir.display()
        );
    }
    let mut options = RunOptions::new(&out_dir, progress);
    options.overwrite = flags.overwrite;
    let summary = trainer.run(&options).map_err(|e| e.to_string())?;
    if !rank0 {
        return Ok(());
    }
    let m = &summary.final_metrics;
    println!(
        "final: test accuracy {:.2}% (best {:.2}% at epoch {}), test loss {:.4}, {} epochs in {:.1}s; run directory {}",
        100.0 * m.test_accuracy,
        100.0 * summary.best_test_accuracy.0,
        summary.best_test_accuracy.1,
        m.test_loss,
        m.epoch,
        summary.seconds,
        out_dir.display()
    );
    Ok(())
}

fn describe_params(info: &ComponentInfo) -> Vec<String> {
    info.params
        .iter()
        .map(|p| {
            let range =
                if p.range == nabla::registry::Range::ANY { String::new() } else { format!(", {}", p.range) };
            format!("{}={} ({}{range}) {}", p.name, p.default, p.ty, p.doc)
        })
        .collect()
}

fn list(kind: Option<String>) -> Result<(), String> {
    let sections = match kind {
        None => nabla::sections(),
        Some(k) => vec![nabla::section(&k).ok_or_else(|| {
            let names: Vec<&str> = nabla::sections().iter().map(|s| s.name).collect();
            format!("unknown kind '{k}'; kinds: {}", names.join(", "))
        })?],
    };
    for section in sections {
        let infos = section.components;
        let plural = if section.name.ends_with('s') { "es" } else { "s" };
        println!("{}{plural} ({}):", section.name, infos.len());
        let width = infos.iter().map(|i| i.name.len()).max().unwrap_or(0);
        for info in infos {
            let aliases: Vec<&str> = info.aliases.iter().map(|a| a.name).collect();
            let aliases = if aliases.is_empty() {
                String::new()
            } else {
                format!(" (aliases: {})", aliases.join(", "))
            };
            println!("  {:width$}  {}{aliases}", info.name, info.summary);
            for line in describe_params(info) {
                println!("  {:width$}    {line}", "");
            }
        }
        println!();
    }
    Ok(())
}

fn eval(run_dir: PathBuf, data: Option<String>, data_dir: Option<PathBuf>) -> Result<(), String> {
    let typed = data_dir_override(data_dir.as_deref())?;
    let e = evaluate_checkpoint(&run_dir, data.as_deref(), &typed).map_err(|e| e.to_string())?;
    for note in &e.notes {
        eprintln!("note: {note}");
    }
    println!(
        "{}: test accuracy {:.2}% and loss {:.4} on {} samples",
        run_dir.display(),
        100.0 * e.accuracy,
        e.loss,
        e.samples
    );
    Ok(())
}

struct ExportArgs {
    run_dir: PathBuf,
    format: String,
    out: PathBuf,
    softmax: bool,
    log_softmax: bool,
    opset: Option<i64>,
    input_features: Option<usize>,
    data_dir: Option<PathBuf>,
}

fn export(args: ExportArgs) -> Result<(), String> {
    use nabla::onnx::{export_run, write_onnx, ExportOptions, OutputHead};
    if !args.format.eq_ignore_ascii_case("onnx") {
        return Err(format!("--format '{}' is not supported; the only export format is onnx", args.format));
    }
    let head = match (args.softmax, args.log_softmax) {
        (true, _) => OutputHead::Softmax,
        (false, true) => OutputHead::LogSoftmax,
        (false, false) => OutputHead::Logits,
    };
    let mut options = ExportOptions {
        head,
        input_features: args.input_features,
        data_dir: args.data_dir.map(|d| d.display().to_string()),
        ..ExportOptions::default()
    };
    if let Some(opset) = args.opset {
        options.opset = opset;
    }
    let model = export_run(&args.run_dir, &options).map_err(|e| e.to_string())?;
    let bytes = write_onnx(&model, &args.out).map_err(|e| e.to_string())?;
    let graph = model.graph.unwrap_or_default();
    println!(
        "wrote {} ({bytes} bytes): opset {}, {} nodes, {} initializers, input '{}' -> output '{}'",
        args.out.display(),
        options.opset,
        graph.node.len(),
        graph.initializer.len(),
        graph.input.first().map_or("", |v| v.name.as_str()),
        graph.output.first().map_or("", |v| v.name.as_str()),
    );
    Ok(())
}

fn experiment(
    names: Vec<String>,
    quick: bool,
    data: String,
    data_dir: Option<PathBuf>,
    seeds: Option<usize>,
    out: Option<PathBuf>,
    quiet: bool,
) -> Result<(), String> {
    use nabla_experiments::{Budget, DataChoice, Experiment, Options};
    let mut list = names
        .iter()
        .map(|n| Experiment::parse(n))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if list.is_empty() {
        list = Experiment::ALL.to_vec();
    }
    let mut options = Options::new(if quick { Budget::Quick } else { Budget::Full });
    options.data = DataChoice::parse(&data).map_err(|e| e.to_string())?;
    options.data_dir = data_dir;
    if let Some(n) = seeds {
        if n == 0 {
            return Err("--seeds expects a number >= 1".to_string());
        }
        options.seeds = n;
    }
    if let Some(dir) = out {
        options.out_dir = dir;
    }
    if quiet {
        options.progress = Progress::Quiet;
    }
    let summary = nabla_experiments::run(&list, &options).map_err(|e| e.to_string())?;
    for r in &summary.results {
        println!("{r}");
    }
    println!("report: {}", summary.report.display());
    Ok(())
}

/// `nabla init`: the step-0 state of a config in a run directory (never over an existing run).
fn init(
    config: Option<PathBuf>,
    overrides: Vec<String>,
    out: PathBuf,
    data_dir: Option<PathBuf>,
) -> Result<(), String> {
    let has_files = std::fs::read_dir(&out).map(|mut d| d.next().is_some()).unwrap_or(false);
    if has_files {
        return Err(format!(
            "{} is not empty; nabla init writes only into a new or empty directory",
            out.display()
        ));
    }
    let mut trainer = new_trainer(config.as_deref(), &overrides, data_dir.as_deref(), None)?;
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    nabla::train::write_atomic(&out.join("config.toml"), trainer.effective_config().as_bytes())
        .map_err(|e| e.to_string())?;
    let ckpt = trainer.save_checkpoint(&out).map_err(|e| e.to_string())?;
    println!("wrote the step-0 state of the config: {}", ckpt.display());
    Ok(())
}

fn main() -> ExitCode {
    // A bug must still end in one readable line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("nabla: internal error: {info}");
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init { config, overrides, out, data_dir } => init(config, overrides, out, data_dir),
        Command::Train {
            config,
            overrides,
            out,
            resume,
            epochs,
            overwrite,
            max_memory,
            data_dir,
            threads,
            init_from,
            partial,
            print_config,
            quiet,
        } => {
            let init = init_from.map(|source| (source, partial));
            set_threads(threads);
            let flags = RunFlags { overwrite, max_memory };
            // Before anything that can fail: a rank's failure must reach the whole job.
            match Group::start() {
                Err(message) => Err(message),
                Ok(group) => {
                    let done = train(
                        &group,
                        config,
                        overrides,
                        out,
                        resume,
                        epochs,
                        data_dir,
                        init,
                        flags,
                        print_config,
                        quiet,
                    );
                    if let Err(f) = done {
                        group.fail(&f.message, f.everywhere);
                        // Dropping the group on the way out finalizes MPI.
                        return ExitCode::FAILURE;
                    }
                    Ok(())
                }
            }
        }
        Command::List { kind } => list(kind),
        Command::Plot { runs, out } => match nabla_experiments::plot_runs(&runs, out.as_deref()) {
            Ok((svg, png)) => {
                println!("wrote {} and {}", svg.display(), png.display());
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        },
        Command::Data { command: DataCommand::Fetch { name, dir, mirrors } } => fetch(&name, &dir, &mirrors),
        Command::Experiment { names, quick, data, data_dir, seeds, out, quiet } => {
            experiment(names, quick, data, data_dir, seeds, out, quiet)
        }
        Command::Export { run_dir, format, out, softmax, log_softmax, opset, input_features, data_dir } => {
            export(ExportArgs { run_dir, format, out, softmax, log_softmax, opset, input_features, data_dir })
        }
        Command::Eval { run_dir, data, data_dir } => eval(run_dir, data, data_dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
