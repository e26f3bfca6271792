//! Icosahedral medium-range order: a Mackay icosahedron cut to the cluster sphere.
//!
//! Sheng et al. (Nature 439, 419 (2006)) describe the medium-range order of metallic glasses as
//! solute-centred clusters packed icosahedrally; in nanodiffraction such regions give 10-, 6- and
//! 2-fold patterns along their 5-, 3- and 2-fold axes (Liu et al., PRL 110, 205505 (2013),
//! Zr₃₆Cu₆₄). The cluster built here is the closed-shell structure with exactly that point
//! group, the Mackay icosahedron (Mackay, Acta Cryst. 15, 916 (1962)): a centre atom and shells
//! k = 1, 2, … of `10k² + 2` atoms on the triangulated faces of an icosahedron of edge `k·a`
//! (13, 55, 147, … atoms in all). Atoms outside the cluster sphere are left out, so a cluster
//! between two magic sizes is a complete core with a partial outer shell.
//!
//! The edge `a` is the surface nearest-neighbour distance; the radial distances are shorter by
//! `sin(2π/5) = 0.951`. `mro` sets `a = ICOSAHEDRAL_EDGE_K0 / k0` = 0.38 nm at 4 nm⁻¹, which
//! puts the decagonal ring of the projection on k0 (physics.md §7: the 13-atom icosahedron needs
//! R ≈ 0.39 nm for 4 nm⁻¹). Measured (unit scattering factors, ring 4 nm⁻¹), for clusters of
//! 1.3 / 1.5 / 1.8 nm: along the 5-fold axis P₁₀ = 0.52 / 0.41 / 0.70, along the 3-fold axis
//! P₆ = 0.55 / 0.67 / 0.70, along a 2-fold axis P₂ ≈ 0 but P₄ = 0.30 / 0.28 / 0.53 (two
//! pairs of spots; Liu et al.'s pure 2-fold appears here only at 2.2 nm, P₂ = 0.35). With
//! atomic bonds, a = 1.22/k0 = 0.30 nm (physics.md §4), the 5-fold view still gives
//! P₁₀ = 0.15–0.55, but the 3-fold view P₆ ≤ 0.11 below 2 nm, so an atomic Mackay cluster of
//! the paper's size is nearly invisible at 4 nm⁻¹ except down its 5-fold axis.
//!
//! This is an idealisation named as one: the icosahedral arrangement scaled to the ring (the
//! length scale of Sheng et al.'s icosahedrally packed solute-centred clusters is longer than a
//! bond), a single icosahedral grain rather than their interpenetrating network; chemistry is
//! not ordered (species are drawn from the alloy by the caller).
//!
//! Local frame: `w` is a 5-fold axis; the vertex of the upper ring nearest `+u` lies in the
//! `u`–`w` plane. A 3-fold axis is the centre of a face, a 2-fold axis the middle of an edge.

use std::f64::consts::PI;

/// The icosahedron's edge times the ring it diffracts into: `a = ICOSAHEDRAL_EDGE_K0 / k0`
/// (module docs: 0.38 nm at 4 nm⁻¹).
pub const ICOSAHEDRAL_EDGE_K0: f64 = 1.52;

/// The 12 vertices of the icosahedron of unit edge, 5-fold axis along `w`.
pub fn unit_vertices() -> [[f64; 3]; 12] {
    // Circumradius of the unit-edge icosahedron: sin(2π/5) = 0.951.
    let r = (0.4 * PI).sin();
    let (ring_z, ring_rho) = (r / 5f64.sqrt(), 2.0 * r / 5f64.sqrt());
    let mut v = [[0.0; 3]; 12];
    v[0] = [0.0, 0.0, r];
    v[11] = [0.0, 0.0, -r];
    for j in 0..5 {
        let t = 2.0 * PI * j as f64 / 5.0;
        v[1 + j] = [ring_rho * t.cos(), ring_rho * t.sin(), ring_z];
        let t = t + PI / 5.0;
        v[6 + j] = [ring_rho * t.cos(), ring_rho * t.sin(), -ring_z];
    }
    v
}

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The 30 edges and 20 faces of the unit icosahedron, as vertex indices in increasing order.
fn edges_and_faces(v: &[[f64; 3]; 12]) -> (Vec<[usize; 2]>, Vec<[usize; 3]>) {
    let adjacent = |i: usize, j: usize| (distance(v[i], v[j]) - 1.0).abs() < 1e-9;
    let mut edges = Vec::new();
    let mut faces = Vec::new();
    for i in 0..12 {
        for j in i + 1..12 {
            if !adjacent(i, j) {
                continue;
            }
            edges.push([i, j]);
            for k in j + 1..12 {
                if adjacent(i, k) && adjacent(j, k) {
                    faces.push([i, j, k]);
                }
            }
        }
    }
    (edges, faces)
}

