//! Propagation models behind one trait, and the plan they share.
//!
//! Every probe position works in an N×N **window** cropped from a precomputed [`Field`]. The
//! window is L = m/Δk wide, m = `[model] window_oversampling` (Δk the detector pixel), so each
//! detector pixel spans m × m reciprocal pixels of the window and its value is their
//! intensities summed with area weights (the pixel integral, [`DetectorSampling`]); N is set by
//! the band limit k_bl of the potential (`[model] band_limit_per_nm`, never below the detector
//! edge), not by the detector: N·Δk/m ≥ 3·k_bl for multislice (the ⅔ rule), see
//! [`DiffractionPlan::for_model`]. The window is periodic, so the hard-aperture probe's tails
//! beyond L/2 ([`probe_tail_fraction`] of its intensity: 5.7 % at m = 1, 2.8 % at m = 2 for
//! 1.15 mrad, 300 kV and 0.16 nm⁻¹ pixels) would wrap around; the area-sampled aperture tapers
//! them away, and `[model] probe_tail_background` ([`crate::tail`]) adds what they scatter back
//! as a background. m = 1 samples each pixel at its centre.
//!
//! Discrete conventions: probe spectra are normalised to Σ_k|Ψ|² = 1 and real-space waves to
//! Σ_r|ψ|² = 1, with Ψ = DFT(ψ)/√N² (unitary). Patterns are intensities |Ψ(k)|² per detector
//! pixel, so an unscattered probe gives total 1.
//!
//! The models ([`Kinematic`], [`Born`], [`Multislice`]) share a [`DiffractionPlan`] (FFT plans
//! from one planner, probe aperture, propagator, band limit, detector mapping), held by `Arc`
//! and used from many threads, each with its own [`Scratch`].

mod born;
mod kinematic;
mod multislice;

pub use born::{Born, PROBE_REFRESH_NM};
pub use kinematic::Kinematic;
pub use multislice::Multislice;

use std::ops::Range;
use std::sync::Arc;

use mro_core::optics::interaction_constant_rad_per_v_nm;
use mro_core::special::bessel_j;
use rustfft::num_complex::{Complex32, Complex64};
use rustfft::FftPlanner;

use crate::fft2::{next_fast_even_len, signed_index_ranges, transpose_rows, Fft2Plan};
use crate::potential::{Field, FieldKind, Slicing};
use crate::probe::{ProbeSpec, ProbeSpectrum};
use crate::spec::{DetectorSpec, MicroscopeSpec, ModelKind, ModelSpec};

/// Window rows worked on together while they are in cache (16 rows of 576–768 points: 72–96
/// KiB, with as much of the field slice beside them).
const ROWS_PER_CHUNK: usize = 16;

/// Where a window sits in a field and where the probe sits in the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowPlacement {
    /// Field pixel `[y, x]` of the window's pixel (0, 0).
    pub origin_px: [usize; 2],
    /// Probe centre `[y, x]` in nm from the window's pixel (0, 0).
    pub center_nm: [f64; 2],
}

/// A propagation model: turns the field under one window into a diffraction pattern.
///
/// Implementations are stateless apart from their shared [`DiffractionPlan`], so one value
/// serves every thread.
pub trait Propagation: Send + Sync {
    /// The field this model reads.
    fn field_kind(&self) -> FieldKind;

    /// The plan.
    fn plan(&self) -> &DiffractionPlan;

    /// Writes |Ψ(k)|² for every detector pixel (`[det_y][det_x]`, incident intensity 1) into
    /// `out`.
    ///
    /// # Panics
    /// If the window does not fit in the field, the field is of the wrong kind, or `out` does
    /// not have one entry per detector pixel.
    fn pattern(&self, field: &Field, at: WindowPlacement, scratch: &mut Scratch, out: &mut [f64]);
}

/// The model `spec` names, sharing `plan` (made for `spec`).
pub fn model(spec: &ModelSpec, plan: Arc<DiffractionPlan>) -> Box<dyn Propagation> {
    match spec.kind {
        ModelKind::Kinematic => Box::new(Kinematic::new(plan, spec.absorb_beyond_band_limit)),
        ModelKind::Born => Box::new(Born::new(plan, spec.absorb_beyond_band_limit)),
        ModelKind::Multislice => Box::new(Multislice::new(plan, spec.absorb_beyond_band_limit)),
    }
}

/// Everything a probe position needs that does not depend on the position: plan once,
/// execute many.
#[derive(Debug)]
pub struct DiffractionPlan {
    n: usize,
    /// Reciprocal pixel of the window, Δk/m in nm⁻¹.
    dk_per_nm: f64,
    /// Window pixels per detector pixel along each axis, m.
    oversampling: usize,
    fft: Fft2Plan,
    probe: ProbeSpectrum,
    probe_rows: Vec<usize>,
    /// Detector sample of each aperture pixel (if on the detector).
    probe_sample: Vec<Option<usize>>,
    /// Born depth phase per slice e^{iπλk²Δz} in the transposed spectrum layout (all pixels),
    /// and per half slice per detector sample.
    born_step_t: Vec<Complex32>,
    born_half_step: Vec<Complex64>,
    sigma_rad_per_v_nm: f64,
    slicing: Slicing,
    sampling: DetectorSampling,
    band_rows: [Range<usize>; 2],
    /// Fresnel propagator over one slice, band-limited (sharp cut at k_bl) and carrying 1/N²,
    /// transposed layout.
    propagator: Vec<Complex32>,
    /// Band limit of the potential for this model, nm⁻¹.
    potential_band_limit: f64,
}

