//! Angular Fourier coefficients of the analysis ring at full detector resolution, with the exact
//! shot-noise correction of each coefficient (the `method = "mro"` estimator of P_n).
//!
//! The binned path ([`crate::accumulator`]) first averages the ring into Δφ = 10° bins, which
//! multiplies P_n by the binning's power transfer `sinc²(nΔφ/2)` (0.76 at n = 10) and makes the
//! shot-noise correction assume a uniform intensity within a bin. Here every detector pixel `p`
//! with a share `w_p` of its area inside the ring (counted on `s × s` sub-pixels) enters once, at
//! its own azimuth `φ_p` (the pixel centre's):
//!
//! ```text
//! c_{p,n} = w_p (e^{−i n φ_p} − L_n),   L_n = Σ_p w_p e^{−i n φ_p} / Σ_p w_p
//! I_n = Σ_p c_{p,n} I_p,   I_0 = Σ_p w_p I_p,   P_n = (|I_n|² − g Σ_p |c_{p,n}|² I_p) / I_0²
//! ```
//!
//! A square grid of pixels is not isotropic: the angular density of the ring's pixel weights has
//! harmonics (4-fold and beyond), through which a ring's harmonic n' leaks into `n ± n'`. The
//! plan therefore *rakes* the area weights, `w_p = a_p (1 + Σ_k (α_k cos kφ_p + β_k sin kφ_p))`
//! with `a_p` the pixel's area share in the ring, choosing the 4·n_max coefficients (k = 1..2n_max)
//! so that the density has no harmonic up to `2·n_max` (a small Gram-matrix solve). `L_n` is
//! what remains of the n-th harmonic in floating point; subtracting it makes a uniform ring give
//! `I_n = 0` exactly.
//!
//! With counts `I_p = g·N_p`, `N_p` Poisson, `Var I_p = g·E[I_p]`, the pixels are independent,
//! and `E|I_n|² = |E I_n|² + Σ_p |c_{p,n}|² Var I_p`; `g Σ |c_{p,n}|² I_p` is an unbiased
//! estimate of that term for every n ≥ 1, whatever the intensity profile across the ring, so
//! maps of pure shot noise have mean 0.
//!
//! **Charge sharing.** A detector that shares each electron's charge with its neighbours
//! (kernel `K`, [`mro_core::charge_sharing::noise_kernel`]) records `I = g·K ⊛ N`, whose noise is correlated:
//! `Var I_n = g Σ_j |(K ⋆ c_n)_j|² λ_j`, summed over the ring's pixels *and* their neighbours
//! within the kernel's reach. The plan therefore blurs each `c_n` with `K` and takes
//! `g Σ_j |(K ⋆ c_n)_j|² I_j`, estimating `λ_j` by the recorded `I_j` (exact to the kernel's
//! second moment, `E I_j = (K ⊛ λ)_j`, which differs from `λ_j` by under 1 % where the
//! intensity varies over several pixels, as the speckle of a probe disc 7 pixels wide does).
//! With the plain `Σ |c|² I` such a detector's maps would be over-corrected: the ring is two
//! pixels wide, and sharing moves noise power out of its boxcar weights (`Σ |K ⋆ c|² < Σ |c|²`).
//! This is exact for the forward model's detector, which shares charge with the mean kernel;
//! a real sensor whose sharing varies with the landing point has a noise power spectrum
//! `NPS(q)` above `|K̂(q)|²`, and `detector_psf_sigma_px` should then be chosen to match its
//! NPS rather than its MTF. (The denominator's own noise biases the ratio by about
//! `3g/I_0`; the pipeline therefore divides by the scan-local mean of `I_0`, see
//! `pipeline::local_normalisation`.) This is physics.md §5's correction taken per pattern and per estimator.
//!
//! Transfer: a pixel integrates the intensity over its area, so a continuous `cos(nφ)` ring is
//! seen with the amplitude `A_n = Σ_p w_p Re t_{p,n} / Σ_p w_p`, `t_{p,n}` the mean of
//! `e^{−in(φ − φ_p)}` over the pixel's sub-pixels; [`RingFourierPlan::angular_transfer`] reports
//! the power transfer `A_n²` (0.99 or more at n ≤ 10 for a ring 25 pixels out).

