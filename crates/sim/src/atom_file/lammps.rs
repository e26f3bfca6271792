//! LAMMPS data files (`read_data` / `write_data`) and dump files (`dump atom`, `dump custom`).
//!
//! Units: positions and box in Å (LAMMPS `units metal` and `real`; a file in `lj`, `si` or
//! `cgs` units is read as Å all the same — the file does not say its units).
//!
//! Data files: the header's `N atoms`, `N atom types`, `xlo xhi`, `ylo yhi`, `zlo zhi` (a
//! non-zero `xy xz yz` tilt is refused); the `Atoms` section in `atom_style atomic`
//! (`id type x y z`) or `charge` (`id type q x y z`), each optionally followed by the image
//! flags `ix iy iz` — the style from the `Atoms # style` comment, or from the column count;
//! types mapped to elements by `type_elements` or else by the `Masses` section
//! ([`super::masses`]). Other sections are skipped.
//!
//! Dump files: `ITEM: NUMBER OF ATOMS`, `ITEM: BOX BOUNDS` (orthogonal; a tilted box is
//! refused), `ITEM: ATOMS` with columns named in its header: `x y z`, `xu yu zu`, `xs ys zs` or
//! `xsu ysu zsu` (scaled: fractions of the box), and `element` or `type` (mapped by
//! `type_elements`). One frame: a second `ITEM: TIMESTEP` is refused.

use super::masses::element_of_mass;
use super::{atom_count, coordinate, element_z, push_wrapped, Cell, ParseError};
use crate::atoms::AtomVolume;

/// Most atom types a file may declare.
const MAX_TYPES: usize = 10_000;

/// The text of a data-file line before any `#` comment.
fn strip_comment(line: &str) -> &str {
    line.split_once('#').map_or(line, |(l, _)| l).trim()
}

