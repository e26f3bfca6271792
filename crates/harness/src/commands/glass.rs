//! `mro glass SCENARIO.toml --out DIR`: the atoms and the truth, without imaging them.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::output::{OutputDir, Rerun};
use crate::runner;
use crate::scenario::Scenario;

/// Arguments of `mro glass`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario file (schema mro.scenario/1).
    scenario: PathBuf,
    /// Output directory: atoms.xyz (extended XYZ, Å) and truth.json.
    #[arg(long)]
    out: PathBuf,
    /// Replace files already in the output directory.
    #[arg(long)]
    force: bool,
}

/// Builds the glass and writes atoms.xyz and truth.json.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario)?;
    let out = OutputDir::begin(
        &args.out,
        "glass",
        &["atoms.xyz", "truth.json"],
        args.force,
        Rerun::CompletesOnly,
    )?;
    let glass = runner::glass(&scenario)?;
    glass.write(out.staging())?;
    out.commit()?;
    outln!(
        "{}: {} atoms in {:.2} × {:.2} × {:.2} nm, {} clusters, total volume fraction {:.4} → {}",
        scenario.name,
        glass.atoms.len(),
        glass.atoms.extent_nm[0],
        glass.atoms.extent_nm[1],
        glass.atoms.extent_nm[2],
        glass.truth.clusters.len(),
        glass.truth.total_volume_fraction,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
