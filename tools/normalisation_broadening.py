#!/usr/bin/env python3
"""How much the window normalisation of the `mro` P_n maps widens its regions.

A research check on one finished analysis (not run in CI, like tools/size_response_exact.py);
its figures are quoted in crates/analysis/src/size_model.rs ("Known limits"). The `mro` method
divides each pattern's |I_n|^2 by the squared mean ring intensity I_0 of the 5 x 5 scan points
around it (crates/analysis/src/pipeline.rs, local_normalisation). A cluster in condition raises
I_0 over about its own width, so the divisor is largest at the cluster and the map is flattened
there: its half-maximum area grows. This reads, from an `mro analyze` output directory,

- `mro_power_maps.npy` (the maps as analysed) and `mean_intensity.npy` (the mean intensity on
  the analysis ring per scan point),
- `analysis.json` (each map's regions and null mean),

undoes the window normalisation (multiplies by the window mean squared, which puts every pixel
over one divisor, the scan's mean) and measures each region again as the method does: the
8-connected pixels around the brightest one within 2 pixels of its centroid that stay above half
its height over the null mean, as an equivalent-circle diameter. It prints, per n with at least
5 regions inside the field, the mean half-maximum width both ways and the window mean of the
ring intensity at the regions over the scan's median.

Approximations, stated: `mean_intensity.npy` is the binned method's ring mean, a stand-in for
the `mro` method's full-resolution I_0 (which no file holds; both integrate the same ring);
patterns without counts (NaN) are left out of the means, as the pipeline does; and each region is
grown on its own, without the method's exclusive labels (neighbouring regions do not touch at
half maximum on the scenarios measured here: as analysed, the widths equal the mean of the
method's own `area_px`, 1.090 and 1.171 nm at n = 4 and 6 of the correlated scenario's former
field, seed 16).

    python3 tools/normalisation_broadening.py RUN_DIR [--n 4,6]     # needs numpy
"""
import json
import sys

import numpy as np

HALF = 2  # I0_WINDOW_HALF of crates/analysis/src/pipeline.rs


def window_mean(i0):
    """Mean of I_0 over the (2 HALF + 1)^2 window, truncated at the scan's edges."""
    ny, nx = i0.shape
    out = np.empty_like(i0)
    for y in range(ny):
        for x in range(nx):
            out[y, x] = np.nanmean(i0[max(0, y - HALF):y + HALF + 1, max(0, x - HALF):x + HALF + 1])
    return out


def half_max_area(m, peak, null_mean):
    ny, nx = m.shape
    level = null_mean + 0.5 * (m[peak] - null_mean)
    seen, stack = {peak}, [peak]
    while stack:
        y, x = stack.pop()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                q = (y + dy, x + dx)
                if q not in seen and 0 <= q[0] < ny and 0 <= q[1] < nx and m[q] >= level:
                    seen.add(q)
                    stack.append(q)
    return len(seen)


def brightest_near(m, centroid):
    y, x = (int(round(c)) for c in centroid)
    y0, x0 = max(0, y - HALF), max(0, x - HALF)
    win = m[y0:y + HALF + 1, x0:x + HALF + 1]
    iy, ix = np.unravel_index(np.argmax(win), win.shape)
    return (y0 + iy, x0 + ix)


def main(run, symmetries):
    analysis = json.load(open(f"{run}/analysis.json"))
    maps = np.load(f"{run}/mro_power_maps.npy").astype(float)
    i0 = np.load(f"{run}/mean_intensity.npy").astype(float)
    window = window_mean(i0)
    step = analysis["scan_step_nm"]
    ecd = lambda areas: 2 * np.sqrt(np.mean(areas) * step * step / np.pi)  # noqa: E731
    for n in symmetries:
        result = analysis["mro"]["by_symmetry"][str(n)]
        regions = [r for r in result["region_list"] if not r["touches_edge"]]
        if len(regions) < 5:
            print(f"n = {n}: {len(regions)} regions inside the field, too few")
            continue
        null_mean = result["null"]["null_mean"]
        analysed = maps[n]
        # One divisor for every pixel: the scan's mean I_0 (the null mean moves with it).
        scale = (window / np.nanmean(i0)) ** 2
        one = analysed * scale
        widths, widths_one, boost = [], [], []
        for r in regions:
            p = brightest_near(analysed, r["centroid_px"])
            widths.append(half_max_area(analysed, p, null_mean))
            q = brightest_near(one, r["centroid_px"])
            widths_one.append(half_max_area(one, q, null_mean * np.nanmedian(scale)))
            boost.append(window[p] / np.nanmedian(i0))
        print(
            f"n = {n}: {len(regions)} regions; half-maximum width {ecd(widths):.3f} nm as analysed, "
            f"{ecd(widths_one):.3f} nm over one divisor ({ecd(widths) / ecd(widths_one) - 1:+.1%}); "
            f"window ring intensity at the regions {np.mean(boost):.2f} x the scan's median"
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    ns = [4, 6]
    if "--n" in args:
        i = args.index("--n")
        ns = [int(v) for v in args[i + 1].split(",")]
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    main(args[0], ns)
