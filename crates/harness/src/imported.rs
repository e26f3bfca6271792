//! `[sample] atoms = "FILE"`: a scenario that images an atom file instead of a built glass.
//!
//! [`resolve`] runs while a scenario is parsed: it makes the paths absolute (relative to the
//! scenario file, so a sweep point's copied `scenario.toml` still finds them), reads the atom
//! file and the optional truth file, refuses keys that contradict them, and fills the sample's
//! composition, density, extent and thickness in from the file — so that every later check,
//! the scan default and the cost estimate see the sample as it is.
//!
//! Keys: `composition`, `number_density_per_nm3`, `extent_nm` and `thickness_nm` may be left
//! out (they are the file's) or given, in which case they must agree with the file (extent and
//! thickness to 10⁻⁶ relative, density to 10⁻³ relative, each atomic fraction to 10⁻³) — so the
//! resolved scenario `mro check` prints and a sweep point's `scenario.toml` read back as the
//! same scenario. `[[clusters]]` are refused: nothing is planted in a file's atoms.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mro_sim::atom_file::{atom_file_from_bytes, AtomFile, AtomFileError};
use mro_sim::glass::TRUTH_SCHEMA;
use mro_sim::{elements, Truth};

use crate::exit::BadInput;
use crate::scenario::Scenario;

/// Relative tolerance on given extent and thickness.
const LENGTH_RTOL: f64 = 1e-6;
/// Relative tolerance on a given density; absolute tolerance on each atomic fraction.
const SHARE_TOL: f64 = 1e-3;

/// The atoms and (optional) truth a scenario's `[sample] atoms` and `truth` name, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The atom file as read.
    pub file: AtomFile,
    /// The truth file, if `[sample] truth` is given.
    pub truth: Option<Truth>,
    /// Size and CRC-32 of the atom file as read, recorded in `meta.json` so that a run can be
    /// matched to the file it imaged.
    pub stamp: FileStamp,
}

/// A file's length and CRC-32 (IEEE, as zlib's `crc32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FileStamp {
    /// Length in bytes.
    pub bytes: u64,
    /// CRC-32 of the bytes, as 8 lower-case hex digits.
    #[serde(serialize_with = "hex8")]
    pub crc32: u32,
}

fn hex8<S: serde::Serializer>(crc: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{crc:08x}"))
}

impl Imported {
    /// The truth written for a run: the truth file's, else one without clusters
    /// ([`Truth::without_clusters`]).
    pub fn truth_or_empty(&self) -> Truth {
        self.truth
            .clone()
            .unwrap_or_else(|| Truth::without_clusters(&self.file.atoms))
    }