use crate::polar::{PolarGeometry, Ring};

/// Pixels of one ring with their weights and per-harmonic phase factors, planned once.
#[derive(Debug, Clone)]
pub struct RingFourierPlan {
    /// Detector pixel index (C order) of each ring pixel.
    pixel: Vec<u32>,
    /// Share of the pixel's area inside the ring, `w_p` in (0, 1].
    weight: Vec<f64>,
    /// `g·|(K ⋆ c_n)_p|²`: the pixel's contribution to the shot-noise variance of `I_n` per
    /// count, `[n_harmonics, pixel.len()]`; `pixel` lists the ring's pixels first, then (with
    /// charge sharing) their neighbours within the kernel's reach.
    noise_weight: Vec<f64>,
    /// Ring pixels (the first `ring_len` entries of `pixel`).
    ring_len: usize,
    /// Real and imaginary parts of `c_{p,n}`, `[n_harmonics, ring_len]`.
    cos_w: Vec<f64>,
    sin_w: Vec<f64>,
    n_harmonics: usize,
    transfer: Vec<f64>,
}

impl RingFourierPlan {
    /// Plans `ring` on the detector of `geometry` (its centre, pixel size and supersampling;
    /// its rings and azimuth bins are not used) for harmonics `0..=n_max` and gain `gain`
    /// (counts per electron; 0 disables the correction), with the detector's charge-sharing
    /// taps `sharing` (per axis, odd length, `[1.0]` for none; [`mro_core::charge_sharing::kernel`]).
    /// `excluded` marks masked pixels.
    pub fn new(
        geometry: &PolarGeometry,
        ring: Ring,
        n_max: usize,
        gain: f64,
        sharing: &[f64],
        excluded: Option<&[bool]>,
    ) -> Self {
        let [ny, nx] = geometry.detector_shape;
        let [cy, cx] = geometry.center_px;
        let dk = geometry.k_pixel_per_nm;
        let s = geometry.supersample.max(1);
        let h = n_max + 1;
        let (mut pixel, mut weight, mut phi) = (Vec::new(), Vec::new(), Vec::new());
        let mut amp = vec![0.0f64; h];
        for i in 0..ny {
            for j in 0..nx {
                let p = i * nx + j;
                if excluded.is_some_and(|m| m[p]) {
                    continue;
                }
                let (ky, kx) = ((i as f64 - cy) * dk, (j as f64 - cx) * dk);
                if (kx.hypot(ky) - ring.k_per_nm()).abs()
                    > 0.5 * (ring.k_hi_per_nm - ring.k_lo_per_nm) + dk
                {
                    continue;
                }
                let phi_p = ky.atan2(kx);
                let mut inside = 0usize;
                let mut t = vec![(0.0f64, 0.0f64); h];
                for a in 0..s {
                    for b in 0..s {
                        let y = i as f64 - 0.5 + (a as f64 + 0.5) / s as f64;
                        let x = j as f64 - 0.5 + (b as f64 + 0.5) / s as f64;
                        let (sy, sx) = ((y - cy) * dk, (x - cx) * dk);
                        let k = sx.hypot(sy);
                        if k >= ring.k_lo_per_nm && k < ring.k_hi_per_nm {
                            inside += 1;
                        }
                        let d = sy.atan2(sx) - phi_p;
                        for (n, tn) in t.iter_mut().enumerate() {
                            tn.0 += (n as f64 * d).cos();
                            tn.1 += (n as f64 * d).sin();
                        }
                    }
                }
                if inside == 0 {
                    continue;
                }
                let w = inside as f64 / (s * s) as f64;
                for (a, tn) in amp.iter_mut().zip(&t) {
                    *a += w * tn.0 / (s * s) as f64;
                }
                pixel.push(p as u32);
                weight.push(w);
                phi.push(phi_p);
            }
        }
        let area: f64 = weight.iter().sum();
        rake(&mut weight, &phi, 2 * n_max);
        let sw: f64 = weight.iter().sum();
        let m = pixel.len();
        let mut cos_w = vec![0.0; h * m];
        let mut sin_w = vec![0.0; h * m];
        for n in 0..h {
            let (mut lc, mut ls) = (0.0, 0.0);
            for q in 0..m {
                let a = n as f64 * phi[q];
                lc += weight[q] * a.cos();
                ls += weight[q] * a.sin();
            }
            let (lc, ls) = if n == 0 {
                (0.0, 0.0)
            } else {
                (lc / sw, ls / sw)
            };
            for q in 0..m {
                let a = n as f64 * phi[q];
                let (c, s) = (weight[q] * (a.cos() - lc), weight[q] * (a.sin() - ls));
                cos_w[n * m + q] = c;
                sin_w[n * m + q] = s;
            }
        }
        let (pixel, noise_weight) = noise_weights(
            [ny, nx],
            pixel,
            (&cos_w, &sin_w),
            h,
            gain,
            sharing,
            excluded,
        );
        let transfer = amp
            .iter()
            .map(|a| {
                if area > 0.0 {
                    (a / area).powi(2)
                } else {
                    f64::NAN
                }
            })
            .collect();
        Self {
            noise_weight,
            ring_len: m,
            pixel,
            weight,
            cos_w,
            sin_w,
            n_harmonics: h,
            transfer,
        }
    }

