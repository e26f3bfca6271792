//! Atom files written by other programs, read into an [`AtomVolume`]: extended XYZ (as ASE and
//! OVITO write it), LAMMPS data files and LAMMPS dump files (`[sample] atoms = "FILE"`).
//!
//! What every reader guarantees:
//! - the cell comes from the file and must be orthorhombic (a tilted cell is refused: mro images
//!   a box whose c axis is the beam);
//! - positions are read in Å (extended XYZ; LAMMPS `units metal` and `real`) and returned in nm,
//!   shifted by the cell origin and wrapped into `[0, L)` on every periodic axis; along an axis
//!   the file declares open (extended XYZ `pbc="T T F"`, a dump's `BOX BOUNDS pp pp ff`; mro's
//!   own glass writes the beam axis so) an atom must lie in `[0, L]` and stays where it is (an
//!   atom on the exit surface, z = L, is not moved to the entrance);
//! - the file holds one configuration: a second frame is refused (extract the one you want);
//! - every malformed input is an [`AtomFileError`] naming the file, the line and what was
//!   expected; no input panics, and no count read from the file allocates before the lines it
//!   promises are there.
//!
//! The format is chosen by extension (`.xyz`, `.extxyz`; `.data`, `.lmp`; `.dump`,
//! `.lammpstrj`), otherwise from the content: `ITEM:` on the first line is a dump, a lone count
//! on the first line is extended XYZ, anything else a LAMMPS data file.

mod lammps;
pub mod masses;
mod xyz;

use std::path::{Path, PathBuf};

use crate::atoms::AtomVolume;
use crate::elements;

/// nm per Å: the unit of every supported file is Å.
const NM_PER_ANGSTROM: f64 = 0.1;

/// Farthest, in cell edges, a coordinate on a periodic axis may lie from the cell (unwrapped
/// trajectories wander a few cells; at 10⁴ wrapping keeps 12 of f64's 16 digits).
const MAX_CELLS_AWAY: f64 = 1e4;

/// Most atoms a file may hold (10⁹: 25 GB as an [`AtomVolume`]).
pub const MAX_ATOMS: usize = 1_000_000_000;

/// The supported formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtomFormat {
    /// Extended XYZ: count, `Lattice="…" Properties=…` comment line, one line per atom.
    ExtendedXyz,
    /// LAMMPS data file (`read_data`), `atom_style atomic` or `charge`.
    LammpsData,
    /// LAMMPS dump file (`dump atom`/`custom`), one frame.
    LammpsDump,
}

impl AtomFormat {
    /// The format's name as printed.
    pub fn name(self) -> &'static str {
        match self {
            Self::ExtendedXyz => "extended XYZ",
            Self::LammpsData => "LAMMPS data",
            Self::LammpsDump => "LAMMPS dump",
        }
    }

    /// The format of `path`: by extension, otherwise from the first non-blank line of `text`.
    pub fn detect(path: &Path, text: &str) -> Self {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("xyz" | "extxyz") => return Self::ExtendedXyz,
            Some("data" | "lmp") => return Self::LammpsData,
            Some("dump" | "lammpstrj") => return Self::LammpsDump,
            _ => {}
        }
        let first = text.lines().map(str::trim).find(|l| !l.is_empty());
        match first {
            Some(l) if l.starts_with("ITEM:") => Self::LammpsDump,
            Some(l) if l.parse::<u64>().is_ok() => Self::ExtendedXyz,
            _ => Self::LammpsData,
        }
    }
}

/// What an atom file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct AtomFile {
    /// The atoms, in nm, wrapped into the cell `[0, L)³`.
    pub atoms: AtomVolume,
    /// The format they were read from.
    pub format: AtomFormat,
}

/// A malformed atom file: the file, the 1-based line (when the fault is on one) and what was
/// expected there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {}{message}", path.display(), line.map_or(String::new(), |l| format!("line {l}: ")))]
pub struct AtomFileError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number, when the fault is on one line.
    pub line: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
    /// Whether the fault is in `type_elements` (the scenario's list), not in the file itself.
    pub in_type_elements: bool,
}

