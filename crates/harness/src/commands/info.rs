//! `mro info FILE.npy`: what a datacube holds.

use std::path::PathBuf;
use std::process::ExitCode;

use mro_core::npy::NpyReader;
use mro_core::Meta;

use crate::exit::bad_input;

/// Values read per chunk while scanning the file for statistics.
const CHUNK_VALUES: usize = 1 << 22;

/// Arguments of `mro info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .npy file; a meta.json beside it (or given with --meta) supplies the calibration.
    file: PathBuf,
    /// Calibration file (schema mro.meta/1); default: meta.json in the same directory.
    #[arg(long)]
    meta: Option<PathBuf>,
}

/// Prints shape, dtype, calibration and min/mean/max, reading the file in chunks.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut reader = NpyReader::open(&args.file).map_err(bad_input)?;
    let header = reader.header().clone();
    outln!("file:   {}", args.file.display());
    outln!("shape:  {:?}", header.shape);
    outln!(
        "dtype:  {}{}",
        header.dtype.name(),
        if header.big_endian {
            " (big-endian)"
        } else {
            ""
        }
    );
    if header.shape.len() == 4 {
        let s = &header.shape;
        outln!(
            "layout: {} × {} scan points, {} × {} detector pixels",
            s[0],
            s[1],
            s[2],
            s[3]
        );
    } else {
        outln!("layout: not a datacube (expected 4 dimensions [scan_y, scan_x, det_y, det_x])");
    }

    let meta_path = args.meta.clone().or_else(|| {
        args.file
            .parent()
            .map(|d| d.join("meta.json"))
            .filter(|p| p.exists())
    });
    match meta_path {
        Some(p) => {
            let meta = Meta::read(&p).map_err(bad_input)?;
            let c = meta.calibration;
            outln!("calibration ({}):", p.display());
            outln!("  k pixel      {} nm⁻¹", c.k_pixel_per_nm());
            outln!("  scan step    {} nm", c.scan_step_nm());
            outln!(
                "  centre       [{}, {}] px (y, x)",
                c.center_px()[0],
                c.center_px()[1]
            );
            outln!("  voltage      {} kV", c.voltage_kv());
            outln!("  semiangle    {} mrad", c.semiangle_mrad());
            match c.thickness_nm() {
                Some(t) => outln!("  thickness    {t} nm"),
                None => outln!("  thickness    unknown"),
            }
            if let Some(p) = &meta.provenance {
                outln!("provenance: {p}");
            }
        }
        None => outln!("calibration: none (no meta.json beside the file)"),
    }

    let n = header.len();
    let (mut min, mut max, mut sum, mut non_finite) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    let mut buf = vec![0f32; CHUNK_VALUES.min(n)];
    let mut start = 0;
    while start < n {
        let len = CHUNK_VALUES.min(n - start);
        reader.read_f32_at(start, &mut buf[..len])?;
        for &v in &buf[..len] {
            if v.is_finite() {
                let v = f64::from(v);
                min = min.min(v);
                max = max.max(v);
                sum += v;
            } else {
                non_finite += 1;
            }
        }
        start += len;
    }
    if n > non_finite {
        outln!(
            "values: min {min:.6e}  mean {:.6e}  max {max:.6e}",
            sum / (n - non_finite) as f64
        );
    } else {
        outln!("values: none finite");
    }
    if non_finite > 0 {
        outln!("warning: {non_finite} values are NaN or infinite");
    }
    Ok(ExitCode::SUCCESS)
}