/// The window's reciprocal pixels a detector integrates, and how.
///
/// Detector pixel i (of D along an axis, centre c = D/2) covers k ∈ [(i − c − ½)Δk,
/// (i − c + ½)Δk]; the window's reciprocal pixel s (signed, at k = sΔk/m) covers
/// [(s − ½)Δk/m, (s + ½)Δk/m]. A pixel's value is Σ_s w_y·w_x·|Ψ(s)|², a quadrature of the
/// pixel integral ∫|Ψ(k)|²d²k from the samples at spacing Δk/m:
///
/// - odd m: the m-point midpoint rule (w = 1; m = 1 takes each pixel's centre sample);
/// - even m: the samples on the pixel's two edges (shared with the neighbours) and m − 1
///   inside, weighted by composite Simpson's rule, (1, 4, 2, 4, …, 4, 1)/3 along each axis.
///
/// Simpson's rule, not the trapezoid rule (½, 1, …, 1, ½), because a pixel integral is a
/// coherence filter: it weights the interference of two points of the exit wave a distance d
/// apart by the pixel's transfer function sinc(Δk·d) along each axis. Simpson's rule has the
/// box's second moment, 1/12 Δk² (its transfer matches sinc to O(d²), enough for a probe much
/// smaller than the window; it stays above 1/3 farther out, where sinc falls to 0); the
/// trapezoid rule's is 1/8 at m = 2, so it averages the speckle of points about a nanometre
/// apart too strongly, and P_n rises by about 0.7 % from m = 2 to m = 4 on that account alone
/// (`reports/convergence.md`, "Pixel quadrature and the tail's weight"). Simpson's rule
/// assumes a smooth pattern and, its weights alternating, conserves the flux only where the
/// pattern is smooth on the scale of a sample: the bright-field disk's edge is not (0.3 % of
/// an empty foil's flux at m = 2). So the pixels the aperture disk reaches (centre within
/// α/λ + 1.5 Δk) keep the trapezoid rule, which conserves the flux sample by sample: the
/// detector's total is the window's total over the same area wherever the disk is.
#[derive(Debug, Clone)]
struct DetectorSampling {
    /// Samples `[y, x]` along each axis.
    shape: [usize; 2],
    /// Detector pixels `[y, x]`.
    pixels: [usize; 2],
    /// Transposed-spectrum index (kx·N + ky) of each sample, `[y][x]` order.
    index: Vec<usize>,
    /// |k|² of each sample in nm⁻².
    k2: Vec<f64>,
    /// Transposed-spectrum rows (kx) holding samples.
    rows: [Range<usize>; 2],
    /// Signed window index of sample 0 along each axis `[y, x]`.
    first: [isize; 2],
    /// Per axis `[y, x]`: `(sample, detector pixel, weight)`.
    bins: [Vec<(usize, usize, f64)>; 2],
    /// At even m, the pixels the aperture disk reaches, each with its trapezoid-rule taps
    /// `(sample, weight)`.
    disk_pixels: Vec<(usize, Vec<(usize, f64)>)>,
}

