//! Metallic (Goldschmidt, 12-fold coordination) atomic radii and the pair distances derived from
//! them.
//!
//! The pair contact distance d_ab is the radius sum r_a + r_b, or a tabulated value for the
//! strongly bonded pairs of Zr–Co–Al. Two atoms repel softly inside [`SOFT_CONTACT`]·d_ab during
//! relaxation and are never closer than [`MIN_DISTANCE`]·d_ab in a finished volume. For
//! Zr55Co25Al20 this gives Zr–Zr ≥ 0.250 nm, Zr–Co ≥ 0.215 nm, Co–Co ≥ 0.195 nm, a first g(r)
//! peak near 0.28 nm and a first S(k) maximum near 4.05 nm⁻¹ (physics.md §4; tested in
//! `tests/glass_matrix.rs`).

/// Fraction of the radius sum inside which two atoms repel during relaxation.
pub const SOFT_CONTACT: f64 = 1.03;

/// Fraction of the radius sum that no pair of a finished volume may undercut.
pub const MIN_DISTANCE: f64 = 0.78;

/// CN12 metallic radii in nm (Teatum, Gschneidner & Waber; Pauling), for the elements that make
/// up common metallic glasses. Elements outside this list have no radius: building a glass with
/// them is refused rather than guessed.
const RADII_NM: &[(u8, f64)] = &[
    (3, 0.157),  // Li
    (4, 0.113),  // Be
    (5, 0.098),  // B (covalent, as in metal–metalloid glasses)
    (6, 0.077),  // C (covalent)
    (11, 0.191), // Na
    (12, 0.160), // Mg
    (13, 0.143), // Al
    (14, 0.132), // Si (covalent-metallic)
    (15, 0.128), // P
    (19, 0.235), // K
    (20, 0.197), // Ca
    (21, 0.164), // Sc
    (22, 0.147), // Ti
    (23, 0.135), // V
    (24, 0.128), // Cr
    (25, 0.127), // Mn
    (26, 0.126), // Fe
    (27, 0.125), // Co
    (28, 0.125), // Ni
    (29, 0.128), // Cu
    (30, 0.137), // Zn
    (31, 0.141), // Ga
    (32, 0.137), // Ge
    (38, 0.215), // Sr
    (39, 0.180), // Y
    (40, 0.160), // Zr
    (41, 0.147), // Nb
    (42, 0.140), // Mo
    (44, 0.134), // Ru
    (45, 0.134), // Rh
    (46, 0.137), // Pd
    (47, 0.144), // Ag
    (49, 0.166), // In
    (50, 0.158), // Sn
    (51, 0.161), // Sb
    (56, 0.224), // Ba
    (57, 0.187), // La
    (58, 0.182), // Ce
    (59, 0.182), // Pr
    (60, 0.182), // Nd
    (62, 0.180), // Sm
    (64, 0.180), // Gd
    (65, 0.178), // Tb
    (66, 0.177), // Dy
    (67, 0.176), // Ho
    (68, 0.176), // Er
    (70, 0.194), // Yb
    (72, 0.159), // Hf
    (73, 0.147), // Ta
    (74, 0.141), // W
    (75, 0.137), // Re
    (77, 0.136), // Ir
    (78, 0.139), // Pt
    (79, 0.144), // Au
    (82, 0.175), // Pb
    (83, 0.182), // Bi
];

/// Contact distances in nm of strongly bonded pairs that differ from the radius sum, from the
/// nearest-neighbour distances of Zr–Co–Al glasses (physics.md §4: Zr–Co 0.27–0.28, Zr–Al
/// 0.29–0.30, Co–Co ≈ 0.25, Co–Al 0.25–0.26, Al–Al ≈ 0.28). The contraction of unlike pairs
/// (chemical short-range order) is what lets the large atoms keep their own distance at the
/// alloy's density.
const PAIR_CONTACT_NM: &[(u8, u8, f64)] = &[
    (40, 27, 0.275),
    (40, 13, 0.295),
    (27, 27, 0.250),
    (27, 13, 0.255),
    (13, 13, 0.280),
];

/// The contact distance of elements `za` and `zb` in nm: the tabulated pair distance where
/// there is one, else the sum of the CN12 radii.
pub fn contact_distance_nm(za: u8, zb: u8) -> Option<f64> {
    PAIR_CONTACT_NM
        .iter()
        .find(|&&(a, b, _)| (a, b) == (za, zb) || (b, a) == (za, zb))
        .map(|&(_, _, d)| d)
        .or_else(|| Some(metallic_radius_nm(za)? + metallic_radius_nm(zb)?))
}

/// The CN12 metallic radius of element `z` in nm, if mro knows it.
pub fn metallic_radius_nm(z: u8) -> Option<f64> {
    RADII_NM.iter().find(|&&(zz, _)| zz == z).map(|&(_, r)| r)
}

/// Per-pair distances for the species of one volume, indexed by species slot.
#[derive(Debug, Clone)]
pub(crate) struct PairTable {
    /// Number of species.
    pub species: usize,
    /// Soft-contact distance in nm, `species × species`.
    pub soft_nm: Vec<f64>,
    /// Minimum distance in nm, `species × species`.
    pub min_nm: Vec<f64>,
}

impl PairTable {
    /// The table for species of atomic numbers `z` (each must have a radius).
    pub fn new(z: &[u8]) -> Self {
        let s = z.len();
        let mut soft_nm = vec![0.0; s * s];
        let mut min_nm = vec![0.0; s * s];
        for a in 0..s {
            for b in 0..s {
                let d = contact_distance_nm(z[a], z[b]).expect("species have radii");
                soft_nm[a * s + b] = SOFT_CONTACT * d;
                min_nm[a * s + b] = MIN_DISTANCE * d;
            }
        }
        Self {
            species: s,
            soft_nm,
            min_nm,
        }
    }

    /// Soft-contact distance between species slots `a` and `b`.
    #[inline]
    pub fn soft(&self, a: u8, b: u8) -> f64 {
        self.soft_nm[usize::from(a) * self.species + usize::from(b)]
    }

    /// Minimum distance between species slots `a` and `b`.
    #[inline]
    pub fn min(&self, a: u8, b: u8) -> f64 {
        self.min_nm[usize::from(a) * self.species + usize::from(b)]
    }

    /// The largest soft-contact distance.
    pub fn max_soft(&self) -> f64 {
        self.soft_nm.iter().copied().fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloy_radii_and_pair_minima() {
        assert_eq!(metallic_radius_nm(40), Some(0.160));
        assert_eq!(metallic_radius_nm(27), Some(0.125));
        assert_eq!(metallic_radius_nm(13), Some(0.143));
        assert_eq!(metallic_radius_nm(2), None);
        let t = PairTable::new(&[40, 27]);
        assert!((t.min(0, 0) - MIN_DISTANCE * 0.32).abs() < 1e-12);
        assert!((t.soft(0, 1) - SOFT_CONTACT * 0.275).abs() < 1e-12);
        assert_eq!(t.soft(0, 1), t.soft(1, 0));
        assert!((t.max_soft() - SOFT_CONTACT * 0.32).abs() < 1e-12);
        assert!((contact_distance_nm(29, 40).unwrap() - 0.288).abs() < 1e-12);
        assert_eq!(contact_distance_nm(2, 40), None);
    }
}
