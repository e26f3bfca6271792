//! Calibration: which points of a sweep reproduce the real data, and what the published
//! method's error is on those truths (issue 11, item 4).
//!
//! Every paper-setup point carries a realism section ([`crate::realism`]): each observable Im
//! et al. (2018) publish, this point's value, and whether it lies within the published
//! uncertainty. Points are ranked by the number within; then by the number the point gave no
//! value for although the paper has one (an undefined estimate — a total volume fraction above
//! 1, no V(k) peak inside the k range — is a miss, not a pass); then by how far the values
//! outside miss. A miss is measured as a factor: |ln(v / v_c)|, v_c the nearest bound of the
//! published range (ln 2 for a value twice the upper bound or half the lower), averaged over
//! the values outside. Orderings (bounds 0/1) and values ≤ 0 have no factor and count only
//! through "within".

use crate::realism::{Realism, Status};
use crate::score::{mean, Score};
use crate::sweep::{label, Point};

/// The factor by which `v` misses the inclusive range [low, high], as |ln|; 0 within.
/// `None` when the comparison has no scale (a value or bound ≤ 0).
pub fn log_miss(v: f64, low: Option<f64>, high: Option<f64>) -> Option<f64> {
    let nearest = match (low, high) {
        (Some(l), _) if v < l => l,
        (_, Some(h)) if v > h => h,
        _ => return Some(0.0),
    };
    (v > 0.0 && nearest > 0.0).then(|| (v / nearest).ln().abs())
}

/// Mean |ln| miss over the rows outside the published range that have a scale.
pub fn mean_log_miss(r: &Realism) -> Option<f64> {
    mean(
        r.rows
            .iter()
            .filter(|row| row.status == Status::Outside)
            .filter_map(|row| log_miss(row.run?, row.low, row.high)),
    )
}

/// Mean of a realism quantity's run values over its symmetries.
fn mean_run(r: &Realism, quantity: &str) -> Option<f64> {
    mean(
        r.rows
            .iter()
            .filter(|row| row.quantity.name() == quantity)
            .filter_map(|row| row.run),
    )
}

/// Mean relative error of a method's score rows of one quantity over its symmetries.
fn mean_error(s: &Score, method: &str, quantity: &str) -> Option<f64> {
    mean(
        s.rows
            .iter()
            .filter(|r| r.method == method && r.quantity == quantity)
            .filter_map(|r| r.relative_error),
    )
}

