//! The result of an analysis: `analysis.json` (schema `mro.analysis/1`) and the maps.

use std::collections::BTreeMap;

use mro_core::Calibration;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::autocorrelation::RadialAutocorrelation;
use crate::config::AnalysisConfig;
use crate::mro_estimator::MroResult;
use crate::particles::Region;

/// The schema tag of `analysis.json`.
pub const ANALYSIS_SCHEMA: &str = "mro.analysis/1";

/// Everything `analysis.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisResult {
    /// Always [`ANALYSIS_SCHEMA`].
    pub schema: String,
    /// Version of mro-analysis that produced it.
    pub version: String,
    /// What was analysed.
    pub input: InputInfo,
    /// The calibration used (with the refined centre when refinement was on).
    pub calibration: Calibration,
    /// Scan step in nm (the calibration's, repeated for consumers placing regions).
    pub scan_step_nm: f64,
    /// How the centre was chosen.
    pub center: CenterInfo,
    /// The settings used, every default filled in.
    pub config: AnalysisConfig,
    /// Probe sizes used for de-blurring and the σ(r) peak search.
    pub probe: ProbeInfo,
    /// The analysis ring (V2D, angular correlation, per-n maps).
    pub ring: RingInfo,
    /// Fluctuation variance V(k).
    pub variance: VarianceResult,
    /// Dataset-averaged angular power spectrum.
    pub power_spectrum: PowerSpectrumResult,
    /// Particle analysis and σ(r) of each per-n map, keyed by n as a string.
    pub by_symmetry: BTreeMap<String, SymmetryResult>,
    /// The symmetries summed into `total_volume_fraction` and the normalised sum map.
    pub summed_symmetries: Vec<usize>,
    /// Σ of `volume_fraction` over `summed_symmetries` (null without a thickness).
    pub total_volume_fraction: Option<f64>,
    /// Particle analysis of the normalised sum map.
    pub integrated_map: SymmetryResult,
    /// Volume fraction from the normalised sum map (null without a thickness).
    pub integrated_map_volume_fraction: Option<f64>,
    /// Why a whole-sample value above is null, keyed by the field (`total_volume_fraction`,
    /// `integrated_map_volume_fraction`).
    #[serde(default)]
    pub null_reasons: BTreeMap<String, String>,
    /// The `mro` method's results (absent from analyses made before it existed).
    #[serde(default)]
    pub mro: Option<MroResult>,
    /// Which run the datacube came from (scenario name and seed, from `meta.json`'s
    /// `provenance`); absent for measured data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<mro_core::meta::RunProvenance>,
}

/// Shape of the analysed data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    /// `[scan_y, scan_x]`.
    pub scan_shape: [usize; 2],
    /// `[det_y, det_x]`.
    pub detector_shape: [usize; 2],
    /// Detector pixels excluded by the mask.
    pub masked_pixels: usize,
}

/// The pattern centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CenterInfo {
    /// Centre `[y, x]` from the calibration, in pixels.
    pub calibration_px: [f64; 2],
    /// Centre `[y, x]` used, in pixels.
    pub used_px: [f64; 2],
    /// Whether it was refined from the mean pattern's Friedel symmetry.
    pub refined: bool,
}

/// Probe sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeInfo {
    /// Intensity FWHM 0.5145 λ/α in nm (removed from diameters in quadrature).
    pub fwhm_nm: f64,
    /// Airy first-zero radius 0.61 λ/α in nm (σ(r) peaks are searched beyond it).
    pub airy_first_zero_nm: f64,
}

/// The analysis ring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingInfo {
    /// Centre in nm⁻¹.
    pub k_per_nm: f64,
    /// Inner edge in nm⁻¹.
    pub k_lo_per_nm: f64,
    /// Outer edge in nm⁻¹.
    pub k_hi_per_nm: f64,
    /// Azimuthal bins.
    pub n_azimuth: usize,
    /// Bin width Δφ in degrees.
    pub azimuth_step_deg: f64,
}

