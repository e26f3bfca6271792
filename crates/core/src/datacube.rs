//! Calibrated 4-D STEM datacubes.

use ndarray::{Array4, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::optics::ProbeOptics;

/// The calibration of a 4-D STEM dataset. Immutable once built: construct it with
/// [`Calibration::new`], which checks every value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    k_pixel_per_nm: f64,
    scan_step_nm: f64,
    center_px: [f64; 2],
    voltage_kv: f64,
    semiangle_mrad: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thickness_nm: Option<f64>,
}

/// A calibration value outside its physical range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("calibration field `{field}` = {value}: expected {expected}")]
#[non_exhaustive]
pub struct CalibrationError {
    /// The offending field.
    pub field: &'static str,
    /// Its value.
    pub value: f64,
    /// What was expected.
    pub expected: &'static str,
}

/// `value` within the physical range of `field` ([`crate::meta::CALIBRATION_RANGES`]).
fn in_physical_range(field: &'static str, value: f64) -> Result<(), CalibrationError> {
    let r = crate::meta::calibration_range(field);
    if value.is_finite() && value >= r.lo && value <= r.hi {
        Ok(())
    } else {
        Err(CalibrationError {
            field,
            value,
            expected: r.expected,
        })
    }
}

impl Calibration {
    /// A checked calibration.
    ///
    /// `center_px` is the pattern centre `[y, x]` in detector pixels; `thickness_nm` is `None`
    /// when the thickness of measured data is unknown.
    pub fn new(
        k_pixel_per_nm: f64,
        scan_step_nm: f64,
        center_px: [f64; 2],
        voltage_kv: f64,
        semiangle_mrad: f64,
        thickness_nm: Option<f64>,
    ) -> Result<Self, CalibrationError> {
        let c = Self {
            k_pixel_per_nm,
            scan_step_nm,
            center_px,
            voltage_kv,
            semiangle_mrad,
            thickness_nm,
        };
        c.validate()?;
        Ok(c)
    }

    /// Checks every field (also used after deserialising): each number within its physical
    /// range ([`crate::meta::CALIBRATION_RANGES`]), the centre finite.
    pub fn validate(&self) -> Result<(), CalibrationError> {
        in_physical_range("k_pixel_per_nm", self.k_pixel_per_nm)?;
        in_physical_range("scan_step_nm", self.scan_step_nm)?;
        in_physical_range("voltage_kv", self.voltage_kv)?;
        in_physical_range("semiangle_mrad", self.semiangle_mrad)?;
        if let Some(t) = self.thickness_nm {
            in_physical_range("thickness_nm", t)?;
        }
        for (field, v) in [
            ("center_px[0]", self.center_px[0]),
            ("center_px[1]", self.center_px[1]),
        ] {
            if !v.is_finite() {
                return Err(CalibrationError {
                    field,
                    value: v,
                    expected: "a finite pixel coordinate",
                });
            }
        }
        Ok(())
    }

    /// Detector pixel size in nm⁻¹.
    pub fn k_pixel_per_nm(&self) -> f64 {
        self.k_pixel_per_nm
    }
    /// Probe step between scan points in nm.
    pub fn scan_step_nm(&self) -> f64 {
        self.scan_step_nm
    }
    /// Pattern centre `[y, x]` in detector pixels.
    pub fn center_px(&self) -> [f64; 2] {
        self.center_px
    }
    /// Accelerating voltage in kV.
    pub fn voltage_kv(&self) -> f64 {
        self.voltage_kv
    }
    /// Probe convergence semiangle in mrad.
    pub fn semiangle_mrad(&self) -> f64 {
        self.semiangle_mrad
    }
    /// Sample thickness in nm, if known.
    pub fn thickness_nm(&self) -> Option<f64> {
        self.thickness_nm
    }
    /// The probe optics implied by voltage and semiangle.
    pub fn probe(&self) -> ProbeOptics {
        ProbeOptics {
            voltage_kv: self.voltage_kv,
            semiangle_mrad: self.semiangle_mrad,
        }
    }
    /// The same calibration with another centre (e.g. one refined from the data).
    pub fn with_center_px(&self, center_px: [f64; 2]) -> Result<Self, CalibrationError> {
        Self::new(
            self.k_pixel_per_nm,
            self.scan_step_nm,
            center_px,
            self.voltage_kv,
            self.semiangle_mrad,
            self.thickness_nm,
        )
    }
    /// The same calibration with another thickness.
    pub fn with_thickness_nm(&self, thickness_nm: Option<f64>) -> Result<Self, CalibrationError> {
        Self::new(
            self.k_pixel_per_nm,
            self.scan_step_nm,
            self.center_px,
            self.voltage_kv,
            self.semiangle_mrad,
            thickness_nm,
        )
    }
    /// Reciprocal coordinates `(k_x, k_y)` in nm⁻¹ of detector pixel `(i, j)` = `(det_y, det_x)`.
    pub fn k_of_pixel(&self, i: f64, j: f64) -> (f64, f64) {
        (
            (j - self.center_px[1]) * self.k_pixel_per_nm,
            (i - self.center_px[0]) * self.k_pixel_per_nm,
        )
    }
}

/// A 4-D STEM dataset in memory: `[scan_y, scan_x, det_y, det_x]` `f32` counts plus calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Datacube {
    data: Array4<f32>,
    calibration: Calibration,
}

impl Datacube {
    /// Wraps `data` with its calibration.
    pub fn new(data: Array4<f32>, calibration: Calibration) -> Self {
        Self { data, calibration }
    }
    /// The counts, `[scan_y, scan_x, det_y, det_x]`.
    pub fn data(&self) -> &Array4<f32> {
        &self.data
    }
    /// The calibration.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }
    /// `[scan_y, scan_x]`.
    pub fn scan_shape(&self) -> [usize; 2] {
        let s = self.data.shape();
        [s[0], s[1]]
    }
    /// `[det_y, det_x]`.
    pub fn detector_shape(&self) -> [usize; 2] {
        let s = self.data.shape();
        [s[2], s[3]]
    }
    /// The pattern recorded at scan point `(y, x)`.
    ///
    /// # Panics
    /// If `(y, x)` lies outside the scan.
    pub fn pattern(&self, y: usize, x: usize) -> ArrayView2<'_, f32> {
        self.data.slice(ndarray::s![y, x, .., ..])
    }
    /// Splits into data and calibration.
    pub fn into_parts(self) -> (Array4<f32>, Calibration) {
        (self.data, self.calibration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unphysical_values() {
        let e = Calibration::new(-0.16, 0.32, [64.0, 64.0], 300.0, 1.15, None).unwrap_err();
        assert_eq!(e.field, "k_pixel_per_nm");
        let e = Calibration::new(0.16, 0.32, [f64::NAN, 64.0], 300.0, 1.15, None).unwrap_err();
        assert_eq!(e.field, "center_px[0]");
        let e = Calibration::new(0.16, 0.32, [64.0, 64.0], 300.0, 1.15, Some(0.0)).unwrap_err();
        assert_eq!(e.field, "thickness_nm");
    }

    #[test]
    fn pixel_to_k_uses_calibrated_centre() {
        let c = Calibration::new(0.16, 0.32, [60.0, 70.0], 300.0, 1.15, Some(20.0)).unwrap();
        let (kx, ky) = c.k_of_pixel(60.0, 80.0);
        assert!((kx - 1.6).abs() < 1e-12 && ky.abs() < 1e-12);
        let (kx, ky) = c.k_of_pixel(35.0, 70.0);
        assert!(kx.abs() < 1e-12 && (ky + 4.0).abs() < 1e-12);
    }
}
