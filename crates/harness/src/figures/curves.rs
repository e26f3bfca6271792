//! Line and bar figures: V(k) (Im et al. 2018 Fig. 2a), the mean angular power spectrum
//! (Fig. 2c), σ(r) per n (Fig. 4c–d) and sweep metrics against a swept value.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use mro_analysis::AnalysisResult;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::legend::{self, Key, Swatch};
use super::{
    err, finite_range, fonts, tick, FigureSpec, PanelSpec, AXIS_PX, PALETTE, TICK_PX, TITLE_PX,
};
use crate::document::number;

/// Extra data drawn over line figures: a true curve, a true position.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CurveOverlay {
    /// Labelled curves `(label, points)` in the figure's units.
    pub curves: Vec<(String, Vec<(f64, f64)>)>,
    /// Labelled vertical lines `(label, x)`, drawn dashed.
    pub vlines: Vec<(String, f64)>,
}

/// Size of a single-panel figure in pixels.
const SINGLE_PX: (u32, u32) = (900, 620);
/// Colours of the vertical reference lines of an overlay (dashed).
const REFERENCE: [RGBColor; 3] = [
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(44, 160, 44),
];

/// Fig. 2a: V_Ω(k) and V_r(k) on a logarithmic axis (linear when a value is not positive), the
/// analysis ring as a shaded band, the V_Ω maximum as a dot and overlay lines dashed.
pub fn variance_figure(
    path: &Path,
    result: &AnalysisResult,
    overlay: &CurveOverlay,
) -> Result<FigureSpec> {
    fonts();
    let v = &result.variance;
    let (x0, x1) = finite_range(v.k_per_nm.iter().copied());
    let values = || {
        v.v_omega
            .iter()
            .chain(&v.v_r)
            .flatten()
            .copied()
            .chain(overlay.curves.iter().flat_map(|c| c.1.iter().map(|p| p.1)))
            .filter(|y| y.is_finite())
    };
    let log_y = values().all(|y| y > 0.0);
    let (y0, y1) = finite_range(values());
    let ring = &result.ring;
    let mut keys = vec![
        Key::new(
            "V_Ω: normalised variance over the scan",
            Swatch::Line(PALETTE[0]),
        ),
        Key::new(
            "V_r: ring variance, mean over the scan",
            Swatch::Line(PALETTE[1]),
        ),
    ];
    for (i, (label, _)) in overlay.curves.iter().enumerate() {
        keys.push(Key::new(label, Swatch::Line(PALETTE[2 + i % 6])));
    }
    keys.push(Key::new(
        format!(
            "analysis ring {}–{} nm⁻¹",
            number(ring.k_lo_per_nm, 2),
            number(ring.k_hi_per_nm, 2)
        ),
        Swatch::Band(RGBColor(215, 215, 215)),
    ));
    let edge = |k: f64| (k - x0).abs() < 1e-9 || (k - x1).abs() < 1e-9;
    let peak = v.peak_k_per_nm.filter(|k| k.is_finite());
    if let Some(p) = peak {
        keys.push(Key::new(
            if edge(p) {
                format!(
                    "V_Ω largest at the range edge, {} nm⁻¹ (no peak inside)",
                    number(p, 2)
                )
            } else {
                format!("V_Ω peak at {} nm⁻¹", number(p, 2))
            },
            Swatch::Dot(BLACK),
        ));
    }
    for (i, (label, _)) in overlay.vlines.iter().enumerate() {
        keys.push(Key::new(
            label,
            Swatch::Dashed(REFERENCE[i % REFERENCE.len()]),
        ));
    }
    let mut spec = PanelSpec {
        title: "Fluctuation variance V(k)".into(),
        x_label: "scattering vector k (nm⁻¹)".into(),
        y_label: if log_y {
            "V (dimensionless, log scale)".into()
        } else {
            "V (dimensionless)".into()
        },
        ..PanelSpec::default()
    };
    let root = BitMapBackend::new(path, SINGLE_PX).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, legend) = legend::below(&root, &keys)?;
    spec.legend = legend;
    let (ylo, yhi) = if log_y {
        (y0 / 1.3, y1 * 1.3)
    } else {
        let pad = 0.05 * (y1 - y0);
        (y0 - pad, y1 + pad)
    };
    let mut builder = ChartBuilder::on(&plot);
    builder
        .caption(&spec.title, ("sans-serif", TITLE_PX).into_font())
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(84);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(&spec.x_label)
                .y_desc(&spec.y_label)
                .y_labels(12)
                .x_label_formatter(&tick)
                .y_label_formatter(&tick)
                .axis_desc_style(("sans-serif", AXIS_PX).into_font())
                .label_style(("sans-serif", TICK_PX).into_font())
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(ring.k_lo_per_nm, ylo), (ring.k_hi_per_nm, yhi)],
                    RGBColor(215, 215, 215).filled(),
                )))
                .map_err(err)?;
            for (i, ys) in [&v.v_omega, &v.v_r].into_iter().enumerate() {
                chart
                    .draw_series(LineSeries::new(
                        v.k_per_nm
                            .iter()
                            .copied()
                            .zip(ys.iter().copied())
                            .filter_map(|(k, y)| y.filter(|y| y.is_finite()).map(|y| (k, y))),
                        PALETTE[i].stroke_width(3),
                    ))
                    .map_err(err)?;
            }
            for (i, (_, pts)) in overlay.curves.iter().enumerate() {
                chart
                    .draw_series(LineSeries::new(
                        pts.iter().copied(),
                        PALETTE[2 + i % 6].stroke_width(3),
                    ))
                    .map_err(err)?;
            }
            for (i, (_, x)) in overlay.vlines.iter().enumerate() {
                chart
                    .draw_series(std::iter::once(DashedPathElement::new(
                        vec![(*x, ylo), (*x, yhi)],
                        10,
                        6,
                        REFERENCE[i % REFERENCE.len()].stroke_width(3),
                    )))
                    .map_err(err)?;
            }
            if let Some(p) = peak {
                let v_omega: Vec<f64> = v.v_omega.iter().map(|y| y.unwrap_or(f64::NAN)).collect();
                let y = interpolate(&v.k_per_nm, &v_omega, p);
                chart
                    .draw_series(y.map(|y| Circle::new((p, y), 7, BLACK.filled())))
                    .map_err(err)?;
            }
        }};
    }
    if log_y {
        draw!(builder
            .build_cartesian_2d(x0..x1, (ylo..yhi).log_scale())
            .map_err(err)?);
    } else {
        draw!(builder.build_cartesian_2d(x0..x1, ylo..yhi).map_err(err)?);
    }
    root.present().map_err(err)?;
    Ok(FigureSpec {
        panels: vec![spec],
        legend: Vec::new(),
    })
}

