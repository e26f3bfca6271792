//! Per-frame and per-pixel screening of a datacube before the measurement.
//!
//! Measured data carry defects that the Im et al. (2018) statistics would silently absorb: a
//! stuck (hot) pixel pulls the refined centre onto itself and dominates ring variances; a dark
//! frame (beam blanked during flyback) enters every average; NaN or ±Inf values turn every
//! sum into NaN. A [`Screener`] counts them over one pass — `mro analyze` feeds it the chunks
//! the measurement reads ([`crate::analyze_source_screened`]), [`screen_source`] reads a file for
//! it alone, [`screen_values`] takes values in memory — and [`ScreenReport`] states the single
//! policy applied to all of them:
//!
//! - **non-finite values**: a pixel that is non-finite in *every* frame is a dead pixel and is
//!   masked; any other non-finite value refuses the data (exit 2), naming how many values and
//!   the first scan position — mro does not guess a replacement;
//! - **hot pixels** (mean over the scan more than [`ScreenSettings::hot_factor`] × the largest
//!   mean of its 8 neighbours, and at least [`ScreenSettings::min_hot_counts`] counts in total)
//!   and **dead pixels** (zero in every frame while its neighbours' median mean predicts at least
//!   [`ScreenSettings::dead_expected_counts`] counts, so a Poisson pixel would be all-zero with
//!   probability ≤ e⁻²⁰) are masked and listed. Judgement: the probe disk (≥ 2 px across at the
//!   calibrations mro supports) and the detector's point-spread function spread real signal
//!   over neighbouring pixels, so an isolated pixel far above all its neighbours is a defect;
//! - **dark frames** (finite sum below [`ScreenSettings::dark_fraction`] of the median frame
//!   sum) refuse the data, naming how many and where; a datacube whose median frame holds no
//!   counts at all has no signal and is refused (saying how many pixels are non-finite in every
//!   frame, so that a file of NaN is not mistaken for an empty one);
//! - **bright frames** (sum above [`ScreenSettings::bright_factor`] × the median frame sum)
//!   refuse the data too. Judgement: the beam current is constant over a scan and the detector
//!   collects nearly all of it (a thin foil scatters a few per cent outside a 128-pixel
//!   detector, vacuum none), so no real frame holds several times the median's counts; one
//!   that does is a saturated, overflowed or corrupted read-out, and one such frame would
//!   dominate every variance;
//! - **identical frames**: a datacube whose every frame equals the first one in every unmasked
//!   pixel (one pattern repeated, or a constant such as all ones) is refused. Judgement: the
//!   measurement is of how patterns fluctuate from position to position; a cube without any
//!   fluctuation is not a measurement (it gave negative V(k) and im2018 regions over the whole
//!   field rather than an error), and no detector reads the same counts bit for bit twice;
//! - **negative values** (offset-subtracted data) are counted and reported as a warning.
//!
//! Masked pixels (the user's mask and the ones found here) are ignored by every check.

use mro_core::FrameSource;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AnalysisError;
use crate::pipeline::stream_frames;

/// Thresholds of the screening; see the [module docs](self) for their meaning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenSettings {
    /// A frame is dark if its sum is below this fraction of the median frame sum.
    pub dark_fraction: f64,
    /// A pixel is hot if its mean exceeds this multiple of its neighbours' largest mean.
    pub hot_factor: f64,
    /// …and it holds at least this many counts over the scan (so noise cannot make one).
    pub min_hot_counts: f64,
    /// A pixel that is zero in every frame is dead if its neighbours predict this many counts.
    pub dead_expected_counts: f64,
    /// A frame is bright if its sum exceeds this multiple of the median frame sum.
    pub bright_factor: f64,
}

impl Default for ScreenSettings {
    fn default() -> Self {
        Self {
            dark_fraction: 0.05,
            hot_factor: 5.0,
            min_hot_counts: 100.0,
            dead_expected_counts: 20.0,
            bright_factor: 10.0,
        }
    }
}

