//! Datacubes on disk in the formats 4D-STEM users have, read frame by frame.
//!
//! A [`FrameSource`] presents any supported file as `[scan_y, scan_x, det_y, det_x]` `f32`
//! counts and reads whole frames (diffraction patterns) by scan index, so a file larger than
//! memory is processed chunk by chunk:
//! - `.npy`: 4-D `[scan_y, scan_x, det_y, det_x]`, or a 3-D stack `[N, det_y, det_x]` with
//!   `--scan-shape Y,X` (`Y·X = N`); every dtype [`crate::npy`] reads;
//! - EMPAD `.raw` (or its `.xml`): 128 × 130 `float32` frames with the two metadata rows dropped,
//!   the scan shape from the acquisition XML, the file name or `--scan-shape` ([`crate::empad`]);
//! - HDF5 `.h5` / `.hdf5` / `.emd`: a 4-D dataset named as `FILE.h5:/path/to/dataset`, or the
//!   py4DSTEM / EMD datacube found in the file ([`crate::hdf5`]).
//!
//! The format comes from the extension unless given ([`Format`]). Every size is computed with
//! checked arithmetic, and every error names the file and what was expected.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::empad::{self, ScanShapeSource};
use crate::hdf5::{self, Hdf5Cube};
use crate::npy::{checked_len, Dtype, NpyError, NpyReader};

/// A datacube file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// NumPy `.npy`, 4-D or a 3-D stack with a scan shape.
    Npy,
    /// EMPAD `.raw` (128 × 130 `float32` frames) with its acquisition `.xml`.
    Empad,
    /// HDF5 (`.h5`, `.hdf5`, `.emd`): a 4-D dataset, chunked and gzip-compressed or not.
    Hdf5,
}

impl Format {
    /// The format a file name implies: `.npy` → NumPy, `.raw` / `.xml` → EMPAD,
    /// `.h5` / `.hdf5` / `.emd` (optionally followed by `:/path/to/dataset`) → HDF5.
    pub fn from_extension(path: &Path) -> Option<Self> {
        let (file, _) = hdf5::split_dataset_path(path);
        let ext = file.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "npy" => Some(Self::Npy),
            "raw" | "xml" => Some(Self::Empad),
            e if hdf5::EXTENSIONS.contains(&e) => Some(Self::Hdf5),
            _ => None,
        }
    }

    /// The name used by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Npy => "npy",
            Self::Empad => "empad",
            Self::Hdf5 => "hdf5",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "npy" => Ok(Self::Npy),
            "empad" | "raw" => Ok(Self::Empad),
            "hdf5" | "h5" | "emd" => Ok(Self::Hdf5),
            other => Err(format!(
                "unknown format '{other}': expected npy, empad or hdf5"
            )),
        }
    }
}

/// Why a datacube file could not be opened or read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The `.npy` reader refused.
    #[error(transparent)]
    Npy(#[from] NpyError),
    /// The operating system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file, or the scan shape given for it, is not what the format requires.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        reason: String,
    },
}

enum Kind {
    /// Little-endian `f4` `.npy` on a little-endian host: read straight into the destination.
    NpyDirect { file: File, data_offset: u64 },
    /// Any other `.npy` dtype, converted.
    NpyConverting(NpyReader),
    /// EMPAD frames: the 128 detector rows of each frame read straight into the destination.
    Empad { file: File },
    /// A 4-D HDF5 dataset, read by hyperslab.
    Hdf5(Hdf5Cube),
}

/// A datacube file opened for frame reads. See the [module docs](self).
pub struct FrameSource {
    path: PathBuf,
    format: Format,
    scan: [usize; 2],
    det: [usize; 2],
    dtype: String,
    scan_shape_from: String,
    kind: Kind,
}

impl std::fmt::Debug for FrameSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameSource")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("scan", &self.scan)
            .field("det", &self.det)
            .finish()
    }
}

