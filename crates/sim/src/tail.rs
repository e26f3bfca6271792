//! The probe's tail as a smooth background (`[model] probe_tail_background`, on by default;
//! [`crate::spec::ModelSpec::probe_tail_background`]).
//!
//! A hard-aperture probe's intensity falls only as 1/r³, so a share of it lies farther than
//! L/2 from its centre (2.8 % of a 300 kV, 1.15 mrad probe at the default L = 12.5 nm:
//! [`crate::propagation::probe_tail_fraction`]). The window's area-sampled probe is the
//! continuous probe times sinc(x/L)·sinc(y/L): it drops that share and damps the tail inside
//! the window as well, and normalised to unit flux its core is brighter than the continuous
//! probe's by the share it lost, 1/(1 − f) with f = 1 − Σw²/Σw (w the aperture weights,
//! [`crate::propagation::DiffractionPlan::tail_background_fraction`]): 4.95 % at m = 2, 2.0 %
//! at m = 4. So the window's pattern is that of a probe a little too compact, and its angular
//! fluctuations (P_n, V_Ω) are too strong: they fall by about 5 % from m = 2 to m = 4
//! (`reports/convergence.md`).
//!
//! What the missing tail scatters comes from atoms far from the probe's core, spread over an
//! area whose speckle is far finer than a detector pixel: it reaches each pixel as the glass's
//! mean pattern, the same for every probe position and without angular structure (the
//! incoherent sum of many independent speckle fields). So the pattern is taken as
//!
//! `I'(k) = (1 − f)·I(k) + f·B(|k|)`
//!
//! with I the window's pattern and B the mean pattern of the scan's first row (noise-free,
//! before the detector), averaged over rings one detector pixel wide about the pattern centre:
//! the core at the continuous probe's brightness, the lost intensity as a background. This
//! keeps the flux and each pattern's Friedel symmetry and lowers the angular fluctuations by
//! (1 − f)². *Measured* (`reports/convergence.md`, "Pixel quadrature and the tail's weight";
//! 48 positions of a 26 nm glass, noise-free, P_n at 4 nm⁻¹ from 360 azimuths, with the
//! pixels integrated by Simpson's rule): the m = 2 → 4 change of the even P_n (n ≤ 10) is
//! 0.3–1.1 % (multislice, 5–40 nm) and 0.5–1.2 % (kinematic, 20 nm), where without the
//! background it is 4.3–5.3 %. The Airy share beyond L/2 as f (the weight before 2026-12-02,
//! evening) left 1.3–2.3 % (too little weight), this f with the trapezoid rule +0.7–2.3 % (too much: the trapezoid rule's
//! own error, which Simpson's rule removes).
//!
//! Limitation, named: inside the bright-field disk B holds the disk too, so the unscattered
//! beam keeps the window's shape there: pixels wholly inside the disk read 1/(1 − f) of the
//! incident intensity per pixel (+5.2 % at m = 2, +2 % at m = 4) and the pixels on its rim
//! correspondingly less (0.90–0.94), the disk's total being right (a fresh reviewer's
//! measurement of one Zr atom, 2026-12-03). No analysis reads the disk (V(k) starts at
//! 2 nm⁻¹, the P_n ring is at 4 nm⁻¹); the disk's edge is also what reads −17 % in the
//! 0.5–1 nm⁻¹ band against abTEM's point-sampled aperture (`reports/xcheck-abtem.md`).
//!
//! Shortcut, named: B comes from the first scan row only (the patterns are streamed row by row
//! and noise is drawn as each is recorded); a scan of a few positions gets a B as speckled as
//! its own patterns, which matters little beside the weight f.

/// The background term of one simulation: the tail share f and, once learnt, B per pixel.
#[derive(Debug, Clone)]
pub struct TailBackground {
    fraction: f64,
    ring_of_pixel: Vec<usize>,
    rings: usize,
    background: Option<Vec<f64>>,
}

impl TailBackground {
    /// The background for a tail share `fraction` (f, in [0, 1)) on a detector of `pixels`
    /// `[rows, cols]` whose pattern centre is `center_px` `[row, col]`.
    ///
    /// # Panics
    /// If `fraction` is not in [0, 1).
    pub fn new(fraction: f64, pixels: [usize; 2], center_px: [f64; 2]) -> Self {
        assert!((0.0..1.0).contains(&fraction), "tail share {fraction}");
        let ring_of_pixel: Vec<usize> = (0..pixels[0] * pixels[1])
            .map(|i| {
                let (y, x) = ((i / pixels[1]) as f64, (i % pixels[1]) as f64);
                (y - center_px[0]).hypot(x - center_px[1]).round() as usize
            })
            .collect();
        let rings = ring_of_pixel.iter().max().map_or(0, |r| r + 1);
        Self {
            fraction,
            ring_of_pixel,
            rings,
            background: None,
        }
    }

