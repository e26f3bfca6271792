"""Renders reports/xcheck-abtem.md from tools/xcheck_abtem.py's results (target/xcheck/results.json).

`python3 tools/xcheck_abtem.py --report-only` re-renders from the last run without simulating.
"""

from __future__ import annotations

import math
import time

GOAL_BAND = 0.03
GOAL_PEARSON = 0.99

ROW_NAMES = {
    "mro": "mro defaults (m = 2: 12.5 nm window, pixel-integrated, k_bl 20 absorbing beyond it, 0.4 nm)",
    "mro_m1": "mro m = 1 (6.25 nm window, pixel centres, area aperture, k_bl 20 absorbing beyond it, 0.4 nm)",
    "mro_plain": "mro plain phase grating (m = 1: 6.25 nm window, point aperture, k_bl 20, no absorption, 0.2 nm)",
    "mro_refined": "mro refined (m = 2, k_bl 40.96 absorbing beyond it, 0.1 nm)",
    "mro_notail": "mro defaults without the probe-tail background (`probe_tail_background = false`)",
    "cell12_centre": "abTEM, 12.5 nm window, k_bl 20, 0.2 nm — pixel centres",
    "cell25_centre": "abTEM, 25 nm window, k_bl 20, 0.2 nm — pixel centres",
}
ORDER = ["mro", "mro_m1", "mro_plain", "own", "same", "eq_k31", "eq_k41", "cell12_centre", "cell12", "cell25", "cell12_k41", "conv",
         "cell12_k82", "mro_refined", "mro_notail"]


def pct(x: float) -> str:
    return f"{100 * (x - 1):+.1f} %"


def gmean(xs) -> float:
    """Geometric mean."""
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def band_error(cc: dict) -> float:
    """Largest |A/B − 1| over the 1–10 nm⁻¹ bands (the 0.5–1 band holds the disk edge)."""
    return max(abs(x - 1) for x in cc["band_ratio"][1:])


def band_hdr(bands) -> str:
    return " | ".join(f"{lo:g}–{hi:g}" for lo, hi in bands)


def comparison_table(rows, bands) -> list[str]:
    out = [
        f"| compared (A vs B) | {band_hdr(bands)} nm⁻¹ | Pearson min / mean | P_n ratio A/B, n = 1…10 | odd/even A; B |",
        "|---|" + "---|" * len(bands) + "---|---|---|",
    ]
    for lab, a, b, c in rows:
        bands_s = " | ".join(pct(x) for x in c["band_ratio"])
        pn = " ".join(f"{x:.2f}" for x in c["pn_ratio"])
        oe = c["odd_even"]
        out.append(
            f"| {lab} | {bands_s} | {c['pearson_min']:.4f} / {c['pearson_mean']:.4f} | {pn} "
            f"| {oe[0]:.3f}; {oe[1]:.3f} |"
        )
    return out


def verdict(c) -> tuple[bool, bool, float]:
    worst = max(abs(x - 1) for x in c["band_ratio"])
    return worst <= GOAL_BAND, c["pearson_min"] >= GOAL_PEARSON, worst


