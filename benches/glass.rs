//! Glass building: the paper volume (40.96 × 40.96 × 20 nm, ≈ 1.8 M atoms, five cluster types).
//!
//! Run with `cargo bench -p mro-sim --bench glass`.

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{criterion_group, criterion_main, Criterion};
use mro_core::Seeds;
use mro_sim::glass::build_glass;
use mro_sim::spec::{ClusterSpec, PlacementSpec, SampleSpec};

fn paper_volume(c: &mut Criterion) {
    let sample = SampleSpec::default();
    let clusters = ClusterSpec::paper_set();
    let placement = PlacementSpec::default();
    let seeds = Seeds::new(2018);
    let mut group = c.benchmark_group("glass");
    group.sample_size(10);
    group.measurement_time(std::time::Duration::from_secs(60));
    group.bench_function("paper_volume", |b| {
        b.iter(|| {
            build_glass(&sample, &clusters, &placement, &seeds, &|_| {})
                .expect("the paper volume builds")
        })
    });
    group.finish();
}

criterion_group!(benches, paper_volume);
criterion_main!(benches);
