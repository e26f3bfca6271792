//! `mro analyze DATACUBE`: the Im et al. (2018) measurement on a datacube (`.npy`, 3-D `.npy`
//! stack with `--scan-shape`, EMPAD `.raw`/`.xml`), screened and streamed from disk.
//!
//! Every error about a value names the file and key (or flag) the user wrote: [`Origins`] is the
//! one place that maps an internal field (`center_px`, `analysis.k_per_nm`, the ring) to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use mro_analysis::mask::read_mask;
use mro_analysis::screen::ScreenSettings;
use mro_analysis::{
    analyze_source_screened, AnalysisConfig, AnalysisError, AnalysisOutput, RunOptions, Screened,
};
use mro_core::meta::RunProvenance;
use mro_core::npy::write_f32;
use mro_core::{Calibration, Format, FrameSource, Meta, NpyError, SourceError};

use crate::exit::bad_input;
use crate::figures::{self, CurveOverlay, MapOverlay};
use crate::output::{OutputDir, Rerun};
use crate::scenario::Scenario;
use mro_sim::spec::DetectorSpec;

/// Arguments of `mro analyze`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The datacube: .npy [scan_y, scan_x, det_y, det_x] (any numeric dtype), a 3-D .npy stack
    /// [N, det_y, det_x] with --scan-shape, EMPAD .raw (or its .xml), or HDF5 FILE.h5[:/dataset].
    datacube: PathBuf,
    /// File format when the extension does not say: npy, empad or hdf5.
    #[arg(long)]
    format: Option<Format>,
    /// Scan shape as Y,X, for formats that do not record it (3-D stacks, EMPAD without XML).
    #[arg(long, value_parser = parse_pair::<usize>)]
    scan_shape: Option<[usize; 2]>,
    /// Calibration (schema mro.meta/1); default: meta.json beside the datacube, if present.
    /// An mro simulation's meta.json also gives its detector's shot noise (see --config).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Analysis settings: a TOML file with an [analysis] table, or a whole scenario file
    /// (schema mro.scenario/1, checked as `mro check` does; its [analysis] table is used).
    /// Default: the built-in settings. For an mro simulation, `poisson_gain` and
    /// `detector_psf_sigma_px` come from its meta.json unless this file names them (a scenario
    /// file gives both, from its [detector]); a given one that differs is warned about, and a
    /// meta.json detector that cannot be read is refused unless this file gives both. The
    /// settings used are printed.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Detector-shaped .npy mask (bool or numeric); true / non-zero marks a pixel to exclude.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Detector pixel size in nm⁻¹ (overrides the meta file).
    #[arg(long, allow_negative_numbers = true)]
    k_pixel_per_nm: Option<f64>,
    /// Scan step in nm (overrides the meta file).
    #[arg(long, allow_negative_numbers = true)]
    scan_step_nm: Option<f64>,
    /// Pattern centre as Y,X detector pixels (overrides the meta file).
    #[arg(long, value_parser = parse_pair::<f64>, allow_hyphen_values = true)]
    center_px: Option<[f64; 2]>,
    /// Accelerating voltage in kV (overrides the meta file).
    #[arg(long, allow_negative_numbers = true)]
    voltage_kv: Option<f64>,
    /// Probe convergence semiangle in mrad (overrides the meta file).
    #[arg(long, allow_negative_numbers = true)]
    semiangle_mrad: Option<f64>,
    /// Sample thickness in nm, needed for volume fractions (overrides the meta file).
    #[arg(long, allow_negative_numbers = true)]
    thickness_nm: Option<f64>,
    /// Refine the pattern centre from the mean pattern's Friedel symmetry (one extra pass).
    #[arg(long)]
    refine_center: bool,
    /// Patterns read per chunk (memory use is about two chunks; small chunks stay in cache).
    #[arg(long, default_value_t = 32, value_parser = super::count_at_least_one)]
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
const NPY_FILES: [&str; 8] = [
    "v2d.npy",
    "v2d_raw.npy",
    "mean_intensity.npy",
    "power_maps.npy",
    "normalized_sum.npy",
    "region_labels.npy",
    "mro_power_maps.npy",
    "mro_region_labels.npy",
];

/// `Y,X` (also `Y X` or `[Y, X]`): two values.
pub(crate) fn parse_pair<T: std::str::FromStr>(s: &str) -> Result<[T; 2], String> {
    let parts: Vec<&str> = s
        .trim_matches(|c| c == '[' || c == ']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        [y, x] => match (y.parse(), x.parse()) {
            (Ok(y), Ok(x)) => Ok([y, x]),
            _ => Err(format!("'{s}': expected two numbers Y,X")),
        },
        _ => Err(format!("'{s}': expected two values Y,X")),
    }
}

