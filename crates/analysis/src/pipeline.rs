//! The whole measurement: one pass over the patterns (two with centre refinement), in chunks,
//! from memory ([`analyze_datacube`]) or streamed from a file ([`analyze_npy`], [`analyze_source`]). Both give
//! bit-identical results for any chunk size and thread count.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::sync_channel;

use mro_core::{Calibration, Datacube, Format, FrameSource};
use ndarray::Array2;
use rayon::prelude::*;

use crate::accumulator::{FrameContext, PartialStats};
use crate::autocorrelation::radial_autocorrelation;
use crate::center::friedel_center;
use crate::config::{AnalysisConfig, InConditionModel};
use crate::correlation::odd_even_ratio;
use crate::error::AnalysisError;
use crate::mro_estimator::{MroEstimator, MroResult};
use crate::particles::{geometric_in_condition, mean_sd, segment, sphere_volume_fraction};
use crate::polar::{PolarGeometry, PolarPlan, Ring};
use crate::result::*;
use crate::ring_fourier::binning_transfer;
use crate::screen::{ScreenReport, ScreenSettings, Screener};
use crate::size_model::ProbeResponse;
use crate::threshold::threshold;
use crate::variance::{
    inside, peak_position, peak_standard_errors, variance_curves, VarianceCurves,
    MIN_ELECTRONS_PER_PIXEL,
};

/// Patterns handed to one rayon task.
const TASK_PATTERNS: usize = 8;

/// Run-time options that do not change the result.
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    /// Patterns per chunk (memory use when streaming is about two chunks). Small chunks that
    /// stay in the CPU cache between the read and the analysis are fastest (default 32).
    pub chunk_patterns: usize,
    /// Detector-shaped mask, `true` = pixel excluded (dead pixel, beam stop).
    pub excluded: Option<&'a [bool]>,
    /// Called after each chunk with `(patterns done, patterns in the pass)`; the count starts
    /// again for the analysis pass after the centre-refinement pass.
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        Self {
            chunk_patterns: 32,
            excluded: None,
            progress: None,
        }
    }
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("chunk_patterns", &self.chunk_patterns)
            .field(
                "masked",
                &self.excluded.map(|m| m.iter().filter(|&&b| b).count()),
            )
            .finish()
    }
}

/// Analyses a datacube held in memory, without copying it (a datacube whose array is not in
/// standard C layout is first copied into one).
pub fn analyze_datacube(
    cube: &Datacube,
    config: &AnalysisConfig,
    opts: &RunOptions<'_>,
) -> Result<AnalysisOutput, AnalysisError> {
    let owned;
    let data = match cube.data().as_slice() {
        Some(s) => s,
        None => {
            owned = cube.data().as_standard_layout().into_owned();
            owned.as_slice().expect("standard layout")
        }
    };
    let scan = cube.scan_shape();
    let det = cube.detector_shape();
    let plen = det[0] * det[1];
    let chunk = opts.chunk_patterns.max(1) * plen;
    let end = run(scan, det, cube.calibration(), config, opts, None, |f| {
        for (c, block) in data.chunks(chunk.max(1)).enumerate() {
            f(c * opts.chunk_patterns.max(1), block)?;
        }
        Ok(())
    })?;
    Ok(end.unscreened())
}

/// Analyses a `.npy` datacube streamed from disk: at most two chunks of
/// `opts.chunk_patterns` patterns are in memory at once, and reading overlaps computing.
pub fn analyze_npy(
    path: &Path,
    calibration: &Calibration,
    config: &AnalysisConfig,
    opts: &RunOptions<'_>,
) -> Result<AnalysisOutput, AnalysisError> {
    let source = FrameSource::open(path, Some(Format::Npy), None)?;
    analyze_source(source, calibration, config, opts)
}

/// Analyses any datacube file [`FrameSource`] reads (`.npy`, 3-D `.npy` stacks, EMPAD),
/// streamed as in [`analyze_npy`]; bit-identical to [`analyze_datacube`] on the same values.
pub fn analyze_source(
    source: FrameSource,
    calibration: &Calibration,
    config: &AnalysisConfig,
    opts: &RunOptions<'_>,
) -> Result<AnalysisOutput, AnalysisError> {
    let scan = source.scan_shape();
    let det = source.detector_shape();
    let mut source = source;
    let end = run(scan, det, calibration, config, opts, None, |f| {
        stream_frames(&mut source, opts.chunk_patterns, f)
    })?;
    Ok(end.unscreened())
}

/// How a screened measurement ([`analyze_source_screened`]) ended.
#[derive(Debug)]
pub enum Screened {
    /// Screening refused the data ([`ScreenReport::refusal`]); nothing was measured.
    Refused(ScreenReport),
    /// With the pixels screening found masked, the measurement is impossible (e.g. they hide
    /// the analysis ring).
    Unmeasurable(ScreenReport, AnalysisError),
    /// The measurement, with the user's mask plus the hot and dead pixels screening found.
    Measured(ScreenReport, Box<AnalysisOutput>),
}

/// Screens ([`crate::screen`]) and analyses a datacube file as [`analyze_source`] does.
///
/// Screening rides on the measurement's own read of the file: clean data are read once (with
/// centre refinement twice, the first pass screening). Only when screening finds hot or dead
/// pixels to mask is the measurement read again with them masked, so the result is the same
/// as screening first and then measuring.
///
/// # Errors
/// As [`analyze_source`].
pub fn analyze_source_screened(
    source: FrameSource,
    calibration: &Calibration,
    config: &AnalysisConfig,
    opts: &RunOptions<'_>,
    settings: &ScreenSettings,
) -> Result<Screened, AnalysisError> {
    let scan = source.scan_shape();
    let det = source.detector_shape();
    let mut source = source;
    let screener = Screener::new(det, scan[0] * scan[1], opts.excluded)?;
    let end = run(
        scan,
        det,
        calibration,
        config,
        opts,
        Some((screener, settings)),
        |f| stream_frames(&mut source, opts.chunk_patterns, f),
    )?;
    match end {
        RunEnd::Finished(Some(report), out) => Ok(Screened::Measured(report, out)),
        RunEnd::Finished(None, _) => unreachable!("a screened run reports its screening"),
        RunEnd::Stopped(report) if report.refusal().is_some() => Ok(Screened::Refused(report)),
        RunEnd::Stopped(report) => {
            let excluded = report.excluded(opts.excluded);
            let opts = RunOptions {
                excluded: Some(&excluded),
                ..*opts
            };
            match run(scan, det, calibration, config, &opts, None, |f| {
                stream_frames(&mut source, opts.chunk_patterns, f)
            }) {
                Ok(end) => Ok(Screened::Measured(report, Box::new(end.unscreened()))),
                Err(e) => Ok(Screened::Unmeasurable(report, e)),
            }
        }
    }
}

