//! The polar transform, planned once and applied to every pattern.
//!
//! A [`PolarPlan`] splits every unmasked detector pixel into `s × s` sub-pixels, finds the
//! (ring, azimuth) bin of each sub-pixel centre and stores the result as a sparse matrix of
//! weights. A bin's value is the area-weighted **mean** intensity of the pixel area falling in
//! it, so bins of different size and partly masked bins stay comparable. Applying the plan to a
//! pattern is one gather-sum per bin over the bin's entries (stored bin-major, CSR), which is
//! all the per-pattern cost of the transform.
//!
//! A second, per-ring pass (one coefficient pair per pixel and ring) returns two linear
//! functionals of the pattern that estimate the shot-noise terms of the fluctuation variances
//! without assuming a uniform intensity ([`PolarPlan::apply_with_noise`]; their derivation is in
//! [`crate::variance`]).
//!
//! Geometry: pixel `(i, j)` covers `[i − ½, i + ½] × [j − ½, j + ½]` and sits at
//! `k = ((j − cx)·dk, (i − cy)·dk)`. Azimuth bin `b` is centred on `φ_b = b·Δφ`, φ measured from
//! +k_x toward +k_y, so bin values are samples of the ring at the DFT's sample points.

use crate::error::AnalysisError;

/// One ring (radial interval) of the polar grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ring {
    /// Inner edge in nm⁻¹ (included).
    pub k_lo_per_nm: f64,
    /// Outer edge in nm⁻¹ (excluded).
    pub k_hi_per_nm: f64,
}

impl Ring {
    /// Centre of the ring in nm⁻¹.
    pub fn k_per_nm(&self) -> f64 {
        0.5 * (self.k_lo_per_nm + self.k_hi_per_nm)
    }
}

/// Everything that fixes a polar transform.
#[derive(Debug, Clone, PartialEq)]
pub struct PolarGeometry {
    /// Detector shape `[det_y, det_x]`.
    pub detector_shape: [usize; 2],
    /// Pattern centre `[y, x]` in pixels.
    pub center_px: [f64; 2],
    /// Detector pixel size in nm⁻¹.
    pub k_pixel_per_nm: f64,
    /// The rings (rows of the polar image).
    pub rings: Vec<Ring>,
    /// Azimuthal bins per ring.
    pub n_azimuth: usize,
    /// Sub-pixels per pixel side.
    pub supersample: usize,
}

impl PolarGeometry {
    /// The ring and azimuth bin `(row, column)` of detector position `(y, x)` (fractional pixels),
    /// for every ring that contains it.
    pub fn bins_of(&self, y: f64, x: f64) -> impl Iterator<Item = (usize, usize)> + '_ {
        let kx = (x - self.center_px[1]) * self.k_pixel_per_nm;
        let ky = (y - self.center_px[0]) * self.k_pixel_per_nm;
        let k = kx.hypot(ky);
        let phi = ky.atan2(kx).rem_euclid(std::f64::consts::TAU);
        let a = (phi / std::f64::consts::TAU * self.n_azimuth as f64 + 0.5).floor() as usize
            % self.n_azimuth;
        self.rings
            .iter()
            .enumerate()
            .filter(move |(_, r)| k >= r.k_lo_per_nm && k < r.k_hi_per_nm)
            .map(move |(row, _)| (row, a))
    }

    /// The largest k in nm⁻¹ whose full circle lies on the detector.
    pub fn inscribed_k_per_nm(&self) -> f64 {
        let [ny, nx] = self.detector_shape;
        let [cy, cx] = self.center_px;
        let r = (cy + 0.5)
            .min(ny as f64 - 0.5 - cy)
            .min(cx + 0.5)
            .min(nx as f64 - 0.5 - cx);
        r.max(0.0) * self.k_pixel_per_nm
    }
}

