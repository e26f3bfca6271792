//! `mro score TRUTH.json ANALYSIS.json [--out SCORE.json]`; the second file may instead be an
//! external estimate (schema `mro.estimate/1`, see [`crate::score`]).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::exit::bad_input;
use crate::output::{check_file, write_file};
use crate::scenario::{Scenario, ScoringSpec};
use crate::score::{
    from_json, read_json, score, score_estimate, side_by_side, table, AnalysisDoc, Estimate,
    TruthDoc, ESTIMATE_SCHEMA,
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

/// Scores, prints the table and writes or prints score.json; exit status 3 when a score is
/// outside its tolerance.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let truth_doc: serde_json::Value = read_json(&args.truth, "JSON document")?;
    objects_where_expected(
        &args.truth,
        &truth_doc,
        &[
            &[],
            &["clusters", "*"],
            &["by_symmetry", "*"],
            &["placement"],
            &["provenance"],
        ],
    )?;
    let truth: TruthDoc = from_json(&args.truth, "truth.json (mro.truth/1)", &truth_doc)?;
    truth.check(&args.truth)?;
    let doc: serde_json::Value = read_json(&args.analysis, "JSON document")?;
    let scenario = match &args.scenario {
        Some(p) => Some((p.as_path(), Scenario::load(p)?)),
        None => None,
    };
    let tolerances = scenario
        .as_ref()
        .map_or_else(ScoringSpec::default, |(_, s)| s.scoring.clone());
    let s = match doc.get("schema").and_then(|v| v.as_str()) {
        Some(ESTIMATE_SCHEMA) => {
            objects_where_expected(
                &args.analysis,
                &doc,
                &[
                    &[],
                    &["by_symmetry", "*"],
                    &["by_symmetry", "*", "region_list", "*"],
                ],
            )?;
            check_estimate_keys(&args.analysis, &doc)?;
            let e: Estimate = from_json(&args.analysis, "estimate (mro.estimate/1)", &doc)?;
            check_estimate(&args.analysis, &e)?;
            if let (Some(shape), Some(step)) = (e.scan_shape, e.scan_step_nm) {
                field_inside(args, &truth, "scan_shape", shape, step)?;
            }
            score_estimate(&truth, &e, &tolerances)
        }
        Some("mro.analysis/1") => {
            objects_where_expected(
                &args.analysis,
                &doc,
                &[
                    &["input"],
                    &["calibration"],
                    &["config"],
                    &["variance"],
                    &["power_spectrum"],
                    &["provenance"],
                    &["by_symmetry", "*"],
                    &["by_symmetry", "*", "region_list", "*"],
                    &["mro"],
                    &["mro", "by_symmetry", "*"],
                    &["mro", "by_symmetry", "*", "region_list", "*"],
                ],
            )?;
            let a: AnalysisDoc = from_json(&args.analysis, "analysis.json (mro.analysis/1)", &doc)?;
            a.check(&args.analysis)?;
            check_same_sample(args, &truth, &a)?;
            if let Some((path, sc)) = &scenario {
                warn_other_settings(&args.analysis, &a.config, path, &sc.analysis);
            }
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
            // --force replaces what the user wrote, but not the files being scored.
            let same = |input: &std::path::Path| {
                std::fs::canonicalize(input)
                    .ok()
                    .zip(std::fs::canonicalize(out).ok())
                    .is_some_and(|(a, b)| a == b)
            };
            if same(&args.truth) || same(&args.analysis) {
                return Err(bad_input(format!(
                    "--out {}: is an input of this score: write the score to another file",
                    out.display()
                )));
            }
            check_file(out, args.force)?;
            write_file(out, (json + "\n").as_bytes())?;
            out!("{}\n{}", table(&s), side_by_side(&s));
        }
        None => outln!("{json}"),
    }
    // As `validate`: a score outside its tolerance is exit status 3, its files complete.
    Ok(if s.all_within_tolerance {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::validate::TOLERANCE_FAILED)
    })
}

