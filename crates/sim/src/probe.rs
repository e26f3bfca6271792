//! The illuminating probe: an aperture-limited wave with defocus and spherical aberration.
//!
//! In reciprocal space Ψ₀(k) = A(k)·exp(−iχ(k)) with the hard aperture A(k) = 1 for
//! λ|k| ≤ α and the aberration function χ(k) = πλk²(½C_sλ²k² − Δf) (Kirkland's convention:
//! positive Δf is underfocus; propagating the wave by z multiplies by exp(−iπλk²z), i.e.
//! lowers Δf by z). A probe centred at c inside a window gets the phase ramp exp(−2πik·c), so
//! any sub-pixel position is exact. Spectra are normalised so Σ_k|Ψ₀(k)|² = 1 on the window's
//! FFT grid.
//!
//! On that grid A(k) is by default the cell average of the disk (`[model] aperture_sampling =
//! "area"`): a pixel on the aperture's edge gets the share of its cell inside. This is the round
//! aperture convolved with one reciprocal pixel, i.e. the continuous probe times
//! sinc(x/L)·sinc(y/L) in the window of side L: its tails are tapered towards the window's edge,
//! where the periodic window would fold them back, and the disk keeps its area on every grid.
//! Renormalised to unit flux, the tapered probe's peak intensity |Σ_kΨ₀|² = (Σw)²/Σw² (w the
//! weights) lies above the round aperture's π(α/λ)² by the tail it lost: +8.0, +5.2, +3.3, +2.0 %
//! at m = 1, 2, 3, 4 on the paper detector, falling steadily with the window; a point-sampled
//! disk counts lattice points instead and jumps (+7.5, +5.7, −1.0, +0.45 %). abTEM's `soft`
//! aperture smooths the edge over about a pixel for a similar reason (Madsen & Susi, Open Res.
//! Europe 1:24, 2021). Measured in `reports/convergence.md`: doubling the window moves the
//! patterns at Pearson 0.990 (m = 1 → 2) and 0.9986 (2 → 4) with area sampling, 0.948 and 0.995
//! with point sampling.

use mro_core::optics::wavelength_nm;
use mro_core::units::RAD_PER_MRAD;
use std::f64::consts::PI;

use crate::spec::{ApertureSampling, MicroscopeSpec};

/// Probe optics in internal units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeSpec {
    /// Wavelength λ in nm.
    pub wavelength_nm: f64,
    /// Aperture radius α/λ in nm⁻¹.
    pub aperture_per_nm: f64,
    /// Defocus Δf in nm (positive = underfocus).
    pub defocus_nm: f64,
    /// Spherical aberration C_s in nm.
    pub cs_nm: f64,
}

impl ProbeSpec {
    /// From the scenario's microscope section.
    pub fn from_microscope(m: &MicroscopeSpec) -> Self {
        let lambda = wavelength_nm(m.voltage_kv);
        Self {
            wavelength_nm: lambda,
            aperture_per_nm: m.semiangle_mrad * RAD_PER_MRAD / lambda,
            defocus_nm: m.defocus_nm,
            cs_nm: m.cs_mm * 1e6,
        }
    }

    /// Whether the probe is aberration-free (then it is real in real space and kinematic
    /// patterns are exactly centrosymmetric outside the bright-field disk).
    pub fn is_aberration_free(&self) -> bool {
        self.defocus_nm == 0.0 && self.cs_nm == 0.0
    }

    /// χ(k) in rad at |k|² = `k2_per_nm2`, for a probe propagated `depth_nm` into the foil.
    pub fn chi_rad(&self, k2_per_nm2: f64, depth_nm: f64) -> f64 {
        let l = self.wavelength_nm;
        PI * l * k2_per_nm2 * (0.5 * self.cs_nm * l * l * k2_per_nm2 - (self.defocus_nm - depth_nm))
    }
}

/// The probe's nonzero spectrum on a window's FFT grid: one entry per pixel inside the aperture.
#[derive(Debug, Clone)]
pub struct ProbeSpectrum {
    /// `(kx index, ky index, kx nm⁻¹, ky nm⁻¹, |k|² nm⁻²)` per aperture pixel.
    pub pixels: Vec<(usize, usize, f64, f64, f64)>,
    /// Share of each pixel's cell inside the aperture disk (the aperture's amplitude there).
    pub weights: Vec<f64>,
    /// Amplitude normalising Σ|Ψ₀|² to 1.
    pub amplitude: f64,
    /// The optics.
    pub spec: ProbeSpec,
}

