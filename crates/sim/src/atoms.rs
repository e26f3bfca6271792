//! A periodic box of atoms: the hand-off between the glass builder and the forward model.

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

    /// Atoms per nm³.
    pub fn number_density_per_nm3(&self) -> f64 {
        self.len() as f64 / (self.extent_nm[0] * self.extent_nm[1] * self.extent_nm[2])
    }
}