/// `y(x)` at `at` by linear interpolation between samples (`None` outside them).
fn interpolate(x: &[f64], y: &[f64], at: f64) -> Option<f64> {
    let i = x.iter().position(|&v| v >= at)?;
    if i == 0 || x[i] == at {
        return y.get(i).copied().filter(|v| v.is_finite());
    }
    let f = (at - x[i - 1]) / (x[i] - x[i - 1]);
    let v = y[i - 1] + f * (y[i] - y[i - 1]);
    v.is_finite().then_some(v)
}

/// Fig. 2c: the dataset-averaged angular power spectrum at the analysis ring, bars for n ≥ 1
/// (odd n paler), plus an optional comparison spectrum drawn as dots.
pub fn power_spectrum_figure(
    path: &Path,
    result: &AnalysisResult,
    overlay: &CurveOverlay,
) -> Result<FigureSpec> {
    fonts();
    let ps = &result.power_spectrum;
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
    let odd = RGBColor(166, 200, 228);
    let mut keys = vec![
        Key::new("even n", Swatch::Bar(PALETTE[0])),
        Key::new("odd n", Swatch::Bar(odd)),
    ];
    for (i, (label, _)) in overlay.curves.iter().enumerate() {
        keys.push(Key::new(label, Swatch::Dot(PALETTE[1 + i % 9])));
    }
    let mut spec = PanelSpec {
        title: format!(
            "Mean angular power spectrum at k = {} nm⁻¹ (odd/even ratio {})",
            number(ps.k_per_nm, 2),
            number(ps.odd_even_ratio, 4)
        ),
        x_label: "rotational symmetry n".into(),
        y_label: "⟨P_n⟩ = ⟨|I_n|²/|I_0|²⟩ (dimensionless)".into(),
        ..PanelSpec::default()
    };
    let root = BitMapBackend::new(path, SINGLE_PX).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, legend) = legend::below(&root, &keys)?;
    spec.legend = legend;
    let mut chart = ChartBuilder::on(&plot)
        .caption(&spec.title, ("sans-serif", TITLE_PX - 2).into_font())
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .build_cartesian_2d(0.5f64..n_max as f64 + 0.5, 0f64..ymax * 1.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_desc(&spec.x_label)
        .y_desc(&spec.y_label)
        .x_labels(n_max.max(1))
        .x_label_formatter(&super::count_tick)
        .y_label_formatter(&tick)
        .axis_desc_style(("sans-serif", AXIS_PX).into_font())
        .label_style(("sans-serif", TICK_PX).into_font())
        .draw()
        .map_err(err)?;
    chart
        .draw_series(ps.mean.iter().enumerate().skip(1).map(|(n, &p)| {
            let c = if n % 2 == 0 { PALETTE[0] } else { odd };
            Rectangle::new(
                [(n as f64 - 0.35, 0.0), (n as f64 + 0.35, p.max(0.0))],
                c.filled(),
            )
        }))
        .map_err(err)?;
    for (i, (_, pts)) in overlay.curves.iter().enumerate() {
        let c = PALETTE[1 + i % 9];
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 6, c.filled())))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(FigureSpec {
        panels: vec![spec],
        legend: Vec::new(),
    })
}

