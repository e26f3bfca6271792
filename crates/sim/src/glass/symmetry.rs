//! The n-fold symmetries a cluster shows, computed from its own projected kinematic pattern.
//!
//! A cluster's pattern, isolated from the matrix, is the kinematic intensity in the diffraction
//! plane (k_z = 0, the beam along +z; physics.md §3):
//! `I(φ) = |Σ_j f_j(k0) e^{−2πi k·r_j}|²` at `k = k0 (cos φ, sin φ)`, with the Lobato electron
//! scattering factor `f_j` of each atom's element. Its angular power spectrum is
//! `P_n = |I_n|² / |I_0|²` with `I_n = (1/M) Σ_m I(φ_m) e^{−inφ_m}` (physics.md §6, the same
//! normalisation as the analysis). The projection is centrosymmetric, so odd `P_n` vanish
//! (Friedel).
//!
//! A cluster *shows* n when `P_n ≥ SHOWS_THRESHOLD`. The threshold, 0.25, is set against the
//! speckle of a cluster without order: N atoms at random in a sphere of diameter D put about
//! `2π k0 D` independent speckles on the ring (33 for 1.3 nm at 4 nm⁻¹), and their even `P_n`
//! scatter with mean 0.05, 90th percentile 0.12 and 99th percentile 0.24 (measured for 300
//! random 63-atom clusters of 1.3 nm, the paper's size; pinned by a test), while an oriented
//! structure reaches 0.3–0.9 at its n: bcc [001] P₄ = 0.84, [111] P₆ = 0.76 at 1.3 nm.
//! Several spots put power at the multiples of their n as well (physics.md §6), so bcc [001]
//! also shows 8 (and 12): what a per-n map of that cluster would see.
//! The finite size of the cluster makes its reflections relrods of length ≈ 1/D, so a structure
//! tilted off its zone axis keeps showing its pattern over the Bragg acceptance angle of
//! physics.md §6, without the angle being assigned.
//!
//! A density wave's pattern is judged as well by [`spot_pattern`]: whether its projected ring
//! holds its own spot pattern, in any direction, as bright as a defining reflection at the edge
//! of its Bragg acceptance and above the speckle of atoms without order ([`SPECKLE_CEILING`]).
//! The columns of the motif ([`super::motif`]) are a small crystal with
//! reflections besides the defining ones (a 5 nm wave has a first-layer-line reflection on the
//! k0 shell with about 20 % of the defining reflection's intensity, 47° out of its plane), and a wave tilted so that one
//! of those meets the diffraction plane shows a 2-fold pattern its defining reflections do not
//! explain (reports/calibration.md, "Only 2-fold waves").

use std::f64::consts::PI;

use super::motif::reflection_azimuths_rad;

/// `P_n` at or above this is a symmetry the cluster shows.
pub const SHOWS_THRESHOLD: f64 = 0.25;

/// Largest n whose `P_n` is computed and recorded.
pub const N_MAX: usize = 12;

/// Azimuths at which `I(φ)` is sampled for atoms within `extent_nm` of the centre: enough that
/// the harmonics `n ≤ N_MAX` are exact. `I(φ)` holds harmonics up to about
/// `2π k0 · 2·extent + 8` (Bessel `J_n(2π k0 |r_i − r_j|)` of every pair, negligible beyond),
/// and sampling at M points aliases harmonic `M − n` onto n.
fn azimuths(k0_per_nm: f64, extent_nm: f64) -> usize {
    let band = (2.0 * PI * k0_per_nm * 2.0 * extent_nm).ceil() as usize + 8;
    (band + N_MAX + 1).max(64)
}

/// `P_n`, n = 0..=N_MAX (so `P_0 = 1`), of the projected kinematic pattern on the ring
/// `k0_per_nm` of atoms at `positions_nm` (relative to the cluster centre, world frame, beam
/// along +z) with scattering factors `f` (one per atom, any unit).
///
/// # Panics
/// If `positions_nm` and `f` differ in length.
pub fn ring_power(positions_nm: &[[f64; 3]], f: &[f64], k0_per_nm: f64) -> Vec<f64> {
    assert_eq!(
        positions_nm.len(),
        f.len(),
        "one scattering factor per atom"
    );
    let m = azimuths(k0_per_nm, projected_extent_nm(positions_nm));
    let intensity = ring_intensity(positions_nm, f, k0_per_nm, m);
    let harmonic = |n: usize| {
        let (mut re, mut im) = (0.0, 0.0);
        for (a, i) in intensity.iter().enumerate() {
            let (s, c) = (2.0 * PI * (n * a % m) as f64 / m as f64).sin_cos();
            re += i * c;
            im -= i * s;
        }
        (re * re + im * im) / (m * m) as f64
    };
    let i0 = harmonic(0);
    (0..=N_MAX)
        .map(|n| if i0 > 0.0 { harmonic(n) / i0 } else { 0.0 })
        .collect()
}

