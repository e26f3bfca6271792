//! Slow, obviously-correct oracles that the fast paths are tested against.

use rustfft::num_complex::{Complex32, Complex64};
use std::f64::consts::PI;

use crate::potential::{band_limit_window, first_order_beyond_band_v2_nm4};
use crate::probe::ProbeSpectrum;
use crate::propagation::beam_depletion;
use crate::scattering::ScatteringFactor;

/// Naive 2-D DFT of an n×n `[y][x]` array in f64: forward (e^{−2πi…}) or inverse, unnormalised;
/// output `[ky][kx]`.
pub fn naive_dft2(x: &[Complex32], n: usize, inverse: bool) -> Vec<Complex32> {
    let sign = if inverse { 1.0 } else { -1.0 };
    let mut out = vec![Complex32::default(); n * n];
    for ky in 0..n {
        for kx in 0..n {
            let mut acc = Complex64::default();
            for y in 0..n {
                for xx in 0..n {
                    let ph = sign * 2.0 * PI * ((ky * y + kx * xx) % n) as f64 / n as f64;
                    let v = x[y * n + xx];
                    acc += Complex64::new(f64::from(v.re), f64::from(v.im))
                        * Complex64::from_polar(1.0, ph);
                }
            }
            out[ky * n + kx] = Complex32::new(acc.re as f32, acc.im as f32);
        }
    }
    out
}

/// Direct kinematic sum for atoms inside one periodic window (no FFT, no gridding):
/// Ψ(k) = a·Ψ₀(k) + b·iσ/L² Σ_{q≠k} Ψ₀(q)·ṽ(k − q), with the band-limited atom sum
/// ṽ(k) = W(|k|)·Σ_j 2πa₀e·f_j(|k|)·e^{−2πik·r_j} (positions relative to the window origin),
/// its k = 0 term (the mean inner potential, a pure phase) left out, and the beam and
/// scattered factors (a, b) of [`beam_depletion`] for the first-order power on the window's
/// reciprocal lattice plus, with `absorb`, what the atoms scatter beyond the band limit spread
/// over the window, σ²·Σ_j s_j / L² ([`first_order_beyond_band_v2_nm4`]).
/// Returns |Ψ(k)|² at the reciprocal-lattice points `k_nm` (`[ky, kx]`, multiples of 1/L).
///
/// `probe` must be the window's aperture list (built for n pixels at 1/L), `center_nm` the
/// probe centre `[y, x]` and `k_bl_per_nm` the potential's band limit.
#[allow(clippy::too_many_arguments)]
pub fn kinematic_direct(
    atoms: &[([f64; 2], u8)],
    probe: &ProbeSpectrum,
    n: usize,
    window_nm: f64,
    center_nm: [f64; 2],
    sigma_rad_per_v_nm: f64,
    k_bl_per_nm: f64,
    absorb: bool,
    k_nm: &[[f64; 2]],
) -> Vec<f64> {
    let psi0: Vec<([f64; 2], Complex64)> = probe
        .values(n, center_nm, 0.0)
        .zip(&probe.pixels)
        .map(|((_, [re, im]), &(_, _, kx, ky, _))| ([ky, kx], Complex64::new(re, im)))
        .collect();
    let factors: Vec<(ScatteringFactor, [f64; 2])> = atoms
        .iter()
        .map(|&(r, z)| (ScatteringFactor::for_z(z).expect("known element"), r))
        .collect();
    let area = window_nm * window_nm;
    let amplitudes: Vec<(Complex64, Complex64)> = k_nm
        .iter()
        .map(|&k| {
            let mut scattered = Complex64::default();
            let mut direct = Complex64::default();
            for &(q, a) in &psi0 {
                let d = [k[0] - q[0], k[1] - q[1]];
                if d[0].abs() < 1e-9 && d[1].abs() < 1e-9 {
                    direct += a;
                }
                let kk = (d[0] * d[0] + d[1] * d[1]).sqrt();
                if kk < 1e-9 {
                    // The window's mean potential is a phase, not scattering.
                    continue;
                }
                let w = band_limit_window(kk, k_bl_per_nm);
                if w == 0.0 {
                    continue;
                }
                let mut v = Complex64::default();
                for (f, r) in &factors {
                    let ph = -2.0 * PI * (d[0] * r[0] + d[1] * r[1]);
                    v += Complex64::from_polar(f.potential_ft_v_nm3(kk), ph);
                }
                scattered += a * v * w;
            }
            (
                direct,
                Complex64::new(0.0, sigma_rad_per_v_nm / area) * scattered,
            )
        })
        .collect();
    // Flux shared between beam and scattered waves by the Poisson depletion rule.
    let beyond: f64 = if absorb {
        let s2 = sigma_rad_per_v_nm * sigma_rad_per_v_nm;
        factors
            .iter()
            .map(|(f, _)| s2 * first_order_beyond_band_v2_nm4(f, k_bl_per_nm, 0.0) / area)
            .sum()
    } else {
        0.0
    };
    let scattered_power: f64 = amplitudes.iter().map(|(_, s)| s.norm_sqr()).sum::<f64>() + beyond;
    let (beam, scale) = beam_depletion(scattered_power);
    amplitudes
        .iter()
        .map(|(direct, scattered)| (direct * beam + scattered * scale).norm_sqr())
        .collect()
}
