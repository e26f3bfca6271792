//! Projected weak-phase single scattering.

use std::sync::Arc;

use rustfft::num_complex::Complex64;

use super::{
    check_call, lane_sum, multiply_fluctuation_rows, window_mean, DiffractionPlan, Propagation,
    Scratch, WindowPlacement,
};
use crate::potential::{Field, FieldKind, SliceData};

/// Kinematic model: Ψ(k) = e^{−P_s/2}·Ψ₀(k) + b·iσ·FT{ψ₀·(v_proj − v̄)}(k), the first-order
/// expansion of ψ₀·exp(iσv_proj) for the potential projected through the whole foil. The
/// window's mean projected potential v̄ (mean inner potential × thickness) is a pure phase and
/// is taken out before expanding; the flux is shared between the direct beam and the scattered
/// wave (first-order power P_s, factor b) by [`super::beam_depletion`], so the pattern total is
/// the incident intensity at any thickness. With `absorb_beyond_band_limit` P_s also holds
/// what the atoms scatter beyond the band limit, P_b = σ²·κ·v̄ ([`Field::beyond_band_v_nm`]):
/// that flux leaves the band (the pattern total falls by it), and the direct beam and the
/// in-band waves are what a wider band would give them.
///
/// For an aberration-free probe ψ₀ is real, so FT[ψ₀·v] is Hermitian and the pattern is exactly
/// centrosymmetric outside the bright-field disk (where Ψ₀ = 0): odd angular harmonics vanish.
#[derive(Debug, Clone)]
pub struct Kinematic {
    plan: Arc<DiffractionPlan>,
    absorb: bool,
}

impl Kinematic {
    /// The model on `plan`; `absorb` depletes the beam by the scattering beyond the band limit.
    pub fn new(plan: Arc<DiffractionPlan>, absorb: bool) -> Self {
        Self { plan, absorb }
    }
}

impl Propagation for Kinematic {
    fn field_kind(&self) -> FieldKind {
        FieldKind::Projected
    }

    fn plan(&self) -> &DiffractionPlan {
        &self.plan
    }

    fn pattern(&self, field: &Field, at: WindowPlacement, s: &mut Scratch, out: &mut [f64]) {
        let p = &*self.plan;
        let n = p.n;
        check_call(p, field, at, 1, out);
        let SliceData::Potential(v) = &field.slices else {
            panic!("kinematic model needs a projected potential")
        };
        let stride = field.grid.points[1];
        let mean = window_mean(n, &v[0], stride, at);
        // ψ₀·(v − v̄), a chunk of rows at a time while it is in cache: its power (the
        // scattered power over the whole band by Parseval, Σ_k|σ·DFT(a)/n|² = σ²·Σ_r|a|²) and
        // its transform along x.
        let mut power = 0.0;
        p.probe_wave_then(at.center_nm, 0.0, s, |first_row, rows, fft| {
            multiply_fluctuation_rows(rows, n, &v[0], stride, at, first_row, mean);
            power += lane_sum(rows, |c| f64::from(c.norm_sqr()));
            p.fft.forward_rows(rows, 0..rows.len() / n, fft);
        });
        let sigma = p.sigma_rad_per_v_nm;
        let beyond = if self.absorb {
            field.beyond_band_v_nm * f64::from(mean)
        } else {
            0.0
        };
        let scattered = sigma * sigma * (power + beyond);
        p.detector_columns(s);
        let scale = p.sigma_rad_per_v_nm / n as f64;
        for (acc, &idx) in s.acc.iter_mut().zip(&p.sampling.index) {
            let b = s.b[idx];
            // i·σ·B/n
            *acc = Complex64::new(-f64::from(b.im) * scale, f64::from(b.re) * scale);
        }
        p.add_depleted_probe_spectrum(at.center_nm, scattered, &mut s.acc);
        s.samples_from_amplitudes();
        s.bin_samples(p, out);
    }
}
