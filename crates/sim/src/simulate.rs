//! The scan driver: probe positions over the periodic volume, in parallel, streamed row by row.
//!
//! Probe position `(iy, ix)` sits at specimen coordinates `(y, x) = (iy·step, ix·step)` nm
//! (wrapped periodically). Scan rows are processed in blocks: for each block the driver builds
//! the field (projected potential, slice potentials or transmission functions) once over the
//! strip of specimen the block's windows need, sized to stay within
//! [`ForwardOptions::field_budget_bytes`], then computes the block's rows one at a time with
//! every position of a row in parallel (rayon) and hands each finished row to the caller's sink
//! in order. A finite source applied as a blur of the scan images ([`ScanBlur`]) needs the
//! whole scan first: then every noiseless pattern is kept, blurred, and only then recorded and
//! handed over. Noise for position `(iy, ix)` comes from the seed stream `"noise"` with index
//! `iy·N_x + ix`, frozen-phonon displacements from `"phonons"` with the configuration index,
//! so results are bit-identical at any thread count.
//!
//! ```no_run
//! use mro_core::{npy::NpyWriter, Seeds};
//! use mro_sim::simulate::{simulate, ForwardOptions};
//! use mro_sim::spec::{DetectorSpec, MicroscopeSpec, ModelSpec, ScanSpec};
//! # fn run(atoms: &mro_sim::AtomVolume) -> Result<(), Box<dyn std::error::Error>> {
//! let (m, s, d, model) = (MicroscopeSpec::default(), ScanSpec::default(),
//!                         DetectorSpec::default(), ModelSpec::default());
//! let shape = [s.points[0], s.points[1], d.pixels[0], d.pixels[1]];
//! let mut writer = NpyWriter::create("datacube.npy".as_ref(), &shape)?;
//! let calibration = simulate(
//!     atoms, &m, &s, &d, &model, Seeds::new(2018), &ForwardOptions::default(),
//!     |_row, values| writer.write(values).map_err(Into::into),
//!     |p| eprintln!("{}/{}", p.done_positions, p.total_positions),
//! )?;
//! writer.finish()?;
//! # let _ = calibration; Ok(()) }
//! ```

use std::sync::{Arc, Mutex};

use mro_core::{Calibration, CalibrationError, InvalidValue, Seeds};
use rand::Rng;
use rayon::prelude::*;

use crate::atoms::AtomVolume;
use crate::coherence::PartialCoherence;
use crate::detector::Detector;
use crate::fft2::next_fast_len;
use crate::potential::{FieldGrid, FieldKind, PotentialBuilder, Slicing, ThermalModel};
use crate::propagation::{
    model as make_model, probe_tail_estimate, DiffractionPlan, Propagation, Scratch,
    WindowPlacement,
};
use crate::scan_blur::ScanBlur;
use crate::scattering::ScatteringFactor;
use crate::spec::{DetectorSpec, MicroscopeSpec, ModelSpec, ScanSpec};
use crate::tail::TailBackground;

/// Extra specimen around every window in the field, in nm: potential tails of atoms outside
/// the window and the periodic wrap of the field's FFT stay out of every window.
pub const FIELD_MARGIN_NM: f64 = 1.0;

/// Largest weight the probe-tail background may take: beyond it the window no longer holds
/// the probe and the background would be most of every pattern.
const TAIL_BACKGROUND_MAX: f64 = 0.5;

/// The weight f of the probe-tail background `model` gives on `plan`'s window: 0 when
/// `probe_tail_background` is off, else [`DiffractionPlan::tail_background_fraction`] capped
/// at [`TAIL_BACKGROUND_MAX`].
///
/// With a focal spread, the weight is averaged over its defocus nodes, each with its own plan
/// (a node defocused beyond the window lacks more of its probe), as the patterns are:
/// `node_plans` are [`defocus_plans`].
fn tail_background_weight(model: &ModelSpec, node_plans: &[(Arc<DiffractionPlan>, f64)]) -> f64 {
    if !model.probe_tail_background {
        return 0.0;
    }
    let fraction: f64 = node_plans
        .iter()
        .map(|(p, w)| w * p.tail_background_fraction())
        .sum();
    fraction.min(TAIL_BACKGROUND_MAX)
}

