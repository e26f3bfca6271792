//! PNG figures of an analysis, after Im et al. (2018) Figs. 1–4: V(k), the V2D and ⟨I⟩ maps, the
//! averaged angular power spectrum, the per-n maps with their region outlines, σ(r).
//!
//! Every function takes the analysis result (and maps) plus optional overlay data, so reports can
//! draw the truth over the same figures. Text uses the DejaVu Sans shipped in `assets/` (there are
//! no system fonts to rely on), registered once with plotters' ab_glyph backend.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Result};
use mro_analysis::{AnalysisMaps, AnalysisResult};
use ndarray::Array2;
use plotters::coord::Shift;
use plotters::prelude::*;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn fonts() {
    REGISTER.call_once(|| {
        // The font is compiled in and known to parse; a failure would only lose text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing figure: {e}")
}

/// The legend in the house style: `size`-pixel labels in a framed, nearly opaque white box.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    size: u32,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", size).into_font())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// A marker drawn on scan maps: e.g. a true cluster's position and size.
#[derive(Debug, Clone, PartialEq)]
pub struct MapMarker {
    /// Centre `[y, x]` in scan pixels.
    pub center_px: [f64; 2],
    /// Radius in scan pixels.
    pub radius_px: f64,
    /// Only drawn on the map of this n (all maps when `None`).
    pub symmetry: Option<usize>,
}

/// Extra data drawn over map figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MapOverlay {
    /// Circles to draw.
    pub markers: Vec<MapMarker>,
}

/// Extra curves drawn over line figures (e.g. a true V(k) or spacing).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CurveOverlay {
    /// Labelled curves `(label, points)` in the figure's units.
    pub curves: Vec<(String, Vec<(f64, f64)>)>,
    /// Labelled vertical lines `(label, x)`.
    pub vlines: Vec<(String, f64)>,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// An inferno-like colour map on `t ∈ [0, 1]`.
fn colormap(t: f64) -> RGBColor {
    const STOPS: [(f64, [f64; 3]); 6] = [
        (0.0, [0.0, 0.0, 4.0]),
        (0.2, [66.0, 10.0, 104.0]),
        (0.4, [147.0, 38.0, 103.0]),
        (0.6, [221.0, 81.0, 58.0]),
        (0.8, [252.0, 165.0, 10.0]),
        (1.0, [252.0, 255.0, 164.0]),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let i = STOPS.iter().position(|s| s.0 >= t).unwrap_or(5).max(1);
    let (t0, c0) = STOPS[i - 1];
    let (t1, c1) = STOPS[i];
    let f = (t - t0) / (t1 - t0);
    let c = |k: usize| (c0[k] + f * (c1[k] - c0[k])).round() as u8;
    RGBColor(c(0), c(1), c(2))
}

fn finite_range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi <= lo {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// Draws one map into `area`: pixels coloured between the map's 1st and 99.5th percentiles,
/// optional region outlines (white) and overlay circles (cyan).
pub fn draw_map(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    title: &str,
    map: &Array2<f64>,
    labels: Option<&Array2<u32>>,
    markers: &[MapMarker],
) -> Result<()> {
    fonts();
    let (ny, nx) = map.dim();
    let mut sorted: Vec<f64> = map.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let (lo, hi) = if sorted.is_empty() {
        (0.0, 1.0)
    } else {
        let q = |f: f64| sorted[((sorted.len() - 1) as f64 * f).round() as usize];
        let (a, b) = (q(0.01), q(0.995));
        if b > a {
            (a, b)
        } else {
            (a, a + 1.0)
        }
    };
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{title}  [{lo:.3e}, {hi:.3e}]"),
            ("sans-serif", 14).into_font(),
        )
        .margin(4)
        .x_label_area_size(18)
        .y_label_area_size(28)
        .build_cartesian_2d(0f64..nx as f64, ny as f64..0f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(4)
        .y_labels(4)
        .label_style(("sans-serif", 10).into_font())
        .draw()
        .map_err(err)?;
    chart
        .draw_series(map.indexed_iter().map(|((y, x), &v)| {
            let c = colormap((v - lo) / (hi - lo));
            Rectangle::new(
                [(x as f64, y as f64), (x as f64 + 1.0, y as f64 + 1.0)],
                c.filled(),
            )
        }))
        .map_err(err)?;
    if let Some(lab) = labels {
        let mut segs = Vec::new();
        for ((y, x), &l) in lab.indexed_iter() {
            if l == 0 {
                continue;
            }
            let (fy, fx) = (y as f64, x as f64);
            let other = |yy: isize, xx: isize| {
                yy < 0
                    || xx < 0
                    || yy >= ny as isize
                    || xx >= nx as isize
                    || lab[(yy as usize, xx as usize)] != l
            };
            let (iy, ix) = (y as isize, x as isize);
            if other(iy - 1, ix) {
                segs.push(vec![(fx, fy), (fx + 1.0, fy)]);
            }
            if other(iy + 1, ix) {
                segs.push(vec![(fx, fy + 1.0), (fx + 1.0, fy + 1.0)]);
            }
            if other(iy, ix - 1) {
                segs.push(vec![(fx, fy), (fx, fy + 1.0)]);
            }
            if other(iy, ix + 1) {
                segs.push(vec![(fx + 1.0, fy), (fx + 1.0, fy + 1.0)]);
            }
        }
        chart
            .draw_series(segs.into_iter().map(|s| PathElement::new(s, WHITE)))
            .map_err(err)?;
    }
    chart
        .draw_series(markers.iter().map(|m| {
            let pts: Vec<(f64, f64)> = (0..=32)
                .map(|i| {
                    let a = std::f64::consts::TAU * i as f64 / 32.0;
                    (
                        m.center_px[1] + 0.5 + m.radius_px * a.cos(),
                        m.center_px[0] + 0.5 + m.radius_px * a.sin(),
                    )
                })
                .collect();
            PathElement::new(pts, CYAN.stroke_width(2))
        }))
        .map_err(err)?;
    Ok(())
}

/// Fig. 2a: V_Ω(k) and V_r(k), with the analysis ring marked.
pub fn variance_figure(path: &Path, result: &AnalysisResult, overlay: &CurveOverlay) -> Result<()> {
    fonts();
    let v = &result.variance;
    let root = BitMapBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (x0, x1) = finite_range(v.k_per_nm.iter().copied());
    let (y0, y1) = finite_range(
        v.v_omega
            .iter()
            .chain(&v.v_r)
            .copied()
            .chain(overlay.curves.iter().flat_map(|c| c.1.iter().map(|p| p.1))),
    );
    let pad = 0.05 * (y1 - y0);
    let mut chart = ChartBuilder::on(&root)
        .caption("Fluctuation variance V(k)", ("sans-serif", 22).into_font())
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("k (nm⁻¹)")
        .y_desc("V")
        .label_style(("sans-serif", 14).into_font())
        .draw()
        .map_err(err)?;
    let series: [(&str, &Vec<f64>); 2] = [
        ("V_Ω (annular mean)", &v.v_omega),
        ("V_r (ring variance)", &v.v_r),
    ];
    for (i, (label, ys)) in series.iter().enumerate() {
        let c = PALETTE[i];
        chart
            .draw_series(LineSeries::new(
                v.k_per_nm
                    .iter()
                    .copied()
                    .zip(ys.iter().copied())
                    .filter(|p| p.1.is_finite()),
                c.stroke_width(2),
            ))
            .map_err(err)?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    for (i, (label, pts)) in overlay.curves.iter().enumerate() {
        let c = PALETTE[(i + 2) % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    let mut vlines = vec![(
        format!("ring k = {} nm⁻¹", result.ring.k_per_nm),
        result.ring.k_per_nm,
    )];
    if let Some(p) = v.peak_k_per_nm {
        vlines.push((format!("V_Ω peak {p:.2} nm⁻¹"), p));
    }
    vlines.extend(overlay.vlines.iter().cloned());
    for (i, (label, x)) in vlines.into_iter().enumerate() {
        let c = if i == 0 {
            RGBColor(120, 120, 120)
        } else {
            PALETTE[(i + 3) % PALETTE.len()]
        };
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, y0 - pad), (x, y1 + pad)],
                c.stroke_width(1),
            )))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
    }
    legend(&mut chart, 14, SeriesLabelPosition::MiddleRight)?;
    root.present().map_err(err)
}

/// Fig. 1g–h: the V2D(φ) map and the ⟨I2D(φ)⟩_φ map side by side.
pub fn intensity_maps_figure(
    path: &Path,
    result: &AnalysisResult,
    maps: &AnalysisMaps,
    overlay: &MapOverlay,
) -> Result<()> {
    fonts();
    let root = BitMapBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 2));
    let k = result.ring.k_per_nm;
    let all: Vec<MapMarker> = overlay.markers.clone();
    draw_map(
        &panels[0],
        &format!("V2D(φ) at k = {k} nm⁻¹"),
        &maps.v2d,
        None,
        &all,
    )?;
    draw_map(
        &panels[1],
        &format!("⟨I2D(φ)⟩_φ at k = {k} nm⁻¹"),
        &maps.mean_intensity,
        None,
        &all,
    )?;
    root.present().map_err(err)
}

