//! The one-page summary of a validation: the verdict in words, recovered against true values
//! of every scored quantity (one colour per analysis method) and, when given, how far the
//! signal stands above a no-MRO control.
//!
//! [`summary_figure`] takes plain data ([`Summary`]) so that other methods and a detectability
//! comparison are added by filling fields, not by changing the drawing.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::legend::{self, Key, Swatch};
use super::{err, fonts, tick, Area, FigureSpec, PanelSpec, AXIS_PX, FAIL, PALETTE, TICK_PX};

/// What the summary figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// The figure title (e.g. `Validation summary: paper`).
    pub title: String,
    /// The verdict in words, one or two sentences.
    pub verdict: String,
    /// Whether every tolerance held (colours the verdict green, else red).
    pub passed: bool,
    /// The analysis methods compared, in the order of [`SummaryPoint::recovered`].
    pub methods: Vec<String>,
    /// One panel per scored quantity.
    pub quantities: Vec<SummaryQuantity>,
    /// An extra panel: the signal of this sample against a no-MRO control.
    pub detectability: Option<Detectability>,
}

/// One scored quantity: its true and recovered values per group (n, or the whole sample).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SummaryQuantity {
    /// What it is (e.g. `mean diameter`).
    pub label: String,
    /// Tolerance on |recovered/truth − 1|, when the quantity is scored.
    pub tolerance: Option<f64>,
    /// One point per group.
    pub points: Vec<SummaryPoint>,
}

/// One group of a quantity.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SummaryPoint {
    /// The group's label on the x axis (e.g. `4` for n = 4, `all`).
    pub group: String,
    /// The planted value (> 0).
    pub truth: f64,
    /// The recovered value of each method (`None`: that method gave none); the judged method,
    /// the only one held to the tolerance, first.
    pub recovered: Vec<Option<f64>>,
}

/// A statistic of this sample against the same statistic of a no-MRO control, per group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detectability {
    /// Panel title.
    pub title: String,
    /// y-axis title with its unit.
    pub y_label: String,
    /// Legend label of this sample's bars.
    pub sample_label: String,
    /// Legend label of the control's bars.
    pub control_label: String,
    /// `(group, sample value, control value)`.
    pub groups: Vec<(String, f64, f64)>,
}

/// Size of one panel in pixels.
const PANEL_PX: (u32, u32) = (420, 440);
const TRUTH: RGBColor = RGBColor(60, 60, 60);
const BAND: RGBColor = RGBColor(200, 235, 200);
const CONTROL: RGBColor = RGBColor(150, 150, 150);
const VERDICT_PX: u32 = 20;

