//! Recipes for the simulation: the `[sample]`, `[[clusters]]`, `[placement]`, `[microscope]`,
//! `[scan]`, `[detector]` and `[model]` sections of a scenario (schema `mro.scenario/1`).
//!
//! Each struct deserialises with the documented defaults (the Im et al. 2018 setup) and refuses
//! unknown keys; `validate` checks physical sense and names the offending field relative to its
//! section. Cross-section checks (a cluster thicker than the foil, …) live in the harness.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mro_core::check::{count_in, in_range, positive_up_to, InvalidValue};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::elements;

/// The sample: an amorphous alloy foil, periodic laterally — built by [`crate::glass`], or read
/// from an atom file ([`crate::atom_file`]) when `atoms` is given, in which case composition,
/// density, extent and thickness are the file's (the harness fills them in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SampleSpec {
    /// Atomic fractions by element symbol; they sum to 1.
    pub composition: BTreeMap<String, f64>,
    /// Atoms per nm³.
    pub number_density_per_nm3: f64,
    /// Lateral box size `[x, y]` in nm (periodic).
    #[serde(deserialize_with = "exactly")]
    pub extent_nm: [f64; 2],
    /// Foil thickness along the beam in nm.
    pub thickness_nm: f64,
    /// An atom file (extended XYZ, LAMMPS data or dump; [`crate::atom_file`]) imaged instead of
    /// a built glass; relative paths are relative to the scenario file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub atoms: Option<PathBuf>,
    /// A `truth.json` (schema `mro.truth/1`) describing the clusters in `atoms`; without it the
    /// truth lists no clusters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth: Option<PathBuf>,
    /// The element of each LAMMPS atom type, type 1 first (LAMMPS files only; data files
    /// otherwise map types by their `Masses` section).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub type_elements: Vec<String>,
}

impl Default for SampleSpec {
    fn default() -> Self {
        Self {
            composition: [("Zr", 0.55), ("Co", 0.25), ("Al", 0.20)]
                .into_iter()
                .map(|(s, f)| (s.to_string(), f))
                .collect(),
            number_density_per_nm3: 54.0,
            extent_nm: [40.96, 40.96],
            thickness_nm: 20.0,
            atoms: None,
            truth: None,
            type_elements: Vec::new(),
        }
    }
}

impl SampleSpec {
    /// Checks composition, density and dimensions. The density range (5–250 atoms/nm³) is that
    /// of condensed matter the glass builder can pack; a sample read from an atom file need only
    /// have a positive density (a single atom in a large cell is a valid test object).
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if self.composition.is_empty() {
            return Err(InvalidValue::new(
                "composition",
                "{}",
                "at least one element",
            ));
        }
        for (symbol, &fraction) in &self.composition {
            if elements::by_symbol(symbol).is_none() {
                return Err(InvalidValue::new(
                    format!("composition.{symbol}"),
                    symbol,
                    "a chemical element symbol from H to Lr, capitalised as in `Zr`",
                ));
            }
            in_range(&format!("composition.{symbol}"), fraction, 0.0, 1.0, "")?;
        }
        let sum: f64 = self.composition.values().sum();
        if (sum - 1.0).abs() > 1e-3 {
            return Err(InvalidValue::new(
                "composition",
                format!("fractions summing to {sum}"),
                "atomic fractions summing to 1 (±0.001)",
            ));
        }
        if self.atoms.is_some() {
            positive_up_to(
                "number_density_per_nm3",
                self.number_density_per_nm3,
                250.0,
                " atoms/nm³",
            )?;
        } else {
            in_range(
                "number_density_per_nm3",
                self.number_density_per_nm3,
                5.0,
                250.0,
                " atoms/nm³",
            )?;
        }
        in_range("extent_nm[0]", self.extent_nm[0], 1.0, 1000.0, " nm")?;
        in_range("extent_nm[1]", self.extent_nm[1], 1.0, 1000.0, " nm")?;
        in_range("thickness_nm", self.thickness_nm, 0.2, 1000.0, " nm")
    }
}

