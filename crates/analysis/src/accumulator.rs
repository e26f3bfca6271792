//! Per-pattern analysis as a mergeable accumulator (LiberTEM style).
//!
//! [`FrameContext::process_frame`] reduces one diffraction pattern to a few numbers per ring:
//! the annular mean, the normalised ring variance (raw and Poisson-corrected) and the angular
//! power spectrum. They are stored *per pattern* in a [`PartialStats`] covering a contiguous
//! range of scan positions; [`PartialStats::merge`] joins adjacent ranges. Because every stored
//! value depends only on its own pattern and the dataset sums are taken once, in scan order, by
//! [`PartialStats`]'s consumers, the result is bit-identical whatever the chunking, thread count
//! or merge tree — merge is exactly associative.
//!
//! # Poisson correction of one ring
//! A bin value `J_b = Σ_p W_pb I_p` is a weighted mean of pixel counts (see [`crate::polar`]).
//! Over the `N` bins with area, the expected sample variance `s² = ⟨J²⟩_φ − ⟨J⟩_φ²` exceeds that
//! of the noise-free bins by `(g/N) Σ_p (Σ_b W_pb² − (Σ_b W_pb)²/N) E[I_p]` (bins that share a
//! pixel have correlated noise, hence the second term); the same functional of the pattern's own
//! counts estimates it without bias ([`crate::polar::PolarPlan::apply_with_noise`]), so the
//! corrected normalised ring variance is `v = (s² − g·Σ_p c_p I_p)/⟨J⟩_φ²`, undefined (NaN) when
//! `⟨J⟩_φ = 0`. The derivation and the residual bias of the ratio are in [`crate::variance`].

use crate::correlation::{AngularSpectrum, SpectrumScratch};
use crate::polar::PolarPlan;
use crate::ring_fourier::RingFourierPlan;

/// The plan and settings shared (read-only) by every worker.
#[derive(Debug, Clone)]
pub struct FrameContext {
    plan: PolarPlan,
    ring_fourier: RingFourierPlan,
    spectrum: AngularSpectrum,
    n_harmonics: usize,
    gain: f64,
}

/// Per-worker buffers.
#[derive(Debug, Clone)]
pub struct FrameScratch {
    pattern: Vec<f32>,
    polar: Vec<f32>,
    ring: Vec<f64>,
    power: Vec<f64>,
    spectrum: SpectrumScratch,
    ring_values: Vec<f64>,
    mean_noise: Vec<f64>,
    spread_noise: Vec<f64>,
}

impl FrameContext {
    /// A context for `plan`, harmonics `0..=n_max`, gain `gain` (0 disables the correction).
    /// The plan's last ring is the analysis ring, also planned at full resolution
    /// ([`RingFourierPlan`], with the detector's charge-sharing taps `sharing`) with the same
    /// `excluded` pixels.
    ///
    /// # Panics
    /// If the plan has no ring.
    pub fn new(
        plan: PolarPlan,
        excluded: Option<&[bool]>,
        n_max: usize,
        gain: f64,
        sharing: &[f64],
    ) -> Self {
        let spectrum = AngularSpectrum::new(plan.n_azimuth());
        let ring = *plan.geometry().rings.last().expect("a plan with rings");
        let ring_fourier =
            RingFourierPlan::new(plan.geometry(), ring, n_max, gain, sharing, excluded);
        Self {
            plan,
            ring_fourier,
            spectrum,
            n_harmonics: n_max + 1,
            gain,
        }
    }

    /// The polar plan.
    pub fn plan(&self) -> &PolarPlan {
        &self.plan
    }
    /// The full-resolution plan of the analysis ring.
    pub fn ring_fourier(&self) -> &RingFourierPlan {
        &self.ring_fourier
    }
    /// Harmonics stored per ring (`n_max + 1`).
    pub fn n_harmonics(&self) -> usize {
        self.n_harmonics
    }
    /// Detector pixels per pattern.
    pub fn pattern_len(&self) -> usize {
        let [ny, nx] = self.plan.geometry().detector_shape;
        ny * nx
    }

    /// Fresh per-worker buffers.
    pub fn scratch(&self) -> FrameScratch {
        FrameScratch {
            pattern: Vec::with_capacity(self.pattern_len()),
            polar: vec![0.0; self.plan.n_rings() * self.plan.n_azimuth()],
            ring: vec![0.0; self.plan.n_azimuth()],
            power: vec![0.0; self.n_harmonics],
            spectrum: self.spectrum.scratch(),
            ring_values: Vec::with_capacity(self.ring_fourier.n_pixels()),
            mean_noise: vec![0.0; self.plan.n_rings()],
            spread_noise: vec![0.0; self.plan.n_rings()],
        }
    }

