//! Run directories that cannot be lost: one writer at a time (an OS lock), no new run over an
//! old one unless asked, and no stale temporary files.
//!
//! The lock is an exclusive OS file lock on the file `lock` in the run directory, taken
//! without waiting (`File::try_lock`: `flock` on Unix, `LockFileEx` on Windows). The
//! operating system releases it when its process exits or dies, so a killed run never blocks
//! the next one, on every platform. The holder writes its process id
//! and host name into the file, and a second writer's error quotes them.

use crate::{write_atomic, EpochMetrics, MetricsLog, TrainError};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The lock file inside a run directory.
pub const LOCK_FILE: &str = "lock";

/// How a run may use its directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirMode {
    /// A new run: the directory must be missing or empty.
    New,
    /// A new run that replaces an earlier one (`--overwrite`): the earlier run's files stay
    /// untouched until the new run has its first checkpoint.
    Overwrite,
    /// Continuing the run that is in the directory (`--resume`).
    Resume,
}

/// An exclusive hold on a run directory, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunDirLock {
    dir: PathBuf,
    #[cfg_attr(unix, allow(dead_code))]
    file: File,
}

impl RunDirLock {
    /// Creates `dir` if needed, checks that `mode` allows writing into it, takes the lock and
    /// removes stale temporary files of earlier writers (nobody else can be writing now).
    ///
    /// # Errors
    /// [`TrainError::RunDir`] when the directory holds a run and `mode` is [`DirMode::New`],
    /// when another process holds the lock (naming its pid and host), or when the directory
    /// cannot be created or locked.
    pub fn acquire(dir: &Path, mode: DirMode) -> Result<RunDirLock, TrainError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TrainError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let mut file = open_lock(&lock_path).map_err(|e| match e {
            LockError::Held => holder_error(dir, &lock_path),
            LockError::Io(source) => TrainError::Io { path: lock_path.clone(), source },
        })?;
        // The check comes after the lock: a concurrent writer could otherwise fill the
        // directory between the check and the lock.
        if mode == DirMode::New && holds_a_run(dir)? {
            return Err(TrainError::RunDir {
                dir: dir.to_path_buf(),
                message: "already holds a run; pass --overwrite to replace it (its files stay until the \
                          new run's first checkpoint) or --resume to continue it"
                    .to_string(),
            });
        }
        let me = format!("pid {} on host {}\n", std::process::id(), host_name());
        file.set_len(0).map_err(io(&lock_path))?;
        file.write_all(me.as_bytes()).map_err(io(&lock_path))?;
        let _ = file.sync_all();
        remove_stale_temporaries(dir);
        Ok(RunDirLock { dir: dir.to_path_buf(), file })
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The files of a run being written: the lock, and what waits for the next checkpoint.
///
/// The commit point of an epoch is the switch of `latest` to its checkpoint. Before it: the
/// epoch's metrics line is appended and synced (so a line is never lost), and the config is
/// written when it changed (a resume with a new epoch count). A crash before the switch
/// leaves lines past the checkpoint, which the next resume drops
/// ([`MetricsLog::truncate_to`]). A run overwriting another touches nothing until its first
/// checkpoint is complete on disk; then it removes the old `latest` (from here on the
/// directory has no current checkpoint, never a mixed one), writes its metrics and config,
/// and switches `latest` to its own checkpoint.
#[derive(Debug)]
pub(crate) struct RunWriter {
    lock: RunDirLock,
    log: MetricsLog,
    config: String,
    config_on_disk: bool,
    /// Overwriting, and the earlier run not yet replaced: metrics wait here.
    pending: Option<Vec<EpochMetrics>>,
}

impl RunWriter {
    /// Locks `dir` and prepares it for a run with the effective `config` that has done
    /// `epochs_done` epochs (as [`RunDirLock::acquire`]; a new run writes its config and an
    /// empty log at once, a resumed run drops metrics lines past its checkpoint).
    pub fn open(
        dir: &Path,
        mode: DirMode,
        config: String,
        epochs_done: usize,
    ) -> Result<RunWriter, TrainError> {
        let lock = RunDirLock::acquire(dir, mode)?;
        let log = MetricsLog::open(dir, false)?;
        let mut writer = RunWriter { lock, log, config, config_on_disk: false, pending: None };
        match mode {
            DirMode::New => {
                writer.write_config()?;
                writer.log.write_all(&[])?;
            }
            DirMode::Overwrite => writer.pending = Some(Vec::new()),
            DirMode::Resume => {
                writer.log.truncate_to(epochs_done)?;
                let on_disk = std::fs::read(dir.join(CONFIG_FILE)).ok();
                writer.config_on_disk = on_disk.as_deref() == Some(writer.config.as_bytes());
            }
        }
        Ok(writer)
    }

    fn write_config(&mut self) -> Result<(), TrainError> {
        write_atomic(&self.lock.dir().join(CONFIG_FILE), self.config.as_bytes())?;
        self.config_on_disk = true;
        Ok(())
    }

