//! The n-fold cluster motif: a columnar density wave (physics.md §7).
//!
//! In the cluster plane the density wave is
//! `f(r) = (1/m) Σ_j cos(2π k0 ê_j·r + φ)`, with `m = n/2` directions `ê_j` at azimuths `πj/m`
//! and `φ = 0` for even n, or `m = n` directions at `2πj/n` and `φ = −π/2` for odd n (a field
//! without inversion symmetry; its projection still shows 2n spots by Friedel's law). Its
//! Fourier components sit exactly at `±k0 ê_j`: n spots on the k0 ring for even n, 2n for odd.
//!
//! Atoms stand in columns along the axis. Column sites are chosen greedily in decreasing order
//! of `f` (local maxima first) with a minimum projected spacing, above a threshold that is
//! lowered until the sites are dense enough for the requested number density at a column
//! period no shorter than the largest pair minimum. Each column gets a phase along the axis that
//! keeps it as far as possible from its neighbours (as bcc \[001\] staggers its columns), and
//! atoms fill each column with the common period `c` inside the sphere. Seen along the axis the
//! cluster is the projected density wave, whatever the phases.
//!
//! Where the columns cannot hold the matrix's number density without breaking a minimum
//! distance (n = 7–11 lose up to 12 %), single atoms are added at the highest remaining values of
//! the wave until the sphere holds ρ·V atoms (`top_up`).

use std::f64::consts::PI;

/// In-plane azimuths (radians, from `e1` toward `e2`) of the defining reflections of an n-fold
/// motif; each stands for the Friedel pair `±k0 ê_j`.
pub fn reflection_azimuths_rad(symmetry: u32) -> Vec<f64> {
    let (m, step) = if symmetry % 2 == 0 {
        let m = (symmetry / 2).max(1);
        (m, PI / f64::from(m))
    } else {
        (symmetry, 2.0 * PI / f64::from(symmetry))
    };
    (0..m).map(|j| step * f64::from(j)).collect()
}

/// The normalised density wave `f(u, v)` in `[-1, 1]` of an n-fold motif at ring `k0_per_nm`.
pub fn density_wave(symmetry: u32, k0_per_nm: f64, u: f64, v: f64) -> f64 {
    Wave::new(symmetry, k0_per_nm).at(u, v)
}

/// The density wave with its directions precomputed.
struct Wave {
    k: Vec<[f64; 2]>,
    phase: f64,
}

impl Wave {
    fn new(symmetry: u32, k0_per_nm: f64) -> Self {
        let k = reflection_azimuths_rad(symmetry)
            .iter()
            .map(|&t| {
                [
                    2.0 * PI * k0_per_nm * t.cos(),
                    2.0 * PI * k0_per_nm * t.sin(),
                ]
            })
            .collect();
        let phase = if symmetry % 2 == 0 { 0.0 } else { -PI / 2.0 };
        Self { k, phase }
    }

    #[inline]
    fn at(&self, u: f64, v: f64) -> f64 {
        let sum: f64 = self
            .k
            .iter()
            .map(|k| (k[0] * u + k[1] * v + self.phase).cos())
            .sum();
        sum / self.k.len() as f64
    }
}

/// Geometry parameters of the motif, from the alloy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MotifParams {
    /// Number density to reproduce, atoms/nm³.
    pub number_density_per_nm3: f64,
    /// Shortest column period along the axis, nm.
    pub min_period_nm: f64,
    /// Shortest projected distance between columns, nm.
    pub min_column_spacing_nm: f64,
    /// Shortest 3-D distance between any two sites (the largest pair minimum), nm.
    pub min_distance_nm: f64,
}

/// Sampling step of the candidate grid in nm.
const GRID_NM: f64 = 0.01;
/// Number of discrete column phases along the axis.
const PHASES: usize = 8;

