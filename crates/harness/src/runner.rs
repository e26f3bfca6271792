//! The stages of one scenario, as the commands run them: glass → datacube on disk → analysis.
//!
//! Errors that stem from the scenario (a field out of range, clusters that do not fit) are
//! reported as bad input (exit status 2); the rest exit with 1.

use std::path::Path;
use std::time::Instant;

use mro_analysis::{analyze_npy, AnalysisOutput, RunOptions};
use mro_core::meta::RunProvenance;
use mro_core::{npy::NpyWriter, Calibration, Meta, Seeds};
use mro_sim::glass::{GlassError, GlassStage};
use mro_sim::{build_glass, simulate, ForwardGrid, Glass, SimError};

use crate::exit::bad_input;
use crate::progress;
use crate::scenario::Scenario;

/// Patterns per chunk when the analysis streams a datacube from disk.
pub const ANALYSIS_CHUNK_PATTERNS: usize = 512;

/// Builds the scenario's glass, showing its stages on a terminal; a scenario with
/// `[sample] atoms` gets the file's atoms and its truth (or one without clusters) instead.
pub fn glass(scenario: &Scenario) -> anyhow::Result<Glass> {
    let mut glass = build(scenario)?;
    // A truth file given with an atom file is passed through as it is, its own provenance
    // included.
    if scenario.imported.is_none() || glass.truth.provenance.is_none() {
        glass.truth.provenance = Some(provenance(scenario));
    }
    Ok(glass)
}

/// The run a scenario's files record (`truth.json`, `analysis.json`): its name and, when mro
/// built the glass from it, its seed (atoms from a file were not made by the seed, so two runs
/// imaging them are not told apart by it).
pub fn provenance(scenario: &Scenario) -> RunProvenance {
    RunProvenance {
        scenario: Some(scenario.name.clone()),
        seed: scenario.imported.is_none().then_some(scenario.seed),
    }
}

fn build(scenario: &Scenario) -> anyhow::Result<Glass> {
    if let Some(imported) = &scenario.imported {
        return Ok(Glass {
            atoms: imported.file.atoms.clone(),
            truth: imported.truth_or_empty(),
        });
    }
    let bar = progress::spinner("glass");
    let report = |stage: GlassStage| {
        bar.set_message(match stage {
            GlassStage::PlacingClusters => "placing clusters".to_string(),
            GlassStage::BuildingMotifs { clusters } => {
                format!("building {clusters} cluster motifs")
            }
            GlassStage::FillingMatrix { atoms } => format!("adding {atoms} matrix atoms"),
            GlassStage::Relaxing {
                sweep, max_sweeps, ..
            } => {
                format!("relaxing, sweep {sweep} of at most {max_sweeps}")
            }
            _ => "done".to_string(),
        });
        bar.tick();
    };
    let out = build_glass(
        &scenario.sample,
        &scenario.clusters,
        &scenario.placement,
        &Seeds::new(scenario.seed),
        &report,
    );
    bar.finish_and_clear();
    out.map_err(|e| match &e {
        GlassError::Io { .. } => anyhow::Error::new(e),
        _ => bad_input(e),
    })
}

/// Simulates the datacube of `glass` into `dir/datacube.npy` (streamed as rows are produced)
/// and writes `dir/meta.json`; returns the calibration and the forward-model grid it used (also
/// in `meta.json`'s provenance).
pub fn simulate_to(
    scenario: &Scenario,
    glass: &Glass,
    dir: &Path,
) -> anyhow::Result<(Calibration, ForwardGrid)> {
    let [ny, nx] = scenario.scan.points;
    let [dy, dx] = scenario.detector.pixels;
    let path = dir.join("datacube.npy");
    let mut writer = NpyWriter::create(&path, &[ny, nx, dy, dx])?;
    let bar = progress::bar((ny * nx) as u64, "simulate");
    let options = scenario
        .thermal
        .forward_options(&glass.atoms)
        .map_err(|e| bad_input(e.within("thermal")))?;
    let started = Instant::now();
    let calibration = simulate(
        &glass.atoms,
        &scenario.microscope,
        &scenario.scan,
        &scenario.detector,
        &scenario.model,
        Seeds::new(scenario.seed),
        &options,
        |_row, values| writer.write(values).map_err(|e| e.into()),
        |p| bar.set_position(p.done_positions as u64),
    );
    bar.finish_and_clear();
    let calibration = calibration.map_err(|e| match e {
        SimError::Invalid { .. } | SimError::WholeAtom(_) => bad_input(e),
        other => anyhow::Error::new(other),
    })?;
    writer.finish()?;
    let grid = mro_sim::forward_grid(
        &scenario.microscope,
        &scenario.scan,
        &scenario.detector,
        &scenario.model,
        glass.atoms.extent_nm,
        &options,
    )?;
    let mut provenance = serde_json::json!({
        "scenario": scenario.name,
        "grid": grid,
        "seed": scenario.seed,
        "version": env!("CARGO_PKG_VERSION"),
        "model": scenario.model.kind,
        "simulate_seconds": started.elapsed().as_secs_f64(),
        "resolved_scenario": scenario,
    });
    if let Some(imported) = &scenario.imported {
        provenance["atoms_file"] = serde_json::to_value(imported.stamp)?;
    }
    let meta = dir.join("meta.json");
    std::fs::write(
        &meta,
        Meta::new(calibration, Some(provenance)).to_json() + "\n",
    )
    .map_err(|e| crate::output::io_error("cannot write", &meta, e))?;
    Ok((calibration, grid))
}

/// Runs the scenario's analysis on `dir/datacube.npy`, streamed from disk.
pub fn analyze_dir(
    scenario: &Scenario,
    dir: &Path,
    calibration: &Calibration,
) -> anyhow::Result<AnalysisOutput> {
    let path = dir.join("datacube.npy");
    let bar = progress::bar(0, "analyze");
    let tick = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let opts = RunOptions {
        chunk_patterns: ANALYSIS_CHUNK_PATTERNS,
        excluded: None,
        progress: Some(&tick),
    };
    let out = analyze_npy(&path, calibration, &scenario.simulated_analysis(), &opts);
    bar.finish_and_clear();
    let mut out = out?;
    out.result.provenance = Some(provenance(scenario));
    Ok(out)
}