/// How a cluster's symmetry axis is oriented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Orientation {
    /// Axis along the beam (tilted by `tilt_spread_deg`), random in-plane angle.
    Aligned,
    /// Axis uniform on the sphere.
    Random,
}

/// What a cluster is made of (the `type` key of a `[[clusters]]` table).
///
/// Only the density wave has an assigned symmetry; the others are structures whose n-fold
/// symmetries depend on their orientation and are computed from their own projected pattern
/// (`glass::symmetry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterKind {
    /// The idealised columnar density wave of one symmetry n (physics.md §7): n (or 2n) spots
    /// on the k0 ring along its axis, nothing else. Not a structure seen in real glasses.
    DensityWave,
    /// A Mackay icosahedron (Mackay, Acta Cryst. 15, 916 (1962)) cut to the sphere, the
    /// icosahedral medium-range order of Sheng et al., Nature 439, 419 (2006); along a 5-, 3- or
    /// 2-fold axis it gives the 10-, 6- and 2-fold patterns of Liu et al., PRL 110, 205505 (2013).
    Icosahedral,
    /// A body-centred cubic fragment with {110} on the k0 ring (physics.md §7).
    Bcc,
    /// A face-centred cubic fragment with {111} on the k0 ring (physics.md §7).
    Fcc,
    /// A B2 (CsCl-ordered bcc) fragment with {110} on the k0 ring: the alloy's majority element
    /// on the cube corners, the other elements on the body centres.
    B2,
}

impl ClusterKind {
    /// The name used in scenario and truth files.
    pub fn name(self) -> &'static str {
        match self {
            Self::DensityWave => "density_wave",
            Self::Icosahedral => "icosahedral",
            Self::Bcc => "bcc",
            Self::Fcc => "fcc",
            Self::B2 => "b2",
        }
    }
}

/// The symmetry a density-wave table gets when it names none.
pub const DEFAULT_DENSITY_WAVE_SYMMETRY: u32 = 4;

/// One type of medium-range-order cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    /// What the clusters are made of.
    #[serde(rename = "type")]
    pub kind: ClusterKind,
    /// Rotational symmetry n of a density wave's diffraction along its axis (density waves
    /// only; [`DEFAULT_DENSITY_WAVE_SYMMETRY`] when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symmetry: Option<u32>,
    /// Mean diameter in nm.
    pub diameter_nm: f64,
    /// Standard deviation of the diameter in nm.
    pub diameter_sd_nm: f64,
    /// Target share of the sample volume.
    pub volume_fraction: f64,
    /// Axis orientation mode.
    pub orientation: Orientation,
    /// Standard deviation of the axis tilt from the beam for `aligned`, in degrees.
    pub tilt_spread_deg: f64,
    /// Ring on which the cluster diffracts, in nm⁻¹: the density wave's period, the lattice's
    /// {110} (bcc, B2) or {111} (fcc) reflection, the icosahedron's edge 1.52/k0 (`glass::icosahedral`).
    pub k0_per_nm: f64,
    /// Root-mean-square 3-D displacement of every atom from its ideal site, nm (0: ideal).
    pub displacement_rms_nm: f64,
}

impl Default for ClusterSpec {
    /// Im et al.'s MRO type as an ideal density wave: 1.3 nm, 2.8 % of the volume, random
    /// orientation (the symmetry is [`DEFAULT_DENSITY_WAVE_SYMMETRY`] unless set).
    fn default() -> Self {
        Self {
            kind: ClusterKind::DensityWave,
            symmetry: None,
            diameter_nm: 1.3,
            diameter_sd_nm: 0.1,
            volume_fraction: 0.028,
            orientation: Orientation::Random,
            tilt_spread_deg: 0.0,
            k0_per_nm: 4.0,
            displacement_rms_nm: 0.0,
        }
    }
}

