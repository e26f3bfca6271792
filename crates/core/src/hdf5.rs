//! HDF5 datacubes (py4DSTEM / EMD, or any 4-D dataset), read frame by frame with the pure-Rust
//! [`rust_hdf5`] crate (no C library): contiguous or chunked datasets, gzip (deflate) filtered.
//!
//! A dataset is named as `FILE.h5:/path/to/dataset`; with no dataset path the datacube is the
//! 4-D dataset in a group whose `emd_group_type` attribute is `1` (EMD 0.x / py4DSTEM) or
//! `"array"` (EMD 1.0), else the only 4-D dataset in the file. Frames are read by hyperslab
//! (`[1, k, det_y, det_x]` per scan row), so only the chunks holding them are decoded.

use std::path::{Path, PathBuf};

use rust_hdf5::{DatatypeMessage, H5Dataset, H5File};

/// The extensions read as HDF5.
pub const EXTENSIONS: [&str; 3] = ["h5", "hdf5", "emd"];

/// Splits `FILE.h5:/path/to/dataset` into the file and the dataset path (without its leading
/// `/`). A path with no `:` after an HDF5 extension is returned whole, with no dataset.
pub fn split_dataset_path(path: &Path) -> (PathBuf, Option<String>) {
    let Some(s) = path.to_str() else {
        return (path.to_path_buf(), None);
    };
    let lower = s.to_ascii_lowercase();
    for ext in EXTENSIONS {
        let marker = format!(".{ext}:");
        if let Some(i) = lower.rfind(&marker) {
            let file_end = i + marker.len() - 1;
            let dataset = s[file_end + 1..].trim_start_matches('/');
            return (PathBuf::from(&s[..file_end]), Some(dataset.to_string()));
        }
    }
    (path.to_path_buf(), None)
}

/// How the stored element type is read and converted to `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    F32,
    F64,
    Signed,
    Unsigned,
}

/// A 4-D HDF5 dataset `[scan_y, scan_x, det_y, det_x]` opened for frame reads.
pub struct Hdf5Cube {
    // Kept open: the dataset handle reads through it.
    _file: H5File,
    dataset: H5Dataset,
    name: String,
    shape: [usize; 4],
    elem: Elem,
    dtype: String,
}

impl std::fmt::Debug for Hdf5Cube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hdf5Cube")
            .field("name", &self.name)
            .field("shape", &self.shape)
            .finish()
    }
}

impl Hdf5Cube {
    /// Opens `dataset` (a path inside the file, no leading `/`) in `file`, or finds the
    /// datacube (see the [module docs](self)).
    ///
    /// # Errors
    /// A reason (the caller names the file): the file is not HDF5, the dataset is missing, not
    /// 4-D, not a numeric type, empty, or several candidate datacubes (listed) exist.
    pub fn open(file: &Path, dataset: Option<&str>) -> Result<Self, String> {
        let h5 = H5File::open(file).map_err(|e| format!("not a readable HDF5 file: {e}"))?;
        let name = match dataset {
            Some(d) if !d.is_empty() => d.to_string(),
            _ => find_datacube(&h5)?,
        };
        let ds = h5.dataset(&name).map_err(|e| {
            format!(
                "dataset /{name}: {e}; datasets in the file: {}",
                list(&h5.dataset_names())
            )
        })?;
        let shape: [usize; 4] = ds.shape().try_into().map_err(|_| {
            format!(
                "dataset /{name} has shape {:?}: expected 4 dimensions [scan_y, scan_x, det_y, det_x]",
                ds.shape()
            )
        })?;
        if shape.contains(&0) {
            return Err(format!(
                "dataset /{name} has shape {shape:?}: expected at least one scan point and one detector pixel"
            ));
        }
        let dt = ds
            .datatype()
            .map_err(|e| format!("dataset /{name}: datatype does not decode: {e}"))?;
        let (elem, dtype) = match dt {
            DatatypeMessage::FloatingPoint { size: 4, .. } => (Elem::F32, "float32"),
            DatatypeMessage::FloatingPoint { size: 8, .. } => (Elem::F64, "float64"),
            DatatypeMessage::FixedPoint {
                size: 1 | 2 | 4 | 8,
                signed: true,
                ..
            } => (Elem::Signed, "signed integer"),
            DatatypeMessage::FixedPoint {
                size: 1 | 2 | 4 | 8,
                signed: false,
                ..
            } => (Elem::Unsigned, "unsigned integer"),
            other => {
                return Err(format!(
                    "dataset /{name} has datatype {other:?}: expected an integer or float32/float64 type"
                ))
            }
        };
        Ok(Self {
            dtype: format!("{dtype} ({} bytes, HDF5 /{name})", ds.element_size()),
            _file: h5,
            dataset: ds,
            name,
            shape,
            elem,
        })
    }

