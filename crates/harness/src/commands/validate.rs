//! `mro validate SCENARIO.toml... --out DIR`: simulate, analyse, score and report each scenario.
//!
//! Every scenario is run twice by default: as written, and as its no-MRO control (the same
//! scenario and seed with `clusters = []`) in `OUT/control/`; `score.json` and the report then
//! open with whether the MRO is detectable at all (`crate::detectability`). `--no-control`
//! skips the control. Paper-setup scenarios also get a realism section (`crate::realism`).
//!
//! Exit status 0 when every tolerance of every scenario held, 3 when a score fell outside its
//! tolerance, 2 for bad input, 1 otherwise. Several scenarios also get `OUT/summary.md`: one
//! line per scenario and each method's bias over them (`crate::bias`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mro_analysis::AnalysisOutput;
use mro_sim::Truth;

use crate::bias;
use crate::cost::{enforce, Cost, Need};
use crate::detectability::detectability;
use crate::exit::bad_input;
use crate::output::check_dir;
use crate::output::{io_error, write_file, OutputDir, Rerun};
use crate::realism::{realism, Reference};
use crate::report::{self, Timings};
use crate::runner;
use crate::scenario::Scenario;
use crate::score::{score_outputs, table, Score, TruthDoc};

/// The summary file of a multi-scenario validation, in `--out`.
const SUMMARY: &str = "summary.md";

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
    /// Keep datacube.npy (by default it is deleted once analysed, and one an earlier run kept
    /// in DIR is removed; it is large).
    #[arg(long)]
    keep_datacube: bool,
    /// Replace files already in the output directory.
    #[arg(long)]
    force: bool,
    /// Run even when the estimated disk or memory (see `mro check`) exceeds what is free.
    #[arg(long)]
    force_size: bool,
    /// Skip the no-MRO control (the same scenario and seed without clusters, imaged and
    /// analysed identically), and with it the detectability section; halves the run time.
    #[arg(long)]
    no_control: bool,
}

/// Files one validation writes.
const FILES: [&str; 18] = [
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
    "control",
];

/// Subdirectory of the no-MRO control's truth, meta and analysis.
pub const CONTROL_DIR: &str = "control";

/// Why a scenario imaging an atom file (`[sample] atoms`) runs no no-MRO control: the control
/// removes the planted clusters, and mro planted none in a file's atoms (any a truth file
/// describes are part of the file's structure and cannot be cut out of it without changing the
/// matrix around them).
pub const NO_CONTROL_FOR_ATOM_FILES: &str = "atoms from a file: no clusters to remove";
/// Why a glass with no cluster placed (`clusters = []`, zero volume fractions, or fractions too
/// small for one cluster) runs no control: it would be the sample itself, bit for bit.
pub const NO_CONTROL_WITHOUT_CLUSTERS: &str =
    "no clusters planted: the glass has no MRO, so the control would be this run";

/// Why a scenario imaging an atom file without a truth file (`[sample] truth`) judges no
/// tolerance: truth.json then lists no clusters because mro planted none, not because the file
/// holds none, so a recovered region is not known to be wrong.
pub const NOT_JUDGED_WITHOUT_TRUTH: &str =
    "atoms from a file without a truth file: what they hold is unknown";

