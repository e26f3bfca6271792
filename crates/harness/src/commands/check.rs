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
            costs
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
        if let Some(costs) = sweep_costs {
            outln!("{}", costs.describe());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the checked points of a sweep cost: the base scenario's estimate need not hold for any
/// of them (an axis may set the source, the scan or the model).
struct SweepCosts {
    /// Points checked.
    checked: usize,
    /// Points in the sweep (`None` when their count overflows).
    total: Option<usize>,
    /// Sum of the checked points' rough times, in s.
    seconds: f64,
    /// The checked point with the longest rough time: its label and estimate.
    costliest: (String, Cost),
    /// The largest peak memory of a checked point, in bytes.
    peak_memory_bytes: f64,
}

impl SweepCosts {
    /// A line for `mro check`.
    fn describe(&self) -> String {
        let (label, cost) = &self.costliest;
        let points = match self.total {
            Some(n) if n == self.checked => format!("{n} points"),
            _ => format!("the first {} points", self.checked),
        };
        format!(
            "# sweep cost: {points}, roughly {} in all (one at a time on 2 cores), peak memory \
             {} at most; the costliest point, {label}:\n{}",
            crate::cost::seconds(self.seconds),
            crate::cost::bytes(self.peak_memory_bytes),
            cost.describe()
        )
    }
}

/// Every combination of the scenario's own `[[sweep]]` axes is a valid scenario, as `mro sweep`
/// requires before it runs (a value valid alone can fail beside another: a cluster larger than
/// a thinner foil). Returns how many points were checked, their warnings, grouped, and their
/// costs (with the no-MRO control when `control`; `None` without a point).
fn check_combinations(
    path: &std::path::Path,
    scenario: &Scenario,
    control: bool,
) -> anyhow::Result<(usize, PointWarnings, Option<SweepCosts>)> {
    let total = point_count(&scenario.sweep);
    let n = total.unwrap_or(usize::MAX);
    let checked = n.min(COMBINATIONS_CHECKED);
    let mut per_point = Vec::with_capacity(checked);
    let mut band = Vec::with_capacity(checked);
    let threads = rayon::current_num_threads();
    let mut costs: Option<SweepCosts> = None;
    for i in 0..checked {
        let at = point_at(&scenario.sweep, i);
        let point = apply(scenario, &at)
            .map_err(|e| bad_input(format!("{}: sweep point {i}: {e}", path.display())))?;
        per_point.push((i, point.warnings()));
        band.push(defaulted_band_limit(&point));
        let cost = Cost::of(&point, threads, control);
        let time = cost.seconds.iter().sum::<f64>();
        let c = costs.get_or_insert_with(|| SweepCosts {
            checked,
            total,
            seconds: 0.0,
            costliest: (label(&at), cost),
            peak_memory_bytes: 0.0,
        });
        c.seconds += time;
        c.peak_memory_bytes = c.peak_memory_bytes.max(cost.peak_memory_bytes);
        if time > c.costliest.1.seconds.iter().sum::<f64>() {
            c.costliest = (label(&at), cost);
        }
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
