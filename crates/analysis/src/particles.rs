//! Particle analysis of a map: 8-connected regions above a threshold, their equivalent-circle
//! diameters and the spherical-particle volume fraction.
//!
//! - Equivalent-circle diameter `D = 2√(A/π)`, `A = N_px·step²` (physics.md §8).
//! - Probe blur: a region is taken as the true particle convolved with the probe, and widths of
//!   roughly Gaussian profiles add in quadrature, so the de-blurred diameter is
//!   `√(max(D² − FWHM², 0))` with the probe intensity FWHM `0.5145 λ/α`.
//! - Volume fraction (Im et al. 2018): every region is a sphere of diameter D; the in-condition
//!   fraction is `Σ (π/6) D³ / (scan area × thickness)`, and dividing by the share of clusters in a
//!   diffracting condition gives the total.

use serde::{Deserialize, Serialize};

/// One region of a thresholded map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Label in the label image (1-based).
    pub label: u32,
    /// Pixels in the region.
    pub area_px: usize,
    /// Area in nm².
    pub area_nm2: f64,
    /// Unweighted centroid `[y, x]` in scan pixels.
    pub centroid_px: [f64; 2],
    /// Map-value-weighted centroid `[y, x]` in scan pixels.
    pub weighted_centroid_px: [f64; 2],
    /// Equivalent-circle diameter in nm.
    pub diameter_nm: f64,
    /// Diameter after removing the probe blur in quadrature, in nm.
    pub diameter_deblurred_nm: f64,
    /// Highest map value in the region.
    pub peak: f64,
}

/// Regions of a map and the label image they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// The threshold used (pixels strictly above belong to regions).
    pub threshold: f64,
    /// Regions of at least the minimum size, in label order (scan order of their first pixel).
    pub regions: Vec<Region>,
    /// `[ny × nx]` labels, 0 = background (including regions below the minimum size).
    pub labels: Vec<u32>,
}

/// Labels the 8-connected regions of `map` (`[ny, nx]`, C order) above `threshold`, keeping those
/// with at least `min_px` pixels. `step_nm` is the scan step, `probe_fwhm_nm` the blur removed.
pub fn segment(
    map: &[f64],
    shape: [usize; 2],
    threshold: f64,
    min_px: usize,
    step_nm: f64,
    probe_fwhm_nm: f64,
) -> Segmentation {
    let [ny, nx] = shape;
    let mut labels = vec![0u32; ny * nx];
    let mut regions = Vec::new();
    let mut next = 1u32;
    let mut stack = Vec::new();
    let mut members = Vec::new();
    for start in 0..ny * nx {
        if labels[start] != 0
            || map[start].partial_cmp(&threshold) != Some(std::cmp::Ordering::Greater)
        {
            continue;
        }
        members.clear();
        labels[start] = u32::MAX;
        stack.push(start);
        while let Some(p) = stack.pop() {
            members.push(p);
            let (y, x) = ((p / nx) as isize, (p % nx) as isize);
            for dy in -1..=1isize {
                for dx in -1..=1isize {
                    let (yy, xx) = (y + dy, x + dx);
                    if yy < 0 || xx < 0 || yy >= ny as isize || xx >= nx as isize {
                        continue;
                    }
                    let q = yy as usize * nx + xx as usize;
                    if labels[q] == 0 && map[q] > threshold {
                        labels[q] = u32::MAX;
                        stack.push(q);
                    }
                }
            }
        }
        if members.len() < min_px {
            for &p in &members {
                labels[p] = u32::MAX - 1;
            }
            continue;
        }
        let label = next;
        next += 1;
        let (mut sy, mut sx, mut wy, mut wx, mut w, mut peak) =
            (0.0, 0.0, 0.0, 0.0, 0.0, f64::NEG_INFINITY);
        for &p in &members {
            labels[p] = label;
            let (y, x) = ((p / nx) as f64, (p % nx) as f64);
            sy += y;
            sx += x;
            let v = map[p] - threshold;
            wy += v * y;
            wx += v * x;
            w += v;
            peak = peak.max(map[p]);
        }
        let n = members.len() as f64;
        let area_nm2 = n * step_nm * step_nm;
        let d = 2.0 * (area_nm2 / std::f64::consts::PI).sqrt();
        regions.push(Region {
            label,
            area_px: members.len(),
            area_nm2,
            centroid_px: [sy / n, sx / n],
            weighted_centroid_px: if w > 0.0 {
                [wy / w, wx / w]
            } else {
                [sy / n, sx / n]
            },
            diameter_nm: d,
            diameter_deblurred_nm: (d * d - probe_fwhm_nm * probe_fwhm_nm).max(0.0).sqrt(),
            peak,
        });
    }
    for l in labels.iter_mut() {
        if *l >= u32::MAX - 1 {
            *l = 0;
        }
    }
    Segmentation {
        threshold,
        regions,
        labels,
    }
}

/// Mean and sample standard deviation (0 for fewer than two values); NaN mean when empty.
pub fn mean_sd(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = v.collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

/// Volume fraction of spheres with the given diameters in a slab of `area_nm2 × thickness_nm`.
pub fn sphere_volume_fraction(diameters_nm: &[f64], area_nm2: f64, thickness_nm: f64) -> f64 {
    let v: f64 = diameters_nm
        .iter()
        .map(|d| std::f64::consts::PI / 6.0 * d * d * d)
        .sum();
    v / (area_nm2 * thickness_nm)
}

/// The fraction of uniformly random orientations of an n-fold cluster that put *every*
/// reflection of its n-fold ring within `acceptance_deg` of the Bragg condition.
///
/// The cluster's symmetry axis is tilted by β from the beam; a reflection at in-plane angle ψ
/// from the tilt axis then leaves the diffraction plane by `asin(sin β·|sin ψ|)`. The n (for odd
/// n, Friedel-doubled 2n) reflections sit at `ψ0 + jπ/n'`; all are accepted when
/// `sin β · max_j |sin(ψ0 + 2πj/n)| ≤ sin Δθ`. Averaging over ψ0 uniform and axis directions
/// uniform on the sphere (both ±axis count) gives the fraction. For large n it tends to
/// `1 − cos Δθ` (1.52 % at 10°); for n = 2 it is larger because a tilt about the line of the
/// two spots costs nothing.
pub fn geometric_in_condition(n: usize, acceptance_deg: f64) -> f64 {
    let n = n.max(1);
    let sin_acc = acceptance_deg.to_radians().sin();
    let spots = if n % 2 == 0 { n } else { 2 * n };
    // For a given ψ0 the condition is sin β ≤ s/m(ψ0); with cos β uniform on [0, 1] that holds
    // for a fraction 1 − √(1 − (s/m)²) of axis directions (all of them when s ≥ m).
    const NP: usize = 7200;
    let mut total = 0.0;
    for ip in 0..NP {
        let psi0 = (ip as f64 + 0.5) / NP as f64 * std::f64::consts::PI;
        let m = (0..spots)
            .map(|j| {
                (psi0 + std::f64::consts::TAU * j as f64 / spots as f64)
                    .sin()
                    .abs()
            })
            .fold(0.0, f64::max);
        let r = sin_acc / m;
        total += if r >= 1.0 {
            1.0
        } else {
            1.0 - (1.0 - r * r).sqrt()
        };
    }
    total / NP as f64
}
