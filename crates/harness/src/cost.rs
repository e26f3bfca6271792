//! What a scenario will cost before it runs: atoms, datacube bytes, disk, peak memory and a
//! rough time; and the refusal of runs that cannot fit in the free disk or available memory.
//!
//! The model follows the code's allocations, with per-atom constants measured on this
//! project's runs (the figures are in the README, "Files and sizes"):
//!
//! - atoms = `number_density_per_nm3` × extent_x × extent_y × thickness (the clusters are cut
//!   from the same density);
//! - datacube = scan points × detector pixels × 4 bytes (float32) + the 128-byte `.npy` header;
//! - glass memory = [`GLASS_BYTES_PER_ATOM`] per atom (neighbour lists, relaxation buffers);
//! - simulation memory = the atoms ([`ATOM_BYTES`] each) + the potential field of one block of
//!   scan rows (bounded by `ForwardOptions::field_budget_bytes`, 1 GiB) + per-thread FFT
//!   scratch of the propagation window (N × N, as `mro_sim::propagation::DiffractionPlan`
//!   plans it from the band limit) + the whole noiseless datacube in f64 when a finite source
//!   is applied as a blur of the scan images (`mro_sim::scan_blur`);
//! - peak = the glass (or the atoms, if more) + the field + scratch + the analysis, plus
//!   [`BASE_BYTES`] for the program itself (freed heap is reused, not returned);
//! - time = a per-atom rate for the glass, and for imaging a rate per window pixel (N²) of each
//!   coherent pass (focal-spread × source nodes, one for a scan-image blur, × frozen-phonon
//!   configurations), scaled by the number of slices for Born and multislice, measured on a
//!   2-core machine — a rough figure (within a factor of two).

use std::path::Path;

use mro_sim::coherence::PartialCoherence;
use mro_sim::propagation::DiffractionPlan;
use mro_sim::scan_blur::{NoBlur, ScanBlur};
use mro_sim::spec::ModelKind;
use mro_sim::ForwardOptions;

use crate::exit::bad_input;
use crate::scenario::Scenario;

/// Memory of the program before it allocates for the scenario (binary, FFT plans, buffers).
pub const BASE_BYTES: f64 = 20e6;
/// Peak memory of the glass builder per atom, measured: the paper volume (1.81 M atoms)
/// peaks at 395 MiB (`reports/glass-performance`).
pub const GLASS_BYTES_PER_ATOM: f64 = 225.0;
/// Memory per atom while imaging (position f64×3, atomic number, the sorted copy of the block).
pub const ATOM_BYTES: f64 = 64.0;
/// Bytes per atom line of `atoms.xyz` (`Zr 123.45678 234.56789 98.76543`; measured 30.4 on the
/// smoke scenario).
const XYZ_BYTES_PER_ATOM: f64 = 31.0;
/// Field budget of the forward model (`mro_sim::ForwardOptions::default`).
const FIELD_BUDGET_BYTES: f64 = (1u64 << 30) as f64;
/// Extra specimen around every window (`mro_sim::simulate::FIELD_MARGIN_NM`).
const FIELD_MARGIN_NM: f64 = mro_sim::simulate::FIELD_MARGIN_NM;
/// Glass building, seconds per atom on 2 cores: `mro glass scenarios/paper.toml` (then the truth
/// as published, now `paper_as_published.toml`; 1.81 M atoms,
/// the placement and packing checks included) took 36.9 CPU-s, release build, 2026-11-30.
const GLASS_S_PER_ATOM: f64 = 1.02e-5;
/// Reading an atom file (`[sample] atoms`), seconds per atom: `mro check` of a 1.81 M-atom
/// extended XYZ file (58 MB) took 2.1 s wall on the shared 2-core machine under load.
const ATOM_FILE_S_PER_ATOM: f64 = 1.2e-6;
/// Imaging rates in wall seconds on 2 cores per window pixel (N²) of one coherent pass of one
/// pattern, from CPU time / 2 of `mro simulate` (release build, 2026-11-30; the paper setup
/// with a 16 × 16 nm sample and a 32 × 32 scan, glass time subtracted): kinematic 2.27 CPU-s
/// for 1024 patterns at N = 288; Born 58.0 CPU-s for 1024 patterns of 100 slices at N = 288.
const KINEMATIC_S_PER_WINDOW_PX: f64 = 1.34e-8;
/// Born, per window pixel and slice (see [`KINEMATIC_S_PER_WINDOW_PX`]).
const BORN_S_PER_WINDOW_PX_SLICE: f64 = 3.4e-9;
/// Multislice, per window pixel and slice: the paper job in multislice at the defaults of
/// 2026-12-01 (N = 768, 25 slices of 0.8 nm, 16 384 patterns) imaged in 1019 s on 2 idle cores
/// (`reports/simulate-performance.md`).
const MULTISLICE_S_PER_WINDOW_PX_SLICE: f64 = 4.2e-9;
/// The analysis, seconds per pattern pixel (paper: 0.29 s).
const ANALYSIS_S_PER_PATTERN_PX: f64 = 1.1e-9;

