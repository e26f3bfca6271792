//! Parameter sweeps: Cartesian products of `--set KEY=V1,V2,…` (or a scenario's `[[sweep]]`
//! tables) over any scenario key.
//!
//! A key is the dotted path of a scenario value as `mro check` prints it (`sample.thickness_nm`,
//! `clusters[0].diameter_nm`, `model.kind`); `[*]` in place of an index sets every element
//! (`clusters[*].diameter_nm`: one axis for the diameter of every cluster table). Values are
//! written as in TOML (`20`, `0.5`, `"inf"`, `[64, 64]`); a bare word such as `born` is a string.
//! An integer given for a float key is taken as a float. Every point is re-validated as a whole
//! scenario.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::exit::BadInput;
use crate::scenario::Scenario;

/// One sweep axis: `--set KEY=V1,V2,…` on the command line, a `[[sweep]]` table in a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetArg {
    /// Dotted key path.
    pub key: String,
    /// The values, as TOML values.
    pub values: Vec<toml::Value>,
}

impl std::str::FromStr for SetArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (key, values) = s
            .split_once('=')
            .ok_or_else(|| format!("--set {s}: expected KEY=V1,V2,…"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("--set {s}: the key is empty"));
        }
        let words = split_values(values);
        if words.iter().all(String::is_empty) {
            return Err(format!("--set {s}: no values"));
        }
        if words.iter().any(String::is_empty) {
            return Err(format!(
                "--set {s}: an empty value between commas (expected KEY=V1,V2,…)"
            ));
        }
        let values: Vec<toml::Value> = words.iter().map(|v| parse_value(v)).collect();
        Ok(Self {
            key: key.to_string(),
            values,
        })
    }
}

/// Splits `a,b,[1, 2],c` at commas outside brackets.
fn split_values(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0i32);
    for c in s.chars() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().map(|v| v.trim().to_string()).collect()
}

fn parse_value(v: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.trim_matches('"').to_string()))
}

/// One point of a sweep: the value chosen for each key, in `--set` order.
pub type Point = Vec<(String, toml::Value)>;

/// The scenario's own axes with the command line's laid over them: a `--set` replaces the axis
/// of the same key in place, or is appended.
pub fn merge_axes(file: &[SetArg], cli: &[SetArg]) -> Vec<SetArg> {
    let mut axes = file.to_vec();
    for set in cli {
        match axes.iter_mut().find(|a| a.key == set.key) {
            Some(axis) => axis.values.clone_from(&set.values),
            None => axes.push(set.clone()),
        }
    }
    axes
}

/// The number of points of the sets' Cartesian product, `None` if it overflows `usize`;
/// computed without building any.
pub fn point_count(sets: &[SetArg]) -> Option<usize> {
    sets.iter()
        .try_fold(1usize, |n, set| n.checked_mul(set.values.len()))
}

/// Point `index` of the sets' Cartesian product (first key varying slowest),
/// built alone.
///
/// # Panics
/// If `index` is not below [`point_count`].
pub fn point_at(sets: &[SetArg], index: usize) -> Point {
    let mut rest = index;
    let mut point: Point = Vec::with_capacity(sets.len());
    for set in sets.iter().rev() {
        let n = set.values.len();
        point.push((set.key.clone(), set.values[rest % n].clone()));
        rest /= n;
    }
    assert_eq!(rest, 0, "point {index} is beyond the sweep");
    point.reverse();
    point
}

/// The Cartesian product of the sets, first key varying slowest, built whole: the reference
/// [`point_at`] is tested against.
#[cfg(test)]
fn points(sets: &[SetArg]) -> Vec<Point> {
    let mut out: Vec<Point> = vec![Vec::new()];
    for set in sets {
        out = out
            .into_iter()
            .flat_map(|p| {
                set.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((set.key.clone(), v.clone()));
                    q
                })
            })
            .collect();
    }
    out
}

