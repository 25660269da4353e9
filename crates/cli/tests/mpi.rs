//! Data-parallel training of the `nabla` binary under Open MPI's `mpirun` (issue 13, item 3),
//! built only with the `mpi` feature and run by `.ci/mpi-tests` (one test at a time:
//! `--test-threads=1`, as the kill test measures time on a small machine):
//! (a) two processes with half batches take the same steps as one process with the whole
//!     batch; (b) `mpirun -np 1` is bit-for-bit a run without MPI; (c) ranks given different
//!     configs stop at start, each saying so; (d) a rank killed mid-epoch ends the job within
//!     60 s naming it, and the last checkpoint evaluates and resumes; a stopped (stuck) rank
//!     is caught by the watchdog; a resume may use another number of processes; a rank that
//!     fails alone (its config cannot be read) ends the job with its error.
#![cfg(feature = "mpi")]

use nabla::layers::Module;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const NABLA: &str = env!("CARGO_BIN_EXE_nabla");
const EQUIVALENCE: &str = include_str!("fixtures/mpi_equivalence.toml");
const LONG: &str = include_str!("fixtures/mpi_long.toml");

/// Open MPI's launcher; `--allow-run-as-root` for CI containers, `--oversubscribe` for more
/// ranks than cores (both harmless otherwise).
fn mpirun() -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--allow-run-as-root", "--oversubscribe"]);
    c
}

/// `mpirun -np n₁ nabla ARGS₁ : -np n₂ nabla ARGS₂ ...` (MPMD: each group of ranks its own
/// arguments), every rank with one matrix-product thread.
fn job(parts: &[(usize, Vec<String>)]) -> Command {
    let mut c = mpirun();
    for (i, (n, args)) in parts.iter().enumerate() {
        if i > 0 {
            c.arg(":");
        }
        c.args(["-np", &n.to_string(), NABLA]).args(args).args(["--threads", "1"]);
    }
    c
}

fn output(mut c: Command) -> Output {
    c.output().expect("mpirun runs (install Open MPI: .ci/mpi-tests does)")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn setup(config: &str) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("config.toml");
    std::fs::write(&cfg, config).unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    (tmp, cfg)
}

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// The parameters of a run's latest checkpoint, by name, and its step count.
fn parameters(run: &Path) -> (Vec<(String, Vec<f32>)>, u64) {
    let t = nabla::train::Trainer::resume_with(run, None, &[]).expect("the checkpoint loads");
    let params = t.model().parameters().into_iter().map(|(n, p)| (n, p.value().iter().copied().collect()));
    (params.collect(), t.steps_done())
}

fn relative(a: &[f32], b: &[f32]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum::<f64>().sqrt();
    diff / norm.max(1e-30)
}

/// The epoch `latest` names, if there is a checkpoint.
fn checkpoint_epoch(run: &Path) -> Option<usize> {
    let name = std::fs::read_to_string(run.join("latest")).ok()?;
    name.trim().trim_start_matches("checkpoint-epoch").parse().ok()
}

fn metrics_lines(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl")).map_or(0, |t| t.lines().count())
}

