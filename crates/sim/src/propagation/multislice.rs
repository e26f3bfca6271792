//! Multislice: plural scattering with Fresnel propagation between slices.

use std::sync::Arc;

use rustfft::num_complex::Complex32;

use super::{check_call, multiply_complex, DiffractionPlan, Propagation, Scratch, WindowPlacement};
use crate::fft2::transpose;
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
        p.probe_wave(at.center_nm, 0.0, s);
        let last = t.len() - 1;
        for (i, slice) in t.iter().enumerate() {
            multiply_complex(&mut s.a, n, slice, stride, at);
            if i == last {
                break;
            }
            p.fft.forward_rows(&mut s.a, 0..n, &mut s.fft);
            transpose(&s.a, &mut s.b, n);
            let [r0, r1] = &p.band_rows;
            for r in [r0, r1] {
                p.fft.forward_rows(&mut s.b, r.clone(), &mut s.fft);
                for (c, w) in s.b[r.start * n..r.end * n]
                    .iter_mut()
                    .zip(&p.propagator[r.start * n..r.end * n])
                {
                    *c *= w;
                }
                p.fft.inverse_rows(&mut s.b, r.clone(), &mut s.fft);
            }
            s.b[r0.end * n..r1.start * n].fill(Complex32::default());
            transpose(&s.b, &mut s.a, n);
            p.fft.inverse_rows(&mut s.a, 0..n, &mut s.fft);
        }
        p.forward_detector_rows(s);
        let norm = 1.0 / (n * n) as f64;
        for (o, &idx) in s.samples.iter_mut().zip(&p.sampling.index) {
            *o = f64::from(s.b[idx].norm_sqr()) * norm;
        }
        s.bin_samples(p, out);
    }
}
