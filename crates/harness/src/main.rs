//! `mro`: simulate 4D-STEM nanodiffraction of metallic glasses with planted medium-range order,
//! analyse it the way Im et al. (2018) did, and score the recovery.

use std::process::ExitCode;

use clap::Parser;

/// Exit status when whoever reads our standard output has gone (`mro … | head`): what a Unix
/// tool killed by SIGPIPE reports (128 + 13), without a panic.
const BROKEN_PIPE: i32 = 141;

/// `print!` to standard output that ends the process quietly when the reader has gone.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout(), $($arg)*) {
            crate::stdout_failed(e);
        }
    }};
}

/// `println!` to standard output that ends the process quietly when the reader has gone.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            crate::stdout_failed(e);
        }
    }};
}

/// Standard output failed: exit 141 if its reader went away, otherwise report it (status 1).
fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(BROKEN_PIPE);
    }
    eprintln!("mro: error: writing to standard output: {e}");
    std::process::exit(1);
}

mod bias;
mod calibration;
mod commands;
mod cost;
mod detectability;
mod document;
mod exit;
mod figures;
mod html;
mod imported;
mod output;
mod progress;
mod realism;
mod report;
mod runner;
mod scenario;
mod score;
mod slurm;
mod sweep;

/// The error and its causes, each cause added only when the text so far does not already say
/// it (library errors often repeat their source: "x.npy: No space left on device" caused by
/// "No space left on device").
fn message(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let c = cause.to_string();
        if !text.contains(&c) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&c);
        }
    }
    text
}

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mro: error: {}", message(&err));
            exit::code_for(&err)
        }
    }
}