impl ClusterSpec {
    /// Im et al.'s MRO type of symmetry `n` as an ideal density wave.
    pub fn paper(symmetry: u32) -> Self {
        Self {
            symmetry: Some(symmetry),
            ..Self::default()
        }
    }

    /// A structure type `kind` with the paper's size, fraction and orientation.
    pub fn structure(kind: ClusterKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// The paper's five types, n = 2, 4, 6, 8, 10.
    pub fn paper_set() -> Vec<Self> {
        [2, 4, 6, 8, 10].into_iter().map(Self::paper).collect()
    }

    /// The assigned symmetry of a density wave (its default filled in); `None` for structures.
    pub fn motif_symmetry(&self) -> Option<u32> {
        (self.kind == ClusterKind::DensityWave)
            .then(|| self.symmetry.unwrap_or(DEFAULT_DENSITY_WAVE_SYMMETRY))
    }

    /// The spec with a density wave's default symmetry written out (what `mro check` prints).
    pub fn resolved(&self) -> Self {
        Self {
            symmetry: self.motif_symmetry(),
            ..self.clone()
        }
    }

    /// Checks each value.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        match (self.kind, self.symmetry) {
            (ClusterKind::DensityWave, Some(n)) => count_in("symmetry", n as usize, 2, 12)?,
            (ClusterKind::DensityWave, None) => {}
            (kind, Some(n)) => {
                return Err(InvalidValue::new(
                    "symmetry",
                    n,
                    format!(
                        "no `symmetry` for type = \"{}\": a structure's n-fold symmetries \
                         depend on its orientation and are computed from its pattern (only \
                         type = \"density_wave\" takes one)",
                        kind.name()
                    ),
                ))
            }
            (_, None) => {}
        }
        in_range("diameter_nm", self.diameter_nm, 0.4, 20.0, " nm")?;
        in_range(
            "diameter_sd_nm",
            self.diameter_sd_nm,
            0.0,
            0.5 * self.diameter_nm,
            " nm (at most half the diameter)",
        )?;
        in_range("volume_fraction", self.volume_fraction, 0.0, 0.6, "")?;
        in_range("tilt_spread_deg", self.tilt_spread_deg, 0.0, 90.0, "°")?;
        in_range("k0_per_nm", self.k0_per_nm, 1.0, 15.0, " nm⁻¹")?;
        in_range(
            "displacement_rms_nm",
            self.displacement_rms_nm,
            0.0,
            0.1,
            " nm (beyond 0.1 nm, a third of a bond, the structure is a liquid)",
        )
    }
}

/// How cluster centres are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlacementMode {
    /// Uniformly random with a hard core: surfaces at least `min_gap_nm` apart.
    Random,
    /// Near a target nearest-neighbour distance, with jitter.
    Correlated,
}

/// Where clusters go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlacementSpec {
    /// Placement mode.
    pub mode: PlacementMode,
    /// Minimum gap between cluster surfaces in nm.
    pub min_gap_nm: f64,
    /// Target mean nearest-neighbour centre distance in nm (`correlated` only).
    pub nearest_neighbor_nm: f64,
    /// Relative jitter of the nearest-neighbour distance (`correlated` only).
    pub jitter: f64,
}

impl Default for PlacementSpec {
    fn default() -> Self {
        Self {
            mode: PlacementMode::Random,
            min_gap_nm: 0.3,
            nearest_neighbor_nm: 5.0,
            jitter: 0.1,
        }
    }
}

impl PlacementSpec {
    /// Checks each value.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        in_range("min_gap_nm", self.min_gap_nm, 0.0, 50.0, " nm")?;
        positive_up_to(
            "nearest_neighbor_nm",
            self.nearest_neighbor_nm,
            500.0,
            " nm",
        )?;
        in_range("jitter", self.jitter, 0.0, 0.5, "")
    }
}