/// The report section, or `None` when no point is paper setup.
pub fn section(points: &[Point], scores: &[Score]) -> Option<String> {
    let mut ranked: Vec<(usize, &Realism)> = scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.realism.as_ref().map(|r| (i, r)))
        .collect();
    if ranked.is_empty() {
        return None;
    }
    let empty = |r: &Realism| r.rows.iter().filter(|row| row.gave_no_value()).count();
    ranked.sort_by(|(_, a), (_, b)| {
        b.within.cmp(&a.within).then(empty(a).cmp(&empty(b))).then(
            mean_log_miss(a)
                .unwrap_or(0.0)
                .total_cmp(&mean_log_miss(b).unwrap_or(0.0)),
        )
    });
    // The published range of a column, over every n, as the reference rows hold it.
    let range = |quantity: &str, scale: f64, unit: &str, digits: usize| {
        let rows = ranked[0]
            .1
            .rows
            .iter()
            .filter(|row| row.quantity.name() == quantity);
        let low = rows
            .clone()
            .filter_map(|row| row.low)
            .fold(f64::INFINITY, f64::min);
        let high = rows
            .filter_map(|row| row.high)
            .fold(f64::NEG_INFINITY, f64::max);
        if low.is_finite() && high.is_finite() {
            format!("{:.digits$}–{:.digits$}{unit}", scale * low, scale * high)
        } else {
            "—".to_string()
        }
    };
    let f = |v: Option<f64>, digits: usize| v.map_or("—".into(), |v| format!("{v:.digits$}"));
    let pct = |v: Option<f64>| v.map_or("—".into(), |v| format!("{:+.0} %", 100.0 * v));
    let left_out = scores.len() - ranked.len();
    let mut s = format!(
        "\n## Calibration: which truths reproduce the real data\n\n\
         Paper-setup points ranked by how many of the published observables \
         (`scenarios/reference/im2018.toml`) they reproduce within the published uncertainty; \
         then by how many they give no value for although the paper has one (an undefined \
         estimate such as a total volume fraction above 1, or no V(k) peak in the k range: a \
         miss, not a pass); then by the mean factor by which the values outside miss \
         (|ln(value / nearest bound)|; 0.69 = a factor 2; orderings and values ≤ 0 have no \
         factor and count only through *within*). *Within* is out of the observables compared, \
         which leaves out those the point gave no value for. The observables are measured with \
         the published method (`im2018`), as the paper measured them; region counts are scaled \
         to the paper's 40.6 × 40.6 nm² field. The per-map columns are means over n; the \
         published ranges in their headers span every n. **MRO** is the detectability verdict \
         against the no-MRO control. The last three columns are the point of calibrating: the \
         published method's error on the truth that gives these observables (mean over the \
         planted n).{}\n\n\
         | rank | point | within | no value | mean miss | regions per map (real {}) | area fraction per map (real {}) | sum-map regions (real {}) | sum-map r̄ nm (real {}) | total VF (real {}) | MRO | `im2018` diameter error | `im2018` VF error | `im2018` total VF error |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        if left_out > 0 {
            format!(
                " {left_out} point{} of the sweep {} not paper setup and not ranked.",
                if left_out == 1 { "" } else { "s" },
                if left_out == 1 { "is" } else { "are" }
            )
        } else {
            String::new()
        },
        range("region_count", 1.0, "", 1),
        range("area_fraction", 100.0, " %", 1),
        range("sum_map_regions", 1.0, "", 0),
        range("sum_map_mean_radius_nm", 1.0, "", 2),
        range("total_volume_fraction", 100.0, " %", 1),
    );
    for (rank, (i, r)) in ranked.iter().enumerate() {
        let sc = &scores[*i];
        let mro = crate::detectability::short_verdict(
            sc.detectability.as_ref(),
            sc.control_skipped.as_deref(),
        );
        s += &format!(
            "| {} | {} | {} of {} | {} | {} | {} | {} | {} | {} | {} | {mro} | {} | {} | {} |\n",
            rank + 1,
            label(&points[*i]).replace('|', "\\|"),
            r.within,
            r.compared,
            empty(r),
            f(mean_log_miss(r), 2),
            f(mean_run(r, "region_count"), 0),
            pct(mean_run(r, "area_fraction")).trim_start_matches('+'),
            f(mean_run(r, "sum_map_regions"), 0),
            f(mean_run(r, "sum_map_mean_radius_nm"), 2),
            pct(mean_run(r, "total_volume_fraction")).trim_start_matches('+'),
            pct(mean_error(sc, "im2018", "mean_diameter_nm")),
            pct(mean_error(sc, "im2018", "volume_fraction")),
            pct(mean_error(sc, "im2018", "total_volume_fraction")),
        );
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_is_the_factor_to_the_nearest_bound() {
        assert_eq!(log_miss(5.0, Some(4.0), Some(6.0)), Some(0.0));
        assert_eq!(log_miss(4.0, Some(4.0), Some(6.0)), Some(0.0));
        let m = log_miss(12.0, Some(4.0), Some(6.0)).unwrap();
        assert!((m - 2f64.ln()).abs() < 1e-12);
        let m = log_miss(2.0, Some(4.0), None).unwrap();
        assert!((m - 2f64.ln()).abs() < 1e-12);
        assert_eq!(log_miss(0.5, None, Some(1.0)), Some(0.0));
        assert_eq!(log_miss(-1.0, Some(1.0), None), None);
        assert_eq!(log_miss(2.0, None, Some(0.0)), None);
    }
}
