//! Legends drawn in a strip of their own below the plots, so no entry covers data.

use anyhow::Result;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::{err, Area};

/// Legend text size in pixels.
const LEGEND_PX: u32 = 16;
/// Height of one legend line in pixels.
const LINE_PX: u32 = LEGEND_PX + 12;
/// Width of a swatch in pixels.
const SWATCH_PX: i32 = 28;

/// How an entry is drawn in the legend: the mark it stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Swatch {
    /// A solid line.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
    /// A filled bar.
    Bar(RGBColor),
    /// A bar's outline.
    Outline(RGBColor),
    /// A filled dot.
    Dot(RGBColor),
    /// A hollow dot.
    Hollow(RGBColor),
    /// A cross (a value that is missing).
    Cross(RGBColor),
    /// A hollow circle drawn over a dark map pixel.
    Ring(RGBColor),
    /// A white region outline over a dark map pixel.
    Region,
    /// A pale band.
    Band(RGBColor),
}

/// One legend entry.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Key {
    /// The text.
    pub label: String,
    /// The mark.
    pub swatch: Swatch,
}

impl Key {
    pub(super) fn new(label: impl Into<String>, swatch: Swatch) -> Self {
        Self {
            label: label.into(),
            swatch,
        }
    }
}

fn font() -> TextStyle<'static> {
    ("sans-serif", LEGEND_PX).into_font().color(&BLACK)
}

/// The entries laid out in lines that fit `width` pixels: indices and x offsets per line.
fn lines(area: &Area, keys: &[Key], width: i32) -> Vec<Vec<(usize, i32)>> {
    let mut out: Vec<Vec<(usize, i32)>> = Vec::new();
    let mut x = 10;
    for (i, k) in keys.iter().enumerate() {
        let text = area
            .estimate_text_size(&k.label, &font())
            .map_or(8 * k.label.len() as u32, |s| s.0) as i32;
        let w = SWATCH_PX + 8 + text + 26;
        if out.is_empty() || (x + w > width && x > 10) {
            out.push(Vec::new());
            x = 10;
        }
        out.last_mut().expect("a line").push((i, x));
        x += w;
    }
    out
}

/// Splits `area` into the plot area and a legend strip tall enough for `keys` (none when
/// there are no keys), draws the legend and returns the plot area and the labels drawn.
pub(super) fn below<'a>(area: &Area<'a>, keys: &[Key]) -> Result<(Area<'a>, Vec<String>)> {
    let (w, _) = area.dim_in_pixel();
    let layout = lines(area, keys, w as i32);
    draw(area, keys, layout)
}

/// Like [`below`], one entry per line and the strip `lines` lines tall at least, so that
/// panels side by side keep plots of the same height.
pub(super) fn below_stacked<'a>(
    area: &Area<'a>,
    keys: &[Key],
    lines: usize,
) -> Result<(Area<'a>, Vec<String>)> {
    let mut layout: Vec<Vec<(usize, i32)>> = (0..keys.len()).map(|i| vec![(i, 10)]).collect();
    layout.resize(lines.max(keys.len()), Vec::new());
    draw(area, keys, layout)
}

fn draw<'a>(
    area: &Area<'a>,
    keys: &[Key],
    layout: Vec<Vec<(usize, i32)>>,
) -> Result<(Area<'a>, Vec<String>)> {
    if keys.is_empty() {
        return Ok((area.clone(), Vec::new()));
    }
    let (_, h) = area.dim_in_pixel();
    let strip_h = layout.len() as u32 * LINE_PX + 10;
    let (plot, strip) = area.split_vertically(h.saturating_sub(strip_h));
    for (row, entries) in layout.iter().enumerate() {
        let yc = 5 + row as i32 * LINE_PX as i32 + LINE_PX as i32 / 2;
        for &(i, x) in entries {
            swatch(&strip, keys[i].swatch, x, yc)?;
            strip
                .draw(&Text::new(
                    keys[i].label.clone(),
                    (x + SWATCH_PX + 8, yc - LEGEND_PX as i32 / 2 - 1),
                    font(),
                ))
                .map_err(err)?;
        }
    }
    Ok((plot, keys.iter().map(|k| k.label.clone()).collect()))
}

fn swatch(area: &Area, s: Swatch, x: i32, yc: i32) -> Result<()> {
    let box_ = [(x, yc - 7), (x + SWATCH_PX, yc + 7)];
    let dark = super::colormap(0.1);
    match s {
        Swatch::Line(c) => area.draw(&PathElement::new(
            vec![(x, yc), (x + SWATCH_PX, yc)],
            c.stroke_width(3),
        )),
        Swatch::Dashed(c) => area.draw(&DashedPathElement::new(
            vec![(x, yc), (x + SWATCH_PX, yc)],
            6,
            4,
            c.stroke_width(3),
        )),
        Swatch::Bar(c) => area.draw(&Rectangle::new(box_, c.filled())),
        Swatch::Outline(c) => area.draw(&Rectangle::new(box_, c.stroke_width(3))),
        Swatch::Dot(c) => area.draw(&Circle::new((x + SWATCH_PX / 2, yc), 6, c.filled())),
        Swatch::Hollow(c) => area.draw(&Circle::new((x + SWATCH_PX / 2, yc), 6, c.stroke_width(2))),
        Swatch::Cross(c) => area.draw(&Cross::new((x + SWATCH_PX / 2, yc), 6, c.stroke_width(3))),
        Swatch::Band(c) => area.draw(&Rectangle::new(box_, c.filled())),
        Swatch::Ring(c) => {
            area.draw(&Rectangle::new(box_, dark.filled()))
                .map_err(err)?;
            area.draw(&Circle::new((x + SWATCH_PX / 2, yc), 5, c.stroke_width(2)))
        }
        Swatch::Region => {
            area.draw(&Rectangle::new(box_, dark.filled()))
                .map_err(err)?;
            area.draw(&Rectangle::new(
                [(x + 6, yc - 4), (x + SWATCH_PX - 6, yc + 4)],
                WHITE.stroke_width(1),
            ))
        }
    }
    .map_err(err)
}
