//! The `method = "mro"` estimator of one per-n map: significant regions, model-fitted diameters,
//! bounded volume fractions, the first significant σ(r) peak, each with a standard error.
//!
//! Inputs are the full-resolution, exactly shot-noise-corrected P_n map of
//! [`crate::ring_fourier`] and the per-pattern noise power removed from it. The pieces:
//! - regions: [`crate::significance`] (a mixture-of-exponentials null of the uncorrected map:
//!   common speckle power, each pattern's normalisation factor and own shot-noise power;
//!   a Benjamini–Hochberg step-up over regions at false-discovery rate α);
//! - clusters: the regions counted (Gundersen's frame). The completeness fit of the detected
//!   peaks ([`crate::completeness`]) is reported beside it, not applied: once the step-up found
//!   most clusters, its extrapolation below the threshold over-corrected (the aligned-thin
//!   n = 4 map: 20 of 24 clusters found, completeness fitted at 0.43, 47 clusters claimed; over
//!   the eleven validation maps with planted n, mean |count error| 38 % uncorrected, 54 %
//!   corrected). *Which clusters go missing (measured 2026-12-05, `tools/cluster_neighbourhood.py`,
//!   the correlated scenario at seed 16 on its 82 nm field and seeds 16–19 on its former 41 nm
//!   field, n = 4 and 6, 638 in-condition clusters in the fields, placed as `score.rs` places them):* mostly those whose projected
//!   disc overlaps another in-condition cluster's (centres closer than the sum of the radii).
//!   161 clusters overlap one and 17 of them are missed (11 %); 8 of the other 477 are (2 %).
//!   The 17 go three ways:
//!   - 8 overlap only clusters of another n, whose bright ring raises the `I_0` this map is
//!     divided by ([`crate::pipeline`]'s 5 × 5 window): inferred from the partner's n, and
//!     borne out by the wider window below, which finds 6 of the 8;
//!   - 5 overlap one of the same n that a region holds: one region for two, its circle centred
//!     on the partner;
//!   - 4 are two same-n pairs that both vanish. Their in-plane angles differ so that their
//!     n-fold patterns add nearly in antiphase (n·Δθ about 134° and 171°).
//!
//!   With a 15 × 15 window (a patched build; its mean) 11 are missed, 10 of them overlapped (2
//!   of another n, 8 merged with a same-n partner; its median: 13, 12, 1 and 11), but the
//!   diameters read 15 % small
//!   ([`crate::size_model`]). The validation reports give the share of the overlapped clusters
//!   found as the score row `recall_overlapping`;
//! - diameter: [`crate::size_model`] inverts each region's half-maximum width;
//! - in-condition volume fraction: clusters × their mean sphere volume `(π/6) D³` over the scan
//!   area × thickness (the spheres of Im et al. 2018); total `= in-condition / in-condition
//!   share`; a fraction above 1 is refused (null, with the reason in `null_reasons`), never
//!   reported;
//! - spacing: the first σ(r) peak beyond the Airy radius that stands ≥ 4 standard errors above
//!   the σ before it ([`crate::autocorrelation`]) in a map with at least
//!   [`SPACING_MIN_REGIONS`] significant regions, else null; and, beside it, the regions' own
//!   mean nearest-neighbour distance ([`crate::nearest_neighbor`], edge-corrected), which needs
//!   no peak and means what it says where the clusters are resolved.
//!
//! Standard errors (analytic, stated): region and cluster count `√N` (Poisson counting); mean
//! diameter `sd/√N`; volume fractions: the relative errors of the cluster estimate and of the mean
//! sphere volume in quadrature; spacing from the parabola vertex
//! ([`crate::autocorrelation::Peak::se_nm`]);
//! map mean from the scatter of the means of 8 × 8-pixel scan blocks (blocks larger than the
//! probe, so nearly independent).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::autocorrelation::{radial_autocorrelation, RadialAutocorrelation};
use crate::completeness::{correct, Completeness};
use crate::nearest_neighbor::nearest_neighbor;
use crate::particles::mean_sd;
use crate::pipeline::NO_REGIONS_NO_SE;
use crate::significance::{null_threshold, significant_regions, NullThreshold, SignificantRegion};
use crate::size_model::ProbeResponse;

