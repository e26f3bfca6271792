//! Scoring: recovered quantities against the truth, one row per quantity and symmetry n
//! (`score.json`, schema `mro.score/1`).
//!
//! Scoring reads only the keys of `truth.json` and `analysis.json` named in the types below, so
//! files from other versions or tools score as long as those keys are there.
//!
//! Methods: an `analysis.json` holds two estimators, `im2018` (the published procedure, its
//! `by_symmetry`) and `mro` (its `mro.by_symmetry`); both are scored, side by side, and the
//! analysis's `config.method` (default `mro`) is the one whose rows carry the tolerances. Any
//! other pipeline is scored from an **external estimate** (schema `mro.estimate/1`, [`Estimate`]),
//! given to `mro score` in place of `analysis.json`:
//!
//! ```json
//! { "schema": "mro.estimate/1", "method": "my-pipeline", "scan_step_nm": 0.32,
//!   "scan_shape": [128, 128],
//!   "by_symmetry": { "4": { "regions": 12, "regions_se": 3.5,
//!                           "mean_diameter_nm": 1.21, "mean_diameter_se_nm": 0.08,
//!                           "volume_fraction": 0.031, "volume_fraction_se": 0.009,
//!                           "spacing_nm": 5.9, "spacing_se_nm": 0.3,
//!                           "nearest_neighbor_nm": 4.1, "nearest_neighbor_se_nm": 0.4,
//!                           "region_list": [ { "centroid_px": [10.0, 42.5], "diameter_nm": 1.3 } ] } },
//!   "total_volume_fraction": 0.09, "total_volume_fraction_se": 0.02 }
//! ```
//!
//! Every number is optional (a missing one scores as not recovered); `volume_fraction` is the
//! total (all orientations) fraction of clusters of that n; `clusters` (with `clusters_se`), a
//! count corrected for the clusters the method missed, is scored as `region_count` in place of
//! `regions` when given; `nearest_neighbor_nm` is the mean nearest-neighbour distance of the
//! clusters found in the scan plane (scored against the in-condition clusters' projected one,
//! for any placement, untoleranced); `region_list` (centroids in scan
//! pixels `[row, col]`, with `scan_step_nm`) gives recall and precision; `scan_shape` (scan
//! points `[rows, cols]`) gives the scanned field (without it the scan is taken to cover the
//! whole sample). `tools/estimate_numpy.py` writes one from an mro datacube with plain NumPy.
//!
//! Conventions:
//! - relative error = (recovered − truth)/truth; undefined (null) where the truth is 0;
//! - the truth for region diameter, count and spacing is taken over *in-condition* clusters —
//!   the ones that can diffract into the map at all: for n, the density waves of n in the Bragg
//!   condition and the structure clusters (icosahedral, crystal-like) that *show* n, i.e. whose
//!   own projected pattern has `P_n` above the truth's `shows_threshold`;
//! - a true cluster is *found* by map n when its projected centre lies within a region of that
//!   map, a region being approximated by its equivalent circle widened by half a scan step;
//!   recall is the share of in-condition clusters found, precision the share of regions holding
//!   at least one in-condition cluster of their n; `recall_overlapping` is recall over the
//!   in-condition clusters whose projected disc overlaps that of another in-condition cluster
//!   (any n, inside the field or not; centres closer than the sum of the radii): clusters a map
//!   can hide behind another's bright ring, merge into one region with a partner of its n, or
//!   cancel against one. Scan point (0, 0) sits at sample (0, 0), and distances wrap with the
//!   sample's periodic extent;
//! - a scan that covers only part of the sample ([`ScanField`]) is scored against what it could
//!   see: region count, mean diameter, recall and `recall_overlapping` over the in-condition
//!   clusters whose centres
//!   lie in the scanned field (precision still matches any cluster, as a region at the field's
//!   edge may hold one just outside); volume fractions and spacings, intensive properties of
//!   the glass, stay the sample's. `score.json` then gives the field's share of the sample.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use mro_analysis::particles::geometric_in_condition;
use mro_core::check::{in_range, InvalidValue};
use mro_sim::glass::TRUTH_SCHEMA;

use crate::detectability::{map_of, Detectability};
use crate::document::number;
use crate::exit::bad_input;
use crate::realism::Realism;
use crate::scenario::{Check, ScoringSpec};

/// The schema tag of `score.json`.
pub const SCORE_SCHEMA: &str = "mro.score/1";
/// The schema tag of an external estimate.
pub const ESTIMATE_SCHEMA: &str = "mro.estimate/1";
/// The quantities every method is scored on, in table order.
pub const METHOD_QUANTITIES: [&str; 8] = [
    "mean_diameter_nm",
    "volume_fraction",
    "region_count",
    "spacing_nm",
    "nearest_neighbor_nm",
    "recall",
    "recall_overlapping",
    "precision",
];

/// The whole-sample volume fractions every method is scored on, after [`METHOD_QUANTITIES`]:
/// Σ of its per-n fractions over the planted n (judged), and its own total as its file gives
/// it (`analysis.json`'s `total_volume_fraction`: over the summed symmetries; not judged).
pub const TOTAL_QUANTITIES: [&str; 2] = ["planted_volume_fraction", "total_volume_fraction"];

/// What scoring reads of `truth.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthDoc {
    /// `"mro.truth/1"` ([`TruthDoc::check`] refuses anything else, and its absence).
    #[serde(default)]
    pub schema: Option<String>,
    /// Lateral extent `[x, y]` in nm.
    pub extent_nm: [f64; 2],
    /// Foil thickness in nm (absent from truth files of older versions).
    #[serde(default)]
    pub thickness_nm: Option<f64>,
    /// One record per cluster.
    pub clusters: Vec<TrueCluster>,
    /// Per symmetry n (keyed `"4"`).
    pub by_symmetry: BTreeMap<String, TrueType>,
    /// Share of the volume inside clusters.
    pub total_volume_fraction: f64,
    /// How the centres were placed (absent from truth files of older versions).
    #[serde(default)]
    pub placement: Option<PlacementDoc>,
    /// The run that built it (absent from older truth files and from truth files of atoms).
    #[serde(default)]
    pub provenance: Option<mro_core::meta::RunProvenance>,
}

/// The placement part of `truth.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct PlacementDoc {
    /// `"random"` or `"correlated"`.
    pub mode: String,
}

/// The largest symmetry n a truth, analysis or estimate may name: far above any n a
/// diffraction pattern at nanometre resolution resolves (the analysis's `n_max` is bounded by
/// its angular bins).
pub const N_SYMMETRY_MAX: u32 = 1000;

/// The symmetry n a `by_symmetry` key names: an integer from 1 to [`N_SYMMETRY_MAX`] written
/// as mro writes it (`"4"`; not `"04"`, `"+4"` or `"4.0"`, which would let two keys name one n).
pub fn symmetry_key(key: &str) -> Option<u32> {
    key.parse::<u32>()
        .ok()
        .filter(|n| (1..=N_SYMMETRY_MAX).contains(n) && n.to_string() == key)
}

/// `Err` naming `section.key` unless `key` is a symmetry n as [`symmetry_key`] reads it.
fn check_symmetry_key(section: &str, key: &str) -> Result<(), InvalidValue> {
    match symmetry_key(key) {
        Some(_) => Ok(()),
        None => Err(InvalidValue::new(
            format!("{section}.{key}"),
            format!("{key:?}"),
            format!(
                "a symmetry n from 1 to {N_SYMMETRY_MAX} as the key, written as an integer (\"4\")"
            ),
        )),
    }
}

/// A scan of at least one point along each axis.
pub fn check_scan_shape(field: &str, shape: [usize; 2]) -> Result<(), InvalidValue> {
    match shape.iter().position(|&n| n == 0) {
        Some(axis) => Err(InvalidValue::new(
            format!("{field}[{axis}]"),
            0,
            "at least 1 scan point",
        )),
        None => Ok(()),
    }
}

/// A scan step within the calibration range (`mro_core::meta::CALIBRATION_RANGES`).
pub fn check_scan_step(field: &str, v: f64) -> Result<(), InvalidValue> {
    let r = mro_core::meta::CALIBRATION_RANGES
        .iter()
        .find(|r| r.field == "scan_step_nm")
        .expect("scan_step_nm has a range");
    if v.is_finite() && (r.lo..=r.hi).contains(&v) {
        Ok(())
    } else {
        Err(InvalidValue::new(field, v, r.expected))
    }
}

/// `Err` naming `field` unless `v` is absent or a finite number ≥ 0.
fn non_negative(field: &str, v: Option<f64>) -> Result<(), InvalidValue> {
    match v {
        Some(v) if !(v.is_finite() && v >= 0.0) => {
            Err(InvalidValue::new(field, v, "a finite number ≥ 0"))
        }
        _ => Ok(()),
    }
}

/// Each region's centroid on the scan of `scan_shape` (when given; at most half a pixel
/// outside it), its diameter and width ≥ 0; `field` is the list's path.
fn check_regions(
    field: &str,
    regions: &[RegionDoc],
    scan_shape: Option<[usize; 2]>,
) -> Result<(), InvalidValue> {
    for (i, r) in regions.iter().enumerate() {
        let region = |name: &str| format!("{field}[{i}].{name}");
        for (axis, &c) in r.centroid_px.iter().enumerate() {
            let top = scan_shape.map_or(f64::INFINITY, |s| s[axis] as f64 - 0.5);
            if !(c.is_finite() && c >= -0.5 && c <= top) {
                return Err(InvalidValue::new(
                    region(&format!("centroid_px[{axis}]")),
                    c,
                    match scan_shape {
                        Some(s) => format!(
                            "a scan-pixel coordinate from −0.5 to {top} (scan_shape[{axis}] = {})",
                            s[axis]
                        ),
                        None => "a finite scan-pixel coordinate ≥ −0.5".into(),
                    },
                ));
            }
        }
        non_negative(&region("diameter_nm"), r.diameter_nm)?;
        non_negative(&region("fwhm_nm"), r.fwhm_nm)?;
    }
    Ok(())
}

/// `Err` naming `field` unless `v` is absent or within [0, 1].
fn share(field: &str, v: Option<f64>) -> Result<(), InvalidValue> {
    v.map_or(Ok(()), |v| in_range(field, v, 0.0, 1.0, ""))
}

