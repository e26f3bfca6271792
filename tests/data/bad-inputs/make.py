#!/usr/bin/env python3
"""Writes the bad-input collection (standard library only; run from anywhere).

Each FILE has FILE.expected beside it: the mro command to run (`{file}` is the bad file,
`{dir}` this directory, `{out}` a fresh output directory), its exit status and a text its
error message must contain. Files starting with `_` are shared good inputs. Checked by
tests/bad_inputs.rs.
"""
import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
DET = 16


def npy(name, shape, values, descr="<f4", pad_to=None):
    dims = "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, dims)
    while (10 + len(d) + 1) % 64:
        d += " "
    d += "\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode()
    fmt = {"<f4": "<f", "<f8": "<d", "|b1": "<?"}[descr]
    data += b"".join(struct.pack(fmt, v) for v in values)
    if pad_to:
        data = data.ljust(pad_to, b"\0")
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def frame(seed):
    out = []
    for y in range(DET):
        for x in range(DET):
            r = math.hypot(y - 7.6, x - 8.2)
            ring = 50 * math.exp(-(((r - 6.8) / 1.2) ** 2)) * (1 + 0.5 * math.cos((2 + 2 * (seed % 3)) * math.atan2(y - 7.6, x - 8.2)))
            out.append((300.0 if r < 2.5 else 0.0) + ring + 10 * math.exp(-r / 5) + (seed * 7 + y * 3 + x) % 5)
    return out


def cube(n):
    return [v for s in range(n) for v in frame(s)]


def expect(name, args, status, text):
    with open(os.path.join(HERE, name + ".expected"), "w") as f:
        f.write(f"args: {args}\nexit: {status}\nerror: {text}\n")


meta = {
    "schema": "mro.meta/1",
    "calibration": {"k_pixel_per_nm": 0.6, "scan_step_nm": 0.5, "center_px": [7.6, 8.2],
                    "voltage_kv": 300.0, "semiangle_mrad": 1.15},
}
npy("_cube.npy", [3, 3, DET, DET], cube(9))
with open(os.path.join(HERE, "_meta.json"), "w") as f:
    json.dump(meta, f, indent=2)
ANALYZE = "analyze {file} --meta {dir}/_meta.json --no-figures --out {out}"
ANALYZE_CUBE = "analyze {dir}/_cube.npy --meta {file} --no-figures --out {out}"

npy("shape_overflow.npy", [2**63 + 1, 2, 4, 4], [], pad_to=192)
expect("shape_overflow.npy", "info {file}", 2, "overflows a 64-bit size")
npy("shape_overflow_header_only.npy", [1, 1, 2**31, 2**31], [])
expect("shape_overflow_header_only.npy", ANALYZE, 2, "overflows a 64-bit size")
with open(os.path.join(HERE, "not_numpy.npy"), "wb") as f:
    f.write(b"PK\x03\x04 a zip file, not an array")
expect("not_numpy.npy", ANALYZE, 2, "missing the \\x93NUMPY magic string")
npy("stack_without_scan_shape.npy", [9, DET, DET], cube(9))
expect("stack_without_scan_shape.npy", ANALYZE, 2, "give the scan shape with --scan-shape Y,X (Y·X = 9)")
npy("stack_wrong_scan_shape.npy", [9, DET, DET], cube(9))
expect("stack_wrong_scan_shape.npy", ANALYZE + " --scan-shape 2,4", 2, "scan shape 2 × 4 = 8 scan points, but the file holds 9")
v = cube(9)
v[4 * DET * DET + 17] = float("nan")
npy("nan_pixel.npy", [3, 3, DET, DET], v)
expect("nan_pixel.npy", ANALYZE, 2, "1 values in 1 of 9 frames are NaN or infinite (first at scan position [1, 1])")
npy("all_nan.npy", [3, 3, DET, DET], [float("nan")] * (9 * DET * DET))
expect("all_nan.npy", ANALYZE, 2, "NaN or infinite in every frame")
npy("all_zero.npy", [3, 3, DET, DET], [0.0] * (9 * DET * DET))
expect("all_zero.npy", ANALYZE, 2, "no signal")
big = cube(9)
big[4 * DET * DET + 3 * DET + 5] = 1e300
npy("f8_beyond_float32.npy", [3, 3, DET, DET], big, descr="<f8")
expect("f8_beyond_float32.npy", ANALYZE, 2, "f8_beyond_float32.npy: value 1e300 at index [1, 1, 3, 5] overflows float32")
npy("all_ones.npy", [3, 3, DET, DET], [1.0] * (9 * DET * DET))
expect("all_ones.npy", ANALYZE, 2, "all_ones.npy: all 9 frames are identical to the first in every unmasked pixel")
npy("one_pattern_repeated.npy", [3, 3, DET, DET], frame(0) * 9)
expect("one_pattern_repeated.npy", ANALYZE, 2, "expected patterns that vary from scan position to scan position")
# One saturated frame (every value at 3e38, near f32's maximum) among frames of ~100 counts.
npy("saturated_frame.npy", [3, 3, DET, DET], [100.0 / (DET * DET)] * (4 * DET * DET) + [3e38] * (DET * DET) + [100.0 / (DET * DET)] * (4 * DET * DET))
expect("saturated_frame.npy", ANALYZE, 2, "frames are bright")
v = cube(9)
for s in (2, 5, 8):
    v[s * DET * DET:(s + 1) * DET * DET] = [0.0] * (DET * DET)