/// Disk and memory a scenario needs, and roughly how long it takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Atoms in the glass.
    pub atoms: f64,
    /// Bytes of `datacube.npy`.
    pub datacube_bytes: f64,
    /// Bytes of `atoms.xyz` (`mro glass` only).
    pub xyz_bytes: f64,
    /// Peak resident memory in bytes of a full run (glass, simulation, analysis).
    pub peak_memory_bytes: f64,
    /// Peak resident memory in bytes of building the glass alone.
    pub glass_memory_bytes: f64,
    /// Rough wall-clock seconds on a 2-core machine: glass, simulation, analysis (of the
    /// scenario and, with [`Cost::control`], of its no-MRO control too).
    pub seconds: [f64; 3],
    /// Whether the no-MRO control run (`validate`, `sweep`) is counted.
    pub control: bool,
    /// Whether the atoms come from a file (`[sample] atoms`): then there is no control to run.
    pub imported: bool,
    /// Whether nothing is planted ([`Scenario::plants_nothing`]): no control either.
    pub no_clusters: bool,
    /// How a finite source is applied (`Err(NoBlur::PointSource)` for a point source, or a
    /// source too small to need more than one quadrature node).
    pub source: Result<ScanBlur, NoBlur>,
    /// `microscope.source_size_nm`, FWHM in nm.
    pub source_size_nm: f64,
    /// Coherent passes per pattern for the source (1 for a point source or a blur).
    pub source_passes: usize,
}

/// Bytes of everything but the datacube that a validation writes (figures, JSON): measured
/// about 1 MB on the smoke and paper scenarios; 4 MB leaves room.
pub const SMALL_FILES_BYTES: f64 = 4e6;