/// What screening found (written as `screening.json` by `mro analyze`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScreenReport {
    /// `[scan_y, scan_x]`.
    pub scan_shape: [usize; 2],
    /// `[det_y, det_x]`.
    pub detector_shape: [usize; 2],
    /// Median over frames of the sum of finite, unmasked values.
    pub median_frame_sum: f64,
    /// Non-finite values in unmasked pixels that are not non-finite in every frame.
    pub non_finite_values: usize,
    /// Frames holding at least one such value.
    pub non_finite_frames: usize,
    /// Scan position `[y, x]` of the first such frame.
    pub first_non_finite_frame: Option<[usize; 2]>,
    /// Negative finite values in unmasked pixels.
    pub negative_values: usize,
    /// Scan positions `[y, x]` of dark frames.
    pub dark_frames: Vec<[usize; 2]>,
    /// Scan positions `[y, x]` of bright frames (absent from older reports).
    #[serde(default)]
    pub bright_frames: Vec<[usize; 2]>,
    /// Unmasked pixels that are NaN or infinite in every frame (among `dead_pixels`).
    #[serde(default)]
    pub non_finite_pixels: usize,
    /// Hot pixels `[det_y, det_x]`, masked.
    pub hot_pixels: Vec<[usize; 2]>,
    /// Dead pixels `[det_y, det_x]` (zero, or non-finite, in every frame), masked.
    pub dead_pixels: Vec<[usize; 2]>,
    /// Frames that differ from the first frame in at least one unmasked pixel (absent from
    /// older reports); 0 with more than one frame: every pattern is the same, and the data are
    /// refused.
    #[serde(default)]
    pub frames_differing_from_first: Option<usize>,
}

impl ScreenReport {
    /// The detector mask for the measurement: `user` (if any) plus the hot and dead pixels.
    pub fn excluded(&self, user: Option<&[bool]>) -> Vec<bool> {
        let [ny, nx] = self.detector_shape;
        let mut m = user.map_or_else(|| vec![false; ny * nx], <[bool]>::to_vec);
        for &[y, x] in self.hot_pixels.iter().chain(&self.dead_pixels) {
            m[y * nx + x] = true;
        }
        m
    }

    /// Whether screening found hot or dead pixels to mask beyond the user's mask.
    pub fn masks_pixels(&self) -> bool {
        !self.hot_pixels.is_empty() || !self.dead_pixels.is_empty()
    }

    /// Why the data cannot be measured as they are, if they cannot.
    pub fn refusal(&self) -> Option<String> {
        let pos = |p: &[usize; 2]| format!("[{}, {}]", p[0], p[1]);
        // The first five of a list of frames, and an ellipsis if there are more.
        let first = |frames: &[[usize; 2]]| {
            let list: Vec<String> = frames.iter().take(5).map(pos).collect();
            list.join(", ") + if frames.len() > 5 { ", …" } else { "" }
        };
        let [sy, sx] = self.scan_shape;
        if self.non_finite_values > 0 {
            return Some(format!(
                "{} values in {} of {} frames are NaN or infinite (first at scan position {}): expected finite counts; replace them or mask the pixels (--mask)",
                self.non_finite_values,
                self.non_finite_frames,
                sy * sx,
                self.first_non_finite_frame.as_ref().map_or("?".into(), pos)
            ));
        }
        if self.median_frame_sum.is_nan() || self.median_frame_sum <= 0.0 {
            let non_finite = match self.non_finite_pixels {
                0 => String::new(),
                n => format!(
                    " ({n} of {} detector pixels are NaN or infinite in every frame)",
                    self.detector_shape[0] * self.detector_shape[1]
                ),
            };
            return Some(format!(
                "no signal: the median frame sums to {} counts over the unmasked pixels{non_finite}: expected a datacube with counts",
                self.median_frame_sum
            ));
        }
        if !self.bright_frames.is_empty() {
            return Some(format!(
                "{} of {} frames are bright (sum above {:.0} × the median frame sum {:.4e}; first at scan positions {}): expected a constant beam current; saturated or corrupted frames must be replaced or cropped",
                self.bright_frames.len(),
                sy * sx,
                ScreenSettings::default().bright_factor,
                self.median_frame_sum,
                first(&self.bright_frames)
            ));
        }
        if self.frames_differing_from_first == Some(0) && sy * sx > 1 {
            return Some(format!(
                "all {} frames are identical to the first in every unmasked pixel (each sums to {:.4e} counts): expected patterns that vary from scan position to scan position; one repeated pattern, or a constant cube, holds no fluctuation to measure",
                sy * sx,
                self.median_frame_sum
            ));
        }
        if !self.dark_frames.is_empty() {
            return Some(format!(
                "{} of {} frames are dark (sum below {:.0} % of the median frame sum {:.4e}; first at scan positions {}): expected every frame exposed; crop the scan to exclude blanked frames (e.g. a flyback column)",
                self.dark_frames.len(),
                sy * sx,
                100.0 * ScreenSettings::default().dark_fraction,
                self.median_frame_sum,
                first(&self.dark_frames)
            ));
        }
        None
    }

