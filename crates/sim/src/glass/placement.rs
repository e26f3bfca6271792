//! Cluster sizes and positions.
//!
//! Each cluster type draws diameters from a normal distribution truncated at ±2 sd (and to
//! `[0.4 nm, thickness]`), rounded to [`DIAMETER_STEP_NM`], until the summed sphere volume is as close as one more cluster can get
//! it to the requested fraction. All clusters are then placed, largest first, with their whole
//! sphere inside the foil and their surfaces at least `min_gap_nm` apart (periodic in x, y):
//! - `random`: uniform trial centres (hard-core random sequential addition);
//! - `correlated`: for each cluster a target distance `d·(1 + jitter·N(0,1))` is drawn and,
//!   among [`CORRELATED_CANDIDATES`] hard-core-valid trial centres, the one whose nearest
//!   cluster of the same type is closest to that distance wins.
//!
//! The placement stops at the first cluster that finds no room among [`MAX_TRIALS`] trial
//! centres: the box is jammed, and the clusters still to come are no larger. [`check_placement`]
//! runs this stage alone (no motifs, no matrix), which is what decides whether the requested
//! fractions fit, so that a scenario check can refuse what the glass build would refuse.

use mro_core::Seeds;
use rand::Rng;

use super::orientation::standard_normal_pair;
use super::{validate_placement_inputs, GlassError};
use crate::spec::{ClusterSpec, PlacementMode, PlacementSpec, SampleSpec};

/// Trial centres per cluster before it counts as unplaceable.
pub const MAX_TRIALS: usize = 5000;
/// Valid candidates compared per cluster in `correlated` mode.
pub const CORRELATED_CANDIDATES: usize = 24;

/// Diameters are multiples of this step in nm (so clusters of one size share one motif).
pub const DIAMETER_STEP_NM: f64 = 0.01;

/// A cluster with its size and position (orientation is drawn elsewhere).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placed {
    /// Index of its type in the cluster list.
    pub kind: usize,
    /// Diameter in nm.
    pub diameter_nm: f64,
    /// Centre in nm.
    pub center_nm: [f64; 3],
}

/// The diameters a cluster type draws from, nm: mean ± 2 sd, at least 0.4 nm and at most the
/// foil's thickness.
fn diameter_range(spec: &ClusterSpec, thickness_nm: f64) -> (f64, f64) {
    let lo = (spec.diameter_nm - 2.0 * spec.diameter_sd_nm).max(0.4);
    let hi = (spec.diameter_nm + 2.0 * spec.diameter_sd_nm).min(thickness_nm);
    (lo, hi)
}

/// Whether a cluster type places no cluster in a box of `box_nm3` whatever the seed: its
/// target volume (`volume_fraction × box`) is at most half that of the smallest diameter it
/// draws, so [`draw_diameters`] stops before the first (it stops when the next cluster would
/// overshoot the target by more than it falls short).
pub fn places_no_cluster(spec: &ClusterSpec, box_nm3: f64, thickness_nm: f64) -> bool {
    let (lo, hi) = diameter_range(spec, thickness_nm);
    2.0 * spec.volume_fraction * box_nm3 <= sphere_volume(lo.min(hi))
}

/// Diameters in nm for one cluster type whose spheres should fill `target_nm3`.
pub(crate) fn draw_diameters<R: Rng>(
    spec: &ClusterSpec,
    target_nm3: f64,
    thickness_nm: f64,
    rng: &mut R,
) -> Vec<f64> {
    let (lo, hi) = diameter_range(spec, thickness_nm);
    let mut out = Vec::new();
    let mut total = 0.0;
    loop {
        let d = if spec.diameter_sd_nm == 0.0 || hi <= lo {
            (spec.diameter_nm.clamp(lo.min(hi), hi) / DIAMETER_STEP_NM).round() * DIAMETER_STEP_NM
        } else {
            loop {
                let d = spec.diameter_nm + spec.diameter_sd_nm * standard_normal_pair(rng).0;
                let d = (d / DIAMETER_STEP_NM).round() * DIAMETER_STEP_NM;
                if (lo..=hi).contains(&d) {
                    break d;
                }
            }
        };
        let v = sphere_volume(d);
        if total + v > target_nm3 && (total + v - target_nm3) >= (target_nm3 - total) {
            break;
        }
        out.push(d);
        total += v;
    }
    out
}

