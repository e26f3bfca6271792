//! One cluster's atoms: the ideal sites of its type, their disorder, their species, and the
//! symmetries the result shows.
//!
//! The ideal sites come from the type ([`ClusterKind`]): the density-wave motif
//! ([`super::motif`]), a Mackay icosahedron ([`super::icosahedral`]) or a cubic lattice fragment
//! ([`super::crystal`]), in the cluster's local frame. Each atom is then displaced by an
//! isotropic Gaussian of 3-D rms `displacement_rms_nm` (σ = rms/√3 per axis), the static
//! disorder of a cluster that is only "medium-range ordered"; a draw that would bring it closer
//! than the minimum distance to an atom already placed is redrawn (up to
//! [`DISPLACEMENT_TRIES`] times; then the atom takes whichever of its draws and its ideal site
//! lies farthest from the atoms already placed). Disorder thus creates almost no overlaps; the
//! glass's close-pair pass removes the rare remaining ones.

use std::collections::HashMap;

use rand::Rng;

use super::crystal::{lattice_sites, Lattice};
use super::icosahedral::{mackay_sites, ICOSAHEDRAL_EDGE_K0};
use super::motif::{motif_sites, MotifParams};
use super::orientation::standard_normal_pair;
use crate::spec::ClusterKind;

/// Draws per atom before an atom keeps its ideal site.
pub const DISPLACEMENT_TRIES: usize = 8;

/// The ideal sites `(u, v, w)` in nm of a cluster of `kind` (density waves with `symmetry`) on
/// the ring `k0_per_nm`, inside the sphere `radius_nm`, each with its sublattice (0 except on
/// the body centres of B2).
pub(crate) fn ideal_sites(
    kind: ClusterKind,
    symmetry: Option<u32>,
    k0_per_nm: f64,
    radius_nm: f64,
    motif: &MotifParams,
) -> Vec<([f64; 3], usize)> {
    match kind {
        ClusterKind::DensityWave => {
            let n = symmetry.expect("a density wave has a symmetry");
            motif_sites(n, k0_per_nm, radius_nm, motif)
                .into_iter()
                .map(|s| (s, 0))
                .collect()
        }
        ClusterKind::Icosahedral => mackay_sites(ICOSAHEDRAL_EDGE_K0 / k0_per_nm, radius_nm)
            .into_iter()
            .map(|s| (s, 0))
            .collect(),
        ClusterKind::Bcc | ClusterKind::Fcc => {
            let lattice = Lattice::of(kind).expect("a cubic kind");
            lattice_sites(lattice, lattice.constant_nm(k0_per_nm), radius_nm)
                .into_iter()
                .map(|(s, _)| (s, 0))
                .collect()
        }
        ClusterKind::B2 => {
            lattice_sites(Lattice::Bcc, Lattice::Bcc.constant_nm(k0_per_nm), radius_nm)
        }
    }
}

