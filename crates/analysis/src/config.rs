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
        positive_up_to("in_condition_fraction", self.in_condition_fraction, 1.0, "")
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