impl FrameSource {
    /// Opens `path` as `format` (default: from the extension). `scan_shape` `[y, x]` is needed
    /// for a 3-D `.npy` stack and for an EMPAD file without its XML; when the file knows its
    /// own scan shape a given one must agree.
    ///
    /// # Errors
    /// [`SourceError`] naming the file: unknown extension, a malformed file, or a scan shape
    /// missing or not matching the number of frames.
    pub fn open(
        path: &Path,
        format: Option<Format>,
        scan_shape: Option<[usize; 2]>,
    ) -> Result<Self, SourceError> {
        let invalid = |reason: String| SourceError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let format = match format.or_else(|| Format::from_extension(path)) {
            Some(f) => f,
            None => return Err(invalid(
                "unknown file type: expected a .npy, EMPAD .raw/.xml or HDF5 .h5/.hdf5/.emd file, or --format npy|empad|hdf5"
                    .into(),
            )),
        };
        match format {
            Format::Npy => Self::open_npy(path, scan_shape),
            Format::Empad => Self::open_empad(path, scan_shape),
            Format::Hdf5 => Self::open_hdf5(path, scan_shape),
        }
    }

    fn open_hdf5(path: &Path, scan_shape: Option<[usize; 2]>) -> Result<Self, SourceError> {
        let (file, dataset) = hdf5::split_dataset_path(path);
        let invalid = |reason: String| SourceError::Invalid {
            path: file.clone(),
            reason,
        };
        let cube = Hdf5Cube::open(&file, dataset.as_deref()).map_err(invalid)?;
        let [sy, sx, dy, dx] = cube.shape();
        if let Some(given) = scan_shape {
            if given != [sy, sx] {
                return Err(invalid(format!(
                    "--scan-shape {},{} does not match the scan shape {sy} × {sx} of dataset /{}",
                    given[0],
                    given[1],
                    cube.dataset_name()
                )));
            }
        }
        // The frame count and frame length are bounded by the dataset, but their product is
        // what a full read would size: refuse one that overflows.
        if checked_len(&cube.shape()).is_none() {
            return Err(invalid(format!(
                "dataset /{} has shape {:?}: more than 2⁶⁴ values",
                cube.dataset_name(),
                cube.shape()
            )));
        }
        Ok(Self {
            path: file.clone(),
            format: Format::Hdf5,
            scan: [sy, sx],
            det: [dy, dx],
            dtype: cube.dtype().to_string(),
            scan_shape_from: format!("the shape of HDF5 dataset /{}", cube.dataset_name()),
            kind: Kind::Hdf5(cube),
        })
    }

    fn open_npy(path: &Path, scan_shape: Option<[usize; 2]>) -> Result<Self, SourceError> {
        let reader = NpyReader::open(path)?;
        let h = reader.header().clone();
        let invalid = |reason: String| SourceError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let (scan, det, from) = match (h.shape.as_slice(), scan_shape) {
            (&[sy, sx, dy, dx], None) => ([sy, sx], [dy, dx], "the .npy header".to_string()),
            (&[sy, sx, dy, dx], Some(given)) => {
                if given != [sy, sx] {
                    return Err(invalid(format!(
                        "--scan-shape {},{} does not match the file's scan shape {sy} × {sx} (header field `shape` = {:?})",
                        given[0], given[1], h.shape
                    )));
                }
                ([sy, sx], [dy, dx], "the .npy header".to_string())
            }
            (&[n, dy, dx], Some(given)) => {
                check_frames(path, given, n, "frames in the 3-D stack")?;
                (given, [dy, dx], "--scan-shape".to_string())
            }
            (&[n, _, _], None) => {
                return Err(invalid(format!(
                    "header field `shape` = {:?} is a 3-D stack of {n} frames: give the scan shape with --scan-shape Y,X (Y·X = {n})",
                    h.shape
                )))
            }
            _ => {
                return Err(invalid(format!(
                    "header field `shape` = {:?}: expected 4 dimensions [scan_y, scan_x, det_y, det_x] or 3 [N, det_y, det_x] with --scan-shape",
                    h.shape
                )))
            }
        };
        // An empty datacube holds no frame, so a frame's size would not be bounded by the file:
        // refuse it before anything is sized from the detector shape.
        if scan[0] * scan[1] == 0 || det[0] * det[1] == 0 {
            return Err(invalid(format!(
                "header field `shape` = {:?}: expected at least one scan point and one detector pixel",
                h.shape
            )));
        }
        let kind = if h.dtype == Dtype::F32 && !h.big_endian && cfg!(target_endian = "little") {
            let file = File::open(path).map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            Kind::NpyDirect {
                file,
                data_offset: h.data_offset,
            }
        } else {
            Kind::NpyConverting(reader)
        };
        Ok(Self {
            path: path.to_path_buf(),
            format: Format::Npy,
            scan,
            det,
            dtype: format!(
                "{}{}",
                h.dtype.name(),
                if h.big_endian { " (big-endian)" } else { "" }
            ),
            scan_shape_from: from,
            kind,
        })
    }