npy("flyback_column.npy", [3, 3, DET, DET], v)
expect("flyback_column.npy", ANALYZE, 2, "3 of 9 frames are dark")
npy("trailing_bytes.npy", [3, 3, DET, DET], cube(9))
with open(os.path.join(HERE, "trailing_bytes.npy"), "ab") as f:
    f.write(b"\0" * 8)
expect("trailing_bytes.npy", ANALYZE, 2, "trailing_bytes.npy: header declares shape [3, 3, 16, 16] (9216 data bytes) but the file holds 9224 data bytes, 8 more")
npy("one_scan_point.npy", [1, 1, DET, DET], cube(1))
expect("one_scan_point.npy", ANALYZE, 2, "scan 1 × 1: expected at least 2 scan points")
npy("mask_hides_everything.npy", [DET, DET], [True] * (DET * DET), descr="|b1")
expect("mask_hides_everything.npy", "analyze {dir}/_cube.npy --meta {dir}/_meta.json --mask {file} --no-figures --out {out}", 2, "mask_hides_everything.npy: excludes all 256 detector pixels")
npy("mask_hides_the_ring.npy", [DET, DET], [math.hypot(y - 7.6, x - 8.2) >= 3.0 for y in range(DET) for x in range(DET)], descr="|b1")
expect("mask_hides_the_ring.npy", "analyze {dir}/_cube.npy --meta {dir}/_meta.json --mask {file} --no-figures --out {out}", 2, "mask_hides_the_ring.npy hides every pixel of the ring")
npy("mask_wrong_shape.npy", [DET, DET + 1], [False] * (DET * (DET + 1)), descr="|b1")
expect("mask_wrong_shape.npy", "analyze {dir}/_cube.npy --meta {dir}/_meta.json --mask {file} --no-figures --out {out}", 2, "expected the detector shape [16, 16]")

with open(os.path.join(HERE, "empad_partial_frame.raw"), "wb") as f:
    f.write(b"\0" * (130 * 128 * 4 + 10))
expect("empad_partial_frame.raw", "info {file}", 2, "is not a whole number of EMPAD frames")
with open(os.path.join(HERE, "empad_no_scan_shape.raw"), "wb") as f:
    f.write(struct.pack("<f", 1.0) * (130 * 128))
expect("empad_no_scan_shape.raw", "info {file}", 2, "1 EMPAD frames and no scan shape")

def meta_file(name, text, expected):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        f.write(text)
    expect(name, ANALYZE_CUBE, 2, expected)

good = json.dumps(meta, indent=2)
meta_file("meta_bom_center_of_three.json", "\ufeff" + good.replace("8.2\n", "8.2, 1.0\n"),
          "meta_bom_center_of_three.json: field `calibration.center_px` = [7.6,8.2,1.0]: expected [y, x]")
meta_file("meta_unknown_key.json", good.replace("voltage_kv", "voltage"), "field `calibration.voltage` is not a known field")
meta_file("meta_negative_pixel.json", good.replace("0.6,", "-0.6,"), "field `calibration.k_pixel_per_nm` = -0.6: expected a detector pixel size in [0.0001, 10] nm⁻¹ per pixel")
# Positive but absurd: outside the physical ranges of crates/core/src/meta.rs.
meta_file("meta_absurd_semiangle.json", good.replace("1.15", "100000.0"),
          "meta_absurd_semiangle.json: field `calibration.semiangle_mrad` = 100000: expected a probe convergence semiangle in [0.05, 100] mrad")