impl Cost {
    /// The estimate for `scenario`, run with `threads` worker threads; with `control`, the
    /// no-MRO control of `validate` and `sweep` is counted too: the same sample without
    /// clusters (the clusters are cut from the same density, so the same atoms), imaged and
    /// analysed the same way, run after the scenario itself. It doubles the time; the peak
    /// memory is unchanged (the stages run one after the other), and so is the disk unless
    /// datacubes are kept (see [`Cost::run_disk_bytes`]).
    pub fn of(scenario: &Scenario, threads: usize, control: bool) -> Self {
        // Atoms from a file have no clusters to remove, and a glass without clusters is its own
        // control: validate runs none for them.
        let imported = scenario.imported.is_some();
        let no_clusters = scenario.plants_nothing();
        let control = control && !imported && !no_clusters;
        let s = &scenario.sample;
        let atoms = s.number_density_per_nm3 * s.extent_nm[0] * s.extent_nm[1] * s.thickness_nm;
        let [ny, nx] = scenario.scan.points;
        let [dy, dx] = scenario.detector.pixels;
        let patterns = ny as f64 * nx as f64;
        let pattern_px = dy as f64 * dx as f64;
        let datacube_bytes = patterns * pattern_px * 4.0 + 128.0;

        let glass_bytes = atoms * GLASS_BYTES_PER_ATOM;
        let slices = (s.thickness_nm / scenario.model.slice_nm).ceil().max(1.0);
        // The propagation window the forward model will plan (set by the band limit, not the
        // detector) and the coherent passes each pattern sums (focal-spread and source nodes,
        // times frozen-phonon configurations).
        // (A band limit below the detector edge, which only `check`'s own refusal sees, is
        // costed at the edge.)
        let grid = DiffractionPlan::window_points_for(
            &scenario.model,
            &scenario.microscope,
            &scenario.detector,
            s.thickness_nm,
        ) as f64;
        let coherence = PartialCoherence::from_microscope(&scenario.microscope);
        // A source blurred over the scan images costs one pass and the whole noiseless
        // datacube in f64 (`mro_sim::scan_blur`).
        let blur = ScanBlur::for_scan(
            &scenario.microscope,
            &scenario.model,
            &scenario.detector,
            &scenario.scan,
            s.extent_nm,
            ForwardOptions::default().scan_blur_budget_bytes,
        );
        let (source_passes, blur_bytes) = match blur {
            Ok(_) => (1, 8.0 * patterns * pattern_px),
            Err(_) => (coherence.source.len(), 0.0),
        };
        let passes = (coherence.defocus.len() * source_passes) as f64
            * scenario.thermal.configurations.max(1) as f64;
        // The window's reciprocal pixel: the detector's over the oversampling m.
        let dk =
            scenario.detector.k_pixel_per_nm / scenario.model.window_oversampling.max(1) as f64;
        let dx_nm = 1.0 / (grid * dk);
        let pad_nm = 0.5 / dk + FIELD_MARGIN_NM;
        let scan_nm =
            [ny, nx].map(|n| (n.max(1) - 1) as f64 * scenario.scan.step_nm + 2.0 * pad_nm);
        let bytes_per_field_px = match scenario.model.kind {
            ModelKind::Kinematic => 4.0,
            ModelKind::Born => 4.0 * slices,
            ModelKind::Multislice => 8.0 * slices,
        };
        let field_bytes = (scan_nm[0] / dx_nm * scan_nm[1] / dx_nm * bytes_per_field_px)
            .min(FIELD_BUDGET_BYTES.max(scan_nm[1] / dx_nm * bytes_per_field_px * 8.0));
        // Per thread: a few complex f64 grids of the propagation window and the pattern.
        let scratch_bytes = threads as f64 * (4.0 * 16.0 * grid * grid + 8.0 * pattern_px);
        // The analysis streams two chunks of float32 patterns and keeps per-pattern maps.
        let analysis_bytes = 2.0 * crate::runner::ANALYSIS_CHUNK_PATTERNS as f64 * pattern_px * 4.0
            + patterns * 8.0 * 32.0;
        // The stages add up: the heap the glass builder frees is not handed back to the system
        // (it holds the atoms the imaging reads), so the field, the scratch and the analysis
        // come on top of it. Measured peak resident memory against this estimate (release,
        // 2026-11-30): paper validate 516 MB (estimate 530 MB), paper simulate 457 MB; Born
        // and multislice simulate of a 16 × 16 × 20 nm sample, 32 × 32 scan: 380 MB and 1126 MB
        // (estimates 441 MB and 1166 MB). Since the 12.5 nm window (window_oversampling = 2,
        // 2026-12-01) it reads low: paper validate 737–767 MB against 568 MB, paper simulate
        // 593 / 701 / 844 MB at m = 1 / 2 / 3 against 530 / 568 / 627 MB (not yet traced).
        let peak_memory_bytes = BASE_BYTES
            + glass_bytes.max(atoms * ATOM_BYTES)
            + field_bytes
            + scratch_bytes
            + blur_bytes
            + analysis_bytes;

        let per_pattern = passes
            * grid
            * grid
            * match scenario.model.kind {
                ModelKind::Kinematic => KINEMATIC_S_PER_WINDOW_PX,
                ModelKind::Born => BORN_S_PER_WINDOW_PX_SLICE * slices,
                ModelKind::Multislice => MULTISLICE_S_PER_WINDOW_PX_SLICE * slices,
            };
        let runs = if control { 2.0 } else { 1.0 };
        Self {
            atoms,
            datacube_bytes,
            xyz_bytes: atoms * XYZ_BYTES_PER_ATOM + 200.0,
            peak_memory_bytes,
            glass_memory_bytes: BASE_BYTES + glass_bytes,
            seconds: [
                runs * atoms
                    * if imported {
                        ATOM_FILE_S_PER_ATOM
                    } else {
                        GLASS_S_PER_ATOM
                    },
                runs * patterns * per_pattern,
                runs * patterns * pattern_px * ANALYSIS_S_PER_PATTERN_PX,
            ],
            control,
            imported,
            no_clusters,
            source: blur,
            source_size_nm: scenario.microscope.source_size_nm,
            source_passes,
        }
    }

