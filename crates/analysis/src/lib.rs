//! The Im et al. (2018) 4D-STEM medium-range-order analysis, for simulated or measured data.
//!
//! Conventions are those of `mro-core` (k = 1/d, `[scan_y, scan_x, det_y, det_x]`, φ from +k_x
//! toward +k_y). The angular power spectrum at a ring is P_n = |I_n|²/|I_0|², the n-th Fourier
//! coefficient of the Wochner angular correlation C_k(φ).

pub mod config;

pub use config::{AnalysisConfig, Threshold};