impl TruthDoc {
    /// Refuses values that no truth file mro writes holds and that scoring cannot use (exit
    /// status 2, naming `path` and the field): an extent or thickness that is not a length from
    /// 0.1 nm (narrower than an atom) to 1 m (wider, the periodic distances lose their
    /// precision); a cluster diameter under 0.1 nm or wider than the sample; a centre more
    /// than one extent outside the sample (mro writes centres inside it); a schema other than
    /// [`TRUTH_SCHEMA`]; a symmetry n outside 1 to [`N_SYMMETRY_MAX`], or a `by_symmetry` key
    /// not written as one; a density wave whose n has no `by_symmetry` entry; a volume
    /// fraction outside [0, 1]; an in-condition count above the count; a spacing or `k0` that
    /// is not positive; a placement mode other than `random` or `correlated`.
    pub fn check(&self, path: &Path) -> anyhow::Result<()> {
        let show = mro_core::check::show_number;
        if self.schema.as_deref() != Some(TRUTH_SCHEMA) {
            return Err(bad_input(format!(
                "{}: field `schema` = {}: expected \"{TRUTH_SCHEMA}\"",
                path.display(),
                self.schema
                    .as_ref()
                    .map_or("missing".to_string(), |s| format!("{s:?}"))
            )));
        }
        let bad = |field: String, value: f64, expected: &str| {
            Err(bad_input(format!(
                "{}: field `{field}` = {}: expected {expected}",
                path.display(),
                show(value)
            )))
        };
        let length = |v: f64| (0.1..=1e9).contains(&v);
        for (i, &e) in self.extent_nm.iter().enumerate() {
            if !length(e) {
                return bad(format!("extent_nm[{i}]"), e, "a length from 0.1 to 1e9 nm");
            }
        }
        if let Some(t) = self.thickness_nm.filter(|&t| !length(t)) {
            return bad("thickness_nm".into(), t, "a length from 0.1 to 1e9 nm");
        }
        let widest = self.extent_nm[0].max(self.extent_nm[1]);
        for (i, c) in self.clusters.iter().enumerate() {
            if !(c.diameter_nm >= 0.1 && c.diameter_nm <= widest) {
                return bad(
                    format!("clusters[{i}].diameter_nm"),
                    c.diameter_nm,
                    &format!(
                        "a diameter from 0.1 nm (an atom) to the sample's width, {} nm",
                        show(widest)
                    ),
                );
            }
            for k in 0..2 {
                let (x, e) = (c.center_nm[k], self.extent_nm[k]);
                if !(-e..=2.0 * e).contains(&x) {
                    return bad(
                        format!("clusters[{i}].center_nm[{k}]"),
                        x,
                        &format!(
                            "a position within one extent of the sample ({} to {} nm)",
                            -e,
                            2.0 * e
                        ),
                    );
                }
            }
        }
        // Scoring evaluates the geometric in-condition model at each planted n, at a cost linear
        // in n (its 2n spots at each of 7200 angles): an n in the billions would not finish.
        let symmetry = |field: String, n: u32| {
            if (1..=N_SYMMETRY_MAX).contains(&n) {
                Ok(())
            } else {
                bad(
                    field,
                    n.into(),
                    &format!("a symmetry n from 1 to {N_SYMMETRY_MAX}"),
                )
            }
        };
        for (i, c) in self.clusters.iter().enumerate() {
            if let Some(n) = c.symmetry {
                symmetry(format!("clusters[{i}].symmetry"), n)?;
            }
            for (j, &n) in c.shows.iter().enumerate() {
                symmetry(format!("clusters[{i}].shows[{j}]"), n)?;
            }
        }
        let fraction = |field: String, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                bad(field, v, "a volume fraction from 0 to 1")
            }
        };
        for (key, t) in &self.by_symmetry {
            check_symmetry_key("by_symmetry", key)
                .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
            fraction(
                format!("by_symmetry.{key}.volume_fraction"),
                t.volume_fraction,
            )?;
            if let Some(count) = t.count.filter(|&c| t.in_condition_count > c) {
                return bad(
                    format!("by_symmetry.{key}.in_condition_count"),
                    t.in_condition_count as f64,
                    &format!("at most `by_symmetry.{key}.count` = {count}"),
                );
            }
            for (name, v) in [
                (
                    "projected_nearest_neighbor_nm",
                    t.projected_nearest_neighbor_nm,
                ),
                ("pair_correlation_peak_nm", t.pair_correlation_peak_nm),
                ("k0_per_nm", t.k0_per_nm),
            ] {
                if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                    return bad(
                        format!("by_symmetry.{key}.{name}"),
                        v,
                        "a finite number > 0",
                    );
                }
            }
        }
        fraction("total_volume_fraction".into(), self.total_volume_fraction)?;
        if let Some(p) = self
            .placement
            .as_ref()
            .filter(|p| !["random", "correlated"].contains(&p.mode.as_str()))
        {
            return Err(bad_input(format!(
                "{}: field `placement.mode` = {:?}: expected \"random\" or \"correlated\"",
                path.display(),
                p.mode
            )));
        }
        // A density wave's n has its table: without it, its clusters would go unscored.
        for (i, c) in self.clusters.iter().enumerate() {
            if let Some(n) = c
                .symmetry
                .filter(|n| !self.by_symmetry.contains_key(&n.to_string()))
            {
                return Err(bad_input(format!(
                    "{}: field `clusters[{i}].symmetry` = {n}: expected an n that `by_symmetry` \
                     holds (it has no entry \"{n}\")",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// Whether the clusters were placed at a target spacing, so that a spacing exists to be
    /// recovered. Random placement has none: σ(r) of its maps shows at most the mean distance
    /// of a Poisson-like pattern, which is no property the glass was given.
    pub fn has_spacing(&self) -> bool {
        self.placement
            .as_ref()
            .is_some_and(|p| p.mode == "correlated")
    }

    /// The symmetries something was planted at, in increasing n: `by_symmetry` without the
    /// entries that count no cluster (a table whose fraction is 0, or too small to place one).
    /// Those are scored as if the table were absent, so that a glass that places no cluster
    /// scores exactly as `clusters = []` (whose `by_symmetry` is empty).
    fn planted(&self) -> Vec<(u32, &TrueType)> {
        numerically(&self.by_symmetry)
            .into_iter()
            .filter(|(_, t)| t.count != Some(0))
            .collect()
    }
}

/// One planted cluster.
#[derive(Debug, Clone, Deserialize)]
pub struct TrueCluster {
    /// A density wave's assigned n; absent or null for a structure cluster.
    #[serde(default)]
    pub symmetry: Option<u32>,
    /// The n whose isolated-cluster `P_n` reaches the truth's threshold (absent from older
    /// truth files, whose clusters are all density waves).
    #[serde(default)]
    pub shows: Vec<u32>,
    /// Centre `[x, y, z]` in nm.
    pub center_nm: [f64; 3],
    /// Diameter in nm.
    pub diameter_nm: f64,
    /// A density wave: its reflections lie within its own Bragg acceptance, 1/(k0·D); a
    /// structure: it shows a symmetry.
    pub in_condition: bool,
}

impl TrueCluster {
    /// Whether the cluster diffracts into the map of n: a density wave of n in condition, or a
    /// structure cluster that shows n.
    pub fn in_condition_for(&self, n: u32) -> bool {
        match self.symmetry {
            Some(m) => m == n && self.in_condition,
            None => self.shows.contains(&n),
        }
    }
}

/// Truth for one symmetry.
#[derive(Debug, Clone, Deserialize)]
pub struct TrueType {
    /// Clusters of this n (absent from truth files of other tools: the n then counts as
    /// planted).
    #[serde(default)]
    pub count: Option<usize>,
    /// Volume fraction achieved.
    pub volume_fraction: f64,
    /// Clusters in condition.
    pub in_condition_count: usize,
    /// Mean projected nearest-neighbour distance among in-condition clusters, nm.
    #[serde(default)]
    pub projected_nearest_neighbor_nm: Option<f64>,
    /// Peak of the in-condition clusters' projected pair-correlation function, nm: the truth of a
    /// σ(r) spacing (absent from older truth files).
    #[serde(default)]
    pub pair_correlation_peak_nm: Option<f64>,
    /// Ring the clusters diffract into, nm⁻¹.
    #[serde(default)]
    pub k0_per_nm: Option<f64>,
}

/// What scoring reads of `analysis.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct AnalysisDoc {
    /// The datacube's shapes (absent from older analyses).
    #[serde(default)]
    pub input: Option<InputDoc>,
    /// The calibration used (for the scan step).
    pub calibration: CalibrationDoc,
    /// The settings used (for the in-condition corrections).
    pub config: ConfigDoc,
    /// Fluctuation variance.
    pub variance: VarianceDoc,
    /// Dataset-averaged angular power spectrum.
    pub power_spectrum: PowerDoc,
    /// Per symmetry n.
    pub by_symmetry: BTreeMap<String, FoundType>,
    /// The `im2018` total: Σ volume fraction over the analysis's summed symmetries.
    #[serde(default)]
    pub total_volume_fraction: Option<f64>,
    /// Why a whole-sample value is null (absent from older analyses).
    #[serde(default)]
    pub null_reasons: BTreeMap<String, String>,
    /// The run the datacube came from (absent for measured data and older analyses).
    #[serde(default)]
    pub provenance: Option<mro_core::meta::RunProvenance>,
    /// The `mro` method's results (absent from older analyses).
    #[serde(default)]
    pub mro: Option<EstimateBody>,
}

/// One method's answer, per n: the body of an external estimate and of `analysis.json`'s `mro`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EstimateBody {
    /// Per symmetry n (keyed `"4"`).
    pub by_symmetry: BTreeMap<String, EstimateType>,
    /// Total volume fraction over every n, if the method gives one.
    #[serde(default)]
    pub total_volume_fraction: Option<f64>,
    /// Its standard error.
    #[serde(default)]
    pub total_volume_fraction_se: Option<f64>,
    /// Why the total (or its standard error) is null, keyed by the field.
    #[serde(default)]
    pub null_reasons: BTreeMap<String, String>,
}

impl EstimateBody {
    /// Refuses impossible values, naming the field: a key that is not a symmetry n
    /// ([`symmetry_key`]), a negative count, diameter, spacing or standard error, a fraction
    /// outside [0, 1], a region centroid off the scan of `scan_shape` (when given).
    pub fn check(&self, scan_shape: Option<[usize; 2]>) -> Result<(), InvalidValue> {
        for (key, t) in &self.by_symmetry {
            check_symmetry_key("by_symmetry", key)?;
            let field = |name: &str| format!("by_symmetry.{key}.{name}");
            for (name, v) in [
                ("regions", t.regions),
                ("regions_se", t.regions_se),
                ("clusters", t.clusters),
                ("clusters_se", t.clusters_se),
                ("mean_diameter_nm", t.mean_diameter_nm),
                ("mean_diameter_se_nm", t.mean_diameter_se_nm),
                ("volume_fraction_se", t.volume_fraction_se),
                ("spacing_nm", t.spacing_nm),
                ("spacing_se_nm", t.spacing_se_nm),
                ("nearest_neighbor_nm", t.nearest_neighbor_nm),
                ("nearest_neighbor_se_nm", t.nearest_neighbor_se_nm),
            ] {
                non_negative(&field(name), v)?;
            }
            share(&field("volume_fraction"), t.volume_fraction)?;
            check_regions(&field("region_list"), &t.region_list, scan_shape)?;
        }
        share("total_volume_fraction", self.total_volume_fraction)?;
        non_negative("total_volume_fraction_se", self.total_volume_fraction_se)
    }
}

impl AnalysisDoc {
    /// Refuses (exit status 2, naming `path` and the field) what no `analysis.json` mro writes
    /// holds and what would be scored into wrong numbers: a `config.method` other than `mro`
    /// or `im2018`, or `mro` without its `mro` section; a scan step outside the calibration
    /// range; a scan with no point; an in-condition share or acceptance the analysis's own
    /// config refuses; a `by_symmetry` key that is not a symmetry n; an `n_max` outside 1 to
    /// [`N_SYMMETRY_MAX`], or a map missing for an n up to it (every map up to it is written); impossible values of either method,
    /// region centroids off the scan included ([`EstimateBody::check`] for `mro`).
    pub fn check(&self, path: &Path) -> anyhow::Result<()> {
        let checked = || -> Result<(), InvalidValue> {
            match (self.config.method.as_deref(), &self.mro) {
                (None | Some("im2018"), _) | (Some("mro"), Some(_)) => {}
                (Some("mro"), None) => {
                    return Err(InvalidValue::new(
                        "config.method",
                        "\"mro\"",
                        "an analysis that holds the `mro` section it names (it has none)",
                    ))
                }
                (Some(m), _) => {
                    return Err(InvalidValue::new(
                        "config.method",
                        format!("{m:?}"),
                        "\"mro\" or \"im2018\"",
                    ))
                }
            }
            check_scan_step("calibration.scan_step_nm", self.calibration.scan_step_nm)?;
            if let Some(input) = &self.input {
                check_scan_shape("input.scan_shape", input.scan_shape)?;
            }
            // The in-condition corrections divide by them.
            mro_core::check::positive_up_to(
                "config.in_condition_fraction",
                self.config.in_condition_fraction,
                1.0,
                "",
            )?;
            in_range(
                "config.acceptance_deg",
                self.config.acceptance_deg,
                0.1,
                90.0,
                "°",
            )?;
            let shape = self.input.as_ref().map(|i| i.scan_shape);
            for (key, t) in &self.by_symmetry {
                check_symmetry_key("by_symmetry", key)?;
                let field = |name: &str| format!("by_symmetry.{key}.{name}");
                for (name, v) in [
                    ("regions_se", t.regions_se),
                    ("mean_diameter_nm", t.mean_diameter_nm),
                    ("mean_diameter_se_nm", t.mean_diameter_se_nm),
                    ("mean_diameter_corrected_nm", t.mean_diameter_corrected_nm),
                    (
                        "mean_diameter_corrected_se_nm",
                        t.mean_diameter_corrected_se_nm,
                    ),
                    (
                        "volume_fraction_in_condition_se",
                        t.volume_fraction_in_condition_se,
                    ),
                    ("autocorrelation_peak_nm", t.autocorrelation_peak_nm),
                    ("autocorrelation_peak_se_nm", t.autocorrelation_peak_se_nm),
                ] {
                    non_negative(&field(name), v)?;
                }
                share(
                    &field("volume_fraction_in_condition"),
                    t.volume_fraction_in_condition,
                )?;
                check_regions(&field("region_list"), &t.region_list, shape)?;
            }
            share("total_volume_fraction", self.total_volume_fraction)?;
            non_negative("variance.peak_k_per_nm", self.variance.peak_k_per_nm)?;
            non_negative("variance.peak_k_se_per_nm", self.variance.peak_k_se_per_nm)?;
            if let Some(mro) = &self.mro {
                mro.check(shape).map_err(|e| e.within("mro"))?;
            }
            if let Some(n_max) = self.config.n_max {
                if !(1..=N_SYMMETRY_MAX as usize).contains(&n_max) {
                    return Err(InvalidValue::new(
                        "config.n_max",
                        n_max,
                        format!("an n from 1 to {N_SYMMETRY_MAX}"),
                    ));
                }
                let mro = self.mro.as_ref().map(|m| &m.by_symmetry);
                for key in (1..=n_max).map(|n| n.to_string()) {
                    let missing = if !self.by_symmetry.contains_key(&key) {
                        Some("by_symmetry")
                    } else if mro.is_some_and(|m| !m.contains_key(&key)) {
                        Some("mro.by_symmetry")
                    } else {
                        None
                    };
                    if let Some(section) = missing {
                        return Err(InvalidValue::new(
                            format!("{section}.{key}"),
                            "missing",
                            format!(
                                "a map for every n from 1 to config.n_max = {n_max}, as `mro \
                                 analyze` writes them"
                            ),
                        ));
                    }
                }
            }
            Ok(())
        };
        checked().map_err(|err| bad_input(format!("{}: {err}", path.display())))
    }
}

/// An external estimate (schema `mro.estimate/1`; see the module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Estimate {
    /// Always [`ESTIMATE_SCHEMA`].
    pub schema: String,
    /// Name of the method or pipeline, shown in the tables.
    pub method: String,
    /// Scan step in nm, to place `region_list` in the sample (no recall/precision without it).
    #[serde(default)]
    pub scan_step_nm: Option<f64>,
    /// Scan points `[rows, cols]`: with `scan_step_nm`, the scanned field, to which the truth's
    /// counts, diameters and recalls are restricted; without it the scan is taken to cover the
    /// whole sample.
    #[serde(default)]
    pub scan_shape: Option<[usize; 2]>,
    /// The answer.
    #[serde(flatten)]
    pub body: EstimateBody,
}

/// One method's answer for one n. Every value is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EstimateType {
    /// Number of regions (clusters seen).
    #[serde(default)]
    pub regions: Option<f64>,
    /// Its standard error.
    #[serde(default)]
    pub regions_se: Option<f64>,
    /// Clusters in condition including those the method missed (a completeness-corrected
    /// count); scored in place of `regions` when given.
    #[serde(default)]
    pub clusters: Option<f64>,
    /// Its standard error.
    #[serde(default)]
    pub clusters_se: Option<f64>,
    /// Mean cluster diameter, nm.
    #[serde(default)]
    pub mean_diameter_nm: Option<f64>,
    /// Its standard error, nm.
    #[serde(default)]
    pub mean_diameter_se_nm: Option<f64>,
    /// Volume fraction of clusters of this n, all orientations.
    #[serde(default)]
    pub volume_fraction: Option<f64>,
    /// Its standard error.
    #[serde(default)]
    pub volume_fraction_se: Option<f64>,
    /// Cluster spacing, nm (null: none found).
    #[serde(default)]
    pub spacing_nm: Option<f64>,
    /// Its standard error, nm.
    #[serde(default)]
    pub spacing_se_nm: Option<f64>,
    /// Mean nearest-neighbour distance of the clusters found, in the scan plane, nm.
    #[serde(default)]
    pub nearest_neighbor_nm: Option<f64>,
    /// Its standard error, nm.
    #[serde(default)]
    pub nearest_neighbor_se_nm: Option<f64>,
    /// The regions (for recall and precision).
    #[serde(default)]
    pub region_list: Vec<RegionDoc>,
    /// Why a value is null, keyed by the field above (`"spacing_nm"`); shown beside the blank.
    #[serde(default)]
    pub null_reasons: BTreeMap<String, String>,
}

/// The calibration part of `analysis.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct CalibrationDoc {
    /// Probe step in nm, to place regions in the sample.
    pub scan_step_nm: f64,
    /// Foil thickness in nm, if the calibration gave one.
    #[serde(default)]
    pub thickness_nm: Option<f64>,
}