/// The microscope's illumination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MicroscopeSpec {
    /// Accelerating voltage in kV.
    pub voltage_kv: f64,
    /// Probe convergence semiangle in mrad.
    pub semiangle_mrad: f64,
    /// Defocus in nm (positive = underfocus, Scherzer convention).
    pub defocus_nm: f64,
    /// Spherical aberration in mm.
    pub cs_mm: f64,
    /// Full width at half maximum of the effective (demagnified) Gaussian source at the
    /// specimen, in nm; every scan image is convolved with it: as a blur of the scan images
    /// where that is exact ([`crate::scan_blur`]), else as incoherent sums over probe positions
    /// spread this wide ([`crate::coherence`]). 0 = point source.
    pub source_size_nm: f64,
    /// Chromatic aberration C_c of the probe-forming lens in mm.
    pub cc_mm: f64,
    /// Energy spread of the gun, FWHM in eV; with `cc_mm` it sets the focal spread
    /// ([`crate::coherence::focal_spread_rms_nm`]).
    pub energy_spread_ev: f64,
}

/// Default C_c in mm: an uncorrected-for-chromatic-aberration Titan-class S-TWIN objective
/// (the paper's Titan Themis) — [est] 1.2–1.6 mm is the range quoted for this lens class.
pub const DEFAULT_CC_MM: f64 = 1.4;

/// Default energy spread in eV (FWHM) of a Schottky field-emission gun (X-FEG class) at
/// 300 kV — [est] 0.7–0.9 eV is the range quoted for this gun class without a monochromator.
pub const DEFAULT_ENERGY_SPREAD_EV: f64 = 0.8;

impl Default for MicroscopeSpec {
    fn default() -> Self {
        Self {
            voltage_kv: 300.0,
            semiangle_mrad: 1.15,
            defocus_nm: 0.0,
            cs_mm: 0.0,
            source_size_nm: 0.0,
            cc_mm: DEFAULT_CC_MM,
            energy_spread_ev: DEFAULT_ENERGY_SPREAD_EV,
        }
    }
}

impl MicroscopeSpec {
    /// Checks each value.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        in_range("voltage_kv", self.voltage_kv, 20.0, 1000.0, " kV")?;
        in_range("semiangle_mrad", self.semiangle_mrad, 0.1, 40.0, " mrad")?;
        in_range("defocus_nm", self.defocus_nm, -10_000.0, 10_000.0, " nm")?;
        in_range("cs_mm", self.cs_mm, 0.0, 10.0, " mm")?;
        in_range(
            "source_size_nm",
            self.source_size_nm,
            0.0,
            2.0,
            " nm (FWHM)",
        )?;
        in_range("cc_mm", self.cc_mm, 0.0, 100.0, " mm")?;
        in_range(
            "energy_spread_ev",
            self.energy_spread_ev,
            0.0,
            100.0,
            " eV (FWHM)",
        )?;
        crate::coherence::check_resolved(self)
    }
}

/// The probe raster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanSpec {
    /// Probe positions `[y, x]`.
    #[serde(deserialize_with = "exactly")]
    pub points: [usize; 2],
    /// Step between positions in nm.
    pub step_nm: f64,
}

impl Default for ScanSpec {
    fn default() -> Self {
        Self {
            points: [128, 128],
            step_nm: 0.32,
        }
    }
}

impl ScanSpec {
    /// Checks each value.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        count_in("points[0]", self.points[0], 1, 4096)?;
        count_in("points[1]", self.points[1], 1, 4096)?;
        positive_up_to("step_nm", self.step_nm, 100.0, " nm")
    }
}

/// The pixelated detector and the dose it records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorSpec {
    /// Pixels `[y, x]`.
    #[serde(deserialize_with = "exactly")]
    pub pixels: [usize; 2],
    /// Pixel size in nm⁻¹.
    pub k_pixel_per_nm: f64,
    /// Electrons per pattern; infinite (`"inf"` in TOML) for noise-free patterns.
    #[serde(serialize_with = "ser_dose", deserialize_with = "de_dose")]
    pub electrons_per_pattern: f64,
    /// Counts per electron.
    pub gain: f64,
    /// One-axis rms width in pixels of the charge an electron spreads over the sensor
    /// ([`crate::psf`]); 0 = no sharing. Default: the EMPAD estimate
    /// [`crate::psf::EMPAD_SIGMA_PX`].
    pub psf_sigma_px: f64,
}

