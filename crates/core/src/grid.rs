//! A regular, periodic 2-D sampling grid: extent, points and sampling tied together.

use serde::{Deserialize, Serialize};

/// A periodic grid of `points[axis]` samples over `extent_nm[axis]`, axes ordered `[y, x]`.
///
/// Real-space sampling is `extent/points`; the reciprocal sampling of its discrete Fourier
/// transform is `1/extent` (k = 1/d) and the Nyquist frequency is `points/(2·extent)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Side lengths `[y, x]` in nm.
    pub extent_nm: [f64; 2],
    /// Number of samples `[y, x]`.
    pub points: [usize; 2],
}

impl Grid {
    /// A grid of `points` samples over `extent_nm`.
    ///
    /// # Panics
    /// If an extent is not positive and finite or a point count is zero.
    pub fn new(extent_nm: [f64; 2], points: [usize; 2]) -> Self {
        assert!(
            extent_nm.iter().all(|e| e.is_finite() && *e > 0.0),
            "grid extent must be positive, got {extent_nm:?}"
        );
        assert!(
            points.iter().all(|&n| n > 0),
            "grid needs points, got {points:?}"
        );
        Self { extent_nm, points }
    }

    /// The grid with `points` samples whose reciprocal sampling is `dk_per_nm` on both axes.
    pub fn from_reciprocal_sampling(dk_per_nm: f64, points: [usize; 2]) -> Self {
        Self::new([1.0 / dk_per_nm, 1.0 / dk_per_nm], points)
    }

    /// Real-space sampling `[y, x]` in nm per pixel.
    pub fn sampling_nm(&self) -> [f64; 2] {
        [
            self.extent_nm[0] / self.points[0] as f64,
            self.extent_nm[1] / self.points[1] as f64,
        ]
    }

    /// Reciprocal sampling `[y, x]` in nm⁻¹ per pixel (k = 1/d).
    pub fn reciprocal_sampling_per_nm(&self) -> [f64; 2] {
        [1.0 / self.extent_nm[0], 1.0 / self.extent_nm[1]]
    }

    /// Nyquist frequency `[y, x]` in nm⁻¹.
    pub fn nyquist_per_nm(&self) -> [f64; 2] {
        let s = self.sampling_nm();
        [0.5 / s[0], 0.5 / s[1]]
    }

    /// Total number of samples.
    pub fn len(&self) -> usize {
        self.points[0] * self.points[1]
    }

    /// Whether the grid holds no samples (never true for a constructed grid).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Spatial frequency in nm⁻¹ of FFT index `i` along `axis`, in the standard FFT order
    /// (0, 1, …, ⌈N/2⌉−1, −⌊N/2⌋, …, −1).
    pub fn frequency_per_nm(&self, axis: usize, i: usize) -> f64 {
        let n = self.points[axis];
        let signed = if i < n.div_ceil(2) {
            i as f64
        } else {
            i as f64 - n as f64
        };
        signed / self.extent_nm[axis]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn sampling_relations() {
        let g = Grid::new([6.25, 6.25], [192, 192]);
        assert_relative_eq!(g.reciprocal_sampling_per_nm()[0], 0.16);
        assert_relative_eq!(g.sampling_nm()[1], 6.25 / 192.0);
        assert_relative_eq!(g.nyquist_per_nm()[0], 15.36, max_relative = 1e-12);
        assert_eq!(g.len(), 192 * 192);
    }

    #[test]
    fn fft_frequency_order() {
        let g = Grid::new([2.0, 2.0], [5, 4]);
        let fy: Vec<f64> = (0..5).map(|i| g.frequency_per_nm(0, i)).collect();
        assert_eq!(fy, vec![0.0, 0.5, 1.0, -1.0, -0.5]);
        let fx: Vec<f64> = (0..4).map(|i| g.frequency_per_nm(1, i)).collect();
        assert_eq!(fx, vec![0.0, 0.5, -1.0, -0.5]);
    }

    #[test]
    fn reciprocal_constructor() {
        let g = Grid::from_reciprocal_sampling(0.16, [128, 128]);
        assert_relative_eq!(g.extent_nm[0], 6.25);
    }
}
