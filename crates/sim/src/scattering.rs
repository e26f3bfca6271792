//! Electron scattering factors f_e(k) from the Lobato & Van Dyck (2014) parametrisation.
//!
//! f_e(k) = Σᵢ aᵢ(2 + bᵢk²)/(1 + bᵢk²)², with the table's aᵢ in Å and bᵢ in Å² and k = 1/d in
//! Å⁻¹ (physics.md §2). This module converts once at the edge: callers pass k in nm⁻¹ and get
//! f_e in nm. The Fourier transform of one atom's (projected) potential is
//! 2πa₀e·f_e(k) = 0.47878 V·nm² · f_e(k), in V·nm³.

use mro_core::units::{ANGSTROM_PER_NM, NM_PER_ANGSTROM, TWO_PI_A0_E_V_NM2};

use crate::elements::{self, Element};

/// The scattering factor of one element, ready to evaluate in nm units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScatteringFactor {
    /// Atomic number.
    pub z: u8,
    a_angstrom: [f64; 5],
    b_angstrom2: [f64; 5],
}

impl ScatteringFactor {
    /// The factor of a tabulated element.
    pub fn new(element: &Element) -> Self {
        Self {
            z: element.z,
            a_angstrom: element.lobato_a,
            b_angstrom2: element.lobato_b,
        }
    }

    /// The factor of atomic number `z`, if Z = 1–103.
    pub fn for_z(z: u8) -> Option<Self> {
        elements::by_z(z).map(Self::new)
    }

    /// f_e in Å at k in Å⁻¹ (the table's own units).
    pub fn fe_angstrom(&self, k_per_angstrom: f64) -> f64 {
        let k2 = k_per_angstrom * k_per_angstrom;
        self.a_angstrom
            .iter()
            .zip(&self.b_angstrom2)
            .map(|(&a, &b)| {
                let d = 1.0 + b * k2;
                a * (2.0 + b * k2) / (d * d)
            })
            .sum()
    }

    /// f_e in nm at k = 1/d in nm⁻¹.
    pub fn fe_nm(&self, k_per_nm: f64) -> f64 {
        self.fe_angstrom(k_per_nm * NM_PER_ANGSTROM) * NM_PER_ANGSTROM
    }

    /// Fourier transform of the atom's projected potential at k (nm⁻¹), in V·nm³:
    /// 2πa₀e·f_e(k). At k = 0 it is ∫v_z d²r.
    pub fn potential_ft_v_nm3(&self, k_per_nm: f64) -> f64 {
        TWO_PI_A0_E_V_NM2 * self.fe_nm(k_per_nm)
    }
}

/// Convenience: f_e in nm for atomic number `z` at k in nm⁻¹.
///
/// # Panics
/// If `z` is not in 1–103.
pub fn fe_nm(z: u8, k_per_nm: f64) -> f64 {
    ScatteringFactor::for_z(z)
        .unwrap_or_else(|| panic!("no scattering factor for Z = {z}"))
        .fe_nm(k_per_nm)
}

/// Å⁻¹ per nm⁻¹ (for callers converting published k values).
pub const ANGSTROM_INV_PER_NM_INV: f64 = NM_PER_ANGSTROM;

/// nm⁻¹ per Å⁻¹.
pub const NM_INV_PER_ANGSTROM_INV: f64 = ANGSTROM_PER_NM;

#[cfg(test)]
mod tests {
    use super::*;

    /// physics.md §2 check values (Kirkland; Lobato agrees within ≤ 1 %).
    #[test]
    fn reproduces_physics_check_values() {
        let table: [(&str, [f64; 5]); 3] = [
            ("Al", [5.892, 4.232, 2.303, 0.701, 0.256]),
            ("Co", [6.853, 5.401, 3.536, 1.416, 0.485]),
            ("Zr", [12.190, 8.709, 5.189, 1.829, 0.673]),
        ];
        let ks_per_angstrom = [0.0, 0.2, 0.4, 1.0, 2.0];
        for (symbol, expected) in table {
            let f = ScatteringFactor::new(elements::by_symbol(symbol).unwrap());
            for (&k, &want) in ks_per_angstrom.iter().zip(&expected) {
                let got_angstrom = f.fe_nm(k * NM_INV_PER_ANGSTROM_INV) * ANGSTROM_PER_NM;
                let rel = (got_angstrom - want).abs() / want;
                assert!(
                    rel < 0.02,
                    "{symbol} f_e({k} Å⁻¹) = {got_angstrom} Å, expected {want} Å"
                );
            }
        }
    }

    #[test]
    fn projected_potential_integral_is_47_878_fe0() {
        // Zr: ∫v_z d²r = 47.878·f_e(0) V·Å³ = 583.6 V·Å³ = 0.5836 V·nm³.
        let zr = ScatteringFactor::for_z(40).unwrap();
        let v = zr.potential_ft_v_nm3(0.0);
        assert!((v - 0.5836).abs() < 0.003, "{v}");
        // Decreasing with k.
        assert!(zr.fe_nm(4.0) < zr.fe_nm(2.0) && zr.fe_nm(2.0) < zr.fe_nm(0.0));
    }
}
