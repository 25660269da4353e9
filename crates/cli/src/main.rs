//! The `nabla` command-line tool: thin argument parsing and printing over the library.

use clap::{Parser, Subcommand};
use nabla::registry::ComponentInfo;
use nabla::train::{evaluate_checkpoint, Progress, RunOptions, TrainConfig, Trainer};
use std::path::PathBuf;
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
        /// Train until this many epochs in total (overrides the config).
        #[arg(long)]
        epochs: Option<usize>,
        /// Directory of data files (sets NABLA_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Threads for matrix products (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Print the effective configuration and exit.
        #[arg(long)]
        print_config: bool,
        /// Print nothing but errors and the final summary line.
        #[arg(long, short)]
        quiet: bool,
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
        /// Directory of data files (sets NABLA_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
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

fn set_data_dir(dir: &Option<PathBuf>) {
    if let Some(d) = dir {
        // Set before any thread exists: the data loaders read it.
        std::env::set_var("NABLA_DATA_DIR", d);
    }
}

fn set_threads(threads: Option<usize>) {
    if let Some(t) = threads {
        // matrixmultiply reads this once, at its first product.
        std::env::set_var("MATMUL_NUM_THREADS", t.max(1).to_string());
    }
}

fn train(
    config: Option<PathBuf>,
    overrides: Vec<String>,
    out: Option<PathBuf>,
    resume: Option<PathBuf>,
    epochs: Option<usize>,
    print_config: bool,
    quiet: bool,
) -> Result<(), String> {
    let progress = if quiet { Progress::Quiet } else { Progress::Auto };
    let (mut trainer, out_dir) = match resume {
        Some(dir) => (Trainer::resume(&dir, epochs).map_err(|e| e.to_string())?, dir),
        None => {
            let mut cfg = match &config {
                Some(path) => TrainConfig::from_file(path, &overrides),
                None => TrainConfig::from_toml_str(
                    nabla::train::DEFAULT_CONFIG,
                    "<built-in digits_mlp.toml>",
                    &overrides,
                ),
            }
            .map_err(|e| e.to_string())?;
            if let Some(e) = epochs {
                cfg.epochs = e;
            }
            let trainer = Trainer::new(cfg).map_err(|e| e.to_string())?;
            (trainer, out.unwrap_or_else(nabla::train::default_run_dir))
        }
    };
    if print_config {
        print!("{}", trainer.effective_config());
        return Ok(());
    }
    if !quiet {
        let data = trainer.data();
        eprintln!(
            "nabla: training on '{}' ({} train / {} test samples, {} features) for {} epochs; run directory {}",
            trainer.config().data.name,
            data.train.len(),
            data.test.len(),
            data.train.features(),
            trainer.config().epochs,
            out_dir.display()
        );
    }
    let summary = trainer.run(&RunOptions { out_dir, progress }).map_err(|e| e.to_string())?;
    let m = &summary.final_metrics;
    println!(
        "final: test accuracy {:.2}% (best {:.2}% at epoch {}), test loss {:.4}, {} epochs in {:.1}s; run directory {}",
        100.0 * m.test_accuracy,
        100.0 * summary.best_test_accuracy.0,
        summary.best_test_accuracy.1,
        m.test_loss,
        m.epoch,
        summary.seconds,
        summary.out_dir.display()
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

fn eval(run_dir: PathBuf, data: Option<String>) -> Result<(), String> {
    let (loss, acc, n) = evaluate_checkpoint(&run_dir, data.as_deref()).map_err(|e| e.to_string())?;
    println!("{}: test accuracy {:.2}% and loss {:.4} on {n} samples", run_dir.display(), 100.0 * acc, loss);
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
        println!(
            "{:<10} {:<14} {} ({})",
            r.experiment.name(),
            r.verdict.to_string(),
            r.headline,
            nabla_experiments::format_duration(r.seconds)
        );
    }
    println!("report: {}", summary.report.display());
    Ok(())
}

fn main() -> ExitCode {
    // A bug must still end in one readable line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("nabla: internal error: {info}");
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train { config, overrides, out, resume, epochs, data_dir, threads, print_config, quiet } => {
            set_data_dir(&data_dir);
            set_threads(threads);
            train(config, overrides, out, resume, epochs, print_config, quiet)
        }
        Command::List { kind } => list(kind),
        Command::Data { command: DataCommand::Fetch { name, dir, mirrors } } => fetch(&name, &dir, &mirrors),
        Command::Experiment { names, quick, data, data_dir, seeds, out, quiet } => {
            experiment(names, quick, data, data_dir, seeds, out, quiet)
        }
        Command::Eval { run_dir, data, data_dir } => {
            set_data_dir(&data_dir);
            eval(run_dir, data)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