    /// Things the user should know that do not stop the measurement.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let list = |p: &[[usize; 2]]| {
            let s: Vec<String> = p
                .iter()
                .take(8)
                .map(|p| format!("[{}, {}]", p[0], p[1]))
                .collect();
            s.join(", ") + if p.len() > 8 { ", …" } else { "" }
        };
        if !self.hot_pixels.is_empty() {
            w.push(format!(
                "{} hot detector pixel(s) masked (y, x): {}",
                self.hot_pixels.len(),
                list(&self.hot_pixels)
            ));
        }
        if !self.dead_pixels.is_empty() {
            w.push(format!(
                "{} dead detector pixel(s) masked (y, x): {}",
                self.dead_pixels.len(),
                list(&self.dead_pixels)
            ));
        }
        if self.negative_values > 0 {
            w.push(format!(
                "{} values are negative (offset-subtracted data?): the Poisson correction assumes counts",
                self.negative_values
            ));
        }
        w
    }
}

/// Running sums of a screening pass, fed whole frames in scan order ([`Screener::add`]); the
/// measurement feeds it the chunks it reads, so that screening costs no extra read of the file.
pub struct Screener {
    det: [usize; 2],
    /// Per pixel, as a bit mask for the branch-free sums: all ones = kept, 0 = in the user's
    /// mask.
    keep_bits: Vec<u32>,
    /// Per unmasked pixel: sum of finite values, count of non-finite values, count of zeros.
    pixel_sum: Vec<f64>,
    pixel_non_finite: Vec<u64>,
    /// Per frame: finite sum, non-finite count, negative count.
    frame_sum: Vec<f64>,
    frame_non_finite: Vec<u64>,
    negative: usize,
    /// The first frame, which every later one is compared with (empty before the first add).
    first_frame: Vec<f32>,
    /// Frames differing from the first in at least one kept pixel.
    differing: usize,
}

impl Screener {
    /// A screener for `frames` frames of `det` pixels; `excluded` is the user's mask
    /// (`true` = ignored, `[det_y · det_x]`).
    ///
    /// # Errors
    /// [`AnalysisError::Shape`] if the mask does not have `det_y · det_x` values.
    pub fn new(
        det: [usize; 2],
        frames: usize,
        excluded: Option<&[bool]>,
    ) -> Result<Self, AnalysisError> {
        check_mask(excluded, det)?;
        let plen = det[0] * det[1];
        Ok(Self {
            det,
            keep_bits: (0..plen)
                .map(|p| {
                    let kept = excluded.map_or(true, |m| !m[p]);
                    0u32.wrapping_sub(u32::from(kept))
                })
                .collect(),
            pixel_sum: vec![0.0; plen],
            pixel_non_finite: vec![0; plen],
            frame_sum: Vec::with_capacity(frames),
            frame_non_finite: Vec::with_capacity(frames),
            negative: 0,
            first_frame: Vec::new(),
            differing: 0,
        })
    }

