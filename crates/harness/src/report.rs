//! Validation reports: `report.md` with the paper's figures (truth drawn over them), a bar chart
//! of true against recovered values, `scores.csv`, and the machine and timings that made them.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use mro_analysis::AnalysisOutput;
use mro_sim::Truth;

use crate::figures::{self, CurveOverlay, MapMarker, MapOverlay};
use crate::scenario::Scenario;
use crate::score::Score;

/// Wall-clock seconds of each stage (`timings.json` beside each report).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timings {
    /// Building the glass.
    pub glass_s: f64,
    /// Simulating the datacube.
    pub simulate_s: f64,
    /// Analysing it.
    pub analyze_s: f64,
}

impl Timings {
    /// All stages together.
    pub fn total_s(&self) -> f64 {
        self.glass_s + self.simulate_s + self.analyze_s
    }
}

/// The markers of every in-condition cluster inside the scanned field, in scan pixels.
pub fn truth_overlay(truth: &Truth, scenario: &Scenario) -> MapOverlay {
    let step = scenario.scan.step_nm;
    let [ny, nx] = scenario.scan.points;
    let markers = truth
        .clusters
        .iter()
        .filter(|c| c.in_condition)
        .map(|c| MapMarker {
            center_px: [c.center_nm[1] / step, c.center_nm[0] / step],
            radius_px: 0.5 * c.diameter_nm / step,
            symmetry: Some(c.symmetry as usize),
        })
        .filter(|m| m.center_px[0] < ny as f64 && m.center_px[1] < nx as f64)
        .collect();
    MapOverlay { markers }
}

/// Vertical lines at the true projected nearest-neighbour distance of each n.
fn spacing_overlay(truth: &Truth) -> CurveOverlay {
    let vlines = truth
        .by_symmetry
        .iter()
        .filter_map(|(n, t)| {
            t.projected_nearest_neighbor_nm
                .map(|d| (format!("true NN, n = {n}"), d))
        })
        .collect();
    CurveOverlay {
        curves: Vec::new(),
        vlines,
    }
}

/// Writes the figures, `scores.csv` and `report.md` for one validated scenario into `dir`.
pub fn write(
    dir: &Path,
    scenario: &Scenario,
    truth: &Truth,
    analysis: &AnalysisOutput,
    score: &Score,
    timings: &Timings,
    command: &str,
) -> Result<()> {
    let maps = truth_overlay(truth, scenario);
    let k0: Vec<(String, f64)> = scenario
        .clusters
        .iter()
        .map(|c| c.k0_per_nm)
        .fold(Vec::<f64>::new(), |mut v, k| {
            if !v.contains(&k) {
                v.push(k);
            }
            v
        })
        .into_iter()
        .map(|k| (format!("cluster k0 = {k} nm⁻¹"), k))
        .collect();
    let r = &analysis.result;
    let m = &analysis.maps;
    figures::variance_figure(
        &dir.join("variance.png"),
        r,
        &CurveOverlay {
            curves: Vec::new(),
            vlines: k0,
        },
    )?;
    figures::intensity_maps_figure(&dir.join("intensity_maps.png"), r, m, &maps)?;
    figures::power_spectrum_figure(&dir.join("power_spectrum.png"), r, &CurveOverlay::default())?;
    figures::power_maps_figure(&dir.join("power_maps.png"), r, m, &maps)?;
    figures::autocorrelation_figure(&dir.join("autocorrelation.png"), r, &spacing_overlay(truth))?;
    figures::recovery_figure(&dir.join("recovery.png"), score)?;
    std::fs::write(dir.join("scores.csv"), scores_csv(&scenario.name, score))?;
    std::fs::write(
        dir.join("report.md"),
        markdown(scenario, truth, score, timings, command),
    )?;
    Ok(())
}

/// Header of `scores.csv`.
pub const CSV_HEADER: &str =
    "scenario,quantity,method,symmetry,truth,recovered,recovered_se,relative_error,tolerance,within_tolerance";

/// The rows of a score as CSV lines (with the header).
pub fn scores_csv(name: &str, score: &Score) -> String {
    let mut s = format!("{CSV_HEADER}\n");
    s.push_str(&csv_rows(name, score));
    s
}

/// The rows of a score as CSV lines (without the header).
pub fn csv_rows(name: &str, score: &Score) -> String {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let mut s = String::new();
    for r in &score.rows {
        let _ = writeln!(
            s,
            "{name},{},{},{},{},{},{},{},{},{}",
            r.quantity,
            r.method,
            r.symmetry.map_or(String::new(), |n| n.to_string()),
            opt(r.truth),
            opt(r.recovered),
            opt(r.recovered_se),
            opt(r.relative_error),
            opt(r.tolerance),
            r.within_tolerance.map_or(String::new(), |b| b.to_string())
        );
    }
    let _ = writeln!(s, "{name},odd_even_ratio,,,,{},,,,", score.odd_even_ratio);
    if let Some(r) = score.odd_even_ratio_noise_corrected {
        let _ = writeln!(s, "{name},odd_even_ratio_noise_corrected,,,,{r},,,,");
    }
    s
}

