//! `mro check SCENARIO.toml`: validate and print the resolved scenario.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cost::Cost;
use crate::exit::bad_input;
use crate::realism::Reference;
use crate::scenario::Scenario;
use crate::sweep::{
    apply, defaulted_band_limit, label, point_at, point_count, points_phrase,
    warn_band_limit_spread, warnings_by_point, PointWarnings,
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
    let threads = rayon::current_num_threads();
    let control = !args.no_control;
    for path in &args.scenarios {
        let scenario = Scenario::load(path)?;
        let sweep_costs = if scenario.sweep.is_empty() {
            for w in scenario.warnings() {
                eprintln!("mro: warning: {}: {w}", path.display());
            }
            None
        } else {
            // The points' own warnings, as `mro sweep` gives them: the base values a warning
            // is about may be replaced by every point.
            let (checked, warnings, costs) = check_combinations(path, &scenario, control)?;
            for (w, at) in warnings {
                let who = points_phrase(&at, checked);
                eprintln!("mro: warning: {}: {who}: {w}", path.display());
            }
            costs.describe()
        };
        outln!("# {}: valid; resolved with defaults:", path.display());
        outln!("{}", scenario.check_toml());
        outln!("# {}", Reference::shipped()?.setup_line(&scenario));
        if let (Some(imported), Some(atoms)) = (&scenario.imported, &scenario.sample.atoms) {
            outln!(
                "{}",
                imported.describe(atoms, scenario.sample.truth.as_deref())
            );
        }
        outln!("{}", Cost::of(&scenario, threads, control).describe());
        if let Some(line) = sweep_costs {
            outln!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the checked points of a sweep cost: the base scenario's estimate need not hold for any
/// of them (an axis may set the source, the scan or the model).
struct SweepCosts {
    /// Points in the sweep (`None` when their count overflows).
    total: Option<usize>,
    /// Each checked point's label and estimate, in order.
    points: Vec<(String, Cost)>,
}

impl SweepCosts {
    /// A line for `mro check`: the checked points' total time and largest peak memory, then
    /// the estimate of the point with the longest time. `None` without a checked point.
    fn describe(&self) -> Option<String> {
        let time = |c: &Cost| c.seconds.iter().sum::<f64>();
        let (label, costliest) = self
            .points
            .iter()
            .rev() // `max_by` keeps the last of equals: the first point wins a tie
            .max_by(|a, b| time(&a.1).total_cmp(&time(&b.1)))?;
        let checked = self.points.len();
        let points = match self.total {
            Some(n) if n == checked => format!("{n} points"),
            _ => format!("the first {checked} points"),
        };
        Some(format!(
            "# sweep cost: {points}, roughly {} in all (one at a time on 2 cores), peak memory \
             {} at most; the costliest point, {label}:\n{}",
            crate::cost::seconds(self.points.iter().map(|(_, c)| time(c)).sum()),
            crate::cost::bytes(
                self.points
                    .iter()
                    .map(|(_, c)| c.peak_memory_bytes)
                    .fold(0.0, f64::max)
            ),
            costliest.describe()
        ))
    }
}

/// Every combination of the scenario's own `[[sweep]]` axes is a valid scenario, as `mro sweep`
/// requires before it runs (a value valid alone can fail beside another: a cluster larger than
/// a thinner foil). Returns how many points were checked, their warnings, grouped, and their
/// costs (with the no-MRO control when `control`).
fn check_combinations(
    path: &std::path::Path,
    scenario: &Scenario,
    control: bool,
) -> anyhow::Result<(usize, PointWarnings, SweepCosts)> {
    let total = point_count(&scenario.sweep);
    let n = total.unwrap_or(usize::MAX);
    let checked = n.min(COMBINATIONS_CHECKED);
    let mut per_point = Vec::with_capacity(checked);
    let mut band = Vec::with_capacity(checked);
    let threads = rayon::current_num_threads();
    let mut costs = SweepCosts {
        total,
        points: Vec::with_capacity(checked),
    };
    for i in 0..checked {
        let at = point_at(&scenario.sweep, i);
        let point = apply(scenario, &at)
            .map_err(|e| bad_input(format!("{}: sweep point {i}: {e}", path.display())))?;
        per_point.push((i, point.warnings()));
        band.push(defaulted_band_limit(&point));
        costs
            .points
            .push((label(&at), Cost::of(&point, threads, control)));
    }
    warn_band_limit_spread(&mut per_point, &band);
    if n > COMBINATIONS_CHECKED {
        eprintln!(
            "mro: note: {}: checked the first {COMBINATIONS_CHECKED} sweep points; `mro sweep` \
             checks every combination before it runs",
            path.display()
        );
    }
    Ok((checked, warnings_by_point(per_point), costs))
}