#[test]
fn two_processes_with_half_batches_match_one_process_with_the_whole_batch() {
    let (tmp, cfg) = setup(EQUIVALENCE);
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    let out = output(job(&[(1, args(&["train", &cfg, "-q", "--out", &path(&one)]))]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out =
        output(job(&[(2, args(&["train", &cfg, "-q", "--set", "batch_size=32", "--out", &path(&two)]))]));
    assert!(out.status.success(), "{}", stderr(&out));

    let (reference, steps_one) = parameters(&one);
    let (params, steps_two) = parameters(&two);
    assert_eq!((steps_one, steps_two), (20, 20), "both runs take 20 steps");
    assert_eq!(params.len(), reference.len());
    for ((name, a), (other, b)) in params.iter().zip(&reference) {
        assert_eq!(name, other);
        let r = relative(a, b);
        assert!(r < 1e-5, "{name}: relative difference {r:e} after 20 steps");
    }
    // The parameters moved: the comparison is not of two initial states.
    let init = {
        let t = nabla::train::Trainer::new(
            nabla::train::TrainConfig::from_toml_str(EQUIVALENCE, "<fixture>", &[]).unwrap(),
        )
        .unwrap();
        t.model()
            .parameters()
            .into_iter()
            .map(|(_, p)| p.value().iter().copied().collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    assert!(relative(&reference[0].1, &init[0]) > 1e-2, "training changed the weights");
}

#[test]
fn one_process_under_mpirun_is_bit_for_bit_a_run_without_mpi() {
    let (tmp, cfg) = setup(LONG);
    let plain = tmp.path().join("plain");
    let under = tmp.path().join("under");
    let out = Command::new(NABLA)
        .args(["train", &cfg, "-q", "--epochs", "2", "--threads", "1", "--out", &path(&plain)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = output(job(&[(1, args(&["train", &cfg, "-q", "--epochs", "2", "--out", &path(&under)]))]));
    assert!(out.status.success(), "{}", stderr(&out));
    for file in nabla::train::CHECKPOINT_FILES {
        let a = std::fs::read(plain.join("checkpoint-epoch0002").join(file)).unwrap();
        let b = std::fs::read(under.join("checkpoint-epoch0002").join(file)).unwrap();
        assert!(a == b, "{file} differs between the plain run and mpirun -np 1");
    }
}

#[test]
fn ranks_given_different_configs_stop_at_start_each_saying_so() {
    let (tmp, cfg) = setup(EQUIVALENCE);
    let run = tmp.path().join("run");
    let started = Instant::now();
    let out = output(job(&[
        (1, args(&["train", &cfg, "-q", "--out", &path(&run)])),
        (1, args(&["train", &cfg, "-q", "--set", "seed=6", "--out", &path(&run)])),
    ]));
    let err = stderr(&out);
    assert!(!out.status.success(), "the job trained with two configs: {err}");
    for rank in 0..2 {
        let line = format!("rank {rank} of 2: the effective config differs between ranks");
        assert!(err.contains(&line), "missing '{line}' in:\n{err}");
    }
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
    assert!(!run.join("latest").exists(), "a refused job wrote a checkpoint");
}

#[test]
fn a_rank_that_fails_alone_ends_the_job_with_its_error() {
    let (tmp, cfg) = setup(EQUIVALENCE);
    let missing = path(&tmp.path().join("missing.toml"));
    let run = tmp.path().join("run");
    let started = Instant::now();
    let out = output(job(&[
        (1, args(&["train", &cfg, "-q", "--out", &path(&run)])),
        (1, args(&["train", &missing, "-q", "--out", &path(&run)])),
    ]));
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("rank 1 of 2: error:") && err.contains("missing.toml"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}

/// The pid of one rank of the job whose processes carry `NABLA_TEST_JOB=marker`.
fn rank_pid(marker: &str, rank: usize) -> Option<u32> {
    let job = format!("NABLA_TEST_JOB={marker}");
    let rank = format!("OMPI_COMM_WORLD_RANK={rank}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let environ = std::fs::read(entry.path().join("environ")).ok()?;
        let vars: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
        let has = |v: &str| vars.contains(&v.as_bytes());
        (has(&job) && has(&rank)).then_some(pid)
    })
}

/// A two-rank job of the long config, started in the background; stderr goes to a file.
struct Background {
    child: std::process::Child,
    log: PathBuf,
    marker: String,
}

fn start_long_job(tmp: &Path, cfg: &str, run: &Path, timeout: Option<&str>) -> Background {
    let marker = format!("{}", tmp.display());
    let log = tmp.join("job.log");
    let mut c = job(&[(2, args(&["train", cfg, "-q", "--out", &path(run)]))]);
    c.env("NABLA_TEST_JOB", &marker).env_remove("NABLA_MPI_TIMEOUT");
    if let Some(t) = timeout {
        c.env("NABLA_MPI_TIMEOUT", t);
    }
    let child =
        c.stdout(Stdio::null()).stderr(std::fs::File::create(&log).unwrap()).spawn().expect("mpirun starts");
    Background { child, log, marker }
}

impl Background {
    /// Waits until the run has written its `epochs`th checkpoint (or fails the test).
    fn wait_for_checkpoint(&mut self, run: &Path, epochs: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while checkpoint_epoch(run).is_none_or(|e| e < epochs) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the job ended ({status}) before checkpoint {epochs}: {}", self.log());
            }
            assert!(Instant::now() < deadline, "no checkpoint {epochs} after 120 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to rank 1, then waits up to 60 s for the job to end: its exit status
    /// and how long it took.
    fn signal_rank_1_and_wait(&mut self, signal: &str) -> (std::process::ExitStatus, Duration) {
        let pid = rank_pid(&self.marker, 1).expect("rank 1 is running");
        // Mid-epoch: the checkpoint just written is behind us, the next one far ahead.
        std::thread::sleep(Duration::from_millis(50));
        let sent = Command::new("kill").args([signal, &pid.to_string()]).status().unwrap();
        assert!(sent.success(), "kill {signal} {pid}");
        let killed = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, killed.elapsed());
            }
            if killed.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the job still runs 60 s after {signal} of rank 1: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// After a job ended by a fault: the checkpoint evaluates and the run resumes to `epochs`
/// on `processes` processes, its metrics log one line per epoch.
fn evaluate_and_resume(run: &Path, processes: usize) {
    let done = checkpoint_epoch(run).expect("a checkpoint survives");
    let eval = Command::new(NABLA).args(["eval", &path(run)]).output().unwrap();
    assert!(eval.status.success(), "nabla eval: {}", stderr(&eval));
    let target = (done + 2).to_string();
    let out =
        output(job(&[(processes, args(&["train", "-q", "--resume", &path(run), "--epochs", &target]))]));
    assert!(out.status.success(), "resume: {}", stderr(&out));
    assert_eq!(checkpoint_epoch(run), Some(done + 2));
    assert_eq!(metrics_lines(run), done + 2, "one metrics line per epoch after the resume");
}

#[test]
fn a_killed_rank_ends_the_job_naming_it_and_the_checkpoint_resumes() {
    let (tmp, cfg) = setup(LONG);
    let run = tmp.path().join("run");
    let mut job = start_long_job(tmp.path(), &cfg, &run, None);
    job.wait_for_checkpoint(&run, 2);
    let (status, took) = job.signal_rank_1_and_wait("-KILL");
    let log = job.log();
    assert!(!status.success(), "the job succeeded after losing a rank: {log}");
    assert!(checkpoint_epoch(&run).is_some_and(|e| e < 60), "the run was not cut short");
    assert!(log.contains("rank 1") && log.contains("signal 9"), "the lost rank is not named:\n{log}");
    eprintln!("job ended {took:?} after SIGKILL of rank 1");
    evaluate_and_resume(&run, 2);
}

#[test]
fn a_stuck_rank_is_caught_by_the_watchdog() {
    let (tmp, cfg) = setup(LONG);
    let run = tmp.path().join("run");
    let mut job = start_long_job(tmp.path(), &cfg, &run, Some("3"));
    job.wait_for_checkpoint(&run, 1);
    // SIGSTOP: the process lives on, so only the watchdog of the waiting rank can tell.
    let (status, took) = job.signal_rank_1_and_wait("-STOP");
    let log = job.log();
    assert!(!status.success(), "{log}");
    assert!(log.contains("rank 0: the all-reduce") && log.contains("did not complete within 3 s"), "{log}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    evaluate_and_resume(&run, 1);
}

#[test]
fn a_run_resumes_on_another_number_of_processes() {
    let (tmp, cfg) = setup(EQUIVALENCE);
    let run = tmp.path().join("run");
    let out = output(job(&[(2, args(&["train", &cfg, "-q", "--set", "epochs=2", "--out", &path(&run)]))]));
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, steps) = parameters(&run);
    assert_eq!(steps, 20, "two epochs of 10 steps of 2 x 64");
    // On one process the per-process batch of 64 is the global batch: 20 steps an epoch.
    let out = output(job(&[(1, args(&["train", "-q", "--resume", &path(&run), "--epochs", "3"]))]));
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, steps) = parameters(&run);
    assert_eq!(steps, 40);
    assert_eq!(metrics_lines(&run), 3);
}