/// The input part of `analysis.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct InputDoc {
    /// Scan points `[y, x]`.
    pub scan_shape: [usize; 2],
}

/// The settings part of `analysis.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ConfigDoc {
    /// The paper's fixed in-condition share.
    pub in_condition_fraction: f64,
    /// Bragg acceptance half-angle, degrees.
    pub acceptance_deg: f64,
    /// The estimator scored (`"mro"` or `"im2018"`; absent from older analyses: `im2018`).
    #[serde(default)]
    pub method: Option<String>,
    /// The highest n analysed: every map from 1 to it is in the file (absent from older
    /// analyses).
    #[serde(default)]
    pub n_max: Option<usize>,
}

/// The V(k) part of `analysis.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct VarianceDoc {
    /// Where V(k) peaks, nm⁻¹.
    pub peak_k_per_nm: Option<f64>,
    /// Its standard error (absent from files before it was added).
    #[serde(default)]
    pub peak_k_se_per_nm: Option<f64>,
    /// Why a value is null.
    #[serde(default)]
    pub null_reasons: BTreeMap<String, String>,
}

/// The power-spectrum part of `analysis.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct PowerDoc {
    /// Σ odd-n power / Σ even-n power (n ≥ 1); null (read as NaN) where no even n ≥ 2 is
    /// analysed (`n_max = 1`) or the even power is 0.
    #[serde(deserialize_with = "null_as_nan")]
    pub odd_even_ratio: f64,
    /// The same after subtracting the shot-noise floor from every P_n (absent from older
    /// analyses).
    #[serde(default)]
    pub odd_even_ratio_corrected: Option<f64>,
}

/// Recovered values for one symmetry.
#[derive(Debug, Clone, Deserialize)]
pub struct FoundType {
    /// Number of regions.
    pub regions: usize,
    /// Mean equivalent-circle diameter, nm.
    pub mean_diameter_nm: Option<f64>,
    /// The same with the probe blur removed, nm.
    #[serde(default)]
    pub mean_diameter_corrected_nm: Option<f64>,
    /// Its standard error, nm (absent from older analyses).
    #[serde(default)]
    pub mean_diameter_corrected_se_nm: Option<f64>,
    /// Volume fraction of in-condition clusters (area fraction × spheres in the foil).
    pub volume_fraction_in_condition: Option<f64>,
    /// Standard error of the region count (absent from older analyses).
    #[serde(default)]
    pub regions_se: Option<f64>,
    /// Standard error of the mean diameter, nm.
    #[serde(default)]
    pub mean_diameter_se_nm: Option<f64>,
    /// Standard error of `volume_fraction_in_condition`.
    #[serde(default)]
    pub volume_fraction_in_condition_se: Option<f64>,
    /// First peak of σ(r) beyond the probe, nm.
    pub autocorrelation_peak_nm: Option<f64>,
    /// Its standard error, nm.
    #[serde(default)]
    pub autocorrelation_peak_se_nm: Option<f64>,
    /// That peak's prominence in standard errors of σ(r) (absent from older analyses).
    #[serde(default)]
    pub autocorrelation_peak_significance: Option<f64>,
    /// The regions.
    #[serde(default)]
    pub region_list: Vec<RegionDoc>,
    /// Why a value is null, keyed by the field.
    #[serde(default)]
    pub null_reasons: BTreeMap<String, String>,
}

/// One region of a per-n map.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionDoc {
    /// Centroid `[row, col]` in scan pixels.
    pub centroid_px: [f64; 2],
    /// Diameter, nm (null: none measured).
    #[serde(default)]
    pub diameter_nm: Option<f64>,
    /// Half-maximum width of the region, nm (used for matching when there is no diameter).
    #[serde(default)]
    pub fwhm_nm: Option<f64>,
}

/// One scored quantity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// What was measured.
    pub quantity: String,
    /// The estimator: `im2018`, `mro` or an external estimate's name.
    #[serde(default = "im2018")]
    pub method: String,
    /// n, or null for whole-sample quantities.
    pub symmetry: Option<u32>,
    /// The planted value.
    pub truth: Option<f64>,
    /// The measured value.
    pub recovered: Option<f64>,
    /// Its standard error, where the method gives one.
    #[serde(default)]
    pub recovered_se: Option<f64>,
    /// (recovered − truth)/truth.
    pub relative_error: Option<f64>,
    /// The scenario's tolerance on |relative_error|, where one applies.
    pub tolerance: Option<f64>,
    /// Whether |relative_error| ≤ tolerance (null where no tolerance applies or a value is
    /// missing).
    pub within_tolerance: Option<bool>,
    /// Why `recovered` is null or, when only its standard error is, why that is (`"standard
    /// error: …"`), from the scored file's `null_reasons`; absent when neither is null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_reason: Option<String>,
}

impl Row {
    /// Sets [`Row::null_reason`] from `reasons` (a file's `null_reasons`), under `value` for a
    /// null `recovered` and `se` for a null `recovered_se`; `otherwise` where the file gives no
    /// reason for a null value.
    fn explain(
        mut self,
        reasons: Option<&BTreeMap<String, String>>,
        value: &str,
        se: &str,
        otherwise: &str,
    ) -> Self {
        let get = |k: &str| reasons.and_then(|r| r.get(k)).cloned();
        self.null_reason = if self.recovered.is_none() {
            Some(get(value).unwrap_or_else(|| otherwise.to_string()))
        } else if self.recovered_se.is_none() {
            get(se).map(|why| format!("standard error: {why}"))
        } else {
            None
        };
        self
    }
}

fn im2018() -> String {
    "im2018".into()
}

/// `score.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Always [`SCORE_SCHEMA`].
    pub schema: String,
    /// The estimator whose rows carry the tolerances.
    #[serde(default = "im2018")]
    pub method: String,
    /// One row per method, quantity and symmetry.
    pub rows: Vec<Row>,
    /// Odd/even angular power ratio of the data (0 for a perfectly Friedel-symmetric dataset
    /// without noise; NaN, written null, for an external estimate, which gives none).
    #[serde(deserialize_with = "null_as_nan")]
    pub odd_even_ratio: f64,
    /// The odd/even ratio with the expected shot-noise power taken off every P_n: what the
    /// sample, not the dose, puts into odd n.
    #[serde(default)]
    pub odd_even_ratio_noise_corrected: Option<f64>,
    /// Whether every toleranced row held (a missing recovered value counts as a failure).
    pub all_within_tolerance: bool,
    /// Share of the sample's area the scan covers, when below 1: the truth of each region
    /// count and mean diameter, and both recalls' denominators, are then the in-condition clusters
    /// whose centres lie in the scanned field (volume fractions and spacings stay the
    /// sample's). Absent when the scan covers the sample or its extent is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_share: Option<f64>,
    /// The scenario's `scoring.checks` that judged no row, each with why (`"spacing: …"`):
    /// `all_within_tolerance` says nothing about them. Empty when every check judged something
    /// or when `not_judged` says why nothing was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unjudged_checks: Vec<String>,
    /// The sample against its no-MRO control (absent with `--no-control` and from `mro score`,
    /// which has no control).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectability: Option<Detectability>,
    /// Why no no-MRO control was run although one was asked for (atoms from a file: `"atoms
    /// from a file: no clusters to remove"`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_skipped: Option<String>,
    /// Why no tolerance was judged (atoms from a file without a truth file: the truth is
    /// unknown, so every row's `tolerance` and `within_tolerance` are null and
    /// `all_within_tolerance` is vacuously true); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_judged: Option<String>,
    /// The run's observables beside the published ones (paper-setup scenarios only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realism: Option<Realism>,
}

impl Score {
    /// The verdict in a word for tables and summaries: `held` or `failed` as given, `"not
    /// judged"` when no tolerance was, and the checks that judged nothing after it
    /// (`"held (not judged: spacing)"`).
    pub fn tolerance_word(&self, held: &str, failed: &str) -> String {
        if self.not_judged.is_some() {
            return "not judged".into();
        }
        let word = if self.all_within_tolerance {
            held
        } else {
            failed
        };
        if self.unjudged_checks.is_empty() {
            return word.into();
        }
        let names: Vec<&str> = self
            .unjudged_checks
            .iter()
            .map(|c| c.split(':').next().unwrap_or(c))
            .collect();
        format!("{word} (not judged: {})", names.join(", "))
    }
}

fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// `" (shot noise removed: X)"` where the analysis gave the corrected ratio.
pub fn noise_corrected(score: &Score) -> String {
    score
        .odd_even_ratio_noise_corrected
        .map_or(String::new(), |r| format!(" (shot noise removed: {r:.4})"))
}

fn row(
    quantity: &str,
    symmetry: Option<u32>,
    truth: Option<f64>,
    recovered: Option<f64>,
    tolerance: Option<f64>,
) -> Row {
    row_se(
        quantity,
        "im2018",
        symmetry,
        truth,
        (recovered, None),
        tolerance,
    )
}

fn row_se(
    quantity: &str,
    method: &str,
    symmetry: Option<u32>,
    truth: Option<f64>,
    (recovered, recovered_se): (Option<f64>, Option<f64>),
    tolerance: Option<f64>,
) -> Row {
    // +0.0 turns a −0.0 (an empty float sum) into 0.0.
    let truth = truth.map(|t| t + 0.0);
    let relative_error = match (truth, recovered) {
        (Some(t), Some(r)) if t != 0.0 && t.is_finite() && r.is_finite() => Some((r - t) / t),
        _ => None,
    };
    // A truth of 0 has no relative error: only an exact 0 ("none where there is none") holds.
    let within_tolerance = match (tolerance, truth) {
        (Some(_), Some(0.0)) => Some(recovered == Some(0.0)),
        (Some(tol), Some(_)) => Some(relative_error.is_some_and(|e| e.abs() <= tol)),
        _ => None,
    };
    Row {
        quantity: quantity.to_string(),
        method: method.to_string(),
        symmetry,
        truth,
        recovered,
        recovered_se,
        relative_error,
        tolerance,
        within_tolerance,
        null_reason: None,
    }
}

/// Mean of the values, `None` for none.
pub fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// Periodic distance between two points in the plane.
fn wrapped_distance(a: [f64; 2], b: [f64; 2], extent: [f64; 2]) -> f64 {
    let d = |i: usize| {
        let x = (a[i] - b[i]).rem_euclid(extent[i]);
        x.min(extent[i] - x)
    };
    d(0).hypot(d(1))
}

/// Scores an analysis against the truth with the given tolerances: both of its methods side by
/// side, the tolerances applied to the one its `config.method` names (default `mro`; `im2018`
/// for analyses without an `mro` section).
///
/// An odd-n cluster diffracts with 2n-fold symmetry (Friedel), so it is compared with map 2n.
pub fn score(truth: &TruthDoc, analysis: &AnalysisDoc, tol: &ScoringSpec) -> Score {
    let scored = match (&analysis.mro, analysis.config.method.as_deref()) {
        (Some(_), Some("mro") | None) => "mro",
        _ => "im2018",
    };
    let pick = |m: &str| (m == scored).then_some(tol);
    let field = ScanField {
        step_nm: analysis.calibration.scan_step_nm,
        shape: analysis.input.as_ref().map(|i| i.scan_shape),
        extent_nm: truth.extent_nm,
    };
    let mut rows = im2018_extras(truth, analysis, &field);
    // A planted n missing from an analysis was never measured (above its n_max, or outside
    // its `symmetries`): not scored, as `mro check` warns.
    rows.extend(method_rows(
        truth,
        "im2018",
        &im2018_estimate(analysis),
        Some(field),
        pick("im2018"),
        false,
    ));
    if let Some(mro) = &analysis.mro {
        rows.extend(method_rows(
            truth,
            "mro",
            mro,
            Some(field),
            pick("mro"),
            false,
        ));
    }
    let all_within_tolerance = rows.iter().all(|r| r.within_tolerance != Some(false));
    let unjudged_checks = unjudged_checks(truth, tol, &rows, !field.covers_sample());
    let not_judged = (!rows.iter().any(|r| r.tolerance.is_some())).then(|| {
        let maps: Vec<String> = numerically(&analysis.by_symmetry)
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        if tol.checks.is_empty() {
            "no scored value carries a tolerance: the scenario's [scoring] checks list is empty"
                .to_string()
        } else if unjudged_checks.is_empty() {
            format!(
                "no scored value carries a tolerance: the planted symmetries lie outside the \
                 analysed maps (n = {}) or the scenario's checks select none of them",
                maps.join(", ")
            )
        } else {
            format!(
                "no scored value carries a tolerance: the scenario's checks judge nothing \
                 here ({})",
                unjudged_checks.join("; ")
            )
        }
    });
    Score {
        schema: SCORE_SCHEMA.to_string(),
        method: scored.to_string(),
        rows,
        odd_even_ratio: analysis.power_spectrum.odd_even_ratio,
        odd_even_ratio_noise_corrected: analysis.power_spectrum.odd_even_ratio_corrected,
        all_within_tolerance,
        scanned_share: partial_share(&field),
        unjudged_checks: if not_judged.is_some() {
            Vec::new()
        } else {
            unjudged_checks
        },
        detectability: None,
        control_skipped: None,
        not_judged,
        realism: None,
    }
}

/// The checks of `tol` that judged none of `rows`, each as `"check: why"`; `partial`: the scan
/// covers only part of the sample.
fn unjudged_checks(
    truth: &TruthDoc,
    tol: &ScoringSpec,
    rows: &[Row],
    partial: bool,
) -> Vec<String> {
    let place = if partial { " in the scanned field" } else { "" };
    tol.checks
        .iter()
        .filter_map(|&check| {
            let (name, quantities, why): (&str, &[&str], String) = match check {
                Check::Diameter => (
                    "diameter",
                    &["mean_diameter_nm"],
                    format!("no planted n that was analysed has an in-condition cluster{place} to measure"),
                ),
                Check::VolumeFraction => (
                    "volume_fraction",
                    &["volume_fraction", "planted_volume_fraction"],
                    "no planted n was analysed".into(),
                ),
                Check::Spacing => (
                    "spacing",
                    &["spacing_nm"],
                    if truth.placement.is_none() {
                        "truth.json records no placement, so the glass has no known spacing to \
                         score"
                            .into()
                    } else if !truth.has_spacing() {
                        "placement is random: the glass was given no spacing for σ(r) to \
                         recover (placement.mode = \"correlated\" gives one)"
                            .into()
                    } else if truth
                        .planted()
                        .iter()
                        .any(|(_, t)| t.pair_correlation_peak_nm.is_some())
                    {
                        "no planted n with a spacing in truth.json was analysed".into()
                    } else {
                        "truth.json gives no pair-correlation peak for any planted n (too few \
                         in-condition clusters, or no significant peak), so there is no spacing \
                         to score"
                            .into()
                    },
                ),
            };
            let judged = rows
                .iter()
                .any(|r| quantities.contains(&r.quantity.as_str()) && r.tolerance.is_some());
            (!judged).then(|| format!("{name}: {why}"))
        })
        .collect()
}

