//! Partial coherence of the illumination: incoherent sums over source positions (finite
//! effective source size) and over defocus (focal spread from chromatic aberration and the
//! energy spread of the gun).
//!
//! A real probe is a mixed state. Two independent Gaussian spreads are modelled, each as an
//! incoherent, weighted sum of coherent patterns (Kirkland, *Advanced Computing in Electron
//! Microscopy*, 2nd ed. 2010, §3.3 and §5.3; the same construction as abTEM's
//! `PartialCoherence`/source-size averaging):
//!
//! - **Source size.** The demagnified image of the gun at the specimen is a Gaussian of
//!   full width at half maximum `source_size_nm` (one-axis rms s = FWHM/(2√(2 ln 2))). The
//!   recorded pattern at scan position r is ∫ G_s(δ) I(k; r + δ) d²δ, so every scan image
//!   (any detector pixel as a function of r) is convolved with G_s: its Fourier transform is
//!   multiplied by exp(−2π²s²q²).
//! - **Focal spread.** An energy spread of FWHM ΔE (one-axis rms σ_E = ΔE/(2√(2 ln 2))) through
//!   a lens of chromatic aberration C_c spreads the defocus with rms
//!   Δ = C_c·(σ_E/E)·(1 + E/E₀)/(1 + E/2E₀), E = eV the beam energy and E₀ = m₀c² (the
//!   relativistic factor is d ln V*/d ln V of the relativistic voltage V* = V(1 + eV/2E₀)).
//!   Averaging over a Gaussian defocus damps the interference of two partial waves at k₁, k₂
//!   by exp(−(πλΔ(k₁² − k₂²))²/2) — the temporal-coherence envelope of the contrast transfer
//!   function, exp(−(πλΔk²)²/2) for a beam interfering with the unscattered one.
//!
//! Where the scan tiles the periodic specimen above Nyquist, [`crate::simulate`] applies the
//! source instead as that convolution of the scan images, exactly and almost for free
//! ([`crate::scan_blur`]); the quadrature below is the general way.
//!
//! Both integrals are evaluated with Gauss–Hermite quadrature (a product rule over the two
//! axes for the source). The node count is the fewest for which the quadrature reproduces the
//! Gaussian's characteristic function exp(−t²/2) to [`QUADRATURE_TOLERANCE`] over every t the
//! pattern contains: t ≤ 2π·s·2α/λ for the source (a scan image holds spatial frequencies up to
//! twice the aperture radius) and t ≤ πλΔ(α/λ)² for the defocus (the probe's own partial waves
//! span |k₁² − k₂²| ≤ (α/λ)²). Spreads too small to matter at that tolerance cost nothing: one
//! node at zero offset, the coherent pattern. Spreads wider than [`MAX_NODES`] nodes resolve
//! (t above [`largest_resolved_t`] ≈ 10.35) are refused ([`check_resolved`]), not computed with
//! fewer nodes than the tolerance needs (an earlier cap of 16 nodes, t ≤ 4.66, silently missed
//! the patterns by 2–6 % rms at t ≈ 8, a 50 nm rms focal spread at 10 mrad).

use std::f64::consts::PI;

use std::sync::OnceLock;

use mro_core::optics::wavelength_nm;
use mro_core::units::RAD_PER_MRAD;
use mro_core::InvalidValue;

use crate::spec::MicroscopeSpec;

/// Largest error allowed in the quadrature's characteristic function (relative to the
/// coherent term, 1).
pub const QUADRATURE_TOLERANCE: f64 = 1e-3;

/// Most Gauss–Hermite nodes per axis: enough for the default focal spread at every semiangle
/// up to 30 mrad at 300 kV, or at 20 kV (Δ = 24 nm) up to 30 mrad; a source rule of this
/// many nodes per axis would cost 48² coherent patterns per position.
pub const MAX_NODES: usize = 48;