impl DetectorSampling {
    /// For an n × n window with reciprocal pixel `dk_window` (nm⁻¹), m window pixels per
    /// detector pixel and the aperture disk of radius `aperture_per_nm`.
    fn new(n: usize, pixels: [usize; 2], m: usize, dk_window: f64, aperture_per_nm: f64) -> Self {
        let axis = |d: usize| {
            let (c, m) = (d as isize / 2, m as isize);
            let half = m as f64 / 2.0;
            let mut taps = Vec::new();
            for i in 0..d as isize {
                let centre = (i - c) * m;
                for s in centre - m / 2 - 1..=centre + m / 2 + 1 {
                    let (lo, hi) = (s as f64 - 0.5, s as f64 + 0.5);
                    // The share of s's cell inside the pixel: 1, or ½ on an edge (even m).
                    let share = hi.min(centre as f64 + half) - lo.max(centre as f64 - half);
                    if share > 1e-9 {
                        let w = if m % 2 == 1 {
                            share
                        } else {
                            // o = 0 … m from the pixel's lower edge.
                            match s - centre + m / 2 {
                                o if o == 0 || o == m => 1.0 / 3.0,
                                o if o % 2 == 1 => 4.0 / 3.0,
                                _ => 2.0 / 3.0,
                            }
                        };
                        taps.push((s, i as usize, w, share));
                    }
                }
            }
            let first = taps.iter().map(|t| t.0).min().unwrap_or(0);
            let last = taps.iter().map(|t| t.0).max().unwrap_or(0);
            let len = (last - first + 1) as usize;
            let at = |s: isize| (s - first) as usize;
            let rule: Vec<(usize, usize, f64)> =
                taps.iter().map(|&(s, i, w, _)| (at(s), i, w)).collect();
            let trapezoid: Vec<(usize, usize, f64)> = taps
                .iter()
                .map(|&(s, i, _, share)| (at(s), i, share))
                .collect();
            (first, len, rule, trapezoid)
        };
        let (fy, sy, by, ty) = axis(pixels[0]);
        let (fx, sx, bx, tx) = axis(pixels[1]);
        assert!(sy <= n && sx <= n, "detector samples exceed the window");
        let wrap = |s: isize| s.rem_euclid(n as isize) as usize;
        let mut index = Vec::with_capacity(sy * sx);
        let mut k2 = Vec::with_capacity(sy * sx);
        for a in 0..sy as isize {
            for b in 0..sx as isize {
                index.push(wrap(fx + b) * n + wrap(fy + a));
                let (ky, kx) = ((fy + a) as f64 * dk_window, (fx + b) as f64 * dk_window);
                k2.push(kx * kx + ky * ky);
            }
        }
        let rows = signed_index_ranges(n, (-fx) as usize, (fx + sx as isize) as usize);
        // Even m: the trapezoid rule for the pixels within α/λ + 1.5 Δk of the centre.
        let dk = m as f64 * dk_window;
        let reach = aperture_per_nm / dk + 1.5;
        let (cy, cx) = ((pixels[0] / 2) as f64, (pixels[1] / 2) as f64);
        let mut disk_pixels = Vec::new();
        if m % 2 == 0 {
            for i in 0..pixels[0] {
                for j in 0..pixels[1] {
                    if (i as f64 - cy).hypot(j as f64 - cx) > reach {
                        continue;
                    }
                    let mut taps = Vec::new();
                    for &(a, _, wy) in ty.iter().filter(|t| t.1 == i) {
                        for &(b, _, wx) in tx.iter().filter(|t| t.1 == j) {
                            taps.push((a * sx + b, wy * wx));
                        }
                    }
                    disk_pixels.push((i * pixels[1] + j, taps));
                }
            }
        }
        Self {
            shape: [sy, sx],
            pixels,
            index,
            k2,
            rows,
            first: [fy, fx],
            bins: [by, bx],
            disk_pixels,
        }
    }

    fn len(&self) -> usize {
        self.shape[0] * self.shape[1]
    }

    /// Sample of the window pixel at signed indices `[y, x]`, if on the detector.
    fn sample_at(&self, signed: [isize; 2]) -> Option<usize> {
        let a = signed[0] - self.first[0];
        let b = signed[1] - self.first[1];
        ((0..self.shape[0] as isize).contains(&a) && (0..self.shape[1] as isize).contains(&b))
            .then(|| a as usize * self.shape[1] + b as usize)
    }

    /// Integrates the sample intensities `samples` (`[y][x]`) over the detector pixels into
    /// `out` (`[det_y][det_x]`), using `rows` (`shape[0] × det_x`) as scratch: every pixel by
    /// the separable rule, then the pixels the aperture disk reaches overwritten by their
    /// trapezoid-rule integrals (even m).
    fn bin(&self, samples: &[f64], rows: &mut [f64], out: &mut [f64]) {
        let [sy, sx] = self.shape;
        let dx = self.pixels[1];
        debug_assert_eq!(out.len(), self.pixels[0] * dx);
        rows.fill(0.0);
        for a in 0..sy {
            let (src, dst) = (&samples[a * sx..][..sx], &mut rows[a * dx..][..dx]);
            for &(b, j, w) in &self.bins[1] {
                dst[j] += w * src[b];
            }
        }
        out.fill(0.0);
        for &(a, i, w) in &self.bins[0] {
            for (o, r) in out[i * dx..][..dx].iter_mut().zip(&rows[a * dx..][..dx]) {
                *o += w * r;
            }
        }
        for (p, taps) in &self.disk_pixels {
            out[*p] = taps.iter().map(|&(s, w)| w * samples[s]).sum();
        }
    }
}

/// Fraction of an aberration-free hard-aperture probe's intensity farther than `radius_nm`
/// from its centre: J₀²(v) + J₁²(v) with v = 2π·(α/λ)·r, the complement of the Airy pattern's
/// encircled energy (Born & Wolf, *Principles of Optics*, 7th ed., §8.5.2, eq. 18, Rayleigh).
/// For large v it is ≈ 2/(πv): the tails fall only as 1/r. With r = L/2 it bounds what a
/// periodic window of side L folds back onto itself (the square holds a little more than its
/// inscribed circle).
pub fn probe_tail_fraction(aperture_per_nm: f64, radius_nm: f64) -> f64 {
    let v = 2.0 * std::f64::consts::PI * aperture_per_nm * radius_nm;
    bessel_j(0, v).powi(2) + bessel_j(1, v).powi(2)
}

