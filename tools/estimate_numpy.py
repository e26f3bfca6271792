#!/usr/bin/env python3
"""Write an external estimate (schema mro.estimate/1) from an mro datacube with plain NumPy.

A minimal, independent pipeline that `mro score` can judge against mro's truth — and a template
for scoring your own (pyxem, py4DSTEM, ...): replace `estimate()` and keep `write()`.

    python3 tools/estimate_numpy.py DATACUBE.npy META.json --out ESTIMATE.json [--force] \
        [--k 4.0] [--width 0.32] [--n-max 10] [--gain 1.0] [--alpha 0.05] [--in-condition F]
    mro score TRUTH.json ESTIMATE.json

The in-condition share F is the run's own `analysis.in_condition_fraction` when META.json
records the scenario it was simulated from (`provenance.resolved_scenario`), else the paper's
0.059. An existing ESTIMATE.json is replaced only with --force.

What it does, per pattern: the ring |k - k0| < width/2 at pixel centres; I_n = sum_p I_p
exp(-i n phi_p); P_n = (|I_n|^2 - gain * sum_p I_p) / I_0^2 (the exact shot-noise term for unit
pixel weights). Per map: pixels above theta * ln(N / alpha), theta = median(raw P_n) / ln 2 (an
exponential null; alpha = expected false regions per map), 8-connected; the diameter is the
equivalent-circle diameter of each region's half-maximum area (no probe model: this is the
simple baseline); volume fraction = sum (pi/6) D^3 / (area * thickness) / in-condition share.
Standard errors: sqrt(N) for counts, sd/sqrt(N) for the mean diameter, sqrt(sum v_i^2) for the
volume fraction. Spacing is not estimated (null).

Needs only numpy (the datacube is memory-mapped, so it may be larger than memory).
"""
import argparse
import json
import math
import os
import sys
from collections import deque

import numpy as np


def ring_spectrum(cube, center, dk, k0, width, n_max, gain):
    """Shot-noise-corrected P_n maps [n_max+1, sy, sx] and the uncorrected ones."""
    sy, sx, dy, dx = cube.shape
    i, j = np.mgrid[0:dy, 0:dx]
    ky, kx = (i - center[0]) * dk, (j - center[1]) * dk
    k = np.hypot(kx, ky)
    sel = np.abs(k - k0) < 0.5 * width
    phi = np.arctan2(ky, kx)[sel]
    n = np.arange(n_max + 1)[:, None]
    basis = np.exp(-1j * n * phi[None, :])  # [n, pixels]
    basis = basis - basis.mean(axis=1, keepdims=True) * (n > 0)  # no leak of the ring mean
    corrected = np.empty((n_max + 1, sy, sx))
    raw = np.empty_like(corrected)
    for y in range(sy):
        rows = np.asarray(cube[y], dtype=np.float64).reshape(sx, dy * dx)[:, sel.ravel()]
        i0 = rows.sum(axis=1)
        coeff = rows @ basis.T  # [sx, n]
        noise = gain * (np.clip(rows, 0, None) @ (np.abs(basis.T) ** 2))  # [sx, n]
        with np.errstate(divide="ignore", invalid="ignore"):
            raw[:, y, :] = (np.abs(coeff) ** 2 / i0[:, None] ** 2).T
            corrected[:, y, :] = ((np.abs(coeff) ** 2 - noise) / i0[:, None] ** 2).T
    return corrected, raw


def components(mask):
    """8-connected components of a boolean map: a list of pixel-index arrays."""
    ny, nx = mask.shape
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        seen[start] = True
        queue, members = deque([start]), []
        while queue:
            y, x = queue.popleft()
            members.append((y, x))
            for yy in range(max(y - 1, 0), min(y + 2, ny)):
                for xx in range(max(x - 1, 0), min(x + 2, nx)):
                    if mask[yy, xx] and not seen[yy, xx]:
                        seen[yy, xx] = True
                        queue.append((yy, xx))
        out.append(np.array(members))
    return out


