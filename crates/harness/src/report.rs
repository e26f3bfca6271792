//! Validation reports: `report.md` and the self-contained `report.html`, both rendered from one
//! [`Document`]; the one-page summary figure, the paper's figures (truth drawn over them), a bar
//! chart of true against recovered values, `scores.csv`, and the machine and timings that made
//! them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use mro_analysis::AnalysisOutput;
use mro_sim::{ForwardGrid, Truth};

use crate::document::{
    count, number, percent_signed, Block, Cell, Column, Document, Table, MISSING,
};
use crate::figures::{
    self, CurveOverlay, Detectability, MapMarker, MapOverlay, Summary, SummaryPoint,
    SummaryQuantity,
};
use crate::html;
use crate::output::io_error;
use crate::scenario::Scenario;
use crate::score::{Row, Score};

/// Wall-clock seconds of each stage (`timings.json` beside each report).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timings {
    /// Building the glass.
    pub glass_s: f64,
    /// Simulating the datacube.
    pub simulate_s: f64,
    /// Analysing it.
    pub analyze_s: f64,
    /// Building, simulating and analysing the no-MRO control (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_s: Option<f64>,
}

impl Timings {
    /// All stages together, the control included.
    pub fn total_s(&self) -> f64 {
        self.glass_s + self.simulate_s + self.analyze_s + self.control_s.unwrap_or(0.0)
    }
}

/// The markers of every in-condition cluster inside the scanned field, in nm, one per map it
/// diffracts into.
pub fn truth_overlay(truth: &Truth, scenario: &Scenario) -> MapOverlay {
    let step = scenario.scan.step_nm;
    let [ny, nx] = scenario.scan.points;
    let markers = truth
        .clusters
        .iter()
        .filter(|c| c.in_condition)
        .flat_map(|c| {
            // A density wave marks its own map; a structure cluster every map it shows.
            let maps = c.symmetry.map_or_else(|| c.shows.clone(), |n| vec![n]);
            maps.into_iter().map(move |n| MapMarker {
                center_nm: [c.center_nm[1], c.center_nm[0]],
                radius_nm: 0.5 * c.diameter_nm,
                symmetry: Some(n as usize),
            })
        })
        .filter(|m| m.center_nm[0] < ny as f64 * step && m.center_nm[1] < nx as f64 * step)
        .collect();
    MapOverlay { markers }
}

/// The true spacing in each map (the peak of the in-condition clusters' projected pair
/// correlation, what σ(r)'s first peak measures), in nm.
fn spacing_truth(truth: &Truth) -> BTreeMap<usize, f64> {
    spacing_by_map(
        truth
            .by_symmetry
            .iter()
            .filter_map(|(n, t)| Some((n.parse().ok()?, t.pair_correlation_peak_nm?))),
    )
}

/// The spacings `(n, nm)` of clusters of symmetry n keyed by the map they diffract into: 2n for
/// odd n (Friedel). Where clusters of n and 2n share a map, those of the map's own n give it.
fn spacing_by_map(peaks: impl Iterator<Item = (u32, f64)>) -> BTreeMap<usize, f64> {
    let mut peaks: Vec<(u32, u32, f64)> = peaks
        .map(|(n, peak)| (crate::detectability::map_of(n), n, peak))
        .collect();
    // The map's own n first, so it keeps the line.
    peaks.sort_by_key(|&(map, n, _)| (map, n != map));
    let mut out = BTreeMap::new();
    for (map, _, peak) in peaks {
        out.entry(map as usize).or_insert(peak);
    }
    out
}

/// One validated run, as its report shows it.
pub struct Run<'a> {
    /// The scenario, resolved.
    pub scenario: &'a Scenario,
    /// The forward model's numerical grid (`meta.json` provenance).
    pub grid: &'a ForwardGrid,
    /// What was planted.
    pub truth: &'a Truth,
    /// What the analysis recovered.
    pub analysis: &'a AnalysisOutput,
    /// The recovery scored against the truth.
    pub score: &'a Score,
    /// Wall-clock time per stage.
    pub timings: &'a Timings,
}