    /// An empty accumulator for scan positions `start..start + len`.
    pub fn partial(&self, start: usize, len: usize) -> PartialStats {
        let r = self.plan.n_rings();
        PartialStats {
            start,
            len,
            n_rings: r,
            n_harmonics: self.n_harmonics,
            annular_mean: vec![0.0; len * r],
            annular_mean_noise: vec![0.0; len * r],
            ring_variance: vec![0.0; len * r],
            ring_variance_raw: vec![0.0; len * r],
            spectra: vec![0.0; len * r * self.n_harmonics],
            ring_power: vec![0.0; len * self.n_harmonics],
            ring_noise_floor: vec![0.0; len],
            full_power: vec![0.0; len * self.n_harmonics],
            full_noise: vec![0.0; len * self.n_harmonics],
            full_i0: vec![0.0; len],
        }
    }

    /// Processes consecutive patterns (`patterns.len()` a multiple of the pattern length) into a
    /// new accumulator starting at scan position `start`.
    pub fn process_chunk(
        &self,
        start: usize,
        patterns: &[f32],
        scratch: &mut FrameScratch,
    ) -> PartialStats {
        let len = patterns.len() / self.pattern_len();
        let mut acc = self.partial(start, len);
        for (i, p) in patterns.chunks_exact(self.pattern_len()).enumerate() {
            self.process_frame(p, i, &mut acc, scratch);
        }
        acc
    }

    /// Analyses one pattern into slot `slot` of `acc`.
    pub fn process_frame(
        &self,
        pattern: &[f32],
        slot: usize,
        acc: &mut PartialStats,
        s: &mut FrameScratch,
    ) {
        // One sequential copy pulls the pattern into cache at full memory bandwidth; the
        // polar gather then reads it in bin order from cache instead of missing to DRAM.
        s.pattern.clear();
        s.pattern.extend_from_slice(pattern);
        self.plan.apply_with_noise(
            &s.pattern,
            &mut s.polar,
            &mut s.mean_noise,
            &mut s.spread_noise,
        );
        let h = self.n_harmonics;
        acc.full_i0[slot] = self.ring_fourier.spectrum(
            &s.pattern,
            &mut s.ring_values,
            &mut acc.full_power[slot * h..(slot + 1) * h],
            &mut acc.full_noise[slot * h..(slot + 1) * h],
        );
        let na = self.plan.n_azimuth();
        let r_count = self.plan.n_rings();
        let area = self.plan.bin_area();
        let neff = self.plan.bin_neff();
        let last = r_count - 1;
        for r in 0..r_count {
            let row = &s.polar[r * na..(r + 1) * na];
            let a_row = &area[r * na..(r + 1) * na];
            let n_row = &neff[r * na..(r + 1) * na];
            let (mut sw, mut swj, mut nv, mut sj, mut sj2) =
                (0.0f64, 0.0f64, 0usize, 0.0f64, 0.0f64);
            for b in 0..na {
                if a_row[b] > 0.0 {
                    let j = f64::from(row[b]);
                    sw += a_row[b];
                    swj += a_row[b] * j;
                    nv += 1;
                    sj += j;
                    sj2 += j * j;
                }
            }
            let idx = slot * r_count + r;
            acc.annular_mean[idx] = swj / sw;
            acc.annular_mean_noise[idx] = self.gain * s.mean_noise[r];
            let m = sj / nv as f64;
            let var = sj2 / nv as f64 - m * m;
            let noise = self.gain * s.spread_noise[r];
            let (raw, corr) = if m != 0.0 {
                (var / (m * m), (var - noise) / (m * m))
            } else {
                (0.0, f64::NAN)
            };
            acc.ring_variance_raw[idx] = raw;
            acc.ring_variance[idx] = corr;
            for b in 0..na {
                s.ring[b] = if a_row[b] > 0.0 { f64::from(row[b]) } else { m };
            }
            self.spectrum
                .power_with_scratch(&s.ring, &mut s.power, &mut s.spectrum);
            let base = idx * h;
            for (o, &p) in acc.spectra[base..base + h].iter_mut().zip(&s.power) {
                *o = p as f32;
            }
            if r == last {
                acc.ring_power[slot * h..(slot + 1) * h].copy_from_slice(&s.power);
                // Shot noise adds Σσ_b²/N² to every |I_n|², n ≠ 0 (σ_b² = g·J_b/n_b: the
                // uniform-bin floor of the binned P_n, see `PowerSpectrumResult::poisson_floor`).
                let snoise: f64 = (0..na)
                    .filter(|&b| a_row[b] > 0.0)
                    .map(|b| self.gain * f64::from(row[b]).max(0.0) / n_row[b])
                    .sum();
                acc.ring_noise_floor[slot] = if m != 0.0 {
                    snoise / ((na * na) as f64 * m * m)
                } else {
                    0.0
                };
            }
        }
    }
}

