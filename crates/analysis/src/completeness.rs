//! Completeness correction of the `mro` region count: how many clusters the threshold missed.
//!
//! **Model.** A cluster in condition adds a fixed n-fold amplitude `a` to the ring's n-th Fourier
//! coefficient, on top of the glass's speckle and the shot noise, a circular complex Gaussian of
//! power `θ + ν_p` ([`crate::significance`]). Its standardised map value is then
//! `|√λ + z|²`, `z ~ CN(0, 1)`, `λ = |a|²/(θ + ν_p)`: a noncentral χ² with two degrees of freedom over two
//! (the Rice power distribution, Goodman, *Speckle Phenomena in Optics*, 2007, §3.4 — a constant
//! phasor plus a random phasor sum). Written as a Poisson mixture of Gammas,
//! `f(x) = Σₖ Poisson(k; λ) · xᵏ e⁻ˣ / k!` and `P(X > t) = Σₖ Poisson(k; λ) · Σⱼ≤ₖ Poisson(j; t)`.
//!
//! **Fit.** Only the regions whose peak crossed the threshold are seen, so `λ` is the maximum
//! of the truncated likelihood `Π f(xᵢ)/P(X > tᵢ)` over the detected peaks `xᵢ`, each with the
//! threshold `tᵢ` it crossed in its own pixel's null scale (a golden-section search). The
//! completeness is `c = P(X > t | λ̂)` at the median `tᵢ` and the count estimate `N̂ = n_detected / c`
//! (the standard completeness correction of source counts; e.g. Hopkins et al., AJ 123 (2002)
//! 1086). Its standard error adds the Poisson noise of the detected count, `n/c²`, and the
//! propagated error of `λ̂` (from the curvature of the log-likelihood).
//!
//! **Limits, stated.** One `λ` for all clusters of a map: clusters of different sizes or depths
//! have different amplitudes, and the detected ones are the brighter, so `c` is then
//! overestimated and `N̂` stays low (but closer than the raw count). The peak of a region is the
//! largest of its pixels, not one draw; the fit takes it as one (tried: modelling it as the
//! largest of 2–4 draws made the validation counts worse). With fewer than
//! [`MIN_DETECTED`] regions, or `c` below [`MIN_COMPLETENESS`], no correction is made: the
//! estimate would rest on the tail of a model fitted to a handful of values.

use mro_core::special::{erfc, ln_gamma};
use serde::{Deserialize, Serialize};

/// Fewest detected regions for a correction.
pub const MIN_DETECTED: usize = 3;
/// Lowest completeness that is corrected for (below it one detection would stand for more than
/// four clusters).
pub const MIN_COMPLETENESS: f64 = 0.25;

/// The completeness correction of one map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Completeness {
    /// Fitted cluster power over θ.
    pub lambda: f64,
    /// Its standard error.
    pub lambda_se: f64,
    /// Share of such clusters whose peak crosses the threshold.
    pub completeness: f64,
    /// Detected regions.
    pub detected: usize,
    /// `detected / completeness`.
    pub estimate: f64,
    /// Its standard error.
    pub estimate_se: f64,
}

/// ln of the Poisson probability `P(k; m)`.
fn ln_poisson(k: usize, m: f64) -> f64 {
    if m <= 0.0 {
        return if k == 0 { 0.0 } else { f64::NEG_INFINITY };
    }
    k as f64 * m.ln() - m - ln_gamma(k as f64 + 1.0)
}

/// Range of Poisson terms that holds all but ~1e-15 of the mass for mean `m`.
fn terms(m: f64) -> std::ops::Range<usize> {
    let w = 12.0 * m.sqrt() + 30.0;
    ((m - w).max(0.0) as usize)..((m + w) as usize + 1)
}

/// Above this λ (or x, t) the series are replaced by the normal limit of `|√λ + z|²`: mean
/// `λ + 1`, variance `2λ + 1` (the series' cost grows as λ; the limit's relative error in the
/// fitted λ is below 1 % there).
const NORMAL_LIMIT: f64 = 400.0;