/// Fig. 4c–d: σ(r) of every P_n map, one panel per n on a shared y axis, with the first peak
/// found (a dot) and the true projected nearest-neighbour distance of that n (`truth_nm`,
/// dashed), both in the curve's colour.
pub fn autocorrelation_figure(
    path: &Path,
    result: &AnalysisResult,
    truth_nm: &BTreeMap<usize, f64>,
) -> Result<FigureSpec> {
    fonts();
    let mut curves: Vec<&mro_analysis::result::SymmetryResult> =
        result.by_symmetry.values().collect();
    curves.sort_by_key(|s| s.n);
    let r_max = curves
        .iter()
        .flat_map(|c| c.autocorrelation.r_nm.last().copied())
        .fold(1.0, f64::max)
        .min(15.0);
    // σ(0) = 1 by construction; the structure that matters lies beyond the probe's Airy
    // radius, where the peak search starts, so each panel's y axis is fitted to that part.
    let r_min = result.probe.airy_first_zero_nm;
    let keys = vec![
        Key::new("σ(r) of the P_n map", Swatch::Line(BLACK)),
        Key::new("first peak found", Swatch::Dot(BLACK)),
        Key::new(
            "true spacing of that n (pair-correlation peak)",
            Swatch::Dashed(BLACK),
        ),
    ];
    let cols = 3usize;
    let rows = curves.len().max(1).div_ceil(cols);
    let root =
        BitMapBackend::new(path, (cols as u32 * 400, rows as u32 * 300 + 50)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, legend) = legend::below(&root, &keys)?;
    let areas = plot.split_evenly((rows, cols));
    let mut specs = Vec::new();
    for (i, (s, area)) in curves.iter().zip(areas.iter()).enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let n = s.n;
        let found = match (
            s.autocorrelation_peak_nm,
            s.autocorrelation_peak_significance,
        ) {
            (Some(p), Some(z)) => format!("peak {} nm ({} s.e.)", number(p, 2), number(z, 1)),
            (Some(p), None) => format!("peak {} nm", number(p, 2)),
            _ => "no peak".into(),
        };
        let title = match truth_nm.get(&n) {
            Some(t) => format!("n = {n}: {found}, true {}", number(*t, 2)),
            None => format!("n = {n}: {found}"),
        };
        let ac = &s.autocorrelation;
        let pts: Vec<(f64, f64)> = ac
            .r_nm
            .iter()
            .copied()
            .zip(ac.sigma.iter().copied())
            .filter(|p| p.1.is_finite() && p.0 <= r_max)
            .collect();
        let (y0, y1) = finite_range(pts.iter().filter(|p| p.0 >= r_min).map(|p| p.1));
        let pad = 0.15 * (y1 - y0);
        let (ylo, yhi) = (y0 - pad, y1 + pad);
        let spec = PanelSpec {
            title,
            x_label: "r (nm)".into(),
            y_label: "σ(r)".into(),
            clipped: pts
                .iter()
                .any(|p| p.1 > yhi)
                .then(|| {
                    format!(
                        "σ(r) inside the probe's Airy radius ({} nm) rises above the axis to σ(0) = 1",
                        number(r_min, 2)
                    )
                })
                .into_iter()
                .collect(),
            ..PanelSpec::default()
        };
        let mut chart = ChartBuilder::on(area)
            .caption(&spec.title, ("sans-serif", 17).into_font())
            .margin(8)
            .x_label_area_size(42)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..r_max, ylo..yhi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&spec.x_label)
            .y_desc(&spec.y_label)
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .light_line_style(WHITE.mix(0.0))
            .axis_desc_style(("sans-serif", AXIS_PX - 2).into_font())
            .label_style(("sans-serif", TICK_PX - 1).into_font())
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(err)?;
        if let Some(t) = truth_nm.get(&n) {
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    vec![(*t, ylo), (*t, yhi)],
                    8,
                    5,
                    c.stroke_width(2),
                )))
                .map_err(err)?;
        }
        if let Some(p) = s.autocorrelation_peak_nm.filter(|p| *p <= r_max) {
            let y = interpolate(&ac.r_nm, &ac.sigma, p);
            chart
                .draw_series(y.map(|y| Circle::new((p, y), 6, c.filled())))
                .map_err(err)?;
        }
        specs.push(spec);
    }
    root.present().map_err(err)?;
    Ok(FigureSpec {
        panels: specs,
        legend,
    })
}