def estimate(cube, cal, args):
    step = cal["scan_step_nm"]
    thickness = cal.get("thickness_nm")
    corrected, raw = ring_spectrum(
        cube, cal["center_px"], cal["k_pixel_per_nm"], args.k, args.width, args.n_max, args.gain
    )
    area = cube.shape[0] * cube.shape[1] * step * step
    by_symmetry = {}
    for n in range(1, args.n_max + 1):
        r = raw[n][np.isfinite(raw[n])]
        theta = np.median(r) / math.log(2)
        threshold = theta * math.log(r.size / args.alpha)
        m = np.nan_to_num(corrected[n])
        regions = []
        for members in components(np.nan_to_num(raw[n]) > threshold):
            peak = members[np.argmax(m[members[:, 0], members[:, 1]])]
            half = components(m >= 0.5 * m[tuple(peak)])
            inside = next(c for c in half if ((c == peak).all(axis=1)).any())
            d = 2 * math.sqrt(len(inside) * step * step / math.pi)
            regions.append({"centroid_px": inside.mean(axis=0).tolist(), "diameter_nm": d})
        d = np.array([r["diameter_nm"] for r in regions])
        why = {"spacing_nm": "this example does not estimate a spacing"}
        entry = {
            "regions": len(regions),
            "regions_se": math.sqrt(len(regions)) if regions else None,
            "mean_diameter_nm": float(d.mean()) if d.size else None,
            "mean_diameter_se_nm": float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else None,
            "spacing_nm": None,
            "region_list": regions,
        }
        if not regions:
            why["regions_se"] = "no regions: a count of nothing has no standard error"
            why["mean_diameter_nm"] = "no regions"
        elif d.size == 1:
            why["mean_diameter_se_nm"] = "one region: no spread to give a standard error"
        if thickness:
            v = math.pi / 6 * d**3 / (area * thickness)
            vf = v.sum() / args.in_condition
            entry["volume_fraction"] = float(vf) if vf <= 1 else None
            entry["volume_fraction_se"] = (
                float(math.sqrt((v**2).sum()) / args.in_condition) if vf <= 1 and regions else None
            )
            if vf > 1:
                why["volume_fraction"] = (
                    f"dividing by the in-condition share {args.in_condition} gives {vf:.3f} > 1"
                )
            elif not regions:
                why["volume_fraction_se"] = "no regions: a count of nothing has no standard error"
        else:
            why["volume_fraction"] = "META.json gives no foil thickness"
        entry["null_reasons"] = why
        by_symmetry[str(n)] = entry
    return {
        "schema": "mro.estimate/1",
        "method": "numpy-example",
        "scan_step_nm": step,
        "scan_shape": [int(cube.shape[0]), int(cube.shape[1])],
        "by_symmetry": by_symmetry,
    }


def write(doc, path, force):
    """Writes `doc` to `path` whole or not at all; an existing file only with `force`."""
    if os.path.lexists(path) and not force:
        sys.exit(f"{path}: exists; pass --force to replace it")
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("datacube")
    p.add_argument("meta")
    p.add_argument("--out", required=True)
    p.add_argument("--k", type=float, default=4.0, help="ring centre, nm^-1")
    p.add_argument("--width", type=float, default=0.32, help="ring width, nm^-1")
    p.add_argument("--n-max", type=int, default=10)
    p.add_argument("--gain", type=float, default=1.0, help="counts per electron")
    p.add_argument("--alpha", type=float, default=0.05, help="false regions per map")
    p.add_argument(
        "--in-condition",
        type=float,
        help="in-condition share (default: META.json's analysis.in_condition_fraction, else 0.059)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    args = p.parse_args(argv)
    cube = np.load(args.datacube, mmap_mode="r")
    if cube.ndim != 4:
        sys.exit(f"{args.datacube}: shape {cube.shape}: expected [scan_y, scan_x, det_y, det_x]")
    with open(args.meta) as f:
        meta = json.load(f)
    cal = meta["calibration"]
    if args.in_condition is None:
        analysis = (meta.get("provenance") or {}).get("resolved_scenario", {}).get("analysis", {})
        args.in_condition = analysis.get("in_condition_fraction", 0.059)
        print(f"in-condition share {args.in_condition}", file=sys.stderr)
    if not 0 < args.in_condition <= 1:
        sys.exit(f"--in-condition {args.in_condition}: expected a share in (0, 1]")
    if os.path.lexists(args.out) and not args.force:
        sys.exit(f"{args.out}: exists; pass --force to replace it")
    write(estimate(cube, cal, args), args.out, args.force)


if __name__ == "__main__":
    main()