/// Radius in nm of a defocused probe's geometric disc (the aperture's shadow), α·|Δf|.
pub fn defocus_disc_radius_nm(microscope: &MicroscopeSpec) -> f64 {
    microscope.semiangle_mrad * 1e-3 * microscope.defocus_nm.abs()
}

/// Estimated fraction of `microscope`'s probe intensity farther than `radius_nm` from its
/// centre: the larger of the in-focus Airy tail ([`probe_tail_fraction`]) and the geometric
/// (ray-optics) share beyond the radius: a ray through the aperture at angle θ lands at
/// |C_s·θ³ − Δf·θ| (the gradient of χ, [`crate::probe`]), the aperture filled uniformly — for
/// C_s = 0 the uniform disc of radius α·|Δf|, 1 − (r/(α|Δf|))². With a focal spread the share
/// is averaged over its defocus nodes ([`crate::coherence`]). The source size is not counted
/// (the window holds one probe position; the source spreads positions).
pub fn probe_tail_estimate(microscope: &MicroscopeSpec, radius_nm: f64) -> f64 {
    let aperture_per_nm = mro_core::optics::ProbeOptics {
        voltage_kv: microscope.voltage_kv,
        semiangle_mrad: microscope.semiangle_mrad,
    }
    .aperture_radius_per_nm();
    let airy = probe_tail_fraction(aperture_per_nm, radius_nm);
    let alpha = microscope.semiangle_mrad * 1e-3;
    let cs_nm = microscope.cs_mm * 1e6;
    let geometric: f64 = crate::coherence::PartialCoherence::from_microscope(microscope)
        .defocus
        .iter()
        .map(|&(offset, w)| {
            w * geometric_share_beyond(microscope.defocus_nm + offset, cs_nm, alpha, radius_nm)
        })
        .sum();
    airy.max(geometric)
}

/// Radius in nm that spherical aberration alone throws the aperture's edge ray to, C_s·α³.
pub fn aberration_radius_nm(microscope: &MicroscopeSpec) -> f64 {
    microscope.cs_mm * 1e6 * (microscope.semiangle_mrad * 1e-3).powi(3)
}

/// Share of a uniformly filled aperture of semiangle `alpha` (rad) whose rays land farther
/// than `radius_nm` from the axis at defocus `defocus_nm` with spherical aberration `cs_nm`:
/// exactly 1 − (r/(α|Δf|))² (when positive) without C_s, else by sampling (θ/α)², uniform in
/// the aperture's area, at 4096 points.
fn geometric_share_beyond(defocus_nm: f64, cs_nm: f64, alpha: f64, radius_nm: f64) -> f64 {
    if cs_nm == 0.0 {
        let disc_nm = alpha * defocus_nm.abs();
        return if disc_nm > radius_nm {
            1.0 - (radius_nm / disc_nm).powi(2)
        } else {
            0.0
        };
    }
    const SAMPLES: usize = 4096;
    let beyond = (0..SAMPLES)
        .filter(|&i| {
            let theta = alpha * ((i as f64 + 0.5) / SAMPLES as f64).sqrt();
            (cs_nm * theta.powi(3) - defocus_nm * theta).abs() > radius_nm
        })
        .count();
    beyond as f64 / SAMPLES as f64
}

impl DiffractionPlan {
    /// Plans multislice windows with the band limit at the detector edge (the smallest
    /// allowed), one window pixel per detector pixel and the area-sampled aperture; see
    /// [`DiffractionPlan::for_model`].
    pub fn new(microscope: &MicroscopeSpec, detector: &DetectorSpec, slicing: Slicing) -> Self {
        let model = ModelSpec {
            kind: ModelKind::Multislice,
            band_limit_per_nm: Some(detector_edge_per_nm(detector)),
            window_oversampling: 1,
            ..ModelSpec::default()
        };
        Self::for_model(&model, microscope, detector, slicing)
    }

