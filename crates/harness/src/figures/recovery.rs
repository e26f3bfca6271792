//! True against recovered values per symmetry n, as grouped bars.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::legend::{self, Key, Swatch};
use super::{count_tick, err, fonts, tick, FigureSpec, PanelSpec, AXIS_PX, FAIL, PALETTE, TICK_PX};
use crate::score::{Row, Score};

/// One bar series: legend label, score quantity, and the method whose value it is (`None`:
/// the truth).
type Series = (&'static str, &'static str, Option<&'static str>);

/// One panel: title, y-axis title, whether the values are counts, its series.
type Panel = (&'static str, &'static str, bool, &'static [Series]);

const PANELS: [Panel; 3] = [
    (
        "Mean diameter",
        "mean diameter (nm)",
        false,
        &[
            ("truth (in-condition clusters)", "mean_diameter_nm", None),
            ("im2018: region ECD", "mean_diameter_nm", Some("im2018")),
            ("mro: probe-response fit", "mean_diameter_nm", Some("mro")),
        ],
    ),
    (
        "Volume fraction",
        "volume fraction (of the sample)",
        false,
        &[
            ("truth", "volume_fraction", None),
            (
                "im2018: paper's correction",
                "volume_fraction",
                Some("im2018"),
            ),
            ("mro", "volume_fraction", Some("mro")),
        ],
    ),
    (
        "Region count",
        "count",
        true,
        &[
            ("truth: in-condition clusters", "region_count", None),
            ("im2018: regions", "region_count", Some("im2018")),
            (
                "mro: clusters (completeness-corrected)",
                "region_count",
                Some("mro"),
            ),
        ],
    ),
];

/// True against recovered values per symmetry n, as grouped bars in three panels — mean
/// diameter, volume fraction, region count — each with the truth, `im2018` and `mro` (the
/// report's tables hold the other variants). Each y axis holds every bar; a red outline marks a
/// recovered value outside its tolerance (the judged method's).
pub fn recovery_figure(path: &Path, score: &Score) -> Result<FigureSpec> {
    fonts();
    let value = |q: &str, n: u32, method: Option<&str>| -> Option<(f64, Option<bool>)> {
        let r: &Row = score.rows.iter().find(|r| {
            r.quantity == q && r.symmetry == Some(n) && method.map_or(true, |m| r.method == m)
        })?;
        match method {
            None => r.truth.map(|v| (v, None)),
            Some(_) => r.recovered.map(|v| (v, r.within_tolerance)),
        }
        .filter(|v| v.0.is_finite())
    };
    let mut ns: Vec<u32> = score.rows.iter().filter_map(|r| r.symmetry).collect();
    ns.sort_unstable();
    ns.dedup();
    let root = BitMapBackend::new(path, (1260, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, legend) = legend::below(
        &root,
        &[Key::new(
            "red outline: recovered value outside its tolerance",
            Swatch::Outline(FAIL),
        )],
    )?;
    let areas = plot.split_evenly((1, 3));
    let colours = [RGBColor(150, 150, 150), PALETTE[0], PALETTE[1]];
    let mut specs = Vec::new();
    for (area, &(title, y_label, counts, series)) in areas.iter().zip(&PANELS) {
        let keys: Vec<Key> = series
            .iter()
            .enumerate()
            .map(|(j, s)| Key::new(s.0, Swatch::Bar(colours[j])))
            .collect();
        let lines = PANELS.iter().map(|p| p.3.len()).max().unwrap_or(1);
        let (chart_area, legend) = legend::below_stacked(area, &keys, lines)?;
        let top = series
            .iter()
            .flat_map(|&(_, q, t)| ns.iter().filter_map(move |&n| value(q, n, t).map(|v| v.0)))
            .fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.08 } else { 1.0 };
        let spec = PanelSpec {
            title: title.into(),
            x_label: "rotational symmetry n".into(),
            y_label: y_label.into(),
            legend,
            ..PanelSpec::default()
        };
        let groups = ns.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&chart_area)
            .caption(&spec.title, ("sans-serif", 20).into_font())
            .margin(10)
            .x_label_area_size(46)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5f64..groups - 0.5, 0.0..top)
            .map_err(err)?;
        let group_label = |x: &f64| {
            let i = x.round();
            match ns.get(i as usize) {
                Some(n) if (x - i).abs() < 1e-6 && i >= 0.0 => n.to_string(),
                _ => String::new(),
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE.mix(0.0))
            .x_labels(ns.len().max(1))
            .x_label_formatter(&group_label)
            .y_label_formatter(if counts { &count_tick } else { &tick })
            .x_desc(&spec.x_label)
            .y_desc(&spec.y_label)
            .axis_desc_style(("sans-serif", AXIS_PX - 1).into_font())
            .label_style(("sans-serif", TICK_PX).into_font())
            .draw()
            .map_err(err)?;
        let width = 0.8 / series.len() as f64;
        for (j, &(_, q, method)) in series.iter().enumerate() {
            let x0 = |i: usize| i as f64 - 0.4 + width * j as f64;
            let bars: Vec<(usize, f64, Option<bool>)> = ns
                .iter()
                .enumerate()
                .filter_map(|(i, &n)| value(q, n, method).map(|(v, ok)| (i, v.max(0.0), ok)))
                .collect();
            chart
                .draw_series(bars.iter().map(|&(i, v, _)| {
                    Rectangle::new([(x0(i), 0.0), (x0(i) + width, v)], colours[j].filled())
                }))
                .map_err(err)?;
            chart
                .draw_series(
                    bars.iter()
                        .filter(|b| b.2 == Some(false))
                        .map(|&(i, v, _)| {
                            Rectangle::new([(x0(i), 0.0), (x0(i) + width, v)], FAIL.stroke_width(3))
                        }),
                )
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
