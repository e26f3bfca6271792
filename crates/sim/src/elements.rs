//! The periodic table as mro knows it: symbols and Lobato & Van Dyck (2014) electron
//! scattering-factor parameters for Z = 1–103, read from the bundled `data/lobato2014.tsv`.
//!
//! Parameters are kept in the table's units (a_i in Å, b_i in Å²; k = 1/d in Å⁻¹); convert at
//! the point of use.

use std::sync::OnceLock;

/// The bundled table (Lobato & Van Dyck, Acta Cryst. A70 (2014) 636–649).
const LOBATO_TSV: &str = include_str!("../data/lobato2014.tsv");

/// One chemical element.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Atomic number.
    pub z: u8,
    /// Chemical symbol, e.g. `"Zr"`.
    pub symbol: String,
    /// Lobato a_i in Å.
    pub lobato_a: [f64; 5],
    /// Lobato b_i in Å².
    pub lobato_b: [f64; 5],
}

fn table() -> &'static [Element] {
    static TABLE: OnceLock<Vec<Element>> = OnceLock::new();
    TABLE.get_or_init(|| {
        LOBATO_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("Z\t") && !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                assert_eq!(f.len(), 12, "bundled lobato2014.tsv row malformed: {l}");
                let num = |i: usize| f[i].parse::<f64>().expect("bundled table holds numbers");
                Element {
                    z: f[0].parse().expect("bundled table holds Z"),
                    symbol: f[1].to_string(),
                    lobato_a: std::array::from_fn(|i| num(2 + i)),
                    lobato_b: std::array::from_fn(|i| num(7 + i)),
                }
            })
            .collect()
    })
}

/// The element with this symbol (case-sensitive, as in `Zr`).
pub fn by_symbol(symbol: &str) -> Option<&'static Element> {
    table().iter().find(|e| e.symbol == symbol)
}

/// The element with atomic number `z`.
pub fn by_z(z: u8) -> Option<&'static Element> {
    table()
        .get(usize::from(z).checked_sub(1)?)
        .filter(|e| e.z == z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_hydrogen_to_lawrencium() {
        assert_eq!(table().len(), 103);
        for (i, e) in table().iter().enumerate() {
            assert_eq!(usize::from(e.z), i + 1);
        }
        assert_eq!(by_symbol("Zr").unwrap().z, 40);
        assert_eq!(by_symbol("Co").unwrap().z, 27);
        assert_eq!(by_symbol("Al").unwrap().z, 13);
        assert_eq!(by_z(103).unwrap().symbol, "Lr");
        assert!(by_symbol("Xx").is_none() && by_z(0).is_none() && by_z(104).is_none());
    }

    #[test]
    fn lobato_zero_angle_sum_matches_table_note() {
        // f_e(0) = 2·Σa_i: Zr 12.2 Å, Al 5.89 Å, Co 6.85 Å (physics.md §2).
        let f0 = |s: &str| 2.0 * by_symbol(s).unwrap().lobato_a.iter().sum::<f64>();
        assert!((f0("Zr") - 12.19).abs() < 0.05);
        assert!((f0("Al") - 5.892).abs() < 0.02);
        assert!((f0("Co") - 6.853).abs() < 0.02);
    }
}
