//! `[sample] atoms = "FILE"`: atom files written by other programs, imaged by mro.
//!
//! - one atom in a large cell, read from an extended XYZ file and imaged with the kinematic
//!   model, diffracts as |f_e(k)|² (Lobato) to 1 % in its azimuthal mean;
//! - files ASE writes (extended XYZ, LAMMPS data) read back with ASE's positions and species;
//! - `mro validate` runs end to end on an atom file, with and without a truth file, and an atom
//!   file made from mro's own glass images as that glass does.

use std::path::Path;

use mro_core::npy::NpyReader;
use mro_sim::atom_file::read_atom_file;
use mro_sim::scattering::fe_nm;

use crate::support::{expect_exit, python_with, run_mro};

/// The datacube of `dir/datacube.npy` as `[pattern][pixel]` and its `[det_y, det_x]`.
fn cube(dir: &Path) -> (Vec<Vec<f32>>, [usize; 2]) {
    let mut r = NpyReader::open(&dir.join("datacube.npy")).unwrap();
    let s = r.shape().to_vec();
    let px = s[2] * s[3];
    let patterns = (0..s[0] * s[1])
        .map(|i| {
            let mut p = vec![0f32; px];
            r.read_f32_at(i * px, &mut p).unwrap();
            p
        })
        .collect();
    (patterns, [s[2], s[3]])
}

