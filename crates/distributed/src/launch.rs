//! `launched_world_size`: whether this process is one of several started by an MPI launcher
//! (`mpirun`/`mpiexec` of Open MPI or MPICH, Slurm's `srun`), read from the environment the
//! launcher sets. A binary built without MPI uses it to refuse to train N independent copies.

/// The launcher that started this process and the number of processes it started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launcher {
    /// The environment variable it was recognized by (`OMPI_COMM_WORLD_SIZE`, ...).
    pub variable: &'static str,
    /// The number of processes of the job.
    pub size: usize,
}

/// The variables, in the order they are trusted: Open MPI, MPICH's Hydra and Slurm's PMI,
/// then a Slurm job step (set by `srun`, not by `sbatch` alone).
const VARIABLES: &[&str] = &["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS"];

/// The launcher of this process, if one of the known variables is set to a number.
pub fn launched_world_size() -> Option<Launcher> {
    launcher_from(|k| std::env::var(k).ok())
}

fn launcher_from(get: impl Fn(&str) -> Option<String>) -> Option<Launcher> {
    VARIABLES.iter().find_map(|&variable| {
        let size = get(variable)?.trim().parse().ok()?;
        Some(Launcher { variable, size })
    })
}

/// The variables that give the number of the job's processes on this machine: Open MPI's,
/// MPICH Hydra's, Slurm's (one count for every node of the step).
const LOCAL_VARIABLES: &[&str] = &["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"];

/// How many processes of this job share this machine, when the launcher says so.
pub fn local_processes() -> Option<usize> {
    local_from(|k| std::env::var(k).ok())
}

fn local_from(get: impl Fn(&str) -> Option<String>) -> Option<usize> {
    LOCAL_VARIABLES.iter().find_map(|&variable| get(variable)?.trim().parse().ok().filter(|&n: &usize| n > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launchers_are_recognized_by_their_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(
            launcher_from(env(&[("OMPI_COMM_WORLD_SIZE", "4")])),
            Some(Launcher { variable: "OMPI_COMM_WORLD_SIZE", size: 4 })
        );
        assert_eq!(
            launcher_from(env(&[("SLURM_STEP_NUM_TASKS", "8"), ("PMI_SIZE", "2")])),
            Some(Launcher { variable: "PMI_SIZE", size: 2 })
        );
        assert_eq!(launcher_from(env(&[("SLURM_NTASKS", "8")])), None);
        assert_eq!(launcher_from(env(&[("PMI_SIZE", "x")])), None);
        assert_eq!(local_from(env(&[("OMPI_COMM_WORLD_LOCAL_SIZE", "2")])), Some(2));
        assert_eq!(local_from(env(&[("MPI_LOCALNRANKS", "0"), ("SLURM_NTASKS_PER_NODE", "4")])), Some(4));
        assert_eq!(local_from(env(&[])), None);
    }
}
