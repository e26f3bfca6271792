//! The ground truth of a built glass (`truth.json`, schema `mro.truth/1`): what was actually
//! placed, not what was asked for.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::pair_correlation::pair_correlation_peak_nm;
use super::placement::offset;
use super::GlassError;
use crate::spec::{ClusterKind, PlacementSpec};

/// Schema tag of `truth.json`.
pub const TRUTH_SCHEMA: &str = "mro.truth/1";

/// One planted cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// Index in `clusters`, from 0.
    pub id: usize,
    /// What the cluster is made of.
    #[serde(rename = "type")]
    pub kind: ClusterKind,
    /// The assigned symmetry n of a density wave; `null` for a structure (see `shows`).
    pub symmetry: Option<u32>,
    /// Centre `[x, y, z]` in nm (x, y in `[0, extent)`).
    pub center_nm: [f64; 3],
    /// Sphere diameter in nm.
    pub diameter_nm: f64,
    /// Unit vector `[ux, uy, uz]` of the local `w` axis: a density wave's symmetry axis, an
    /// icosahedron's 5-fold axis, a crystal's [001].
    pub axis: [f64; 3],
    /// Turn in degrees of the local frame about `axis` (see `glass::orientation::Frame`).
    pub in_plane_deg: f64,
    /// Root-mean-square displacement of the atoms from their ideal sites, nm.
    pub displacement_rms_nm: f64,
    /// A density wave: every defining reflection lies within `acceptance_deg` of the
    /// diffraction plane, or its projected ring shows its spot pattern as brightly by other
    /// reflections of its motif (`pattern_over_in_zone` ≥ 0.092 and `pattern_over_incoherent`
    /// ≥ 30; `glass::symmetry::spot_pattern`). A structure: it shows at least one symmetry
    /// (`shows` not empty).
    pub in_condition: bool,
    /// A density wave's largest angle in degrees between a defining reflection and the
    /// diffraction plane; `null` for a structure.
    pub worst_reflection_elevation_deg: Option<f64>,
    /// A density wave's Bragg acceptance half-angle in degrees, `1/(k0·D)`
    /// (`glass::bragg_acceptance_deg`); `null` for a structure, whose relrods are in its
    /// computed pattern, and in truth files written before it was per cluster (when one
    /// `acceptance_deg`, 10° by default, held for every size).
    #[serde(default)]
    pub acceptance_deg: Option<f64>,
    /// A density wave: the weakest spot of the copy of its spot pattern its projected ring at k0
    /// shows best, over its defining reflections' mean in-zone intensity (in zone about 1 for
    /// 2- to 6-fold waves, less for small 10- and 12-fold ones; about 0.092 at the edge of the
    /// acceptance); `null` for a structure and in truth files written before 2026-12-04
    /// (evening).
    #[serde(default)]
    pub pattern_over_in_zone: Option<f64>,
    /// The same spot over the incoherent sum `Σ f²` of the cluster's atoms (speckle of atoms
    /// without order stays under about 15; at most the atom count N, about 0.9 N for a 2- to
    /// 6-fold wave in zone); `null` where `pattern_over_in_zone` is.
    #[serde(default)]
    pub pattern_over_incoherent: Option<f64>,
    /// `P_n`, n = 0, 1, …, 12 (`P_0 = 1`), of the cluster's own projected kinematic pattern at
    /// its ring k0 (`glass::symmetry`), as built.
    pub ring_power: Vec<f64>,
    /// The n whose `P_n` reaches the truth's `shows_threshold`: the symmetries it shows.
    pub shows: Vec<u32>,
    /// Atoms that make up the cluster.
    pub atoms: usize,
}

impl ClusterRecord {
    /// Whether this cluster diffracts into the map of n: a density wave of symmetry n in
    /// condition, or a structure that shows n.
    pub fn in_condition_for(&self, n: u32) -> bool {
        match self.symmetry {
            Some(m) => m == n && self.in_condition,
            None => self.shows.contains(&n),
        }
    }
}

/// What a `[[clusters]]` table asked for, and the symmetries its type can show.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TypeSpec {
    pub kind: ClusterKind,
    pub symmetry: Option<u32>,
    pub requested_volume_fraction: f64,
    pub k0_per_nm: f64,
    pub displacement_rms_nm: f64,
    /// The n it shows in some orientation (a density wave: its own n).
    pub capable: Vec<u32>,
}

impl TypeSpec {
    fn owns(&self, c: &ClusterRecord) -> bool {
        c.kind == self.kind && c.symmetry == self.symmetry
    }

    /// `"icosahedral"`, or `"density_wave_4"` for a density wave.
    fn label(&self) -> String {
        match self.symmetry {
            Some(n) => format!("{}_{n}", self.kind.name()),
            None => self.kind.name().to_string(),
        }
    }
}

