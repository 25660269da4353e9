//! `Group`: this process's place in a data-parallel job, for `nabla train`.
//!
//! `mpirun -np N nabla train CONFIG` (or `srun`) starts N copies of this binary. Built with
//! the `mpi` feature, each joins the MPI job and the trainer trains one model over the
//! group. Built without it, a copy started as one of several processes refuses to run: N
//! independent copies would each train the whole model, all racing to write the same run
//! directory, which is never what the user meant.
//!
//! A failure seen by one rank alone (its data cannot be read, its run directory is taken, a
//! checkpoint write fails) ends the whole job through `MPI_Abort` with that rank's message,
//! because the other ranks are, or soon will be, waiting for it in a collective.

use nabla::distributed::{launched_world_size, Collective};
use std::rc::Rc;

/// Exit code of a job ended because one rank failed (the code `nabla` exits with on any
/// error).
const FAILURE_CODE: i32 = 1;

/// This process's group: alone, or one rank of a job started by an MPI launcher.
pub(crate) struct Group {
    collective: Option<Rc<dyn Collective>>,
}

impl Group {
    /// The group of this process, joining the MPI job when a launcher started it.
    ///
    /// # Errors
    /// When the launcher started several processes and this binary was built without the
    /// `mpi` feature, or when MPI cannot start.
    pub(crate) fn start() -> Result<Group, String> {
        match launched_world_size() {
            None => Ok(Group { collective: None }),
            Some(launcher) => join(&launcher),
        }
    }

    /// This process's rank (0 when alone).
    pub(crate) fn rank(&self) -> usize {
        self.collective.as_ref().map_or(0, |c| c.rank())
    }

    /// The number of processes (1 when alone).
    pub(crate) fn size(&self) -> usize {
        self.collective.as_ref().map_or(1, |c| c.size())
    }

    /// The collective for [`Trainer::join_group`](nabla::train::Trainer::join_group), when
    /// there is a job to join.
    pub(crate) fn collective(&self) -> Option<Rc<dyn Collective>> {
        self.collective.clone()
    }

    /// Reports a failure of this rank, for the caller to exit with a failure code: alone, by
    /// printing it; in a group where every rank reached the same error together
    /// (`everywhere`), by printing it and waiting until every rank has (the launcher ends the
    /// job at the first rank that exits with a failure, and its last words would be lost);
    /// otherwise by ending the whole job with it.
    pub(crate) fn fail(&self, message: &str, everywhere: bool) {
        if let Some(c) = self.collective.as_ref().filter(|c| c.size() > 1 && !everywhere) {
            // Printed by `abort` with the rank, which the error alone does not name.
            c.abort(FAILURE_CODE, &format!("error: {message}; ending the job"));
        }
        // The errors every rank reaches together name the rank already.
        eprintln!("error: {message}");
        if let Some(c) = self.collective.as_ref().filter(|c| c.size() > 1) {
            // A barrier; should it fail, MPI's error handler ends the job anyway.
            let _ = c.all_gather_u64(0, "barrier after an error on every rank");
        }
    }
}

#[cfg(feature = "mpi")]
fn join(launcher: &nabla::distributed::Launcher) -> Result<Group, String> {
    let collective = nabla::distributed::MpiCollective::init().map_err(|e| e.to_string())?;
    // A launcher whose processes MPI does not see as one job (`srun` with another `--mpi`
    // plugin than the MPI library expects) leaves each alone in a world of one: N copies
    // would each train the whole model into the same run directory.
    if collective.size() != launcher.size {
        return Err(format!(
            "the launcher started {} processes ({} is set) but MPI sees a job of {}: the              processes are not connected to each other (with Slurm, pass the `--mpi` plugin your              MPI library was built for, e.g. `srun --mpi=pmix`; `srun --mpi=list` lists them)",
            launcher.size,
            launcher.variable,
            collective.size()
        ));
    }
    Ok(Group { collective: Some(Rc::new(collective)) })
}

#[cfg(not(feature = "mpi"))]
fn join(launcher: &nabla::distributed::Launcher) -> Result<Group, String> {
    if launcher.size <= 1 {
        // `mpirun -np 1`: one process is an ordinary run.
        return Ok(Group { collective: None });
    }
    Err(format!(
        "started as one of {} processes ({} is set) but this nabla was built without the `mpi` \
         feature, so each process would train its own copy of the model; rebuild with \
         `cargo build --release -p nabla-cli --features mpi` (it needs the MPI development files \
         and libclang: `apt-get install openmpi-bin libopenmpi-dev libclang-dev` on Debian/Ubuntu), \
         or run without the launcher",
        launcher.size, launcher.variable
    ))
}