    /// Adds a block of whole frames (`[frames · det_y · det_x]`), the next in scan order.
    ///
    /// Both sweeps are branch-free (values selected with bit masks) so that they vectorise;
    /// they run on the block the measurement has just read, while it is in cache.
    pub fn add(&mut self, block: &[f32]) {
        let plen = self.det[0] * self.det[1];
        if self.first_frame.is_empty() && block.len() >= plen {
            self.first_frame = block[..plen].to_vec();
        }
        let keep = &self.keep_bits;
        let first = &self.first_frame;
        let per_frame: Vec<FramePart> = block
            .par_chunks(plen)
            .map(|f| frame_part(f, keep, first))
            .collect();
        // Non-finite values are rare: only a block that holds one pays for counting them.
        let clean = per_frame.iter().all(|p| p.non_finite_anywhere == 0);
        for p in per_frame {
            self.differing += usize::from(p.differs > 0);
            self.frame_sum.push(p.sum);
            self.frame_non_finite.push(p.non_finite);
            self.negative += p.negative as usize;
        }
        let n = block.len() / plen.max(1);
        let per = plen
            .div_ceil(rayon::current_num_threads().max(1) * 4)
            .max(64);
        self.pixel_sum
            .par_chunks_mut(per)
            .zip(self.pixel_non_finite.par_chunks_mut(per))
            .enumerate()
            .for_each(|(c, (s, bad))| {
                let off = c * per;
                let len = s.len();
                let pat = |f: usize| &block[f * plen + off..f * plen + off + len];
                if clean {
                    // f32 partial sums over runs of at most PIXEL_RUN frames, added to the f64
                    // totals: four lanes per instruction instead of a conversion and an add
                    // per value.
                    let mut part = vec![0.0f32; len];
                    for first in (0..n).step_by(PIXEL_RUN) {
                        part.fill(0.0);
                        for f in first..(first + PIXEL_RUN).min(n) {
                            for (a, &v) in part.iter_mut().zip(pat(f)) {
                                *a += v;
                            }
                        }
                        for (a, &v) in s.iter_mut().zip(&part) {
                            *a += f64::from(v);
                        }
                    }
                } else {
                    for f in 0..n {
                        for ((a, b), &v) in s.iter_mut().zip(bad.iter_mut()).zip(pat(f)) {
                            let (finite, fin) = finite_or_zero(v);
                            *a += f64::from(finite);
                            *b += u64::from(!fin);
                        }
                    }
                }
            });
    }