    /// Plans windows for `model.kind` with the potential (and, for multislice, the wave) cut at
    /// the band limit k_bl ([`ModelSpec::band_limit_for`]), m = `model.window_oversampling`
    /// window pixels per detector pixel along each axis and the aperture sampled as
    /// `model.aperture_sampling` says. The window is L = m/Δk wide; the real-space sampling
    /// follows from k_bl, not from the detector (Δk' = Δk/m the window's reciprocal pixel):
    ///
    /// - Multislice needs the ⅔ rule (products of band-limited waves and transmission
    ///   functions must not alias inside the band): N is the smallest fast even size with
    ///   N·Δk' ≥ 3·k_bl.
    /// - The single-scattering models form ψ₀·v once, whose spectrum reaches k_bl + α/λ; its
    ///   aliases stay off the detector (|k_x|, |k_y| ≤ k_det, the detector edge) when
    ///   N·Δk' ≥ k_bl + α/λ + k_det, and the gridded potential stays clear of Nyquist when
    ///   N·Δk' ≥ 2.2·k_bl (k_bl ≤ 0.45/Δx, where the Gaussian-gridding alias is < 10⁻³, see
    ///   [`crate::potential`]).
    ///
    /// # Panics
    /// If the detector's half-width does not exceed the aperture radius (the driver checks
    /// this first and returns [`crate::SimError::DetectorTooSmall`]), or `model` is invalid
    /// for `detector`: k_bl below the detector edge, m = 0 (the driver returns
    /// [`crate::SimError::Invalid`]).
    pub fn for_model(
        model: &ModelSpec,
        microscope: &MicroscopeSpec,
        detector: &DetectorSpec,
        slicing: Slicing,
    ) -> Self {
        let oversampling = model.window_oversampling;
        let thickness_nm = slicing.count as f64 * slicing.slice_nm;
        let band_limit_per_nm = model
            .band_limit_for(detector, thickness_nm)
            .expect("band limit at or above the detector edge");
        assert!(oversampling > 0, "window oversampling must be at least 1");
        let dk = detector.k_pixel_per_nm / oversampling as f64;
        let k_bl = band_limit_per_nm;
        let spec = ProbeSpec::from_microscope(microscope);
        let n = Self::window_points_for(model, microscope, detector, thickness_nm);
        let mut planner = FftPlanner::new();
        let fft = Fft2Plan::new(&mut planner, n);
        let probe = ProbeSpectrum::new(spec, n, dk, model.aperture_sampling);
        let probe_rows = probe.kx_rows();
        let sampling =
            DetectorSampling::new(n, detector.pixels, oversampling, dk, spec.aperture_per_nm);
        let signed_n = |i: usize| {
            if i < n.div_ceil(2) {
                i as isize
            } else {
                i as isize - n as isize
            }
        };
        let probe_sample = probe
            .pixels
            .iter()
            .map(|&(ix, iy, ..)| sampling.sample_at([signed_n(iy), signed_n(ix)]))
            .collect();
        let depth_phase = |k2: f64, dz: f64| {
            Complex64::from_polar(1.0, std::f64::consts::PI * spec.wavelength_nm * k2 * dz)
        };
        let born_half_step = sampling
            .k2
            .iter()
            .map(|&k2| depth_phase(k2, 0.5 * slicing.slice_nm))
            .collect();
        let potential_band_limit = k_bl;
        let band_rows = {
            let b = (k_bl / dk).floor() as usize;
            signed_index_ranges(n, b, b + 1)
        };
        let signed = |i: usize| {
            if i < n.div_ceil(2) {
                i as f64
            } else {
                i as f64 - n as f64
            }
        };
        let lambda = spec.wavelength_nm;
        let norm = 1.0 / (n * n) as f64;
        // Only the model that reads them gets the N² depth phases (Born) or propagator
        // (multislice): each focal-spread node has a plan of its own.
        let full = |wanted: ModelKind| if model.kind == wanted { n * n } else { 0 };
        let mut propagator = vec![Complex32::default(); full(ModelKind::Multislice)];
        let mut born_step_t = vec![Complex32::default(); full(ModelKind::Born)];
        let rows = if propagator.is_empty() && born_step_t.is_empty() {
            0
        } else {
            n
        };
        for ix in 0..rows {
            for iy in 0..n {
                let k2 = (signed(ix) * dk).powi(2) + (signed(iy) * dk).powi(2);
                if let Some(b) = born_step_t.get_mut(ix * n + iy) {
                    let w = depth_phase(k2, slicing.slice_nm);
                    *b = Complex32::new(w.re as f32, w.im as f32);
                }
                if let Some(p) = propagator
                    .get_mut(ix * n + iy)
                    .filter(|_| k2 <= k_bl * k_bl)
                {
                    let ph = -std::f64::consts::PI * lambda * k2 * slicing.slice_nm;
                    *p = Complex32::new((norm * ph.cos()) as f32, (norm * ph.sin()) as f32);
                }
            }
        }
        Self {
            n,
            dk_per_nm: dk,
            oversampling,
            fft,
            probe,
            probe_rows,
            probe_sample,
            born_step_t,
            born_half_step,
            sigma_rad_per_v_nm: interaction_constant_rad_per_v_nm(microscope.voltage_kv),
            slicing,
            sampling,
            band_rows,
            propagator,
            potential_band_limit,
        }
    }