    /// Pixels with a share in the ring.
    pub fn n_pixels(&self) -> usize {
        self.ring_len
    }

    /// Σ w_p, the ring's area in pixels.
    pub fn area_px(&self) -> f64 {
        self.weight.iter().sum()
    }

    /// Power transfer `A_n²` of the pixel integration for n = 0..=n_max (see the module docs).
    pub fn angular_transfer(&self) -> &[f64] {
        &self.transfer
    }

    /// Writes the shot-noise-corrected `P_n` of `pattern` into `power` and the shot-noise
    /// power removed from each into `noise` (n = 0..=n_max; `P_0 = 1`, noise 0), both
    /// normalised by `I_0²`. A ring without counts (`I_0 ≤ 0`) gives NaN: P_n is undefined
    /// there. `vals` is scratch.
    ///
    /// # Panics
    /// If `power` or `noise` is shorter than `n_max + 1`.
    ///
    /// Returns `I_0`.
    pub fn spectrum(
        &self,
        pattern: &[f32],
        vals: &mut Vec<f64>,
        power: &mut [f64],
        noise: &mut [f64],
    ) -> f64 {
        vals.clear();
        vals.extend(self.pixel.iter().map(|&p| f64::from(pattern[p as usize])));
        let m = self.ring_len;
        let all = vals.len();
        let h = self.n_harmonics;
        let i0: f64 = vals.iter().zip(&self.weight).map(|(v, w)| v * w).sum();
        if i0.is_nan() || i0 <= 0.0 {
            power[..h].fill(f64::NAN);
            noise[..h].fill(f64::NAN);
            return i0;
        }
        let norm = 1.0 / (i0 * i0);
        power[0] = 1.0;
        noise[0] = 0.0;
        for n in 1..h {
            let c = &self.cos_w[n * m..(n + 1) * m];
            let s = &self.sin_w[n * m..(n + 1) * m];
            let g = &self.noise_weight[n * all..(n + 1) * all];
            let (mut re, mut im, mut var) = (0.0f64, 0.0f64, 0.0f64);
            for q in 0..m {
                let v = vals[q];
                re += c[q] * v;
                im += s[q] * v;
                var += g[q] * v.max(0.0);
            }
            for q in m..all {
                var += g[q] * vals[q].max(0.0);
            }
            power[n] = (re * re + im * im - var) * norm;
            noise[n] = var * norm;
        }
        i0
    }
}

