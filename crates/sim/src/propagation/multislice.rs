//! Multislice: plural scattering with Fresnel propagation between slices.

use std::sync::Arc;

use rustfft::num_complex::Complex32;

use super::{
    check_call, multiply_complex_rows, DiffractionPlan, Propagation, Scratch, WindowPlacement,
    ROWS_PER_CHUNK,
};
use crate::fft2::{gather_columns, scatter_columns};
use crate::potential::{Field, FieldKind, SliceData};

/// Multislice model: ψ ← F⁻¹{P(k)·F{t_n·ψ}} slice by slice, with the band-limited
/// transmission t_n = exp(iσv_n − w_n/2) and the Fresnel propagator P(k) = exp(−iπλk²Δz) cut
/// at ⅔·k_Nyquist; the exit wave's |Ψ(k)|² is the pattern. Rows of the spectrum outside the
/// band limit are never transformed. `w_n` removes the flux scattered beyond the band limit
/// ([`crate::potential`]; 0 when `absorb` is off).
#[derive(Debug, Clone)]
pub struct Multislice {
    plan: Arc<DiffractionPlan>,
    absorb: bool,
}

impl Multislice {
    /// The model on `plan`, absorbing the scattering beyond the band limit when `absorb`.
    pub fn new(plan: Arc<DiffractionPlan>, absorb: bool) -> Self {
        Self { plan, absorb }
    }
}

impl Propagation for Multislice {
    fn field_kind(&self) -> FieldKind {
        FieldKind::Transmissions {
            sigma_rad_per_v_nm: self.plan.sigma_rad_per_v_nm,
            absorb_beyond_band_limit: self.absorb,
        }
    }

    fn plan(&self) -> &DiffractionPlan {
        &self.plan
    }

    fn pattern(&self, field: &Field, at: WindowPlacement, s: &mut Scratch, out: &mut [f64]) {
        let p = &*self.plan;
        let n = p.n;
        check_call(p, field, at, p.slicing.count, out);
        let SliceData::Transmission(t) = &field.slices else {
            panic!("multislice model needs transmission functions")
        };
        let stride = field.grid.points[1];
        let [r0, r1] = &p.band_rows;
        let chunk = ROWS_PER_CHUNK * n;
        p.probe_wave(at.center_nm, 0.0, s);
        let last = t.len() - 1;
        for (i, slice) in t.iter().enumerate() {
            // Real space, a few rows at a time while they are in cache: back from the previous
            // slice's half-transformed spectrum `[y][kx]` (zero outside the band), times t_i,
            // and forward along x (at the exit plane too: the detector's k_x rows are then
            // transposed and transformed along y).
            for (c, rows) in s.a.chunks_mut(chunk).enumerate() {
                let count = rows.len() / n;
                if i > 0 {
                    for row in rows.chunks_exact_mut(n) {
                        row[r0.end..r1.start].fill(Complex32::default());
                    }
                    p.fft.inverse_rows(rows, 0..count, &mut s.fft);
                }
                multiply_complex_rows(rows, n, slice, stride, at, c * ROWS_PER_CHUNK);
                p.fft.forward_rows(rows, 0..count, &mut s.fft);
            }
            if i == last {
                break;
            }
            // Along y, only the band's k_x, a strip of columns at a time gathered into rows
            // (`[kx][y]`) while they are in cache: forward, Fresnel propagator, inverse, and
            // back into their columns.
            for r in [r0, r1] {
                for kx0 in r.clone().step_by(ROWS_PER_CHUNK) {
                    let cols = kx0..(kx0 + ROWS_PER_CHUNK).min(r.end);
                    let strip = &mut s.b[..cols.len() * n];
                    gather_columns(&s.a, strip, n, cols.clone());
                    p.fft.forward_rows(strip, 0..cols.len(), &mut s.fft);
                    for (c, w) in strip.iter_mut().zip(&p.propagator[kx0 * n..]) {
                        *c *= w;
                    }
                    p.fft.inverse_rows(strip, 0..cols.len(), &mut s.fft);
                    scatter_columns(strip, &mut s.a, n, cols);
                }
            }
        }
        p.detector_columns(s);
        let norm = 1.0 / (n * n) as f64;
        for (o, &idx) in s.samples.iter_mut().zip(&p.sampling.index) {
            *o = f64::from(s.b[idx].norm_sqr()) * norm;
        }
        s.bin_samples(p, out);
    }
}
