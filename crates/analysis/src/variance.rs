//! Fluctuation variance V(k) from the per-pattern ring statistics, with the exact shot-noise
//! correction of each form.
//!
//! With `A` the area-weighted annular mean of one pattern at ring k, `J_b` its azimuthal bins and
//! ⟨⟩_r the average over scan positions (the FEM forms of physics.md §5, after Voyles & Muller,
//! Ultramicroscopy 93 (2002), and Daulton, Bondi & Kelton, Ultramicroscopy 110 (2010)):
//!
//! - **V_Ω(k)** (variance of the annular mean) `= (⟨A²⟩_r − ⟨ν⟩_r)/⟨A⟩_r² − 1`,
//!   `ν = g Σ_p U_p² I_p`. Derivation: `A = Σ_p U_p I_p` with `U_p` the pixel's share of the ring
//!   area; with counts `I_p = g·N_p`, `N_p` Poisson and the pixels independent,
//!   `E[A²] = (E A)² + g Σ_p U_p² E[I_p]`, and `ν` taken from the same pattern's counts has
//!   exactly that expectation. This is physics.md §5's `g/⟨S⟩` taken per pixel: for a uniform
//!   ring `ν/⟨A⟩² = g/(n_eff ⟨A⟩)` with `n_eff = (Σu)²/Σu²`, the correction used before, which on
//!   a steep ring profile (pixels of one ring with different means) was wrong.
//! - **V_r(k)** (mean ring variance) `= ⟨v⟩_r` over the patterns where `v` is defined,
//!   `v = (s² − g Σ_p c_p I_p)/⟨J⟩_φ²`, `s²` the sample variance of the `N` bins with area and
//!   `c_p = (Σ_b W_pb² − (Σ_b W_pb)²/N)/N` (`W_pb` the bin weights): `E[J_b J_b'] =
//!   E J_b E J_b' + g Σ_p W_pb W_pb' E[I_p]` gives `E[s²] = s²(E J) + g Σ_p c_p E[I_p]`, each bin
//!   with its own noise variance and shared pixels' covariance included (see
//!   [`crate::accumulator`]).
//!
//! Both numerators are unbiased for any intensity profile across the ring. What remains is the
//! noise of the denominators: `⟨A⟩_r` averages the whole scan (negligible), but `⟨J⟩_φ` is one
//! pattern's, which biases each `v` by about `3g/C` relative (`C` the counts on the ring; 1 % at
//! 300 counts). The coefficients are planned once with the polar plan and summed in the same
//! gather as the bins ([`crate::polar::PolarPlan::apply_with_noise`]), as the `mro` method does
//! per pixel for P_n ([`crate::ring_fourier`]).
//!
//! # Undefined values
//! A ring whose dataset-mean intensity is at most 0, or below [`MIN_ELECTRONS_PER_PIXEL`]
//! electrons per pixel (`⟨A⟩_r/g`, only with a gain), gives `None` with the reason, never a
//! number: shot noise there exceeds any structural signal by orders of magnitude and the
//! correction, itself a noisy estimate, dominates the result (V_Ω of −889 was seen). V_r is also
//! `None` when no pattern has a defined `v`.
//!
//! Sums run over scan positions in scan order, in f64.

use crate::accumulator::PartialStats;

/// The lowest dataset-mean ring intensity, in electrons per pixel (counts per pixel over the
/// gain), for which V(k) is reported.
pub const MIN_ELECTRONS_PER_PIXEL: f64 = 0.01;

/// V_Ω and V_r per ring (all rings of the plan, including the analysis ring last).
#[derive(Debug, Clone, PartialEq)]
pub struct VarianceCurves {
    /// V_Ω per ring; `None` where undefined (the reason in `reasons`).
    pub v_omega: Vec<Option<f64>>,
    /// V_r per ring; `None` where undefined.
    pub v_r: Vec<Option<f64>>,
    /// Dataset mean of the annular mean per ring (counts per pixel).
    pub mean_intensity: Vec<f64>,
    /// Why a ring's V_Ω is undefined, per ring (`None` where it is defined).
    pub v_omega_reason: Vec<Option<String>>,
    /// Why a ring's V_r is undefined, per ring.
    pub v_r_reason: Vec<Option<String>>,
}

