//! Cluster orientations and the Bragg condition.
//!
//! A cluster's frame is `(e1, e2, e3)`: `e3` is its symmetry axis, and its defining reflections
//! lie in the `e1`–`e2` plane at k0 (see [`super::motif`]). The frame is the minimal rotation
//! taking +z to the axis, followed by a turn of `in_plane_deg` about the axis.

use std::f64::consts::PI;

use rand::Rng;

use crate::spec::Orientation;

/// A right-handed orthonormal frame; `e3` is the cluster axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// First in-plane unit vector.
    pub e1: [f64; 3],
    /// Second in-plane unit vector.
    pub e2: [f64; 3],
    /// The symmetry axis.
    pub e3: [f64; 3],
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn normalise(a: [f64; 3]) -> [f64; 3] {
    let n = dot(a, a).sqrt();
    [a[0] / n, a[1] / n, a[2] / n]
}

impl Frame {
    /// The frame with axis `axis` (normalised here) turned by `in_plane_deg` about it.
    pub fn new(axis: [f64; 3], in_plane_deg: f64) -> Self {
        let a = normalise(axis);
        // Minimal rotation taking z to a (Rodrigues); images of x and y.
        let (ex, ey) = if a[2] < -1.0 + 1e-12 {
            ([1.0, 0.0, 0.0], [0.0, -1.0, 0.0])
        } else {
            let f = 1.0 / (1.0 + a[2]);
            (
                [1.0 - a[0] * a[0] * f, -a[0] * a[1] * f, -a[0]],
                [-a[0] * a[1] * f, 1.0 - a[1] * a[1] * f, -a[1]],
            )
        };
        let (s, c) = in_plane_deg.to_radians().sin_cos();
        let e1 = normalise(std::array::from_fn(|i| c * ex[i] + s * ey[i]));
        let e2 = normalise(std::array::from_fn(|i| -s * ex[i] + c * ey[i]));
        Self { e1, e2, e3: a }
    }

    /// World coordinates of the local point `(u, v, w)` (relative to the cluster centre).
    #[inline]
    pub fn to_world(&self, u: f64, v: f64, w: f64) -> [f64; 3] {
        std::array::from_fn(|i| u * self.e1[i] + v * self.e2[i] + w * self.e3[i])
    }

    /// The components `(u, v, w)` of the world vector `p` on this frame (the inverse of
    /// [`Frame::to_world`]).
    #[inline]
    pub fn components(&self, p: [f64; 3]) -> [f64; 3] {
        [dot(p, self.e1), dot(p, self.e2), dot(p, self.e3)]
    }

    /// Unit vector in the cluster plane at azimuth `theta` (radians) from `e1` toward `e2`.
    pub fn in_plane(&self, theta: f64) -> [f64; 3] {
        let (s, c) = theta.sin_cos();
        std::array::from_fn(|i| c * self.e1[i] + s * self.e2[i])
    }

    /// The largest angle in degrees between a defining reflection and the diffraction plane
    /// (perpendicular to the beam, +z). `directions_rad` are the reflections' in-plane azimuths.
    pub fn worst_reflection_elevation_deg(&self, directions_rad: &[f64]) -> f64 {
        directions_rad
            .iter()
            .map(|&t| self.in_plane(t)[2].abs().min(1.0).asin().to_degrees())
            .fold(0.0, f64::max)
    }
}

/// Draws an axis for orientation `mode`: uniform on the sphere for `Random`; for `Aligned`, +z
/// tilted by an angle whose two components are normal with standard deviation
/// `tilt_spread_deg` (so the tilt magnitude is Rayleigh-distributed) about a random azimuth.
pub fn draw_axis<R: Rng>(rng: &mut R, mode: Orientation, tilt_spread_deg: f64) -> [f64; 3] {
    match mode {
        Orientation::Random => {
            let cz: f64 = 2.0 * rng.gen::<f64>() - 1.0;
            let phi = 2.0 * PI * rng.gen::<f64>();
            let sz = (1.0 - cz * cz).max(0.0).sqrt();
            [sz * phi.cos(), sz * phi.sin(), cz]
        }
        Orientation::Aligned => {
            let (gx, gy) = standard_normal_pair(rng);
            let tx = (gx * tilt_spread_deg).to_radians();
            let ty = (gy * tilt_spread_deg).to_radians();
            let tilt = tx.hypot(ty).min(PI);
            if tilt == 0.0 {
                return [0.0, 0.0, 1.0];
            }
            let (s, c) = tilt.sin_cos();
            [s * tx / tilt, s * ty / tilt, c]
        }
    }
}

/// Two independent standard normal draws (Box–Muller).
pub(crate) fn standard_normal_pair<R: Rng>(rng: &mut R) -> (f64, f64) {
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let u2: f64 = rng.gen::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (2.0 * PI * u2).sin_cos();
    (r * c, r * s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mro_core::Seeds;

    #[test]
    fn frames_are_orthonormal_and_follow_the_axis() {
        let mut rng = Seeds::new(1).stream("t");
        for _ in 0..200 {
            let a = draw_axis(&mut rng, Orientation::Random, 0.0);
            let f = Frame::new(a, 360.0 * rng.gen::<f64>());
            for (x, y) in [(f.e1, f.e1), (f.e2, f.e2), (f.e3, f.e3)] {
                assert!((dot(x, y) - 1.0).abs() < 1e-12);
            }
            assert!(dot(f.e1, f.e2).abs() < 1e-12 && dot(f.e1, f.e3).abs() < 1e-12);
            let cross = [
                f.e1[1] * f.e2[2] - f.e1[2] * f.e2[1],
                f.e1[2] * f.e2[0] - f.e1[0] * f.e2[2],
                f.e1[0] * f.e2[1] - f.e1[1] * f.e2[0],
            ];
            assert!((dot(cross, f.e3) - 1.0).abs() < 1e-12);
        }
        let f = Frame::new([0.0, 0.0, 1.0], 90.0);
        assert!((f.e1[1] - 1.0).abs() < 1e-12 && (f.e2[0] + 1.0).abs() < 1e-12);
    }

    #[test]
    fn aligned_axes_tilt_by_the_spread() {
        let mut rng = Seeds::new(2).stream("t");
        assert_eq!(
            draw_axis(&mut rng, Orientation::Aligned, 0.0),
            [0.0, 0.0, 1.0]
        );
        let n = 4000;
        let mean_sq: f64 = (0..n)
            .map(|_| {
                let a = draw_axis(&mut rng, Orientation::Aligned, 5.0);
                a[2].acos().to_degrees().powi(2)
            })
            .sum::<f64>()
            / n as f64;
        // Rayleigh: E[tilt²] = 2σ².
        assert!((mean_sq / 50.0 - 1.0).abs() < 0.1, "{mean_sq}");
    }

    #[test]
    fn tilted_frame_reflections_rise_out_of_the_plane() {
        let t = 15f64.to_radians();
        let f = Frame::new([t.sin(), 0.0, t.cos()], 0.0);
        // The reflection along the tilt direction rises by the full tilt, the one across it not.
        assert!((f.worst_reflection_elevation_deg(&[0.0]) - 15.0).abs() < 1e-9);
        assert!(f.worst_reflection_elevation_deg(&[PI / 2.0]) < 1e-9);
    }
}
