//! The ground truth of a built glass (`truth.json`, schema `mro.truth/1`): what was actually
//! placed, not what was asked for.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::placement::offset;
use super::GlassError;
use crate::spec::PlacementSpec;

/// Schema tag of `truth.json`.
pub const TRUTH_SCHEMA: &str = "mro.truth/1";

/// One planted cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// Index in `clusters`, from 0.
    pub id: usize,
    /// Rotational symmetry n of its diffraction along the axis.
    pub symmetry: u32,
    /// Centre `[x, y, z]` in nm (x, y in `[0, extent)`).
    pub center_nm: [f64; 3],
    /// Sphere diameter in nm.
    pub diameter_nm: f64,
    /// Unit symmetry axis `[ux, uy, uz]`.
    pub axis: [f64; 3],
    /// Turn of the motif about its axis in degrees (see `glass::orientation::Frame`).
    pub in_plane_deg: f64,
    /// Whether every defining reflection lies within the acceptance angle of the diffraction
    /// plane.
    pub in_condition: bool,
    /// Largest angle in degrees between a defining reflection and the diffraction plane.
    pub worst_reflection_elevation_deg: f64,
    /// Atoms that make up the cluster.
    pub atoms: usize,
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
    /// Bragg acceptance angle used for `in_condition`, in degrees.
    pub acceptance_deg: f64,
    /// Every cluster.
    pub clusters: Vec<ClusterRecord>,
    /// Statistics per symmetry, keyed by n as a decimal string (`"4"`).
    pub by_symmetry: BTreeMap<String, SymmetryTruth>,
    /// Summed cluster volume over the box volume.
    pub total_volume_fraction: f64,
    /// How the cluster centres were placed: a spacing exists to be measured only with
    /// `"correlated"` placement (`null` in truth files written before this field existed).
    #[serde(default)]
    pub placement: Option<PlacementSpec>,
}

impl Truth {
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

/// Per-symmetry statistics of `clusters` in a box `extent_nm`; `requested` lists each symmetry
/// with its requested fraction and ring k0.
pub(crate) fn by_symmetry(
    clusters: &[ClusterRecord],
    requested: &[(u32, f64, f64)],
    extent_nm: [f64; 3],
) -> BTreeMap<String, SymmetryTruth> {
    let volume = extent_nm[0] * extent_nm[1] * extent_nm[2];
    let (lx, ly) = (extent_nm[0], extent_nm[1]);
    let mut out = BTreeMap::new();
    for &(n, want, k0_per_nm) in requested {
        let mine: Vec<&ClusterRecord> = clusters.iter().filter(|c| c.symmetry == n).collect();
        let count = mine.len();
        let inc: Vec<&ClusterRecord> = mine.iter().copied().filter(|c| c.in_condition).collect();
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
        let v: f64 = diameters
            .iter()
            .map(|&d| super::placement::sphere_volume(d))
            .sum();
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
                requested_volume_fraction: want,
                k0_per_nm,
            },
        );
    }
    out
}