/// Atom positions `(u, v, w)` in nm in the cluster frame (w along the axis), all inside the
/// sphere of `radius_nm`, as many as the number density asks for (where the minimum distance
/// allows), every pair at least `min_distance_nm` apart.
pub(crate) fn motif_sites(
    symmetry: u32,
    k0_per_nm: f64,
    radius_nm: f64,
    p: &MotifParams,
) -> Vec<[f64; 3]> {
    let wave = Wave::new(symmetry, k0_per_nm);
    let half = (radius_nm / GRID_NM).floor() as i64;
    let mut candidates: Vec<(f64, f64, f64)> = Vec::new();
    for i in -half..=half {
        for j in -half..=half {
            let (u, v) = (i as f64 * GRID_NM, j as f64 * GRID_NM);
            if u * u + v * v < radius_nm * radius_nm {
                candidates.push((wave.at(u, v), u, v));
            }
        }
    }
    // Highest field first; ties keep grid order, so the result is deterministic.
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    let volume = 4.0 / 3.0 * PI * radius_nm.powi(3);
    let want_atoms = p.number_density_per_nm3 * volume;
    let chord = |u: f64, v: f64| 2.0 * (radius_nm * radius_nm - u * u - v * v).max(0.0).sqrt();

    // Columns are taken in decreasing field order, each with the phase (one of PHASES steps of
    // the period) that keeps it farthest from the columns already taken; a candidate that is
    // too close in projection, or cannot keep `min_distance_nm` in 3-D, is skipped. The field
    // threshold drops until the columns can hold the target atom count at the design period.
    let period = 1.25 * p.min_period_nm;
    let reach = 2.0 * p.min_column_spacing_nm.max(p.min_period_nm);
    let circ = |a: usize, b: usize| {
        let d = (a + PHASES - b) % PHASES;
        d.min(PHASES - d) as f64 / PHASES as f64
    };
    let mut grid = SpacingGrid::new(radius_nm, p.min_column_spacing_nm);
    let mut columns: Vec<[f64; 2]> = Vec::new();
    let mut phases: Vec<usize> = Vec::new();
    let mut pairs: Vec<(f64, f64)> = Vec::new(); // (projected d², phase distance / period)
    let mut total_chord = 0.0;
    let mut next = 0;
    let mut threshold = 0.5;
    'fill: loop {
        while next < candidates.len() && candidates[next].0 >= threshold {
            let (_, u, v) = candidates[next];
            next += 1;
            if !grid.free(u, v) {
                continue;
            }
            let near = grid.neighbours(u, v, reach, &columns);
            let mut best = (f64::NEG_INFINITY, 0usize);
            for k in 0..PHASES {
                let closest = near
                    .iter()
                    .map(|&j| {
                        let d2 = (columns[j][0] - u).powi(2) + (columns[j][1] - v).powi(2);
                        let dz = period * circ(k, phases[j]);
                        d2 + dz * dz
                    })
                    .fold(f64::INFINITY, f64::min);
                if closest > best.0 + 1e-12 {
                    best = (closest, k);
                }
            }
            if best.0 < p.min_distance_nm * p.min_distance_nm {
                continue;
            }
            for &j in &near {
                let d2 = (columns[j][0] - u).powi(2) + (columns[j][1] - v).powi(2);
                pairs.push((d2, circ(best.1, phases[j])));
            }
            grid.insert(u, v, columns.len());
            columns.push([u, v]);
            phases.push(best.1);
            total_chord += chord(u, v);
            if total_chord / want_atoms >= period {
                break 'fill;
            }
        }
        if next == candidates.len() {
            break;
        }
        threshold -= 0.1;
    }
    let kept: Vec<([f64; 2], f64)> = columns
        .iter()
        .zip(&phases)
        .map(|(&c, &k)| (c, k as f64 / PHASES as f64))
        .collect();
    // Closest approach at period c: along a column, or between phased neighbours.
    let closest = |c: f64| {
        pairs
            .iter()
            .map(|&(d2, f)| (d2 + (c * f).powi(2)).sqrt())
            .fold(c, f64::min)
    };

    // The chord estimate misses the discreteness of short columns (and dropped columns): scan
    // the period for the atom count closest to the target, keeping every distance.
    let fill = |c: f64| column_atoms(&kept, c, radius_nm);
    let mut best = (f64::INFINITY, period);
    for step in 0..=120 {
        let c = period * (0.6 + 0.005 * step as f64);
        if c < p.min_period_nm || closest(c) < p.min_distance_nm {
            continue;
        }
        let miss = (fill(c).len() as f64 - want_atoms).abs();
        if miss < best.0 {
            best = (miss, c);
        }
    }
    let mut sites = fill(best.1);
    let target = want_atoms.round() as usize;
    if sites.len() < target {
        top_up(
            &mut sites,
            &candidates,
            radius_nm,
            p.min_distance_nm,
            target,
        );
    }
    sites
}

