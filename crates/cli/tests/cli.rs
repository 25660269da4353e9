//! The `nabla` binary end to end: the README's main command, listing, evaluation, resume and
//! readable errors.

use std::path::Path;
use std::process::{Command, Output};

fn nabla(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nabla")).args(args).output().expect("the nabla binary runs")
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn accuracy(stdout: &str) -> f64 {
    let after = stdout.split("test accuracy ").nth(1).expect("a summary line");
    after.split('%').next().unwrap().trim().parse().unwrap()
}

#[test]
fn default_training_on_embedded_digits_reaches_95_percent() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = nabla(&["train", "--quiet", "--out", run.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let acc = accuracy(&stdout);
    assert!(acc >= 95.0, "held-out accuracy {acc}% < 95%");
    for file in ["config.toml", "metrics.jsonl", "latest"] {
        assert!(run.join(file).exists(), "{file} missing");
    }
    assert_eq!(std::fs::read_to_string(run.join("metrics.jsonl")).unwrap().lines().count(), 20);

    let eval = nabla(&["eval", run.to_str().unwrap()]);
    let (stdout, stderr) = text(&eval);
    assert!(eval.status.success(), "{stderr}");
    assert!(
        (accuracy(&stdout) - acc).abs() < 1e-9,
        "eval of the checkpoint reproduces the final accuracy: {stdout}"
    );
}

/// The CI smoke training of a convolutional network: `configs/digits_cnn.toml` (unflatten,
/// conv2d, batch_norm2d, max_pool2d, dropout2d, flatten, linear) on the embedded 8x8 digits,
/// then evaluation and ONNX export of the trained run.
#[test]
fn the_digits_cnn_config_trains_evaluates_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("cnn");
    let r = run.to_str().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/digits_cnn.toml");
    let out = nabla(&["train", config.to_str().unwrap(), "--quiet", "--threads", "1", "--out", r]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let acc = accuracy(&stdout);
    assert!(acc >= 95.0, "held-out accuracy {acc}% < 95% (chance is 10%)");
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(saved.contains("in_channels = 1") && saved.contains("in_features = 512"), "{saved}");

    let eval = nabla(&["eval", r]);
    assert!(eval.status.success(), "{:?}", text(&eval));
    assert!((accuracy(&text(&eval).0) - acc).abs() < 1e-9, "eval reproduces the final accuracy");
    let onnx = dir.path().join("cnn.onnx");
    let export = nabla(&["export", r, "--format", "onnx", "--out", onnx.to_str().unwrap()]);
    assert!(export.status.success(), "{:?}", text(&export));
    assert!(std::fs::metadata(&onnx).unwrap().len() > 10_000, "the conv weights are in the file");
}

#[test]
fn resume_continues_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    let first = nabla(&["train", "--quiet", "--epochs", "1", "--out", r, "--set", "data.limit_train=200"]);
    assert!(first.status.success(), "{:?}", text(&first));
    let again = nabla(&["train", "--quiet", "--resume", r, "--epochs", "2"]);
    assert!(again.status.success(), "{:?}", text(&again));
    assert_eq!(std::fs::read_to_string(Path::new(r).join("metrics.jsonl")).unwrap().lines().count(), 2);
    assert_eq!(std::fs::read_to_string(Path::new(r).join("latest")).unwrap(), "checkpoint-epoch0002");
}

#[test]
fn errors_are_one_readable_line_and_a_failure_code() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[data]\nname = \"digits\"\n[[model.layers]]\nname = \"linear\"\nout_features = 10\n[loss]\nname = \"cross_entropy\"\n[optimizer]\nname = \"adma\"\n").unwrap();
    let out = nabla(&["train", cfg.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.starts_with("error: ") && stderr.contains("bad.toml: [optimizer]"), "{stderr}");
    assert!(stderr.contains("did you mean 'adam'"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let missing = nabla(&["train", "/nonexistent/config.toml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).1.contains("/nonexistent/config.toml"));

    let no_mnist = nabla(&["train", "--data-dir", dir.path().to_str().unwrap(), "--set", "data.name=mnist"]);
    let (_, stderr) = text(&no_mnist);
    assert_eq!(no_mnist.status.code(), Some(1));
    assert!(stderr.contains("nabla data fetch mnist"), "the error says how to get the files: {stderr}");

    let embedded = nabla(&["data", "fetch", "digits", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(embedded.status.code(), Some(1));
}

#[test]
fn list_shows_every_kind_with_hyper_parameters() {
    let out = nabla(&["list"]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    for heading in [
        "optimizers (",
        "schedulers (",
        "initializers (",
        "layers (",
        "activations (",
        "losses (",
        "datasets (",
    ] {
        assert!(stdout.contains(heading), "{heading} missing from:\n{stdout}");
    }
    assert!(
        stdout.contains("aliases: momentum, nag, nesterov")
            || stdout.contains("aliases: momentum, nesterov, nag"),
        "{stdout}"
    );
    assert!(stdout.contains("lr=0.001"), "{stdout}");

    let only = nabla(&["list", "initializers"]);
    let (stdout, _) = text(&only);
    assert!(stdout.contains("he_uniform") && !stdout.contains("radam"), "{stdout}");

    let bad = nabla(&["list", "widgets"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).1.contains("unknown kind 'widgets'"));
}

#[test]
fn print_config_shows_the_effective_configuration() {
    let out = nabla(&["train", "--print-config", "--set", "optimizer.name=nag"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let table: toml::Table = stdout.parse().expect("the effective config is TOML");
    assert_eq!(table["optimizer"]["name"].as_str(), Some("sgd"));
    assert_eq!(table["optimizer"]["nesterov"].as_bool(), Some(true));
}

#[test]
fn data_dir_is_the_data_sets_data_dir_override() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
            .args(args)
            .env("NABLA_DATA_DIR", &elsewhere)
            .output()
            .expect("the nabla binary runs");
        (out.status.code(), text(&out).1)
    };
    let flag = run(&["train", "--data-dir", d, "--set", "data.name=mnist"]);
    let set = run(&["train", "--set", "data.name=mnist", "--set", &format!("data.data_dir={d}")]);
    assert_eq!(flag, set, "--data-dir DIR is --set data.data_dir=DIR");
    assert_eq!(flag.0, Some(1));
    assert!(flag.1.contains(&format!("looked in {d}/mnist")) && !flag.1.contains("elsewhere"), "{}", flag.1);

    // A data set without the key says so, as it does for --set.
    let (code, stderr) = run(&["train", "--data-dir", d]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("'digits' has no hyper-parameter 'data_dir'"), "{stderr}");

    // Resume and eval apply it to the saved config.
    let r = dir.path().join("run");
    let r = r.to_str().unwrap();
    let first = nabla(&["train", "--quiet", "--epochs", "1", "--out", r, "--set", "data.limit_train=100"]);
    assert!(first.status.success(), "{:?}", text(&first));
    let (code, stderr) = run(&["train", "--quiet", "--resume", r, "--epochs", "2", "--data-dir", d]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("config.toml: [data]") && stderr.contains("'data_dir'"), "{stderr}");
    let (code, stderr) = run(&["eval", r, "--data", "mnist", "--data-dir", d]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains(&format!("looked in {d}/mnist")), "{stderr}");
}

#[test]
fn plot_draws_two_runs_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<String> =
        ["adam", "sgd"].iter().map(|n| dir.path().join(n).display().to_string()).collect();
    for (run, name) in runs.iter().zip(["adam", "sgd"]) {
        let set = format!("optimizer.name={name}");
        let out = nabla(&[
            "train",
            "--quiet",
            "--epochs",
            "2",
            "--out",
            run,
            "--set",
            "data.limit_train=200",
            "--set",
            &set,
        ]);
        assert!(out.status.success(), "{:?}", text(&out));
    }
    let figure = dir.path().join("both.svg");
    let out = nabla(&["plot", &runs[0], &runs[1], "--out", figure.to_str().unwrap()]);
    assert!(out.status.success(), "{:?}", text(&out));
    let svg = std::fs::read_to_string(&figure).unwrap();
    assert!(svg.contains("adam test") && svg.contains("sgd train"), "run labels missing from the figure");
    assert!(figure.with_extension("png").exists());
    let missing = nabla(&["plot", dir.path().join("nope").to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(text(&missing).1.contains("metrics.jsonl"), "{:?}", text(&missing));
}

#[test]
fn eval_takes_a_pytorch_state_dict_and_notes_the_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let ckpt = run.join("checkpoint-epoch0001");
    std::fs::create_dir_all(&ckpt).unwrap();
    let config = "[data]\nname = \"digits\"\n[[model.layers]]\nname = \"linear\"\nout_features = 8\n\
                  [[model.layers]]\nname = \"batch_norm1d\"\n[[model.layers]]\nname = \"relu\"\n\
                  [[model.layers]]\nname = \"linear\"\nout_features = 10\n[loss]\nname = \"cross_entropy\"\n\
                  [optimizer]\nname = \"sgd\"\nlr = 0.1\n";
    std::fs::write(run.join("config.toml"), config).unwrap();
    let r = run.to_str().unwrap();

    let none = nabla(&["eval", r]);
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(text(&none).1.trim(), format!("error: {r} has no checkpoint yet (no 'latest' file)"));

    let torch = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/torch/mlp_bf16.safetensors");
    std::fs::copy(torch, ckpt.join("model.safetensors")).unwrap();
    std::fs::write(run.join("latest"), "checkpoint-epoch0001").unwrap();
    let eval = nabla(&["eval", r]);
    let (stdout, stderr) = text(&eval);
    assert!(eval.status.success(), "{stderr}");
    assert!(stdout.contains("test accuracy") && stdout.contains("on 359 samples"), "{stdout}");
    assert!(
        stderr.contains("note: ") && stderr.contains("stored as BF16 converted to f32 (exactly)"),
        "{stderr}"
    );

    std::fs::write(run.join("latest"), "../elsewhere").unwrap();
    let outside = nabla(&["eval", r]);
    assert_eq!(outside.status.code(), Some(1));
    assert!(text(&outside).1.contains("which leaves the run directory"), "{:?}", text(&outside));
}

#[test]
fn init_writes_step_zero_and_init_from_starts_from_given_weights() {
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("zero");
    let z = zero.to_str().unwrap();
    let out = nabla(&["init", "--out", z, "--set", "seed=5"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(std::fs::read_to_string(zero.join("latest")).unwrap(), "checkpoint-epoch0000");
    let eval = nabla(&["eval", z]);
    assert!(eval.status.success(), "{:?}", text(&eval));
    // Never over an existing run.
    assert!(!nabla(&["init", "--out", z]).status.success());

    // A run started from the step-0 weights of seed 5 equals a run of seed 5's init (the
    // weights are the same; shuffling and dropout follow the run's own seed 5 too).
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let common = ["--quiet", "--epochs", "1", "--set", "data.limit_train=200", "--set", "seed=5"];
    let run_a = nabla(&[&["train", "--out", a.to_str().unwrap()][..], &common[..]].concat());
    assert!(run_a.status.success(), "{:?}", text(&run_a));
    let run_b =
        nabla(&[&["train", "--out", b.to_str().unwrap(), "--init-from", z][..], &common[..]].concat());
    assert!(run_b.status.success(), "{:?}", text(&run_b));
    let model = |run: &Path| std::fs::read(run.join("checkpoint-epoch0001/model.safetensors")).unwrap();
    assert_eq!(model(&a), model(&b), "init-from the step-0 state changes nothing");

    // Strict loading names what does not fit; --partial loads the rest and lists it.
    let head = ["--set", "model.layers.4.out_features=128"];
    let strict = nabla(
        &[
            &[
                "train",
                "--quiet",
                "--epochs",
                "1",
                "--out",
                dir.path().join("c").to_str().unwrap(),
                "--init-from",
                z,
            ][..],
            &head[..],
        ]
        .concat(),
    );
    assert!(!strict.status.success());
    let err = text(&strict).1;
    assert!(err.contains("'4.weight'") && err.contains("shape"), "{err}");
    let partial = nabla(
        &[
            &[
                "train",
                "--epochs",
                "1",
                "--out",
                dir.path().join("d").to_str().unwrap(),
                "--init-from",
                z,
                "--partial",
            ][..],
            &head[..],
        ]
        .concat(),
    );
    assert!(partial.status.success(), "{:?}", text(&partial));
    let err = text(&partial).1;
    assert!(err.contains("kept at their initial values") && err.contains("'8.weight'"), "{err}");
    assert!(!err.contains("'8.bias'"), "the unchanged output bias is loaded: {err}");
}

/// Writes the four IDX files of an MNIST-shaped data set (28x28 grey images, 10 classes) with
/// `train` and `test` examples whose pixels and labels follow a fixed pattern.
fn write_mnist_shaped(dir: &Path, train: u32, test: u32) {
    fn images(n: u32) -> Vec<u8> {
        let mut bytes = [0x0803u32, n, 28, 28].iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
        bytes.extend((0..n as usize * 784).map(|i| ((i * 7919) % 256) as u8));
        bytes
    }
    fn labels(n: u32) -> Vec<u8> {
        let mut bytes = [0x0801u32, n].iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
        bytes.extend((0..n).map(|i| (i % 10) as u8));
        bytes
    }
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in [
        ("train-images-idx3-ubyte", images(train)),
        ("train-labels-idx1-ubyte", labels(train)),
        ("t10k-images-idx3-ubyte", images(test)),
        ("t10k-labels-idx1-ubyte", labels(test)),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Every config shipped in `configs/` builds and trains an epoch as written (the MNIST-sized
/// ones on a small MNIST-shaped data set), and the sizes it infers are the ones its comments
/// state: a config that drifts from the layers' rules fails here, not in a user's hands.
#[test]
fn every_shipped_config_trains_an_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_mnist_shaped(&data, 130, 20);
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut names: Vec<_> = std::fs::read_dir(&configs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "the shipped configs: {names:?}");
    for config in names {
        let stem = config.file_stem().unwrap().to_str().unwrap().to_string();
        let run = dir.path().join(&stem);
        let (c, r, d) = (config.to_str().unwrap(), run.to_str().unwrap(), data.to_str().unwrap());
        let mut args = vec!["train", c, "--quiet", "--threads", "1", "--epochs", "1", "--out", r];
        if !std::fs::read_to_string(&config).unwrap().contains("name = \"digits\"") {
            args.extend(["--data-dir", d]);
        }
        let out = nabla(&args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stem}: {stdout}\n{stderr}");
        let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
        let inferred = match stem.as_str() {
            "mnist_cnn" => "in_features = 9216",
            "fashion_mnist_cnn" => "in_features = 3136",
            "digits_cnn" => "in_features = 512",
            "mnist_mlp" => "in_features = 784",
            _ => "in_features = 64",
        };
        assert!(saved.contains(inferred), "{stem}: {inferred} expected in\n{saved}");
    }
}

/// Without the `mpi` feature, a copy started as one of several processes by a launcher
/// (`mpirun -np 2`, `srun -n 2`; seen through the variables they set) must refuse to train
/// rather than train an independent copy of the model, and must write nothing.
#[cfg(not(feature = "mpi"))]
#[test]
fn a_launcher_with_several_processes_is_refused_without_the_mpi_feature() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    for (variable, size) in [("OMPI_COMM_WORLD_SIZE", "2"), ("PMI_SIZE", "3"), ("SLURM_STEP_NUM_TASKS", "4")]
    {
        let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
            .args(["train", "--quiet", "--epochs", "1", "--out", run.to_str().unwrap()])
            .env(variable, size)
            .output()
            .expect("the nabla binary runs");
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{variable}={size}: trained anyway");
        assert!(
            stderr.contains(&format!("one of {size} processes ({variable} is set)"))
                && stderr.contains("built without the `mpi` feature")
                && stderr.contains("--features mpi"),
            "{stderr}"
        );
        assert!(!run.exists(), "a refused run wrote {}", run.display());
    }
    // One process under a launcher (`mpirun -np 1`) is an ordinary run.
    let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(["train", "--quiet", "--epochs", "1", "--out", run.to_str().unwrap()])
        .env("OMPI_COMM_WORLD_SIZE", "1")
        .output()
        .expect("the nabla binary runs");
    assert!(out.status.success(), "{}", text(&out).1);
}
