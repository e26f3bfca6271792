//! The `mro` command line: one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod analyze;
mod check;
mod glass;
mod info;
mod score;
mod simulate;
mod sweep;
pub(crate) mod validate;

/// Simulate, analyse and score 4D-STEM measurements of medium-range order in metallic glasses.
#[derive(Debug, Parser)]
#[command(name = "mro", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Shape, dtype, calibration and value range of a datacube (.npy, EMPAD .raw, HDF5) or a mask.
    Info(info::Args),
    /// Validate a scenario and print it with every default filled in.
    Check(check::Args),
    /// Build a glass with planted MRO: atoms.xyz and truth.json.
    Glass(glass::Args),
    /// Image a glass with the nanodiffraction forward model: datacube.npy, meta.json, truth.json.
    Simulate(simulate::Args),
    /// Run the Im et al. (2018) analysis on a datacube: analysis.json, maps and figures.
    Analyze(analyze::Args),
    /// Score an analysis against the truth: one row per quantity and symmetry.
    Score(score::Args),
    /// Simulate, analyse and score scenarios; write report.md with figures. Exit 3 when a
    /// score falls outside its tolerance.
    Validate(validate::Args),
    /// Validate every point of a Cartesian product of scenario values; one CSV and plots.
    Sweep(sweep::Args),
}

/// A count flag (`--jobs`, `--cpus`, `--chunk-patterns`): a whole number ≥ 1, refused (exit 2)
/// with what was expected otherwise.
pub(crate) fn count_at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number ≥ 1".to_string()),
    }
}

/// Opens `out` for a command that writes one scenario's files, after checking the directory and
/// that `need` fits the free disk and memory (refused unless `force_size`); a finished earlier
/// run of the same command is replaced only with `force`.
fn open_output(
    scenario_path: &std::path::Path,
    out: &std::path::Path,
    command: &str,
    files: &[&str],
    need: crate::cost::Need,
    force: bool,
    force_size: bool,
) -> anyhow::Result<crate::output::OutputDir> {
    crate::output::check_dir(out)?;
    crate::cost::enforce(need, out, &scenario_path.display().to_string(), force_size)?;
    crate::output::OutputDir::begin(
        out,
        command,
        files,
        force,
        crate::output::Rerun::CompletesOnly,
    )
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Info(args) => info::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Glass(args) => glass::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Score(args) => score::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Sweep(args) => sweep::run(&args),
    }
}
