//! Scenario files, schema `mro.scenario/1`: the user's description of one experiment.
//!
//! Every key except `schema` has a default (the Im et al. 2018 setup), unknown keys are errors,
//! and every value is checked for physical sense. Errors name the file, the field, the value and
//! what was expected. The sections are the library crates' own recipe types, so a key added there
//! is a key here.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use mro_analysis::AnalysisConfig;
use mro_core::check::{in_range, InvalidValue};
use mro_sim::glass::GlassError;
use mro_sim::probe::ProbeSpec;
use mro_sim::spec::{
    ClusterSpec, DetectorSpec, MicroscopeSpec, ModelSpec, PlacementMode, PlacementSpec, SampleSpec,
    ScanSpec,
};
use mro_sim::thermal::ThermalSpec;
use serde::{Deserialize, Serialize};

use crate::exit::{bad_input, BadInput};
use crate::imported::Imported;
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
    /// The atom file (and truth) `[sample] atoms` names, read when the scenario is loaded
    /// ([`crate::imported`]); `None` for a glass mro builds.
    #[serde(skip)]
    pub imported: Option<Arc<Imported>>,
}

/// Largest finite dose: counts stay far inside float32 and the Poisson sampler's range.
pub const MAX_ELECTRONS_PER_PATTERN: f64 = 1e12;
/// Smallest gain: one electron's counts stay far above float32's underflow.
pub const MIN_GAIN: f64 = 1e-6;
/// Edge in nm of the trial glass that checks the packing.
const TRIAL_EXTENT_NM: f64 = 5.0;
/// Seed of the trial glass.
const TRIAL_SEED: u64 = 2018;

/// Largest side (nm) of the volume in which `check` tries the cluster placement. Jamming of
/// hard-core random addition is set by the volume fraction, not the volume, so a larger sample
/// is judged on a 64 nm trial of the same fractions (the z walls of the trial make it jam a
/// little earlier: the verdict errs on the side of refusing). Samples up to 64 nm (the paper's
/// 41 × 41 × 20 nm among them) are placed exactly as the run places them.
const PLACEMENT_TRIAL_NM: f64 = 64.0;

fn default_name() -> String {
    "unnamed".to_string()
}

fn default_seed() -> u64 {
    2018
}

/// How much of a scenario a command checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// Every section: what `check`, `simulate`, `validate` and `sweep` run.
    All,
    /// What the glass build reads: what `glass` runs.
    Glass,
}