def render(R: dict, npos: int, command: str, bands, labels) -> str:
    names = {**labels, **ROW_NAMES}
    first = R["thickness"].get("t20") or next(iter(R["thickness"].values()))
    for key, grid, what in [("mro", "mro_grid", "defaults (m = 2: 12.5 nm window, pixel-integrated"),
                            ("mro_m1", "mro_m1_grid",
                             "m = 1 (6.25 nm window, pixel centres, area aperture")]:
        if grid in first:
            gg = first[grid]
            tail = gg.get("tail_background_fraction", 0.0)
            names[key] = (f"mro {what}, k_bl {gg['band_limit_per_nm']:g} absorbing beyond it, "
                          "default slices"
                          + (f", probe-tail background {100 * tail:.2f} %" if tail else "")
                          + ")")
    v = R["versions"]
    m = R["machine"]
    c = R["constants"]
    L = []
    w = L.append
    w("# mro against abTEM on the same atoms (issue 10, item 5; abTEM timing for item 6)")
    w("")
    w("Regenerate (from the repository root; makes its own virtual environment under "
      "`target/xcheck-venv` with the pinned abTEM, work files in `target/xcheck/`):")
    w("")
    w("```sh")
    w(command)
    w("```")
    w("")
    w(f"Run {R.get('date', '?')}, {R['wall_minutes']:.0f} min wall, peak memory about 10 GB; "
      f"{v['mro']} at commit {v['git']}, abTEM {v['abtem']}, NumPy {v['numpy']}, "
      f"Python {v['python']}; {m['cpu']}, {m['cores']} cores (load average "
      f"{m['load_start'][0]:.1f} at the start, {m['load_end'][0]:.1f} at the "
      f"end); {m['uname']}. Every timed code ran on **one thread** (RAYON_NUM_THREADS, "
      "OMP/OpenBLAS/numba threads and abTEM's FFTW threads = 1), except the row marked 2 threads.")
    w("")
    w("## Setup")
    w("")
    t20 = R["thickness"].get("t20") or next(iter(R["thickness"].values()))
    w(f"- **Atoms**: `mro glass tools/xcheck_abtem.toml` — random Zr₅₅Co₂₅Al₂₀, 54 atoms/nm³, "
      f"no clusters, {t20['cell_nm'][0]:g} × {t20['cell_nm'][1]:g} nm periodic, 5 nm and 20 nm "
      "thick (" + ", ".join(f"{k[1:]} nm: {t['atoms']} atoms" for k, t in R["thickness"].items())
      + "). Both codes read the same `atoms.xyz`. 12.5 nm is twice 1/Δk = 6.25 nm, so "
      "a window holding the whole cell samples the pattern at exactly 2 × 2 points per detector "
      "pixel. It is also mro's default window (`window_oversampling = 2`): on this periodic "
      "cell mro's window holds the whole specimen, so this check cannot see what a window "
      "folds back from a larger sample — that is measured in `reports/convergence.md` "
      "(m = 2 → 4 on 26 nm of glass).")
    w(f"- **Probe**: 300 kV, 1.15 mrad hard aperture (`soft=False` in abTEM, point-sampled: 45 "
      "aperture pixels on the 6.25 nm grid; mro's default samples it by area, "
      "`aperture_sampling = \"area\"`, except in the plain run), aberration-free, focused on the entrance surface (mro: "
      "χ = πλk²(½C_sλ²k² − Δf), Δf > 0 underfocus; abTEM's `defocus` = −C10 has the same sign; "
      "both 0 here). λ = "
      f"{c['lambda_mro_nm']*1e3:.6f} pm (mro) / {c['lambda_abtem_nm']*1e3:.6f} pm (abTEM), "
      f"σ = {c['sigma_mro']:.7f} / {c['sigma_abtem']:.7f} rad/(V·nm).")
    w(f"- **Positions**: {npos} probe positions (y, x) = (0, 0), (0, 1.5), (0, 3.0), (0, 4.5) nm "
      "(mro scan 1 × 4, step 1.5 nm).")
    w("- **Detector**: 128 × 128 px at 0.16 nm⁻¹, noise-free (`electrons_per_pattern = \"inf\"`), "
      "ideal (`psf_sigma_px = 0`), coherent (`energy_spread_ev = 0`). Patterns are fractions of "
      "the incident beam.")
    g = t20["mro_grid"]
    gr = t20["mro_refined_grid"]
    gm1 = t20.get("mro_m1_grid", {})
    w(f"- **mro** (`mro simulate`, multislice): defaults — window {g['window_nm']} nm "
      f"(`window_oversampling` m = {g.get('window_oversampling', 1)}, each detector pixel the "
      "Simpson's-rule integral of its window samples, the trapezoid rule in the pixels the "
      "aperture disk reaches), "
      f"{g['window_points']}² points, Δx = {g['dx_nm']:.6f} nm, band limit {g['band_limit_per_nm']} nm⁻¹, "
      f"slices {g['slice_nm']} nm, with whole-atom potentials (the cut atoms scatter into the band as "
      "whole atoms do and lose what these scatter beyond it: `absorb_beyond_band_limit`, "
      "crates/sim/src/eikonal.rs). Plain — the phase grating "
      "abTEM computes on its own-grid window: `window_oversampling = 1`, "
      "`aperture_sampling = \"point\"` (abTEM's `soft=False`) "
      f"({gm1.get('window_nm', 6.25)} nm, {gm1.get('window_points', 384)}² points), "
      "`absorb_beyond_band_limit = false`, `slice_nm = 0.2`. m = 1 — the defaults at "
      "`window_oversampling = 1` (the 6.25 nm window with one sample per pixel, the default "
      "before 2026-12-01, here with the area-sampled aperture and the probe-tail background of "
      "today's defaults). "
      "Refined — `band_limit_per_nm = 40.96`, `slice_nm = 0.1` (absorbing beyond 40.96 nm⁻¹): "
      f"{gr['window_points']}² points, Δx = {gr['dx_nm']:.6f} nm.")
    w("- **abTEM potential** (`PotentialArray`, V·Å): per slice, the exact band-limited "
      "structure-factor potential V(k) = Σₑ 2πa₀e·fₑ(|k|)·W(|k|)/A · Σⱼ exp(−2πi k·rⱼ) on the "
      "cell's reciprocal lattice k = m/L, |k| ≤ k_bl, with fₑ the Lobato (2014) parametrisation "
      "of `crates/sim/data/lobato2014.tsv` (the analytic Fourier transform of each atom's "
      "potential), the atom sums done as direct DFTs (matrix products of per-atom phases: no "
      "gridding, no aliasing), W a cosine taper over the last `taper` nm⁻¹ below k_bl, then an "
      "inverse real FFT onto the window. Atoms are binned into slices by depth as mro bins "
      "them (each atom's whole projected potential in its slice). abTEM's own antialias "
      "aperture (applied to the transmission function and the propagator) is set to the same "
      "k_bl and taper (`antialias.cutoff`, `antialias.taper`), float32, FFTW, `lazy=False`.")
    w("- **Resampling onto mro's detector**: |FFT(exit wave)|² on the window's reciprocal grid "
      "(1/L = 0.16/m nm⁻¹), integrated over each 0.16 nm⁻¹ pixel from its samples as mro's "
      "detector does it: for even m Simpson's rule over the samples on the pixel's edges (shared "
      "with the neighbours) and inside, (1, 4, 1)/3 per axis at m = 2, and the trapezoid rule "
      "(½, 1, ½) in the pixels the aperture disk reaches; for odd m the midpoint rule. "
      "\"Pixel centres\" instead takes the sample at the pixel centre × m² (what mro does at "
      "m = 1, its 1/Δk window).")
    w("- **Metrics**: band intensity = mean over the positions of the pattern summed over the "
      "pixels whose centre |k| lies in the band (fraction of the incident dose), ratio A/B; "
      "Pearson correlation of A and B over the pixels 1 ≤ |k| < 8 nm⁻¹, per position (min and "
      "mean); P_n = |I_n|²/|I_0|² on the 4 nm⁻¹ ring at full resolution (360 azimuths, bilinear, "
      "mean of the radii 3.84/4.00/4.16 nm⁻¹, as in `reports/convergence.md`), mean over "
      "positions, n = 1…10; odd/even = Σ odd P_n / Σ even P_n of those means.")
    w("")
    w("abTEM runs (the same atoms and positions each time):")
    w("")
    w("| run | window | points | Δx (nm) | k_bl (nm⁻¹) | taper (nm⁻¹) | slice (nm) | samples per pixel |")
    w("|---|---|---|---|---|---|---|---|")
    for k, r in t20["runs"].items():
        mm = round(r["window_nm"] * 0.16)
        win = ("6.25 nm per probe, cut from the cell's potential at mro's pixel placement"
               if k == "own" else f"{r['window_nm']:g} nm periodic, all probes in one run")
        w(f"| {names.get(k, k)} | {win} | {r['N']}² | {r['dx_nm']:.6f} | {r['k_bl']:g} | "
          f"{r['taper']:g} | {r['slice_nm']:g} | {mm}² |")
    w("")
    w("\"Converged abTEM\" is the 12.5 nm window at k_bl 81.92 nm⁻¹ and 0.1 nm slices, pixel-"
      "integrated. The 12.5 nm window holds the whole periodic cell: its pattern is the single-"
      "probe pattern of this periodic specimen sampled exactly at 0.08 nm⁻¹ (the probe's "
      "periodic images see the same potential, so nothing is truncated); the 25 nm run checks "
      "the pixel integral at 0.04 nm⁻¹, the 40.96 → 81.92 nm⁻¹ step how far the band limit is "
      "from converged, the 0.2 → 0.1 nm step the slices.")
    w("")

    # ---------------------------------------------------------------- verdict
    w("## Verdict against the goal (band ratios within 3 %, Pearson ≥ 0.99)")
    w("")
    w("| thickness | compared | worst band | all bands within 3 % | worst of the 1–10 nm⁻¹ bands | Pearson min | ≥ 0.99 |")
    w("|---|---|---|---|---|---|---|")
    for k, t in R["thickness"].items():
        for lab, a, b, cc in t["rows"]:
            ok_b, ok_p, worst = verdict(cc)
            wi = max(range(len(bands)), key=lambda i: abs(cc["band_ratio"][i] - 1))
            lo, hi = bands[wi]
            wj = max(range(1, len(bands)), key=lambda i: abs(cc["band_ratio"][i] - 1))
            w(f"| {k[1:]} nm | {lab} | {pct(cc['band_ratio'][wi])} ({lo:g}–{hi:g} nm⁻¹) | "
              f"{'yes' if ok_b else '**no**'} | {pct(cc['band_ratio'][wj])} ({bands[wj][0]:g}–{bands[wj][1]:g} nm⁻¹) "
              f"| {cc['pearson_min']:.4f} | {'yes' if ok_p else '**no**'} |")
    w("")

    for k, t in R["thickness"].items():
        th = k[1:]
        w(f"## {th} nm")
        w("")
        w("Band intensities, fractions of the incident dose (mean over the positions):")
        w("")
        w(f"| pattern | {band_hdr(bands)} nm⁻¹ | on detector |")
        w("|---|" + "---|" * len(bands) + "---|")
        for name in ORDER:
            if name not in t["bands"]:
                continue
            tot = t["runs"].get(name, {}).get("fraction_on_detector")
            tots = f"{tot:.4f}" if tot is not None else "—"
            w(f"| {names.get(name, name)} | " + " | ".join(f"{x:.5f}" for x in t["bands"][name])
              + f" | {tots} |")
        w("")
        w("mro against abTEM (A/B − 1 per band):")
        w("")
        L.extend(comparison_table(t["rows"], bands))
        w("")
        w("Where the difference comes from — abTEM against abTEM on the same atoms, one numerical "
          "parameter at a time (A/B − 1; the first five steps take mro's grid of the 20 nm⁻¹ band "
          "limit, its default before 2026-12-02 and still beyond 20 nm, to the converged "
          "reference, so their band ratios multiply to the own-grid → converged ratio; the last "
          "row checks the reference's window):")
        w("")
        L.extend(comparison_table(t["chain"], bands))
        w("")
        if t.get("equal"):
            w("abTEM at mro's slices against the converged abTEM, at mro's grid and at two finer "
              "band limits (no absorptive potential: the candidates for the timing at equal "
              "accuracy, last section):")
            w("")
            L.extend(comparison_table(t["equal"], bands))
            w("")
        w("P_n on the 4 nm⁻¹ ring (mean over the positions):")
        w("")
        cols = [x for x in ["mro", "own", "cell12", "conv", "mro_refined"] if x in t["power"]]
        w("| n | " + " | ".join(names.get(x, x) for x in cols) + " | mro / converged |")
        w("|---|" + "---|" * len(cols) + "---|")
        for n in range(1, 11):
            vals = " | ".join(f"{t['power'][x][n]:.4f}" for x in cols)
            ratio = t["power"]["mro"][n] / t["power"]["conv"][n] if "conv" in t["power"] else float("nan")
            w(f"| {n} | {vals} | {ratio:.2f} |")
        w("")

    # ---------------------------------------------------------------- vacuum / disk edge
    if "vacuum" in R:
        w("## The bright-field disk edge (no specimen)")
        w("")
        w("The 0.5–1 nm⁻¹ band holds the edge of the bright-field disk (α/λ = 0.584 nm⁻¹), so "
          "its intensity is mostly the unscattered beam and depends on how the hard disk edge "
          "is sampled, not on scattering. Fraction of the incident beam in the band's pixels "
          "with no specimen:")
        w("")
        w("| sampling | 0.5–1 nm⁻¹ | relative to the exact pixel integral |")
        w("|---|---|---|")
        ex = R["vacuum"]["exact pixel integral of the disk"][0]
        for k, b in R["vacuum"].items():
            w(f"| {k} | {b[0]:.4f} | {pct(b[0] / ex)} |")
        w("")

    # ---------------------------------------------------------------- reading
    w("## Reading")
    w("")
    po = R.get("probe_outside", {})
    po6 = po.get("6.25", po.get(6.25))
    po12 = po.get("12.5", po.get(12.5))
    for k, t in R["thickness"].items():
        th = k[1:]
        rows = {b: cc for lab, a, b, cc in t["rows"] if a == "mro"}
        rows_m1 = {b: cc for lab, a, b, cc in t["rows"] if a == "mro_m1"}
        chain = {(a, b): cc for lab, a, b, cc in t["chain"]}
        main = rows.get("conv")
        own = next((cc for lab, a, b, cc in t["rows"] if a == "mro_plain" and b == "own"), None)
        if not (main and own):
            continue
        own_b = max(abs(x - 1) for x in own["band_ratio"])
        own_p = max(abs(x - 1) for x in own["pn_ratio"])
        win = chain[("cell12_centre", "own")]
        pix = chain[("cell12", "cell12_centre")]
        bl1 = chain[("cell12_k41", "cell12")]
        bl2 = chain[("cell12_k82", "cell12_k41")]
        sl = chain[("conv", "cell12_k82")]
        w25 = chain.get(("cell25", "cell12"))
        excess = [1 / (a * b) - 1 for a, b in zip(bl1["band_ratio"], bl2["band_ratio"])]
        ok_b, ok_p, worst = verdict(main)
        w(f"**{th} nm.** Goal {'met' if ok_b and ok_p else 'missed'}: mro's defaults against "
          f"converged abTEM differ by {', '.join(pct(x) for x in main['band_ratio'])} in the "
          f"six bands and correlate at Pearson {main['pearson_min']:.3f} (min) / "
          f"{main['pearson_mean']:.3f} (mean).")
        w("")
        w(f"- *Propagation is not the cause.* On mro's own grid abTEM reproduces mro's plain "
          "phase grating (no absorption, 0.2 nm slices, as abTEM computes it) to "
          f"{100 * own_b:.2f} % in every band, Pearson ≥ {own['pearson_min']:.5f}, P_n within "
          f"{100 * own_p:.1f} % (n = 1…10), odd/even {own['odd_even'][0]:.4f} vs "
          f"{own['odd_even'][1]:.4f}: the potential, slicing, transmission, propagator, probe "
          "placement and detector mapping agree; every difference below is a numerical "
          "parameter of mro's grid (here at the 20 nm⁻¹ band limit).")
        w(f"- *Potential band limit (bands 1–10 nm⁻¹), abTEM's phase grating, no absorption.* "
          "Cutting the potential at 20 nm⁻¹ "
          f"leaves {', '.join(f'{100 * x:+.1f} %' for x in excess[1:])} too much intensity in "
          f"the bands 1–2 … 8–10 nm⁻¹ against 81.92 nm⁻¹ (20 → 40.96: "
          f"{', '.join(pct(1 / x) for x in bl1['band_ratio'][1:])}; 40.96 → 81.92: "
          f"{', '.join(pct(1 / x) for x in bl2['band_ratio'][1:])}), growing with k: the "
          "scattering the cut potential cannot make beyond 20 nm⁻¹ stays at low k. Pattern shape "
          f"is untouched (Pearson ≥ {min(bl1['pearson_min'], bl2['pearson_min']):.4f}). "
          "The 40.96 → 81.92 step is not small either, so the reference itself still carries a "
          "band-limit error of the order of that step's size or less (static atoms: no "
          "Debye–Waller damping of the high-k potential).")
        w(f"- *Slices* (0.2 → 0.1 nm at 81.92 nm⁻¹): "
          f"{', '.join(pct(x) for x in sl['band_ratio'])}, Pearson {sl['pearson_min']:.5f} — "
          "converged.")
        w(f"- *Window / probe tails (pattern shape).* {100 * po6:.1f} % of the hard-aperture "
          f"probe's intensity lies outside mro's 6.25 nm window, a square ({100 * po12:.1f} % outside "
          "12.5 nm; beyond the inscribed circle of radius L/2, mro's `probe_tail_fraction`, 5.7 "
          "and 2.8 %); in mro's window it wraps around onto the far side of a cropped, "
          "seamed potential, where a converged calculation has it scatter from the atoms that "
          "are really there. At the same pixel centres the 6.25 → 12.5 nm window alone gives "
          f"Pearson {win['pearson_min']:.3f} (min) / {win['pearson_mean']:.3f} (mean) and band "
          f"changes {', '.join(pct(x) for x in win['band_ratio'])}: the speckle changes, its "
          "level barely does. This is the largest single cause of the low correlation.")
        w(f"- *Pixel-centre sampling (pattern shape).* Integrating each 0.16 nm⁻¹ pixel over "
          f"its 2 × 2 samples instead of taking its centre gives Pearson {pix['pearson_min']:.3f} "
          f"(min) / {pix['pearson_mean']:.3f} (mean) and bands "
          f"{', '.join(pct(x) for x in pix['band_ratio'])}. The probe tails make structure in "
          "the pattern finer than a detector pixel, which a pixel integrates and a centre sample "
          "does not.")
        if w25:
            w(f"- *Disk edge (band 0.5–1 nm⁻¹).* The 0.5–1 band ratio ({pct(main['band_ratio'][0])}) "
              "compares two samplings of the unscattered disk edge (table above), not scattering. "
              "The reference point-samples the hard disk and holds +12 % of the exact disk-edge "
              "beam; mro's default samples the aperture by area, so an edge pixel's amplitude is "
              "the share of its cell inside the disk and its intensity that share squared, which "
              "holds too little of the edge. Widening the reference's window to 25 nm moves that "
              f"band by {pct(w25['band_ratio'][0])} and the others by ≤ "
              f"{100 * max(abs(x - 1) for x in w25['band_ratio'][1:]):.1f} % (Pearson "
              f"{w25['pearson_min']:.4f}). No analysis reads this band (V(k) starts at 2 nm⁻¹, "
              "the P_n ring is at 4 nm⁻¹, the bright-field disk is masked).")
        mr = rows.get("conv")
        rr = next((cc for lab, a, b, cc in t["rows"] if a == "mro_refined"), None)
        if rr:
            w(f"- *mro refined* (band limit 40.96 nm⁻¹ absorbing beyond it, 0.1 nm slices, same "
              f"window) against the reference: {', '.join(pct(x) for x in rr['band_ratio'])}, "
              f"Pearson {rr['pearson_min']:.4f}.")
        m1 = rows_m1.get("conv")
        if m1:
            w(f"- *m = 1* (mro's 6.25 nm window, pixel centres) against the reference: "
              f"{', '.join(pct(x) for x in m1['band_ratio'])}, Pearson {m1['pearson_min']:.3f} "
              f"(min) / {m1['pearson_mean']:.3f} (mean): the window and the pixel sampling, the "
              "two steps above, are what `window_oversampling = 2` removes.")
        pr = main["pn_ratio"]

        def gm(c):
            import math
            return math.exp(sum(math.log(x) for x in c["pn_ratio"]) / len(c["pn_ratio"]))

        w(f"- *P_n and odd/even.* mro/converged P_n ratios for n = 1…10 span "
          f"{min(pr):.2f}–{max(pr):.2f} (geometric mean {gm(main):.3f}); odd/even "
          f"{main['odd_even'][0]:.4f} (mro) vs {main['odd_even'][1]:.4f} (converged, "
          f"{pct(main['odd_even'][0] / main['odd_even'][1])}). Geometric-mean P_n change per "
          f"step: window {pct(gm(win))}, pixel integral {pct(gm(pix))}, band limit "
          f"{pct(gm(bl1) * gm(bl2))}, slices {pct(gm(sl))}. Integrating over pixels smooths the "
          "ring and lowers every P_n a little, so mro's point sampling reads P_n high; the "
          f"window step changes the speckle itself (single n move by up to "
          f"{100 * max(abs(x - 1) for x in win['pn_ratio']):.0f} %). With {npos} patterns of a "
          "random glass each P_n is a speckle statistic, so single-n ratios are noisy; the "
          "geometric means are the systematic part.")
        w("")

    # ---------------------------------------------------------------- timing
    w("## Time per probe position (issue 10, item 6)")
    w("")
    reps = R.get("timing_repeats", 1)
    w("Wall clock on one thread unless stated, same atoms, 4 positions. mro's figure is "
      "`provenance.simulate_seconds` (potential field, transmission functions and all probes"
      + (f"; the fastest of {reps} runs" if reps > 1 else "") + "); "
      "its marginal cost per probe is (t₁₆ − t₄)/12 from a 4 × 4 scan of the same glass. "
      "abTEM's is the `Probe.multislice` call (transmission functions built per slice inside "
      "it, FFTW plans made beforehand by an untimed one-slice run); the structure-factor "
      "potential, computed by this script in NumPy rather than by abTEM, is listed apart.")
    w("")
    w("| thickness | code, grid | total (s) | per probe (s) | potential built outside (s) |")
    w("|---|---|---|---|---|")
    for k, t in R["thickness"].items():
        tm = t["timing"]
        th = k[1:]
        a1 = tm["mro_default_1t"][0]
        a16 = tm["mro_default_16_1t"][0]
        g = t["mro_grid"]
        w(f"| {th} nm | mro defaults ({g['window_nm']:g} nm window, {g['window_points']}², k_bl {g['band_limit_per_nm']:g} absorbing, {g['slice_nm']:.3g} nm) | {a1:.2f} | {a1/npos:.3f} (marginal {(a16-a1)/12:.3f}; 16 probes {a16:.2f} s) | — |")
        a2 = tm["mro_default_2t"][0]
        w(f"| {th} nm | mro defaults, **2 threads** | {a2:.2f} | {a2/npos:.3f} | — |")
        ar = tm["mro_refined_1t"][0]
        gr = t["mro_refined_grid"]
        w(f"| {th} nm | mro refined ({gr['window_nm']:g} nm window, {gr['window_points']}², k_bl 40.96, 0.1 nm) | {ar:.2f} | {ar/npos:.3f} | — |")
        for name in ["same", "eq_k31", "eq_k41", "own", "cell12", "cell25", "cell12_k41", "conv",
                     "cell12_k82"]:
            key = f"abtem_{name}"
            if key not in tm:
                continue
            wall, tpot = tm[key]
            r = t["runs"][name]
            note = " (one run per probe)" if name == "own" else " (4 probes in one run)"
            if name == "same":
                note = " — mro's numerics (4 probes in one run)"
            if name in ("eq_k31", "eq_k41"):
                note = " — mro's slices (4 probes in one run)"
            marg = ""
            if f"{key}_16" in tm:
                t16 = tm[key + "_16"][0]
                marg = f" (marginal {(t16 - wall) / 12:.3f}; 16 probes {t16:.2f} s)"
            w(f"| {th} nm | abTEM {r['window_nm']:g} nm window, {r['N']}², k_bl {r['k_bl']:g}, {r['slice_nm']:.3g} nm{note} | "
              f"{wall:.2f} | {wall/npos:.3f}{marg} | {tpot:.1f} |")
    w("")
    for k, t in R["thickness"].items():
        tm = t["timing"]
        if "abtem_own" not in tm or "abtem_same_16" not in tm:
            continue
        a1, a16 = tm["mro_default_1t"][0], tm["mro_default_16_1t"][0]
        marg = (a16 - a1) / 12
        own = tm["abtem_own"][0] / npos
        cell = tm.get("abtem_cell12", (float("nan"),))[0] / npos
        g = t["mro_grid"]
        same = tm.get("abtem_same", (float("nan"),))[0]
        same16 = tm.get("abtem_same_16", (float("nan"),))[0]
        same_marg = (same16 - same) / 12
        w(f"At {k[1:]} nm mro's defaults ({g['window_nm']:g} nm window, {g['window_points']}² "
          f"points, k_bl {g['band_limit_per_nm']:g} nm⁻¹, {g['slice_nm']:.3g} nm slices) take "
          f"{a1 / npos:.3f} s per probe over this 4-probe run and {marg:.3f} s per additional "
          f"probe. **Like for like** — abTEM on the same grid, band limit and slices (the same "
          f"split-step numerics; abTEM without mro's absorptive potential and with the "
          f"point-sampled aperture, neither of which costs time per probe): {same / npos:.3f} s per probe "
          f"over 4 probes sharing its transmission functions and {same_marg:.3f} s per additional "
          f"probe (from 4 and 16 probes), so mro is **{same_marg / marg:.1f}×** faster per "
          f"additional probe and {same / a1:.1f}× over the 4-probe run. Against abTEM "
          f"at its 0.2 nm slices (768², k_bl 20, better converged in the slices than either code "
          f"at {g['slice_nm']:.3g} nm: P_n ≤ 2.4 % at 40 nm, `reports/convergence.md`) the "
          f"factor is {cell / marg:.1f}× (abTEM's mean over its 4-probe run against mro's "
          f"marginal cost); on mro's old 6.25 nm windows abTEM takes {own:.3f} s "
          "per probe, without its potential, which abTEM would otherwise build too.")
        w("")
    equal_factors = []
    for k, t in R["thickness"].items():
        tm = t["timing"]
        mro_row = next((cc for lab, a, b, cc in t["rows"] if (a, b) == ("mro", "conv")), None)
        if mro_row is None or not t.get("equal"):
            continue
        marg = (tm["mro_default_16_1t"][0] - tm["mro_default_1t"][0]) / 12
        err_mro = band_error(mro_row)
        cands = []
        for lab, a, b, cc in t["equal"]:
            if f"abtem_{a}_16" in tm:
                am = (tm[f"abtem_{a}_16"][0] - tm[f"abtem_{a}"][0]) / 12
                r = t["runs"][a]
                cands.append((r, band_error(cc), cc["pearson_min"], am, gmean(cc["pn_ratio"])))
        listed = "; ".join(
            f"k_bl {r['k_bl']:g} nm⁻¹ ({r['N']}²): largest band error {100 * e:.1f} %, "
            f"Pearson min {p:.4f}, P_n ratio {gm:.2f}, {am:.3f} s per additional probe "
            f"({am / marg:.1f}× mro's)"
            for r, e, p, am, gm in cands)
        ok = [c for c in cands if c[1] <= err_mro]
        head = (f"**At equal accuracy, {k[1:]} nm.** Accuracy here is the largest error "
                "of the five band intensities between 1 and 10 nm⁻¹ against the converged abTEM "
                "(the issue's agreement measure); mro's defaults: "
                f"{100 * err_mro:.1f} % (Pearson min {mro_row['pearson_min']:.4f}, lowered by its "
                "area-sampled aperture, which the point-sampled reference does not share; P_n "
                f"geometric-mean ratio {gmean(mro_row['pn_ratio']):.2f}). abTEM at mro's slices, "
                f"against the same reference: {listed}.")
        if ok:
            r, _, _, am, _ = min(ok, key=lambda c: c[3])
            equal_factors.append(f"{am / marg:.1f}× at {k[1:]} nm")
            w(head + " The cheapest of these whose largest band error is no larger than mro's "
              f"is k_bl {r['k_bl']:g} nm⁻¹: mro is **{am / marg:.1f}×** faster per additional "
              "probe at equal accuracy — the cost of a scan of many probes (the paper's "
              "16 384), where each code builds its transmission functions once; over a 4-probe "
              "run mro's field build dominates (table). Band by band the two are not equal: "
              "each is closer to the reference in some bands. abTEM correlates better with the "
              "reference at every grid (Pearson, above), and neither code's P_n is judged by "
              "this measure. (abTEM has no absorptive potential: what mro removes beyond its "
              "band limit, abTEM must compute on a finer grid.)")
        else:
            if cands:
                equal_factors.append(f"≥ {max(c[3] for c in cands) / marg:.1f}× at {k[1:]} nm "
                                     "(a lower bound)")
            w(head + " None of them has a largest band error as small as mro's, so this run "
              "gives only a lower bound on the factor at equal accuracy: "
              f"{max(c[3] for c in cands) / marg:.1f}× against the most expensive of them."
              if cands else head)
        w("")
    w(f"Load average {m['load_start'][0]:.1f} at the start, {m['load_end'][0]:.1f} at the end; "
      "both codes ran in the same run, one after the other, each on one thread.")
    w("")
    w("## What would be next")
    w("")
    w("1. **Window**: `window_oversampling = 2` (12.5 nm, pixel-integrated) is the default; on "
      "this 12.5 nm cell it holds the whole specimen, so the report cannot see what it folds "
      "back from a larger one. A cross-check on a 25 nm cell (6144² points at 81.92 nm⁻¹, "
      "beyond this machine's memory for abTEM) would; until then `reports/convergence.md` "
      "(m = 2 → 4) is the measure.")
    steps = []
    for k, t in R["thickness"].items():
        st = [1 / cc["band_ratio"][i] - 1 for lab, a, b, cc in t["chain"]
              if (a, b) == ("cell12_k82", "cell12_k41") for i in range(1, len(bands))]
        if st:
            steps.append(f"{100 * min(st):.1f}–{100 * max(st):.1f} % at {k[1:]} nm")
    refined = []
    for k, t in R["thickness"].items():
        rr = [cc for lab, x, y, cc in t["rows"] if x == "mro_refined"]
        if rr:
            refined.append(f"{100 * max(abs(v - 1) for v in rr[0]['band_ratio'][1:]):.1f} % at {k[1:]} nm")
    w("2. **Band limit**: 40 nm⁻¹ takes the 1–10 nm⁻¹ levels to within the 40.96 → 81.92 step "
      f"above ({', '.join(steps)}); mro refined at 40.96 nm⁻¹ is off by at most {', '.join(refined)} in those bands. With frozen phonons or a Debye–Waller factor (real "
      "specimens) the high-k potential is damped and the band limit converges faster — rerun "
      "this check with `[thermal]` on.")
    w("3. **Disk edge**: the area-sampled aperture gets the probe right (its peak intensity, "
      "the scattering) but puts the share squared, not the share, of each edge cell's beam on "
      "the detector, −7 % in the 0.5–1 nm⁻¹ band against the exact disk; an unscattered-beam "
      "term that adds the difference back would fix that band for the bright-field disk.")
    facs = []
    for k, t in R["thickness"].items():
        tm = t["timing"]
        if "abtem_same_16" in tm:
            mm = (tm["mro_default_16_1t"][0] - tm["mro_default_1t"][0]) / 12
            am = (tm["abtem_same_16"][0] - tm["abtem_same"][0]) / 12
            facs.append(f"{am / mm:.1f}× at {k[1:]} nm")
    w("4. **Speed**: like for like (same grid, band limit and slices) mro's marginal cost per "
      f"probe is below abTEM's by {', '.join(facs) or '—'}; at equal accuracy (the cheapest "
      "abTEM grid whose largest 1–10 nm⁻¹ band error against the converged reference is no "
      f"larger than mro's defaults') by {', '.join(equal_factors) or '— (no abTEM run here was as close)'} "
      "(above); the issue's goal is ≥ 5× at equal accuracy.")
    w("5. More probe positions (and 40 nm) for P_n statistics: with 4 patterns the P_n "
      "ratios are speckle-limited.")
    w("")
    return "\n".join(L) + "\n"