/// Sizes (stream `"cluster-sizes"`, one per type) and places (stream `"placement"`) the
/// clusters in the sample box, exactly as [`super::build_glass`] does.
pub(crate) fn size_and_place(
    sample: &SampleSpec,
    clusters: &[ClusterSpec],
    placement: &PlacementSpec,
    seeds: &Seeds,
) -> Result<Vec<Placed>, GlassError> {
    let extent = [
        sample.extent_nm[0],
        sample.extent_nm[1],
        sample.thickness_nm,
    ];
    let box_volume = extent[0] * extent[1] * extent[2];
    let diameters: Vec<Vec<f64>> = clusters
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut rng = seeds.substream("cluster-sizes", i as u64);
            draw_diameters(c, c.volume_fraction * box_volume, extent[2], &mut rng)
        })
        .collect();
    let mut rng = seeds.stream("placement");
    place(&diameters, placement, extent, &mut rng).map_err(|j| GlassError::CannotPlace {
        requested: clusters.iter().map(|c| c.volume_fraction).sum(),
        largest: j.placed_fraction,
        min_gap_nm: placement.min_gap_nm,
    })
}

/// Whether the `clusters` can be placed in the `sample` box by `placement` with these `seeds`:
/// the cluster-placement stage of [`super::build_glass`] run alone (same streams, so the same
/// verdict as the build, bit for bit), without motifs or matrix atoms. Cost: the cluster
/// spheres only (hundreds to a few thousand at the paper's fractions; milliseconds), at most
/// [`MAX_TRIALS`] trials for the one cluster that jams.
///
/// Returns the number of clusters placed.
///
/// # Errors
/// [`GlassError::Invalid`] for an out-of-range sample, cluster or placement field (with its
/// path); [`GlassError::CannotPlace`] (field `clusters[*].volume_fraction`) when random
/// sequential addition jams before the requested fractions are placed, naming the fraction that
/// was placed.
pub fn check_placement(
    sample: &SampleSpec,
    clusters: &[ClusterSpec],
    placement: &PlacementSpec,
    seeds: &Seeds,
) -> Result<usize, GlassError> {
    validate_placement_inputs(sample, clusters, placement)?;
    size_and_place(sample, clusters, placement, seeds).map(|p| p.len())
}

/// Volume of a sphere of diameter `d_nm` in nm³.
pub(crate) fn sphere_volume(d_nm: f64) -> f64 {
    std::f64::consts::PI / 6.0 * d_nm.powi(3)
}

/// Summed volume of spheres of diameters `d_nm`, in nm³; +0 for none (`Iterator::sum` of
/// `f64` starts at −0, which a truth file would print as `-0.0`).
pub(crate) fn total_volume(d_nm: &[f64]) -> f64 {
    d_nm.iter().fold(0.0, |v, &d| v + sphere_volume(d))
}

/// Minimum-image offset `b − a` with x and y periodic (both points inside the box).
#[inline]
pub(crate) fn offset(a: [f64; 3], b: [f64; 3], lx: f64, ly: f64) -> [f64; 3] {
    // Positions are wrapped into the box, so one shift is enough; branches instead of
    // `round()`, which is a library call on baseline x86-64 and dominated the relaxation.
    let wrap = |d: f64, l: f64| {
        if d > 0.5 * l {
            d - l
        } else if d < -0.5 * l {
            d + l
        } else {
            d
        }
    };
    [wrap(b[0] - a[0], lx), wrap(b[1] - a[1], ly), b[2] - a[2]]
}

/// Spheres hashed on a coarse grid, periodic in x and y.
#[derive(Debug, Clone)]
pub(crate) struct SphereGrid {
    n: [usize; 3],
    cell: [f64; 3],
    cells: Vec<Vec<u32>>,
}