    fn open_empad(path: &Path, scan_shape: Option<[usize; 2]>) -> Result<Self, SourceError> {
        let invalid = |p: &Path, reason: String| SourceError::Invalid {
            path: p.to_path_buf(),
            reason,
        };
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| SourceError::Io { path: p, source }
        };
        // Given the XML, read the raw file it names (beside it).
        let (raw, xml) = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
        {
            let meta = std::fs::metadata(path).map_err(io(path))?;
            if meta.len() > 1 << 20 {
                return Err(invalid(
                    path,
                    format!(
                        "{} bytes is too large for an EMPAD acquisition XML (expected a few kB)",
                        meta.len()
                    ),
                ));
            }
            let text = std::fs::read_to_string(path).map_err(io(path))?;
            let name = empad::raw_file_from_xml(&text).ok_or_else(|| {
                invalid(
                    path,
                    "no <raw_file filename=\"…\"/> element: expected an EMPAD acquisition XML"
                        .into(),
                )
            })?;
            let file_name = name.replace('\\', "/");
            let file_name = Path::new(&file_name)
                .file_name()
                .map(PathBuf::from)
                .ok_or_else(|| {
                    invalid(
                        path,
                        format!("<raw_file filename=\"{name}\"> names no file"),
                    )
                })?;
            let raw = path.with_file_name(file_name);
            (raw, Some((path.to_path_buf(), text)))
        } else {
            (path.to_path_buf(), empad::find_xml(path))
        };
        let file = File::open(&raw).map_err(io(&raw))?;
        let len = file.metadata().map_err(io(&raw))?.len();
        if len == 0 || len % empad::FRAME_BYTES != 0 {
            return Err(invalid(
                &raw,
                format!(
                    "{len} bytes is not a whole number of EMPAD frames: expected a multiple of {} bytes (128 × 130 float32 values per frame)",
                    empad::FRAME_BYTES
                ),
            ));
        }
        let frames = usize::try_from(len / empad::FRAME_BYTES)
            .map_err(|_| invalid(&raw, format!("{len} bytes: too many frames")))?;
        let from_xml = xml
            .as_ref()
            .and_then(|(p, t)| empad::scan_shape_from_xml(t).map(|s| (s, p.clone())));
        let (scan, source) = match (scan_shape, from_xml, empad::scan_shape_from_name(&raw)) {
            (Some(s), _, _) => (s, ScanShapeSource::Given),
            (None, Some((s, p)), _) => (s, ScanShapeSource::Xml(p)),
            (None, None, Some(s)) => (s, ScanShapeSource::FileName),
            (None, None, None) => {
                return Err(invalid(
                    &raw,
                    format!(
                        "{frames} EMPAD frames and no scan shape: no acquisition XML beside the file names it and the file name has no _x…_y… part; give --scan-shape Y,X"
                    ),
                ))
            }
        };
        let from = match &source {
            ScanShapeSource::Xml(p) => {
                format!("{} (scan_resolution_y, scan_resolution_x)", p.display())
            }
            ScanShapeSource::FileName => "the file name (_x…_y…)".into(),
            ScanShapeSource::Given => "--scan-shape".into(),
        };
        check_frames(
            &raw,
            scan,
            frames,
            &format!("EMPAD frames (scan shape from {from})"),
        )?;
        Ok(Self {
            path: raw,
            format: Format::Empad,
            scan,
            det: [empad::DETECTOR_ROWS, empad::DETECTOR_COLS],
            dtype: "float32 (EMPAD, 2 metadata rows per frame dropped)".into(),
            scan_shape_from: from,
            kind: Kind::Empad { file },
        })
    }

    /// The data file (for EMPAD, the `.raw` file even when the XML was given).
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }
    /// `[scan_y, scan_x]`.
    pub fn scan_shape(&self) -> [usize; 2] {
        self.scan
    }
    /// `[det_y, det_x]`.
    pub fn detector_shape(&self) -> [usize; 2] {
        self.det
    }
    /// Number of frames, `scan_y · scan_x`.
    pub fn n_frames(&self) -> usize {
        self.scan[0] * self.scan[1]
    }
    /// Values per frame, `det_y · det_x`.
    pub fn frame_len(&self) -> usize {
        self.det[0] * self.det[1]
    }
    /// The stored element type, as users know it.
    pub fn dtype(&self) -> &str {
        &self.dtype
    }
    /// Where the scan shape came from (header, XML, file name or `--scan-shape`).
    pub fn scan_shape_from(&self) -> &str {
        &self.scan_shape_from
    }

    /// Reads consecutive frames starting at scan index `first` (C order, x fastest) into `out`,
    /// whose length must be a whole number of frames, as `f32` counts `[frame, det_y, det_x]`.
    ///
    /// # Errors
    /// [`SourceError::Invalid`] if `out` is not whole frames or runs past the last frame;
    /// [`SourceError::Io`] if the read fails.
    pub fn read_frames(&mut self, first: usize, out: &mut [f32]) -> Result<(), SourceError> {
        let plen = self.frame_len();
        let n = out.len().checked_div(plen).unwrap_or(0);
        if plen == 0
            || out.len() % plen != 0
            || first.checked_add(n).map_or(true, |e| e > self.n_frames())
        {
            return Err(SourceError::Invalid {
                path: self.path.clone(),
                reason: format!(
                    "read of {} values at frame {first}: expected whole frames of {plen} values within {} frames",
                    out.len(),
                    self.n_frames()
                ),
            });
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SourceError::Io { path, source }
        };
        match &mut self.kind {
            Kind::NpyDirect { file, data_offset } => {
                use std::os::unix::fs::FileExt;
                // In range: the header check bounds data_offset + 4·(frames·plen) by u64::MAX.
                let offset = *data_offset + 4 * (first * plen) as u64;
                file.read_exact_at(bytemuck::cast_slice_mut(out), offset)
                    .map_err(io(&self.path))
            }
            Kind::NpyConverting(r) => Ok(r.read_f32_at(first * plen, out)?),
            Kind::Empad { file } => {
                use std::os::unix::fs::FileExt;
                for (i, frame) in out.chunks_exact_mut(plen).enumerate() {
                    let offset = (first + i) as u64 * empad::FRAME_BYTES;
                    file.read_exact_at(bytemuck::cast_slice_mut(frame), offset)
                        .map_err(io(&self.path))?;
                    if cfg!(target_endian = "big") {
                        for v in frame.iter_mut() {
                            *v = f32::from_bits(v.to_bits().swap_bytes());
                        }
                    }
                }
                Ok(())
            }
            Kind::Hdf5(cube) => {
                cube.read_frames(first, out)
                    .map_err(|reason| SourceError::Invalid {
                        path: self.path.clone(),
                        reason,
                    })
            }
        }
    }
}