/// The base scenario with the point's values put in and its sweep axes dropped, validated.
pub fn apply(base: &Scenario, point: &Point) -> Result<Scenario, BadInput> {
    let keys = point
        .iter()
        .map(|(key, _)| parse_key(key).ok_or_else(|| unknown_key(key)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut root = toml::Value::try_from(base.without_sweep()).expect("a scenario serialises");
    // A default that follows another key is absent from `root` (so that it keeps following
    // it); a point that sets it puts it in, typed as `mro check` shows it.
    let full = toml::Value::try_from(base.without_sweep().with_followed_defaults())
        .expect("a scenario serialises");
    for parts in &keys {
        fill_from(&mut root, &full, parts);
    }
    // A key naming nothing (`clusters[99]` of five tables) is said as such before any overlap.
    for ((key, _), parts) in point.iter().zip(&keys) {
        set_each(&mut root.clone(), parts, &mut |_| Ok(()))
            .map_err(|e| e.unwrap_or_else(|| unknown_key(key)))?;
    }
    for (i, a) in keys.iter().enumerate() {
        if let Some(j) = (0..i).find(|&j| overlap(a, &keys[j])) {
            return Err(BadInput(format!(
                "{}: sets the same value as the axis {}; one axis per value (the later one \
                 would overwrite the earlier and the point's label would misstate it)",
                point[i].0, point[j].0
            )));
        }
    }
    for ((key, value), parts) in point.iter().zip(&keys) {
        // A named-choice key (`model.kind`) says its names when given another type.
        let named = parts.last().and_then(|p| crate::scenario::choices(p.name));
        let mut matched = 0usize;
        set_each(&mut root, parts, &mut |slot| {
            matched += 1;
            let named = named.filter(|_| slot.is_str());
            *slot = coerce(slot, value.clone()).map_err(|expected| {
                let expected = named.map_or(expected, str::to_string);
                BadInput(format!(
                    "{key}={}: expected {expected}",
                    display_value(value)
                ))
            })?;
            Ok(())
        })
        .map_err(|e| e.unwrap_or_else(|| unknown_key(key)))?;
        if matched == 0 {
            return Err(BadInput(format!(
                "{key}: the array is empty, so `[*]` sets nothing (write the tables first)"
            )));
        }
    }
    let text = toml::to_string(&root).expect("a table serialises");
    Scenario::parse(&text)
        .map_err(|e| BadInput(format!("{}: {}", label(point), without_position(&e.0))))
}

/// The message without its `(line L, column C)`: the position is in the document a point is
/// built as, not in any file the user wrote.
fn without_position(message: &str) -> String {
    match message.find(" (line ") {
        Some(start) => match message[start..].find(')') {
            Some(len) => format!("{}{}", &message[..start], &message[start + len + 1..]),
            None => message.to_string(),
        },
        None => message.to_string(),
    }
}

/// Which elements of an array a key part names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Index {
    /// No index: the value itself (a whole array, if it is one).
    Whole,
    /// `[i]`: element i (`[00]` is `[0]`).
    At(usize),
    /// `[*]`: every element.
    All,
}

/// One dot-separated part of a key: `clusters[*]` is `clusters` with [`Index::All`].
#[derive(Debug, Clone, Copy)]
struct Part<'a> {
    name: &'a str,
    index: Index,
}

/// The parts of a dotted key, or `None` when an index is not a whole number ≥ 0 or `*`.
fn parse_key(key: &str) -> Option<Vec<Part<'_>>> {
    key.split('.')
        .map(|part| match part.split_once('[') {
            None => Some(Part {
                name: part,
                index: Index::Whole,
            }),
            Some((name, rest)) => {
                let index = match rest.strip_suffix(']')? {
                    "*" => Index::All,
                    i => Index::At(i.parse().ok()?),
                };
                Some(Part { name, index })
            }
        })
        .collect()
}

/// Whether two keys can name the same value: equal part by part, where `[*]` meets any index,
/// or one key lies inside the other (`clusters` or `clusters[0]` holds
/// `clusters[0].diameter_nm`).
fn overlap(a: &[Part], b: &[Part]) -> bool {
    for (i, (pa, pb)) in a.iter().zip(b).enumerate() {
        if pa.name != pb.name {
            return false;
        }
        match (pa.index, pb.index) {
            (Index::At(x), Index::At(y)) if x != y => return false,
            // The whole array beside one element: they overlap when the key naming the whole
            // array ends here.
            (Index::Whole, Index::At(_) | Index::All) => return i + 1 == a.len(),
            (Index::At(_) | Index::All, Index::Whole) => return i + 1 == b.len(),
            _ => {}
        }
    }
    true
}

