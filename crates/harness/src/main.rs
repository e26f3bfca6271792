//! `mro`: simulate 4D-STEM nanodiffraction of metallic glasses with planted medium-range order,
//! analyse it the way Im et al. (2018) did, and score the recovery.

use std::process::ExitCode;

use clap::Parser;

mod commands;
mod exit;
mod figures;
mod output;
mod progress;
mod report;
mod runner;
mod scenario;
mod score;
mod sweep;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mro: error: {err:#}");
            exit::code_for(&err)
        }
    }
}