/// Writes the figures, `scores.csv`, `report.md` and `report.html` for one validated run into
/// `dir`.
pub fn write(dir: &Path, run: &Run, command: &str) -> Result<()> {
    let Run {
        scenario,
        grid,
        truth,
        analysis,
        score,
        timings,
    } = *run;
    let maps = truth_overlay(truth, scenario);
    let mut k0: Vec<f64> = Vec::new();
    for c in &scenario.clusters {
        if !k0.contains(&c.k0_per_nm) {
            k0.push(c.k0_per_nm);
        }
    }
    let k0 = k0
        .into_iter()
        .map(|k| (format!("cluster ring k0 = {} nm⁻¹", number(k, 2)), k))
        .collect();
    let r = &analysis.result;
    let m = &analysis.maps;
    figures::summary_figure(&dir.join("summary.png"), &summary(&scenario.name, score))?;
    figures::recovery_figure(&dir.join("recovery.png"), score)?;
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
    figures::autocorrelation_figure(&dir.join("autocorrelation.png"), r, &spacing_truth(truth))?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| io_error("cannot write", &path, e))
    };
    write("scores.csv", scores_csv(&scenario.name, score))?;
    let doc = document(scenario, grid, truth, score, timings, command);
    write("report.md", doc.to_markdown())?;
    write("report.html", html::render(&doc, dir)?)?;
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
    let opt = |v: Option<f64>| v.map_or(String::new(), csv_number);
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
    let _ = writeln!(
        s,
        "{name},odd_even_ratio,,,,{},,,,",
        csv_number(score.odd_even_ratio)
    );
    if let Some(r) = score.odd_even_ratio_noise_corrected {
        let _ = writeln!(
            s,
            "{name},odd_even_ratio_noise_corrected,,,,{},,,,",
            csv_number(r)
        );
    }
    s
}

/// Significant digits of a number in a CSV cell ([`csv_number`]).
pub const CSV_SIGNIFICANT_DIGITS: usize = 12;

/// A number for a CSV cell (every CSV mro writes): rounded to [`CSV_SIGNIFICANT_DIGITS`]
/// significant digits and written in the shortest form that reads back as that rounded value,
/// so that arithmetic noise does not show (a mean of 1.97 and 1.98 is `1.975`, not
/// `1.9749999999999996`; 0.1·3 is `0.3`); empty where it is undefined (NaN or infinite), as for
/// a missing value. Twelve digits are far beyond any quantity's precision and well inside
/// float64's 15–17.
pub fn csv_number(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let rounded: f64 = format!("{v:.*e}", CSV_SIGNIFICANT_DIGITS - 1)
        .parse()
        .expect("a formatted float parses");
    // +0.0 turns a −0.0 into 0.
    format!("{}", rounded + 0.0)
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

/// What each score quantity means, for the glossary under the score table (`None` for a
/// quantity this version does not know).
pub fn quantity_meaning(quantity: &str) -> Option<&'static str> {
    Some(match quantity {
        "v_peak_k_per_nm" => {
            "k (nm⁻¹) where the fluctuation variance V_Ω(k) peaks, against the ring k0 the \
             clusters diffract into; none when V_Ω is largest at an end of the k range (a curve \
             that only rises or falls there has no peak)."
        }
        "mean_diameter_nm" => {
            "mean equivalent-circle diameter (ECD) of the thresholded regions of map n — the \
             published measurement — against the mean diameter of the in-condition clusters \
             (those in the scanned field when the scan covers part of the sample)."
        }
        "mean_diameter_corrected_nm" => {
            "the same ECD with the probe's FWHM removed in quadrature (`corrected`); reported, \
             not scored."
        }
        "volume_fraction" => {
            "share of the sample volume in clusters of n: the in-condition volume fraction of \
             map n's regions divided by the fixed in-condition share \
             (`analysis.in_condition_fraction`; the paper's 5.9 % by default)."
        }
        "volume_fraction_geometric" => {
            "the same in-condition volume fraction divided instead by the geometric share of \
             n-fold clusters within the acceptance angle of the Bragg condition, computed per n \
             (`geometric`); reported, not scored."
        }
        "region_count" => {
            "regions found in map n, against the number of in-condition clusters (those in the \
             scanned field when the scan covers part of the sample)."
        }
        "spacing_nm" => {
            "first peak of the autocorrelation σ(r) of map n, against the first significant \
             peak of the in-condition clusters' projected pair-correlation function (their \
             commonest neighbour distance; correlated placement only)."
        }
        "nearest_neighbor_nm" => {
            "mean nearest-neighbour distance of the regions found in map n (edge-corrected), \
             against the mean projected nearest-neighbour distance of the in-condition \
             clusters; missed clusters lengthen it, merged ones shorten the list."
        }
        "spacing_significance" => {
            "how many standard errors that σ(r) peak stands out from the map's own \
             fluctuations; below 3 the spacing is noise. It has no truth."
        }
        "recall" => {
            "share of in-condition clusters (in the scanned field, when the scan covers part of \
             the sample) whose centre lies inside a region of map n."
        }
        "recall_overlapping" => {
            "recall over the in-condition clusters whose projected disc overlaps that of another \
             in-condition cluster (any n; centres closer than the sum of the radii). A map can \
             miss such a cluster three ways: another n's bright ring raises the intensity P_n \
             is normalised by, a partner of the same n shares its region, or the two same-n \
             patterns cancel. It need not be below recall (two clusters in phase make a \
             brighter spot than one), and equals it where every cluster overlaps another."
        }
        "precision" => "share of the regions of map n holding an in-condition cluster of that n.",
        "planted_volume_fraction" => {
            "the method's per-n volume fractions summed over the planted n (the maps the \
             clusters diffract into), against the planted total; the judged total."
        }
        "total_volume_fraction" => {
            "the method's own total as analysis.json gives it: Σ over its summed symmetries \
             (every even n by default, maps with nothing planted included), against the \
             planted total; reported, not judged."
        }
        "planted_volume_fraction_geometric" => {
            "the per-n volume fractions with the geometric correction, summed over the planted \
             n; reported, not scored."
        }
        _ => return None,
    })
}