/// Copies into `node` the value the plain (unindexed) key `parts` names in `full` where `node`
/// lacks it.
fn fill_from(node: &mut toml::Value, full: &toml::Value, parts: &[Part]) {
    let Some((part, rest)) = parts.split_first() else {
        return;
    };
    if part.index != Index::Whole {
        return;
    }
    let (Some(table), Some(from)) = (node.as_table_mut(), full.get(part.name)) else {
        return;
    };
    let child = table.entry(part.name).or_insert_with(|| from.clone());
    fill_from(child, from, rest);
}

fn unknown_key(key: &str) -> BadInput {
    BadInput(format!(
        "{key}: no such scenario key (see `mro check` for the keys)"
    ))
}

/// Calls `set` on every value the key `parts` names below `node`: `name[i]` is element i of an
/// array, `name[*]` every element (`clusters[*].diameter_nm` sets the diameter of every cluster
/// table). `Err(None)` when the path names nothing, `Err(Some(_))` when `set` refuses or an
/// index is out of range.
fn set_each(
    node: &mut toml::Value,
    parts: &[Part],
    set: &mut dyn FnMut(&mut toml::Value) -> Result<(), BadInput>,
) -> Result<(), Option<BadInput>> {
    let Some((part, rest)) = parts.split_first() else {
        return set(node).map_err(Some);
    };
    let name = part.name;
    let child = node.get_mut(name).ok_or(None)?;
    match part.index {
        Index::Whole => set_each(child, rest, set),
        Index::All => child
            .as_array_mut()
            .ok_or(None)?
            .iter_mut()
            .try_for_each(|item| set_each(item, rest, set)),
        Index::At(i) => {
            let items = child.as_array_mut().ok_or(None)?;
            let len = items.len();
            let item = items.get_mut(i).ok_or_else(|| {
                Some(BadInput(format!(
                    "{name}[{i}]: index out of range: the scenario has {len} `{name}` \
                     entr{} (indices 0 to {})",
                    if len == 1 { "y" } else { "ies" },
                    len.saturating_sub(1)
                )))
            })?;
            set_each(item, rest, set)
        }
    }
}

/// The new value in the type of the old one where TOML is ambiguous (integer for a float key).
fn coerce(old: &toml::Value, new: toml::Value) -> Result<toml::Value, String> {
    use toml::Value as V;
    Ok(match (old, new) {
        (V::Float(_), V::Integer(i)) => V::Float(i as f64),
        (V::Float(_), V::String(s)) if s == "inf" => V::String(s),
        (V::String(_), V::Float(f)) if f.is_infinite() => V::String("inf".into()),
        (V::Array(_), V::Array(a)) => V::Array(a),
        (V::Table(_), t @ V::Table(_)) => t,
        // A key taking a name or a table (`analysis.threshold`: "otsu" or { fixed = 0.5 }):
        // either form replaces the other; the scenario's own parse judges it.
        (V::Table(_), s @ V::String(_)) => s,
        (V::String(_), t @ V::Table(_)) => t,
        (V::String(_), s @ V::String(_)) => s,
        (V::String(_), f @ V::Float(_)) => f,
        (V::Float(_), f @ V::Float(_)) => f,
        (V::Integer(_), i @ V::Integer(_)) => i,
        (V::Boolean(_), b @ V::Boolean(_)) => b,
        (old, _) => return Err(format!("a value of type {}", old.type_str())),
    })
}

fn display_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The points of a sweep of `count` a grouped warning applies to, in words: "every point",
/// "point 3" or "points 0-2,5".
pub fn points_phrase(at: &[usize], count: usize) -> String {
    match at {
        [i] => format!("point {i}"),
        _ if at.len() == count => "every point".to_string(),
        _ => format!("points {}", crate::slurm::array_spec(at)),
    }
}