/// A planned polar transform: sparse weights from detector pixels to (ring, azimuth) bins,
/// stored bin-major (CSR) so applying it is one independent gather-sum per bin.
#[derive(Debug, Clone)]
pub struct PolarPlan {
    geometry: PolarGeometry,
    /// CSR by bin: entries of bin `b` are `row_ptr[b]..row_ptr[b + 1]`, sorted by pixel.
    row_ptr: Vec<usize>,
    entries: Vec<Entry>,
    /// CSR by ring: the noise coefficients of ring `r` are `noise_ptr[r]..noise_ptr[r + 1]`.
    noise_ptr: Vec<usize>,
    noise: Vec<NoiseEntry>,
    /// Σ w per bin (in pixel areas).
    bin_area: Vec<f64>,
    /// Effective independent pixels per bin, (Σw)²/Σw².
    bin_neff: Vec<f64>,
}

impl PolarPlan {
    /// Plans the transform for a detector of independent pixels. `excluded` (detector-shaped,
    /// C order) marks pixels to leave out.
    ///
    /// Fails if a ring has no unmasked pixel area at all.
    pub fn new(geometry: PolarGeometry, excluded: Option<&[bool]>) -> Result<Self, AnalysisError> {
        Self::with_charge_sharing(geometry, excluded, &[1.0])
    }

    /// [`Self::new`] for a detector that shares each electron's charge with its neighbours
    /// (per-axis taps `sharing`, odd length, [`mro_core::charge_sharing::kernel`]): the shot
    /// noise of pixels is then correlated, `Cov = K diag(λ) Kᵀ`, and each noise functional
    /// `Σ_p u_p² I_p` becomes `Σ_j (K ⋆ u)_j² I_j` over the unmasked pixels within the kernel's
    /// reach ([`crate::ring_fourier`] states the approximation `λ_j ≈ I_j`). The bins'
    /// effective sample counts ([`Self::bin_neff`]) become `1/Σ_j (K ⋆ Ŵ_b)_j²`.
    ///
    /// Fails if a ring has no unmasked pixel area at all.
    pub fn with_charge_sharing(
        geometry: PolarGeometry,
        excluded: Option<&[bool]>,
        sharing: &[f64],
    ) -> Result<Self, AnalysisError> {
        let [ny, nx] = geometry.detector_shape;
        let nbins = geometry.rings.len() * geometry.n_azimuth;
        if let Some(m) = excluded {
            if m.len() != ny * nx {
                return Err(AnalysisError::Shape {
                    what: "mask".into(),
                    found: vec![m.len()],
                    expected: format!("{ny} × {nx} values (the detector shape)"),
                });
            }
        }
        let s = geometry.supersample.max(1);
        let sub_w = 1.0 / (s * s) as f64;
        let k_lo = geometry
            .rings
            .iter()
            .map(|r| r.k_lo_per_nm)
            .fold(f64::INFINITY, f64::min);
        let k_hi = geometry
            .rings
            .iter()
            .map(|r| r.k_hi_per_nm)
            .fold(0.0, f64::max);
        let margin = std::f64::consts::SQRT_2 * geometry.k_pixel_per_nm;
        let mut pixel = Vec::new();
        let mut bin = Vec::new();
        let mut weight = Vec::new();
        let mut bin_area = vec![0.0f64; nbins];
        let mut ring_w = vec![0.0f64; geometry.rings.len()];
        let mut local: Vec<(u32, f64)> = Vec::new();
        let mut local_ring: Vec<f64> = vec![0.0; geometry.rings.len()];
        for i in 0..ny {
            for j in 0..nx {
                let p = i * nx + j;
                if excluded.is_some_and(|m| m[p]) {
                    continue;
                }
                let (kx, ky) = geometry_k(&geometry, i as f64, j as f64);
                let k = kx.hypot(ky);
                if k + margin < k_lo || k - margin >= k_hi {
                    continue;
                }
                local.clear();
                local_ring.iter_mut().for_each(|v| *v = 0.0);
                for a in 0..s {
                    let y = i as f64 - 0.5 + (a as f64 + 0.5) / s as f64;
                    for b in 0..s {
                        let x = j as f64 - 0.5 + (b as f64 + 0.5) / s as f64;
                        for (row, az) in geometry.bins_of(y, x) {
                            let g = (row * geometry.n_azimuth + az) as u32;
                            match local.iter_mut().find(|(gb, _)| *gb == g) {
                                Some(e) => e.1 += sub_w,
                                None => local.push((g, sub_w)),
                            }
                            local_ring[row] += sub_w;
                        }
                    }
                }
                local.sort_by_key(|e| e.0);
                for &(g, w) in &local {
                    pixel.push(p as u32);
                    bin.push(g);
                    weight.push(w as f32);
                    bin_area[g as usize] += w;
                }
                for (r, &w) in local_ring.iter().enumerate() {
                    ring_w[r] += w;
                }
            }
        }
        for (r, ring) in geometry.rings.iter().enumerate() {
            if ring_w[r] <= 0.0 {
                // Rings are wide enough to hold pixels (`rings_on_detector`): the excluded
                // pixels cover this one (`mro analyze` names its mask).
                return Err(AnalysisError::Geometry {
                    field: "ring".into(),
                    value: ring.k_per_nm(),
                    expected: "a ring with unmasked detector pixels".into(),
                });
            }
        }
        let raw = RawEntries {
            pixel: &pixel,
            bin: &bin,
            w: &weight,
            bin_area: &bin_area,
            ring_area: &ring_w,
        };
        let (noise_ptr, noise, bin_neff) = noise_coefficients(&geometry, &raw, sharing, excluded);
        for (w, &g) in weight.iter_mut().zip(&bin) {
            *w = (f64::from(*w) / bin_area[g as usize]) as f32;
        }
        // Re-order bin-major (stable, so pixels stay sorted within a bin) for a gather per bin.
        let mut order: Vec<usize> = (0..bin.len()).collect();
        order.sort_by_key(|&e| bin[e]);
        let mut row_ptr = vec![0usize; nbins + 1];
        for &g in &bin {
            row_ptr[g as usize + 1] += 1;
        }
        for b in 0..nbins {
            row_ptr[b + 1] += row_ptr[b];
        }
        let entries: Vec<Entry> = order
            .iter()
            .map(|&e| Entry {
                pixel: pixel[e],
                weight: weight[e],
            })
            .collect();
        Ok(Self {
            geometry,
            row_ptr,
            entries,
            noise_ptr,
            noise,
            bin_area,
            bin_neff,
        })
    }