/// Electron rest energy m₀c² in eV.
const REST_ENERGY_EV: f64 = 510_998.95;

/// FWHM / rms of a Gaussian: 2√(2 ln 2).
pub const FWHM_PER_RMS: f64 = 2.354_820_045_030_949;

/// The incoherent sums that make a partially coherent pattern: defocus offsets and source
/// offsets with their weights. Weights of each list sum to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct PartialCoherence {
    /// `(defocus offset in nm added to the microscope's defocus, weight)`.
    pub defocus: Vec<(f64, f64)>,
    /// `(probe offset [y, x] in nm, weight)`.
    pub source: Vec<([f64; 2], f64)>,
    /// One-axis rms of the source image in nm.
    pub source_rms_nm: f64,
    /// rms focal spread Δ in nm.
    pub focal_spread_rms_nm: f64,
}

impl PartialCoherence {
    /// The sums for the microscope's `source_size_nm`, `cc_mm` and `energy_spread_ev`.
    pub fn from_microscope(m: &MicroscopeSpec) -> Self {
        let s = m.source_size_nm / FWHM_PER_RMS;
        let delta = focal_spread_rms_nm(m.cc_mm, m.energy_spread_ev, m.voltage_kv);
        let [t_source, t_defocus] = spread_extents(m);
        let source_nodes = gauss_hermite_for(t_source);
        let defocus_nodes = gauss_hermite_for(t_defocus);
        let mut source = Vec::with_capacity(source_nodes.len().pow(2));
        for &(y, wy) in &source_nodes {
            for &(x, wx) in &source_nodes {
                source.push(([s * y, s * x], wy * wx));
            }
        }
        Self {
            defocus: defocus_nodes.iter().map(|&(x, w)| (delta * x, w)).collect(),
            source,
            source_rms_nm: s,
            focal_spread_rms_nm: delta,
        }
    }

    /// Whether the pattern is the coherent one (one node in each sum).
    pub fn is_coherent(&self) -> bool {
        self.defocus.len() == 1 && self.source.len() == 1
    }

    /// Largest source offset in nm along either axis (the field must reach this far beyond
    /// every window).
    pub fn max_source_offset_nm(&self) -> f64 {
        self.source
            .iter()
            .map(|(o, _)| o[0].abs().max(o[1].abs()))
            .fold(0.0, f64::max)
    }
}

/// The largest argument t of each spread's characteristic function the pattern contains
/// (module docs): `[source, defocus]` = [2π·s·2α/λ, πλΔ(α/λ)²].
fn spread_extents(m: &MicroscopeSpec) -> [f64; 2] {
    let lambda = wavelength_nm(m.voltage_kv);
    let aperture = m.semiangle_mrad * RAD_PER_MRAD / lambda;
    let s = m.source_size_nm / FWHM_PER_RMS;
    let delta = focal_spread_rms_nm(m.cc_mm, m.energy_spread_ev, m.voltage_kv);
    [
        2.0 * PI * s * 2.0 * aperture,
        PI * lambda * delta * aperture * aperture,
    ]
}

