//! Each method's bias over a set of runs — the validation suite (`validate A.toml B.toml …`
//! writes `summary.md`) or a sweep (a section of its `report.md`): per method and quantity, the
//! mean relative error over every run and n that has a truth (the bias), its standard
//! deviation, the mean |relative error|, and how many of those values the method did not give
//! at all. A missing value is counted, never averaged as 0.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mro_analysis::particles::mean_sd;

use crate::document::{count, number, percent_signed, Cell, Column, Table, MISSING};
use crate::score::Score;

/// The first line of `summary.md`, by which a rerun knows the file as mro's own.
pub const SUMMARY_TITLE: &str = "# Validation summary";

/// The last line of `summary.md` begins so and ends with the CRC-32 of every byte before it
/// (hex) and ` -->`: a rerun replaces the file only while it is as mro left it.
const SUMMARY_SEAL: &str = "<!-- written by mro validate; CRC-32 of the text above: ";

/// Whether `text` (a `summary.md`) is mro's own and unedited: it begins with [`SUMMARY_TITLE`]
/// and ends with a seal that matches what precedes it. Without the seal (deleted, or a file
/// that only looks like a summary) it is the user's.
pub fn summary_is_unedited(text: &str) -> bool {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let Some(i) = body.rfind('\n') else {
        return false;
    };
    let (above, last) = (&text[..=i], &body[i + 1..]);
    text.starts_with(SUMMARY_TITLE)
        && last
            .strip_prefix(SUMMARY_SEAL)
            .and_then(|rest| rest.strip_suffix(" -->"))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .is_some_and(|crc| crc == crc32fast::hash(above.as_bytes()))
}

/// One method and quantity over a set of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Bias {
    /// `im2018`, `mro` or an external estimate's name.
    pub method: String,
    /// The score row's quantity.
    pub quantity: String,
    /// Values with a truth (one per run and n).
    pub expected: usize,
    /// Of those, how many the method gave (with a relative error).
    pub given: usize,
    /// Mean relative error of the given values (null when none).
    pub mean: Option<f64>,
    /// Their standard deviation (null below two values).
    pub sd: Option<f64>,
    /// Mean |relative error| of the given values.
    pub mean_abs: Option<f64>,
}

/// The bias of every method and quantity over `scores`, ordered by method, then quantity.
/// Quantities without a truth in any run (spacing under random placement, say) are left out.
pub fn biases<'a>(scores: impl IntoIterator<Item = &'a Score>) -> Vec<Bias> {
    let mut by: BTreeMap<(String, String), (usize, Vec<f64>)> = BTreeMap::new();
    for score in scores {
        for r in &score.rows {
            if r.truth.is_none() {
                continue;
            }
            let e = by
                .entry((r.method.clone(), r.quantity.clone()))
                .or_default();
            e.0 += 1;
            if let Some(x) = r.relative_error.filter(|x| x.is_finite()) {
                e.1.push(x);
            }
        }
    }
    by.into_iter()
        .map(|((method, quantity), (expected, errors))| {
            let (m, sd) = mean_sd(errors.iter().copied());
            let (mean_abs, _) = mean_sd(errors.iter().map(|x| x.abs()));
            let given = !errors.is_empty();
            Bias {
                method,
                quantity,
                expected,
                given: errors.len(),
                mean: given.then_some(m),
                sd: (errors.len() > 1).then_some(sd),
                mean_abs: given.then_some(mean_abs),
            }
        })
        .collect()
}

/// The biases as a report table, its columns explained.
pub fn bias_table(biases: &[Bias]) -> Table {
    let pct = |v: Option<f64>, text: fn(f64) -> String| match v {
        Some(v) => Cell::number(text(v), 100.0 * v),
        None => Cell::text(MISSING),
    };
    let unsigned = |v: f64| number(100.0 * v, 1) + " %";
    let col = |name: &str, meaning: &str| Column {
        name: name.to_string(),
        meaning: meaning.to_string(),
    };
    Table {
        columns: vec![
            col(
                "method",
                "the estimator (`im2018`: the published procedure; `mro`: mro's own)",
            ),
            col(
                "quantity",
                "the score row's quantity, pooled over every run and n",
            ),
            col(
                "bias",
                "mean relative error (recovered − truth)/truth of the values the method gave",
            ),
            col(
                "s.d.",
                "standard deviation of those relative errors over runs and n",
            ),
            col("mean |error|", "mean absolute relative error"),
            col(
                "given",
                "values the method gave, of those with a truth; a missing value is not averaged",
            ),
        ],
        rows: biases
            .iter()
            .map(|b| {
                vec![
                    Cell::text(format!("`{}`", b.method)),
                    Cell::text(format!("`{}`", b.quantity)),
                    pct(b.mean, percent_signed),
                    pct(b.sd, unsigned),
                    pct(b.mean_abs, unsigned),
                    Cell::number(
                        format!("{} of {}", count(b.given as f64), count(b.expected as f64)),
                        b.given as f64,
                    ),
                ]
            })
            .collect(),
        glossary: Vec::new(),
    }
}