    /// Records an epoch's metrics: appended and synced, or kept until the first checkpoint
    /// when overwriting.
    pub fn log_epoch(&mut self, metrics: &EpochMetrics) -> Result<(), TrainError> {
        match &mut self.pending {
            Some(pending) => {
                pending.push(metrics.clone());
                Ok(())
            }
            None => self.log.append(metrics),
        }
    }

    /// What must be durable before a new checkpoint becomes `latest`.
    pub fn before_latest(&mut self) -> Result<(), TrainError> {
        if let Some(pending) = self.pending.take() {
            let latest = self.lock.dir().join("latest");
            match std::fs::remove_file(&latest) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(TrainError::Io { path: latest, source: e })
                }
                _ => {}
            }
            self.log.write_all(&pending)?;
            self.config_on_disk = false;
        }
        if !self.config_on_disk {
            self.write_config()?;
        }
        Ok(())
    }

    /// Every record of the run so far, as on disk (with those still pending).
    pub fn history(&self) -> Result<Vec<EpochMetrics>, TrainError> {
        match &self.pending {
            Some(pending) => Ok(pending.clone()),
            None => MetricsLog::read(&self.lock.dir().join("metrics.jsonl")),
        }
    }
}

const CONFIG_FILE: &str = "config.toml";

enum LockError {
    Held,
    Io(std::io::Error),
}

fn open_lock(path: &Path) -> Result<File, LockError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(LockError::Io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held),
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
    }
}

fn holder_error(dir: &Path, lock_path: &Path) -> TrainError {
    let mut holder = String::new();
    if let Ok(f) = File::open(lock_path) {
        // The holder wrote one short line; more is not ours to print.
        let _ = f.take(256).read_to_string(&mut holder);
    }
    let holder = holder.trim();
    let holder = if holder.is_empty() { "another process (it has not written its name yet)" } else { holder };
    TrainError::RunDir {
        dir: dir.to_path_buf(),
        message: format!("is in use by {holder}; wait for it to finish or choose another --out"),
    }
}

/// Whether `dir` holds anything but a lock file (an earlier run, or unrelated files).
fn holds_a_run(dir: &Path) -> Result<bool, TrainError> {
    let entries =
        std::fs::read_dir(dir).map_err(|source| TrainError::Io { path: dir.to_path_buf(), source })?;
    Ok(entries.flatten().any(|e| e.file_name() != LOCK_FILE))
}

/// Removes the temporary files and directories that a killed writer left (`.NAME.tmp-PID`
/// from [`crate::write_atomic`]), in the run directory and its checkpoint directories.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if is_temporary(&name) {
            let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        } else if name.starts_with("checkpoint-") && path.is_dir() {
            if let Ok(inner) = std::fs::read_dir(&path) {
                for f in inner.flatten() {
                    if is_temporary(&f.file_name().to_string_lossy()) {
                        let _ = std::fs::remove_file(f.path());
                    }
                }
            }
        }
    }
}

fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unknown host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_naming_the_holder_until_the_first_lets_go() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        let first = RunDirLock::acquire(&run, DirMode::New).unwrap();
        assert_eq!(first.dir(), run);
        let err = RunDirLock::acquire(&run, DirMode::Resume).unwrap_err().to_string();
        assert!(err.contains("in use by pid") && err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        RunDirLock::acquire(&run, DirMode::Resume).unwrap();
    }

    #[test]
    fn a_new_run_refuses_a_directory_with_files_unless_overwriting() {
        let tmp = tempfile::tempdir().unwrap();
        // Only a lock file left by a dead run: still an empty run directory.
        drop(RunDirLock::acquire(tmp.path(), DirMode::New).unwrap());
        drop(RunDirLock::acquire(tmp.path(), DirMode::New).unwrap());
        std::fs::write(tmp.path().join("metrics.jsonl"), "{}\n").unwrap();
        let err = RunDirLock::acquire(tmp.path(), DirMode::New).unwrap_err().to_string();
        assert!(err.contains("--overwrite") && err.contains("--resume"), "{err}");
        drop(RunDirLock::acquire(tmp.path(), DirMode::Overwrite).unwrap());
        assert_eq!(std::fs::read_to_string(tmp.path().join("metrics.jsonl")).unwrap(), "{}\n");
    }

    #[test]
    fn stale_temporaries_go_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let ckpt = tmp.path().join("checkpoint-epoch0001");
        std::fs::create_dir_all(&ckpt).unwrap();
        for f in [".latest.tmp-123", "latest", "config.toml"] {
            std::fs::write(tmp.path().join(f), "x").unwrap();
        }
        std::fs::write(ckpt.join(".model.safetensors.tmp-9"), "x").unwrap();
        std::fs::write(ckpt.join("model.safetensors"), "x").unwrap();
        std::fs::create_dir_all(tmp.path().join(".checkpoint-epoch0002.tmp-5")).unwrap();
        drop(RunDirLock::acquire(tmp.path(), DirMode::Resume).unwrap());
        let mut left: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["checkpoint-epoch0001", "config.toml", "latest", "lock"]);
        assert!(ckpt.join("model.safetensors").exists() && !ckpt.join(".model.safetensors.tmp-9").exists());
    }
}
