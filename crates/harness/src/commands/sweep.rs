//! `mro sweep SCENARIO.toml [--set KEY=V1,V2,…]… --out DIR`: validate every point of a
//! Cartesian product of scenario values, in parallel, into one CSV and plots. The axes are the
//! scenario's `[[sweep]]` tables with the `--set`s laid over them.
//!
//! Resumable: a point whose directory holds `score.json` and the same resolved `scenario.toml`
//! is not run again, and each point's results are complete on disk as soon as it finishes, so an
//! interrupted sweep loses nothing finished. `sweep.csv` and the plots are rebuilt from every
//! point's `score.json`, so a resumed sweep gives the same CSV as an uninterrupted one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::commands::validate::validate_one;
use crate::exit::bad_input;
use crate::figures::line_figure;
use crate::progress;
use crate::report::{machine, Timings};
use crate::scenario::Scenario;
use crate::score::{noise_corrected, Score};
use crate::sweep::{apply, dir_name, label, merge_axes, points, Point, SetArg};

/// Arguments of `mro sweep`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The base scenario (schema mro.scenario/1).
    scenario: PathBuf,
    /// KEY=V1,V2,… for any scenario key (dotted path, e.g. sample.thickness_nm=5,10,20);
    /// repeat for a Cartesian product. Replaces the scenario's [[sweep]] axis of the same key,
    /// or adds an axis.
    #[arg(long = "set", value_name = "KEY=V1,V2,...")]
    sets: Vec<SetArg>,
    /// Output directory: one subdirectory per point, sweep.csv, plots and report.md.
    #[arg(long)]
    out: PathBuf,
    /// Points run at once (each point also uses every core internally).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Start afresh in a directory that holds another sweep.
    #[arg(long)]
    force: bool,
}

/// What identifies a sweep (the base scenario without its axes, and the axes), kept in
/// `sweep.toml` so a resumed run can check it is the same.
fn identity(base: &Scenario, sets: &[SetArg]) -> String {
    let mut s = String::from("# mro sweep: base scenario and --set values\n");
    for set in sets {
        let values: Vec<String> = set.values.iter().map(|v| v.to_string()).collect();
        s.push_str(&format!("# --set {}={}\n", set.key, values.join(",")));
    }
    s + &base.resolved_toml()
}