    /// Peak bytes on disk of `validate` (or a sweep point): each datacube is deleted once
    /// analysed and the control's is written after the scenario's is gone, so one datacube at
    /// a time; with `keep_datacube` the control's stays beside the scenario's. Plus the small
    /// files of each run.
    pub fn run_disk_bytes(&self, keep_datacube: bool) -> f64 {
        let runs = if self.control { 2.0 } else { 1.0 };
        let cubes = if keep_datacube { runs } else { 1.0 };
        self.datacube_bytes * cubes + SMALL_FILES_BYTES * runs
    }

    /// A few lines for `mro check`.
    pub fn describe(&self) -> String {
        format!(
            "# cost estimate: {:.3e} atoms; datacube {}; peak memory {} (glass alone {}); \
             disk {} for validate/simulate, {} for glass (atoms.xyz); \
             roughly {} on 2 cores (glass {}, simulate {}, analyze {}){}{}",
            self.atoms,
            bytes(self.datacube_bytes),
            bytes(self.peak_memory_bytes),
            bytes(self.glass_memory_bytes),
            bytes(self.run_disk_bytes(false)),
            bytes(self.xyz_bytes),
            seconds(self.seconds.iter().sum()),
            seconds(self.seconds[0]),
            seconds(self.seconds[1]),
            seconds(self.seconds[2]),
            if self.imported {
                ", without a no-MRO control (atoms from a file: no clusters to remove)"
            } else if self.no_clusters {
                ", without a no-MRO control (no clusters planted: the control would be the run itself)"
            } else if self.control {
                ", including the no-MRO control of validate/sweep (--no-control halves the time)"
            } else {
                ", without the no-MRO control (--no-control)"
            },
            match self.source {
                Ok(_) => "; the finite source is applied as a blur of the scan images \
                          (one coherent pass per pattern; the noiseless datacube in f64 is \
                          counted in the peak memory)"
                    .to_string(),
                Err(NoBlur::PointSource) if self.source_size_nm > 0.0 => format!(
                    "; the source ({} nm) would change no interference term of a pattern by \
                     more than {} and is not applied (one source node)",
                    self.source_size_nm,
                    mro_sim::coherence::QUADRATURE_TOLERANCE
                ),
                Err(NoBlur::PointSource) => String::new(),
                Err(why) => format!(
                    "; the finite source is summed by quadrature, {} coherent passes per \
                     pattern, because {why} ({})",
                    self.source_passes,
                    if matches!(why, NoBlur::OverBudget { .. }) {
                        "fewer scan points or detector pixels would let it be blurred in one pass"
                    } else {
                        "a scan that tiles the sample at a step below Nyquist would need one pass"
                    }
                ),
            },
        )
    }
}

/// `1.23 GB`.
pub fn bytes(b: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.3} {}", units[u])
    }
}

/// `12.3 s` below 2 min, then minutes, hours below 3 days, days.
pub fn seconds(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else if s < 3.0 * 86400.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} days", s / 86400.0)
    }
}