/// The shot-noise weights `g·|(K ⋆ c_n)_p|²` (`[h, pixels]`) of the ring's coefficients
/// `(Re c, Im c)` (`[h, ring]`) on `ring` pixels, and the pixels they cover: the ring's, then the
/// unmasked neighbours within the reach of the charge-sharing taps `taps` (in index order; none
/// for `[1.0]`, where the weights are `g·|c_n|²`).
fn noise_weights(
    shape: [usize; 2],
    ring: Vec<u32>,
    (re, im): (&[f64], &[f64]),
    h: usize,
    gain: f64,
    taps: &[f64],
    excluded: Option<&[bool]>,
) -> (Vec<u32>, Vec<f64>) {
    use mro_core::charge_sharing::spread;
    let m = ring.len();
    let mut on_ring = vec![false; shape[0] * shape[1]];
    ring.iter().for_each(|&p| on_ring[p as usize] = true);
    let reach = spread(ring.iter().map(|&p| (p, 0.0)), shape, taps);
    let mut pixel = ring;
    pixel.extend(
        reach
            .into_keys()
            .filter(|&p| !on_ring[p as usize] && !excluded.is_some_and(|e| e[p as usize])),
    );
    let all = pixel.len();
    let mut weight = vec![0.0; h * all];
    for n in 1..h {
        let blurred = |c: &[f64]| {
            spread(
                pixel[..m].iter().copied().zip(c.iter().copied()),
                shape,
                taps,
            )
        };
        let (a, b) = (
            blurred(&re[n * m..(n + 1) * m]),
            blurred(&im[n * m..(n + 1) * m]),
        );
        for (q, p) in pixel.iter().enumerate() {
            let (a, b) = (
                a.get(p).copied().unwrap_or(0.0),
                b.get(p).copied().unwrap_or(0.0),
            );
            weight[n * all + q] = gain * (a * a + b * b);
        }
    }
    (pixel, weight)
}

/// Rescales `weight` by `1 + Σ_{k=1..kmax} (α_k cos kφ + β_k sin kφ)` so that
/// `Σ_p weight_p e^{ikφ_p} = 0` for k = 1..=kmax (least change: the correction lies in the span
/// of the constraint functions). Leaves the weights alone if the Gram matrix is singular (fewer
/// pixels than constraints).
fn rake(weight: &mut [f64], phi: &[f64], kmax: usize) {
    let dim = 2 * kmax;
    let basis = |j: usize, f: f64| {
        let k = (j / 2 + 1) as f64;
        if j % 2 == 0 {
            (k * f).cos()
        } else {
            (k * f).sin()
        }
    };
    let mut gram = vec![0.0f64; dim * dim];
    let mut rhs = vec![0.0f64; dim];
    for (w, &f) in weight.iter().zip(phi) {
        let b: Vec<f64> = (0..dim).map(|j| basis(j, f)).collect();
        for i in 0..dim {
            rhs[i] -= w * b[i];
            for j in 0..dim {
                gram[i * dim + j] += w * b[i] * b[j];
            }
        }
    }
    // Cholesky solve of gram · a = rhs.
    let mut l = vec![0.0f64; dim * dim];
    for i in 0..dim {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * dim + k] * l[j * dim + k]).sum();
            if i == j {
                let d = gram[i * dim + i] - s;
                if d <= 1e-12 * gram[i * dim + i].max(1e-300) {
                    return;
                }
                l[i * dim + i] = d.sqrt();
            } else {
                l[i * dim + j] = (gram[i * dim + j] - s) / l[j * dim + j];
            }
        }
    }
    let mut y = vec![0.0f64; dim];
    for i in 0..dim {
        let s: f64 = (0..i).map(|k| l[i * dim + k] * y[k]).sum();
        y[i] = (rhs[i] - s) / l[i * dim + i];
    }
    let mut a = vec![0.0f64; dim];
    for i in (0..dim).rev() {
        let s: f64 = (i + 1..dim).map(|k| l[k * dim + i] * a[k]).sum();
        a[i] = (y[i] - s) / l[i * dim + i];
    }
    for (w, &f) in weight.iter_mut().zip(phi) {
        *w *= 1.0 + (0..dim).map(|j| a[j] * basis(j, f)).sum::<f64>();
    }
}