/// A line plot of labelled series `(label, [(x, y)])`, e.g. a sweep metric against the swept
/// value; a logarithmic y axis when `log_y` and every y is positive. With `y_percent` the y
/// values are fractions drawn as percent (×100) and the y label gains " (%)".
pub fn line_figure(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_y: bool,
    y_percent: bool,
) -> Result<FigureSpec> {
    fonts();
    let scale = if y_percent { 100.0 } else { 1.0 };
    let series: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(l, pts)| {
            let pts = pts
                .iter()
                .map(|&(x, y)| (x, y * scale))
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            (l.as_str(), pts)
        })
        .collect();
    let points = || series.iter().flat_map(|s| s.1.iter().copied());
    let (x0, x1) = finite_range(points().map(|p| p.0));
    let (y0, y1) = finite_range(points().map(|p| p.1));
    let log_y = log_y && points().all(|p| p.1 > 0.0);
    let keys: Vec<Key> = series
        .iter()
        .enumerate()
        .map(|(i, s)| Key::new(s.0, Swatch::Line(PALETTE[i % PALETTE.len()])))
        .collect();
    let mut spec = PanelSpec {
        title: title.into(),
        x_label: x_label.into(),
        y_label: match (y_percent, log_y) {
            (true, true) => format!("{y_label} (%, log scale)"),
            (true, false) => format!("{y_label} (%)"),
            (false, true) => format!("{y_label} (log scale)"),
            (false, false) => y_label.into(),
        },
        ..PanelSpec::default()
    };
    let root = BitMapBackend::new(path, SINGLE_PX).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, legend) = legend::below(&root, &keys)?;
    spec.legend = legend;
    let mut builder = ChartBuilder::on(&plot);
    builder
        .caption(&spec.title, ("sans-serif", TITLE_PX).into_font())
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(90);
    let pad = 0.05 * (x1 - x0);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(&spec.x_label)
                .y_desc(&spec.y_label)
                .x_label_formatter(&tick)
                .y_label_formatter(&tick)
                .light_line_style(WHITE.mix(0.0))
                .axis_desc_style(("sans-serif", AXIS_PX).into_font())
                .label_style(("sans-serif", TICK_PX).into_font())
                .draw()
                .map_err(err)?;
            for (i, (_, pts)) in series.iter().enumerate() {
                let style = PALETTE[i % PALETTE.len()].stroke_width(3);
                let pts: Vec<(f64, f64)> = pts
                    .iter()
                    .copied()
                    .filter(|p| !log_y || p.1 > 0.0)
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(err)?;
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 5, style.filled())))
                    .map_err(err)?;
            }
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
    root.present().map_err(err)?;
    Ok(FigureSpec {
        panels: vec![spec],
        legend: Vec::new(),
    })
}

/// An axis title for a scenario key: its unit suffix spelled out (`sample.thickness_nm` →
/// `sample.thickness (nm)`, `…_per_nm` → `(nm⁻¹)`); other keys unchanged.
pub fn key_axis_label(key: &str) -> String {
    const UNITS: [(&str, &str); 6] = [
        ("_per_nm", "nm⁻¹"),
        ("_nm", "nm"),
        ("_kv", "kV"),
        ("_mrad", "mrad"),
        ("_deg", "°"),
        ("_s", "s"),
    ];
    UNITS
        .iter()
        .find_map(|(suffix, unit)| {
            key.strip_suffix(suffix)
                .map(|stem| format!("{stem} ({unit})"))
        })
        .unwrap_or_else(|| key.to_string())
}
