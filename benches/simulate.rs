//! Forward-model benchmarks on fixed-seed random Zr₅₅Co₂₅Al₂₀ volumes at 54 nm⁻³.
//!
//! - `pattern/<model>/<t>nm`: one probe position (one pattern) after planning, with the field
//!   already built: the per-position cost that scales the paper job (128 × 128 positions).
//! - `field/<model>/<t>nm`: building the field (potential slices / transmissions) for a
//!   12 × 12 nm strip, the per-area cost of the field stage.
//! - `scan_blur/paper`: a finite source applied as a blur of the scan images of the paper's
//!   whole noiseless datacube (128 × 128 positions × 128 × 128 pixels, 2 GiB of f64), the cost
//!   a source adds to the paper job in place of its 16–36 coherent passes (0.25–0.5 nm).
//!
//! Figures and the extrapolation to the paper job are in `reports/simulate-performance.md`.

#![allow(missing_docs)] // criterion_group! generates an undocumented public function.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mro_core::Seeds;
use mro_sim::potential::{FieldGrid, PotentialBuilder, Slicing};
use mro_sim::propagation::{model, DiffractionPlan, Propagation, WindowPlacement};
use mro_sim::scan_blur::ScanBlur;
use mro_sim::spec::{DetectorSpec, MicroscopeSpec, ModelKind, ModelSpec};
use mro_sim::AtomVolume;

/// Zr₅₅Co₂₅Al₂₀ as (Z, atomic fraction).
const ZR55CO25AL20: [(u8, f64); 3] = [(40, 0.55), (27, 0.25), (13, 0.20)];

fn random_glass(lateral_nm: f64, thickness_nm: f64) -> AtomVolume {
    AtomVolume::uniform_random(
        [lateral_nm, lateral_nm, thickness_nm],
        &ZR55CO25AL20,
        54.0,
        &mut Seeds::new(2018).stream("bench-volume"),
    )
}

/// The slicing, plan and model of `kind` for a `thickness_nm` foil at the paper's optics.
fn setup(
    kind: ModelKind,
    thickness_nm: f64,
) -> (Slicing, Arc<DiffractionPlan>, Box<dyn Propagation>) {
    let spec = ModelSpec {
        kind,
        ..ModelSpec::default()
    };
    let slicing = Slicing::new(thickness_nm, spec.slice_nm);
    let plan = Arc::new(DiffractionPlan::for_model(
        &spec,
        &MicroscopeSpec::default(),
        &DetectorSpec::default(),
        slicing,
    ));
    let m = model(&spec, plan.clone());
    (slicing, plan, m)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pattern");
    g.sample_size(10);
    for kind in [ModelKind::Kinematic, ModelKind::Born, ModelKind::Multislice] {
        for t in [10.0, 20.0] {
            let (slicing, plan, m) = setup(kind, t);
            let l = plan.window_nm();
            let grid = FieldGrid::covering([-1.0, -1.0], [l + 1.0, l + 1.0], plan.dx_nm());
            let atoms = random_glass(12.0, t);
            let field = PotentialBuilder::with_band_limit(
                grid,
                &[13, 27, 40],
                0.0,
                plan.band_limit_per_nm(),
            )
            .build(&atoms, &slicing, m.field_kind());
            let at = WindowPlacement {
                origin_px: [31, 31],
                center_nm: [0.5 * l + 0.011, 0.5 * l - 0.007],
            };
            let mut s = plan.scratch();
            let mut out = vec![0.0; plan.detector_len()];
            g.bench_function(
                BenchmarkId::new(format!("{kind:?}").to_lowercase(), format!("{t}nm")),
                |b| b.iter(|| m.pattern(&field, at, &mut s, &mut out)),
            );
        }
    }
    g.finish();
    let mut g = c.benchmark_group("field");
    g.sample_size(10);
    for kind in [ModelKind::Kinematic, ModelKind::Born, ModelKind::Multislice] {
        let t = 10.0;
        let (slicing, plan, m) = setup(kind, t);
        let grid = FieldGrid::covering([0.0, 0.0], [12.0, 12.0], plan.dx_nm());
        let atoms = random_glass(12.0, t);
        let builder =
            PotentialBuilder::with_band_limit(grid, &[13, 27, 40], 0.0, plan.band_limit_per_nm());
        g.bench_function(
            BenchmarkId::new(format!("{kind:?}").to_lowercase(), format!("{t}nm")),
            |b| b.iter(|| builder.build(&atoms, &slicing, m.field_kind())),
        );
    }
    g.finish();
    let mut g = c.benchmark_group("scan_blur");
    g.sample_size(10);
    let ([ny, nx], ndet) = ([128, 128], 128 * 128);
    let mut cube: Vec<f64> = (0..ny * nx * ndet)
        .map(|i| (i % 9973) as f64 * 1e-4)
        .collect();
    let blur = ScanBlur {
        source_rms_nm: 0.5 / mro_sim::coherence::FWHM_PER_RMS,
        step_nm: 0.32,
    };
    g.bench_function("paper", |b| {
        b.iter(|| blur.apply(&mut cube, [ny, nx], ndet))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
