//! PNG figures of an analysis, after Im et al. (2018) Figs. 1–4 — V(k), the V2D and ⟨I⟩ maps,
//! the averaged angular power spectrum, the per-n maps with their region outlines, σ(r) — plus
//! the truth-against-recovered bars, the one-page validation summary and sweep line plots.
//!
//! Every figure function returns a [`FigureSpec`]: the titles, axis labels, legend entries and
//! colour bars it drew. The spec is filled first and the drawing reads its text from it, so a
//! test can check what a reader sees without looking at pixels. Scan maps are drawn in nm,
//! reciprocal lengths in nm⁻¹; legends sit in a strip below the plot, where they hide no data.
//! Text uses the DejaVu Sans shipped in `assets/` (there are no system fonts to rely on),
//! registered once with plotters' ab_glyph backend.

mod curves;
mod legend;
mod maps;
mod recovery;
mod summary;

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Result};
use mro_analysis::{AnalysisMaps, AnalysisResult};
use plotters::coord::Shift;
use plotters::prelude::*;

pub use curves::{
    autocorrelation_figure, key_axis_label, line_figure, power_spectrum_figure, variance_figure,
    CurveOverlay,
};
pub use maps::{intensity_maps_figure, power_maps_figure, MapMarker, MapOverlay};
pub use recovery::recovery_figure;
pub use summary::{summary_figure, Detectability, Summary, SummaryPoint, SummaryQuantity};

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
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

/// A drawing area of a PNG being drawn.
type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Text sizes in pixels, chosen to stay legible when a 1200-pixel-wide figure is shown at the
/// ~900-pixel width of a rendered `report.md`.
const TITLE_PX: u32 = 22;
const AXIS_PX: u32 = 18;
const TICK_PX: u32 = 15;

/// What one panel of a figure shows, as drawn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PanelSpec {
    /// The panel's title.
    pub title: String,
    /// The x-axis title, with its unit.
    pub x_label: String,
    /// The y-axis title, with its unit.
    pub y_label: String,
    /// The panel's own legend entries (a shared legend is in [`FigureSpec::legend`]).
    pub legend: Vec<String>,
    /// The colour bar's title, for a panel with a colour bar.
    pub colour_bar: Option<String>,
    /// Values beyond the axes or colour range, said in words (empty when nothing is clipped).
    pub clipped: Vec<String>,
}

/// What a figure shows, as drawn: its panels and the legend shared by all of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FigureSpec {
    /// The panels, in reading order.
    pub panels: Vec<PanelSpec>,
    /// Legend entries shared by the panels, drawn in a strip below them.
    pub legend: Vec<String>,
}

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour marking a value outside its tolerance.
const FAIL: RGBColor = RGBColor(214, 39, 40);

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

/// An axis tick label: trailing zeros dropped (`50`, `0.05`), scientific notation below 10⁻³
/// and from 10⁴ on, never `-0`.
fn tick(v: &f64) -> String {
    let a = v.abs();
    if a < 1e-12 {
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = crate::document::number(*v, 4);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// A tick label for an axis of counts: integers only (no label between them).
fn count_tick(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        crate::document::count(*v)
    } else {
        String::new()
    }
}

/// File names written by [`write_all`].
pub const FIGURE_FILES: [&str; 5] = [
    "variance.png",
    "intensity_maps.png",
    "power_spectrum.png",
    "power_maps.png",
    "autocorrelation.png",
];

/// Writes the analysis figures into `dir` (names in [`FIGURE_FILES`]) with the given overlays
/// (the spacing truth of σ(r) is not known here, so none is drawn); returns their specs.
pub fn write_all(
    dir: &Path,
    result: &AnalysisResult,
    maps: &AnalysisMaps,
    map_overlay: &MapOverlay,
    curve_overlay: &CurveOverlay,
) -> Result<Vec<FigureSpec>> {
    Ok(vec![
        variance_figure(&dir.join(FIGURE_FILES[0]), result, curve_overlay)?,
        intensity_maps_figure(&dir.join(FIGURE_FILES[1]), result, maps, map_overlay)?,
        power_spectrum_figure(&dir.join(FIGURE_FILES[2]), result, &CurveOverlay::default())?,
        power_maps_figure(&dir.join(FIGURE_FILES[3]), result, maps, map_overlay)?,
        autocorrelation_figure(&dir.join(FIGURE_FILES[4]), result, &Default::default())?,
    ])
}

#[cfg(test)]
mod tests;
