//! Glass volumes with embedded n-fold MRO clusters and the nanodiffraction forward model.
//!
//! Units and conventions are those of `mro-core`: nm, nm⁻¹ with k = 1/d, mrad, kV; the beam
//! travels along +z.
//!
//! The forward model runs as typed stages: [`AtomVolume`] → [`potential::Field`] (projected
//! potential, slice potentials or transmission functions, built in Fourier space from Lobato
//! scattering factors) → a [`propagation::Propagation`] model per probe window → a
//! [`detector::Detector`] (dose, Poisson noise, gain) → scan rows streamed by
//! [`simulate::simulate`].

pub mod atom_file;
pub mod atoms;
pub mod coherence;
pub mod detector;
pub mod eikonal;
pub mod elements;
pub mod fft2;
pub mod glass;
pub mod potential;
pub mod probe;
pub mod propagation;
pub mod psf;
pub mod reference;
pub mod scan_blur;
pub mod scattering;
pub mod simulate;
pub mod spec;
pub mod tail;
pub mod thermal;

pub use atoms::AtomVolume;
pub use glass::{build_glass, check_placement, Glass, GlassError, GlassStage, Truth};
pub use simulate::{
    calibration, check_whole_atoms, forward_grid, simulate, ForwardGrid, ForwardOptions, Progress,
    SimError,
};
