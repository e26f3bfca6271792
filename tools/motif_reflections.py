#!/usr/bin/env python3
"""How strongly does each planted density wave scatter onto the k0 ring, as built?

A research check on a glass written by `mro glass` (atoms.xyz and truth.json; not run in CI,
like tools/excited_clusters.py); its figures are quoted in reports/calibration.md, "Only 2-fold
waves". Two measures, both kinematic, on the atoms inside each wave's sphere, with Lobato &
Van Dyck (2014) scattering factors at k0 (crates/sim/data/lobato2014.tsv):

- the projected ring: the pattern of the sphere's atoms projected along the beam (z),
  |Σ f_j exp(−2πi k·r_j)|² over Σ f_j², sampled every degree on the ring |k| = k0; its
  maximum and its normalised 2-fold power. Printed per wave against the wave's worst
  defining-reflection elevation in units of its Bragg acceptance 1/(k0·D) (the truth's
  in-condition rule), and for matrix spheres of the same size (centres 5.5 nm or more from
  every wave), the level of no order;
- with `--frame ID ...`: for those waves, the 3-D intensity |Σ exp(−2πi g·r)|²/N over the
  sphere |g| = k0 in the cluster's own frame (axis w, e1 and e2 as in
  mro_sim::glass::orientation::Frame), its strongest directions: the defining reflection
  lies in the cluster plane (axial component 0); any other strong one is a reflection of the
  motif the truth's rule does not look at.

    /path/to/python-with-numpy tools/motif_reflections.py GLASS_DIR [--n 2] [--frame ID ...]

GLASS_DIR holds `atoms.xyz` (extended XYZ, Å) and `truth.json`. Scan point and sample share
their origin; the sample is periodic in x and y.
"""
import argparse
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from excited_clusters import frame  # noqa: E402
from whole_atom_multislice import lobato  # noqa: E402

MATRIX_SPHERES = 8
MATRIX_CLEARANCE_NM = 5.5


def lobato_nm(symbols, k_per_nm):
    """f_e(k) in nm for each element symbol (Lobato & Van Dyck 2014)."""
    params = lobato()
    g2 = (k_per_nm / 10.0) ** 2
    out = {}
    for s in set(symbols):
        a, b = params[s]
        out[s] = float(np.sum(a * (2 + b * g2) / (1 + b * g2) ** 2)) / 10.0
    return out


