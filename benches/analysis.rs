//! Criterion benches of the Im et al. analysis on fixed-seed synthetic data: the whole in-memory
//! pipeline (64 × 64 scan of 128 × 128 patterns, 256 MiB), the screening sweep over the same
//! data, one polar transform, one pattern's
//! ring statistics and spectra. Full-size (1 GiB) timings of `mro analyze` are in
//! `reports/analysis-performance.md`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mro_analysis::accumulator::FrameContext;
use mro_analysis::polar::{PolarGeometry, PolarPlan, Ring};
use mro_analysis::screen::{screen_values, ScreenSettings};
use mro_analysis::{analyze_datacube, AnalysisConfig, RunOptions};
use mro_core::{Calibration, Datacube};
use ndarray::Array4;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DET: usize = 128;

fn synthetic(scan: usize, seed: u64) -> Datacube {
    let mut rng = StdRng::seed_from_u64(seed);
    let (cy, cx, dk) = (63.7, 64.2, 0.16);
    let mut base = vec![0f32; DET * DET];
    for i in 0..DET {
        for j in 0..DET {
            let k = ((i as f64 - cy).hypot(j as f64 - cx)) * dk;
            base[i * DET + j] = (1000.0 * (-k / 1.5).exp()
                + 400.0 * (-(k - 4.0).powi(2) / 0.5).exp()
                + 40.0) as f32;
        }
    }
    let mut data = Vec::with_capacity(scan * scan * DET * DET);
    for _ in 0..scan * scan {
        data.extend(base.iter().map(|&b| b * rng.gen_range(0.8f32..1.2)));
    }
    let cal = Calibration::new(dk, 0.32, [cy, cx], 300.0, 1.15, Some(20.0)).unwrap();
    Datacube::new(
        Array4::from_shape_vec((scan, scan, DET, DET), data).unwrap(),
        cal,
    )
}

fn bench(c: &mut Criterion) {
    let cube = synthetic(64, 2018);
    let config = AnalysisConfig::default();
    let mut g = c.benchmark_group("analysis");
    g.sample_size(10);
    g.throughput(Throughput::Bytes((cube.data().len() * 4) as u64));
    g.bench_function("whole_64x64x128x128", |b| {
        b.iter(|| analyze_datacube(&cube, &config, &RunOptions::default()).unwrap())
    });
    // `mro analyze` screens the chunks it reads as well (hot/dead pixels, dark frames,
    // non-finite values); this is that sweep alone, over the same data.
    let values = cube.data().as_slice().expect("standard layout");
    let (scan, det) = (cube.scan_shape(), cube.detector_shape());
    g.bench_function("screen_64x64x128x128", |b| {
        b.iter(|| screen_values(values, scan, det, None, &ScreenSettings::default()).unwrap())
    });
    g.finish();

    let rings: Vec<Ring> = (0..37)
        .map(|i| Ring {
            k_lo_per_nm: 2.0 + 0.16 * i as f64,
            k_hi_per_nm: 2.16 + 0.16 * i as f64,
        })
        .chain(std::iter::once(Ring {
            k_lo_per_nm: 3.84,
            k_hi_per_nm: 4.16,
        }))
        .collect();
    let geometry = PolarGeometry {
        detector_shape: [DET, DET],
        center_px: [63.7, 64.2],
        k_pixel_per_nm: 0.16,
        rings,
        n_azimuth: 36,
        supersample: 4,
    };
    let plan = PolarPlan::new(geometry, None).unwrap();
    let pattern = &cube.data().as_slice().unwrap()[..DET * DET];
    let mut out = vec![0f32; plan.n_rings() * plan.n_azimuth()];
    c.bench_function("polar_apply_one_pattern", |b| {
        b.iter(|| plan.apply(pattern, &mut out))
    });
    let ctx = FrameContext::new(plan, None, 10, 1.0, &[1.0]);
    let mut s = ctx.scratch();
    c.bench_function("frame_one_pattern", |b| {
        b.iter(|| ctx.process_chunk(0, pattern, &mut s))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