/// How [`run`] ended.
enum RunEnd {
    /// Measured; with the screening report if the run screened.
    Finished(Option<ScreenReport>, Box<AnalysisOutput>),
    /// Screening refused the data or found pixels to mask (the run did not mask them).
    Stopped(ScreenReport),
}

impl RunEnd {
    fn unscreened(self) -> AnalysisOutput {
        match self {
            Self::Finished(_, out) => *out,
            Self::Stopped(_) => unreachable!("only a screened run stops"),
        }
    }
}

/// Called with consecutive chunks `(first pattern, values)`.
pub type ChunkFn<'f> = dyn FnMut(usize, &[f32]) -> Result<(), AnalysisError> + 'f;

/// Reads the file chunk by chunk on a second thread and hands each chunk `(first frame,
/// values)` to `f` in order. Public so that screening ([`crate::screen`]) streams the same way.
pub fn stream_frames(
    source: &mut FrameSource,
    chunk_patterns: usize,
    f: &mut ChunkFn<'_>,
) -> Result<(), AnalysisError> {
    let chunk_patterns = chunk_patterns.max(1);
    let plen = source.frame_len();
    let n_patterns = source.n_frames();
    let (tx_full, rx_full) = sync_channel::<Result<(usize, Vec<f32>), AnalysisError>>(1);
    let (tx_empty, rx_empty) = sync_channel::<Vec<f32>>(2);
    tx_empty.send(Vec::new()).expect("capacity");
    tx_empty.send(Vec::new()).expect("capacity");
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut start = 0;
            while start < n_patterns {
                let Ok(mut buf) = rx_empty.recv() else { return };
                let len = chunk_patterns.min(n_patterns - start);
                buf.resize(len * plen, 0.0);
                let msg = source
                    .read_frames(start, &mut buf)
                    .map(|()| (start, buf))
                    .map_err(AnalysisError::from);
                let failed = msg.is_err();
                if tx_full.send(msg).is_err() || failed {
                    return;
                }
                start += len;
            }
        });
        let mut result = Ok(());
        for msg in rx_full.iter() {
            match msg.and_then(|(start, buf)| {
                f(start, &buf)?;
                Ok(buf)
            }) {
                Ok(buf) => {
                    let _ = tx_empty.send(buf);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(rx_full);
        drop(tx_empty);
        result
    })
}

/// A source of patterns: calls its argument with consecutive chunks `(first pattern, values)`.
type Source<'s> = dyn FnMut(&mut ChunkFn<'_>) -> Result<(), AnalysisError> + 's;

/// Checks, before any pattern exists, that `config`'s rings fit a detector of `detector_shape`
/// pixels `[y, x]` of `k_pixel_per_nm` with the pattern centre at `center_px` `[y, x]`
/// ([`rings_on_detector`]): what a scenario checks of the detector it simulates.
pub fn check_rings(
    config: &AnalysisConfig,
    detector_shape: [usize; 2],
    k_pixel_per_nm: f64,
    center_px: [f64; 2],
) -> Result<(), AnalysisError> {
    let geometry = PolarGeometry {
        detector_shape,
        center_px,
        k_pixel_per_nm,
        rings: Vec::new(),
        n_azimuth: config.azimuth_bins(),
        supersample: config.supersample,
    };
    rings_on_detector(config, &geometry).map(drop)
}

/// The V(k) rings from `k_min_per_nm` by `radial_step_per_nm` (default one detector pixel) up
/// to `k_max_per_nm` or the largest ring the detector holds whole, then the analysis ring at
/// `k_per_nm`: what the polar transform of `geometry` (its `rings` ignored) is planned with.
///
/// Every ring must hold a detector sub-pixel centre. The centres form a square lattice of pitch
/// `k_pixel_per_nm / supersample` and every disk of radius pitch/√2 holds one, so a ring √2
/// pitches wide always does; a narrower one is checked exactly (`holds_subpixel`).
///
/// Errors: [`AnalysisError::Geometry`] naming the `analysis.` key (and the calibration) when
/// the analysis ring leaves the detector, the V(k) range holds fewer than three radial steps,
/// or a ring holds no sub-pixel centre.
pub fn rings_on_detector(
    config: &AnalysisConfig,
    geometry: &PolarGeometry,
) -> Result<Vec<Ring>, AnalysisError> {
    let dk = geometry.k_pixel_per_nm;
    let [ny, nx] = geometry.detector_shape;
    let pixel = format!("calibration.k_pixel_per_nm = {dk} nm⁻¹");
    let k_fit = geometry.inscribed_k_per_nm();
    let ring = Ring {
        k_lo_per_nm: config.k_per_nm - 0.5 * config.ring_width_per_nm,
        k_hi_per_nm: config.k_per_nm + 0.5 * config.ring_width_per_nm,
    };
    if ring.k_hi_per_nm > k_fit {
        return Err(AnalysisError::Geometry {
            field: "analysis.k_per_nm".into(),
            value: config.k_per_nm,
            expected: format!(
                "a ring whose outer edge lies within the {k_fit:.4} nm⁻¹ the detector covers around the centre ({ny} × {nx} pixels of {pixel}; is the pixel size right?)"
            ),
        });
    }
    let step = config.radial_step_per_nm.unwrap_or(dk);
    let step_from = match config.radial_step_per_nm {
        Some(_) => "analysis.radial_step_per_nm".to_string(),
        None => format!("one detector pixel, {pixel}"),
    };
    let k_max = config.k_max_per_nm.min(k_fit);
    let n_rows = ((k_max - config.k_min_per_nm) / step + 1e-9)
        .floor()
        .max(0.0) as usize;
    if n_rows < 3 {
        return Err(AnalysisError::Geometry {
            field: "analysis.k_min_per_nm".into(),
            value: config.k_min_per_nm,
            expected: format!(
                "a V(k) range from k_min_per_nm to {k_max:.3} nm⁻¹ (analysis.k_max_per_nm, at most the detector edge {k_fit:.3} nm⁻¹) of at least three radial steps of {step} nm⁻¹ ({step_from}); it holds {n_rows}"
            ),
        });
    }
    let mut rings: Vec<Ring> = (0..n_rows)
        .map(|i| Ring {
            k_lo_per_nm: config.k_min_per_nm + i as f64 * step,
            k_hi_per_nm: config.k_min_per_nm + (i + 1) as f64 * step,
        })
        .collect();
    let pitch = dk / geometry.supersample.max(1) as f64;
    let always = std::f64::consts::SQRT_2 * pitch;
    let empty = |r: &Ring| r.k_hi_per_nm - r.k_lo_per_nm < always && !holds_subpixel(geometry, r);
    let why_empty = |r: &Ring, width_from: &str| {
        format!(
            "every ring to hold a detector sub-pixel centre: the ring at k = {:.4} nm⁻¹, {:.4} \
             nm⁻¹ wide ({width_from}), holds none (pitch k_pixel_per_nm / supersample = \
             {pitch:.4} nm⁻¹, {pixel}, analysis.supersample = {}); a ring √2 × the pitch = \
             {always:.4} nm⁻¹ wide always holds one",
            r.k_per_nm(),
            r.k_hi_per_nm - r.k_lo_per_nm,
            geometry.supersample
        )
    };
    if let Some(r) = rings.iter().find(|r| empty(r)) {
        // The step given, or the supersampling that splits the default one-pixel step.
        let (field, value) = match config.radial_step_per_nm {
            Some(s) => ("analysis.radial_step_per_nm", s),
            None => ("analysis.supersample", geometry.supersample as f64),
        };
        return Err(AnalysisError::Geometry {
            field: field.into(),
            value,
            expected: why_empty(r, &step_from),
        });
    }
    if empty(&ring) {
        return Err(AnalysisError::Geometry {
            field: "analysis.ring_width_per_nm".into(),
            value: config.ring_width_per_nm,
            expected: why_empty(&ring, "analysis.ring_width_per_nm"),
        });
    }
    rings.push(ring);
    Ok(rings)
}

