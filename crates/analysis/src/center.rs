//! Refining the pattern centre from the data.
//!
//! A kinematic (and, to first order, any thin-sample) mean pattern is centrosymmetric:
//! `M(c + q) = M(c − q)`. The self-convolution `(M ⋆ M)(s) = Σ_p M(p)·M(s − p)` is therefore
//! largest at `s = 2c`. It is computed by FFT on the mean-subtracted, masked, zero-padded mean
//! pattern, its maximum refined by a parabola along each axis, and halved.

use rustfft::num_complex::Complex64;
use rustfft::FftPlanner;

use crate::autocorrelation::fft2;

/// Centre `[y, x]` in pixels of the centrosymmetric pattern `mean` (`[ny, nx]`, C order);
/// `excluded` pixels are ignored. Only a maximum within `max_shift_px` of `guess_px` is accepted
/// (so detector-edge artefacts cannot win); returns `None` if the pattern is flat.
pub fn friedel_center(
    mean: &[f64],
    shape: [usize; 2],
    excluded: Option<&[bool]>,
    guess_px: [f64; 2],
    max_shift_px: f64,
) -> Option<[f64; 2]> {
    let [ny, nx] = shape;
    let ok = |p: usize| excluded.map_or(true, |m| !m[p]);
    let (mut s, mut n) = (0.0, 0usize);
    for (p, &v) in mean.iter().enumerate() {
        if ok(p) {
            s += v;
            n += 1;
        }
    }
    if n == 0 {
        return None;
    }
    let mu = s / n as f64;
    let (py, px) = (2 * ny, 2 * nx);
    let mut buf = vec![Complex64::default(); py * px];
    for y in 0..ny {
        for x in 0..nx {
            let p = y * nx + x;
            if ok(p) {
                buf[y * px + x] = Complex64::new(mean[p] - mu, 0.0);
            }
        }
    }
    let mut planner = FftPlanner::new();
    fft2(&mut buf, py, px, &mut planner, false);
    for v in buf.iter_mut() {
        *v = *v * *v;
    }
    fft2(&mut buf, py, px, &mut planner, true);
    let val = |y: isize, x: isize| -> f64 {
        buf[y.rem_euclid(py as isize) as usize * px + x.rem_euclid(px as isize) as usize].re
    };
    let (gy, gx) = (2.0 * guess_px[0], 2.0 * guess_px[1]);
    let r2 = (2.0 * max_shift_px).powi(2);
    let mut best: Option<(isize, isize, f64)> = None;
    for y in 0..py as isize {
        for x in 0..px as isize {
            if (y as f64 - gy).powi(2) + (x as f64 - gx).powi(2) > r2 {
                continue;
            }
            let v = val(y, x);
            if best.map_or(true, |b| v > b.2) {
                best = Some((y, x, v));
            }
        }
    }
    let (by, bx, bv) = best?;
    if bv <= 0.0 {
        return None;
    }
    let refine = |a: f64, b: f64, c: f64| {
        let den = a - 2.0 * b + c;
        if den != 0.0 {
            (0.5 * (a - c) / den).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    };
    let oy = refine(val(by - 1, bx), bv, val(by + 1, bx));
    let ox = refine(val(by, bx - 1), bv, val(by, bx + 1));
    Some([(by as f64 + oy) / 2.0, (bx as f64 + ox) / 2.0])
}
