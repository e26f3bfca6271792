//! Sweeps on a Slurm cluster: one job-array task per point.
//!
//! `mro sweep FILE --out DIR --slurm` checks every point, records the sweep in `DIR/sweep.toml`,
//! writes `DIR/slurm/sweep.sbatch` — a job array over the points not yet done, each task
//! running `mro sweep DIR/sweep.toml --out DIR --point $SLURM_ARRAY_TASK_ID` — and submits it
//! with `sbatch`. `DIR` must be on a file system the compute nodes share, and the `mro` binary
//! at the same path there. Tasks are idempotent (a finished point is left alone), so a task
//! that Slurm requeues or that is submitted twice does no harm. `mro sweep --collect DIR`
//! assembles `sweep.csv`, the plots and `report.md` once the tasks have finished, and lists the
//! points that have not; rerunning the `--slurm` command submits just those.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::exit::bad_input;
use crate::output::{io_error, write_file};

/// Where the job script, the job ids and the tasks' logs go, under the sweep directory.
pub const LOG_DIR: &str = "slurm";

/// Command-line options of `mro sweep` for Slurm.
#[derive(Debug, Clone, clap::Args)]
pub struct SlurmOptions {
    /// Run the points as a Slurm job array (sbatch) instead of here; collect with --collect.
    #[arg(long)]
    pub slurm: bool,
    /// Slurm partition (sbatch --partition); default: the cluster's default.
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// Time limit per point (sbatch --time, e.g. 00:30:00); default: the partition's.
    #[arg(long, requires = "slurm")]
    pub time: Option<String>,
    /// CPUs per point (sbatch --cpus-per-task); each point uses all of them.
    #[arg(long, requires = "slurm", default_value_t = 1, value_parser = crate::commands::count_at_least_one)]
    pub cpus: usize,
    /// Write the job script and print the sbatch command without submitting.
    #[arg(long, requires = "slurm")]
    pub dry_run: bool,
}

/// `0-3,5,7-9`: the indices (sorted, distinct) as a Slurm `--array` list.
pub fn array_spec(indices: &[usize]) -> String {
    let mut s = String::new();
    let mut k = 0;
    while k < indices.len() {
        let start = indices[k];
        let mut end = start;
        while k + 1 < indices.len() && indices[k + 1] == end + 1 {
            k += 1;
            end += 1;
        }
        if !s.is_empty() {
            s.push(',');
        }
        if end == start {
            let _ = write!(s, "{start}");
        } else {
            let _ = write!(s, "{start}-{end}");
        }
        k += 1;
    }
    s
}

/// Quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The sbatch script of a job array over `pending` points of the sweep in `dir` (absolute),
/// run by the `mro` at `exe`.
pub fn script(
    exe: &Path,
    dir: &Path,
    pending: &[usize],
    opts: &SlurmOptions,
    control: bool,
) -> String {
    let logs = dir.join(LOG_DIR);
    let mut s =
        String::from("#!/bin/sh\n# Written by `mro sweep --slurm`: one task per sweep point.\n");
    let _ = writeln!(s, "#SBATCH --job-name=mro-sweep");
    let _ = writeln!(s, "#SBATCH --array={}", array_spec(pending));
    let _ = writeln!(s, "#SBATCH --cpus-per-task={}", opts.cpus.max(1));
    let _ = writeln!(s, "#SBATCH --output={}/task-%A_%a.out", logs.display());
    if let Some(p) = &opts.partition {
        let _ = writeln!(s, "#SBATCH --partition={p}");
    }
    if let Some(t) = &opts.time {
        let _ = writeln!(s, "#SBATCH --time={t}");
    }
    // Output is bit-identical at any thread count; use the CPUs the task was given.
    s.push_str("export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n");
    let _ = writeln!(
        s,
        "exec {} sweep {} --out {} --point \"$SLURM_ARRAY_TASK_ID\"{}",
        shell_quote(&exe.display().to_string()),
        shell_quote(&dir.join("sweep.toml").display().to_string()),
        shell_quote(&dir.display().to_string()),
        if control { "" } else { " --no-control" },
    );
    s
}

/// Writes the job script for the `pending` points of the sweep in `dir` and submits it (or,
/// with `--dry-run`, prints it).
pub fn submit(
    dir: &Path,
    pending: &[usize],
    opts: &SlurmOptions,
    control: bool,
) -> anyhow::Result<ExitCode> {
    let dir: PathBuf = dir
        .canonicalize()
        .map_err(|e| io_error("cannot resolve", dir, e))?;
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find the running mro binary: {e}"))?;
    let logs = dir.join(LOG_DIR);
    std::fs::create_dir_all(&logs).map_err(|e| io_error("cannot create", &logs, e))?;
    let path = logs.join("sweep.sbatch");
    let text = script(&exe, &dir, pending, opts, control);
    write_file(&path, text.as_bytes())?;
    let tasks = format!(
        "{} point{}",
        pending.len(),
        if pending.len() == 1 { "" } else { "s" }
    );
    if opts.dry_run {
        outln!("{text}");
        outln!(
            "# dry run: submit {tasks} with `sbatch {}`, then `mro sweep --collect {}`",
            path.display(),
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(&path)
        .output()
        .map_err(|e| {
            bad_input(format!(
                "sbatch: cannot run it ({e}): is this a Slurm submit host? (--dry-run writes {} without submitting)",
                path.display()
            ))
        })?;
    if !out.status.success() {
        return Err(bad_input(format!(
            "sbatch {}: {}: {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let job = String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    let jobs = logs.join("jobs.txt");
    let mut record = std::fs::read_to_string(&jobs).unwrap_or_default();
    let _ = writeln!(record, "{job} array={}", array_spec(pending));
    write_file(&jobs, record.as_bytes())?;
    outln!(
        "submitted job {job}: {tasks}; logs in {}; when they have finished: mro sweep --collect {}",
        logs.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_lists_are_ranges() {
        assert_eq!(array_spec(&[0, 1, 2, 3, 5, 7, 8, 9]), "0-3,5,7-9");
        assert_eq!(array_spec(&[4]), "4");
        assert_eq!(array_spec(&[]), "");
    }

    #[test]
    fn the_script_runs_one_point_per_task() {
        let opts = SlurmOptions {
            slurm: true,
            partition: Some("short".into()),
            time: Some("00:10:00".into()),
            cpus: 4,
            dry_run: true,
        };
        let s = script(
            Path::new("/opt/mro"),
            Path::new("/scratch/it's"),
            &[1, 2],
            &opts,
            true,
        );
        assert!(s.contains("#SBATCH --array=1-2\n"), "{s}");
        assert!(
            s.contains("#SBATCH --partition=short\n#SBATCH --time=00:10:00\n"),
            "{s}"
        );
        assert!(s.contains("#SBATCH --cpus-per-task=4\n"), "{s}");
        assert!(
            s.contains("exec '/opt/mro' sweep '/scratch/it'\\''s/sweep.toml' --out '/scratch/it'\\''s' --point \"$SLURM_ARRAY_TASK_ID\""),
            "{s}"
        );
    }
}
