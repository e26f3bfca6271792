//! `mro analyze DATACUBE.npy`: the Im et al. (2018) measurement on a datacube, streamed from disk.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use mro_analysis::mask::read_mask;
use mro_analysis::{analyze_npy, AnalysisConfig, AnalysisError, AnalysisOutput, RunOptions};
use mro_core::npy::{write_f32, NpyReader};
use mro_core::{Calibration, Meta, NpyError};

use crate::exit::bad_input;
use crate::figures::{self, CurveOverlay, MapOverlay};
use crate::output::{OutputDir, Rerun};

/// Arguments of `mro analyze`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The datacube: float32 (or integer) .npy, [scan_y, scan_x, det_y, det_x].
    datacube: PathBuf,
    /// Calibration (schema mro.meta/1); default: meta.json beside the datacube, if present.
    #[arg(long)]
    meta: Option<PathBuf>,
    /// TOML file with an [analysis] table (a scenario file works; other sections are ignored).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Detector-shaped .npy mask; non-zero marks a pixel to exclude (dead pixel, beam stop).
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Detector pixel size in nm⁻¹ (overrides the meta file).
    #[arg(long)]
    k_pixel_per_nm: Option<f64>,
    /// Scan step in nm (overrides the meta file).
    #[arg(long)]
    scan_step_nm: Option<f64>,
    /// Pattern centre as Y,X detector pixels (overrides the meta file).
    #[arg(long, value_delimiter = ',', num_args = 2)]
    center_px: Option<Vec<f64>>,
    /// Accelerating voltage in kV (overrides the meta file).
    #[arg(long)]
    voltage_kv: Option<f64>,
    /// Probe convergence semiangle in mrad (overrides the meta file).
    #[arg(long)]
    semiangle_mrad: Option<f64>,
    /// Sample thickness in nm, needed for volume fractions (overrides the meta file).
    #[arg(long)]
    thickness_nm: Option<f64>,
    /// Refine the pattern centre from the mean pattern's Friedel symmetry (one extra pass).
    #[arg(long)]
    refine_center: bool,
    /// Patterns read per chunk (memory use is about two chunks; small chunks stay in cache).
    #[arg(long, default_value_t = 32)]
    chunk_patterns: usize,
    /// Skip the PNG figures.
    #[arg(long)]
    no_figures: bool,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Replace existing outputs.
    #[arg(long)]
    force: bool,
}

/// Array outputs besides analysis.json.
const NPY_FILES: [&str; 6] = [
    "v2d.npy",
    "v2d_raw.npy",
    "mean_intensity.npy",
    "power_maps.npy",
    "normalized_sum.npy",
    "region_labels.npy",
];

/// Runs the analysis and writes analysis.json, the maps and the figures.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut files = vec!["analysis.json"];
    files.extend(NPY_FILES);
    if !args.no_figures {
        files.extend(figures::FIGURE_FILES);
    }
    let output = OutputDir::begin(
        &args.out,
        "analyze",
        &files,
        args.force,
        Rerun::CompletesOnly,
    )?;

    let reader = NpyReader::open(&args.datacube).map_err(bad_input)?;
    reader
        .require_rank(4, " [scan_y, scan_x, det_y, det_x]")
        .map_err(bad_input)?;
    let shape = reader.shape().to_vec();
    drop(reader);
    let calibration = calibration(args, [shape[2], shape[3]])?;
    let mut config = read_config(args.config.as_deref())?;
    if args.refine_center {
        config.refine_center = true;
    }
    config
        .validate()
        .map_err(|e| bad_input(format!("{}: analysis.{e}", config_name(args))))?;
    let mask = match &args.mask {
        Some(p) => Some(read_mask(p, [shape[2], shape[3]]).map_err(bad_input)?),
        None => None,
    };

    let n = (shape[0] * shape[1]) as u64;
    let bar = crate::progress::bar(n, "analyze");
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let opts = RunOptions {
        chunk_patterns: args.chunk_patterns.max(1),
        excluded: mask.as_deref(),
        progress: Some(&progress),
    };
    let out = analyze_npy(&args.datacube, &calibration, &config, &opts).map_err(|e| match e {
        AnalysisError::Npy(NpyError::Io { .. }) => anyhow::Error::new(e),
        e => bad_input(format!("{}: {e}", args.datacube.display())),
    })?;
    bar.finish_and_clear();

    write_outputs(output.staging(), &out)?;
    if !args.no_figures {
        figures::write_all(
            output.staging(),
            &out.result,
            &out.maps,
            &MapOverlay::default(),
            &CurveOverlay::default(),
        )?;
    }
    output.commit()?;
    summary(&out);
    Ok(ExitCode::SUCCESS)
}

fn config_name(args: &Args) -> String {
    args.config
        .as_ref()
        .map_or("--config".into(), |p| p.display().to_string())
}

