//! `meta.json` (schema `mro.meta/1`): a datacube's calibration and, for simulated data, its
//! provenance.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::datacube::{Calibration, CalibrationError};

/// The schema tag of `meta.json`.
pub const META_SCHEMA: &str = "mro.meta/1";

/// Contents of `meta.json`. Measured data carry only the calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Always [`META_SCHEMA`].
    pub schema: String,
    /// The calibration of the datacube beside it.
    pub calibration: Calibration,
    /// Where simulated data came from (scenario, seed, version, model, …); free-form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<serde_json::Value>,
}

/// Why a `meta.json` could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The JSON is malformed or a field has the wrong type.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// serde's message (names the field, line and column).
        source: serde_json::Error,
    },
    /// The schema tag is not `mro.meta/1`.
    #[error("{path}: field `schema` = {found:?}: expected \"{META_SCHEMA}\"")]
    Schema {
        /// The file.
        path: PathBuf,
        /// The tag found.
        found: String,
    },
    /// A calibration value is out of range.
    #[error("{path}: calibration.{source}")]
    Calibration {
        /// The file.
        path: PathBuf,
        /// Which field and why.
        source: CalibrationError,
    },
}

impl Meta {
    /// A `mro.meta/1` record.
    pub fn new(calibration: Calibration, provenance: Option<serde_json::Value>) -> Self {
        Self {
            schema: META_SCHEMA.to_string(),
            calibration,
            provenance,
        }
    }

    /// Reads and checks a `meta.json`.
    pub fn read(path: &Path) -> Result<Self, MetaError> {
        let text = std::fs::read_to_string(path).map_err(|source| MetaError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let meta: Meta = serde_json::from_str(&text).map_err(|source| MetaError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.schema != META_SCHEMA {
            return Err(MetaError::Schema {
                path: path.to_path_buf(),
                found: meta.schema,
            });
        }
        meta.calibration
            .validate()
            .map_err(|source| MetaError::Calibration {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(meta)
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("Meta serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cal = Calibration::new(0.16, 0.32, [64.0, 64.0], 300.0, 1.15, Some(20.0)).unwrap();
        let meta = Meta::new(cal, Some(serde_json::json!({"seed": 2018})));
        let p = dir.path().join("meta.json");
        std::fs::write(&p, meta.to_json()).unwrap();
        assert_eq!(Meta::read(&p).unwrap(), meta);

        std::fs::write(
            &p,
            r#"{"schema":"mro.meta/1","calibration":{"k_pixel_per_nm":0.16}}"#,
        )
        .unwrap();
        let msg = Meta::read(&p).unwrap_err().to_string();
        assert!(
            msg.contains("meta.json") && msg.contains("scan_step_nm"),
            "{msg}"
        );

        let bad = meta.to_json().replace("0.16", "-0.16");
        std::fs::write(&p, bad).unwrap();
        let msg = Meta::read(&p).unwrap_err().to_string();
        assert!(
            msg.contains("k_pixel_per_nm") && msg.contains("-0.16"),
            "{msg}"
        );
    }
}
