//! Detector masks: dead pixels and beam stops.
//!
//! A mask is a detector-shaped (`[det_y, det_x]`) `.npy` array of any numeric dtype; a
//! **non-zero value marks a pixel to exclude**. (NumPy booleans: save as `mask.astype('u1')`.)

use std::path::Path;

use mro_core::npy::NpyReader;

use crate::error::AnalysisError;

/// Reads a mask file; `true` = excluded. Checks it against `detector_shape`.
pub fn read_mask(path: &Path, detector_shape: [usize; 2]) -> Result<Vec<bool>, AnalysisError> {
    let mut r = NpyReader::open(path)?;
    let shape = r.shape().to_vec();
    if shape != detector_shape {
        return Err(AnalysisError::Mask {
            path: path.to_path_buf(),
            reason: format!(
                "header field `shape` = {shape:?}: expected the detector shape {detector_shape:?}"
            ),
        });
    }
    let mut v = vec![0f32; shape.iter().product()];
    r.read_f32_at(0, &mut v)?;
    Ok(v.iter().map(|&x| x != 0.0).collect())
}
