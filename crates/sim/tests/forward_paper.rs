//! Paper-size timing run (ignored by default; it takes minutes).
//!
//! ```text
//! MRO_PAPER_MODEL=multislice MRO_PAPER_ROWS=128 MRO_PAPER_THICKNESS_NM=20 \
//!   cargo test --release -p mro-sim --test forward_paper -- --ignored --nocapture
//! ```
//!
//! Simulates the Im et al. job (128 × 128 positions at 0.32 nm over a 40.96 × 40.96 nm random
//! Zr₅₅Co₂₅Al₂₀ volume at 54 nm⁻³, 128 × 128 detector at 0.16 nm⁻¹, 10⁶ electrons per pattern)
//! and streams it into a `.npy` file in the temporary directory (deleted afterwards).
//! `MRO_PAPER_ROWS` limits the scan rows (for linearity checks).

use std::time::Instant;

use mro_core::{npy::NpyWriter, Seeds};
use mro_sim::spec::{DetectorSpec, MicroscopeSpec, ModelKind, ModelSpec, ScanSpec};
use mro_sim::{simulate, AtomVolume, ForwardOptions};

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "paper-size timing run; minutes"]
fn paper_job_timing() {
    let kind = match std::env::var("MRO_PAPER_MODEL").as_deref() {
        Ok("born") => ModelKind::Born,
        Ok("multislice") => ModelKind::Multislice,
        _ => ModelKind::Kinematic,
    };
    let rows: usize = env_or("MRO_PAPER_ROWS", 128);
    let thickness: f64 = env_or("MRO_PAPER_THICKNESS_NM", 20.0);
    let t0 = Instant::now();
    let lateral = 40.96;
    let atoms = AtomVolume::uniform_random(
        [lateral, lateral, thickness],
        &[(40, 0.55), (27, 0.25), (13, 0.20)],
        54.0,
        &mut Seeds::new(2018).stream("paper-volume"),
    );
    let t_atoms = t0.elapsed().as_secs_f64();
    let scan = ScanSpec {
        points: [rows, 128],
        step_nm: 0.32,
    };
    let detector = DetectorSpec::default();
    let path = std::env::temp_dir().join(format!("mro-paper-{}.npy", std::process::id()));
    let mut writer = NpyWriter::create(&path, &[rows, 128, 128, 128]).unwrap();
    let t1 = Instant::now();
    let mut last = 0;
    simulate(
        &atoms,
        &MicroscopeSpec::default(),
        &scan,
        &detector,
        &ModelSpec {
            kind,
            slice_nm: 0.2,
            ..ModelSpec::default()
        },
        Seeds::new(2018),
        &ForwardOptions::default(),
        |_, values| writer.write(values).map_err(Into::into),
        |p| {
            let pct = 10 * p.done_positions / p.total_positions;
            if pct > last {
                last = pct;
                eprintln!(
                    "  {:>3} % after {:.1} s",
                    10 * pct,
                    t1.elapsed().as_secs_f64()
                );
            }
        },
    )
    .unwrap();
    writer.finish().unwrap();
    let t_sim = t1.elapsed().as_secs_f64();
    std::fs::remove_file(&path).ok();
    eprintln!(
        "PAPER model={kind:?} rows={rows} thickness={thickness} nm atoms={} \
         positions={} threads={} build_atoms={t_atoms:.1} s simulate={t_sim:.1} s per_position={:.3} ms",
        atoms.len(),
        rows * 128,
        rayon::current_num_threads(),
        1e3 * t_sim / (rows * 128) as f64
    );
}