/// One plan per defocus node of `coherence` with its weight: `plan` itself when there is one
/// node, else a plan per node whose probe carries the node's defocus.
fn defocus_plans(
    plan: &Arc<DiffractionPlan>,
    coherence: &PartialCoherence,
    model: &ModelSpec,
    microscope: &MicroscopeSpec,
    detector: &DetectorSpec,
    slicing: Slicing,
) -> Vec<(Arc<DiffractionPlan>, f64)> {
    if coherence.defocus.len() == 1 {
        return vec![(plan.clone(), 1.0)];
    }
    coherence
        .defocus
        .iter()
        .map(|&(offset, w)| {
            let m = MicroscopeSpec {
                defocus_nm: microscope.defocus_nm + offset,
                ..microscope.clone()
            };
            let p = DiffractionPlan::for_model(model, &m, detector, slicing);
            (Arc::new(p), w)
        })
        .collect()
}

/// Errors of the forward model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A scenario value is out of range.
    #[error("[{section}] {source}")]
    Invalid {
        /// Scenario section, e.g. `"detector"`.
        section: &'static str,
        /// The offending value.
        source: InvalidValue,
    },
    /// An atom's element has no scattering factor.
    #[error("atom {index} has atomic number {z}, which has no scattering factor (Z = 1–103)")]
    UnknownElement {
        /// Index of the first such atom.
        index: usize,
        /// Its atomic number.
        z: u8,
    },
    /// The atom volume has no thickness or lateral extent.
    #[error("atom volume extent {extent_nm:?} nm: every side must be positive")]
    EmptyVolume {
        /// The volume's extent.
        extent_nm: [f64; 3],
    },
    /// The detector does not reach beyond the bright-field disk, so no window fits.
    #[error(
        "detector half-width {half_width_per_nm} nm⁻¹ does not exceed the probe aperture \
         radius {aperture_per_nm} nm⁻¹: use more pixels or larger ones"
    )]
    DetectorTooSmall {
        /// Half the detector's width in nm⁻¹ (smaller axis).
        half_width_per_nm: f64,
        /// Aperture radius α/λ in nm⁻¹.
        aperture_per_nm: f64,
    },
    /// The calibration could not be formed.
    #[error(transparent)]
    Calibration(#[from] CalibrationError),
    /// A whole-atom potential (multislice with `absorb_beyond_band_limit`) does not converge
    /// at the scenario's band limit and voltage.
    #[error("[model] {0}")]
    WholeAtom(#[from] crate::eikonal::NotConverged),
    /// The caller's sink refused a row.
    #[error("writing scan row {row} failed: {source}")]
    Sink {
        /// Scan row index.
        row: usize,
        /// The sink's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Settings of the forward model beyond the scenario sections.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardOptions {
    /// Thermal vibration model (default: static atoms).
    pub thermal: ThermalModel,
    /// Upper bound in bytes for one block's field (slices over a strip of the specimen).
    pub field_budget_bytes: usize,
    /// Frozen phonons only: one-axis rms displacement in nm per atomic number, overriding the
    /// model's single `u_rms_nm` for the elements listed ([`crate::thermal`]).
    pub u_rms_nm_by_z: Vec<(u8, f64)>,
    /// Upper bound in bytes for the whole noiseless datacube (f64) that a finite source is
    /// blurred in ([`ScanBlur`]); a larger one sums the source by quadrature instead.
    pub scan_blur_budget_bytes: usize,
}

impl Default for ForwardOptions {
    fn default() -> Self {
        Self {
            thermal: ThermalModel::Static,
            field_budget_bytes: 1 << 30,
            u_rms_nm_by_z: Vec::new(),
            scan_blur_budget_bytes: 4 << 30,
        }
    }
}

/// Progress report after each scan row (and frozen-phonon configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Probe positions done (counting each frozen-phonon configuration).
    pub done_positions: usize,
    /// Probe positions in the whole job.
    pub total_positions: usize,
}

/// The calibration of the datacube [`simulate`] produces: detector pixel, scan step, pattern
/// centre `[N_y/2, N_x/2]`, voltage, semiangle and foil thickness.
pub fn calibration(
    microscope: &MicroscopeSpec,
    scan: &ScanSpec,
    detector: &DetectorSpec,
    thickness_nm: f64,
) -> Result<Calibration, SimError> {
    Ok(Calibration::new(
        detector.k_pixel_per_nm,
        scan.step_nm,
        [
            (detector.pixels[0] / 2) as f64,
            (detector.pixels[1] / 2) as f64,
        ],
        microscope.voltage_kv,
        microscope.semiangle_mrad,
        Some(thickness_nm),
    )?)
}

/// The numerical grid a simulation uses, for provenance (`meta.json`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ForwardGrid {
    /// Per-probe window side L in nm (= m/Δk of the detector).
    pub window_nm: f64,
    /// Window side N in pixels.
    pub window_points: usize,
    /// Window pixels per detector pixel along each axis, m (each detector pixel integrates
    /// m × m of them).
    pub window_oversampling: usize,
    /// Fraction of the probe's intensity beyond L/2 from its centre, which the periodic window
    /// folds back (estimated, defocus included: [`crate::propagation::probe_tail_estimate`]).
    pub probe_tail_fraction: f64,
    /// Weight f of the probe-tail background in every pattern, (1 − f)·I + f·B
    /// ([`crate::tail`], [`DiffractionPlan::tail_background_fraction`]); 0 when
    /// `probe_tail_background` is off.
    pub tail_background_fraction: f64,
    /// Real-space pixel Δx = L/N in nm.
    pub dx_nm: f64,
    /// Band limit of the potential (and the multislice wave) in nm⁻¹.
    pub band_limit_per_nm: f64,
    /// Number of slices.
    pub slices: usize,
    /// Slice thickness in nm.
    pub slice_nm: f64,
    /// rms focal spread Δ in nm ([`crate::coherence::focal_spread_rms_nm`]).
    pub focal_spread_rms_nm: f64,
    /// Defocus nodes each pattern sums over: 1 when the focal spread changes the patterns by
    /// less than the quadrature's 10⁻³ and is not applied ([`crate::coherence`]).
    pub defocus_nodes: usize,
    /// Source positions each pattern sums over (a product rule: the square of the nodes per
    /// axis); 1 for a point source, or when the source is applied as a blur of the scan
    /// images.
    pub source_nodes: usize,
    /// Whether a finite source is applied exactly as a Gaussian blur of every detector pixel's
    /// scan image ([`ScanBlur`]) instead of by quadrature.
    pub source_by_scan_blur: bool,
}