/// The field's share of the sample when the scan covers only part of it.
fn partial_share(field: &ScanField) -> Option<f64> {
    (!field.covers_sample()).then(|| field.covered_share())
}

/// Scores an external estimate (schema `mro.estimate/1`) against the truth; its rows carry the
/// tolerances.
pub fn score_estimate(truth: &TruthDoc, estimate: &Estimate, tol: &ScoringSpec) -> Score {
    // An estimate that leaves out a planted n did not recover it: it fails its tolerances.
    let field = estimate.scan_step_nm.map(|step_nm| ScanField {
        step_nm,
        shape: estimate.scan_shape,
        extent_nm: truth.extent_nm,
    });
    let rows = method_rows(
        truth,
        &estimate.method,
        &estimate.body,
        field,
        Some(tol),
        true,
    );
    let all_within_tolerance = rows.iter().all(|r| r.within_tolerance != Some(false));
    let partial = field.is_some_and(|f| !f.covers_sample());
    let unjudged_checks = unjudged_checks(truth, tol, &rows, partial);
    Score {
        schema: SCORE_SCHEMA.to_string(),
        method: estimate.method.clone(),
        rows,
        odd_even_ratio: f64::NAN,
        odd_even_ratio_noise_corrected: None,
        all_within_tolerance,
        scanned_share: field.as_ref().and_then(partial_share),
        unjudged_checks,
        detectability: None,
        control_skipped: None,
        not_judged: None,
        realism: None,
    }
}

/// The published method's answer in the common form: its in-condition volume fraction over the
/// paper's fixed in-condition share (refused above 1, as the analysis does).
fn im2018_estimate(analysis: &AnalysisDoc) -> EstimateBody {
    let p = analysis.config.in_condition_fraction;
    let by_symmetry = analysis
        .by_symmetry
        .iter()
        .map(|(k, f)| {
            let vf = f.volume_fraction_in_condition.map(|v| v / p);
            let bounded = vf.filter(|&v| v <= 1.0);
            (
                k.clone(),
                EstimateType {
                    regions: Some(f.regions as f64),
                    regions_se: f.regions_se,
                    clusters: None,
                    clusters_se: None,
                    mean_diameter_nm: f.mean_diameter_nm,
                    mean_diameter_se_nm: f.mean_diameter_se_nm,
                    volume_fraction: bounded,
                    volume_fraction_se: bounded
                        .and(f.volume_fraction_in_condition_se)
                        .map(|v| v / p),
                    spacing_nm: f.autocorrelation_peak_nm,
                    spacing_se_nm: f.autocorrelation_peak_se_nm,
                    nearest_neighbor_nm: None,
                    nearest_neighbor_se_nm: None,
                    region_list: f.region_list.clone(),
                    null_reasons: im2018_reasons(f, vf, p),
                },
            )
        })
        .collect();
    let mut null_reasons = analysis.null_reasons.clone();
    null_reasons
        .entry("total_volume_fraction_se".into())
        .or_insert_with(|| "the im2018 method gives none for its total".into());
    EstimateBody {
        by_symmetry,
        total_volume_fraction: analysis.total_volume_fraction,
        total_volume_fraction_se: None,
        null_reasons,
    }
}

/// An `im2018` map's `null_reasons` under the names of the common form ([`EstimateType`]).
fn im2018_reasons(f: &FoundType, vf: Option<f64>, p: f64) -> BTreeMap<String, String> {
    let mut why = f.null_reasons.clone();
    for (from, to) in [
        ("autocorrelation_peak_nm", "spacing_nm"),
        ("autocorrelation_peak_se_nm", "spacing_se_nm"),
    ] {
        if let Some(r) = f.null_reasons.get(from) {
            why.insert(to.into(), r.clone());
        }
    }
    if let Some(v) = vf.filter(|&v| v > 1.0) {
        why.entry("volume_fraction".into()).or_insert_with(|| {
            format!(
                "dividing by the in-condition share {p} gives {v:.3} > 1: it does not hold here"
            )
        });
    }
    let none = "the published method measures no nearest-neighbour distance (the mro method does)";
    why.insert("nearest_neighbor_nm".into(), none.into());
    why
}

/// Rows only the published method has: the V(k) peak, the probe-corrected diameter, the
/// geometric in-condition correction, the σ(r) peak's significance. Never toleranced.
fn im2018_extras(truth: &TruthDoc, analysis: &AnalysisDoc, field: &ScanField) -> Vec<Row> {
    let mut rows = Vec::new();
    let planted = truth.planted();
    let k0 = mean(planted.iter().filter_map(|(_, t)| t.k0_per_nm));
    rows.push(
        row_se(
            "v_peak_k_per_nm",
            "im2018",
            None,
            k0,
            (
                analysis.variance.peak_k_per_nm,
                analysis.variance.peak_k_se_per_nm,
            ),
            None,
        )
        .explain(
            Some(&analysis.variance.null_reasons),
            "peak_k_per_nm",
            "peak_k_se_per_nm",
            "V(k) has no peak",
        ),
    );
    let mut geometric_total = Some(0.0);
    for (n, t) in planted {
        let found = analysis.by_symmetry.get(&map_of(n).to_string());
        if found.is_none() && !assigned(truth, n) {
            continue;
        }
        let true_diameter = mean(seen_by(truth, n, Some(field)).iter().map(|c| c.diameter_nm));
        let reasons = found.map(|f| &f.null_reasons);
        let not_given = if found.is_some() {
            "the analysis gives no value and no reason".to_string()
        } else {
            format!(
                "map {} was not analysed (above n_max, or outside `symmetries`)",
                map_of(n)
            )
        };
        rows.push(
            row_se(
                "mean_diameter_corrected_nm",
                "im2018",
                Some(n),
                true_diameter,
                (
                    found.and_then(|f| f.mean_diameter_corrected_nm),
                    found.and_then(|f| f.mean_diameter_corrected_se_nm),
                ),
                None,
            )
            .explain(
                reasons,
                "mean_diameter_corrected_nm",
                "mean_diameter_corrected_se_nm",
                &not_given,
            ),
        );
        let p_geo = geometric_in_condition(n as usize, analysis.config.acceptance_deg);
        let geometric = found
            .and_then(|f| f.volume_fraction_in_condition)
            .map(|v| v / p_geo)
            .filter(|&v| v <= 1.0);
        geometric_total = geometric_total.zip(geometric).map(|(a, b)| a + b);
        rows.push(
            row_se(
                "volume_fraction_geometric",
                "im2018",
                Some(n),
                Some(t.volume_fraction),
                (
                    geometric,
                    geometric
                        .and(found.and_then(|f| f.volume_fraction_in_condition_se))
                        .map(|se| se / p_geo),
                ),
                None,
            )
            .explain(
                reasons,
                "volume_fraction_geometric",
                "volume_fraction_in_condition_se",
                &not_given,
            ),
        );
        // How far the σ(r) peak stands above the map's own fluctuations (≥ 3: a real distance).
        rows.push(
            row(
                "spacing_significance",
                Some(n),
                None,
                found.and_then(|f| f.autocorrelation_peak_significance),
                None,
            )
            .explain(reasons, "autocorrelation_peak_significance", "", &not_given),
        );
    }
    let mut total_row = row(
        "planted_volume_fraction_geometric",
        None,
        Some(truth.total_volume_fraction),
        geometric_total.filter(|&v| v <= 1.0),
        None,
    );
    if total_row.recovered.is_none() {
        total_row.null_reason = Some(match geometric_total {
            Some(v) => format!("the planted n's fractions sum to {v:.3} > 1"),
            None => "a planted n has no geometric volume fraction (see its row)".into(),
        });
    }
    rows.push(total_row);
    rows
}

/// Whether some density wave was assigned n. A structure may show an n the analysis does not
/// map (above its n_max): nothing to score there; an assigned n without a map is still a
/// missing result.
fn assigned(truth: &TruthDoc, n: u32) -> bool {
    truth.clusters.iter().any(|c| c.symmetry == Some(n))
}

/// The entries of a map keyed by symmetry n (`"4"`), in increasing n (2, 4, …, 10, not the
/// keys' string order); keys that are not numbers are skipped.
fn numerically<T>(by_symmetry: &BTreeMap<String, T>) -> Vec<(u32, &T)> {
    let mut v: Vec<(u32, &T)> = by_symmetry
        .iter()
        .filter_map(|(k, t)| k.parse().ok().map(|n| (n, t)))
        .collect();
    v.sort_by_key(|e| e.0);
    v
}

/// What a scan could see of map n: the in-condition clusters whose centres lie in its `field`
/// (all of them when it covers the sample, or its extent is unknown).
fn seen_by<'a>(truth: &'a TruthDoc, n: u32, field: Option<&ScanField>) -> Vec<&'a TrueCluster> {
    let mut clusters = in_condition(truth, n);
    if let Some(f) = field.filter(|f| !f.covers_sample()) {
        clusters.retain(|c| f.contains(c));
    }
    clusters
}

fn in_condition(truth: &TruthDoc, n: u32) -> Vec<&TrueCluster> {
    truth
        .clusters
        .iter()
        .filter(|c| c.in_condition_for(n))
        .collect()
}

