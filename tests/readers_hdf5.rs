//! Issue 13 HDF5 reader: files written by h5py (chunked, gzip; py4DSTEM/EMD layout) give the
//! same analysis as the `.npy` of the same numbers.

use std::path::{Path, PathBuf};
use std::process::Command;

use mro_core::{npy, Calibration, Meta};

use crate::support::{expect_exit, run_mro};

/// A Python with h5py and NumPy in a virtual environment the test makes under the target
/// directory (never a global install). `None` with the reason printed when it cannot be made;
/// under CI (`CI=true`) that is a failure instead.
fn h5py_python() -> Option<PathBuf> {
    let has = |p: &Path| {
        Command::new(p)
            .args(["-c", "import h5py, numpy"])
            .status()
            .is_ok_and(|s| s.success())
    };
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("h5py-venv");
    let py = venv.join("bin/python");
    if !has(&py) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(&py)
                .args(["-m", "pip", "install", "--quiet", "h5py", "numpy"])
                .status()
                .is_ok_and(|s| s.success());
        if !made {
            let why = "no virtual environment with h5py could be made";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("SKIPPED: {why}");
            return None;
        }
    }
    Some(py)
}

/// `[sy, sx, dy, dx]` values with structure in every index, so a transposed or shifted read
/// cannot pass.
fn values(scan: [usize; 2], det: usize) -> Vec<f32> {
    let c = det as f64 / 2.0 - 0.3;
    let mut v = Vec::new();
    for f in 0..scan[0] * scan[1] {
        for y in 0..det {
            for x in 0..det {
                let r = ((y as f64 - c).powi(2) + (x as f64 - c).powi(2)).sqrt();
                let ring = 80.0
                    * (-((r - 20.0) / 2.0).powi(2)).exp()
                    * (1.0 + 0.4 * ((2 + f % 4) as f64 * (y as f64 - c).atan2(x as f64 - c)).cos());
                v.push(
                    (ring + if r < 4.0 { 900.0 } else { 5.0 }) as f32
                        + ((f * 31 + y * 7 + x) % 11) as f32,
                );
            }
        }
    }
    v
}

const WRITE: &str = r#"
import sys, h5py, numpy as np
d = sys.argv[1]
a = np.load(d + "/cube.npy")
with h5py.File(d + "/plain.h5", "w") as f:
    f.create_dataset("experiment/frames", data=a, chunks=(1, 2, a.shape[2], a.shape[3]), compression="gzip")
    f.create_dataset("experiment/dark", data=a[0, 0])
with h5py.File(d + "/emd.emd", "w") as f:
    f.attrs["version_major"] = 0
    g = f.create_group("4DSTEM_experiment/data/datacubes/datacube_0")
    g.attrs["emd_group_type"] = 1
    g.create_dataset("data", data=a, chunks=(2, 1, 16, a.shape[3]), compression="gzip", compression_opts=4)
    f.create_dataset("4DSTEM_simulation/other", data=np.zeros((1, 1, 2, 2), np.float32))
with h5py.File(d + "/two.h5", "w") as f:
    f.create_dataset("a", data=a)
    f.create_dataset("b/c", data=a)
"#;

/// Asserts exit status 2 and returns stderr.
fn refused(out: &std::process::Output) -> String {
    expect_exit(out, 2);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn h5py_chunked_gzip_and_emd_files_read_the_same_numbers_as_npy() {
    let Some(py) = h5py_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (scan, det) = ([3, 5], 64);
    let cube = d.join("cube.npy");
    npy::write_f32(&cube, &[3, 5, det, det], &values(scan, det)).unwrap();
    let ok = Command::new(&py)
        .args(["-c", WRITE])
        .arg(d)
        .status()
        .unwrap();
    assert!(ok.success(), "h5py could not write the test files");
    let meta = d.join("meta.json");
    let cal = Calibration::new(0.2, 0.5, [31.7, 31.7], 300.0, 1.15, Some(20.0)).unwrap();
    std::fs::write(&meta, Meta::new(cal, None).to_json()).unwrap();
    let run = |input: String, out: &str| {
        let o = d.join(out);
        expect_exit(
            &run_mro(&[
                &"analyze",
                &input,
                &"--meta",
                &meta,
                &"--no-figures",
                &"--out",
                &o,
            ]),
            0,
        );
        let text = std::fs::read_to_string(o.join("analysis.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let a = run(cube.display().to_string(), "npy");
    let b = run(
        format!("{}:/experiment/frames", d.join("plain.h5").display()),
        "plain",
    );
    let c = run(d.join("emd.emd").display().to_string(), "emd");
    assert_eq!(a["input"]["scan_shape"], serde_json::json!([3, 5]));
    assert_eq!(b, a, "chunked gzip HDF5 analysis differs from .npy");
    assert_eq!(c, a, "EMD datacube analysis differs from .npy");

    let info = expect_exit(&run_mro(&[&"info", &d.join("emd.emd")]), 0);
    assert!(
        info.contains("format: hdf5")
            && info.contains("3 × 5 scan points, 64 × 64 detector pixels")
            && info.contains("/4DSTEM_experiment/data/datacubes/datacube_0/data"),
        "{info}"
    );
    // Two 4-D datasets and no EMD group: refused, listing both.
    let two = d.join("two.h5");
    let err = refused(&run_mro(&[&"info", &two]));
    assert!(
        err.contains("two.h5") && err.contains("/a") && err.contains("/b/c"),
        "{err}"
    );
    // A dataset that is not 4-D, and one that does not exist: named with the file.
    let dark = format!("{}:/experiment/dark", d.join("plain.h5").display());
    let err = refused(&run_mro(&[&"info", &dark]));
    assert!(
        err.contains("plain.h5")
            && err.contains("/experiment/dark")
            && err.contains("4 dimensions"),
        "{err}"
    );
    let missing = format!("{}:/nope", d.join("plain.h5").display());
    let err = refused(&run_mro(&[&"info", &missing]));
    assert!(
        err.contains("plain.h5") && err.contains("/nope") && err.contains("/experiment/frames"),
        "{err}"
    );
}