/// σ(r) peaks below this many standard errors are not reported as a spacing. A map's σ(r) has
/// up to ~30 local maxima to look through, and the prominence is taken over the lowest σ before
/// the peak (a minimum, biased low); at 3 s.e. maps of pure shot noise still showed
/// "spacings" (3.1 s.e. in `pure_poisson_maps_average_zero_and_hold_no_regions`). At 4 s.e.
/// (one-sided 3·10⁻⁵ per maximum) the chance that any of 30 is a fluctuation would stay near
/// 0.1 % if σ(r) had the Gaussian errors Bartlett's formula assumes; on speckle it does not
/// (see [`SPACING_MIN_REGIONS`]).
pub const SPACING_MIN_SIGNIFICANCE: f64 = 4.0;
/// Fewest significant regions (counted, as `regions` is) a map needs before its σ(r) peak is
/// read as their spacing. Im et al. (2018, text to Fig. 4d) read σ(r)'s 'nearest-neighbor'
/// peak as the spacing *of MRO regions*; in a map without them a peak comes from the matrix's
/// speckle. *Measured:* the no-MRO controls of the correlated scenario on its former 41 nm field
/// (seeds 16–18, 0–1 regions per map) showed σ(r) peaks of 4.03–4.15 s.e. at three of their 30 maps (n = 8 at
/// seed 16; n = 6 and 9 at seed 17): on speckle, whose intensities are exponential, the 4 s.e.
/// rule alone does not bound false spacings (a delete-a-block jackknife of the peaks'
/// prominence, on a grid of 8 × 8 blocks of 16 scan points, gave comparable values, 3.3–4.5
/// s.e.). Five is the fewest in-condition clusters from which the truth reads a spacing
/// (`mro_sim::glass::pair_correlation::MIN_POINTS`).
pub const SPACING_MIN_REGIONS: usize = 5;
/// Side of the scan blocks whose means give the map mean's standard error, in scan pixels.
const BLOCK_PX: usize = 8;

/// What the `mro` method recovers from one per-n map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MroSymmetryResult {
    /// The harmonic n.
    pub n: usize,
    /// The map's null distribution and threshold (null when no pattern had counts).
    pub null: Option<NullThreshold>,
    /// Number of significant regions.
    pub regions: usize,
    /// Its standard error, `√regions`.
    pub regions_se: f64,
    /// Clusters in condition: the regions counted (the completeness fit is not applied; see
    /// the module docs).
    pub clusters: f64,
    /// Its standard error.
    pub clusters_se: f64,
    /// The completeness fit of the detected peaks, a diagnostic (null with the reason in
    /// `null_reasons["completeness"]` when too few are seen).
    pub completeness: Option<Completeness>,
    /// Mean model-fitted diameter in nm.
    pub mean_diameter_nm: Option<f64>,
    /// Its standard error in nm.
    pub mean_diameter_se_nm: Option<f64>,
    /// Sample standard deviation of the diameters in nm.
    pub sd_diameter_nm: Option<f64>,
    /// Σ sphere volumes of the regions over the sample volume.
    pub volume_fraction_in_condition: Option<f64>,
    /// Its standard error.
    pub volume_fraction_in_condition_se: Option<f64>,
    /// Share of clusters taken to be in a diffracting condition.
    pub in_condition_fraction: f64,
    /// `volume_fraction_in_condition / in_condition_fraction`, within [0, 1] or null.
    pub volume_fraction: Option<f64>,
    /// Its standard error.
    pub volume_fraction_se: Option<f64>,
    /// First significant σ(r) peak, in nm.
    pub spacing_nm: Option<f64>,
    /// Its standard error in nm.
    pub spacing_se_nm: Option<f64>,
    /// That peak's significance in standard errors of σ(r).
    pub spacing_significance: Option<f64>,
    /// Mean nearest-neighbour distance of the regions' centroids in nm, edge-corrected
    /// ([`crate::nearest_neighbor`]); null with the reason when too few regions qualify.
    #[serde(default)]
    pub nearest_neighbor_nm: Option<f64>,
    /// Its standard error in nm.
    #[serde(default)]
    pub nearest_neighbor_se_nm: Option<f64>,
    /// Mean of the corrected map (0 within `map_mean_se` for a map of pure shot noise).
    pub map_mean: Option<f64>,
    /// Its standard error (scan-block means).
    pub map_mean_se: Option<f64>,
    /// Patterns whose ring held no counts (P_n undefined there).
    pub undefined_patterns: usize,
    /// Why a value is null, keyed by the field.
    pub null_reasons: BTreeMap<String, String>,
    /// σ(r) of the corrected map.
    pub autocorrelation: RadialAutocorrelation,
    /// The regions, in order of decreasing peak.
    pub region_list: Vec<SignificantRegion>,
}