/// One Zr atom at the corner of a 20 × 20 × 0.2 nm cell (extended XYZ, Å), imaged by one
/// noise-free kinematic pattern with the probe on the atom (scan position (0, 0)), no focal
/// spread and no detector blur.
///
/// What is compared and why it is exact: outside the bright-field disk the kinematic pattern is
/// σ²·|A ⊛ V|²(k), the hard aperture disk A (radius α/λ = 0.58 nm⁻¹, sampled on the probe
/// window's reciprocal grid, 0.08 nm⁻¹ at the default `window_oversampling = 2`, edge pixels
/// weighted by their share of the disk) convolved with
/// the atom's potential V ∝ f_e (Lobato; real, as the atom sits at the probe centre), summed over
/// each detector pixel's window samples with its area weights. Ring means (0.16 nm⁻¹
/// rings, 1.5–8.5 nm⁻¹: outside the disk and inside the compact window's full-accuracy range,
/// see `crates/sim/tests/forward.rs`) of the pattern are compared, up to one constant, with
/// (1) that discrete convolution computed here directly — the same quantity, so agreement to
/// float32 rounding (10⁻⁴) — and (2) plain f_e(k)² from 2.5 nm⁻¹ out, to 1 %: the convolution is
/// f_e·|A| up to the curvature term ≈ α²∇²f_e/(8 f_e), 1.5 % at 1.6 nm⁻¹ for Zr but 0.4 % by
/// 2.5 nm⁻¹ (measured by (1)).
#[test]
fn one_atom_from_an_xyz_file_diffracts_as_fe_squared() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("one.xyz"),
        "1\nLattice=\"200.0 0.0 0.0 0.0 200.0 0.0 0.0 0.0 2.0\" \
         Properties=species:S:1:pos:R:3 pbc=\"T T T\"\nZr 0.0 0.0 1.0\n",
    )
    .unwrap();
    let scenario = d.path().join("one.toml");
    std::fs::write(
        &scenario,
        "schema = \"mro.scenario/1\"\nname = \"one-atom\"\n[sample]\natoms = \"one.xyz\"\n\
         [microscope]\ncc_mm = 0.0\n[scan]\npoints = [1, 1]\nstep_nm = 0.32\n\
         [detector]\npixels = [128, 128]\nelectrons_per_pattern = \"inf\"\npsf_sigma_px = 0.0\n\
         [model]\nprobe_tail_background = false\n",
    )
    .unwrap();
    let out = d.path().join("sim");
    expect_exit(&run_mro(&[&"simulate", &scenario, &"--out", &out]), 0);
    let (patterns, [ny, nx]) = cube(&out);
    let dk = 0.16;
    let aperture = mro_core::optics::ProbeOptics {
        voltage_kv: 300.0,
        semiangle_mrad: 1.15,
    }
    .aperture_radius_per_nm();
    // The aperture's pixels on the probe window's reciprocal grid, Δk/m with the default
    // window_oversampling m = 2, and the detector pixel as their Simpson's-rule integral
    // (weights 1/3, 4/3, 1/3 per axis: the samples on a pixel edge are shared; the trapezoid
    // rule is kept only within the aperture's reach, below the rings compared here). The
    // probe-tail background is off: it mixes in ring means, which is not what this checks.
    // Each aperture pixel carries the share of its cell inside the disk (the default area
    // sampling; 64 × 64 points per cell here).
    let fine = dk / 2.0;
    let disk: Vec<([f64; 2], f64)> = (-16i32..=16)
        .flat_map(|i| (-16i32..=16).map(move |j| [fine * f64::from(i), fine * f64::from(j)]))
        .map(|q| {
            let inside = (0..64 * 64)
                .filter(|s| {
                    let y = q[0] + fine * (((s / 64) as f64 + 0.5) / 64.0 - 0.5);
                    let x = q[1] + fine * (((s % 64) as f64 + 0.5) / 64.0 - 0.5);
                    y.hypot(x) <= aperture
                })
                .count();
            (q, inside as f64 / 4096.0)
        })
        .filter(|&(_, w)| w > 0.0)
        .collect();
    let sample = |ky: f64, kx: f64| -> f64 {
        disk.iter()
            .map(|&(q, w)| w * fe_nm(40, (ky - q[0]).hypot(kx - q[1])))
            .sum::<f64>()
            .powi(2)
    };
    let taps = [(-fine, 1.0 / 3.0), (0.0, 4.0 / 3.0), (fine, 1.0 / 3.0)];
    let convolved = |ky: f64, kx: f64| -> f64 {
        taps.iter()
            .flat_map(|&(dy, wy)| taps.iter().map(move |&(dx, wx)| (dy, dx, wy * wx)))
            .map(|(dy, dx, w)| w * sample(ky + dy, kx + dx))
            .sum()
    };
    let (cy, cx) = ((ny / 2) as f64, (nx / 2) as f64);
    let rings = 45;
    let mut sums = vec![(0.0f64, 0.0f64, 0.0f64); rings];
    for (p, &v) in patterns[0].iter().enumerate() {
        let (ky, kx) = (dk * ((p / nx) as f64 - cy), dk * ((p % nx) as f64 - cx));
        let k = ky.hypot(kx);
        if (1.5..8.5).contains(&k) {
            let ring = ((k - 1.5) / dk) as usize;
            sums[ring].0 += f64::from(v);
            sums[ring].1 += fe_nm(40, k).powi(2);
            sums[ring].2 += convolved(ky, kx);
        }
    }
    // Each ring's ratio to the mean ratio over rings from `k_min`: worst deviation and where.
    let flatness = |reference: fn(&(f64, f64, f64)) -> f64, k_min: f64| {
        let ratios: Vec<(f64, f64)> = sums
            .iter()
            .enumerate()
            .map(|(i, s)| (1.5 + (i as f64 + 0.5) * dk, s.0 / reference(s)))
            .filter(|&(k, r)| k >= k_min && r.is_finite())
            .collect();
        let mean = ratios.iter().map(|r| r.1).sum::<f64>() / ratios.len() as f64;
        ratios
            .iter()
            .map(|&(k, r)| ((r / mean - 1.0).abs(), k))
            .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
    };
    let (conv, k_conv) = flatness(|s| s.2, 1.5);
    let (plain, k_plain) = flatness(|s| s.1, 2.5);
    eprintln!(
        "one Zr atom: ring mean against (A ⊛ f_e)² deviates at most {conv:.1e} (k = {k_conv:.2} nm⁻¹, \
         1.5–8.5 nm⁻¹); against f_e² {plain:.5} (k = {k_plain:.2} nm⁻¹, 2.5–8.5 nm⁻¹)"
    );
    assert!(
        conv < 1e-4,
        "against the aperture-convolved f_e²: {conv} at k = {k_conv} nm⁻¹"
    );
    assert!(plain < 0.01, "against f_e²: {plain} at k = {k_plain} nm⁻¹");
}