/// Per-pattern results for a contiguous range of scan positions (C order over the scan).
#[derive(Debug, Clone, PartialEq)]
pub struct PartialStats {
    start: usize,
    len: usize,
    n_rings: usize,
    n_harmonics: usize,
    /// Area-weighted annular mean per pattern and ring, `[len, n_rings]`.
    pub annular_mean: Vec<f64>,
    /// Estimated shot-noise variance of each annular mean, `g Σ_p U_p² I_p` (counts² per pixel²),
    /// `[len, n_rings]` (see [`crate::variance`]).
    pub annular_mean_noise: Vec<f64>,
    /// Exactly shot-noise-corrected normalised ring variance, `[len, n_rings]`; NaN where the
    /// ring's mean is 0 (undefined).
    pub ring_variance: Vec<f64>,
    /// Uncorrected normalised ring variance (= C_k(0)), `[len, n_rings]`.
    pub ring_variance_raw: Vec<f64>,
    /// P_n per pattern and ring, `[len, n_rings, n_harmonics]` (f32 to save memory).
    pub spectra: Vec<f32>,
    /// P_n at the analysis ring (the last ring) in full precision, `[len, n_harmonics]`.
    pub ring_power: Vec<f64>,
    /// Expected Poisson contribution to each P_n (n ≥ 1) at the analysis ring, `[len]`:
    /// `Σ_b σ_b² / (N² ⟨J⟩²)`.
    pub ring_noise_floor: Vec<f64>,
    /// Full-resolution, exactly shot-noise-corrected P_n at the analysis ring,
    /// `[len, n_harmonics]` ([`crate::ring_fourier`]); NaN where the ring holds no counts.
    pub full_power: Vec<f64>,
    /// The shot-noise power removed from each of those P_n, `[len, n_harmonics]`.
    pub full_noise: Vec<f64>,
    /// `I_0 = Σ w_p I_p` of the analysis ring at full resolution, `[len]`.
    pub full_i0: Vec<f64>,
}

/// Two accumulators that are not adjacent ranges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot merge scan range {first:?} with {second:?}: expected adjacent ranges")]
#[non_exhaustive]
pub struct MergeError {
    /// The first range.
    pub first: std::ops::Range<usize>,
    /// The second range.
    pub second: std::ops::Range<usize>,
}

impl PartialStats {
    /// First scan position covered.
    pub fn start(&self) -> usize {
        self.start
    }
    /// Number of scan positions covered.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether no position is covered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Rings per pattern.
    pub fn n_rings(&self) -> usize {
        self.n_rings
    }

    /// Statistics of `annular_mean.len() / n_rings` patterns with only the V(k) inputs set
    /// (`[patterns, n_rings]` each), for tests of [`crate::variance`].
    #[cfg(test)]
    pub(crate) fn for_variance(
        n_rings: usize,
        annular_mean: Vec<f64>,
        annular_mean_noise: Vec<f64>,
        ring_variance: Vec<f64>,
    ) -> Self {
        Self {
            start: 0,
            len: annular_mean.len() / n_rings,
            n_rings,
            n_harmonics: 0,
            ring_variance_raw: ring_variance.clone(),
            annular_mean,
            annular_mean_noise,
            ring_variance,
            spectra: Vec::new(),
            ring_power: Vec::new(),
            ring_noise_floor: Vec::new(),
            full_power: Vec::new(),
            full_noise: Vec::new(),
            full_i0: Vec::new(),
        }
    }
    /// Harmonics per ring.
    pub fn n_harmonics(&self) -> usize {
        self.n_harmonics
    }

    /// Joins `other`, which must cover the range right after `self` (or either may be empty).
    /// Exactly associative.
    pub fn merge(mut self, other: PartialStats) -> Result<PartialStats, MergeError> {
        if other.is_empty() {
            return Ok(self);
        }
        if self.is_empty() {
            return Ok(other);
        }
        if other.start != self.start + self.len
            || other.n_rings != self.n_rings
            || other.n_harmonics != self.n_harmonics
        {
            return Err(MergeError {
                first: self.start..self.start + self.len,
                second: other.start..other.start + other.len,
            });
        }
        self.len += other.len;
        self.annular_mean.extend(other.annular_mean);
        self.annular_mean_noise.extend(other.annular_mean_noise);
        self.ring_variance.extend(other.ring_variance);
        self.ring_variance_raw.extend(other.ring_variance_raw);
        self.spectra.extend(other.spectra);
        self.ring_power.extend(other.ring_power);
        self.ring_noise_floor.extend(other.ring_noise_floor);
        self.full_power.extend(other.full_power);
        self.full_noise.extend(other.full_noise);
        self.full_i0.extend(other.full_i0);
        Ok(self)
    }
}