impl Default for DetectorSpec {
    fn default() -> Self {
        Self {
            pixels: [128, 128],
            k_pixel_per_nm: 0.16,
            electrons_per_pattern: 1e6,
            gain: 1.0,
            psf_sigma_px: crate::psf::EMPAD_SIGMA_PX,
        }
    }
}

impl DetectorSpec {
    /// Checks each value.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        count_in("pixels[0]", self.pixels[0], 8, 4096)?;
        count_in("pixels[1]", self.pixels[1], 8, 4096)?;
        positive_up_to("k_pixel_per_nm", self.k_pixel_per_nm, 5.0, " nm⁻¹")?;
        let dose = self.electrons_per_pattern;
        if !(dose == f64::INFINITY || (dose.is_finite() && dose >= 1.0)) {
            return Err(InvalidValue::new(
                "electrons_per_pattern",
                dose,
                "a number ≥ 1 or \"inf\" for noise-free patterns",
            ));
        }
        positive_up_to("gain", self.gain, 1e6, " counts per electron")?;
        in_range("psf_sigma_px", self.psf_sigma_px, 0.0, 2.0, " px (rms)")
    }

    /// Whether patterns are noise-free.
    pub fn noise_free(&self) -> bool {
        self.electrons_per_pattern.is_infinite()
    }

    /// The gain a shot-noise correction of these patterns uses: `gain` counts per electron, or
    /// 0 for noise-free patterns (no shot noise to remove).
    pub fn shot_noise_gain(&self) -> f64 {
        if self.noise_free() {
            0.0
        } else {
            self.gain
        }
    }
}

fn ser_dose<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_infinite() {
        s.serialize_str("inf")
    } else {
        s.serialize_f64(*v)
    }
}

fn de_dose<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Dose {
        Number(f64),
        Text(String),
    }
    match Dose::deserialize(d)? {
        Dose::Number(v) => Ok(v),
        Dose::Text(t) if t == "inf" => Ok(f64::INFINITY),
        Dose::Text(t) => Err(serde::de::Error::custom(format!(
            "expected a number of electrons or \"inf\", found \"{t}\""
        ))),
    }
}

/// Which propagation model forms the patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Projected weak-phase single scattering (exactly Friedel-symmetric).
    Kinematic,
    /// First Born approximation over slices with the Ewald-sphere depth phase.
    Born,
    /// Multislice: plural scattering with Fresnel propagation between slices.
    Multislice,
}

/// How the probe's hard aperture is put on the window's reciprocal grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ApertureSampling {
    /// Each reciprocal pixel gets the share of its cell inside the aperture disk (the cell
    /// average of A(k)): the disk keeps its area at any window size, and the probe is the
    /// round aperture's times sinc(x/L)·sinc(y/L), its tails tapered towards the window's edge.
    #[default]
    Area,
    /// A(k) at each pixel's centre (1 inside, 0 outside), as most multislice codes do: the
    /// disk's area on the grid counts lattice points and is off by up to ±8 % at these
    /// samplings (45 points for 41.9 pixels' worth at 0.16 nm⁻¹ and 1.15 mrad), so the
    /// probe's peak intensity jumps from one window size to the next.
    Point,
}

/// Default band limit of the potential in nm⁻¹ when `[model] band_limit_per_nm` is not given
/// (raised to the detector edge on larger detectors), except for multislice through foils up
/// to [`THIN_FOIL_MAX_NM`]; see [`default_band_limit_per_nm`].
pub const DEFAULT_BAND_LIMIT_PER_NM: f64 = 20.0;

