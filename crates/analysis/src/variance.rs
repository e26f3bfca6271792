//! Fluctuation variance V(k) from the per-pattern ring statistics.
//!
//! With `A` the area-weighted annular mean of one pattern at ring k and ⟨⟩_r the average over
//! scan positions:
//!
//! - **V_Ω(k)** (variance of the annular mean) = `⟨A²⟩_r/⟨A⟩_r² − 1 − g/(n_eff·⟨A⟩_r)`. The last
//!   term is the Poisson correction `g/⟨S⟩` of physics.md §5 written per pixel: `S = n_eff·A` is
//!   the ring sum, `g` the gain in counts per electron and `n_eff = (Σu)²/Σu²` the effective
//!   number of pixels in the ring (`u` the pixel weights of the polar plan; the pixel count when
//!   every pixel lies wholly in the ring).
//! - **V_r(k)** (mean ring variance) = `⟨v⟩_r`, `v` the Poisson-corrected normalised variance of
//!   the azimuthal bins of one pattern (see [`crate::accumulator`]).
//!
//! Sums run over scan positions in scan order, in f64.

use crate::accumulator::PartialStats;

/// V_Ω and V_r per ring (all rings of the plan, including the analysis ring last).
#[derive(Debug, Clone, PartialEq)]
pub struct VarianceCurves {
    /// V_Ω per ring.
    pub v_omega: Vec<f64>,
    /// V_r per ring.
    pub v_r: Vec<f64>,
    /// Dataset mean of the annular mean per ring (counts per pixel).
    pub mean_intensity: Vec<f64>,
}

/// Computes V_Ω and V_r from per-pattern statistics. `ring_neff` comes from the polar plan.
pub fn variance_curves(stats: &PartialStats, ring_neff: &[f64], gain: f64) -> VarianceCurves {
    let r = stats.n_rings();
    let n = stats.len() as f64;
    let mut s1 = vec![0.0f64; r];
    let mut s2 = vec![0.0f64; r];
    let mut sv = vec![0.0f64; r];
    for p in 0..stats.len() {
        for k in 0..r {
            let a = stats.annular_mean[p * r + k];
            s1[k] += a;
            s2[k] += a * a;
            sv[k] += stats.ring_variance[p * r + k];
        }
    }
    let mut v_omega = Vec::with_capacity(r);
    let mut mean_intensity = Vec::with_capacity(r);
    for k in 0..r {
        let m = s1[k] / n;
        mean_intensity.push(m);
        v_omega.push(if m != 0.0 {
            (s2[k] / n) / (m * m) - 1.0 - gain / (ring_neff[k] * m)
        } else {
            0.0
        });
    }
    VarianceCurves {
        v_omega,
        v_r: sv.iter().map(|s| s / n).collect(),
        mean_intensity,
    }
}

/// Position of the maximum of `y(x)`, refined by a parabola through the three points around it
/// (not refined at the ends). `None` for an empty or all-NaN curve.
pub fn peak_position(x: &[f64], y: &[f64]) -> Option<f64> {
    let (i, _) = y
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    if i == 0 || i + 1 >= y.len() {
        return Some(x[i]);
    }
    let (a, b, c) = (y[i - 1], y[i], y[i + 1]);
    let den = a - 2.0 * b + c;
    let off = if den != 0.0 {
        (0.5 * (a - c) / den).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    let dx = if off >= 0.0 {
        x[i + 1] - x[i]
    } else {
        x[i] - x[i - 1]
    };
    Some(x[i] + off * dx)
}
