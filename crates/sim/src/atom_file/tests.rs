//! Literal fixtures: the header variations ASE, OVITO and LAMMPS write, and malformed files.

use super::*;

fn xyz(text: &str) -> Result<AtomVolume, ParseError> {
    parse_atoms(text, AtomFormat::ExtendedXyz, &[])
}

fn close(a: [f64; 3], b: [f64; 3]) -> bool {
    a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12)
}

#[test]
fn ase_extended_xyz_is_read_in_nm_and_wrapped() {
    let v = xyz("3\nLattice=\"20.0 0.0 0.0 0.0 30.0 0.0 0.0 0.0 40.0\" \
                 Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n\
                 Zr 1.0 2.0 3.0\nCo 21.0 -1.0 39.0\nal 0 0 40.0\n")
    .unwrap();
    assert_eq!(v.extent_nm, [2.0, 3.0, 4.0]);
    assert_eq!(v.atomic_numbers, vec![40, 27, 13]);
    assert!(close(v.positions_nm[0], [0.1, 0.2, 0.3]));
    assert!(close(v.positions_nm[1], [0.1, 2.9, 3.9]));
    assert!(close(v.positions_nm[2], [0.0, 0.0, 0.0]));
}

#[test]
fn ovito_header_with_origin_extra_columns_and_lowercase_keys() {
    // OVITO: Origin, type names, extra per-atom columns before and after the position.
    let v = xyz("2\nlattice=\"10 0 0 0 10 0 0 0 10\" Origin=\"-5 -5 0\" \
                 properties=id:I:1:species:S:1:pos:R:3:c_pe:R:1 Time=0.0 energy={1 2}\n\
                 1 Zr -5.0 -4.0 1.0 -3.2\n2 Al 4.0 4.5 9.0 -1.1\n\n")
    .unwrap();
    assert_eq!(v.atomic_numbers, vec![40, 13]);
    assert!(close(v.positions_nm[0], [0.0, 0.1, 0.1]));
    assert!(close(v.positions_nm[1], [0.9, 0.95, 0.9]));
    // Atomic numbers instead of symbols, and ASE's default Properties when none is given.
    let v = xyz("1\nProperties=Z:I:1:pos:R:3 Lattice=\"5 0 0 0 5 0 0 0 5\"\n79 1 1 1\n").unwrap();
    assert_eq!(v.atomic_numbers, vec![79]);
    let v = xyz("1\nLattice=\"5 0 0 0 5 0 0 0 5\"\nAu 1 1 1\n").unwrap();
    assert_eq!(v.atomic_numbers, vec![79]);
}

fn xyz_error(text: &str) -> (Option<usize>, String) {
    let e = xyz(text).unwrap_err();
    (e.line, e.message)
}

#[test]
fn malformed_extended_xyz_names_the_line_and_what_was_expected() {
    let cell = "Lattice=\"10 0 0 0 10 0 0 0 10\"";
    let cases: Vec<(String, usize, &str)> = vec![
        ("two\nx\n".into(), 1, "expected a non-negative whole number"),
        ("2\n".into(), 2, "expected the comment line"),
        ("1\npbc=\"T T T\"\nZr 0 0 0\n".into(), 2, "no Lattice"),
        (
            "1\nLattice=\"10 0 0 1 10 0 0 0 10\"\nZr 0 0 0\n".into(),
            2,
            "not orthorhombic",
        ),
        (
            "1\nLattice=\"10 0 0\"\nZr 0 0 0\n".into(),
            2,
            "expected 9 numbers",
        ),
        (
            "1\nLattice=\"10 0 0 0 10 0 0 0 10\nZr 0 0 0\n".into(),
            2,
            "never closes",
        ),
        (
            "1\nLattice=\"10 0 0 0 -10 0 0 0 10\"\nZr 0 0 0\n".into(),
            2,
            "positive length",
        ),
        (
            format!("3\n{cell}\nZr 0 0 0\nZr 1 1 1\n"),
            5,
            "after 2 of 3 atoms",
        ),
        (format!("1\n{cell}\nZr 0 0\n"), 3, "3 columns: expected 4"),
        (format!("1\n{cell}\nQq 0 0 0\n"), 3, "species \"Qq\""),
        (
            format!("1\n{cell}\nZr 0 nan 0\n"),
            3,
            "y = NaN: expected a finite number",
        ),
        (
            format!("1\n{cell}\nZr 0 1e999 0\n"),
            3,
            "expected a finite number",
        ),
        (
            format!("1\n{cell}\nZr 0 0 0\n1\n{cell}\nZr 0 0 0\n"),
            4,
            "one configuration",
        ),
        (
            format!("99999999999999999999\n{cell}\n"),
            1,
            "expected a non-negative whole number",
        ),
        (
            format!("1000000001\n{cell}\n"),
            1,
            "at most 1000000000 atoms",
        ),
        (
            format!("1\n{cell} Properties=species:S:1:pos:R:2\nZr 0 0\n"),
            2,
            "`pos` has 2 columns",
        ),
        (
            format!("1\n{cell} Properties=species:S:1:vel:R:3\nZr 0 0 0\n"),
            2,
            "expected a `species:S:1`",
        ),
    ];
    for (text, line, needle) in cases {
        let (l, m) = xyz_error(&text);
        assert_eq!(l, Some(line), "{text:?}: {m}");
        assert!(m.contains(needle), "{text:?}: {m}");
    }
}