/// A value of `quantity` as the tables print it: counts as integers, others to four decimals.
fn value_text(quantity: &str, v: f64) -> String {
    if is_count(quantity) {
        count(v)
    } else {
        number(v, 4)
    }
}

/// Whether a quantity is a count (printed as an integer).
fn is_count(quantity: &str) -> bool {
    quantity.ends_with("_count")
}

/// The score rows in reading order: whole-sample quantities first, then by n numerically, each
/// n's rows in the order scoring wrote them.
pub fn sorted_rows(score: &Score) -> Vec<&Row> {
    let mut rows: Vec<&Row> = score.rows.iter().collect();
    rows.sort_by_key(|r| r.symmetry.map_or((0, 0), |n| (1, n)));
    rows
}

/// The truth-against-recovered table, every column and quantity explained under it.
pub fn score_table(score: &Score) -> Table {
    let col = |name: &str, meaning: &str| Column {
        name: name.into(),
        meaning: meaning.into(),
    };
    let columns = vec![
        col("quantity", "what was measured; each is explained below."),
        col(
            "n",
            "rotational symmetry of the cluster type (an odd-n cluster is read from map 2n, \
             by Friedel symmetry); — for a whole-sample quantity.",
        ),
        col(
            "method",
            "the estimator: `im2018` the published procedure, `mro` mro's own (see the \
             side-by-side table), or an external estimate's name.",
        ),
        col(
            "truth",
            "the planted value; for diameters, counts and spacings, over the in-condition \
             clusters (those whose reflections reach the analysis ring); — where there is none.",
        ),
        col(
            "recovered",
            "the value the analysis measured; — where it found none.",
        ),
        col(
            "s.e.",
            "the standard error of the recovered value; — where the method gives none.",
        ),
        col(
            "relative error",
            "(recovered − truth)/truth in percent; — where the truth is zero or missing.",
        ),
        col(
            "tolerance",
            "the largest |relative error| the scenario accepts; — for a quantity that is \
             reported but not scored.",
        ),
        col(
            "within",
            "whether the relative error lies within the tolerance (**no** fails the \
             validation); — for a quantity without a tolerance.",
        ),
    ];
    let value = |q: &str, v: Option<f64>| match v {
        Some(v) if is_count(q) => Cell::number(count(v), v),
        Some(v) => Cell::number(number(v, 4), v),
        None => Cell::text(MISSING),
    };
    let rows = sorted_rows(score)
        .into_iter()
        .map(|r| {
            vec![
                Cell::text(format!("`{}`", r.quantity)),
                r.symmetry.map_or(Cell::text(MISSING), |n| {
                    Cell::number(n.to_string(), n.into())
                }),
                Cell::text(r.method.clone()),
                value(&r.quantity, r.truth),
                value(&r.quantity, r.recovered),
                r.recovered_se
                    .map_or(Cell::text(MISSING), |e| Cell::number(number(e, 4), e)),
                r.relative_error.map_or(Cell::text(MISSING), |e| {
                    Cell::number(percent_signed(e), 100.0 * e)
                }),
                r.tolerance.map_or(Cell::text(MISSING), |t| {
                    Cell::number(format!("±{} %", number(100.0 * t, 0)), 100.0 * t)
                }),
                Cell::text(match r.within_tolerance {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => MISSING,
                }),
            ]
        })
        .collect();
    let mut glossary: Vec<(String, String)> = Vec::new();
    for r in &score.rows {
        if let Some(m) = quantity_meaning(&r.quantity) {
            if !glossary.iter().any(|g| g.0 == r.quantity) {
                glossary.push((r.quantity.clone(), m.into()));
            }
        }
    }
    Table {
        columns,
        rows,
        glossary,
    }
}

