//! The Im et al. (2018) 4D-STEM medium-range-order analysis, for simulated or measured data.
//!
//! Conventions are those of `mro-core` (k = 1/d, `[scan_y, scan_x, det_y, det_x]`, φ from +k_x
//! toward +k_y). The angular power spectrum at a ring is P_n = |I_n|²/|I_0|², the n-th Fourier
//! coefficient of the Wochner angular correlation C_k(φ) ([`correlation`]).
//!
//! The measurement, stage by stage:
//! 1. [`polar`]: a sparse polar transform planned once (rings for V(k) plus the analysis ring);
//! 2. [`accumulator`]: per-pattern ring means, Poisson-corrected ring variances and P_n, stored
//!    per scan position so chunked, streamed and in-memory runs agree bit for bit;
//! 3. [`variance`]: V_Ω(k) and V_r(k) with the Poisson correction;
//! 4. maps (⟨I2D⟩, V2D, P_n per n, normalised sum), [`threshold`] and [`particles`] (regions,
//!    diameters, volume fractions), [`autocorrelation`] (σ(r));
//! 5. [`pipeline`]: [`analyze_datacube`] (in memory) and [`analyze_npy`] (streamed), giving
//!    [`AnalysisOutput`] whose [`AnalysisResult`] is `analysis.json`.
//!
//! Two estimators run side by side on the same pass: `im2018`, the published procedure (the
//! binned P_n maps of step 2, [`threshold`], [`particles`]), and `mro` ([`mro_estimator`]:
//! full-resolution P_n with the exact per-pattern shot-noise correction of [`ring_fourier`],
//! [`significance`]-based regions, [`size_model`] diameters). `config.method` names the one a
//! score takes as the answer.
//!
//! [`reference`](mod@reference) holds slow, obviously correct versions that the fast paths are tested against.

pub mod accumulator;
pub mod autocorrelation;
pub mod center;
pub mod completeness;
pub mod config;
pub mod correlation;
pub mod error;
pub mod mask;
pub mod mro_estimator;
pub mod nearest_neighbor;
pub mod particles;
pub mod pipeline;
pub mod polar;
pub mod reference;
pub mod result;
pub mod ring_fourier;
pub mod screen;
pub mod significance;
pub mod size_model;
pub mod threshold;
pub mod variance;

#[cfg(test)]
mod mro_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod variance_tests;

pub use config::{AnalysisConfig, InConditionModel, Method, Threshold};
pub use error::AnalysisError;
pub use pipeline::{
    analyze_datacube, analyze_npy, analyze_source, analyze_source_screened, check_rings,
    RunOptions, Screened,
};
pub use result::{AnalysisMaps, AnalysisOutput, AnalysisResult, ANALYSIS_SCHEMA};