const DATA_ATOMIC: &str = "LAMMPS data file via write_data, timestep = 0

3 atoms
2 atom types

-5.0 5.0 xlo xhi
0.0 10.0 ylo yhi
0.0 20.0 zlo zhi

Masses

1 91.224
2 26.9815386

Atoms # atomic

1 1 -5.0 1.0 2.0 0 0 0
2 2 4.0 11.0 19.0 0 1 0
3 1 0.0 0.0 -1.0 0 0 -1

Velocities

1 0 0 0
2 0 0 0
3 0 0 0
";

#[test]
fn lammps_data_atomic_and_charge_with_masses_or_type_elements() {
    let v = parse_atoms(DATA_ATOMIC, AtomFormat::LammpsData, &[]).unwrap();
    assert_eq!(v.extent_nm, [1.0, 1.0, 2.0]);
    assert_eq!(v.atomic_numbers, vec![40, 13, 40]);
    assert!(close(v.positions_nm[0], [0.0, 0.1, 0.2]));
    assert!(close(v.positions_nm[1], [0.9, 0.1, 1.9]));
    assert!(close(v.positions_nm[2], [0.5, 0.0, 1.9]));
    // type_elements overrides the masses.
    let names = ["Cu".to_string(), "Ni".to_string()];
    let v = parse_atoms(DATA_ATOMIC, AtomFormat::LammpsData, &names).unwrap();
    assert_eq!(v.atomic_numbers, vec![29, 28, 29]);
    // atom_style charge, no style comment, no image flags, a tilt line of zeros.
    let charge = "ASE\n\n2 atoms\n1 atom types\n0 10 xlo xhi\n0 10 ylo yhi\n0 10 zlo zhi\n\
                  0.0 0.0 0.0 xy xz yz\n\nAtoms\n\n1 1 0.5 1 2 3\n2 1 -0.5 4 5 6\n";
    let v = parse_atoms(charge, AtomFormat::LammpsData, &["Au".to_string()]).unwrap();
    assert_eq!(v.atomic_numbers, vec![79, 79]);
    assert!(close(v.positions_nm[1], [0.4, 0.5, 0.6]));
}

#[test]
fn malformed_lammps_data_names_the_line_and_what_was_expected() {
    let replace = |from: &str, to: &str| DATA_ATOMIC.replacen(from, to, 1);
    let cases: Vec<(String, Option<usize>, &str)> = vec![
        (
            replace("3 atoms", "4 atoms"),
            None,
            "has 3 entries: expected 4",
        ),
        (
            replace("3 atoms", "2 atoms"),
            Some(19),
            "more than 2 entries",
        ),
        (replace("3 atoms\n", ""), None, "no `N atoms` line"),
        (replace("0.0 20.0 zlo zhi", ""), None, "no `zlo zhi` line"),
        (
            replace("0.0 20.0 zlo", "20.0 0.0 zlo"),
            None,
            "positive length",
        ),
        (
            replace("2 4.0 11.0", "3 4.0 11.0"),
            Some(18),
            "expected a type from 1 to 2",
        ),
        (
            replace("4.0 11.0 19.0", "4.0 inf 19.0"),
            Some(18),
            "expected a finite number",
        ),
        (
            replace("4.0 11.0 19.0 0 1 0", "4.0 11.0"),
            Some(18),
            "4 columns: expected 5",
        ),
        (replace("# atomic", "# full"), None, "`Atoms # full`"),
        (replace("2 26.9815386", "2 40.0"), Some(13), "Ar and Ca"),
        (replace("2 26.9815386", ""), Some(18), "type 2 has no mass"),
        (
            replace("zlo zhi\n", "zlo zhi\n1.0 0.0 0.0 xy xz yz\n"),
            Some(9),
            "tilt xy = 1.0",
        ),
    ];
    for (text, line, needle) in cases {
        let e = parse_atoms(&text, AtomFormat::LammpsData, &[]).unwrap_err();
        assert!(e.message.contains(needle), "{needle}: {}", e.message);
        assert_eq!(e.line, line, "{needle}: {}", e.message);
    }
    let e = parse_atoms(DATA_ATOMIC, AtomFormat::LammpsData, &["Zr".to_string()]).unwrap_err();
    assert!(
        e.message.contains("`type_elements` names 1"),
        "{}",
        e.message
    );
    let e = parse_atoms(DATA_ATOMIC, AtomFormat::LammpsData, &["Zz".to_string()]).unwrap_err();
    assert!(e.message.contains("\"Zz\""), "{}", e.message);
}