/// Runs the analysis and writes analysis.json, screening.json, the maps and the figures.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut files = vec!["analysis.json", SCREENING_FILE];
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

    let source =
        FrameSource::open(&args.datacube, args.format, args.scan_shape).map_err(bad_input)?;
    let scan = source.scan_shape();
    let det = source.detector_shape();
    let (calibration, origins) = calibration(args, source.path(), det)?;
    let (mut config, set_by_user) = read_config(args.config.as_deref())?;
    if args.refine_center {
        config.refine_center = true;
    }
    // Checked before anything is printed or taken: settings that are refused were never used.
    config.validate().map_err(|e| {
        bad_input(format!(
            "{}: field `analysis.{}` = {}: expected {}",
            origins.config_name(),
            e.field,
            e.value,
            e.expected
        ))
    })?;
    let shot_noise_taken = match &origins.resolved_scenario {
        Some(resolved) => simulated_shot_noise(&mut config, set_by_user, resolved, &origins)?,
        None => false,
    };
    outln!(
        "analysis settings ({}): {}",
        args.config.as_ref().map_or(
            if shot_noise_taken {
                "built in, but the shot noise above; no --config".into()
            } else {
                "built in; no --config".into()
            },
            |p| if shot_noise_taken {
                format!("from {}, and the shot noise above", p.display())
            } else {
                format!("from {}", p.display())
            }
        ),
        serde_json::to_string(&config).expect("the settings serialise")
    );
    if scan[0] * scan[1] < 2 {
        return Err(bad_input(format!(
            "{}: scan {} × {}: expected at least 2 scan points (V_r and the maps are variances and regions across scan positions)",
            source.path().display(),
            scan[0],
            scan[1]
        )));
    }
    let mask = match &args.mask {
        Some(p) => {
            let m = read_mask(p, det).map_err(bad_input)?;
            if m.iter().all(|&b| b) {
                return Err(bad_input(format!(
                    "{}: excludes all {} detector pixels: expected a mask that leaves the analysis ring visible",
                    p.display(),
                    m.len()
                )));
            }
            Some(m)
        }
        None => None,
    };

    if let Some(m) = &mask {
        let hidden = ring_fraction_masked(m, det, &calibration, &config);
        if hidden > 0.25 {
            eprintln!(
                "mro: warning: {}: the mask hides {:.0} % of the analysis ring at k = {} nm⁻¹: P_n, the odd/even ratio and V_r come from the rest of the ring, and a gap that large biases them (a half-ring turns even symmetry into odd)",
                args.mask.as_ref().expect("a mask came from --mask").display(),
                100.0 * hidden,
                config.k_per_nm
            );
        }
    }
    let chunk = args.chunk_patterns;
    let n = (scan[0] * scan[1]) as u64;
    let bar = crate::progress::bar(n, "analyze");
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let opts = RunOptions {
        chunk_patterns: chunk,
        excluded: mask.as_deref(),
        progress: Some(&progress),
    };
    let path = source.path().to_path_buf();
    let screened = analyze_source_screened(
        source,
        &calibration,
        &config,
        &opts,
        &ScreenSettings::default(),
    )
    .map_err(|e| origins.explain(e))?;
    bar.finish_and_clear();
    let (report, out) = match screened {
        Screened::Refused(report) => {
            let reason = report.refusal().expect("a refused report says why");
            return Err(bad_input(format!("{}: {reason}", path.display())));
        }
        Screened::Measured(report, out) => (report, out),
        Screened::Unmeasurable(report, e) => {
            let origins = Origins {
                screened_pixels: report.hot_pixels.len() + report.dead_pixels.len(),
                ..origins
            };
            return Err(origins.explain(e));
        }
    };
    for w in report.warnings() {
        eprintln!("mro: warning: {}: {w}", path.display());
    }
    // Patterns with no counts on the analysis ring: a few (a blank edge) are said; most mean
    // the calibration does not fit the data (another detector's centre or pixel size).
    let empty = out
        .result
        .mro
        .as_ref()
        .and_then(|m| m.by_symmetry.values().next())
        .map_or(0, |s| s.undefined_patterns);
    let patterns = scan[0] * scan[1];
    if empty > 0 {
        let what = format!(
            "{empty} of {patterns} patterns hold no counts on the analysis ring at k = {} nm⁻¹ ({}; {} nm⁻¹ per pixel from {})",
            out.result.ring.k_per_nm,
            origins.center_text(),
            calibration.k_pixel_per_nm(),
            origins.calibration_key("k_pixel_per_nm", args.k_pixel_per_nm.is_some())
        );
        if 2 * empty > patterns {
            return Err(bad_input(format!(
                "{}: {what}: expected counts on the ring in most patterns; is the calibration for this detector?",
                path.display()
            )));
        }
        eprintln!(
            "mro: warning: {}: {what}; P_n is undefined there (null in the mro maps) and they are left out of the mean spectrum",
            path.display()
        );
    }
    let c = &out.result.center;
    let moved = (c.used_px[0] - c.calibration_px[0]).hypot(c.used_px[1] - c.calibration_px[1]);
    if c.refined && moved > REFINED_SHIFT_WARN_PX {
        eprintln!(
            "mro: warning: {}: the refined centre [{:.2}, {:.2}] is {moved:.1} px from the starting one ({}): a start far from the true centre can converge on a wrong one; check it in mean_intensity.npy",
            path.display(),
            c.used_px[0],
            c.used_px[1],
            origins.center_text()
        );
    }
    let screening = output.staging().join(SCREENING_FILE);
    std::fs::write(
        &screening,
        serde_json::to_string_pretty(&report).expect("report serialises") + "\n",
    )
    .with_context(|| format!("cannot write {}", screening.display()))?;

    let mut out = out;
    out.result.provenance = origins.provenance.clone();
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
    if args.no_figures {
        // Figures of an earlier run here would sit beside results they do not show.
        for f in figures::FIGURE_FILES {
            let stale = args.out.join(f);
            if stale.is_file() {
                std::fs::remove_file(&stale).with_context(|| {
                    format!("cannot remove the stale figure {}", stale.display())
                })?;
            }
        }
    }
    summary(&out);
    Ok(ExitCode::SUCCESS)
}