/// The `10k² + 2` sites of Mackay shell `k ≥ 1` for edge `edge_nm` (the shell's own edge is
/// `k·edge_nm`).
fn shell(k: usize, edge_nm: f64, v: &[[f64; 3]; 12]) -> Vec<[f64; 3]> {
    let (edges, faces) = edges_and_faces(v);
    let kf = k as f64;
    let at = |p: [f64; 3]| p.map(|x| x * kf * edge_nm);
    let lerp = |a: [f64; 3], b: [f64; 3], t: f64| std::array::from_fn(|i| a[i] + t * (b[i] - a[i]));
    let mut sites: Vec<[f64; 3]> = v.iter().map(|&p| at(p)).collect();
    for &[i, j] in &edges {
        for m in 1..k {
            sites.push(at(lerp(v[i], v[j], m as f64 / kf)));
        }
    }
    for &[i, j, l] in &faces {
        for p in 1..k {
            for q in 1..k - p {
                let (s, t) = (p as f64 / kf, q as f64 / kf);
                let point = std::array::from_fn(|x| {
                    v[i][x] + s * (v[j][x] - v[i][x]) + t * (v[l][x] - v[i][x])
                });
                sites.push(at(point));
            }
        }
    }
    sites
}

/// Sites `(u, v, w)` in nm of a Mackay icosahedron of surface nearest-neighbour distance
/// `edge_nm`, centred on the origin with a 5-fold axis along `w`, that lie strictly inside the
/// sphere of `radius_nm`.
pub fn mackay_sites(edge_nm: f64, radius_nm: f64) -> Vec<[f64; 3]> {
    let v = unit_vertices();
    let mut sites = vec![[0.0; 3]];
    // The inradius of shell k is 0.7558·k·a: beyond it no site of the shell is inside.
    let inradius = 0.755_761_3 * edge_nm;
    let mut k = 1;
    while inradius * k as f64 <= radius_nm + 1e-12 {
        sites.extend(
            shell(k, edge_nm, &v)
                .into_iter()
                .filter(|s| s[0] * s[0] + s[1] * s[1] + s[2] * s[2] < radius_nm * radius_nm),
        );
        k += 1;
    }
    sites
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_hold_the_magic_numbers_and_keep_their_bonds() {
        let a = 0.3;
        // Circumradius of shell k is 0.951·k·a; a sphere just outside it holds whole shells.
        for (shells, atoms) in [(1usize, 13usize), (2, 55), (3, 147), (4, 309)] {
            let r = 0.951_057 * a * shells as f64 + 1e-6;
            let sites = mackay_sites(a, r);
            assert_eq!(sites.len(), atoms, "{shells} shells");
            // No two sites closer than the radial bond 0.951·a, none coincide.
            let mut closest = f64::INFINITY;
            for (i, p) in sites.iter().enumerate() {
                for q in &sites[i + 1..] {
                    closest = closest.min(distance(*p, *q));
                }
            }
            assert!((closest - 0.951_057 * a).abs() < 1e-5, "{closest}");
        }
        // Unit vertices: 12 at the circumradius, 30 edges, 20 faces.
        let v = unit_vertices();
        let (e, f) = edges_and_faces(&v);
        assert_eq!((e.len(), f.len()), (30, 20));
    }

    #[test]
    fn a_cut_sphere_keeps_only_inside_sites() {
        let sites = mackay_sites(0.305, 0.65);
        assert!(sites
            .iter()
            .all(|s| s[0] * s[0] + s[1] * s[1] + s[2] * s[2] < 0.65 * 0.65));
        // 0.65 nm holds two whole shells (circumradius 0.580 nm) and no site of the third
        // (inradius 0.692 nm).
        assert_eq!(sites.len(), 55);
    }
}
