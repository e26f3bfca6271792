//! Standard atomic weights, for mapping the `Masses` section of a LAMMPS data file to elements.
//!
//! Values: IUPAC standard atomic weights (abridged, Prohaska et al., Pure Appl. Chem. 94, 573
//! (2022)), the conventional value where IUPAC gives an interval; for elements without stable
//! isotopes the mass number of the longest-lived isotope. These are the masses ASE's
//! `ase.data.atomic_masses` and most molecular-dynamics setups write.

use crate::elements;

/// Standard atomic weight in u of Z = 1…103, indexed by Z − 1.
const ATOMIC_WEIGHT_U: [f64; 103] = [
    1.008, 4.0026, 6.94, 9.0122, 10.81, 12.011, 14.007, 15.999, 18.998, 20.180, // H–Ne
    22.990, 24.305, 26.982, 28.085, 30.974, 32.06, 35.45, 39.948, 39.098, 40.078, // Na–Ca
    44.956, 47.867, 50.942, 51.996, 54.938, 55.845, 58.933, 58.693, 63.546, 65.38, // Sc–Zn
    69.723, 72.630, 74.922, 78.971, 79.904, 83.798, 85.468, 87.62, 88.906, 91.224, // Ga–Zr
    92.906, 95.95, 97.0, 101.07, 102.91, 106.42, 107.87, 112.41, 114.82, 118.71, // Nb–Sn
    121.76, 127.60, 126.90, 131.29, 132.91, 137.33, 138.91, 140.12, 140.91, 144.24, // Sb–Nd
    145.0, 150.36, 151.96, 157.25, 158.93, 162.50, 164.93, 167.26, 168.93, 173.05, // Pm–Yb
    174.97, 178.49, 180.95, 183.84, 186.21, 190.23, 192.22, 195.08, 196.97, 200.59, // Lu–Hg
    204.38, 207.2, 208.98, 209.0, 210.0, 222.0, 223.0, 226.0, 227.0, 232.04, // Tl–Th
    231.04, 238.03, 237.0, 244.0, 243.0, 247.0, 247.0, 251.0, 252.0, 257.0, // Pa–Fm
    258.0, 259.0, 266.0, // Md–Lr
];

/// Largest difference in u between a written mass and an element's standard weight for the
/// mass to name that element. Neighbouring weights can be as close as 0.13 u (Ar, Ca) or 0.24 u
/// (Co, Ni): a mass within this of two elements names neither.
pub const MASS_TOLERANCE_U: f64 = 0.1;

/// The atomic number whose standard weight lies within [`MASS_TOLERANCE_U`] of `mass_u`, if
/// exactly one does.
pub fn element_of_mass(mass_u: f64) -> Result<u8, String> {
    let near: Vec<u8> = (1..=103u8)
        .filter(|&z| (ATOMIC_WEIGHT_U[usize::from(z) - 1] - mass_u).abs() <= MASS_TOLERANCE_U)
        .collect();
    let symbol = |z: u8| elements::by_z(z).map_or("?", |e| e.symbol.as_str());
    match near.as_slice() {
        [z] => Ok(*z),
        [] => Err(format!(
            "no element has a standard atomic weight within {MASS_TOLERANCE_U} u of {mass_u}"
        )),
        several => Err(format!(
            "{mass_u} u is within {MASS_TOLERANCE_U} u of {}",
            several
                .iter()
                .map(|&z| symbol(z))
                .collect::<Vec<_>>()
                .join(" and ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masses_name_their_elements_and_close_pairs_are_told_apart_or_refused() {
        for (mass, z) in [
            (91.224, 40),
            (58.933, 27),
            (26.9815, 13),
            (58.69, 28),
            (63.55, 29),
        ] {
            assert_eq!(element_of_mass(mass), Ok(z), "{mass}");
        }
        // Every element names itself.
        for z in 1..=103u8 {
            let w = ATOMIC_WEIGHT_U[usize::from(z) - 1];
            if let Ok(found) = element_of_mass(w) {
                assert_eq!(found, z);
            }
        }
        assert!(element_of_mass(40.0).unwrap_err().contains("Ar and Ca"));
        assert!(element_of_mass(500.0).is_err());
    }
}