/// Achieved statistics of one `[[clusters]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeTruth {
    /// What the clusters are made of.
    #[serde(rename = "type")]
    pub kind: ClusterKind,
    /// A density wave's assigned n; `null` for a structure.
    pub symmetry: Option<u32>,
    /// Number of clusters.
    pub count: usize,
    /// Mean diameter in nm (`null` without clusters).
    pub mean_diameter_nm: Option<f64>,
    /// Summed sphere volume over the box volume.
    pub volume_fraction: f64,
    /// Requested volume fraction.
    pub requested_volume_fraction: f64,
    /// RMS displacement from the ideal sites, nm.
    pub displacement_rms_nm: f64,
    /// Ring the clusters diffract into, nm⁻¹.
    pub k0_per_nm: f64,
    /// The n this type shows in some orientation (computed for structures by scanning viewing
    /// directions of its ideal cluster; a density wave's own n).
    pub capable_symmetries: Vec<u32>,
    /// Clusters in condition.
    pub in_condition_count: usize,
    /// Per n (decimal string key): clusters that show n.
    pub shows_count: BTreeMap<String, usize>,
}

/// Achieved statistics of one symmetry type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymmetryTruth {
    /// Number of clusters.
    pub count: usize,
    /// Mean diameter in nm (`null` without clusters).
    pub mean_diameter_nm: Option<f64>,
    /// Summed sphere volume over the box volume.
    pub volume_fraction: f64,
    /// Clusters in the Bragg condition.
    pub in_condition_count: usize,
    /// `in_condition_count / count` (`null` without clusters).
    pub in_condition_fraction: Option<f64>,
    /// Mean 3-D centre distance to the nearest cluster of the same symmetry, periodic in x and y
    /// (`null` with fewer than two clusters).
    pub nearest_neighbor_nm: Option<f64>,
    /// Mean 2-D (x, y) distance to the nearest in-condition cluster of the same symmetry, among
    /// in-condition clusters: the spacing a map of in-condition regions can show (`null` with
    /// fewer than two).
    pub projected_nearest_neighbor_nm: Option<f64>,
    /// Peak of the projected pair-correlation function g(r) of the in-condition clusters, in nm:
    /// their commonest neighbour distance, the spacing the first σ(r) peak of a map measures
    /// ([`super::pair_correlation`]); computed only for correlated placement (random placement
    /// gives the glass no spacing); `null` otherwise, with fewer than 5 or more than 4000
    /// in-condition clusters, or without a maximum 2.5 s.e. above g = 1. Absent from older truth
    /// files.
    #[serde(default)]
    pub pair_correlation_peak_nm: Option<f64>,
    /// Requested volume fraction.
    pub requested_volume_fraction: f64,
    /// Ring the clusters of this type diffract into, nm⁻¹.
    pub k0_per_nm: f64,
}

/// Everything known about a built glass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Always [`TRUTH_SCHEMA`].
    pub schema: String,
    /// Lateral box `[x, y]` in nm.
    pub extent_nm: [f64; 2],
    /// Foil thickness in nm.
    pub thickness_nm: f64,
    /// Number of atoms.
    pub atoms: usize,
    /// Achieved atoms per nm³.
    pub number_density_per_nm3: f64,
    /// `P_n` at or above which a cluster shows n (`glass::symmetry::SHOWS_THRESHOLD`).
    pub shows_threshold: f64,
    /// Every cluster.
    pub clusters: Vec<ClusterRecord>,
    /// Statistics per symmetry, keyed by n as a decimal string (`"4"`), for every n some type
    /// can show.
    pub by_symmetry: BTreeMap<String, SymmetryTruth>,
    /// Statistics per `[[clusters]]` table, keyed `"icosahedral"`, `"bcc"`, … or
    /// `"density_wave_4"`.
    pub by_type: BTreeMap<String, TypeTruth>,
    /// Summed cluster volume over the box volume.
    pub total_volume_fraction: f64,
    /// How the cluster centres were placed: a spacing exists to be measured only with
    /// `"correlated"` placement (`null` in truth files written before this field existed).
    #[serde(default)]
    pub placement: Option<PlacementSpec>,
    /// The run: scenario name and master seed (set by the harness; absent from older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<mro_core::meta::RunProvenance>,
}

impl Truth {
    /// The truth of atoms nothing was planted in (an atom file without a truth file): the box,
    /// the atom count and density, no clusters, empty per-symmetry and per-type statistics, a
    /// total volume fraction of 0 and no placement.
    pub fn without_clusters(atoms: &crate::atoms::AtomVolume) -> Self {
        Self {
            schema: TRUTH_SCHEMA.to_string(),
            extent_nm: [atoms.extent_nm[0], atoms.extent_nm[1]],
            thickness_nm: atoms.extent_nm[2],
            atoms: atoms.len(),
            number_density_per_nm3: atoms.number_density_per_nm3(),
            shows_threshold: super::symmetry::SHOWS_THRESHOLD,
            clusters: Vec::new(),
            by_symmetry: BTreeMap::new(),
            by_type: BTreeMap::new(),
            total_volume_fraction: 0.0,
            placement: None,
            provenance: None,
        }
    }