/// Share of the probe's intensity beyond half the per-probe window above which a scenario is
/// warned about ([`Scenario::warnings`]): at the paper's 0.16 nm⁻¹ pixels and 1.15 mrad the
/// default grid folds back 2.8 %, the coarsest allowed oversampling (m = 1) 5.7 %.
pub const PROBE_TAIL_WARNING: f64 = 0.1;
/// Share of the probe's intensity beyond half the per-probe window above which a scenario is
/// refused: the window is then smaller than the probe itself (its core, not only its tails,
/// folds back), so the patterns are not those of the probe asked for.
pub const PROBE_TAIL_REFUSED: f64 = 0.5;

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
    /// Reads, parses and checks a scenario file (every section).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Self::load_checking(path, Checks::All)
    }

    /// Reads, parses and checks a scenario file for `mro glass`: only what the glass build reads
    /// (name, seed, sample, clusters, placement) is checked, so that a
    /// scenario whose scan, detector or analysis is invalid still builds its glass.
    pub fn load_for_glass(path: &Path) -> anyhow::Result<Self> {
        Self::load_checking(path, Checks::Glass)
    }

    fn load_checking(path: &Path, checks: Checks) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("{}: cannot read: {e}", path.display())))?;
        let base = path.parent().map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        });
        Self::parse_checking(&text, checks, base)
            .map_err(|e| bad_input(format!("{}: {e}", path.display())))
    }

    /// Parses and checks scenario text (every section); a relative `[sample] atoms` or `truth`
    /// path is taken relative to the working directory.
    pub fn parse(text: &str) -> Result<Self, BadInput> {
        Self::parse_checking(text, Checks::All, None)
    }

    fn parse_checking(text: &str, checks: Checks, base: Option<&Path>) -> Result<Self, BadInput> {
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
        let mut scenario: Scenario =
            toml::from_str(text).map_err(|e| BadInput(toml_message(text, &e)))?;
        crate::imported::resolve(&mut scenario, &raw, base)?;
        for axis in &mut scenario.sweep {
            crate::imported::absolute_path_values(axis, base);
        }
        let scan_points_given = raw
            .get("scan")
            .and_then(|scan| scan.get("points"))
            .is_some();
        if !scan_points_given {
            scenario.scan.points = scenario.default_scan_points();
        }
        match checks {
            Checks::All => scenario.validate(),
            Checks::Glass => scenario.validate_glass(),
        }
        .map_err(|e| BadInput(e.to_string()))?;
        // A density wave's default symmetry is written out, so `mro check` shows it and a sweep
        // can address it.
        for c in &mut scenario.clusters {
            *c = c.resolved();
        }
        Ok(scenario)
    }

    /// The scan when `[scan]` gives no `points`: the paper's 128 × 128, or fewer where the
    /// sample is smaller, so that the scan (points × `scan.step_nm`) covers as much of the
    /// sample as fits. A default that follows the keys it depends on.
    fn default_scan_points(&self) -> [usize; 2] {
        let default = ScanSpec::default().points;
        // The sample's extent is [x, y]; the scan's points are [y, x].
        [0, 1].map(|axis| {
            let fits = (self.sample.extent_nm[1 - axis] / self.scan.step_nm * (1.0 + 1e-9))
                .floor()
                .max(1.0);
            default[axis].min(fits as usize)
        })
    }

    /// Checks what the glass build reads: the name, the sample, the clusters and the placement
    /// (including whether the clusters and the matrix can be packed).
    pub fn validate_glass(&self) -> Result<(), InvalidValue> {
        if self.name.trim().is_empty() {
            return Err(InvalidValue::new("name", "\"\"", "a non-empty name"));
        }
        self.sample.validate().map_err(|e| e.within("sample"))?;
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in self.clusters.iter().enumerate() {
            let here = format!("clusters[{i}]");
            c.validate().map_err(|e| e.within(&here))?;
            if !seen.insert((c.kind, c.motif_symmetry())) {
                return Err(match c.motif_symmetry() {
                    Some(n) => InvalidValue::new(
                        format!("{here}.symmetry"),
                        n,
                        "one [[clusters]] table per symmetry of type density_wave (this n appears twice)",
                    ),
                    None => InvalidValue::new(
                        format!("{here}.type"),
                        format!("\"{}\"", c.kind.name()),
                        "one [[clusters]] table per structure type (this type appears twice)",
                    ),
                });
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
        // Atoms from a file are neither placed nor packed by mro.
        if self.sample.atoms.is_none() {
            self.validate_placement()?;
            self.validate_cluster_placement()?;
            self.validate_packing()?;
        }
        Ok(())
    }

    /// Checks every section and the consistency between them.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        self.validate_glass()?;
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
        self.validate_counts()?;
        self.validate_aperture()?;
        self.model.validate().map_err(|e| e.within("model"))?;
        self.model
            .band_limit_for(&self.detector, self.sample.thickness_nm)
            .map_err(|e| e.within("model"))?;
        self.thermal.validate().map_err(|e| e.within("thermal"))?;
        // Frozen phonons displace every element of the sample (with `atoms`, the composition
        // is the file's).
        let present = self.sample.composition.iter().filter(|(_, &x)| x > 0.0);
        self.thermal
            .covers(present.map(|(symbol, _)| symbol.as_str()))
            .map_err(|e| e.within("thermal"))?;
        self.analysis.validate().map_err(|e| e.within("analysis"))?;
        // The rings the analysis will plan on the simulated detector (its calibration's centre):
        // inside it, holding detector sub-pixels, three V(k) steps at least; checked now
        // rather than after the simulation.
        let d = &self.detector;
        let center =
            mro_sim::calibration(&self.microscope, &self.scan, d, self.sample.thickness_nm)
                .map_err(|e| InvalidValue::new("detector", "", e.to_string()))?
                .center_px();
        mro_analysis::check_rings(&self.analysis, d.pixels, d.k_pixel_per_nm, center).map_err(
            |e| match e {
                mro_analysis::AnalysisError::Geometry {
                    field,
                    value,
                    expected,
                } => InvalidValue::new(
                    field,
                    value,
                    expected.replace("calibration.k_pixel_per_nm", "detector.k_pixel_per_nm"),
                ),
                // `check_rings` reports only geometry.
                other => InvalidValue::new("analysis", "", other.to_string()),
            },
        )?;
        // After the rings: a detector too coarse for the analysis is named as such first.
        self.validate_window_holds_probe()?;
        self.validate_whole_atoms()?;
        self.scoring.validate().map_err(|e| e.within("scoring"))?;
        self.validate_sweep()
    }

    /// The analysis settings for the scenario's own simulated patterns: `[analysis]` with the
    /// Poisson correction at the simulated detector's gain (`detector.gain` counts per
    /// electron), or none for noise-free patterns (`electrons_per_pattern = "inf"`: there is no
    /// shot noise to remove, and correcting their fractional intensities at gain 1 subtracted a
    /// "noise" 90 × the map's scale and made the `mro` diameters 3.5 × too large).
    /// `analysis.poisson_gain` itself applies to measured data (`mro analyze`). Likewise the
    /// noise correlation is the simulated detector's charge sharing (`detector.psf_sigma_px`).
    pub fn simulated_analysis(&self) -> mro_analysis::AnalysisConfig {
        mro_analysis::AnalysisConfig {
            poisson_gain: self.detector.shot_noise_gain(),
            detector_psf_sigma_px: self.detector.psf_sigma_px,
            ..self.analysis.clone()
        }
    }

    /// What is valid but probably not what the user meant: a density-wave cluster whose
    /// symmetry lies above `analysis.n_max` is planted but never measured, so its truth goes
    /// unscored; an `analysis.poisson_gain` that is not the detector's (see
    /// [`Self::simulated_analysis`]). Each warning names the field.
    pub fn warnings(&self) -> Vec<String> {
        let gain = self.simulated_analysis().poisson_gain;
        let gain_note = (self.analysis.poisson_gain != gain && !self.detector.noise_free()).then(|| {
            format!(
                "analysis.poisson_gain = {} differs from detector.gain = {gain}: simulated patterns are corrected with the detector's own gain (analysis.poisson_gain applies to measured data, mro analyze)",
                self.analysis.poisson_gain
            )
        });
        gain_note
            .into_iter()
            .chain(self.cluster_warnings())
            .chain(self.spacing_warnings())
            .chain(self.window_warning())
            .chain(self.probe_warning())
            .collect()
    }

    /// The per-probe window m/Δk wider than the built (periodic) glass: the probe's tails then
    /// see the same atoms more than once.
    /// (With `sample.atoms` the sample's extent is the file's cell, set when it was read.)
    fn window_warning(&self) -> Option<String> {
        let window_nm = self.model.window_oversampling as f64 / self.detector.k_pixel_per_nm;
        let narrowest = self.sample.extent_nm[0].min(self.sample.extent_nm[1]);
        let (what, fix) = match &self.sample.atoms {
            Some(path) => (
                format!(
                    "the atom file's periodic cell ({}: {narrowest} nm)",
                    path.display()
                ),
                "use a larger cell (replicate it)",
            ),
            None => (
                format!("the periodic sample (sample.extent_nm {narrowest} nm)"),
                "widen the sample",
            ),
        };
        (window_nm > narrowest).then(|| {
            format!(
                "the per-probe window, model.window_oversampling / detector.k_pixel_per_nm = {window_nm} nm, is wider than {what}: the probe's tails see the same atoms more than once; {fix} or lower model.window_oversampling"
            )
        })
    }

    /// The per-probe window must hold the probe: at most [`PROBE_TAIL_REFUSED`] of its
    /// intensity beyond the window's half-width (with defocus; else [`Self::probe_warning`]
    /// warns above [`PROBE_TAIL_WARNING`]). Named after the defocus when the defocused disc
    /// is what does not fit, after the spherical aberration when its edge ray C_s·α³ is, else
    /// after the detector pixel.
    fn validate_window_holds_probe(&self) -> Result<(), InvalidValue> {
        let m = &self.microscope;
        let half = self.half_window_nm();
        let tail = mro_sim::propagation::probe_tail_estimate(m, half);
        if tail <= PROBE_TAIL_REFUSED {
            return Ok(());
        }
        // Named after what makes the probe too wide: the defocus disc, the spherical
        // aberration, else the window itself (the detector pixel). (A focal spread the
        // quadrature resolves, `coherence::check_resolved`, spreads the defocus by a few λ/α
        // only: it adds to a defocus, it does not blow a window alone.)
        let (defocus, aberration) = self.probe_widening(half);
        let (field, value, cause, remedy) = if let Some(cause) = defocus {
            (
                "microscope.defocus_nm",
                m.defocus_nm.to_string(),
                cause,
                " or less defocus",
            )
        } else if let Some(cause) = aberration {
            (
                "microscope.cs_mm",
                m.cs_mm.to_string(),
                cause,
                ", a smaller cs_mm or semiangle_mrad",
            )
        } else {
            (
                "detector.k_pixel_per_nm",
                self.detector.k_pixel_per_nm.to_string(),
                String::new(),
                "",
            )
        };
        Err(InvalidValue::new(
            field,
            value,
            format!(
                "a per-probe window that holds the probe: the window, model.window_oversampling / detector.k_pixel_per_nm = {:.3} nm, has about {:.0} % of the probe's intensity beyond its half-width (at most {:.0} % allowed{}); raise model.window_oversampling, use finer detector pixels{remedy}",
                2.0 * half,
                100.0 * tail,
                100.0 * PROBE_TAIL_REFUSED,
                if cause.is_empty() {
                    cause
                } else {
                    format!(", {cause}")
                },
            ),
        ))
    }

    /// Half the per-probe window, model.window_oversampling / detector.k_pixel_per_nm / 2, nm.
    fn half_window_nm(&self) -> f64 {
        0.5 * self.model.window_oversampling as f64 / self.detector.k_pixel_per_nm
    }

    /// What widens the probe beyond `half_nm`, each as a clause: the defocus
    /// disc α·|Δf| and the spherical aberration's edge ray C_s·α³ (`None` where it does not).
    fn probe_widening(&self, half_nm: f64) -> (Option<String>, Option<String>) {
        use mro_sim::propagation::{aberration_radius_nm, defocus_disc_radius_nm};
        let disc_nm = defocus_disc_radius_nm(&self.microscope);
        let cs_nm = aberration_radius_nm(&self.microscope);
        (
            (disc_nm > half_nm).then(|| format!("the defocused probe's disc, microscope.semiangle_mrad × |defocus_nm|, has radius {disc_nm:.3} nm")),
            (cs_nm > half_nm).then(|| format!("spherical aberration throws the aperture's edge ray cs_mm × semiangle³ = {cs_nm:.3} nm off axis")),
        )
    }

    /// The whole-atom potentials multislice will need (absorbing beyond the band limit)
    /// converge for every element present: checked here, as `simulate` would find it only once
    /// it starts ([`mro_sim::check_whole_atoms`]).
    fn validate_whole_atoms(&self) -> Result<(), InvalidValue> {
        let zs: Vec<u8> = self
            .sample
            .composition
            .iter()
            .filter(|(_, &x)| x > 0.0)
            .filter_map(|(symbol, _)| mro_sim::elements::by_symbol(symbol).map(|e| e.z))
            .collect();
        mro_sim::check_whole_atoms(
            &self.microscope,
            &self.detector,
            &self.model,
            self.sample.thickness_nm,
            &zs,
        )
        .map_err(|e| match e {
            mro_sim::SimError::WholeAtom(n) => {
                let d = &self.detector;
                let edge = (d.pixels[0].max(d.pixels[1]) / 2) as f64 * d.k_pixel_per_nm;
                let failure = format!(
                    "a band limit at which every element's whole-atom potential converges: Z = {} \
                     does not at {} nm⁻¹ (in-band mismatch {:.2e}, accepted 1e-2)",
                    n.z, n.k_bl_per_nm, n.mismatch
                );
                let other_ways = "raise microscope.voltage_kv, or set \
                                  model.absorb_beyond_band_limit = false (the cut potential)";
                if n.k_bl_per_nm <= edge * (1.0 + 1e-9) {
                    // The band limit is already the detector edge, its lowest allowed value.
                    InvalidValue::new(
                        "detector.k_pixel_per_nm",
                        d.k_pixel_per_nm,
                        format!(
                            "{failure}; the band limit cannot go below the detector edge, \
                             detector.pixels × k_pixel_per_nm / 2 = {edge} nm⁻¹: use a detector \
                             that reaches less far, {other_ways}"
                        ),
                    )
                } else {
                    InvalidValue::new(
                        "model.band_limit_per_nm",
                        n.k_bl_per_nm,
                        format!(
                            "{failure}: lower model.band_limit_per_nm (to {edge} nm⁻¹ at least), \
                             {other_ways}"
                        ),
                    )
                }
            }
            other => InvalidValue::new("model", "", other.to_string()),
        })
    }

    /// The probe wider than the per-probe window: more than [`PROBE_TAIL_WARNING`] of its
    /// intensity lies beyond the window's half-width L/2 and folds back onto the probe (the
    /// window is periodic; estimated with defocus, [`mro_sim::propagation::probe_tail_estimate`]).
    fn probe_warning(&self) -> Option<String> {
        let half_window_nm = self.half_window_nm();
        let tail = mro_sim::propagation::probe_tail_estimate(&self.microscope, half_window_nm);
        (tail > PROBE_TAIL_WARNING).then(|| {
            let (defocus, aberration) = self.probe_widening(half_window_nm);
            format!(
                "about {:.0} % of the probe's intensity lies beyond half the per-probe window ({half_window_nm:.3} nm = model.window_oversampling / detector.k_pixel_per_nm / 2{}{}) and folds back onto it: the patterns are those of a probe in a periodic box too small for it; raise model.window_oversampling or use finer detector pixels",
                100.0 * tail,
                defocus.map(|c| format!("; {c}")).unwrap_or_default(),
                aberration.map(|c| format!("; {c}")).unwrap_or_default(),
            )
        })
    }

    fn cluster_warnings(&self) -> Vec<String> {
        let above = self.clusters.iter().enumerate().filter_map(|(i, c)| {
            let n = c.motif_symmetry()?;
            (n as usize > self.analysis.n_max).then(|| {
                format!(
                    "clusters[{i}].symmetry = {n} is above analysis.n_max = {}: the analysis never measures it, so these clusters are planted but not scored",
                    self.analysis.n_max
                )
            })
        });
        let empty = self
            .clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.volume_fraction > 0.0 && self.places_none(c))
            .map(|(i, c)| {
                format!(
                    "clusters[{i}].volume_fraction = {} places no cluster in this sample: it is less than half the volume of the smallest cluster the table draws",
                    c.volume_fraction
                )
            });
        above.chain(empty).collect()
    }

    /// Whether a cluster table places no cluster in the built sample
    /// ([`mro_sim::glass::places_no_cluster`]).
    pub fn places_none(&self, c: &mro_sim::spec::ClusterSpec) -> bool {
        let s = &self.sample;
        let box_nm3 = s.extent_nm[0] * s.extent_nm[1] * s.thickness_nm;
        mro_sim::glass::places_no_cluster(c, box_nm3, s.thickness_nm)
    }

    /// Whether no cluster table places a cluster (`clusters = []`, zero or too small fractions).
    pub fn plants_nothing(&self) -> bool {
        self.clusters.iter().all(|c| self.places_none(c))
    }

    /// Correlated placement puts neighbouring centres `nearest_neighbor_nm` apart, which must
    /// leave room for the largest cluster and the gap (the placement would otherwise silently
    /// give a larger distance).
    fn validate_placement(&self) -> Result<(), InvalidValue> {
        // Nothing to place, nothing to space.
        if self.placement.mode != PlacementMode::Correlated || self.plants_nothing() {
            return Ok(());
        }
        let largest = self
            .clusters
            .iter()
            .map(|c| c.diameter_nm)
            .fold(0.0, f64::max);
        let least = largest + self.placement.min_gap_nm;
        if self.placement.nearest_neighbor_nm < least {
            return Err(InvalidValue::new(
                "placement.nearest_neighbor_nm",
                self.placement.nearest_neighbor_nm,
                format!(
                    "at least the largest clusters[*].diameter_nm + placement.min_gap_nm = {least} nm (centres closer than that cannot hold two clusters)"
                ),
            ));
        }
        // The box is periodic laterally: two centres are never farther apart across it than
        // half its width, so a spacing beyond that cannot repeat inside it.
        let most = 0.5 * self.sample.extent_nm[0].min(self.sample.extent_nm[1]);
        if self.sample.atoms.is_none() && self.placement.nearest_neighbor_nm > most {
            return Err(InvalidValue::new(
                "placement.nearest_neighbor_nm",
                self.placement.nearest_neighbor_nm,
                format!(
                    "at most half the smaller sample.extent_nm = {most} nm (the sample is periodic: a spacing above half its width cannot repeat inside it)"
                ),
            ));
        }
        Ok(())
    }

    /// Correlated placement asked for neighbours farther apart than a table's clusters can
    /// keep at its volume fraction: close packing of its N clusters in the sample (fcc in the
    /// volume, or hexagonal in one layer if the foil is thin) spaces them about
    /// max((√2 V/N)^⅓, (2A/(√3 N))^½); the placement then puts them closer than asked.
    fn spacing_warnings(&self) -> Vec<String> {
        if self.placement.mode != PlacementMode::Correlated || self.sample.atoms.is_some() {
            return Vec::new();
        }
        let [lx, ly] = self.sample.extent_nm;
        let area = lx * ly;
        let volume = area * self.sample.thickness_nm;
        let want = self.placement.nearest_neighbor_nm;
        self.clusters
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let d = c.diameter_nm;
                let mean_cube = d.powi(3) + 3.0 * d * c.diameter_sd_nm.powi(2);
                let count = c.volume_fraction * volume / (std::f64::consts::PI / 6.0 * mean_cube);
                if count < 2.0 {
                    return None;
                }
                let packed = (std::f64::consts::SQRT_2 * volume / count)
                    .cbrt()
                    .max((2.0 * area / (3f64.sqrt() * count)).sqrt());
                (want > packed).then(|| {
                    format!(
                        "placement.nearest_neighbor_nm = {want} nm is farther than the ~{count:.0} clusters of clusters[{i}] can stand apart in this sample: even close-packed they are only about {packed:.2} nm apart, so the placement puts them closer than asked (lower clusters[{i}].volume_fraction or the spacing)"
                    )
                })
            })
            .collect()
    }

    /// Whether the clusters fit: the placement stage of the glass build run alone
    /// ([`mro_sim::check_placement`]: the cluster spheres with the scenario's own seed, no
    /// motifs, no matrix; milliseconds at the paper's fractions; at most [`PLACEMENT_TRIAL_NM`] on a
    /// side), so that fractions whose hard-core
    /// random addition jams (one type at 0.6, say; the random sequential addition limit is
    /// about 0.38) are refused here with the verdict the run would reach.
    fn validate_cluster_placement(&self) -> Result<(), InvalidValue> {
        let seeds = mro_core::Seeds::new(self.seed);
        let trial = SampleSpec {
            extent_nm: self.sample.extent_nm.map(|e| e.min(PLACEMENT_TRIAL_NM)),
            thickness_nm: self.sample.thickness_nm.min(PLACEMENT_TRIAL_NM),
            ..self.sample.clone()
        };
        match mro_sim::check_placement(&trial, &self.clusters, &self.placement, &seeds) {
            Ok(_) => Ok(()),
            Err(GlassError::Invalid(e)) => Err(e),
            Err(GlassError::CannotPlace {
                requested,
                largest,
                min_gap_nm,
            }) => Err(InvalidValue::new(
                "clusters[*].volume_fraction",
                format!("{requested:.4} (sum)"),
                format!(
                    "a total the placement can reach: hard-core random addition of the cluster spheres jammed after placing {largest:.4} with placement.min_gap_nm = {min_gap_nm} nm; at most {largest:.4}"
                ),
            )),
            Err(e) => Err(InvalidValue::new(
                "clusters",
                "[[clusters]]",
                format!("clusters that can be placed ({e})"),
            )),
        }
    }

    /// Whether the matrix can be packed at this composition and density: a small trial glass
    /// (at most 5 × 5 × 5 nm, no clusters, a few thousand atoms, a fraction of a second) is
    /// relaxed as the run would relax the real one, with a fixed seed so that the verdict
    /// depends on the sample alone; it is remembered for the rest of the process (sweeps check
    /// many points). Pure Zr at the paper's 54 atoms/nm³, for one, cannot be packed.
    fn validate_packing(&self) -> Result<(), InvalidValue> {
        static VERDICTS: OnceLock<Mutex<HashMap<String, Option<InvalidValue>>>> = OnceLock::new();
        let trial = SampleSpec {
            extent_nm: self.sample.extent_nm.map(|e| e.min(TRIAL_EXTENT_NM)),
            thickness_nm: self.sample.thickness_nm.min(TRIAL_EXTENT_NM),
            ..self.sample.clone()
        };
        let key = toml::to_string(&trial).expect("a sample serialises");
        let verdicts = VERDICTS.get_or_init(Default::default);
        if let Some(verdict) = verdicts.lock().expect("no panics").get(&key) {
            return verdict.clone().map_or(Ok(()), Err);
        }
        let built = mro_sim::build_glass(
            &trial,
            &[],
            &PlacementSpec::default(),
            &mro_core::Seeds::new(TRIAL_SEED),
            &|_| {},
        );
        let verdict = match built {
            Err(GlassError::NotRelaxed {
                violations, sweeps, ..
            }) => Some(InvalidValue::new(
                "sample.number_density_per_nm3",
                self.sample.number_density_per_nm3,
                format!(
                    "a density at which sample.composition can be packed: a {TRIAL_EXTENT_NM} nm trial glass still had {violations} atom pairs closer than their minimum distance after {sweeps} relaxation sweeps; give a lower density (the default, {} nm⁻³, is the paper's Zr55Co25Al20)",
                    mro_sim::spec::SampleSpec::default().number_density_per_nm3
                ),
            )),
            Err(GlassError::NoAtomicRadius { field, symbol }) => Some(InvalidValue::new(
                field,
                symbol,
                "an element with a tabulated CN12 metallic radius (e.g. Zr, Cu, Ni, Al, Fe, Pd), so that a glass can be packed with it",
            )),
            _ => None,
        };
        verdicts
            .lock()
            .expect("no panics")
            .insert(key, verdict.clone());
        verdict.map_or(Ok(()), Err)
    }

    /// Counts the datacube can hold: float32 counts of `electrons_per_pattern` × `gain` must be
    /// representable (below 3.4·10³⁸, above the float32 underflow), so the dose is at most
    /// [`MAX_ELECTRONS_PER_PATTERN`] and the gain at least [`MIN_GAIN`].
    fn validate_counts(&self) -> Result<(), InvalidValue> {
        let dose = self.detector.electrons_per_pattern;
        if dose.is_finite() && dose > MAX_ELECTRONS_PER_PATTERN {
            return Err(InvalidValue::new(
                "detector.electrons_per_pattern",
                format!("{dose:e}"),
                format!(
                    "at most {MAX_ELECTRONS_PER_PATTERN:e} electrons per pattern, or \"inf\" for noise-free patterns"
                ),
            ));
        }
        if self.detector.gain < MIN_GAIN {
            return Err(InvalidValue::new(
                "detector.gain",
                format!("{:e}", self.detector.gain),
                format!("at least {MIN_GAIN:e} counts per electron"),
            ));
        }
        Ok(())
    }

    /// The forward model needs the detector to reach beyond the bright-field disk: its
    /// half-width (pixels/2 × k_pixel_per_nm) must exceed 1.5 × the aperture radius α/λ
    /// (the check `mro_sim::simulate` makes).
    fn validate_aperture(&self) -> Result<(), InvalidValue> {
        let half_width = (self.detector.pixels[0].min(self.detector.pixels[1]) / 2) as f64
            * self.detector.k_pixel_per_nm;
        let aperture = ProbeSpec::from_microscope(&self.microscope).aperture_per_nm;
        if half_width <= 1.5 * aperture {
            return Err(InvalidValue::new(
                "microscope.semiangle_mrad",
                self.microscope.semiangle_mrad,
                format!(
                    "an aperture radius α/λ = {aperture:.3} nm⁻¹ below two thirds of the detector's half-width {half_width:.3} nm⁻¹ (detector.pixels / 2 × detector.k_pixel_per_nm): a smaller semiangle, or more or larger detector pixels"
                ),
            ));
        }
        Ok(())
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
    ///
    /// Three defaults follow other keys and stay unset here, so that a sweep or a rerun of
    /// this text keeps following them: `analysis.radial_step_per_nm`, `analysis.symmetries`
    /// and `model.band_limit_per_nm` ([`Self::check_toml`] shows their values).
    pub fn resolved_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a scenario serialises")
    }

    /// The scenario with the three defaults that follow other keys set at the values they take
    /// here (a band limit the settings refuse stays unset).
    pub fn with_followed_defaults(&self) -> Self {
        let mut s = self.clone();
        s.analysis
            .radial_step_per_nm
            .get_or_insert(self.detector.k_pixel_per_nm);
        s.analysis
            .symmetries
            .get_or_insert_with(|| self.analysis.summed_symmetries());
        if let Ok(k) = self
            .model
            .band_limit_for(&self.detector, self.sample.thickness_nm)
        {
            s.model.band_limit_per_nm.get_or_insert(k);
        }
        s
    }

    /// What `mro check` prints: [`Self::resolved_toml`] with the three defaults that follow
    /// other keys filled in at the values this scenario gives them, and a comment saying what
    /// they follow.
    pub fn check_toml(&self) -> String {
        let s = self.with_followed_defaults();
        let mut followed: Vec<String> = Vec::new();
        if self.analysis.radial_step_per_nm.is_none() {
            followed.push("analysis.radial_step_per_nm (detector.k_pixel_per_nm)".into());
        }
        if self.analysis.symmetries.is_none() {
            followed.push("analysis.symmetries (the even n up to analysis.n_max)".into());
        }
        if self.model.band_limit_per_nm.is_none() {
            use mro_sim::spec::{
                DEFAULT_BAND_LIMIT_PER_NM, THIN_FOIL_BAND_LIMIT_PER_NM, THIN_FOIL_MAX_NM,
            };
            followed.push(format!(
                "model.band_limit_per_nm (the larger of the detector edge, \
                 detector.pixels × k_pixel_per_nm / 2, and {DEFAULT_BAND_LIMIT_PER_NM} nm⁻¹, or \
                 {THIN_FOIL_BAND_LIMIT_PER_NM} nm⁻¹ for multislice through up to \
                 {THIN_FOIL_MAX_NM} nm of sample.thickness_nm)"
            ));
        }
        let mut text = s.resolved_toml();
        if !followed.is_empty() {
            text += &format!(
                "\n# Defaults that follow other keys, shown at their values here; left out of a \
                 scenario they keep following them: {}.\n",
                followed.join("; ")
            );
        }
        text
    }
}