/// Truth beside each method's recovered value ± standard error (relative error), one row per
/// quantity and n; bold where outside tolerance.
pub fn side_by_side_table(score: &Score) -> Table {
    let methods = crate::score::methods(score);
    let mut columns = vec![
        Column {
            name: "quantity".into(),
            meaning: "what was measured (as in the table of every scored row).".into(),
        },
        Column {
            name: "n".into(),
            meaning: "rotational symmetry; — for a whole-sample quantity.".into(),
        },
        Column {
            name: "truth".into(),
            meaning: "the planted value.".into(),
        },
    ];
    columns.extend(methods.iter().map(|m| Column {
        name: m.clone(),
        meaning: format!(
            "`{m}`'s value ± its standard error (relative error); bold: outside tolerance."
        ),
    }));
    let mut keys: Vec<(&str, Option<u32>)> = Vec::new();
    for q in crate::score::METHOD_QUANTITIES
        .iter()
        .chain(&crate::score::TOTAL_QUANTITIES)
    {
        for r in sorted_rows(score).into_iter().filter(|r| r.quantity == *q) {
            if !keys.contains(&(q, r.symmetry)) {
                keys.push((q, r.symmetry));
            }
        }
    }
    keys.sort_by_key(|&(q, n)| (n.map_or((0, 0), |n| (1, n)), q != "mean_diameter_nm"));
    let rows = keys
        .into_iter()
        .map(|(q, n)| {
            let find = |m: &str| {
                score
                    .rows
                    .iter()
                    .find(|r| r.quantity == q && r.symmetry == n && r.method == m)
            };
            let truth = methods.iter().find_map(|m| find(m)).and_then(|r| r.truth);
            let mut row = vec![
                Cell::text(format!("`{q}`")),
                n.map_or(Cell::text(MISSING), |n| {
                    Cell::number(n.to_string(), n.into())
                }),
                truth.map_or(Cell::text(MISSING), |v| Cell::number(value_text(q, v), v)),
            ];
            row.extend(methods.iter().map(|m| {
                match find(m).and_then(|r| r.recovered.map(|v| (r, v))) {
                    None => Cell::text(MISSING),
                    Some((r, v)) => {
                        let mut c = value_text(q, v);
                        if let Some(e) = r.recovered_se {
                            c += &format!(" ± {}", number(e, if is_count(q) { 1 } else { 4 }));
                        }
                        if let Some(e) = r.relative_error {
                            c += &format!(" ({})", percent_signed(e));
                        }
                        if r.within_tolerance == Some(false) {
                            c = format!("**{c}**");
                        }
                        Cell::number(c, v)
                    }
                }
            }));
            row
        })
        .collect();
    Table {
        columns,
        rows,
        glossary: Vec::new(),
    }
}

/// The verdict in words: which scored quantities missed their tolerance.
pub fn verdict(score: &Score) -> String {
    // Whether there is MRO to recover is said before how well it was recovered.
    let detect = score.detectability.as_ref().map_or(String::new(), |d| {
        use crate::detectability::Level;
        let caveat = match d.level() {
            Level::Detectable | Level::Partly => "",
            // Other maps moved: the sample differs from the glass, just not where it is judged.
            Level::Not if !d.moved_elsewhere.is_empty() => {
                ". The recovery errors below describe clusters that the maps of their own n \
                 cannot tell from a glass without them"
            }
            Level::Not => {
                ". The recovery errors below describe a sample whose MRO the measurement cannot \
                 tell from a glass without it"
            }
            Level::OutOfCondition => {
                ". No cluster is in condition, so what the maps show comes from clusters out \
                 of condition; the recovery errors below measure the method on those"
            }
            Level::NothingInCondition | Level::BeyondNMax => "",
        };
        format!("{}{caveat}. ", d.verdict)
    });
    format!("{detect}{}", recovery_verdict(score))
}

