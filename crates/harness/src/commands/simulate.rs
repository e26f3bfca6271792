//! `mro simulate SCENARIO.toml --out DIR`: the 4D-STEM dataset a microscope would record.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::cost::{Cost, Need, SMALL_FILES_BYTES};
use crate::runner;
use crate::scenario::Scenario;

/// Arguments of `mro simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario file (schema mro.scenario/1).
    scenario: PathBuf,
    /// Output directory: datacube.npy, meta.json and truth.json.
    #[arg(long)]
    out: PathBuf,
    /// Replace files already in the output directory.
    #[arg(long)]
    force: bool,
    /// Run even when the estimated disk or memory (see `mro check`) exceeds what is free.
    #[arg(long)]
    force_size: bool,
}

/// Builds the glass, writes truth.json, streams datacube.npy and writes meta.json.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario)?;
    for w in scenario.warnings() {
        eprintln!("mro: warning: {}: {w}", args.scenario.display());
    }
    let cost = Cost::of(&scenario, rayon::current_num_threads(), false);
    let need = Need {
        disk_bytes: cost.datacube_bytes + SMALL_FILES_BYTES,
        memory_bytes: cost.peak_memory_bytes,
        glass_only: false,
    };
    let out = super::open_output(
        &args.scenario,
        &args.out,
        "simulate",
        &["datacube.npy", "meta.json", "truth.json"],
        need,
        args.force,
        args.force_size,
    )?;
    let started = Instant::now();
    let glass = runner::glass(&scenario)?;
    glass.truth.write_json(&out.staging().join("truth.json"))?;
    let glass_s = started.elapsed().as_secs_f64();
    runner::simulate_to(&scenario, &glass, out.staging())?;
    out.commit()?;
    let [ny, nx] = scenario.scan.points;
    let [dy, dx] = scenario.detector.pixels;
    outln!(
        "{}: {} atoms, {ny} × {nx} patterns of {dy} × {dx} px ({:?}) in {:.1} s (glass {glass_s:.1} s) → {}",
        scenario.name,
        glass.atoms.len(),
        scenario.model.kind,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