/// Largest distance in nm of an atom from the axis through the centre along z.
fn projected_extent_nm(positions_nm: &[[f64; 3]]) -> f64 {
    positions_nm
        .iter()
        .map(|p| p[0].hypot(p[1]))
        .fold(0.0, f64::max)
}

/// The kinematic intensity `|F(k)|²`, `F(k) = Σ_j f_j e^{−2πi k·r_j}`, at the `(x, y)` wavevector
/// `k_per_nm` (nm⁻¹, k = 1/d): the projected pattern of atoms at `positions_nm` along z.
fn intensity_at(positions_nm: &[[f64; 3]], f: &[f64], k_per_nm: [f64; 2]) -> f64 {
    let (kx, ky) = (2.0 * PI * k_per_nm[0], 2.0 * PI * k_per_nm[1]);
    let (mut re, mut im) = (0.0, 0.0);
    for (p, &fj) in positions_nm.iter().zip(f) {
        let (s, c) = (kx * p[0] + ky * p[1]).sin_cos();
        re += fj * c;
        im -= fj * s;
    }
    re * re + im * im
}

/// `I(φ_a)`, `φ_a = 2πa/m`, a = 0..m, on the ring `k0_per_nm`.
fn ring_intensity(positions_nm: &[[f64; 3]], f: &[f64], k0_per_nm: f64, m: usize) -> Vec<f64> {
    (0..m)
        .map(|a| {
            let t = 2.0 * PI * a as f64 / m as f64;
            intensity_at(positions_nm, f, [k0_per_nm * t.cos(), k0_per_nm * t.sin()])
        })
        .collect()
}

/// The intensity, as a share of the defining reflection's in-zone intensity, at which a spot
/// counts as shown: the sphere's shape transform at the edge of the Bragg acceptance `1/(k0·D)`,
/// `(3/π²)² = 0.092` (`glass::bragg_acceptance_deg`). A density wave whose defining reflections
/// all lie within the acceptance has its spots about this bright or brighter (waves of a few
/// nm; in 1.3–1.5 nm waves the atoms' positions move a spot's intensity, and a few inside
/// their acceptance hold only 0.04–0.08).
pub const EDGE_INTENSITY_SHARE: f64 = (3.0 / (PI * PI)) * (3.0 / (PI * PI));

/// The intensity, in units of the incoherent sum `Σ f_j²`, that a spot must also reach: above
/// the speckle of atoms without order. N atoms at random put exponential speckle of mean
/// `S(k0)·Σ f_j²` on the ring; spheres of the paper's matrix (S(k0) ≈ 2–3 at its first peak)
/// reach 6.8–14.5 (`tools/motif_reflections.py`, reports/calibration.md), and at S = 3 the
/// brightest of 130 speckles (a 5 nm sphere at k0 = 4 nm⁻¹) passes 30 with probability
/// 130·e^{−10} ≈ 0.6 %. The bound applies to this branch only: small 10- and 12-fold waves in
/// zone can hold less, and the defining reflections' rule counts them. A wave of N atoms
/// reaches at most N Σf² (Cauchy–Schwarz), so a wave of fewer than 30 atoms (1.0 nm at
/// 54 nm⁻³) is judged by its defining reflections alone; for two-fold waves under about
/// 2.3 nm the 0.092 share never decides, and the rule is a bound on the ring's brightest point.
///
/// For waves of 5 nm the bound does not matter (13 of the paper glass's 80 waves are in
/// condition for any bound from 15 to 60). For waves of 1.3–2.5 nm it does: a tilted wave's
/// columns put a continuum of weaker reflections on the ring, and bounds of 15, 20, 30, 40 and
/// 60 call 401, 305, 207, 160 and 151 of the paper-as-published glass's 797 two-fold 1.3 nm
/// waves in condition (151 by their defining reflections alone). There "in condition" is a
/// definition, and this is the one the truth uses.
pub const SPECKLE_CEILING: f64 = 30.0;

/// How brightly a density wave's projected ring shows its own spot pattern, in whichever
/// direction it shows it best.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpotPattern {
    /// The weakest spot of the best-shown copy of the pattern, over the mean in-zone intensity
    /// of the defining reflections (`|F(k0 ê_j)|²` in the cluster's own plane).
    pub over_in_zone: f64,
    /// The same spot over the incoherent sum `Σ f_j²`.
    pub over_incoherent: f64,
}

impl SpotPattern {
    /// The pattern is shown: its weakest spot is as bright as an edge-of-acceptance defining
    /// reflection ([`EDGE_INTENSITY_SHARE`]) and above speckle ([`SPECKLE_CEILING`]).
    pub fn shown(&self) -> bool {
        self.over_in_zone >= EDGE_INTENSITY_SHARE && self.over_incoherent >= SPECKLE_CEILING
    }
}

