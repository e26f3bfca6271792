//! Every shipped scenario is valid, and every file in `scenarios/bad/` fails with exit status 2
//! and the message written on its `#^` lines.

use crate::support::{mro, repo, toml_files};

#[test]
fn shipped_scenarios_are_valid() {
    let root = repo().join("scenarios");
    let mut files = vec![
        root.join("paper.toml"),
        root.join("paper_as_published.toml"),
    ];
    for sub in ["smoke", "validation", "calibration"] {
        files.extend(toml_files(&root.join(sub)));
    }
    for f in files {
        let out = mro().arg("check").arg(&f).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("schema = \"mro.scenario/1\""), "{stdout}");
    }
}

#[test]
fn bad_scenarios_fail_with_their_documented_message() {
    let files = toml_files(&repo().join("scenarios/bad"));
    assert!(
        files.len() >= 15,
        "expected the bad-scenario collection, found {}",
        files.len()
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("#^ ")).collect();
        assert!(!expected.is_empty(), "{} has no #^ line", f.display());
        let out = mro().arg("check").arg(&f).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", f.display());
        assert!(!stderr.contains("panicked"), "{stderr}");
        let name = f.file_name().unwrap().to_str().unwrap();
        assert!(
            stderr.contains(name),
            "{name}: message does not name the file: {stderr}"
        );
        for e in expected {
            assert!(stderr.contains(e), "{name}: expected {e:?} in: {stderr}");
        }
    }
}

#[test]
fn check_resolves_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("min.toml");
    std::fs::write(
        &f,
        "schema = \"mro.scenario/1\"\n[sample]\nthickness_nm = 10.0\n",
    )
    .unwrap();
    let out = mro().arg("check").arg(&f).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    for key in [
        "thickness_nm = 10.0",
        "voltage_kv = 300.0",
        "symmetry = 10",
        "k_pixel_per_nm = 0.16",
    ] {
        assert!(stdout.contains(key), "missing {key} in {stdout}");
    }
}

#[test]
fn missing_scenario_file_is_bad_input() {
    let out = mro()
        .args(["check", "/nonexistent/scenario.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/scenario.toml"));
}