/// Whether a (comment-stripped) data-file line is a section header: it starts with a letter,
/// where entries start with a number.
fn is_section(line: &str) -> bool {
    line.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// One parsed `Atoms` entry: line, type, position in Å.
type Entry = (usize, usize, [f64; 3]);

/// Parses a LAMMPS data file (see the module docs); `type_z[t − 1]` is the element of type `t`
/// (empty: map by `Masses`).
pub(super) fn parse_data(text: &str, type_z: &[u8]) -> Result<AtomVolume, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let (mut natoms, mut ntypes) = (None, None);
    let mut bounds: [Option<(f64, f64)>; 3] = [None; 3];
    // Line 1 is a free comment.
    let mut i = 1;
    while i < lines.len() {
        let n = i + 1;
        let l = strip_comment(lines[i]);
        if is_section(l) {
            break;
        }
        i += 1;
        let t: Vec<&str> = l.split_whitespace().collect();
        let at = |m: String| ParseError::at(n, m);
        match t.as_slice() {
            [count, "atoms"] => natoms = Some(atom_count(count, "atoms").map_err(at)?),
            [count, "atom", "types"] => {
                ntypes = Some(
                    count
                        .parse::<usize>()
                        .ok()
                        .filter(|&k| (1..=MAX_TYPES).contains(&k))
                        .ok_or_else(|| {
                            at(format!(
                                "atom types = {count:?}: expected a count from 1 to {MAX_TYPES}"
                            ))
                        })?,
                )
            }
            [lo, hi, a, b]
                if matches!((*a, *b), ("xlo", "xhi") | ("ylo", "yhi") | ("zlo", "zhi")) =>
            {
                let axis = usize::from(a.as_bytes()[0] - b'x');
                let lo = coordinate(lo, a).map_err(at)?;
                let hi = coordinate(hi, b).map_err(at)?;
                bounds[axis] = Some((lo, hi));
            }
            [xy, xz, yz, "xy", "xz", "yz"] => {
                for (v, name) in [(xy, "xy"), (xz, "xz"), (yz, "yz")] {
                    if coordinate(v, name).map_err(at)? != 0.0 {
                        return Err(at(format!(
                            "tilt {name} = {v}: expected an orthogonal box (tilts 0); mro images \
                             an orthorhombic box with z along the beam, so a triclinic box must be \
                             re-cut first"
                        )));
                    }
                }
            }
            // Other header keywords (bonds, extra/…, ellipsoids, …) do not concern the atoms.
            _ => {}
        }
    }
    let missing = |what: &str| {
        ParseError::file(format!(
            "no `{what}` line in the header: expected a LAMMPS data file (comment line, then \
             `N atoms`, `N atom types`, `xlo xhi`, `ylo yhi`, `zlo zhi`, then the sections)"
        ))
    };
    let natoms = natoms.ok_or_else(|| missing("N atoms"))?;
    let ntypes = ntypes.ok_or_else(|| missing("N atom types"))?;
    let mut lo = [0.0; 3];
    let mut len = [0.0; 3];
    for axis in 0..3 {
        let name = ["x", "y", "z"][axis];
        let (l, h) = bounds[axis].ok_or_else(|| missing(&format!("{name}lo {name}hi")))?;
        lo[axis] = l;
        len[axis] = h - l;
    }
    let cell = Cell::new(lo, len).map_err(ParseError::file)?;

    let mut masses: Vec<Option<(usize, f64)>> = vec![None; ntypes];
    let mut entries: Option<Vec<Entry>> = None;
    while i < lines.len() {
        let header_line = i + 1;
        let header = strip_comment(lines[i]);
        let style = lines[i].split_once('#').map(|(_, c)| c.trim());
        i += 1;
        if header.is_empty() {
            continue;
        }
        let start = i;
        while i < lines.len() && !is_section(strip_comment(lines[i])) {
            i += 1;
        }
        let body = (start..i)
            .map(|k| (k + 1, strip_comment(lines[k])))
            .filter(|(_, l)| !l.is_empty());
        match header {
            "Atoms" => {
                if entries.is_some() {
                    return Err(ParseError::at(
                        header_line,
                        "a second `Atoms` section: expected one",
                    ));
                }
                entries = Some(atoms_section(body, style, natoms, ntypes, i - start)?);
            }
            "Masses" => {
                for (n, l) in body {
                    let t: Vec<&str> = l.split_whitespace().collect();
                    let [ty, mass] = t.as_slice() else {
                        return Err(ParseError::at(
                            n,
                            format!("{} columns: expected 2 (type mass)", t.len()),
                        ));
                    };
                    let ty = atom_type(ty, ntypes).map_err(|m| ParseError::at(n, m))?;
                    let mass = coordinate(mass, "mass")
                        .ok()
                        .filter(|&m| m > 0.0)
                        .ok_or_else(|| {
                            ParseError::at(n, format!("mass {mass:?}: expected a positive number"))
                        })?;
                    masses[ty - 1] = Some((n, mass));
                }
            }
            // Velocities, Bonds, coefficients, …: not needed to image the atoms.
            _ => {}
        }
    }
    let entries = entries.unwrap_or_default();
    if entries.len() != natoms {
        return Err(ParseError::file(format!(
            "the `Atoms` section has {} entries: expected {natoms}, as the header's `{natoms} atoms` says",
            entries.len()
        )));
    }
    let mut z_of: Vec<Option<u8>> = vec![None; ntypes];
    if !type_z.is_empty() {
        if type_z.len() != ntypes {
            let message = format!(
                "{ntypes} atom types, but `type_elements` names {}: expected one element per type",
                type_z.len()
            );
            return Err(ParseError::type_elements(None, message));
        }
        for (z, &t) in z_of.iter_mut().zip(type_z) {
            *z = Some(t);
        }
    }
    let mut volume = cell.volume();
    volume.positions_nm.reserve(natoms);
    volume.atomic_numbers.reserve(natoms);
    for (n, ty, p) in entries {
        let z = match z_of[ty - 1] {
            Some(z) => z,
            None => {
                let z = match masses[ty - 1] {
                    Some((mn, mass)) => element_of_mass(mass).map_err(|m| {
                        ParseError::at(
                            mn,
                            format!(
                                "mass of type {ty}: {m}; expected a standard atomic weight, or \
                                 `[sample] type_elements` naming each type's element"
                            ),
                        )
                    })?,
                    None => {
                        return Err(ParseError::at(
                            n,
                            format!(
                                "atom type {ty} has no mass in a `Masses` section: expected one, \
                                 or `[sample] type_elements` naming each type's element"
                            ),
                        ))
                    }
                };
                z_of[ty - 1] = Some(z);
                z
            }
        };
        push_wrapped(&mut volume, &cell, p, false, z).map_err(|m| ParseError::at(n, m))?;
    }
    Ok(volume)
}