/// The spot pattern of an n-fold density wave (`motif::reflection_azimuths_rad(n)`, each a Friedel
/// pair) as its projected ring at `k0_per_nm` shows it. `local_nm` are the atoms in the cluster
/// frame (`w` along its axis), `world_nm` the same atoms as oriented (beam along +z), `f` one
/// scattering factor per atom. The ring is sampled at azimuth steps of about a quarter of a
/// reflection's angular width `1/(k0·D)`, on a grid that holds every rotation of the pattern.
///
/// # Panics
/// If the three slices differ in length.
pub fn spot_pattern(
    local_nm: &[[f64; 3]],
    world_nm: &[[f64; 3]],
    f: &[f64],
    k0_per_nm: f64,
    symmetry: u32,
) -> SpotPattern {
    assert!(
        local_nm.len() == f.len() && world_nm.len() == f.len(),
        "one scattering factor per atom"
    );
    let defining = reflection_azimuths_rad(symmetry);
    let in_zone = defining
        .iter()
        .map(|t| intensity_at(local_nm, f, [k0_per_nm * t.cos(), k0_per_nm * t.sin()]))
        .sum::<f64>()
        / defining.len() as f64;
    let incoherent: f64 = f.iter().map(|x| x * x).sum();
    // The spots are 2π/n apart (even n: n/2 pairs; odd n: n pairs), so a grid of a multiple
    // of n azimuths holds every rotation of the pattern.
    let step = symmetry.max(1) as usize;
    let m = (4 * azimuths(k0_per_nm, projected_extent_nm(world_nm))).div_ceil(step) * step;
    let intensity = ring_intensity(world_nm, f, k0_per_nm, m);
    let offsets: Vec<usize> = defining
        .iter()
        .map(|t| (t * m as f64 / (2.0 * PI)).round() as usize)
        .collect();
    let best = (0..m)
        .map(|r| {
            offsets
                .iter()
                .map(|o| intensity[(r + o) % m])
                .fold(f64::INFINITY, f64::min)
        })
        .fold(0.0, f64::max);
    let ratio = |x: f64| if x > 0.0 { best / x } else { 0.0 };
    SpotPattern {
        over_in_zone: ratio(in_zone),
        over_incoherent: ratio(incoherent),
    }
}

