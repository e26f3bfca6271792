#!/usr/bin/env python3
"""Are the `mro` method's extra regions MRO or noise? The ring intensity and the map's tail
around the planted density waves, against the no-MRO control.

A research check on two finished analyses of the same scan (not run in CI, like
tools/excited_clusters.py); its figures are quoted in reports/calibration.md, "Only 2-fold
waves". For one symmetry n (default 2) it reads, from `mro analyze` output directories,

- `mro_power_maps.npy` (the full-resolution P_n maps) and `mro_region_labels.npy`,
- `mean_intensity.npy` (I_0, the mean ring intensity at each scan point),
- `analysis.json` (the regions of `mro.by_symmetry[n].region_list`),

of the run (RUN) and of its no-MRO control (CONTROL), and the run's truth.json. It reports

- per region: its centroid, peak over its null scale (`peak_z`), half-maximum width, the
  ring intensity I_0 at its centroid in the run and in the control (same scan point: the
  control is the same scan of the glass without clusters), the percentile of the run's value
  among all of the control's I_0 (the speckle's own spread, a steadier reference than one
  point), and the planted waves of n whose projected disc holds the centroid, with each one's
  worst reflection elevation in units of its Bragg acceptance 1/(k0·D);
- per zone of the map (within the disc of a wave less than 4 acceptances out of condition;
  within the disc of one 4 or more out, and of none nearer; outside every disc): the mean of
  the map over the control map's median (one unit for both: P_n is normalised by each
  pattern's own I_0², so the two maps share their scale) and the share of pixels above 5, 8
  and 11 of that unit, in the run and in the control.

With `--figure FILE.png` (needs matplotlib) it draws the run's map (over the control's median,
clipped at 15) and its regions, with every wave's projected disc: green in condition (≤ 1 acceptance),
cyan within 4, white beyond.

    /path/to/python-with-numpy tools/out_of_condition_regions.py [--n 2] [--figure F.png] \\
        RUN_ANALYSIS_DIR CONTROL_ANALYSIS_DIR RUN/truth.json

Scan point (0, 0) sits at sample (0, 0); x is the scan column. The sample is periodic, so
distances are minimum-image. The maps are `mro analyze`'s: P_n over the squared mean I_0 of a
5 x 5 scan window (crates/analysis/src/pipeline.rs, `local_normalisation`), not over each
pattern's own I_0², so a value can exceed the two-spot limit of 1 where I_0 peaks.
"""
import argparse
import json
import sys

import numpy as np

NEAR_ACCEPTANCES = 4.0


