//! `mro glass SCENARIO.toml --out DIR`: the atoms and the truth, without imaging them.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cost::{Cost, Need, SMALL_FILES_BYTES};
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
    /// Run even when the estimated disk or memory (see `mro check`) exceeds what is free.
    #[arg(long)]
    force_size: bool,
}

/// Builds the glass and writes atoms.xyz and truth.json.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load_for_glass(&args.scenario)?;
    let cost = Cost::of(&scenario, rayon::current_num_threads(), false);
    let need = Need {
        disk_bytes: cost.xyz_bytes + SMALL_FILES_BYTES,
        memory_bytes: cost.glass_memory_bytes,
        glass_only: true,
    };
    let out = super::open_output(
        &args.scenario,
        &args.out,
        "glass",
        &["atoms.xyz", "truth.json"],
        need,
        args.force,
        args.force_size,
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