/// The n in 1..=N_MAX whose `P_n` (indexed from n = 0, as [`ring_power`] returns it) reaches
/// [`SHOWS_THRESHOLD`], in increasing order.
pub fn shown(power: &[f64]) -> Vec<u32> {
    (1..power.len())
        .filter(|&n| power[n] >= SHOWS_THRESHOLD)
        .map(|n| n as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;
    use crate::glass::motif::{motif_sites, MotifParams};
    use crate::glass::orientation::{dot, normalise as unit};

    const PARAMS: MotifParams = MotifParams {
        number_density_per_nm3: 54.0,
        min_period_nm: 0.27,
        min_column_spacing_nm: 0.201,
        min_distance_nm: 0.25,
    };

    fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    }

    /// The atoms seen with the world axes `(x, y, z)` given in the cluster frame.
    fn view(local: &[[f64; 3]], x: [f64; 3], y: [f64; 3], z: [f64; 3]) -> Vec<[f64; 3]> {
        local
            .iter()
            .map(|&r| [dot(x, r), dot(y, r), dot(z, r)])
            .collect()
    }

    /// `|F(g)|²` of unit scatterers at the 3-D wavevector `g` (nm⁻¹).
    fn intensity_3d(sites: &[[f64; 3]], g: [f64; 3]) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for s in sites {
            let (sn, c) = (2.0 * PI * dot(g, *s)).sin_cos();
            re += c;
            im -= sn;
        }
        re * re + im * im
    }

    #[test]
    fn a_wave_in_zone_shows_its_whole_pattern() {
        for n in [2u32, 4, 6] {
            let local = motif_sites(n, 4.0, 2.5, &PARAMS);
            let f = vec![1.0; local.len()];
            // Beam along the axis, turned 17° in plane: the pattern at full strength.
            let t = 17f64.to_radians();
            let world = view(
                &local,
                [t.cos(), t.sin(), 0.0],
                [-t.sin(), t.cos(), 0.0],
                [0.0, 0.0, 1.0],
            );
            let p = spot_pattern(&local, &world, &f, 4.0, n);
            assert!(p.over_in_zone > 0.9 && p.over_in_zone < 1.1, "n={n}: {p:?}");
            assert!(p.shown(), "n={n}: {p:?}");
        }
    }

    #[test]
    fn speckle_of_atoms_without_order_stays_under_the_ceiling() {
        // Uniform random atoms at the number density in a 5 nm sphere (an ideal gas, S = 1):
        // the brightest spot of the ring is a few times Σf², far under the ceiling; a glass's
        // S(k0) of 2–3 keeps it under as well (spheres of the paper's matrix: 6.8–14.5).
        let mut rng = mro_core::Seeds::new(3).stream("speckle-test");
        for _ in 0..5 {
            let mut atoms = Vec::new();
            while atoms.len() < 3534 {
                let r: [f64; 3] = std::array::from_fn(|_| 2.5 * (2.0 * rng.gen::<f64>() - 1.0));
                if dot(r, r) < 6.25 {
                    atoms.push(r);
                }
            }
            let f = vec![1.0; atoms.len()];
            let p = spot_pattern(&atoms, &atoms, &f, 4.0, 2);
            assert!(p.over_incoherent < 0.5 * SPECKLE_CEILING, "{p:?}");
            assert!(!p.shown());
        }
    }

    #[test]
    fn a_tilted_wave_shows_a_two_fold_pattern_by_a_layer_line_reflection() {
        // A 5 nm 2-fold wave: its columns are a small crystal, so the k0 shell holds reflections
        // out of the cluster plane. Find the strongest (elevation 20–70° from the plane).
        let local = motif_sites(2, 4.0, 2.5, &PARAMS);
        let f = vec![1.0; local.len()];
        let in_zone = intensity_3d(&local, [4.0, 0.0, 0.0]);
        let mut best = (0.0, [0.0; 3]);
        for e in (40..=140).map(|i| f64::from(i) * 0.5) {
            for a in (0..360).map(|i| f64::from(i) * 0.5) {
                let (e, a) = (e.to_radians(), a.to_radians());
                let g = [
                    4.0 * e.cos() * a.cos(),
                    4.0 * e.cos() * a.sin(),
                    4.0 * e.sin(),
                ];
                let i = intensity_3d(&local, g);
                if i > best.0 {
                    best = (i, g);
                }
            }
        }
        let (strength, g) = (best.0 / in_zone, unit(best.1));
        assert!(
            strength > EDGE_INTENSITY_SHARE && strength < 0.5,
            "layer-line reflection at {strength} of the defining one"
        );
        // Put that reflection in the diffraction plane, with the beam as close to the defining
        // reflection ê1 as it allows, so the defining reflection stands far out of the plane.
        let e1 = [1.0, 0.0, 0.0];
        let c = dot(e1, g);
        let beam = unit([e1[0] - c * g[0], e1[1] - c * g[1], e1[2] - c * g[2]]);
        let elevation_deg = dot(e1, beam).asin().to_degrees();
        let acceptance_deg = crate::glass::bragg_acceptance_deg(4.0, 5.0);
        assert!(elevation_deg > 10.0 * acceptance_deg, "{elevation_deg}°");
        let world = view(&local, g, cross(beam, g), beam);
        let p = spot_pattern(&local, &world, &f, 4.0, 2);
        assert!(p.shown(), "{p:?}");
        assert!(
            (p.over_in_zone - strength).abs() < 0.25 * strength,
            "{p:?} vs {strength}"
        );
        // Tilted 3 acceptances about the in-plane axis normal to it, the reflection is gone.
        let t = (3.0 * acceptance_deg).to_radians();
        let y = cross(beam, g);
        let tilt = |a: [f64; 3], b: [f64; 3]| {
            unit(std::array::from_fn(|k| t.cos() * a[k] + t.sin() * b[k]))
        };
        let world = view(&local, tilt(g, beam), y, tilt(beam, [-g[0], -g[1], -g[2]]));
        let p = spot_pattern(&local, &world, &f, 4.0, 2);
        assert!(!p.shown(), "{p:?}");
    }

    #[test]
    fn a_wave_too_small_to_stand_above_speckle_keeps_the_defining_rule() {
        // A 0.8 nm wave: its other reflections reach the edge share in some orientations, but
        // its few atoms cannot put a spot above the speckle bound.
        let local = motif_sites(2, 4.0, 0.4, &PARAMS);
        let f = vec![1.0; local.len()];
        let mut rng = mro_core::Seeds::new(4).stream("small-wave-test");
        let mut brightest: f64 = 0.0;
        for _ in 0..200 {
            let z = unit(std::array::from_fn(|_| rng.gen::<f64>() - 0.5));
            let x = unit(cross(z, [0.3, 0.5, 0.8]));
            let world = view(&local, x, cross(z, x), z);
            let p = spot_pattern(&local, &world, &f, 4.0, 2);
            assert!(
                p.over_incoherent < SPECKLE_CEILING,
                "{} atoms: {p:?}",
                local.len()
            );
            assert!(!p.shown(), "{p:?}");
            brightest = brightest.max(p.over_in_zone);
        }
        assert!(brightest > EDGE_INTENSITY_SHARE, "{brightest}");
    }
}
