//! Crystal-like medium-range order: spherical fragments of a cubic lattice (physics.md §7).
//!
//! The lattice constant puts the lattice's strongest low-order reflection on the ring k0 the
//! cluster is asked to diffract into:
//! - bcc and B2, {110} at k0: `a = √2/k0` (0.354 nm at 4 nm⁻¹, nearest neighbours 0.306 nm);
//!   along [001], [111] and [110] these give 4-, 6- and 2-fold rings (physics.md §7 table);
//! - fcc, {111} at k0: `a = √3/k0` (0.433 nm at 4 nm⁻¹, nearest neighbours 0.306 nm); along
//!   [110] the two {111} pairs (70.5°/109.5°) give a 2mm ring whose power sits at n = 4 and 6
//!   (P₂ < 0.1 at 1.3 nm; measured, see `glass::symmetry`); its {200} and {220} fall at 1.15
//!   and 1.63 k0, but the relrods of a 1.3 nm fragment (width 1/D) let [001] {200} show 4.
//!
//! B2 is the CsCl ordering of bcc: the corners are one sublattice, the body centres the other
//! (the caller puts the alloy's majority element on the first). In Zr–Co alloys a B2 ZrCo phase
//! exists (a = 0.32 nm), so a B2-like fragment is the chemically plausible crystal-like order of
//! Zr₅₅Co₂₅Al₂₀; here its size follows k0, like the other types.
//!
//! Local frame: `(u, v, w)` are the cube axes [100], [010], [001]; a lattice site sits on the
//! cluster centre.

use crate::spec::ClusterKind;

/// A cubic lattice type: its basis in units of the lattice constant, and which reflection sits
/// on the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lattice {
    /// Body-centred cubic (B2 is bcc with two sublattices).
    Bcc,
    /// Face-centred cubic.
    Fcc,
}

impl Lattice {
    /// The lattice of a crystal-like cluster kind; `None` for the others.
    pub fn of(kind: ClusterKind) -> Option<Self> {
        match kind {
            ClusterKind::Bcc | ClusterKind::B2 => Some(Self::Bcc),
            ClusterKind::Fcc => Some(Self::Fcc),
            _ => None,
        }
    }

    /// The basis, fractional coordinates; the first site is the corner.
    fn basis(self) -> &'static [[f64; 3]] {
        match self {
            Self::Bcc => &[[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]],
            Self::Fcc => &[
                [0.0, 0.0, 0.0],
                [0.5, 0.5, 0.0],
                [0.5, 0.0, 0.5],
                [0.0, 0.5, 0.5],
            ],
        }
    }

    /// The lattice constant in nm that puts {110} (bcc) or {111} (fcc) on the ring
    /// `k0_per_nm` (k = 1/d, `d_hkl = a/√(h² + k² + l²)`).
    pub fn constant_nm(self, k0_per_nm: f64) -> f64 {
        match self {
            Self::Bcc => 2f64.sqrt() / k0_per_nm,
            Self::Fcc => 3f64.sqrt() / k0_per_nm,
        }
    }
}

/// Sites `(u, v, w)` in nm of the lattice with constant `a_nm`, a site on the origin, strictly
/// inside the sphere of `radius_nm`, each with its basis index (0: corner sublattice).
pub fn lattice_sites(lattice: Lattice, a_nm: f64, radius_nm: f64) -> Vec<([f64; 3], usize)> {
    let cells = (radius_nm / a_nm).ceil() as i64 + 1;
    let mut sites = Vec::new();
    for i in -cells..=cells {
        for j in -cells..=cells {
            for k in -cells..=cells {
                for (b, f) in lattice.basis().iter().enumerate() {
                    let p = [
                        (i as f64 + f[0]) * a_nm,
                        (j as f64 + f[1]) * a_nm,
                        (k as f64 + f[2]) * a_nm,
                    ];
                    if p[0] * p[0] + p[1] * p[1] + p[2] * p[2] < radius_nm * radius_nm {
                        sites.push((p, b));
                    }
                }
            }
        }
    }
    sites
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_have_the_lattice_density_and_bonds() {
        for (lattice, per_cell, nn_over_a) in [
            (Lattice::Bcc, 2.0, 0.75f64.sqrt()),
            (Lattice::Fcc, 4.0, 0.5f64.sqrt()),
        ] {
            let a = lattice.constant_nm(4.0);
            let r = 3.0;
            let sites = lattice_sites(lattice, a, r);
            let density = sites.len() as f64 / (4.0 / 3.0 * std::f64::consts::PI * r.powi(3));
            assert!(
                (density * a.powi(3) / per_cell - 1.0).abs() < 0.02,
                "{lattice:?}: {density}"
            );
            let nearest = sites
                .iter()
                .filter(|(p, _)| p != &[0.0; 3])
                .map(|(p, _)| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt())
                .fold(f64::INFINITY, f64::min);
            assert!((nearest - nn_over_a * a).abs() < 1e-12, "{lattice:?}");
            // Both lattices put their nearest neighbours at 0.306 nm for k0 = 4 nm⁻¹.
            assert!((nearest - 0.306).abs() < 0.001, "{nearest}");
        }
    }
}
