//! The polar transform, planned once and applied to every pattern.
//!
//! A [`PolarPlan`] splits every unmasked detector pixel into `s × s` sub-pixels, finds the
//! (ring, azimuth) bin of each sub-pixel centre and stores the result as a sparse matrix of
//! weights. A bin's value is the area-weighted **mean** intensity of the pixel area falling in
//! it, so bins of different size and partly masked bins stay comparable. Applying the plan to a
//! pattern is one gather-sum per bin over the bin's entries (stored bin-major, CSR), which is
//! all the per-pattern cost of the transform.
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
    pixel: Vec<u32>,
    weight: Vec<f32>,
    /// Σ w per bin (in pixel areas).
    bin_area: Vec<f64>,
    /// Effective independent pixels per bin, (Σw)²/Σw².
    bin_neff: Vec<f64>,
    /// Effective independent pixels per ring for its area-weighted mean.
    ring_neff: Vec<f64>,
}

impl PolarPlan {
    /// Plans the transform. `excluded` (detector-shaped, C order) marks pixels to leave out.
    ///
    /// Fails if a ring has no unmasked pixel area at all.
    pub fn new(geometry: PolarGeometry, excluded: Option<&[bool]>) -> Result<Self, AnalysisError> {
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
        let mut bin_w2 = vec![0.0f64; nbins];
        let mut ring_w = vec![0.0f64; geometry.rings.len()];
        let mut ring_w2 = vec![0.0f64; geometry.rings.len()];
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
                    bin_w2[g as usize] += w * w;
                }
                for (r, &w) in local_ring.iter().enumerate() {
                    ring_w[r] += w;
                    ring_w2[r] += w * w;
                }
            }
        }
        for (r, ring) in geometry.rings.iter().enumerate() {
            if ring_w[r] <= 0.0 {
                return Err(AnalysisError::Geometry {
                    field: "ring".into(),
                    value: ring.k_per_nm(),
                    expected: "a ring with unmasked detector pixels".into(),
                });
            }
        }
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
        let pixel: Vec<u32> = order.iter().map(|&e| pixel[e]).collect();
        let weight: Vec<f32> = order.iter().map(|&e| weight[e]).collect();
        let bin_neff = bin_area
            .iter()
            .zip(&bin_w2)
            .map(|(&a, &a2)| if a2 > 0.0 { a * a / a2 } else { 0.0 })
            .collect();
        let ring_neff = ring_w
            .iter()
            .zip(&ring_w2)
            .map(|(&a, &a2)| a * a / a2)
            .collect();
        Ok(Self {
            geometry,
            row_ptr,
            pixel,
            weight,
            bin_area,
            bin_neff,
            ring_neff,
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
        self.weight.len()
    }
    /// Pixel area (in pixels) of each bin, ring-major; 0 for a bin with no unmasked pixel.
    pub fn bin_area(&self) -> &[f64] {
        &self.bin_area
    }
    /// Effective number of independent pixels averaged in each bin, (Σw)²/Σw².
    pub fn bin_neff(&self) -> &[f64] {
        &self.bin_neff
    }
    /// Effective number of independent pixels in each ring's area-weighted mean.
    pub fn ring_neff(&self) -> &[f64] {
        &self.ring_neff
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
            let (s, e) = (self.row_ptr[b], self.row_ptr[b + 1]);
            let (px, w) = (&self.pixel[s..e], &self.weight[s..e]);
            // Four independent partial sums hide the add latency.
            let mut acc = [0f32; 4];
            let mut pc = px.chunks_exact(4);
            let mut wc = w.chunks_exact(4);
            for (p4, w4) in (&mut pc).zip(&mut wc) {
                for l in 0..4 {
                    acc[l] += w4[l] * pattern[p4[l] as usize];
                }
            }
            for (&p, &w) in pc.remainder().iter().zip(wc.remainder()) {
                acc[0] += w * pattern[p as usize];
            }
            *o = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        }
    }
}

fn geometry_k(g: &PolarGeometry, y: f64, x: f64) -> (f64, f64) {
    (
        (x - g.center_px[1]) * g.k_pixel_per_nm,
        (y - g.center_px[0]) * g.k_pixel_per_nm,
    )
}
