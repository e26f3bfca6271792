//! Slow, obviously correct reference implementations that the fast paths are tested against.

use crate::polar::PolarGeometry;

/// Brute-force polar transform: for every bin, visit every sub-pixel of every unmasked
/// detector pixel and average those whose centre falls in the bin. Returns `None` for empty bins.
pub fn polar_transform(
    g: &PolarGeometry,
    pattern: &[f32],
    excluded: Option<&[bool]>,
) -> Vec<Option<f64>> {
    let [ny, nx] = g.detector_shape;
    let s = g.supersample.max(1);
    let nbins = g.rings.len() * g.n_azimuth;
    let mut out = Vec::with_capacity(nbins);
    for row in 0..g.rings.len() {
        let ring = g.rings[row];
        for az in 0..g.n_azimuth {
            let (mut sum, mut w) = (0.0f64, 0.0f64);
            for i in 0..ny {
                for j in 0..nx {
                    if excluded.is_some_and(|m| m[i * nx + j]) {
                        continue;
                    }
                    for a in 0..s {
                        for b in 0..s {
                            let y = i as f64 - 0.5 + (a as f64 + 0.5) / s as f64;
                            let x = j as f64 - 0.5 + (b as f64 + 0.5) / s as f64;
                            let kx = (x - g.center_px[1]) * g.k_pixel_per_nm;
                            let ky = (y - g.center_px[0]) * g.k_pixel_per_nm;
                            let k = (kx * kx + ky * ky).sqrt();
                            if k < ring.k_lo_per_nm || k >= ring.k_hi_per_nm {
                                continue;
                            }
                            let phi = ky.atan2(kx).rem_euclid(std::f64::consts::TAU);
                            let step = std::f64::consts::TAU / g.n_azimuth as f64;
                            let bin = ((phi / step + 0.5).floor() as usize) % g.n_azimuth;
                            if bin == az {
                                sum += f64::from(pattern[i * nx + j]);
                                w += 1.0;
                            }
                        }
                    }
                }
            }
            out.push((w > 0.0).then(|| sum / w));
        }
    }
    out
}

/// `P_n = |I_n|²/|I_0|²` by the direct DFT sum.
pub fn power_spectrum(ring: &[f64], n_max: usize) -> Vec<f64> {
    let n = ring.len();
    let coef = |h: usize| {
        let (mut re, mut im) = (0.0, 0.0);
        for (b, &v) in ring.iter().enumerate() {
            let a = -std::f64::consts::TAU * (h * b) as f64 / n as f64;
            re += v * a.cos();
            im += v * a.sin();
        }
        (re / n as f64, im / n as f64)
    };
    let (r0, i0) = coef(0);
    let p0 = r0 * r0 + i0 * i0;
    (0..=n_max)
        .map(|h| {
            let (r, i) = coef(h);
            (r * r + i * i) / p0
        })
        .collect()
}

/// The 2-D autocorrelation coefficient of a map by direct summation over overlapping pixels,
/// indexed like [`crate::autocorrelation::autocorrelation_2d`].
pub fn autocorrelation_2d(map: &[f64], shape: [usize; 2]) -> Vec<f64> {
    let [ny, nx] = shape;
    let mean = map.iter().sum::<f64>() / map.len() as f64;
    let m: Vec<f64> = map.iter().map(|v| v - mean).collect();
    let g0 = m.iter().map(|v| v * v).sum::<f64>() / (ny * nx) as f64;
    let (oy, ox) = (2 * ny - 1, 2 * nx - 1);
    let mut out = vec![0.0; oy * ox];
    for dy in -(ny as isize - 1)..=(ny as isize - 1) {
        for dx in -(nx as isize - 1)..=(nx as isize - 1) {
            let (mut s, mut c) = (0.0, 0usize);
            for y in 0..ny as isize {
                for x in 0..nx as isize {
                    let (yy, xx) = (y + dy, x + dx);
                    if yy >= 0 && xx >= 0 && yy < ny as isize && xx < nx as isize {
                        s +=
                            m[(y * nx as isize + x) as usize] * m[(yy * nx as isize + xx) as usize];
                        c += 1;
                    }
                }
            }
            out[(dy + ny as isize - 1) as usize * ox + (dx + nx as isize - 1) as usize] =
                s / c as f64 / g0;
        }
    }
    out
}

/// V_Ω from its definition on per-pattern ring sums `S` (one per scan position) with `n_px`
/// pixels in the ring: `⟨S²⟩/⟨S⟩² − 1 − g/⟨S⟩`.
pub fn v_omega_from_sums(sums: &[f64], gain: f64) -> f64 {
    let n = sums.len() as f64;
    let m = sums.iter().sum::<f64>() / n;
    let m2 = sums.iter().map(|s| s * s).sum::<f64>() / n;
    m2 / (m * m) - 1.0 - gain / m
}