    /// The report over every frame added, for a scan of `scan` positions.
    pub fn finish(self, scan: [usize; 2], settings: &ScreenSettings) -> ScreenReport {
        let [ny, nx] = self.det;
        let frames = self.frame_sum.len() as u64;
        let ok = |p: usize| self.keep_bits[p] != 0;
        // Pixels non-finite in every frame are dead; their values are not counted below.
        let always_bad: Vec<bool> = self
            .pixel_non_finite
            .iter()
            .map(|&b| frames > 0 && b == frames)
            .collect();
        let mean: Vec<f64> = self
            .pixel_sum
            .iter()
            .map(|&s| s / frames.max(1) as f64)
            .collect();
        let mut hot = Vec::new();
        let mut dead = Vec::new();
        for y in 0..ny {
            for x in 0..nx {
                let p = y * nx + x;
                if !ok(p) {
                    continue;
                }
                if always_bad[p] {
                    dead.push([y, x]);
                    continue;
                }
                let mut nb = Vec::with_capacity(8);
                for dy in -1isize..=1 {
                    for dx in -1isize..=1 {
                        let (yy, xx) = (y as isize + dy, x as isize + dx);
                        if (dy, dx) == (0, 0)
                            || yy < 0
                            || xx < 0
                            || yy >= ny as isize
                            || xx >= nx as isize
                        {
                            continue;
                        }
                        let q = yy as usize * nx + xx as usize;
                        if ok(q) && !always_bad[q] {
                            nb.push(mean[q]);
                        }
                    }
                }
                if nb.is_empty() {
                    continue;
                }
                let nb_max = nb.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if mean[p] > settings.hot_factor * nb_max.max(0.0)
                    && self.pixel_sum[p] >= settings.min_hot_counts
                {
                    hot.push([y, x]);
                    continue;
                }
                nb.sort_by(f64::total_cmp);
                let nb_median = nb[nb.len() / 2];
                if self.pixel_sum[p] == 0.0
                    && self.pixel_non_finite[p] == 0
                    && nb_median * frames as f64 >= settings.dead_expected_counts
                {
                    dead.push([y, x]);
                }
            }
        }
        // Non-finite values outside the always-non-finite pixels refuse the data.
        let counted_bad: Vec<u64> = if always_bad.iter().any(|&b| b) {
            // Recount per frame without the dead pixels: every frame had one value per pixel.
            let per_frame_dead = always_bad
                .iter()
                .enumerate()
                .filter(|&(p, &b)| b && ok(p))
                .count() as u64;
            self.frame_non_finite
                .iter()
                .map(|&b| b - per_frame_dead)
                .collect()
        } else {
            self.frame_non_finite.clone()
        };
        let non_finite_values = counted_bad.iter().sum::<u64>() as usize;
        let non_finite_frames = counted_bad.iter().filter(|&&b| b > 0).count();
        let pos = |i: usize| [i / scan[1].max(1), i % scan[1].max(1)];
        let first_non_finite_frame = counted_bad.iter().position(|&b| b > 0).map(pos);
        let mut sorted = self.frame_sum.clone();
        sorted.sort_by(f64::total_cmp);
        let median_frame_sum = if sorted.is_empty() {
            f64::NAN
        } else {
            sorted[sorted.len() / 2]
        };
        let frames_where = |out: &dyn Fn(f64) -> bool| -> Vec<[usize; 2]> {
            if median_frame_sum > 0.0 {
                let positions = self.frame_sum.iter().enumerate();
                positions
                    .filter(|&(_, &s)| out(s))
                    .map(|(i, _)| pos(i))
                    .collect()
            } else {
                Vec::new()
            }
        };
        let dark_frames = frames_where(&|s| s < settings.dark_fraction * median_frame_sum);
        // A frame whose f32 sum overflowed (+∞, or NaN from ∞ − ∞) is bright too.
        let bright_frames =
            frames_where(&|s| s.is_nan() || s > settings.bright_factor * median_frame_sum);
        let non_finite_pixels = (0..always_bad.len())
            .filter(|&p| always_bad[p] && ok(p))
            .count();
        ScreenReport {
            scan_shape: scan,
            detector_shape: self.det,
            median_frame_sum,
            non_finite_values,
            non_finite_frames,
            first_non_finite_frame,
            negative_values: self.negative,
            dark_frames,
            bright_frames,
            non_finite_pixels,
            hot_pixels: hot,
            dead_pixels: dead,
            frames_differing_from_first: Some(self.differing),
        }
    }
}

/// Screens a datacube file in one streamed pass of `chunk_patterns` frames at a time.
/// `excluded` is the user's detector mask (`true` = ignored), `[det_y · det_x]`.
///
/// # Errors
/// [`AnalysisError`] if the file cannot be read or the mask has the wrong length.
pub fn screen_source(
    source: &mut FrameSource,
    excluded: Option<&[bool]>,
    settings: &ScreenSettings,
    chunk_patterns: usize,
) -> Result<ScreenReport, AnalysisError> {
    let det = source.detector_shape();
    let scan = source.scan_shape();
    let mut screener = Screener::new(det, source.n_frames(), excluded)?;
    stream_frames(source, chunk_patterns, &mut |_, block| {
        screener.add(block);
        Ok(())
    })?;
    Ok(screener.finish(scan, settings))
}

/// Screens frames held in memory: `values` is `[scan_y · scan_x · det_y · det_x]`, C order.
///
/// # Errors
/// [`AnalysisError::Shape`] if `values` or the mask do not match the shapes.
pub fn screen_values(
    values: &[f32],
    scan: [usize; 2],
    det: [usize; 2],
    excluded: Option<&[bool]>,
    settings: &ScreenSettings,
) -> Result<ScreenReport, AnalysisError> {
    let plen = det[0] * det[1];
    if plen == 0 || values.len() != scan[0] * scan[1] * plen {
        return Err(AnalysisError::Shape {
            what: "datacube".into(),
            found: vec![values.len()],
            expected: format!("{} × {} × {} × {} values", scan[0], scan[1], det[0], det[1]),
        });
    }
    let mut screener = Screener::new(det, scan[0] * scan[1], excluded)?;
    for block in values.chunks(32 * plen) {
        screener.add(block);
    }
    Ok(screener.finish(scan, settings))
}