    /// The window side N in pixels that [`DiffractionPlan::for_model`] chooses, without
    /// planning anything (cost estimates use it), for `thickness_nm` of sample (the default
    /// band limit depends on it): the smallest fast even size that holds the
    /// detector's samples and, for multislice, N·Δk' ≥ 3·k_bl; for the single-scattering
    /// models N·Δk' ≥ max(k_bl + α/λ + k_det, 2.2·k_bl), with Δk' = Δk/m.
    pub fn window_points_for(
        model: &ModelSpec,
        microscope: &MicroscopeSpec,
        detector: &DetectorSpec,
        thickness_nm: f64,
    ) -> usize {
        let kind = model.kind;
        let oversampling = model.window_oversampling;
        let band_limit_per_nm = model
            .band_limit_for(detector, thickness_nm)
            .unwrap_or_else(|_| detector_edge_per_nm(detector));
        let m = oversampling.max(1);
        let dk = detector.k_pixel_per_nm / m as f64;
        // Samples per axis: m per pixel, plus the shared edge cell for even m.
        let det_max = detector.pixels[0].max(detector.pixels[1]) * m + (m + 1) % 2;
        let edge = detector_edge_per_nm(detector);
        let k_bl = band_limit_per_nm;
        let px = |k: f64| (k / dk * (1.0 - 1e-9)).ceil() as usize;
        if kind == ModelKind::Multislice {
            next_fast_even_len(px(3.0 * k_bl).max(det_max))
        } else {
            let aperture = ProbeSpec::from_microscope(microscope).aperture_per_nm;
            next_fast_even_len(det_max.max(px(k_bl + aperture + edge)).max(px(2.2 * k_bl)))
        }
    }

    /// Window side N in pixels.
    pub fn window_points(&self) -> usize {
        self.n
    }

    /// Window side L = m/Δk in nm.
    pub fn window_nm(&self) -> f64 {
        1.0 / self.dk_per_nm
    }

    /// Window pixels per detector pixel along each axis, m.
    pub fn oversampling(&self) -> usize {
        self.oversampling
    }

    /// Real-space pixel Δx = L/N in nm.
    pub fn dx_nm(&self) -> f64 {
        1.0 / (self.n as f64 * self.dk_per_nm)
    }

    /// Band limit k_bl in nm⁻¹ of the potential (and, for multislice, of the wave).
    pub fn band_limit_per_nm(&self) -> f64 {
        self.potential_band_limit
    }

    /// Detector pixels `[y, x]`.
    pub fn detector_pixels(&self) -> [usize; 2] {
        self.sampling.pixels
    }

    /// Detector pixel count.
    pub fn detector_len(&self) -> usize {
        self.sampling.pixels[0] * self.sampling.pixels[1]
    }

    /// Pattern centre `[y, x]` in detector pixels: `[N_y/2, N_x/2]` (integer division).
    pub fn center_px(&self) -> [f64; 2] {
        [
            (self.sampling.pixels[0] / 2) as f64,
            (self.sampling.pixels[1] / 2) as f64,
        ]
    }

    /// The slicing.
    pub fn slicing(&self) -> &Slicing {
        &self.slicing
    }

    /// Interaction constant σ in rad/(V·nm).
    pub fn sigma_rad_per_v_nm(&self) -> f64 {
        self.sigma_rad_per_v_nm
    }

    /// The weight f of the probe-tail background ([`crate::tail`]): the share of the
    /// continuous probe's intensity that the window's probe lacks.
    ///
    /// The area-sampled aperture (weights w, the share of each reciprocal cell inside the
    /// disk) is the continuous probe times sinc(x/L)·sinc(y/L), periodised; normalised to unit
    /// flux it keeps the share Σw²/Σw of the continuous probe's intensity (Parseval: Σw is the
    /// disk's area in cells), so its core is brighter by Σw/Σw² (5.2 % at m = 2 on the paper
    /// detector). f = 1 − Σw²/Σw (4.95 % at m = 2, 2.0 % at m = 4) puts the core back at the
    /// continuous probe's brightness and gives what the taper removed to the background: all
    /// of the tail beyond L/2 ([`probe_tail_fraction`], 2.8 % at m = 2) and the part of it
    /// inside the window that the taper damps. A point-sampled aperture (w = 1) keeps its
    /// tails, folded back into the window, and gets f = 0. A probe defocused wider than the
    /// window gets at least the share of its geometric disc beyond L/2, 1 − (L/2R)² (with
    /// spherical aberration, the share of its rays landing there).
    pub fn tail_background_fraction(&self) -> f64 {
        let w = &self.probe.weights;
        let taper = 1.0 - w.iter().map(|x| x * x).sum::<f64>() / w.iter().sum::<f64>();
        let p = &self.probe.spec;
        // α = λ·(α/λ).
        let alpha = p.aperture_per_nm * p.wavelength_nm;
        taper
            .max(geometric_share_beyond(
                p.defocus_nm,
                p.cs_nm,
                alpha,
                0.5 * self.window_nm(),
            ))
            .max(0.0)
    }

    /// The probe optics.
    pub fn probe(&self) -> &ProbeSpec {
        &self.probe.spec
    }

    /// Fresh per-thread scratch.
    pub fn scratch(&self) -> Scratch {
        let nn = self.n * self.n;
        Scratch {
            a: vec![Complex32::default(); nn],
            b: vec![Complex32::default(); nn],
            c: vec![Complex32::default(); nn],
            d: vec![Complex32::default(); nn],
            fft: vec![Complex32::default(); self.fft.scratch_len()],
            acc: vec![Complex64::default(); self.sampling.len()],
            samples: vec![0.0; self.sampling.len()],
            binned_rows: vec![0.0; self.sampling.shape[0] * self.sampling.pixels[1]],
        }
    }

