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

For every even n <= 10 it then reports, in the `mro` P_n map (mro_power_maps.npy of
`mro analyze`): the median percentile of each group's 3 x 3 maximum at the cluster centre
(the detectability section's measure), how many of the group lie inside a region of
mro_region_labels.npy, and the share of the map's brightest 1 % of pixels that lie within
D/2 of an excited cluster's projected centre. With a second analysis directory (the no-MRO
control's, same scan) the same positions are read in its maps: the chance level.

    python3 tools/excited_clusters.py RUN/truth.json ANALYSIS_DIR [CONTROL_ANALYSIS_DIR]

Needs numpy. Scan point (0, 0) sits at sample (0, 0); x is the scan column (score.rs).
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
        if n is None or c.get("acceptance_deg") is None:
            continue  # structures are judged by their computed patterns already
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


def peak(m, x, y, step):
    ny, nx = m.shape
    i, j = int(round(y / step)), int(round(x / step))
    win = m[max(i - 1, 0):min(i + 2, ny), max(j - 1, 0):min(j + 2, nx)]
    win = win[np.isfinite(win)]
    return float(win.max()) if win.size else None


def main():
    truth = json.load(open(sys.argv[1]))
    dirs = sys.argv[2:4]
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
    maps = [np.load(f"{d}/mro_power_maps.npy") for d in dirs]
    labels = np.load(f"{dirs[0]}/mro_region_labels.npy")
    groups = {
        "in condition": lambda r, n: r["inc"] and r["n"] == n,
        "excited": lambda r, n: r["excited"] > 0,
        "not excited": lambda r, n: r["excited"] == 0,
    }
    for n in (2, 4, 6, 8, 10):
        line = [f"n = {n:2d}"]
        for which, mp in zip(("sample", "control"), maps):
            m = mp[n].astype(float)
            flat = np.sort(m[np.isfinite(m)].ravel())
            for name, sel in groups.items():
                members = [r for r in rows if sel(r, n)]
                p = [100.0 * np.searchsorted(flat, v, side="right") / flat.size
                     for v in (peak(m, r["x"], r["y"], step) for r in members) if v is not None]
                med = f"{np.median(p):.1f}" if p else "-"
                found = ""
                if which == "sample":
                    lab = labels[n]
                    inside = sum(
                        lab[min(int(round(r["y"] / step)), lab.shape[0] - 1),
                            min(int(round(r["x"] / step)), lab.shape[1] - 1)] > 0
                        for r in members)
                    found = f", {inside} in a region"
                line.append(f"{which} {name}: {len(p)} at {med}{found}")
            top = flat[int(0.99 * flat.size)]
            ys, xs = np.nonzero(m >= top)

            def near(r, px, py):
                dx = (px - r["x"] + 0.5 * lx) % lx - 0.5 * lx
                dy = (py - r["y"] + 0.5 * ly) % ly - 0.5 * ly
                return math.hypot(dx, dy) <= r["r"]

            share = np.mean([any(near(r, x * step, y * step) for r in rows if r["excited"])
                             for y, x in zip(ys, xs)])
            line.append(f"{which} top 1 % within D/2 of an excited cluster: {share:.2f}")
        print("\n    ".join(line))


if __name__ == "__main__":
    main()
