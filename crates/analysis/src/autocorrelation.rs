//! σ(r): the radially averaged, normalised 2-D autocorrelation of a map.
//!
//! The map's mean is subtracted, it is zero-padded to twice its size (so lags do not wrap),
//! and the autocorrelation `G(Δ) = Σ_p m(p)·m(p+Δ)` is taken by FFT as `F⁻¹|F m|²`. Each lag is
//! divided by its overlap count `(ny − |Δy|)(nx − |Δx|)` and by `G(0)/(ny·nx)`, so σ(0) = 1 and
//! σ(Δ) is the correlation coefficient of the map with itself shifted by Δ. σ(r) averages the
//! lags in bins of one scan step `r ∈ [(i − ½)·step, (i + ½)·step)`, up to half the smaller
//! scan side. The spacing is the first local maximum of σ(r) beyond the probe size.

use rustfft::num_complex::Complex64;
use rustfft::FftPlanner;
use serde::{Deserialize, Serialize};

/// A radially averaged autocorrelation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RadialAutocorrelation {
    /// Bin centres in nm.
    pub r_nm: Vec<f64>,
    /// σ(r).
    pub sigma: Vec<f64>,
}

/// The full 2-D autocorrelation coefficient of `map` (`[ny, nx]`), indexed by lag
/// `(dy + ny − 1, dx + nx − 1)` in a `(2ny − 1) × (2nx − 1)` array.
pub fn autocorrelation_2d(map: &[f64], shape: [usize; 2]) -> Vec<f64> {
    let [ny, nx] = shape;
    let (py, px) = (2 * ny, 2 * nx);
    let mean = map.iter().sum::<f64>() / map.len() as f64;
    let mut buf = vec![Complex64::default(); py * px];
    for y in 0..ny {
        for x in 0..nx {
            buf[y * px + x] = Complex64::new(map[y * nx + x] - mean, 0.0);
        }
    }
    let mut planner = FftPlanner::new();
    fft2(&mut buf, py, px, &mut planner, false);
    for v in buf.iter_mut() {
        *v = Complex64::new(v.norm_sqr(), 0.0);
    }
    fft2(&mut buf, py, px, &mut planner, true);
    let scale = 1.0 / (py * px) as f64;
    let g0 = buf[0].re * scale / (ny * nx) as f64;
    let (oy, ox) = (2 * ny - 1, 2 * nx - 1);
    let mut out = vec![0.0; oy * ox];
    for dy in -(ny as isize - 1)..=(ny as isize - 1) {
        for dx in -(nx as isize - 1)..=(nx as isize - 1) {
            let iy = dy.rem_euclid(py as isize) as usize;
            let ix = dx.rem_euclid(px as isize) as usize;
            let overlap = ((ny as isize - dy.abs()) * (nx as isize - dx.abs())) as f64;
            let g = buf[iy * px + ix].re * scale / overlap;
            out[(dy + ny as isize - 1) as usize * ox + (dx + nx as isize - 1) as usize] =
                if g0 > 0.0 { g / g0 } else { 0.0 };
        }
    }
    out
}

/// In-place 2-D FFT of a row-major `py × px` buffer (unnormalised).
pub(crate) fn fft2(
    buf: &mut [Complex64],
    py: usize,
    px: usize,
    planner: &mut FftPlanner<f64>,
    inv: bool,
) {
    let row = if inv {
        planner.plan_fft_inverse(px)
    } else {
        planner.plan_fft_forward(px)
    };
    row.process(buf);
    let col = if inv {
        planner.plan_fft_inverse(py)
    } else {
        planner.plan_fft_forward(py)
    };
    let mut tmp = vec![Complex64::default(); py];
    for x in 0..px {
        for y in 0..py {
            tmp[y] = buf[y * px + x];
        }
        col.process(&mut tmp);
        for y in 0..py {
            buf[y * px + x] = tmp[y];
        }
    }
}

/// σ(r) of `map` with scan step `step_nm`.
pub fn radial_autocorrelation(
    map: &[f64],
    shape: [usize; 2],
    step_nm: f64,
) -> RadialAutocorrelation {
    let [ny, nx] = shape;
    let full = autocorrelation_2d(map, shape);
    let ox = 2 * nx - 1;
    let nbins = ny.min(nx) / 2 + 1;
    let mut sum = vec![0.0; nbins];
    let mut cnt = vec![0usize; nbins];
    for dy in -(ny as isize - 1)..=(ny as isize - 1) {
        for dx in -(nx as isize - 1)..=(nx as isize - 1) {
            let r = ((dy * dy + dx * dx) as f64).sqrt();
            let b = r.round() as usize;
            if b < nbins {
                sum[b] +=
                    full[(dy + ny as isize - 1) as usize * ox + (dx + nx as isize - 1) as usize];
                cnt[b] += 1;
            }
        }
    }
    RadialAutocorrelation {
        r_nm: (0..nbins).map(|i| i as f64 * step_nm).collect(),
        sigma: sum
            .iter()
            .zip(&cnt)
            .map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN })
            .collect(),
    }
}

impl RadialAutocorrelation {
    /// The first local maximum of σ(r) at `r > r_min_nm`, refined by a parabola; `None` if σ only
    /// falls or rises.
    pub fn first_peak_nm(&self, r_min_nm: f64) -> Option<f64> {
        let s = &self.sigma;
        for i in 1..s.len().saturating_sub(1) {
            if self.r_nm[i] <= r_min_nm {
                continue;
            }
            if s[i] > s[i - 1] && s[i] >= s[i + 1] {
                let den = s[i - 1] - 2.0 * s[i] + s[i + 1];
                let off = if den != 0.0 {
                    (0.5 * (s[i - 1] - s[i + 1]) / den).clamp(-0.5, 0.5)
                } else {
                    0.0
                };
                let step = self.r_nm[1] - self.r_nm[0];
                return Some(self.r_nm[i] + off * step);
            }
        }
        None
    }
}
