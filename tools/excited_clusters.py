#!/usr/bin/env python3
"""Which density-wave clusters make the hotspots of the even-n P_n maps?

A research check on a finished run (not run in CI, like tools/size_response_exact.py); its
figures are quoted in reports/calibration.md, "One excited reflection pair is enough".

The truth counts a density wave of symmetry n as in condition for the map of n when *every*
one of its defining reflections lies within its Bragg acceptance 1/(k0*D) of the diffraction
plane (mro_sim::glass::bragg_acceptance_deg). A wave with only *one* reflection pair within
it still puts two Friedel spots on the ring, and two spots have equal angular power at every
even n. This script recomputes, from truth.json alone, each density wave's reflection
elevations (the frame of mro_sim::glass::orientation::Frame, the azimuths of
mro_sim::glass::motif::reflection_azimuths_rad) and sorts the clusters into

- in condition: every reflection within the acceptance, the truth's rule (only the map of n);
- excited: at least one reflection pair within the acceptance (any assigned n);
- not excited: none.

For every even n <= 10 it then reads one kind of P_n map of `mro analyze` (`--map im2018`,
the default: power_maps.npy with region_labels.npy, the maps the detectability section ranks
clusters in; `--map mro`: mro_power_maps.npy with mro_region_labels.npy) and reports
- each group's median percentile: the share of map points strictly below the 3 x 3 maximum
  around the cluster's scan point (clipped at the scan's edges), the measure of
  crates/harness/src/detectability.rs;
- how many of the group have their scan point inside a region (the centre pixel only: looser
  than the scoring's equivalent circle widened by half a step);
- the share of the map's brightest 1 % of pixels within D/2 of an excited cluster's projected
  centre, and how those pixels split over the excited clusters' assigned n.
An odd n's wave is ranked in the map of 2n (Friedel), as the detectability section does. With
a second analysis directory (a no-MRO control of the same scan) the same positions are read in
its maps: the chance level. A cluster whose centre lies outside the scanned field is skipped.

    /path/to/python-with-numpy tools/excited_clusters.py [--map im2018|mro] \
        RUN/truth.json ANALYSIS_DIR [CONTROL_ANALYSIS_DIR]

Needs numpy. Scan point (0, 0) sits at sample (0, 0); x is the scan column and a centre within
half a step below the far edge belongs to scan point 0 (ScanField::pixel in score.rs). Truth
files written before each wave recorded its `acceptance_deg` (c6bb460) are refused.
"""
import json
import math
import sys

import numpy as np


def frame(axis, in_plane_deg):
    """e1, e2 of mro_sim::glass::orientation::Frame::new."""
    a = np.asarray(axis, float)
    a = a / np.linalg.norm(a)
    if a[2] < -1 + 1e-12:
        ex, ey = np.array([1.0, 0.0, 0.0]), np.array([0.0, -1.0, 0.0])
    else:
        f = 1.0 / (1.0 + a[2])
        ex = np.array([1 - a[0] * a[0] * f, -a[0] * a[1] * f, -a[0]])
        ey = np.array([-a[0] * a[1] * f, 1 - a[1] * a[1] * f, -a[1]])
    s, c = math.sin(math.radians(in_plane_deg)), math.cos(math.radians(in_plane_deg))
    e1, e2 = c * ex + s * ey, -s * ex + c * ey
    return e1 / np.linalg.norm(e1), e2 / np.linalg.norm(e2)


