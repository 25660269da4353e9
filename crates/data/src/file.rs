//! Opening data files so that whatever stands at the path is reported for what it is.
//!
//! A directory, a FIFO or a dangling link where a data file should be would otherwise
//! surface as "missing", or, for a FIFO, block the program forever in `open` waiting for a
//! writer; so the type is checked from the path's metadata before opening and again on the
//! opened handle (the second check catches a directory or device swapped in between; only
//! a FIFO swapped in at that very instant could still block the open, which would take
//! `O_NONBLOCK`, i.e. a `libc` dependency, to rule out).

use crate::DataError;
use std::fs::{File, FileType, Metadata};
use std::io::{self, ErrorKind};
use std::path::Path;

/// What stands at a path, for messages: `"a directory"`, `"a FIFO (named pipe)"`, ...
/// (`None` for a regular file).
pub(crate) fn non_regular_kind(file_type: &FileType) -> Option<&'static str> {
    if file_type.is_file() {
        return None;
    }
    if file_type.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
        if file_type.is_block_device() {
            return Some("a block device");
        }
        if file_type.is_char_device() {
            return Some("a character device");
        }
    }
    if file_type.is_symlink() {
        return Some("a symbolic link");
    }
    Some("a special file (not a regular file)")
}

/// A short reason for an I/O error on a path, in the words a user looks for.
pub(crate) fn describe_io(path: &Path, e: &io::Error) -> String {
    match e.kind() {
        ErrorKind::PermissionDenied => format!("permission denied ({e})"),
        ErrorKind::NotFound if std::fs::symlink_metadata(path).is_ok() => {
            "a symbolic link whose target does not exist".to_string()
        }
        ErrorKind::NotFound => "no such file".to_string(),
        _ => e.to_string(),
    }
}

fn unreadable(path: &Path, source: io::Error) -> DataError {
    DataError::Unreadable { reason: describe_io(path, &source), path: path.to_path_buf(), source }
}

fn check_regular(path: &Path, meta: &Metadata) -> Result<(), DataError> {
    match non_regular_kind(&meta.file_type()) {
        None => Ok(()),
        Some(found) => Err(DataError::NotAFile { path: path.to_path_buf(), found }),
    }
}

/// Opens a regular file for reading and returns it with its length.
///
/// # Errors
/// [`DataError::NotAFile`] when something else stands at `path` (it is never opened, so a
/// FIFO cannot block), [`DataError::Unreadable`] when the path cannot be inspected or opened
/// (permission denied, dangling link, ...).
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64), DataError> {
    let meta = std::fs::metadata(path).map_err(|e| unreadable(path, e))?;
    check_regular(path, &meta)?;
    let file = File::open(path).map_err(|e| unreadable(path, e))?;
    let meta = file.metadata().map_err(|e| unreadable(path, e))?;
    check_regular(path, &meta)?;
    Ok((file, meta.len()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks that `read` refuses a directory and a FIFO as [`DataError::NotAFile`] naming
    /// what it found, without blocking on the FIFO (skipped where `mkfifo` is unavailable).
    pub(crate) fn assert_refuses_directories_and_fifos<T: std::fmt::Debug>(
        read: impl Fn(&Path) -> Result<T, DataError>,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let err = read(tmp.path()).unwrap_err();
        assert!(matches!(err, DataError::NotAFile { found: "a directory", .. }), "{err}");
        let fifo = tmp.path().join("pipe");
        match std::process::Command::new("mkfifo").arg(&fifo).status() {
            Ok(status) if status.success() => {
                let err = read(&fifo).unwrap_err();
                assert!(matches!(err, DataError::NotAFile { found: "a FIFO (named pipe)", .. }), "{err}");
            }
            other => eprintln!("note: mkfifo unavailable ({other:?}); FIFO case skipped"),
        }
    }

    #[test]
    fn permission_denied_is_said_in_words() {
        // The real case needs a user without root's rights (see the loader's tests); the
        // wording is checked here on the error the OS would give.
        let path = Path::new("/data/train-images-idx3-ubyte.gz");
        let e = io::Error::from(ErrorKind::PermissionDenied);
        let err = unreadable(path, e);
        let msg = err.to_string();
        assert!(msg.starts_with("/data/train-images-idx3-ubyte.gz: unreadable: permission denied"), "{msg}");
        assert_eq!(
            describe_io(Path::new("/nonexistent/nabla/x"), &ErrorKind::NotFound.into()),
            "no such file"
        );
    }

    #[test]
    fn only_regular_files_are_opened() {
        assert_refuses_directories_and_fifos(open_regular);
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(open_regular(&file).unwrap().1, 5);
        let err = open_regular(&tmp.path().join("absent")).unwrap_err();
        assert!(err.to_string().ends_with("absent: unreadable: no such file"), "{err}");
    }
}
