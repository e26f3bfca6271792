//! Structure cluster types: the n-fold symmetries they show are computed from their own
//! projected kinematic pattern and follow the viewing direction (physics.md §7).

use mro_core::Seeds;
use mro_sim::glass::crystal::{lattice_sites, Lattice};
use mro_sim::glass::icosahedral::{mackay_sites, unit_vertices, ICOSAHEDRAL_EDGE_K0};
use mro_sim::glass::symmetry::{ring_power, shown, SHOWS_THRESHOLD};
use mro_sim::glass::{build_glass, Frame, Glass};
use mro_sim::spec::{ClusterKind, ClusterSpec, PlacementSpec, SampleSpec};
use rand::Rng;

/// The sites seen along `direction`: world coordinates with the beam (+z) along it.
fn seen_along(sites: &[[f64; 3]], direction: [f64; 3]) -> Vec<[f64; 3]> {
    let f = Frame::new(direction, 0.0);
    sites.iter().map(|&p| f.components(p)).collect()
}

fn shows(sites: &[[f64; 3]], direction: [f64; 3]) -> (Vec<u32>, Vec<f64>) {
    let power = ring_power(&seen_along(sites, direction), &vec![1.0; sites.len()], 4.0);
    (shown(&power), power)
}

#[test]
fn an_icosahedron_shows_10_6_and_2mm_along_its_5_3_and_2_fold_axes() {
    let v = unit_vertices();
    let sum = |ids: &[usize]| std::array::from_fn(|i| ids.iter().map(|&j| v[j][i]).sum::<f64>());
    let face: [f64; 3] = sum(&[0, 1, 2]);
    let edge: [f64; 3] = sum(&[0, 1]);
    for diameter in [1.3, 1.5, 1.8] {
        let sites = mackay_sites(ICOSAHEDRAL_EDGE_K0 / 4.0, 0.5 * diameter);
        let (five, p5) = shows(&sites, [0.0, 0.0, 1.0]);
        assert_eq!(five, vec![10], "D={diameter}: {p5:?}");
        let (three, p3) = shows(&sites, face);
        assert!(three.contains(&6), "D={diameter}: {p3:?}");
        assert!(three.iter().all(|n| n % 6 == 0), "D={diameter}: {p3:?}");
        // Down a 2-fold axis the projection keeps only 2mm: it shows n not divisible by 6 or
        // 10 (at 4 nm⁻¹ the two spot pairs put the power at 4 and 8), never 6 or 10.
        let (two, p2) = shows(&sites, edge);
        assert!(!two.is_empty(), "D={diameter}: {p2:?}");
        assert!(
            !two.contains(&6) && !two.contains(&10),
            "D={diameter}: {p2:?}"
        );
    }
}

#[test]
fn bcc_shows_4_6_and_2_along_001_111_and_110() {
    let a = Lattice::Bcc.constant_nm(4.0);
    let sites: Vec<[f64; 3]> = lattice_sites(Lattice::Bcc, a, 0.65)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let (s001, p) = shows(&sites, [0.0, 0.0, 1.0]);
    assert!(
        s001.contains(&4) && !s001.iter().any(|n| [2, 6, 10].contains(n)),
        "{p:?}"
    );
    let (s111, p) = shows(&sites, [1.0, 1.0, 1.0]);
    assert!(
        s111.contains(&6) && !s111.iter().any(|n| [2, 4, 10].contains(n)),
        "{p:?}"
    );
    let (s110, p) = shows(&sites, [1.0, 1.0, 0.0]);
    let strongest = (1..p.len()).max_by(|&x, &y| p[x].total_cmp(&p[y])).unwrap();
    assert!(s110.contains(&2) && strongest == 2, "{p:?}");
}