/// Power transfer `sinc²(nΔφ/2)` of averaging a ring into azimuthal bins of width `step_deg`
/// (the `im2018` path), n = 0..=n_max.
pub fn binning_transfer(step_deg: f64, n_max: usize) -> Vec<f64> {
    let dphi = step_deg.to_radians();
    (0..=n_max)
        .map(|n| {
            let x = 0.5 * n as f64 * dphi;
            if x == 0.0 {
                1.0
            } else {
                (x.sin() / x).powi(2)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(n: usize) -> PolarGeometry {
        PolarGeometry {
            detector_shape: [n, n],
            center_px: [n as f64 / 2.0, n as f64 / 2.0],
            k_pixel_per_nm: 0.16,
            rings: Vec::new(),
            n_azimuth: 36,
            supersample: 4,
        }
    }

    /// A ring `1 + m cos(n(φ − φ0))` sampled at the pixel centres.
    fn cos_ring(g: &PolarGeometry, n: usize, m: f64, phi0: f64) -> Vec<f32> {
        let [ny, nx] = g.detector_shape;
        let [cy, cx] = g.center_px;
        (0..ny * nx)
            .map(|p| {
                let (i, j) = (p / nx, p % nx);
                let phi = (i as f64 - cy).atan2(j as f64 - cx);
                (100.0 * (1.0 + m * (n as f64 * (phi - phi0)).cos())) as f32
            })
            .collect()
    }

    #[test]
    fn cos_rings_recover_their_power_at_every_n() {
        let g = geometry(64);
        let ring = Ring {
            k_lo_per_nm: 3.84,
            k_hi_per_nm: 4.16,
        };
        let plan = RingFourierPlan::new(&g, ring, 10, 0.0, &[1.0], None);
        let mut vals = Vec::new();
        let mut out = vec![0.0; 11];
        let mut noise = vec![0.0; 11];
        for n in 1..=10 {
            for &m in &[0.1, 0.3, 0.8] {
                let pat = cos_ring(&g, n, m, 0.37 * std::f64::consts::TAU / 7.0);
                plan.spectrum(&pat, &mut vals, &mut out, &mut noise);
                let ratio = out[n] / (m * m / 4.0);
                assert!((ratio - 1.0).abs() < 0.01, "n = {n}, m = {m}: {ratio}");
            }
        }
        // No cross-talk: a 4-fold ring puts nothing into n = 8 or any other n.
        let pat = cos_ring(&g, 4, 0.8, 0.1);
        plan.spectrum(&pat, &mut vals, &mut out, &mut noise);
        for (n, v) in out.iter().enumerate().skip(1) {
            if n != 4 {
                assert!(v.abs() < 1e-8, "P_{n} = {v} from a 4-fold ring");
            }
        }
        for (n, t) in plan.angular_transfer().iter().enumerate() {
            assert!(*t > 0.98 && *t <= 1.0 + 1e-12, "transfer at n = {n}: {t}");
        }
    }

    #[test]
    fn binning_transfer_is_the_sinc_squared_of_the_issue() {
        let t = binning_transfer(10.0, 10);
        assert!((t[10] - 0.7706).abs() < 1e-3, "{}", t[10]);
        assert!((t[4] - 0.9598).abs() < 1e-3, "{}", t[4]);
    }
}