/// Fig. 2c: the dataset-averaged angular power spectrum at the analysis ring, bars for n ≥ 1
/// (odd n lighter), plus an optional comparison spectrum drawn as points.
pub fn power_spectrum_figure(
    path: &Path,
    result: &AnalysisResult,
    overlay: &CurveOverlay,
) -> Result<()> {
    fonts();
    let ps = &result.power_spectrum;
    let root = BitMapBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let n_max = ps.n.len().saturating_sub(1);
    let ymax = ps
        .mean
        .iter()
        .skip(1)
        .copied()
        .chain(overlay.curves.iter().flat_map(|c| c.1.iter().map(|p| p.1)))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(1e-12);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Mean angular power spectrum at k = {} nm⁻¹ (odd/even = {:.3})",
                ps.k_per_nm, ps.odd_even_ratio
            ),
            ("sans-serif", 20).into_font(),
        )
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(0.5f64..n_max as f64 + 0.5, 0f64..ymax * 1.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("n")
        .y_desc("⟨P_n⟩ = ⟨|I_n|²/|I_0|²⟩")
        .x_labels(n_max.max(1))
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .label_style(("sans-serif", 14).into_font())
        .draw()
        .map_err(err)?;
    chart
        .draw_series(ps.mean.iter().enumerate().skip(1).map(|(n, &p)| {
            let c = if n % 2 == 0 {
                PALETTE[0]
            } else {
                RGBColor(166, 200, 228)
            };
            Rectangle::new(
                [(n as f64 - 0.35, 0.0), (n as f64 + 0.35, p.max(0.0))],
                c.filled(),
            )
        }))
        .map_err(err)?;
    for (i, (label, pts)) in overlay.curves.iter().enumerate() {
        let c = PALETTE[(i + 1) % PALETTE.len()];
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 5, c.filled())))
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.filled()));
    }
    if !overlay.curves.is_empty() {
        legend(&mut chart, 14, SeriesLabelPosition::MiddleRight)?;
    }
    root.present().map_err(err)
}