impl ProbeSpectrum {
    /// The aperture pixels of an n×n window with reciprocal pixel `dk_per_nm`, the disk
    /// sampled as `sampling` says.
    ///
    /// # Panics
    /// If no pixel lies inside the aperture.
    pub fn new(spec: ProbeSpec, n: usize, dk_per_nm: f64, sampling: ApertureSampling) -> Self {
        let signed = |i: usize| {
            if i < n.div_ceil(2) {
                i as f64
            } else {
                i as f64 - n as f64
            }
        };
        let a = spec.aperture_per_nm;
        let reach = a + dk_per_nm;
        let mut pixels = Vec::new();
        let mut weights = Vec::new();
        for ix in 0..n {
            for iy in 0..n {
                let (kx, ky) = (signed(ix) * dk_per_nm, signed(iy) * dk_per_nm);
                let k2 = kx * kx + ky * ky;
                if k2 > reach * reach {
                    continue;
                }
                let w = match sampling {
                    ApertureSampling::Area => cell_inside_disk(kx, ky, dk_per_nm, a),
                    ApertureSampling::Point => f64::from(u8::from(k2 <= a * a)),
                };
                if w > 0.0 {
                    pixels.push((ix, iy, kx, ky, k2));
                    weights.push(w);
                }
            }
        }
        assert!(
            !pixels.is_empty(),
            "aperture smaller than one reciprocal pixel"
        );
        let amplitude = 1.0 / weights.iter().map(|w| w * w).sum::<f64>().sqrt();
        Self {
            pixels,
            weights,
            amplitude,
            spec,
        }
    }

    /// Ψ₀(k) for a probe centred at `center_nm` (`[y, x]` in the window) and propagated
    /// `depth_nm` into the foil, as `(transposed index kx·n + ky, value)`.
    pub fn values(
        &self,
        n: usize,
        center_nm: [f64; 2],
        depth_nm: f64,
    ) -> impl Iterator<Item = (usize, [f64; 2])> + '_ {
        self.pixels
            .iter()
            .zip(&self.weights)
            .map(move |(&(ix, iy, kx, ky, k2), &w)| {
                let phase = -self.spec.chi_rad(k2, depth_nm)
                    - 2.0 * PI * (kx * center_nm[1] + ky * center_nm[0]);
                let amp = self.amplitude * w;
                (ix * n + iy, [amp * phase.cos(), amp * phase.sin()])
            })
    }

    /// Indices (kx) of the transposed-spectrum rows the aperture touches, as a sorted list.
    pub fn kx_rows(&self) -> Vec<usize> {
        let mut r: Vec<usize> = self.pixels.iter().map(|p| p.0).collect();
        r.sort_unstable();
        r.dedup();
        r
    }
}

/// Share of the square cell of side `dk` centred at (kx, ky) inside the disk |k| ≤ `a`, by a
/// 32 × 32 midpoint grid (exact 0 and 1 for cells wholly outside or inside).
fn cell_inside_disk(kx: f64, ky: f64, dk: f64, a: f64) -> f64 {
    let h = 0.5 * std::f64::consts::SQRT_2 * dk;
    let r = kx.hypot(ky);
    if r + h <= a {
        return 1.0;
    }
    if r - h >= a {
        return 0.0;
    }
    const S: usize = 32;
    let mut inside = 0usize;
    for i in 0..S {
        for j in 0..S {
            let y = ky + dk * ((i as f64 + 0.5) / S as f64 - 0.5);
            let x = kx + dk * ((j as f64 + 0.5) / S as f64 - 0.5);
            if x * x + y * y <= a * a {
                inside += 1;
            }
        }
    }
    inside as f64 / (S * S) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_sampled_aperture_has_the_disk_area_at_any_sampling() {
        let spec = ProbeSpec::from_microscope(&MicroscopeSpec::default());
        let a = spec.aperture_per_nm;
        for dk in [0.16, 0.08, 0.16 / 3.0, 0.04, 0.02] {
            let area = |s| {
                let p = ProbeSpectrum::new(spec, 512, dk, s);
                p.weights.iter().sum::<f64>() * dk * dk / (std::f64::consts::PI * a * a)
            };
            // The 32 × 32 sub-grid resolves each edge cell to ~10⁻³ of a cell.
            let exact = area(ApertureSampling::Area);
            assert!((exact - 1.0).abs() < 2e-3, "Δk = {dk}: {exact}");
            // Point sampling counts lattice points: 45 at 0.16 nm⁻¹ (+7.5 %).
            if dk == 0.16 {
                assert!((area(ApertureSampling::Point) - 1.0752).abs() < 1e-3);
            }
        }
    }
}
