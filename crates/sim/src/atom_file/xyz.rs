//! Extended XYZ as ASE (`ase.io.write(..., format="extxyz")`) and OVITO write it.
//!
//! Line 1: the atom count. Line 2: `key=value` pairs (values may be `"quoted"` or `{braced}`);
//! read are `Lattice="ax ay az bx by bz cx cy cz"` (required, Å, row vectors; orthorhombic),
//! `Origin="x y z"` (optional, Å; OVITO writes it) and `Properties=name:type:columns:…`
//! (optional, default `species:S:1:pos:R:3`), which locates the `species` (or `Z`) and `pos`
//! columns; other keys and columns are ignored. Then one line per atom with exactly the columns
//! `Properties` declares. A second frame is refused.

use super::{atom_count, coordinate, element_z, push_wrapped, Cell, ParseError};
use crate::atoms::AtomVolume;

/// The `Properties` ASE assumes when the comment line has none.
const DEFAULT_PROPERTIES: &str = "species:S:1:pos:R:3";

/// Where the columns are.
#[derive(Debug)]
struct Columns {
    /// Column of the species (symbol) or atomic number.
    species: usize,
    /// Whether the species column holds atomic numbers (`Z:I:1`).
    numeric: bool,
    /// First of the three position columns.
    pos: usize,
    /// Columns per line.
    total: usize,
}

/// Parses extended XYZ `text` (see the module docs).
pub(super) fn parse(text: &str) -> Result<AtomVolume, ParseError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let (n1, first) = lines
        .next()
        .ok_or_else(|| ParseError::at(1, "empty file: expected the atom count"))?;
    let count = atom_count(first.trim(), "atom count").map_err(|m| ParseError::at(n1, m))?;
    let (n2, comment) = lines.next().ok_or_else(|| {
        ParseError::at(
            2,
            "end of file: expected the comment line with Lattice=\"…\"",
        )
    })?;
    let pairs = key_values(comment).map_err(|m| ParseError::at(n2, m))?;
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    let lattice = get("Lattice").ok_or_else(|| {
        ParseError::at(
            n2,
            "no Lattice=\"…\": expected the cell as Lattice=\"ax ay az bx by bz cx cy cz\" in Å \
             (a plain XYZ file has no cell, so mro cannot know the periodic box)",
        )
    })?;
    let cell_lengths = orthorhombic_lattice(lattice).map_err(|m| ParseError::at(n2, m))?;
    let origin = match get("Origin") {
        Some(o) => numbers::<3>(o, "Origin").map_err(|m| ParseError::at(n2, m))?,
        None => [0.0; 3],
    };
    let mut cell = Cell::new(origin, cell_lengths).map_err(|m| ParseError::at(n2, m))?;
    if let Some(pbc) = get("pbc") {
        cell.periodic = periodicity(pbc).map_err(|m| ParseError::at(n2, m))?;
    }
    let properties = get("Properties").unwrap_or(DEFAULT_PROPERTIES);
    let columns = columns(properties).map_err(|m| ParseError::at(n2, m))?;

    let mut volume = cell.volume();
    for k in 0..count {
        let (n, line) = lines.next().ok_or_else(|| {
            ParseError::at(
                n2 + k + 1,
                format!(
                    "end of file after {k} of {count} atoms: expected {count} atom lines (line 1)"
                ),
            )
        })?;
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() != columns.total {
            return Err(ParseError::at(
                n,
                format!(
                    "{} columns: expected {} (Properties={properties})",
                    t.len(),
                    columns.total
                ),
            ));
        }
        let species = t[columns.species];
        let z = if columns.numeric {
            species.parse::<u8>().ok().filter(|z| (1..=103).contains(z))
        } else {
            element_z(species)
        }
        .ok_or_else(|| {
            ParseError::at(
                n,
                format!("species {species:?}: expected a chemical element (H to Lr)"),
            )
        })?;
        let mut p = [0.0; 3];
        for (i, v) in p.iter_mut().enumerate() {
            let what = ["x", "y", "z"][i];
            *v = coordinate(t[columns.pos + i], what).map_err(|m| ParseError::at(n, m))?;
        }
        push_wrapped(&mut volume, &cell, p, false, z).map_err(|m| ParseError::at(n, m))?;
    }
    if let Some((n, _)) = lines.find(|(_, l)| !l.trim().is_empty()) {
        return Err(ParseError::at(
            n,
            format!(
                "text after the {count} atoms of the first frame: expected the end of the file \
                 (mro reads one configuration; write the frame you want alone, e.g. \
                 `ase.io.write(out, ase.io.read(file, index=-1))`)"
            ),
        ));
    }
    Ok(volume)
}