    /// The geometry this plan was made for.
    pub fn geometry(&self) -> &PolarGeometry {
        &self.geometry
    }
    /// Number of rings (rows).
    pub fn n_rings(&self) -> usize {
        self.geometry.rings.len()
    }
    /// Number of azimuthal bins per ring.
    pub fn n_azimuth(&self) -> usize {
        self.geometry.n_azimuth
    }
    /// Number of stored weights.
    pub fn nnz(&self) -> usize {
        self.entries.len()
    }
    /// Pixel area (in pixels) of each bin, ring-major; 0 for a bin with no unmasked pixel.
    pub fn bin_area(&self) -> &[f64] {
        &self.bin_area
    }
    /// Effective number of independent pixels averaged in each bin, (Σw)²/Σw².
    pub fn bin_neff(&self) -> &[f64] {
        &self.bin_neff
    }

    /// Writes the polar image of `pattern` (detector-shaped, C order) to `out`
    /// (`n_rings × n_azimuth`, ring-major): the mean intensity in each bin, 0 in empty bins.
    ///
    /// # Panics
    /// If `pattern` or `out` have the wrong length.
    pub fn apply(&self, pattern: &[f32], out: &mut [f32]) {
        let [ny, nx] = self.geometry.detector_shape;
        assert_eq!(pattern.len(), ny * nx, "pattern length");
        assert_eq!(out.len(), self.bin_area.len(), "polar image length");
        for (b, o) in out.iter_mut().enumerate() {
            *o = self.bin_sum(b, pattern);
        }
    }