/// `text` broken into lines of at most `width` pixels.
fn wrap(area: &Area, text: &str, font: &TextStyle, width: u32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let trial = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        let w = area
            .estimate_text_size(&trial, font)
            .map_or(10 * trial.len() as u32, |s| s.0);
        if w > width && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = trial;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The method colour of method `j`.
fn method_colour(j: usize) -> RGBColor {
    PALETTE[j % PALETTE.len()]
}

/// Draws the summary: a header with the verdict, one panel per quantity plotting recovered/truth
/// on a log axis with the tolerance band, and the detectability panel when given.
pub fn summary_figure(path: &Path, s: &Summary) -> Result<FigureSpec> {
    fonts();
    let panels = s.quantities.len() + usize::from(s.detectability.is_some());
    let cols = panels.clamp(1, 3);
    let rows = panels.max(1).div_ceil(cols);
    let width = (cols as u32 * PANEL_PX.0).max(900);
    // The header's height depends on how the verdict wraps: measure on a scratch canvas.
    let verdict_font: TextStyle = ("sans-serif", VERDICT_PX).into_font().into();
    let mut scratch = vec![0u8; 3 * 4 * 4];
    let lines = {
        let area = BitMapBackend::with_buffer(&mut scratch, (4, 4)).into_drawing_area();
        wrap(&area, &s.verdict, &verdict_font, width - 40)
    };
    let header = 56 + lines.len() as u32 * (VERDICT_PX + 8);
    let mut keys: Vec<Key> = s
        .methods
        .iter()
        .enumerate()
        .map(|(j, m)| Key::new(format!("recovered: {m}"), Swatch::Dot(method_colour(j))))
        .collect();
    keys.push(Key::new("truth (ratio 1)", Swatch::Line(TRUTH)));
    keys.push(Key::new("within tolerance", Swatch::Band(BAND)));
    keys.push(Key::new("outside tolerance", Swatch::Hollow(FAIL)));
    let missing = s.quantities.iter().any(|q| {
        q.points
            .iter()
            .any(|p| p.recovered.iter().any(Option::is_none))
    });
    if missing {
        keys.push(Key::new(
            "× : no value (at the axis bottom)",
            Swatch::Cross(TRUTH),
        ));
    }
    let root = BitMapBackend::new(path, (width, header + rows as u32 * PANEL_PX.1 + 44))
        .into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, body) = root.split_vertically(header);
    top.draw(&Text::new(
        s.title.clone(),
        (20, 12),
        ("sans-serif", 26).into_font(),
    ))
    .map_err(err)?;
    let colour = if s.passed {
        RGBColor(30, 120, 30)
    } else {
        FAIL
    };
    for (i, line) in lines.iter().enumerate() {
        top.draw(&Text::new(
            line.clone(),
            (20, 50 + i as i32 * (VERDICT_PX + 8) as i32),
            verdict_font.color(&colour),
        ))
        .map_err(err)?;
    }
    let (plot, legend) = legend::below(&body, &keys)?;
    let areas = plot.split_evenly((rows, cols));
    let mut specs = Vec::new();
    for (q, area) in s.quantities.iter().zip(areas.iter()) {
        specs.push(quantity_panel(area, q, s.methods.len())?);
    }
    if let Some(d) = &s.detectability {
        specs.push(detectability_panel(&areas[s.quantities.len()], d)?);
    }
    root.present().map_err(err)?;
    Ok(FigureSpec {
        panels: specs,
        legend,
    })
}