/// Sums over a set of patterns, per ring, from which V_Ω and V_r follow.
#[derive(Debug, Clone)]
struct Sums {
    /// Patterns summed.
    n: usize,
    /// Σ A, Σ A², Σ ν per ring.
    a: Vec<f64>,
    a2: Vec<f64>,
    nu: Vec<f64>,
    /// Σ v over the patterns where v is defined, and their count, per ring.
    v: Vec<f64>,
    nv: Vec<usize>,
}

impl Sums {
    fn new(rings: usize) -> Self {
        Self {
            n: 0,
            a: vec![0.0; rings],
            a2: vec![0.0; rings],
            nu: vec![0.0; rings],
            v: vec![0.0; rings],
            nv: vec![0; rings],
        }
    }

    /// Adds pattern `p` of `stats`.
    fn add_pattern(&mut self, stats: &PartialStats, p: usize) {
        let r = self.a.len();
        self.n += 1;
        for k in 0..r {
            let a = stats.annular_mean[p * r + k];
            self.a[k] += a;
            self.a2[k] += a * a;
            self.nu[k] += stats.annular_mean_noise[p * r + k];
            let v = stats.ring_variance[p * r + k];
            if v.is_finite() {
                self.v[k] += v;
                self.nv[k] += 1;
            }
        }
    }

    /// Adds another set's sums.
    fn add(&mut self, other: &Self) {
        self.n += other.n;
        for k in 0..self.a.len() {
            self.a[k] += other.a[k];
            self.a2[k] += other.a2[k];
            self.nu[k] += other.nu[k];
            self.v[k] += other.v[k];
            self.nv[k] += other.nv[k];
        }
    }

    fn curves(&self, gain: f64) -> VarianceCurves {
        let r = self.a.len();
        let n = self.n as f64;
        let mut out = VarianceCurves {
            v_omega: Vec::with_capacity(r),
            v_r: Vec::with_capacity(r),
            mean_intensity: Vec::with_capacity(r),
            v_omega_reason: Vec::with_capacity(r),
            v_r_reason: Vec::with_capacity(r),
        };
        for k in 0..r {
            let m = self.a[k] / n;
            out.mean_intensity.push(m);
            let floor = if m.is_nan() || m <= 0.0 {
                Some(format!(
                    "no counts on the ring (dataset-mean intensity {m:.3e} counts per pixel): V is undefined"
                ))
            } else if gain > 0.0 && m / gain < MIN_ELECTRONS_PER_PIXEL {
                Some(format!(
                    "dataset-mean intensity {:.3e} electrons per pixel is below the floor of {MIN_ELECTRONS_PER_PIXEL}: shot noise swamps V",
                    m / gain
                ))
            } else {
                None
            };
            let v_omega = (self.a2[k] / n - self.nu[k] / n) / (m * m) - 1.0;
            let v_r = self.v[k] / self.nv[k] as f64;
            let (vo, vo_why) = match &floor {
                Some(why) => (None, Some(why.clone())),
                None => (Some(v_omega).filter(|v| v.is_finite()), None),
            };
            let (vr, vr_why) = match floor {
                Some(why) => (None, Some(why)),
                None if self.nv[k] == 0 => (
                    None,
                    Some("no pattern has counts on the ring: V_r is undefined".to_string()),
                ),
                None => (Some(v_r), None),
            };
            out.v_omega.push(vo);
            out.v_omega_reason.push(vo_why);
            out.v_r.push(vr);
            out.v_r_reason.push(vr_why);
        }
        out
    }
}

/// Computes V_Ω and V_r from per-pattern statistics with gain `gain` (counts per electron; 0:
/// the statistics carry no shot-noise estimate and no count floor applies).
pub fn variance_curves(stats: &PartialStats, gain: f64) -> VarianceCurves {
    let mut sums = Sums::new(stats.n_rings());
    for p in 0..stats.len() {
        sums.add_pattern(stats, p);
    }
    sums.curves(gain)
}