/// The grid [`simulate`] would use for a periodic box of `extent_nm` (`[x, y, thickness]`)
/// scanned by `scan` with these settings (`options` for the blur budget).
///
/// # Errors
/// [`SimError::Invalid`] for an out-of-range model, microscope or detector value (a band
/// limit below the detector edge among them), [`SimError::DetectorTooSmall`].
pub fn forward_grid(
    microscope: &MicroscopeSpec,
    scan: &ScanSpec,
    detector: &DetectorSpec,
    model: &ModelSpec,
    extent_nm: [f64; 3],
    options: &ForwardOptions,
) -> Result<ForwardGrid, SimError> {
    let thickness_nm = extent_nm[2];
    let plan = checked_plan(microscope, detector, model, thickness_nm)?;
    let slicing = Slicing::new(thickness_nm, model.slice_nm);
    let blur = ScanBlur::for_scan(
        microscope,
        model,
        detector,
        scan,
        [extent_nm[0], extent_nm[1]],
        options.scan_blur_budget_bytes,
    );
    let coherence = PartialCoherence::from_microscope(microscope);
    let node_plans = defocus_plans(&plan, &coherence, model, microscope, detector, slicing);
    let projected = model.kind == crate::spec::ModelKind::Kinematic;
    Ok(ForwardGrid {
        window_nm: plan.window_nm(),
        window_points: plan.window_points(),
        window_oversampling: plan.oversampling(),
        probe_tail_fraction: probe_tail_estimate(microscope, 0.5 * plan.window_nm()),
        tail_background_fraction: tail_background_weight(model, &node_plans),
        dx_nm: plan.dx_nm(),
        band_limit_per_nm: plan.band_limit_per_nm(),
        // The kinematic model projects the whole foil: one slice.
        slices: if projected { 1 } else { slicing.count },
        slice_nm: if projected {
            thickness_nm
        } else {
            slicing.slice_nm
        },
        focal_spread_rms_nm: coherence.focal_spread_rms_nm,
        defocus_nodes: coherence.defocus.len(),
        source_nodes: if blur.is_ok() {
            1
        } else {
            coherence.source.len()
        },
        source_by_scan_blur: blur.is_ok(),
    })
}