    /// [`Self::apply`], and per ring (`n_rings` values each) the two shot-noise functionals of
    /// [`crate::variance`] per unit gain: `mean_noise[r] = Σ_p U_p² I_p` (the shot-noise variance
    /// of the ring's area-weighted mean, `U_p` the pixel's share of the ring area) and
    /// `spread_noise[r] = (1/N) Σ_p (Σ_b W_pb² − (Σ_b W_pb)²/N) I_p` (the shot-noise part of the
    /// expected sample variance of the ring's `N` bins, `W_pb` the normalised bin weights).
    /// Multiply by the gain for counts. Both are unbiased whatever the intensity profile.
    ///
    /// # Panics
    /// If a slice has the wrong length.
    pub fn apply_with_noise(
        &self,
        pattern: &[f32],
        out: &mut [f32],
        mean_noise: &mut [f64],
        spread_noise: &mut [f64],
    ) {
        let [ny, nx] = self.geometry.detector_shape;
        assert_eq!(pattern.len(), ny * nx, "pattern length");
        assert_eq!(out.len(), self.bin_area.len(), "polar image length");
        assert_eq!(mean_noise.len(), self.n_rings(), "rings");
        assert_eq!(spread_noise.len(), self.n_rings(), "rings");
        self.apply(pattern, out);
        for (r, (mn, sn)) in mean_noise
            .iter_mut()
            .zip(spread_noise.iter_mut())
            .enumerate()
        {
            let [m, s] = self.ring_noise_sums(r, pattern);
            *mn = f64::from(m);
            *sn = f64::from(s);
        }
    }

    /// `Σ W I` over the entries of bin `b`; four independent partial sums hide the add latency.
    #[inline(always)]
    fn bin_sum(&self, b: usize, pattern: &[f32]) -> f32 {
        let entries = &self.entries[self.row_ptr[b]..self.row_ptr[b + 1]];
        let mut w = [0f32; 4];
        let mut chunks = entries.chunks_exact(4);
        for c in &mut chunks {
            for l in 0..4 {
                w[l] += c[l].weight * pattern[c[l].pixel as usize];
            }
        }
        for e in chunks.remainder() {
            w[0] += e.weight * pattern[e.pixel as usize];
        }
        (w[0] + w[1]) + (w[2] + w[3])
    }

    /// `[Σ mean_noise·I, Σ spread_noise·I]` over the pixels of ring `r`.
    fn ring_noise_sums(&self, r: usize, pattern: &[f32]) -> [f32; 2] {
        let entries = &self.noise[self.noise_ptr[r]..self.noise_ptr[r + 1]];
        let (mut m, mut s) = ([0f32; 4], [0f32; 4]);
        let mut chunks = entries.chunks_exact(4);
        for c in &mut chunks {
            for l in 0..4 {
                let v = pattern[c[l].pixel as usize];
                m[l] += c[l].mean_noise * v;
                s[l] += c[l].spread_noise * v;
            }
        }
        for e in chunks.remainder() {
            let v = pattern[e.pixel as usize];
            m[0] += e.mean_noise * v;
            s[0] += e.spread_noise * v;
        }
        [m, s].map(|a| (a[0] + a[1]) + (a[2] + a[3]))
    }
}

/// One stored weight of a [`PolarPlan`]: a detector pixel and its normalised weight in a bin.
#[derive(Debug, Clone, Copy)]
struct Entry {
    pixel: u32,
    weight: f32,
}

/// A detector pixel's two shot-noise coefficients in one ring of a [`PolarPlan`], per unit gain.
#[derive(Debug, Clone, Copy)]
struct NoiseEntry {
    pixel: u32,
    /// `U_p²` (`U_p` the pixel's share of the ring area). Summed over a ring against a pattern:
    /// `Σ_p U_p² I_p`, the shot-noise variance of the annular mean.
    mean_noise: f32,
    /// `Σ_b (W_pb² − W_pb·T_p/N)/N` (`W_pb` the normalised bin weight, `T_p = Σ_b W_pb` over the
    /// ring, `N` the ring's bins with area). Summed over a ring: the shot-noise part of the
    /// expected azimuthal sample variance of the bins.
    spread_noise: f32,
}

/// The plan's pixel-major entries with their raw area weights, and the bins' and rings' areas.
struct RawEntries<'a> {
    pixel: &'a [u32],
    bin: &'a [u32],
    w: &'a [f32],
    bin_area: &'a [f64],
    ring_area: &'a [f64],
}