impl SphereGrid {
    /// A grid over the box with cells of at least `cell_nm`.
    pub fn new(extent_nm: [f64; 3], cell_nm: f64) -> Self {
        let n: [usize; 3] =
            std::array::from_fn(|i| ((extent_nm[i] / cell_nm).floor() as usize).max(1));
        Self {
            n,
            cell: std::array::from_fn(|i| extent_nm[i] / n[i] as f64),
            cells: vec![Vec::new(); n[0] * n[1] * n[2]],
        }
    }

    fn coords(&self, p: [f64; 3]) -> [i64; 3] {
        std::array::from_fn(|i| {
            let c = (p[i] / self.cell[i]).floor() as i64;
            if i == 2 {
                c.clamp(0, self.n[2] as i64 - 1)
            } else {
                c
            }
        })
    }

    /// Adds item `id` at `p`.
    pub fn insert(&mut self, p: [f64; 3], id: u32) {
        let [x, y, z] = self.coords(p);
        let k = self.flat(x, y, z);
        self.cells[k].push(id);
    }

    fn flat(&self, x: i64, y: i64, z: i64) -> usize {
        let x = x.rem_euclid(self.n[0] as i64) as usize;
        let y = y.rem_euclid(self.n[1] as i64) as usize;
        (x * self.n[1] + y) * self.n[2] + z as usize
    }

    /// Calls `f(id)` for every item in cells within `reach_nm` of `p` (a superset of the items
    /// within that distance; each item once).
    pub fn near(&self, p: [f64; 3], reach_nm: f64, mut f: impl FnMut(u32)) {
        let [x, y, z] = self.coords(p);
        let r: [i64; 3] = std::array::from_fn(|i| (reach_nm / self.cell[i]).ceil() as i64);
        let span = |i: usize, c: i64| -> (i64, i64) {
            if i == 2 {
                ((c - r[2]).max(0), (c + r[2]).min(self.n[2] as i64 - 1))
            } else if 2 * r[i] + 1 >= self.n[i] as i64 {
                (0, self.n[i] as i64 - 1)
            } else {
                (c - r[i], c + r[i])
            }
        };
        let (x0, x1) = span(0, x);
        let (y0, y1) = span(1, y);
        let (z0, z1) = span(2, z);
        for a in x0..=x1 {
            for b in y0..=y1 {
                for c in z0..=z1 {
                    for &id in &self.cells[self.flat(a, b, c)] {
                        f(id);
                    }
                }
            }
        }
    }
}

/// Why not every cluster could be placed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Jammed {
    /// Volume fraction that was placed before the box jammed.
    pub placed_fraction: f64,
}