/// Runs (or resumes) the sweep.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let file = Scenario::load(&args.scenario)?;
    let sets = merge_axes(&file.sweep, &args.sets);
    if sets.is_empty() {
        return Err(bad_input(format!(
            "{}: nothing to sweep: the scenario has no [[sweep]] table and no --set KEY=V1,V2,… was given",
            args.scenario.display()
        )));
    }
    let base = file.without_sweep();
    let points = points(&sets);
    // Every point is checked before any runs.
    let scenarios = points
        .iter()
        .map(|p| {
            apply(&base, p)
                .map_err(|e| bad_input(format!("{}: sweep point {e}", args.scenario.display())))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    std::fs::create_dir_all(&args.out)?;
    let id_path = args.out.join("sweep.toml");
    let id = identity(&base, &sets);
    match std::fs::read_to_string(&id_path) {
        Ok(old) if old != id && !args.force => {
            return Err(bad_input(format!(
                "{}: holds a different sweep; pass --force to start this one there",
                id_path.display()
            )))
        }
        _ => std::fs::write(&id_path, &id)?,
    }

    let started = std::time::Instant::now();
    let bar = progress::bar(points.len() as u64, "sweep");
    let skipped = AtomicUsize::new(0);
    let run_point = |i: usize, point: &Point, scenario: &Scenario| -> anyhow::Result<()> {
        let dir = args.out.join(dir_name(i, point));
        if is_done(&dir, scenario) {
            skipped.fetch_add(1, Ordering::Relaxed);
        } else {
            let command = format!("(point {i} of the sweep in {})", args.out.display());
            // The point's directory belongs to the sweep: a half-written one is replaced.
            validate_one(scenario, &dir, &command, false, true)?;
        }
        bar.inc(1);
        Ok(())
    };
    // `jobs` plain threads take points in order. They are not rayon workers, so each point's
    // own parallel work runs on the global pool with every core (inside a rayon pool of `jobs`
    // threads it would be confined to that pool).
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1).min(points.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= points.len() || first_error.lock().expect("no panics").is_some() {
                    break;
                }
                if let Err(e) = run_point(i, &points[i], &scenarios[i]) {
                    first_error.lock().expect("no panics").get_or_insert(e);
                    break;
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("no panics") {
        return Err(e);
    }
    bar.finish_and_clear();

    let scores = points
        .iter()
        .enumerate()
        .map(|(i, p)| read_score(&args.out.join(dir_name(i, p))))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Points from before timings.json existed show no time.
    let timings: Vec<Option<Timings>> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            std::fs::read_to_string(args.out.join(dir_name(i, p)).join("timings.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
        })
        .collect();
    std::fs::write(args.out.join("sweep.csv"), csv(&sets, &points, &scores))?;
    let plots = plot(&args.out, &sets, &points, &scores)?;
    std::fs::write(
        args.out.join("report.md"),
        report(
            args,
            &base,
            &sets,
            points.iter().zip(&scores).zip(&timings),
            &plots,
            started.elapsed().as_secs_f64(),
        ),
    )?;
    outln!(
        "{} point{} ({} already done) → {}",
        points.len(),
        if points.len() == 1 { "" } else { "s" },
        skipped.load(Ordering::Relaxed),
        args.out.join("sweep.csv").display()
    );
    for (p, s) in points.iter().zip(&scores) {
        outln!(
            "{:<60} odd/even {:.4}{}  tolerances {}",
            label(p),
            s.odd_even_ratio,
            noise_corrected(s),
            if s.all_within_tolerance {
                "held"
            } else {
                "FAILED"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn is_done(dir: &Path, scenario: &Scenario) -> bool {
    dir.join("score.json").is_file()
        && std::fs::read_to_string(dir.join("scenario.toml"))
            .is_ok_and(|t| t == scenario.resolved_toml())
}

fn read_score(dir: &Path) -> anyhow::Result<Score> {
    let path = dir.join("score.json");
    serde_json::from_str(&std::fs::read_to_string(&path)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn csv_field(v: &toml::Value) -> String {
    let s = match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.contains(',') || s.contains('"') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Long (tidy) CSV: one line per point and scored quantity.
fn csv(sets: &[SetArg], points: &[Point], scores: &[Score]) -> String {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let mut s = String::from("point");
    for set in sets {
        s.push(',');
        s.push_str(&set.key);
    }
    s.push_str(",quantity,method,symmetry,truth,recovered,relative_error,within_tolerance\n");
    for (i, (p, score)) in points.iter().zip(scores).enumerate() {
        let prefix: String = std::iter::once(i.to_string())
            .chain(p.iter().map(|(_, v)| csv_field(v)))
            .collect::<Vec<_>>()
            .join(",");
        s.push_str(&format!(
            "{prefix},odd_even_ratio,,,,{},,\n",
            score.odd_even_ratio
        ));
        if let Some(r) = score.odd_even_ratio_noise_corrected {
            s.push_str(&format!(
                "{prefix},odd_even_ratio_noise_corrected,,,,{r},,\n"
            ));
        }
        s.push_str(&format!(
            "{prefix},all_within_tolerance,,,,{},,\n",
            u8::from(score.all_within_tolerance)
        ));
        for r in &score.rows {
            s.push_str(&format!(
                "{prefix},{},{},{},{},{},{},{}\n",
                r.quantity,
                r.method,
                r.symmetry.map_or(String::new(), |n| n.to_string()),
                opt(r.truth),
                opt(r.recovered),
                opt(r.relative_error),
                r.within_tolerance.map_or(String::new(), |b| b.to_string())
            ));
        }
    }
    s
}

/// The metric plotted per point: an odd/even ratio, or the mean |relative error| of a quantity
/// of the scored method over the symmetries that have one.
fn metric(score: &Score, quantity: &str) -> Option<f64> {
    match quantity {
        "odd_even_ratio" => return Some(score.odd_even_ratio),
        "odd_even_ratio_noise_corrected" => return score.odd_even_ratio_noise_corrected,
        _ => {}
    }
    let errs: Vec<f64> = score
        .rows
        .iter()
        .filter(|r| r.quantity == quantity && r.method == score.method)
        .filter_map(|r| r.relative_error.map(f64::abs))
        .collect();
    (!errs.is_empty()).then(|| errs.iter().sum::<f64>() / errs.len() as f64)
}

/// Plots each metric against the first numeric swept key, one line per combination of the
/// other keys. Returns the files written.
fn plot(
    out: &Path,
    sets: &[SetArg],
    points: &[Point],
    scores: &[Score],
) -> anyhow::Result<Vec<(String, String)>> {
    let as_f64 = |v: &toml::Value| match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    };
    let Some(x_key) = (0..sets.len()).find(|&k| points.iter().all(|p| as_f64(&p[k].1).is_some()))
    else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for (quantity, title, y_label, log_y) in [
        (
            "odd_even_ratio",
            "Odd/even angular power ratio",
            "Σ odd P_n / Σ even P_n",
            true,
        ),
        (
            "odd_even_ratio_noise_corrected",
            "Odd/even angular power ratio, shot noise removed",
            "Σ odd (P_n − floor) / Σ even (P_n − floor)",
            false,
        ),
        (
            "total_volume_fraction",
            "Total volume fraction (paper correction)",
            "|relative error|",
            false,
        ),
        (
            "mean_diameter_corrected_nm",
            "Region diameter (probe-corrected)",
            "mean |relative error| over n",
            false,
        ),
        (
            "spacing_nm",
            "Spacing from σ(r)",
            "mean |relative error| over n",
            false,
        ),
    ] {
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for (p, s) in points.iter().zip(scores) {
            let Some(y) = metric(s, quantity) else {
                continue;
            };
            let others: Vec<(String, toml::Value)> = p
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != x_key)
                .map(|(_, kv)| kv.clone())
                .collect();
            let name = if others.is_empty() {
                quantity.to_string()
            } else {
                label(&others)
            };
            let x = as_f64(&p[x_key].1).expect("numeric key");
            match series.iter_mut().find(|s| s.0 == name) {
                Some(s) => s.1.push((x, y)),
                None => series.push((name, vec![(x, y)])),
            }
        }
        if series.is_empty() {
            continue;
        }
        let file = format!("sweep_{quantity}.png");
        line_figure(
            &out.join(&file),
            title,
            &sets[x_key].key,
            y_label,
            &series,
            log_y,
        )?;
        files.push((file, title.to_string()));
    }
    Ok(files)
}

/// `report.md`: the command, the axes, the machine, seed and timings, one row per point
/// (with its score and stage timings), and the plots.
fn report<'a>(
    args: &Args,
    base: &Scenario,
    axes: &[SetArg],
    outcomes: impl Iterator<Item = ((&'a Point, &'a Score), &'a Option<Timings>)>,
    plots: &[(String, String)],
    run_s: f64,
) -> String {
    let values = |set: &SetArg| {
        set.values
            .iter()
            .map(|v| csv_field(v).trim_matches('"').to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut command = format!("cargo run --release -- sweep {}", args.scenario.display());
    for set in &args.sets {
        command += &format!(" --set {}={}", set.key, values(set));
    }
    let mut s = format!(
        "# Sweep report: `{}`\n\nRegenerate with:\n\n```sh\n{command} --out {}\n```\n\nAxes (first varies slowest):\n\n",
        args.scenario.display(),
        args.out.display()
    );
    for set in axes {
        s += &format!("- `{}` = {}\n", set.key, values(set));
    }
    s += "\n";
    s += &format!(
        "mro {} on {}; seed {} for every point. This run took {run_s:.1} s (finished points are \
         skipped on a re-run). Each point's full report is in its directory; every number is in \
         `sweep.csv`.\n\n",
        env!("CARGO_PKG_VERSION"),
        machine(),
        base.seed
    );
    s += "| point | odd/even ratio | odd/even, shot noise removed | total volume fraction (truth → recovered) | tolerances | time (glass + simulate + analyze) |\n|---|---|---|---|---|---|\n";
    for ((p, sc), t) in outcomes {
        let total = sc
            .rows
            .iter()
            .find(|r| r.quantity == "total_volume_fraction");
        let fmt = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.4}"));
        s += &format!(
            "| {} | {:.4} | {} | {} → {} | {} | {} |\n",
            label(p),
            sc.odd_even_ratio,
            fmt(sc.odd_even_ratio_noise_corrected),
            fmt(total.and_then(|r| r.truth)),
            fmt(total.and_then(|r| r.recovered)),
            if sc.all_within_tolerance {
                "held"
            } else {
                "failed"
            },
            t.map_or("—".into(), |t| format!(
                "{:.1} s ({:.1} + {:.1} + {:.1})",
                t.total_s(),
                t.glass_s,
                t.simulate_s,
                t.analyze_s
            ))
        );
    }
    for (file, title) in plots {
        s += &format!("\n![{title}]({file})\n\n*{title}*\n");
    }
    s
}