    /// One line for `mro check`: the file, its format, cell, atom count and composition.
    pub fn describe(&self, atoms: &Path, truth: Option<&Path>) -> String {
        let v = &self.file.atoms;
        let [a, b, c] = v.extent_nm;
        let truth = match (truth, &self.truth) {
            (Some(p), Some(t)) => {
                format!("truth from {} ({} clusters)", p.display(), t.clusters.len())
            }
            _ => "no truth file: truth.json lists no clusters, and validate runs no no-MRO control"
                .to_string(),
        };
        format!(
            "# sample.atoms: {} ({}): {} atom{} in a {a:.4} × {b:.4} × {c:.4} nm cell, {:.3} atoms/nm³, {}; {truth}",
            atoms.display(),
            self.file.format.name(),
            v.len(),
            if v.len() == 1 { "" } else { "s" },
            v.number_density_per_nm3(),
            composition(&self.file)
                .iter()
                .map(|(s, f)| format!("{s} {f:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Atomic fractions by symbol.
fn composition(file: &AtomFile) -> BTreeMap<String, f64> {
    let mut counts: BTreeMap<u8, usize> = BTreeMap::new();
    for &z in &file.atoms.atomic_numbers {
        *counts.entry(z).or_insert(0) += 1;
    }
    let total = file.atoms.len() as f64;
    counts
        .into_iter()
        .map(|(z, n)| {
            let symbol = elements::by_z(z).map_or_else(|| z.to_string(), |e| e.symbol.clone());
            (symbol, n as f64 / total)
        })
        .collect()
}

/// `path` made absolute: relative to `base` (the scenario's directory) or, without one, the
/// working directory.
fn absolute(path: &Path, base: Option<&Path>) -> PathBuf {
    let joined = match base {
        Some(b) if path.is_relative() => b.join(path),
        _ => path.to_path_buf(),
    };
    std::path::absolute(&joined).unwrap_or(joined)
}

/// `axis` (a sweep axis) with its relative `sample.atoms` / `sample.truth` values made absolute
/// against `base` as the scenario's own are ([`absolute`]; the working directory when `None`),
/// so that every point reads the file the scenario meant, wherever the sweep is resumed.
pub(crate) fn absolute_path_values(axis: &mut crate::sweep::SetArg, base: Option<&Path>) {
    if matches!(axis.key.as_str(), "sample.atoms" | "sample.truth") {
        for v in &mut axis.values {
            if let toml::Value::String(p) = v {
                *p = absolute(Path::new(p.as_str()), base).display().to_string();
            }
        }
    }
}

/// The last file read, kept so that re-parsing a scenario (a sweep checks every point) does not
/// read it again: key (path, type_elements, modification time, length).
type CacheKey = (PathBuf, Vec<String>, Option<std::time::SystemTime>, u64);
static LAST_READ: Mutex<Option<(CacheKey, Arc<AtomFile>, FileStamp)>> = Mutex::new(None);

/// Reads `path` (or takes it from [`LAST_READ`] when the file is unchanged), with its stamp.
fn read_cached(
    path: &Path,
    type_elements: &[String],
) -> Result<(Arc<AtomFile>, FileStamp), AtomFileError> {
    let meta = std::fs::metadata(path).ok();
    let key = (
        path.to_path_buf(),
        type_elements.to_vec(),
        meta.as_ref().and_then(|m| m.modified().ok()),
        meta.as_ref().map_or(0, |m| m.len()),
    );
    let mut last = LAST_READ.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((k, file, stamp)) = last.as_ref() {
        if *k == key {
            return Ok((file.clone(), *stamp));
        }
    }
    // One read: the stamp is of the bytes parsed.
    let bytes = std::fs::read(path).map_err(|e| AtomFileError::unreadable(path, &e))?;
    let stamp = FileStamp {
        bytes: bytes.len() as u64,
        crc32: crc32fast::hash(&bytes),
    };
    let file = Arc::new(atom_file_from_bytes(path, bytes, type_elements)?);
    *last = Some((key, file.clone(), stamp));
    Ok((file, stamp))
}

/// Resolves `[sample] atoms` of `scenario` (parsed from `raw`, found in directory `base`):
/// see the module docs. A scenario without `atoms` is left as it is.
///
/// # Errors
/// [`BadInput`] naming the field: `sample.atoms` (unreadable or malformed file, a cell mro cannot
/// image), `sample.truth` (unreadable, not `mro.truth/1`, another box or atom count),
/// `sample.type_elements` (given without `atoms` or empty; an unknown symbol, one type too many
/// or too few, or given beside an extended XYZ file), a sample key that contradicts the file,
/// `clusters` (given with `atoms`).
pub fn resolve(
    scenario: &mut Scenario,
    raw: &toml::Table,
    base: Option<&Path>,
) -> Result<(), BadInput> {
    let sample = &mut scenario.sample;
    let given = raw.get("sample").and_then(|s| s.as_table());
    let has = |key: &str| given.is_some_and(|t| t.contains_key(key));
    let Some(atoms_path) = sample.atoms.clone() else {
        if sample.truth.is_some() {
            return Err(BadInput(
                "field `sample.truth`: expected it only with `sample.atoms` (the truth of a built glass is mro's own)".into(),
            ));
        }
        if has("type_elements") {
            return Err(BadInput(
                "field `sample.type_elements`: expected it only with `sample.atoms` (it names the elements of a LAMMPS file's atom types)".into(),
            ));
        }
        return Ok(());
    };
    let atoms_path = absolute(&atoms_path, base);
    let field = |name: &str, e: String| BadInput(format!("field `sample.{name}`: {e}"));
    if sample.type_elements.is_empty() && has("type_elements") {
        return Err(field(
            "type_elements",
            "an empty list: expected one element symbol per LAMMPS atom type (type 1 first), or the key left out (types are then mapped by the file's `Masses` section or `element` column)".into(),
        ));
    }
    let (file, stamp) = read_cached(&atoms_path, &sample.type_elements).map_err(|e| {
        let name = if e.in_type_elements {
            "type_elements"
        } else {
            "atoms"
        };
        field(name, e.to_string())
    })?;
    let v = &file.atoms;
    if v.is_empty() {
        return Err(field(
            "atoms",
            format!("{}: no atoms: expected at least one", atoms_path.display()),
        ));
    }
    let [lx, ly, lz] = v.extent_nm;
    for (name, l, lo) in [("x", lx, 1.0), ("y", ly, 1.0), ("z", lz, 0.2)] {
        if !(lo..=1000.0).contains(&l) {
            return Err(field(
                "atoms",
                format!(
                    "{}: cell edge along {name} of {l} nm: expected {lo} to 1000 nm (the range of sample.{})",
                    atoms_path.display(),
                    if name == "z" { "thickness_nm" } else { "extent_nm" }
                ),
            ));
        }
    }
    let disagree = |key: &str, written: String, file_value: String| {
        field(
            key,
            format!(
                "{written} disagrees with {}, whose {key} is {file_value}: expected it left out (with `atoms` it is taken from the file) or equal",
                atoms_path.display()
            ),
        )
    };
    let near = |a: f64, b: f64| (a - b).abs() <= LENGTH_RTOL * b.abs();
    if has("extent_nm") && !(near(sample.extent_nm[0], lx) && near(sample.extent_nm[1], ly)) {
        return Err(disagree(
            "extent_nm",
            format!("{:?}", sample.extent_nm),
            format!("[{lx}, {ly}] nm"),
        ));
    }
    if has("thickness_nm") && !near(sample.thickness_nm, lz) {
        return Err(disagree(
            "thickness_nm",
            sample.thickness_nm.to_string(),
            format!("{lz} nm (the cell along z, the beam)"),
        ));
    }
    let density = v.number_density_per_nm3();
    if has("number_density_per_nm3")
        && (sample.number_density_per_nm3 - density).abs() > SHARE_TOL * density
    {
        return Err(disagree(
            "number_density_per_nm3",
            sample.number_density_per_nm3.to_string(),
            format!("{density} atoms/nm³"),
        ));
    }
    let fractions = composition(&file);
    if has("composition") {
        let same_elements = sample.composition.keys().eq(fractions.keys());
        let close = same_elements
            && sample
                .composition
                .iter()
                .zip(fractions.values())
                .all(|((_, a), b)| (a - b).abs() <= SHARE_TOL);
        if !close {
            return Err(disagree(
                "composition",
                format!("{:?}", sample.composition),
                format!("{fractions:?}"),
            ));
        }
    }
    let truth = match &sample.truth {
        Some(t) => {
            let path = absolute(t, base);
            let truth = read_truth(&path, &file).map_err(|e| field("truth", e))?;
            sample.truth = Some(path);
            Some(truth)
        }
        None => None,
    };
    sample.atoms = Some(atoms_path);
    sample.extent_nm = [lx, ly];
    sample.thickness_nm = lz;
    sample.number_density_per_nm3 = density;
    sample.composition = fractions;
    let clusters_given = raw
        .get("clusters")
        .and_then(|c| c.as_array())
        .is_some_and(|c| !c.is_empty());
    if clusters_given {
        return Err(BadInput(
            "field `clusters`: [[clusters]] with `sample.atoms`: expected none — the atoms come from the file and nothing is planted in them (a `sample.truth` file describes clusters the file already holds)".into(),
        ));
    }
    scenario.clusters.clear();
    scenario.imported = Some(Arc::new(Imported {
        file: Arc::unwrap_or_clone(file),
        truth,
        stamp,
    }));
    Ok(())
}

/// Reads a `truth.json` that must describe `file`: schema `mro.truth/1`, the same box (to
/// 10⁻⁵ relative: mro's atoms.xyz prints Å to 6 decimals) and the same atom count.
fn read_truth(path: &Path, file: &AtomFile) -> Result<Truth, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let truth: Truth = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: not an mro truth file ({TRUTH_SCHEMA}, docs/formats.md): {e}",
            path.display()
        )
    })?;
    if truth.schema != TRUTH_SCHEMA {
        return Err(format!(
            "{}: schema {:?}: expected \"{TRUTH_SCHEMA}\"",
            path.display(),
            truth.schema
        ));
    }
    let v = &file.atoms;
    let box_truth = [truth.extent_nm[0], truth.extent_nm[1], truth.thickness_nm];
    let same_box = box_truth
        .iter()
        .zip(&v.extent_nm)
        .all(|(a, b)| (a - b).abs() <= 1e-5 * b);
    if !same_box || truth.atoms != v.len() {
        return Err(format!(
            "{}: a box of {box_truth:?} nm with {} atoms: expected the atom file's, {:?} nm with {} atoms",
            path.display(),
            truth.atoms,
            v.extent_nm,
            v.len()
        ));
    }
    Ok(truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario naming `file` (written into a fresh directory) with `extra` lines after
    /// `[sample] atoms`; returns the parse result and keeps the directory alive.
    fn parse(file: &str, extra: &str) -> (tempfile::TempDir, Result<Scenario, BadInput>) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.xyz"), file).unwrap();
        let text = format!(
            "schema = \"mro.scenario/1\"\n[sample]\natoms = \"a.xyz\"\n{extra}\n[scan]\npoints = [4, 4]\n"
        );
        let path = d.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        let s = Scenario::load(&path).map_err(|e| BadInput(e.to_string()));
        (d, s)
    }

    const TWO: &str = "2\nLattice=\"40 0 0 0 30 0 0 0 20\"\nZr 1 1 1\nCo 2 2 2\n";

    #[test]
    fn the_sample_is_the_files_and_round_trips() {
        let (d, s) = parse(TWO, "");
        let s = s.unwrap();
        assert_eq!(s.sample.extent_nm, [4.0, 3.0]);
        assert_eq!(s.sample.thickness_nm, 2.0);
        assert_eq!(s.sample.atoms, Some(d.path().join("a.xyz")));
        assert!((s.sample.number_density_per_nm3 - 2.0 / 24.0).abs() < 1e-15);
        assert_eq!(s.sample.composition["Zr"], 0.5);
        assert!(s.clusters.is_empty());
        let imported = s.imported.as_ref().unwrap();
        assert_eq!(imported.file.atoms.len(), 2);
        let truth = imported.truth_or_empty();
        assert!(truth.clusters.is_empty() && truth.total_volume_fraction == 0.0);
        // The resolved scenario (absolute path, the file's keys written out) reads back the
        // same, so `mro check` output and a sweep point's scenario.toml are valid scenarios.
        assert_eq!(Scenario::parse(&s.resolved_toml()).unwrap(), s);
        // A sweep over an independent key keeps the file; over the sample's own keys it is
        // refused, naming the key.
        let gain = crate::sweep::apply(&s, &vec![("detector.gain".into(), 2.0.into())]).unwrap();
        assert_eq!(gain.imported, s.imported);
        let e = crate::sweep::apply(&s, &vec![("sample.thickness_nm".into(), 5.0.into())])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("field `sample.thickness_nm`: 5 disagrees"),
            "{e}"
        );
        // No control is counted, whatever the command asks.
        let cost = crate::cost::Cost::of(&s, 2, true);
        assert!(!cost.control && cost.imported);
        assert!(cost
            .describe()
            .contains("atoms from a file: no clusters to remove"));
    }