/// `sites` displaced by an isotropic Gaussian of 3-D rms `rms_nm`, keeping every pair at least
/// `min_distance_nm` apart where the ideal sites were (module docs).
pub(crate) fn displace<R: Rng>(
    sites: &[[f64; 3]],
    rms_nm: f64,
    min_distance_nm: f64,
    rng: &mut R,
) -> Vec<[f64; 3]> {
    if rms_nm == 0.0 {
        return sites.to_vec();
    }
    let sigma = rms_nm / 3f64.sqrt();
    let cell = min_distance_nm.max(1e-3);
    let key = |p: [f64; 3]| p.map(|x| (x / cell).floor() as i64);
    let mut grid: HashMap<[i64; 3], Vec<usize>> = HashMap::new();
    let mut out: Vec<[f64; 3]> = Vec::with_capacity(sites.len());
    // Squared distance from `p` to the nearest atom placed, capped at min_distance².
    let m2 = min_distance_nm * min_distance_nm;
    let clearance = |p: [f64; 3], out: &[[f64; 3]], grid: &HashMap<[i64; 3], Vec<usize>>| {
        let c = key(p);
        let mut nearest = m2;
        for dx in -1..=1 {
            for dy in -1..=1 {
                for dz in -1..=1 {
                    let Some(list) = grid.get(&[c[0] + dx, c[1] + dy, c[2] + dz]) else {
                        continue;
                    };
                    for &k in list {
                        let q = out[k];
                        let d2 =
                            (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2);
                        nearest = nearest.min(d2);
                    }
                }
            }
        }
        nearest
    };
    for &s in sites {
        let mut best = (clearance(s, &out, &grid), s);
        for _ in 0..DISPLACEMENT_TRIES {
            let (a, b) = standard_normal_pair(rng);
            let (c, _) = standard_normal_pair(rng);
            let p = [s[0] + sigma * a, s[1] + sigma * b, s[2] + sigma * c];
            let room = clearance(p, &out, &grid);
            if room >= m2 {
                best = (room, p);
                break;
            }
            if room > best.0 {
                best = (room, p);
            }
        }
        grid.entry(key(best.1)).or_default().push(out.len());
        out.push(best.1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glass::symmetry::ring_power;
    use mro_core::Seeds;

    #[test]
    fn displacements_have_the_requested_rms_and_keep_the_minimum_distance() {
        let ideal: Vec<[f64; 3]> = mackay_sites(0.305, 1.2);
        let mut rng = Seeds::new(3).stream("t");
        let moved = displace(&ideal, 0.03, 0.255, &mut rng);
        let ms: f64 = ideal
            .iter()
            .zip(&moved)
            .map(|(a, b)| (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>())
            .sum::<f64>()
            / ideal.len() as f64;
        assert!((ms.sqrt() / 0.03 - 1.0).abs() < 0.1, "rms {}", ms.sqrt());
        let mut close = 0;
        for (i, a) in moved.iter().enumerate() {
            for b in &moved[i + 1..] {
                let d = (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt();
                close += usize::from(d < 0.255);
            }
        }
        assert!(
            close * 100 <= moved.len(),
            "{close} close pairs in {}",
            moved.len()
        );
        assert_eq!(displace(&ideal, 0.0, 0.255, &mut rng), ideal);
    }

    #[test]
    fn disorder_lowers_the_shown_power_monotonically() {
        // bcc [001] P₄ and icosahedron 5-fold P₁₀ at 4 nm⁻¹, averaged over 24 draws per rms:
        // static displacements damp every reflection by a Debye–Waller factor
        // exp(−(2πk)²⟨u_x²⟩), so the mean power falls as the rms grows.
        let bcc: Vec<[f64; 3]> = ideal_sites(ClusterKind::Bcc, None, 4.0, 0.65, &params())
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let ico: Vec<[f64; 3]> = ideal_sites(ClusterKind::Icosahedral, None, 4.0, 0.65, &params())
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        for (sites, n) in [(bcc, 4usize), (ico, 10)] {
            let mut last = f64::INFINITY;
            for (i, rms) in [0.0, 0.02, 0.04, 0.06, 0.08].into_iter().enumerate() {
                let mut rng = Seeds::new(9).substream("disorder", i as u64);
                let mean = (0..24)
                    .map(|_| {
                        let moved = displace(&sites, rms, 0.255, &mut rng);
                        ring_power(&moved, &vec![1.0; moved.len()], 4.0)[n]
                    })
                    .sum::<f64>()
                    / 24.0;
                assert!(mean < last, "n={n} rms={rms}: {mean} after {last}");
                last = mean;
            }
        }
    }

    fn params() -> MotifParams {
        MotifParams {
            number_density_per_nm3: 54.0,
            min_period_nm: 0.27,
            min_column_spacing_nm: 0.201,
            min_distance_nm: 0.255,
        }
    }
}
