//! Build script of nabla-distributed: with the `mpi` feature, checks that the system MPI and
//! libclang are there before rsmpi's own build script fails with a long list of probe
//! reasons that do not say what to install. Without the feature it does nothing.
//!
//! The MPI probes are the ones rsmpi's `build-probe-mpi` tries (`$MPI_PKG_CONFIG`,
//! `$CRAY_MPICH_DIR`, `mpicc -show` or `$MPICC`, pkg-config `mpich` and `ompi`), so this check
//! refuses nothing rsmpi would accept. libclang (needed by bindgen) is looked for where
//! clang-sys looks on Linux; elsewhere the check is left to clang-sys.

use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL: &str = "install the MPI development files and libclang: \
    `apt-get install openmpi-bin libopenmpi-dev libclang-dev` (Debian/Ubuntu), \
    `dnf install openmpi-devel clang-devel` and `module load mpi` (Fedora/RHEL), \
    or MPICH (`apt-get install mpich libmpich-dev libclang-dev`); on a cluster, load the MPI \
    module so that `mpicc` is on PATH; or build without `--features mpi`";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in [
        "CARGO_FEATURE_MPI",
        "MPI_PKG_CONFIG",
        "CRAY_MPICH_DIR",
        "MPICC",
        "PKG_CONFIG",
        "LIBCLANG_PATH",
        "LD_LIBRARY_PATH",
        "PATH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if std::env::var_os("CARGO_FEATURE_MPI").is_none() {
        return;
    }
    if !mpi_found() {
        fail(&format!(
            "nabla-distributed: the `mpi` feature needs an MPI implementation with its development \
             files, and none was found (no `mpicc`, no pkg-config `ompi` or `mpich`, $MPI_PKG_CONFIG \
             unset); {INSTALL}"
        ));
    }
    if cfg!(target_os = "linux") && !libclang_found() {
        fail(&format!(
            "nabla-distributed: the `mpi` feature needs libclang at build time (rsmpi generates its \
             MPI bindings with bindgen), and no libclang*.so was found in $LIBCLANG_PATH, \
             `llvm-config --libdir`, $LD_LIBRARY_PATH or the system library directories; {INSTALL}; \
             or set LIBCLANG_PATH to the directory holding libclang.so"
        ));
    }
}

/// Ends the build with `message` (an exit, not a panic: no backtrace around the message).
fn fail(message: &str) -> ! {
    eprintln!("\nerror: {message}\n");
    std::process::exit(1);
}

/// Whether a command runs and exits successfully.
fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).output().map(|o| o.status.success()).unwrap_or(false)
}

fn mpi_found() -> bool {
    if std::env::var_os("MPI_PKG_CONFIG").is_some() || std::env::var_os("CRAY_MPICH_DIR").is_some() {
        // rsmpi checks these itself and says precisely what is wrong with them.
        return true;
    }
    let mpicc = std::env::var("MPICC").unwrap_or_else(|_| "mpicc".to_string());
    let pkg_config = std::env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    succeeds(&mpicc, &["-show"])
        || succeeds(&pkg_config, &["--exists", "mpich"])
        || succeeds(&pkg_config, &["--exists", "ompi"])
}

fn libclang_found() -> bool {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("LIBCLANG_PATH") {
        let p = PathBuf::from(p);
        // LIBCLANG_PATH may name the library itself.
        if p.is_file() {
            return true;
        }
        dirs.push(p);
    }
    if let Ok(out) = Command::new("llvm-config").arg("--libdir").output() {
        if out.status.success() {
            dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    if let Some(paths) = std::env::var_os("LD_LIBRARY_PATH") {
        dirs.extend(std::env::split_paths(&paths));
    }
    for base in ["/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64", "/lib", "/lib64"] {
        let base = Path::new(base);
        dirs.push(base.to_path_buf());
        // Multiarch (x86_64-linux-gnu) and versioned LLVM (llvm-14/lib) directories.
        if let Ok(entries) = std::fs::read_dir(base) {
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with("-linux-gnu") {
                    dirs.push(path);
                } else if name.starts_with("llvm") {
                    dirs.push(path.join("lib"));
                }
            }
        }
    }
    dirs.iter().any(|d| has_libclang(d))
}

fn has_libclang(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("libclang") && !name.starts_with("libclang-cpp") && name.contains(".so")
            })
        })
        .unwrap_or(false)
}
