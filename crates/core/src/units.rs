//! The internal unit system and the physical constants it needs.
//!
//! Internal units: nm for lengths, nm⁻¹ for reciprocal lengths with k = 1/d, mrad for beam
//! angles, kV for accelerating voltages, V for potentials. Values tabulated in other units (Å for
//! scattering factors) are converted once, where they are read, with the factors below.

/// Electron rest energy m₀c² in keV (CODATA 2018).
pub const ELECTRON_REST_ENERGY_KEV: f64 = 510.998_950_00;

/// hc in keV·nm (CODATA 2018), so that λ[nm] = hc / pc[keV].
pub const HC_KEV_NM: f64 = 1.239_841_984;

/// 2π·a₀·e = h²/(2π·m₀·e) in V·nm²: converts an electron scattering factor f_e (nm) to the
/// Fourier transform of the atomic potential (V·nm³). 47.878 V·Å² in the tables.
pub const TWO_PI_A0_E_V_NM2: f64 = 0.478_78;

/// Nanometres per ångström.
pub const NM_PER_ANGSTROM: f64 = 0.1;

/// Ångströms per nanometre.
pub const ANGSTROM_PER_NM: f64 = 10.0;

/// Radians per milliradian.
pub const RAD_PER_MRAD: f64 = 1.0e-3;

/// Volts per kilovolt.
pub const V_PER_KV: f64 = 1.0e3;
