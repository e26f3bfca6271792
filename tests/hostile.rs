//! Issue 13: odd, broken and hostile inputs to `mro analyze` / `mro info`, each reproduced from a
//! small file. None may panic, hang or report a number for something undefined.

use std::path::{Path, PathBuf};

use mro_core::{npy, Calibration, Meta};

use crate::support::{expect_exit, run_mro};

const SCAN: [usize; 2] = [6, 7];
const DET: usize = 32;
/// True pattern centre `[y, x]`, deliberately off the pixel grid and off N/2.
const CENTRE: [f64; 2] = [15.4, 16.3];

/// A deterministic datacube `[6, 7, 32, 32]`: a bright probe disk, a diffuse halo and a ring at
/// k = 4 nm⁻¹ (13.3 px at 0.3 nm⁻¹/px) whose azimuthal modulation varies with scan position,
/// plus integer-valued pseudo-noise.
fn clean_cube() -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 7) as f32
    };
    let mut v = Vec::with_capacity(SCAN[0] * SCAN[1] * DET * DET);
    for sy in 0..SCAN[0] {
        for sx in 0..SCAN[1] {
            let n = 2 + 2 * ((sy + sx) % 3);
            for y in 0..DET {
                for x in 0..DET {
                    let (dy, dx) = (y as f64 - CENTRE[0], x as f64 - CENTRE[1]);
                    let r = dy.hypot(dx);
                    let phi = dy.atan2(dx);
                    let disk = if r < 3.0 { 400.0 } else { 0.0 };
                    let ring = 60.0
                        * (-((r - 13.3) / 1.5).powi(2)).exp()
                        * (1.0 + 0.5 * (n as f64 * phi + sx as f64).cos());
                    v.push((disk + ring + 20.0 * (-r / 8.0).exp()) as f32 + noise());
                }
            }
        }
    }
    v
}

fn meta() -> Meta {
    Meta::new(
        Calibration::new(0.3, 0.5, CENTRE, 300.0, 1.15, Some(20.0)).unwrap(),
        None,
    )
}

/// Writes `values` as `dir/name/datacube.npy` with meta.json beside it; returns the cube path.
fn write_case(dir: &Path, name: &str, scan: [usize; 2], values: &[f32]) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let cube = d.join("datacube.npy");
    npy::write_f32(&cube, &[scan[0], scan[1], DET, DET], values).unwrap();
    std::fs::write(d.join("meta.json"), meta().to_json()).unwrap();
    cube
}

fn analyze(cube: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"analyze", &cube, &"--out", &out, &"--no-figures"];
    for a in extra {
        args.push(a);
    }
    run_mro(&args)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 2, no panic, and every needle in the message.