/// What a run needs from the machine: disk under its output directory and memory.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Need {
    /// Bytes the run writes at its largest.
    pub disk_bytes: f64,
    /// Peak resident bytes.
    pub memory_bytes: f64,
    /// The run builds only the glass, so only the sample's size sets these needs (what a
    /// refusal tells the user to shrink).
    pub glass_only: bool,
}

impl Need {
    /// The larger need of each kind.
    pub fn max(self, other: Self) -> Self {
        Self {
            disk_bytes: self.disk_bytes.max(other.disk_bytes),
            memory_bytes: self.memory_bytes.max(other.memory_bytes),
            glass_only: self.glass_only && other.glass_only,
        }
    }
}

/// Refuses (exit 2) a run that needs more disk than is free under `out` or more memory than
/// the machine has available (`MemAvailable` of `/proc/meminfo`; not checked where that file
/// does not exist), unless `force_size`. `what` names the run in the message.
pub fn enforce(need: Need, out: &Path, what: &str, force_size: bool) -> anyhow::Result<()> {
    if force_size {
        return Ok(());
    }
    let (disk_knobs, memory_knobs) = if need.glass_only {
        let sample = "the sample (sample.extent_nm, sample.thickness_nm)";
        (sample, sample)
    } else {
        (
            "the scan or detector",
            "the sample, scan or detector, or the forward model's grid (model.window_oversampling, model.band_limit_per_nm)",
        )
    };
    if let Some(free) = free_disk_bytes(out) {
        if need.disk_bytes > free {
            return Err(bad_input(format!(
                "{what}: needs about {} of disk under {} but only {} is free; shrink {disk_knobs} (or pass --force-size to try anyway)",
                bytes(need.disk_bytes),
                out.display(),
                bytes(free)
            )));
        }
    }
    if let Some(available) = available_memory_bytes() {
        if need.memory_bytes > available {
            return Err(bad_input(format!(
                "{what}: needs about {} of memory but {} is available; shrink {memory_knobs} (or pass --force-size to try anyway)",
                bytes(need.memory_bytes),
                bytes(available)
            )));
        }
    }
    Ok(())
}

/// Free bytes (for an unprivileged user) on the file system that holds `path` or its nearest
/// existing ancestor.
pub fn free_disk_bytes(path: &Path) -> Option<f64> {
    let mut probe = path;
    while !probe.exists() {
        probe = match probe.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if probe == Path::new(".") {
            break;
        }
    }
    let st = rustix::fs::statvfs(probe).ok()?;
    Some(st.f_bavail as f64 * st.f_frsize as f64)
}