/// A refined centre farther than this from its start (pixels) is worth a look: from starts
/// 5–8 px off on a 32-px detector the Friedel refinement was seen to converge on wrong centres.
const REFINED_SHIFT_WARN_PX: f64 = 1.5;

/// The share of the analysis ring's pixels (centres within the ring, at the calibration's centre
/// and pixel size) that `mask` hides.
fn ring_fraction_masked(
    mask: &[bool],
    det: [usize; 2],
    calibration: &Calibration,
    config: &AnalysisConfig,
) -> f64 {
    let [cy, cx] = calibration.center_px();
    let dk = calibration.k_pixel_per_nm();
    let (lo, hi) = (
        config.k_per_nm - 0.5 * config.ring_width_per_nm,
        config.k_per_nm + 0.5 * config.ring_width_per_nm,
    );
    let (mut on, mut hidden) = (0usize, 0usize);
    for y in 0..det[0] {
        for x in 0..det[1] {
            let k = (y as f64 - cy).hypot(x as f64 - cx) * dk;
            if (lo..hi).contains(&k) {
                on += 1;
                hidden += usize::from(mask[y * det[1] + x]);
            }
        }
    }
    if on == 0 {
        0.0
    } else {
        hidden as f64 / on as f64
    }
}

/// The screening report beside analysis.json.
const SCREENING_FILE: &str = "screening.json";

/// Where each user-set value came from, so that errors name the file and key the user wrote.
#[derive(Debug, Clone)]
struct Origins {
    datacube: PathBuf,
    meta: Option<PathBuf>,
    config: Option<PathBuf>,
    mask: Option<PathBuf>,
    center_from_flag: bool,
    center_px: [f64; 2],
    screened_pixels: usize,
    /// The run the datacube came from, from meta.json's `provenance` (simulations only).
    provenance: Option<RunProvenance>,
    /// meta.json's `provenance.resolved_scenario` (mro simulations only), whose detector the
    /// shot-noise settings are compared with ([`simulated_shot_noise`]).
    resolved_scenario: Option<serde_json::Value>,
}

impl Origins {
    /// The file (or flag) and key of calibration field `key`.
    fn calibration_key(&self, key: &str, from_flag: bool) -> String {
        match (&self.meta, from_flag) {
            (Some(m), false) => format!("{}: field `calibration.{key}`", m.display()),
            _ => format!("--{}", key.replace('_', "-")),
        }
    }
    fn center(&self) -> String {
        self.calibration_key("center_px", self.center_from_flag)
    }
    /// The centre and where it came from, for messages.
    fn center_text(&self) -> String {
        format!(
            "centre [{}, {}] from {}",
            self.center_px[0],
            self.center_px[1],
            self.center()
        )
    }
    fn config_name(&self) -> String {
        self.config
            .as_ref()
            .map_or("the default analysis settings (no --config)".into(), |p| {
                p.display().to_string()
            })
    }

    /// An analysis error rewritten in terms of what the user wrote.
    fn explain(&self, e: AnalysisError) -> anyhow::Error {
        let centre = self.center_text();
        match e {
            AnalysisError::Npy(NpyError::Io { .. })
            | AnalysisError::Source(SourceError::Io { .. }) => anyhow::Error::new(e),
            AnalysisError::Npy(_) | AnalysisError::Source(_) => bad_input(e),
            AnalysisError::Geometry {
                field,
                value,
                expected,
            } => {
                if let Some(key) = field.strip_prefix("analysis.") {
                    bad_input(format!(
                        "{}: field `analysis.{key}` = {value}: expected {expected} ({centre})",
                        self.config_name()
                    ))
                } else if field == "ring" {
                    let masks = match (&self.mask, self.screened_pixels) {
                        (Some(m), 0) => format!("the mask {}", m.display()),
                        (Some(m), n) => {
                            format!(
                                "the mask {} with {n} hot/dead pixels found by screening",
                                m.display()
                            )
                        }
                        (None, n) => format!("the {n} hot/dead pixels found by screening"),
                    };
                    bad_input(format!(
                        "{masks} hides every pixel of the ring at k = {value:.3} nm⁻¹ ({centre}): expected {expected}"
                    ))
                } else {
                    bad_input(format!(
                        "{}: {field} = {value}: expected {expected} ({centre}; turn off --refine-center or fix the centre)",
                        self.datacube.display()
                    ))
                }
            }
            e => bad_input(format!("{}: {e}", self.datacube.display())),
        }
    }
}