/// Checks before any work what [`simulate`] would otherwise find only once it starts: that the
/// whole-atom potential ([`crate::eikonal`]) of every element in `zs` (atomic numbers) converges
/// at the band limit of a `thickness_nm` foil, where the model needs it (multislice absorbing
/// beyond the band limit; other models pass). Without a Debye–Waller factor, as a scenario
/// images (frozen phonons displace the atoms instead).
///
/// # Errors
/// As [`forward_grid`] for the settings; [`SimError::UnknownElement`] for a `zs` entry without
/// scattering factors (index into `zs`); [`SimError::WholeAtom`] for the first element that
/// does not converge.
pub fn check_whole_atoms(
    microscope: &MicroscopeSpec,
    detector: &DetectorSpec,
    model: &ModelSpec,
    thickness_nm: f64,
    zs: &[u8],
) -> Result<(), SimError> {
    let plan = checked_plan(microscope, detector, model, thickness_nm)?;
    let band_limit_per_nm = plan.band_limit_per_nm();
    if let FieldKind::Transmissions {
        sigma_rad_per_v_nm,
        absorb_beyond_band_limit: true,
    } = make_model(model, plan).field_kind()
    {
        // Each (element, band limit, σ) is tried once per process: a sweep checks every point.
        type Tried = Vec<((u8, u64, u64), Result<(), crate::eikonal::NotConverged>)>;
        static TRIED: Mutex<Tried> = Mutex::new(Vec::new());
        for (index, &z) in zs.iter().enumerate() {
            let key = (z, band_limit_per_nm.to_bits(), sigma_rad_per_v_nm.to_bits());
            let known = TRIED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, r)| r.clone());
            let result = match known {
                Some(r) => r,
                None => {
                    let factor =
                        ScatteringFactor::for_z(z).ok_or(SimError::UnknownElement { index, z })?;
                    let r = crate::eikonal::EikonalAtom::try_new(
                        &factor,
                        band_limit_per_nm,
                        0.0,
                        sigma_rad_per_v_nm,
                    )
                    .map(|_| ());
                    TRIED
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((key, r.clone()));
                    r
                }
            };
            result?;
        }
    }
    Ok(())
}

/// The propagation plan for a `thickness_nm` foil, after checking the settings.
///
/// # Errors
/// As [`forward_grid`].
fn checked_plan(
    microscope: &MicroscopeSpec,
    detector: &DetectorSpec,
    model: &ModelSpec,
    thickness_nm: f64,
) -> Result<Arc<DiffractionPlan>, SimError> {
    let inv = |section| move |source| SimError::Invalid { section, source };
    microscope.validate().map_err(inv("microscope"))?;
    detector.validate().map_err(inv("detector"))?;
    model.validate().map_err(inv("model"))?;
    check_detector_reach(microscope, detector)?;
    // The plan expects a band limit at or above the detector edge.
    model
        .band_limit_for(detector, thickness_nm)
        .map_err(inv("model"))?;
    let slicing = Slicing::new(thickness_nm, model.slice_nm);
    Ok(Arc::new(DiffractionPlan::for_model(
        model, microscope, detector, slicing,
    )))
}

/// [`SimError::DetectorTooSmall`] unless the detector reaches 1.5× beyond the aperture.
fn check_detector_reach(
    microscope: &MicroscopeSpec,
    detector: &DetectorSpec,
) -> Result<(), SimError> {
    let half_width_per_nm =
        (detector.pixels[0].min(detector.pixels[1]) / 2) as f64 * detector.k_pixel_per_nm;
    let aperture_per_nm = crate::probe::ProbeSpec::from_microscope(microscope).aperture_per_nm;
    if half_width_per_nm <= 1.5 * aperture_per_nm {
        return Err(SimError::DetectorTooSmall {
            half_width_per_nm,
            aperture_per_nm,
        });
    }
    Ok(())
}

