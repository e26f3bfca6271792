//! The charge-sharing kernel of a pixelated detector: the forward model blurs its counts with it
//! (`mro_sim::psf`), and the analysis needs it for the shot-noise correction, because shared
//! charge correlates the noise of neighbouring pixels.
//!
//! Model: an electron lands uniformly within its pixel and its charge spreads as a Gaussian of
//! one-axis rms σ (pixels); pixel m collects the part over its area. Per axis
//! `K[m] = ∫_{−½}^{½} dx ∫_{m−½}^{m+½} G_σ(y − x) dy` (separable, `Σ K = 1`). Counts
//! `D = K ⊛ N` of Poisson electrons `N` have the covariance `Cov(D_p, D_q) = Σ_j K_{p−j} K_{q−j} λ_j`.

use std::collections::BTreeMap;

use crate::special::erf;

/// Default charge-sharing width for the EMPAD (Tate et al., Microsc. Microanal. 22 (2016) 237:
/// 128 × 128 pixels of 150 µm on a 500 µm thick Si diode, 300 keV), the detector of Im et al.
/// (2018). [est] The paper's measured PSF could not be retrieved while writing this; 0.3 px rms
/// (45 µm) is our estimate of the lateral charge spread of a 300 keV electron in the top part of
/// 500 µm of Si. It leaves 82 % of the charge of an electron landing at a pixel centre in that
/// pixel, 58 % averaged over landing positions (see the tests); users with a measured PSF set
/// `detector.psf_sigma_px` (simulation) and `analysis.detector_psf_sigma_px` (analysis).
pub const EMPAD_SIGMA_PX: f64 = 0.3;

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

/// `K ⋆ u` of a sparse field `u` (`(pixel, value)` pairs, pixel = C-order index on a detector of
/// `[ny, nx]`) with per-axis taps `taps` (odd length; `K` is symmetric, so correlation and
/// convolution agree), keyed by pixel: the pixels within the kernel's reach that lie on the
/// detector. Sums run in the order of `u` and of the taps, so the result is the same on every
/// run.
pub fn spread(
    u: impl IntoIterator<Item = (u32, f64)>,
    [ny, nx]: [usize; 2],
    taps: &[f64],
) -> BTreeMap<u32, f64> {
    let r = (taps.len() / 2) as isize;
    let mut out = BTreeMap::new();
    for (p, v) in u {
        let (y, x) = ((p as usize / nx) as isize, (p as usize % nx) as isize);
        for (dy, ky) in taps.iter().enumerate() {
            let yy = y + dy as isize - r;
            if !(0..ny as isize).contains(&yy) {
                continue;
            }
            for (dx, kx) in taps.iter().enumerate() {
                let xx = x + dx as isize - r;
                if (0..nx as isize).contains(&xx) {
                    *out.entry((yy as usize * nx + xx as usize) as u32)
                        .or_insert(0.0) += ky * kx * v;
                }
            }
        }
    }
    out
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

    #[test]
    fn spread_conserves_the_field_and_stops_at_the_edges() {
        let taps = noise_kernel(0.3);
        // A unit inside a 4 × 4 detector reaches its 3 × 3 neighbourhood and keeps its total.
        let inside = spread([(5, 1.0)], [4, 4], &taps);
        assert_eq!(
            inside.keys().copied().collect::<Vec<_>>(),
            [0, 1, 2, 4, 5, 6, 8, 9, 10]
        );
        assert!((inside.values().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((inside[&5] - taps[1] * taps[1]).abs() < 1e-15);
        // In a corner the charge beyond the edges is lost.
        let corner = spread([(0, 1.0)], [4, 4], &taps);
        assert_eq!(corner.len(), 4);
        assert!((corner.values().sum::<f64>() - (taps[1] + taps[2]).powi(2)).abs() < 1e-12);
        // The identity kernel leaves the field alone.
        assert_eq!(
            spread([(3, 2.5)], [4, 4], &[1.0]),
            BTreeMap::from([(3, 2.5)])
        );
    }
}