def azimuths(n):
    """mro_sim::glass::motif::reflection_azimuths_rad: one per reflection pair (even n)."""
    if n % 2 == 0:
        m = max(n // 2, 1)
        return [math.pi / m * j for j in range(m)]
    return [2 * math.pi / n * j for j in range(n)]


def classify(truth):
    rows = []
    for c in truth["clusters"]:
        n = c.get("symmetry")
        if n is None:
            continue  # structures are judged by their computed patterns already
        if c.get("acceptance_deg") is None:
            sys.exit(f"cluster {c['id']}: no acceptance_deg (a truth.json older than c6bb460)")
        e1, e2 = frame(c["axis"], c["in_plane_deg"])
        el = [
            math.degrees(math.asin(min(1.0, abs(math.cos(t) * e1[2] + math.sin(t) * e2[2]))))
            for t in azimuths(n)
        ]
        acc = min(c["acceptance_deg"], 90.0)
        # The truth's own rule, recomputed: a check that the frame here is the crate's.
        assert (max(el) <= acc) == c["in_condition"], (c["id"], max(el), acc)
        rows.append(
            dict(id=c["id"], n=n, x=c["center_nm"][0], y=c["center_nm"][1],
                 r=0.5 * c["diameter_nm"], best=min(el), acc=acc,
                 excited=sum(e <= acc for e in el), pairs=len(el), inc=c["in_condition"])
        )
    return rows


def pixel(c, extent, step, count):
    """ScanField::pixel of score.rs along one axis: the scan index of coordinate c, or None."""
    u = (c % extent) / step
    i = math.floor(u + 0.5)  # f64::round: halves away from zero (u ≥ 0)
    if i < count:
        return i
    return 0 if u - extent / step >= -0.5 else None


def local_max(m, i, j):
    win = m[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2]
    win = win[np.isfinite(win)]
    return float(win.max()) if win.size else None


def map_of(n):
    return 2 * n if n % 2 else n


def main():
    args = sys.argv[1:]
    kind = "im2018"
    if args[:1] == ["--map"]:
        kind, args = args[1], args[2:]
    if kind not in ("im2018", "mro") or len(args) not in (2, 3):
        sys.exit(__doc__)
    truth = json.load(open(args[0]))
    dirs = args[1:]
    prefix = "mro_" if kind == "mro" else ""
    meta = json.load(open(f"{dirs[0]}/analysis.json"))
    step = meta["scan_step_nm"]
    lx, ly = truth["extent_nm"][0], truth["extent_nm"][1]
    rows = classify(truth)
    print(f"density waves: {len(rows)}; in condition (every reflection): "
          f"{sum(r['inc'] for r in rows)}; at least one pair excited: "
          f"{sum(r['excited'] > 0 for r in rows)}")
    for r in rows:
        if r["excited"]:
            print(f"  id {r['id']:4d}  n = {r['n']:2d}  best elevation {r['best']:5.2f} deg of "
                  f"{r['acc']:.2f}  pairs excited {r['excited']}/{r['pairs']}"
                  f"{'  (in condition)' if r['inc'] else ''}")
    maps = [np.load(f"{d}/{prefix}power_maps.npy") for d in dirs]
    if len(maps) == 2 and maps[0].shape != maps[1].shape:
        sys.exit(f"the control's maps {maps[1].shape} differ from the sample's {maps[0].shape}")
    labels = np.load(f"{dirs[0]}/{prefix}region_labels.npy")
    ny, nx = maps[0].shape[1:]
    for r in rows:
        i, j = pixel(r["y"], ly, step, ny), pixel(r["x"], lx, step, nx)
        r["px"] = None if i is None or j is None else (i, j)
    rows = [r for r in rows if r["px"] is not None]
    groups = {
        "in condition": lambda r, n: r["inc"] and map_of(r["n"]) == n,
        "excited": lambda r, n: r["excited"] > 0,
        "not excited": lambda r, n: r["excited"] == 0,
    }
    excited = [r for r in rows if r["excited"]]
    folds = sorted({r["n"] for r in excited})

    def near(r, px, py):
        dx = (px - r["x"] + 0.5 * lx) % lx - 0.5 * lx
        dy = (py - r["y"] + 0.5 * ly) % ly - 0.5 * ly
        return math.hypot(dx, dy) <= r["r"]

    print(f"maps: {prefix}power_maps.npy")
    for n in (2, 4, 6, 8, 10):
        line = [f"n = {n:2d}"]
        for which, mp in zip(("sample", "control"), maps):
            m = mp[n].astype(float)
            flat = np.sort(m[np.isfinite(m)].ravel())
            for name, sel in groups.items():
                members = [r for r in rows if sel(r, n)]
                values = [local_max(m, *r["px"]) for r in members]
                p = [100.0 * np.searchsorted(flat, v, side="left") / flat.size
                     for v in values if v is not None]
                med = f"{np.median(p):.1f}" if p else "-"
                found = ""
                if which == "sample":
                    inside = sum(labels[n][r["px"]] > 0 for r in members)
                    found = f", {inside} with the centre pixel in a region"
                line.append(f"{which} {name}: {len(p)} at {med}{found}")
            top = flat[int(0.99 * flat.size)]
            ys, xs = np.nonzero(m >= top)
            owners = [[r for r in excited if near(r, x * step, y * step)] for y, x in zip(ys, xs)]
            share = np.mean([bool(o) for o in owners])
            by_fold = "/".join(
                str(sum(any(r["n"] == f for r in o) for o in owners)) for f in folds)
            line.append(f"{which} top 1 % ({len(ys)} px) within D/2 of an excited cluster: "
                        f"{share:.2f}; of waves of n = {'/'.join(map(str, folds))}: {by_fold}")
        print("\n    ".join(line))


if __name__ == "__main__":
    main()