/// Distinct warnings of a sweep's points, each with the indices of the points it applies to.
pub type PointWarnings = Vec<(String, Vec<usize>)>;

/// Each distinct warning of the sweep's points, in the order first met, with the points it
/// applies to: `warnings` gives each point's index and its scenario's warnings.
pub fn warnings_by_point(
    warnings: impl IntoIterator<Item = (usize, Vec<String>)>,
) -> PointWarnings {
    let mut grouped = PointWarnings::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, list) in warnings {
        for w in list {
            match seen.get(&w) {
                Some(&k) => grouped[k].1.push(i),
                None => {
                    seen.insert(w.clone(), grouped.len());
                    grouped.push((w, vec![i]));
                }
            }
        }
    }
    grouped
}

/// The band limit a point's multislice leaves to its thickness-dependent default
/// ([`mro_sim::spec::default_band_limit_per_nm`]), nm⁻¹; `None` when the point gives one or
/// uses another model.
pub fn defaulted_band_limit(scenario: &Scenario) -> Option<f64> {
    let m = &scenario.model;
    if m.kind != mro_sim::spec::ModelKind::Multislice || m.band_limit_per_nm.is_some() {
        return None;
    }
    m.band_limit_for(&scenario.detector, scenario.sample.thickness_nm)
        .ok()
}

/// Adds to `per_point` (each point's index and warnings) a warning for the multislice points
/// whose default band limits (`band[i]`, [`defaulted_band_limit`]) differ: their grids differ,
/// so a trend along the sweep would mix two numerical settings.
pub fn warn_band_limit_spread(per_point: &mut [(usize, Vec<String>)], band: &[Option<f64>]) {
    use mro_sim::spec::{DEFAULT_BAND_LIMIT_PER_NM, THIN_FOIL_BAND_LIMIT_PER_NM, THIN_FOIL_MAX_NM};
    let mut values: Vec<f64> = band.iter().flatten().copied().collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    if values.len() < 2 {
        return;
    }
    let list = values
        .iter()
        .map(|k| format!("{k}"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!(
        "model.band_limit_per_nm is not given, so multislice takes its default by foil thickness \
         ({THIN_FOIL_BAND_LIMIT_PER_NM} nm⁻¹ up to {THIN_FOIL_MAX_NM} nm, \
         {DEFAULT_BAND_LIMIT_PER_NM} nm⁻¹ beyond) and these points image on different grids \
         ({list} nm⁻¹); give model.band_limit_per_nm ({DEFAULT_BAND_LIMIT_PER_NM} is converged \
         to 40 nm, reports/convergence.md) so that the sweep compares like with like"
    );
    for ((_, warnings), k) in per_point.iter_mut().zip(band) {
        if k.is_some() {
            warnings.push(message.clone());
        }
    }
}

/// `key=value,key=value`, as used in names and tables.
pub fn label(point: &Point) -> String {
    let mut s = String::new();
    for (i, (k, v)) in point.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}={}", display_value(v));
    }
    s
}

/// A directory name for point `index`: `p003-sample.thickness_nm=20-model.kind=born`, with
/// characters unsafe in file names replaced.
pub fn dir_name(index: usize, point: &Point) -> String {
    let mut s = format!("p{index:03}");
    for (k, v) in point {
        let _ = write!(s, "-{k}={}", display_value(v));
    }
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.=".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(DIR_NAME_MAX)
        .collect()
}

