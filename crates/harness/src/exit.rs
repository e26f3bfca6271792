//! Exit statuses: 0 success, 2 bad input (the message names file, field and expectation),
//! 3 a score outside its tolerance, 1 anything else.

use std::process::ExitCode;

/// Input the user must fix: a malformed or impossible file, argument or value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Wraps any error as bad input.
pub fn bad_input(err: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(BadInput(err.to_string()))
}

/// The exit status for an error: 2 if any cause is [`BadInput`], else 1.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(|c| c.is::<BadInput>()) {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}
