//! NumPy `.npy` files (format versions 1.0–3.0): streaming reads and writes.
//!
//! Arrays are C order. Reading accepts little- or big-endian `f4`, `f8`, `u1`, `u2`, `u4`, `i2`
//! and `i4` and converts to `f32`; reads are positioned (`read_f32_at`), so a file larger than
//! memory is processed chunk by chunk. Writing produces little-endian `f4` and streams: values
//! go to `PATH.partial` as they are produced and the file is renamed into place by
//! [`NpyWriter::finish`] once every declared value has arrived, so a crash never leaves a
//! plausible but incomplete file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ndarray::{Array4, ArrayD, IxDyn};

use crate::datacube::{Calibration, Datacube};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Values converted per read call when loading a whole file.
const READ_CHUNK_VALUES: usize = 1 << 20;

/// Element types mro reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 8-bit unsigned integer.
    U8,
    /// 16-bit unsigned integer.
    U16,
    /// 32-bit unsigned integer.
    U32,
    /// 16-bit signed integer.
    I16,
    /// 32-bit signed integer.
    I32,
    /// NumPy `bool` (one byte; non-zero reads as 1.0).
    Bool,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::Bool => 1,
            Dtype::U16 | Dtype::I16 => 2,
            Dtype::F32 | Dtype::U32 | Dtype::I32 => 4,
            Dtype::F64 => 8,
        }
    }

    /// NumPy's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::Bool => "bool",
        }
    }
}

/// Why a `.npy` file could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The operating system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a `.npy` file, or a header mro cannot parse.
    #[error("{path}: not a valid .npy file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file ends before the data the header declares.
    #[error("{path}: truncated: header declares shape {shape:?} ({expected} data bytes) but the file holds {found} data bytes")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The declared shape.
        shape: Vec<usize>,
        /// Data bytes the header implies.
        expected: u64,
        /// Data bytes present.
        found: u64,
    },
    /// The file holds more than the data the header declares: a header whose shape is not
    /// the data's, or bytes appended after it (NumPy would silently ignore them).
    #[error("{path}: header declares shape {shape:?} ({expected} data bytes) but the file holds {found} data bytes, {} more: expected exactly the declared data (is the shape in the header right?)", found - expected)]
    TrailingData {
        /// The file.
        path: PathBuf,
        /// The declared shape.
        shape: Vec<usize>,
        /// Data bytes the header implies.
        expected: u64,
        /// Data bytes present.
        found: u64,
    },
    /// A dtype mro does not read.
    #[error("{path}: header field `descr` = '{descr}': expected one of <f4 <f8 |u1 <u2 <u4 <i2 <i4 |b1 (either byte order)")]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The dtype string.
        descr: String,
    },
    /// Fortran-ordered arrays are refused rather than silently transposed.
    #[error("{path}: header field `fortran_order` = True: expected C order (save with numpy.ascontiguousarray)")]
    FortranOrder {
        /// The file.
        path: PathBuf,
    },
    /// Wrong number of dimensions.
    #[error("{path}: header field `shape` = {shape:?}: expected {expected} dimensions{what}")]
    Rank {
        /// The file.
        path: PathBuf,
        /// The shape found.
        shape: Vec<usize>,
        /// Dimensions expected.
        expected: usize,
        /// What the dimensions mean, e.g. " [scan_y, scan_x, det_y, det_x]".
        what: &'static str,
    },
    /// A finite float64 value too large for the float32 counts mro computes in (it would
    /// become infinite).
    #[error("{path}: value {value:e} at index {index:?} overflows float32 (largest ≈ 3.40e38; mro reads counts as float32): expected counts below 3.4e38 — rescale the data, or check the file (no detector counts this high)")]
    Overflow {
        /// The file.
        path: PathBuf,
        /// Where, in the array's own indices.
        index: Vec<usize>,
        /// The value.
        value: f64,
    },
    /// A write did not match the declared shape.
    #[error("{path}: {reason}")]
    Length {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
}

/// The parsed header of a `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Element type.
    pub dtype: Dtype,
    /// Whether elements are big-endian.
    pub big_endian: bool,
    /// Array shape, C order.
    pub shape: Vec<usize>,
    /// Byte offset of the first element.
    pub data_offset: u64,
}