/// Values per f32 partial sum of [`frame_part`]: each lane adds at most 64 values in f32
/// (exact for counts below 2¹⁸) before the partial sums are added in f64.
const PIECE: usize = 1024;
/// Frames per f32 partial sum of a pixel in [`Screener::add`]: the relative rounding of a
/// partial sum stays below ~PIXEL_RUN·2⁻²⁴ ≈ 4·10⁻⁶, far below any screening threshold.
const PIXEL_RUN: usize = 64;

/// Independent accumulators, so that the adds vectorise.
const LANES: usize = 16;

/// One frame's sums over its kept pixels.
struct FramePart {
    /// Finite values.
    sum: f64,
    /// Non-finite values.
    non_finite: u64,
    /// Negative finite values.
    negative: u64,
    /// Non-finite values in any pixel, masked or not.
    non_finite_anywhere: u64,
    /// Kept pixels whose value differs (bit for bit) from the first frame's.
    differs: u64,
}

/// `(v, true)` if `v` is finite, else `(0.0, false)`, without a branch.
fn finite_or_zero(v: f32) -> (f32, bool) {
    let bits = v.to_bits();
    let fin = (bits & 0x7fff_ffff) < 0x7f80_0000;
    (
        f32::from_bits(bits & 0u32.wrapping_sub(u32::from(fin))),
        fin,
    )
}

/// One frame's sums over the pixels kept by `keep` (all ones = kept, 0 = masked), and how many
/// of them differ from `first` (the first frame). The summation order is fixed (lanes within
/// pieces of [`PIECE`] values, lanes and pieces added in order), so the result does not depend
/// on the thread count.
fn frame_part(frame: &[f32], keep: &[u32], first: &[f32]) -> FramePart {
    let mut out = FramePart {
        sum: 0.0,
        non_finite: 0,
        negative: 0,
        non_finite_anywhere: 0,
        differs: 0,
    };
    for ((vp, kp), fp) in frame
        .chunks(PIECE)
        .zip(keep.chunks(PIECE))
        .zip(first.chunks(PIECE))
    {
        let mut sum = [0.0f32; LANES];
        let mut bad = [0u32; LANES];
        let mut neg = [0u32; LANES];
        let mut bad_all = [0u32; LANES];
        let mut diff = [0u32; LANES];
        let mut one = |l: usize, v: f32, k: u32, f: f32| {
            let (finite, fin) = finite_or_zero(v);
            let used = f32::from_bits(finite.to_bits() & k);
            sum[l] += used;
            bad_all[l] += u32::from(!fin);
            bad[l] += u32::from(!fin) & k;
            neg[l] += u32::from(used < 0.0);
            diff[l] += u32::from(v.to_bits() != f.to_bits()) & k;
        };
        let whole = vp.len() - vp.len() % LANES;
        for ((vs, ks), fs) in vp[..whole]
            .chunks_exact(LANES)
            .zip(kp[..whole].chunks_exact(LANES))
            .zip(fp[..whole].chunks_exact(LANES))
        {
            for l in 0..LANES {
                one(l, vs[l], ks[l], fs[l]);
            }
        }
        for (l, ((&v, &k), &f)) in vp[whole..]
            .iter()
            .zip(&kp[whole..])
            .zip(&fp[whole..])
            .enumerate()
        {
            one(l, v, k, f);
        }
        out.sum += sum.iter().map(|&s| f64::from(s)).sum::<f64>();
        out.non_finite += bad.iter().map(|&b| u64::from(b)).sum::<u64>();
        out.negative += neg.iter().map(|&n| u64::from(n)).sum::<u64>();
        out.non_finite_anywhere += bad_all.iter().map(|&b| u64::from(b)).sum::<u64>();
        out.differs += diff.iter().map(|&d| u64::from(d)).sum::<u64>();
    }
    out
}

