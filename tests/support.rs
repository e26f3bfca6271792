//! Helpers shared by the integration tests.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A Python 3 interpreter with numpy, installing numpy with pip if it is missing.
pub fn python_with_numpy() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let python =
                PathBuf::from(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()));
            let has_numpy = |p: &PathBuf| {
                Command::new(p)
                    .args(["-c", "import numpy"])
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
            };
            if !has_numpy(&python) {
                let status = Command::new(&python)
                    .args(["-m", "pip", "install", "--quiet", "numpy"])
                    .status()
                    .expect("python3 runs");
                assert!(status.success(), "pip install numpy failed");
            }
            assert!(
                has_numpy(&python),
                "numpy is not importable after installing it"
            );
            python
        })
        .clone()
}

/// Runs a Python snippet with numpy, failing the test with its stderr if it fails.
pub fn run_python(code: &str, args: &[&str]) -> String {
    let out = Command::new(python_with_numpy())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The `mro` binary built for these tests.
pub fn mro() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mro"))
}

/// Runs `mro` with `args` and returns what it did.
pub fn run_mro(args: &[&dyn AsRef<OsStr>]) -> Output {
    mro()
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("the mro binary runs")
}

/// Asserts that `out` exited with `code`, showing both streams if not; returns its stdout.
pub fn expect_exit(out: &Output, code: i32) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `.toml` files in `dir`, sorted.
pub fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Width and height of a PNG file, read from its IHDR chunk.
pub fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}