/// Figs. 3–4a: the P_n map for every n with its thresholded regions outlined, and the normalised
/// sum map; overlay markers with a symmetry go on that n's map only.
pub fn power_maps_figure(
    path: &Path,
    result: &AnalysisResult,
    maps: &AnalysisMaps,
    overlay: &MapOverlay,
) -> Result<()> {
    fonts();
    let n_max = maps.power.len().saturating_sub(1);
    let panels_n = n_max + 1;
    let cols = 4usize;
    let rows = panels_n.div_ceil(cols);
    let root = BitMapBackend::new(path, (cols as u32 * 330, rows as u32 * 340)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((rows, cols));
    for n in 1..=n_max {
        let s = &result.by_symmetry[&n.to_string()];
        let marks: Vec<MapMarker> = overlay
            .markers
            .iter()
            .filter(|m| m.symmetry.map_or(true, |k| k == n))
            .cloned()
            .collect();
        let title = match s.mean_diameter_nm {
            Some(d) => format!("n = {n}: {} regions, D = {d:.2} nm", s.regions),
            None => format!("n = {n}: no regions"),
        };
        draw_map(
            &panels[n - 1],
            &title,
            &maps.power[n],
            Some(&maps.labels[n]),
            &marks,
        )?;
    }
    let s = &result.integrated_map;
    draw_map(
        &panels[n_max],
        &format!("normalised sum: {} regions", s.regions),
        &maps.normalized_sum,
        Some(&maps.integrated_labels),
        &overlay.markers,
    )?;
    root.present().map_err(err)
}

/// Fig. 4c–d: σ(r) of every per-n map, with the detected first peaks marked.
pub fn autocorrelation_figure(
    path: &Path,
    result: &AnalysisResult,
    overlay: &CurveOverlay,
) -> Result<()> {
    fonts();
    let root = BitMapBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let curves: Vec<(usize, &mro_analysis::autocorrelation::RadialAutocorrelation)> = result
        .by_symmetry
        .values()
        .map(|s| (s.n, &s.autocorrelation))
        .collect();
    let r_max = curves
        .iter()
        .flat_map(|c| c.1.r_nm.last().copied())
        .fold(1.0, f64::max)
        .min(15.0);
    let (y0, y1) = finite_range(curves.iter().flat_map(|c| c.1.sigma.iter().copied()));
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Autocorrelation σ(r) of the P_n maps",
            ("sans-serif", 22).into_font(),
        )
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..r_max, y0.min(-0.1)..y1.max(1.0))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("r (nm)")
        .y_desc("σ(r)")
        .label_style(("sans-serif", 14).into_font())
        .draw()
        .map_err(err)?;
    let mut sorted = curves.clone();
    sorted.sort_by_key(|c| c.0);
    for (i, (n, ac)) in sorted.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let dashed = i >= PALETTE.len();
        let style = if dashed {
            c.mix(0.5).stroke_width(2)
        } else {
            c.stroke_width(2)
        };
        let found = &result.by_symmetry[&n.to_string()];
        let label = match (
            found.autocorrelation_peak_nm,
            found.autocorrelation_peak_significance,
        ) {
            (Some(p), Some(z)) => format!("n = {n} (peak {p:.2} nm, {z:.1} s.e.)"),
            (Some(p), None) => format!("n = {n} (peak {p:.2} nm)"),
            _ => format!("n = {n}"),
        };
        chart
            .draw_series(LineSeries::new(
                ac.r_nm
                    .iter()
                    .copied()
                    .zip(ac.sigma.iter().copied())
                    .filter(|p| p.1.is_finite() && p.0 <= r_max),
                style,
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    for (label, x) in &overlay.vlines {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*x, y0.min(-0.1)), (*x, y1.max(1.0))],
                BLACK,
            )))
            .map_err(err)?
            .label(label.as_str())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    }
    legend(&mut chart, 12, SeriesLabelPosition::MiddleRight)?;
    root.present().map_err(err)
}