    /// Writes `truth.json` (pretty-printed) to `path`.
    pub fn write_json(&self, path: &Path) -> Result<(), GlassError> {
        let text = serde_json::to_string_pretty(self).expect("truth serialises");
        std::fs::write(path, text + "\n").map_err(|source| GlassError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a `truth.json` written by [`Truth::write_json`].
    pub fn read_json(path: &Path) -> Result<Self, GlassError> {
        let text = std::fs::read_to_string(path).map_err(|source| GlassError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| GlassError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }
}

/// Per-table statistics of `clusters`, keyed `"icosahedral"` or `"density_wave_4"`.
pub(crate) fn by_type(
    clusters: &[ClusterRecord],
    types: &[TypeSpec],
    extent_nm: [f64; 3],
) -> BTreeMap<String, TypeTruth> {
    let volume = extent_nm[0] * extent_nm[1] * extent_nm[2];
    types
        .iter()
        .map(|t| {
            let mine: Vec<&ClusterRecord> = clusters.iter().filter(|c| t.owns(c)).collect();
            let diameters: Vec<f64> = mine.iter().map(|c| c.diameter_nm).collect();
            let mut shows_count = BTreeMap::new();
            for c in &mine {
                for n in &c.shows {
                    *shows_count.entry(n.to_string()).or_insert(0) += 1;
                }
            }
            let truth = TypeTruth {
                kind: t.kind,
                symmetry: t.symmetry,
                count: mine.len(),
                mean_diameter_nm: (!diameters.is_empty())
                    .then(|| diameters.iter().sum::<f64>() / diameters.len() as f64),
                volume_fraction: super::placement::total_volume(&diameters) / volume,
                requested_volume_fraction: t.requested_volume_fraction,
                displacement_rms_nm: t.displacement_rms_nm,
                k0_per_nm: t.k0_per_nm,
                capable_symmetries: t.capable.clone(),
                in_condition_count: mine.iter().filter(|c| c.in_condition).count(),
                shows_count,
            };
            (t.label(), truth)
        })
        .collect()
}

/// Per-symmetry statistics of `clusters` in a box `extent_nm`, for every n some type can show.
/// The clusters *of* n are those of the types capable of n (a density wave of n, a structure
/// that shows n in some orientation); those *in condition* for n are the ones that diffract
/// into its map ([`ClusterRecord::in_condition_for`]).
/// `correlated`: whether the placement gave the clusters a spacing (only then is the pair
/// correlation's peak computed).
pub(crate) fn by_symmetry(
    clusters: &[ClusterRecord],
    types: &[TypeSpec],
    extent_nm: [f64; 3],
    correlated: bool,
) -> BTreeMap<String, SymmetryTruth> {
    let volume = extent_nm[0] * extent_nm[1] * extent_nm[2];
    let (lx, ly) = (extent_nm[0], extent_nm[1]);
    let mut symmetries: Vec<u32> = types.iter().flat_map(|t| t.capable.clone()).collect();
    symmetries.sort_unstable();
    symmetries.dedup();
    let mut out = BTreeMap::new();
    for n in symmetries {
        let capable: Vec<&TypeSpec> = types.iter().filter(|t| t.capable.contains(&n)).collect();
        let want: f64 = capable.iter().map(|t| t.requested_volume_fraction).sum();
        let k0_per_nm = capable.iter().map(|t| t.k0_per_nm).sum::<f64>() / capable.len() as f64;
        let mine: Vec<&ClusterRecord> = clusters
            .iter()
            .filter(|c| capable.iter().any(|t| t.owns(c)))
            .collect();
        let count = mine.len();
        let inc: Vec<&ClusterRecord> = mine
            .iter()
            .copied()
            .filter(|c| c.in_condition_for(n))
            .collect();
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let nn = |set: &[&ClusterRecord], projected: bool| -> Option<f64> {
            if set.len() < 2 {
                return None;
            }
            let d: Vec<f64> = set
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    set.iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .map(|(_, b)| {
                            let s = offset(a.center_nm, b.center_nm, lx, ly);
                            let z = if projected { 0.0 } else { s[2] };
                            (s[0] * s[0] + s[1] * s[1] + z * z).sqrt()
                        })
                        .fold(f64::INFINITY, f64::min)
                })
                .collect();
            mean(&d)
        };
        let diameters: Vec<f64> = mine.iter().map(|c| c.diameter_nm).collect();
        let v = super::placement::total_volume(&diameters);
        out.insert(
            n.to_string(),
            SymmetryTruth {
                count,
                mean_diameter_nm: mean(&diameters),
                volume_fraction: v / volume,
                in_condition_count: inc.len(),
                in_condition_fraction: (count > 0).then(|| inc.len() as f64 / count as f64),
                nearest_neighbor_nm: nn(&mine, false),
                projected_nearest_neighbor_nm: nn(&inc, true),
                pair_correlation_peak_nm: correlated
                    .then(|| {
                        pair_correlation_peak_nm(
                            &inc.iter()
                                .map(|c| [c.center_nm[0], c.center_nm[1]])
                                .collect::<Vec<_>>(),
                            lx,
                            ly,
                            mean(&inc.iter().map(|c| c.diameter_nm).collect::<Vec<_>>())
                                .unwrap_or(0.0),
                        )
                    })
                    .flatten(),
                requested_volume_fraction: want,
                k0_per_nm,
            },
        );
    }
    out
}