/// The `key=value` pairs of an extended XYZ comment line; a bare key has the value `T`.
fn key_values(line: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        if chars.next_if_eq(&'=').is_none() {
            out.push((key, "T".to_string()));
            continue;
        }
        let mut value = String::new();
        match chars.peek() {
            Some(&open @ ('"' | '{')) => {
                chars.next();
                let close = if open == '"' { '"' } else { '}' };
                loop {
                    match chars.next() {
                        Some(c) if c == close => break,
                        Some(c) => value.push(c),
                        None => {
                            return Err(format!(
                                "the value of `{key}` opens with {open} and never closes: expected a closing {close}"
                            ))
                        }
                    }
                }
            }
            _ => {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

/// `N` whitespace-separated finite numbers.
fn numbers<const N: usize>(text: &str, key: &str) -> Result<[f64; N], String> {
    let t: Vec<&str> = text.split_whitespace().collect();
    if t.len() != N {
        return Err(format!(
            "{key}=\"{text}\": expected {N} numbers, found {}",
            t.len()
        ));
    }
    let mut out = [0.0; N];
    for (v, s) in out.iter_mut().zip(&t) {
        *v = coordinate(s, key)?;
    }
    Ok(out)
}

/// Which axes `pbc="T T F"` declares periodic (ASE writes `T`/`F`; `True`/`False` and `1`/`0`
/// are read too), else the message.
fn periodicity(text: &str) -> Result<[bool; 3], String> {
    let flags: Vec<Option<bool>> = text
        .split_whitespace()
        .map(|f| match f.to_ascii_lowercase().as_str() {
            "t" | "true" | "1" => Some(true),
            "f" | "false" | "0" => Some(false),
            _ => None,
        })
        .collect();
    match flags[..] {
        [Some(a), Some(b), Some(c)] => Ok([a, b, c]),
        _ => Err(format!(
            "pbc=\"{text}\": expected three flags T or F, one per axis (e.g. pbc=\"T T F\")"
        )),
    }
}

/// The edge lengths in Å of an orthorhombic `Lattice` (a along x, b along y, c along z).
fn orthorhombic_lattice(text: &str) -> Result<[f64; 3], String> {
    let m = numbers::<9>(text, "Lattice")?;
    let diag = [m[0], m[4], m[8]];
    let scale = diag.iter().fold(0.0f64, |a, d| a.max(d.abs()));
    let off = [m[1], m[2], m[3], m[5], m[6], m[7]];
    if off.iter().any(|v| v.abs() > 1e-6 * scale) {
        return Err(format!(
            "Lattice=\"{text}\" is not orthorhombic: expected a along x, b along y and c along z \
             (off-diagonal entries 0); mro images an orthorhombic box with c along the beam, so \
             a triclinic or rotated cell must be re-cut first"
        ));
    }
    Ok(diag)
}

/// Locates the species and position columns in a `Properties` value.
fn columns(properties: &str) -> Result<Columns, String> {
    let parts: Vec<&str> = properties.split(':').collect();
    if parts.len() % 3 != 0 {
        return Err(format!(
            "Properties={properties}: expected name:type:columns triples"
        ));
    }
    let (mut species, mut numeric, mut pos, mut total) = (None, false, None, 0usize);
    for p in parts.chunks(3) {
        let width: usize = p[2]
            .parse()
            .ok()
            .filter(|&w| (1..=1000).contains(&w))
            .ok_or_else(|| {
                format!(
                    "Properties={properties}: `{}` has {:?} columns, expected a count from 1 to 1000",
                    p[0], p[2]
                )
            })?;
        match (p[0].to_ascii_lowercase().as_str(), width) {
            ("species", 1) => {
                species = Some(total);
                numeric = false;
            }
            ("z", 1) if species.is_none() || numeric => {
                species = Some(total);
                numeric = true;
            }
            ("pos", 3) => pos = Some(total),
            ("pos", _) => {
                return Err(format!(
                    "Properties={properties}: `pos` has {width} columns, expected 3"
                ))
            }
            _ => {}
        }
        total += width;
    }
    let (Some(species), Some(pos)) = (species, pos) else {
        return Err(format!(
            "Properties={properties}: expected a `species:S:1` (or `Z:I:1`) and a `pos:R:3` column"
        ));
    };
    Ok(Columns {
        species,
        numeric,
        pos,
        total,
    })
}