/// True against recovered values per symmetry n, as grouped bars in three panels: mean region
/// diameter (truth, published ECD, probe-corrected), volume fraction (truth, paper's correction,
/// per-n geometric correction) and region count against in-condition clusters. A red outline
/// marks a recovered value outside its tolerance.
pub fn recovery_figure(path: &Path, score: &crate::score::Score) -> Result<()> {
    use crate::score::Row;
    fonts();
    let value = |q: &str, n: u32, truth: bool| -> Option<(f64, Option<bool>)> {
        let r: &Row = score
            .rows
            .iter()
            .find(|r| r.quantity == q && r.symmetry == Some(n))?;
        if truth {
            r.truth.map(|v| (v, None))
        } else {
            r.recovered.map(|v| (v, r.within_tolerance))
        }
    };
    let mut ns: Vec<u32> = score.rows.iter().filter_map(|r| r.symmetry).collect();
    ns.sort_unstable();
    ns.dedup();
    // (legend label, score quantity, whether the bar is the truth) per series.
    type Series<'a> = [(&'a str, &'a str, bool); 3];
    let panels: [(&str, Series); 3] = [
        (
            "Mean diameter (nm)",
            [
                ("truth (in condition)", "mean_diameter_nm", true),
                ("recovered ECD", "mean_diameter_nm", false),
                ("probe-corrected", "mean_diameter_corrected_nm", false),
            ],
        ),
        (
            "Volume fraction",
            [
                ("truth", "volume_fraction", true),
                ("paper correction", "volume_fraction", false),
                ("geometric correction", "volume_fraction_geometric", false),
            ],
        ),
        (
            "Regions vs in-condition clusters",
            [
                ("in-condition clusters", "region_count", true),
                ("regions", "region_count", false),
                ("", "", false),
            ],
        ),
    ];
    let root = BitMapBackend::new(path, (1200, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((1, 3));
    let colours = [RGBColor(150, 150, 150), PALETTE[0], PALETTE[1]];
    for (area, (title, series)) in areas.iter().zip(panels) {
        // Scaled to the truth and the published estimate; a third series far off the scale is
        // clipped at the top rather than flattening the others.
        let top = series[..2]
            .iter()
            .flat_map(|&(_, q, t)| ns.iter().filter_map(move |&n| value(q, n, t).map(|v| v.0)))
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.5 } else { 1.0 };
        let groups = ns.len().max(1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18).into_font())
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..groups - 0.5, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(ns.len().max(1))
            .x_label_formatter(&|x| {
                let i = x.round();
                match ns.get(i as usize) {
                    Some(n) if (x - i).abs() < 1e-6 && i >= 0.0 => format!("n = {n}"),
                    _ => String::new(),
                }
            })
            .label_style(("sans-serif", 13).into_font())
            .draw()
            .map_err(err)?;
        for (j, &(label, q, truth)) in series.iter().enumerate().filter(|s| !s.1 .1.is_empty()) {
            let c = colours[j];
            let x0 = |i: usize| i as f64 - 0.4 + 0.8 * j as f64 / 3.0;
            let bars: Vec<(usize, f64, Option<bool>)> = ns
                .iter()
                .enumerate()
                .filter_map(|(i, &n)| value(q, n, truth).map(|(v, ok)| (i, v.min(top), ok)))
                .filter(|b| b.1.is_finite())
                .collect();
            chart
                .draw_series(bars.iter().map(|&(i, v, _)| {
                    Rectangle::new([(x0(i), 0.0), (x0(i) + 0.8 / 3.0, v)], c.filled())
                }))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
            chart
                .draw_series(
                    bars.iter()
                        .filter(|b| b.2 == Some(false))
                        .map(|&(i, v, _)| {
                            Rectangle::new(
                                [(x0(i), 0.0), (x0(i) + 0.8 / 3.0, v)],
                                PALETTE[3].stroke_width(3),
                            )
                        }),
                )
                .map_err(err)?;
        }
        legend(&mut chart, 12, SeriesLabelPosition::UpperRight)?;
    }
    root.present().map_err(err)
}

