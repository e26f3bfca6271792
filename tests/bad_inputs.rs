//! Every file in `tests/data/bad-inputs/` fails the way its `.expected` file says (exit status
//! and a text of the error message), without a panic. `make.py` there rewrites the collection.

use crate::support::{repo, run_mro};

#[test]
fn bad_inputs_fail_with_their_documented_errors() {
    let dir = repo().join("tests/data/bad-inputs");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "expected"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "expected the bad-input collection, found {}",
        cases.len()
    );
    for spec in &cases {
        let file = spec.with_extension("");
        assert!(file.exists(), "{} has no input file", spec.display());
        let text = std::fs::read_to_string(spec).unwrap();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("{}: no `{key}` line", spec.display()))
                .trim()
                .to_string()
        };
        let out_dir = tempfile::tempdir().unwrap();
        let args: Vec<String> = field("args:")
            .split_whitespace()
            .map(|a| {
                a.replace("{file}", file.to_str().unwrap())
                    .replace("{dir}", dir.to_str().unwrap())
                    .replace("{out}", out_dir.path().join("out").to_str().unwrap())
            })
            .collect();
        let argv: Vec<&dyn AsRef<std::ffi::OsStr>> = args
            .iter()
            .map(|a| a as &dyn AsRef<std::ffi::OsStr>)
            .collect();
        let out = run_mro(&argv);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let status: i32 = field("exit:").parse().unwrap();
        assert_eq!(
            out.status.code(),
            Some(status),
            "{}: {stderr}",
            file.display()
        );
        assert!(!stderr.contains("panicked"), "{}: {stderr}", file.display());
        let needle = field("error:");
        assert!(
            stderr.contains(&needle),
            "{}: `{needle}` not in: {stderr}",
            file.display()
        );
    }
}
