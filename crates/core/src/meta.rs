//! `meta.json` (schema `mro.meta/1`): a datacube's calibration and, for simulated data, its
//! provenance.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::datacube::{Calibration, CalibrationError};

/// The schema tag of `meta.json`.
pub const META_SCHEMA: &str = "mro.meta/1";

/// The physical range of one calibration field: values outside it are refused wherever a
/// calibration is made (`meta.json`, `mro analyze`'s flags, simulations), naming the field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationRange {
    /// The field of `meta.json`'s `calibration`.
    pub field: &'static str,
    /// Smallest accepted value (inclusive).
    pub lo: f64,
    /// Largest accepted value (inclusive).
    pub hi: f64,
    /// What was expected, as error messages say it.
    pub expected: &'static str,
}

/// The range of every numeric calibration field. They are wide: each bound lies an order of
/// magnitude or more beyond any instrument, so a value outside is a unit or typing error, not
/// an unusual experiment.
///
/// - `k_pixel_per_nm` 10⁻⁴–10 nm⁻¹ per pixel: nanodiffraction detectors sample 0.01–0.5
///   nm⁻¹ per pixel; at 10⁻⁴ a 128-pixel detector spans 0.013 nm⁻¹, far inside any diffraction
///   ring, and at 10 one pixel is wider than the whole 1–10 nm⁻¹ range MRO rings lie in.
/// - `scan_step_nm` 10⁻³–1000 nm: probe steps are 0.05–5 nm for MRO; 1 pm is below any
///   scan's precision, and 1 µm steps are SEM-scale mapping with no nanodiffraction meaning.
/// - `voltage_kv` 1–3000 kV: transmission microscopes run at 20–300 kV (a few at 1–3 MV).
/// - `semiangle_mrad` 0.05–100 mrad: nanodiffraction probes use 0.1–3 mrad, atomic-resolution
///   probes up to ~50 mrad.
/// - `thickness_nm` up to 10 000 nm (10 µm; any positive value below): even a 3 MV beam
///   crosses no more than a few µm of metal.
pub const CALIBRATION_RANGES: [CalibrationRange; 5] = [
    CalibrationRange {
        field: "k_pixel_per_nm",
        lo: 1e-4,
        hi: 10.0,
        expected: "a detector pixel size in [0.0001, 10] nm⁻¹ per pixel",
    },
    CalibrationRange {
        field: "scan_step_nm",
        lo: 1e-3,
        hi: 1000.0,
        expected: "a probe step in [0.001, 1000] nm",
    },
    CalibrationRange {
        field: "voltage_kv",
        lo: 1.0,
        hi: 3000.0,
        expected: "an accelerating voltage in [1, 3000] kV",
    },
    CalibrationRange {
        field: "semiangle_mrad",
        lo: 0.05,
        hi: 100.0,
        expected: "a probe convergence semiangle in [0.05, 100] mrad",
    },
    CalibrationRange {
        field: "thickness_nm",
        lo: f64::MIN_POSITIVE,
        hi: 10_000.0,
        expected: "a foil thickness in (0, 10000] nm",
    },
];

/// The range of calibration field `field` (one of [`CALIBRATION_RANGES`]).
///
/// # Panics
/// If `field` has no range.
pub fn calibration_range(field: &str) -> &'static CalibrationRange {
    CALIBRATION_RANGES
        .iter()
        .find(|r| r.field == field)
        .unwrap_or_else(|| panic!("no range for calibration field {field}"))
}

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