/// Step in nm of the axial scan of [`top_up`].
const TOP_UP_STEP_NM: f64 = 0.02;
/// Every this many points of the 2-D candidate grid are tried by [`top_up`].
const TOP_UP_STRIDE: i64 = 2;

/// Adds single atoms until `sites` holds `target` atoms (or no place is left): projected
/// positions are taken in decreasing density-wave order (`candidates`, sorted), and along each
/// the first axial position (scanned from the equator outward, alternating sides) that keeps
/// `min_distance_nm` from every site inside the sphere. The extra atoms sit where the wave is
/// high, so they add to the n-fold (2n-fold) projection instead of blurring it.
fn top_up(
    sites: &mut Vec<[f64; 3]>,
    candidates: &[(f64, f64, f64)],
    radius_nm: f64,
    min_distance_nm: f64,
    target: usize,
) {
    let cell = min_distance_nm;
    let side = (2.0 * radius_nm / cell).ceil() as usize + 1;
    let index = |x: f64| (((x + radius_nm) / cell).floor().max(0.0) as usize).min(side - 1);
    let mut grid: Vec<Vec<usize>> = vec![Vec::new(); side * side * side];
    let key = |s: [f64; 3]| (index(s[0]) * side + index(s[1])) * side + index(s[2]);
    for (k, &s) in sites.iter().enumerate() {
        grid[key(s)].push(k);
    }
    let m2 = min_distance_nm * min_distance_nm;
    let clear = |s: [f64; 3], sites: &[[f64; 3]], grid: &[Vec<usize>]| {
        let c = [index(s[0]), index(s[1]), index(s[2])];
        for a in c[0].saturating_sub(1)..=(c[0] + 1).min(side - 1) {
            for b in c[1].saturating_sub(1)..=(c[1] + 1).min(side - 1) {
                for d in c[2].saturating_sub(1)..=(c[2] + 1).min(side - 1) {
                    for &k in &grid[(a * side + b) * side + d] {
                        let q = sites[k];
                        let d2 =
                            (q[0] - s[0]).powi(2) + (q[1] - s[1]).powi(2) + (q[2] - s[2]).powi(2);
                        if d2 < m2 {
                            return false;
                        }
                    }
                }
            }
        }
        true
    };
    for &(_, u, v) in candidates {
        if sites.len() >= target {
            return;
        }
        let on_stride = |x: f64| ((x / GRID_NM).round() as i64).rem_euclid(TOP_UP_STRIDE) == 0;
        if !on_stride(u) || !on_stride(v) {
            continue;
        }
        let half = (radius_nm * radius_nm - u * u - v * v).max(0.0).sqrt();
        let steps = (half / TOP_UP_STEP_NM).floor() as i64;
        for k in 0..=2 * steps {
            // 0, +1, −1, +2, −2, … steps from the equator.
            let m = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
            let w = m as f64 * TOP_UP_STEP_NM;
            let s = [u, v, w];
            if u * u + v * v + w * w < radius_nm * radius_nm && clear(s, sites, &grid) {
                grid[key(s)].push(sites.len());
                sites.push(s);
                if sites.len() >= target {
                    return;
                }
            }
        }
    }
}