    #[test]
    fn given_sample_keys_must_agree_with_the_file() {
        let ok =
            "extent_nm = [4.0, 3.0]\nthickness_nm = 2.0\ncomposition = { Zr = 0.5, Co = 0.5 }\n";
        parse(TWO, ok).1.unwrap();
        for (extra, field) in [
            ("extent_nm = [4.0, 4.0]", "sample.extent_nm"),
            ("composition = { Zr = 1.0 }", "sample.composition"),
            (
                "number_density_per_nm3 = 54.0",
                "sample.number_density_per_nm3",
            ),
            ("type_elements = [\"Qq\"]", "sample.type_elements"),
            ("type_elements = [\"Zr\"]", "sample.type_elements"),
            ("type_elements = []", "sample.type_elements"),
        ] {
            let e = parse(TWO, extra).1.unwrap_err().to_string();
            assert!(e.contains(&format!("field `{field}`")), "{extra}: {e}");
        }
        let e = parse("1\nLattice=\"5 0 0 0 40 0 0 0 20\"\nZr 1 1 1\n", "")
            .1
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cell edge along x of 0.5 nm: expected 1 to 1000 nm"),
            "{e}"
        );
        let e = parse("0\nLattice=\"40 0 0 0 40 0 0 0 20\"\n", "")
            .1
            .unwrap_err()
            .to_string();
        assert!(e.contains("no atoms"), "{e}");
    }
}