/// Per-(pixel, ring) noise coefficients ([`NoiseEntry`]) from the plan's entries, for a detector
/// with charge-sharing taps `taps` (`[1.0]`: independent pixels): per ring and pixel j within
/// the kernel's reach (on the detector, unmasked), `mean_noise = (K ⋆ U)_j²` and
/// `spread_noise = Σ_b (K ⋆ W_b)_j²/N − (K ⋆ T)_j²/N²` (`U` the pixels' shares of the ring area,
/// `W_b` the normalised weights of bin b, `T = Σ_b W_b`, `N` the ring's bins with area), and per
/// bin its effective sample count `1/Σ_j (K ⋆ W_b)_j²` (every pixel on the detector: the noise is
/// there whether or not a pixel is read; `(Σw)²/Σw²` for independent pixels). Returned ring-major
/// (pixels ascending within a ring) with the ring row pointers.
fn noise_coefficients(
    geometry: &PolarGeometry,
    raw: &RawEntries,
    taps: &[f64],
    excluded: Option<&[bool]>,
) -> (Vec<usize>, Vec<NoiseEntry>, Vec<f64>) {
    use mro_core::charge_sharing::spread;
    use std::collections::BTreeMap;
    let shape = geometry.detector_shape;
    let na = geometry.n_azimuth;
    let n_rings = raw.ring_area.len();
    let valid: Vec<f64> = raw
        .bin_area
        .chunks(na)
        .map(|r| r.iter().filter(|&&a| a > 0.0).count() as f64)
        .collect();
    // Entries of each bin, and of each ring (summed per pixel).
    let mut by_bin: Vec<Vec<(u32, f64)>> = vec![Vec::new(); raw.bin_area.len()];
    let mut by_ring: Vec<BTreeMap<u32, f64>> = vec![BTreeMap::new(); n_rings];
    for q in 0..raw.w.len() {
        let b = raw.bin[q] as usize;
        let w = f64::from(raw.w[q]);
        by_bin[b].push((raw.pixel[q], w / raw.bin_area[b]));
        *by_ring[b / na].entry(raw.pixel[q]).or_insert(0.0) += w / raw.ring_area[b / na];
    }
    let mut neff = vec![0.0; raw.bin_area.len()];
    let mut ptr = vec![0usize];
    let mut entries = Vec::new();
    for (ring, shares) in by_ring.iter().enumerate() {
        // Per pixel j: (K ⋆ U)_j, Σ_b (K ⋆ W_b)_j², (K ⋆ T)_j.
        let mean = spread(shares.iter().map(|(&p, &u)| (p, u)), shape, taps);
        let mut sum_sq: BTreeMap<u32, f64> = BTreeMap::new();
        let mut total: BTreeMap<u32, f64> = BTreeMap::new();
        for b in ring * na..(ring + 1) * na {
            let blurred = spread(by_bin[b].iter().copied(), shape, taps);
            let mut sq = 0.0;
            for (&j, &v) in &blurred {
                sq += v * v;
                *sum_sq.entry(j).or_insert(0.0) += v * v;
                *total.entry(j).or_insert(0.0) += v;
            }
            neff[b] = if sq > 0.0 { 1.0 / sq } else { 0.0 };
        }
        let n = valid[ring];
        // BTreeMaps throughout: sums in pixel order, so the plan is the same on every run.
        let unmasked = |j: &u32| !excluded.is_some_and(|m| m[*j as usize]);
        entries.extend(mean.iter().filter(|(j, _)| unmasked(j)).map(|(&j, &u)| {
            let t = total.get(&j).copied().unwrap_or(0.0);
            NoiseEntry {
                pixel: j,
                mean_noise: (u * u) as f32,
                spread_noise: (sum_sq.get(&j).copied().unwrap_or(0.0) / n - t * t / (n * n)) as f32,
            }
        }));
        ptr.push(entries.len());
    }
    (ptr, entries, neff)
}

fn geometry_k(g: &PolarGeometry, y: f64, x: f64) -> (f64, f64) {
    (
        (x - g.center_px[1]) * g.k_pixel_per_nm,
        (y - g.center_px[0]) * g.k_pixel_per_nm,
    )
}