/// The largest t for which [`MAX_NODES`] nodes reproduce exp(−t²/2) to
/// [`QUADRATURE_TOLERANCE`] (bisection on [`characteristic_error`]; ≈ 10.35 for 48 nodes).
pub fn largest_resolved_t() -> f64 {
    static T: OnceLock<f64> = OnceLock::new();
    *T.get_or_init(|| {
        let rule = gauss_hermite(MAX_NODES);
        let (mut lo, mut hi) = (0.0, 20.0);
        for _ in 0..50 {
            let mid = 0.5 * (lo + hi);
            if characteristic_error(&rule, mid) <= QUADRATURE_TOLERANCE {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    })
}

/// Refuses a source size or focal spread wider than [`MAX_NODES`] quadrature nodes resolve
/// to [`QUADRATURE_TOLERANCE`] (module docs), naming the key (`source_size_nm`, or
/// `energy_spread_ev` for the focal spread, which `cc_mm` and `semiangle_mrad` also set).
pub fn check_resolved(m: &MicroscopeSpec) -> Result<(), InvalidValue> {
    let [t_source, t_defocus] = spread_extents(m);
    let t_max = largest_resolved_t();
    if t_source > t_max {
        return Err(InvalidValue::new(
            "source_size_nm",
            m.source_size_nm,
            format!(
                "a source the {MAX_NODES}-node quadrature resolves to 10⁻³: \
                 2π·s·2α/λ = {t_source:.2} for s = FWHM/2.355 (at most {t_max:.2}); a smaller \
                 source_size_nm (here at most {:.3} nm) or semiangle_mrad",
                floor_3(m.source_size_nm * t_max / t_source)
            ),
        ));
    }
    if t_defocus > t_max {
        let delta = focal_spread_rms_nm(m.cc_mm, m.energy_spread_ev, m.voltage_kv);
        return Err(InvalidValue::new(
            "energy_spread_ev",
            m.energy_spread_ev,
            format!(
                "a focal spread the {MAX_NODES}-node quadrature resolves to \
                 10⁻³: cc_mm = {} and energy_spread_ev give Δ = {delta:.1} nm \
                 rms, πλΔ(α/λ)² = {t_defocus:.2} (at most {t_max:.2}); a smaller \
                 energy_spread_ev (here at most {:.3} eV), cc_mm or semiangle_mrad",
                m.cc_mm,
                floor_3(m.energy_spread_ev * t_max / t_defocus)
            ),
        ));
    }
    Ok(())
}

/// `x` rounded down to three decimals: a bound printed so is inside the bound.
fn floor_3(x: f64) -> f64 {
    (x * 1e3).floor() / 1e3
}

/// rms focal spread Δ in nm for chromatic aberration `cc_mm` and an energy spread of FWHM
/// `energy_spread_ev` at `voltage_kv` (relativistically corrected, see the module docs).
pub fn focal_spread_rms_nm(cc_mm: f64, energy_spread_ev: f64, voltage_kv: f64) -> f64 {
    let e = voltage_kv * 1e3;
    let sigma_e = energy_spread_ev / FWHM_PER_RMS;
    let relativistic = (1.0 + e / REST_ENERGY_EV) / (1.0 + e / (2.0 * REST_ENERGY_EV));
    cc_mm * 1e6 * sigma_e / e * relativistic
}

/// Nodes x and weights w (Σw = 1) of the n-point Gauss–Hermite rule for a standard normal
/// variable: Σ w·g(x) ≈ E[g(X)], X ~ N(0, 1), exact for polynomials of degree < 2n.
///
/// Newton iteration on the orthonormal Hermite recurrence with the asymptotic starting values
/// of Press et al., *Numerical Recipes* (3rd ed., §4.6, `gauher`), scaled from the weight
/// e^{−x²} to the standard normal.
///
/// # Panics
/// If `n` is 0.
pub fn gauss_hermite(n: usize) -> Vec<(f64, f64)> {
    assert!(n > 0, "a quadrature needs one node at least");
    let pim4 = PI.powf(-0.25);
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    let nf = n as f64;
    let mut z = 0.0f64;
    for i in 0..n.div_ceil(2) {
        z = match i {
            0 => (2.0 * nf + 1.0).sqrt() - 1.855_75 * (2.0 * nf + 1.0).powf(-1.0 / 6.0),
            1 => z - 1.14 * nf.powf(0.426) / z,
            2 => 1.86 * z - 0.86 * x[0],
            3 => 1.91 * z - 0.91 * x[1],
            _ => 2.0 * z - x[i - 2],
        };
        let mut pp = 0.0;
        for _ in 0..100 {
            let (mut p1, mut p2) = (pim4, 0.0);
            for j in 0..n {
                let p3 = p2;
                p2 = p1;
                let jf = j as f64;
                p1 = z * (2.0 / (jf + 1.0)).sqrt() * p2 - (jf / (jf + 1.0)).sqrt() * p3;
            }
            pp = (2.0 * nf).sqrt() * p2;
            let z1 = z;
            z = z1 - p1 / pp;
            if (z - z1).abs() <= 1e-14 * z.abs().max(1.0) {
                break;
            }
        }
        x[i] = z;
        x[n - 1 - i] = -z;
        w[i] = 2.0 / (pp * pp);
        w[n - 1 - i] = w[i];
    }
    let norm = PI.sqrt();
    x.iter()
        .zip(&w)
        .map(|(&t, &wt)| (t * std::f64::consts::SQRT_2, wt / norm))
        .collect()
}

/// The smallest Gauss–Hermite rule (standard normal) whose characteristic function
/// Σ w cos(t x) is within [`QUADRATURE_TOLERANCE`] of exp(−t²/2) for every t ≤ `t_max`; one
/// node at 0 when the spread is negligible, at most [`MAX_NODES`].
pub fn gauss_hermite_for(t_max: f64) -> Vec<(f64, f64)> {
    for n in 1..MAX_NODES {
        let rule = gauss_hermite(n);
        if characteristic_error(&rule, t_max) <= QUADRATURE_TOLERANCE {
            return rule;
        }
    }
    gauss_hermite(MAX_NODES)
}

/// max over t in [0, t_max] of |Σ w cos(t x) − exp(−t²/2)|, sampled finely.
pub fn characteristic_error(rule: &[(f64, f64)], t_max: f64) -> f64 {
    let steps = 200;
    (0..=steps)
        .map(|i| {
            let t = t_max * i as f64 / steps as f64;
            let q: f64 = rule.iter().map(|&(x, w)| w * (t * x).cos()).sum();
            (q - (-0.5 * t * t).exp()).abs()
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_hermite_integrates_normal_moments_exactly() {
        // Beyond 16 nodes the moments (up to (2n − 1)!!) outgrow f64's relative precision;
        // the larger rules are checked by their characteristic function below.
        for n in 1..=16 {
            let rule = gauss_hermite(n);
            let moment = |p: i32| rule.iter().map(|&(x, w)| w * x.powi(p)).sum::<f64>();
            // E[X^{2m}] = (2m − 1)!!, odd moments 0, exact for degree < 2n.
            let mut double_fact = 1.0;
            for m in 0..n {
                if m > 0 {
                    double_fact *= (2 * m - 1) as f64;
                }
                assert!(
                    (moment(2 * m as i32) - double_fact).abs() < 1e-9 * double_fact,
                    "n={n} m={m}: {} vs {double_fact}",
                    moment(2 * m as i32)
                );
                assert!(moment(2 * m as i32 + 1).abs() < 1e-9 * double_fact.max(1.0));
            }
        }
    }

    #[test]
    fn adaptive_rule_meets_its_tolerance_and_grows_with_the_spread() {
        assert_eq!(gauss_hermite_for(0.01).len(), 1);
        let mut last = 1;
        for t in [0.3, 1.0, 2.0, 3.0] {
            let rule = gauss_hermite_for(t);
            assert!(
                characteristic_error(&rule, t) <= QUADRATURE_TOLERANCE,
                "t={t}"
            );
            assert!(rule.len() >= last);
            last = rule.len();
        }
        assert!(last > 2);
    }

    #[test]
    fn spreads_beyond_the_largest_rule_are_refused() {
        let t = largest_resolved_t();
        assert!((10.3..10.4).contains(&t), "{t}");
        assert!(characteristic_error(&gauss_hermite(MAX_NODES), t) <= QUADRATURE_TOLERANCE);
        assert!(characteristic_error(&gauss_hermite(MAX_NODES), 1.01 * t) > QUADRATURE_TOLERANCE);
        check_resolved(&MicroscopeSpec::default()).unwrap();
        // The default focal spread at 40 mrad (t ≈ 5) and at 20 kV, 30 mrad (t ≈ 8) resolve,
        // and the rule then meets the tolerance.
        for (voltage_kv, semiangle_mrad) in [(300.0, 40.0), (20.0, 30.0)] {
            let m = MicroscopeSpec {
                voltage_kv,
                semiangle_mrad,
                ..MicroscopeSpec::default()
            };
            check_resolved(&m).unwrap();
            let [_, t] = spread_extents(&m);
            assert!(t > 4.66, "{t}");
            assert!(characteristic_error(&gauss_hermite_for(t), t) <= QUADRATURE_TOLERANCE);
        }
        // A fresh reviewer's case: Δ ≈ 17 µm rms at 10 mrad.
        let wide = MicroscopeSpec {
            semiangle_mrad: 10.0,
            cc_mm: 100.0,
            energy_spread_ev: 100.0,
            ..MicroscopeSpec::default()
        };
        let e = check_resolved(&wide).unwrap_err();
        assert_eq!(e.field, "energy_spread_ev");
        // Its suggested bound is just resolved.
        let bound: f64 = e.expected.split("at most ").nth(2).unwrap()[..5]
            .parse()
            .unwrap();
        let ok = MicroscopeSpec {
            energy_spread_ev: 0.999 * bound,
            ..wide.clone()
        };
        check_resolved(&ok).unwrap();
        let source = |source_size_nm: f64| MicroscopeSpec {
            semiangle_mrad: 5.0,
            source_size_nm,
            ..MicroscopeSpec::default()
        };
        assert_eq!(
            check_resolved(&source(2.0)).unwrap_err().field,
            "source_size_nm"
        );
        check_resolved(&source(0.7)).unwrap();
    }

    #[test]
    fn focal_spread_of_a_300_kv_feg() {
        // C_c = 1.4 mm, ΔE = 0.8 eV FWHM at 300 kV: σ_E = 0.3397 eV, relativistic factor
        // 1.58708/1.29354 = 1.22692, Δ = 1.4e6 nm · 0.3397/3e5 · 1.22692 = 1.945 nm.
        let d = focal_spread_rms_nm(1.4, 0.8, 300.0);
        assert!((d - 1.945).abs() < 2e-3, "{d}");
    }

    #[test]
    fn default_microscope_is_coherent_at_the_quadrature_tolerance() {
        // The physical default focal spread (≈ 2 nm) moves the probe's partial waves by
        // πλΔ(α/λ)² ≈ 4·10⁻³ rad: one node suffices.
        let p = PartialCoherence::from_microscope(&MicroscopeSpec::default());
        assert_eq!(p.defocus.len(), 1);
        assert!(p.focal_spread_rms_nm > 1.0);
    }

    #[test]
    fn weights_sum_to_one_and_source_rule_is_a_product() {
        let m = MicroscopeSpec {
            source_size_nm: 0.5,
            cc_mm: 1000.0,
            ..MicroscopeSpec::default()
        };
        let p = PartialCoherence::from_microscope(&m);
        let ws: f64 = p.source.iter().map(|s| s.1).sum();
        let wd: f64 = p.defocus.iter().map(|s| s.1).sum();
        assert!((ws - 1.0).abs() < 1e-12 && (wd - 1.0).abs() < 1e-12);
        let n = (p.source.len() as f64).sqrt().round() as usize;
        assert_eq!(n * n, p.source.len());
        assert!(n > 1 && p.defocus.len() > 1);
        // Second moment per axis = s².
        let var_x: f64 = p.source.iter().map(|(o, w)| w * o[1] * o[1]).sum();
        assert!((var_x / (p.source_rms_nm * p.source_rms_nm) - 1.0).abs() < 1e-9);
    }
}
