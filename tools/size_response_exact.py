#!/usr/bin/env python3
"""Exact kinematic FWHM of the n-fold P_n map of one isolated density-wave cluster.

The reference for the limits stated in crates/analysis/src/size_model.rs. For probe positions
s along a line through the cluster centre, the exit wave is psi0(r - s) * t(r) * f_n(r): an
aberration-free probe (300 kV, 1.15 mrad, hard aperture), the projected chord length t of a
sphere of diameter D, and the n-fold density wave f_n at k0 = 4 nm^-1 (physics.md section 7).
The pattern is |FFT|^2; I_n is its n-th angular Fourier coefficient over the full-resolution
ring k0 +- 0.16 nm^-1 (the mro method's ring), and the map is |I_n|^2. The FWHM is averaged
over two directions of s. No matrix, no noise, no pixel sampling: what the map would be
without the measurement.

With --pixels it also gives what the mro method would measure of that map on the paper's scan
grid (0.32 nm): the equivalent-circle diameter of the 8-connected pixels around the brightest
pixel that stay above half its value (crates/analysis/src/significance.rs), averaged over 400
random positions of the cluster within a pixel (the profile averaged over the two directions,
taken as radial).

    python3 tools/size_response_exact.py 1.5 2.0 3.0             # n = 4 and 6; needs numpy
    python3 tools/size_response_exact.py --n 4,6,10 1.5          # about 10 s per D and n
    python3 tools/size_response_exact.py --pixels 2.0            # about 1 min per D and n

Not run in CI (a research check, like tools/xcheck_abtem.py); its figures are quoted in the
size_model docs.
"""
import sys

import numpy as np

from normalisation_broadening import half_max_area  # the method's half-maximum region

LAMBDA_NM = 1.9687e-3  # 300 kV
APERTURE_PER_NM = 1.15e-3 / LAMBDA_NM
K0, RING_WIDTH = 4.0, 0.32
N, DX = 512, 0.025

x = (np.arange(N) - N // 2) * DX
X, Y = np.meshgrid(x, x, indexing="xy")
k = np.fft.fftfreq(N, DX)
KX, KY = np.meshgrid(k, k, indexing="xy")
KR, PHI = np.hypot(KX, KY), np.arctan2(KY, KX)
RING = (KR >= K0 - RING_WIDTH / 2) & (KR < K0 + RING_WIDTH / 2)
APERTURE = (KR < APERTURE_PER_NM).astype(complex)


def probe(sx, sy):
    """Probe amplitude centred on (sx, sy) nm (origin at the grid centre)."""
    return np.fft.fftshift(np.fft.ifft2(APERTURE * np.exp(-2j * np.pi * (KX * sx + KY * sy))))


def wave(n):
    m = n // 2
    return sum(np.cos(2 * np.pi * K0 * (X * np.cos(np.pi * j / m) + Y * np.sin(np.pi * j / m)))
               for j in range(m)) / m


def i_n(d_nm, n, sx, sy):
    t = np.sqrt(np.clip((d_nm / 2) ** 2 - X * X - Y * Y, 0, None))
    intensity = np.abs(np.fft.fft2(probe(sx, sy) * t * wave(n))) ** 2
    return abs(np.sum(intensity[RING] * np.exp(1j * n * PHI[RING])))


def profiles(d_nm, n, step=0.02):
    """Radii (nm) and the map along the two directions of s, each normalised to its centre."""
    s = np.arange(0, 2.5, step)
    out = []
    for angle in (0.0, np.pi / (2 * n)):
        m = np.array([i_n(d_nm, n, v * np.cos(angle), v * np.sin(angle)) for v in s]) ** 2
        out.append(m / m[0])
    return s, out


def fwhm(d_nm, n):
    s, maps = profiles(d_nm, n)
    widths = []
    for m in maps:
        i = int(np.argmax(m < 0.5))
        widths.append(2 * (s[i - 1] + (m[i - 1] - 0.5) / (m[i - 1] - m[i]) * (s[i] - s[i - 1])))
    return float(np.mean(widths))


def pixel_ecd(d_nm, n, step_nm=0.32, trials=400, seed=1):
    """Mean half-maximum equivalent-circle diameter (nm) on a scan grid of step_nm."""
    s, maps = profiles(d_nm, n, step=0.04)
    m = np.mean(maps, axis=0)
    rng = np.random.default_rng(seed)
    g = np.arange(-8, 9)
    areas = []
    for _ in range(trials):
        cx, cy = rng.uniform(-0.5, 0.5, 2)
        gx, gy = np.meshgrid((g - cx) * step_nm, (g - cy) * step_nm)
        image = np.interp(np.hypot(gx, gy), s, m, right=0.0)
        peak = np.unravel_index(np.argmax(image), image.shape)
        areas.append(half_max_area(image, peak, 0.0))
    return float(2 * np.sqrt(np.mean(areas) * step_nm**2 / np.pi))


if __name__ == "__main__":
    args = sys.argv[1:]
    symmetries = [4, 6]
    pixels = "--pixels" in args
    args = [a for a in args if a != "--pixels"]
    if args[:1] == ["--n"]:
        symmetries = [int(v) for v in args[1].split(",")]
        args = args[2:]
    for d in [float(a) for a in args] or [1.5, 2.0, 3.0]:
        for n in symmetries:
            line = f"D = {d:.2f} nm, n = {n}: map FWHM {fwhm(d, n):.3f} nm"
            if pixels:
                line += f", measured on 0.32 nm pixels {pixel_ecd(d, n):.3f} nm"
            print(line, flush=True)