def read_xyz(path):
    lines = path.read_text().splitlines()
    n = int(lines[0])
    sym = np.empty(n, dtype=object)
    xyz = np.empty((n, 3))
    for i, line in enumerate(lines[2 : 2 + n]):
        p = line.split()
        sym[i] = p[0]
        xyz[i] = [float(p[1]), float(p[2]), float(p[3])]
    return sym, xyz / 10.0  # Å → nm


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("glass")
    ap.add_argument("--n", type=int, default=2, help="symmetry of the waves to examine")
    ap.add_argument("--frame", type=int, nargs="*", default=[], help="cluster ids for the 3-D scan")
    args = ap.parse_args()
    d = pathlib.Path(args.glass)
    truth = json.loads((d / "truth.json").read_text())
    sym, xyz = read_xyz(d / "atoms.xyz")
    size = np.array(truth["extent_nm"], float)
    waves = [c for c in truth["clusters"] if c.get("symmetry") == args.n]
    if not waves:
        sys.exit(f"{d}/truth.json: no density wave of symmetry {args.n}")
    k0s = {t["k0_per_nm"] for t in truth["by_type"].values() if t.get("symmetry") == args.n}
    if len(k0s) != 1:
        sys.exit(f"{d}/truth.json: {len(k0s)} ring radii k0 for n = {args.n}; expected one")
    k0 = k0s.pop()
    fe = lobato_nm(sym, k0)
    w = np.array([fe[s] for s in sym])
    phi = np.radians(np.arange(360))

    def inside(center, radius):
        dd = xyz - np.asarray(center, float)
        dd[:, :2] -= size * np.round(dd[:, :2] / size)
        return dd, (dd**2).sum(1) < radius * radius

    def projected_ring(center, radius):
        dd, sel = inside(center, radius)
        kv = k0 * np.stack([np.cos(phi), np.sin(phi)], 1)
        amp = (w[sel][None, :] * np.exp(-2j * np.pi * (kv @ dd[sel, :2].T))).sum(1)
        ring = np.abs(amp) ** 2 / (w[sel] ** 2).sum()
        p2 = np.abs((ring * np.exp(-2j * phi)).mean()) ** 2 / ring.mean() ** 2
        return int(sel.sum()), ring.max(), p2

    print(f"k0 = {k0} nm^-1; projected ring max over sum f^2, per wave of n = {args.n}:")
    print("id | acceptances out | atoms | ring max | P_2 (normalised)")
    rows = []
    for c in waves:
        off = c["worst_reflection_elevation_deg"] / c["acceptance_deg"]
        n_at, mx, p2 = projected_ring(c["center_nm"], c["diameter_nm"] / 2)
        rows.append((off, c["id"], n_at, mx, p2))
    for off, cid, n_at, mx, p2 in sorted(rows):
        print(f"{cid} | {off:.1f} | {n_at} | {mx:.1f} | {p2:.3f}")
    radius = float(np.mean([c["diameter_nm"] for c in waves])) / 2
    rng = np.random.default_rng(0)
    matrix = []
    for _ in range(10000):
        if len(matrix) == MATRIX_SPHERES:
            break
        cen = [rng.uniform(0, size[0]), rng.uniform(0, size[1]),
               rng.uniform(radius, truth.get("thickness_nm", 2 * radius) - radius)]
        clear = True
        for c in truth["clusters"]:
            dxy = (np.asarray(c["center_nm"][:2]) - cen[:2] + size / 2) % size - size / 2
            if np.hypot(np.hypot(*dxy), c["center_nm"][2] - cen[2]) < MATRIX_CLEARANCE_NM:
                clear = False
                break
        if clear:
            matrix.append(projected_ring(cen, radius)[1])
    if matrix:
        print(f"matrix spheres of radius {radius:.2f} nm ({len(matrix)}): ring max "
              f"{min(matrix):.1f}–{max(matrix):.1f}")
    for lo, hi in [(-np.inf, 1), (1, 4), (4, np.inf)]:
        sel = [r for r in rows if lo < r[0] <= hi]
        if sel:
            mx = sorted(r[3] for r in sel)
            print(f"waves {max(lo, 0)}–{hi} acceptances out: {len(sel)}, ring max {mx[0]:.0f}–{mx[-1]:.0f}, "
                  f"above 100: {sum(m > 100 for m in mx)}")

    by_id = {c["id"]: c for c in truth["clusters"]}
    for cid in args.frame:
        if cid not in by_id:
            sys.exit(f"{d}/truth.json: no cluster {cid}")
        c = by_id[cid]
        dd, sel = inside(c["center_nm"], c["diameter_nm"] / 2)
        e1, e2 = frame(c["axis"], c["in_plane_deg"])
        ax = np.asarray(c["axis"], float)
        ax /= np.linalg.norm(ax)
        r = dd[sel]
        uvw = np.stack([r @ e1, r @ e2, r @ ax], 1)
        found = []
        az = np.radians(np.arange(0, 360, 1.0))
        for gw in np.arange(0.0, k0 + 1e-9, 0.05):
            gp = np.sqrt(max(k0 * k0 - gw * gw, 0.0))
            g = np.stack([gp * np.cos(az), gp * np.sin(az), np.full_like(az, gw)], 1)
            inten = np.abs(np.exp(-2j * np.pi * (g @ uvw.T)).sum(1)) ** 2 / len(uvw)
            i = int(inten.argmax())
            found.append((inten[i], gw, np.degrees(az[i])))
        found.sort(reverse=True)
        print(f"cluster {cid} ({len(uvw)} atoms, defining reflection "
              f"{c['worst_reflection_elevation_deg']:.1f} deg from the diffraction plane): strongest "
              "|g| = k0 directions in its frame, intensity / N")
        seen = []
        for inten, gw, azd in found:
            if any(abs(gw - s) < 0.2 for s in seen):
                continue
            seen.append(gw)
            print(f"  {inten:8.1f} at axial {gw:.2f} nm^-1 ({np.degrees(np.arcsin(gw / k0)):.1f} deg "
                  f"out of the cluster plane), azimuth {azd:.0f} deg")
            if len(seen) == 4:
                break


if __name__ == "__main__":
    main()
