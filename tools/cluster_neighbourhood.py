#!/usr/bin/env python3
"""What the `mro` maps show around the planted clusters: which clusters the method misses, and
the power a cluster puts into the maps of the other n.

A research check on one finished analysis of a simulation (not run in CI, like
tools/normalisation_broadening.py); its figures are quoted in crates/analysis/src/size_model.rs
and mro_estimator.rs. It reads, from an `mro analyze` output directory, `analysis.json` (each
map's regions) and `mro_power_maps.npy` (the maps as analysed, [n, scan_y, scan_x]), and the
simulation's `truth.json`. `mro validate` keeps no maps, so make the directory with

    mro validate SCENARIO.toml --out RUN --keep-datacube
    mro analyze RUN/datacube.npy --out RUN-maps --no-figures
    python3 tools/cluster_neighbourhood.py RUN-maps RUN/truth.json [--one-divisor]   # needs numpy

(the figures quoted used scenarios/validation/correlated.toml, seed 16, and the same scenario on
a 40.96 nm field, 128 x 128 scan points, at seeds 16-19). It refuses a truth whose seed or
sample does not match the analysis. Per planted density-wave n (structure clusters are only
counted as partners; an odd n is read in map 2n, by Friedel's law), over the clusters whose
centres lie in the scanned field, it prints:

1. **Misses.** The in-condition clusters of n whose centres no region of their map covers (a
   region is its circle of its diameter, or its half-maximum width, widened by half a step: the
   rule of `score.rs`, `identification`), and how many of them overlap another *in-condition*
   cluster in projection (any n, in the field or not: centres closer than the sum of the two
   radii), split three ways: overlapping only clusters of other n (whose bright ring raises the
   I_0 the map is divided by); overlapping one of the same n that a region holds (one region for
   two); same-n partners missed as well (patterns that cancel). The share of all clusters that
   overlap is the chance value.
2. **Profiles.** The mean of every map with n' <= 10 in rings of 0.16 nm around the
   *isolated* in-condition clusters of n (no other cluster's centre within 3 nm in projection),
   less its mean in the 1.5-2.0 nm ring (the local background). The cluster's own n-fold pattern
   puts power only into its harmonics (n, 2n, ...) and, kinematic, nothing into odd n; what rises
   in the other even maps is the interference of the cluster's diffracted wave with the matrix's
   speckle on the ring. That term goes as the cluster's ring intensity, not its square, so it
   is wider than the planted map's peak. Printed per map: the excess at the centre, its share of
   the planted map's, and the radius at which it falls to half; then the planted map's
   half-radius once the mean of the non-harmonic maps is taken off.

`--one-divisor` first puts every pattern over one divisor, as tools/normalisation_broadening.py
does (multiplies each map by (window mean of I_0 / scan mean)^2, with the binned ring mean of
`mean_intensity.npy` standing in for the `mro` I_0), so the profiles are free of the 5 x 5
window's brightness dependence. Periodic boundaries are assumed (mro's samples are periodic).
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


def partners(c, clusters, extent):
    """The in-condition clusters (any n) whose projected discs overlap c's."""
    return [
        o for o in clusters
        if o is not c and o["in_condition"]
        and wrapped(c["center_nm"], o["center_nm"], extent) < 0.5 * (c["diameter_nm"] + o["diameter_nm"])
    ]


def half_radius(r, excess):
    """Radius at which a profile falls to half its central value (linear interpolation)."""
    half = 0.5 * excess[0]
    for i in range(1, len(excess)):
        if excess[i] <= half:
            return r[i - 1] + (r[i] - r[i - 1]) * (excess[i - 1] - half) / (excess[i - 1] - excess[i])
    return float("nan")


def load(path, how):
    try:
        return how(path)
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: cannot read: {e}")