/// Validates each scenario in turn.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    // Read every scenario first so a typo in the last one fails before hours of work.
    let scenarios = args
        .scenarios
        .iter()
        .map(|p| Scenario::load(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (path, s) in args.scenarios.iter().zip(&scenarios) {
        for w in s.warnings() {
            eprintln!("mro: warning: {}: {w}", path.display());
        }
    }
    let dirs = if scenarios.len() == 1 {
        vec![args.out.clone()]
    } else {
        subdirectories(&args.out, &args.scenarios, &scenarios)?
    };
    check_dir(&args.out)?;
    // Several scenarios also get `OUT/summary.md` (each method's bias over them); a file of that
    // name that mro did not write, or that was edited since, is the user's.
    let summary = (scenarios.len() > 1).then(|| args.out.join(SUMMARY));
    if let Some(path) = &summary {
        // Not even --force replaces a directory: found now, not after the runs.
        if path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            return Err(bad_input(format!(
                "{}: is a directory; expected the summary file's place (move the directory away)",
                path.display()
            )));
        }
        // Unreadable (not UTF-8, no permission) but present: the user's.
        let ours = match std::fs::read_to_string(path) {
            Ok(text) => bias::summary_is_unedited(&text),
            Err(_) => path.symlink_metadata().is_err(),
        };
        if !ours && !args.force {
            return Err(bad_input(format!(
                "{}: exists and was not written by mro validate, or was edited since; pass --force to replace it",
                path.display()
            )));
        }
    }
    let need = scenarios.iter().fold(Need::default(), |n, s| {
        n.max(need(s, !args.no_control, args.keep_datacube))
    });
    // Kept datacubes add up; otherwise each is deleted before the next scenario runs.
    let kept = if args.keep_datacube {
        scenarios.len() as f64
    } else {
        1.0
    };
    enforce(
        Need {
            disk_bytes: need.disk_bytes * kept,
            ..need
        },
        &args.out,
        &args.scenarios[0].display().to_string(),
        args.force_size,
    )?;
    let mut all_held = true;
    let mut runs = Vec::with_capacity(scenarios.len());
    for ((path, scenario), dir) in args.scenarios.iter().zip(&scenarios).zip(dirs) {
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
            None => outln!(
                "{}.",
                crate::detectability::short_verdict(None, score.control_skipped.as_deref())
            ),
        }
        match &score.realism {
            Some(r) => outln!(
                "realism: {} of {} compared observables within the published uncertainty",
                r.within,
                r.compared
            ),
            // Say why there is none: a foil just outside the paper's range loses it silently
            // otherwise.
            None => outln!("{}", Reference::shipped()?.setup_line(scenario)),
        }
        out!("{}", table(&score));
        all_held &= score.all_within_tolerance;
        let relative = dir.strip_prefix(&args.out).unwrap_or(&dir);
        runs.push((scenario.name.clone(), relative.display().to_string(), score));
    }
    if let Some(path) = &summary {
        let command = format!(
            "cargo run --release -- validate {} --out {}{}",
            args.scenarios
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            args.out.display(),
            if args.no_control { " --no-control" } else { "" }
        );
        write_file(path, bias::suite_summary(&command, &runs).as_bytes())?;
        outln!("== summary and each method's bias → {}", path.display());
    }
    Ok(if all_held {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(TOLERANCE_FAILED)
    })
}

/// What validating `scenario` needs: the datacube (deleted once analysed unless kept, the
/// control's too) and the small files on disk ([`Cost::run_disk_bytes`]), the peak memory of
/// its stages; `control` counts the no-MRO control run.
pub fn need(scenario: &Scenario, control: bool, keep_datacube: bool) -> Need {
    let cost = Cost::of(scenario, rayon::current_num_threads(), control);
    Need {
        disk_bytes: cost.run_disk_bytes(keep_datacube),
        memory_bytes: cost.peak_memory_bytes,
        glass_only: false,
    }
}

/// One directory under `out` per scenario, named by the scenario's `name` made a safe file name
/// ([`safe_name`]); two scenarios that would share a directory are refused (exit 2), naming both
/// files.
fn subdirectories(
    out: &Path,
    paths: &[PathBuf],
    scenarios: &[Scenario],
) -> anyhow::Result<Vec<PathBuf>> {
    let mut seen: std::collections::BTreeMap<String, &Path> = Default::default();
    let mut dirs = Vec::with_capacity(scenarios.len());
    for (path, scenario) in paths.iter().zip(scenarios) {
        let name = safe_name(&scenario.name).ok_or_else(|| {
            bad_input(format!(
                "{}: field `name` = {:?}: expected a name with at least one letter or digit and at most {MAX_NAME_BYTES} bytes (it names the scenario's directory under --out)",
                path.display(),
                scenario.name
            ))
        })?;
        if let Some(first) = seen.insert(name.clone(), path) {
            return Err(bad_input(format!(
                "{} and {}: both scenarios would write {}: give each a distinct `name`",
                first.display(),
                path.display(),
                out.join(&name).display()
            )));
        }
        dirs.push(out.join(name));
    }
    Ok(dirs)
}

/// Longest directory name a scenario gets (file systems allow 255 bytes per component).
const MAX_NAME_BYTES: usize = 200;