/// Fixed inputs of the estimator for one analysis.
#[derive(Debug, Clone)]
pub struct MroEstimator<'a> {
    /// Scan shape `[ny, nx]`.
    pub shape: [usize; 2],
    /// Scan step in nm.
    pub step_nm: f64,
    /// Foil thickness in nm (no volume fractions without it).
    pub thickness_nm: Option<f64>,
    /// False-discovery rate α of the regions.
    pub false_detection_rate: f64,
    /// Airy first-zero radius in nm: σ(r) peaks are searched beyond it.
    pub airy_first_zero_nm: f64,
    /// The probe-response size model.
    pub response: &'a ProbeResponse,
}

impl MroEstimator<'_> {
    /// Estimates from the corrected map `corrected`, the per-pattern noise power `noise` and
    /// normalisation factor `factor` (`(I_0/window mean)²`; all `[ny × nx]`, NaN where
    /// undefined) of harmonic `n` with in-condition share `p_in`.
    /// Returns the result and the label image.
    pub fn estimate(
        &self,
        n: usize,
        corrected: &[f64],
        noise: &[f64],
        factor: &[f64],
        p_in: f64,
    ) -> (MroSymmetryResult, Vec<u32>) {
        let mut reasons = BTreeMap::new();
        let len = corrected.len();
        let undefined = corrected.iter().filter(|v| !v.is_finite()).count();
        let raw: Vec<f64> = corrected.iter().zip(noise).map(|(c, z)| c + z).collect();
        let null = null_threshold(&raw, noise, factor, self.shape, self.false_detection_rate);
        let (regions, labels) = match &null {
            Some(nt) => significant_regions(
                &raw,
                noise,
                factor,
                corrected,
                self.shape,
                nt,
                self.step_nm,
                |f| self.response.diameter_nm(f),
            ),
            None => {
                reasons.insert(
                    "regions".into(),
                    "no pattern had counts on the analysis ring".into(),
                );
                (Vec::new(), vec![0; len])
            }
        };
        // Counted: Gundersen's unbiased counting frame (J. Microsc. 111 (1977) 219): a region
        // touching the last scan row or column is left to the next field, so a cluster cut by
        // the field's edge (or, in a periodic simulation, seen at both edges) counts once.
        let counted: Vec<&SignificantRegion> = regions.iter().filter(|r| r.counted).collect();
        let nreg = counted.len();
        let peaks: Vec<(f64, f64)> = counted.iter().map(|r| (r.peak_z, r.threshold_z)).collect();
        let completeness = match (&null, correct(&peaks)) {
            (None, _) => None,
            (Some(_), Ok(c)) => Some(c),
            (Some(_), Err(why)) => {
                reasons.insert("completeness".into(), why);
                None
            }
        };
        let (clusters, clusters_se) = (nreg as f64, (nreg as f64).sqrt());
        // Sizes from the regions inside the field (an edge cuts a region's area), or from all
        // when none is inside.
        let sized = |inside: bool| -> Vec<f64> {
            regions
                .iter()
                .filter(|r| !inside || !r.touches_edge)
                .filter_map(|r| r.diameter_nm)
                .collect()
        };
        let d = match sized(true) {
            d if d.is_empty() => sized(false),
            d => d,
        };
        let narrow = regions.iter().filter(|r| r.diameter_nm.is_none()).count();
        if narrow > 0 {
            reasons.insert(
                "mean_diameter_nm".into(),
                format!(
                    "{narrow} of {} regions are narrower than a point scatterer's response \
                     ({:.3} nm FWHM) and carry no diameter",
                    regions.len(),
                    self.response.point_fwhm_nm()
                ),
            );
        }
        let (md, sd) = mean_sd(d.iter().copied());
        let opt = |v: f64| v.is_finite().then_some(v);
        let mean_diameter_nm = opt(md);
        if mean_diameter_nm.is_none() {
            reasons.insert(
                "mean_diameter_nm".into(),
                "no significant region with a diameter".into(),
            );
        }
        // Identical diameters (the size model's depends only on a region's pixel count) have no
        // spread to give a standard error: null, as 0 would claim certainty.
        let mean_diameter_se_nm = (d.len() >= 2 && sd > 0.0).then(|| sd / (d.len() as f64).sqrt());
        if d.len() >= 2 && sd == 0.0 {
            reasons.insert(
                "mean_diameter_se_nm".into(),
                format!(
                    "all {} regions have the same diameter ({md:.4} nm; the size model's depends \
                     only on a region's pixel count): their spread gives no standard error, and 0 \
                     would claim certainty",
                    d.len()
                ),
            );
        }

        let area_nm2 = len as f64 * self.step_nm * self.step_nm;
        let (mut vf_in, mut vf_in_se, mut vf, mut vf_se) = (None, None, None, None);
        match self.thickness_nm {
            None => {
                reasons.insert(
                    "volume_fraction".into(),
                    "the calibration gives no thickness".into(),
                );
            }
            // No region: the fraction is 0, but a count of nothing has no standard error.
            Some(_) if clusters == 0.0 => {
                vf_in = Some(0.0);
                vf = Some(0.0);
                for f in ["volume_fraction_in_condition_se", "volume_fraction_se"] {
                    reasons.insert(f.into(), NO_REGIONS_NO_SE.into());
                }
            }
            Some(_) if d.is_empty() => {
                let (s, none) = if clusters == 1.0 {
                    ("", "without")
                } else {
                    ("s", "none with")
                };
                let why = format!(
                    "{clusters} region{s} counted, {none} a model diameter: no sphere volume to \
                     give"
                );
                for f in [
                    "volume_fraction_in_condition",
                    "volume_fraction_in_condition_se",
                    "volume_fraction",
                    "volume_fraction_se",
                ] {
                    reasons.insert(f.into(), why.clone());
                }
            }
            Some(t) => {
                // Clusters × their mean sphere volume over the foil volume (regions without a
                // model diameter are taken to have the others' sizes).
                let vols: Vec<f64> = d
                    .iter()
                    .map(|d| std::f64::consts::PI / 6.0 * d.powi(3) / (area_nm2 * t))
                    .collect();
                let (mean_v, sd_v) = mean_sd(vols.iter().copied());
                let rel_mean = if vols.len() >= 2 {
                    sd_v / mean_v / (vols.len() as f64).sqrt()
                } else {
                    0.0
                };
                let v_in = clusters * mean_v;
                let se_in = v_in * ((clusters_se / clusters).powi(2) + rel_mean.powi(2)).sqrt();
                if v_in > 1.0 {
                    reasons.insert(
                        "volume_fraction_in_condition".into(),
                        format!(
                            "the regions' spheres would fill {v_in:.3} of the foil: the sphere model \
                             does not hold for these regions"
                        ),
                    );
                } else {
                    vf_in = Some(v_in);
                    vf_in_se = Some(se_in);
                    let v = v_in / p_in;
                    if v > 1.0 {
                        reasons.insert(
                            "volume_fraction".into(),
                            format!(
                                "dividing by the in-condition share {p_in} gives {v:.3} > 1: \
                                 the share does not apply to these regions"
                            ),
                        );
                    } else {
                        vf = Some(v);
                        vf_se = Some(se_in / p_in);
                    }
                }
            }
        }

        // σ(r) of the corrected map; undefined patterns take the map mean (no correlation).
        let defined: Vec<f64> = corrected
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let map_mean =
            (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64);
        let filled: Vec<f64> = corrected
            .iter()
            .map(|&v| {
                if v.is_finite() {
                    v
                } else {
                    map_mean.unwrap_or(0.0)
                }
            })
            .collect();
        let ac = radial_autocorrelation(&filled, self.shape, self.step_nm);
        let peak = ac.first_significant_peak(self.airy_first_zero_nm, SPACING_MIN_SIGNIFICANCE);
        let too_few = nreg < SPACING_MIN_REGIONS;
        let spacing = peak.filter(|_| !too_few);
        if spacing.is_none() {
            let held = || {
                format!(
                    "the map holds {nreg} significant region{}; a spacing is read only from \
                     {SPACING_MIN_REGIONS} or more",
                    if nreg == 1 { "" } else { "s" }
                )
            };
            let no_peak = || {
                format!(
                    "no σ(r) peak beyond {:.3} nm stands {SPACING_MIN_SIGNIFICANCE} standard \
                     errors above the σ before it",
                    self.airy_first_zero_nm
                )
            };
            let why = match peak {
                // A peak is withheld only for too few regions.
                Some(p) => format!(
                    "σ(r) peaks at {:.2} nm ({:.1} standard errors), but {} (in maps without \
                     MRO such peaks come from the speckle)",
                    p.r_nm,
                    p.significance,
                    held()
                ),
                None if too_few => format!("{}, and {}", no_peak(), held()),
                None => no_peak(),
            };
            reasons.insert("spacing_nm".into(), why);
        }
        let centroids: Vec<[f64; 2]> = regions.iter().map(|r| r.centroid_px).collect();
        let nearest = match nearest_neighbor(&centroids, self.shape, self.step_nm) {
            Ok(nn) => Some(nn),
            Err(why) => {
                reasons.insert("nearest_neighbor_nm".into(), why);
                None
            }
        };
        if undefined > 0 {
            reasons.insert(
                "map_mean".into(),
                format!("{undefined} patterns had no counts on the ring and are left out"),
            );
        }
        let result = MroSymmetryResult {
            n,
            null,
            regions: nreg,
            regions_se: (nreg as f64).sqrt(),
            clusters,
            clusters_se,
            completeness,
            mean_diameter_nm,
            mean_diameter_se_nm,
            sd_diameter_nm: opt(sd),
            volume_fraction_in_condition: vf_in,
            volume_fraction_in_condition_se: vf_in_se,
            in_condition_fraction: p_in,
            volume_fraction: vf,
            volume_fraction_se: vf_se,
            spacing_nm: spacing.map(|p| p.r_nm),
            spacing_se_nm: spacing.map(|p| p.se_nm),
            spacing_significance: spacing.map(|p| p.significance),
            nearest_neighbor_nm: nearest.map(|n| n.mean_nm),
            nearest_neighbor_se_nm: nearest.map(|n| n.se_nm),
            map_mean,
            map_mean_se: block_mean_se(corrected, self.shape),
            undefined_patterns: undefined,
            null_reasons: reasons,
            autocorrelation: ac,
            region_list: regions,
        };
        (result, labels)
    }
}