/// toml's message, prefixed with the line, column and — where the error sits on a `key = value`
/// line — the dotted path of the field, with what was expected. Used for scenario files and
/// for `mro analyze --config` analysis files.
pub(crate) fn toml_message(text: &str, e: &toml::de::Error) -> String {
    // serde names Rust types ("expected usize"); say what they mean.
    let msg = [
        ("expected usize", "expected a whole number ≥ 0"),
        ("expected u64", "expected a whole number ≥ 0"),
        ("expected u32", "expected a whole number ≥ 0"),
        ("expected f64", "expected a number"),
    ]
    .iter()
    .fold(
        e.message().trim().replace('\n', ", "),
        |m, (rust, plain)| m.replace(rust, plain),
    );
    let msg = msg.replace("expected a sequence", "expected a list [ … ]");
    let Some(span) = e.span() else { return msg };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let field = field_at(text, line);
    // The value toml could not read, as written (up to the end of its token).
    let token: String = text[span.start.min(text.len())..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !",]}#".contains(*c))
        .collect();
    // toml's message for a value of the wrong type where a named choice belongs.
    let msg = if msg.contains("invalid floating-point number") {
        match token.replace('_', "").parse::<f64>() {
            Ok(v) if v.is_infinite() => format!(
                "{token} is beyond the largest number a 64-bit float holds (about 1.8e308): \
                 expected a finite number"
            ),
            _ => format!(
                "{token} is not a number TOML reads: expected a number such as 0.5, 2.0 or 1e-3"
            ),
        }
    } else if msg.contains("wanted string or table")
        || msg.contains("unit variant")
        || msg.contains("expected string only")
        // A named choice written as a table with a value (`{ otsu = 1 }`): serde reads the
        // name as a variant and wants an empty table after it.
        || (msg.contains("expected table, found") && leaf_key(&field).and_then(choices).is_some())
    {
        let key = leaf_key(&field).unwrap_or("");
        format!(
            "expected {}",
            choices(key)
                .unwrap_or("one of this key's names in quotes (scenarios/README.md lists them)")
        )
    } else if msg.contains("whole number ≥ 0")
        && field.as_deref() == Some("model.window_oversampling")
    {
        // A negative integer never reaches the range check of `ModelSpec::validate`.
        format!("{token}: expected an integer in [1, 4]")
    } else if msg.contains("invalid string") {
        // A bare word where a value belongs (`yes`, `on`, an unquoted name).
        format!(
            "{token} is not a TOML value: expected true or false, a number, or text in quotes \
             (\"{token}\")"
        )
    } else if msg.contains("number too large to fit in target type") {
        // TOML integers are signed 64-bit: a larger one never reaches a range check.
        format!("{token} is beyond the largest integer TOML holds: expected at most 9223372036854775807 (2⁶³ − 1)")
    } else {
        msg
    };
    match field {
        Some(field) => format!("field `{field}` (line {line}, column {column}): {msg}"),
        None => format!("line {line}, column {column}: {msg}"),
    }
}