    /// Writes the real-space probe (Σ|ψ|² = 1) centred at `center_nm` and propagated
    /// `depth_nm` into `s.a` (`[y][x]`). Uses `s.b`.
    pub fn probe_wave(&self, center_nm: [f64; 2], depth_nm: f64, s: &mut Scratch) {
        self.probe_wave_then(center_nm, depth_nm, s, |_, _, _| {});
    }

    /// [`Self::probe_wave`], calling `then(first_row, rows, fft_scratch)` on each chunk of rows
    /// of `s.a` as soon as it is made, while it is in cache.
    fn probe_wave_then(
        &self,
        center_nm: [f64; 2],
        depth_nm: f64,
        s: &mut Scratch,
        mut then: impl FnMut(usize, &mut [Complex32], &mut [Complex32]),
    ) {
        let n = self.n;
        let scale = 1.0 / n as f64;
        // Only the aperture's rows (k_x) of the transposed spectrum are nonzero: they alone are
        // cleared, filled and transformed along k_y; then each row y of `s.a` is built from
        // those columns and transformed along k_x while it is in cache.
        for &r in &self.probe_rows {
            s.b[r * n..(r + 1) * n].fill(Complex32::default());
        }
        for (idx, [re, im]) in self.probe.values(n, center_nm, depth_nm) {
            s.b[idx] = Complex32::new((re * scale) as f32, (im * scale) as f32);
        }
        for &r in &self.probe_rows {
            self.fft.inverse_rows(&mut s.b, r..r + 1, &mut s.fft);
        }
        for (c, rows) in s.a.chunks_mut(ROWS_PER_CHUNK * n).enumerate() {
            for (i, row) in rows.chunks_exact_mut(n).enumerate() {
                let y = c * ROWS_PER_CHUNK + i;
                row.fill(Complex32::default());
                for &r in &self.probe_rows {
                    row[r] = s.b[r * n + y];
                }
            }
            self.fft.inverse_rows(rows, 0..rows.len() / n, &mut s.fft);
            then(c * ROWS_PER_CHUNK, rows, &mut s.fft);
        }
    }

    /// Adds the unscattered probe Ψ₀(k) (centred at `center_nm`, at the entrance plane) to the
    /// scattered detector amplitudes `acc`, sharing the flux between them by
    /// [`beam_depletion`]: with `scattered` = P_s the first-order scattered power over the
    /// whole band (on and off the detector), the direct beam is scaled to intensity e^{−P_s}
    /// and the scattered amplitudes to total power 1 − e^{−P_s}.
    fn add_depleted_probe_spectrum(
        &self,
        center_nm: [f64; 2],
        scattered: f64,
        acc: &mut [Complex64],
    ) {
        let (beam, scale) = beam_depletion(scattered);
        acc.iter_mut().for_each(|a| *a *= scale);
        for ((_, [re, im]), det) in self
            .probe
            .values(self.n, center_nm, 0.0)
            .zip(&self.probe_sample)
        {
            if let Some(p) = *det {
                acc[p] += Complex64::new(re, im) * beam;
            }
        }
    }

    /// The column pass of the forward transform of `s.a` (`[y][kx]`, rows already transformed
    /// along x) into `s.b` (`[kx][ky]`), only for the rows of `s.b` the detector's samples
    /// read (its other rows keep what they held).
    fn detector_columns(&self, s: &mut Scratch) {
        let n = self.n;
        for r in &self.sampling.rows {
            transpose_rows(&s.a, &mut s.b, n, r.clone());
            self.fft.forward_rows(&mut s.b, r.clone(), &mut s.fft);
        }
    }
}

impl Scratch {
    /// Bins the sample intensities `self.samples` into the detector pattern `out`.
    fn bin_samples(&mut self, plan: &DiffractionPlan, out: &mut [f64]) {
        plan.sampling.bin(&self.samples, &mut self.binned_rows, out);
    }

    /// Sets the sample intensities to |acc|².
    fn samples_from_amplitudes(&mut self) {
        for (o, a) in self.samples.iter_mut().zip(&self.acc) {
            *o = a.norm_sqr();
        }
    }
}

/// Amplitude factors `(beam, scattered)` that make a single-scattering pattern conserve flux
/// at any thickness, given its first-order scattered power `p_s` (incident power 1).
///
/// First-order theory gives the scattered intensity P_s, which grows ∝ t without bound (P_s
/// passes 1 near 55 nm of Zr₅₅Co₂₅Al₂₀ at 300 kV), and leaves the direct beam at full strength.
/// P_s is the mean number of elastic scattering events of an electron (t/Λ, Λ the elastic mean
/// free path), so for independent events the unscattered fraction is the Poisson zero term
/// e^{−P_s} (Beer–Lambert attenuation of the direct beam, e.g. Reimer & Kohl, *Transmission
/// Electron Microscopy*, 5th ed., §5.1) and the scattered fraction 1 − e^{−P_s}. The direct beam
/// is therefore scaled by e^{−P_s/2} and the scattered amplitudes by √((1 − e^{−P_s})/P_s),
/// keeping the single-scattering angular distribution (plural scattering, which would reshape
/// it, is multislice's job). To first order in P_s this is the plain expansion (beam intensity
/// 1 − P_s, scattered P_s), so thin foils still match multislice. Returns `(1, 1)` for
/// P_s = 0.
pub fn beam_depletion(p_s: f64) -> (f64, f64) {
    let beam = (-0.5 * p_s).exp();
    let scattered = if p_s > 1e-12 {
        (-(-p_s).exp_m1() / p_s).sqrt()
    } else {
        1.0
    };
    (beam, scattered)
}

