//! Settings of the analysis: the `[analysis]` section of a scenario, or the whole of the file
//! given to `mro analyze --config`.

use mro_core::check::{count_in, in_range, positive_up_to, InvalidValue};
use serde::{Deserialize, Serialize};

/// How per-n maps are thresholded into regions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Threshold {
    /// Ridler–Calvard iterative (isodata) threshold, as Igor's `ImageThreshold /M=1`.
    Iterative,
    /// Otsu's between-class-variance threshold.
    Otsu,
    /// A fixed threshold as a fraction of the map's maximum (`{ fixed = 0.5 }`).
    Fixed(f64),
}

/// Which estimator `mro score` takes as the analysis's answer. Both are always computed and
/// written to `analysis.json` (`by_symmetry` is `im2018`, `mro.by_symmetry` is `mro`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The published procedure of Im et al. (2018): P_n from 10° azimuthal bins, iterative
    /// threshold, equivalent-circle diameters, the fixed in-condition share.
    Im2018,
    /// mro's estimator ([`crate::mro_estimator`]): full-resolution P_n with the exact
    /// shot-noise correction, significance-based regions, probe-response diameters, bounded
    /// fractions, the first significant σ(r) peak.
    #[default]
    Mro,
}

/// Which share of the clusters is taken to be in a diffracting condition when converting the
/// in-condition volume fraction of a map into a total volume fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InConditionModel {
    /// The same share for every n: `in_condition_fraction` (the paper's 5.9 %).
    Fixed,
    /// Per n: the fraction of random orientations that put every reflection of an n-fold pattern
    /// within `acceptance_deg` of the Bragg condition ([`crate::particles::geometric_in_condition`]).
    Geometric,
}

/// Analysis settings. Defaults follow Im et al. (2018).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisConfig {
    /// Ring at which V2D, the angular correlation and the per-n maps are taken, in nm⁻¹.
    pub k_per_nm: f64,
    /// Full radial width of that ring in nm⁻¹.
    pub ring_width_per_nm: f64,
    /// Azimuthal bin width Δφ in degrees.
    pub azimuth_step_deg: f64,
    /// Highest angular harmonic n analysed.
    pub n_max: usize,
    /// Threshold method for the per-n maps.
    pub threshold: Threshold,
    /// Bragg acceptance half-angle in degrees.
    pub acceptance_deg: f64,
    /// Share of randomly oriented clusters that diffract (the paper's 5.9 %).
    pub in_condition_fraction: f64,
    /// How the in-condition share is chosen: `"fixed"` (default) or `"geometric"` (per n).
    pub in_condition_model: InConditionModel,
    /// Lower end of the V(k) / spectrum-versus-k range in nm⁻¹.
    pub k_min_per_nm: f64,
    /// Upper end of the V(k) / spectrum-versus-k range in nm⁻¹ (clipped to the largest ring
    /// the detector holds completely).
    pub k_max_per_nm: f64,
    /// Radial bin width of V(k) in nm⁻¹; default one detector pixel.
    pub radial_step_per_nm: Option<f64>,
    /// Sub-pixels per detector-pixel side used to split pixels between polar bins.
    pub supersample: usize,
    /// Detector gain g in counts per electron for the Poisson correction; 0 disables it.
    pub poisson_gain: f64,
    /// One-axis rms σ in detector pixels of the detector's charge sharing
    /// ([`mro_core::charge_sharing`]), which correlates the shot noise of neighbouring pixels;
    /// the shot-noise corrections of V(k) and P_n propagate it (0: independent pixels, as for an
    /// ideal counting detector). Default [`mro_core::charge_sharing::EMPAD_SIGMA_PX`], the
    /// estimate the forward model uses.
    pub detector_psf_sigma_px: f64,
    /// Smallest region (in scan pixels) kept by the particle analysis.
    pub min_region_px: usize,
    /// Refine the pattern centre from the Friedel symmetry of the mean pattern (one extra pass).
    pub refine_center: bool,
    /// Symmetries summed into the total volume fraction and the normalised sum map; default the
    /// even n from 2 to `n_max` (the paper avoids odd n).
    pub symmetries: Option<Vec<usize>>,
    /// The estimator scored: `"mro"` (default) or `"im2018"`.
    pub method: Method,
    /// `mro` method: the regions' false-discovery rate α (expected share of false regions among
    /// those found; a map of no signal yields a region with about this probability), see
    /// [`crate::significance`].
    pub false_detection_rate: f64,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            k_per_nm: 4.0,
            ring_width_per_nm: 0.32,
            azimuth_step_deg: 10.0,
            n_max: 10,
            threshold: Threshold::Iterative,
            acceptance_deg: 10.0,
            in_condition_fraction: 0.059,
            in_condition_model: InConditionModel::Fixed,
            k_min_per_nm: 2.0,
            k_max_per_nm: 8.0,
            radial_step_per_nm: None,
            supersample: 4,
            poisson_gain: 1.0,
            detector_psf_sigma_px: mro_core::charge_sharing::EMPAD_SIGMA_PX,
            min_region_px: 2,
            refine_center: false,
            symmetries: None,
            method: Method::Mro,
            false_detection_rate: 0.05,
        }
    }
}