/// ASE writes a random Zr–Co–Al configuration as extended XYZ, as a LAMMPS data file with its
/// `Masses` (atom_style atomic) and as one without masses (atom_style charge, elements from
/// `type_elements`); mro reads each back with ASE's species and positions (to 10⁻⁹ nm, below
/// the 10⁻⁸ Å ASE prints) and its cell, refuses ASE's triclinic cells, and images the XYZ file.
#[test]
fn files_ase_writes_read_back_and_image() {
    let Some(python) = python_with(&["ase"]) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let script = r#"
import json, sys
import numpy as np
from ase import Atoms
from ase.io import write
out = sys.argv[1]
rng = np.random.default_rng(5)
cell = [41.7, 38.3, 21.9]
symbols = [str(s) for s in rng.choice(["Zr", "Co", "Al"], size=60)]
atoms = Atoms(symbols=symbols, positions=rng.uniform(0, 1, (60, 3)) * cell, cell=cell, pbc=True)
write(out + "/ase.xyz", atoms, format="extxyz")
write(out + "/ase.data", atoms, format="lammps-data", masses=True,
      specorder=["Zr", "Co", "Al"], atom_style="atomic")
write(out + "/ase_charge.data", atoms, format="lammps-data",
      specorder=["Zr", "Co", "Al"], atom_style="charge")
tilted = atoms.copy()
tilted.set_cell([[41.7, 0, 0], [6.0, 38.3, 0], [0, 0, 21.9]])
write(out + "/tilted.xyz", tilted, format="extxyz")
write(out + "/tilted.data", tilted, format="lammps-data", masses=True, atom_style="atomic")
json.dump({"symbols": symbols, "positions": atoms.get_positions().tolist(), "cell": cell},
          open(out + "/ase.json", "w"))
"#;
    let run = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(d.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("ase.json")).unwrap()).unwrap();
    let symbols: Vec<&str> = want["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let z_of = |s: &str| match s {
        "Zr" => 40u8,
        "Co" => 27,
        _ => 13,
    };
    let names = ["Zr", "Co", "Al"].map(String::from);
    for (file, types) in [
        ("ase.xyz", &[][..]),
        ("ase.data", &[][..]),
        ("ase_charge.data", &names[..]),
    ] {
        let got = read_atom_file(&d.path().join(file), types)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .atoms;
        for (l, want) in got.extent_nm.iter().zip([4.17, 3.83, 2.19]) {
            assert!((l - want).abs() < 1e-12, "{file}: cell {:?}", got.extent_nm);
        }
        assert_eq!(
            got.atomic_numbers,
            symbols.iter().map(|s| z_of(s)).collect::<Vec<_>>(),
            "{file}"
        );
        for (i, p) in got.positions_nm.iter().enumerate() {
            for (axis, &v) in p.iter().enumerate() {
                let a = want["positions"][i][axis].as_f64().unwrap() / 10.0;
                assert!(
                    (v - a).abs() < 1e-9,
                    "{file}: atom {i} axis {axis}: {v} vs {a}"
                );
            }
        }
    }
    for file in ["tilted.xyz", "tilted.data"] {
        let e = read_atom_file(&d.path().join(file), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("triclinic"), "{file}: {e}");
    }
    // mro images the ASE file: four noise-free patterns.
    let scenario = d.path().join("ase.toml");
    std::fs::write(
        &scenario,
        "schema = \"mro.scenario/1\"\nname = \"ase\"\n[sample]\natoms = \"ase.xyz\"\n\
         [scan]\npoints = [2, 2]\nstep_nm = 0.5\n\
         [detector]\npixels = [64, 64]\nelectrons_per_pattern = \"inf\"\n",
    )
    .unwrap();
    let out = d.path().join("sim");
    expect_exit(&run_mro(&[&"simulate", &scenario, &"--out", &out]), 0);
    let (patterns, _) = cube(&out);
    assert_eq!(patterns.len(), 4);
    assert!(patterns
        .iter()
        .all(|p| p.iter().all(|v| v.is_finite() && *v >= 0.0) && p.iter().any(|&v| v > 0.0)));
}