/// The detector edge in nm⁻¹: half the larger side, N_max/2·Δk (10.24 nm⁻¹ for the paper's
/// 128 pixels at 0.16 nm⁻¹). No band limit may lie below it.
pub fn detector_edge_per_nm(detector: &DetectorSpec) -> f64 {
    (detector.pixels[0].max(detector.pixels[1]) / 2) as f64 * detector.k_pixel_per_nm
}

/// Per-thread buffers for one window.
#[derive(Debug, Clone)]
pub struct Scratch {
    a: Vec<Complex32>,
    b: Vec<Complex32>,
    c: Vec<Complex32>,
    d: Vec<Complex32>,
    fft: Vec<Complex32>,
    /// Amplitude per detector sample.
    acc: Vec<Complex64>,
    /// Intensity per detector sample.
    samples: Vec<f64>,
    /// Samples binned along x only.
    binned_rows: Vec<f64>,
}

/// Mean of the real field slice under the window, in the slice's units: the window's k = 0
/// Fourier component, i.e. its mean inner potential (times the slice thickness).
fn window_mean(n: usize, slice: &[f32], stride: usize, at: WindowPlacement) -> f32 {
    let [oy, ox] = at.origin_px;
    let sum: f64 = (0..n)
        .map(|i| lane_sum(&slice[(oy + i) * stride + ox..][..n], f64::from))
        .sum();
    (sum / (n * n) as f64) as f32
}

/// Σ f(v) over `values` in f64 with eight interleaved partial sums, which the compiler can
/// vectorise (a serial f64 sum waits on each addition). Differs from the serial sum in the
/// order of the additions only, i.e. by rounding (~10⁻¹⁶ relative for the sums of |ψ|², and of
/// the potential over a window, whose mean is then rounded to f32).
fn lane_sum<T: Copy>(values: &[T], f: impl Fn(T) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// Multiplies `rows` (whole rows of the window, the first of them window row `first_row`) by
/// `v − v̄`, v the real field slice under them and v̄ = `mean` its window mean
/// ([`window_mean`]). A constant potential v̄ only multiplies the wave by the phase e^{iσv̄}
/// (it commutes with propagation and drops out of every intensity), so the single-scattering
/// models expand exp(iσv) = e^{iσv̄}·exp(iσ(v − v̄)) in the fluctuation v − v̄ alone: the mean
/// inner potential is kept as a phase instead of being miscounted as scattered amplitude
/// (σ·V̄·t ≈ 3 rad at 20 nm of Zr₅₅Co₂₅Al₂₀, issue 10).
fn multiply_fluctuation_rows(
    rows: &mut [Complex32],
    n: usize,
    slice: &[f32],
    stride: usize,
    at: WindowPlacement,
    first_row: usize,
    mean: f32,
) {
    let [oy, ox] = at.origin_px;
    for (i, row) in rows.chunks_exact_mut(n).enumerate() {
        let v = &slice[(oy + first_row + i) * stride + ox..][..n];
        for (c, &v) in row.iter_mut().zip(v) {
            *c *= v - mean;
        }
    }
}

/// Multiplies `rows` (whole rows of the window, the first of them window row `first_row`)
/// elementwise by the complex field slice under them.
fn multiply_complex_rows(
    rows: &mut [Complex32],
    n: usize,
    slice: &[Complex32],
    stride: usize,
    at: WindowPlacement,
    first_row: usize,
) {
    let [oy, ox] = at.origin_px;
    for (i, row) in rows.chunks_exact_mut(n).enumerate() {
        let src = &slice[(oy + first_row + i) * stride + ox..][..n];
        for (c, &v) in row.iter_mut().zip(src) {
            *c *= v;
        }
    }
}

/// The preconditions every model's `pattern` shares: the window inside the field, `slices`
/// slices of field data (of the model's kind), one output per detector pixel.
fn check_call(
    plan: &DiffractionPlan,
    field: &Field,
    at: WindowPlacement,
    slices: usize,
    out: &[f64],
) {
    let (n, [fy, fx]) = (plan.n, field.grid.points);
    assert!(
        at.origin_px[0] + n <= fy && at.origin_px[1] + n <= fx,
        "window at {:?} (size {n}) outside field {:?}",
        at.origin_px,
        field.grid.points
    );
    assert_eq!(
        field.slice_count(),
        slices,
        "field slicing differs from the model's"
    );
    assert_eq!(
        out.len(),
        plan.detector_len(),
        "one output per detector pixel"
    );
}

#[cfg(test)]
mod tests;