/// Atoms of `columns` (position, phase as a fraction of the period) at period `c`.
fn column_atoms(columns: &[([f64; 2], f64)], c: f64, radius_nm: f64) -> Vec<[f64; 3]> {
    let mut sites = Vec::new();
    for &([u, v], fraction) in columns {
        let phi = fraction * c;
        let half_chord = (radius_nm * radius_nm - u * u - v * v).max(0.0).sqrt();
        let mut m = ((-half_chord - phi) / c).ceil() as i64;
        loop {
            let w = phi + m as f64 * c;
            if w > half_chord {
                break;
            }
            if u * u + v * v + w * w < radius_nm * radius_nm {
                sites.push([u, v, w]);
            }
            m += 1;
        }
    }
    sites
}

/// Accepted column sites hashed on a square grid for the spacing test.
struct SpacingGrid {
    cell: f64,
    side: usize,
    origin: f64,
    spacing: f64,
    cells: Vec<Vec<usize>>,
    points: Vec<[f64; 2]>,
}

impl SpacingGrid {
    fn new(radius_nm: f64, spacing: f64) -> Self {
        let cell = spacing.max(1e-3);
        let side = (2.0 * radius_nm / cell).ceil() as usize + 3;
        Self {
            cell,
            side,
            origin: -radius_nm - cell,
            spacing,
            cells: vec![Vec::new(); side * side],
            points: Vec::new(),
        }
    }

    fn index(&self, u: f64, v: f64) -> (usize, usize) {
        let f =
            |x: f64| (((x - self.origin) / self.cell).floor().max(0.0) as usize).min(self.side - 1);
        (f(u), f(v))
    }

    fn free(&self, u: f64, v: f64) -> bool {
        let (iu, iv) = self.index(u, v);
        for a in iu.saturating_sub(1)..=(iu + 1).min(self.side - 1) {
            for b in iv.saturating_sub(1)..=(iv + 1).min(self.side - 1) {
                for &k in &self.cells[a * self.side + b] {
                    let [x, y] = self.points[k];
                    if (x - u).powi(2) + (y - v).powi(2) < self.spacing * self.spacing {
                        return false;
                    }
                }
            }
        }
        true
    }

    fn insert(&mut self, u: f64, v: f64, id: usize) {
        let (iu, iv) = self.index(u, v);
        debug_assert_eq!(id, self.points.len());
        self.cells[iu * self.side + iv].push(id);
        self.points.push([u, v]);
    }

