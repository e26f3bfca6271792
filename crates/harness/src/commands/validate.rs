//! `mro validate SCENARIO.toml... --out DIR`: simulate, analyse, score and report each scenario.
//!
//! Every scenario is run twice by default: as written, and as its no-MRO control (the same
//! scenario and seed with `clusters = []`) in `OUT/control/`; `score.json` and the report then
//! open with whether the MRO is detectable at all (`crate::detectability`). `--no-control`
//! skips the control. Paper-setup scenarios also get a realism section (`crate::realism`).
//!
//! Exit status 0 when every tolerance of every scenario held, 3 when a score fell outside its
//! tolerance, 2 for bad input, 1 otherwise.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mro_analysis::AnalysisOutput;
use mro_sim::Truth;

use crate::detectability::detectability;
use crate::output::prepare_owned_dir;
use crate::realism::{realism, Reference};
use crate::report::{self, Timings};
use crate::runner;
use crate::scenario::Scenario;
use crate::score::{score_outputs, table, Score, TruthDoc};

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
    /// Skip the no-MRO control (the same scenario and seed without clusters, imaged and
    /// analysed identically), and with it the detectability section; halves the run time.
    #[arg(long)]
    no_control: bool,
}

/// Files one validation writes.
const FILES: [&str; 16] = [
    "truth.json",
    "meta.json",
    "analysis.json",
    "score.json",
    "scores.csv",
    "report.md",
    "recovery.png",
    "variance.png",
    "intensity_maps.png",
    "power_spectrum.png",
    "power_maps.png",
    "autocorrelation.png",
    "datacube.npy",
    "scenario.toml",
    "timings.json",
    "control",
];

/// Subdirectory of the no-MRO control's truth, meta and analysis.
pub const CONTROL_DIR: &str = "control";

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
            "cargo run --release -- validate {} --out {}{}{}",
            path.display(),
            dir.display(),
            if args.no_control { " --no-control" } else { "" },
            if args.force { " --force" } else { "" }
        );
        let options = Options {
            keep_datacube: args.keep_datacube,
            force: args.force,
            control: !args.no_control,
        };
        let score = validate_one(scenario, &dir, &command, options)?;
        outln!("== {} → {}", scenario.name, dir.join("report.md").display());
        // The verdict on detectability comes before any recovery error.
        match &score.detectability {
            Some(d) => outln!("{}.", d.verdict),
            None => outln!("no no-MRO control run (--no-control): detectability not assessed"),
        }
        if let Some(r) = &score.realism {
            outln!(
                "realism: {} of {} compared observables within the published uncertainty",
                r.within,
                r.compared
            );
        }
        out!("{}", table(&score));
        all_held &= score.all_within_tolerance;
    }
    Ok(if all_held {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(TOLERANCE_FAILED)
    })
}

/// How [`validate_one`] runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Keep `datacube.npy` (and the control's).
    pub keep_datacube: bool,
    /// Replace files already in the directory.
    pub force: bool,
    /// Run the no-MRO control and score detectability.
    pub control: bool,
}

/// Runs every stage of one scenario into `dir` and writes its report; returns the score.
///
/// With `options.control`, the same scenario without clusters (same seed, so the matrix comes
/// from the same named streams; see [`crate::detectability`] for why this is the control) is
/// imaged and analysed identically into `dir/control/`, and the score gets its detectability
/// section. Paper-setup scenarios also get a realism section ([`crate::realism`]).
pub fn validate_one(
    scenario: &Scenario,
    dir: &Path,
    command: &str,
    options: Options,
) -> anyhow::Result<Score> {
    prepare_owned_dir(dir, &FILES, options.force, "validate")?;
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
    if !options.keep_datacube {
        std::fs::remove_file(dir.join("datacube.npy"))?;
    }
    std::fs::write(dir.join("analysis.json"), analysis.result.to_json() + "\n")?;

    let control = if options.control {
        let start = Instant::now();
        let out = control(scenario, &dir.join(CONTROL_DIR), options.keep_datacube)?;
        t.control_s = Some(start.elapsed().as_secs_f64());
        Some(out)
    } else {
        None
    };

    let mut score = score_outputs(&truth, &analysis.result, &scenario.scoring)?;
    if let Some(c) = &control {
        let truth_doc: TruthDoc = serde_json::from_value(serde_json::to_value(&truth)?)?;
        score.detectability = Some(detectability(&truth_doc, &analysis, c)?);
    }
    score.realism = realism(&Reference::shipped()?, scenario, &analysis.result);
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

/// Builds, images and analyses the no-MRO control of `scenario` into `dir` (created or
/// replaced: it belongs to the validation that owns its parent).
fn control(scenario: &Scenario, dir: &Path, keep_datacube: bool) -> anyhow::Result<AnalysisOutput> {
    let mut c = scenario.clone();
    c.clusters.clear();
    std::fs::create_dir_all(dir)?;
    let glass = runner::glass(&c)?;
    glass.truth.write_json(&dir.join("truth.json"))?;
    let calibration = runner::simulate_to(&c, &glass, dir)?;
    drop(glass);
    let out = runner::analyze_dir(&c, dir, &calibration)?;
    if !keep_datacube {
        std::fs::remove_file(dir.join("datacube.npy"))?;
    }
    std::fs::write(dir.join("analysis.json"), out.result.to_json() + "\n")?;
    Ok(out)
}