/// V(k), exactly shot-noise-corrected for both estimators (see [`crate::variance`]); the same
/// block serves `method = "mro"` and `"im2018"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VarianceResult {
    /// Ring centres in nm⁻¹.
    pub k_per_nm: Vec<f64>,
    /// V_Ω(k) per ring; null where undefined (the reason in `null_reasons`).
    pub v_omega: Vec<Option<f64>>,
    /// V_r(k) per ring; null where undefined.
    pub v_r: Vec<Option<f64>>,
    /// Dataset-mean intensity per ring (counts per pixel).
    pub mean_intensity: Vec<f64>,
    /// Position of the V_Ω maximum over the defined rings in nm⁻¹; null when the maximum lies
    /// at either end of the k range (a curve that only rises or falls there has no peak; the
    /// reason in `null_reasons`).
    pub peak_k_per_nm: Option<f64>,
    /// Position of the V_r maximum over the defined rings in nm⁻¹, null the same way.
    pub v_r_peak_k_per_nm: Option<f64>,
    /// Standard error of `peak_k_per_nm` in nm⁻¹: block bootstrap over the scan
    /// ([`crate::variance::peak_standard_errors`]); null without two defined peaks.
    #[serde(default)]
    pub peak_k_se_per_nm: Option<f64>,
    /// Standard error of `v_r_peak_k_per_nm` in nm⁻¹, the same way.
    #[serde(default)]
    pub v_r_peak_k_se_per_nm: Option<f64>,
    /// V_Ω at the analysis ring; null where undefined.
    pub v_omega_at_ring: Option<f64>,
    /// V_r at the analysis ring (the mean of the V2D map over its defined patterns); null where
    /// undefined.
    pub v_r_at_ring: Option<f64>,
    /// Gain used in the Poisson correction (0: none).
    pub poisson_gain: f64,
    /// Lowest dataset-mean ring intensity reported, in electrons per pixel
    /// ([`crate::variance::MIN_ELECTRONS_PER_PIXEL`]; applied only with a gain).
    #[serde(default)]
    pub min_electrons_per_pixel: f64,
    /// Why a value is null, keyed by the field: `"v_omega[i]"`, `"v_r[i]"` (ring `i`),
    /// `"v_omega_at_ring"`, `"v_r_at_ring"`.
    #[serde(default)]
    pub null_reasons: BTreeMap<String, String>,
}

/// Angular power spectrum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerSpectrumResult {
    /// The analysis ring in nm⁻¹.
    pub k_per_nm: f64,
    /// Harmonics 0..=n_max.
    pub n: Vec<usize>,
    /// Dataset mean of P_n at the analysis ring.
    pub mean: Vec<f64>,
    /// Σ odd-n over Σ even-n (n ≥ 2) of `mean`.
    pub odd_even_ratio: f64,
    /// Mean expected shot-noise contribution to each P_n, n ≥ 1 (0 without a gain).
    pub poisson_floor: f64,
    /// The odd/even ratio of `mean − poisson_floor` (n ≥ 1).
    pub odd_even_ratio_corrected: f64,
    /// Ring centres of `versus_k` in nm⁻¹.
    pub versus_k_per_nm: Vec<f64>,
    /// Dataset mean of P_n per ring: `versus_k[ring][n]`.
    pub versus_k: Vec<Vec<f64>>,
}