/// Side of the scan blocks of [`peak_standard_errors`], in scan pixels: wider than the probe
/// and the MRO (≈ 2.5 nm at the paper's 0.32 nm step), so that blocks are nearly independent.
pub const BOOTSTRAP_BLOCK_PX: usize = 8;
/// Bootstrap resamples of [`peak_standard_errors`].
pub const BOOTSTRAP_RESAMPLES: usize = 200;
/// Seed of the bootstrap draws ("VEkpeak" in ASCII): fixed, so reports can quote the errors.
const BOOTSTRAP_SEED: u64 = 0x0056_456b_7065_616b;

/// Standard errors of the V_Ω and V_r peak positions (in the units of `k`) by a block bootstrap
/// over the scan (Künsch 1989; Efron & Tibshirani 1993, §8.6): the scan `[ny, nx]` is cut into
/// [`BOOTSTRAP_BLOCK_PX`]-square blocks, the blocks are drawn with replacement
/// [`BOOTSTRAP_RESAMPLES`] times, and each draw's curves (over the first `k.len()` rings) give a
/// peak; the error is the standard deviation of those peaks. The draws come from a fixed seed,
/// so the result is reproducible. `None` when fewer than 2 blocks or 2 defined peaks, and when
/// the whole scan's maximum (`peaks`: V_Ω's and V_r's, from [`peak_position`]) is not
/// [`inside`] the range: a curve that rises to the edge of the range has no peak whose position
/// could be uncertain (the paper setup's V_Ω falls monotonically; its bootstrap "error" was
/// 3·10⁻¹⁵ nm⁻¹).
pub fn peak_standard_errors(
    stats: &PartialStats,
    scan: [usize; 2],
    gain: f64,
    k: &[f64],
    peaks: [Option<f64>; 2],
) -> (Option<f64>, Option<f64>) {
    use rand::{Rng, SeedableRng};
    let [ny, nx] = scan;
    let (by, bx) = (
        ny.div_ceil(BOOTSTRAP_BLOCK_PX),
        nx.div_ceil(BOOTSTRAP_BLOCK_PX),
    );
    let mut blocks = vec![Sums::new(stats.n_rings()); by * bx];
    for y in 0..ny {
        for x in 0..nx {
            blocks[(y / BOOTSTRAP_BLOCK_PX) * bx + x / BOOTSTRAP_BLOCK_PX]
                .add_pattern(stats, y * nx + x);
        }
    }
    if blocks.len() < 2 {
        return (None, None);
    }
    let [omega_inside, r_inside] = peaks.map(|p| p.is_some_and(|p| inside(k, p)));
    let mut rng = rand::rngs::StdRng::seed_from_u64(BOOTSTRAP_SEED);
    let (mut omega, mut r) = (Vec::new(), Vec::new());
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let mut sums = Sums::new(stats.n_rings());
        for _ in 0..blocks.len() {
            sums.add(&blocks[rng.gen_range(0..blocks.len())]);
        }
        let c = sums.curves(gain);
        omega.extend(peak_position(k, &c.v_omega[..k.len()]));
        r.extend(peak_position(k, &c.v_r[..k.len()]));
    }
    let sd = |v: &[f64]| (v.len() >= 2).then(|| crate::particles::mean_sd(v.iter().copied()).1);
    (
        sd(&omega).filter(|_| omega_inside),
        sd(&r).filter(|_| r_inside),
    )
}

/// Whether a maximum at `p` lies strictly inside the range of `k`, i.e. is a peak rather than
/// the edge of a curve that only rises or falls.
pub fn inside(k: &[f64], p: f64) -> bool {
    p > k[0] && p < k[k.len() - 1]
}

/// Position of the maximum of `y(x)` over its defined (`Some`, finite) values, refined by a
/// parabola through the three points around it (not refined at the ends or next to an undefined
/// value). `None` when no value is defined.
pub fn peak_position(x: &[f64], y: &[Option<f64>]) -> Option<f64> {
    let (i, _) = y
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (i, v)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    if i == 0 || i + 1 >= y.len() {
        return Some(x[i]);
    }
    let (Some(a), Some(b), Some(c)) = (y[i - 1], y[i], y[i + 1]) else {
        return Some(x[i]);
    };
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