fn refused(out: &std::process::Output, needles: &[&str]) {
    expect_exit(out, 2);
    let e = stderr(out);
    assert!(!e.contains("panicked"), "{e}");
    for n in needles {
        assert!(e.contains(n), "`{n}` not in: {e}");
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn stuck_pixel_is_masked_and_the_refined_centre_stays_put() {
    let dir = tempfile::tempdir().unwrap();
    let clean = write_case(dir.path(), "clean", SCAN, &clean_cube());
    let mut v = clean_cube();
    for f in 0..SCAN[0] * SCAN[1] {
        v[f * DET * DET + 3 * DET + 25] = 65535.0;
    }
    let hot = write_case(dir.path(), "hot", SCAN, &v);
    let out = analyze(&clean, &dir.path().join("a"), &["--refine-center"]);
    expect_exit(&out, 0);
    let out = analyze(&hot, &dir.path().join("b"), &["--refine-center"]);
    expect_exit(&out, 0);
    assert!(
        stderr(&out).contains("1 hot detector pixel(s) masked (y, x): [3, 25]"),
        "{}",
        stderr(&out)
    );
    let screening = json(&dir.path().join("b/screening.json"));
    assert_eq!(screening["hot_pixels"], serde_json::json!([[3, 25]]));
    let (a, b) = (
        json(&dir.path().join("a/analysis.json")),
        json(&dir.path().join("b/analysis.json")),
    );
    for i in 0..2 {
        let c = b["center"]["used_px"][i].as_f64().unwrap();
        assert!((c - CENTRE[i]).abs() < 0.5, "centre {c} vs {}", CENTRE[i]);
    }
    assert_eq!(b["input"]["masked_pixels"], 1);
    let (va, vb) = (
        a["variance"]["v_r_at_ring"].as_f64().unwrap(),
        b["variance"]["v_r_at_ring"].as_f64().unwrap(),
    );
    assert!((va - vb).abs() <= 0.05 * va.abs(), "V_r {vb} vs clean {va}");
}

#[test]
fn dark_frames_non_finite_values_and_empty_cubes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let frame = DET * DET;
    let mut v = clean_cube();
    // A blank flyback column: scan x = 6 in every row.
    for y in 0..SCAN[0] {
        let f = y * SCAN[1] + 6;
        v[f * frame..(f + 1) * frame]
            .iter_mut()
            .for_each(|x| *x = 0.0);
    }
    let c = write_case(dir.path(), "flyback", SCAN, &v);
    refused(
        &analyze(&c, &dir.path().join("o1"), &[]),
        &["6 of 42 frames are dark", "[0, 6]", "datacube.npy"],
    );

    let mut v = clean_cube();
    v[5 * frame + 100] = f32::NAN;
    v[9 * frame + 7] = f32::NEG_INFINITY;
    let c = write_case(dir.path(), "nan", SCAN, &v);
    refused(
        &analyze(&c, &dir.path().join("o2"), &[]),
        &["2 values in 2 of 42 frames are NaN or infinite", "[0, 5]"],
    );

    let n = SCAN[0] * SCAN[1] * frame;
    let c = write_case(dir.path(), "allnan", SCAN, &vec![f32::NAN; n]);
    refused(&analyze(&c, &dir.path().join("o3"), &[]), &["no signal"]);
    let c = write_case(dir.path(), "zero", SCAN, &vec![0.0; n]);
    refused(&analyze(&c, &dir.path().join("o4"), &[]), &["no signal"]);
    let c = write_case(dir.path(), "one", [1, 1], &clean_cube()[..frame]);
    refused(
        &analyze(&c, &dir.path().join("o5"), &[]),
        &["scan 1 × 1", "at least 2 scan points"],
    );
}

#[test]
fn negative_counts_warn_with_their_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = clean_cube();
    v.iter_mut().take(123).for_each(|x| *x = -1.0);
    let c = write_case(dir.path(), "neg", SCAN, &v);
    let out = analyze(&c, &dir.path().join("o"), &[]);
    expect_exit(&out, 0);
    assert!(
        stderr(&out).contains("123 values are negative"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        json(&dir.path().join("o/screening.json"))["negative_values"],
        123
    );
}

#[test]
fn errors_name_the_file_and_key_the_user_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = write_case(d, "c", SCAN, &clean_cube());
    let meta_path = d.join("c/meta.json");

    // Without meta.json every missing calibration value is named at once.
    let bare = d.join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    let bare_cube = bare.join("datacube.npy");
    std::fs::copy(&c, &bare_cube).unwrap();
    refused(
        &analyze(&bare_cube, &d.join("o_bare"), &["--voltage-kv", "300"]),
        &[
            "no calibration for these values",
            "--k-pixel-per-nm, --scan-step-nm, --semiangle-mrad, --center-px Y,X",
        ],
    );

    // A negative calibration value reaches the range check (not clap's "unexpected argument").
    refused(
        &analyze(&c, &d.join("o_neg"), &["--k-pixel-per-nm", "-1"]),
        &["--k-pixel-per-nm = -1", "nm⁻¹"],
    );
    // --center-px takes Y,X as the help says.
    expect_exit(
        &analyze(&c, &d.join("o0"), &["--center-px", "15.4,16.3"]),
        0,
    );
    // Centre outside the detector, from the flag and from meta.json.
    refused(
        &analyze(&c, &d.join("o1"), &["--center-px", "-3,16"]),
        &["--center-px = [-3, 16]", "32 × 32 detector"],
    );
    let other = Meta::new(
        Calibration::new(0.3, 0.5, [64.0, 64.0], 300.0, 1.15, None).unwrap(),
        None,
    );
    let other_path = d.join("meta_128.json");
    std::fs::write(&other_path, other.to_json()).unwrap();
    refused(
        &analyze(&c, &d.join("o2"), &["--meta", other_path.to_str().unwrap()]),
        &[
            "meta_128.json: field `calibration.center_px` = [64, 64]",
            "32 × 32 detector",
        ],
    );
    // A ring beyond the detector names the config file and its key.
    let cfg = d.join("far.toml");
    std::fs::write(&cfg, "[analysis]\nk_per_nm = 4.4\n").unwrap();
    refused(
        &analyze(&c, &d.join("o3"), &["--config", cfg.to_str().unwrap()]),
        &["far.toml: field `analysis.k_per_nm` = 4.4"],
    );
    // A mask that hides the whole ring names the mask.
    let mask = d.join("ring_mask.npy");
    let m: Vec<f32> = (0..DET * DET)
        .map(|p| {
            let (y, x) = ((p / DET) as f64 - CENTRE[0], (p % DET) as f64 - CENTRE[1]);
            f32::from(y.hypot(x) > 10.0)
        })
        .collect();
    npy::write_f32(&mask, &[DET, DET], &m).unwrap();
    refused(
        &analyze(&c, &d.join("o4"), &["--mask", mask.to_str().unwrap()]),
        &["the mask", "ring_mask.npy", "hides every pixel of the ring"],
    );
    // A mask over half the detector is measured, with a warning that names the gap.
    let half = d.join("half_mask.npy");
    let h: Vec<f32> = (0..DET * DET)
        .map(|p| f32::from((p % DET) < DET / 2))
        .collect();
    npy::write_f32(&half, &[DET, DET], &h).unwrap();
    let out = analyze(&c, &d.join("o4h"), &["--mask", half.to_str().unwrap()]);
    expect_exit(&out, 0);
    assert!(
        stderr(&out).contains("half_mask.npy: the mask hides 46 %")
            && stderr(&out).contains("% of the analysis ring"),
        "{}",
        stderr(&out)
    );
    // A byte-order mark is skipped; a three-value centre is named with its file.
    std::fs::write(&meta_path, format!("\u{feff}{}", meta().to_json())).unwrap();
    expect_exit(&analyze(&c, &d.join("o5"), &[]), 0);
    std::fs::write(
        &meta_path,
        meta().to_json().replace("16.3\n", "16.3, 2.0\n"),
    )
    .unwrap();
    refused(
        &analyze(&c, &d.join("o6"), &[]),
        &["meta.json: field `calibration.center_px` = [15.4,16.3,2.0]"],
    );
    // No doubled prefix.
    std::fs::write(&meta_path, meta().to_json().replace("0.3,", "-0.3,")).unwrap();
    let out = analyze(&c, &d.join("o7"), &[]);
    refused(&out, &["field `calibration.k_pixel_per_nm` = -0.3"]);
    assert!(!stderr(&out).contains("calibration.calibration"));
    std::fs::write(&meta_path, meta().to_json()).unwrap();
    let out = analyze(&c, &d.join("o8"), &["--semiangle-mrad=-1"]);
    refused(&out, &["--semiangle-mrad = -1"]);
}