/// The bias table of `scores`, followed by how `mro` compares with `im2018` per quantity: the
/// mean |relative error| of each over the **same** values (the runs and n where both gave one),
/// their ratio, and how many values with a truth each left out. Ratios within 10 % are "about
/// the same".
pub fn bias_block<'a>(scores: impl IntoIterator<Item = &'a Score>) -> String {
    let scores: Vec<&Score> = scores.into_iter().collect();
    let mut s = bias_table(&biases(scores.iter().copied())).to_markdown();
    let mut by: BTreeMap<String, Comparison> = BTreeMap::new();
    for score in &scores {
        for r in score
            .rows
            .iter()
            .filter(|r| r.method == "mro" && r.truth.is_some())
        {
            let Some(im) = score.rows.iter().find(|o| {
                o.method == "im2018"
                    && o.quantity == r.quantity
                    && o.symmetry == r.symmetry
                    && o.truth.is_some()
            }) else {
                continue;
            };
            let finite = |x: Option<f64>| x.filter(|x| x.is_finite()).map(f64::abs);
            by.entry(r.quantity.clone())
                .or_default()
                .add(finite(im.relative_error), finite(r.relative_error));
        }
    }
    let lines: Vec<String> = by
        .iter()
        .filter_map(|(quantity, c)| c.line(quantity))
        .collect();
    if !lines.is_empty() {
        s.push_str(
            "\nHow `mro` compares with `im2018` (mean |relative error| over the values both methods gave; lower is better):\n\n",
        );
        s.push_str(&lines.join("\n"));
        s.push('\n');
    }
    s
}

/// One quantity's |relative errors| for both methods, over values with a truth.
#[derive(Default)]
struct Comparison {
    /// `(im2018, mro)` where both gave a value.
    both: Vec<(f64, f64)>,
    im2018_missing: usize,
    mro_missing: usize,
    total: usize,
}

impl Comparison {
    fn add(&mut self, im2018: Option<f64>, mro: Option<f64>) {
        self.total += 1;
        self.im2018_missing += usize::from(im2018.is_none());
        self.mro_missing += usize::from(mro.is_none());
        if let (Some(i), Some(m)) = (im2018, mro) {
            self.both.push((i, m));
        }
    }

    fn line(&self, quantity: &str) -> Option<String> {
        if self.both.is_empty() {
            return None;
        }
        let n = self.both.len() as f64;
        let im = self.both.iter().map(|p| p.0).sum::<f64>() / n;
        let mro = self.both.iter().map(|p| p.1).sum::<f64>() / n;
        let verdict = if (mro - im).abs() <= 0.1 * im.max(mro) {
            "about the same".to_string()
        } else if mro < im {
            if mro > 0.0 {
                format!("{}× smaller", number(im / mro, 1))
            } else {
                "smaller".to_string()
            }
        } else if im > 0.0 {
            format!("**{}× larger**", number(mro / im, 1))
        } else {
            "**larger**".to_string()
        };
        let missing = if self.im2018_missing + self.mro_missing > 0 {
            format!(
                "; of {} values with a truth, `im2018` gave no value for {}, `mro` for {}",
                self.total, self.im2018_missing, self.mro_missing
            )
        } else {
            String::new()
        };
        Some(format!(
            "- `{quantity}`: `mro` {} % against `im2018` {} % over the {} value{} both gave, {verdict}{missing}",
            number(100.0 * mro, 1),
            number(100.0 * im, 1),
            self.both.len(),
            if self.both.len() == 1 { "" } else { "s" },
        ))
    }
}