/// What one pattern works in: the propagation scratch, its intensities, and the partial sums of
/// partially coherent patterns.
type PatternWork = (Scratch, Vec<f64>, Vec<f64>);

/// Simulates the datacube `[scan_y, scan_x, det_y, det_x]` of `atoms` and streams it.
///
/// `sink(row, values)` receives scan rows in order, `values` holding `scan_x × det_y × det_x`
/// float32 counts in C order (append them to an [`mro_core::NpyWriter`]); `progress` is called
/// after every row. Returns the [`Calibration`] for `meta.json`. The foil thickness is
/// `atoms.extent_nm[2]`.
#[allow(clippy::too_many_arguments)]
pub fn simulate<S, P>(
    atoms: &AtomVolume,
    microscope: &MicroscopeSpec,
    scan: &ScanSpec,
    detector: &DetectorSpec,
    model: &ModelSpec,
    seeds: Seeds,
    options: &ForwardOptions,
    mut sink: S,
    mut progress: P,
) -> Result<Calibration, SimError>
where
    S: FnMut(usize, &[f32]) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
    P: FnMut(Progress),
{
    let inv = |section| move |source| SimError::Invalid { section, source };
    microscope.validate().map_err(inv("microscope"))?;
    scan.validate().map_err(inv("scan"))?;
    detector.validate().map_err(inv("detector"))?;
    model.validate().map_err(inv("model"))?;
    // Frozen phonons displace copies of the volume per configuration (`frozen` below).
    let (dw_u, configs, fp_u) = match options.thermal {
        ThermalModel::Static => (0.0, 1, 0.0),
        ThermalModel::DebyeWaller { u_rms_nm } => {
            mro_core::check::in_range("thermal.u_rms_nm", u_rms_nm, 0.0, 0.1, " nm")
                .map_err(inv("model"))?;
            (u_rms_nm, 1, 0.0)
        }
        ThermalModel::FrozenPhonon {
            u_rms_nm,
            configurations,
        } => {
            mro_core::check::in_range("thermal.u_rms_nm", u_rms_nm, 0.0, 0.1, " nm")
                .map_err(inv("model"))?;
            mro_core::check::count_in("thermal.configurations", configurations, 1, 1000)
                .map_err(inv("model"))?;
            (0.0, configurations, u_rms_nm)
        }
    };
    for &(z, u) in &options.u_rms_nm_by_z {
        mro_core::check::in_range(&format!("thermal.u_rms_nm[Z={z}]"), u, 0.0, 0.1, " nm")
            .map_err(inv("model"))?;
    }
    let u_of = |z: u8| {
        options
            .u_rms_nm_by_z
            .iter()
            .find(|p| p.0 == z)
            .map_or(fp_u, |p| p.1)
    };
    let frozen = matches!(options.thermal, ThermalModel::FrozenPhonon { .. })
        && (fp_u > 0.0 || options.u_rms_nm_by_z.iter().any(|p| p.1 > 0.0));
    let ext = atoms.extent_nm;
    if !ext.iter().all(|e| e.is_finite() && *e > 0.0) {
        return Err(SimError::EmptyVolume { extent_nm: ext });
    }
    let mut zs: Vec<u8> = Vec::new();
    for (index, &z) in atoms.atomic_numbers.iter().enumerate() {
        if !zs.contains(&z) {
            if ScatteringFactor::for_z(z).is_none() {
                return Err(SimError::UnknownElement { index, z });
            }
            zs.push(z);
        }
    }
    check_detector_reach(microscope, detector)?;
    let thickness = ext[2];
    let cal = calibration(microscope, scan, detector, thickness)?;

    // The plan expects a band limit at or above the detector edge.
    model
        .band_limit_for(detector, thickness)
        .map_err(inv("model"))?;
    let slicing = Slicing::new(thickness, model.slice_nm);
    let plan = Arc::new(DiffractionPlan::for_model(
        model, microscope, detector, slicing,
    ));
    let prop = make_model(model, plan.clone());
    let kind = prop.field_kind();
    let (dx, window) = (plan.dx_nm(), plan.window_nm());
    let [sy, sx] = scan.points;
    let step = scan.step_nm;
    let ndet = plan.detector_len();
    // Partial coherence: one model per focal-spread node (its plan's probe carries the
    // defocus), patterns summed over those and over source offsets, or, where that is exact,
    // the source applied afterwards as a blur of the scan images (the whole scan accumulated
    // first).
    let mut coherence = PartialCoherence::from_microscope(microscope);
    let blur = ScanBlur::for_scan(
        microscope,
        model,
        detector,
        scan,
        [ext[0], ext[1]],
        options.scan_blur_budget_bytes,
    )
    .ok();
    if blur.is_some() {
        coherence.source = vec![([0.0; 2], 1.0)];
    }
    let node_plans = defocus_plans(&plan, &coherence, model, microscope, detector, slicing);
    let defocus_models: Vec<(Box<dyn Propagation>, f64)> = if coherence.is_coherent() {
        Vec::new()
    } else {
        node_plans
            .iter()
            .map(|(p, w)| (make_model(model, p.clone()), *w))
            .collect()
    };

    // Field geometry: full scan width, a block of rows high.
    let pad = 0.5 * window + FIELD_MARGIN_NM + coherence.max_source_offset_nm();
    let x_lo = -pad;
    let width_px = next_fast_len((((sx - 1) as f64 * step + 2.0 * pad) / dx).ceil() as usize + 1);
    let bytes_per_px = match kind {
        FieldKind::Projected => 4,
        FieldKind::SlicePotentials => 4 * slicing.count,
        FieldKind::Transmissions { .. } => 8 * slicing.count,
    };
    let rows_for_budget = {
        let h_px = options.field_budget_bytes / (width_px * bytes_per_px).max(1);
        let h_nm = h_px as f64 * dx / 1.05 - 2.0 * pad - 2.0 * dx;
        ((h_nm / step).floor() as isize + 1).max(1) as usize
    };
    // Patterns are accumulated before the detector sees them: over frozen-phonon configurations
    // a block at a time, or over the whole scan for the source blur.
    let accumulate = configs > 1 || blur.is_some();
    let acc_rows = if configs > 1 && blur.is_none() {
        (options.field_budget_bytes / (8 * sx * ndet)).max(1)
    } else {
        usize::MAX
    };
    let block_rows = rows_for_budget.min(acc_rows).min(sy);
    let height_px =
        next_fast_len((((block_rows - 1) as f64 * step + 2.0 * pad) / dx).ceil() as usize + 1);
    let grid0 = FieldGrid {
        origin_nm: [0.0, x_lo],
        points: [height_px, width_px],
        dx_nm: dx,
    };
    let mut builder = PotentialBuilder::with_band_limit(grid0, &zs, dw_u, plan.band_limit_per_nm());
    if let FieldKind::Transmissions {
        sigma_rad_per_v_nm,
        absorb_beyond_band_limit: true,
    } = kind
    {
        builder.prepare_whole_atoms(sigma_rad_per_v_nm)?;
    }
    let det = Detector::from_spec(detector);
    // What the window's probe lacks as a background, learnt from the first scan row; none when
    // it lacks nothing (a point-sampled aperture in focus).
    let tail_fraction = tail_background_weight(model, &node_plans);
    let mut tail = (tail_fraction > 0.0)
        .then(|| TailBackground::new(tail_fraction, detector.pixels, cal.center_px()));
    let total = sy * sx * configs;
    let mut done = 0;
    let mut row_out = vec![0f32; sx * ndet];
    let mut acc: Vec<f64> = if blur.is_some() {
        vec![0.0; sy * sx * ndet]
    } else {
        Vec::new()
    };
    // The scan row that `acc` starts at: the block's, or 0 for the whole scan.
    let acc_first_row = |block_start: usize| if blur.is_some() { 0 } else { block_start };
    let mut displaced = AtomVolume::default();
    // Per-pattern working memory (a `Scratch` holds several N² windows, ~10 MB at N = 576),
    // one per worker thread for the whole scan, made on its first use: rayon's `for_each_init`
    // would make one per work split, several per scan row, and zeroing them cost ~5 % of a
    // kinematic run. No result depends on what a scratch held before. Should a thread find its
    // own scratch taken (a pattern that waited inside rayon and was given another position),
    // it works in a new one.
    let new_work = || (plan.scratch(), vec![0f64; ndet], Vec::new());
    let pool: Vec<Mutex<Option<PatternWork>>> = (0..rayon::current_num_threads())
        .map(|_| Mutex::new(None))
        .collect();
    let with_work = |f: &mut dyn FnMut(&mut PatternWork)| {
        let i = rayon::current_thread_index().unwrap_or(0) % pool.len();
        match pool[i].try_lock() {
            Ok(mut slot) => f(slot.get_or_insert_with(new_work)),
            Err(_) => f(&mut new_work()),
        }
    };

    for block_start in (0..sy).step_by(block_rows) {
        let block_end = (block_start + block_rows).min(sy);
        let origin = [block_start as f64 * step - pad, x_lo];
        builder.set_origin(origin);
        if accumulate && blur.is_none() {
            acc.clear();
            acc.resize((block_end - block_start) * sx * ndet, 0.0);
        }
        for cfg in 0..configs {
            let source = if frozen {
                displace(
                    atoms,
                    u_of,
                    &mut seeds.substream("phonons", cfg as u64),
                    &mut displaced,
                );
                &displaced
            } else {
                atoms
            };
            let field = builder.build(source, &slicing, kind);
            for row in block_start..block_end {
                let place = |ix: usize, offset_nm: [f64; 2]| {
                    let r = [
                        row as f64 * step + offset_nm[0],
                        ix as f64 * step + offset_nm[1],
                    ];
                    let p = [
                        ((r[0] - 0.5 * window - origin[0]) / dx).round() as usize,
                        ((r[1] - 0.5 * window - origin[1]) / dx).round() as usize,
                    ];
                    WindowPlacement {
                        origin_px: p,
                        center_nm: [
                            r[0] - (origin[0] + p[0] as f64 * dx),
                            r[1] - (origin[1] + p[1] as f64 * dx),
                        ],
                    }
                };
                let prop: &dyn Propagation = &*prop;
                let field = &field;
                let (coherence, defocus_models) = (&coherence, &defocus_models);
                // |Ψ|² at scan position ix: coherent, or the incoherent sum over focal-spread
                // and source nodes (`tmp` holds each term).
                let pattern = |ix: usize, s: &mut Scratch, tmp: &mut Vec<f64>, out: &mut [f64]| {
                    if defocus_models.is_empty() {
                        prop.pattern(field, place(ix, [0.0, 0.0]), s, out);
                        return;
                    }
                    tmp.resize(out.len(), 0.0);
                    out.fill(0.0);
                    for (m, wd) in defocus_models {
                        for &(offset, ws) in &coherence.source {
                            m.pattern(field, place(ix, offset), s, tmp);
                            for (o, t) in out.iter_mut().zip(tmp.iter()) {
                                *o += wd * ws * t;
                            }
                        }
                    }
                };
                if !accumulate && tail.as_ref().is_some_and(TailBackground::needs_learning) {
                    // The first row: all its patterns first, to learn the tail's background.
                    let mut first_row = vec![0f64; sx * ndet];
                    first_row
                        .par_chunks_mut(ndet)
                        .enumerate()
                        .for_each(|(ix, out)| {
                            with_work(&mut |(s, _, tmp)| pattern(ix, s, tmp, out));
                        });
                    let learnt = tail.as_mut().expect("tail background");
                    learnt.learn(&first_row);
                    let learnt = &*learnt;
                    row_out
                        .par_chunks_mut(ndet)
                        .zip(first_row.par_chunks_mut(ndet))
                        .enumerate()
                        .for_each(|(ix, (out, intensity))| {
                            learnt.apply(intensity);
                            let mut rng = seeds.substream("noise", (row * sx + ix) as u64);
                            det.record(intensity, &mut rng, out);
                        });
                } else if !accumulate {
                    let tail = tail.as_ref();
                    row_out
                        .par_chunks_mut(ndet)
                        .enumerate()
                        .for_each(|(ix, out)| {
                            with_work(&mut |(s, intensity, tmp)| {
                                pattern(ix, s, tmp, intensity);
                                if let Some(t) = tail {
                                    t.apply(intensity);
                                }
                                let mut rng = seeds.substream("noise", (row * sx + ix) as u64);
                                det.record(intensity, &mut rng, out);
                            });
                        });
                } else {
                    let off = (row - acc_first_row(block_start)) * sx * ndet;
                    acc[off..off + sx * ndet]
                        .par_chunks_mut(ndet)
                        .enumerate()
                        .for_each(|(ix, acc)| {
                            with_work(&mut |(s, intensity, tmp)| {
                                pattern(ix, s, tmp, intensity);
                                for (a, i) in acc.iter_mut().zip(intensity.iter()) {
                                    *a += i / configs as f64;
                                }
                            });
                        });
                }
                done += sx;
                if !accumulate {
                    sink(row, &row_out).map_err(|source| SimError::Sink { row, source })?;
                }
                progress(Progress {
                    done_positions: done,
                    total_positions: total,
                });
            }
        }
        // Accumulated rows go to the detector once complete: the block's, or, for the source
        // blur, the whole scan's after its last block, blurred first.
        let complete = match blur {
            Some(_) if block_end < sy => None,
            Some(_) => Some(0..sy),
            None => accumulate.then_some(block_start..block_end),
        };
        if let Some(rows) = complete {
            if let Some(b) = blur {
                b.apply(&mut acc, [sy, sx], ndet);
            }
            record_rows(
                &mut acc,
                rows,
                ndet,
                &mut tail,
                &det,
                &seeds,
                &mut row_out,
                &mut sink,
            )?;
        }
    }
    Ok(cal)
}