/// Which shot-noise settings the user's `--config` gives: a scenario file gives both (its own
/// detector's, [`Scenario::simulated_analysis`]), an `[analysis]` table those it names.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct ShotNoiseSet {
    poisson_gain: bool,
    detector_psf_sigma_px: bool,
    /// They come from a scenario's `[detector]`, not from `[analysis]` keys.
    by_scenario: bool,
}

/// The detector of the mro simulation a datacube came from (`meta.json`
/// `provenance.resolved_scenario.detector`), as the shot-noise correction needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SimulatedDetector {
    /// `detector.gain` counts per electron; 0 for noise-free patterns
    /// (`electrons_per_pattern = "inf"`: no shot noise to remove).
    poisson_gain: f64,
    /// `detector.psf_sigma_px`, the charge sharing that correlates the noise of neighbours.
    psf_sigma_px: f64,
}

impl SimulatedDetector {
    /// From a resolved scenario (meta.json's `provenance.resolved_scenario`; `mro simulate`
    /// writes every key). An error names the field when one is missing or holds what no
    /// scenario allows.
    fn from_json(resolved: &serde_json::Value) -> Result<Self, String> {
        let field = |key: &str, value: Option<&serde_json::Value>, expected: &str| {
            let value = value.map_or("missing".to_string(), |v| v.to_string());
            format!(
                "field `provenance.resolved_scenario{key}` = {value}: expected {expected}, of the \
                 simulated detector whose shot noise the analysis removes"
            )
        };
        if !resolved.is_object() {
            return Err(format!(
                "field `provenance.resolved_scenario` = {resolved}: expected a table, the \
                 simulation's scenario (with the detector whose shot noise the analysis removes)"
            ));
        }
        let detector = resolved.get("detector");
        let d = match detector {
            Some(d) if d.is_object() => d,
            _ => return Err(field(".detector", detector, "a table")),
        };
        // Present and of the right type here; in range by the scenario's own check.
        let number = |key: &str| {
            let v = d.get(key);
            v.and_then(serde_json::Value::as_f64)
                .ok_or_else(|| field(&format!(".detector.{key}"), v, "a number"))
        };
        let dose = d.get("electrons_per_pattern");
        let electrons_per_pattern = match dose {
            Some(v) if v.as_str() == Some("inf") => f64::INFINITY,
            _ => number("electrons_per_pattern")
                .map_err(|_| field(".detector.electrons_per_pattern", dose, "a dose or \"inf\""))?,
        };
        let spec = DetectorSpec {
            electrons_per_pattern,
            gain: number("gain")?,
            psf_sigma_px: number("psf_sigma_px")?,
            ..DetectorSpec::default()
        };
        spec.validate().map_err(|e| {
            let key = format!(".detector.{}", e.field);
            field(&key, d.get(&e.field), &e.expected)
        })?;
        Ok(Self {
            poisson_gain: spec.shot_noise_gain(),
            psf_sigma_px: spec.psf_sigma_px,
        })
    }
}

/// Compares the settings with the detector of the mro simulation the datacube came from
/// (`resolved` = its meta.json's `provenance.resolved_scenario`): takes each shot-noise setting
/// the user left open ([`take_simulated_shot_noise`]) and warns about each given one that
/// differs. A detector that cannot be read is an error while a setting is left to it, else a
/// warning. Returns whether anything was taken.
fn simulated_shot_noise(
    config: &mut AnalysisConfig,
    set: ShotNoiseSet,
    resolved: &serde_json::Value,
    origins: &Origins,
) -> anyhow::Result<bool> {
    let meta = origins
        .meta
        .as_ref()
        .expect("a resolved scenario came from a meta file")
        .display();
    let detector = match SimulatedDetector::from_json(resolved) {
        Ok(d) => d,
        Err(why) if set.poisson_gain && set.detector_psf_sigma_px => {
            eprintln!(
                "mro: warning: {meta}: {why}; not used, as {} gives both settings",
                origins.config_name()
            );
            return Ok(false);
        }
        Err(why) => {
            return Err(bad_input(format!(
                "{meta}: {why} (or give both `poisson_gain` and `detector_psf_sigma_px` in an \
                 [analysis] table with --config)"
            )))
        }
    };
    let source = format!("{meta}: provenance.resolved_scenario.detector");
    let (taken, warnings) = take_simulated_shot_noise(config, set, detector);
    for w in warnings {
        eprintln!(
            "mro: warning: {}: {w} in {source}; kept as given",
            origins.config_name()
        );
    }
    if !taken.is_empty() {
        outln!("shot noise from the simulated detector ({source}): {taken}");
    }
    Ok(!taken.is_empty())
}