/// `summary.md` of a multi-scenario `validate`: one line per scenario, then the bias table.
pub fn suite_summary(command: &str, runs: &[(String, String, Score)]) -> String {
    let mut s = format!("{}\n\nRegenerate with:\n\n```sh\n", SUMMARY_TITLE);
    let _ = writeln!(s, "{command}\n```\n");
    s.push_str("| scenario | MRO | every tolerance held (judged method) |\n|---|---|---|\n");
    for (name, dir, score) in runs {
        // Worded as the run's own verdict.
        let detectable = crate::detectability::short_verdict(
            score.detectability.as_ref(),
            score.control_skipped.as_deref(),
        );
        let _ = writeln!(
            s,
            "| [{name}]({dir}/report.md) | {detectable} | {} ({}) |",
            score.tolerance_word("yes", "**no**"),
            score.method
        );
    }
    s.push_str(
        "\n## Bias of each method over these scenarios\n\nEvery run and n with a planted value \
         counts once; a scenario's own tolerances are in its report.\n\n",
    );
    s.push_str(&bias_block(runs.iter().map(|r| &r.2)));
    s.push_str(&detectable_section(runs.iter().map(|r| &r.2), "scenarios"));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    let crc = crc32fast::hash(s.as_bytes());
    let _ = writeln!(s, "{SUMMARY_SEAL}{crc:08x} -->");
    s
}

/// The bias table again over only the runs whose MRO the no-MRO control shows to be
/// detectable: recovery errors of an undetectable sample say nothing about the method.
pub fn detectable_section<'a>(scores: impl IntoIterator<Item = &'a Score>, what: &str) -> String {
    let scores: Vec<&Score> = scores.into_iter().collect();
    let detectable: Vec<&Score> = scores
        .iter()
        .copied()
        .filter(|s| s.detectability.as_ref().is_some_and(|d| d.detectable))
        .collect();
    let mut s = String::new();
    if !detectable.is_empty() && detectable.len() < scores.len() {
        s = format!(
            "\n### Over the {} of {} {what} whose MRO is detectable\n\n{}",
            detectable.len(),
            scores.len(),
            bias_block(detectable)
        );
    }
    s + &resolved_section(&scores)
}