meta_file("meta_absurd_step.json", good.replace('"scan_step_nm": 0.5', '"scan_step_nm": 1000000000.0'),
          "meta_absurd_step.json: field `calibration.scan_step_nm` = 1000000000: expected a probe step in [0.001, 1000] nm")
meta_file("meta_other_detector.json", good.replace("7.6", "64.0").replace("8.2", "64.0"),
          "meta_other_detector.json: field `calibration.center_px` = [64, 64]: expected a centre [y, x] on the 16 × 16 detector")
meta_file("meta_not_json.json", "{ calibration: ", "meta_not_json.json: key must be a string")

def config_file(name, text, message):
    """An `analyze --config` TOML file that fails with `message`."""
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)
    expect(name, "analyze {dir}/_cube.npy --meta {dir}/_meta.json --config {file} --no-figures --out {out}", 2,
           message)


config_file("config_ring_outside.toml", "[analysis]\nk_per_nm = 4.5\n",
            "config_ring_outside.toml: field `analysis.k_per_nm` = 4.5")
# A value of the wrong type, and a number beyond float64: the field and what was expected.
config_file("config_wrong_type.toml", "[analysis]\nn_max = \"ten\"\n",
            "config_wrong_type.toml: field `analysis.n_max` (line 2, column 9): invalid type: string \"ten\", expected a whole number ≥ 0")
config_file("config_beyond_float64.toml", "[analysis]\nk_per_nm = 1e999\n",
            "field `analysis.k_per_nm` (line 2, column 12): 1e999 is beyond the largest number a 64-bit float holds (about 1.8e308): expected a finite number")
with open(os.path.join(HERE, "sweep_jobs_zero.toml"), "w") as f:
    f.write("schema = \"mro.scenario/1\"\n")
expect("sweep_jobs_zero.toml", "sweep {file} --set seed=1,2 --out {out} --jobs 0", 2,
       "invalid value '0' for '--jobs <JOBS>': expected a whole number ≥ 1")
config_file("config_n_max.toml", "[analysis]\nn_max = 40\n", "config_n_max.toml: field `analysis.n_max` = 40")

# Clusters whose static disorder the glass builder cannot relax: passes `mro check` (the range
# allows 0.1 nm), refused when the glass is built, naming the key to lower.
with open(os.path.join(HERE, "glass_disorder_unrelaxable.toml"), "w") as f:
    f.write('schema = "mro.scenario/1"\nname = "disordered"\nseed = 3\n[sample]\n'
            'extent_nm = [12.0, 12.0]\nthickness_nm = 8.0\n[[clusters]]\nsymmetry = 2\n'
            'diameter_nm = 5.0\nvolume_fraction = 0.14\ndisplacement_rms_nm = 0.1\n')
expect("glass_disorder_unrelaxable.toml", "glass {file} --out {out}", 2,
       "expected fewer: lower clusters[*].displacement_rms_nm")

# Atom files ([sample] atoms = "FILE"): each atoms_*.toml scenario names one file in atoms/.
os.makedirs(os.path.join(HERE, "atoms"), exist_ok=True)
CELL = 'Lattice="40 0 0 0 40 0 0 0 30" Properties=species:S:1:pos:R:3 pbc="T T T"'
GOOD_XYZ = f"2\n{CELL}\nZr 1 2 3\nAl 20 20 10\n"
DATA_HEAD = "LAMMPS data\n\n3 atoms\n1 atom types\n0 40 xlo xhi\n0 40 ylo yhi\n0 30 zlo zhi\n\nMasses\n\n1 91.224\n\nAtoms # atomic\n\n"
DUMP_HEAD = "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 40\n0 40\n0 30\nITEM: ATOMS id element x y z\n"


def atoms_case(name, atom_file, text, error, extra=""):
    if text is not None:
        with open(os.path.join(HERE, "atoms", atom_file), "w") as f:
            f.write(text)
    scenario = f"atoms_{name}.toml"
    with open(os.path.join(HERE, scenario), "w") as f:
        f.write(f'schema = "mro.scenario/1"\nname = "{name}"\n[sample]\natoms = "atoms/{atom_file or "good.xyz"}"\n{extra}')
    expect(scenario, "check {file}", 2, error)


atoms_case("good_with_clusters", "good.xyz", GOOD_XYZ,
           "field `clusters`: [[clusters]] with `sample.atoms`: expected none",
           "[[clusters]]\nsymmetry = 4\n")
atoms_case("thickness_disagrees", None, None,
           "field `sample.thickness_nm`: 5 disagrees with", "thickness_nm = 5.0\n")