/// The verdict on the recovery errors alone.
fn recovery_verdict(score: &Score) -> String {
    let scored: Vec<&Row> = score
        .rows
        .iter()
        .filter(|r| r.within_tolerance.is_some())
        .collect();
    let mut failed: Vec<(String, Vec<String>)> = Vec::new();
    for r in sorted_rows(score)
        .into_iter()
        .filter(|r| r.within_tolerance == Some(false))
    {
        let name = r.quantity.trim_end_matches("_nm").replace('_', " ");
        let what = r.symmetry.map_or("whole sample".into(), |n| n.to_string());
        match failed.iter_mut().find(|f| f.0 == name) {
            Some(f) => f.1.push(what),
            None => failed.push((name, vec![what])),
        }
    }
    if failed.is_empty() {
        return format!(
            "Every tolerance held: all {} scored values lie within their tolerance.",
            scored.len()
        );
    }
    let n_failed: usize = failed.iter().map(|f| f.1.len()).sum();
    let list: Vec<String> = failed
        .iter()
        .map(|(q, which)| match which.as_slice() {
            [w] if w == "whole sample" => q.clone(),
            _ => format!("{q} (n = {})", which.join(", ")),
        })
        .collect();
    format!(
        "A tolerance failed: {n_failed} of {} scored values lie outside their tolerance — {}.",
        scored.len(),
        list.join("; ")
    )
}

/// The data of the one-page summary figure: the scored quantities of the Im et al. (2018)
/// analysis, recovered against true per n. Other methods' values and a no-MRO control are
/// added by filling [`Summary::methods`], [`SummaryPoint::recovered`] and
/// [`Summary::detectability`].
pub fn summary(name: &str, score: &Score) -> Summary {
    // The judged method (whose rows carry the tolerances) first, then every other method's
    // value of the same quantity and n.
    let mut methods = vec![score.method.clone()];
    for r in &score.rows {
        if !methods.contains(&r.method) {
            methods.push(r.method.clone());
        }
    }
    let mut quantities: Vec<SummaryQuantity> = Vec::new();
    for r in sorted_rows(score) {
        let (Some(tolerance), Some(truth)) = (r.tolerance, r.truth) else {
            continue;
        };
        if !(truth.is_finite() && truth > 0.0) || r.method != score.method {
            continue;
        }
        // The whole-sample fraction is drawn beside the per-n ones, as group "all".
        let base = ["planted_", "total_"]
            .iter()
            .find_map(|p| r.quantity.strip_prefix(p))
            .unwrap_or(&r.quantity);
        let label = base.trim_end_matches("_nm").replace('_', " ");
        let recovered = methods
            .iter()
            .map(|m| {
                score
                    .rows
                    .iter()
                    .find(|o| {
                        &o.method == m && o.quantity == r.quantity && o.symmetry == r.symmetry
                    })
                    .and_then(|o| o.recovered)
            })
            .collect();
        let point = SummaryPoint {
            group: r.symmetry.map_or("all".into(), |n| n.to_string()),
            truth,
            recovered,
        };
        match quantities.iter_mut().find(|q| q.label == label) {
            Some(q) => q.points.push(point),
            None => quantities.push(SummaryQuantity {
                label,
                tolerance: Some(tolerance),
                points: vec![point],
            }),
        }
    }
    Summary {
        title: format!("Validation summary: {name}"),
        verdict: verdict(score),
        passed: score.all_within_tolerance,
        methods: methods
            .iter()
            .enumerate()
            .map(|(j, m)| {
                let name = match m.as_str() {
                    "im2018" => "im2018 (Im et al. 2018)".to_string(),
                    "mro" => "mro (mro's estimator)".to_string(),
                    other => other.to_string(),
                };
                if j == 0 {
                    format!("{name}, judged")
                } else {
                    name
                }
            })
            .collect(),
        quantities,
        detectability: score.detectability.as_ref().map(|d| Detectability {
            title: "Mean shot-noise-corrected P_n: sample against no-MRO control".into(),
            y_label: "mean corrected P_n (dimensionless)".into(),
            sample_label: "sample".into(),
            control_label: "no-MRO control".into(),
            groups: d
                .by_symmetry
                .iter()
                .map(|m| (m.n.to_string(), m.mean_power, m.mean_power_control))
                .collect(),
        }),
    }
}