/// Hands the accumulated intensities `acc` of scan `rows` (from the first of them on) to the
/// detector and the sink, row by row: the probe-tail background learnt from the first row if
/// it is still to be learnt, then noise from the stream `"noise"` per position. Patterns have
/// `ndet` pixels.
#[allow(clippy::too_many_arguments)]
fn record_rows<S>(
    acc: &mut [f64],
    rows: std::ops::Range<usize>,
    ndet: usize,
    tail: &mut Option<TailBackground>,
    det: &Detector,
    seeds: &Seeds,
    row_out: &mut [f32],
    sink: &mut S,
) -> Result<(), SimError>
where
    S: FnMut(usize, &[f32]) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
{
    let row_len = row_out.len();
    let sx = row_len / ndet;
    if let Some(t) = tail.as_mut().filter(|t| t.needs_learning()) {
        t.learn(&acc[..row_len]);
    }
    let tail = tail.as_ref();
    for (row, intensities) in rows.zip(acc.chunks_exact_mut(row_len)) {
        row_out
            .par_chunks_mut(ndet)
            .zip(intensities.par_chunks_mut(ndet))
            .enumerate()
            .for_each(|(ix, (out, intensity))| {
                if let Some(t) = tail {
                    t.apply(intensity);
                }
                let mut rng = seeds.substream("noise", (row * sx + ix) as u64);
                det.record(intensity, &mut rng, out);
            });
        sink(row, row_out).map_err(|source| SimError::Sink { row, source })?;
    }
    Ok(())
}

/// Copies `atoms` into `out` with Gaussian displacements of rms `u_nm(Z)` per axis (z clamped
/// into the foil).
fn displace<R: Rng>(
    atoms: &AtomVolume,
    u_nm: impl Fn(u8) -> f64,
    rng: &mut R,
    out: &mut AtomVolume,
) {
    *out = AtomVolume::new(atoms.extent_nm);
    out.positions_nm.reserve(atoms.len());
    out.atomic_numbers.reserve(atoms.len());
    let mut normal = || {
        // Box–Muller.
        let u1: f64 = 1.0 - rng.gen::<f64>();
        let u2: f64 = rng.gen();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    for (p, &z) in atoms.positions_nm.iter().zip(&atoms.atomic_numbers) {
        let u = u_nm(z);
        let d = [normal() * u, normal() * u, normal() * u];
        out.push(
            [
                p[0] + d[0],
                p[1] + d[1],
                (p[2] + d[2]).clamp(0.0, atoms.extent_nm[2]),
            ],
            z,
        );
    }
}
