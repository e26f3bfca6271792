//! Scan maps (Im et al. 2018 Figs. 1g, 3, 4a) in nm, each with its own colour bar.

use std::path::Path;

use anyhow::Result;
use mro_analysis::{AnalysisMaps, AnalysisResult};
use ndarray::Array2;
use plotters::prelude::*;

use super::legend::{self, Key, Swatch};
use super::{colormap, err, fonts, tick, Area, FigureSpec, PanelSpec, AXIS_PX, TICK_PX};

/// A marker drawn on scan maps: e.g. a true cluster's position and size.
#[derive(Debug, Clone, PartialEq)]
pub struct MapMarker {
    /// Centre `[y, x]` in nm from scan point (0, 0).
    pub center_nm: [f64; 2],
    /// Radius in nm.
    pub radius_nm: f64,
    /// Only drawn on the map of this n (all maps when `None`).
    pub symmetry: Option<usize>,
}

/// Extra data drawn over map figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MapOverlay {
    /// Circles to draw.
    pub markers: Vec<MapMarker>,
}

/// The colour of overlay circles.
const MARKER: RGBColor = CYAN;
/// Size of one map panel (map plus colour bar) in pixels.
const PANEL_PX: (u32, u32) = (440, 350);
/// Width of the colour bar with its labels, in pixels.
const BAR_PX: u32 = 124;
/// Height of a panel title, in pixels.
const PANEL_TITLE_PX: u32 = 19;
/// Space above the plotting area taken by the title, in pixels.
const TITLE_SPACE_PX: u32 = 36;
/// Space below the plotting area taken by the x axis, in pixels.
const X_AXIS_PX: u32 = 46;

/// One map to draw.
struct MapPanel<'m> {
    title: String,
    colour_label: String,
    map: &'m Array2<f64>,
    labels: Option<&'m Array2<u32>>,
    markers: Vec<&'m MapMarker>,
}

/// The colour range: the map's 1st to 99.5th percentile, so a few hot pixels do not wash
/// out the rest.
fn colour_range(map: &Array2<f64>) -> (f64, f64) {
    let mut sorted: Vec<f64> = map.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return (0.0, 1.0);
    }
    let q = |f: f64| sorted[((sorted.len() - 1) as f64 * f).round() as usize];
    let (a, b) = (q(0.01), q(0.995));
    if b > a {
        (a, b)
    } else {
        (a, a + 1.0)
    }
}

/// Draws one map into `area` in nm, with region outlines (white), overlay circles (cyan) and
/// a colour bar; returns what it drew.
fn draw_map(area: &Area, p: &MapPanel, step_nm: f64) -> Result<PanelSpec> {
    let spec = PanelSpec {
        title: p.title.clone(),
        x_label: "x (nm)".into(),
        y_label: "y (nm)".into(),
        legend: Vec::new(),
        colour_bar: Some(p.colour_label.clone()),
        clipped: vec![
            "colours saturate below the map's 1st and above its 99.5th percentile".into(),
        ],
    };
    let (ny, nx) = p.map.dim();
    let (w_nm, h_nm) = (nx as f64 * step_nm, ny as f64 * step_nm);
    let (lo, hi) = colour_range(p.map);
    let (w, _) = area.dim_in_pixel();
    let (map_area, bar_area) = area.split_horizontally(w.saturating_sub(BAR_PX));
    let mut chart = ChartBuilder::on(&map_area)
        .caption(&spec.title, ("sans-serif", PANEL_TITLE_PX).into_font())
        .margin(6)
        .x_label_area_size(X_AXIS_PX)
        .y_label_area_size(58)
        .build_cartesian_2d(0f64..w_nm, h_nm..0f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .x_desc(&spec.x_label)
        .y_desc(&spec.y_label)
        .axis_desc_style(("sans-serif", AXIS_PX).into_font())
        .label_style(("sans-serif", TICK_PX).into_font())
        .draw()
        .map_err(err)?;
    let s = step_nm;
    chart
        .draw_series(p.map.indexed_iter().map(|((y, x), &v)| {
            let (x, y) = (x as f64 * s, y as f64 * s);
            Rectangle::new(
                [(x, y), (x + s, y + s)],
                colormap((v - lo) / (hi - lo)).filled(),
            )
        }))
        .map_err(err)?;
    if let Some(lab) = p.labels {
        chart
            .draw_series(
                outline(lab)
                    .into_iter()
                    .map(|seg| PathElement::new(seg.map(|(x, y)| (x * s, y * s)), WHITE)),
            )
            .map_err(err)?;
    }
    chart
        .draw_series(p.markers.iter().map(|m| {
            let pts: Vec<(f64, f64)> = (0..=32)
                .map(|i| {
                    let a = std::f64::consts::TAU * i as f64 / 32.0;
                    (
                        m.center_nm[1] + 0.5 * s + m.radius_nm * a.cos(),
                        m.center_nm[0] + 0.5 * s + m.radius_nm * a.sin(),
                    )
                })
                .collect();
            PathElement::new(pts, MARKER.stroke_width(2))
        }))
        .map_err(err)?;
    colour_bar(&bar_area, &p.colour_label, lo, hi)?;
    Ok(spec)
}

/// The unit-length boundary segments of every labelled region, in pixel units `(x, y)`.
fn outline(lab: &Array2<u32>) -> Vec<[(f64, f64); 2]> {
    let (ny, nx) = lab.dim();
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
            segs.push([(fx, fy), (fx + 1.0, fy)]);
        }
        if other(iy + 1, ix) {
            segs.push([(fx, fy + 1.0), (fx + 1.0, fy + 1.0)]);
        }
        if other(iy, ix - 1) {
            segs.push([(fx, fy), (fx, fy + 1.0)]);
        }
        if other(iy, ix + 1) {
            segs.push([(fx + 1.0, fy), (fx + 1.0, fy + 1.0)]);
        }
    }
    segs
}