const DUMP: &str = "ITEM: TIMESTEP
1000
ITEM: NUMBER OF ATOMS
2
ITEM: BOX BOUNDS pp pp pp
0.0 10.0
-10.0 10.0
0.0 5.0
ITEM: ATOMS id type element xs ys zs
1 1 Zr 0.5 0.5 0.5
2 2 Co 1.25 -0.25 0.0
";

#[test]
fn lammps_dump_scaled_unscaled_element_or_type() {
    let v = parse_atoms(DUMP, AtomFormat::LammpsDump, &[]).unwrap();
    assert_eq!(v.extent_nm, [1.0, 2.0, 0.5]);
    assert_eq!(v.atomic_numbers, vec![40, 27]);
    assert!(close(v.positions_nm[0], [0.5, 1.0, 0.25]));
    assert!(close(v.positions_nm[1], [0.25, 1.5, 0.0]));
    let plain = DUMP
        .replace("id type element xs ys zs", "id type x y z")
        .replace("1 1 Zr 0.5 0.5 0.5", "1 1 5.0 0.0 2.5")
        .replace("2 2 Co 1.25 -0.25 0.0", "2 2 12.5 -15.0 0.0");
    let names = ["Zr".to_string(), "Co".to_string()];
    let w = parse_atoms(&plain, AtomFormat::LammpsDump, &names).unwrap();
    assert_eq!(w.atomic_numbers, v.atomic_numbers);
    for (a, b) in w.positions_nm.iter().zip(&v.positions_nm) {
        assert!(close(*a, *b), "{a:?} {b:?}");
    }
    let e = parse_atoms(&plain, AtomFormat::LammpsDump, &[]).unwrap_err();
    assert!(e.message.contains("no `element` column"), "{}", e.message);
}

#[test]
fn malformed_lammps_dumps_name_the_line_and_what_was_expected() {
    let cases: Vec<(String, usize, &str)> = vec![
        (
            format!("{DUMP}ITEM: TIMESTEP\n2000\n"),
            12,
            "a second frame",
        ),
        (
            DUMP.replace("NUMBER OF ATOMS\n2", "NUMBER OF ATOMS\n3"),
            12,
            "atom 3 of 3",
        ),
        (
            DUMP.replace("pp pp pp", "xy xz yz pp pp pp"),
            6,
            "2 values: expected 3",
        ),
        (
            DUMP.replace("pp pp pp", "xy xz yz pp pp pp")
                .replace("0.0 10.0\n", "0.0 10.0 2.0\n")
                .replace("-10.0 10.0\n", "-10.0 10.0 0.0\n")
                .replace("0.0 5.0\n", "0.0 5.0 0.0\n"),
            6,
            "tilt 2.0",
        ),
        (
            DUMP.replace("1 1 Zr 0.5 0.5 0.5", "1 1 Zr 0.5 0.5"),
            10,
            "5 columns: expected 6",
        ),
        (DUMP.replace("Co", "Xq"), 11, "element \"Xq\""),
        (
            DUMP.replace("xs ys zs", "vx vy vz"),
            9,
            "no position columns",
        ),
        (
            DUMP.replace("ITEM: NUMBER OF ATOMS\n2\n", ""),
            7,
            "before `ITEM: NUMBER OF ATOMS`",
        ),
        ("hello\n".into(), 1, "expected an `ITEM:` line"),
    ];
    for (text, line, needle) in cases {
        let e = parse_atoms(&text, AtomFormat::LammpsDump, &[]).unwrap_err();
        assert!(e.message.contains(needle), "{needle}: {}", e.message);
        assert_eq!(e.line, Some(line), "{needle}: {}", e.message);
    }
}