def load(d, n):
    a = json.load(open(f"{d}/analysis.json"))
    return {
        "map": np.load(f"{d}/mro_power_maps.npy")[n].astype(float),
        "labels": np.load(f"{d}/mro_region_labels.npy")[n],
        "i0": np.load(f"{d}/mean_intensity.npy").astype(float),
        "regions": a["mro"]["by_symmetry"][str(n)]["region_list"],
        "step_nm": a["scan_step_nm"],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="`mro analyze` output of the run")
    p.add_argument("control", help="`mro analyze` output of its no-MRO control")
    p.add_argument("truth", help="the run's truth.json")
    p.add_argument("--n", type=int, default=2, help="symmetry of the planted waves and the map")
    p.add_argument("--figure", help="write the map and its regions to this PNG (matplotlib)")
    args = p.parse_args()
    run, ctl = load(args.run, args.n), load(args.control, args.n)
    truth = json.load(open(args.truth))
    lx_nm, ly_nm = truth["extent_nm"]
    step_nm = run["step_nm"]
    if run["map"].shape != ctl["map"].shape:
        sys.exit(f"the run's scan {run['map'].shape} and the control's {ctl['map'].shape} differ")
    waves = [
        c
        for c in truth["clusters"]
        if c.get("symmetry") == args.n and c.get("acceptance_deg") is not None
    ]
    if not waves:
        sys.exit(f"{args.truth}: no density wave of symmetry {args.n} with an acceptance_deg")
    for c in waves:
        c["off"] = c["worst_reflection_elevation_deg"] / c["acceptance_deg"]

    def dist(c, x, y):
        dx = (c["center_nm"][0] - x + lx_nm / 2) % lx_nm - lx_nm / 2
        dy = (c["center_nm"][1] - y + ly_nm / 2) % ly_nm - ly_nm / 2
        return np.hypot(dx, dy)

    print(f"n = {args.n}: {len(run['regions'])} regions in the run, {len(ctl['regions'])} in the control")
    print(
        "centroid (x, y) nm | peak_z | FWHM nm | I_0 run / control | percentile in the "
        "control's I_0 | waves holding it (acceptances out)"
    )
    ctl_i0 = np.sort(ctl["i0"].ravel())
    ratios, pcts = [], []
    for r in run["regions"]:
        yp, xp = r["centroid_px"]
        iy, ix = int(round(yp)) % run["i0"].shape[0], int(round(xp)) % run["i0"].shape[1]
        x, y = xp * step_nm, yp * step_nm
        ratio = run["i0"][iy, ix] / ctl["i0"][iy, ix]
        pct = 100.0 * np.searchsorted(ctl_i0, run["i0"][iy, ix]) / ctl_i0.size
        ratios.append(ratio)
        pcts.append(pct)
        holding = sorted(c["off"] for c in waves if dist(c, x, y) < c["diameter_nm"] / 2)
        print(
            f"({x:5.1f}, {y:5.1f}) | {r['peak_z']:5.1f} | {r['fwhm_nm']:.2f} | "
            f"{run['i0'][iy, ix]:6.1f} / {ctl['i0'][iy, ix]:5.1f} = {ratio:.2f} | {pct:5.1f} | "
            + (", ".join(f"{o:.1f}" for o in holding) or "none")
        )
    if ratios:
        print(
            f"I_0 run / control at the centroids: min {min(ratios):.2f}, median "
            f"{float(np.median(ratios)):.2f}, max {max(ratios):.2f}; percentile in the "
            f"control's I_0: min {min(pcts):.1f}, median {float(np.median(pcts)):.2f}; above "
            f"the control's 95th / 99th percentile / maximum: {sum(p >= 95 for p in pcts)} / "
            f"{sum(p >= 99 for p in pcts)} / {sum(p >= 100 for p in pcts)} of {len(pcts)}"
        )

    ny, nx = run["map"].shape
    yy, xx = np.meshgrid(np.arange(ny) * step_nm, np.arange(nx) * step_nm, indexing="ij")

    def discs(pred):
        m = np.zeros((ny, nx), bool)
        for c in waves:
            if pred(c):
                m |= dist(c, xx, yy) < c["diameter_nm"] / 2
        return m

    near = discs(lambda c: c["off"] < NEAR_ACCEPTANCES)
    far = discs(lambda c: c["off"] >= NEAR_ACCEPTANCES) & ~near
    free = ~near & ~far
    zones = [
        (f"within {NEAR_ACCEPTANCES:g} acceptances", near),
        (f"{NEAR_ACCEPTANCES:g}+ acceptances out", far),
        ("outside every wave", free),
    ]
    unit = np.median(ctl["map"])
    print("zone | pixels | map | mean / control median | P(>5) | P(>8) | P(>11)")
    for zname, zmask in zones:
        for mname, d in (("run", run), ("control", ctl)):
            z = d["map"][zmask] / unit
            print(
                f"{zname} | {zmask.sum()} | {mname} | {z.mean():.2f} | {np.mean(z > 5):.4f} | "
                f"{np.mean(z > 8):.4f} | {np.mean(z > 11):.4f}"
            )

    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(13, 6.8))
        ext = [0, nx * step_nm, ny * step_nm, 0]
        im = ax[0].imshow(np.clip(run["map"] / unit, 0, 15), extent=ext, cmap="magma")
        fig.colorbar(im, ax=ax[0], fraction=0.046, pad=0.04, label="over the control's median")
        ax[0].set_title(f"$P_{{{args.n}}}$ (mro), clipped at 15")
        ax[1].imshow(run["labels"] > 0, extent=ext, cmap="gray")
        ax[1].set_title(f"{len(run['regions'])} significant regions")
        for c in waves:
            col = "lime" if c["off"] <= 1 else ("cyan" if c["off"] < NEAR_ACCEPTANCES else "white")
            lw = 1.5 if c["off"] < NEAR_ACCEPTANCES else 0.4
            for a in ax:
                for ox in (-lx_nm, 0, lx_nm):
                    for oy in (-ly_nm, 0, ly_nm):
                        a.add_patch(
                            plt.Circle(
                                (c["center_nm"][0] + ox, c["center_nm"][1] + oy),
                                c["diameter_nm"] / 2,
                                fill=False,
                                color=col,
                                lw=lw,
                            )
                        )
        for a in ax:
            a.set_xlim(0, nx * step_nm)
            a.set_ylim(ny * step_nm, 0)
            a.set_xlabel("x (nm)")
        ax[0].set_ylabel("y (nm)")
        fig.text(
            0.5,
            0.01,
            "Planted waves' projected discs: green in condition, cyan within "
            f"{NEAR_ACCEPTANCES:g} acceptances, white beyond",
            ha="center",
        )
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        fig.savefig(args.figure, dpi=80)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