/// The entries of an `Atoms` section (`style` from its `# comment`); `lines` bounds any
/// allocation.
fn atoms_section<'a>(
    body: impl Iterator<Item = (usize, &'a str)>,
    style: Option<&str>,
    natoms: usize,
    ntypes: usize,
    lines: usize,
) -> Result<Vec<Entry>, ParseError> {
    let mut out = Vec::with_capacity(natoms.min(lines));
    // Atom id → the line it was first given on: two atoms under one id are a broken file.
    let mut ids: std::collections::HashMap<u64, usize> =
        std::collections::HashMap::with_capacity(natoms.min(lines));
    // Column of x for the styles mro reads: atomic (id type x y z), charge (id type q x y z).
    let mut x_col = match style {
        Some("atomic") => Some(2),
        Some("charge") => Some(3),
        Some(other) if !other.is_empty() => {
            return Err(ParseError::file(format!(
                "`Atoms # {other}`: expected atom_style atomic (id type x y z) or charge \
                 (id type q x y z), optionally with image flags"
            )))
        }
        _ => None,
    };
    for (n, l) in body {
        let t: Vec<&str> = l.split_whitespace().collect();
        let x = match x_col {
            Some(x) => x,
            None => {
                // No style comment: the column count decides, once, from the first entry.
                let x = match t.len() {
                    5 | 8 => 2,
                    6 | 9 => 3,
                    k => {
                        return Err(ParseError::at(
                            n,
                            format!(
                                "{k} columns and no `Atoms # style` comment: expected atom_style \
                                 atomic (5 columns, 8 with image flags) or charge (6 or 9)"
                            ),
                        ))
                    }
                };
                x_col = Some(x);
                x
            }
        };
        if t.len() != x + 3 && t.len() != x + 6 {
            return Err(ParseError::at(
                n,
                format!(
                    "{} columns: expected {} ({}), or {} with image flags ix iy iz",
                    t.len(),
                    x + 3,
                    if x == 2 {
                        "id type x y z"
                    } else {
                        "id type q x y z"
                    },
                    x + 6
                ),
            ));
        }
        if out.len() == natoms {
            return Err(ParseError::at(
                n,
                format!(
                    "more than {natoms} entries in `Atoms`: expected {natoms}, as the header says"
                ),
            ));
        }
        let id = t[0].parse::<u64>().ok().filter(|&i| i > 0).ok_or_else(|| {
            ParseError::at(
                n,
                format!("atom id {:?}: expected a positive whole number", t[0]),
            )
        })?;
        if let Some(first) = ids.insert(id, n) {
            return Err(ParseError::at(
                n,
                format!("atom id {id} is given twice (first on line {first}): expected unique ids"),
            ));
        }
        let ty = atom_type(t[1], ntypes).map_err(|m| ParseError::at(n, m))?;
        let mut p = [0.0; 3];
        for (i, v) in p.iter_mut().enumerate() {
            *v = coordinate(t[x + i], ["x", "y", "z"][i]).map_err(|m| ParseError::at(n, m))?;
        }
        out.push((n, ty, p));
    }
    Ok(out)
}

/// An atom type in `1..=ntypes`.
fn atom_type(token: &str, ntypes: usize) -> Result<usize, String> {
    token
        .parse::<usize>()
        .ok()
        .filter(|t| (1..=ntypes).contains(t))
        .ok_or_else(|| format!("atom type {token:?}: expected a type from 1 to {ntypes}"))
}

/// Parses one frame of a LAMMPS dump (see the module docs).
pub(super) fn parse_dump(text: &str, type_z: &[u8]) -> Result<AtomVolume, ParseError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let mut natoms = None;
    let mut cell = None;
    let mut last = 0;
    let mut next = |what: &str, last: &mut usize| {
        let line = lines
            .next()
            .ok_or_else(|| ParseError::at(*last + 1, format!("end of file: expected {what}")));
        if let Ok((n, _)) = line {
            *last = n;
        }
        line
    };
    let volume = loop {
        let (n, item) = next("an `ITEM:` line", &mut last)?;
        if item.is_empty() {
            continue;
        }
        let Some(item) = item.strip_prefix("ITEM:").map(str::trim) else {
            return Err(ParseError::at(
                n,
                format!("{item:?}: expected an `ITEM:` line of a LAMMPS dump"),
            ));
        };
        if item == "NUMBER OF ATOMS" {
            let (m, count) = next("the number of atoms", &mut last)?;
            natoms = Some(atom_count(count, "NUMBER OF ATOMS").map_err(|e| ParseError::at(m, e))?);
        } else if let Some(flags) = item.strip_prefix("BOX BOUNDS") {
            let tilted = flags.split_whitespace().any(|f| f == "xy");
            let mut lo = [0.0; 3];
            let mut len = [0.0; 3];
            for axis in 0..3 {
                let (m, l) = next("a box bound line `lo hi`", &mut last)?;
                let t: Vec<&str> = l.split_whitespace().collect();
                let want = if tilted { 3 } else { 2 };
                if t.len() != want {
                    return Err(ParseError::at(
                        m,
                        format!(
                            "{} values: expected {want} (lo hi{})",
                            t.len(),
                            if tilted { " tilt" } else { "" }
                        ),
                    ));
                }
                let at = |e: String| ParseError::at(m, e);
                let a = coordinate(t[0], "lo").map_err(at)?;
                let b = coordinate(t[1], "hi").map_err(at)?;
                if tilted && coordinate(t[2], "tilt").map_err(at)? != 0.0 {
                    return Err(at(format!(
                        "tilt {}: expected an orthogonal box (tilts 0); mro images an \
                         orthorhombic box with z along the beam, so a triclinic box must be \
                         re-cut first",
                        t[2]
                    )));
                }
                lo[axis] = a;
                len[axis] = b - a;
            }
            let mut c = Cell::new(lo, len).map_err(|e| ParseError::at(n, e))?;
            // `pp` is periodic; `f`, `s`, `m` (fixed, shrink-wrapped) are open.
            let bounds: Vec<&str> = flags
                .split_whitespace()
                .filter(|f| !matches!(*f, "xy" | "xz" | "yz"))
                .collect();
            if bounds.len() == 3 {
                c.periodic = std::array::from_fn(|i| bounds[i] == "pp");
            }
            cell = Some(c);
        } else if let Some(names) = item.strip_prefix("ATOMS") {
            let (Some(natoms), Some(cell)) = (natoms, cell) else {
                return Err(ParseError::at(
                    n,
                    "`ITEM: ATOMS` before `ITEM: NUMBER OF ATOMS` and `ITEM: BOX BOUNDS`: expected both first",
                ));
            };
            break dump_atoms(names, natoms, &cell, type_z, n, &mut next, &mut last)?;
        } else {
            // TIMESTEP, TIME, UNITS: one value line, not needed.
            next(&format!("the value of `ITEM: {item}`"), &mut last)?;
        }
    };
    if let Some((n, l)) = lines.find(|(_, l)| !l.is_empty()) {
        let what = if l.starts_with("ITEM:") {
            "a second frame"
        } else {
            "text after the atoms"
        };
        return Err(ParseError::at(
            n,
            format!(
                "{what}: expected the end of the file (mro reads one configuration; write the \
                 frame you want alone, e.g. with LAMMPS `write_dump` or OVITO)"
            ),
        ));
    }
    Ok(volume)
}