/// Places clusters with diameters `diameters[kind]` in the box.
pub(crate) fn place<R: Rng>(
    diameters: &[Vec<f64>],
    placement: &PlacementSpec,
    extent_nm: [f64; 3],
    rng: &mut R,
) -> Result<Vec<Placed>, Jammed> {
    let mut order: Vec<(usize, f64)> = diameters
        .iter()
        .enumerate()
        .flat_map(|(k, ds)| ds.iter().map(move |&d| (k, d)))
        .collect();
    // Largest first; the sort is stable, so equal sizes keep type order.
    order.sort_by(|a, b| b.1.total_cmp(&a.1));
    let max_d = order.first().map_or(1.0, |o| o.1);
    let gap = placement.min_gap_nm;
    let reach = max_d + gap;
    let mut grid = SphereGrid::new(extent_nm, reach.max(0.5));
    let (lx, ly) = (extent_nm[0], extent_nm[1]);
    let box_volume = extent_nm[0] * extent_nm[1] * extent_nm[2];
    let mut placed: Vec<Placed> = Vec::with_capacity(order.len());
    let nn_reach = |target: f64| target * 1.5 + max_d;

    for &(kind, d) in &order {
        let r = 0.5 * d;
        let fits = |c: [f64; 3], placed: &[Placed]| {
            let mut ok = true;
            grid.near(c, reach, |id| {
                let o = &placed[id as usize];
                let s = offset(c, o.center_nm, lx, ly);
                let need = r + 0.5 * o.diameter_nm + gap;
                if s[0] * s[0] + s[1] * s[1] + s[2] * s[2] < need * need {
                    ok = false;
                }
            });
            ok
        };
        let trial = |rng: &mut R| {
            [
                rng.gen::<f64>() * lx,
                rng.gen::<f64>() * ly,
                r + rng.gen::<f64>() * (extent_nm[2] - d).max(0.0),
            ]
        };
        let chosen = match placement.mode {
            PlacementMode::Random => (0..MAX_TRIALS)
                .map(|_| trial(rng))
                .find(|&c| fits(c, &placed)),
            PlacementMode::Correlated => {
                let (g, _) = standard_normal_pair(rng);
                let target =
                    (placement.nearest_neighbor_nm * (1.0 + placement.jitter * g)).max(d + gap);
                let mut best: Option<([f64; 3], f64)> = None;
                let mut valid = 0;
                for _ in 0..MAX_TRIALS {
                    let c = trial(rng);
                    if !fits(c, &placed) {
                        continue;
                    }
                    valid += 1;
                    let search = nn_reach(target);
                    let mut nn = search;
                    grid.near(c, search, |id| {
                        let o = &placed[id as usize];
                        if o.kind == kind {
                            let s = offset(c, o.center_nm, lx, ly);
                            nn = nn.min((s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt());
                        }
                    });
                    let miss = (nn - target).abs();
                    if best.map_or(true, |b| miss < b.1) {
                        best = Some((c, miss));
                    }
                    if valid == CORRELATED_CANDIDATES {
                        break;
                    }
                }
                best.map(|b| b.0)
            }
        };
        match chosen {
            Some(c) => {
                grid.insert(c, placed.len() as u32);
                placed.push(Placed {
                    kind,
                    diameter_nm: d,
                    center_nm: c,
                });
            }
            None => {
                let v: f64 = placed.iter().map(|p| sphere_volume(p.diameter_nm)).sum();
                return Err(Jammed {
                    placed_fraction: v / box_volume,
                });
            }
        }
    }
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mro_core::Seeds;

    #[test]
    fn diameters_fill_the_target_within_half_a_cluster() {
        let spec = ClusterSpec::paper(4);
        let mut rng = Seeds::new(3).stream("t");
        let ds = draw_diameters(&spec, 500.0, 20.0, &mut rng);
        let v: f64 = ds.iter().map(|&d| sphere_volume(d)).sum();
        assert!((v - 500.0).abs() <= 0.5 * sphere_volume(1.5), "{v}");
        assert!(ds.iter().all(|&d| (1.1..=1.5).contains(&d)));
        let mean = ds.iter().sum::<f64>() / ds.len() as f64;
        assert!((mean - 1.3).abs() < 0.02, "{mean}");
    }

    /// A type that places no cluster by the rule draws none, at any seed; one just above it
    /// draws some at some seed.
    #[test]
    fn places_no_cluster_agrees_with_the_draw() {
        let mut spec = ClusterSpec::paper(4);
        let smallest = sphere_volume(1.1);
        for (target, none) in [
            (0.0, true),
            (0.49 * smallest, true),
            (2.0 * smallest, false),
        ] {
            spec.volume_fraction = target / 1000.0;
            assert_eq!(places_no_cluster(&spec, 1000.0, 20.0), none, "{target}");
            let drawn = (0..50).any(|seed| {
                let mut rng = Seeds::new(seed).stream("t");
                !draw_diameters(&spec, target, 20.0, &mut rng).is_empty()
            });
            assert_eq!(drawn, !none, "{target}");
        }
    }

    #[test]
    fn no_spheres_have_positive_zero_volume() {
        assert!(total_volume(&[]).is_sign_positive());
        assert_eq!(
            total_volume(&[1.0, 2.0]),
            sphere_volume(1.0) + sphere_volume(2.0)
        );
    }

    #[test]
    fn periodic_offsets_take_the_short_way() {
        let s = offset([0.5, 9.5, 1.0], [9.5, 0.5, 2.0], 10.0, 10.0);
        assert!((s[0] + 1.0).abs() < 1e-12 && (s[1] - 1.0).abs() < 1e-12 && s[2] == 1.0);
    }
}