/// Fails unless `scan[0] · scan[1] == frames`, naming both.
fn check_frames(
    path: &Path,
    scan: [usize; 2],
    frames: usize,
    what: &str,
) -> Result<(), SourceError> {
    match checked_len(&scan) {
        Some(n) if n == frames && n > 0 => Ok(()),
        _ => Err(SourceError::Invalid {
            path: path.to_path_buf(),
            reason: format!(
                "scan shape {} × {} = {} scan points, but the file holds {frames} {what}: expected Y·X = {frames}",
                scan[0],
                scan[1],
                checked_len(&scan).map_or("more than 2⁶⁴".into(), |n| n.to_string()),
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::write_f32;

    fn empad_bytes(frames: usize, value: impl Fn(usize, usize, usize) -> f32) -> Vec<u8> {
        let mut v = Vec::with_capacity(frames * empad::FRAME_BYTES as usize);
        for f in 0..frames {
            for r in 0..empad::RAW_ROWS {
                for c in 0..empad::DETECTOR_COLS {
                    let x = if r < empad::DETECTOR_ROWS {
                        value(f, r, c)
                    } else {
                        -7.0e9
                    };
                    v.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
        v
    }

    #[test]
    fn empad_drops_metadata_rows_and_keeps_non_square_scans() {
        let d = tempfile::tempdir().unwrap();
        let raw = d.path().join("frames.raw");
        let val = |f: usize, r: usize, c: usize| (f * 1000 + r * 3 + c) as f32;
        std::fs::write(&raw, empad_bytes(6, val)).unwrap();
        let e = FrameSource::open(&raw, None, None).unwrap_err().to_string();
        assert!(
            e.contains("--scan-shape") && e.contains("6 EMPAD frames"),
            "{e}"
        );
        let e = FrameSource::open(&raw, None, Some([4, 2]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("4 × 2 = 8") && e.contains("6"), "{e}");
        let mut s = FrameSource::open(&raw, None, Some([2, 3])).unwrap();
        assert_eq!((s.scan_shape(), s.detector_shape()), ([2, 3], [128, 128]));
        let mut out = vec![0f32; 2 * 128 * 128];
        s.read_frames(4, &mut out).unwrap();
        assert_eq!(out[0], 4000.0);
        assert_eq!(out[128 * 128 - 1], (4000 + 127 * 3 + 127) as f32);
        assert_eq!(out[128 * 128], 5000.0);
        assert!(out.iter().all(|&v| v >= 0.0), "metadata rows leaked");
        assert!(s.read_frames(5, &mut out).is_err());

        // The XML beside the file gives the shape [y, x] = [scan_resolution_y, scan_resolution_x].
        std::fs::write(
            d.path().join("acq.xml"),
            "<root><raw_file filename=\"frames.raw\"/><scan_parameters mode=\"acquire\"><scan_resolution_x>3</scan_resolution_x><scan_resolution_y>2</scan_resolution_y></scan_parameters></root>",
        )
        .unwrap();
        let s = FrameSource::open(&raw, None, None).unwrap();
        assert_eq!(s.scan_shape(), [2, 3]);
        assert!(s.scan_shape_from().contains("acq.xml"));
        let s = FrameSource::open(&d.path().join("acq.xml"), None, None).unwrap();
        assert_eq!((s.path(), s.scan_shape()), (raw.as_path(), [2, 3]));
    }

    #[test]
    fn empad_refuses_partial_frames() {
        let d = tempfile::tempdir().unwrap();
        let raw = d.path().join("scan_x2_y1.raw");
        let mut b = empad_bytes(2, |_, _, _| 1.0);
        b.pop();
        std::fs::write(&raw, b).unwrap();
        let e = FrameSource::open(&raw, None, None).unwrap_err().to_string();
        assert!(e.contains("66560") && e.contains("scan_x2_y1.raw"), "{e}");
    }

    #[test]
    fn npy_stack_needs_a_matching_scan_shape() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("stack.npy");
        let v: Vec<f32> = (0..6 * 9).map(|i| i as f32).collect();
        write_f32(&p, &[6, 3, 3], &v).unwrap();
        let e = FrameSource::open(&p, None, None).unwrap_err().to_string();
        assert!(e.contains("--scan-shape"), "{e}");
        assert!(FrameSource::open(&p, None, Some([4, 2])).is_err());
        let mut s = FrameSource::open(&p, None, Some([3, 2])).unwrap();
        assert_eq!((s.scan_shape(), s.detector_shape()), ([3, 2], [3, 3]));
        let mut out = vec![0f32; 9];
        s.read_frames(5, &mut out).unwrap();
        assert_eq!(out[0], 45.0);

        let p4 = d.path().join("cube.npy");
        write_f32(&p4, &[2, 3, 3, 3], &v).unwrap();
        assert!(FrameSource::open(&p4, None, Some([3, 2])).is_err());
        assert!(FrameSource::open(&p4, None, Some([2, 3])).is_ok());
        let e = FrameSource::open(&d.path().join("x.h4"), None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--format"), "{e}");
    }
}