/// Standard error of a map's mean from the means of its `BLOCK_PX`-sided scan blocks (NaN
/// pixels left out); `None` with fewer than two blocks.
pub fn block_mean_se(map: &[f64], shape: [usize; 2]) -> Option<f64> {
    let [ny, nx] = shape;
    let by = (ny / BLOCK_PX).max(1);
    let bx = (nx / BLOCK_PX).max(1);
    let (hy, hx) = (ny / by, nx / bx);
    let mut means = Vec::with_capacity(by * bx);
    for a in 0..by {
        for b in 0..bx {
            let (mut s, mut c) = (0.0, 0usize);
            for y in a * hy..(a + 1) * hy {
                for x in b * hx..(b + 1) * hx {
                    let v = map[y * nx + x];
                    if v.is_finite() {
                        s += v;
                        c += 1;
                    }
                }
            }
            if c > 0 {
                means.push(s / c as f64);
            }
        }
    }
    (means.len() >= 2).then(|| {
        let (_, sd) = mean_sd(means.iter().copied());
        sd / (means.len() as f64).sqrt()
    })
}

/// The `mro` method's results over every n.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MroResult {
    /// False-discovery rate α of the regions ([`crate::significance`]).
    pub false_detection_rate: f64,
    /// Power transfer of the full-resolution ring per n = 0..=n_max (pixel integration; see
    /// [`crate::ring_fourier`]).
    pub angular_transfer: Vec<f64>,
    /// Power transfer of the `im2018` path's azimuthal binning, `sinc²(nΔφ/2)`.
    pub binned_angular_transfer: Vec<f64>,
    /// Dataset mean of the corrected full-resolution P_n, n = 0..=n_max.
    pub mean_power: Vec<f64>,
    /// FWHM of a point scatterer's map (`|ψ₀|⁴`) in nm: the smallest region a cluster gives.
    pub point_response_fwhm_nm: f64,
    /// Per n (keyed `"4"`).
    pub by_symmetry: BTreeMap<String, MroSymmetryResult>,
    /// Σ `volume_fraction` over the summed symmetries; null if any is null or the sum
    /// exceeds 1 (the reason in `null_reasons`).
    pub total_volume_fraction: Option<f64>,
    /// Its standard error (the per-n errors in quadrature).
    pub total_volume_fraction_se: Option<f64>,
    /// Why a whole-sample value is null.
    pub null_reasons: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A speckle map (exponential intensities) with a 5 nm square texture: σ(r) peaks far above
    /// 4 standard errors, but the map holds fewer than five significant regions, so no spacing
    /// is claimed.
    #[test]
    fn a_textured_map_without_regions_has_no_spacing() {
        let (shape, step) = ([128, 128], 0.32);
        let period_nm = 5.0;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let k = std::f64::consts::TAU / period_nm;
        let map: Vec<f64> = (0..shape[0] * shape[1])
            .map(|p| {
                let (y, x) = ((p / shape[1]) as f64 * step, (p % shape[1]) as f64 * step);
                let e = -(1.0 - rng.gen::<f64>()).ln();
                e * (1.0 + 0.25 * ((k * y).cos() + (k * x).cos()))
            })
            .collect();
        let response = ProbeResponse::new(0.584);
        let estimator = MroEstimator {
            shape,
            step_nm: step,
            thickness_nm: Some(10.0),
            false_detection_rate: 0.05,
            airy_first_zero_nm: 1.044,
            response: &response,
        };
        let len = map.len();
        let (r, _) = estimator.estimate(4, &map, &vec![0.0; len], &vec![1.0; len], 1.0);
        let peak = r
            .autocorrelation
            .first_significant_peak(1.044, SPACING_MIN_SIGNIFICANCE)
            .expect("the texture's σ(r) peak");
        // A square texture's radial average peaks a little beyond its period (the diagonals
        // at 5 nm are anti-correlated).
        assert!((4.5..7.0).contains(&peak.r_nm), "{peak:?}");
        assert!(r.regions < SPACING_MIN_REGIONS, "{} regions", r.regions);
        assert_eq!(r.spacing_nm, None);
        assert!(
            r.null_reasons["spacing_nm"]
                .ends_with("(in maps without MRO such peaks come from the speckle)"),
            "{:?}",
            r.null_reasons
        );
    }
}
