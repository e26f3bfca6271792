//! `mro score TRUTH.json ANALYSIS.json [--out SCORE.json]`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::output::{check_file, write_file};
use crate::scenario::{Scenario, ScoringSpec};
use crate::score::{read_json, score, table, AnalysisDoc, TruthDoc};

/// Arguments of `mro score`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// truth.json written by `mro glass` or `mro simulate`.
    truth: PathBuf,
    /// analysis.json written by `mro analyze`.
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
    let analysis: AnalysisDoc = read_json(&args.analysis, "analysis.json (mro.analysis/1)")?;
    let tolerances = match &args.scenario {
        Some(p) => Scenario::load(p)?.scoring,
        None => ScoringSpec::default(),
    };
    let s = score(&truth, &analysis, &tolerances);
    let json = serde_json::to_string_pretty(&s)?;
    match &args.out {
        Some(out) => {
            check_file(out, args.force)?;
            write_file(out, (json + "\n").as_bytes())?;
            out!("{}", table(&s));
        }
        None => outln!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}