impl NpyHeader {
    /// Number of elements. A header from [`NpyReader::open`] is checked so that this, the byte
    /// count and the file offsets all fit in 64 bits.
    pub fn len(&self) -> usize {
        checked_len(&self.shape).unwrap_or(usize::MAX)
    }
    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of data bytes.
    pub fn data_bytes(&self) -> u64 {
        (self.len() as u64).saturating_mul(self.dtype.size() as u64)
    }
}

/// The element count of `shape`, or `None` if it overflows `usize`.
pub fn checked_len(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &n| a.checked_mul(n))
}

/// Positioned, converting reads from a `.npy` file on disk.
#[derive(Debug)]
pub struct NpyReader {
    path: PathBuf,
    file: BufReader<File>,
    header: NpyHeader,
    raw: Vec<u8>,
}

impl NpyReader {
    /// Opens `path`, parses its header and checks that the file holds exactly the declared data.
    pub fn open(path: &Path) -> Result<Self, NpyError> {
        let io = |source| NpyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let mut file = BufReader::new(file);
        let header = parse_header(&mut file, path)?;
        let found = file_len.saturating_sub(header.data_offset);
        if found < header.data_bytes() {
            return Err(NpyError::Truncated {
                path: path.to_path_buf(),
                shape: header.shape.clone(),
                expected: header.data_bytes(),
                found,
            });
        }
        if found > header.data_bytes() {
            return Err(NpyError::TrailingData {
                path: path.to_path_buf(),
                shape: header.shape.clone(),
                expected: header.data_bytes(),
                found,
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            header,
            raw: Vec::new(),
        })
    }

    /// The header.
    pub fn header(&self) -> &NpyHeader {
        &self.header
    }
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.header.shape
    }
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fails unless the array has `expected` dimensions; `what` names them in the message.
    pub fn require_rank(&self, expected: usize, what: &'static str) -> Result<(), NpyError> {
        if self.header.shape.len() == expected {
            Ok(())
        } else {
            Err(NpyError::Rank {
                path: self.path.clone(),
                shape: self.header.shape.clone(),
                expected,
                what,
            })
        }
    }

    /// Reads `out.len()` elements starting at flat C-order index `start`, converted to `f32`.
    ///
    /// # Errors
    /// [`NpyError::Length`] if the range runs past the end of the array.
    pub fn read_f32_at(&mut self, start: usize, out: &mut [f32]) -> Result<(), NpyError> {
        if start
            .checked_add(out.len())
            .map_or(true, |end| end > self.header.len())
        {
            return Err(NpyError::Length {
                path: self.path.clone(),
                reason: format!(
                    "read of {} values at {start} runs past the {} values of shape {:?}",
                    out.len(),
                    self.header.len(),
                    self.header.shape
                ),
            });
        }
        let size = self.header.dtype.size();
        // Fits: start + len ≤ len() and len()·size was checked when the header was parsed.
        let offset = self.header.data_offset + (start * size) as u64;
        let io = |source| NpyError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.seek(SeekFrom::Start(offset)).map_err(io)?;
        self.raw.resize(out.len() * size, 0);
        self.file.read_exact(&mut self.raw).map_err(io)?;
        convert(&self.raw, self.header.dtype, self.header.big_endian, out).map_err(|(at, value)| {
            let mut flat = start + at;
            let mut index = vec![0; self.header.shape.len()];
            for (i, &n) in self.header.shape.iter().enumerate().rev() {
                index[i] = flat % n.max(1);
                flat /= n.max(1);
            }
            NpyError::Overflow {
                path: self.path.clone(),
                index,
                value,
            }
        })
    }

    /// Reads the whole array as `f32`, in chunks.
    pub fn read_all_f32(&mut self) -> Result<ArrayD<f32>, NpyError> {
        let mut values = vec![0f32; self.header.len()];
        for (c, chunk) in values.chunks_mut(READ_CHUNK_VALUES).enumerate() {
            self.read_f32_at(c * READ_CHUNK_VALUES, chunk)?;
        }
        Ok(ArrayD::from_shape_vec(IxDyn(&self.header.shape), values)
            .expect("shape matches element count"))
    }
}