#[test]
fn format_is_chosen_by_extension_then_content() {
    let p = |s: &str| std::path::PathBuf::from(s);
    assert_eq!(
        AtomFormat::detect(&p("a.extxyz"), ""),
        AtomFormat::ExtendedXyz
    );
    assert_eq!(
        AtomFormat::detect(&p("a.lmp"), "5\n"),
        AtomFormat::LammpsData
    );
    assert_eq!(
        AtomFormat::detect(&p("a.lammpstrj"), ""),
        AtomFormat::LammpsDump
    );
    assert_eq!(
        AtomFormat::detect(&p("a"), "\nITEM: TIMESTEP\n"),
        AtomFormat::LammpsDump
    );
    assert_eq!(
        AtomFormat::detect(&p("a.txt"), " 12 \n"),
        AtomFormat::ExtendedXyz
    );
    assert_eq!(
        AtomFormat::detect(&p("a.txt"), "LAMMPS\n"),
        AtomFormat::LammpsData
    );
}

#[test]
fn read_atom_file_names_the_file() {
    let dir = std::env::temp_dir().join(format!("mro-atom-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.xyz");
    std::fs::write(&f, b"1\nLattice=\"1 0 0 0 1 0 0 0 1\"\nZr 0 0 \xff\n").unwrap();
    let e = read_atom_file(&f, &[]).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: not UTF-8", f.display())), "{e}");
    std::fs::write(&f, "1\nLattice=\"1 0 0 0 1 0 0 0 1\"\nZr 0 0\n").unwrap();
    let e = read_atom_file(&f, &[]).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: line 3: 3 columns: expected 4 (Properties=species:S:1:pos:R:3)",
            f.display()
        )
    );
    let e = read_atom_file(&dir.join("missing.xyz"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.xyz: cannot read"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Writing a volume as mro's extended XYZ and reading it back gives the same atoms
        /// (to the 10⁻⁶ nm the writer prints), every position inside the cell.
        #[test]
        fn written_xyz_reads_back(
            atoms in proptest::collection::vec(((0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0), 1u8..=103), 0..40),
            extent in (1.0f64..50.0, 1.0f64..50.0, 0.5f64..30.0),
        ) {
            let mut v = AtomVolume::new([extent.0, extent.1, extent.2]);
            for ((x, y, z), zn) in &atoms {
                v.push([x * extent.0, y * extent.1, z * extent.2], *zn);
            }
            let mut buf = Vec::new();
            crate::glass::write_extended_xyz_to(&v, &mut buf).unwrap();
            let back = xyz(std::str::from_utf8(&buf).unwrap()).unwrap();
            prop_assert_eq!(&back.atomic_numbers, &v.atomic_numbers);
            for (a, b) in back.positions_nm.iter().zip(&v.positions_nm) {
                for i in 0..3 {
                    let d = (a[i] - b[i]).abs();
                    // A coordinate within print precision of the far face wraps to 0.
                    let wrapped = (d - back.extent_nm[i]).abs();
                    prop_assert!(d < 2e-6 || wrapped < 2e-6, "{:?} {:?}", a, b);
                    prop_assert!(a[i] >= 0.0 && a[i] < back.extent_nm[i]);
                }
            }
        }

        /// No text makes a reader panic.
        #[test]
        fn arbitrary_text_never_panics(text in "[ -~\n]{0,300}") {
            for f in [AtomFormat::ExtendedXyz, AtomFormat::LammpsData, AtomFormat::LammpsDump] {
                let _ = parse_atoms(&text, f, &[]);
            }
        }
    }
}