/// `MemAvailable` of `/proc/meminfo` in bytes (Linux); `None` elsewhere.
pub fn available_memory_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        Scenario::parse(&format!("schema = \"mro.scenario/1\"\n{extra}")).unwrap()
    }

    #[test]
    fn the_paper_setup_costs_what_its_arrays_hold() {
        let c = Cost::of(&scenario(""), 2, false);
        // 54 atoms/nm³ × 40.96² × 20 nm³.
        assert!((c.atoms - 54.0 * 40.96 * 40.96 * 20.0).abs() < 1.0);
        assert_eq!(
            c.datacube_bytes,
            128.0 * 128.0 * 128.0 * 128.0 * 4.0 + 128.0
        );
        assert!(c.peak_memory_bytes > c.glass_memory_bytes - 1.0);
    }

    #[test]
    fn a_huge_scan_is_refused_unless_forced() {
        let c = Cost::of(
            &scenario(
                "[scan]\npoints = [512, 512]\nstep_nm = 0.08\n[detector]\npixels = [256, 256]\n",
            ),
            2,
            false,
        );
        assert!(
            (c.datacube_bytes - 68.72e9).abs() < 0.01e9,
            "{}",
            c.datacube_bytes
        );
        let need = Need {
            disk_bytes: 1e30,
            memory_bytes: 1.0,
            glass_only: false,
        };
        let d = tempfile::tempdir().unwrap();
        let e = enforce(need, d.path(), "x.toml", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("of disk under")
                && e.contains("shrink the scan or detector")
                && e.contains("--force-size"),
            "{e}"
        );
        enforce(need, d.path(), "x.toml", true).unwrap();
        // `mro glass` writes only atoms: the advice names the sample, not the scan.
        let glass = Need {
            glass_only: true,
            ..need
        };
        let e = enforce(glass, d.path(), "x.toml", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("shrink the sample (sample.extent_nm"), "{e}");
        let need = Need {
            disk_bytes: 1.0,
            memory_bytes: 1e30,
            glass_only: false,
        };
        if available_memory_bytes().is_some() {
            let e = enforce(need, d.path(), "x.toml", false)
                .unwrap_err()
                .to_string();
            assert!(e.contains("of memory"), "{e}");
        }
    }

    #[test]
    fn the_control_doubles_the_time_and_keeps_the_disk_of_one_datacube() {
        let s = scenario("");
        let alone = Cost::of(&s, 2, false);
        let both = Cost::of(&s, 2, true);
        for (a, b) in alone.seconds.iter().zip(&both.seconds) {
            assert_eq!(2.0 * a, *b);
        }
        assert_eq!(alone.peak_memory_bytes, both.peak_memory_bytes);
        let cube = alone.datacube_bytes;
        assert_eq!(alone.run_disk_bytes(false), cube + SMALL_FILES_BYTES);
        assert_eq!(alone.run_disk_bytes(true), cube + SMALL_FILES_BYTES);
        assert_eq!(both.run_disk_bytes(false), cube + 2.0 * SMALL_FILES_BYTES);
        assert_eq!(
            both.run_disk_bytes(true),
            2.0 * cube + 2.0 * SMALL_FILES_BYTES
        );
        assert!(both.describe().contains("including the no-MRO control"));
        assert!(alone.describe().contains("without the no-MRO control"));
    }

    #[test]
    fn a_finite_source_says_how_it_is_applied() {
        let point = Cost::of(&scenario(""), 2, false);
        assert!(!point.describe().contains("finite source"));
        let source = "[microscope]\nsource_size_nm = 0.25\n";
        // The default scan tiles the default sample (128 × 0.32 nm = 40.96 nm).
        let tiled = Cost::of(&scenario(source), 2, false);
        let text = tiled.describe();
        assert!(
            text.contains("applied as a blur of the scan images"),
            "{text}"
        );
        assert_eq!(tiled.source_passes, 1);
        let cube_f64 = 8.0 * 128.0f64.powi(4);
        assert!((tiled.peak_memory_bytes - point.peak_memory_bytes - cube_f64).abs() < 1.0);
        let with_source = |extra: &str| Cost::of(&scenario(&format!("{source}{extra}")), 2, false);
        let short = with_source("[scan]\npoints = [64, 128]\nstep_nm = 0.32\n");
        let text = short.describe();
        assert!(
            text.contains("summed by quadrature, 16 coherent passes per pattern")
                && text
                    .contains("the scan (points × step: x 40.9600 nm, y 20.4800 nm) does not tile"),
            "{text}"
        );
        assert_eq!(short.seconds[1], 16.0 * point.seconds[1] / 2.0);
        // Over the blur's budget the advice is the scan or the detector, not the tiling.
        let big = with_source(
            "[scan]\npoints = [256, 256]\nstep_nm = 0.16\n[detector]\npixels = [256, 256]\n",
        );
        let text = big.describe();
        assert!(
            text.contains("exceeds the 4.295 GB the blur may hold")
                && text.contains("fewer scan points or detector pixels"),
            "{text}"
        );
        // A source too small for a second quadrature node is said not to be applied.
        let tiny = Cost::of(&scenario("[microscope]\nsource_size_nm = 0.01\n"), 2, false);
        let text = tiny.describe();
        assert!(
            text.contains("the source (0.01 nm) would change no"),
            "{text}"
        );
        assert_eq!(tiny.seconds, point.seconds);
    }

    #[test]
    fn sizes_print_in_si_units() {
        assert_eq!(bytes(68.72e9), "68.720 GB");
        assert_eq!(bytes(12.0), "12 B");
    }
}