#[test]
fn random_clusters_of_the_paper_size_rarely_reach_the_threshold() {
    // 300 clusters of 63 atoms at random in a 1.3 nm sphere: the per-n 99th percentile of the
    // even P_n stays below the threshold (the odd ones vanish by Friedel's law).
    let mut rng = Seeds::new(11).stream("random-clusters");
    let mut values = Vec::new();
    for _ in 0..300 {
        let mut s = Vec::new();
        while s.len() < 63 {
            let p: [f64; 3] = std::array::from_fn(|_| 1.3 * rng.gen::<f64>() - 0.65);
            if p.iter().map(|x| x * x).sum::<f64>() < 0.65 * 0.65 {
                s.push(p);
            }
        }
        let p = ring_power(&s, &[1.0; 63], 4.0);
        assert!(p[1] < 1e-9 && p[3] < 1e-9);
        values.extend([p[2], p[4], p[6], p[8], p[10], p[12]]);
    }
    values.sort_by(f64::total_cmp);
    let p99 = values[values.len() * 99 / 100];
    assert!(p99 < SHOWS_THRESHOLD, "99th percentile {p99}");
}

fn build(threads: usize, kinds: &[ClusterKind], rms: f64, seed: u64) -> Glass {
    let sample = SampleSpec {
        extent_nm: [12.0, 12.0],
        thickness_nm: 5.0,
        ..SampleSpec::default()
    };
    let clusters: Vec<ClusterSpec> = kinds
        .iter()
        .map(|&k| ClusterSpec {
            volume_fraction: 0.05,
            diameter_nm: 1.5,
            displacement_rms_nm: rms,
            ..ClusterSpec::structure(k)
        })
        .collect();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| {
            build_glass(
                &sample,
                &clusters,
                &PlacementSpec::default(),
                &Seeds::new(seed),
                &|_| {},
            )
        })
        .unwrap()
}

#[test]
fn structure_glasses_record_computed_symmetries_and_are_deterministic() {
    let kinds = [
        ClusterKind::Icosahedral,
        ClusterKind::Bcc,
        ClusterKind::Fcc,
        ClusterKind::B2,
    ];
    let one = build(1, &kinds, 0.01, 5);
    let two = build(2, &kinds, 0.01, 5);
    assert_eq!(one, two, "thread count changed the glass");
    let t = &one.truth;
    assert_eq!(t.shows_threshold, SHOWS_THRESHOLD);
    for c in &t.clusters {
        assert_eq!(c.symmetry, None);
        assert_eq!(c.ring_power.len(), 13);
        assert_eq!(c.shows, shown(&c.ring_power), "cluster {}", c.id);
        assert_eq!(c.in_condition, !c.shows.is_empty());
        assert!(c.worst_reflection_elevation_deg.is_none());
    }
    for kind in kinds {
        let label = kind.name();
        let ty = &t.by_type[label];
        // Random orientations: some clusters show a symmetry. (A crystal shows one in most
        // orientations: a single {110} pair touching the ring puts power at every even n.)
        assert!(ty.count > 0 && ty.in_condition_count > 0, "{label}: {ty:?}");
    }
    // The types' capabilities: icosahedra 10 and 6, bcc 4 and 6 and 2.
    let ico = &t.by_type["icosahedral"].capable_symmetries;
    assert!(ico.contains(&10) && ico.contains(&6), "{ico:?}");
    let bcc = &t.by_type["bcc"].capable_symmetries;
    assert!([2, 4, 6].iter().all(|n| bcc.contains(n)), "{bcc:?}");
    // Per n: the clusters in condition are exactly those that show n.
    for (n, s) in &t.by_symmetry {
        let n: u32 = n.parse().unwrap();
        let showing = t.clusters.iter().filter(|c| c.shows.contains(&n)).count();
        assert_eq!(s.in_condition_count, showing, "n={n}");
    }
    // B2: the majority element (Zr) fills a sublattice, so B2 clusters are Zr-rich.
    let zr = one
        .atoms
        .atomic_numbers
        .iter()
        .filter(|&&z| z == 40)
        .count() as f64
        / one.atoms.len() as f64;
    assert!(zr > 0.5, "{zr}");
}