/// The `ITEM: ATOMS` block with column `names`, whose header is on line `header`.
fn dump_atoms<'a>(
    names: &str,
    natoms: usize,
    cell: &Cell,
    type_z: &[u8],
    header: usize,
    next: &mut impl FnMut(&str, &mut usize) -> Result<(usize, &'a str), ParseError>,
    last: &mut usize,
) -> Result<AtomVolume, ParseError> {
    let names: Vec<&str> = names.split_whitespace().collect();
    let find = |n: &str| names.iter().position(|c| *c == n);
    let (pos, scaled) = [("x", false), ("xu", false), ("xs", true), ("xsu", true)]
        .into_iter()
        .find_map(|(x, scaled)| {
            let y = x.replacen('x', "y", 1);
            let z = x.replacen('x', "z", 1);
            Some(([find(x)?, find(&y)?, find(&z)?], scaled))
        })
        .ok_or_else(|| {
            ParseError::at(
                header,
                "no position columns: expected `x y z`, `xu yu zu`, `xs ys zs` or `xsu ysu zsu`",
            )
        })?;
    let element = find("element");
    let ty = find("type");
    if element.is_none() && (ty.is_none() || type_z.is_empty()) {
        return Err(ParseError::at(
            header,
            "no `element` column: expected one, or a `type` column with `[sample] type_elements` \
             naming each type's element",
        ));
    }
    let mut volume = cell.volume();
    for k in 0..natoms {
        let (n, l) = next(
            &format!("atom {} of {natoms} (`ITEM: NUMBER OF ATOMS`)", k + 1),
            last,
        )?;
        let t: Vec<&str> = l.split_whitespace().collect();
        if t.len() != names.len() {
            return Err(ParseError::at(
                n,
                format!(
                    "{} columns: expected {} ({})",
                    t.len(),
                    names.len(),
                    names.join(" ")
                ),
            ));
        }
        let z = match element {
            Some(e) => element_z(t[e]).ok_or_else(|| {
                ParseError::at(
                    n,
                    format!("element {:?}: expected a chemical element (H to Lr)", t[e]),
                )
            })?,
            None => {
                let token = t[ty.expect("checked above")];
                let i = atom_type(token, type_z.len()).map_err(|m| {
                    ParseError::type_elements(
                        Some(n),
                        format!("{m} (the types `type_elements` names)"),
                    )
                })?;
                type_z[i - 1]
            }
        };
        let mut p = [0.0; 3];
        for (i, v) in p.iter_mut().enumerate() {
            *v = coordinate(t[pos[i]], names[pos[i]]).map_err(|m| ParseError::at(n, m))?;
        }
        push_wrapped(&mut volume, cell, p, scaled, z).map_err(|m| ParseError::at(n, m))?;
    }
    Ok(volume)
}