/// The rows of one method: per planted n ([`TruthDoc::planted`]) the mean diameter, volume
/// fraction, region count, spacing, recall and precision, then the volume fraction summed over
/// the planted n (`planted_volume_fraction`, judged) and the method's own total
/// (`total_volume_fraction`). `tol` is `Some` for the method being judged.
fn method_rows(
    truth: &TruthDoc,
    method: &str,
    body: &EstimateBody,
    field: Option<ScanField>,
    tol: Option<&ScoringSpec>,
    missing_fails: bool,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let partial = field.filter(|f| !f.covers_sample());
    let all_tolerances = |c: Check| tol.and_then(|t| t.tolerance(c));
    let mut total: Option<(f64, f64)> = Some((0.0, 0.0));
    // Planted symmetries the method gave nothing for: not recovered; unless `missing_fails`
    // (the method was asked and did not answer) held to no tolerance, nor is the total.
    let mut all_given = true;
    let overlapped = overlapped_in_projection(&truth.clusters, truth.extent_nm);
    for (n, t) in truth.planted() {
        let found = body.by_symmetry.get(&map_of(n).to_string());
        if found.is_none() && !assigned(truth, n) {
            continue;
        }
        all_given &= found.is_some() || missing_fails;
        let tolerance = |c: Check| all_tolerances(c).filter(|_| found.is_some() || missing_fails);
        let in_cond = in_condition(truth, n);
        let in_field = seen_by(truth, n, field.as_ref());
        // Diameters are toleranced only where some cluster could be seen.
        let seen = |tolerance: Option<f64>| tolerance.filter(|_| !in_field.is_empty());
        let get =
            |f: fn(&EstimateType) -> (Option<f64>, Option<f64>)| found.map_or((None, None), f);
        let reasons = found.map(|f| &f.null_reasons);
        let not_given = if found.is_some() {
            format!("`{method}` gives no value and no reason")
        } else if missing_fails {
            format!("the estimate gives nothing for map {}", map_of(n))
        } else {
            format!(
                "map {} was not analysed (above n_max, or outside `symmetries`)",
                map_of(n)
            )
        };
        let explained =
            |row: Row, value: &str, se: &str| row.explain(reasons, value, se, &not_given);
        rows.push(explained(
            row_se(
                "mean_diameter_nm",
                method,
                Some(n),
                mean(in_field.iter().map(|c| c.diameter_nm)),
                get(|f| (f.mean_diameter_nm, f.mean_diameter_se_nm)),
                seen(tolerance(Check::Diameter)),
            ),
            "mean_diameter_nm",
            "mean_diameter_se_nm",
        ));
        let vf = get(|f| (f.volume_fraction, f.volume_fraction_se));
        total = total
            .zip(vf.0)
            .map(|((a, e), v)| (a + v, e + vf.1.unwrap_or(f64::NAN).powi(2)));
        rows.push(explained(
            row_se(
                "volume_fraction",
                method,
                Some(n),
                Some(t.volume_fraction),
                vf,
                tolerance(Check::VolumeFraction),
            ),
            "volume_fraction",
            "volume_fraction_se",
        ));
        let counted = found.is_some_and(|f| f.clusters.is_some());
        rows.push(explained(
            row_se(
                "region_count",
                method,
                Some(n),
                Some(match partial {
                    Some(_) => in_field.len(),
                    None => t.in_condition_count,
                } as f64),
                get(|f| match f.clusters {
                    Some(c) => (Some(c), f.clusters_se),
                    None => (f.regions, f.regions_se),
                }),
                None,
            ),
            if counted { "clusters" } else { "regions" },
            if counted { "clusters_se" } else { "regions_se" },
        ));
        // A spacing is scored only where the truth has one (correlated placement); with random
        // placement the σ(r) peak is reported without a truth or a tolerance. σ(r)'s first peak
        // is the clusters' commonest neighbour distance, the peak of their pair correlation, not
        // the mean nearest-neighbour distance (smaller; the regions' own is scored below).
        let true_spacing = t.pair_correlation_peak_nm.filter(|_| truth.has_spacing());
        let mut spacing = explained(
            row_se(
                "spacing_nm",
                method,
                Some(n),
                true_spacing,
                get(|f| (f.spacing_nm, f.spacing_se_nm)),
                tolerance(Check::Spacing).filter(|_| true_spacing.is_some()),
            ),
            "spacing_nm",
            "spacing_se_nm",
        );
        if truth.has_spacing() && true_spacing.is_none() {
            // Correlated placement, yet no truth: say why the row is not judged.
            use mro_sim::glass::pair_correlation::{MAX_POINTS, MIN_POINTS, MIN_SIGNIFICANCE};
            let count = t.in_condition_count;
            let cause = if count < MIN_POINTS {
                format!("{count} clusters in condition, fewer than the {MIN_POINTS} a peak needs")
            } else if count > MAX_POINTS {
                format!(
                    "{count} clusters in condition, more than the {MAX_POINTS} it is computed for"
                )
            } else {
                format!(
                    "no maximum of the {count} in-condition clusters' pair correlation \
                     {MIN_SIGNIFICANCE} s.e. above g = 1, or a truth file from before mro wrote it"
                )
            };
            let why = format!(
                "truth: none (truth.json gives no pair_correlation_peak_nm for n = {n}: {cause}), \
                 so the spacing is not scored"
            );
            spacing.null_reason = Some(match spacing.null_reason.take() {
                Some(r) => format!("{r}; {why}"),
                None => why,
            });
        }
        rows.push(spacing);
        // The clusters' own nearest-neighbour distance exists for any placement.
        rows.push(explained(
            row_se(
                "nearest_neighbor_nm",
                method,
                Some(n),
                t.projected_nearest_neighbor_nm,
                get(|f| (f.nearest_neighbor_nm, f.nearest_neighbor_se_nm)),
                None,
            ),
            "nearest_neighbor_nm",
            "nearest_neighbor_se_nm",
        ));
        let (recall, precision, regions_listed) = match (found, &field) {
            (Some(f), Some(field)) if !f.region_list.is_empty() || f.regions == Some(0.0) => {
                let (r, p) = identification(&in_cond, &f.region_list, field);
                (r, p, f.region_list.len())
            }
            _ => (None, None, 0),
        };
        // Why recall and precision are blank: they are computed here, not read.
        let unmatched = match (found, field) {
            (None, _) => Some(not_given.clone()),
            (Some(_), None) => Some("no `scan_step_nm` to place the regions in the sample".into()),
            (Some(f), Some(_)) if f.region_list.is_empty() && f.regions != Some(0.0) => {
                Some(format!("`{method}` lists no regions (`region_list`)"))
            }
            _ => None,
        };
        let recall_why = unmatched.clone().unwrap_or_else(|| {
            let place = if partial.is_some() {
                " in the scanned field"
            } else {
                ""
            };
            format!("no in-condition cluster of n = {n}{place}: nothing to find")
        });
        // The same over the clusters that overlap another in-condition cluster in projection,
        // where a map's regions can hide, merge or cancel them.
        let overlapping: Vec<&TrueCluster> = truth
            .clusters
            .iter()
            .zip(&overlapped)
            .filter(|(c, &o)| o && c.in_condition_for(n))
            .map(|(c, _)| c)
            .collect();
        let overlapping_in_field = overlapping
            .iter()
            .filter(|c| field.as_ref().map_or(true, |f| f.contains(c)))
            .count();
        let recall_overlapping = match (found, &field) {
            (Some(f), Some(field)) if !f.region_list.is_empty() || f.regions == Some(0.0) => {
                identification(&overlapping, &f.region_list, field).0
            }
            _ => None,
        };
        let place = if partial.is_some() {
            " in the scanned field"
        } else {
            ""
        };
        let overlapping_why = unmatched.clone().unwrap_or_else(|| {
            if in_field.is_empty() {
                recall_why.clone()
            } else if in_field.len() == 1 {
                format!(
                    "the one in-condition cluster of n = {n}{place} overlaps no other \
                     in-condition cluster in projection"
                )
            } else {
                format!(
                    "none of the {} in-condition clusters of n = {n}{place} overlaps another \
                     in-condition cluster in projection",
                    in_field.len()
                )
            }
        });
        let precision_why = unmatched.unwrap_or_else(|| "no regions: nothing to match".into());
        rows.push(
            row_se(
                "recall",
                method,
                Some(n),
                Some(1.0),
                (recall, recall.map(|r| binomial_se(r, in_field.len()))),
                None,
            )
            .explain(None, "", "", &recall_why),
        );
        rows.push(
            row_se(
                "recall_overlapping",
                method,
                Some(n),
                Some(1.0),
                (
                    recall_overlapping,
                    recall_overlapping.map(|r| binomial_se(r, overlapping_in_field)),
                ),
                None,
            )
            .explain(None, "", "", &overlapping_why),
        );
        rows.push(
            row_se(
                "precision",
                method,
                Some(n),
                Some(1.0),
                (precision, precision.map(|p| binomial_se(p, regions_listed))),
                None,
            )
            .explain(None, "", "", &precision_why),
        );
    }
    // Σ over the planted n: the clusters the truth's total counts. Null where a planted n has
    // no fraction, or above 1.
    let planted = total
        .filter(|&(v, _)| v <= 1.0)
        .map_or((None, None), |(v, e)| {
            (Some(v), e.is_finite().then(|| e.sqrt()))
        });
    let planted_why = match total {
        None => "a planted n has no volume fraction (see its row)".to_string(),
        Some((v, _)) if v > 1.0 => format!("the planted n's fractions sum to {v:.3} > 1"),
        _ => "a planted n's volume fraction has no standard error (see its row)".to_string(),
    };
    let mut planted_row = row_se(
        "planted_volume_fraction",
        method,
        None,
        Some(truth.total_volume_fraction),
        planted,
        all_tolerances(Check::VolumeFraction).filter(|_| all_given),
    );
    if planted_row.recovered.is_none() || planted_row.recovered_se.is_none() {
        planted_row.null_reason = Some(planted_why);
    }
    rows.push(planted_row);
    // The method's own total, exactly as its file gives it (`analysis.json`: over the
    // summed symmetries, speckle-only maps included); reported, not judged.
    rows.push(
        row_se(
            "total_volume_fraction",
            method,
            None,
            Some(truth.total_volume_fraction),
            (body.total_volume_fraction, body.total_volume_fraction_se),
            None,
        )
        .explain(
            Some(&body.null_reasons),
            "total_volume_fraction",
            "total_volume_fraction_se",
            &format!("`{method}` gives no total"),
        ),
    );
    rows
}

/// Scores in-memory results through their JSON form, exactly as `mro score` reads the files.
pub fn score_outputs(
    truth: &impl Serialize,
    analysis: &impl Serialize,
    tol: &ScoringSpec,
) -> anyhow::Result<Score> {
    let truth: TruthDoc = serde_json::from_value(serde_json::to_value(truth)?)?;
    let analysis: AnalysisDoc = serde_json::from_value(serde_json::to_value(analysis)?)?;
    Ok(score(&truth, &analysis, tol))
}

/// Standard error of a share `p` of `n` trials (recall over the in-condition clusters,
/// precision over the regions): Agresti & Coull's adjusted Wald form (Am. Stat. 52 (1998) 119),
/// `√(p̃(1 − p̃)/ñ)` with `ñ = n + 4` and `p̃ = (pn + 2)/ñ`, which, unlike `√(p(1 − p)/n)`, is not
/// 0 for a share of 0 or 1 measured on a few trials.
fn binomial_se(p: f64, n: usize) -> f64 {
    let trials = n as f64 + 4.0;
    let adjusted = (p * n as f64 + 2.0) / trials;
    (adjusted * (1.0 - adjusted) / trials).sqrt()
}

/// The part of the sample a scan covers. Scan point `[row, col]` sits at sample
/// `(col·step, row·step)` nm and stands for the cell one step wide around it; the sample is
/// periodic in x and y, so a point within half a step below the sample's far edge belongs to
/// the cell of point 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanField {
    /// Probe step, nm.
    pub step_nm: f64,
    /// Scan points `[rows, cols]`; `None` when unknown (older analyses, estimates without
    /// `scan_shape`): the scan is then taken to cover the whole sample.
    pub shape: Option<[usize; 2]>,
    /// The sample's lateral extent `[x, y]`, nm.
    pub extent_nm: [f64; 2],
}

impl ScanField {
    /// The scan point `[row, col]` whose cell holds the sample point `[x, y]` nm, or `None`
    /// outside the scanned field (always `None` without a shape).
    pub fn pixel(&self, point_nm: [f64; 2]) -> Option<[usize; 2]> {
        let shape = self.shape?;
        // Rows run along y (extent[1]), columns along x (extent[0]).
        let index = |c: f64, extent: f64, n: usize| {
            let u = c.rem_euclid(extent) / self.step_nm;
            let i = u.round();
            if i < n as f64 {
                Some(i as usize)
            } else {
                // Within half a step below the far edge: the periodic image of point 0's cell.
                (u - extent / self.step_nm >= -0.5).then_some(0)
            }
        };
        Some([
            index(point_nm[1], self.extent_nm[1], shape[0])?,
            index(point_nm[0], self.extent_nm[0], shape[1])?,
        ])
    }

    /// Share of the sample's area inside the field, at most 1 (1 without a shape).
    pub fn covered_share(&self) -> f64 {
        self.shape.map_or(1.0, |[rows, cols]| {
            let side = |n: usize, extent: f64| (n as f64 * self.step_nm / extent).min(1.0);
            side(cols, self.extent_nm[0]) * side(rows, self.extent_nm[1])
        })
    }

    /// Whether the scan covers the whole sample (to a part in 10⁹).
    pub fn covers_sample(&self) -> bool {
        self.covered_share() >= 1.0 - 1e-9
    }

    /// Whether a cluster's projected centre lies in the field (every cluster when the scan
    /// covers the sample).
    pub fn contains(&self, c: &TrueCluster) -> bool {
        self.covers_sample() || self.pixel([c.center_nm[0], c.center_nm[1]]).is_some()
    }
}

/// For each of `clusters`, whether its projected disc overlaps that of another cluster *in
/// condition* (any n): centres closer in the scan plane than the sum of the radii, wrapped with
/// the sample's periodic `extent_nm`. Only an in-condition partner matters to a map: it brightens
/// the ring, or shares the map. Clusters without a finite, positive diameter overlap nothing
/// ([`TruthDoc::check`] refuses them in files).
///
/// Cost: a cell list with cells about as wide as the median diameter. Each pair is looked for
/// once, by the wider of its two clusters, within that cluster's diameter, so the work goes as
/// the number of pairs closer than the wider one's diameter: linear in the number of clusters
/// for any spread of sizes, unless the discs are so large that each reaches a good share of
/// all the others.
pub fn overlapped_in_projection(clusters: &[TrueCluster], extent_nm: [f64; 2]) -> Vec<bool> {
    let usable = |c: &TrueCluster| {
        c.diameter_nm.is_finite()
            && c.diameter_nm > 0.0
            && c.center_nm[..2].iter().all(|v| v.is_finite())
    };
    let mut out = vec![false; clusters.len()];
    if !extent_nm.iter().all(|e| e.is_finite() && *e > 0.0) {
        return out;
    }
    let mut sizes: Vec<f64> = clusters
        .iter()
        .filter(|c| usable(c))
        .map(|c| c.diameter_nm)
        .collect();
    if sizes.is_empty() {
        return out;
    }
    sizes.sort_by(f64::total_cmp);
    let median_nm = sizes[sizes.len() / 2];
    // Cells per axis, each at least the median diameter wide (a sparse map: no cap needed).
    let cells = extent_nm.map(|e| (e / median_nm).floor().clamp(1.0, (1u64 << 40) as f64) as u64);
    let width = [0, 1].map(|k| extent_nm[k] / cells[k] as f64);
    let cell_of = |c: &TrueCluster| -> [u64; 2] {
        [0, 1].map(|k| {
            let x = c.center_nm[k].rem_euclid(extent_nm[k]) / extent_nm[k];
            ((x * cells[k] as f64) as u64).min(cells[k] - 1)
        })
    };
    let mut grid: BTreeMap<[u64; 2], Vec<usize>> = BTreeMap::new();
    for (i, c) in clusters.iter().enumerate().filter(|(_, c)| usable(c)) {
        grid.entry(cell_of(c)).or_default().push(i);
    }
    // The cells within `reach` cells of `k` on an axis of `n` (cyclic; every cell when that
    // wraps round).
    let around = |k: u64, reach: u64, n: u64| -> Vec<u64> {
        if 2 * reach + 1 >= n {
            (0..n).collect()
        } else {
            (0..=2 * reach).map(|d| (k + n - reach + d) % n).collect()
        }
    };
    for (i, c) in clusters.iter().enumerate().filter(|(_, c)| usable(c)) {
        let [cx, cy] = cell_of(c);
        let reach =
            [0, 1].map(|k| (c.diameter_nm / width[k]).ceil().min(u64::MAX as f64 / 4.0) as u64);
        // A cluster much wider than the median looks through the occupied cells instead of a
        // window of more cells than are occupied (a window of 10¹⁰ empty cells would not end).
        let window = [0, 1].map(|k| (2 * reach[k] + 1).min(cells[k]));
        let candidates: Vec<&Vec<usize>> =
            if window[0].saturating_mul(window[1]) > grid.len() as u64 {
                grid.values().collect()
            } else {
                around(cx, reach[0], cells[0])
                    .into_iter()
                    .flat_map(|x| {
                        around(cy, reach[1], cells[1])
                            .into_iter()
                            .map(move |y| [x, y])
                    })
                    .filter_map(|cell| grid.get(&cell))
                    .collect()
            };
        for &j in candidates.into_iter().flatten() {
            let o = &clusters[j];
            // The wider one looks (the lower index between equals).
            let mine = o.diameter_nm < c.diameter_nm || (o.diameter_nm == c.diameter_nm && j > i);
            if mine
                && wrapped_distance(
                    [c.center_nm[0], c.center_nm[1]],
                    [o.center_nm[0], o.center_nm[1]],
                    extent_nm,
                ) < 0.5 * (c.diameter_nm + o.diameter_nm)
            {
                out[i] |= o.in_condition;
                out[j] |= c.in_condition;
            }
        }
    }
    out
}

/// (recall, precision) of map n's regions against in-condition clusters of n: recall over the
/// clusters whose centres lie in the scanned `field`, precision against all of them (a region
/// at the field's edge may hold a cluster just outside it). A region is its circle of its
/// diameter (or, without one, its half-maximum width), widened by half a step.
pub fn identification(
    clusters: &[&TrueCluster],
    region_list: &[RegionDoc],
    field: &ScanField,
) -> (Option<f64>, Option<f64>) {
    let step_nm = field.step_nm;
    let regions: Vec<([f64; 2], f64)> = region_list
        .iter()
        .map(|r| {
            let d = r.diameter_nm.or(r.fwhm_nm).unwrap_or(0.0);
            (
                [r.centroid_px[1] * step_nm, r.centroid_px[0] * step_nm],
                0.5 * d + 0.5 * step_nm,
            )
        })
        .collect();
    let hits = |c: &TrueCluster, (centre, radius): &([f64; 2], f64)| {
        wrapped_distance([c.center_nm[0], c.center_nm[1]], *centre, field.extent_nm) <= *radius
    };
    let in_field: Vec<&&TrueCluster> = clusters.iter().filter(|c| field.contains(c)).collect();
    let recall = (!in_field.is_empty()).then(|| {
        in_field
            .iter()
            .filter(|c| regions.iter().any(|r| hits(c, r)))
            .count() as f64
            / in_field.len() as f64
    });
    let precision = (!regions.is_empty()).then(|| {
        regions
            .iter()
            .filter(|r| clusters.iter().any(|c| hits(c, r)))
            .count() as f64
            / regions.len() as f64
    });
    (recall, precision)
}

