//! Glass volumes with embedded n-fold MRO clusters and the nanodiffraction forward model.
//!
//! Units and conventions are those of `mro-core`: nm, nm⁻¹ with k = 1/d, mrad, kV; the beam
//! travels along +z.

pub mod atoms;
pub mod elements;
pub mod spec;

pub use atoms::AtomVolume;
