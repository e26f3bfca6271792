#!/usr/bin/env python3
"""What the `mro` maps show around the planted clusters: which clusters the method misses, and
the power a cluster puts into the maps of the other n.

A research check on one finished analysis of a simulation (not run in CI, like
tools/normalisation_broadening.py); its figures are quoted in crates/analysis/src/size_model.rs
and mro_estimator.rs. It reads, from an `mro analyze` output directory, `analysis.json` (each
map's regions) and `mro_power_maps.npy` (the maps as analysed, [n, scan_y, scan_x]), and the
simulation's `truth.json`. Per planted n it prints:

1. **Misses.** The in-condition clusters of n whose centres no region of map n covers (a region
   is its circle of its diameter, or its half-maximum width, widened by half a step: the rule of
   `score.rs`, `identification`), and how many of them overlap another cluster in projection
   (any n, any orientation: centres closer than the sum of the two radii). The same share over
   all in-condition clusters of n is the chance value: if the misses overlap more often than
   that, overlap is what hides them.
2. **Profiles.** The mean of every map with n' <= 10 in rings of 0.16 nm around the
   *isolated* in-condition clusters of n (no other cluster's centre within 3 nm in projection),
   less its mean in the 1.5-2.0 nm ring (the local background). For a kinematic pattern, which
   is centrosymmetric, the cluster's own pattern puts power only into its harmonics (n, 2n,
   ...); what rises in the other even maps is the interference of the cluster's diffracted
   wave with the matrix's speckle on the ring. That term goes as the cluster's ring intensity,
   not its square, so it is wider than the planted map's peak. Printed per map: the excess at
   the centre, its share of the planted map's, and the radius at which it falls to half.

`--one-divisor` first puts every pattern over one divisor, as tools/normalisation_broadening.py
does (multiplies each map by (window mean of I_0 / scan mean)^2, with the binned ring mean of
`mean_intensity.npy` standing in for the `mro` I_0), so the profiles are free of the 5 x 5
window's brightness dependence. Periodic boundaries are assumed (mro's samples are periodic).

    python3 tools/cluster_neighbourhood.py RUN_DIR TRUTH_JSON [--one-divisor]   # needs numpy
"""
import json
import sys

import numpy as np

from normalisation_broadening import window_mean

RING_NM = 0.16
ISOLATED_NM = 3.0
BACKGROUND_NM = (1.5, 2.0)


def wrapped(a, b, extent):
    d = [(a[i] - b[i] + extent[i] / 2) % extent[i] - extent[i] / 2 for i in (0, 1)]
    return float(np.hypot(*d))


def overlaps(c, clusters, extent):
    return any(
        o is not c
        and wrapped(c["center_nm"], o["center_nm"], extent) < 0.5 * (c["diameter_nm"] + o["diameter_nm"])
        for o in clusters
    )


def half_radius(r, excess):
    """Radius at which a profile falls to half its central value (linear interpolation)."""
    half = 0.5 * excess[0]
    for i in range(1, len(excess)):
        if excess[i] <= half:
            return r[i - 1] + (r[i] - r[i - 1]) * (excess[i - 1] - half) / (excess[i - 1] - excess[i])
    return float("nan")


def main(run, truth_path, one_divisor):
    analysis = json.load(open(f"{run}/analysis.json"))
    truth = json.load(open(truth_path))
    maps = np.load(f"{run}/mro_power_maps.npy").astype(float)
    if one_divisor:
        i0 = np.load(f"{run}/mean_intensity.npy").astype(float)
        maps = maps * (window_mean(i0) / np.nanmean(i0)) ** 2
    step = analysis["scan_step_nm"]
    extent = truth["extent_nm"]
    clusters = truth["clusters"]
    ny, nx = maps.shape[1:]
    yy, xx = np.mgrid[0:ny, 0:nx]
    edges = np.arange(0.0, BACKGROUND_NM[1] + 1e-9, RING_NM)
    centres = edges[:-1] + RING_NM / 2
    shown = [m for m in range(1, min(maps.shape[0], 11))]
    planted = sorted({c["symmetry"] for c in clusters if c["in_condition"]})
    for n in planted:
        if n >= maps.shape[0]:
            continue
        own = [c for c in clusters if c["symmetry"] == n and c["in_condition"]]
        regions = [
            ([r["centroid_px"][1] * step, r["centroid_px"][0] * step],
             0.5 * (r["diameter_nm"] or r["fwhm_nm"] or 0.0) + 0.5 * step)
            for r in analysis["mro"]["by_symmetry"][str(n)]["region_list"]
        ]
        missed = [c for c in own if not any(wrapped(c["center_nm"], p, extent) <= rad for p, rad in regions)]
        hidden = sum(overlaps(c, clusters, extent) for c in missed)
        overlapping = sum(overlaps(c, clusters, extent) for c in own)
        print(
            f"n = {n}: {len(own)} in-condition clusters, {len(missed)} missed, {hidden} of them "
            f"overlapping another cluster in projection; all that overlap: {overlapping} "
            f"({overlapping / len(own):.0%})"
        )
        isolated = [
            c for c in own
            if all(o is c or wrapped(c["center_nm"], o["center_nm"], extent) >= ISOLATED_NM for o in clusters)
        ]
        if not isolated:
            continue
        sums = np.zeros((len(shown), len(centres)))
        counts = np.zeros(len(centres))
        for c in isolated:
            dx = (xx - c["center_nm"][0] / step + nx / 2) % nx - nx / 2
            dy = (yy - c["center_nm"][1] / step + ny / 2) % ny - ny / 2
            ring = np.digitize(np.hypot(dx, dy) * step, edges) - 1
            ok = (ring >= 0) & (ring < len(centres))
            counts += np.bincount(ring[ok], minlength=len(centres))
            for j, m in enumerate(shown):
                sums[j] += np.bincount(ring[ok], weights=np.nan_to_num(maps[m][ok]), minlength=len(centres))
        profile = sums / counts
        background = profile[:, (centres >= BACKGROUND_NM[0]) & (centres < BACKGROUND_NM[1])].mean(axis=1)
        excess = profile - background[:, None]
        peak = excess[shown.index(n), 0]
        print(f"  profiles around {len(isolated)} isolated clusters (excess over the {BACKGROUND_NM[0]}-"
              f"{BACKGROUND_NM[1]} nm ring):")
        print("    r (nm)  " + "  ".join(f"{'P' + str(m):>8}" for m in shown))
        for i, r in enumerate(centres):
            print(f"    {r:6.2f}  " + "  ".join(f"{excess[j, i]:8.4f}" for j in range(len(shown))))
        for j, m in enumerate(shown):
            if excess[j, 0] <= 1e-3 * peak:  # nothing there (odd n of a kinematic pattern)
                continue
            print(
                f"    P{m}: centre {excess[j, 0]:.4f} ({excess[j, 0] / peak:.1%} of P{n}'s), half at "
                f"{half_radius(centres, excess[j]):.2f} nm"
            )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--one-divisor"]
    if len(args) != 2:
        sys.exit(__doc__)
    main(args[0], args[1], "--one-divisor" in sys.argv[1:])
