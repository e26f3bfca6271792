//! `mro validate SCENARIO.toml... --out DIR`: simulate, analyse, score and report each scenario.
//!
//! Exit status 0 when every tolerance of every scenario held, 3 when a score fell outside its
//! tolerance, 2 for bad input, 1 otherwise.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mro_sim::Truth;

use crate::output::prepare_owned_dir;
use crate::report::{self, Timings};
use crate::runner;
use crate::scenario::Scenario;
use crate::score::{score_outputs, table, Score};

/// Exit status when a score falls outside its tolerance.
pub const TOLERANCE_FAILED: u8 = 3;

/// Arguments of `mro validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files (schema mro.scenario/1).
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Output directory; with several scenarios, one subdirectory per scenario name.
    #[arg(long)]
    out: PathBuf,
    /// Keep datacube.npy (by default it is deleted once analysed; it is large).
    #[arg(long)]
    keep_datacube: bool,
    /// Replace files already in the output directory.
    #[arg(long)]
    force: bool,
}

/// Files one validation writes.
const FILES: [&str; 17] = [
    "truth.json",
    "meta.json",
    "analysis.json",
    "score.json",
    "scores.csv",
    "report.md",
    "report.html",
    "summary.png",
    "recovery.png",
    "variance.png",
    "intensity_maps.png",
    "power_spectrum.png",
    "power_maps.png",
    "autocorrelation.png",
    "datacube.npy",
    "scenario.toml",
    "timings.json",
];

/// Validates each scenario in turn.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    // Read every scenario first so a typo in the last one fails before hours of work.
    let scenarios = args
        .scenarios
        .iter()
        .map(|p| Scenario::load(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut all_held = true;
    for (path, scenario) in args.scenarios.iter().zip(&scenarios) {
        let dir = if scenarios.len() == 1 {
            args.out.clone()
        } else {
            args.out.join(&scenario.name)
        };
        let command = format!(
            "cargo run --release -- validate {} --out {}{}",
            path.display(),
            dir.display(),
            if args.force { " --force" } else { "" }
        );
        let score = validate_one(scenario, &dir, &command, args.keep_datacube, args.force)?;
        outln!("== {} → {}", scenario.name, dir.join("report.md").display());
        out!("{}", table(&score));
        all_held &= score.all_within_tolerance;
    }
    Ok(if all_held {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(TOLERANCE_FAILED)
    })
}

/// Runs every stage of one scenario into `dir` and writes its report; returns the score.
pub fn validate_one(
    scenario: &Scenario,
    dir: &Path,
    command: &str,
    keep_datacube: bool,
    force: bool,
) -> anyhow::Result<Score> {
    prepare_owned_dir(dir, &FILES, force, "validate")?;
    std::fs::write(dir.join("scenario.toml"), scenario.resolved_toml())?;
    let mut t = Timings::default();
    let start = Instant::now();
    let glass = runner::glass(scenario)?;
    glass.truth.write_json(&dir.join("truth.json"))?;
    t.glass_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let calibration = runner::simulate_to(scenario, &glass, dir)?;
    t.simulate_s = start.elapsed().as_secs_f64();
    let truth: Truth = glass.truth;
    drop(glass.atoms);

    let start = Instant::now();
    let analysis = runner::analyze_dir(scenario, dir, &calibration)?;
    t.analyze_s = start.elapsed().as_secs_f64();
    if !keep_datacube {
        std::fs::remove_file(dir.join("datacube.npy"))?;
    }
    std::fs::write(dir.join("analysis.json"), analysis.result.to_json() + "\n")?;

    let score = score_outputs(&truth, &analysis.result, &scenario.scoring)?;
    std::fs::write(
        dir.join("score.json"),
        serde_json::to_string_pretty(&score)? + "\n",
    )?;
    std::fs::write(
        dir.join("timings.json"),
        serde_json::to_string_pretty(&t)? + "\n",
    )?;
    report::write(dir, scenario, &truth, &analysis, &score, &t, command)?;
    Ok(score)
}