/// Reads a JSON document of type `T`, naming the file in errors (exit status 2). Refuses text
/// after the document and a key written twice in one object (JSON leaves duplicates to the
/// reader; serde would keep the last silently, so that `{"4": …, "4": …}` scored one of them).
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("{}: cannot read: {e}", path.display())))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let value: T = serde_path_to_error::deserialize(&mut *de)
        .map_err(|e| not_valid(path, what, &e.path().to_string(), e.inner()))?;
    de.end().map_err(|e| not_valid(path, what, "", &e))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde::de::DeserializeSeed::deserialize(UniqueKeys(String::new()), &mut *de)
        .map_err(|e| not_valid(path, what, "", &e))?;
    Ok(value)
}

/// A document of type `T` from the JSON `value` already read from `path` by [`read_json`]
/// (so the file is read and checked once), naming the file and field in errors.
pub fn from_json<T: for<'de> Deserialize<'de>>(
    path: &Path,
    what: &str,
    value: &serde_json::Value,
) -> anyhow::Result<T> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| not_valid(path, what, &e.path().to_string(), e.inner()))
}

/// "PATH: not a valid WHAT: field `F`: E" (exit status 2); `field` is the dotted path of the
/// value that did not fit (`by_symmetry.4.regions`), empty or "." at the top.
fn not_valid(path: &Path, what: &str, field: &str, e: &dyn std::fmt::Display) -> anyhow::Error {
    let at = if field.is_empty() || field == "." || field == "?" {
        String::new()
    } else {
        format!(" field `{field}`:")
    };
    bad_input(format!("{}: not a valid {what}:{at} {e}", path.display()))
}

/// Walks a JSON value and fails on the first object that holds a key twice, naming its dotted
/// path (the object's path, inside `UniqueKeys`).
struct UniqueKeys(String);

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(UniqueKeys(format!("{}[{i}]", self.0)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.0.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.0)
            };
            if !seen.insert(key) {
                return Err(serde::de::Error::custom(format!(
                    "key written twice: `{path}` (expected each key once per object)"
                )));
            }
            map.next_value_seed(UniqueKeys(path))?;
        }
        Ok(())
    }
}

/// Why values are blank: each distinct [`Row::null_reason`] with the rows it explains
/// (`` `mro` `spacing_nm` n = 4 ``), in row order.
pub fn blank_reasons(score: &Score) -> Vec<(String, String)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for r in &score.rows {
        let Some(why) = &r.null_reason else { continue };
        let what = format!(
            "`{}` `{}`{}",
            r.method,
            r.quantity,
            r.symmetry.map_or(String::new(), |n| format!(" n = {n}"))
        );
        match out.iter_mut().find(|(w, _)| w == why) {
            Some((_, rows)) => rows.push(what),
            None => out.push((why.clone(), vec![what])),
        }
    }
    out.into_iter()
        .map(|(why, rows)| (rows.join(", "), why))
        .collect()
}

/// A fixed-width text table of the rows, for terminals and logs.
pub fn table(score: &Score) -> String {
    use std::fmt::Write as _;
    let fmt = |v: Option<f64>| v.map_or("—".to_string(), |v| number(v, 4));
    let mut s = format!(
        "{:<32} {:<8} {:>3} {:>10} {:>10} {:>9} {:>9} {:>6}\n",
        "quantity", "method", "n", "truth", "recovered", "s.e.", "rel.err", "ok"
    );
    for r in &score.rows {
        let _ = writeln!(
            s,
            "{:<32} {:<8} {:>3} {:>10} {:>10} {:>9} {:>9} {:>6}",
            r.quantity,
            r.method,
            r.symmetry.map_or("—".into(), |n| n.to_string()),
            fmt(r.truth),
            fmt(r.recovered),
            fmt(r.recovered_se),
            r.relative_error.map_or("—".into(), |e| {
                let pct = number(100.0 * e, 1);
                if pct.starts_with('-') {
                    format!("{pct}%")
                } else {
                    format!("+{pct}%")
                }
            }),
            match r.within_tolerance {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            }
        );
    }
    let blanks = blank_reasons(score);
    if !blanks.is_empty() {
        let _ = writeln!(s, "why a value or its s.e. is — :");
        for (rows, why) in blanks {
            let _ = writeln!(s, "  {}: {why}", rows.replace('`', ""));
        }
    }
    if score.odd_even_ratio.is_finite() {
        let _ = writeln!(
            s,
            "odd/even angular power ratio: {:.4}{}",
            score.odd_even_ratio,
            noise_corrected(score)
        );
    }
    if let Some(share) = score.scanned_share {
        let _ = writeln!(
            s,
            "scanned field: {} % of the sample's area (region counts, diameters and recalls are \
             over the in-condition clusters in it)",
            number(100.0 * share, 1)
        );
    }
    if let Some(why) = &score.not_judged {
        let _ = writeln!(s, "no tolerance judged: {why}");
        return s;
    }
    let _ = writeln!(
        s,
        "every tolerance held: {} (judged: method {})",
        if score.all_within_tolerance {
            "yes"
        } else {
            "NO"
        },
        score.method
    );
    for why in &score.unjudged_checks {
        let _ = writeln!(s, "  not judged: {why}");
    }
    s
}

/// The methods present in a score's rows, `im2018` first, then `mro`, then any other.
pub fn methods(score: &Score) -> Vec<String> {
    let mut m: Vec<String> = Vec::new();
    for r in &score.rows {
        if METHOD_QUANTITIES.contains(&r.quantity.as_str()) && !m.contains(&r.method) {
            m.push(r.method.clone());
        }
    }
    let rank = |x: &String| match x.as_str() {
        "im2018" => 0,
        "mro" => 1,
        _ => 2,
    };
    m.sort_by_key(rank);
    m
}