    /// Whether [`TailBackground::learn`] is still to be called before [`TailBackground::apply`].
    pub fn needs_learning(&self) -> bool {
        self.background.is_none()
    }

    /// Sets B from `patterns` (one or more noise-free patterns, `[pattern][pixel]` flattened):
    /// their mean, averaged over each ring.
    ///
    /// # Panics
    /// If `patterns` is empty or not a whole number of patterns.
    pub fn learn(&mut self, patterns: &[f64]) {
        let n = self.ring_of_pixel.len();
        assert!(
            !patterns.is_empty() && patterns.len() % n == 0,
            "whole patterns"
        );
        let mut sum = vec![0f64; self.rings];
        let mut count = vec![0usize; self.rings];
        for pattern in patterns.chunks_exact(n) {
            for (&r, &v) in self.ring_of_pixel.iter().zip(pattern) {
                sum[r] += v;
                count[r] += 1;
            }
        }
        let mean: Vec<f64> = sum
            .iter()
            .zip(&count)
            .map(|(s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
            .collect();
        self.background = Some(self.ring_of_pixel.iter().map(|&r| mean[r]).collect());
    }

    /// Replaces `intensity` (one pattern) by (1 − f)·I + f·B.
    ///
    /// # Panics
    /// Before [`TailBackground::learn`], or if `intensity` is not one pattern.
    pub fn apply(&self, intensity: &mut [f64]) {
        let b = self.background.as_ref().expect("learn before apply");
        assert_eq!(intensity.len(), b.len(), "one pattern");
        let f = self.fraction;
        for (i, &bg) in intensity.iter_mut().zip(b) {
            *i = (1.0 - f) * *i + f * bg;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 9 × 9 pattern with centre (4, 4): an anisotropic ring plus a constant.
    fn pattern(phase: f64) -> Vec<f64> {
        (0..81)
            .map(|i| {
                let (y, x) = ((i / 9) as f64 - 4.0, (i % 9) as f64 - 4.0);
                1.0 + (2.0 * y.atan2(x) + phase).cos().powi(2) * (y * y + x * x).sqrt()
            })
            .collect()
    }

    #[test]
    fn keeps_the_flux_and_scales_the_angular_part() {
        let (a, b) = (pattern(0.0), pattern(1.0));
        let mut tail = TailBackground::new(0.1, [9, 9], [4.0, 4.0]);
        assert!(tail.needs_learning());
        tail.learn(&[a.clone(), b.clone()].concat());
        let mut out = a.clone();
        tail.apply(&mut out);
        // Ring averages of the learnt patterns are kept: the flux of their mean is unchanged.
        let mut mean_out = a
            .iter()
            .zip(&b)
            .map(|(x, y)| 0.5 * (x + y))
            .collect::<Vec<_>>();
        tail.apply(&mut mean_out);
        let total = |v: &[f64]| v.iter().sum::<f64>();
        let mean_in: Vec<f64> = a.iter().zip(&b).map(|(x, y)| 0.5 * (x + y)).collect();
        approx::assert_relative_eq!(total(&mean_out), total(&mean_in), max_relative = 1e-12);
        // Within one ring, deviations from the ring mean shrink by exactly 1 − f.
        let ring: Vec<usize> = (0..81).filter(|&i| tail.ring_of_pixel[i] == 3).collect();
        let avg = |v: &[f64]| ring.iter().map(|&i| v[i]).sum::<f64>() / ring.len() as f64;
        let (ma, mo) = (avg(&a), avg(&out));
        for &i in &ring {
            approx::assert_relative_eq!(out[i] - mo, 0.9 * (a[i] - ma), epsilon = 1e-12);
        }
    }

    #[test]
    fn a_point_symmetric_pattern_stays_point_symmetric() {
        let a = pattern(0.3);
        let mut tail = TailBackground::new(0.05, [9, 9], [4.0, 4.0]);
        tail.learn(&pattern(2.0));
        let mut out = a.clone();
        tail.apply(&mut out);
        for i in 0..81 {
            let (y, x) = (i / 9, i % 9);
            let j = (8 - y) * 9 + (8 - x);
            approx::assert_relative_eq!(out[i], out[j], epsilon = 1e-12);
        }
    }
}
