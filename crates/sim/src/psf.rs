//! The detector's point-spread function: the charge an electron deposits spreads into
//! neighbouring pixels.
//!
//! Model: an electron lands uniformly within its pixel and its charge spreads as a Gaussian of
//! one-axis rms σ (in pixels) in the sensor plane; pixel m collects the part of that Gaussian
//! over its area. Per axis the kernel is
//! K[m] = ∫_{−½}^{½} dx ∫_{m−½}^{m+½} G_σ(y − x) dy (separable, Σ K = 1 over the infinite
//! plane), and its transfer function (the detector's MTF sampled on the pixel lattice) is the
//! aliased sum K̂(q) = Σ_n sinc²(q + n)·exp(−2π²σ²(q + n)²), q in cycles per pixel.
//! Charge spread beyond the detector's edge is lost, as on a real sensor.
//!
//! Default σ: [`EMPAD_SIGMA_PX`] (see there). σ = 0 is an ideal detector (no sharing).

use std::f64::consts::PI;

use mro_core::charge_sharing;

/// Default PSF width: the EMPAD estimate (see there).
pub use mro_core::charge_sharing::EMPAD_SIGMA_PX;

/// Kernel half-width in pixels for a given σ: 4σ + 1 rounded up, at most [`MAX_RADIUS_PX`].
pub use mro_core::charge_sharing::MAX_RADIUS_PX;

/// A separable detector PSF.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorPsf {
    /// One-axis rms σ in pixels.
    pub sigma_px: f64,
    radius: usize,
    /// K[m] for m = −radius..=radius at index m + radius.
    kernel: [f64; 2 * MAX_RADIUS_PX + 1],
}

impl DetectorPsf {
    /// The PSF of width `sigma_px` (≥ 0; 0 is the identity).
    ///
    /// # Panics
    /// If `sigma_px` is negative, not finite, or above
    /// [`charge_sharing::MAX_SIGMA_PX`] (the scenario check allows at most 2 px).
    pub fn new(sigma_px: f64) -> Self {
        let taps = charge_sharing::kernel(sigma_px);
        let radius = taps.len() / 2;
        let mut kernel = [0.0; 2 * MAX_RADIUS_PX + 1];
        kernel[..taps.len()].copy_from_slice(&taps);
        Self {
            sigma_px,
            radius,
            kernel,
        }
    }

    /// Whether the PSF is the identity.
    pub fn is_identity(&self) -> bool {
        self.radius == 0
    }

    /// K[m] per axis for m = −r..=r.
    pub fn kernel(&self) -> &[f64] {
        &self.kernel[..2 * self.radius + 1]
    }

    /// The analytic transfer function K̂(q) per axis at q cycles per pixel (aliased sum over
    /// ±40 orders).
    pub fn transfer(&self, q_per_px: f64) -> f64 {
        let s = self.sigma_px;
        (-40..=40)
            .map(|n| {
                let u = q_per_px + f64::from(n);
                let sinc = if u == 0.0 {
                    1.0
                } else {
                    (PI * u).sin() / (PI * u)
                };
                sinc * sinc * (-2.0 * PI * PI * s * s * u * u).exp()
            })
            .sum()
    }

    /// Convolves the `[ny][nx]` image `img` with the PSF in place (zero beyond the edges;
    /// `tmp` is scratch of the same length).
    ///
    /// # Panics
    /// If the lengths differ from `ny·nx`.
    pub fn apply(&self, img: &mut [f64], tmp: &mut [f64], pixels: [usize; 2]) {
        if self.is_identity() {
            return;
        }
        let [ny, nx] = pixels;
        assert!(img.len() == ny * nx && tmp.len() == ny * nx, "image size");
        let r = self.radius as isize;
        let k = self.kernel();
        // Rows (along x) into tmp, then columns (along y) back into img.
        for i in 0..ny {
            let row = &img[i * nx..(i + 1) * nx];
            for j in 0..nx {
                let mut acc = 0.0;
                for (t, &kv) in k.iter().enumerate() {
                    let jj = j as isize + t as isize - r;
                    if (0..nx as isize).contains(&jj) {
                        acc += kv * row[jj as usize];
                    }
                }
                tmp[i * nx + j] = acc;
            }
        }
        for i in 0..ny {
            for j in 0..nx {
                let mut acc = 0.0;
                for (t, &kv) in k.iter().enumerate() {
                    let ii = i as isize + t as isize - r;
                    if (0..ny as isize).contains(&ii) {
                        acc += kv * tmp[ii as usize * nx + j];
                    }
                }
                img[i * nx + j] = acc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mro_core::special::erf;

    #[test]
    fn kernel_is_normalised_symmetric_and_matches_its_transfer_function() {
        for sigma in [0.1, 0.3, 0.8, 2.0] {
            let p = DetectorPsf::new(sigma);
            let k = p.kernel();
            assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12, "σ={sigma}");
            for m in 0..k.len() {
                assert!((k[m] - k[k.len() - 1 - m]).abs() < 1e-12);
            }
            // DTFT of the numerical kernel against the analytic aliased sum.
            for q in [0.0, 0.1, 0.25, 0.4, 0.5] {
                let r = (k.len() / 2) as f64;
                let dtft: f64 = k
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| v * (2.0 * PI * q * (i as f64 - r)).cos())
                    .sum();
                assert!(
                    (dtft - p.transfer(q)).abs() < 2e-5,
                    "σ={sigma} q={q}: {dtft} vs {}",
                    p.transfer(q)
                );
            }
        }
    }

    #[test]
    fn empad_default_keeps_most_charge_in_the_pixel() {
        // An electron landing at the pixel centre keeps erf(½/(σ√2))² of its charge: 82 %.
        let centred = erf(0.5 / (EMPAD_SIGMA_PX * std::f64::consts::SQRT_2)).powi(2);
        assert!((0.80..0.84).contains(&centred), "{centred}");
        // Averaged over landing positions the own-pixel share is the central tap squared: 58 %.
        let k = DetectorPsf::new(EMPAD_SIGMA_PX).kernel().to_vec();
        let own = k[k.len() / 2].powi(2);
        assert!((0.56..0.60).contains(&own), "{own}");
    }

    #[test]
    fn identity_leaves_the_image_alone_and_blur_conserves_interior_flux() {
        let pixels = [16, 20];
        let mut img: Vec<f64> = (0..320).map(|i| ((i * 37) % 11) as f64).collect();
        let orig = img.clone();
        let mut tmp = vec![0.0; 320];
        DetectorPsf::new(0.0).apply(&mut img, &mut tmp, pixels);
        assert_eq!(img, orig);
        // A point far from the edges keeps its total.
        let mut point = vec![0.0; 320];
        point[8 * 20 + 10] = 5.0;
        DetectorPsf::new(0.6).apply(&mut point, &mut tmp, pixels);
        assert!((point.iter().sum::<f64>() - 5.0).abs() < 1e-5);
    }
}