    /// `[scan_y, scan_x, det_y, det_x]`.
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// The dataset's path in the file (no leading `/`).
    pub fn dataset_name(&self) -> &str {
        &self.name
    }

    /// The stored element type, as users know it.
    pub fn dtype(&self) -> &str {
        &self.dtype
    }

    /// Reads consecutive frames from scan index `first` (C order) into `out`
    /// (`[frame, det_y, det_x]` `f32`), one hyperslab per scan row touched. The caller has checked
    /// that `out` is whole frames within the dataset.
    ///
    /// # Errors
    /// A reason if a chunk does not decode or the data do not convert.
    pub fn read_frames(&self, first: usize, out: &mut [f32]) -> Result<(), String> {
        let [_, sx, dy, dx] = self.shape;
        let plen = dy * dx;
        let mut frame = first;
        for run in split_rows(first, out.len() / plen, sx) {
            let dst = &mut out[(frame - first) * plen..(frame - first + run) * plen];
            let starts = [frame / sx, frame % sx, 0, 0];
            let counts = [1, run, dy, dx];
            let err = |e: rust_hdf5::Hdf5Error| {
                format!("dataset /{}: reading frames {frame}…: {e}", self.name)
            };
            match self.elem {
                Elem::F32 => {
                    let v: Vec<f32> = self
                        .dataset
                        .read_numeric_slice_as(&starts, &counts)
                        .map_err(err)?;
                    copy_checked(dst, &v, |x| x, &self.name)?;
                }
                Elem::F64 => {
                    let v: Vec<f64> = self
                        .dataset
                        .read_numeric_slice_as(&starts, &counts)
                        .map_err(err)?;
                    // Narrowing to f32 counts, as the .npy reader does for float64; a finite
                    // value beyond the f32 range would become infinite, so it is refused.
                    if let Some((i, x)) = v
                        .iter()
                        .enumerate()
                        .find(|(_, x)| x.is_finite() && x.abs() > f64::from(f32::MAX))
                    {
                        return Err(format!(
                            "dataset /{}: value {x:e} in frame {} overflows float32 (largest ≈ \
                             3.40e38; mro reads counts as float32): expected counts below 3.4e38",
                            self.name,
                            frame + i / plen
                        ));
                    }
                    copy_checked(dst, &v, |x| x as f32, &self.name)?;
                }
                Elem::Signed => {
                    let v: Vec<i64> = self
                        .dataset
                        .read_numeric_slice_as(&starts, &counts)
                        .map_err(err)?;
                    copy_checked(dst, &v, |x| x as f32, &self.name)?;
                }
                Elem::Unsigned => {
                    let v: Vec<u64> = self
                        .dataset
                        .read_numeric_slice_as(&starts, &counts)
                        .map_err(err)?;
                    copy_checked(dst, &v, |x| x as f32, &self.name)?;
                }
            }
            frame += run;
        }
        Ok(())
    }
}

