//! Scenario files, schema `mro.scenario/1`: the user's description of one experiment.
//!
//! Every key except `schema` has a default (the Im et al. 2018 setup), unknown keys are errors,
//! and every value is checked for physical sense. Errors name the file, the field, the value and
//! what was expected. The sections are the library crates' own recipe types, so a key added there
//! is a key here.

use std::path::Path;

use mro_analysis::AnalysisConfig;
use mro_core::check::{in_range, InvalidValue};
use mro_sim::spec::{
    ClusterSpec, DetectorSpec, MicroscopeSpec, ModelSpec, PlacementSpec, SampleSpec, ScanSpec,
};
use mro_sim::thermal::ThermalSpec;
use serde::{Deserialize, Serialize};

use crate::exit::{bad_input, BadInput};
use crate::sweep::{apply, SetArg};

/// The schema tag every scenario carries.
pub const SCENARIO_SCHEMA: &str = "mro.scenario/1";

/// One scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Always [`SCENARIO_SCHEMA`].
    pub schema: String,
    /// Short name used in reports.
    #[serde(default = "default_name")]
    pub name: String,
    /// Master seed; every random stream derives from it.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The amorphous foil.
    #[serde(default)]
    pub sample: SampleSpec,
    /// The MRO types planted in it (default: the paper's n = 2, 4, 6, 8, 10).
    #[serde(default = "ClusterSpec::paper_set")]
    pub clusters: Vec<ClusterSpec>,
    /// Where cluster centres go.
    #[serde(default)]
    pub placement: PlacementSpec,
    /// Illumination.
    #[serde(default)]
    pub microscope: MicroscopeSpec,
    /// Probe raster.
    #[serde(default)]
    pub scan: ScanSpec,
    /// Detector and dose.
    #[serde(default)]
    pub detector: DetectorSpec,
    /// Forward model.
    #[serde(default)]
    pub model: ModelSpec,
    /// Thermal vibration (frozen phonons).
    #[serde(default)]
    pub thermal: ThermalSpec,
    /// The measurement.
    #[serde(default)]
    pub analysis: AnalysisConfig,
    /// Tolerances for `mro validate`.
    #[serde(default)]
    pub scoring: ScoringSpec,
    /// The axes `mro sweep` runs over when this file is its base (`[[sweep]]` tables of `key`
    /// and `values`, first axis varying slowest); `--set` replaces an axis of the same key or
    /// adds one. `mro validate` runs the scenario itself and ignores them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweep: Vec<SetArg>,
}

fn default_name() -> String {
    "unnamed".to_string()
}

fn default_seed() -> u64 {
    2018
}

/// A toleranced quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Mean region diameter against in-condition clusters.
    Diameter,
    /// Volume fraction per n and in total.
    VolumeFraction,
    /// σ(r) spacing against the projected nearest-neighbour distance.
    Spacing,
}

/// Tolerances on recovered quantities, relative unless named otherwise, and which of them decide
/// whether a validation passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringSpec {
    /// Mean region diameter.
    pub diameter: f64,
    /// Volume fraction per n and in total.
    pub volume_fraction: f64,
    /// Spacing from σ(r).
    pub spacing: f64,
    /// The quantities whose tolerance decides the verdict (default: all three). σ(r) shows a
    /// spacing only when placement is correlated, so random-placement scenarios leave it out.
    pub checks: Vec<Check>,
}

impl Default for ScoringSpec {
    fn default() -> Self {
        Self {
            diameter: 0.25,
            volume_fraction: 0.5,
            spacing: 0.25,
            checks: vec![Check::Diameter, Check::VolumeFraction, Check::Spacing],
        }
    }
}

impl ScoringSpec {
    /// The tolerance of `check`, if it decides the verdict.
    pub fn tolerance(&self, check: Check) -> Option<f64> {
        self.checks.contains(&check).then_some(match check {
            Check::Diameter => self.diameter,
            Check::VolumeFraction => self.volume_fraction,
            Check::Spacing => self.spacing,
        })
    }

    fn validate(&self) -> Result<(), InvalidValue> {
        in_range("diameter", self.diameter, 0.0, 10.0, " (relative)")?;
        in_range(
            "volume_fraction",
            self.volume_fraction,
            0.0,
            10.0,
            " (relative)",
        )?;
        in_range("spacing", self.spacing, 0.0, 10.0, " (relative)")
    }
}