#[test]
fn an_open_axis_keeps_its_atoms_where_they_are() {
    // mro's own glass writes pbc="T T F": an atom on the exit surface stays there (wrapping
    // it would move it to the entrance surface and change every multislice pattern).
    let text = |pbc: &str, z: &str| {
        format!(
            "2\nLattice=\"10 0 0 0 10 0 0 0 50\" Properties=species:S:1:pos:R:3 pbc=\"{pbc}\"\n\
             Zr 11.0 -1.0 50.0\nAl 1 1 {z}\n"
        )
    };
    let v = xyz(&text("T T F", "0")).unwrap();
    assert!(close(v.positions_nm[0], [0.1, 0.9, 5.0]));
    let v = xyz(&text("T T T", "0")).unwrap();
    assert!(close(v.positions_nm[0], [0.1, 0.9, 0.0]));
    // Rounding just beyond the surface is put on it; beyond that it is an error with the line.
    let v = xyz(&text("T T F", "-1e-12")).unwrap();
    assert_eq!(v.positions_nm[1][2], 0.0);
    let e = xyz(&text("T T F", "50.5")).unwrap_err();
    assert_eq!(e.line, Some(4));
    assert!(
        e.message.contains("z = 50.5 Å") && e.message.contains("open"),
        "{}",
        e.message
    );
    let e = xyz(&text("T T", "0")).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("three flags"), "{}", e.message);
    // A dump's `ff` (or `fs`, `ss`, `mm`) is open, `pp` periodic.
    let dump = DUMP
        .replace("pp pp pp", "pp pp ff")
        .replace("0.5 0.5 0.5", "0.5 0.5 1.0");
    let v = parse_atoms(&dump, AtomFormat::LammpsDump, &[]).unwrap();
    assert!(close(v.positions_nm[0], [0.5, 1.0, 0.5]));
    let v = parse_atoms(
        &DUMP.replace("0.5 0.5 0.5", "0.5 0.5 1.0"),
        AtomFormat::LammpsDump,
        &[],
    )
    .unwrap();
    assert!(close(v.positions_nm[0], [0.5, 1.0, 0.0]));
    let e = parse_atoms(
        &dump.replace("0.5 0.5 1.0", "0.5 0.5 1.5"),
        AtomFormat::LammpsDump,
        &[],
    )
    .unwrap_err();
    assert_eq!(e.line, Some(10));
}

#[test]
fn broken_ids_far_coordinates_and_extra_type_elements_are_refused() {
    let data = |from: &str, to: &str| DATA_ATOMIC.replace(from, to);
    // Two atoms under one id (line 19 repeats id 1 given on line 17).
    let e = parse_atoms(
        &data("3 1 0.0 0.0 -1.0", "1 1 0.0 0.0 -1.0"),
        AtomFormat::LammpsData,
        &[],
    )
    .unwrap_err();
    assert_eq!(e.line, Some(19));
    assert!(
        e.message.contains("given twice (first on line 17)"),
        "{}",
        e.message
    );
    let e = parse_atoms(&data("3 1 0.0", "-3 1 0.0"), AtomFormat::LammpsData, &[]).unwrap_err();
    assert!(e.message.contains("positive whole number"), "{}", e.message);
    // A coordinate 10⁴ cells away cannot be wrapped faithfully; a few cells can.
    let e = parse_atoms(
        &data("3 1 0.0 0.0 -1.0", "3 1 1e300 0.0 -1.0"),
        AtomFormat::LammpsData,
        &[],
    )
    .unwrap_err();
    assert!(e.message.contains("cells"), "{}", e.message);
    let v = parse_atoms(
        &data("3 1 0.0 0.0 -1.0", "3 1 30.5 0.0 -1.0"),
        AtomFormat::LammpsData,
        &[],
    )
    .unwrap();
    assert!(close(v.positions_nm[2], [0.55, 0.0, 1.9]));
    // A data file states its types: `type_elements` names each, no more.
    let three = ["Zr", "Al", "Co"].map(String::from);
    let e = parse_atoms(DATA_ATOMIC, AtomFormat::LammpsData, &three).unwrap_err();
    assert!(e.message.contains("names 3"), "{}", e.message);
    assert!(e.in_type_elements, "the list, not the file, is at fault");
    // An extended XYZ names its elements: `type_elements` beside it is refused, not ignored.
    let xyz = "1\nLattice=\"5 0 0 0 5 0 0 0 5\" Properties=species:S:1:pos:R:3\nZr 1 1 1\n";
    assert!(parse_atoms(xyz, AtomFormat::ExtendedXyz, &[]).is_ok());
    let e = parse_atoms(xyz, AtomFormat::ExtendedXyz, &["Co".to_string()]).unwrap_err();
    assert!(e.message.contains("extended XYZ"), "{}", e.message);
    assert!(e.in_type_elements);
    // A fault of the file itself is not the list's.
    let e = parse_atoms(
        "1\nLattice=\"5 0 0 0 5 0 0 0 5\"\n",
        AtomFormat::ExtendedXyz,
        &[],
    )
    .unwrap_err();
    assert!(!e.in_type_elements, "{}", e.message);
}
