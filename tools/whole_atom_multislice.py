#!/usr/bin/env python3
"""Independent NumPy check of mro's whole-atom potentials (crates/sim/src/eikonal.rs).

Builds a random Zr55Co25Al20 glass (54 atoms/nm^3) in a periodic L x L cell, runs a plane-wave
multislice through it three ways at a band limit k_bl (default 15.36 nm^-1) and once at a
reference band limit (default 80 nm^-1), and prints the scattered intensity per k band of each
against the reference:

- plain: the cut potential, exp(i sigma v_cut);
- born-absorption: the cut potential with an absorptive Gaussian of each element's first-Born
  cross-section beyond k_bl (mro's model before 2026-12-02);
- whole-atom: each element's effective potential v_eff(k), found here by a fixed point on a 2-D
  FFT of one isolated atom (mro does it with radial transforms), whose cut transmission function
  has the whole atom's in-band amplitudes.

    python3 tools/whole_atom_multislice.py --thickness 5
    python3 tools/whole_atom_multislice.py --thickness 20   # about 40 s

Scattering factors from crates/sim/data/lobato2014.tsv; 300 kV; atoms on the nearest grid point
(the same for every run, so the comparison is like for like). Needs NumPy only.
"""
import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIGMA = 0.0065262      # rad/(V nm), 300 kV
TWO_PI_A0_E = 0.47878  # V nm^2
LAMBDA = 0.0019687     # nm
COMPOSITION = [("Zr", 0.55), ("Co", 0.25), ("Al", 0.20)]
BANDS = [(1, 2), (2, 4), (4, 6), (6, 8), (8, 10)]


def lobato():
    params = {}
    for line in (ROOT / "crates/sim/data/lobato2014.tsv").read_text().splitlines():
        if line.startswith("#") or line.startswith("Z"):
            continue
        f = line.split("\t")
        params[f[1]] = (np.array(f[2:7], float), np.array(f[7:12], float))
    return params


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--thickness", type=float, default=5.0, help="foil thickness, nm")
    ap.add_argument("--k-bl", type=float, default=15.36, help="band limit tested, nm^-1")
    ap.add_argument("--k-ref", type=float, default=80.0, help="reference band limit, nm^-1")
    ap.add_argument("--cell", type=float, default=3.2, help="cell side, nm")
    ap.add_argument("--points", type=int, default=768, help="grid points per side")
    ap.add_argument("--slice", type=float, default=0.2, help="slice thickness, nm")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    params = lobato()
    L, N = a.cell, a.points
    area = L * L
    k1 = np.fft.fftfreq(N, d=L / N)
    kx, ky = np.meshgrid(k1, k1, indexing="ij")
    K = np.hypot(kx, ky)
    assert a.k_ref <= N / L / 3 + 1e-9, "reference band limit beyond 2/3 of Nyquist"

    def fe_nm(sym, k):
        aa, bb = params[sym]
        g2 = (k / 10.0) ** 2
        return sum(aa[i] * (2 + bb[i] * g2) / (1 + bb[i] * g2) ** 2 for i in range(5)) / 10.0

    def window(kb, taper=0.05):
        w = np.ones_like(K)
        k0 = (1 - taper) * kb
        m = (K > k0) & (K < kb)
        w[m] = 0.5 * (1 + np.cos(np.pi * (K[m] - k0) / (kb - k0)))
        w[K >= kb] = 0
        return w

    def to_real(vk):  # V nm^3 per k point -> V nm, one atom at the origin
        return np.fft.ifft2(vk) * N * N / area

    kernels = {}
    for sym, _ in COMPOSITION:
        vk = TWO_PI_A0_E * fe_nm(sym, K)
        w_ref, w_bl = window(a.k_ref), window(a.k_bl)
        kernels[("ref", sym)] = vk * w_ref
        kernels[("plain", sym)] = vk * w_bl
        p_e = ((1 - w_bl ** 2) * np.abs(vk * w_ref) ** 2).sum() / area
        s_a = 0.5 / a.k_bl
        kernels[("born-absorption", sym)] = vk * w_bl + 1j * (SIGMA * p_e / 2) * np.exp(
            -2 * np.pi ** 2 * s_a ** 2 * K ** 2)
        inside = K <= a.k_bl
        psi_whole = np.fft.fft2(np.exp(1j * SIGMA * to_real(vk * w_ref).real)) / (N * N)
        v_eff = (vk * w_bl).astype(complex)
        for _ in range(25):
            psi = np.fft.fft2(np.exp(1j * SIGMA * to_real(v_eff))) / (N * N) * inside
            v_eff = v_eff + area * (psi_whole * inside - psi) / (1j * SIGMA) * w_bl
        kernels[("whole-atom", sym)] = v_eff

    rng = np.random.default_rng(a.seed)
    n_atoms = int(54 * area * a.thickness)
    element = rng.choice(len(COMPOSITION), size=n_atoms, p=[c for _, c in COMPOSITION])
    pos = rng.random((n_atoms, 3)) * [L, L, a.thickness]
    n_slices = max(1, int(round(a.thickness / a.slice)))
    ix = np.floor(pos[:, 0] / L * N).astype(int) % N
    iy = np.floor(pos[:, 1] / L * N).astype(int) % N
    isl = np.minimum((pos[:, 2] / a.thickness * n_slices).astype(int), n_slices - 1)
    structure = {}
    for s in range(n_slices):
        for e, (sym, _) in enumerate(COMPOSITION):
            d = np.zeros((N, N))
            m = (isl == s) & (element == e)
            np.add.at(d, (ix[m], iy[m]), 1.0)
            structure[(s, sym)] = np.fft.fft2(d)
    dz = a.thickness / n_slices

    def run(model, kb):
        prop = np.exp(-1j * np.pi * LAMBDA * dz * K ** 2) * (K <= kb)
        psi = np.ones((N, N), complex)
        for s in range(n_slices):
            vk = sum(structure[(s, sym)] * kernels[(model, sym)] for sym, _ in COMPOSITION)
            t = np.exp(1j * SIGMA * np.fft.ifft2(vk) * N * N / area)
            psi = np.fft.ifft2(np.fft.fft2(psi * t) * prop)
        return np.abs(np.fft.fft2(psi) / (N * N)) ** 2

    def bands(pattern):
        return np.array([pattern[(K >= lo) & (K < hi)].sum() for lo, hi in BANDS])

    ref = bands(run("ref", a.k_ref))
    print(f"{a.thickness} nm of Zr55Co25Al20 ({n_atoms} atoms, {n_slices} slices of {dz:.2f} nm), "
          f"k_bl {a.k_bl} nm^-1 against {a.k_ref} nm^-1; change of the band intensity:")
    print("  " + " ".join(f"{lo}-{hi} nm^-1".rjust(12) for lo, hi in BANDS) + "  model")
    for model in ["plain", "born-absorption", "whole-atom"]:
        r = bands(run(model, a.k_bl)) / ref - 1
        print("  " + " ".join(f"{100 * x:+11.2f}%" for x in r) + f"  {model}")


if __name__ == "__main__":
    main()