/// Default multislice band limit in nm⁻¹ for foils no thicker than [`THIN_FOIL_MAX_NM`]:
/// 3·k_bl = 576 reciprocal pixels of 0.08 nm⁻¹ (the paper's detector at m = 2), so the ⅔-rule
/// window is 576² points, a size of small factors (2⁶·3²) that RustFFT transforms fast.
pub const THIN_FOIL_BAND_LIMIT_PER_NM: f64 = 15.36;

/// The thickest foil, nm, that multislice images at [`THIN_FOIL_BAND_LIMIT_PER_NM`] by default.
pub const THIN_FOIL_MAX_NM: f64 = 20.0;

/// The band limit k_bl in nm⁻¹ a `kind` model uses through `thickness_nm` of sample when
/// `[model] band_limit_per_nm` is not given (before raising it to the detector edge).
///
/// Multislice needs a wider band the thicker the foil: the flux its atoms scatter beyond k_bl
/// is removed (`absorb_beyond_band_limit`), and what that flux would have scattered back onto
/// the detector, a plural-scattering term, grows with the thickness. Doubling the band limit
/// (48 probe positions of Zr₅₅Co₂₅Al₂₀ at 54 nm⁻³ and 300 kV, reports/convergence.md, "Band
/// limit by thickness") from 15.36 nm⁻¹ keeps the patterns at Pearson ≥ 0.9986, the 1–8 nm⁻¹
/// intensity within 1.4 % and P_n within 1.5 ± 1.2 % through 5 and 20 nm; from 16 and 17.28
/// nm⁻¹ it does not through 40 nm (Pearson 0.9970, 0.9975; 15.36 was not run there), from
/// 20 nm⁻¹ it does (0.9984; measured with the first-Born absorption that the whole-atom
/// potentials of [`crate::eikonal`] replaced, not rerun since). So multislice takes
/// [`THIN_FOIL_BAND_LIMIT_PER_NM`] up to
/// [`THIN_FOIL_MAX_NM`] (a window of 576² points instead of 768² at the paper's detector and
/// m = 2) and [`DEFAULT_BAND_LIMIT_PER_NM`] beyond. The plural-scattering term scales with the
/// atoms' density and scattering power, so the threshold holds for this alloy; denser or
/// heavier samples (an imported atom file) should check it with the convergence study. Single
/// scattering (kinematic, Born) sends nothing back from beyond the band, so its band limit
/// need not grow with the thickness; it keeps [`DEFAULT_BAND_LIMIT_PER_NM`], the setting of
/// its convergence study and committed reports (a lower one was not measured).
pub fn default_band_limit_per_nm(kind: ModelKind, thickness_nm: f64) -> f64 {
    if kind == ModelKind::Multislice && thickness_nm <= THIN_FOIL_MAX_NM * (1.0 + 1e-9) {
        THIN_FOIL_BAND_LIMIT_PER_NM
    } else {
        DEFAULT_BAND_LIMIT_PER_NM
    }
}

/// A fixed-length array that refuses extra entries: serde's `[T; N]` reads the first N of a
/// longer TOML array and ignores the rest (`extent_nm = [40, 40, 10]` would drop the 10).
fn exactly<'de, D, T, const N: usize>(d: D) -> Result<[T; N], D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v = Vec::<T>::deserialize(d)?;
    let len = v.len();
    v.try_into().map_err(|_| {
        serde::de::Error::invalid_length(len, &format!("an array of {N} numbers").as_str())
    })
}