/// `a` and `b` hold the same keys, strings and booleans, and numbers equal to 10⁻¹² relative.
fn same_json(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                "{at}: {x} vs {y}"
            );
        }
        (V::Array(x), V::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                same_json(u, v, &format!("{at}[{i}]"));
            }
        }
        (V::Object(x), V::Object(y)) => {
            assert!(x.keys().eq(y.keys()), "{at}: keys differ");
            for (k, u) in x {
                same_json(u, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// The scan, detector and seed both scenarios of the end-to-end test share.
const SHARED: &str = "seed = 11\n[scan]\npoints = [8, 8]\nstep_nm = 0.5\n\
                      [detector]\npixels = [64, 64]\nelectrons_per_pattern = \"inf\"\n";

/// `mro glass` writes atoms.xyz and truth.json; a scenario imaging that file with that truth
/// simulates the datacube the glass's own scenario does (up to the 10⁻⁶ nm atoms.xyz prints),
/// and `mro validate` runs on it end to end: no no-MRO control (said in score.json and the
/// report), tolerances judged against the truth file; without the truth file, none judged.
#[test]
fn an_atom_file_validates_end_to_end_and_images_as_its_glass() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let glass_toml = p.join("glass.toml");
    std::fs::write(
        &glass_toml,
        format!(
            "schema = \"mro.scenario/1\"\nname = \"built\"\n{SHARED}\
             [sample]\nextent_nm = [6.0, 6.0]\nthickness_nm = 3.0\n\
             [[clusters]]\nsymmetry = 4\ndiameter_nm = 1.5\nvolume_fraction = 0.03\n\
             orientation = \"aligned\"\n"
        ),
    )
    .unwrap();
    expect_exit(
        &run_mro(&[&"glass", &glass_toml, &"--out", &p.join("glass")]),
        0,
    );
    expect_exit(
        &run_mro(&[&"simulate", &glass_toml, &"--out", &p.join("direct")]),
        0,
    );
    let file_toml = p.join("file.toml");
    let with_truth = format!(
        "schema = \"mro.scenario/1\"\nname = \"file\"\n{SHARED}\
         [sample]\natoms = \"glass/atoms.xyz\"\ntruth = \"glass/truth.json\"\n"
    );
    std::fs::write(&file_toml, &with_truth).unwrap();
    let check = expect_exit(&run_mro(&[&"check", &file_toml]), 0);
    assert!(
        check.contains("(extended XYZ):") && check.contains("6.0000 × 6.0000 × 3.0000 nm cell"),
        "{check}"
    );
    expect_exit(
        &run_mro(&[&"simulate", &file_toml, &"--out", &p.join("file")]),
        0,
    );
    // meta.json stamps the file it imaged: its length and zlib's CRC-32 of its bytes.
    let bytes = std::fs::read(p.join("glass/atoms.xyz")).unwrap();
    let provenance = |dir: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(p.join(dir).join("meta.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["provenance"].clone()
    };
    let crc = format!("{:08x}", crc32fast::hash(&bytes));
    assert_eq!(
        provenance("file")["atoms_file"],
        serde_json::json!({"bytes": bytes.len(), "crc32": crc})
    );
    assert!(provenance("direct").get("atoms_file").is_none());
    let (a, _) = cube(&p.join("direct"));
    let (b, _) = cube(&p.join("file"));
    let peak = a.iter().flatten().fold(0f32, |m, &v| m.max(v));
    let worst = a
        .iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(
        worst < 1e-3 * peak,
        "largest difference {worst} of peak {peak}"
    );
    // Multislice sees depth too: the file's open beam axis (pbc="T T F") keeps the atoms on
    // the exit surface there (wrapped, they moved to the entrance: 7 % rms per pixel).
    let multislice = "[model]\nkind = \"multislice\"\n";
    std::fs::write(
        p.join("glass_ms.toml"),
        std::fs::read_to_string(&glass_toml).unwrap() + multislice,
    )
    .unwrap();
    std::fs::write(p.join("file_ms.toml"), with_truth.clone() + multislice).unwrap();
    for (toml, out) in [("glass_ms.toml", "direct_ms"), ("file_ms.toml", "file_ms")] {
        expect_exit(
            &run_mro(&[&"simulate", &p.join(toml), &"--out", &p.join(out)]),
            0,
        );
    }
    let (a, _) = cube(&p.join("direct_ms"));
    let (b, _) = cube(&p.join("file_ms"));
    let peak = a.iter().flatten().fold(0f32, |m, &v| m.max(v));
    // The scattered pixels alone (the bright-field disk would hide a difference there).
    let (diff, sum) = a
        .iter()
        .flatten()
        .zip(b.iter().flatten())
        .filter(|(x, _)| **x < 0.01 * peak)
        .fold((0f64, 0f64), |(d, s), (x, y)| {
            (d + f64::from((x - y).abs()), s + f64::from(*x))
        });
    assert!(
        diff < 1e-3 * sum,
        "multislice of the file differs from its glass's by {:.2e} of the scattered intensity",
        diff / sum
    );
    // The truth file is passed through (serde_json reads floats to within an ulp).
    let json = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p.join(f)).unwrap()).unwrap()
    };
    same_json(
        &json("direct/truth.json"),
        &json("file/truth.json"),
        "truth",
    );

    let out = run_mro(&[&"validate", &file_toml, &"--out", &p.join("v")]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(matches!(out.status.code(), Some(0 | 3)), "{stdout}");
    assert!(
        stdout.contains(
            "MRO detectability not assessed (no no-MRO control: atoms from a file: no clusters to remove)"
        ),
        "{stdout}"
    );
    // The truth file was passed through with the glass's own run; the analysis records the
    // imaging run without a seed (it did not build these atoms), so scoring compares none.
    let v_analysis: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("v/analysis.json")).unwrap()).unwrap();
    assert_eq!(
        v_analysis["provenance"],
        serde_json::json!({"scenario": "file"})
    );
    assert!(!p.join("v/control").exists());
    let score: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("v/score.json")).unwrap()).unwrap();
    assert_eq!(
        score["control_skipped"],
        "atoms from a file: no clusters to remove"
    );
    assert!(score.get("detectability").is_none() && score.get("not_judged").is_none());
    assert!(score["rows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["within_tolerance"].is_boolean()));

    std::fs::write(
        &file_toml,
        with_truth.replace("truth = \"glass/truth.json\"\n", ""),
    )
    .unwrap();
    let stdout = expect_exit(
        &run_mro(&[&"validate", &file_toml, &"--out", &p.join("v2")]),
        0,
    );
    assert!(stdout.contains("no tolerance judged"), "{stdout}");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("v2/truth.json")).unwrap()).unwrap();
    assert_eq!(truth["clusters"].as_array().unwrap().len(), 0);
    let score = std::fs::read_to_string(p.join("v2/score.json")).unwrap();
    assert!(
        !score.contains("NaN") && score.contains("\"not_judged\""),
        "{score}"
    );
    let report = std::fs::read_to_string(p.join("v2/report.md")).unwrap();
    assert!(report.contains("no clusters to remove") && report.contains("no tolerance judged"));
}