def main(run, truth_path, one_divisor):
    analysis = load(f"{run}/analysis.json", lambda p: json.load(open(p)))
    truth = load(truth_path, lambda p: json.load(open(p)))
    for key in ("extent_nm", "clusters"):
        if key not in truth:
            sys.exit(f"{truth_path}: no field `{key}`: expected an mro truth.json")
    if "mro" not in analysis or "scan_step_nm" not in analysis:
        sys.exit(f"{run}/analysis.json: no `mro` method or `scan_step_nm`: expected an mro analysis.json")
    for key in ("seed", "scenario"):
        ours = [(d.get("provenance") or {}).get(key) for d in (analysis, truth)]
        if None not in ours and ours[0] != ours[1]:
            sys.exit(f"{truth_path}: provenance {key} {ours[1]!r}, but {run}/analysis.json has "
                     f"{ours[0]!r}: expected the truth of the analysed run")
    maps = load(f"{run}/mro_power_maps.npy", np.load).astype(float)
    if one_divisor:
        i0 = load(f"{run}/mean_intensity.npy", np.load).astype(float)
        maps = maps * (window_mean(i0) / np.nanmean(i0)) ** 2
    step = analysis["scan_step_nm"]
    extent = truth["extent_nm"]
    clusters = truth["clusters"]
    ny, nx = maps.shape[1:]
    if nx * step > extent[0] + 1e-6 or ny * step > extent[1] + 1e-6:
        sys.exit(f"{truth_path}: the sample ({extent[0]} x {extent[1]} nm) is smaller than the "
                 f"scan of {run} ({nx * step:.2f} x {ny * step:.2f} nm): not the analysed run")
    # The scanned field as score.rs's ScanField places it: each scan point the cell one step wide
    # around it, positions wrapped into the sample (so the strip within half a step of the far
    # edge is scan point 0's); clusters outside it are not counted, but still overlap the ones
    # inside.
    def inside(x, e, points):
        x = x % e
        if x >= e - step / 2:
            x -= e
        return -step / 2 <= x < (points - 0.5) * step

    in_field = lambda c: inside(c["center_nm"][0], extent[0], nx) and \
        inside(c["center_nm"][1], extent[1], ny)  # noqa: E731
    yy, xx = np.mgrid[0:ny, 0:nx]
    edges = np.arange(0.0, BACKGROUND_NM[1] + 1e-9, RING_NM)
    centres = edges[:-1] + RING_NM / 2
    shown = [m for m in range(1, min(maps.shape[0], 11))]
    # Density waves only (a structure cluster shows several n); an odd n diffracts into map 2n.
    planted = sorted({c["symmetry"] for c in clusters if c["in_condition"] and c.get("symmetry")})
    for n in planted:
        m_n = n if n % 2 == 0 else 2 * n
        if m_n >= maps.shape[0]:
            continue
        own = [c for c in clusters if c.get("symmetry") == n and c["in_condition"] and in_field(c)]
        if not own:
            continue
        regions = [
            ([r["centroid_px"][1] * step, r["centroid_px"][0] * step],
             0.5 * (r["diameter_nm"] or r["fwhm_nm"] or 0.0) + 0.5 * step)
            for r in analysis["mro"]["by_symmetry"][str(m_n)]["region_list"]
        ]
        found = lambda c: any(wrapped(c["center_nm"], p, extent) <= rad for p, rad in regions)  # noqa: E731
        missed = [c for c in own if not found(c)]
        other_n = same_n_found = same_n_missed = 0
        for c in missed:
            ps = partners(c, clusters, extent)
            same = [o for o in ps if o.get("symmetry") == n]
            if ps and not same:
                other_n += 1
            elif same and any(found(o) for o in same):
                same_n_found += 1
            elif same:
                same_n_missed += 1
        overlapping = sum(bool(partners(c, clusters, extent)) for c in own)
        print(
            f"n = {n} (map {m_n}): {len(own)} in-condition clusters in the field, {len(missed)} missed; "
            f"of these, {other_n + same_n_found + same_n_missed} overlap an in-condition cluster in "
            f"projection: {other_n} only clusters of other n, {same_n_found} one of the same n that a "
            f"region holds (one region for two), {same_n_missed} same-n partners missed too; "
            f"all that overlap: {overlapping} ({overlapping / len(own):.0%})"
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
        if m_n not in shown:
            continue
        peak = excess[shown.index(m_n), 0]
        print(f"  profiles around {len(isolated)} isolated clusters (no other centre within {ISOLATED_NM} nm; "
              f"excess over the {BACKGROUND_NM[0]}-{BACKGROUND_NM[1]} nm ring; {int(counts[0])} pixels "
              f"in the central ring):")
        print("    r (nm)  " + "  ".join(f"{'P' + str(m):>8}" for m in shown))
        for i, r in enumerate(centres):
            print(f"    {r:6.2f}  " + "  ".join(f"{excess[j, i]:8.4f}" for j in range(len(shown))))
        others = []
        for j, m in enumerate(shown):
            if excess[j, 0] <= 1e-3 * peak:  # nothing there (odd n of a kinematic pattern)
                continue
            if m % m_n != 0:
                others.append(j)
            print(
                f"    P{m}: centre {excess[j, 0]:.4f} ({excess[j, 0] / peak:.1%} of P{m_n}'s), half at "
                f"{half_radius(centres, excess[j]):.3f} nm"
            )
        if others:
            less = excess[shown.index(m_n)] - excess[others].mean(axis=0)
            print(f"    P{m_n} less the mean of the maps that are not its harmonics: half at "
                  f"{half_radius(centres, less):.3f} nm")


if __name__ == "__main__":
    if "-h" in sys.argv or "--help" in sys.argv:
        print(__doc__)
        sys.exit(0)
    args = [a for a in sys.argv[1:] if a != "--one-divisor"]
    if len(args) != 2:
        sys.exit(__doc__)
    main(args[0], args[1], "--one-divisor" in sys.argv[1:])