/// Markdown table of truth against each method, per quantity and n: `value ± s.e. (relative
/// error)` in one column per method.
pub fn side_by_side(score: &Score) -> String {
    use std::fmt::Write as _;
    let methods = methods(score);
    let mut s = String::from("| quantity | n | truth |");
    for m in &methods {
        let _ = write!(s, " {m} |");
    }
    s.push_str("\n|---|---|---|");
    for _ in &methods {
        s.push_str("---|");
    }
    s.push('\n');
    let mut keys: Vec<(&str, Option<u32>)> = Vec::new();
    for q in METHOD_QUANTITIES.iter().chain(&TOTAL_QUANTITIES) {
        for r in score.rows.iter().filter(|r| r.quantity == *q) {
            if !keys.contains(&(q, r.symmetry)) {
                keys.push((q, r.symmetry));
            }
        }
    }
    for (q, n) in keys {
        let find = |m: &str| {
            score
                .rows
                .iter()
                .find(|r| r.quantity == q && r.symmetry == n && r.method == m)
        };
        let truth = methods.iter().find_map(|m| find(m)).and_then(|r| r.truth);
        let _ = write!(
            s,
            "| {q} | {} | {} |",
            n.map_or("—".into(), |n| n.to_string()),
            truth.map_or("—".into(), |v| number(v, 4))
        );
        for m in &methods {
            let cell = find(m).map_or("—".to_string(), |r| match r.recovered {
                None => "—".into(),
                Some(v) => {
                    let mut c = number(v, 4);
                    if let Some(e) = r.recovered_se {
                        let _ = write!(c, " ± {}", number(e, 4));
                    }
                    if let Some(e) = r.relative_error {
                        let _ = write!(c, " ({:+.0} %)", 100.0 * e);
                    }
                    if r.within_tolerance == Some(false) {
                        c = format!("**{c}**");
                    }
                    c
                }
            });
            let _ = write!(s, " {cell} |");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth() -> TruthDoc {
        serde_json::from_value(serde_json::json!({
            "schema": "mro.truth/1", "extent_nm": [10.0, 10.0], "thickness_nm": 5.0,
            "clusters": [
                {"id": 0, "symmetry": 4, "center_nm": [2.0, 3.0, 2.5], "diameter_nm": 1.2, "in_condition": true},
                {"id": 1, "symmetry": 4, "center_nm": [7.0, 9.8, 2.5], "diameter_nm": 1.4, "in_condition": true},
                {"id": 2, "symmetry": 4, "center_nm": [5.0, 5.0, 2.5], "diameter_nm": 1.3, "in_condition": false}
            ],
            "by_symmetry": {"4": {"count": 3, "mean_diameter_nm": 1.3, "volume_fraction": 0.02,
                                   "in_condition_count": 2, "in_condition_fraction": 0.667,
                                   "projected_nearest_neighbor_nm": 4.9,
                                   "pair_correlation_peak_nm": 5.5}},
            "total_volume_fraction": 0.02,
            "placement": {"mode": "correlated", "min_gap_nm": 0.3, "nearest_neighbor_nm": 5.5, "jitter": 0.1}
        }))
        .unwrap()
    }

    fn perfect() -> AnalysisDoc {
        serde_json::from_value(serde_json::json!({
            "schema": "mro.analysis/1",
            "calibration": {"scan_step_nm": 0.5}, "config": {"in_condition_fraction": 0.5, "acceptance_deg": 10.0},
            "variance": {"peak_k_per_nm": 4.0},
            "power_spectrum": {"odd_even_ratio": 0.0},
            "by_symmetry": {"4": {"regions": 2, "mean_diameter_nm": 1.3, "mean_diameter_corrected_nm": 1.3,
                                  "volume_fraction_in_condition": 0.01,
                                  "autocorrelation_peak_nm": 5.5,
                                  "region_list": [{"centroid_px": [6.0, 4.0], "diameter_nm": 1.2},
                                                  {"centroid_px": [0.0, 14.0], "diameter_nm": 1.4}]}},
            "total_volume_fraction": 0.02
        }))
        .unwrap()
    }

    fn get<'a>(s: &'a Score, q: &str) -> &'a Row {
        s.rows.iter().find(|r| r.quantity == q).unwrap()
    }

    /// A scan over part of the sample is scored against the clusters in its field: a 10 × 10
    /// scan at 0.5 nm covers the quarter x, y < 5 nm of the 10 × 10 nm sample, which holds one
    /// of the two in-condition clusters; the analysis that finds that one is perfect there.
    #[test]
    fn a_partial_scan_is_scored_against_the_clusters_in_its_field() {
        let mut a = perfect();
        a.input = Some(InputDoc {
            scan_shape: [10, 10],
        });
        let f = a.by_symmetry.get_mut("4").unwrap();
        f.regions = 1;
        f.region_list.truncate(1);
        let s = score(&truth(), &a, &ScoringSpec::default());
        assert_eq!(s.scanned_share, Some(0.25));
        assert!(table(&s).contains("scanned field: 25.0 % of the sample's area"));
        // `perfect()` has only the im2018 method.
        assert_eq!(get(&s, "region_count").truth, Some(1.0));
        assert_eq!(get(&s, "mean_diameter_nm").truth, Some(1.2));
        assert_eq!(get(&s, "recall").recovered, Some(1.0));
        assert_eq!(get(&s, "precision").recovered, Some(1.0));
        // An external estimate with the same scan shape is restricted alike; without its
        // shape the scan is taken to cover the sample.
        let mut e = Estimate {
            schema: ESTIMATE_SCHEMA.into(),
            method: "other".into(),
            scan_step_nm: Some(0.5),
            scan_shape: Some([10, 10]),
            body: EstimateBody {
                by_symmetry: [(
                    "4".to_string(),
                    EstimateType {
                        regions: Some(1.0),
                        region_list: a.by_symmetry["4"].region_list.clone(),
                        ..EstimateType::default()
                    },
                )]
                .into(),
                ..EstimateBody::default()
            },
        };
        let se = score_estimate(&truth(), &e, &ScoringSpec::default());
        assert_eq!(se.scanned_share, Some(0.25));
        assert_eq!(get(&se, "region_count").truth, Some(1.0));
        assert_eq!(get(&se, "recall").recovered, Some(1.0));
        e.scan_shape = None;
        let se = score_estimate(&truth(), &e, &ScoringSpec::default());
        assert_eq!(se.scanned_share, None);
        assert_eq!(get(&se, "region_count").truth, Some(2.0));
        assert_eq!(get(&se, "recall").recovered, Some(0.5));
        // The whole sample scanned: both clusters count, and the one region finds half.
        a.input = Some(InputDoc {
            scan_shape: [20, 20],
        });
        let s = score(&truth(), &a, &ScoringSpec::default());
        assert_eq!(s.scanned_share, None);
        assert_eq!(get(&s, "region_count").truth, Some(2.0));
        assert_eq!(get(&s, "recall").recovered, Some(0.5));
    }

    /// A requested check that no row could carry is named with its reason, not counted as
    /// held in silence: spacing without a spacing in the glass, diameter without a cluster.
    #[test]
    fn a_check_that_judges_nothing_says_why() {
        let s = score(&truth(), &perfect(), &ScoringSpec::default());
        assert!(s.unjudged_checks.is_empty(), "{:?}", s.unjudged_checks);
        let mut random = truth();
        random.placement = Some(PlacementDoc {
            mode: "random".into(),
        });
        let s = score(&random, &perfect(), &ScoringSpec::default());
        assert_eq!(s.unjudged_checks.len(), 1, "{:?}", s.unjudged_checks);
        assert!(s.unjudged_checks[0].starts_with("spacing: placement is random"));
        assert!(table(&s).contains("not judged: spacing"));
        assert_eq!(
            s.tolerance_word("held", "FAILED"),
            "held (not judged: spacing)"
        );
        let mut unknown = truth();
        unknown.placement = None;
        let s = score(&unknown, &perfect(), &ScoringSpec::default());
        assert!(s.unjudged_checks[0].starts_with("spacing: truth.json records no placement"));
        for c in &mut random.clusters {
            c.in_condition = false;
        }
        let s = score(&random, &perfect(), &ScoringSpec::default());
        assert!(
            s.unjudged_checks[0].starts_with("diameter: no planted n"),
            "{:?}",
            s.unjudged_checks
        );
        // The only check unjudgeable: the verdict says why, in place of the generic reason.
        let only_spacing = ScoringSpec {
            checks: vec![Check::Spacing],
            ..ScoringSpec::default()
        };
        let s = score(&random, &perfect(), &only_spacing);
        assert_eq!(s.tolerance_word("held", "FAILED"), "not judged");
        let why = s.not_judged.unwrap();
        assert!(why.contains("spacing: placement is random"), "{why}");
        let only_vf = ScoringSpec {
            checks: vec![Check::VolumeFraction],
            ..ScoringSpec::default()
        };
        assert!(score(&random, &perfect(), &only_vf)
            .unjudged_checks
            .is_empty());
    }

    /// Scan cells are one step wide around their points and wrap with the sample.
    #[test]
    fn scan_field_cells_wrap_with_the_sample() {
        let whole = ScanField {
            step_nm: 0.5,
            shape: Some([20, 20]),
            extent_nm: [10.0, 10.0],
        };
        assert_eq!(whole.pixel([0.2, 9.7]), Some([19, 0]));
        assert_eq!(whole.pixel([9.9, 9.8]), Some([0, 0]));
        assert_eq!(whole.pixel([-0.1, 10.2]), Some([0, 0]));
        assert!(whole.covers_sample());
        let part = ScanField {
            shape: Some([4, 10]),
            ..whole
        };
        assert_eq!(part.pixel([4.6, 1.6]), Some([3, 9]));
        assert_eq!(part.pixel([4.6, 1.8]), None);
        assert_eq!(part.pixel([9.9, 9.9]), Some([0, 0]));
        assert_eq!(part.pixel([9.6, 0.0]), None);
        assert!((part.covered_share() - 0.2 * 0.5).abs() < 1e-15);
        assert!(!part.covers_sample());
        assert_eq!(
            ScanField {
                shape: None,
                ..whole
            }
            .pixel([1.0, 1.0]),
            None
        );
    }

    #[test]
    fn perfect_analysis_scores_zero_error() {
        let s = score(&truth(), &perfect(), &ScoringSpec::default());
        assert!(s.all_within_tolerance);
        for r in s
            .rows
            .iter()
            .filter(|r| !r.quantity.ends_with("_geometric"))
        {
            if let Some(e) = r.relative_error {
                assert!(e.abs() < 1e-12, "{r:?}");
            }
        }
        // The geometric correction divides the same in-condition fraction by its own share.
        let g = geometric_in_condition(4, 10.0);
        assert!((get(&s, "volume_fraction_geometric").recovered.unwrap() - 0.01 / g).abs() < 1e-12);
        // The second region wraps around y = 10 nm to meet the cluster at y = 9.8 nm.
        assert_eq!(get(&s, "recall").recovered, Some(1.0));
        assert_eq!(get(&s, "precision").recovered, Some(1.0));
        assert_eq!(get(&s, "region_count").truth, Some(2.0));
    }

    proptest::proptest! {
        /// The cell list finds exactly the overlaps that comparing every pair finds, for
        /// clusters anywhere (outside the extent too: positions wrap), of sizes spread from 0
        /// to beyond the extent (so some are wider than a cell), in condition or not, on
        /// samples too small for three cells per axis as well; and with sizes spread over 12
        /// decades (a median of 10⁻⁹ nm puts 10¹⁰ cells on an axis, and the wide clusters look
        /// through the occupied cells).
        #[test]
        fn the_cell_list_agrees_with_comparing_every_pair(
            extent in (0.5f64..30.0, 0.5f64..30.0),
            discs in proptest::collection::vec(
                (
                    -40.0f64..40.0,
                    -40.0f64..40.0,
                    proptest::prop_oneof![
                        0.0f64..8.0,
                        proptest::strategy::Strategy::prop_map(-12.0f64..0.0, |e| 10f64.powf(e)),
                    ],
                    proptest::bool::weighted(0.7),
                ),
                0..60,
            ),
        ) {
            let extent_nm = [extent.0, extent.1];
            let clusters: Vec<TrueCluster> = discs
                .iter()
                .map(|&(x, y, d, in_condition)| TrueCluster {
                    symmetry: Some(4),
                    shows: Vec::new(),
                    center_nm: [x, y, 0.0],
                    diameter_nm: d,
                    in_condition,
                })
                .collect();
            let every_pair: Vec<bool> = (0..clusters.len())
                .map(|i| {
                    let c = &clusters[i];
                    c.diameter_nm > 0.0
                        && (0..clusters.len()).any(|j| {
                            let o = &clusters[j];
                            j != i
                                && o.in_condition
                                && o.diameter_nm > 0.0
                                && wrapped_distance(
                                    [c.center_nm[0], c.center_nm[1]],
                                    [o.center_nm[0], o.center_nm[1]],
                                    extent_nm,
                                ) < 0.5 * (c.diameter_nm + o.diameter_nm)
                        })
                })
                .collect();
            proptest::prop_assert_eq!(overlapped_in_projection(&clusters, extent_nm), every_pair);
        }
    }

    /// Truth values scoring cannot use are refused, naming the field.
    #[test]
    fn impossible_truth_values_are_refused_by_field() {
        let path = Path::new("t/truth.json");
        assert!(truth().check(path).is_ok());
        let refused = |edit: fn(&mut TruthDoc), field: &str| {
            let mut t = truth();
            edit(&mut t);
            let e = t.check(path).unwrap_err().to_string();
            assert!(
                e.starts_with("t/truth.json: field `") && e.contains(field),
                "{e}"
            );
        };
        refused(|t| t.extent_nm[1] = 0.0, "`extent_nm[1]` = 0");
        refused(|t| t.extent_nm[0] = 1e300, "`extent_nm[0]` = 1e300");
        refused(
            |t| t.extent_nm[0] = 1e-300,
            "`extent_nm[0]` = 1e-300: expected a length from",
        );
        refused(
            |t| t.clusters[0].diameter_nm = 1e308,
            "`clusters[0].diameter_nm` = 1e308",
        );
        refused(
            |t| t.clusters[0].diameter_nm = 10.5,
            "to the sample's width, 10 nm",
        );
        refused(
            |t| t.clusters[0].diameter_nm = 1e-9,
            "`clusters[0].diameter_nm` = 1e-9: expected a diameter from 0.1 nm",
        );
        refused(
            |t| t.placement.as_mut().unwrap().mode = "corelated".into(),
            "`placement.mode` = \"corelated\"",
        );
        refused(
            |t| t.clusters[1].symmetry = Some(6),
            "`clusters[1].symmetry` = 6: expected an n that `by_symmetry` holds",
        );
        refused(|t| t.thickness_nm = Some(-1.0), "`thickness_nm` = -1");
        refused(
            |t| t.clusters[2].diameter_nm = -2.0,
            "`clusters[2].diameter_nm` = -2",
        );
        refused(
            |t| t.clusters[0].diameter_nm = 0.0,
            "`clusters[0].diameter_nm` = 0",
        );
        refused(
            |t| t.clusters[1].center_nm[0] = 1e300,
            "`clusters[1].center_nm[0]`",
        );
        refused(
            |t| t.clusters[1].center_nm[1] = -10.5,
            "`clusters[1].center_nm[1]`",
        );
        refused(
            |t| t.clusters[0].symmetry = Some(4_000_000_000),
            "`clusters[0].symmetry` = 4e9: expected a symmetry n from 1 to 1000",
        );
        refused(
            |t| t.clusters[2].shows = vec![4, 0],
            "`clusters[2].shows[1]` = 0",
        );
        refused(
            |t| {
                let v = t.by_symmetry.remove("4").unwrap();
                t.by_symmetry.insert("1001".into(), v);
            },
            "`by_symmetry.1001` = \"1001\": expected a symmetry n from 1 to 1000",
        );
        refused(
            |t| t.by_symmetry.get_mut("4").unwrap().volume_fraction = -0.1,
            "`by_symmetry.4.volume_fraction` = -0.1: expected a volume fraction from 0 to 1",
        );
        refused(
            |t| t.total_volume_fraction = 1.5,
            "`total_volume_fraction` = 1.5",
        );
        refused(|t| t.schema = None, "`schema` = missing");
        refused(
            |t| t.schema = Some("mro.truth/2".into()),
            "`schema` = \"mro.truth/2\"",
        );
        refused(
            |t| {
                let v = t.by_symmetry.remove("4").unwrap();
                t.by_symmetry.insert("4.0".into(), v);
            },
            "`by_symmetry.4.0` = \"4.0\": expected a symmetry n",
        );
        refused(
            |t| t.by_symmetry.get_mut("4").unwrap().in_condition_count = 4,
            "`by_symmetry.4.in_condition_count` = 4: expected at most `by_symmetry.4.count` = 3",
        );
        refused(
            |t| t.by_symmetry.get_mut("4").unwrap().pair_correlation_peak_nm = Some(-1.0),
            "`by_symmetry.4.pair_correlation_peak_nm` = -1",
        );
    }

    /// `recall_overlapping` is recall over the in-condition clusters whose projected disc
    /// overlaps another in-condition cluster's (any n), across the periodic edge too.
    #[test]
    fn recall_overlapping_counts_the_clusters_hidden_in_projection() {
        let mut t = truth();
        // Nothing overlaps in `truth()`: no value, and the reason says why.
        let s = score(&t, &perfect(), &ScoringSpec::default());
        let row = get(&s, "recall_overlapping");
        assert_eq!(row.recovered, None);
        assert!(
            row.null_reason
                .as_deref()
                .unwrap()
                .contains("none of the 2 in-condition clusters of n = 4 overlaps another"),
            "{row:?}"
        );
        let mut one = truth();
        one.clusters[1].in_condition = false;
        let s = score(&one, &perfect(), &ScoringSpec::default());
        let why = get(&s, "recall_overlapping").null_reason.clone().unwrap();
        assert!(
            why.contains("the one in-condition cluster of n = 4 overlaps no other"),
            "{why}"
        );
        // An in-condition cluster of another n 0.54 nm from the first (radii 0.6 + 0.65), one
        // across the periodic edge from the second (0.3 nm away at y = 0.1 nm), and one beside
        // the out-of-condition third: that partner does not count for it, it counts for the
        // partner.
        let extra: Vec<TrueCluster> = serde_json::from_value(serde_json::json!([
            {"symmetry": 6, "center_nm": [2.5, 3.2, 1.0], "diameter_nm": 1.3, "in_condition": true},
            {"symmetry": 6, "center_nm": [7.0, 0.1, 1.0], "diameter_nm": 0.6, "in_condition": true},
            {"symmetry": 6, "center_nm": [5.5, 5.0, 1.0], "diameter_nm": 1.0, "in_condition": true}
        ]))
        .unwrap();
        t.clusters.extend(extra);
        assert_eq!(
            overlapped_in_projection(&t.clusters, t.extent_nm),
            [true, true, true, true, true, false]
        );
        // Out of condition, the first neighbour hides nothing.
        t.clusters[3].in_condition = false;
        assert_eq!(
            overlapped_in_projection(&t.clusters, t.extent_nm),
            [false, true, true, true, true, false]
        );
        t.clusters[3].in_condition = true;
        // Both regions found: every overlapped cluster recalled.
        let s = score(&t, &perfect(), &ScoringSpec::default());
        assert_eq!(get(&s, "recall_overlapping").recovered, Some(1.0));
        // Only the region at (7, 9.8) nm: the cluster at (2, 3) is missed.
        let mut a = perfect();
        a.by_symmetry.get_mut("4").unwrap().region_list.remove(0);
        let s = score(&t, &a, &ScoringSpec::default());
        assert_eq!(get(&s, "recall").recovered, Some(0.5));
        assert_eq!(get(&s, "recall_overlapping").recovered, Some(0.5));
        // Moving the first neighbour away leaves one overlapped cluster, the one found.
        t.clusters[3].center_nm = [5.0, 8.0, 1.0];
        let s = score(&t, &a, &ScoringSpec::default());
        assert_eq!(get(&s, "recall_overlapping").recovered, Some(1.0));
    }

    /// `total_volume_fraction` is the method's own total, the number (or null) its file holds;
    /// the sum over the planted n, which the tolerance judges, is `planted_volume_fraction`.
    #[test]
    fn the_total_is_the_files_own_and_the_planted_sum_is_named_apart() {
        let tol = ScoringSpec::default();
        let mut a = perfect();
        // Speckle maps with nothing planted add to the analysis's total, not to the planted sum.
        a.total_volume_fraction = Some(0.05);
        let s = score(&truth(), &a, &tol);
        let rows = |q: &str| -> Vec<&Row> { s.rows.iter().filter(|r| r.quantity == q).collect() };
        let total = rows("total_volume_fraction")[0];
        assert_eq!((total.recovered, total.tolerance), (Some(0.05), None));
        let planted = rows("planted_volume_fraction")[0];
        assert!(
            (planted.recovered.unwrap() - 0.02).abs() < 1e-12,
            "{planted:?}"
        );
        assert!(planted.tolerance.is_some());
        // Null in analysis.json: null in score.json, although the planted n have fractions.
        a.total_volume_fraction = None;
        let s = score(&truth(), &a, &tol);
        let total = s
            .rows
            .iter()
            .find(|r| r.quantity == "total_volume_fraction")
            .unwrap();
        assert_eq!(total.recovered, None, "{total:?}");
        assert!(get(&s, "planted_volume_fraction").recovered.is_some());
    }

    #[test]
    fn known_offsets_give_expected_errors() {
        let mut a = perfect();
        let f = a.by_symmetry.get_mut("4").unwrap();
        f.mean_diameter_corrected_nm = Some(1.3 * 1.5);
        f.mean_diameter_nm = Some(1.3 * 0.6);
        f.volume_fraction_in_condition = Some(0.005);
        f.autocorrelation_peak_nm = Some(5.5 * 1.1);
        f.region_list.pop();
        f.region_list.push(RegionDoc {
            centroid_px: [10.0, 10.0],
            diameter_nm: Some(1.0),
            fwhm_nm: None,
        });
        let s = score(&truth(), &a, &ScoringSpec::default());
        assert!(
            (get(&s, "mean_diameter_corrected_nm")
                .relative_error
                .unwrap()
                - 0.5)
                .abs()
                < 1e-12
        );
        assert_eq!(get(&s, "mean_diameter_corrected_nm").within_tolerance, None);
        assert!((get(&s, "mean_diameter_nm").relative_error.unwrap() + 0.4).abs() < 1e-12);
        assert_eq!(get(&s, "mean_diameter_nm").within_tolerance, Some(false));
        assert!((get(&s, "volume_fraction").relative_error.unwrap() + 0.5).abs() < 1e-12);
        assert_eq!(get(&s, "volume_fraction").within_tolerance, Some(true));
        assert!((get(&s, "spacing_nm").relative_error.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(get(&s, "recall").recovered, Some(0.5));
        assert_eq!(get(&s, "precision").recovered, Some(0.5));
        // Adjusted binomial standard errors for one of two clusters and one of two regions:
        // p̃ = (1 + 2)/6 = ½, √(½·½/6).
        let se = (0.25f64 / 6.0).sqrt();
        assert!((get(&s, "recall").recovered_se.unwrap() - se).abs() < 1e-12);
        assert!((get(&s, "precision").recovered_se.unwrap() - se).abs() < 1e-12);
        assert!(!s.all_within_tolerance);
        // Leaving the diameter out of the checks makes it informative only.
        let lenient = ScoringSpec {
            checks: vec![Check::VolumeFraction, Check::Spacing],
            ..ScoringSpec::default()
        };
        let s = score(&truth(), &a, &lenient);
        assert_eq!(get(&s, "mean_diameter_nm").within_tolerance, None);
        assert!(s.all_within_tolerance);
    }

    #[test]
    fn structure_clusters_count_for_the_n_they_show() {
        // The same geometry as `truth()`, but made of structure clusters: two show 4 (one of
        // them also 12, which the analysis does not map), one shows nothing.
        let t: TruthDoc = serde_json::from_value(serde_json::json!({
            "extent_nm": [10.0, 10.0],
            "clusters": [
                {"symmetry": null, "shows": [4, 8], "center_nm": [2.0, 3.0, 2.5], "diameter_nm": 1.2, "in_condition": true},
                {"symmetry": null, "shows": [4, 12], "center_nm": [7.0, 9.8, 2.5], "diameter_nm": 1.4, "in_condition": true},
                {"symmetry": null, "shows": [], "center_nm": [5.0, 5.0, 2.5], "diameter_nm": 1.3, "in_condition": false}
            ],
            "by_symmetry": {
                "4": {"volume_fraction": 0.02, "in_condition_count": 2, "projected_nearest_neighbor_nm": 5.5},
                "12": {"volume_fraction": 0.02, "in_condition_count": 1}
            },
            "total_volume_fraction": 0.02
        }))
        .unwrap();
        let s = score(&t, &perfect(), &ScoringSpec::default());
        assert_eq!(get(&s, "recall").recovered, Some(1.0));
        assert_eq!(get(&s, "precision").recovered, Some(1.0));
        assert!((get(&s, "mean_diameter_nm").truth.unwrap() - 1.3).abs() < 1e-12);
        assert!(
            s.rows.iter().all(|r| r.symmetry != Some(12)),
            "{:?}",
            s.rows
        );
    }

    #[test]
    fn spacing_is_scored_only_with_correlated_placement() {
        let mut random = truth();
        random.placement = Some(PlacementDoc {
            mode: "random".into(),
        });
        let mut a = perfect();
        a.by_symmetry.get_mut("4").unwrap().autocorrelation_peak_nm = Some(9.0);
        // With a target spacing, a σ(r) peak at 9 nm against 5.5 nm fails its tolerance.
        let s = score(&truth(), &a, &ScoringSpec::default());
        assert_eq!(get(&s, "spacing_nm").within_tolerance, Some(false));
        // Random placement: the peak is reported, with neither truth nor tolerance.
        let s = score(&random, &a, &ScoringSpec::default());
        let r = get(&s, "spacing_nm");
        assert_eq!((r.truth, r.recovered, r.tolerance), (None, Some(9.0), None));
        assert_eq!(r.within_tolerance, None);
        assert!(s.all_within_tolerance);
        // A truth file from before placement was recorded has no spacing either.
        random.placement = None;
        let s = score(&random, &a, &ScoringSpec::default());
        assert_eq!(get(&s, "spacing_nm").tolerance, None);
    }

    #[test]
    fn spacing_is_held_to_the_pair_correlation_peak_and_nearest_neighbours_to_their_mean() {
        // truth(): mean projected nearest neighbour 4.9 nm, pair-correlation peak 5.5 nm.
        let s = score(&truth(), &perfect(), &ScoringSpec::default());
        let spacing = get(&s, "spacing_nm");
        assert_eq!((spacing.truth, spacing.recovered), (Some(5.5), Some(5.5)));
        assert_eq!(get(&s, "nearest_neighbor_nm").truth, Some(4.9));
        // A truth file from before the pair correlation was recorded has no spacing to score.
        let mut old = truth();
        old.by_symmetry
            .get_mut("4")
            .unwrap()
            .pair_correlation_peak_nm = None;
        let s = score(&old, &perfect(), &ScoringSpec::default());
        assert_eq!(get(&s, "spacing_nm").truth, None);
        assert_eq!(get(&s, "spacing_nm").tolerance, None);
        let why = get(&s, "spacing_nm").null_reason.clone().unwrap();
        assert!(
            why.starts_with("truth: none (truth.json gives no pair_correlation_peak_nm for n = 4"),
            "{why}"
        );
    }

    #[test]
    fn a_json_value_of_the_wrong_type_names_its_field() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("truth.json");
        std::fs::write(&path, r#"{"extent_nm": "wide"}"#).unwrap();
        let e = read_json::<TruthDoc>(&path, "truth.json").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("field `extent_nm`") && msg.contains("truth.json"),
            "{msg}"
        );
        assert!(e.chain().any(|c| c.is::<crate::exit::BadInput>()));
    }

    /// Text after the document, and a key written twice at any depth, are bad input.
    #[test]
    fn trailing_text_and_duplicate_keys_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("a.json");
        let read = |text: &str| {
            std::fs::write(&path, text).unwrap();
            read_json::<serde_json::Value>(&path, "document").map_err(|e| e.to_string())
        };
        assert!(read(r#"{"a": [{"b": 1}, {"b": 2}], "c": {"b": 3}}"#).is_ok());
        let e = read(r#"{"a": 1} {"a": 2}"#).unwrap_err();
        assert!(e.contains("a.json") && e.contains("trailing"), "{e}");
        let e = read(r#"{"x": {"by_symmetry": {"4": 1, "6": 2, "4": 3}}}"#).unwrap_err();
        assert!(e.contains("key written twice: `x.by_symmetry.4`"), "{e}");
        let e = read(r#"{"l": [{}, {"k": 1, "k": 1}]}"#).unwrap_err();
        assert!(e.contains("`l[1].k`"), "{e}");
    }

    /// What `mro analyze` never writes is refused with the field named.
    #[test]
    fn impossible_analysis_values_are_refused_by_field() {
        let path = Path::new("a/analysis.json");
        assert!(perfect().check(path).is_ok());
        let refused = |edit: &dyn Fn(&mut AnalysisDoc), field: &str| {
            let mut a = perfect();
            edit(&mut a);
            let e = a.check(path).unwrap_err().to_string();
            assert!(
                e.starts_with("a/analysis.json: field `") && e.contains(field),
                "{e}"
            );
        };
        refused(
            &|a| a.config.method = Some("foo".into()),
            "`config.method` = \"foo\": expected \"mro\" or \"im2018\"",
        );
        // `perfect()` has no `mro` section to judge.
        refused(&|a| a.config.method = Some("mro".into()), "`config.method`");
        refused(
            &|a| a.calibration.scan_step_nm = -0.32,
            "`calibration.scan_step_nm` = -0.32",
        );
        refused(
            &|a| a.calibration.scan_step_nm = 1e300,
            "`calibration.scan_step_nm` = 1e300",
        );
        refused(
            &|a| a.input = Some(InputDoc { scan_shape: [8, 0] }),
            "`input.scan_shape[1]` = 0",
        );
        refused(
            &|a| {
                let v = a.by_symmetry.remove("4").unwrap();
                a.by_symmetry.insert("04".into(), v);
            },
            "`by_symmetry.04`",
        );
        refused(
            &|a| a.config.n_max = Some(5),
            "`by_symmetry.1` = missing: expected a map for every n from 1 to config.n_max = 5",
        );
        refused(
            &|a| {
                let f = a.by_symmetry.get_mut("4").unwrap();
                f.volume_fraction_in_condition = Some(2.0);
            },
            "`by_symmetry.4.volume_fraction_in_condition` = 2",
        );
        refused(
            &|a| a.by_symmetry.get_mut("4").unwrap().mean_diameter_nm = Some(-1.0),
            "`by_symmetry.4.mean_diameter_nm` = -1",
        );
        refused(
            &|a| a.variance.peak_k_per_nm = Some(-4.0),
            "`variance.peak_k_per_nm` = -4",
        );
        refused(
            &|a| a.total_volume_fraction = Some(-0.5),
            "`total_volume_fraction`",
        );
        refused(&|a| a.config.n_max = Some(0), "`config.n_max` = 0");
        refused(
            &|a| a.variance.peak_k_se_per_nm = Some(-4.0),
            "`variance.peak_k_se_per_nm` = -4",
        );
        refused(
            &|a| a.config.in_condition_fraction = 0.0,
            "`config.in_condition_fraction` = 0",
        );
        refused(
            &|a| a.by_symmetry.get_mut("4").unwrap().region_list[1].centroid_px[0] = -3.0,
            "`by_symmetry.4.region_list[1].centroid_px[0]` = -3",
        );
        refused(
            &|a| {
                let t = EstimateType {
                    clusters: Some(-5.0),
                    ..EstimateType::default()
                };
                a.mro = Some(EstimateBody {
                    by_symmetry: [("4".to_string(), t)].into(),
                    ..EstimateBody::default()
                });
            },
            "`mro.by_symmetry.4.clusters` = -5",
        );
        // With `n_max`, the `mro` section must hold every map too.
        refused(
            &|a| {
                a.config.n_max = Some(4);
                for n in 1..=4 {
                    a.by_symmetry
                        .entry(n.to_string())
                        .or_insert_with(a_found_map);
                }
                a.mro = Some(EstimateBody::default());
            },
            "`mro.by_symmetry.1` = missing",
        );
    }

    fn a_found_map() -> FoundType {
        serde_json::from_value(serde_json::json!({"regions": 0, "mean_diameter_nm": null,
            "volume_fraction_in_condition": null, "autocorrelation_peak_nm": null}))
        .unwrap()
    }

    #[test]
    fn a_score_with_nothing_toleranced_says_it_judged_nothing() {
        assert_eq!(
            score(&truth(), &perfect(), &ScoringSpec::default()).not_judged,
            None
        );
        let none = ScoringSpec {
            checks: Vec::new(),
            ..ScoringSpec::default()
        };
        let s = score(&truth(), &perfect(), &none);
        assert!(s.rows.iter().all(|r| r.tolerance.is_none()));
        let why = s.not_judged.as_deref().unwrap();
        assert!(why.contains("no scored value carries a tolerance"), "{why}");
        assert!(why.contains("checks list is empty"), "{why}");
        assert!(table(&s).contains("no tolerance judged"));
        assert!(!table(&s).contains("every tolerance held"));
    }

    #[test]
    fn unmeasured_map_is_not_scored_but_an_unanswered_one_fails() {
        // An analysis without the map never measured it (above its n_max): shown, not judged.
        let mut a = perfect();
        a.by_symmetry.clear();
        let s = score(&truth(), &a, &ScoringSpec::default());
        assert_eq!(get(&s, "volume_fraction").recovered, None);
        assert_eq!(get(&s, "volume_fraction").within_tolerance, None);
        // An external estimate that leaves it out did not recover it.
        let e = Estimate {
            schema: ESTIMATE_SCHEMA.into(),
            method: "other".into(),
            scan_step_nm: None,
            scan_shape: None,
            body: EstimateBody::default(),
        };
        let s = score_estimate(&truth(), &e, &ScoringSpec::default());
        assert!(!s.all_within_tolerance);
    }

    /// A glass whose tables placed no cluster (`count` 0 at every n) scores as one with
    /// `clusters = []`: the same rows, the same verdict, although its maps hold speckle regions.
    #[test]
    fn a_glass_that_places_no_cluster_scores_as_one_without_tables() {
        let empty = |by_symmetry: serde_json::Value| -> TruthDoc {
            serde_json::from_value(serde_json::json!({
                "extent_nm": [10.0, 10.0], "thickness_nm": 5.0, "clusters": [],
                "by_symmetry": by_symmetry, "total_volume_fraction": 0.0,
                "placement": {"mode": "random"}
            }))
            .unwrap()
        };
        let none = empty(serde_json::json!({}));
        let zero = empty(serde_json::json!({"4": {
            "count": 0, "volume_fraction": 0.0, "in_condition_count": 0, "k0_per_nm": 4.0
        }}));
        let key = |s: &Score| -> Vec<(String, String, Option<u32>, Option<f64>)> {
            s.rows
                .iter()
                .map(|r| (r.quantity.clone(), r.method.clone(), r.symmetry, r.truth))
                .collect()
        };
        // `perfect()` finds 4-fold regions: speckle, where nothing was planted.
        let (a, b) = (
            score(&none, &perfect(), &ScoringSpec::default()),
            score(&zero, &perfect(), &ScoringSpec::default()),
        );
        assert_eq!(key(&a), key(&b));
        assert!(a.all_within_tolerance && b.all_within_tolerance);
        assert!(b.rows.iter().all(|r| r.symmetry.is_none()), "{:?}", b.rows);
        // A count that is absent (another tool's truth file) still counts as planted.
        let unknown =
            empty(serde_json::json!({"4": {"volume_fraction": 0.0, "in_condition_count": 0}}));
        let c = score(&unknown, &perfect(), &ScoringSpec::default());
        assert!(c.rows.iter().any(|r| r.symmetry == Some(4)));
    }

    #[test]
    fn a_share_of_one_has_a_standard_error() {
        // 36 of 36: the plain Wald form says 0; the adjusted one √(0.95 · 0.05 / 40).
        assert!((binomial_se(1.0, 36) - (0.95f64 * 0.05 / 40.0).sqrt()).abs() < 1e-12);
        assert!(binomial_se(0.0, 3) > 0.1);
        // Large n: the adjusted and the plain forms agree.
        let plain = (0.3f64 * 0.7 / 10_000.0).sqrt();
        assert!((binomial_se(0.3, 10_000) / plain - 1.0).abs() < 1e-3);
    }
}
