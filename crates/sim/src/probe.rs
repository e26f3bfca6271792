//! The illuminating probe: an aperture-limited wave with defocus and spherical aberration.
//!
//! In reciprocal space Ψ₀(k) = A(k)·exp(−iχ(k)) with the hard aperture A(k) = 1 for
//! λ|k| ≤ α and the aberration function χ(k) = πλk²(½C_sλ²k² − Δf) (Kirkland's convention:
//! positive Δf is underfocus; propagating the wave by z multiplies by exp(−iπλk²z), i.e.
//! lowers Δf by z). A probe centred at c inside a window gets the phase ramp exp(−2πik·c), so
//! any sub-pixel position is exact. Spectra are normalised so Σ_k|Ψ₀(k)|² = 1 on the window's
//! FFT grid.

use mro_core::optics::wavelength_nm;
use mro_core::units::RAD_PER_MRAD;
use std::f64::consts::PI;

use crate::spec::MicroscopeSpec;

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
    /// Amplitude normalising Σ|Ψ₀|² to 1.
    pub amplitude: f64,
    /// The optics.
    pub spec: ProbeSpec,
}

impl ProbeSpectrum {
    /// The aperture pixels of an n×n window with reciprocal pixel `dk_per_nm`.
    ///
    /// # Panics
    /// If no pixel lies inside the aperture.
    pub fn new(spec: ProbeSpec, n: usize, dk_per_nm: f64) -> Self {
        let signed = |i: usize| {
            if i < n.div_ceil(2) {
                i as f64
            } else {
                i as f64 - n as f64
            }
        };
        let mut pixels = Vec::new();
        for ix in 0..n {
            for iy in 0..n {
                let (kx, ky) = (signed(ix) * dk_per_nm, signed(iy) * dk_per_nm);
                let k2 = kx * kx + ky * ky;
                if k2 <= spec.aperture_per_nm * spec.aperture_per_nm {
                    pixels.push((ix, iy, kx, ky, k2));
                }
            }
        }
        assert!(
            !pixels.is_empty(),
            "aperture smaller than one reciprocal pixel"
        );
        let amplitude = 1.0 / (pixels.len() as f64).sqrt();
        Self {
            pixels,
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
        self.pixels.iter().map(move |&(ix, iy, kx, ky, k2)| {
            let phase = -self.spec.chi_rad(k2, depth_nm)
                - 2.0 * PI * (kx * center_nm[1] + ky * center_nm[0]);
            (
                ix * n + iy,
                [self.amplitude * phase.cos(), self.amplitude * phase.sin()],
            )
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