/// Corrects an mro simulation's patterns for the shot noise its detector put in, as `validate`
/// does, unless the user's settings name the key: the built-in `poisson_gain = 1` would, on
/// noise-free patterns (fractional intensities), subtract a "noise" many times the maps' scale
/// and leave no region (a noise-free run of the correlated validation scenario on its former
/// 41 nm field: 0 regions at gain 1, 39 and 37 at n = 4 and 6 at gain 0). Returns what was
/// taken (for the terminal; empty when the user gave both) and a warning for each setting the
/// user gave that differs from the simulated detector's (kept as given).
fn take_simulated_shot_noise(
    config: &mut AnalysisConfig,
    set: ShotNoiseSet,
    detector: SimulatedDetector,
) -> (String, Vec<String>) {
    let noise_free = detector.poisson_gain == 0.0;
    let mut taken = Vec::new();
    let mut warnings = Vec::new();
    for (key, is_set, value, simulated) in [
        (
            "poisson_gain",
            set.poisson_gain,
            &mut config.poisson_gain,
            detector.poisson_gain,
        ),
        (
            "detector_psf_sigma_px",
            set.detector_psf_sigma_px,
            &mut config.detector_psf_sigma_px,
            detector.psf_sigma_px,
        ),
    ] {
        let what = if key == "poisson_gain" && noise_free {
            format!("{simulated} (noise-free: no shot noise to remove)")
        } else {
            simulated.to_string()
        };
        // A noise-free detector has no noise for charge sharing to correlate.
        let irrelevant = key == "detector_psf_sigma_px" && noise_free;
        if !is_set {
            *value = simulated;
            taken.push(format!("{key} = {what}"));
        } else if *value != simulated && !irrelevant {
            warnings.push(if set.by_scenario {
                format!(
                    "its [detector] implies {key} = {}, unlike the simulated detector's {what}",
                    *value
                )
            } else {
                format!(
                    "analysis.{key} = {} differs from the simulated detector's {what}",
                    *value
                )
            });
        }
    }
    (taken.join(", "), warnings)
}

/// Reads the analysis settings of `--config` (defaults when no file is given) and which
/// shot-noise settings it gives: a scenario file (it has a `schema` key) is loaded and checked
/// whole and its resolved `[analysis]` table used, exactly as `validate` uses it; any other
/// TOML file must hold an `[analysis]` table.
fn read_config(path: Option<&Path>) -> anyhow::Result<(AnalysisConfig, ShotNoiseSet)> {
    let Some(path) = path else {
        return Ok((AnalysisConfig::default(), ShotNoiseSet::default()));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("{}: cannot read: {e}", path.display())))?;
    let value: toml::Table = toml::from_str(&text).map_err(|e| {
        bad_input(format!(
            "{}: not valid TOML: {}",
            path.display(),
            crate::scenario::toml_message(&text, &e)
        ))
    })?;
    if value.contains_key("schema") {
        let both = ShotNoiseSet {
            poisson_gain: true,
            detector_psf_sigma_px: true,
            by_scenario: true,
        };
        return Ok((Scenario::load(path)?.simulated_analysis(), both));
    }
    if !value.contains_key("analysis") {
        let found: Vec<String> = value.keys().map(|k| format!("`{k}`")).collect();
        return Err(bad_input(format!(
            "{}: no [analysis] table (the file holds {}): expected a file with an [analysis] section, or a scenario (schema = \"mro.scenario/1\")",
            path.display(),
            if found.is_empty() {
                "nothing".to_string()
            } else {
                found.join(", ")
            }
        )));
    }
    if !value["analysis"].is_table() {
        return Err(bad_input(format!(
            "{}: field `analysis` is {}: expected one [analysis] table",
            path.display(),
            if value["analysis"].is_array() {
                "an array ([[analysis]] or analysis = [...])".to_string()
            } else {
                format!("a {}", value["analysis"].type_str())
            }
        )));
    }
    /// An analysis TOML: an `[analysis]` table and nothing else (a misspelt or misplaced
    /// table would otherwise go unread without a word).
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AnalysisFile {
        analysis: AnalysisConfig,
    }
    // Read from the text, not the parsed table, so that an error has its line and field.
    let table = value["analysis"].as_table().expect("checked above");
    let set = ShotNoiseSet {
        poisson_gain: table.contains_key("poisson_gain"),
        detector_psf_sigma_px: table.contains_key("detector_psf_sigma_px"),
        by_scenario: false,
    };
    toml::from_str::<AnalysisFile>(&text)
        .map(|f| (f.analysis, set))
        .map_err(|e| {
            bad_input(format!(
                "{}: {}",
                path.display(),
                crate::scenario::toml_message(&text, &e)
            ))
        })
}

