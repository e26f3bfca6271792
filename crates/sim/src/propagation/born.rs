//! First Born approximation summed over slices with the Ewald-sphere depth phase.

use std::sync::Arc;

use rustfft::num_complex::{Complex32, Complex64};

use super::{
    check_call, lane_sum, multiply_fluctuation_rows, window_mean, DiffractionPlan, Propagation,
    Scratch, WindowPlacement, ROWS_PER_CHUNK,
};
use crate::fft2::transpose;
use crate::potential::{Field, FieldKind, SliceData};

/// The incident probe is re-propagated to the middle of each block of slices at most this
/// thick: the phase error at the aperture edge is πλ(α/λ)²·2.5 nm ≈ 0.005 rad at 300 kV,
/// 1.15 mrad.
pub const PROBE_REFRESH_NM: f64 = 5.0;

/// First-Born model: Ψ(k) = e^{−P_s/2}·Ψ₀(k) + b·iσ Σ_n e^{+iπλk²z_n}·FT{ψ₀(z_n)·(v_n − v̄_n)}(k),
/// slices n at centre depths z_n, each slice's window mean v̄_n (its share of the mean inner
/// potential, a pure phase) taken out, the flux shared between beam and scattered wave by
/// [`super::beam_depletion`] (first-order power P_s, factor b), and the incident probe ψ₀(z)
/// propagated into the foil (refreshed every
/// [`PROBE_REFRESH_NM`]). With `absorb_beyond_band_limit` P_s also holds the power scattered
/// beyond the band limit, σ²·κ·Σ_n v̄_n ([`Field::beyond_band_v_nm`], as in
/// [`super::Kinematic`]). The sum over slices uses Horner's rule with the per-slice phase
/// e^{iπλk²Δz}. The depth phase is even in k while the in-plane phase is odd, so Friedel's law
/// breaks as the foil thickens (physics.md §3).
#[derive(Debug, Clone)]
pub struct Born {
    plan: Arc<DiffractionPlan>,
    absorb: bool,
}

impl Born {
    /// The model on `plan`; `absorb` depletes the beam by the scattering beyond the band limit.
    pub fn new(plan: Arc<DiffractionPlan>, absorb: bool) -> Self {
        Self { plan, absorb }
    }
}

impl Propagation for Born {
    fn field_kind(&self) -> FieldKind {
        FieldKind::SlicePotentials
    }

    fn plan(&self) -> &DiffractionPlan {
        &self.plan
    }

    fn pattern(&self, field: &Field, at: WindowPlacement, s: &mut Scratch, out: &mut [f64]) {
        let p = &*self.plan;
        let n = p.n;
        check_call(p, field, at, p.slicing.count, out);
        let SliceData::Potential(v) = &field.slices else {
            panic!("Born model needs slice potentials")
        };
        let stride = field.grid.points[1];
        let dz = p.slicing.slice_nm;
        let per_block = ((PROBE_REFRESH_NM / dz).floor() as usize).max(1);
        let chunk = ROWS_PER_CHUNK * n;
        debug_assert_eq!(p.born_step_t.len(), n * n, "a plan made for the Born model");
        let blocks = v.len().div_ceil(per_block);
        // Horner accumulator over the whole transposed spectrum (in `s.d`): the scattered power
        // that depletes the beam includes what lands beyond the detector.
        s.d.fill(Complex32::default());
        // Σ_n v̄_n: the window's mean projected potential through the foil.
        let mut mean_total = 0.0;
        for blk in (0..blocks).rev() {
            let (b0, b1) = (blk * per_block, ((blk + 1) * per_block).min(v.len()));
            let depth = 0.5 * (b0 + b1) as f64 * dz;
            p.probe_wave(at.center_nm, depth, s);
            std::mem::swap(&mut s.a, &mut s.c);
            for slice in v[b0..b1].iter().rev() {
                // ψ₀·(v − v̄) transformed along x, then along y with the Horner step, a chunk
                // of rows at a time while it is in cache.
                let mean = window_mean(n, slice, stride, at);
                mean_total += f64::from(mean);
                for (c, (rows, probe)) in s.a.chunks_mut(chunk).zip(s.c.chunks(chunk)).enumerate() {
                    rows.copy_from_slice(probe);
                    multiply_fluctuation_rows(rows, n, slice, stride, at, c * ROWS_PER_CHUNK, mean);
                    p.fft.forward_rows(rows, 0..rows.len() / n, &mut s.fft);
                }
                transpose(&s.a, &mut s.b, n);
                for ((rows, acc), step) in
                    s.b.chunks_mut(chunk)
                        .zip(s.d.chunks_mut(chunk))
                        .zip(p.born_step_t.chunks(chunk))
                {
                    p.fft.forward_rows(rows, 0..rows.len() / n, &mut s.fft);
                    for ((acc, b), w) in acc.iter_mut().zip(rows.iter()).zip(step) {
                        *acc = *acc * w + b;
                    }
                }
            }
        }
        let scale = p.sigma_rad_per_v_nm / n as f64;
        // The half-step depth phase has unit modulus: P_s = scale²·Σ|d|².
        let sigma = p.sigma_rad_per_v_nm;
        let beyond = if self.absorb {
            sigma * sigma * field.beyond_band_v_nm * mean_total
        } else {
            0.0
        };
        let scattered = scale * scale * lane_sum(&s.d, |d| f64::from(d.norm_sqr())) + beyond;
        for ((acc, h), &idx) in s
            .acc
            .iter_mut()
            .zip(&p.born_half_step)
            .zip(&p.sampling.index)
        {
            let d = s.d[idx];
            let a = Complex64::new(f64::from(d.re), f64::from(d.im)) * h * scale;
            *acc = Complex64::new(-a.im, a.re);
        }
        p.add_depleted_probe_spectrum(at.center_nm, scattered, &mut s.acc);
        s.samples_from_amplitudes();
        s.bin_samples(p, out);
    }
}
