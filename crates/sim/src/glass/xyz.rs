//! Extended XYZ output (`atoms.xyz`), as read by ASE (`ase.io.read`) and OVITO.
//!
//! Line 1 is the atom count; line 2 carries `Lattice="…"` (the box vectors in Å, row by row),
//! `Properties=species:S:1:pos:R:3` and `pbc="T T F"` (periodic in x and y, a free foil in z);
//! then one line per atom: symbol and position in Å.

use std::io::{BufWriter, Write};
use std::path::Path;

use super::GlassError;
use crate::atoms::AtomVolume;
use crate::elements;

/// Å per nm.
const ANGSTROM_PER_NM: f64 = 10.0;

/// Writes `atoms` as extended XYZ to `out`.
pub fn write_extended_xyz_to<W: Write>(atoms: &AtomVolume, out: W) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let [a, b, c] = atoms.extent_nm.map(|v| v * ANGSTROM_PER_NM);
    writeln!(w, "{}", atoms.len())?;
    writeln!(
        w,
        "Lattice=\"{a:.6} 0 0 0 {b:.6} 0 0 0 {c:.6}\" Properties=species:S:1:pos:R:3 pbc=\"T T F\""
    )?;
    for (p, &z) in atoms.positions_nm.iter().zip(&atoms.atomic_numbers) {
        let symbol = elements::by_z(z).map_or("X", |e| e.symbol.as_str());
        writeln!(
            w,
            "{symbol} {:.5} {:.5} {:.5}",
            p[0] * ANGSTROM_PER_NM,
            p[1] * ANGSTROM_PER_NM,
            p[2] * ANGSTROM_PER_NM
        )?;
    }
    w.flush()
}

/// Writes `atoms` as extended XYZ to the file `path`, atomically: the text goes to
/// `PATH.partial`, is flushed to disk and renamed to `path`, so `path` never holds a truncated
/// file. On error the partial file is removed.
///
/// # Errors
/// [`GlassError::Io`] naming `path` if the file cannot be created, written or renamed.
pub fn write_extended_xyz(atoms: &AtomVolume, path: &Path) -> Result<(), GlassError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let result = (|| {
        let mut file = std::fs::File::create(&partial)?;
        write_extended_xyz_to(atoms, &mut file)?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    })();
    result.map_err(|source| {
        let _ = std::fs::remove_file(&partial);
        GlassError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_lines_are_extended_xyz_in_angstrom() {
        let mut v = AtomVolume::new([1.0, 2.0, 0.5]);
        v.push([0.1, 0.25, 0.3], 40);
        v.push([0.9, 1.5, 0.0], 13);
        let mut buf = Vec::new();
        write_extended_xyz_to(&v, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "2");
        assert_eq!(
            lines[1],
            "Lattice=\"10.000000 0 0 0 20.000000 0 0 0 5.000000\" \
             Properties=species:S:1:pos:R:3 pbc=\"T T F\""
        );
        assert_eq!(lines[2], "Zr 1.00000 2.50000 3.00000");
        assert_eq!(lines[3], "Al 9.00000 15.00000 0.00000");
        assert_eq!(lines.len(), 4);
    }
}