impl AnalysisConfig {
    /// Checks each value and their consistency.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        positive_up_to("k_per_nm", self.k_per_nm, 50.0, " nm⁻¹")?;
        positive_up_to(
            "ring_width_per_nm",
            self.ring_width_per_nm,
            self.k_per_nm,
            " nm⁻¹ (at most k_per_nm)",
        )?;
        in_range("azimuth_step_deg", self.azimuth_step_deg, 0.1, 45.0, "°")?;
        let bins = (360.0 / self.azimuth_step_deg).round() as usize;
        if (bins as f64 * self.azimuth_step_deg - 360.0).abs() > 1e-6 {
            return Err(InvalidValue::new(
                "azimuth_step_deg",
                self.azimuth_step_deg,
                "a step that divides 360° into a whole number of bins",
            ));
        }
        count_in("n_max", self.n_max, 1, (bins - 1) / 2).map_err(|e| {
            InvalidValue::new(
                e.field,
                e.value,
                format!(
                    "{} (below the azimuthal Nyquist limit of {bins} bins)",
                    e.expected
                ),
            )
        })?;
        if let Threshold::Fixed(f) = self.threshold {
            in_range("threshold.fixed", f, 0.0, 1.0, " of the map maximum")?;
        }
        in_range("acceptance_deg", self.acceptance_deg, 0.1, 90.0, "°")?;
        positive_up_to("in_condition_fraction", self.in_condition_fraction, 1.0, "")?;
        positive_up_to("k_min_per_nm", self.k_min_per_nm, 50.0, " nm⁻¹")?;
        in_range(
            "k_max_per_nm",
            self.k_max_per_nm,
            self.k_min_per_nm,
            50.0,
            " nm⁻¹ (above k_min_per_nm)",
        )?;
        if self.k_max_per_nm <= self.k_min_per_nm {
            return Err(InvalidValue::new(
                "k_max_per_nm",
                self.k_max_per_nm,
                "a value above k_min_per_nm",
            ));
        }
        if let Some(step) = self.radial_step_per_nm {
            positive_up_to(
                "radial_step_per_nm",
                step,
                self.k_max_per_nm - self.k_min_per_nm,
                " nm⁻¹ (at most the k range)",
            )?;
        }
        count_in("supersample", self.supersample, 1, 16)?;
        in_range(
            "poisson_gain",
            self.poisson_gain,
            0.0,
            1e6,
            " counts per electron",
        )?;
        in_range(
            "detector_psf_sigma_px",
            self.detector_psf_sigma_px,
            0.0,
            2.0,
            " detector pixels",
        )?;
        count_in("min_region_px", self.min_region_px, 1, 1_000_000)?;
        in_range(
            "false_detection_rate",
            self.false_detection_rate,
            1e-6,
            1.0,
            " (a false-discovery rate)",
        )?;
        if let Some(sym) = &self.symmetries {
            if sym.is_empty() {
                return Err(InvalidValue::new(
                    "symmetries",
                    "[]",
                    "at least one n between 1 and n_max",
                ));
            }
            for (i, &n) in sym.iter().enumerate() {
                count_in(&format!("symmetries[{i}]"), n, 1, self.n_max)?;
                // A repeated n would be summed twice into the total volume fraction.
                if sym[..i].contains(&n) {
                    return Err(InvalidValue::new(
                        format!("symmetries[{i}]"),
                        n,
                        "each n once (a repeated n would be summed twice)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The symmetries summed into the total volume fraction and the normalised sum map.
    pub fn summed_symmetries(&self) -> Vec<usize> {
        match &self.symmetries {
            Some(s) => s.clone(),
            None => (2..=self.n_max).step_by(2).collect(),
        }
    }

    /// Number of azimuthal bins, 360°/Δφ.
    pub fn azimuth_bins(&self) -> usize {
        (360.0 / self.azimuth_step_deg).round() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_valid_and_nyquist_enforced() {
        let c = AnalysisConfig::default();
        c.validate().unwrap();
        assert_eq!(c.azimuth_bins(), 36);
        let c = AnalysisConfig {
            n_max: 18,
            ..AnalysisConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "n_max");
        assert!(e.expected.contains("Nyquist"), "{e}");
        let c = AnalysisConfig {
            azimuth_step_deg: 7.0,
            ..AnalysisConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "azimuth_step_deg");
    }

    #[test]
    fn threshold_forms_parse() {
        #[derive(Deserialize)]
        struct W {
            analysis: AnalysisConfig,
        }
        let w: W = toml::from_str("[analysis]\nthreshold = { fixed = 0.4 }\n").unwrap();
        assert_eq!(w.analysis.threshold, Threshold::Fixed(0.4));
        let w: W = toml::from_str("[analysis]\nthreshold = \"otsu\"\n").unwrap();
        assert_eq!(w.analysis.threshold, Threshold::Otsu);
        assert!(toml::from_str::<W>("[analysis]\nthreshold = \"magic\"\n").is_err());
    }
}