/// Whether some sub-pixel centre of `geometry`'s detector lies in `ring` (k in [lo, hi), as
/// [`PolarGeometry::bins_of`] bins it): per row of sub-pixels, the columns whose |k| falls in
/// the ring form up to two intervals, each checked for a lattice column.
fn holds_subpixel(geometry: &PolarGeometry, ring: &Ring) -> bool {
    let s = geometry.supersample.max(1);
    let dk = geometry.k_pixel_per_nm;
    let [ny, nx] = geometry.detector_shape;
    let [cy, cx] = geometry.center_px;
    // Sub-pixel m of a pixel axis sits at (m + ½)/s − ½ pixels: k = that minus the centre, × dk.
    let k_of = |m: i64, c: f64| ((m as f64 + 0.5) / s as f64 - 0.5 - c) * dk;
    let inside = |k: f64| k >= ring.k_lo_per_nm && k < ring.k_hi_per_nm;
    let (lo2, hi2) = (ring.k_lo_per_nm.powi(2), ring.k_hi_per_nm.powi(2));
    let columns = (nx * s) as i64;
    (0..(ny * s) as i64).any(|my| {
        let ky = k_of(my, cy);
        let room = hi2 - ky * ky;
        if room <= 0.0 {
            return false;
        }
        let (a, b) = ((lo2 - ky * ky).max(0.0).sqrt(), room.sqrt());
        // The columns nearest the interval ends, on both sides of the centre, and their
        // neighbours (rounding): any of them inside decides.
        [a, b, -a, -b].iter().any(|&kx| {
            let m = ((kx / dk + 0.5 + cx) * s as f64 - 0.5).round() as i64;
            (m - 1..=m + 1).any(|m| (0..columns).contains(&m) && inside(k_of(m, cx).hypot(ky)))
        })
    })
}