/// A swept atom file is the scenario file's (a [[sweep]] table) or the working directory's
/// (`--set`), as `[sample] atoms` is; `sweep.toml` stores it absolute, so the sweep resumes
/// from any directory.
#[test]
fn swept_atom_files_are_found_from_any_directory() {
    let d = tempfile::tempdir().unwrap();
    let sub = d.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    for name in ["a.xyz", "b.xyz"] {
        std::fs::write(
            sub.join(name),
            "1\nLattice=\"20.0 0.0 0.0 0.0 20.0 0.0 0.0 0.0 20.0\" \
             Properties=species:S:1:pos:R:3 pbc=\"T T F\"\nZr 1.0 1.0 1.0\n",
        )
        .unwrap();
    }
    std::fs::write(
        sub.join("s.toml"),
        "schema = \"mro.scenario/1\"\nname = \"swept\"\n[sample]\natoms = \"a.xyz\"\n\
         [scan]\npoints = [1, 1]\n\
         [detector]\npixels = [64, 64]\nelectrons_per_pattern = \"inf\"\n\
         [[sweep]]\nkey = \"sample.atoms\"\nvalues = [\"a.xyz\", \"b.xyz\"]\n",
    )
    .unwrap();
    let in_dir = |dir: &Path, args: &[&str]| {
        crate::support::mro()
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap()
    };
    // From the parent: the table's paths are the scenario file's.
    expect_exit(
        &in_dir(d.path(), &["sweep", "sub/s.toml", "--out", "run"]),
        0,
    );
    let stored = std::fs::read_to_string(d.path().join("run/sweep.toml")).unwrap();
    let a = std::path::absolute(sub.join("a.xyz")).unwrap();
    assert!(stored.contains(&a.display().to_string()), "{stored}");
    // Resumed from elsewhere (a Slurm task runs from its own directory): both points done.
    let sweep_toml = d.path().join("run/sweep.toml");
    let out = d.path().join("run");
    let again = in_dir(
        &sub,
        &[
            "sweep",
            sweep_toml.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        expect_exit(&again, 0).contains("2 already done"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    // --set takes the working directory's.
    expect_exit(
        &in_dir(
            &sub,
            &[
                "sweep",
                "s.toml",
                "--set",
                "sample.atoms=b.xyz",
                "--out",
                "one",
            ],
        ),
        0,
    );
    let stored = std::fs::read_to_string(sub.join("one/sweep.toml")).unwrap();
    let b = std::path::absolute(sub.join("b.xyz")).unwrap();
    assert!(stored.contains(&b.display().to_string()), "{stored}");
}
