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
            score_estimate(&truth, &e, &tolerances)
        }
        Some("mro.analysis/1") => {
            let a: AnalysisDoc = read_json(&args.analysis, "analysis.json (mro.analysis/1)")?;
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