#[test]
fn overflowing_npy_shapes_are_refused_at_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let header = |shape: &str| {
        let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        let mut dict = dict.into_bytes();
        while (10 + dict.len() + 1) % 64 != 0 {
            dict.push(b' ');
        }
        dict.push(b'\n');
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        v.extend_from_slice(&dict);
        v
    };
    let a = dir.path().join("a.npy");
    let mut bytes = header("(9223372036854775809, 2, 4, 4)");
    bytes.resize(192, 0);
    std::fs::write(&a, bytes).unwrap();
    let b = dir.path().join("b.npy");
    std::fs::write(&b, header("(1, 1, 2147483648, 2147483648)")).unwrap();
    for f in [&a, &b] {
        refused(
            &run_mro(&[&"info", f]),
            &["overflows a 64-bit size", "shape"],
        );
        refused(
            &analyze(f, &dir.path().join("o"), &["--center-px", "1,1"]),
            &["overflows a 64-bit size"],
        );
    }
}

/// A whole-atom potential that does not converge (uranium at 20 kV with a 200 nm⁻¹ band limit,
/// multislice's absorbing default) is a refusal naming the fields to change, not a panic.
#[test]
fn a_whole_atom_potential_that_does_not_converge_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    // Two uranium atoms in a 2 × 2 × 0.3 nm cell (extended XYZ, Å): no glass of U can be built
    // (it has no tabulated metallic radius), but an atom file can hold it.
    std::fs::write(
        dir.path().join("u.xyz"),
        "2\nLattice=\"20 0 0 0 20 0 0 0 3\" Properties=species:S:1:pos:R:3\nU 10 10 1\nU 5 5 2\n",
    )
    .unwrap();
    let f = dir.path().join("uranium.toml");
    std::fs::write(
        &f,
        "schema = \"mro.scenario/1\"\n\
         [sample]\natoms = \"u.xyz\"\n\
         [microscope]\nvoltage_kv = 20.0\nsemiangle_mrad = 30.0\n\
         [scan]\npoints = [1, 1]\n\
         [detector]\npixels = [32, 32]\nk_pixel_per_nm = 0.5\n\
         [model]\nkind = \"multislice\"\nwindow_oversampling = 1\nband_limit_per_nm = 200.0\n",
    )
    .unwrap();
    let stderr = {
        let out = run_mro(&[&"simulate", &f, &"--out", &dir.path().join("out")]);
        expect_exit(&out, 2);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(!stderr.contains("panicked"), "{stderr}");
    for want in [
        "Z = 92",
        "model.band_limit_per_nm",
        "absorb_beyond_band_limit",
    ] {
        assert!(stderr.contains(want), "expected {want:?} in {stderr}");
    }
}
