//! `mro info FILE`: what a datacube (`.npy`, 3-D stack, EMPAD, HDF5) or a mask holds.

use std::path::PathBuf;
use std::process::ExitCode;

use mro_core::npy::NpyReader;
use mro_core::{Format, FrameSource, Meta};

use crate::exit::bad_input;

/// Values read per chunk while scanning the file for statistics.
const CHUNK_VALUES: usize = 1 << 22;

/// Arguments of `mro info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .npy file (datacube, 3-D stack or mask), EMPAD .raw/.xml or HDF5 FILE.h5[:/dataset]; a meta.json beside it (or
    /// given with --meta) supplies the calibration.
    file: PathBuf,
    /// File format when the extension does not say: npy, empad or hdf5.
    #[arg(long)]
    format: Option<Format>,
    /// Scan shape as Y,X for a 3-D stack or an EMPAD file without its XML.
    #[arg(long, value_parser = super::analyze::parse_pair::<usize>)]
    scan_shape: Option<[usize; 2]>,
    /// Calibration file (schema mro.meta/1); default: meta.json in the same directory.
    #[arg(long)]
    meta: Option<PathBuf>,
}

/// What is read for the statistics: frames of a datacube, or the values of any other array.
enum Values {
    Frames(FrameSource),
    Array(NpyReader),
}

/// Prints shape, dtype, calibration and min/mean/max, reading the file in chunks.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let format = args.format.or_else(|| Format::from_extension(&args.file));
    // A .npy that is not a datacube (a mask, a 3-D stack without a scan shape) is still
    // described as an array.
    let npy_array = if format == Some(Format::Npy) {
        let r = NpyReader::open(&args.file).map_err(bad_input)?;
        let rank = r.shape().len();
        (rank != 4 && !(rank == 3 && args.scan_shape.is_some())).then_some(r)
    } else {
        None
    };
    let mut values = match npy_array {
        Some(r) => Values::Array(r),
        None => Values::Frames(
            FrameSource::open(&args.file, args.format, args.scan_shape).map_err(bad_input)?,
        ),
    };
    outln!("file:   {}", args.file.display());
    match &values {
        Values::Array(r) => {
            let h = r.header();
            outln!("format: npy");
            outln!("shape:  {:?}", h.shape);
            outln!(
                "dtype:  {}{}",
                h.dtype.name(),
                if h.big_endian { " (big-endian)" } else { "" }
            );
            match h.shape.as_slice() {
                [dy, dx] => outln!(
                    "layout: 2-D array, usable as a {dy} × {dx} detector mask (--mask; true / non-zero = excluded)"
                ),
                [n, dy, dx] => outln!(
                    "layout: 3-D stack of {n} frames of {dy} × {dx} pixels: give --scan-shape Y,X (Y·X = {n}) to read it as a datacube"
                ),
                _ => outln!(
                    "layout: not a datacube (expected 4 dimensions [scan_y, scan_x, det_y, det_x] or a 3-D stack with --scan-shape)"
                ),
            }
        }
        Values::Frames(f) => {
            let [sy, sx] = f.scan_shape();
            let [dy, dx] = f.detector_shape();
            outln!("format: {}", f.format().name());
            if f.path() != args.file {
                outln!("data:   {}", f.path().display());
            }
            outln!("shape:  [{sy}, {sx}, {dy}, {dx}]");
            outln!("dtype:  {}", f.dtype());
            outln!(
                "layout: {sy} × {sx} scan points, {dy} × {dx} detector pixels (scan shape from {})",
                f.scan_shape_from()
            );
        }
    }

    let meta_path = args.meta.clone().or_else(|| {
        match &values {
            Values::Frames(f) => f.path(),
            Values::Array(r) => r.path(),
        }
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

    let (mut min, mut max, mut sum, mut non_finite, mut n) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize, 0usize);
    let mut tally = |chunk: &[f32]| {
        for &v in chunk {
            if v.is_finite() {
                let v = f64::from(v);
                min = min.min(v);
                max = max.max(v);
                sum += v;
            } else {
                non_finite += 1;
            }
        }
        n += chunk.len();
    };
    match &mut values {
        Values::Array(r) => {
            let total = r.header().len();
            let mut buf = vec![0f32; CHUNK_VALUES.min(total)];
            let mut start = 0;
            while start < total {
                let len = CHUNK_VALUES.min(total - start);
                r.read_f32_at(start, &mut buf[..len]).map_err(bad_input)?;
                tally(&buf[..len]);
                start += len;
            }
        }
        Values::Frames(f) => {
            let plen = f.frame_len().max(1);
            let per = (CHUNK_VALUES / plen).max(1);
            let frames = f.n_frames();
            let mut buf = vec![0f32; per.min(frames) * plen];
            let mut start = 0;
            while start < frames {
                let len = per.min(frames - start);
                f.read_frames(start, &mut buf[..len * plen])
                    .map_err(bad_input)?;
                tally(&buf[..len * plen]);
                start += len;
            }
        }
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