/// Refuses (exit status 2) a value at one of `paths` (keys, `*` for every entry of an object
/// or array) that is present and not null but not a JSON object: serde reads a struct from an
/// array by position, so `"4": [1]` would score as 1 region, past the check of unknown keys.
fn objects_where_expected(
    path: &std::path::Path,
    doc: &serde_json::Value,
    paths: &[&[&str]],
) -> anyhow::Result<()> {
    fn walk(
        v: &serde_json::Value,
        rest: &[&str],
        at: String,
    ) -> Result<(), (String, &'static str)> {
        let Some((head, tail)) = rest.split_first() else {
            return match v {
                serde_json::Value::Object(_) | serde_json::Value::Null => Ok(()),
                serde_json::Value::Array(_) => Err((at, "an array")),
                _ => Err((at, "a plain value")),
            };
        };
        let join = |k: &str| {
            if at.is_empty() {
                k.to_string()
            } else {
                format!("{at}.{k}")
            }
        };
        match (*head, v) {
            ("*", serde_json::Value::Object(m)) => {
                m.iter().try_for_each(|(k, x)| walk(x, tail, join(k)))
            }
            ("*", serde_json::Value::Array(a)) => a
                .iter()
                .enumerate()
                .try_for_each(|(i, x)| walk(x, tail, format!("{at}[{i}]"))),
            (key, serde_json::Value::Object(m)) => match m.get(key) {
                Some(x) => walk(x, tail, join(key)),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
    for p in paths {
        if let Err((at, found)) = walk(doc, p, String::new()) {
            let field = if at.is_empty() {
                "the document".to_string()
            } else {
                format!("field `{at}`")
            };
            return Err(bad_input(format!(
                "{}: {field} is {found}: expected an object of named fields",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Warns when `--scenario` sets the in-condition correction (fraction or acceptance) otherwise
/// than the analysis was made with: only its `[scoring]` is used, and a user who gave it may
/// expect its `[analysis]` to apply too.
fn warn_other_settings(
    analysis: &std::path::Path,
    made: &crate::score::ConfigDoc,
    scenario: &std::path::Path,
    wanted: &mro_analysis::AnalysisConfig,
) {
    let differ: Vec<String> = [
        (
            "in_condition_fraction",
            wanted.in_condition_fraction,
            made.in_condition_fraction,
        ),
        ("acceptance_deg", wanted.acceptance_deg, made.acceptance_deg),
    ]
    .into_iter()
    .filter(|(_, w, m)| (w - m).abs() > 1e-12)
    .map(|(key, w, m)| format!("analysis.{key} = {w} (the analysis used {m})"))
    .collect();
    if !differ.is_empty() {
        eprintln!(
            "mro: warning: {} sets {}: `mro score` takes only its [scoring] tolerances and scores \
             {} as it was made; analyse with `--config {}` to use its settings",
            scenario.display(),
            differ.join(", "),
            analysis.display(),
            scenario.display()
        );
    }
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
    match &a.input {
        Some(input) => field_inside(
            args,
            truth,
            "input.scan_shape",
            input.scan_shape,
            a.calibration.scan_step_nm,
        ),
        None => Ok(()),
    }
}

/// Refuses (exit status 2) a scan field larger than the truth's extent: a simulated scan lies
/// inside the sample, so the file cannot be of this truth's run.
fn field_inside(
    args: &Args,
    truth: &TruthDoc,
    field: &str,
    shape: [usize; 2],
    step: f64,
) -> anyhow::Result<()> {
    // truth extent is [x, y]; scan points are [y, x].
    for (axis, name) in [(0, "y"), (1, "x")] {
        let field_nm = shape[axis] as f64 * step;
        let extent = truth.extent_nm[1 - axis];
        if field_nm > extent * (1.0 + 1e-6) {
            return Err(bad_input(format!(
                "{}: field `{field}[{axis}]` = {} (× {step} nm = {field_nm:.3} nm along {name}), \
                 but {} has `extent_nm[{}]` = {extent} nm: expected a scan inside the truth's \
                 sample (of the truth's own run)",
                args.analysis.display(),
                shape[axis],
                args.truth.display(),
                1 - axis
            )));
        }
    }
    Ok(())
}

/// The keys an object of an estimate may hold, from the types that read it (serialised with
/// every value absent, each field is a key).
fn accepted_keys(example: impl serde::Serialize) -> Vec<String> {
    match serde_json::to_value(example) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Refuses (exit status 2) an estimate holding a key mro does not read — a misspelt
/// `volume_fraktion` would otherwise score as "not recovered" without a word — naming the key,
/// the file and the keys accepted there.
fn check_estimate_keys(path: &std::path::Path, doc: &serde_json::Value) -> anyhow::Result<()> {
    use crate::score::{EstimateBody, EstimateType, RegionDoc};
    let top = accepted_keys(Estimate {
        schema: String::new(),
        method: String::new(),
        scan_step_nm: None,
        scan_shape: None,
        body: EstimateBody::default(),
    });
    let per_n = accepted_keys(EstimateType::default());
    let region = accepted_keys(RegionDoc {
        centroid_px: [0.0; 2],
        diameter_nm: None,
        fwhm_nm: None,
    });
    let unknown = |field: String, accepted: &[String]| {
        bad_input(format!(
            "{}: field `{field}` is not a known field of an estimate (mro.estimate/1): expected one of {}",
            path.display(),
            accepted.join(", ")
        ))
    };
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map_or_else(Vec::new, |m| m.keys().cloned().collect())
    };
    for k in keys(doc) {
        if !top.contains(&k) {
            return Err(unknown(k, &top));
        }
    }
    if let Some(by) = doc.get("by_symmetry").and_then(|v| v.as_object()) {
        for (n, t) in by {
            for k in keys(t) {
                if !per_n.contains(&k) {
                    return Err(unknown(format!("by_symmetry.{n}.{k}"), &per_n));
                }
                // The flattened body hides the field from the reader's own error: name it here.
                let v = &t[&k];
                let numeric = !matches!(k.as_str(), "region_list" | "null_reasons");
                if numeric && !(v.is_number() || v.is_null()) {
                    return Err(bad_input(format!(
                        "{}: field `by_symmetry.{n}.{k}` = {v}: expected a number or null",
                        path.display()
                    )));
                }
            }
            let regions = t.get("region_list").and_then(|v| v.as_array());
            for (i, r) in regions.into_iter().flatten().enumerate() {
                for k in keys(r) {
                    if !region.contains(&k) {
                        return Err(unknown(
                            format!("by_symmetry.{n}.region_list[{i}].{k}"),
                            &region,
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Refuses an estimate with impossible values (exit status 2), naming the field: a method
/// named as a built-in one, a `scan_shape` without a step or with no point, then its answer as
/// [`crate::score::EstimateBody::check`] does.
fn check_estimate(path: &std::path::Path, e: &Estimate) -> anyhow::Result<()> {
    use mro_core::check::InvalidValue;
    let checked = || -> Result<(), InvalidValue> {
        // Its rows would be indistinguishable from the built-in methods' in the tables.
        let name = e.method.trim().to_lowercase();
        if ["im2018", "mro"].contains(&name.as_str()) || name.is_empty() {
            return Err(InvalidValue::new(
                "method",
                format!("{:?}", e.method),
                "a non-empty name other than \"im2018\" and \"mro\" in any case (the built-in \
                 methods)",
            ));
        }
        // It heads columns of the Markdown and text tables.
        if e.method
            .chars()
            .any(|c| c.is_control() || c == '|' || c == '`')
        {
            return Err(InvalidValue::new(
                "method",
                format!("{:?}", e.method),
                "a name without line breaks, control characters, `|` or backticks (it heads \
                 table columns)",
            ));
        }
        if let Some(shape) = e.scan_shape {
            if e.scan_step_nm.is_none() {
                return Err(InvalidValue::new(
                    "scan_shape",
                    format!("{shape:?}"),
                    "it only with scan_step_nm (the field is placed in the sample by the step)",
                ));
            }
            crate::score::check_scan_shape("scan_shape", shape)?;
        }
        if let Some(v) = e.scan_step_nm {
            crate::score::check_scan_step("scan_step_nm", v)?;
        }
        e.body.check(e.scan_shape)
    };
    checked().map_err(|err| bad_input(format!("{}: {err}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scan step outside the calibration range, or a region off the scan, is refused with
    /// the file and the field; a sound estimate passes.
    #[test]
    fn estimate_values_out_of_range_are_refused() {
        let path = std::path::Path::new("est.json");
        let estimate = |step: f64, centroid: [f64; 2]| -> Estimate {
            serde_json::from_value(serde_json::json!({
                "schema": ESTIMATE_SCHEMA, "method": "m", "scan_step_nm": step,
                "by_symmetry": {"4": {"regions": 1.0,
                    "region_list": [{"centroid_px": centroid, "diameter_nm": 1.0}]}}
            }))
            .unwrap()
        };
        let with_shape = |mut e: Estimate, shape: [usize; 2]| {
            e.scan_shape = Some(shape);
            e
        };
        assert!(check_estimate(path, &estimate(0.32, [3.0, 4.0])).is_ok());
        assert!(check_estimate(path, &with_shape(estimate(0.32, [3.0, 7.5]), [8, 8])).is_ok());
        for (e, field) in [
            (estimate(0.0, [3.0, 4.0]), "scan_step_nm"),
            (estimate(-1.0, [3.0, 4.0]), "scan_step_nm"),
            (
                Estimate {
                    method: "mro".into(),
                    ..estimate(0.32, [3.0, 4.0])
                },
                "method",
            ),
            (
                with_shape(estimate(0.32, [3.0, 4.0]), [0, 8]),
                "scan_shape[0]",
            ),
            (
                Estimate {
                    scan_step_nm: None,
                    ..with_shape(estimate(0.32, [3.0, 4.0]), [8, 8])
                },
                "scan_shape",
            ),
            (
                with_shape(estimate(0.32, [3.0, 7.6]), [8, 8]),
                "by_symmetry.4.region_list[0].centroid_px[1]",
            ),
            (
                estimate(0.32, [3.0, -3.0]),
                "by_symmetry.4.region_list[0].centroid_px[1]",
            ),
        ] {
            let msg = check_estimate(path, &e).unwrap_err().to_string();
            assert!(msg.contains("est.json") && msg.contains(field), "{msg}");
        }
    }

    /// A key the estimate types do not read is refused with the file, the key's path and the
    /// accepted keys; every key they read is accepted.
    #[test]
    fn unknown_estimate_keys_are_refused() {
        let path = std::path::Path::new("est.json");
        let good = serde_json::json!({
            "schema": "mro.estimate/1", "method": "x", "scan_step_nm": 0.5,
            "by_symmetry": {"4": {"regions": 3, "volume_fraction": 0.02,
                                  "null_reasons": {"spacing_nm": "none"},
                                  "region_list": [{"centroid_px": [1.0, 2.0], "fwhm_nm": 1.0}]}},
            "total_volume_fraction": 0.02, "null_reasons": {}
        });
        assert!(check_estimate_keys(path, &good).is_ok());
        for (pointer, key, field) in [
            ("", "volume", "`volume`"),
            (
                "/by_symmetry/4",
                "volume_fraktion",
                "`by_symmetry.4.volume_fraktion`",
            ),
            (
                "/by_symmetry/4/region_list/0",
                "centre",
                "`by_symmetry.4.region_list[0].centre`",
            ),
        ] {
            let mut bad = good.clone();
            bad.pointer_mut(pointer)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert(key.into(), serde_json::json!(1));
            let msg = check_estimate_keys(path, &bad).unwrap_err().to_string();
            assert!(
                msg.starts_with("est.json: field ")
                    && msg.contains(field)
                    && msg.contains("expected one of"),
                "{msg}"
            );
        }
        let msg = check_estimate_keys(
            path,
            &serde_json::json!({"schema": "mro.estimate/1", "by_symmetry": {"4": {"x": 1}}}),
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("volume_fraction_se") && msg.contains("region_list"),
            "{msg}"
        );
    }
}