/// Converts `raw` values of `dtype` to `f32`; `Err((i, v))` at the first finite float64 `v`
/// beyond the `f32` range (it would become infinite and be mistaken for a corrupt value).
fn convert(
    raw: &[u8],
    dtype: Dtype,
    big_endian: bool,
    out: &mut [f32],
) -> Result<(), (usize, f64)> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            for (o, b) in out.iter_mut().zip(raw.chunks_exact($n)) {
                let bytes: [u8; $n] = b.try_into().expect("chunk size");
                let v = if big_endian {
                    <$t>::from_be_bytes(bytes)
                } else {
                    <$t>::from_le_bytes(bytes)
                };
                *o = v as f32;
            }
        };
    }
    match dtype {
        Dtype::F32 => conv!(f32, 4),
        Dtype::F64 => {
            conv!(f64, 8);
            let value = |i: usize| {
                let b: [u8; 8] = raw[8 * i..8 * i + 8].try_into().expect("8 bytes");
                if big_endian {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                }
            };
            // A finite value beyond the f32 range became ±Inf (a float64 ±Inf stays one, and
            // screening names it as non-finite).
            if let Some(i) = (0..out.len()).find(|&i| out[i].is_infinite() && value(i).is_finite())
            {
                return Err((i, value(i)));
            }
        }
        Dtype::U8 => conv!(u8, 1),
        Dtype::U16 => conv!(u16, 2),
        Dtype::U32 => conv!(u32, 4),
        Dtype::I16 => conv!(i16, 2),
        Dtype::I32 => conv!(i32, 4),
        Dtype::Bool => {
            for (o, &b) in out.iter_mut().zip(raw) {
                *o = if b != 0 { 1.0 } else { 0.0 };
            }
        }
    }
    Ok(())
}

/// Reads a whole `.npy` array as `f32`.
pub fn read_f32(path: &Path) -> Result<ArrayD<f32>, NpyError> {
    NpyReader::open(path)?.read_all_f32()
}

/// Reads a 4-D `.npy` file into memory as a [`Datacube`] with the given calibration.
pub fn read_datacube(path: &Path, calibration: Calibration) -> Result<Datacube, NpyError> {
    let mut reader = NpyReader::open(path)?;
    reader.require_rank(4, " [scan_y, scan_x, det_y, det_x]")?;
    let data = reader
        .read_all_f32()?
        .into_dimensionality::<ndarray::Ix4>()
        .expect("rank checked");
    Ok(Datacube::new(data, calibration))
}

