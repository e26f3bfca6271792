//! The tools under `tools/` run and their output scores: the NumPy external-estimate example.

use std::process::Command;

use crate::support::{expect_exit, python_with, repo, run_mro};

#[test]
fn numpy_estimate_is_scored_by_mro_score() {
    let Some(python) = python_with(&["numpy"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let scenario = repo().join("scenarios/smoke/tiny.toml");
    expect_exit(&run_mro(&[&"simulate", &scenario, &"--out", &sim]), 0);
    let estimate = dir.path().join("estimate.json");
    let out = Command::new(&python)
        .arg(repo().join("tools/estimate_numpy.py"))
        .arg(sim.join("datacube.npy"))
        .arg(sim.join("meta.json"))
        .arg("--out")
        .arg(&estimate)
        .args(["--in-condition", "1.0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let score_path = dir.path().join("score.json");
    let scored = run_mro(&[
        &"score",
        &sim.join("truth.json"),
        &estimate,
        &"--out",
        &score_path,
    ]);
    let score: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&score_path).unwrap()).unwrap();
    // Exit status 3 exactly when a score is outside its tolerance.
    let held = score["all_within_tolerance"].as_bool().unwrap();
    let stdout = expect_exit(&scored, if held { 0 } else { 3 });
    assert!(stdout.contains("numpy-example"), "{stdout}");
    assert_eq!(score["method"], "numpy-example");
    let rows = score["rows"].as_array().unwrap();
    // The planted 4- and 6-fold clusters are seen, with a diameter and its standard error.
    for n in [4, 6] {
        let d = rows
            .iter()
            .find(|r| r["quantity"] == "mean_diameter_nm" && r["symmetry"] == n)
            .unwrap();
        assert!(d["recovered"].as_f64().unwrap() > 0.0, "{d}");
        assert!(d["truth"].as_f64().unwrap() > 0.0, "{d}");
    }
    // A wrong schema is bad input, named.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"schema": "something/1"}"#).unwrap();
    let out = run_mro(&[&"score", &sim.join("truth.json"), &bad]);
    expect_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("schema") && err.contains("mro.estimate/1"),
        "{err}"
    );
    // Impossible values are bad input too, the field named.
    for (body, field) in [
        (r#""4": {"regions": -3}"#, "by_symmetry.4.regions"),
        (
            r#""4": {"mean_diameter_nm": -1.5}"#,
            "by_symmetry.4.mean_diameter_nm",
        ),
        (
            r#""4": {"volume_fraction": 7}"#,
            "by_symmetry.4.volume_fraction",
        ),
        // A value of the wrong type names its field too.
        (r#""4": {"regions": "three"}"#, "by_symmetry.4.regions"),
        (r#""99": {"regions": 3}"#, "by_symmetry.99"),
        (r#""four": {"regions": 3}"#, "by_symmetry.four"),
        // A key mro does not read (a misspelling) is refused, not ignored.
        (
            r#""4": {"volume_fraktion": 0.03}"#,
            "field `by_symmetry.4.volume_fraktion` is not a known field",
        ),
    ] {
        std::fs::write(
            &bad,
            format!(r#"{{"schema": "mro.estimate/1", "method": "x", "by_symmetry": {{{body}}}}}"#),
        )
        .unwrap();
        let out = run_mro(&[&"score", &sim.join("truth.json"), &bad]);
        expect_exit(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(field), "{body}: {err}");
    }
}