impl Scenario {
    /// Reads, parses and checks a scenario file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("{}: cannot read: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))
    }

    /// Parses and checks scenario text.
    pub fn parse(text: &str) -> Result<Self, BadInput> {
        // The schema tag is checked first so that a file of another kind or version is named as
        // such rather than reported key by key.
        let raw: toml::Table =
            toml::from_str(text).map_err(|e| BadInput(toml_message(text, &e)))?;
        match raw.get("schema") {
            Some(toml::Value::String(s)) if s == SCENARIO_SCHEMA => {}
            Some(other) => {
                return Err(BadInput(format!(
                    "field `schema` = {other}: expected \"{SCENARIO_SCHEMA}\""
                )))
            }
            None => {
                return Err(BadInput(format!(
                    "field `schema` is missing: expected schema = \"{SCENARIO_SCHEMA}\" as the first line"
                )))
            }
        }
        let scenario: Scenario =
            toml::from_str(text).map_err(|e| BadInput(toml_message(text, &e)))?;
        scenario.validate().map_err(|e| BadInput(e.to_string()))?;
        Ok(scenario)
    }

    /// Checks every section and the consistency between them.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if self.name.trim().is_empty() {
            return Err(InvalidValue::new("name", "\"\"", "a non-empty name"));
        }
        self.sample.validate().map_err(|e| e.within("sample"))?;
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in self.clusters.iter().enumerate() {
            let here = format!("clusters[{i}]");
            c.validate().map_err(|e| e.within(&here))?;
            if !seen.insert(c.symmetry) {
                return Err(InvalidValue::new(
                    format!("{here}.symmetry"),
                    c.symmetry,
                    "one [[clusters]] table per symmetry (this n appears twice)",
                ));
            }
            let t = self.sample.thickness_nm;
            if c.diameter_nm + 2.0 * c.diameter_sd_nm > t {
                return Err(InvalidValue::new(
                    format!("{here}.diameter_nm"),
                    c.diameter_nm,
                    format!(
                        "a cluster that fits in the foil: diameter_nm + 2·diameter_sd_nm ≤ sample.thickness_nm = {t} nm"
                    ),
                ));
            }
            let lateral = self.sample.extent_nm[0].min(self.sample.extent_nm[1]);
            if c.diameter_nm > 0.5 * lateral {
                return Err(InvalidValue::new(
                    format!("{here}.diameter_nm"),
                    c.diameter_nm,
                    format!("at most half the lateral extent ({} nm)", 0.5 * lateral),
                ));
            }
        }
        let total: f64 = self.clusters.iter().map(|c| c.volume_fraction).sum();
        in_range("clusters[*].volume_fraction (sum)", total, 0.0, 0.6, "")?;
        self.placement
            .validate()
            .map_err(|e| e.within("placement"))?;
        self.microscope
            .validate()
            .map_err(|e| e.within("microscope"))?;
        self.scan.validate().map_err(|e| e.within("scan"))?;
        for axis in 0..2 {
            let covered = self.scan.points[axis] as f64 * self.scan.step_nm;
            // The sample's extent is [x, y]; the scan's points are [y, x].
            let extent = self.sample.extent_nm[1 - axis];
            if covered > extent * (1.0 + 1e-9) {
                return Err(InvalidValue::new(
                    format!("scan.points[{axis}]"),
                    self.scan.points[axis],
                    format!(
                        "a scan inside the periodic sample: points × step_nm = {covered:.3} nm exceeds sample.extent_nm[{}] = {extent} nm",
                        1 - axis
                    ),
                ));
            }
        }
        self.detector.validate().map_err(|e| e.within("detector"))?;
        self.model.validate().map_err(|e| e.within("model"))?;
        if self.model.slice_nm > self.sample.thickness_nm {
            return Err(InvalidValue::new(
                "model.slice_nm",
                self.model.slice_nm,
                format!(
                    "at most sample.thickness_nm = {} nm",
                    self.sample.thickness_nm
                ),
            ));
        }
        self.thermal.validate().map_err(|e| e.within("thermal"))?;
        self.analysis.validate().map_err(|e| e.within("analysis"))?;
        let k_edge = 0.5
            * self.detector.pixels[0].min(self.detector.pixels[1]) as f64
            * self.detector.k_pixel_per_nm;
        let ring_outer = self.analysis.k_per_nm + 0.5 * self.analysis.ring_width_per_nm;
        if ring_outer > k_edge {
            return Err(InvalidValue::new(
                "analysis.k_per_nm",
                self.analysis.k_per_nm,
                format!(
                    "a ring inside the detector: k_per_nm + ring_width_per_nm/2 ≤ {k_edge} nm⁻¹ (detector.pixels × k_pixel_per_nm / 2)"
                ),
            ));
        }
        self.scoring.validate().map_err(|e| e.within("scoring"))?;
        self.validate_sweep()
    }

    /// Every sweep axis names a scenario key once and each of its values gives a valid scenario
    /// on its own (combinations are checked by `mro sweep` before it runs any point).
    fn validate_sweep(&self) -> Result<(), InvalidValue> {
        let mut keys = std::collections::BTreeSet::new();
        for (i, axis) in self.sweep.iter().enumerate() {
            let here = format!("sweep[{i}]");
            if !keys.insert(axis.key.as_str()) {
                return Err(InvalidValue::new(
                    format!("{here}.key"),
                    format!("\"{}\"", axis.key),
                    "one [[sweep]] table per key (this key appears twice)",
                ));
            }
            if axis.values.is_empty() {
                return Err(InvalidValue::new(
                    format!("{here}.values"),
                    "[]",
                    "at least one value",
                ));
            }
            for value in &axis.values {
                apply(self, &vec![(axis.key.clone(), value.clone())]).map_err(|e| {
                    InvalidValue::new(
                        here.clone(),
                        format!("{} = {value}", axis.key),
                        format!("a value that gives a valid scenario ({})", e.0),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// The scenario without its sweep axes: what one point of a sweep runs.
    pub fn without_sweep(&self) -> Self {
        Self {
            sweep: Vec::new(),
            ..self.clone()
        }
    }

    /// The scenario with every default filled in, as TOML.
    pub fn resolved_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a scenario serialises")
    }
}

/// toml's message, prefixed with the line, column and — where the error sits on a `key = value`
/// line — the dotted path of the field.
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', ", ");
    let Some(span) = e.span() else { return msg };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    match field_at(text, line) {
        Some(field) => format!("field `{field}` (line {line}, column {column}): {msg}"),
        None => format!("line {line}, column {column}: {msg}"),
    }
}

/// The dotted key path of the `key = value` on 1-based `line`, following `[table]` and
/// `[[array]]` headers above it.
fn field_at(text: &str, line: usize) -> Option<String> {
    let mut table = String::new();
    let mut arrays: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.split('#').next().unwrap_or("").trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            let n = arrays.entry(name.trim().to_string()).or_insert(0);
            table = format!("{}[{}]", name.trim(), *n);
            *n += 1;
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            table = name.trim().to_string();
        }
        if i + 1 == line {
            let (key, _) = l.split_once('=')?;
            let key = key.trim().trim_matches('"');
            if key.is_empty() || key.starts_with('[') {
                return None;
            }
            return Some(if table.is_empty() {
                key.to_string()
            } else {
                format!("{table}.{key}")
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_file_is_the_paper_setup() {
        let s = Scenario::parse("schema = \"mro.scenario/1\"\n").unwrap();
        assert_eq!(s.seed, 2018);
        assert_eq!(s.clusters.len(), 5);
        assert_eq!(s.scan.points, [128, 128]);
        assert_eq!(s.detector.k_pixel_per_nm, 0.16);
        // The resolved form parses back to the same scenario.
        assert_eq!(Scenario::parse(&s.resolved_toml()).unwrap(), s);
    }

    #[test]
    fn type_errors_name_the_field_and_line() {
        let text = "schema = \"mro.scenario/1\"\n[[clusters]]\nsymmetry = 4\n[[clusters]]\nsymmetry = 6\ndiameter_nm = \"big\"\n";
        let e = Scenario::parse(text).unwrap_err().to_string();
        assert!(
            e.starts_with("field `clusters[1].diameter_nm` (line 6, column 15): invalid type"),
            "{e}"
        );
    }

    #[test]
    fn noise_free_dose_round_trips() {
        let s = Scenario::parse(
            "schema = \"mro.scenario/1\"\n[detector]\nelectrons_per_pattern = \"inf\"\n",
        )
        .unwrap();
        assert!(s.detector.noise_free());
        assert_eq!(Scenario::parse(&s.resolved_toml()).unwrap(), s);
    }
}