/// A vertical colour bar from `lo` to `hi` with its title, aligned with the map beside it.
fn colour_bar(area: &Area, label: &str, lo: f64, hi: f64) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .margin_top(6 + TITLE_SPACE_PX)
        .margin_bottom(6)
        .margin_left(4)
        .margin_right(12)
        .x_label_area_size(X_AXIS_PX)
        .right_y_label_area_size(BAR_PX - 40)
        .build_cartesian_2d(0f64..1f64, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(5)
        .y_label_formatter(&tick)
        .y_desc(label)
        .axis_desc_style(("sans-serif", TICK_PX + 1).into_font())
        .label_style(("sans-serif", TICK_PX - 2).into_font())
        .draw()
        .map_err(err)?;
    const STEPS: usize = 128;
    chart
        .draw_series((0..STEPS).map(|i| {
            let (a, b) = (i as f64 / STEPS as f64, (i + 1) as f64 / STEPS as f64);
            Rectangle::new(
                [(0.0, lo + a * (hi - lo)), (1.0, lo + b * (hi - lo))],
                colormap(0.5 * (a + b)).filled(),
            )
        }))
        .map_err(err)?;
    Ok(())
}

/// The legend of the overlay circles, when there are any.
fn marker_key(overlay: &MapOverlay, what: &str) -> Option<Key> {
    (!overlay.markers.is_empty()).then(|| Key::new(what, Swatch::Ring(MARKER)))
}

/// Fig. 1g–h: the V2D map and the ring-mean intensity map side by side, in nm.
pub fn intensity_maps_figure(
    path: &Path,
    result: &AnalysisResult,
    maps: &AnalysisMaps,
    overlay: &MapOverlay,
) -> Result<FigureSpec> {
    fonts();
    let keys: Vec<Key> = marker_key(
        overlay,
        "true in-condition cluster (circle: its position and diameter)",
    )
    .into_iter()
    .collect();
    let root = BitMapBackend::new(path, (2 * PANEL_PX.0, PANEL_PX.1 + 60)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, legend) = legend::below(&root, &keys)?;
    let panels = plot.split_evenly((1, 2));
    let k = crate::document::number(result.ring.k_per_nm, 2);
    let all: Vec<&MapMarker> = overlay.markers.iter().collect();
    let specs = vec![
        draw_map(
            &panels[0],
            &MapPanel {
                title: format!("Ring variance V2D at k = {k} nm⁻¹"),
                colour_label: "V2D (dimensionless)".into(),
                map: &maps.v2d,
                labels: None,
                markers: all.clone(),
            },
            result.scan_step_nm,
        )?,
        draw_map(
            &panels[1],
            &MapPanel {
                title: format!("Ring-mean intensity at k = {k} nm⁻¹"),
                colour_label: "⟨I⟩ (counts per pixel)".into(),
                map: &maps.mean_intensity,
                labels: None,
                markers: all,
            },
            result.scan_step_nm,
        )?,
    ];
    root.present().map_err(err)?;
    Ok(FigureSpec {
        panels: specs,
        legend,
    })
}

/// Figs. 3–4a: the P_n map of every n with its thresholded regions outlined, and the
/// normalised sum map, in nm; overlay markers with a symmetry go on that n's map only.
pub fn power_maps_figure(
    path: &Path,
    result: &AnalysisResult,
    maps: &AnalysisMaps,
    overlay: &MapOverlay,
) -> Result<FigureSpec> {
    fonts();
    let n_max = maps.power.len().saturating_sub(1);
    let cols = 3usize;
    let rows = (n_max + 1).div_ceil(cols);
    let mut keys = vec![Key::new(
        "thresholded region (white outline)",
        Swatch::Region,
    )];
    keys.extend(marker_key(
        overlay,
        "true in-condition cluster of that n (circle: position and diameter)",
    ));
    let root = BitMapBackend::new(
        path,
        (cols as u32 * PANEL_PX.0, rows as u32 * PANEL_PX.1 + 40),
    )
    .into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, legend) = legend::below(&root, &keys)?;
    let areas = plot.split_evenly((rows, cols));
    let mut specs = Vec::new();
    for n in 1..=n_max {
        let s = &result.by_symmetry[&n.to_string()];
        let title = match s.mean_diameter_nm {
            Some(d) => format!(
                "n = {n}: {} regions, D = {} nm",
                s.regions,
                crate::document::number(d, 2)
            ),
            None => format!("n = {n}: no regions"),
        };
        let panel = MapPanel {
            title,
            colour_label: format!("P_{n} = |I_{n}|² / |I_0|²"),
            map: &maps.power[n],
            labels: Some(&maps.labels[n]),
            markers: overlay
                .markers
                .iter()
                .filter(|m| m.symmetry.map_or(true, |k| k == n))
                .collect(),
        };
        specs.push(draw_map(&areas[n - 1], &panel, result.scan_step_nm)?);
    }
    let panel = MapPanel {
        title: format!("Normalised sum: {} regions", result.integrated_map.regions),
        colour_label: "mean of P_n / max P_n".into(),
        map: &maps.normalized_sum,
        labels: Some(&maps.integrated_labels),
        markers: overlay.markers.iter().collect(),
    };
    specs.push(draw_map(&areas[n_max], &panel, result.scan_step_nm)?);
    root.present().map_err(err)?;
    Ok(FigureSpec {
        panels: specs,
        legend,
    })
}
