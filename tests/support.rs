//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// A Python 3 that imports every one of `packages`, or `None` with the reason printed on
/// standard error (the caller then skips its test).
///
/// The system `python3` (or `$PYTHON`) is used when it already imports them; otherwise a virtual
/// environment of the tests' own is made once per test run under `target/` (PEP 668: nothing is
/// ever installed into the user's Python) and the packages are installed into it with pip.
/// Under `CI=true` a Python that cannot be had fails the test instead of skipping it.
pub fn python_with(packages: &[&str]) -> Option<PathBuf> {
    static MADE: Mutex<BTreeMap<Vec<String>, Option<PathBuf>>> = Mutex::new(BTreeMap::new());
    let key: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let python = made
        .entry(key)
        .or_insert_with(|| match make_python(packages) {
            Ok(python) => Some(python),
            Err(reason) => {
                eprintln!("SKIPPED: no Python with {}: {reason}", packages.join(", "));
                None
            }
        })
        .clone();
    if python.is_none() && std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "CI=true but no Python with {} could be had (see the SKIPPED message above)",
            packages.join(", ")
        );
    }
    python
}

/// The system Python if it imports `packages`, else a venv under `target/` with them.
fn make_python(packages: &[&str]) -> Result<PathBuf, String> {
    let imports = format!("import {}", packages.join(", "));
    let works = |p: &Path| {
        Command::new(p)
            .args(["-c", &imports])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let system = PathBuf::from(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()));
    if works(&system) {
        return Ok(system);
    }
    let venv =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("venv-{}", packages.join("-")));
    let python = venv.join("bin").join("python");
    if works(&python) {
        return Ok(python);
    }
    let step = |what: &str, cmd: &mut Command| -> Result<(), String> {
        let out = cmd
            .output()
            .map_err(|e| format!("{what}: cannot run {}: {e}", system.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    step(
        &format!("`{} -m venv {}`", system.display(), venv.display()),
        Command::new(&system).args(["-m", "venv"]).arg(&venv),
    )?;
    step(
        &format!(
            "`pip install {}` into {}",
            packages.join(" "),
            venv.display()
        ),
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .args(packages),
    )?;
    if works(&python) {
        Ok(python)
    } else {
        Err(format!("{} still cannot `{imports}`", python.display()))
    }
}

/// Runs a Python snippet with numpy and returns its standard output, failing the test with its
/// stderr if it fails; `None` (test skipped, see [`python_with`]) when no NumPy can be had.
pub fn run_python(code: &str, args: &[&str]) -> Option<String> {
    let python = python_with(&["numpy"])?;
    let out = Command::new(python)
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
    Some(String::from_utf8(out.stdout).expect("utf-8"))
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
