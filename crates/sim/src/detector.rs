//! The pixelated detector: dose, Poisson counting noise and gain.
//!
//! Convention: `electrons_per_pattern` is the number of electrons **incident** per probe
//! position. A pattern's intensities I(k) are normalised to an incident probe of total 1, so a
//! noise-free pattern holds `dose × gain × I(k)` counts per pixel and its total is dose × gain
//! times the fraction of the beam that reaches the detector (≤ 1 for every model: kinematic
//! and first-Born deplete the unscattered beam by what they scatter, `crate::propagation`).
//! With finite dose each pixel records gain × Poisson(dose × I(k)) electrons.
//!
//! The point-spread function ([`crate::psf`]) acts on what the sensor collects: electrons
//! arrive (Poisson, per pixel) and each one's charge is then shared with its neighbours, so
//! noisy patterns are PSF ⊛ Poisson counts (no longer integers, and with pixel-to-pixel
//! correlated noise, as on an integrating detector such as the EMPAD) and noise-free patterns
//! are PSF ⊛ I.

use mro_core::special::ln_gamma;
use rand::Rng;

use crate::psf::DetectorPsf;
use crate::spec::DetectorSpec;

/// Records intensities as float32 counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detector {
    /// Incident electrons per pattern (∞ = noise-free).
    pub electrons_per_pattern: f64,
    /// Counts per electron.
    pub gain: f64,
    /// Pixels `[y, x]` (the PSF needs the pattern's shape).
    pub pixels: [usize; 2],
    /// Charge sharing between pixels.
    pub psf: DetectorPsf,
}

impl Detector {
    /// From the scenario's detector section.
    pub fn from_spec(spec: &DetectorSpec) -> Self {
        Self {
            electrons_per_pattern: spec.electrons_per_pattern,
            gain: spec.gain,
            pixels: spec.pixels,
            psf: DetectorPsf::new(spec.psf_sigma_px),
        }
    }

    /// Whether patterns are noise-free.
    pub fn noise_free(&self) -> bool {
        self.electrons_per_pattern.is_infinite()
    }

    /// Converts intensities to counts. Noise-free patterns scale by dose × gain (gain alone when
    /// the dose is infinite: counts per incident beam); otherwise Poisson draws from `rng`. The
    /// PSF then spreads the collected charge (see the module docs).
    ///
    /// # Panics
    /// If `intensity` or `out` does not hold one value per detector pixel.
    pub fn record<R: Rng>(&self, intensity: &[f64], rng: &mut R, out: &mut [f32]) {
        let n = self.pixels[0] * self.pixels[1];
        assert!(
            intensity.len() == n && out.len() == n,
            "one value per detector pixel"
        );
        let collected = |i: f64, rng: &mut R| {
            if self.noise_free() {
                i
            } else {
                poisson(rng, self.electrons_per_pattern * i.max(0.0))
            }
        };
        if self.psf.is_identity() {
            for (o, &i) in out.iter_mut().zip(intensity) {
                *o = (self.gain * collected(i, rng)) as f32;
            }
        } else {
            let mut img: Vec<f64> = intensity.iter().map(|&i| collected(i, rng)).collect();
            let mut tmp = vec![0.0; n];
            self.psf.apply(&mut img, &mut tmp, self.pixels);
            for (o, &c) in out.iter_mut().zip(&img) {
                *o = (self.gain * c) as f32;
            }
        }
    }
}

/// One Poisson draw with mean `lambda`: inversion by sequential search below 10, Hörmann's PTRS
/// transformed rejection (1993) above.
pub fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 0.0;
    }
    if lambda < 10.0 {
        // Inversion by sequential search: one uniform draw.
        let u: f64 = rng.gen();
        let mut p = (-lambda).exp();
        let mut cdf = p;
        let mut k = 0.0;
        while u > cdf && p > 0.0 {
            k += 1.0;
            p *= lambda / k;
            cdf += p;
        }
        return k;
    }
    let slam = lambda.sqrt();
    let loglam = lambda.ln();
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = rng.gen::<f64>() - 0.5;
        let v: f64 = rng.gen();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln()
            <= -lambda + k * loglam - ln_gamma(k + 1.0)
        {
            return k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mro_core::Seeds;

    #[test]
    fn poisson_mean_and_variance() {
        let mut rng = Seeds::new(7).stream("noise");
        for lambda in [0.3, 4.0, 25.0, 1000.0] {
            let n = 200_000;
            let draws: Vec<f64> = (0..n).map(|_| poisson(&mut rng, lambda)).collect();
            let mean = draws.iter().sum::<f64>() / n as f64;
            let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            // Standard errors: √(λ/n) for the mean, ≈ λ√(2/n) for the variance.
            assert!(
                (mean - lambda).abs() < 5.0 * (lambda / n as f64).sqrt(),
                "λ={lambda} mean {mean}"
            );
            assert!(
                (var - lambda).abs() < 5.0 * lambda * (2.0 / n as f64).sqrt() + 0.01,
                "λ={lambda} var {var}"
            );
            assert!(draws.iter().all(|d| *d >= 0.0 && d.fract() == 0.0));
        }
    }

    #[test]
    fn doses_and_gain() {
        let det = Detector {
            electrons_per_pattern: 1e5,
            gain: 2.5,
            pixels: [10, 100],
            psf: DetectorPsf::new(0.0),
        };
        let intensity: Vec<f64> = (0..1000)
            .map(|i| if i % 2 == 0 { 1e-3 } else { 1e-4 })
            .collect();
        let total_i: f64 = intensity.iter().sum();
        let mut out = vec![0f32; 1000];
        det.record(&intensity, &mut Seeds::new(1).stream("noise"), &mut out);
        let total: f64 = out.iter().map(|&c| f64::from(c)).sum();
        let expect = 1e5 * 2.5 * total_i;
        // Poisson total: sd = gain·√(dose·ΣI).
        assert!(
            (total - expect).abs() < 5.0 * 2.5 * (1e5 * total_i).sqrt(),
            "{total} vs {expect}"
        );
        assert!(out.iter().all(|&c| (f64::from(c) / 2.5).fract() == 0.0));
        let free = Detector {
            electrons_per_pattern: f64::INFINITY,
            gain: 3.0,
            ..det
        };
        free.record(&intensity, &mut Seeds::new(1).stream("noise"), &mut out);
        assert!((out[0] - 3e-3).abs() < 1e-9);
    }
}
