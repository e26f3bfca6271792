//! `mro score TRUTH.json ANALYSIS.json [--out SCORE.json]`; the second file may instead be an
//! external estimate (schema `mro.estimate/1`, see [`crate::score`]).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::exit::bad_input;
use crate::output::{check_file, write_file};
use crate::scenario::{Scenario, ScoringSpec};
use crate::score::{
    read_json, score, score_estimate, side_by_side, table, AnalysisDoc, Estimate, TruthDoc,
    ESTIMATE_SCHEMA,
};

/// Arguments of `mro score`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// truth.json written by `mro glass` or `mro simulate`.
    truth: PathBuf,
    /// analysis.json written by `mro analyze`, or an external estimate (`mro.estimate/1`).
    analysis: PathBuf,
    /// Where to write score.json (default: print it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Take the tolerances from this scenario's [scoring] table (default: the defaults).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

/// Scores, prints the table and writes or prints score.json.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let truth: TruthDoc = read_json(&args.truth, "truth.json (mro.truth/1)")?;
    let doc: serde_json::Value = read_json(&args.analysis, "JSON document")?;
    let tolerances = match &args.scenario {
        Some(p) => Scenario::load(p)?.scoring,
        None => ScoringSpec::default(),
    };
    let s = match doc.get("schema").and_then(|v| v.as_str()) {
        Some(ESTIMATE_SCHEMA) => {
            let e: Estimate = read_json(&args.analysis, "estimate (mro.estimate/1)")?;
            check_estimate(&args.analysis, &e)?;
            score_estimate(&truth, &e, &tolerances)
        }
        Some("mro.analysis/1") => {
            let a: AnalysisDoc = read_json(&args.analysis, "analysis.json (mro.analysis/1)")?;
            check_same_sample(args, &truth, &a)?;
            score(&truth, &a, &tolerances)
        }
        other => {
            return Err(bad_input(format!(
                "{}: field `schema` = {}: expected \"mro.analysis/1\" or \"{ESTIMATE_SCHEMA}\"",
                args.analysis.display(),
                other.map_or("missing".to_string(), |s| format!("{s:?}"))
            )))
        }
    };
    let json = serde_json::to_string_pretty(&s)?;
    match &args.out {
        Some(out) => {
            check_file(out, args.force)?;
            write_file(
                out,
                (json
                    + "
")
                .as_bytes(),
            )?;
            out!(
                "{}
{}",
                table(&s),
                side_by_side(&s)
            );
        }
        None => outln!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses (exit status 2) an analysis that cannot be of the truth's sample: another run's seed
/// (both files record the scenario and seed of their run), a foil thickness other than the
/// truth's, or a scan field larger than the truth's extent (a simulated scan lies inside the
/// sample). Fields an older file lacks are not compared.
fn check_same_sample(args: &Args, truth: &TruthDoc, a: &AnalysisDoc) -> anyhow::Result<()> {
    let seed = |p: &Option<mro_core::meta::RunProvenance>| p.as_ref().and_then(|p| p.seed);
    if let (Some(ts), Some(as_)) = (seed(&truth.provenance), seed(&a.provenance)) {
        if ts != as_ {
            let run = |p: &Option<mro_core::meta::RunProvenance>| {
                let p = p.as_ref().expect("has a seed");
                match &p.scenario {
                    Some(name) => format!("scenario {name:?}, seed {}", p.seed.unwrap_or(0)),
                    None => format!("seed {}", p.seed.unwrap_or(0)),
                }
            };
            return Err(bad_input(format!(
                "{}: field `provenance.seed` = {as_} ({}), but {} has `provenance.seed` = {ts} \
                 ({}): expected the analysis of the truth's own run (the same seed)",
                args.analysis.display(),
                run(&a.provenance),
                args.truth.display(),
                run(&truth.provenance),
            )));
        }
    }
    let mismatch = |field: &str, found: String, theirs: &str, expected: String| {
        bad_input(format!(
            "{}: field `{field}` = {found}, but {} has {theirs} = {expected}: expected the \
             analysis of the truth's own run",
            args.analysis.display(),
            args.truth.display()
        ))
    };
    if let (Some(t), Some(at)) = (truth.thickness_nm, a.calibration.thickness_nm) {
        if (at - t).abs() > 1e-6 * t.abs().max(1.0) {
            return Err(mismatch(
                "calibration.thickness_nm",
                format!("{at}"),
                "`thickness_nm`",
                format!("{t}"),
            ));
        }
    }
    if let Some(input) = &a.input {
        let step = a.calibration.scan_step_nm;
        // truth extent is [x, y]; scan points are [y, x].
        for (axis, name) in [(0, "y"), (1, "x")] {
            let field_nm = input.scan_shape[axis] as f64 * step;
            let extent = truth.extent_nm[1 - axis];
            if field_nm > extent * (1.0 + 1e-6) {
                return Err(mismatch(
                    &format!("input.scan_shape[{axis}]"),
                    format!(
                        "{} (× {step} nm = {field_nm:.3} nm along {name})",
                        input.scan_shape[axis]
                    ),
                    &format!("`extent_nm[{}]`", 1 - axis),
                    format!("{extent} nm"),
                ));
            }
        }
    }
    Ok(())
}

/// Refuses an estimate with impossible values (exit status 2), naming the field: a symmetry key
/// that is not an integer 1 … 64, a negative count, diameter, spacing or standard error, a
/// fraction outside [0, 1].
fn check_estimate(path: &std::path::Path, e: &Estimate) -> anyhow::Result<()> {
    use mro_core::check::{in_range, InvalidValue};
    let checked = || -> Result<(), InvalidValue> {
        for (key, t) in &e.body.by_symmetry {
            if !key.parse::<u32>().is_ok_and(|n| (1..=64).contains(&n)) {
                return Err(InvalidValue::new(
                    format!("by_symmetry.{key}"),
                    key,
                    "a symmetry n from 1 to 64 as the key",
                ));
            }
            let field = |name: &str| format!("by_symmetry.{key}.{name}");
            for (name, v) in [
                ("regions", t.regions),
                ("regions_se", t.regions_se),
                ("clusters", t.clusters),
                ("clusters_se", t.clusters_se),
                ("mean_diameter_nm", t.mean_diameter_nm),
                ("mean_diameter_se_nm", t.mean_diameter_se_nm),
                ("volume_fraction_se", t.volume_fraction_se),
                ("spacing_nm", t.spacing_nm),
                ("spacing_se_nm", t.spacing_se_nm),
                ("nearest_neighbor_nm", t.nearest_neighbor_nm),
                ("nearest_neighbor_se_nm", t.nearest_neighbor_se_nm),
            ] {
                match v {
                    Some(v) if !(v.is_finite() && v >= 0.0) => {
                        return Err(InvalidValue::new(field(name), v, "a finite number ≥ 0"))
                    }
                    _ => {}
                }
            }
            t.volume_fraction.map_or(Ok(()), |v| {
                in_range(&field("volume_fraction"), v, 0.0, 1.0, "")
            })?;
        }
        e.body.total_volume_fraction.map_or(Ok(()), |v| {
            in_range("total_volume_fraction", v, 0.0, 1.0, "")
        })
    };
    checked().map_err(|err| bad_input(format!("{}: {err}", path.display())))
}