fn check_mask(excluded: Option<&[bool]>, det: [usize; 2]) -> Result<(), AnalysisError> {
    match excluded {
        Some(m) if m.len() != det[0] * det[1] => Err(AnalysisError::Shape {
            what: "mask".into(),
            found: vec![m.len()],
            expected: format!("{} × {} values (the detector shape)", det[0], det[1]),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The vectorised per-frame sums against a plain loop, on frames of any length with
        /// NaN, ±Inf, negative values and a random mask.
        #[test]
        fn frame_part_matches_a_plain_loop(
            cells in prop::collection::vec((0u8..8, -50.0f32..70_000.0, any::<bool>()), 0..3000)
        ) {
            let frame: Vec<f32> = cells
                .iter()
                .map(|&(kind, v, _)| match kind {
                    0 => f32::NAN,
                    1 => f32::INFINITY,
                    2 => f32::NEG_INFINITY,
                    3 => -v.abs(),
                    _ => v.round(),
                })
                .collect();
            let keep: Vec<u32> = cells.iter().map(|c| if c.2 { u32::MAX } else { 0 }).collect();
            // A first frame that differs from this one at every third pixel.
            let first: Vec<f32> = frame
                .iter()
                .enumerate()
                .map(|(i, &v)| if i % 3 == 0 { v + 1.0 } else { v })
                .collect();
            let (mut sum, mut bad, mut neg, mut bad_all) = (0.0f64, 0u64, 0u64, 0u64);
            let mut differs = 0u64;
            for ((&v, &k), &f) in frame.iter().zip(&keep).zip(&first) {
                bad_all += u64::from(!v.is_finite());
                if k == 0 {
                    continue;
                }
                differs += u64::from(v.to_bits() != f.to_bits());
                if v.is_finite() {
                    sum += f64::from(v);
                    neg += u64::from(v < 0.0);
                } else {
                    bad += 1;
                }
            }
            let p = frame_part(&frame, &keep, &first);
            prop_assert_eq!((p.non_finite, p.negative, p.non_finite_anywhere), (bad, neg, bad_all));
            prop_assert_eq!(p.differs, differs);
            let scale: f64 = frame.iter().filter(|v| v.is_finite()).map(|v| f64::from(v.abs())).sum();
            prop_assert!((p.sum - sum).abs() <= 1e-6 * scale.max(1.0), "{} vs {}", p.sum, sum);
        }
    }

    /// A smooth disk-plus-background pattern with Poisson-free values, `n` frames of 16 × 16.
    fn clean(n: usize) -> Vec<f32> {
        let mut v = Vec::new();
        for f in 0..n {
            for y in 0..16 {
                for x in 0..16 {
                    let r2 = (y as f32 - 8.0).powi(2) + (x as f32 - 7.5).powi(2);
                    let disk = if r2 < 9.0 { 500.0 } else { 0.0 };
                    v.push(disk + 10.0 + (f % 3) as f32 + 3.0 * (-r2 / 30.0).exp());
                }
            }
        }
        v
    }

    #[test]
    fn clean_data_pass_without_findings() {
        let v = clean(12);
        let r = screen_values(&v, [3, 4], [16, 16], None, &ScreenSettings::default()).unwrap();
        assert_eq!(r.refusal(), None);
        assert!(r.warnings().is_empty(), "{:?}", r.warnings());
        assert!(r.hot_pixels.is_empty() && r.dead_pixels.is_empty());
    }

    #[test]
    fn hot_and_dead_pixels_are_found_and_masked() {
        let mut v = clean(12);
        for f in 0..12 {
            v[f * 256 + 2 * 16 + 13] = 65535.0;
            v[f * 256 + 14 * 16 + 3] = 0.0;
        }
        let r = screen_values(&v, [3, 4], [16, 16], None, &ScreenSettings::default()).unwrap();
        assert_eq!(r.hot_pixels, vec![[2, 13]]);
        assert_eq!(r.dead_pixels, vec![[14, 3]]);
        assert_eq!(r.refusal(), None);
        let m = r.excluded(None);
        assert_eq!(m.iter().filter(|&&b| b).count(), 2);
        assert!(m[2 * 16 + 13] && m[14 * 16 + 3]);
        // A user mask over the hot pixel: nothing more to report.
        let mut user = vec![false; 256];
        user[2 * 16 + 13] = true;
        let r = screen_values(
            &v,
            [3, 4],
            [16, 16],
            Some(&user),
            &ScreenSettings::default(),
        )
        .unwrap();
        assert!(r.hot_pixels.is_empty());
    }

    #[test]
    fn dark_frames_non_finite_values_and_no_signal_refuse() {
        let s = ScreenSettings::default();
        let mut v = clean(12);
        v[5 * 256..6 * 256].iter_mut().for_each(|x| *x = 0.0);
        let r = screen_values(&v, [3, 4], [16, 16], None, &s).unwrap();
        assert_eq!(r.dark_frames, vec![[1, 1]]);
        assert!(r.refusal().unwrap().contains("1 of 12 frames are dark"));

        let mut v = clean(12);
        v[7 * 256 + 40] = f32::NAN;
        v[9 * 256 + 41] = f32::INFINITY;
        let r = screen_values(&v, [3, 4], [16, 16], None, &s).unwrap();
        assert_eq!((r.non_finite_values, r.non_finite_frames), (2, 2));
        assert!(r.refusal().unwrap().contains("scan position [1, 3]"));

        // NaN in every frame at one pixel: a dead pixel, masked, not a refusal.
        let mut v = clean(12);
        (0..12).for_each(|f| v[f * 256 + 40] = f32::NAN);
        let r = screen_values(&v, [3, 4], [16, 16], None, &s).unwrap();
        assert_eq!(r.dead_pixels, vec![[2, 8]]);
        assert_eq!(r.refusal(), None);

        let r = screen_values(&vec![0.0; 12 * 256], [3, 4], [16, 16], None, &s).unwrap();
        assert!(r.refusal().unwrap().contains("no signal"));
        let r = screen_values(&vec![f32::NAN; 12 * 256], [3, 4], [16, 16], None, &s).unwrap();
        assert!(
            r.refusal()
                .unwrap()
                .contains("256 of 256 detector pixels are NaN or infinite in every frame"),
            "{:?}",
            r.refusal()
        );

        // A saturated frame (every value near f32::MAX, whose sum overflows) and a frame
        // ~150 × the median sum both refuse the data.
        for value in [3e38f32, 20.0 * 520.0] {
            let mut v = clean(12);
            v[4 * 256..5 * 256].iter_mut().for_each(|x| *x = value);
            let r = screen_values(&v, [3, 4], [16, 16], None, &s).unwrap();
            assert_eq!(r.bright_frames, vec![[1, 0]], "{value}");
            assert!(r.refusal().unwrap().contains("1 of 12 frames are bright"));
        }

        let mut v = clean(12);
        v[3] = -2.0;
        let r = screen_values(&v, [3, 4], [16, 16], None, &s).unwrap();
        assert_eq!(r.negative_values, 1);
        assert!(r.warnings()[0].starts_with("1 values are negative"));
    }

    /// A cube whose patterns do not vary with scan position — all ones, or one pattern
    /// repeated — is no measurement: refused. One frame differing in one pixel is enough.
    #[test]
    fn identical_frames_refuse() {
        let s = ScreenSettings::default();
        let r = screen_values(&vec![1.0; 12 * 256], [3, 4], [16, 16], None, &s).unwrap();
        assert_eq!(r.frames_differing_from_first, Some(0));
        let why = r.refusal().unwrap();
        assert!(why.contains("all 12 frames are identical"), "{why}");
        let one: Vec<f32> = clean(1);
        let repeated: Vec<f32> = one.iter().copied().cycle().take(12 * 256).collect();
        let r = screen_values(&repeated, [3, 4], [16, 16], None, &s).unwrap();
        assert!(
            r.refusal().unwrap().contains("identical"),
            "{:?}",
            r.refusal()
        );
        let mut varied = repeated.clone();
        varied[11 * 256 + 100] += 1.0;
        let r = screen_values(&varied, [3, 4], [16, 16], None, &s).unwrap();
        assert_eq!(r.frames_differing_from_first, Some(1));
        assert_eq!(r.refusal(), None);
        // A difference only in a masked pixel does not count.
        let mut mask = vec![false; 256];
        mask[100] = true;
        let r = screen_values(&varied, [3, 4], [16, 16], Some(&mask), &s).unwrap();
        assert!(r.refusal().unwrap().contains("identical"));
    }
}