fn parse_header<R: Read>(r: &mut R, path: &Path) -> Result<NpyHeader, NpyError> {
    let bad = |reason: String| NpyError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let mut lead = [0u8; 8];
    r.read_exact(&mut lead)
        .map_err(|_| bad("file is shorter than the 8-byte .npy preamble".into()))?;
    if &lead[..6] != MAGIC {
        return Err(bad("missing the \\x93NUMPY magic string".into()));
    }
    let (major, minor) = (lead[6], lead[7]);
    let header_len = match major {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)
                .map_err(|_| bad("truncated header length".into()))?;
            u16::from_le_bytes(b) as usize
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)
                .map_err(|_| bad("truncated header length".into()))?;
            u32::from_le_bytes(b) as usize
        }
        _ => {
            return Err(bad(format!(
                "format version {major}.{minor}: expected 1.0, 2.0 or 3.0"
            )))
        }
    };
    if header_len > 1 << 24 {
        return Err(bad(format!(
            "header length {header_len} bytes is implausible"
        )));
    }
    let prefix = if major == 1 { 10 } else { 12 };
    let mut text = vec![0u8; header_len];
    r.read_exact(&mut text)
        .map_err(|_| bad(format!("header of {header_len} bytes is truncated")))?;
    let text = String::from_utf8(text).map_err(|_| bad("header is not text".into()))?;
    let dict = parse_dict(&text).map_err(|e| bad(format!("header {e}: {:?}", text.trim())))?;

    let descr = dict
        .descr
        .ok_or_else(|| bad("header has no `descr`".into()))?;
    let fortran = dict
        .fortran_order
        .ok_or_else(|| bad("header has no `fortran_order`".into()))?;
    let shape = dict
        .shape
        .ok_or_else(|| bad("header has no `shape`".into()))?;
    let unsupported = || NpyError::UnsupportedDtype {
        path: path.to_path_buf(),
        descr: descr.clone(),
    };
    let (order, code) = descr.split_at(descr.len().min(1));
    let big_endian = match order {
        "<" | "=" | "|" => false,
        ">" => true,
        _ => return Err(unsupported()),
    };
    let dtype = match code {
        "f4" => Dtype::F32,
        "f8" => Dtype::F64,
        "u1" => Dtype::U8,
        "u2" => Dtype::U16,
        "u4" => Dtype::U32,
        "i2" => Dtype::I16,
        "i4" => Dtype::I32,
        "b1" => Dtype::Bool,
        _ => return Err(unsupported()),
    };
    // Checked sizes: a header may declare any shape; refuse one whose element count, byte
    // count or end offset does not fit in 64 bits before anything is sized from it.
    let data_offset = (prefix + header_len) as u64;
    let too_large = || {
        bad(format!(
            "header field `shape` = {shape:?}: {} bytes per element × this shape overflows a 64-bit size",
            dtype.size()
        ))
    };
    let n = checked_len(&shape).ok_or_else(too_large)?;
    (n as u64)
        .checked_mul(dtype.size() as u64)
        .and_then(|b| b.checked_add(data_offset))
        .ok_or_else(too_large)?;
    if fortran && shape.iter().filter(|&&n| n > 1).count() > 1 {
        return Err(NpyError::FortranOrder {
            path: path.to_path_buf(),
        });
    }
    Ok(NpyHeader {
        dtype,
        big_endian,
        shape,
        data_offset,
    })
}

#[derive(Default)]
struct HeaderDict {
    descr: Option<String>,
    fortran_order: Option<bool>,
    shape: Option<Vec<usize>>,
}