/// Splits `n` frames from `first` into runs that stay within one scan row of `sx` frames.
fn split_rows(first: usize, n: usize, sx: usize) -> Vec<usize> {
    let mut runs = Vec::new();
    let (mut at, end) = (first, first + n);
    while at < end {
        let run = (sx - at % sx).min(end - at);
        runs.push(run);
        at += run;
    }
    runs
}

fn copy_checked<T: Copy>(
    dst: &mut [f32],
    src: &[T],
    conv: impl Fn(T) -> f32,
    name: &str,
) -> Result<(), String> {
    if src.len() != dst.len() {
        return Err(format!(
            "dataset /{name}: a hyperslab read returned {} values: expected {}",
            src.len(),
            dst.len()
        ));
    }
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = conv(s);
    }
    Ok(())
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names
            .iter()
            .map(|n| format!("/{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The datacube of a file given without a dataset path: the 4-D dataset under an EMD data
/// group, else the single 4-D dataset.
fn find_datacube(h5: &H5File) -> Result<String, String> {
    let mut four_d: Vec<String> = h5
        .dataset_names()
        .into_iter()
        .filter(|n| h5.dataset(n).is_ok_and(|d| d.ndims() == 4))
        .collect();
    four_d.sort();
    let emd: Vec<&String> = four_d
        .iter()
        .filter(|n| {
            let parent = n.rsplit_once('/').map_or("", |(p, _)| p);
            // Walk to the parent group one link at a time.
            let group = parent
                .split('/')
                .filter(|c| !c.is_empty())
                .try_fold(h5.root_group(), |g, c| g.group(c));
            group.is_ok_and(|g| is_emd_data_group(&g))
        })
        .collect();
    match (emd.as_slice(), four_d.as_slice()) {
        ([one], _) => Ok((*one).clone()),
        ([], [one]) => Ok(one.clone()),
        ([], []) => Err(format!(
            "no 4-D dataset in the file (datasets: {}): expected a [scan_y, scan_x, det_y, det_x] datacube, or name one as FILE.h5:/path/to/dataset",
            list(&h5.dataset_names())
        )),
        ([], many) => Err(format!(
            "{} 4-D datasets and no EMD datacube group: name one as FILE.h5:/path/to/dataset; candidates: {}",
            many.len(),
            list(many)
        )),
        (many, _) => Err(format!(
            "{} EMD datacube groups: name one as FILE.h5:/path/to/dataset; candidates: {}",
            many.len(),
            list(&many.iter().map(|s| (*s).clone()).collect::<Vec<_>>())
        )),
    }
}

/// Whether a group's `emd_group_type` marks it as a data group: `1` (EMD 0.x, py4DSTEM) or
/// `"array"` (EMD 1.0).
///
/// Shortcut, named: rust-hdf5 0.7 reads group attributes only as strings. For an integer
/// attribute it returns the stored little-endian bytes with the NUL padding stripped, so the
/// integer 1 (of any width) reads as `"\u{1}"`; that is what is compared.
fn is_emd_data_group(g: &rust_hdf5::H5Group) -> bool {
    g.attr_string("emd_group_type")
        .is_ok_and(|v| matches!(v.trim_end_matches('\0'), "1" | "\u{1}" | "array"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_paths_split_after_the_extension() {
        assert_eq!(
            split_dataset_path(Path::new("/d/a.b/x.H5:/g/data")),
            (PathBuf::from("/d/a.b/x.H5"), Some("g/data".into()))
        );
        assert_eq!(
            split_dataset_path(Path::new("x.emd")),
            (PathBuf::from("x.emd"), None)
        );
    }

    #[test]
    fn runs_never_cross_a_scan_row() {
        assert_eq!(split_rows(3, 9, 4), vec![1, 4, 4]);
        assert_eq!(split_rows(0, 4, 4), vec![4]);
        assert_eq!(split_rows(5, 2, 4), vec![2]);
    }
}