impl AtomFileError {
    /// `path` could not be read (`e`).
    pub fn unreadable(path: &Path, e: &std::io::Error) -> Self {
        Self {
            path: path.to_path_buf(),
            line: None,
            message: format!("cannot read: {e}"),
            in_type_elements: false,
        }
    }
}

/// A fault found while parsing text: 1-based line and message (the path is added by
/// [`read_atom_file`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// 1-based line, if the fault is on one.
    pub line: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
    /// Whether the fault is in `type_elements`, not in the text.
    pub in_type_elements: bool,
}

impl ParseError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            message: message.into(),
            in_type_elements: false,
        }
    }

    fn file(message: impl Into<String>) -> Self {
        Self {
            line: None,
            message: message.into(),
            in_type_elements: false,
        }
    }

    /// A fault of the `type_elements` list (unknown symbol, wrong length, given for a file that
    /// names its elements, a type beyond it), on `line` if one shows it.
    fn type_elements(line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
            in_type_elements: true,
        }
    }
}

/// Reads the atom file `path`. `type_elements` names the element of each LAMMPS atom type in
/// order (type 1 first); when empty, LAMMPS types are mapped by the `Masses` section (data
/// files) or an `element` column (dumps). An extended XYZ file names each atom's element, so
/// `type_elements` given with one is refused rather than silently unused.
///
/// # Errors
/// [`AtomFileError`] naming the file, the line and what was expected: unreadable or not UTF-8,
/// truncated, a wrong column count, an unknown element or type, a non-finite coordinate, an
/// atom count that does not match, a tilted cell, a second frame, more than [`MAX_ATOMS`].
pub fn read_atom_file(path: &Path, type_elements: &[String]) -> Result<AtomFile, AtomFileError> {
    let bytes = std::fs::read(path).map_err(|e| AtomFileError::unreadable(path, &e))?;
    atom_file_from_bytes(path, bytes, type_elements)
}

/// [`read_atom_file`] of `bytes` already read from `path` (which names the file in errors and
/// gives its format by extension).
///
/// # Errors
/// As [`read_atom_file`], but for reading.
pub fn atom_file_from_bytes(
    path: &Path,
    bytes: Vec<u8>,
    type_elements: &[String],
) -> Result<AtomFile, AtomFileError> {
    let err = |e: ParseError| AtomFileError {
        path: path.to_path_buf(),
        line: e.line,
        message: e.message,
        in_type_elements: e.in_type_elements,
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        err(ParseError::file(format!(
            "not UTF-8 text (byte {}): expected an extended XYZ or LAMMPS text file",
            e.utf8_error().valid_up_to()
        )))
    })?;
    let format = AtomFormat::detect(path, &text);
    parse_atoms(&text, format, type_elements)
        .map(|atoms| AtomFile { atoms, format })
        .map_err(err)
}

/// Parses atom-file `text` of `format` (see [`read_atom_file`]).
///
/// # Errors
/// [`ParseError`] with the line and what was expected.
pub fn parse_atoms(
    text: &str,
    format: AtomFormat,
    type_elements: &[String],
) -> Result<AtomVolume, ParseError> {
    let type_z = type_elements
        .iter()
        .map(|s| {
            element_z(s).ok_or_else(|| {
                let message = format!(
                    "`type_elements` names {s:?}: expected chemical element symbols such as \"Zr\""
                );
                ParseError::type_elements(None, message)
            })
        })
        .collect::<Result<Vec<u8>, _>>()?;
    match format {
        AtomFormat::ExtendedXyz if !type_z.is_empty() => Err(ParseError::type_elements(
            None,
            "`type_elements` is given, but this is an extended XYZ file, which names each atom's element itself: expected `type_elements` only with a LAMMPS data or dump file",
        )),
        AtomFormat::ExtendedXyz => xyz::parse(text),
        AtomFormat::LammpsData => lammps::parse_data(text, &type_z),
        AtomFormat::LammpsDump => lammps::parse_dump(text, &type_z),
    }
}

/// The atomic number of an element symbol, accepting any capitalisation (`ZR`, `zr`, `Zr`).
fn element_z(symbol: &str) -> Option<u8> {
    let mut chars = symbol.chars();
    let first = chars.next()?;
    let normal: String = first
        .to_uppercase()
        .chain(chars.flat_map(char::to_lowercase))
        .collect();
    elements::by_symbol(&normal).map(|e| e.z)
}