/// `name` as one file-name component: characters other than ASCII letters, digits, `-`, `_`
/// and `.` become `_`, and leading dots are dropped, so `../../escape` becomes `.._.._escape` →
/// `_.._escape`; `None` if no letter or digit is left or the name is longer than [`MAX_NAME_BYTES`].
pub fn safe_name(name: &str) -> Option<String> {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_start_matches('.');
    (trimmed.chars().any(|c| c.is_ascii_alphanumeric()) && trimmed.len() <= MAX_NAME_BYTES)
        .then(|| trimmed.to_string())
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
/// section. A scenario imaging an atom file, or one without clusters, runs no control
/// ([`NO_CONTROL_FOR_ATOM_FILES`], [`NO_CONTROL_WITHOUT_CLUSTERS`], recorded in `score.json` as
/// `control_skipped`). Paper-setup scenarios also get a realism
/// section ([`crate::realism`]).
pub fn validate_one(
    scenario: &Scenario,
    dir: &Path,
    command: &str,
    options: Options,
) -> anyhow::Result<Score> {
    let out = OutputDir::begin(dir, "validate", &FILES, options.force, Rerun::Replaces)?;
    let stage = out.staging();
    out.write("scenario.toml", scenario.resolved_toml().as_bytes())?;
    let mut t = Timings::default();
    let start = Instant::now();
    let glass = runner::glass(scenario)?;
    glass.truth.write_json(&stage.join("truth.json"))?;
    t.glass_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let (calibration, grid) = runner::simulate_to(scenario, &glass, stage)?;
    t.simulate_s = start.elapsed().as_secs_f64();
    let truth: Truth = glass.truth;
    drop(glass.atoms);

    let start = Instant::now();
    let analysis = runner::analyze_dir(scenario, stage, &calibration)?;
    t.analyze_s = start.elapsed().as_secs_f64();
    if !options.keep_datacube {
        let cube = stage.join("datacube.npy");
        std::fs::remove_file(&cube).map_err(|e| io_error("cannot remove", &cube, e))?;
    }
    out.write(
        "analysis.json",
        (analysis.result.to_json() + "\n").as_bytes(),
    )?;

    let skip_control = if !options.control {
        None
    } else if scenario.imported.is_some() {
        Some(NO_CONTROL_FOR_ATOM_FILES.to_string())
    } else if truth.clusters.is_empty() {
        Some(NO_CONTROL_WITHOUT_CLUSTERS.to_string())
    } else {
        None
    };
    let control = if options.control && skip_control.is_none() {
        let start = Instant::now();
        let out = control(scenario, &stage.join(CONTROL_DIR), options.keep_datacube)?;
        t.control_s = Some(start.elapsed().as_secs_f64());
        Some(out)
    } else {
        None
    };

    let unknown_truth = scenario
        .imported
        .as_ref()
        .is_some_and(|i| i.truth.is_none());
    let scoring = if unknown_truth {
        crate::scenario::ScoringSpec {
            checks: Vec::new(),
            ..scenario.scoring.clone()
        }
    } else {
        scenario.scoring.clone()
    };
    let mut score = score_outputs(&truth, &analysis.result, &scoring)?;
    score.control_skipped = skip_control;
    if unknown_truth {
        score.not_judged = Some(NOT_JUDGED_WITHOUT_TRUTH.to_string());
    }
    if let Some(c) = &control {
        let truth_doc: TruthDoc = serde_json::from_value(serde_json::to_value(&truth)?)?;
        score.detectability = Some(detectability(&truth_doc, &analysis, c)?);
    }
    score.realism = realism(&Reference::shipped()?, scenario, &analysis.result);
    out.write(
        "score.json",
        (serde_json::to_string_pretty(&score)? + "\n").as_bytes(),
    )?;
    out.write(
        "timings.json",
        (serde_json::to_string_pretty(&t)? + "\n").as_bytes(),
    )?;
    let run = report::Run {
        scenario,
        grid: &grid,
        truth: &truth,
        analysis: &analysis,
        score: &score,
        timings: &t,
    };
    report::write(stage, &run, command)?;
    // A control left by an earlier run (this one ran none) would stand beside a score without
    // detectability as if it belonged to it: the directory is this command's (or `--force`d),
    // so its own `control/` goes.
    let stale = dir.join(CONTROL_DIR);
    if control.is_none() && stale.join("analysis.json").is_file() {
        std::fs::remove_dir_all(&stale).map_err(|e| io_error("cannot remove", &stale, e))?;
    }
    // Likewise a datacube kept by an earlier `--keep-datacube` run is not this run's.
    if !options.keep_datacube {
        for old in [dir.join("datacube.npy"), stale.join("datacube.npy")] {
            if old.is_file() {
                std::fs::remove_file(&old).map_err(|e| io_error("cannot remove", &old, e))?;
                outln!(
                    "removed {}: an earlier run's datacube, not this run's (--keep-datacube \
                     keeps this run's)",
                    old.display()
                );
            }
        }
    }
    out.commit()?;
    Ok(score)
}

/// Builds, images and analyses the no-MRO control of `scenario` into `dir`, a subdirectory of
/// the validation's staging directory (moved into place with the rest on commit).
fn control(scenario: &Scenario, dir: &Path, keep_datacube: bool) -> anyhow::Result<AnalysisOutput> {
    let mut c = scenario.clone();
    c.clusters.clear();
    std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, e))?;
    let glass = runner::glass(&c)?;
    glass.truth.write_json(&dir.join("truth.json"))?;
    let (calibration, _) = runner::simulate_to(&c, &glass, dir)?;
    drop(glass);
    let out = runner::analyze_dir(&c, dir, &calibration)?;
    if !keep_datacube {
        let cube = dir.join("datacube.npy");
        std::fs::remove_file(&cube).map_err(|e| io_error("cannot remove", &cube, e))?;
    }
    let path = dir.join("analysis.json");
    std::fs::write(&path, out.result.to_json() + "\n")
        .map_err(|e| io_error("cannot write", &path, e))?;
    Ok(out)
}
