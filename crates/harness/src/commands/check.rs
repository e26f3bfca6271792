//! `mro check SCENARIO.toml`: validate and print the resolved scenario.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cost::Cost;
use crate::exit::bad_input;
use crate::realism::Reference;
use crate::scenario::Scenario;
use crate::sweep::{
    apply, defaulted_band_limit, point_at, point_count, points_phrase, warn_band_limit_spread,
    warnings_by_point, PointWarnings,
};

/// Most sweep points `check` builds and validates one by one (the first ones); `mro sweep`
/// checks every combination before it runs any (each value alone is checked on loading either
/// way).
const COMBINATIONS_CHECKED: usize = 4096;

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
        if scenario.sweep.is_empty() {
            for w in scenario.warnings() {
                eprintln!("mro: warning: {}: {w}", path.display());
            }
        } else {
            // The points' own warnings, as `mro sweep` gives them: the base values a warning
            // is about may be replaced by every point.
            let (checked, warnings) = check_combinations(path, &scenario)?;
            for (w, at) in warnings {
                let who = points_phrase(&at, checked);
                eprintln!("mro: warning: {}: {who}: {w}", path.display());
            }
        }
        outln!("# {}: valid; resolved with defaults:", path.display());
        outln!("{}", scenario.check_toml());
        outln!("# {}", Reference::shipped()?.setup_line(&scenario));
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

/// Every combination of the scenario's own `[[sweep]]` axes is a valid scenario, as `mro sweep`
/// requires before it runs (a value valid alone can fail beside another: a cluster larger than
/// a thinner foil). Returns how many points were checked and their warnings, grouped.
fn check_combinations(
    path: &std::path::Path,
    scenario: &Scenario,
) -> anyhow::Result<(usize, PointWarnings)> {
    let n = point_count(&scenario.sweep).unwrap_or(usize::MAX);
    let checked = n.min(COMBINATIONS_CHECKED);
    let mut per_point = Vec::with_capacity(checked);
    let mut band = Vec::with_capacity(checked);
    for i in 0..checked {
        let point = apply(scenario, &point_at(&scenario.sweep, i))
            .map_err(|e| bad_input(format!("{}: sweep point {i}: {e}", path.display())))?;
        per_point.push((i, point.warnings()));
        band.push(defaulted_band_limit(&point));
    }
    warn_band_limit_spread(&mut per_point, &band);
    if n > COMBINATIONS_CHECKED {
        eprintln!(
            "mro: note: {}: checked the first {COMBINATIONS_CHECKED} sweep points; `mro sweep` \
             checks every combination before it runs",
            path.display()
        );
    }
    Ok((checked, warnings_by_point(per_point)))
}