/// The last key of a dotted field path (`threshold` of `analysis.threshold`).
fn leaf_key(field: &Option<String>) -> Option<&str> {
    field.as_deref().and_then(|f| f.rsplit('.').next())
}

/// The values a named-choice key takes, in the user's words; `None` for any other key.
pub(crate) fn choices(key: &str) -> Option<&'static str> {
    Some(match key {
        "threshold" => "\"iterative\", \"otsu\" or { fixed = FRACTION_OF_THE_MAP_MAXIMUM }",
        "method" => "\"mro\" or \"im2018\"",
        "in_condition_model" => "\"fixed\" or \"geometric\"",
        "orientation" => "\"aligned\" or \"random\"",
        "type" => "\"density_wave\", \"icosahedral\", \"bcc\", \"fcc\" or \"b2\"",
        "mode" => "\"random\" or \"correlated\"",
        "kind" => "\"kinematic\", \"born\" or \"multislice\"",
        "aperture_sampling" => "\"area\" or \"point\"",
        "checks" => "a list of \"diameter\", \"volume_fraction\", \"spacing\"",
        _ => return None,
    })
}

/// The dotted key path of the `key = value` on 1-based `line`, following `[table]` and
/// `[[array]]` headers above it.
///
/// On a header line, the table it opens (`[analysis.acceptance_deg]` where a number belongs).
fn field_at(text: &str, line: usize) -> Option<String> {
    let mut table = String::new();
    let mut arrays: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.split('#').next().unwrap_or("").trim();
        let header = if let Some(name) = l.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            let n = arrays.entry(name.trim().to_string()).or_insert(0);
            table = format!("{}[{}]", name.trim(), *n);
            *n += 1;
            true
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            table = name.trim().to_string();
            true
        } else {
            false
        };
        if i + 1 == line && header {
            return Some(table);
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
mod fuzz;

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

    /// `mro check` prints every default, those that follow other keys too, and what it prints
    /// is a scenario that runs the same.
    #[test]
    fn check_shows_the_defaults_that_follow_other_keys() {
        let s = Scenario::parse("schema = \"mro.scenario/1\"\n").unwrap();
        let text = s.check_toml();
        for key in [
            "radial_step_per_nm = 0.16",
            "symmetries = [",
            "band_limit_per_nm = 20.0",
        ] {
            assert!(text.contains(key), "{key} in {text}");
        }
        assert!(!s.resolved_toml().contains("radial_step_per_nm"));
        let back = Scenario::parse(&text).unwrap();
        assert_eq!(back.analysis.summed_symmetries(), vec![2, 4, 6, 8, 10]);
        assert_eq!(back.check_toml().lines().next(), text.lines().next());
        assert_eq!(
            back.model
                .band_limit_for(&back.detector, back.sample.thickness_nm)
                .unwrap(),
            s.model
                .band_limit_for(&s.detector, s.sample.thickness_nm)
                .unwrap()
        );
    }

    #[test]
    fn type_errors_name_the_field_and_line() {
        let text = "schema = \"mro.scenario/1\"\n[[clusters]]\nsymmetry = 4\n[[clusters]]\nsymmetry = 6\ndiameter_nm = \"big\"\n";
        let e = Scenario::parse(text).unwrap_err().to_string();
        assert!(
            e.starts_with("field `clusters[1].diameter_nm` (line 6, column 15): invalid type"),
            "{e}"
        );
        // Rust's type names are not the user's words.
        let e = Scenario::parse("schema = \"mro.scenario/1\"\n[scan]\npoints = [-3, 32]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("whole number ≥ 0") && !e.contains("usize"),
            "{e}"
        );
        // An integer beyond TOML's: the limit, not "too large to fit in target type".
        let e = Scenario::parse("schema = \"mro.scenario/1\"\nseed = 9223372036854775808\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("field `seed` (line 2")
                && e.contains("9223372036854775808 is beyond the largest integer TOML holds"),
            "{e}"
        );
        // A number where a named choice belongs: the choices, not toml's "string or table".
        for (table, key, named) in [
            ("analysis", "threshold", "\"otsu\""),
            ("analysis", "method", "\"im2018\""),
            ("model", "kind", "\"multislice\""),
        ] {
            let text = format!("schema = \"mro.scenario/1\"\n[{table}]\n{key} = 3\n");
            let e = Scenario::parse(&text).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("field `{table}.{key}` (line 3")) && e.contains(named),
                "{e}"
            );
        }
    }

    #[test]
    fn simulated_patterns_are_corrected_at_the_detectors_gain_or_not_at_all() {
        let s = Scenario::parse("schema = \"mro.scenario/1\"\n[detector]\ngain = 2.0\n").unwrap();
        assert_eq!(s.simulated_analysis().poisson_gain, 2.0);
        assert!(
            s.warnings()[0].starts_with("analysis.poisson_gain = 1 differs from detector.gain = 2")
        );
        let s = Scenario::parse(
            "schema = \"mro.scenario/1\"\n[detector]\nelectrons_per_pattern = \"inf\"\n",
        )
        .unwrap();
        assert_eq!(s.simulated_analysis().poisson_gain, 0.0);
        assert!(s.warnings().is_empty());
    }

    #[test]
    fn a_window_wider_than_the_sample_is_warned_about() {
        let small = "schema = \"mro.scenario/1\"\n[sample]\nextent_nm = [10.0, 12.0]\n";
        let w = Scenario::parse(small).unwrap().warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("= 12.5 nm, is wider than the periodic sample (sample.extent_nm 10 nm)"),
            "{w:?}"
        );
        let narrow = format!("{small}[model]\nwindow_oversampling = 1\n");
        assert!(Scenario::parse(&narrow).unwrap().warnings().is_empty());
    }

    /// A probe whose tails (in focus: the Airy rings; defocused: its geometric disc) reach
    /// well beyond half the per-probe window is warned about; the paper's grid is not.
    #[test]
    fn a_probe_wider_than_its_window_is_warned_about() {
        let base = "schema = \"mro.scenario/1\"\n";
        assert!(Scenario::parse(base).unwrap().warnings().is_empty());
        // 0.8 nm⁻¹ pixels: L/2 = 1.25 nm, the Airy tail beyond it 15 %.
        let coarse = format!("{base}[detector]\nk_pixel_per_nm = 0.8\n[analysis]\nk_max_per_nm = 20.0\nring_width_per_nm = 1.6\n");
        let w = Scenario::parse(&coarse).unwrap().warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("about 15 % of the probe's intensity"),
            "{w:?}"
        );
        // 8 µm defocus: a disc of radius 9.2 nm in a window of half-width 6.25 nm, 54 % of the
        // probe beyond it: the window does not hold the probe, refused.
        let defocused = format!("{base}[microscope]\ndefocus_nm = -8000.0\n");
        let e = Scenario::parse(&defocused).unwrap_err().to_string();
        assert!(
            e.contains("microscope.defocus_nm") && e.contains("about 54 %"),
            "{e}"
        );
        // 6 µm: radius 6.9 nm, a warning.
        let defocused = format!("{base}[microscope]\ndefocus_nm = -6000.0\n");
        let w = Scenario::parse(&defocused).unwrap().warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("radius 6.900 nm"), "{w:?}");
    }

    /// A correlated spacing the periodic box cannot hold is refused; one the clusters' own
    /// count cannot keep is warned about.
    #[test]
    fn correlated_spacings_the_sample_cannot_hold_are_refused_or_warned_about() {
        let base = "schema = \"mro.scenario/1\"\n[sample]\nextent_nm = [20.0, 24.0]\nthickness_nm = 5.0\n[model]\nwindow_oversampling = 1\n[[clusters]]\nsymmetry = 4\ndiameter_nm = 1.3\nvolume_fraction = 0.03\n[placement]\nmode = \"correlated\"\n";
        let e = Scenario::parse(&format!("{base}nearest_neighbor_nm = 500.0\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("placement.nearest_neighbor_nm")
                && e.contains("at most half the smaller sample.extent_nm = 10 nm"),
            "{e}"
        );
        // ~61 clusters of 1.3 nm in 2400 nm³: close-packed (fcc) about 3.81 nm apart.
        let w = Scenario::parse(&format!("{base}nearest_neighbor_nm = 5.0\n"))
            .unwrap()
            .warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("about 3.81 nm") && w[0].contains("~61 clusters of clusters[0]"),
            "{w:?}"
        );
        let w = Scenario::parse(&format!("{base}nearest_neighbor_nm = 3.0\n"))
            .unwrap()
            .warnings();
        assert!(w.is_empty(), "{w:?}");
    }

    /// A fraction too small for one cluster is warned about, and such a glass plants nothing.
    #[test]
    fn a_fraction_that_places_no_cluster_is_warned_about() {
        let text = "schema = \"mro.scenario/1\"\n[sample]\nextent_nm = [16.0, 16.0]\nthickness_nm = 5.0\n[model]\nwindow_oversampling = 1\n[[clusters]]\nsymmetry = 4\nvolume_fraction = 0.00001\n";
        let s = Scenario::parse(text).unwrap();
        assert!(s.plants_nothing());
        let w = s.warnings();
        assert!(
            w.iter()
                .any(|w| w.starts_with("clusters[0].volume_fraction = 0.00001 places no cluster")),
            "{w:?}"
        );
        let s = Scenario::parse(&text.replace("0.00001", "0.01")).unwrap();
        assert!(!s.plants_nothing());
        assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    }

    #[test]
    fn a_symmetry_above_n_max_is_warned_about_by_field() {
        let s = Scenario::parse(
            "schema = \"mro.scenario/1\"\n[analysis]\nn_max = 4\n[[clusters]]\nsymmetry = 4\n[[clusters]]\nsymmetry = 6\n",
        )
        .unwrap();
        let w = s.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("clusters[1].symmetry = 6 is above analysis.n_max = 4"),
            "{w:?}"
        );
        assert!(
            Scenario::parse("schema = \"mro.scenario/1\"\n[[clusters]]\nsymmetry = 10\n")
                .unwrap()
                .warnings()
                .is_empty()
        );
    }

    #[test]
    fn structure_types_parse_and_refuse_an_assigned_symmetry() {
        let s = Scenario::parse(
            "schema = \"mro.scenario/1\"\n[[clusters]]\ntype = \"icosahedral\"\ndisplacement_rms_nm = 0.02\n[[clusters]]\n",
        )
        .unwrap();
        assert_eq!(s.clusters[0].kind, mro_sim::spec::ClusterKind::Icosahedral);
        assert_eq!(s.clusters[0].symmetry, None);
        // The second table is a density wave with its default n written out.
        assert_eq!(s.clusters[1].symmetry, Some(4));
        assert_eq!(Scenario::parse(&s.resolved_toml()).unwrap(), s);
        let e = Scenario::parse(
            "schema = \"mro.scenario/1\"\n[[clusters]]\ntype = \"bcc\"\nsymmetry = 4\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("clusters[0].symmetry") && e.contains("computed"),
            "{e}"
        );
        let e = Scenario::parse(
            "schema = \"mro.scenario/1\"\n[[clusters]]\ntype = \"fcc\"\n[[clusters]]\ntype = \"fcc\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("clusters[1].type"), "{e}");
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
