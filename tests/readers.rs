//! Issue 13 readers: EMPAD bytes as the detector writes them, NumPy 3-D stacks and bool masks
//! give the same numbers as the equivalent 4-D `.npy`.

use std::path::{Path, PathBuf};
use std::process::Command;

use mro_core::{npy, Calibration, Meta};

use crate::support::{expect_exit, python_with, run_mro};

/// `[sy, sx, 128, 128]` values with structure in every index, so a transposed or shifted
/// read cannot pass.
fn values(scan: [usize; 2]) -> Vec<f32> {
    let mut v = Vec::new();
    for f in 0..scan[0] * scan[1] {
        for y in 0..128usize {
            for x in 0..128usize {
                let r = ((y as f64 - 63.2).powi(2) + (x as f64 - 64.7).powi(2)).sqrt();
                let ring = 80.0
                    * (-((r - 40.0) / 3.0).powi(2)).exp()
                    * (1.0
                        + 0.4
                            * ((2 + f % 4) as f64 * (y as f64 - 63.2).atan2(x as f64 - 64.7))
                                .cos());
                v.push(
                    (ring + if r < 6.0 { 900.0 } else { 5.0 }) as f32
                        + ((f * 31 + y * 7 + x) % 11) as f32,
                );
            }
        }
    }
    v
}

/// The bytes an EMPAD writes: per frame 128 detector rows then 2 metadata rows, float32 LE.
fn empad_bytes(v: &[f32]) -> Vec<u8> {
    let mut b = Vec::new();
    for frame in v.chunks(128 * 128) {
        for x in frame {
            b.extend_from_slice(&x.to_le_bytes());
        }
        for i in 0..2 * 128 {
            b.extend_from_slice(&(1.0e9 + i as f32).to_le_bytes());
        }
    }
    b
}

fn meta_json(dir: &Path) -> PathBuf {
    let p = dir.join("meta.json");
    let cal = Calibration::new(0.1, 0.5, [63.2, 64.7], 300.0, 1.15, Some(20.0)).unwrap();
    std::fs::write(&p, Meta::new(cal, None).to_json()).unwrap();
    p
}

fn analysis(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("analysis.json")).unwrap()).unwrap()
}

#[test]
fn empad_with_xml_reads_the_same_numbers_as_npy_on_a_non_square_scan() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scan = [3, 5];
    let v = values(scan);
    let cube = d.join("cube.npy");
    npy::write_f32(&cube, &[3, 5, 128, 128], &v).unwrap();
    std::fs::write(d.join("scan_x5_y3.raw"), empad_bytes(&v)).unwrap();
    // The XML as the acquisition software writes it (Windows path, search and acquire blocks).
    std::fs::write(
        d.join("acquisition.xml"),
        "<?xml version=\"1.0\"?>\n<root>\n <raw_file filename=\"D:\\\\data\\\\scan_x5_y3.raw\"/>\n \
         <scan_parameters mode=\"search\"><scan_resolution_x>256</scan_resolution_x><scan_resolution_y>256</scan_resolution_y></scan_parameters>\n \
         <scan_parameters mode=\"acquire\"><scan_resolution_x>5</scan_resolution_x><scan_resolution_y>3</scan_resolution_y></scan_parameters>\n</root>\n",
    )
    .unwrap();
    let meta = meta_json(d);
    let run = |input: PathBuf, out: &str| {
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
        analysis(&o)
    };
    let a = run(cube.clone(), "npy");
    let b = run(d.join("scan_x5_y3.raw"), "raw");
    let c = run(d.join("acquisition.xml"), "xml");
    assert_eq!(a["input"]["scan_shape"], serde_json::json!([3, 5]));
    for other in [&b, &c] {
        assert_eq!(other, &a, "EMPAD analysis differs from .npy");
    }
    let info = expect_exit(&run_mro(&[&"info", &d.join("scan_x5_y3.raw")]), 0);
    assert!(
        info.contains("format: empad")
            && info.contains("3 × 5 scan points, 128 × 128 detector pixels")
            && info.contains("acquisition.xml"),
        "{info}"
    );
    // The metadata rows (1e9) never reach the values.
    assert!(info.contains("max 9.1"), "{info}");
}

#[test]
fn numpy_stacks_and_bool_masks_read_as_written() {
    let Some(py) = python_with(&["numpy"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scan = [2, 3];
    let v = values(scan);
    npy::write_f32(&d.join("cube.npy"), &[2, 3, 128, 128], &v).unwrap();
    let status = Command::new(&py)
        .arg("-c")
        .arg(
            "import sys, numpy as np\n\
             d = sys.argv[1]\n\
             a = np.load(d + '/cube.npy')\n\
             np.save(d + '/stack.npy', a.reshape(6, 128, 128).astype('>u2'))\n\
             m = np.zeros((128, 128), bool); m[60:68, 10:20] = True\n\
             np.save(d + '/mask.npy', m)\n\
             np.save(d + '/mask_u1.npy', m.astype('u1'))\n\
             np.save(d + '/cube_u2.npy', a.astype('>u2'))\n",
        )
        .arg(d)
        .status()
        .unwrap();
    assert!(status.success());
    let meta = meta_json(d);
    let run = |input: &str, extra: &[&str], out: &str| {
        let o = d.join(out);
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"analyze"];
        let input = d.join(input);
        args.push(&input);
        for e in extra {
            args.push(e);
        }
        args.extend([
            &"--meta" as &dyn AsRef<std::ffi::OsStr>,
            &meta,
            &"--no-figures",
            &"--out",
            &o,
        ]);
        expect_exit(&run_mro(&args), 0);
        analysis(&o)
    };
    let mask = d.join("mask.npy");
    let mask_u1 = d.join("mask_u1.npy");
    let a = run("cube_u2.npy", &["--mask", mask_u1.to_str().unwrap()], "a");
    let b = run(
        "stack.npy",
        &["--scan-shape", "2,3", "--mask", mask.to_str().unwrap()],
        "b",
    );
    assert_eq!(a["input"]["masked_pixels"], 80);
    assert_eq!(a, b, "3-D stack + bool mask differ from 4-D + u1 mask");
    let info = expect_exit(&run_mro(&[&"info", &mask]), 0);
    assert!(
        info.contains("dtype:  bool") && info.contains("detector mask"),
        "{info}"
    );
    let info = expect_exit(&run_mro(&[&"info", &d.join("stack.npy")]), 0);
    assert!(info.contains("--scan-shape"), "{info}");
}
