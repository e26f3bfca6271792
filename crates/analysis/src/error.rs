//! Errors of the analysis library. Every variant names the input, the field and what was
//! expected, so the command line can pass the message straight to the user.

use std::path::PathBuf;

use mro_core::{InvalidValue, NpyError, SourceError};

/// Why an analysis could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// An `[analysis]` setting is out of range.
    #[error("analysis.{0}")]
    Config(#[from] InvalidValue),
    /// Reading the datacube or the mask failed.
    #[error(transparent)]
    Npy(#[from] NpyError),
    /// Opening or reading a datacube file failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The data cannot be analysed as they are (non-finite values, dark frames, no signal);
    /// see [`crate::screen`].
    #[error("{path}: {reason}")]
    Data {
        /// The datacube file (or "datacube" in memory).
        path: PathBuf,
        /// What was found and what to do.
        reason: String,
    },
    /// An array does not have the shape the analysis needs.
    #[error("{what}: shape {found:?}: expected {expected}")]
    Shape {
        /// Which array (file name or role).
        what: String,
        /// The shape found.
        found: Vec<usize>,
        /// What was expected.
        expected: String,
    },
    /// The requested k range or ring does not fit on the detector.
    #[error("field `{field}` = {value}: expected {expected}")]
    Geometry {
        /// The setting or calibration field.
        field: String,
        /// Its value.
        value: f64,
        /// What would fit.
        expected: String,
    },
    /// A mask file is unusable.
    #[error("{path}: {reason}")]
    Mask {
        /// The mask file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