    fn neighbours(&self, u: f64, v: f64, reach: f64, _columns: &[[f64; 2]]) -> Vec<usize> {
        let (iu, iv) = self.index(u, v);
        let r = (reach / self.cell).ceil() as usize;
        let mut out = Vec::new();
        for a in iu.saturating_sub(r)..=(iu + r).min(self.side - 1) {
            for b in iv.saturating_sub(r)..=(iv + r).min(self.side - 1) {
                for &k in &self.cells[a * self.side + b] {
                    let [x, y] = self.points[k];
                    if (x - u).powi(2) + (y - v).powi(2) <= reach * reach {
                        out.push(k);
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }
}

/// |I_n|², n = 0..=n_max, of the kinematic intensity I(φ) on the ring k in the k_z = 0 plane of
/// atoms at `sites` (unit scattering factors), from a direct structure-factor sum at 360
/// azimuths; `I_n = (1/360) Σ_φ I(φ) e^{−inφ}`.
#[cfg(test)]
fn ring_harmonics(sites: &[[f64; 3]], k: f64, n_max: usize) -> Vec<f64> {
    let na = 360;
    let intensity: Vec<f64> = (0..na)
        .map(|a| {
            let t = 2.0 * PI * a as f64 / na as f64;
            let (kx, ky) = (k * t.cos(), k * t.sin());
            let (mut re, mut im) = (0.0, 0.0);
            for s in sites {
                let ph = -2.0 * PI * (kx * s[0] + ky * s[1]);
                re += ph.cos();
                im += ph.sin();
            }
            re * re + im * im
        })
        .collect();
    (0..=n_max)
        .map(|n| {
            let (mut re, mut im) = (0.0, 0.0);
            for (a, i) in intensity.iter().enumerate() {
                let t = 2.0 * PI * (n * a) as f64 / na as f64;
                re += i * t.cos();
                im -= i * t.sin();
            }
            (re * re + im * im) / (na * na) as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> MotifParams {
        MotifParams {
            number_density_per_nm3: 54.0,
            min_period_nm: 0.27,
            min_column_spacing_nm: 0.201,
            min_distance_nm: 0.25,
        }
    }

    /// Angular power spectrum P_n = |I_n|²/|I_0|², n ≤ 26, of the projected kinematic
    /// intensity on the ring k (unit scattering factors).
    fn ring_power(sites: &[[f64; 3]], k: f64) -> Vec<f64> {
        let i = ring_harmonics(sites, k, 26);
        i.iter().map(|p| p / i[0]).collect()
    }

    #[test]
    fn projection_has_n_or_2n_fold_power_and_the_density() {
        let p = params();
        for n in 2..=12u32 {
            for r in [0.65, 0.75] {
                let sites = motif_sites(n, 4.0, r, &p);
                // Same number density as the matrix (±5 %) ...
                let density = sites.len() as f64 / (4.0 / 3.0 * PI * r * r * r);
                // ... every site inside the sphere and at least the minimum distance apart ...
                for (i, a) in sites.iter().enumerate() {
                    assert!(a[0] * a[0] + a[1] * a[1] + a[2] * a[2] < r * r);
                    for b in &sites[i + 1..] {
                        let d2 =
                            (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2);
                        assert!(
                            d2.sqrt() >= p.min_distance_nm - 1e-12,
                            "n={n} r={r}: {}",
                            d2.sqrt()
                        );
                    }
                }
                // ... and the angular power at k0 peaks at n (even) or 2n (odd).
                let power = ring_power(&sites, 4.0);
                let expect = if n % 2 == 0 { n } else { 2 * n } as usize;
                eprintln!(
                    "n={n} r={r}: {} atoms, {density:.1} atoms/nm³, P_{expect} = {:.3}",
                    sites.len(),
                    power[expect]
                );
                assert!(
                    (density / 54.0 - 1.0).abs() <= 0.05,
                    "n={n} r={r}: {density}"
                );
                let best = (1..=26)
                    .max_by(|&a, &b| power[a].total_cmp(&power[b]))
                    .unwrap();
                if n == 2 {
                    // Two spots put power at every even harmonic (physics.md §6), and for small
                    // clusters P_4 can edge out P_2: require strong P_2, a top harmonic that is
                    // even, and no odd power (the projection is centrosymmetric).
                    assert!(power[2] > 0.5 && best % 2 == 0, "n=2 r={r}: {power:?}");
                    assert!(power[1] < 1e-6 && power[3] < 1e-6, "n=2 r={r}: {power:?}");
                } else if expect <= 20 || r >= 0.75 {
                    // 22 or 24 spots (n = 11, 12) are only 1.1 nm⁻¹ apart on the ring, about
                    // the spot width 1/D of a 1.3 nm cluster: checked at D = 1.5 nm.
                    assert_eq!(best, expect, "n={n} r={r}: {power:?}");
                    assert!(power[expect] > 0.1, "n={n} r={r}: {power:?}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tilt_tests {
    use super::super::orientation::Frame;
    use super::*;

    /// |I_n| / N² at ring k: the n-th angular harmonic of the kinematic intensity in the
    /// diffraction plane (k_z = 0) of atoms at world positions, per atom squared.
    fn plane_power(atoms: &[[f64; 3]], k: f64, n: usize) -> f64 {
        ring_harmonics(atoms, k, n)[n].sqrt() / (atoms.len() as f64).powi(2)
    }

    #[test]
    fn tilting_past_the_acceptance_angle_kills_the_ring_signal() {
        let p = MotifParams {
            number_density_per_nm3: 54.0,
            min_period_nm: 0.27,
            min_column_spacing_nm: 0.201,
            min_distance_nm: 0.25,
        };
        for n in [2u32, 3, 4, 5, 6, 8, 10, 12] {
            let sites = motif_sites(n, 4.0, 0.75, &p);
            let expect = if n % 2 == 0 { n } else { 2 * n } as usize;
            let signal = |tilt_deg: f64| {
                // Tilt toward azimuth 37° (no low-index zone of any motif), so the reflection
                // along e1 rises by asin(sin t · cos 37°).
                let (t, a) = (tilt_deg.to_radians(), 37f64.to_radians());
                let f = Frame::new([t.sin() * a.cos(), t.sin() * a.sin(), t.cos()], 0.0);
                let world: Vec<[f64; 3]> =
                    sites.iter().map(|&[u, v, w]| f.to_world(u, v, w)).collect();
                let elevation = f.worst_reflection_elevation_deg(&reflection_azimuths_rad(n));
                (plane_power(&world, 4.0, expect), elevation)
            };
            let (on, e0) = signal(0.0);
            let (near, e4) = signal(4.0);
            let (off, e25) = signal(25.0);
            assert!(
                e0 < 1e-9 && e4 <= 10.0 && e25 > 10.0,
                "n={n}: {e0} {e4} {e25}"
            );
            assert!(near > 0.5 * on, "n={n}: |I_n| at 4° {near} vs {on}");
            assert!(off < 0.35 * on, "n={n}: |I_n| at 25° {off} vs {on}");
        }
    }

    /// The acceptance shrinks with the size, as `1/(k0·D)` (`glass::bragg_acceptance_deg`): a
    /// 2-fold wave of 1.5, 3 and 5 nm keeps most of its ring signal at half its acceptance and
    /// loses it at twice (the sphere's shape transform: 0.60 and 0.006 of the intensity), so a
    /// fixed 10° would call a 5 nm cluster at 5° in condition with under 1 % of its signal.
    #[test]
    fn the_acceptance_angle_scales_as_one_over_k0_d() {
        let p = MotifParams {
            number_density_per_nm3: 54.0,
            min_period_nm: 0.27,
            min_column_spacing_nm: 0.201,
            min_distance_nm: 0.25,
        };
        let k0 = 4.0;
        for d in [1.5, 3.0, 5.0] {
            let sites = motif_sites(2, k0, 0.5 * d, &p);
            // Tilt about the axis normal to the reflection, so its elevation is the tilt.
            let signal = |elevation_deg: f64| {
                let t = elevation_deg.to_radians();
                let f = Frame::new([t.sin(), 0.0, t.cos()], 0.0);
                let world: Vec<[f64; 3]> =
                    sites.iter().map(|&[u, v, w]| f.to_world(u, v, w)).collect();
                let e = f.worst_reflection_elevation_deg(&reflection_azimuths_rad(2));
                assert!((e - elevation_deg).abs() < 1e-6, "D={d}: elevation {e}");
                plane_power(&world, k0, 2)
            };
            let acceptance = crate::glass::bragg_acceptance_deg(k0, d);
            let on = signal(0.0);
            let (half, twice) = (signal(0.5 * acceptance), signal(2.0 * acceptance));
            assert!(
                half > 0.4 * on,
                "D={d}: |I_2| at {:.1}° {half} vs {on}",
                0.5 * acceptance
            );
            assert!(
                twice < 0.1 * on,
                "D={d}: |I_2| at {:.1}° {twice} vs {on}",
                2.0 * acceptance
            );
        }
    }
}