/// Particle analysis and σ(r) of one map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymmetryResult {
    /// The harmonic n (0 for the normalised sum map).
    pub n: usize,
    /// Threshold applied.
    pub threshold: f64,
    /// Number of regions.
    pub regions: usize,
    /// Its standard error, `√regions` (Poisson counting).
    #[serde(default)]
    pub regions_se: f64,
    /// Mean equivalent-circle diameter in nm.
    pub mean_diameter_nm: Option<f64>,
    /// Its standard error `sd/√N` in nm.
    #[serde(default)]
    pub mean_diameter_se_nm: Option<f64>,
    /// Sample standard deviation of the diameters in nm.
    pub sd_diameter_nm: Option<f64>,
    /// Mean diameter after quadrature removal of the probe FWHM, in nm.
    pub mean_diameter_corrected_nm: Option<f64>,
    /// Its standard error, `sd/√N` of the corrected diameters, nm.
    #[serde(default)]
    pub mean_diameter_corrected_se_nm: Option<f64>,
    /// Region area over scan area.
    pub area_fraction: f64,
    /// Σ sphere volumes over sample volume (regions in the diffracting condition only).
    pub volume_fraction_in_condition: Option<f64>,
    /// Its standard error `√(Σ vᵢ²)` (compound Poisson over the regions' sphere volumes).
    #[serde(default)]
    pub volume_fraction_in_condition_se: Option<f64>,
    /// Share of clusters taken to be in a diffracting condition.
    pub in_condition_fraction: f64,
    /// `volume_fraction_in_condition / in_condition_fraction`; null above 1 (see
    /// `null_reasons`), as every fraction here.
    pub volume_fraction: Option<f64>,
    /// Its standard error.
    #[serde(default)]
    pub volume_fraction_se: Option<f64>,
    /// The same with probe-corrected diameters.
    pub volume_fraction_corrected: Option<f64>,
    /// `volume_fraction_in_condition` over the per-n geometric in-condition share
    /// ([`crate::particles::geometric_in_condition`]); null for the normalised sum map.
    pub volume_fraction_geometric: Option<f64>,
    /// First σ(r) peak beyond the probe's Airy radius, in nm.
    pub autocorrelation_peak_nm: Option<f64>,
    /// Its standard error in nm ([`crate::autocorrelation::Peak::se_nm`]).
    #[serde(default)]
    pub autocorrelation_peak_se_nm: Option<f64>,
    /// That peak's prominence in standard errors of σ(r) (see [`crate::autocorrelation`]);
    /// below 3 the "spacing" is a fluctuation of the map.
    pub autocorrelation_peak_significance: Option<f64>,
    /// σ(r).
    pub autocorrelation: RadialAutocorrelation,
    /// Mean of the map.
    pub map_mean: f64,
    /// Maximum of the map.
    pub map_max: f64,
    /// The regions.
    pub region_list: Vec<Region>,
    /// Why a value is null, keyed by the field (a fraction the correction pushed above 1).
    #[serde(default)]
    pub null_reasons: BTreeMap<String, String>,
}

/// The scan-shaped maps (`[scan_y, scan_x]`).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisMaps {
    /// ⟨I2D(φ)⟩_φ: annular mean at the analysis ring.
    pub mean_intensity: Array2<f64>,
    /// V2D: exactly shot-noise-corrected normalised ring variance at the analysis ring (NaN
    /// where the ring's mean is 0).
    pub v2d: Array2<f64>,
    /// V2D without the Poisson correction (= C_k(0) per pattern).
    pub v2d_raw: Array2<f64>,
    /// P_n maps, index n = 0..=n_max.
    pub power: Vec<Array2<f64>>,
    /// Mean over the summed symmetries of each map divided by its maximum.
    pub normalized_sum: Array2<f64>,
    /// Region labels (0 = background) per n, index n = 0..=n_max (index 0 unused, all zero).
    pub labels: Vec<Array2<u32>>,
    /// Region labels of the normalised sum map.
    pub integrated_labels: Array2<u32>,
    /// `mro` method: full-resolution, shot-noise-corrected P_n maps, index n = 0..=n_max
    /// (NaN where the ring held no counts).
    pub full_power: Vec<Array2<f64>>,
    /// `mro` method: significant-region labels per n (index 0 unused, all zero).
    pub mro_labels: Vec<Array2<u32>>,
}

/// Result plus maps.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOutput {
    /// What goes into analysis.json.
    pub result: AnalysisResult,
    /// The maps.
    pub maps: AnalysisMaps,
}

impl AnalysisResult {
    /// Pretty-printed JSON (non-finite numbers become null).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("AnalysisResult serialises")
    }
}
