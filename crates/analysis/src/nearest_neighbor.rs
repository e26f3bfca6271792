//! Cluster spacing from the `mro` regions themselves: the mean nearest-neighbour distance of
//! their centroids in the scan plane.
//!
//! σ(r) of a whole map mixes every cluster with the speckle between them, and with a few tens of
//! clusters per map its first peak rarely stands out (the `mro` method's σ(r) spacing is null on
//! every validation map). Where the clusters are resolved one by one, their positions are
//! known, and the nearest-neighbour distance is measured directly. It is the projected
//! nearest-neighbour distance of `truth.json`, so it is defined for random placement as well.
//!
//! **Edges.** A region near the field's edge may have its true nearest neighbour outside the
//! field, which would lengthen its distance. Hanisch's estimator (Math. Operationsforsch.
//! Statist., Ser. Statist. 15 (1984) 409; Baddeley & Gill, Ann. Statist. 25 (1997) 263) keeps
//! a region only when its nearest-neighbour distance `d` is no longer than its distance to the
//! edge, and weights it by `1/|W ⊖ d|`, the area of the field eroded by `d`, which makes the
//! weighted distances an unbiased sample of the nearest-neighbour distance distribution of a
//! stationary pattern.
//!
//! **Limits.** Missed clusters lengthen the distances (a pattern thinned to a share p has its
//! nearest-neighbour distances about 1/√p longer), and clusters merged into one region shorten
//! the list; the value means what it says only where the clusters are resolved. Standard error:
//! the weighted standard deviation over √(effective number of regions), `(Σw)²/Σw²`.

use serde::{Deserialize, Serialize};

/// Fewest regions kept by the edge rule for a spacing.
pub const MIN_REGIONS: usize = 3;

/// The mean nearest-neighbour distance of a set of regions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NearestNeighbor {
    /// Hanisch-weighted mean nearest-neighbour distance, nm.
    pub mean_nm: f64,
    /// Its standard error, nm.
    pub se_nm: f64,
    /// Regions kept by the edge rule.
    pub regions: usize,
}

/// The mean nearest-neighbour distance of the `centroids_px` (`[row, col]` scan pixels) in a
/// scan field `shape = [ny, nx]` of step `step_nm`. The field spans `[−½, n − ½]` pixels on each
/// axis. Errors (with the reason) when fewer than [`MIN_REGIONS`] regions pass the edge rule.
pub fn nearest_neighbor(
    centroids_px: &[[f64; 2]],
    shape: [usize; 2],
    step_nm: f64,
) -> Result<NearestNeighbor, String> {
    let [ly, lx] = shape.map(|n| n as f64 * step_nm);
    let points: Vec<[f64; 2]> = centroids_px
        .iter()
        .map(|&[r, c]| [(r + 0.5) * step_nm, (c + 0.5) * step_nm])
        .collect();
    let kept: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let d = points
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
                .fold(f64::INFINITY, f64::min);
            let edge = p[0].min(ly - p[0]).min(p[1]).min(lx - p[1]);
            let eroded = (ly - 2.0 * d) * (lx - 2.0 * d);
            (d.is_finite() && d <= edge && eroded > 0.0).then(|| (d, 1.0 / eroded))
        })
        .collect();
    if kept.len() < MIN_REGIONS {
        let (s, verb) = match (points.len(), kept.len()) {
            (1, _) => ("", "has its"),
            (_, 1) => ("s", "has its"),
            _ => ("s", "have their"),
        };
        return Err(format!(
            "{} of {} region{s} {verb} nearest neighbour inside the field (at least \
             {MIN_REGIONS} needed)",
            kept.len(),
            points.len()
        ));
    }
    let sum_w: f64 = kept.iter().map(|k| k.1).sum();
    let mean_nm = kept.iter().map(|(d, w)| d * w).sum::<f64>() / sum_w;
    let var = kept
        .iter()
        .map(|(d, w)| w * (d - mean_nm).powi(2))
        .sum::<f64>()
        / sum_w;
    let effective = sum_w * sum_w / kept.iter().map(|k| k.1 * k.1).sum::<f64>();
    Ok(NearestNeighbor {
        mean_nm,
        se_nm: (var / (effective - 1.0).max(1.0)).sqrt(),
        regions: kept.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn a_square_lattice_gives_its_period() {
        // 8 × 8 points 5 px apart in a 40 × 40 field: every distance is 5 px; the outer ring
        // lies within 5 px of the edge and is left out, 6 × 6 remain.
        let points: Vec<[f64; 2]> = (0..64)
            .map(|i| [2.0 + 5.0 * (i / 8) as f64, 2.0 + 5.0 * (i % 8) as f64])
            .collect();
        let nn = nearest_neighbor(&points, [40, 40], 0.32).unwrap();
        assert!((nn.mean_nm - 1.6).abs() < 1e-12, "{nn:?}");
        assert!(nn.se_nm < 1e-12);
        assert_eq!(nn.regions, 36);
    }

    /// Poisson patterns of intensity λ have a mean nearest-neighbour distance 1/(2√λ); the
    /// points are drawn in a field three times larger, so the observed field is a window onto
    /// a stationary pattern whose neighbours lie beyond its edges. Naive means over the window
    /// are too long; Hanisch's are not.
    #[test]
    fn the_edge_correction_removes_the_window_bias() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let (side, lambda) = (64.0, 0.01); // 41 points per window, expected distance 5 px
        let (mut hanisch, mut naive, mut runs) = (0.0, 0.0, 0);
        for _ in 0..200 {
            let count = (9.0 * side * side * lambda) as usize;
            let all: Vec<[f64; 2]> = (0..count)
                .map(|_| {
                    [
                        rng.gen::<f64>() * 3.0 * side - side - 0.5,
                        rng.gen::<f64>() * 3.0 * side - side - 0.5,
                    ]
                })
                .collect();
            let inside: Vec<[f64; 2]> = all
                .iter()
                .copied()
                .filter(|p| p.iter().all(|&x| (-0.5..side - 0.5).contains(&x)))
                .collect();
            let nn = nearest_neighbor(&inside, [64, 64], 1.0).unwrap();
            hanisch += nn.mean_nm;
            naive += inside
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    inside
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .map(|(_, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
                        .fold(f64::INFINITY, f64::min)
                })
                .sum::<f64>()
                / inside.len() as f64;
            runs += 1;
        }
        let expected = 1.0 / (2.0 * lambda.sqrt());
        let (hanisch, naive) = (hanisch / runs as f64, naive / runs as f64);
        // Measured: Hanisch 5.00 px, naive 5.38 px.
        assert!(
            (hanisch / expected - 1.0).abs() < 0.03,
            "Hanisch {hanisch} against {expected}"
        );
        assert!(
            naive / expected - 1.0 > 0.04,
            "naive {naive} against {expected}"
        );
    }

    #[test]
    fn too_few_regions_give_a_reason() {
        let err = nearest_neighbor(&[[10.0, 10.0], [12.0, 10.0]], [64, 64], 0.32).unwrap_err();
        assert!(err.contains("2 of 2 regions have their"), "{err}");
        let err = nearest_neighbor(&[[10.0, 10.0]], [64, 64], 0.32).unwrap_err();
        assert!(err.starts_with("0 of 1 region has its"), "{err}");
        assert!(nearest_neighbor(&[], [64, 64], 0.32).is_err());
    }
}
