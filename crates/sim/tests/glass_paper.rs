//! The paper volume (40.96 × 40.96 × 20 nm, ≈ 1.8 M atoms, five cluster types). Slow, so
//! ignored by default: `cargo test --release -p mro-sim --test glass_paper -- --ignored --nocapture`
//! (used for `reports/glass-performance.md`, with `/usr/bin/time -v` for the peak memory).

use std::cell::RefCell;
use std::time::Instant;

use mro_core::Seeds;
use mro_sim::glass::{build_glass, GlassStage};
use mro_sim::spec::{ClusterSpec, PlacementSpec, SampleSpec};

#[test]
#[ignore = "builds 1.8 M atoms; run explicitly for the performance report"]
fn paper_volume_builds_with_the_requested_fractions() {
    let start = Instant::now();
    let last = RefCell::new((start, String::from("start")));
    let progress = |stage: GlassStage| {
        let name = match stage {
            GlassStage::Relaxing { sweep, .. } if sweep % 20 != 0 && sweep != 1 => return,
            other => format!("{other:?}"),
        };
        let mut l = last.borrow_mut();
        eprintln!("{:>8.2} s  {} done", l.0.elapsed().as_secs_f64(), l.1);
        *l = (Instant::now(), name);
    };
    let g = build_glass(
        &SampleSpec::default(),
        &ClusterSpec::paper_set(),
        &PlacementSpec::default(),
        &Seeds::new(2018),
        &progress,
    )
    .expect("the paper volume builds");
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "paper volume: {} atoms, {} clusters, total fraction {:.4}, {secs:.2} s on {} threads",
        g.atoms.len(),
        g.truth.clusters.len(),
        g.truth.total_volume_fraction,
        rayon::current_num_threads()
    );
    for (n, s) in &g.truth.by_symmetry {
        eprintln!(
            "  n={n}: count {}, fraction {:.4}, in condition {:.3}, nn {:.2} nm, projected nn {:?}",
            s.count,
            s.volume_fraction,
            s.in_condition_fraction.unwrap_or(0.0),
            s.nearest_neighbor_nm.unwrap_or(0.0),
            s.projected_nearest_neighbor_nm
        );
        assert!((s.volume_fraction / 0.028 - 1.0).abs() < 0.05);
    }
    // Cluster atoms replace the matrix at its number density, for every type.
    for n in [2u32, 4, 6, 8, 10] {
        let (atoms, volume) = g
            .truth
            .clusters
            .iter()
            .filter(|c| c.symmetry == Some(n))
            .fold((0.0, 0.0), |(a, v), c| {
                (
                    a + c.atoms as f64,
                    v + std::f64::consts::PI / 6.0 * c.diameter_nm.powi(3),
                )
            });
        eprintln!("  n={n}: cluster density {:.2} atoms/nm³", atoms / volume);
        assert!((atoms / volume / 54.0 - 1.0).abs() <= 0.05, "n={n}");
    }
    assert!((g.atoms.number_density_per_nm3() / 54.0 - 1.0).abs() < 0.01);
}
