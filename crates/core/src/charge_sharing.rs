//! The charge-sharing kernel of a pixelated detector: the forward model blurs its counts with it
//! (`mro_sim::psf`), and the analysis needs it for the shot-noise correction, because shared
//! charge correlates the noise of neighbouring pixels.
//!
//! Model: an electron lands uniformly within its pixel and its charge spreads as a Gaussian of
//! one-axis rms σ (pixels); pixel m collects the part over its area. Per axis
//! `K[m] = ∫_{−½}^{½} dx ∫_{m−½}^{m+½} G_σ(y − x) dy` (separable, `Σ K = 1`). Counts
//! `D = K ⊛ N` of Poisson electrons `N` have the covariance `Cov(D_p, D_q) = Σ_j K_{p−j} K_{q−j} λ_j`.

use crate::special::erf;

/// Largest kernel half-width in pixels.
pub const MAX_RADIUS_PX: usize = 10;

/// Largest σ whose kernel fits in [`MAX_RADIUS_PX`]: `4σ + 1 ≤ MAX_RADIUS_PX`.
pub const MAX_SIGMA_PX: f64 = (MAX_RADIUS_PX as f64 - 1.0) / 4.0;

/// The per-axis taps `K[m]`, m = −r..=r with `r = ⌈4σ + 1⌉` (`[1.0]` for σ = 0), normalised to
/// sum 1 (the tails beyond r, < 10⁻⁵ of the charge, go to the kept taps).
///
/// # Panics
/// If `sigma_px` is negative, not finite or above [`MAX_SIGMA_PX`].
pub fn kernel(sigma_px: f64) -> Vec<f64> {
    assert!(
        sigma_px.is_finite() && (0.0..=MAX_SIGMA_PX).contains(&sigma_px),
        "charge-sharing width {sigma_px} px outside [0, {MAX_SIGMA_PX}]"
    );
    if sigma_px == 0.0 {
        return vec![1.0];
    }
    let radius = (4.0 * sigma_px + 1.0).ceil() as i64;
    // ∫_{−½}^{½} [Φ((m+½−x)/σ) − Φ((m−½−x)/σ)] dx by the midpoint rule (256 points; the
    // integrand is smooth for σ ≥ 0.05 px and the error is < 10⁻⁶).
    let steps = 256;
    let phi = |u: f64| 0.5 * (1.0 + erf(u / (sigma_px * std::f64::consts::SQRT_2)));
    let mut taps: Vec<f64> = (-radius..=radius)
        .map(|m| {
            let mf = m as f64;
            (0..steps)
                .map(|i| {
                    let x = -0.5 + (i as f64 + 0.5) / steps as f64;
                    phi(mf + 0.5 - x) - phi(mf - 0.5 - x)
                })
                .sum::<f64>()
                / steps as f64
        })
        .collect();
    let total: f64 = taps.iter().sum();
    taps.iter_mut().for_each(|k| *k /= total);
    taps
}

/// [`kernel`] without the taps below 10⁻⁴ (of a total of 1), renormalised: what the shot-noise
/// covariance needs. At σ = 0.3 px the taps are 0.76, 0.12 and 3·10⁻⁵ (two pixels out), so the
/// noise model reaches one pixel instead of three, and noise coefficients change by ~10⁻⁴.
pub fn noise_kernel(sigma_px: f64) -> Vec<f64> {
    let full = kernel(sigma_px);
    let keep = full.iter().position(|&k| k >= 1e-4).unwrap_or(0);
    let mut taps = full[keep..full.len() - keep].to_vec();
    let total: f64 = taps.iter().sum();
    taps.iter_mut().for_each(|k| *k /= total);
    taps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_are_symmetric_normalised_and_an_identity_at_zero() {
        assert_eq!(kernel(0.0), vec![1.0]);
        let k = kernel(0.3);
        assert_eq!(k.len(), 7);
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for m in 0..k.len() {
            assert!((k[m] - k[k.len() - 1 - m]).abs() < 1e-15);
        }
        // An electron's charge stays in its own pixel 58 % of the time averaged over landing
        // positions at σ = 0.3 px (the forward model's documented figure, mro_sim::psf).
        assert!((k[3] * k[3] - 0.58).abs() < 0.01, "{}", k[3]);
        // The noise kernel keeps the taps that matter: one pixel either side at σ = 0.3.
        let n = noise_kernel(0.3);
        assert_eq!(n.len(), 3);
        assert!((n[1] - k[3]).abs() < 1e-4 && (n.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(noise_kernel(0.0), vec![1.0]);
    }
}
