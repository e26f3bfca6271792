//! A periodic box of atoms: the hand-off between the glass builder and the forward model.

use rand::Rng;

/// Atoms in an orthorhombic box, periodic in x and y, finite in z (the beam direction).
///
/// Positions are in nm with `0 <= x < extent_nm[0]`, `0 <= y < extent_nm[1]` and
/// `0 <= z <= extent_nm[2]`; the beam travels along +z, entering at z = 0.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AtomVolume {
    /// Box size `[x, y, z]` in nm; z is the foil thickness.
    pub extent_nm: [f64; 3],
    /// Atom positions `[x, y, z]` in nm.
    pub positions_nm: Vec<[f64; 3]>,
    /// Atomic numbers, one per position.
    pub atomic_numbers: Vec<u8>,
}

impl AtomVolume {
    /// An empty box.
    pub fn new(extent_nm: [f64; 3]) -> Self {
        Self {
            extent_nm,
            ..Self::default()
        }
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.positions_nm.len()
    }

    /// Whether the box holds no atoms.
    pub fn is_empty(&self) -> bool {
        self.positions_nm.is_empty()
    }

    /// Adds an atom, wrapping x and y into the box.
    pub fn push(&mut self, position_nm: [f64; 3], atomic_number: u8) {
        let [x, y, z] = position_nm;
        self.positions_nm.push([
            x.rem_euclid(self.extent_nm[0]),
            y.rem_euclid(self.extent_nm[1]),
            z,
        ]);
        self.atomic_numbers.push(atomic_number);
    }

    /// `round(density·V)` atoms at independent uniform positions, each species drawn with its
    /// atomic fraction (`composition` as `(Z, fraction)`, fractions summing to 1; the last
    /// species takes any rounding remainder). No minimum distances: an uncorrelated fixture for
    /// forward-model tests and timings, not a glass (that is [`crate::glass`]).
    pub fn uniform_random(
        extent_nm: [f64; 3],
        composition: &[(u8, f64)],
        density_per_nm3: f64,
        rng: &mut impl Rng,
    ) -> Self {
        let [lx, ly, lz] = extent_nm;
        let count = (density_per_nm3 * lx * ly * lz).round() as usize;
        let mut v = Self::new(extent_nm);
        for _ in 0..count {
            let mut u: f64 = rng.gen();
            let z = composition
                .iter()
                .find(|&&(_, f)| {
                    u -= f;
                    u < 0.0
                })
                .or(composition.last())
                .map_or(0, |&(z, _)| z);
            v.push(
                [
                    rng.gen::<f64>() * lx,
                    rng.gen::<f64>() * ly,
                    rng.gen::<f64>() * lz,
                ],
                z,
            );
        }
        v
    }

    /// Atoms per nm³.
    pub fn number_density_per_nm3(&self) -> f64 {
        self.len() as f64 / (self.extent_nm[0] * self.extent_nm[1] * self.extent_nm[2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_random_volume_has_its_density_composition_and_bounds() {
        let extent = [6.0, 5.0, 4.0];
        let mut rng = mro_core::Seeds::new(3).stream("atoms");
        let v = AtomVolume::uniform_random(
            extent,
            &[(40, 0.55), (27, 0.25), (13, 0.20)],
            54.0,
            &mut rng,
        );
        assert_eq!(v.len(), 6480);
        assert!((v.number_density_per_nm3() - 54.0).abs() < 1e-12);
        for (z, f) in [(40, 0.55), (27, 0.25), (13, 0.20)] {
            let share = v.atomic_numbers.iter().filter(|&&a| a == z).count() as f64 / 6480.0;
            // Binomial sd ≤ 0.0062 at this count: 4 sd.
            assert!((share - f).abs() < 0.025, "Z = {z}: {share}");
        }
        assert!(v
            .positions_nm
            .iter()
            .all(|p| (0..3).all(|i| p[i] >= 0.0 && p[i] <= extent[i])));
    }
}