/// Reads the `[analysis]` table of a TOML file (defaults when no file is given).
fn read_config(path: Option<&Path>) -> anyhow::Result<AnalysisConfig> {
    let Some(path) = path else {
        return Ok(AnalysisConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("{}: cannot read: {e}", path.display())))?;
    let value: toml::Table = toml::from_str(&text)
        .map_err(|e| bad_input(format!("{}: not valid TOML: {e}", path.display())))?;
    let Some(section) = value.get("analysis") else {
        return Err(bad_input(format!(
            "{}: no [analysis] table: expected a file with an [analysis] section",
            path.display()
        )));
    };
    section
        .clone()
        .try_into::<AnalysisConfig>()
        .map_err(|e| bad_input(format!("{}: [analysis]: {e}", path.display())))
}

/// The calibration from --meta (or meta.json beside the datacube) with flags overriding it.
fn calibration(args: &Args, det: [usize; 2]) -> anyhow::Result<Calibration> {
    let meta_path = args.meta.clone().or_else(|| {
        args.datacube
            .parent()
            .map(|d| d.join("meta.json"))
            .filter(|p| p.exists())
    });
    let base = match &meta_path {
        Some(p) => Some(Meta::read(p).map_err(bad_input)?.calibration),
        None => None,
    };
    let need = |flag: &str, from_flag: Option<f64>, from_meta: Option<f64>| {
        from_flag.or(from_meta).ok_or_else(|| {
            bad_input(format!(
                "{}: no calibration value for {flag}: give --meta META.json or --{flag}",
                args.datacube.display()
            ))
        })
    };
    let center = match (&args.center_px, &base) {
        (Some(c), _) => [c[0], c[1]],
        (None, Some(b)) => b.center_px(),
        (None, None) => {
            return Err(bad_input(format!(
            "{}: no pattern centre: give --meta META.json or --center-px Y,X (detector {} × {})",
            args.datacube.display(),
            det[0],
            det[1]
        )))
        }
    };
    let cal = Calibration::new(
        need(
            "k-pixel-per-nm",
            args.k_pixel_per_nm,
            base.map(|b| b.k_pixel_per_nm()),
        )?,
        need(
            "scan-step-nm",
            args.scan_step_nm,
            base.map(|b| b.scan_step_nm()),
        )?,
        center,
        need("voltage-kv", args.voltage_kv, base.map(|b| b.voltage_kv()))?,
        need(
            "semiangle-mrad",
            args.semiangle_mrad,
            base.map(|b| b.semiangle_mrad()),
        )?,
        args.thickness_nm.or(base.and_then(|b| b.thickness_nm())),
    )
    .map_err(|e| bad_input(format!("calibration {e}")))?;
    Ok(cal)
}

fn write_outputs(dir: &Path, out: &AnalysisOutput) -> anyhow::Result<()> {
    let json = dir.join("analysis.json");
    std::fs::write(&json, out.result.to_json() + "\n")
        .with_context(|| format!("cannot write {}", json.display()))?;
    let m = &out.maps;
    let (ny, nx) = m.v2d.dim();
    let f32s = |a: &ndarray::Array2<f64>| a.iter().map(|&v| v as f32).collect::<Vec<f32>>();
    write_f32(&dir.join(NPY_FILES[0]), &[ny, nx], &f32s(&m.v2d))?;
    write_f32(&dir.join(NPY_FILES[1]), &[ny, nx], &f32s(&m.v2d_raw))?;
    write_f32(&dir.join(NPY_FILES[2]), &[ny, nx], &f32s(&m.mean_intensity))?;
    let power: Vec<f32> = m.power.iter().flat_map(f32s).collect();
    write_f32(&dir.join(NPY_FILES[3]), &[m.power.len(), ny, nx], &power)?;
    write_f32(&dir.join(NPY_FILES[4]), &[ny, nx], &f32s(&m.normalized_sum))?;
    let labels: Vec<f32> = m
        .labels
        .iter()
        .chain(std::iter::once(&m.integrated_labels))
        .flat_map(|l| l.iter().map(|&v| v as f32))
        .collect();
    write_f32(
        &dir.join(NPY_FILES[5]),
        &[m.labels.len() + 1, ny, nx],
        &labels,
    )?;
    Ok(())
}

fn summary(out: &AnalysisOutput) {
    let r = &out.result;
    let fmt = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.4}"));
    outln!(
        "V(k) peak at {} nm⁻¹; V_Ω = {:.4e}, V_r = {:.4e} at k = {} nm⁻¹",
        fmt(r.variance.peak_k_per_nm),
        r.variance.v_omega_at_ring,
        r.variance.v_r_at_ring,
        r.ring.k_per_nm
    );
    outln!(
        "odd/even power ratio {:.4} (shot noise removed: {:.4})",
        r.power_spectrum.odd_even_ratio,
        r.power_spectrum.odd_even_ratio_corrected
    );
    for n in &r.summed_symmetries {
        let s = &r.by_symmetry[&n.to_string()];
        outln!(
            "n = {n:>2}: {:>4} regions, D = {} nm, volume fraction {}, spacing {} nm",
            s.regions,
            fmt(s.mean_diameter_nm),
            fmt(s.volume_fraction),
            fmt(s.autocorrelation_peak_nm)
        );
    }
    outln!(
        "total volume fraction {}, integrated map {}",
        fmt(r.total_volume_fraction),
        fmt(r.integrated_map_volume_fraction)
    );
}
