//! `mro check SCENARIO.toml`: validate and print the resolved scenario.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cost::Cost;
use crate::scenario::Scenario;

/// Arguments of `mro check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files (schema mro.scenario/1).
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Leave the no-MRO control (run by `validate` and `sweep` unless `--no-control`) out of
    /// the cost estimate.
    #[arg(long)]
    no_control: bool,
}

/// Validates each scenario and prints it resolved; stops at the first bad one.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    for path in &args.scenarios {
        let scenario = Scenario::load(path)?;
        for w in scenario.warnings() {
            eprintln!("mro: warning: {}: {w}", path.display());
        }
        outln!("# {}: valid; resolved with defaults:", path.display());
        outln!("{}", scenario.check_toml());
        if let (Some(imported), Some(atoms)) = (&scenario.imported, &scenario.sample.atoms) {
            outln!(
                "{}",
                imported.describe(atoms, scenario.sample.truth.as_deref())
            );
        }
        outln!(
            "{}",
            Cost::of(&scenario, rayon::current_num_threads(), !args.no_control).describe()
        );
    }
    Ok(ExitCode::SUCCESS)
}