fn quantity_panel(area: &Area, q: &SummaryQuantity, methods: usize) -> Result<PanelSpec> {
    let tol = q.tolerance.unwrap_or(0.0);
    let ratios = || {
        q.points.iter().flat_map(|p| {
            p.recovered
                .iter()
                .flatten()
                .map(move |r| r / p.truth)
                .filter(|r| r.is_finite() && *r > 0.0)
        })
    };
    let lo = ratios().fold((1.0 - tol).clamp(0.05, 1.0), f64::min) / 1.4;
    let hi = ratios().fold(1.0 + tol, f64::max) * 1.4;
    let mut spec = PanelSpec {
        title: match q.tolerance {
            Some(t) => format!(
                "{} (tolerance ±{} %)",
                q.label,
                crate::document::number(100.0 * t, 0)
            ),
            None => q.label.clone(),
        },
        x_label: "rotational symmetry n".into(),
        y_label: "recovered / truth (log scale)".into(),
        ..PanelSpec::default()
    };
    let groups = q.points.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(&spec.title, ("sans-serif", 19).into_font())
        .margin(10)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..groups - 0.5, (lo..hi).log_scale())
        .map_err(err)?;
    let group_label = |x: &f64| {
        let i = x.round();
        match q.points.get(i as usize) {
            Some(p) if (x - i).abs() < 1e-6 && i >= 0.0 => p.group.clone(),
            _ => String::new(),
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_labels(q.points.len().max(1))
        .y_labels(12)
        .x_label_formatter(&group_label)
        .y_label_formatter(&tick)
        .x_desc(&spec.x_label)
        .y_desc(&spec.y_label)
        .axis_desc_style(("sans-serif", AXIS_PX - 1).into_font())
        .label_style(("sans-serif", TICK_PX).into_font())
        .draw()
        .map_err(err)?;
    if q.tolerance.is_some() {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(-0.5, (1.0 - tol).max(lo)), (groups - 0.5, 1.0 + tol)],
                BAND.filled(),
            )))
            .map_err(err)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(-0.5, 1.0), (groups - 0.5, 1.0)],
            TRUTH.stroke_width(2),
        )))
        .map_err(err)?;
    let step = 0.6 / methods.max(1) as f64;
    for (i, p) in q.points.iter().enumerate() {
        for (j, r) in p.recovered.iter().enumerate() {
            let x = i as f64 - 0.3 + step * (j as f64 + 0.5);
            let Some(r) = r else {
                // No value: a cross at the axis bottom, so that a missing answer is seen.
                spec.clipped.push(format!(
                    "group {}: method {} gave no value (× at the axis bottom)",
                    p.group,
                    j + 1
                ));
                chart
                    .draw_series(std::iter::once(Cross::new(
                        (x, lo * 1.05),
                        8,
                        method_colour(j).stroke_width(3),
                    )))
                    .map_err(err)?;
                continue;
            };
            let mut ratio = r / p.truth;
            if !(ratio.is_finite() && ratio > 0.0) {
                spec.clipped.push(format!(
                    "group {}: recovered/truth = {} drawn at the axis bottom",
                    p.group,
                    crate::document::number(ratio, 3)
                ));
                ratio = lo;
            }
            let c = method_colour(j);
            chart
                .draw_series(std::iter::once(Circle::new((x, ratio), 7, c.filled())))
                .map_err(err)?;
            // Only the judged method (the first) is held to the tolerance.
            if j == 0 && q.tolerance.is_some() && (ratio - 1.0).abs() > tol {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (x, ratio),
                        11,
                        FAIL.stroke_width(2),
                    )))
                    .map_err(err)?;
            }
        }
    }
    Ok(spec)
}

fn detectability_panel(area: &Area, d: &Detectability) -> Result<PanelSpec> {
    let keys = [
        Key::new(&d.sample_label, Swatch::Bar(PALETTE[2])),
        Key::new(&d.control_label, Swatch::Bar(CONTROL)),
    ];
    let (chart_area, legend) = legend::below(area, &keys)?;
    let spec = PanelSpec {
        title: d.title.clone(),
        x_label: "rotational symmetry n".into(),
        y_label: d.y_label.clone(),
        legend,
        ..PanelSpec::default()
    };
    let top = d
        .groups
        .iter()
        .flat_map(|g| [g.1, g.2])
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.08 } else { 1.0 };
    let groups = d.groups.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(&spec.title, ("sans-serif", 19).into_font())
        .margin(10)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..groups - 0.5, 0.0..top)
        .map_err(err)?;
    let group_label = |x: &f64| {
        let i = x.round();
        match d.groups.get(i as usize) {
            Some(g) if (x - i).abs() < 1e-6 && i >= 0.0 => g.0.clone(),
            _ => String::new(),
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_labels(d.groups.len().max(1))
        .x_label_formatter(&group_label)
        .y_label_formatter(&tick)
        .x_desc(&spec.x_label)
        .y_desc(&spec.y_label)
        .axis_desc_style(("sans-serif", AXIS_PX - 1).into_font())
        .label_style(("sans-serif", TICK_PX).into_font())
        .draw()
        .map_err(err)?;
    for (j, colour) in [PALETTE[2], CONTROL].into_iter().enumerate() {
        chart
            .draw_series(d.groups.iter().enumerate().map(|(i, g)| {
                let v = if j == 0 { g.1 } else { g.2 };
                let x = i as f64 - 0.4 + 0.4 * j as f64;
                Rectangle::new([(x, 0.0), (x + 0.4, v.max(0.0))], colour.filled())
            }))
            .map_err(err)?;
    }
    Ok(spec)
}