atoms_case("missing_file", "missing.xyz", None, "missing.xyz: cannot read")
atoms_case("triclinic", "triclinic.xyz", GOOD_XYZ.replace('"40 0 0 0 40', '"40 0 0 8 40'),
           "triclinic.xyz: line 2: Lattice=\"40 0 0 8 40 0 0 0 30\" is not orthorhombic")
atoms_case("truncated", "truncated.xyz", GOOD_XYZ.replace("2\n", "5\n", 1),
           "truncated.xyz: line 5: end of file after 2 of 5 atoms")
atoms_case("unknown_element", "unknown_element.xyz", GOOD_XYZ.replace("Al ", "Xx "),
           "unknown_element.xyz: line 4: species \"Xx\": expected a chemical element")
atoms_case("huge_count", "huge_count.xyz", GOOD_XYZ.replace("2\n", "99999999999999999999999\n", 1),
           "huge_count.xyz: line 1: atom count = \"99999999999999999999999\": expected a non-negative whole number")
atoms_case("no_lattice", "no_lattice.xyz", "1\nplain xyz\nZr 0 0 0\n",
           "no_lattice.xyz: line 2: no Lattice=")
atoms_case("wrong_columns", "wrong_columns.data", DATA_HEAD + "1 1 1 2 3\n2 1 4 5\n3 1 7 8 9\n",
           "wrong_columns.data: line 16: 4 columns: expected 5 (id type x y z)")
atoms_case("count_mismatch", "count_mismatch.data", DATA_HEAD + "1 1 1 2 3\n2 1 4 5 6\n",
           "count_mismatch.data: the `Atoms` section has 2 entries: expected 3")
atoms_case("unknown_mass", "unknown_mass.data", DATA_HEAD.replace("91.224", "40.0") + "1 1 1 2 3\n2 1 4 5 6\n3 1 7 8 9\n",
           "unknown_mass.data: line 11: mass of type 1: 40 u is within 0.1 u of Ar and Ca")
atoms_case("nan_coordinate", "nan_coordinate.dump", DUMP_HEAD + "1 Zr 1 2 nan\n2 Al 3 4 5\n",
           "nan_coordinate.dump: line 10: z = NaN: expected a finite number")
atoms_case("two_frames", "two_frames.lammpstrj", DUMP_HEAD + "1 Zr 1 2 3\n2 Al 3 4 5\n" + DUMP_HEAD,
           "two_frames.lammpstrj: line 12: a second frame")
atoms_case("tilted_box", "tilted_box.dump",
           DUMP_HEAD.replace("pp pp pp\n0 40\n0 40\n0 30", "xy xz yz pp pp pp\n0 40 5\n0 40 0\n0 30 0") + "1 Zr 1 2 3\n2 Al 3 4 5\n",
           "tilted_box.dump: line 6: tilt 5: expected an orthogonal box")
atoms_case("type_elements_empty", "types.data", DATA_HEAD + "1 1 1 2 3\n2 1 4 5 6\n3 1 7 8 9\n",
           "field `sample.type_elements`: an empty list: expected one element symbol per LAMMPS atom type",
           'type_elements = []\n')
# The next two name the field before the file's absolute path; their messages are checked in
# crates/harness/src/imported.rs and crates/sim/src/atom_file/tests.rs.
atoms_case("type_elements_too_many", "types.data", None, "field `sample.type_elements`: ",
           'type_elements = ["Zr", "Co"]\n')
atoms_case("type_elements_for_xyz", None, None, "field `sample.type_elements`: ",
           'type_elements = ["Co"]\n')
with open(os.path.join(HERE, "atoms", "other_box_truth.json"), "w") as f:
    json.dump({"schema": "mro.truth/1", "extent_nm": [5.0, 5.0], "thickness_nm": 3.0, "atoms": 2,
               "number_density_per_nm3": 0.027, "acceptance_deg": 10.0, "shows_threshold": 0.25,
               "clusters": [], "by_symmetry": {}, "by_type": {}, "total_volume_fraction": 0.0}, f, indent=2)
atoms_case("truth_other_box", None, None,
           "with 2 atoms: expected the atom file's, [4.0, 4.0, 3.0] nm with 2 atoms", 'truth = "atoms/other_box_truth.json"\n')
with open(os.path.join(HERE, "atoms_truth_without_atoms.toml"), "w") as f:
    f.write('schema = "mro.scenario/1"\n[sample]\ntruth = "atoms/other_box_truth.json"\n')
expect("atoms_truth_without_atoms.toml", "check {file}", 2, "field `sample.truth`: expected it only with `sample.atoms`")