/// The calibration from --meta (or meta.json beside the datacube) with flags overriding it,
/// checked against the detector, and where each value came from.
fn calibration(
    args: &Args,
    data_file: &Path,
    det: [usize; 2],
) -> anyhow::Result<(Calibration, Origins)> {
    let meta_path = args.meta.clone().or_else(|| {
        data_file
            .parent()
            .map(|d| d.join("meta.json"))
            .filter(|p| p.exists())
    });
    if args.meta.is_none() {
        if let Some(p) = &meta_path {
            outln!("calibration: {} (beside the datacube)", p.display());
        }
    }
    let meta = match &meta_path {
        Some(p) => Some(Meta::read(p).map_err(bad_input)?),
        None => None,
    };
    let base = meta.as_ref().map(|m| m.calibration);
    let meta_provenance = meta.as_ref().and_then(|m| m.provenance.as_ref());
    let provenance = meta_provenance.and_then(RunProvenance::from_meta);
    let resolved_scenario = meta_provenance
        .and_then(|p| p.get("resolved_scenario"))
        .cloned();
    // Every value the calibration needs, from its flag or else meta.json; all missing ones are
    // named in one error, so that a user without a meta.json fixes them in one go.
    let values = [
        (
            "k-pixel-per-nm",
            args.k_pixel_per_nm,
            base.map(|b| b.k_pixel_per_nm()),
        ),
        (
            "scan-step-nm",
            args.scan_step_nm,
            base.map(|b| b.scan_step_nm()),
        ),
        ("voltage-kv", args.voltage_kv, base.map(|b| b.voltage_kv())),
        (
            "semiangle-mrad",
            args.semiangle_mrad,
            base.map(|b| b.semiangle_mrad()),
        ),
    ]
    .map(|(flag, from_flag, from_meta)| (flag, from_flag.or(from_meta)));
    let center = args.center_px.or(base.map(|b| b.center_px()));
    let mut missing: Vec<String> = values
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(flag, _)| format!("--{flag}"))
        .collect();
    if center.is_none() {
        missing.push(format!(
            "--center-px Y,X (the pattern centre on the {} × {} detector)",
            det[0], det[1]
        ));
    }
    if !missing.is_empty() {
        return Err(bad_input(format!(
            "{}: no calibration for {}: give --meta META.json (an mro meta.json) or {}",
            data_file.display(),
            if missing.len() == 1 {
                "one value"
            } else {
                "these values"
            },
            missing.join(", ")
        )));
    }
    let [k_pixel_per_nm, scan_step_nm, voltage_kv, semiangle_mrad] =
        values.map(|(_, v)| v.expect("checked above"));
    let center = center.expect("checked above");
    let origins = Origins {
        datacube: data_file.to_path_buf(),
        meta: meta_path,
        config: args.config.clone(),
        mask: args.mask.clone(),
        center_from_flag: args.center_px.is_some(),
        center_px: center,
        screened_pixels: 0,
        provenance,
        resolved_scenario,
    };
    let cal = Calibration::new(
        k_pixel_per_nm,
        scan_step_nm,
        center,
        voltage_kv,
        semiangle_mrad,
        args.thickness_nm.or(base.and_then(|b| b.thickness_nm())),
    )
    .map_err(|e| {
        let key = e.field.split('[').next().unwrap_or(e.field);
        let from_flag = match key {
            "k_pixel_per_nm" => args.k_pixel_per_nm.is_some(),
            "scan_step_nm" => args.scan_step_nm.is_some(),
            "center_px" => args.center_px.is_some(),
            "voltage_kv" => args.voltage_kv.is_some(),
            "semiangle_mrad" => args.semiangle_mrad.is_some(),
            _ => args.thickness_nm.is_some(),
        };
        bad_input(format!(
            "{} = {}: expected {}",
            origins.calibration_key(key, from_flag),
            e.value,
            e.expected
        ))
    })?;
    // The centre must lie on the detector; a meta.json written for another detector size
    // shows up here.
    let [cy, cx] = center;
    if !(0.0..=(det[0] as f64 - 1.0)).contains(&cy) || !(0.0..=(det[1] as f64 - 1.0)).contains(&cx)
    {
        return Err(bad_input(format!(
            "{} = [{cy}, {cx}]: expected a centre [y, x] on the {} × {} detector of {} (y in [0, {}], x in [0, {}]); is the calibration for another detector size?",
            origins.center(),
            det[0],
            det[1],
            data_file.display(),
            det[0].saturating_sub(1),
            det[1].saturating_sub(1)
        )));
    }
    Ok((cal, origins))
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
    let full: Vec<f32> = m.full_power.iter().flat_map(f32s).collect();
    write_f32(
        &dir.join(NPY_FILES[6]),
        &[m.full_power.len(), ny, nx],
        &full,
    )?;
    let mro_labels: Vec<f32> = m
        .mro_labels
        .iter()
        .flat_map(|l| l.iter().map(|&v| v as f32))
        .collect();
    write_f32(
        &dir.join(NPY_FILES[7]),
        &[m.mro_labels.len(), ny, nx],
        &mro_labels,
    )?;
    Ok(())
}