/// Forward-model settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSpec {
    /// Propagation model.
    pub kind: ModelKind,
    /// Slice thickness in nm (Born and multislice). The 0.8 nm default is converged at the
    /// default band limit and window: halving it moves the 1–8 nm⁻¹ intensity by ≤ 0.03 %,
    /// keeps the patterns at Pearson ≥ 0.998 and moves P_n by ≤ 2.4 ± 1.1 % (multislice;
    /// Born ≤ 0.8 %) at 5–40 nm (48 positions, reports/convergence.md). Cost is ∝ 1/slice.
    pub slice_nm: f64,
    /// Band limit k_bl of the potential (and the multislice wave) in nm⁻¹; it sets the
    /// real-space sampling (Δx = 1/(3k_bl) for multislice). `None`: the larger of
    /// [`default_band_limit_per_nm`] (15.36 nm⁻¹ for multislice through up to 20 nm, else 20
    /// nm⁻¹) and the detector edge (see [`ModelSpec::band_limit_for`]).
    /// It may not lie below the detector edge N_max/2·Δk: intensity scattered there would be
    /// missing from the pattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub band_limit_per_nm: Option<f64>,
    /// Multislice: each atom is its element's whole-atom effective potential
    /// ([`crate::eikonal`]): complex, band-limited, with the whole atom's in-band amplitudes (to
    /// all orders in its phase) and an absorptive part that removes the flux it scatters beyond
    /// k_bl. Without it the plain cut potential exp(iσv): the flux beyond k_bl stays inside the
    /// band and the cut atom, a weaker phase object, scatters too much into it (the 1–10 nm⁻¹
    /// intensity of a 20 nm foil comes out about 10 % too high at 15.36 nm⁻¹). Kinematic and
    /// Born: the first-order power scattered beyond k_bl depletes the direct beam too and leaves
    /// the pattern ([`crate::potential::Field::beyond_band_v_nm`]); without it only the in-band
    /// scattering depletes the beam, and the bright field and the in-band intensity fall as
    /// k_bl grows (the kinematic bright field by 4.6 % from 20.48 to 60 nm⁻¹ through 20 nm).
    pub absorb_beyond_band_limit: bool,
    /// Window pixels per detector pixel along each axis, m: the per-probe window is
    /// L = m/Δk_detector wide and each detector pixel integrates its m × m reciprocal pixels
    /// ([`crate::propagation`]). m = 1 samples each pixel at its centre in a 6.25 nm window
    /// (paper detector), whose periodic wrap folds the probe's tails (5.7 % of the intensity
    /// of a 1.15 mrad probe lies beyond 3.1 nm) back onto the wrong atoms. The default 2 keeps
    /// the patterns at Pearson ≥ 0.9986 and the 1–8 nm⁻¹ intensity within 0.07 % of m = 4, but
    /// P_n still falls by 2–5 % from m = 2 to 4 (reports/convergence.md), so m = 2 reads P_n
    /// high by roughly that much or more. The window has m² the pixels of m = 1.
    pub window_oversampling: usize,
    /// How the hard aperture is sampled on the window's reciprocal grid.
    pub aperture_sampling: ApertureSampling,
    /// Add what the probe's tail beyond the window scatters as a smooth background: each
    /// pattern becomes (1 − f)·I + f·B(|k|), f the share of the continuous probe's intensity
    /// the window's probe lacks ([`crate::propagation::DiffractionPlan::tail_background_fraction`],
    /// capped at 0.5) and B the first scan row's ring-averaged mean pattern ([`crate::tail`]).
    /// With it the m = 2 → 4 step of the even P_n is ≤ 1.2 % (kinematic, Born and multislice,
    /// 5–40 nm; about 5 % without it), reports/convergence.md. On by default since 2026-12-02;
    /// the `mro` analysis method's null holds its false-detection rate with it (27 false regions
    /// in the 400 no-MRO maps of 40 smoke seeds with it, 22 without; `mro_analysis::significance`
    /// docs). Point-sampled apertures get f = 0.
    pub probe_tail_background: bool,
}

/// Default [`ModelSpec::window_oversampling`].
pub const DEFAULT_WINDOW_OVERSAMPLING: usize = 2;

impl Default for ModelSpec {
    fn default() -> Self {
        Self {
            kind: ModelKind::Kinematic,
            slice_nm: 0.8,
            band_limit_per_nm: None,
            absorb_beyond_band_limit: true,
            window_oversampling: DEFAULT_WINDOW_OVERSAMPLING,
            aperture_sampling: ApertureSampling::Area,
            probe_tail_background: true,
        }
    }
}