/// The bias table over only the maps (run and n) whose clusters are *resolved* (the median
/// in-condition cluster brighter than the control's whole `mro` map, see
/// [`crate::detectability`]): a scenario can be detectable at one n and show nothing at
/// another, and no method counts one by one what hides among the speckle's own maxima. This is
/// the domain of issue 12's recovery targets.
fn resolved_section(scores: &[&Score]) -> String {
    let mut maps = 0;
    let resolved: Vec<Score> = scores
        .iter()
        .filter_map(|s| {
            let at = &s.detectability.as_ref()?.resolved_at;
            let mut kept = (*s).clone();
            kept.rows
                .retain(|r| r.symmetry.is_some_and(|n| at.contains(&n)));
            maps += at.len();
            (!kept.rows.is_empty()).then_some(kept)
        })
        .collect();
    if resolved.is_empty() {
        return String::new();
    }
    let s = if maps == 1 { "" } else { "s" };
    format!(
        "\n### Over the {maps} map{s} whose clusters are resolved\n\nPer run, only the n where the median in-condition cluster is brighter than the no-MRO control's whole map (the `mro` method's P_n maps; the detectability section of each report); whole-sample quantities are left out.\n\n{}",
        bias_block(resolved.iter())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Row;

    fn row(method: &str, quantity: &str, truth: Option<f64>, rel: Option<f64>) -> Row {
        Row {
            quantity: quantity.into(),
            method: method.into(),
            symmetry: Some(4),
            truth,
            recovered: rel.map(|r| truth.unwrap_or(1.0) * (1.0 + r)),
            recovered_se: None,
            relative_error: rel,
            tolerance: None,
            within_tolerance: None,
            null_reason: None,
        }
    }

    fn score(rows: Vec<Row>) -> Score {
        Score {
            schema: "mro.score/1".into(),
            method: "im2018".into(),
            rows,
            odd_even_ratio: f64::NAN,
            odd_even_ratio_noise_corrected: None,
            all_within_tolerance: true,
            scanned_share: None,
            unjudged_checks: Vec::new(),
            detectability: None,
            realism: None,
            control_skipped: None,
            not_judged: None,
        }
    }

    #[test]
    fn resolved_maps_section_keeps_only_the_resolved_n() {
        let mut rows = vec![
            row("im2018", "region_count", Some(20.0), Some(3.0)),
            row("mro", "region_count", Some(20.0), Some(-0.1)),
        ];
        let mut other_n = row("mro", "region_count", Some(20.0), Some(-0.9));
        other_n.symmetry = Some(6);
        rows.push(other_n);
        let mut s = score(rows);
        s.detectability = Some(crate::detectability::Detectability {
            control: String::new(),
            block_nm: 2.5,
            by_symmetry: Vec::new(),
            planted_maps: vec![4, 6],
            shows_at: Vec::new(),
            located_at: vec![4, 6],
            resolved_at: vec![4],
            moved_elsewhere: Vec::new(),
            detectable: true,
            verdict: String::new(),
        });
        let text = detectable_section([&s], "scenarios");
        assert!(
            text.contains("Over the 1 map whose clusters are resolved"),
            "{text}"
        );
        // n = 6 (−90 %) is left out: mro's region count error is the n = 4 one alone.
        assert!(
            text.contains("| `mro` | `region_count` | -10.0 %"),
            "{text}"
        );
        // Nothing resolved: no section.
        s.detectability.as_mut().unwrap().resolved_at.clear();
        assert!(!detectable_section([&s], "scenarios").contains("resolved"));
    }

    #[test]
    fn a_summary_is_known_as_unedited_by_its_seal() {
        let text = suite_summary("mro validate a.toml b.toml --out x", &[]);
        assert!(summary_is_unedited(&text), "{text}");
        assert!(text.lines().last().unwrap().starts_with(SUMMARY_SEAL));
        // Any edit above the seal, or after it, or of the seal itself, makes it the user's.
        assert!(!summary_is_unedited(&text.replacen("b.toml", "c.toml", 1)));
        assert!(!summary_is_unedited(&format!("{text}my notes\n")));
        let i = text.rfind(" -->").unwrap();
        let other = if &text[i - 1..i] == "0" { "1" } else { "0" };
        assert!(!summary_is_unedited(&format!(
            "{}{other}{}",
            &text[..i - 1],
            &text[i..]
        )));
        // The seal line deleted, the title alone, another title: the user's.
        let unsealed = &text[..text.rfind(SUMMARY_SEAL).unwrap()];
        assert!(!summary_is_unedited(unsealed));
        assert!(!summary_is_unedited("# Validation summary\n"));
        assert!(!summary_is_unedited(&text.replacen(
            SUMMARY_TITLE,
            "# Mine",
            1
        )));
    }

    #[test]
    fn pools_runs_counts_missing_values_and_skips_quantities_without_truth() {
        let a = score(vec![
            row("im2018", "mean_diameter_nm", Some(1.3), Some(-0.4)),
            row("mro", "mean_diameter_nm", Some(1.3), Some(0.1)),
            row("im2018", "spacing_nm", None, None),
        ]);
        let b = score(vec![
            row("im2018", "mean_diameter_nm", Some(1.3), Some(-0.2)),
            row("mro", "mean_diameter_nm", Some(1.3), None),
        ]);
        let v = biases([&a, &b]);
        assert_eq!(v.len(), 2, "{v:?}");
        let im = &v[0];
        assert_eq!(
            (im.method.as_str(), im.expected, im.given),
            ("im2018", 2, 2)
        );
        approx::assert_relative_eq!(im.mean.unwrap(), -0.3, epsilon = 1e-12);
        approx::assert_relative_eq!(im.sd.unwrap(), 0.02f64.sqrt(), epsilon = 1e-12);
        approx::assert_relative_eq!(im.mean_abs.unwrap(), 0.3, epsilon = 1e-12);
        let mro = &v[1];
        assert_eq!((mro.expected, mro.given), (2, 1));
        assert_eq!(mro.sd, None);
        let md = bias_table(&v).to_markdown();
        assert!(md.contains("1 of 2") && md.contains("-30.0 %"), "{md}");
        // Compared over the same values: run a's diameter only (mro gave none in run b).
        let block = bias_block([&a, &b]);
        assert!(
            block.contains(
                "- `mean_diameter_nm`: `mro` 10.0 % against `im2018` 40.0 % over the 1 value both gave, 4.0× smaller; of 2 values with a truth, `im2018` gave no value for 0, `mro` for 1"
            ),
            "{block}"
        );
        // Worse is said as loudly as better; within 10 % is about the same; a quantity only one
        // method gives is left out.
        let other = score(vec![
            row("im2018", "region_count", Some(20.0), Some(0.1)),
            row("mro", "region_count", Some(20.0), Some(-0.5)),
            row("im2018", "precision", Some(1.0), Some(-0.20)),
            row("mro", "precision", Some(1.0), Some(-0.21)),
            row("mro", "recall", Some(1.0), Some(-0.2)),
        ]);
        let block = bias_block([&other]);
        assert!(block.contains("**5.0× larger**"), "{block}");
        assert!(
            block.contains(
                "`precision`: `mro` 21.0 % against `im2018` 20.0 % over the 1 value both gave, about the same"
            ),
            "{block}"
        );
        assert!(!block.contains("`recall`:"), "{block}");
    }
}