/// The machine this runs on, for reports: CPU model, cores and memory.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or("?".into(), |kb| format!("{:.0}", kb / 1024.0 / 1024.0));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {mem_gib} GiB RAM, {} threads used",
        rayon::current_num_threads()
    )
}

fn markdown(
    scenario: &Scenario,
    truth: &Truth,
    score: &Score,
    t: &Timings,
    command: &str,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Validation report: `{}`\n", scenario.name);
    let _ = writeln!(s, "Regenerate with:\n\n```sh\n{command}\n```\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| mro version | {} |", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(s, "| machine | {} |", machine());
    let _ = writeln!(s, "| seed | {} |", scenario.seed);
    let _ = writeln!(
        s,
        "| sample | {:.2} × {:.2} × {:.1} nm, {} atoms, {} clusters |",
        truth.extent_nm[0],
        truth.extent_nm[1],
        truth.thickness_nm,
        truth.atoms,
        truth.clusters.len()
    );
    let _ = writeln!(
        s,
        "| imaging | {:?}, {} kV, {} mrad, {} × {} scan at {} nm, {} × {} px at {} nm⁻¹, {} e⁻/pattern |",
        scenario.model.kind,
        scenario.microscope.voltage_kv,
        scenario.microscope.semiangle_mrad,
        scenario.scan.points[0],
        scenario.scan.points[1],
        scenario.scan.step_nm,
        scenario.detector.pixels[0],
        scenario.detector.pixels[1],
        scenario.detector.k_pixel_per_nm,
        scenario.detector.electrons_per_pattern
    );
    let _ = writeln!(
        s,
        "| timings | glass {:.1} s, simulate {:.1} s, analyze {:.1} s |",
        t.glass_s, t.simulate_s, t.analyze_s
    );
    let _ = writeln!(
        s,
        "| verdict | {} |\n",
        if score.all_within_tolerance {
            "every tolerance held"
        } else {
            "**a tolerance failed**"
        }
    );
    let _ = writeln!(s, "## Truth against each method\n");
    let _ = writeln!(
        s,
        "`im2018` is the published procedure (Im et al. 2018), `mro` mro's estimator (full-resolution \
         P_n with the exact shot-noise correction, significance-based regions, probe-response \
         diameters); value ± standard error (relative error). The tolerances judge `{}`; bold: \
         outside tolerance.\n",
        score.method
    );
    s.push_str(&crate::score::side_by_side(score));
    let _ = writeln!(s, "\n## Every scored row\n");
    let _ = writeln!(
        s,
        "| quantity | method | n | truth | recovered | s.e. | relative error | tolerance | within |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    let f = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.4}"));
    for r in &score.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.quantity,
            r.method,
            r.symmetry.map_or("—".into(), |n| n.to_string()),
            f(r.truth),
            f(r.recovered),
            f(r.recovered_se),
            r.relative_error
                .map_or("—".into(), |e| format!("{:+.1} %", 100.0 * e)),
            r.tolerance
                .map_or("—".into(), |t| format!("±{:.0} %", 100.0 * t)),
            match r.within_tolerance {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            }
        );
    }
    let _ = writeln!(
        s,
        "\nOdd/even angular power ratio: {:.4}{}.\n",
        score.odd_even_ratio,
        crate::score::noise_corrected(score)
    );
    let _ = writeln!(
        s,
        "Every row is in `scores.csv`; `score.json` and `analysis.json` hold the full results.\n"
    );
    let _ = writeln!(s, "## Figures\n");
    for (file, caption) in [
        ("recovery.png", "True (grey) against recovered (colour) diameter, volume fraction and region count per symmetry; red outline: outside tolerance."),
        ("variance.png", "Fluctuation variance V(k) (paper Fig. 2a); dashed: the clusters' ring k0."),
        ("intensity_maps.png", "V2D(φ) and ⟨I2D(φ)⟩ maps at the analysis ring (paper Fig. 1g); circles: in-condition clusters."),
        ("power_spectrum.png", "Dataset-averaged angular power spectrum (paper Fig. 2c)."),
        ("power_maps.png", "Per-n power maps with thresholded regions (paper Fig. 3); circles: true in-condition clusters of that n."),
        ("autocorrelation.png", "σ(r) of each map (paper Fig. 4); dashed: true projected nearest-neighbour distances."),
    ] {
        let _ = writeln!(s, "![{caption}]({file})\n\n*{caption}*\n");
    }
    s
}