/// The figures of a validation report, in reading order, with their captions.
pub const FIGURES: [(&str, &str); 7] = [
    (
        "summary.png",
        "Summary: recovered over true value of every scored quantity per symmetry n (log \
         scale), one colour per method (the judged one, whose tolerances apply, first); the \
         green band is the tolerance, circled red points miss it, a cross marks a value the \
         method did not give.",
    ),
    (
        "recovery.png",
        "True (grey) against recovered mean diameter, volume fraction and region count per \
         symmetry n, by the published method (`im2018`, blue) and mro's (`mro`, orange); a red \
         outline marks a value outside its tolerance (the judged method's).",
    ),
    (
        "variance.png",
        "Fluctuation variance V(k) (paper Fig. 2a); grey band: the analysis ring; dashed: the \
         ring k0 the clusters diffract into; dot: the V_Ω maximum.",
    ),
    (
        "intensity_maps.png",
        "V2D and ring-mean intensity maps at the analysis ring (paper Fig. 1g); circles: the \
         true in-condition clusters. Colours saturate at the 1st and 99.5th percentiles.",
    ),
    (
        "power_spectrum.png",
        "Dataset-averaged angular power spectrum at the analysis ring (paper Fig. 2c).",
    ),
    (
        "power_maps.png",
        "Per-n power maps with thresholded regions outlined (paper Fig. 3); D is the regions' \
         mean equivalent-circle diameter; circles: the true in-condition clusters of that n.",
    ),
    (
        "autocorrelation.png",
        "σ(r) of each map (paper Fig. 4), with the first peak found (dot, its significance in \
         standard errors) and, for correlated placement, the true spacing: the first \
         significant peak of the in-condition clusters' pair correlation (dashed).",
    ),
];

