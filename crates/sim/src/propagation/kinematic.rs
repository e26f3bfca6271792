//! Projected weak-phase single scattering.

use std::sync::Arc;

use rustfft::num_complex::Complex64;

use super::{check_call, multiply_real, DiffractionPlan, Propagation, Scratch, WindowPlacement};
use crate::potential::{Field, FieldKind, SliceData};

/// Kinematic model: Ψ(k) = √(1 − P_s)·Ψ₀(k) + iσ·FT{ψ₀·v_proj}(k), the first-order expansion of
/// ψ₀·exp(iσv_proj) for the potential projected through the whole foil, with the direct beam
/// depleted by the scattered power P_s so the pattern conserves flux.
///
/// For an aberration-free probe ψ₀ is real, so FT[ψ₀·v] is Hermitian and the pattern is exactly
/// centrosymmetric outside the bright-field disk (where Ψ₀ = 0): odd angular harmonics vanish.
#[derive(Debug, Clone)]
pub struct Kinematic {
    plan: Arc<DiffractionPlan>,
}

impl Kinematic {
    /// The model on `plan`.
    pub fn new(plan: Arc<DiffractionPlan>) -> Self {
        Self { plan }
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
        p.probe_wave(at.center_nm, 0.0, s);
        multiply_real(&mut s.a, n, &v[0], field.grid.points[1], at);
        p.forward_detector_rows(s);
        let scale = p.sigma_rad_per_v_nm / n as f64;
        for (acc, &idx) in s.acc.iter_mut().zip(&p.det_index) {
            let b = s.b[idx];
            // i·σ·B/n
            *acc = Complex64::new(-f64::from(b.im) * scale, f64::from(b.re) * scale);
        }
        p.add_depleted_probe_spectrum(at.center_nm, &mut s.acc);
        for (o, a) in out.iter_mut().zip(&s.acc) {
            *o = a.norm_sqr();
        }
    }
}
