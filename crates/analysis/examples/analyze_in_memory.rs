//! Times the in-memory path: `cargo run --release -p mro-analysis --example analyze_in_memory --
//! DATACUBE.npy META.json`. Loads the datacube into RAM, then runs `analyze_datacube` and prints
//! the load and analysis times (used for `reports/analysis-performance.md`).

use std::path::PathBuf;
use std::time::Instant;

use mro_analysis::{analyze_datacube, AnalysisConfig, RunOptions};
use mro_core::npy::read_datacube;
use mro_core::Meta;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cube_path = PathBuf::from(args.next().ok_or("usage: DATACUBE.npy META.json")?);
    let meta = Meta::read(&PathBuf::from(
        args.next().ok_or("usage: DATACUBE.npy META.json")?,
    ))?;
    let t = Instant::now();
    let cube = read_datacube(&cube_path, meta.calibration)?;
    println!("load     {:.3} s", t.elapsed().as_secs_f64());
    for _ in 0..3 {
        let t = Instant::now();
        let out = analyze_datacube(&cube, &AnalysisConfig::default(), &RunOptions::default())?;
        println!(
            "analyse  {:.3} s (V(k) peak {:?} nm⁻¹)",
            t.elapsed().as_secs_f64(),
            out.result.variance.peak_k_per_nm
        );
    }
    Ok(())
}