/// The report as a document (rendered to `report.md` and `report.html`).
pub fn document(
    scenario: &Scenario,
    grid: &ForwardGrid,
    truth: &Truth,
    score: &Score,
    t: &Timings,
    command: &str,
) -> Document {
    let mut facts = vec![
        ("mro version".into(), env!("CARGO_PKG_VERSION").into()),
        ("machine".into(), machine()),
        ("seed".into(), scenario.seed.to_string()),
        (
            "sample".into(),
            format!(
                "{} × {} × {} nm, {} atoms, {} clusters",
                number(truth.extent_nm[0], 2),
                number(truth.extent_nm[1], 2),
                number(truth.thickness_nm, 1),
                truth.atoms,
                truth.clusters.len()
            ),
        ),
        (
            "imaging".into(),
            format!(
                "{:?}, {} kV, {} mrad, {} × {} scan at {} nm, {} × {} px at {} nm⁻¹, {} e⁻/pattern",
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
            ),
        ),
        (
            "forward-model grid".into(),
            format!(
                "window {} nm ({} px, {} per detector pixel; probe tail beyond it {} %{}), Δx {} \
                 nm, band limit {} nm⁻¹, {} slices of {} nm",
                number(grid.window_nm, 2),
                grid.window_points,
                grid.window_oversampling,
                number(100.0 * grid.probe_tail_fraction, 1),
                if grid.tail_background_fraction > 0.0 {
                    format!(
                        "; {} % of the probe's intensity added back as a background",
                        number(100.0 * grid.tail_background_fraction, 1)
                    )
                } else {
                    String::new()
                },
                number(grid.dx_nm, 4),
                number(grid.band_limit_per_nm, 1),
                grid.slices,
                number(grid.slice_nm, 2)
            ),
        ),
        (
            "timings".into(),
            format!(
                "glass {} s, simulate {} s, analyze {} s{}",
                number(t.glass_s, 1),
                number(t.simulate_s, 1),
                number(t.analyze_s, 1),
                t.control_s.map_or(String::new(), |c| format!(
                    ", no-MRO control {} s",
                    number(c, 1)
                ))
            ),
        ),
        // Whether there is anything to recover comes before how well it was recovered.
        (
            "MRO".into(),
            match &score.detectability {
                Some(d) => d.verdict.clone(),
                None => crate::detectability::short_verdict(None, score.control_skipped.as_deref()),
            },
        ),
        (
            "verdict".into(),
            if let Some(why) = &score.not_judged {
                format!("no tolerance judged ({why})")
            } else {
                let verdict = if score.all_within_tolerance {
                    "every tolerance held"
                } else {
                    "**a tolerance failed**"
                };
                if score.unjudged_checks.is_empty() {
                    verdict.into()
                } else {
                    format!(
                        "{verdict}; not judged: {}",
                        score.unjudged_checks.join("; ")
                    )
                }
            },
        ),
    ];
    if let Some(share) = score.scanned_share {
        facts.push((
            "scanned field".into(),
            format!(
                "{} % of the sample's area: region counts, diameters and recalls are over the \
                 in-condition clusters whose centres lie in it (volume fractions and spacings \
                 are the sample's)",
                number(100.0 * share, 1)
            ),
        ));
    }
    let mut blocks = vec![
        Block::Paragraph("Regenerate with:".into()),
        Block::Code(command.into()),
        Block::Facts(facts),
        Block::Paragraph(verdict(score)),
    ];
    if let Some(d) = &score.detectability {
        blocks.push(Block::Heading(
            "Detectability: the sample against its no-MRO control".into(),
        ));
        blocks.extend(crate::detectability::blocks(d));
    }
    if let Some(r) = &score.realism {
        blocks.push(Block::Heading(
            "Realism: this run beside the real data".into(),
        ));
        blocks.extend(crate::realism::blocks(r));
        if let Ok(reference) = crate::realism::Reference::shipped() {
            blocks.push(Block::Paragraph(format!(
                "How each published value was read:\n\n{}",
                crate::realism::readings(&reference)
            )));
        }
    }
    blocks.push(Block::Heading("Truth against each method".into()));
    blocks.push(Block::Paragraph(format!(
        "`im2018` is the published procedure (Im et al. 2018); `mro` is mro's estimator \
         (full-resolution P_n with the exact shot-noise correction, significance-based regions, \
         probe-response diameters). The tolerances judge `{}`.",
        score.method
    )));
    blocks.push(Block::Table(side_by_side_table(score)));
    let blanks = crate::score::blank_reasons(score);
    if !blanks.is_empty() {
        blocks.push(Block::Paragraph(
            "Why a value (—) or its standard error is blank, here and in every table below \
             (from the `null_reasons` of `analysis.json`; `null_reason` of each row in \
             `score.json`):"
                .into(),
        ));
        blocks.push(Block::Facts(blanks));
    }
    blocks.push(Block::Heading("Every scored row".into()));
    blocks.push(Block::Table(score_table(score)));
    let noise_removed = score
        .odd_even_ratio_noise_corrected
        .map_or(String::new(), |r| {
            format!(" (shot noise removed: {})", number(r, 4))
        });
    blocks.push(Block::Paragraph(format!(
        "Odd/even angular power ratio: {}{noise_removed}.",
        number(score.odd_even_ratio, 4)
    )));
    blocks.push(Block::Paragraph(
        "Every row is in `scores.csv`; `score.json` and `analysis.json` hold the full results."
            .into(),
    ));
    blocks.push(Block::Heading("Figures".into()));
    blocks.extend(FIGURES.iter().map(|(file, caption)| Block::Figure {
        file: (*file).into(),
        caption: (*caption).into(),
    }));
    Document {
        title: format!("Validation report: `{}`", scenario.name),
        blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CSV numbers carry 12 significant digits and no arithmetic noise.
    #[test]
    fn csv_numbers_are_rounded_to_twelve_digits() {
        assert_eq!(csv_number(0.1 * 3.0), "0.3");
        assert_eq!(csv_number((1.97 + 1.98) / 2.0), "1.975");
        assert_eq!(csv_number(0.017039452541013352), "0.017039452541");
        assert_eq!(csv_number(-0.0), "0");
        assert_eq!(csv_number(4.0), "4");
        assert_eq!(csv_number(f64::NAN), "");
        assert_eq!(csv_number(1234567.891234567), "1234567.89123");
    }

    /// An odd n's spacing is drawn on the σ(r) panel of the map it diffracts into, 2n; the
    /// map's own n keeps it where both have one.
    #[test]
    fn odd_spacings_go_to_twice_their_n() {
        let m = spacing_by_map([(3, 4.0), (5, 6.0), (10, 7.0), (4, 5.0)].into_iter());
        assert_eq!(m, BTreeMap::from([(4, 5.0), (6, 4.0), (10, 7.0)]));
    }
}
