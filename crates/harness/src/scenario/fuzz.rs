//! Property-test harness over scenario text (issue 13, item 3). `mro-harness` is a binary
//! crate, so a `cargo fuzz` target cannot link `Scenario::parse`; this harness stands in for
//! one: arbitrary text, and the shipped scenarios with one key replaced by an arbitrary value,
//! removed, or joined by an unknown one. Whatever the input, parsing returns `Ok` or an error
//! that names a field — never a panic — and whatever parses has a finite, non-negative cost and
//! prints back (`mro check`) to text that parses to the same scenario.

use proptest::prelude::*;

use super::Scenario;
use crate::cost::Cost;

/// The shipped scenarios the mutations start from: the paper's setup (the default, clusters and
/// all) and the smoke scenario (every section written out).
const BASES: [&str; 2] = [
    include_str!("../../../../scenarios/paper.toml"),
    include_str!("../../../../scenarios/smoke/tiny.toml"),
];

/// Every leaf key of `table` as a path of keys and array indices.
fn leaves(value: &toml::Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                path.push(Step::Key(k.clone()));
                leaves(v, path, out);
                path.pop();
            }
        }
        toml::Value::Array(a) if a.iter().any(|v| v.is_table()) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Step::Index(i));
                leaves(v, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// What happens to the chosen key.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(toml::Value),
    Remove,
    AddUnknown(String),
}

/// Values that probe the checks: extremes, non-finite floats, the wrong type, empty and odd
/// arrays, tables where a number belongs.
fn any_value() -> impl Strategy<Value = toml::Value> {
    let number = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        (-3i64..300).prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        prop::sample::select(vec![
            0.0,
            -0.0,
            1e-300,
            -1.0,
            1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.5,
            2.0,
            1e6,
        ])
        .prop_map(toml::Value::Float),
        (0.0f64..100.0).prop_map(toml::Value::Float),
    ];
    let leaf = prop_oneof![
        4 => number,
        1 => any::<bool>().prop_map(toml::Value::Boolean),
        1 => "[a-zA-Z0-9 ._/-]{0,12}".prop_map(toml::Value::String),
        1 => prop::sample::select(vec!["inf", "Zr", "multislice", "kinematic", "correlated", "icosahedral", "b2", "im2018", "mro"])
            .prop_map(|s| toml::Value::String(s.to_string())),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

fn any_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => any_value().prop_map(Mutation::Replace),
        1 => Just(Mutation::Remove),
        1 => "[a-z_]{1,10}".prop_map(Mutation::AddUnknown),
    ]
}

/// Applies `mutation` at `path` in `doc` (a path that no longer exists is left alone).
fn mutate(doc: &mut toml::Value, path: &[Step], mutation: &Mutation) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = doc;
    for step in parents {
        at = match (step, at) {
            (Step::Key(k), toml::Value::Table(t)) => match t.get_mut(k) {
                Some(v) => v,
                None => return,
            },
            (Step::Index(i), toml::Value::Array(a)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    let (Step::Key(key), toml::Value::Table(table)) = (last, at) else {
        return;
    };
    match mutation {
        Mutation::Replace(v) => {
            table.insert(key.clone(), v.clone());
        }
        Mutation::Remove => {
            table.remove(key);
        }
        Mutation::AddUnknown(k) => {
            table.insert(format!("{k}_unknown"), toml::Value::Integer(1));
        }
    }
}

/// The property: an error names a field; a scenario that parses has a finite, non-negative
/// cost and round-trips through its resolved text.
fn holds(text: &str) -> Result<(), TestCaseError> {
    match Scenario::parse(text) {
        Err(e) => {
            let message = e.to_string();
            // A syntax error has no field to name; it names the line and column instead.
            let syntax = toml::from_str::<toml::Table>(text).is_err();
            prop_assert!(
                message.contains("field `") || (syntax && message.contains(", column ")),
                "an error that names no field: {message}\n--- input:\n{text}"
            );
        }
        Ok(s) => {
            let cost = Cost::of(&s, 2, true);
            for v in [
                cost.atoms,
                cost.datacube_bytes,
                cost.peak_memory_bytes,
                cost.seconds.iter().sum(),
            ] {
                prop_assert!(v.is_finite() && v >= 0.0, "cost {cost:?} of\n{text}");
            }
            let again = Scenario::parse(&s.resolved_toml());
            prop_assert!(
                again.as_ref().is_ok_and(|a| *a == s),
                "resolved text does not parse back: {again:?}\n--- input:\n{text}"
            );
        }
    }
    Ok(())
}

// 256 cases each (proptest's default) take under a second; a longer run, as a fuzzer would
// make: `PROPTEST_CASES=100000 cargo test -p mro-harness --bin mro scenario::fuzz`.
proptest! {
    #[test]
    fn arbitrary_text_is_refused_or_parsed(text in "(schema = \"mro.scenario/1\"\n)?[ -~\n\\[\\]=\"]{0,200}") {
        holds(&text)?;
    }

    #[test]
    fn one_key_of_a_shipped_scenario_changed(
        base in 0..BASES.len(),
        pick in any::<prop::sample::Index>(),
        mutation in any_mutation(),
    ) {
        let mut doc: toml::Value = toml::from_str(BASES[base]).expect("a shipped scenario parses");
        let mut paths = Vec::new();
        leaves(&doc, &mut Vec::new(), &mut paths);
        let path = pick.get(&paths).clone();
        mutate(&mut doc, &path, &mutation);
        let text = toml::to_string(&doc).expect("a TOML value serialises");
        holds(&text)?;
    }
}