/// Longest point directory name, in (ASCII) characters: file systems allow 255 bytes; the
/// index prefix keeps cut names unique, and `sweep.csv` has every value.
const DIR_NAME_MAX: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Scenario {
        Scenario::parse("schema = \"mro.scenario/1\"\nname = \"b\"\n").unwrap()
    }

    #[test]
    fn multislice_points_on_different_default_band_limits_are_warned_about() {
        let run = |extra: &str| {
            let text = format!(
                "schema = \"mro.scenario/1\"\nname = \"b\"\n[model]\nkind = \"multislice\"\n{extra}\
                 [[sweep]]\nkey = \"sample.thickness_nm\"\nvalues = [10, 20, 30]\n"
            );
            let s = Scenario::parse(&text).unwrap();
            let points: Vec<Scenario> = (0..3)
                .map(|i| apply(&s, &point_at(&s.sweep, i)).unwrap())
                .collect();
            let band: Vec<Option<f64>> = points.iter().map(defaulted_band_limit).collect();
            let mut per_point: Vec<(usize, Vec<String>)> =
                (0..3).map(|i| (i, Vec::new())).collect();
            warn_band_limit_spread(&mut per_point, &band);
            (band, warnings_by_point(per_point))
        };
        let (band, warned) = run("");
        assert_eq!(band, vec![Some(15.36), Some(15.36), Some(20.0)]);
        assert_eq!(warned.len(), 1);
        assert!(warned[0].0.contains("15.36, 20 nm⁻¹"), "{}", warned[0].0);
        assert_eq!(warned[0].1, vec![0, 1, 2]);
        let (band, warned) = run("band_limit_per_nm = 20.0\n");
        assert_eq!(band, vec![None; 3]);
        assert!(warned.is_empty());
    }

    #[test]
    fn parses_sets_and_builds_the_product() {
        let a: SetArg = "sample.thickness_nm=5,10,20".parse().unwrap();
        let b: SetArg = "model.kind=born,multislice".parse().unwrap();
        assert_eq!(a.values[1], toml::Value::Integer(10));
        assert_eq!(b.values[0], toml::Value::String("born".into()));
        let p = points(&[a, b]);
        assert_eq!(p.len(), 6);
        assert_eq!(label(&p[3]), "sample.thickness_nm=10,model.kind=multislice");
        let c: SetArg = "scan.points=[64, 64],[32,32]".parse().unwrap();
        assert_eq!(c.values.len(), 2);
    }

    #[test]
    fn applies_with_coercion_and_validation() {
        let p: Point = vec![
            ("sample.thickness_nm".into(), toml::Value::Integer(10)),
            ("clusters[1].diameter_nm".into(), toml::Value::Float(2.0)),
            ("model.kind".into(), toml::Value::String("born".into())),
            (
                "detector.electrons_per_pattern".into(),
                toml::Value::String("inf".into()),
            ),
        ];
        let s = apply(&base(), &p).unwrap();
        assert_eq!(s.sample.thickness_nm, 10.0);
        assert_eq!(s.clusters[1].diameter_nm, 2.0);
        assert_eq!(s.model.kind, mro_sim::spec::ModelKind::Born);
        assert!(s.detector.noise_free());
    }

    /// The error of applying one `key = value` to the default scenario.
    fn refusal(key: &str, value: toml::Value) -> String {
        apply(&base(), &vec![(key.into(), value)]).unwrap_err().0
    }

    /// Whether two keys overlap, both well formed.
    fn overlaps(a: &str, b: &str) -> bool {
        overlap(&parse_key(a).unwrap(), &parse_key(b).unwrap())
    }

    #[test]
    fn a_star_index_sets_every_element() {
        let p: Point = vec![("clusters[*].diameter_nm".into(), toml::Value::Integer(2))];
        let s = apply(&base(), &p).unwrap();
        assert_eq!(s.clusters.len(), 5);
        assert!(s.clusters.iter().all(|c| c.diameter_nm == 2.0));
        let none = Scenario::parse("schema = \"mro.scenario/1\"\nclusters = []\n").unwrap();
        let e = apply(&none, &p).unwrap_err();
        assert!(e.0.contains("the array is empty"), "{e}");
        for bad in [
            "clusters[*].diametr_nm",
            "clusters[x].diameter_nm",
            "clusters[-1].diameter_nm",
            "clusters[ 0 ].diameter_nm",
            "sample[*].thickness_nm",
        ] {
            let e = refusal(bad, toml::Value::Integer(2));
            assert!(e.contains("no such scenario key"), "{bad}: {e}");
        }
        let e = refusal("clusters[*].volume_fraction", toml::Value::Float(0.2));
        assert!(e.contains("volume_fraction"), "{e}");
    }

    #[test]
    fn defaults_that_follow_other_keys_can_be_swept() {
        let b = base();
        assert!(b.model.band_limit_per_nm.is_none());
        let s = apply(
            &b,
            &vec![("model.band_limit_per_nm".into(), toml::Value::Integer(30))],
        )
        .unwrap();
        assert_eq!(s.model.band_limit_per_nm, Some(30.0));
        // The others keep following their keys.
        assert!(s.analysis.radial_step_per_nm.is_none());
        assert!(s.analysis.symmetries.is_none());
        let s = apply(
            &b,
            &vec![(
                "analysis.radial_step_per_nm".into(),
                toml::Value::Float(0.2),
            )],
        )
        .unwrap();
        assert_eq!(s.analysis.radial_step_per_nm, Some(0.2));
        assert!(s.model.band_limit_per_nm.is_none());
        // A key that takes a name or a table sweeps from one form to the other.
        let fixed: toml::Value =
            toml::from_str::<toml::Table>("v = { fixed = 0.5 }").unwrap()["v"].clone();
        let s = apply(&b, &vec![("analysis.threshold".into(), fixed)]).unwrap();
        let table = toml::Value::try_from(&s).unwrap();
        assert_eq!(
            table["analysis"]["threshold"]["fixed"].as_float(),
            Some(0.5)
        );
        // A typo is still no key.
        let e = apply(
            &b,
            &vec![("model.band_limit_per_n".into(), toml::Value::Float(30.0))],
        )
        .unwrap_err();
        assert!(e.0.contains("no such scenario key"), "{e}");
    }

    #[test]
    fn overlapping_axes_empty_values_and_bad_indices_are_refused() {
        let two: Point = vec![
            ("clusters[0].diameter_nm".into(), toml::Value::Float(1.5)),
            ("clusters[*].diameter_nm".into(), toml::Value::Float(2.0)),
        ];
        let e = apply(&base(), &two).unwrap_err();
        assert!(
            e.0.contains("sets the same value as the axis clusters[0]"),
            "{e}"
        );
        let zeros: Point = vec![
            ("clusters[00].diameter_nm".into(), toml::Value::Float(1.5)),
            ("clusters[0].diameter_nm".into(), toml::Value::Float(2.0)),
        ];
        assert!(apply(&base(), &zeros).is_err());
        // A missing index is said as such, not as an overlap with the `[*]` axis.
        let missing: Point = vec![
            ("clusters[*].diameter_nm".into(), toml::Value::Float(2.0)),
            ("clusters[99].diameter_nm".into(), toml::Value::Float(1.5)),
        ];
        let e = apply(&base(), &missing).unwrap_err();
        assert!(e.0.contains("index out of range"), "{e}");
        assert!(!overlaps(
            "clusters[0].diameter_nm",
            "clusters[1].diameter_nm"
        ));
        assert!(overlaps("clusters", "clusters[*].diameter_nm"));
        assert!(overlaps("clusters[0]", "clusters[0].diameter_nm"));
        assert!(overlaps("sample.extent_nm[0]", "sample.extent_nm"));
        assert!(!overlaps("sample.extent_nm", "sample.thickness_nm"));
        assert!(!overlaps("clusters[1]", "clusters[0].diameter_nm"));
        assert!(!overlaps(
            "clusters[*].diameter_nm",
            "clusters[*].volume_fraction"
        ));
        assert!("seed=1,,2"
            .parse::<SetArg>()
            .unwrap_err()
            .contains("empty value"));
        assert!("seed=1,2,".parse::<SetArg>().is_err());
        assert!("seed=,"
            .parse::<SetArg>()
            .unwrap_err()
            .contains("no values"));
        let e = refusal("clusters[7].diameter_nm", toml::Value::Float(2.0));
        assert!(
            e.contains("index out of range: the scenario has 5 `clusters` entries"),
            "{e}"
        );
        let e = refusal("model.window_oversampling", toml::Value::Integer(-1));
        assert!(!e.contains("line "), "{e}");
        let e = refusal("model.aperture_sampling", toml::Value::Integer(1));
        assert!(e.contains("expected \"area\" or \"point\""), "{e}");
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        let e = apply(
            &base(),
            &vec![("sample.thicknes_nm".into(), toml::Value::Integer(1))],
        )
        .unwrap_err();
        assert!(
            e.0.contains("sample.thicknes_nm: no such scenario key"),
            "{e}"
        );
        let e = apply(
            &base(),
            &vec![("sample.thickness_nm".into(), toml::Value::Integer(-4))],
        )
        .unwrap_err();
        assert!(e.0.contains("field `sample.thickness_nm` = -4"), "{e}");
        let e = apply(
            &base(),
            &vec![("model.kind".into(), toml::Value::String("magic".into()))],
        )
        .unwrap_err();
        assert!(e.0.contains("unknown variant `magic`"), "{e}");
        let e = apply(
            &base(),
            &vec![("scan.points".into(), toml::Value::Boolean(true))],
        )
        .unwrap_err();
        assert!(e.0.contains("expected a value of type array"), "{e}");
        assert!("nokey".parse::<SetArg>().is_err());
    }

    #[test]
    fn command_line_axes_replace_or_extend_the_files() {
        let file: Vec<SetArg> = vec![
            "sample.thickness_nm=5,10".parse().unwrap(),
            "model.kind=born".parse().unwrap(),
        ];
        let cli: Vec<SetArg> = vec![
            "model.kind=kinematic,multislice".parse().unwrap(),
            "seed=1,2".parse().unwrap(),
        ];
        let axes = merge_axes(&file, &cli);
        let keys: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["sample.thickness_nm", "model.kind", "seed"]);
        assert_eq!(axes[1].values, cli[0].values);
        assert_eq!(axes[0].values, file[0].values);
        assert_eq!(points(&axes).len(), 8);
        assert_eq!(point_count(&axes), Some(8));
        for (i, p) in points(&axes).iter().enumerate() {
            assert_eq!(&point_at(&axes, i), p);
        }
        let huge: Vec<SetArg> = (0..70)
            .map(|i| format!("k{i}=1,2").parse().unwrap())
            .collect();
        assert_eq!(point_count(&huge), None);
        assert_eq!(merge_axes(&file, &[]), file);
    }

    #[test]
    fn scenario_sweep_tables_are_checked_and_dropped_from_points() {
        let text = "schema = \"mro.scenario/1\"\n[[sweep]]\nkey = \"sample.thickness_nm\"\nvalues = [5, 10]\n";
        let s = Scenario::parse(text).unwrap();
        assert_eq!(s.sweep.len(), 1);
        assert_eq!(Scenario::parse(&s.resolved_toml()).unwrap(), s);
        let point = apply(
            &s,
            &vec![("sample.thickness_nm".into(), s.sweep[0].values[1].clone())],
        )
        .unwrap();
        assert_eq!(point.sample.thickness_nm, 10.0);
        assert!(point.sweep.is_empty());
        let twice = format!("{text}[[sweep]]\nkey = \"sample.thickness_nm\"\nvalues = [6]\n");
        let e = Scenario::parse(&twice).unwrap_err();
        assert!(e.0.contains("field `sweep[1].key`"), "{e}");
        let empty = "schema = \"mro.scenario/1\"\n[[sweep]]\nkey = \"seed\"\nvalues = []\n";
        let e = Scenario::parse(empty).unwrap_err();
        assert!(e.0.contains("field `sweep[0].values`"), "{e}");
    }

    #[test]
    fn directory_names_are_safe() {
        let p: Point = vec![("clusters[0].diameter_nm".into(), toml::Value::Float(1.5))];
        assert_eq!(dir_name(3, &p), "p003-clusters_0_.diameter_nm=1.5");
        let long: Point = (0..20)
            .map(|i| (format!("clusters[*].key_{i}"), toml::Value::Float(1.5)))
            .collect();
        assert_eq!(dir_name(12, &long).len(), DIR_NAME_MAX);
        assert!(dir_name(12, &long).starts_with("p012-"));
    }
}
