//! Foundations shared by every mro crate.
//!
//! Conventions, stated once for the whole project:
//! - lengths in nm, reciprocal lengths in nm⁻¹ with **k = 1/d** (no 2π), beam angles in mrad,
//!   azimuths in degrees where users see them, accelerating voltages in kV;
//! - a datacube is `[scan_y, scan_x, det_y, det_x]`, C order, `f32` counts; detector pixel
//!   `(i, j)` sits at `k = ((j − cx)·dk, (i − cy)·dk)` with the centre `(cy, cx)` taken from the
//!   [`Calibration`], never assumed to be `N/2`;
//! - the azimuth φ is measured from +k_x toward +k_y;
//! - randomness comes from one master seed split into named streams ([`seed::Seeds`]).

pub mod charge_sharing;
pub mod check;
pub mod datacube;
pub mod empad;
pub mod frames;
pub mod grid;
pub mod hdf5;
pub mod meta;
pub mod npy;
pub mod optics;
pub mod seed;
pub mod special;
pub mod units;

pub use check::InvalidValue;
pub use datacube::{Calibration, CalibrationError, Datacube};
pub use frames::{Format, FrameSource, SourceError};
pub use grid::Grid;
pub use meta::Meta;
pub use npy::{NpyError, NpyReader, NpyWriter};
pub use seed::Seeds;