/// ln of the Rice power density `f(x | λ)` (x, λ ≥ 0).
pub fn ln_pdf(x: f64, lambda: f64) -> f64 {
    if lambda.max(x) > NORMAL_LIMIT {
        let (m, v) = (lambda + 1.0, 2.0 * lambda + 1.0);
        return -(x - m).powi(2) / (2.0 * v) - 0.5 * (std::f64::consts::TAU * v).ln();
    }
    // Σₖ Poisson(k; λ) Poisson(k; x) = e^(−λ−x) Σₖ (λx)ᵏ/k!²: summed outward from its largest
    // term, k ≈ √(λx), by the ratio λx/k² of neighbouring terms.
    let ax = lambda * x;
    let k0 = ax.sqrt().round() as usize;
    let ln_top = ln_poisson(k0, lambda) + ln_poisson(k0, x);
    let mut sum = 1.0;
    let mut term = 1.0;
    let mut k = k0;
    loop {
        k += 1;
        term *= ax / (k as f64 * k as f64);
        sum += term;
        if term < 1e-17 * sum {
            break;
        }
    }
    let (mut term, mut k) = (1.0, k0);
    while k > 0 {
        term *= (k as f64 * k as f64) / ax;
        sum += term;
        k -= 1;
        if term < 1e-17 * sum {
            break;
        }
    }
    ln_top + sum.ln()
}

/// `P(X > t | λ)`.
pub fn survival(t: f64, lambda: f64) -> f64 {
    if t <= 0.0 {
        return 1.0;
    }
    if lambda.max(t) > NORMAL_LIMIT {
        let (m, v) = (lambda + 1.0, 2.0 * lambda + 1.0);
        return 0.5 * erfc((t - m) / (2.0 * v).sqrt());
    }
    // P(X > t) = Σₖ Poisson(k; λ) · P(Poisson(t) ≤ k), both Poisson laws by recurrence
    // (t, λ ≤ NORMAL_LIMIT: e^(−t), e^(−λ) stay representable).
    let r = terms(lambda);
    let (mut pmf_t, mut cdf_t) = ((-t).exp(), 0.0);
    let mut pmf_l = (-lambda).exp();
    let mut total = 0.0;
    for k in 0..r.end {
        if k > 0 {
            pmf_t *= t / k as f64;
            pmf_l *= lambda / k as f64;
        }
        cdf_t += pmf_t;
        if k >= r.start {
            total += pmf_l * cdf_t.min(1.0);
        }
    }
    total.min(1.0)
}

/// Negative truncated log-likelihood of `λ` for peaks `(x, t)`: each peak `x` above its own
/// threshold `t` (both in the peak pixel's null scale).
fn nll(peaks: &[(f64, f64)], lambda: f64) -> f64 {
    -peaks
        .iter()
        .map(|&(x, t)| ln_pdf(x, lambda) - survival(t, lambda).max(1e-300).ln())
        .sum::<f64>()
}