/// File names written by [`write_all`].
pub const FIGURE_FILES: [&str; 5] = [
    "variance.png",
    "intensity_maps.png",
    "power_spectrum.png",
    "power_maps.png",
    "autocorrelation.png",
];

/// Writes every figure into `dir` (names in [`FIGURE_FILES`]) with the given overlays.
pub fn write_all(
    dir: &Path,
    result: &AnalysisResult,
    maps: &AnalysisMaps,
    map_overlay: &MapOverlay,
    curve_overlay: &CurveOverlay,
) -> Result<()> {
    variance_figure(&dir.join(FIGURE_FILES[0]), result, curve_overlay)?;
    intensity_maps_figure(&dir.join(FIGURE_FILES[1]), result, maps, map_overlay)?;
    power_spectrum_figure(&dir.join(FIGURE_FILES[2]), result, &CurveOverlay::default())?;
    power_maps_figure(&dir.join(FIGURE_FILES[3]), result, maps, map_overlay)?;
    autocorrelation_figure(&dir.join(FIGURE_FILES[4]), result, &CurveOverlay::default())
}

/// A line plot of labelled series `(label, [(x, y)])`, e.g. a sweep metric against the swept
/// parameter; a logarithmic y axis when `log_y` and every y is positive.
pub fn line_figure(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_y: bool,
) -> Result<()> {
    fonts();
    let root = BitMapBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let points = || {
        series
            .iter()
            .flat_map(|s| s.1.iter().copied())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
    };
    let (x0, x1) = finite_range(points().map(|p| p.0));
    let (y0, y1) = finite_range(points().map(|p| p.1));
    let log_y = log_y && points().all(|p| p.1 > 0.0);
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22).into_font())
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(80);
    let pad = 0.05 * (x1 - x0);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .label_style(("sans-serif", 14).into_font())
                .draw()
                .map_err(err)?;
            for (i, (label, pts)) in series.iter().enumerate() {
                let style = PALETTE[i % PALETTE.len()].stroke_width(2);
                let pts: Vec<(f64, f64)> = pts
                    .iter()
                    .copied()
                    .filter(|p| p.0.is_finite() && p.1.is_finite() && (!log_y || p.1 > 0.0))
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(err)?
                    .label(label.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, style.filled())))
                    .map_err(err)?;
            }
            legend(&mut chart, 13, SeriesLabelPosition::MiddleRight)?;
        }};
    }
    if log_y {
        draw!(builder
            .build_cartesian_2d((x0 - pad)..(x1 + pad), (y0 * 0.8..y1 * 1.25).log_scale())
            .map_err(err)?);
    } else {
        let ypad = 0.08 * (y1 - y0);
        draw!(builder
            .build_cartesian_2d((x0 - pad)..(x1 + pad), (y0 - ypad)..(y1 + ypad))
            .map_err(err)?);
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mro_analysis::{analyze_datacube, AnalysisConfig, RunOptions};
    use mro_core::{Calibration, Datacube};

    #[test]
    fn every_figure_renders() {
        let (scan, det) = (12usize, 40usize);
        let c = [19.6, 20.3];
        let mut data = Vec::with_capacity(scan * scan * det * det);
        for p in 0..scan * scan {
            for i in 0..det {
                for j in 0..det {
                    let (ky, kx) = ((i as f64 - c[0]) * 0.25, (j as f64 - c[1]) * 0.25);
                    let k = kx.hypot(ky);
                    let m = if p % 7 == 0 { 0.8 } else { 0.1 };
                    let ring = (-(k - 4.0).powi(2) / 0.2).exp()
                        * (1.0 + m * (4.0 * ky.atan2(kx) + p as f64).cos());
                    data.push((10.0 + 50.0 * ring) as f32);
                }
            }
        }
        let cube = Datacube::new(
            ndarray::Array4::from_shape_vec((scan, scan, det, det), data).unwrap(),
            Calibration::new(0.25, 0.32, c, 300.0, 1.15, Some(20.0)).unwrap(),
        );
        let cfg = AnalysisConfig {
            k_min_per_nm: 1.0,
            k_max_per_nm: 4.5,
            ..AnalysisConfig::default()
        };
        let out = analyze_datacube(&cube, &cfg, &RunOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let overlay = MapOverlay {
            markers: vec![MapMarker {
                center_px: [3.0, 4.0],
                radius_px: 2.0,
                symmetry: Some(4),
            }],
        };
        let curves = CurveOverlay {
            curves: vec![("truth".into(), vec![(3.0, 0.01), (4.0, 0.02)])],
            vlines: vec![("spacing".into(), 2.0)],
        };
        write_all(dir.path(), &out.result, &out.maps, &overlay, &curves).unwrap();
        let score: crate::score::Score = serde_json::from_value(serde_json::json!({
            "schema": "mro.score/1", "odd_even_ratio": 0.01, "all_within_tolerance": false,
            "rows": [
                {"quantity": "mean_diameter_nm", "symmetry": 4, "truth": 1.3, "recovered": 1.5,
                 "relative_error": 0.154, "tolerance": 0.25, "within_tolerance": true},
                {"quantity": "volume_fraction", "symmetry": 4, "truth": 0.028, "recovered": 0.06,
                 "relative_error": 1.14, "tolerance": 0.5, "within_tolerance": false},
                {"quantity": "v_peak_k_per_nm", "symmetry": null, "truth": 4.0, "recovered": 4.0,
                 "relative_error": 0.0, "tolerance": null, "within_tolerance": null}
            ]
        }))
        .unwrap();
        recovery_figure(&dir.path().join("recovery.png"), &score).unwrap();
        for f in FIGURE_FILES.iter().chain(&["recovery.png"]) {
            let bytes = std::fs::read(dir.path().join(f)).unwrap();
            assert!(bytes.starts_with(b"\x89PNG"), "{f}");
            assert!(bytes.len() > 5_000, "{f} is suspiciously small");
        }
    }
}