/// The measurement. With `screen`, the first pass over the data (pass 0 with centre
/// refinement, else pass 1) also screens it, and the run stops after that pass if screening
/// refuses the data or finds pixels to mask.
fn run(
    scan: [usize; 2],
    det: [usize; 2],
    calibration: &Calibration,
    config: &AnalysisConfig,
    opts: &RunOptions<'_>,
    mut screen: Option<(Screener, &ScreenSettings)>,
    mut source: impl FnMut(&mut ChunkFn<'_>) -> Result<(), AnalysisError>,
) -> Result<RunEnd, AnalysisError> {
    config.validate()?;
    let n_patterns = scan[0] * scan[1];
    if n_patterns == 0 || det[0] < 3 || det[1] < 3 {
        return Err(AnalysisError::Shape {
            what: "datacube".into(),
            found: vec![scan[0], scan[1], det[0], det[1]],
            expected: "at least one scan point and 3 × 3 detector pixels".into(),
        });
    }
    if let Some(m) = opts.excluded {
        if m.len() != det[0] * det[1] {
            return Err(AnalysisError::Shape {
                what: "mask".into(),
                found: vec![m.len()],
                expected: format!("{} × {} values (the detector shape)", det[0], det[1]),
            });
        }
    }
    let plen = det[0] * det[1];
    let source: &mut Source<'_> = &mut source;

    // Pass 0 (optional): the mean pattern, summed per pixel in scan order.
    let mut cal = *calibration;
    let mut report = None;
    if config.refine_center {
        let mut sum = vec![0.0f64; plen];
        let mut done = 0;
        let mut screener = screen.as_mut().map(|(s, _)| s);
        source(&mut |_, block: &[f32]| {
            if let Some(s) = screener.as_deref_mut() {
                s.add(block);
            }
            let n = block.len() / plen;
            let per = plen
                .div_ceil(rayon::current_num_threads().max(1) * 4)
                .max(64);
            sum.par_chunks_mut(per).enumerate().for_each(|(c, s)| {
                let off = c * per;
                for p in 0..n {
                    let pat = &block[p * plen + off..p * plen + off + s.len()];
                    for (a, &v) in s.iter_mut().zip(pat) {
                        *a += f64::from(v);
                    }
                }
            });
            done += n;
            if let Some(pr) = opts.progress {
                pr(done, n_patterns);
            }
            Ok(())
        })?;
        if let Some((s, settings)) = screen.take() {
            let r = s.finish(scan, settings);
            if r.refusal().is_some() || r.masks_pixels() {
                return Ok(RunEnd::Stopped(r));
            }
            report = Some(r);
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n_patterns as f64).collect();
        let max_shift = 0.25 * det[0].min(det[1]) as f64;
        if let Some(c) = friedel_center(&mean, det, opts.excluded, cal.center_px(), max_shift) {
            cal = cal.with_center_px(c).map_err(|e| AnalysisError::Geometry {
                field: format!("refined centre {}", e.field),
                value: e.value,
                expected: e.expected.into(),
            })?;
        }
    }

    // Plan.
    let dk = cal.k_pixel_per_nm();
    let n_az = config.azimuth_bins();
    let mut geometry = PolarGeometry {
        detector_shape: det,
        center_px: cal.center_px(),
        k_pixel_per_nm: dk,
        rings: Vec::new(),
        n_azimuth: n_az,
        supersample: config.supersample,
    };
    geometry.rings = rings_on_detector(config, &geometry)?;
    let sharing = mro_core::charge_sharing::noise_kernel(config.detector_psf_sigma_px);
    let plan = PolarPlan::with_charge_sharing(geometry, opts.excluded, &sharing)?;
    let ctx = FrameContext::new(
        plan,
        opts.excluded,
        config.n_max,
        config.poisson_gain,
        &sharing,
    );

    // Pass 1: per-pattern statistics.
    let mut total = ctx.partial(0, 0);
    let mut screener = screen.as_mut().map(|(s, _)| s);
    source(&mut |start, block: &[f32]| {
        if let Some(s) = screener.as_deref_mut() {
            s.add(block);
        }
        let parts: Vec<PartialStats> = block
            .par_chunks(TASK_PATTERNS * plen)
            .enumerate()
            .map_init(
                || ctx.scratch(),
                |s, (i, c)| ctx.process_chunk(start + i * TASK_PATTERNS, c, s),
            )
            .collect();
        for p in parts {
            total = std::mem::replace(&mut total, ctx.partial(0, 0))
                .merge(p)
                .expect("chunks arrive in order");
        }
        if let Some(pr) = opts.progress {
            pr(total.len(), n_patterns);
        }
        Ok(())
    })?;
    assert_eq!(total.len(), n_patterns, "every pattern processed");
    if let Some((s, settings)) = screen {
        let r = s.finish(scan, settings);
        if r.refusal().is_some() || r.masks_pixels() {
            return Ok(RunEnd::Stopped(r));
        }
        report = Some(r);
    }

    let out = finish(&ctx, &total, scan, det, calibration, &cal, config, opts);
    Ok(RunEnd::Finished(report, Box::new(out)))
}

/// Puts the reason for every null number of an `im2018` map result into its `null_reasons`
/// (reasons already there, e.g. a fraction above 1, stay).
fn explain_nulls(res: &mut SymmetryResult, thickness_known: bool) {
    let mut why = |field: &str, null: bool, reason: &str| {
        if null {
            res.null_reasons
                .entry(field.to_string())
                .or_insert_with(|| reason.to_string());
        }
    };
    let no_regions = "no regions above the threshold: there is nothing to measure";
    let few_regions = "fewer than two regions: no standard error";
    let no_thickness =
        "no foil thickness in the calibration (calibration.thickness_nm or --thickness-nm): no volume";
    let fractions = [
        (
            "volume_fraction_in_condition",
            res.volume_fraction_in_condition.is_none(),
        ),
        (
            "volume_fraction_in_condition_se",
            res.volume_fraction_in_condition_se.is_none(),
        ),
        ("volume_fraction", res.volume_fraction.is_none()),
        ("volume_fraction_se", res.volume_fraction_se.is_none()),
        (
            "volume_fraction_corrected",
            res.volume_fraction_corrected.is_none(),
        ),
        (
            "volume_fraction_geometric",
            res.volume_fraction_geometric.is_none(),
        ),
    ];
    for (field, null) in fractions {
        if !thickness_known {
            why(field, null, no_thickness);
        }
    }
    let regions = res.regions;
    for (field, null) in [
        (
            "volume_fraction_in_condition_se",
            res.volume_fraction_in_condition_se.is_none(),
        ),
        ("volume_fraction_se", res.volume_fraction_se.is_none()),
    ] {
        why(field, null && regions == 0, NO_REGIONS_NO_SE);
    }
    for (field, null) in [
        ("mean_diameter_nm", res.mean_diameter_nm.is_none()),
        ("sd_diameter_nm", res.sd_diameter_nm.is_none()),
        (
            "mean_diameter_corrected_nm",
            res.mean_diameter_corrected_nm.is_none(),
        ),
    ] {
        why(field, null && regions == 0, no_regions);
    }
    for (field, null) in [
        ("mean_diameter_se_nm", res.mean_diameter_se_nm.is_none()),
        (
            "mean_diameter_corrected_se_nm",
            res.mean_diameter_corrected_se_nm.is_none(),
        ),
    ] {
        why(
            field,
            null,
            if regions == 0 {
                no_regions
            } else {
                few_regions
            },
        );
    }
    let no_peak = "σ(r) has no local maximum beyond the probe's Airy radius: no spacing";
    for (field, null) in [
        (
            "autocorrelation_peak_nm",
            res.autocorrelation_peak_nm.is_none(),
        ),
        (
            "autocorrelation_peak_se_nm",
            res.autocorrelation_peak_se_nm.is_none(),
        ),
        (
            "autocorrelation_peak_significance",
            res.autocorrelation_peak_significance.is_none(),
        ),
    ] {
        why(field, null, no_peak);
    }
}

/// Why a volume fraction of 0 from no regions has no standard error (both methods).
pub(crate) const NO_REGIONS_NO_SE: &str =
    "no regions: the fraction is 0, but a count of nothing has no \
     standard error (0 would claim certainty)";

#[allow(clippy::too_many_arguments)]
fn finish(
    ctx: &FrameContext,
    stats: &PartialStats,
    scan: [usize; 2],
    det: [usize; 2],
    calibration_in: &Calibration,
    cal: &Calibration,
    config: &AnalysisConfig,
    opts: &RunOptions<'_>,
) -> AnalysisOutput {
    let plan = ctx.plan();
    let rings = &plan.geometry().rings;
    let r_all = rings.len();
    let rv = r_all - 1;
    let h = ctx.n_harmonics();
    let n = stats.len();
    let curves = variance_curves(stats, config.poisson_gain);
    let k: Vec<f64> = rings[..rv].iter().map(Ring::k_per_nm).collect();
    let maxima = [
        peak_position(&k, &curves.v_omega[..rv]),
        peak_position(&k, &curves.v_r[..rv]),
    ];
    let peak_se = peak_standard_errors(stats, scan, config.poisson_gain, &k, maxima);
    // A maximum at either end of the k range is the edge of a curve that only rises or falls
    // there, not a peak: null, with the reason.
    let peaks = maxima.map(|p| p.filter(|&p| inside(&k, p)));

    let mut versus_k = vec![vec![0.0f64; h]; rv];
    for p in 0..n {
        for (r, row) in versus_k.iter_mut().enumerate() {
            let base = (p * r_all + r) * h;
            for (o, &v) in row.iter_mut().zip(&stats.spectra[base..base + h]) {
                *o += f64::from(v);
            }
        }
    }
    versus_k
        .iter_mut()
        .for_each(|row| row.iter_mut().for_each(|v| *v /= n as f64));
    // Mean P_n over the patterns whose analysis ring holds counts (P_n is undefined on an
    // empty ring; averaging those in as 0 pulled P_0 below 1).
    let defined: Vec<usize> = (0..n)
        .filter(|&p| stats.annular_mean[p * r_all + rv] > 0.0)
        .collect();
    let mut mean_p = vec![0.0f64; h];
    for &p in &defined {
        for (o, &v) in mean_p.iter_mut().zip(&stats.ring_power[p * h..(p + 1) * h]) {
            *o += v;
        }
    }
    let n_defined = defined.len() as f64;
    mean_p.iter_mut().for_each(|v| *v /= n_defined);
    let floor = defined
        .iter()
        .map(|&p| stats.ring_noise_floor[p])
        .sum::<f64>()
        / n_defined;
    let corrected: Vec<f64> = mean_p
        .iter()
        .enumerate()
        .map(|(i, &p)| if i == 0 { p } else { p - floor })
        .collect();

    let sh = (scan[0], scan[1]);
    let col = |v: &[f64], stride: usize, off: usize| {
        Array2::from_shape_fn(sh, |(y, x)| v[(y * scan[1] + x) * stride + off])
    };
    let mean_intensity = col(&stats.annular_mean, r_all, rv);
    let v2d = col(&stats.ring_variance, r_all, rv);
    let v2d_raw = col(&stats.ring_variance_raw, r_all, rv);
    let power: Vec<Array2<f64>> = (0..h).map(|i| col(&stats.ring_power, h, i)).collect();
    let summed = config.summed_symmetries();
    let mut normalized_sum = Array2::<f64>::zeros(sh);
    for &s in &summed {
        let m = power[s].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m > 0.0 {
            normalized_sum.zip_mut_with(&power[s], |a, &b| *a += b / m);
        }
    }
    normalized_sum.mapv_inplace(|v| v / summed.len() as f64);

    let probe = cal.probe();
    let probe_info = ProbeInfo {
        fwhm_nm: probe.fwhm_nm(),
        airy_first_zero_nm: probe.airy_first_zero_nm(),
    };
    let step = cal.scan_step_nm();
    let area_nm2 = (scan[0] * scan[1]) as f64 * step * step;
    let particle = |map: &Array2<f64>, n_sym: usize, p_in: f64| {
        let values = map.as_slice().expect("standard layout");
        let t = threshold(values, config.threshold);
        let seg = segment(
            values,
            scan,
            t,
            config.min_region_px,
            step,
            probe_info.fwhm_nm,
        );
        let d: Vec<f64> = seg.regions.iter().map(|r| r.diameter_nm).collect();
        let dd: Vec<f64> = seg
            .regions
            .iter()
            .map(|r| r.diameter_deblurred_nm)
            .collect();
        let (md, sd) = mean_sd(d.iter().copied());
        let (mdd, sdd) = mean_sd(dd.iter().copied());
        let mut null_reasons = BTreeMap::new();
        // A sphere-model fraction above 1 is impossible: refused, with the reason.
        let mut bounded = |field: &str, v: Option<f64>| match v {
            Some(x) if x > 1.0 => {
                null_reasons.insert(
                    field.to_string(),
                    format!("the correction gives {x:.3}, outside [0, 1]: it does not hold here"),
                );
                None
            }
            other => other,
        };
        let sphere = |ds: &[f64]| {
            cal.thickness_nm()
                .map(|t| sphere_volume_fraction(ds, area_nm2, t))
        };
        // Compound-Poisson standard error of a sum of sphere volumes, as a fraction.
        let sphere_se = |ds: &[f64]| {
            cal.thickness_nm().map(|t| {
                ds.iter()
                    .map(|d| sphere_volume_fraction(&[*d], area_nm2, t).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
        };
        let vf_in = bounded("volume_fraction_in_condition", sphere(&d));
        let vf_in_dd = sphere(&dd);
        // No region: the fraction is 0, but a count of nothing has no standard error (0 would
        // claim certainty); null, with the reason (`explain_nulls`).
        let vf_in_se = vf_in.and(sphere_se(&d)).filter(|_| !d.is_empty());
        let ac = radial_autocorrelation(values, scan, step);
        let peak = ac.first_peak(probe_info.airy_first_zero_nm);
        let opt = |v: f64| v.is_finite().then_some(v);
        let p_geo = (n_sym > 0).then(|| geometric_in_condition(n_sym, config.acceptance_deg));
        let res = SymmetryResult {
            n: n_sym,
            threshold: t,
            regions: seg.regions.len(),
            regions_se: (seg.regions.len() as f64).sqrt(),
            mean_diameter_nm: opt(md),
            mean_diameter_se_nm: (d.len() >= 2).then(|| sd / (d.len() as f64).sqrt()),
            sd_diameter_nm: opt(sd),
            mean_diameter_corrected_nm: opt(mdd),
            mean_diameter_corrected_se_nm: (dd.len() >= 2).then(|| sdd / (dd.len() as f64).sqrt()),
            area_fraction: seg.regions.iter().map(|r| r.area_nm2).sum::<f64>() / area_nm2,
            volume_fraction_in_condition: vf_in,
            volume_fraction_in_condition_se: vf_in_se,
            in_condition_fraction: p_in,
            volume_fraction: bounded("volume_fraction", vf_in.map(|v| v / p_in)),
            volume_fraction_se: vf_in_se.map(|v| v / p_in),
            volume_fraction_corrected: bounded(
                "volume_fraction_corrected",
                vf_in_dd.map(|v| v / p_in),
            ),
            volume_fraction_geometric: bounded(
                "volume_fraction_geometric",
                p_geo.and_then(|p| vf_in.map(|v| v / p)),
            ),
            autocorrelation_peak_nm: peak.map(|p| p.r_nm),
            autocorrelation_peak_se_nm: peak.map(|p| p.se_nm),
            autocorrelation_peak_significance: peak.map(|p| p.significance),
            autocorrelation: ac,
            map_mean: values.iter().sum::<f64>() / values.len() as f64,
            map_max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            region_list: seg.regions,
            null_reasons,
        };
        let mut res = res;
        explain_nulls(&mut res, cal.thickness_nm().is_some());
        let labels = Array2::from_shape_vec(sh, seg.labels).expect("scan shape");
        (res, labels)
    };
    // Share of clusters in condition for symmetry n (both methods).
    let p_in = |n_sym: usize| match config.in_condition_model {
        InConditionModel::Fixed => config.in_condition_fraction,
        InConditionModel::Geometric => geometric_in_condition(n_sym, config.acceptance_deg),
    };
    // The `mro` method's probe-response table (serial, tens of ms) is built beside the
    // `im2018` maps.
    let (per_n, response): (Vec<(SymmetryResult, Array2<u32>)>, _) = rayon::join(
        || {
            (1..h)
                .into_par_iter()
                .map(|n_sym| particle(&power[n_sym], n_sym, p_in(n_sym)))
                .collect()
        },
        || ProbeResponse::new(probe.aperture_radius_per_nm()),
    );
    let (integrated_map, integrated_labels) =
        particle(&normalized_sum, 0, config.in_condition_fraction);
    let mut labels = vec![Array2::<u32>::zeros(sh)];
    let mut by_symmetry = BTreeMap::new();
    for (res, lab) in per_n {
        labels.push(lab);
        by_symmetry.insert(res.n.to_string(), res);
    }
    // No summed symmetry (`n_max = 1` and no `symmetries`): the total is undefined, not 0.
    let mut whole_reasons = BTreeMap::new();
    let total_volume_fraction = if summed.is_empty() {
        whole_reasons.insert(
            "total_volume_fraction".to_string(),
            format!(
                "no symmetry is summed (n_max = {} analyses no even n and no `symmetries` are given)",
                config.n_max
            ),
        );
        None
    } else {
        let without: Vec<String> = summed
            .iter()
            .filter(|s| by_symmetry[&s.to_string()].volume_fraction.is_none())
            .map(|s| s.to_string())
            .collect();
        let sum: f64 = summed
            .iter()
            .filter_map(|s| by_symmetry[&s.to_string()].volume_fraction)
            .sum();
        if !without.is_empty() {
            whole_reasons.insert(
                "total_volume_fraction".to_string(),
                format!(
                    "the volume fraction of n = {} is null (see by_symmetry.N.null_reasons)",
                    without.join(", ")
                ),
            );
            None
        } else if sum > 1.0 {
            whole_reasons.insert(
                "total_volume_fraction".to_string(),
                format!("the per-n fractions sum to {sum:.3} > 1"),
            );
            None
        } else {
            Some(sum)
        }
    };
    if integrated_map.volume_fraction.is_none() {
        let why = integrated_map
            .null_reasons
            .get("volume_fraction")
            .cloned()
            .unwrap_or_else(|| "see integrated_map.null_reasons".to_string());
        whole_reasons.insert("integrated_map_volume_fraction".to_string(), why);
    }

    // The `mro` method on the full-resolution maps.
    let estimator = MroEstimator {
        shape: scan,
        step_nm: step,
        thickness_nm: cal.thickness_nm(),
        false_detection_rate: config.false_detection_rate,
        airy_first_zero_nm: probe_info.airy_first_zero_nm,
        response: &response,
    };
    let by_n = |v: &[f64]| -> Vec<Vec<f64>> {
        (0..h)
            .map(|i| (0..n).map(|p| v[p * h + i]).collect())
            .collect()
    };
    let mut full_power = by_n(&stats.full_power);
    let mut full_noise = by_n(&stats.full_noise);
    let i0_factor = local_normalisation(&mut full_power, &mut full_noise, &stats.full_i0, scan);
    let mro_per_n: Vec<_> = (1..h)
        .into_par_iter()
        .map(|n_sym| {
            estimator.estimate(
                n_sym,
                &full_power[n_sym],
                &full_noise[n_sym],
                &i0_factor,
                p_in(n_sym),
            )
        })
        .collect();
    let mut mro_labels = vec![Array2::<u32>::zeros(sh)];
    let mut mro_by_symmetry = BTreeMap::new();
    for (res, lab) in mro_per_n {
        mro_labels.push(Array2::from_shape_vec(sh, lab).expect("scan shape"));
        mro_by_symmetry.insert(res.n.to_string(), res);
    }
    let mut mro_reasons = BTreeMap::new();
    let mro_vf: Option<Vec<(f64, Option<f64>)>> = summed
        .iter()
        .map(|s| {
            let r = &mro_by_symmetry[&s.to_string()];
            r.volume_fraction.map(|v| (v, r.volume_fraction_se))
        })
        .collect();
    let (mut mro_total, mut mro_total_se) = (None, None);
    match mro_vf {
        Some(_) if summed.is_empty() => {
            mro_reasons.insert(
                "total_volume_fraction".to_string(),
                format!(
                    "no symmetry is summed (n_max = {} analyses no even n and no `symmetries` are given)",
                    config.n_max
                ),
            );
        }
        None => {
            mro_reasons.insert(
                "total_volume_fraction".to_string(),
                format!("a summed symmetry ({summed:?}) has no volume fraction"),
            );
        }
        Some(v) => {
            let total: f64 = v.iter().map(|x| x.0).sum();
            if total > 1.0 {
                mro_reasons.insert(
                    "total_volume_fraction".to_string(),
                    format!("the per-n fractions sum to {total:.3} > 1"),
                );
            } else {
                mro_total = Some(total);
                mro_total_se = v
                    .iter()
                    .map(|x| x.1.map(|e| e * e))
                    .sum::<Option<f64>>()
                    .map(f64::sqrt);
                if mro_total_se.is_none() {
                    let without: Vec<String> = summed
                        .iter()
                        .zip(&v)
                        .filter(|(_, x)| x.1.is_none())
                        .map(|(s, _)| s.to_string())
                        .collect();
                    let why = match without.as_slice() {
                        [one] => format!(
                            "the volume fraction of n = {one} has no standard error (see its \
                             null_reasons)"
                        ),
                        [rest @ .., last] => format!(
                            "the volume fractions of n = {} and {last} have no standard error \
                             (see their null_reasons)",
                            rest.join(", ")
                        ),
                        [] => "a summed volume fraction has no standard error".to_string(),
                    };
                    mro_reasons.insert("total_volume_fraction_se".to_string(), why);
                }
            }
        }
    }
    let mean_power = full_power
        .iter()
        .map(|m| {
            let d: Vec<f64> = m.iter().copied().filter(|v| v.is_finite()).collect();
            d.iter().sum::<f64>() / d.len() as f64
        })
        .collect();
    let mro = MroResult {
        false_detection_rate: config.false_detection_rate,
        angular_transfer: ctx.ring_fourier().angular_transfer().to_vec(),
        binned_angular_transfer: binning_transfer(config.azimuth_step_deg, config.n_max),
        mean_power,
        point_response_fwhm_nm: response.point_fwhm_nm(),
        by_symmetry: mro_by_symmetry,
        total_volume_fraction: mro_total,
        total_volume_fraction_se: mro_total_se,
        null_reasons: mro_reasons,
    };
    let full_power_maps = full_power
        .into_iter()
        .map(|v| Array2::from_shape_vec(sh, v).expect("scan shape"))
        .collect();

    let result = AnalysisResult {
        schema: ANALYSIS_SCHEMA.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        input: InputInfo {
            scan_shape: scan,
            detector_shape: det,
            masked_pixels: opts
                .excluded
                .map_or(0, |m| m.iter().filter(|&&b| b).count()),
        },
        calibration: *cal,
        scan_step_nm: cal.scan_step_nm(),
        center: CenterInfo {
            calibration_px: calibration_in.center_px(),
            used_px: cal.center_px(),
            refined: config.refine_center,
        },
        // The defaults that follow other settings, at the values used.
        config: AnalysisConfig {
            radial_step_per_nm: Some(config.radial_step_per_nm.unwrap_or(cal.k_pixel_per_nm())),
            symmetries: Some(config.summed_symmetries()),
            ..config.clone()
        },
        probe: probe_info,
        ring: RingInfo {
            k_per_nm: config.k_per_nm,
            k_lo_per_nm: rings[rv].k_lo_per_nm,
            k_hi_per_nm: rings[rv].k_hi_per_nm,
            n_azimuth: plan.n_azimuth(),
            azimuth_step_deg: config.azimuth_step_deg,
        },
        variance: VarianceResult {
            peak_k_per_nm: peaks[0],
            v_r_peak_k_per_nm: peaks[1],
            peak_k_se_per_nm: peak_se.0,
            v_r_peak_k_se_per_nm: peak_se.1,
            k_per_nm: k.clone(),
            v_omega: curves.v_omega[..rv].to_vec(),
            v_r: curves.v_r[..rv].to_vec(),
            mean_intensity: curves.mean_intensity[..rv].to_vec(),
            v_omega_at_ring: curves.v_omega[rv],
            v_r_at_ring: curves.v_r[rv],
            poisson_gain: config.poisson_gain,
            min_electrons_per_pixel: MIN_ELECTRONS_PER_PIXEL,
            null_reasons: {
                let mut why = variance_null_reasons(&curves);
                for (field, maximum) in [
                    ("peak_k_per_nm", maxima[0]),
                    ("v_r_peak_k_per_nm", maxima[1]),
                ] {
                    if let Some(m) = maximum.filter(|&m| !inside(&k, m)) {
                        why.insert(
                            field.to_string(),
                            format!(
                                "the curve is largest at the edge of the k range ({m:.2} nm⁻¹), \
                                 not at a peak inside it"
                            ),
                        );
                    }
                }
                for (field, peak, se) in [
                    ("peak_k_se_per_nm", peaks[0], peak_se.0),
                    ("v_r_peak_k_se_per_nm", peaks[1], peak_se.1),
                ] {
                    if peak.is_some() && se.is_none() {
                        why.insert(
                            field.to_string(),
                            "fewer than two 8 × 8-pixel scan blocks to resample: no standard error"
                                .to_string(),
                        );
                    }
                }
                why
            },
        },
        power_spectrum: PowerSpectrumResult {
            k_per_nm: config.k_per_nm,
            n: (0..h).collect(),
            odd_even_ratio: odd_even_ratio(&mean_p),
            poisson_floor: floor,
            odd_even_ratio_corrected: odd_even_ratio(&corrected),
            mean: mean_p,
            versus_k_per_nm: k,
            versus_k,
        },
        by_symmetry,
        summed_symmetries: summed,
        total_volume_fraction,
        integrated_map_volume_fraction: integrated_map.volume_fraction,
        null_reasons: whole_reasons,
        integrated_map,
        mro: Some(mro),
        provenance: None,
    };
    AnalysisOutput {
        result,
        maps: AnalysisMaps {
            mean_intensity,
            v2d,
            v2d_raw,
            power,
            normalized_sum,
            labels,
            integrated_labels,
            full_power: full_power_maps,
            mro_labels,
        },
    }
}

/// The reasons of [`VarianceCurves`] keyed by `analysis.json` field: rings `0..rv` are the
/// curve (`v_omega[i]`, `v_r[i]`), the last ring is the analysis ring (`*_at_ring`).
fn variance_null_reasons(curves: &VarianceCurves) -> BTreeMap<String, String> {
    let rv = curves.v_omega.len() - 1;
    let key = |name: &str, i: usize| {
        if i == rv {
            format!("{name}_at_ring")
        } else {
            format!("{name}[{i}]")
        }
    };
    let mut out = BTreeMap::new();
    for (name, reasons) in [
        ("v_omega", &curves.v_omega_reason),
        ("v_r", &curves.v_r_reason),
    ] {
        for (i, why) in reasons.iter().enumerate() {
            if let Some(why) = why {
                out.insert(key(name, i), why.clone());
            }
        }
    }
    out
}

/// Half-side of the scan window whose mean `I_0` normalises the full-resolution P_n.
const I0_WINDOW_HALF: usize = 2;

/// Re-normalises the full-resolution P_n (and their noise powers) of each pattern by the mean
/// `I_0` of the `(2·I0_WINDOW_HALF + 1)²` scan window around it instead of its own `I_0`, and
/// returns the factor applied to each pattern, `(I_0 / window mean)²` (NaN where undefined).
///
/// Why: at low dose the shot noise of a pattern's own `I_0` biases the ratio `|I_n|²/I_0²`
/// by about `3g/I_0` (25 % at 12 counts on the ring), which no correction of the numerator
/// removes; the window mean has 25 times the counts. And a cluster raises its patterns' ring
/// intensity, which its own `I_0` would divide out: on the validation scenarios own-`I_0`
/// normalisation found 2 of 24 aligned 4-fold clusters where the window finds 15–23. The cost
/// is that the ring's own speckle (the fluctuation of `I_0` between neighbouring patterns, ~1/√M
/// for M speckles on the ring) enters the map through the factor: the map is a mixture of
/// exponentials of different scales with a heavy tail, which the null of
/// [`crate::significance`] takes from these factors. Patterns with an undefined P_n are left
/// out of the window means and stay undefined.
///
/// The window still holds a cluster's own brightness, and a neighbour's: it widens bright
/// clusters' regions ([`crate::size_model`], "Known limits") and hides some clusters that
/// overlap one of another n in projection ([`crate::mro_estimator`]). A 15 × 15 window, tried, finds
/// more of those but leaves the size model's diameters 15 % small; it is not used.
fn local_normalisation(
    power: &mut [Vec<f64>],
    noise: &mut [Vec<f64>],
    i0: &[f64],
    scan: [usize; 2],
) -> Vec<f64> {
    let [ny, nx] = scan;
    let w = I0_WINDOW_HALF;
    let defined = |p: usize| power.get(1).map_or(true, |m| m[p].is_finite()) && i0[p] > 0.0;
    let scale: Vec<f64> = (0..ny * nx)
        .map(|p| {
            if !defined(p) {
                return f64::NAN;
            }
            let (y, x) = (p / nx, p % nx);
            let (mut s, mut c) = (0.0, 0usize);
            for yy in y.saturating_sub(w)..(y + w + 1).min(ny) {
                for xx in x.saturating_sub(w)..(x + w + 1).min(nx) {
                    let q = yy * nx + xx;
                    if defined(q) {
                        s += i0[q];
                        c += 1;
                    }
                }
            }
            (i0[p] / (s / c as f64)).powi(2)
        })
        .collect();
    for m in power.iter_mut().skip(1).chain(noise.iter_mut().skip(1)) {
        for (v, f) in m.iter_mut().zip(&scale) {
            *v *= f;
        }
    }
    scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn geometry(supersample: usize, center_px: [f64; 2]) -> PolarGeometry {
        PolarGeometry {
            detector_shape: [64, 48],
            center_px,
            k_pixel_per_nm: 0.16,
            rings: Vec::new(),
            n_azimuth: 36,
            supersample,
        }
    }

    /// Every sub-pixel centre binned as the polar plan bins it (`g.rings` holds the ring):
    /// the oracle for [`holds_subpixel`].
    fn brute_force(g: &PolarGeometry) -> bool {
        let s = g.supersample;
        let [ny, nx] = g.detector_shape;
        (0..ny * s).any(|my| {
            (0..nx * s).any(|mx| {
                let y = (my as f64 + 0.5) / s as f64 - 0.5;
                let x = (mx as f64 + 0.5) / s as f64 - 0.5;
                g.bins_of(y, x).next().is_some()
            })
        })
    }

    proptest! {
        /// The row-by-row test agrees with trying every sub-pixel, for narrow rings anywhere
        /// on the detector, any supersampling and off-pixel centres.
        #[test]
        fn holds_subpixel_matches_every_subpixel_tried(
            supersample in 1usize..=3,
            cy in 28.0f64..36.0,
            cx in 20.0f64..28.0,
            k in 0.0f64..3.5,
            width in 0.0005f64..0.1,
        ) {
            let mut g = geometry(supersample, [cy, cx]);
            let ring = Ring { k_lo_per_nm: k, k_hi_per_nm: k + width };
            g.rings = vec![ring];
            prop_assert_eq!(holds_subpixel(&g, &ring), brute_force(&g));
        }
    }

    /// One sub-pixel per pixel and one-pixel V(k) steps plan (the rings are narrower than the
    /// √2 pitches that always hold a sub-pixel, but each holds some); a step far below the
    /// sub-pixel pitch is refused naming the key, the ring and the pitch.
    #[test]
    fn narrow_rings_are_refused_only_when_empty() {
        let g = geometry(1, [32.0, 24.0]);
        let config = AnalysisConfig {
            supersample: 1,
            k_max_per_nm: 3.5,
            k_per_nm: 3.0,
            ..AnalysisConfig::default()
        };
        assert!(rings_on_detector(&config, &g).is_ok());
        let fine = AnalysisConfig {
            radial_step_per_nm: Some(0.001),
            ..config
        };
        let e = rings_on_detector(&fine, &g).unwrap_err().to_string();
        assert!(
            e.contains("analysis.radial_step_per_nm")
                && e.contains("holds none")
                && e.contains("pitch k_pixel_per_nm / supersample = 0.1600"),
            "{e}"
        );
    }
}
