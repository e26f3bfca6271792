//! Angular correlation and its power spectrum along a ring.
//!
//! For ring values `J_b`, `b = 0..N`, sampled at `φ_b = b·2π/N`, the Fourier coefficients are
//! `I_n = (1/N) Σ_b J_b e^{−2πi n b/N}` (so `I_0` is the ring mean) and the power spectrum is
//! **`P_n = |I_n|²/|I_0|²`**. By Wiener–Khinchin this is the n-th Fourier coefficient of the
//! Wochner correlation `C(Δ) = (⟨J(θ)J(θ+Δ)⟩_θ − ⟨J⟩²)/⟨J⟩² = Σ_{n≠0} P_n e^{inΔ}`, and by
//! Parseval `C(0) = Σ_{n≠0} P_n = ⟨J²⟩/⟨J⟩² − 1`, the ring's normalised variance. `P_0 = 1`.
//! The FFT is planned once per ring length and shared.

use std::sync::Arc;

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

/// A planned angular power spectrum for rings of `n_azimuth` samples.
#[derive(Clone)]
pub struct AngularSpectrum {
    fft: Arc<dyn Fft<f64>>,
    n: usize,
}

impl std::fmt::Debug for AngularSpectrum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AngularSpectrum")
            .field("n_azimuth", &self.n)
            .finish()
    }
}

/// Reusable buffers for [`AngularSpectrum::power_with_scratch`].
#[derive(Debug, Clone, Default)]
pub struct SpectrumScratch {
    buf: Vec<Complex64>,
    scratch: Vec<Complex64>,
}

impl AngularSpectrum {
    /// Plans the FFT for rings of `n_azimuth` samples.
    pub fn new(n_azimuth: usize) -> Self {
        let fft = FftPlanner::new().plan_fft_forward(n_azimuth);
        Self { fft, n: n_azimuth }
    }

    /// Ring length.
    pub fn n_azimuth(&self) -> usize {
        self.n
    }

    /// Fresh scratch buffers sized for this plan.
    pub fn scratch(&self) -> SpectrumScratch {
        SpectrumScratch {
            buf: vec![Complex64::default(); self.n],
            scratch: vec![Complex64::default(); self.fft.get_inplace_scratch_len()],
        }
    }

    /// Writes `P_n` for `n = 0..out.len()` of `ring` into `out`. A ring with zero mean gives
    /// zeros.
    ///
    /// # Panics
    /// If `ring.len()` differs from the planned length or `out.len() > ring.len()`.
    pub fn power_with_scratch(&self, ring: &[f64], out: &mut [f64], s: &mut SpectrumScratch) {
        assert_eq!(ring.len(), self.n, "ring length");
        assert!(out.len() <= self.n, "more harmonics than samples");
        s.buf.clear();
        s.buf.extend(ring.iter().map(|&v| Complex64::new(v, 0.0)));
        s.scratch
            .resize(self.fft.get_inplace_scratch_len(), Complex64::default());
        self.fft.process_with_scratch(&mut s.buf, &mut s.scratch);
        let i0 = s.buf[0].norm_sqr();
        for (n, o) in out.iter_mut().enumerate() {
            *o = if i0 > 0.0 {
                s.buf[n].norm_sqr() / i0
            } else {
                0.0
            };
        }
    }

    /// `P_n` for `n = 0..=n_max`.
    pub fn power(&self, ring: &[f64], n_max: usize) -> Vec<f64> {
        let mut out = vec![0.0; n_max + 1];
        self.power_with_scratch(ring, &mut out, &mut self.scratch());
        out
    }

    /// The full spectrum `P_n` for `n = 0..N` (negative frequencies at `N − |n|`).
    pub fn full_power(&self, ring: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.n];
        self.power_with_scratch(ring, &mut out, &mut self.scratch());
        out
    }
}

/// The Wochner angular correlation `C(Δ_m)`, `Δ_m = m·2π/N`, of one ring, computed from its
/// definition (`O(N²)`).
pub fn angular_correlation(ring: &[f64]) -> Vec<f64> {
    let n = ring.len();
    let mean = ring.iter().sum::<f64>() / n as f64;
    (0..n)
        .map(|m| {
            let c = (0..n).map(|t| ring[t] * ring[(t + m) % n]).sum::<f64>() / n as f64;
            (c - mean * mean) / (mean * mean)
        })
        .collect()
}

/// Ratio of summed odd-n to summed even-n (n ≥ 2) power in `p` (`p[n]`, `n = 0..`).
pub fn odd_even_ratio(p: &[f64]) -> f64 {
    let odd: f64 = p.iter().skip(1).step_by(2).sum();
    let even: f64 = p.iter().skip(2).step_by(2).sum();
    if even > 0.0 {
        odd / even
    } else {
        f64::NAN
    }
}