/// An orthorhombic cell in Å: origin and edge lengths.
#[derive(Debug, Clone, Copy)]
struct Cell {
    origin_a: [f64; 3],
    length_a: [f64; 3],
    /// Whether each axis is periodic (atoms wrap) or open (atoms must lie inside).
    periodic: [bool; 3],
}

impl Cell {
    /// A cell whose lengths are finite and positive, else the message.
    fn new(origin_a: [f64; 3], length_a: [f64; 3]) -> Result<Self, String> {
        for (axis, (&o, &l)) in origin_a.iter().zip(&length_a).enumerate() {
            let name = ["x", "y", "z"][axis];
            if !(l.is_finite() && l > 0.0 && o.is_finite()) {
                return Err(format!(
                    "cell along {name}: origin {o} Å, length {l} Å; expected a finite origin and a positive length"
                ));
            }
        }
        Ok(Self {
            origin_a,
            length_a,
            periodic: [true; 3],
        })
    }

    /// An empty volume of this cell, in nm.
    fn volume(&self) -> AtomVolume {
        AtomVolume::new(self.length_a.map(|l| l * NM_PER_ANGSTROM))
    }
}

/// Adds an atom at `position_a` (Å; fractional when `scaled`) to `volume`: wrapped into the
/// cell along a periodic axis; along an open one it must lie in `[0, L]` (a rounding's 10⁻⁹·L
/// beyond is put on the surface), else the message.
fn push_wrapped(
    volume: &mut AtomVolume,
    cell: &Cell,
    position_a: [f64; 3],
    scaled: bool,
    z: u8,
) -> Result<(), String> {
    let mut p = [0.0; 3];
    for (i, out) in p.iter_mut().enumerate() {
        let l = cell.length_a[i];
        let offset = if scaled {
            position_a[i] * l
        } else {
            position_a[i] - cell.origin_a[i]
        };
        let inside = if cell.periodic[i] {
            if offset.abs() > MAX_CELLS_AWAY * l {
                return Err(format!(
                    "{} = {} Å lies over {MAX_CELLS_AWAY} cells ({l} Å each) from the cell: \
                     expected a coordinate within a few cells of it (wrapping from that far \
                     loses its precision)",
                    ["x", "y", "z"][i],
                    position_a[i]
                ));
            }
            let wrapped = offset.rem_euclid(l);
            // rem_euclid of a tiny negative value can round to l itself.
            if wrapped >= l {
                0.0
            } else {
                wrapped
            }
        } else {
            let slack = 1e-9 * l;
            if !(-slack..=l + slack).contains(&offset) {
                let name = ["x", "y", "z"][i];
                let o = cell.origin_a[i];
                return Err(format!(
                    "{name} = {} Å lies outside the cell's open (non-periodic) {name} axis \
                     [{o}, {}] Å: expected every atom inside the cell along an open axis \
                     (enlarge the cell, or declare the axis periodic)",
                    position_a[i] * if scaled { l } else { 1.0 },
                    o + l
                ));
            }
            offset.clamp(0.0, l)
        };
        *out = inside * NM_PER_ANGSTROM;
    }
    volume.positions_nm.push(p);
    volume.atomic_numbers.push(z);
    Ok(())
}

/// A finite coordinate from `token`, else the message naming `what`.
fn coordinate(token: &str, what: &str) -> Result<f64, String> {
    match token.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(format!("{what} = {v}: expected a finite number")),
        Err(_) => Err(format!("{what} = {token:?}: expected a number")),
    }
}

/// An atom count from `token` (at most [`MAX_ATOMS`]).
fn atom_count(token: &str, what: &str) -> Result<usize, String> {
    match token.parse::<u64>() {
        Ok(n) if n <= MAX_ATOMS as u64 => Ok(n as usize),
        Ok(n) => Err(format!("{what} = {n}: expected at most {MAX_ATOMS} atoms")),
        Err(_) => Err(format!(
            "{what} = {token:?}: expected a non-negative whole number"
        )),
    }
}

#[cfg(test)]
mod tests;
