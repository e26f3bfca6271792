//! Relativistic electron optics: wavelength, interaction constant and the size of an
//! aperture-limited probe.
//!
//! Formulas (physics.md §1; abTEM `energy.py`, prismatic `params.h`):
//! λ = hc/√(E(2m₀c² + E)) and σ = (2π/λV)·(m₀c² + eV)/(2m₀c² + eV), with E = eV.

use crate::units::{ELECTRON_REST_ENERGY_KEV, HC_KEV_NM, RAD_PER_MRAD, V_PER_KV};

/// First zero of the Bessel function J₁.
const J1_FIRST_ZERO: f64 = 3.831_705_970_207_512;

/// Half width at half maximum of the Airy intensity [2J₁(x)/x]², in x.
const AIRY_HWHM_X: f64 = 1.616_339_948_310_703;

/// Relativistic electron wavelength in nm for an accelerating voltage in kV.
pub fn wavelength_nm(voltage_kv: f64) -> f64 {
    HC_KEV_NM / (voltage_kv * (2.0 * ELECTRON_REST_ENERGY_KEV + voltage_kv)).sqrt()
}

/// Relativistic factor γ = 1 + eV/m₀c².
pub fn lorentz_factor(voltage_kv: f64) -> f64 {
    1.0 + voltage_kv / ELECTRON_REST_ENERGY_KEV
}

/// Interaction constant σ in rad/(V·nm): the phase a projected potential of 1 V·nm imparts.
pub fn interaction_constant_rad_per_v_nm(voltage_kv: f64) -> f64 {
    let e0 = ELECTRON_REST_ENERGY_KEV;
    let volts = voltage_kv * V_PER_KV;
    2.0 * std::f64::consts::PI / (wavelength_nm(voltage_kv) * volts) * (e0 + voltage_kv)
        / (2.0 * e0 + voltage_kv)
}

/// An aperture-limited, aberration-free probe: the relations of physics.md §1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeOptics {
    /// Accelerating voltage in kV.
    pub voltage_kv: f64,
    /// Convergence semiangle α in mrad.
    pub semiangle_mrad: f64,
}

impl ProbeOptics {
    /// Electron wavelength in nm.
    pub fn wavelength_nm(&self) -> f64 {
        wavelength_nm(self.voltage_kv)
    }

    /// Radius of the illuminating aperture in reciprocal space, α/λ, in nm⁻¹.
    pub fn aperture_radius_per_nm(&self) -> f64 {
        self.semiangle_mrad * RAD_PER_MRAD / self.wavelength_nm()
    }

    /// Aperture radius in detector pixels of `k_pixel_per_nm`.
    pub fn aperture_radius_px(&self, k_pixel_per_nm: f64) -> f64 {
        self.aperture_radius_per_nm() / k_pixel_per_nm
    }

    /// Radius of the first dark ring of the Airy probe, 0.61·λ/α, in nm.
    pub fn airy_first_zero_nm(&self) -> f64 {
        J1_FIRST_ZERO / (2.0 * std::f64::consts::PI * self.aperture_radius_per_nm())
    }

    /// Full width at half maximum of the probe intensity, 0.5145·λ/α, in nm.
    pub fn fwhm_nm(&self) -> f64 {
        AIRY_HWHM_X / (std::f64::consts::PI * self.aperture_radius_per_nm())
    }

    /// Scattering angle in mrad of a reciprocal length k (θ = λk).
    pub fn angle_mrad(&self, k_per_nm: f64) -> f64 {
        self.wavelength_nm() * k_per_nm / RAD_PER_MRAD
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn wavelength_matches_physics_reference() {
        assert_relative_eq!(wavelength_nm(300.0), 1.96875e-3, max_relative = 2e-6);
        assert_relative_eq!(wavelength_nm(200.0), 2.5079e-3, max_relative = 2e-5);
        assert_relative_eq!(wavelength_nm(100.0), 3.7014e-3, max_relative = 2e-5);
    }

    #[test]
    fn wavelength_matches_angstrom_formula() {
        // λ[Å] = 12.2643/√(V(1 + 0.97848·10⁻⁶V)), V in volts.
        for kv in [60.0_f64, 80.0, 120.0, 200.0, 300.0] {
            let v = kv * 1e3;
            let lambda_a = 12.2643 / (v * (1.0 + 0.97848e-6 * v)).sqrt();
            assert_relative_eq!(wavelength_nm(kv) * 10.0, lambda_a, max_relative = 1e-4);
        }
    }

    #[test]
    fn interaction_constant_matches_physics_reference() {
        assert_relative_eq!(
            interaction_constant_rad_per_v_nm(300.0),
            6.5262e-3,
            max_relative = 2e-5
        );
        // 7.288·10⁻⁴ and 9.244·10⁻⁴ rad/(V·Å).
        assert_relative_eq!(
            interaction_constant_rad_per_v_nm(200.0),
            7.288e-3,
            max_relative = 1e-4
        );
        assert_relative_eq!(
            interaction_constant_rad_per_v_nm(100.0),
            9.244e-3,
            max_relative = 1e-4
        );
        assert_relative_eq!(lorentz_factor(300.0), 1.58709, max_relative = 1e-5);
    }

    #[test]
    fn sigma_times_scattering_constant_is_gamma_lambda() {
        // σ·47.878 V·Å² = γλ (physics.md §2).
        for kv in [100.0, 200.0, 300.0] {
            let lhs = interaction_constant_rad_per_v_nm(kv) * crate::units::TWO_PI_A0_E_V_NM2;
            assert_relative_eq!(
                lhs,
                lorentz_factor(kv) * wavelength_nm(kv),
                max_relative = 1e-4
            );
        }
    }

    #[test]
    fn paper_probe_sizes() {
        let p = ProbeOptics {
            voltage_kv: 300.0,
            semiangle_mrad: 1.15,
        };
        assert_relative_eq!(p.airy_first_zero_nm(), 1.044, max_relative = 2e-3);
        assert_relative_eq!(p.fwhm_nm(), 0.8808, max_relative = 2e-3);
        assert_relative_eq!(p.aperture_radius_per_nm(), 0.584, max_relative = 2e-3);
        assert_relative_eq!(p.aperture_radius_px(0.16), 3.65, max_relative = 2e-3);
        assert_relative_eq!(p.angle_mrad(4.0), 7.875, max_relative = 1e-3);
        assert_relative_eq!(
            p.angle_mrad(1.0 / 0.508 * 1.0),
            1.0 / 0.508 * 1.96875,
            max_relative = 1e-6
        );
    }
}