/// Which run a datacube came from: the scenario name and master seed of a simulation (from
/// `meta.json`'s `provenance`), recorded in `truth.json` and `analysis.json` so that `mro score`
/// can refuse a truth and an analysis of different runs. Both are absent for measured data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunProvenance {
    /// The scenario's `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The scenario's master `seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl RunProvenance {
    /// The scenario name and seed of a `meta.json` `provenance` object (`None` when it holds
    /// neither). The seed is left out when the scenario imaged atoms from a file
    /// (`resolved_scenario.sample.atoms`): it did not build that glass.
    pub fn from_meta(provenance: &serde_json::Value) -> Option<Self> {
        let imported = provenance
            .pointer("/resolved_scenario/sample/atoms")
            .is_some_and(|a| !a.is_null());
        let p = Self {
            scenario: provenance
                .get("scenario")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            seed: provenance
                .get("seed")
                .and_then(serde_json::Value::as_u64)
                .filter(|_| !imported),
        };
        (p.scenario.is_some() || p.seed.is_some()).then_some(p)
    }
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
    /// A field is missing, unknown or of the wrong form.
    #[error("{path}: field `{field}`{found}: expected {expected}")]
    Field {
        /// The file.
        path: PathBuf,
        /// Dotted path of the field, e.g. `calibration.center_px`.
        field: String,
        /// `" = VALUE"` as written, or `" is missing"` / `" is not a known field"`.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// A calibration value is out of range.
    #[error("{path}: field `calibration.{}` = {}: expected {}", source.field, source.value, source.expected)]
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

    /// Reads and checks a `meta.json`. A UTF-8 byte-order mark is skipped. Every field is
    /// checked by name, so an error names the file and the field (`calibration.center_px`)
    /// rather than a position in the text.
    ///
    /// # Errors
    /// [`MetaError`] naming the file and, for content errors, the field and what was expected.
    pub fn read(path: &Path) -> Result<Self, MetaError> {
        let text = std::fs::read_to_string(path).map_err(|source| MetaError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks the text of a `meta.json`; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, MetaError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| MetaError::Json {
                path: path.to_path_buf(),
                source,
            })?;
        let field = |field: &str, found: String, expected: &str| MetaError::Field {
            path: path.to_path_buf(),
            field: field.to_string(),
            found,
            expected: expected.to_string(),
        };
        let shown = |v: &serde_json::Value| {
            let s = v.to_string();
            let s = if s.chars().count() > 60 {
                format!("{}…", s.chars().take(60).collect::<String>())
            } else {
                s
            };
            format!(" = {s}")
        };
        let top = value
            .as_object()
            .ok_or_else(|| field("(top level)", shown(&value), "a JSON object"))?;
        for key in top.keys() {
            if !["schema", "calibration", "provenance"].contains(&key.as_str()) {
                return Err(field(
                    key,
                    " is not a known field".into(),
                    "only schema, calibration and provenance",
                ));
            }
        }
        let schema = match top.get("schema") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => return Err(field("schema", shown(v), &format!("\"{META_SCHEMA}\""))),
            None => {
                return Err(field(
                    "schema",
                    " is missing".into(),
                    &format!("\"{META_SCHEMA}\""),
                ))
            }
        };
        if schema != META_SCHEMA {
            return Err(MetaError::Schema {
                path: path.to_path_buf(),
                found: schema,
            });
        }
        let cal = match top.get("calibration") {
            Some(serde_json::Value::Object(c)) => c,
            Some(v) => {
                return Err(field(
                    "calibration",
                    shown(v),
                    "an object of calibration values",
                ))
            }
            None => {
                return Err(field(
                    "calibration",
                    " is missing".into(),
                    "an object of calibration values",
                ))
            }
        };
        const KEYS: [&str; 6] = [
            "k_pixel_per_nm",
            "scan_step_nm",
            "center_px",
            "voltage_kv",
            "semiangle_mrad",
            "thickness_nm",
        ];
        for key in cal.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(field(
                    &format!("calibration.{key}"),
                    " is not a known field".into(),
                    "one of k_pixel_per_nm, scan_step_nm, center_px, voltage_kv, semiangle_mrad, thickness_nm",
                ));
            }
        }
        let number = |key: &str| -> Result<Option<f64>, MetaError> {
            match cal.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| field(&format!("calibration.{key}"), shown(v), "a number")),
            }
        };
        let required = |key: &str, what: &str| -> Result<f64, MetaError> {
            number(key)?
                .ok_or_else(|| field(&format!("calibration.{key}"), " is missing".into(), what))
        };
        let k_pixel_per_nm = required("k_pixel_per_nm", "the detector pixel size in nm⁻¹")?;
        let scan_step_nm = required("scan_step_nm", "the probe step in nm")?;
        let center = match cal.get("center_px") {
            Some(serde_json::Value::Array(a))
                if a.len() == 2 && a.iter().all(serde_json::Value::is_number) =>
            {
                [
                    a[0].as_f64().unwrap_or(f64::NAN),
                    a[1].as_f64().unwrap_or(f64::NAN),
                ]
            }
            Some(v) => {
                return Err(field(
                    "calibration.center_px",
                    shown(v),
                    "[y, x]: two numbers, the pattern centre in detector pixels",
                ))
            }
            None => {
                return Err(field(
                    "calibration.center_px",
                    " is missing".into(),
                    "[y, x]: two numbers, the pattern centre in detector pixels",
                ))
            }
        };
        let calibration = Calibration::new(
            k_pixel_per_nm,
            scan_step_nm,
            center,
            required("voltage_kv", "the accelerating voltage in kV")?,
            required("semiangle_mrad", "the probe convergence semiangle in mrad")?,
            number("thickness_nm")?,
        )
        .map_err(|source| MetaError::Calibration {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            schema,
            calibration,
            provenance: top.get("provenance").cloned(),
        })
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
            msg.contains("field `calibration.k_pixel_per_nm` = -0.16")
                && !msg.contains("calibration.calibration"),
            "{msg}"
        );
    }

    /// Positive but absurd calibrations (a semiangle of 10⁵ mrad, a step of 1 m) are refused,
    /// naming the file, the field and the range; the bounds themselves are accepted.
    #[test]
    fn calibrations_outside_their_physical_range_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.json");
        let cal = Calibration::new(0.16, 0.32, [64.0, 64.0], 300.0, 1.15, Some(20.0)).unwrap();
        let good = Meta::new(cal, None).to_json();
        for (from, to, field) in [
            ("1.15", "100000.0", "semiangle_mrad"),
            ("0.32", "1000000000.0", "scan_step_nm"),
            ("0.16", "1e-6", "k_pixel_per_nm"),
            ("300.0", "1e6", "voltage_kv"),
            ("20.0", "1e6", "thickness_nm"),
        ] {
            std::fs::write(&p, good.replace(from, to)).unwrap();
            let msg = Meta::read(&p).unwrap_err().to_string();
            let range = calibration_range(field);
            assert!(
                msg.contains("meta.json")
                    && msg.contains(&format!("field `calibration.{field}`"))
                    && msg.contains(range.expected),
                "{msg}"
            );
        }
        for r in CALIBRATION_RANGES {
            let at = |v: f64| {
                let mut c = [0.16, 0.32, 300.0, 1.15, 20.0];
                let i = [
                    "k_pixel_per_nm",
                    "scan_step_nm",
                    "voltage_kv",
                    "semiangle_mrad",
                ]
                .iter()
                .position(|f| *f == r.field)
                .unwrap_or(4);
                c[i] = v;
                Calibration::new(c[0], c[1], [64.0, 64.0], c[2], c[3], Some(c[4]))
            };
            assert!(at(r.lo).is_ok() && at(r.hi).is_ok(), "{}", r.field);
            assert!(at(r.hi * 1.01).is_err(), "{}", r.field);
        }
    }

    #[test]
    fn byte_order_mark_is_skipped_and_fields_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.json");
        let cal = Calibration::new(0.16, 0.32, [64.0, 64.0], 300.0, 1.15, None).unwrap();
        let meta = Meta::new(cal, None);
        std::fs::write(&p, format!("\u{feff}{}", meta.to_json())).unwrap();
        assert_eq!(Meta::read(&p).unwrap(), meta);
        std::fs::write(&p, meta.to_json().replace("64.0\n", "64.0, 3.0\n")).unwrap();
        let msg = Meta::read(&p).unwrap_err().to_string();
        assert!(
            msg.contains("meta.json")
                && msg.contains("field `calibration.center_px` = [64.0,64.0,3.0]"),
            "{msg}"
        );
        std::fs::write(&p, meta.to_json().replace("voltage_kv", "voltage")).unwrap();
        let msg = Meta::read(&p).unwrap_err().to_string();
        assert!(
            msg.contains("`calibration.voltage` is not a known field"),
            "{msg}"
        );
        std::fs::write(&p, meta.to_json().replace("300.0", "\"300\"")).unwrap();
        let msg = Meta::read(&p).unwrap_err().to_string();
        assert!(
            msg.contains("`calibration.voltage_kv` = \"300\": expected a number"),
            "{msg}"
        );
    }
}
