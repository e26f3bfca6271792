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

/// Whether an OS error is one the user can fix: no space or quota, no permission, a read-only
/// file system, a missing or non-directory path component, a file too large.
pub fn fixable_io(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    // Linux errno values of the fixable errors that `ErrorKind` names only since Rust 1.83:
    // ENOTDIR, EISDIR, EFBIG, ENOSPC, EROFS, EDQUOT.
    const FIXABLE_ERRNO: [i32; 6] = [20, 21, 27, 28, 30, 122];
    matches!(
        e.kind(),
        K::PermissionDenied | K::NotFound | K::AlreadyExists
    ) || e.raw_os_error().is_some_and(|n| FIXABLE_ERRNO.contains(&n))
}

/// The exit status for an error: 2 if any cause is [`BadInput`] or an OS error the user can fix
/// ([`fixable_io`]), else 1.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    let fixable = |c: &(dyn std::error::Error + 'static)| {
        c.is::<BadInput>() || c.downcast_ref::<std::io::Error>().is_some_and(fixable_io)
    };
    if err.chain().any(fixable) {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}