impl ModelSpec {
    /// Checks each value.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        in_range("slice_nm", self.slice_nm, 0.05, 5.0, " nm")?;
        count_in("window_oversampling", self.window_oversampling, 1, 4)?;
        if let Some(k) = self.band_limit_per_nm {
            in_range("band_limit_per_nm", k, 1.0, 200.0, " nm⁻¹")?;
        }
        Ok(())
    }

    /// The band limit in nm⁻¹ used with `detector` through `thickness_nm` of sample: the
    /// given value, or the larger of [`default_band_limit_per_nm`] and the detector edge.
    ///
    /// # Errors
    /// A given value below the detector edge N_max/2·Δk (field `band_limit_per_nm`).
    pub fn band_limit_for(
        &self,
        detector: &DetectorSpec,
        thickness_nm: f64,
    ) -> Result<f64, InvalidValue> {
        let edge =
            (detector.pixels[0].max(detector.pixels[1]) / 2) as f64 * detector.k_pixel_per_nm;
        match self.band_limit_per_nm {
            None => Ok(default_band_limit_per_nm(self.kind, thickness_nm).max(edge)),
            Some(k) if k >= edge * (1.0 - 1e-9) => Ok(k),
            Some(k) => Err(InvalidValue::new(
                "band_limit_per_nm",
                k,
                format!(
                    "at least the detector edge {edge} nm⁻¹ (detector.pixels × k_pixel_per_nm / 2)"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multislice_widens_its_default_band_beyond_thin_foils() {
        let det = DetectorSpec::default();
        let ms = ModelSpec {
            kind: ModelKind::Multislice,
            ..ModelSpec::default()
        };
        assert_eq!(ms.band_limit_for(&det, 5.0).unwrap(), 15.36);
        assert_eq!(ms.band_limit_for(&det, 20.0).unwrap(), 15.36);
        assert_eq!(ms.band_limit_for(&det, 20.5).unwrap(), 20.0);
        assert_eq!(ms.band_limit_for(&det, 60.0).unwrap(), 20.0);
        for kind in [ModelKind::Kinematic, ModelKind::Born] {
            let m = ModelSpec {
                kind,
                ..ModelSpec::default()
            };
            assert_eq!(m.band_limit_for(&det, 5.0).unwrap(), 20.0);
        }
        // A given value is kept at any thickness; a larger detector raises the default.
        let given = ModelSpec {
            band_limit_per_nm: Some(25.0),
            ..ms.clone()
        };
        assert_eq!(given.band_limit_for(&det, 5.0).unwrap(), 25.0);
        let wide = DetectorSpec {
            pixels: [256, 256],
            ..DetectorSpec::default()
        };
        assert_eq!(ms.band_limit_for(&wide, 5.0).unwrap(), 128.0 * 0.16);
    }

    #[test]
    fn defaults_are_the_paper_setup_and_valid() {
        let s = SampleSpec::default();
        s.validate().unwrap();
        assert_eq!(s.composition["Zr"], 0.55);
        for c in ClusterSpec::paper_set() {
            c.validate().unwrap();
        }
        PlacementSpec::default().validate().unwrap();
        MicroscopeSpec::default().validate().unwrap();
        ScanSpec::default().validate().unwrap();
        DetectorSpec::default().validate().unwrap();
        ModelSpec::default().validate().unwrap();
    }

    #[test]
    fn composition_errors_name_the_element() {
        let mut s = SampleSpec::default();
        s.composition.insert("Qq".into(), 0.0);
        assert_eq!(s.validate().unwrap_err().field, "composition.Qq");
        let mut s = SampleSpec::default();
        s.composition.insert("Zr".into(), 0.6);
        assert!(s.validate().unwrap_err().expected.contains("summing to 1"));
    }
}