/// Parses the Python dict literal of a `.npy` header: string keys; values that are strings,
/// `True`/`False` or tuples of integers.
fn parse_dict(text: &str) -> Result<HeaderDict, String> {
    let mut p = Lexer {
        s: text.as_bytes(),
        i: 0,
    };
    let mut dict = HeaderDict::default();
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.expect(b':')?;
        p.skip_ws();
        match key.as_str() {
            "descr" => dict.descr = Some(p.string()?),
            "fortran_order" => dict.fortran_order = Some(p.boolean()?),
            "shape" => dict.shape = Some(p.tuple()?),
            other => return Err(format!("has unexpected key '{other}'")),
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.expect(b'}')?;
            break;
        }
    }
    Ok(dict)
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }
    fn string(&mut self) -> Result<String, String> {
        self.skip_ws();
        let q = *self.s.get(self.i).ok_or("ends early")?;
        if q != b'\'' && q != b'"' {
            return Err(format!("expected a quoted string at byte {}", self.i));
        }
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == q)
            .ok_or("has an unterminated string")?;
        self.i = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }
    fn boolean(&mut self) -> Result<bool, String> {
        for (word, v) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                return Ok(v);
            }
        }
        Err(format!("expected True or False at byte {}", self.i))
    }
    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            // Python 2 era writers append L to long integers.
            let digits = std::str::from_utf8(&self.s[start..self.i]).expect("ascii");
            if self.s.get(self.i) == Some(&b'L') {
                self.i += 1;
            }
            dims.push(
                digits
                    .parse()
                    .map_err(|_| format!("bad dimension at byte {start}"))?,
            );
            if !self.eat(b',') {
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

/// Streams a little-endian `f32` C-order array to disk.
///
/// Values are appended in C order with [`write`](Self::write) as they are produced; nothing is
/// held in memory beyond the write buffer. The data go to `PATH.partial`, which
/// [`finish`](Self::finish) checks and renames to `PATH`.
#[derive(Debug)]
pub struct NpyWriter {
    path: PathBuf,
    partial: PathBuf,
    file: BufWriter<File>,
    shape: Vec<usize>,
    written: usize,
    buf: Vec<u8>,
}

impl NpyWriter {
    /// Starts writing an array of `shape` to `path`.
    pub fn create(path: &Path, shape: &[usize]) -> Result<Self, NpyError> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let io = |source| NpyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = BufWriter::with_capacity(1 << 20, File::create(&partial).map_err(io)?);
        file.write_all(&header_bytes(shape)).map_err(io)?;
        Ok(Self {
            path: path.to_path_buf(),
            partial,
            file,
            shape: shape.to_vec(),
            written: 0,
            buf: Vec::new(),
        })
    }

    /// Number of values the header declares.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of values written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Appends `values` in C order.
    pub fn write(&mut self, values: &[f32]) -> Result<(), NpyError> {
        if self.written + values.len() > self.len() {
            return Err(NpyError::Length {
                path: self.path.clone(),
                reason: format!(
                    "{} values written to an array of shape {:?} ({} values)",
                    self.written + values.len(),
                    self.shape,
                    self.len()
                ),
            });
        }
        self.buf.clear();
        self.buf.reserve(values.len() * 4);
        for v in values {
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.file
            .write_all(&self.buf)
            .map_err(|source| NpyError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.written += values.len();
        Ok(())
    }

    /// Checks that every value arrived, flushes and moves the file into place.
    pub fn finish(self) -> Result<(), NpyError> {
        if self.written != self.len() {
            return Err(NpyError::Length {
                path: self.path.clone(),
                reason: format!(
                    "only {} of {} values of shape {:?} were written",
                    self.written,
                    self.len(),
                    self.shape
                ),
            });
        }
        let io = |source| NpyError::Io {
            path: self.path.clone(),
            source,
        };
        let file = self.file.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&self.partial, &self.path).map_err(io)
    }
}

/// The header of a little-endian `f32` C-order array, padded to a multiple of 64 bytes.
fn header_bytes(shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    let (version, prefix) = if dict.len() + 11 < 65536 {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    let pad = (64 - (prefix + dict.len() + 1) % 64) % 64;
    dict.push_str(&" ".repeat(pad));
    dict.push('\n');
    let mut out = Vec::with_capacity(prefix + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes a whole `f32` array of any rank.
pub fn write_f32(path: &Path, shape: &[usize], values: &[f32]) -> Result<(), NpyError> {
    let mut w = NpyWriter::create(path, shape)?;
    w.write(values)?;
    w.finish()
}

/// Writes a 4-D array (a datacube's counts).
pub fn write_array4(path: &Path, data: &Array4<f32>) -> Result<(), NpyError> {
    let mut w = NpyWriter::create(path, data.shape())?;
    match data.as_slice() {
        Some(s) => w.write(s)?,
        None => {
            for v in data.iter() {
                w.write(std::slice::from_ref(v))?;
            }
        }
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn header_is_aligned_and_parses() {
        for shape in [vec![], vec![7], vec![2, 3, 4, 5], vec![128, 128, 128, 128]] {
            let h = header_bytes(&shape);
            assert_eq!(h.len() % 64, 0);
            let parsed = parse_header(&mut &h[..], Path::new("x.npy")).unwrap();
            assert_eq!(parsed.shape, shape);
            assert_eq!(parsed.dtype, Dtype::F32);
            assert_eq!(parsed.data_offset as usize, h.len());
        }
    }

    #[test]
    fn truncated_file_is_named() {
        let d = tmp();
        let p = d.path().join("cube.npy");
        write_f32(&p, &[2, 2, 3, 3], &[1.0; 36]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 5]).unwrap();
        let e = NpyReader::open(&p).unwrap_err();
        assert!(
            matches!(
                e,
                NpyError::Truncated {
                    expected: 144,
                    found: 139,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("cube.npy"));
        std::fs::write(&p, &bytes[..20]).unwrap();
        assert!(matches!(
            NpyReader::open(&p).unwrap_err(),
            NpyError::Format { .. }
        ));
    }

    #[test]
    fn data_beyond_the_declared_shape_is_refused() {
        let d = tmp();
        let p = d.path().join("cube.npy");
        write_f32(&p, &[2, 2, 3, 3], &[1.0; 36]).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.extend_from_slice(&[0; 8]);
        std::fs::write(&p, &bytes).unwrap();
        let e = NpyReader::open(&p).unwrap_err();
        assert!(
            matches!(
                e,
                NpyError::TrailingData {
                    expected: 144,
                    found: 152,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("cube.npy") && e.to_string().contains("8 more"));
    }

    #[test]
    fn rejects_bad_headers() {
        let d = tmp();
        let p = d.path().join("a.npy");
        let with_dict = |dict: &str| {
            let mut v = MAGIC.to_vec();
            v.extend_from_slice(&[1, 0]);
            v.extend_from_slice(&(dict.len() as u16).to_le_bytes());
            v.extend_from_slice(dict.as_bytes());
            v.extend_from_slice(&[0u8; 64]);
            v
        };
        std::fs::write(
            &p,
            with_dict("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }\n"),
        )
        .unwrap();
        assert!(matches!(
            NpyReader::open(&p).unwrap_err(),
            NpyError::UnsupportedDtype { .. }
        ));
        std::fs::write(
            &p,
            with_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n"),
        )
        .unwrap();
        assert!(matches!(
            NpyReader::open(&p).unwrap_err(),
            NpyError::FortranOrder { .. }
        ));
        std::fs::write(&p, with_dict("{'descr': '<f4', 'shape': (2, 3), }\n")).unwrap();
        assert!(NpyReader::open(&p)
            .unwrap_err()
            .to_string()
            .contains("fortran_order"));
        std::fs::write(&p, b"PK\x03\x04 not numpy at all").unwrap();
        assert!(NpyReader::open(&p)
            .unwrap_err()
            .to_string()
            .contains("magic"));
        write_f32(&p, &[4, 4], &[0.0; 16]).unwrap();
        let r = NpyReader::open(&p).unwrap();
        let e = r
            .require_rank(4, " [scan_y, scan_x, det_y, det_x]")
            .unwrap_err();
        assert!(
            e.to_string().contains("[4, 4]") && e.to_string().contains("4 dimensions"),
            "{e}"
        );
    }

    #[test]
    fn converts_other_dtypes_and_byte_orders() {
        let d = tmp();
        let p = d.path().join("u16.npy");
        let dict = "{'descr': '>u2', 'fortran_order': False, 'shape': (3,), }";
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[1, 0]);
        v.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        v.extend_from_slice(dict.as_bytes());
        for x in [1u16, 300, 65535] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        std::fs::write(&p, v).unwrap();
        let a = read_f32(&p).unwrap();
        assert_eq!(a.as_slice().unwrap(), &[1.0, 300.0, 65535.0]);
    }

    #[test]
    fn writer_refuses_wrong_counts_and_leaves_no_file() {
        let d = tmp();
        let p = d.path().join("c.npy");
        let mut w = NpyWriter::create(&p, &[2, 2]).unwrap();
        w.write(&[1.0, 2.0, 3.0]).unwrap();
        assert!(w.write(&[1.0, 2.0]).is_err());
        assert!(w.finish().is_err());
        assert!(!p.exists());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn round_trip_any_shape(
            shape in proptest::collection::vec(1usize..6, 0..5),
            seed in any::<u64>(),
            chunk in 1usize..17,
        ) {
            use rand::{Rng, SeedableRng};
            let n: usize = shape.iter().product();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let values: Vec<f32> = (0..n).map(|_| f32::from_bits(rng.gen::<u32>() & 0x7f7f_ffff) * if rng.gen() { 1.0 } else { -1.0 }).collect();
            let d = tmp();
            let p = d.path().join("r.npy");
            let mut w = NpyWriter::create(&p, &shape).unwrap();
            for c in values.chunks(chunk) { w.write(c).unwrap(); }
            w.finish().unwrap();
            let mut r = NpyReader::open(&p).unwrap();
            prop_assert_eq!(r.shape(), &shape[..]);
            let back = r.read_all_f32().unwrap();
            prop_assert_eq!(back.as_slice().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            // Positioned reads agree with the whole.
            if n > 0 {
                let start = (seed as usize) % n;
                let mut part = vec![0f32; n - start];
                r.read_f32_at(start, &mut part).unwrap();
                prop_assert_eq!(&part[..], &values[start..]);
            }
        }
    }
}
