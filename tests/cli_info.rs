//! `mro info` on good and bad files.

use mro_core::npy;

use crate::support::mro;

#[test]
fn info_reports_shape_calibration_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let cube = dir.path().join("datacube.npy");
    let values: Vec<f32> = (0..2 * 3 * 8 * 8).map(|i| i as f32).collect();
    npy::write_f32(&cube, &[2, 3, 8, 8], &values).unwrap();
    let out = mro().arg("info").arg(&cube).output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("shape:  [2, 3, 8, 8]"), "{s}");
    assert!(s.contains("float32"), "{s}");
    assert!(
        s.contains("min 0.000000e0") && s.contains("max 3.830000e2"),
        "{s}"
    );
    assert!(s.contains("mean 1.915000e2"), "{s}");
    assert!(s.contains("calibration: none"), "{s}");

    let cal = mro_core::Calibration::new(0.16, 0.32, [4.0, 4.0], 300.0, 1.15, Some(20.0)).unwrap();
    std::fs::write(
        dir.path().join("meta.json"),
        mro_core::Meta::new(cal, None).to_json(),
    )
    .unwrap();
    let s = String::from_utf8(mro().arg("info").arg(&cube).output().unwrap().stdout).unwrap();
    assert!(
        s.contains("k pixel      0.16 nm⁻¹") && s.contains("thickness    20 nm"),
        "{s}"
    );
}

#[test]
fn info_refuses_bad_files_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let cube = dir.path().join("cube.npy");
    npy::write_f32(&cube, &[2, 2, 4, 4], &[1.0; 64]).unwrap();
    let bytes = std::fs::read(&cube).unwrap();
    std::fs::write(&cube, &bytes[..bytes.len() - 3]).unwrap();
    let garbage = dir.path().join("garbage.npy");
    std::fs::write(&garbage, b"hello").unwrap();
    let bad_meta_dir = dir.path().join("m");
    std::fs::create_dir(&bad_meta_dir).unwrap();
    let good = bad_meta_dir.join("c.npy");
    npy::write_f32(&good, &[1, 1, 4, 4], &[1.0; 16]).unwrap();
    std::fs::write(bad_meta_dir.join("meta.json"), "{ not json").unwrap();
    for (file, needle) in [
        (cube.as_path(), "truncated"),
        (garbage.as_path(), "not a valid .npy file"),
        (dir.path(), "cube.npy"),
        (good.as_path(), "meta.json"),
    ] {
        let out = mro().arg("info").arg(file).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(!stderr.contains("panicked"), "{stderr}");
        if file != dir.path() {
            assert!(stderr.contains(needle), "{needle} not in {stderr}");
        }
    }
}