/// Fits `λ` to the detected peaks `(x, t)` (each peak and the threshold it crossed, in its
/// pixel's null scale) and returns the completeness correction — at the median threshold — or
/// why none is made.
pub fn correct(peaks: &[(f64, f64)]) -> Result<Completeness, String> {
    let n = peaks.len();
    if n < MIN_DETECTED {
        return Err(format!(
            "{n} regions: a completeness correction needs at least {MIN_DETECTED}"
        ));
    }
    let mut ts: Vec<f64> = peaks.iter().map(|p| p.1).collect();
    ts.sort_by(f64::total_cmp);
    let t = ts[n / 2];
    let hi = peaks.iter().map(|p| p.0).fold(t, f64::max) * 2.0 + 10.0;
    let f = |l: f64| nll(peaks, l);
    // Golden-section search on [0, hi] (the truncated likelihood is unimodal in λ here).
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (0.0, hi);
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..50 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    let lambda = 0.5 * (a + b);
    let completeness = survival(t, lambda);
    if completeness < MIN_COMPLETENESS {
        return Err(format!(
            "the fitted cluster power λ = {lambda:.2} θ crosses the threshold ({t:.2} θ) with \
             probability {completeness:.3} < {MIN_COMPLETENESS}: too few clusters are seen to \
             correct for the rest"
        ));
    }
    // Curvature of the log-likelihood → var(λ̂); dc/dλ by central differences.
    let h = (0.01 * lambda).max(1e-3);
    let curv = (f(lambda + h) - 2.0 * f(lambda) + f((lambda - h).max(0.0))) / (h * h);
    let lambda_se = if curv > 0.0 {
        curv.recip().sqrt()
    } else {
        f64::INFINITY
    };
    let dc = (survival(t, lambda + h) - survival(t, (lambda - h).max(0.0))) / (2.0 * h);
    let k = n as f64;
    // The detected count is Poisson (a thinned Poisson process stays Poisson): var k = k.
    let var = k / completeness.powi(2) + (k / completeness.powi(2) * dc * lambda_se).powi(2);
    Ok(Completeness {
        lambda,
        lambda_se,
        completeness,
        detected: n,
        estimate: k / completeness,
        estimate_se: var.sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn rice_density_is_normalised_with_mean_lambda_plus_one() {
        for lambda in [0.0f64, 0.5, 8.0, 40.0] {
            let dx = 0.01;
            let (mut mass, mut mean) = (0.0, 0.0);
            let mut x = 0.5 * dx;
            while x < lambda + 40.0 + 12.0 * lambda.sqrt() {
                let p = ln_pdf(x, lambda).exp() * dx;
                mass += p;
                mean += p * x;
                x += dx;
            }
            assert!((mass - 1.0).abs() < 1e-3, "λ = {lambda}: mass {mass}");
            assert!(
                (mean - (lambda + 1.0)).abs() < 1e-2 * (lambda + 1.0),
                "{mean}"
            );
            // λ = 0: the exponential.
            if lambda == 0.0 {
                assert!((survival(3.0, 0.0) - (-3.0f64).exp()).abs() < 1e-12);
            }
            // The survival function against the integrated density at one point.
            let t = lambda + 2.0;
            let (mut tail, mut x) = (0.0, t + 0.5 * dx);
            while x < t + 60.0 + 12.0 * lambda.sqrt() {
                tail += ln_pdf(x, lambda).exp() * dx;
                x += dx;
            }
            assert!((survival(t, lambda) - tail).abs() < 1e-3, "λ = {lambda}");
        }
    }

    #[test]
    fn the_series_meets_the_normal_limit_and_large_peaks_are_fitted() {
        // Just below the limit (λ = 399, t ≤ 400: the series) the survival agrees with the
        // normal limit used above it to 2 % (the series' skew is what is left).
        let lambda = 399.0f64;
        for k in [-2.0, -1.0, 0.0] {
            let t = lambda + 1.0 + k * (2.0 * lambda + 1.0).sqrt();
            assert!(t <= NORMAL_LIMIT);
            let normal = 0.5 * erfc(k / 2f64.sqrt());
            let series = survival(t, lambda);
            assert!(
                (series - normal).abs() < 0.02,
                "k {k}: {series} vs {normal}"
            );
        }
        // Peaks far above θ (a map whose speckle is nearly absent) are fitted, not hung on.
        let c = correct(&[(4e5, 14.6), (5e5, 14.6), (6e5, 14.6)]).unwrap();
        assert!(
            c.completeness > 0.99 && (c.estimate - 3.0).abs() < 0.1,
            "{c:?}"
        );
    }

    /// Clusters of power λ = 13 θ in unit speckle, 300 of them; the threshold 14.6 θ sees about
    /// a third. The corrected count recovers the 300 within its standard error (×3).
    #[test]
    fn truncated_fit_recovers_the_planted_count() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let (lambda, t, total) = (13.0f64, 14.6, 300);
        let peaks: Vec<f64> = (0..total)
            .map(|_| {
                let g = |rng: &mut rand::rngs::StdRng| {
                    let u: f64 = rng.gen::<f64>().max(1e-300);
                    let v: f64 = rng.gen();
                    (-u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
                };
                let (re, im) = (lambda.sqrt() + g(&mut rng), g(&mut rng));
                re * re + im * im
            })
            .filter(|&x| x > t)
            .collect();
        let at = |x: &[f64]| x.iter().map(|&x| (x, t)).collect::<Vec<_>>();
        let c = correct(&at(&peaks)).unwrap();
        assert!(
            (c.estimate - total as f64).abs() < 3.0 * c.estimate_se,
            "{c:?} from {} detections",
            peaks.len()
        );
        assert!((c.lambda - lambda).abs() < 3.0 * c.lambda_se, "{c:?}");
        // Too few, or too faint to correct: refused with a reason.
        assert!(correct(&at(&peaks[..2])).is_err());
        assert!(correct(&at(&[14.7, 14.8, 14.9])).is_err());
    }
}