fn summary(out: &AnalysisOutput) {
    let r = &out.result;
    let fmt = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.4}"));
    // An undefined V (a ring below the count floor) prints as "—", as analysis.json holds null.
    let fmt_e = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.4e}"));
    // A peak that is null says why (a maximum at the edge of the k range is not a peak).
    let peak = |v: Option<f64>, field: &str| match (v, r.variance.null_reasons.get(field)) {
        (Some(k), _) => format!("{k:.4} nm⁻¹"),
        (None, Some(why)) => format!("none ({why})"),
        (None, None) => "none".into(),
    };
    outln!(
        "V(k) peak: V_Ω {}, V_r {}; V_Ω = {}, V_r = {} at k = {} nm⁻¹",
        peak(r.variance.peak_k_per_nm, "peak_k_per_nm"),
        peak(r.variance.v_r_peak_k_per_nm, "v_r_peak_k_per_nm"),
        fmt_e(r.variance.v_omega_at_ring),
        fmt_e(r.variance.v_r_at_ring),
        r.ring.k_per_nm
    );
    // Undefined ratios (no even n analysed, no gain for the shot-noise floor) print as "—",
    // as `analysis.json` holds null for them.
    outln!(
        "odd/even power ratio {} (shot noise removed: {})",
        crate::document::number(r.power_spectrum.odd_even_ratio, 4),
        crate::document::number(r.power_spectrum.odd_even_ratio_corrected, 4)
    );
    // A "—" says why under its line, from the `null_reasons` analysis.json holds.
    let blanks = |shown: &[(&str, Option<f64>, &str)], reasons: &BTreeMap<String, String>| {
        for (label, value, field) in shown {
            if value.is_none() {
                let why = reasons
                    .get(*field)
                    .map_or("no reason recorded", String::as_str);
                outln!("         — {label}: {why}");
            }
        }
    };
    // Both methods, the one `[analysis] method` judges first, each line labelled.
    let mro = r.mro.as_ref();
    let im2018_lines = || {
        outln!("method im2018 (the published procedure):");
        for n in &r.summed_symmetries {
            let s = &r.by_symmetry[&n.to_string()];
            outln!(
                "  n = {n:>2}: {:>4} regions, D = {} nm, volume fraction {}, spacing {} nm",
                s.regions,
                fmt(s.mean_diameter_nm),
                fmt(s.volume_fraction),
                fmt(s.autocorrelation_peak_nm)
            );
            blanks(
                &[
                    ("D", s.mean_diameter_nm, "mean_diameter_nm"),
                    ("volume fraction", s.volume_fraction, "volume_fraction"),
                    (
                        "spacing",
                        s.autocorrelation_peak_nm,
                        "autocorrelation_peak_nm",
                    ),
                ],
                &s.null_reasons,
            );
        }
        outln!(
            "  total volume fraction {}, integrated map {}",
            fmt(r.total_volume_fraction),
            fmt(r.integrated_map_volume_fraction)
        );
        blanks(
            &[
                ("total", r.total_volume_fraction, "total_volume_fraction"),
                (
                    "integrated map",
                    r.integrated_map_volume_fraction,
                    "integrated_map_volume_fraction",
                ),
            ],
            &r.null_reasons,
        );
    };
    let mro_lines = || {
        let Some(m) = mro else { return };
        outln!(
            "method mro (significant regions at false-discovery rate {}, model-fitted diameters):",
            m.false_detection_rate
        );
        for n in &r.summed_symmetries {
            let Some(s) = m.by_symmetry.get(&n.to_string()) else {
                continue;
            };
            outln!(
                "  n = {n:>2}: {:>4} regions, D = {} nm, volume fraction {}, spacing {} nm",
                s.regions,
                fmt(s.mean_diameter_nm),
                fmt(s.volume_fraction),
                fmt(s.spacing_nm)
            );
            blanks(
                &[
                    ("D", s.mean_diameter_nm, "mean_diameter_nm"),
                    ("volume fraction", s.volume_fraction, "volume_fraction"),
                    ("spacing", s.spacing_nm, "spacing_nm"),
                ],
                &s.null_reasons,
            );
        }
        outln!("  total volume fraction {}", fmt(m.total_volume_fraction));
        blanks(
            &[("total", m.total_volume_fraction, "total_volume_fraction")],
            &m.null_reasons,
        );
    };
    if r.config.method == mro_analysis::Method::Mro {
        mro_lines();
        im2018_lines();
    } else {
        im2018_lines();
        mro_lines();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_simulated_detector_is_read_and_checked() {
        let read = |d: serde_json::Value| SimulatedDetector::from_json(&json!({ "detector": d }));
        let noisy = read(json!({
            "electrons_per_pattern": 1e6, "gain": 2.5, "psf_sigma_px": 0.3
        }));
        assert_eq!(
            noisy,
            Ok(SimulatedDetector {
                poisson_gain: 2.5,
                psf_sigma_px: 0.3
            })
        );
        let free = read(json!({
            "electrons_per_pattern": "inf", "gain": 2.5, "psf_sigma_px": 0.0
        }));
        assert_eq!(free.unwrap().poisson_gain, 0.0);
        // A missing key, or what no scenario allows, is an error naming the field.
        let e = SimulatedDetector::from_json(&json!(null)).unwrap_err();
        assert!(
            e.starts_with(
                "field `provenance.resolved_scenario` = null: expected a table, the simulation"
            ),
            "{e}"
        );
        let e = SimulatedDetector::from_json(&json!({})).unwrap_err();
        assert!(
            e.starts_with("field `provenance.resolved_scenario.detector` = missing"),
            "{e}"
        );
        for (d, key) in [
            (json!([1]), "detector` = [1]"),
            (
                json!({"gain": 1.0, "psf_sigma_px": 0.3}),
                "detector.electrons_per_pattern` = missing",
            ),
            (
                json!({"electrons_per_pattern": "lots", "gain": 1.0, "psf_sigma_px": 0.3}),
                "detector.electrons_per_pattern` = \"lots\"",
            ),
            (
                json!({"electrons_per_pattern": 0.5, "gain": 1.0, "psf_sigma_px": 0.3}),
                "detector.electrons_per_pattern` = 0.5",
            ),
            (
                json!({"electrons_per_pattern": 1e6, "gain": 0.0, "psf_sigma_px": 0.3}),
                "detector.gain` = 0.0",
            ),
            (
                json!({"electrons_per_pattern": 1e6, "gain": "1", "psf_sigma_px": 0.3}),
                "detector.gain` = \"1\"",
            ),
            (
                json!({"electrons_per_pattern": 1e6, "gain": 1.0}),
                "detector.psf_sigma_px` = missing",
            ),
            (
                json!({"electrons_per_pattern": 1e6, "gain": 1.0, "psf_sigma_px": 3.0}),
                "detector.psf_sigma_px` = 3.0",
            ),
        ] {
            let e = read(d).unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "field `provenance.resolved_scenario.{key}: expected"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn settings_left_open_are_taken_and_given_ones_kept() {
        // Defaults but the gain `config_gain`; `given` = (gain, psf) named by the user.
        let take =
            |config_gain: f64, given: (bool, bool), by_scenario: bool, gain: f64, psf: f64| {
                let mut config = AnalysisConfig {
                    poisson_gain: config_gain,
                    ..AnalysisConfig::default()
                };
                let set = ShotNoiseSet {
                    poisson_gain: given.0,
                    detector_psf_sigma_px: given.1,
                    by_scenario,
                };
                let detector = SimulatedDetector {
                    poisson_gain: gain,
                    psf_sigma_px: psf,
                };
                let (taken, warnings) = take_simulated_shot_noise(&mut config, set, detector);
                (
                    (config.poisson_gain, config.detector_psf_sigma_px),
                    taken,
                    warnings,
                )
            };
        let default_psf = AnalysisConfig::default().detector_psf_sigma_px;
        // Nothing given: both taken, and said even where they equal the defaults.
        let (used, taken, warnings) = take(1.0, (false, false), false, 2.0, 0.0);
        assert_eq!(used, (2.0, 0.0));
        assert_eq!(taken, "poisson_gain = 2, detector_psf_sigma_px = 0");
        assert!(warnings.is_empty());
        let (_, taken, _) = take(1.0, (false, false), false, 1.0, default_psf);
        assert!(taken.starts_with("poisson_gain = 1, "), "{taken}");
        // The gain given in [analysis]: kept, with a warning; the psf still taken.
        let (used, taken, warnings) = take(1.0, (true, false), false, 0.0, 0.5);
        assert_eq!(used, (1.0, 0.5));
        assert_eq!(taken, "detector_psf_sigma_px = 0.5");
        assert_eq!(
            warnings,
            [
                "analysis.poisson_gain = 1 differs from the simulated detector's 0 (noise-free: no \
              shot noise to remove)"
            ]
        );
        // A scenario as --config gives both from its [detector].
        let (used, taken, warnings) = take(2.0, (true, true), true, 2.0, 0.0);
        assert_eq!(used, (2.0, default_psf));
        assert_eq!(taken, "");
        assert_eq!(
            warnings,
            [format!(
                "its [detector] implies detector_psf_sigma_px = {default_psf}, unlike the \
                 simulated detector's 0"
            )]
        );
        // A noise-free detector: a given psf is not warned about (there is no noise to share).
        let (_, taken, warnings) = take(1.0, (false, true), false, 0.0, 0.0);
        assert!(taken.starts_with("poisson_gain = 0 (noise-free"), "{taken}");
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
