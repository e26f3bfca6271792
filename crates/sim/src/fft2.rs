//! Square 2-D FFTs for probe windows, planned once and run with caller-owned scratch.
//!
//! Conventions (RustFFT's): the forward transform is X_k = Σ_n x_n e^{−2πikn/N}, the inverse has
//! the + sign, and neither is normalised. Frequencies are in the standard FFT order. A 2-D
//! transform is done as row FFTs (along x), a blocked transpose and row FFTs again (along y), so
//! the spectrum of a `[y][x]` array comes out **transposed**, `[kx][ky]`. The propagators and
//! masks of this crate are stored in that transposed layout, and the inverse path takes it
//! as input, so a forward/inverse pair costs two transposes instead of four. Rows of the
//! transposed spectrum that are known to be zero (outside a band limit) or not needed (outside
//! the detector) are skipped.

use std::ops::Range;
use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// Plans for N×N single-precision transforms.
#[derive(Clone)]
pub struct Fft2Plan {
    n: usize,
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
    scratch_len: usize,
}

impl std::fmt::Debug for Fft2Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fft2Plan").field("n", &self.n).finish()
    }
}

impl Fft2Plan {
    /// Plans N×N transforms with `planner`.
    ///
    /// # Panics
    /// If `n` is zero.
    pub fn new(planner: &mut FftPlanner<f32>, n: usize) -> Self {
        assert!(n > 0, "FFT size must be positive");
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        let scratch_len = forward
            .get_inplace_scratch_len()
            .max(inverse.get_inplace_scratch_len());
        Self {
            n,
            forward,
            inverse,
            scratch_len,
        }
    }

    /// Side length N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Scratch length the `*_with_scratch` calls need.
    pub fn scratch_len(&self) -> usize {
        self.scratch_len
    }

    /// Forward 1-D FFTs of the rows `rows` of an N×N buffer.
    pub fn forward_rows(
        &self,
        buf: &mut [Complex32],
        rows: Range<usize>,
        scratch: &mut [Complex32],
    ) {
        if rows.is_empty() {
            return;
        }
        let n = self.n;
        self.forward
            .process_with_scratch(&mut buf[rows.start * n..rows.end * n], scratch);
    }

    /// Inverse 1-D FFTs of the rows `rows` of an N×N buffer.
    pub fn inverse_rows(
        &self,
        buf: &mut [Complex32],
        rows: Range<usize>,
        scratch: &mut [Complex32],
    ) {
        if rows.is_empty() {
            return;
        }
        let n = self.n;
        self.inverse
            .process_with_scratch(&mut buf[rows.start * n..rows.end * n], scratch);
    }

    /// Full forward 2-D transform: `src` is `[y][x]` (overwritten), `dst` receives `[kx][ky]`.
    pub fn forward_2d(
        &self,
        src: &mut [Complex32],
        dst: &mut [Complex32],
        scratch: &mut [Complex32],
    ) {
        self.forward_rows(src, 0..self.n, scratch);
        transpose(src, dst, self.n);
        self.forward_rows(dst, 0..self.n, scratch);
    }

    /// Full inverse 2-D transform: `src` is `[kx][ky]` (overwritten), `dst` receives `[y][x]`.
    pub fn inverse_2d(
        &self,
        src: &mut [Complex32],
        dst: &mut [Complex32],
        scratch: &mut [Complex32],
    ) {
        self.inverse_rows(src, 0..self.n, scratch);
        transpose(src, dst, self.n);
        self.inverse_rows(dst, 0..self.n, scratch);
    }
}

/// The FFT indices of the signed frequencies `−below..above` (in pixels) as at most two
/// contiguous ranges, e.g. for a band limit or a detector.
pub fn signed_index_ranges(n: usize, below: usize, above: usize) -> [Range<usize>; 2] {
    let above = above.min(n);
    let below = below.min(n - above);
    [0..above, n - below..n]
}

/// Out-of-place transpose of an N×N array ([`transpose_rows`] over every row).
pub fn transpose(src: &[Complex32], dst: &mut [Complex32], n: usize) {
    transpose_rows(src, dst, n, 0..n);
}

/// The rows `rows` of the transpose of an N×N array: `dst[j][i] = src[i][j]` for j in `rows`;
/// the other rows of `dst` are left as they are (a spectrum read only on the detector's rows
/// needs no more). 8 × 8 blocks: in single criterion runs of the multislice pattern on
/// 768-point windows, 32 × 32 blocks were 50 % slower and 16 × 16 about 15 % (conflict misses
/// at the 6 KiB row stride; the runs scatter by ±10 %).
pub fn transpose_rows(src: &[Complex32], dst: &mut [Complex32], n: usize, rows: Range<usize>) {
    const B: usize = 8;
    assert!(src.len() >= n * n && dst.len() >= n * n && rows.end <= n);
    for j0 in rows.clone().step_by(B) {
        for i0 in (0..n).step_by(B) {
            let i1 = (i0 + B).min(n);
            for j in j0..(j0 + B).min(rows.end) {
                for (d, i) in dst[j * n + i0..j * n + i1].iter_mut().zip(i0..i1) {
                    *d = src[i * n + j];
                }
            }
        }
    }
}

/// The columns `cols` of an N×N array `src` as the rows of `strip` (`cols.len()` × N):
/// `strip[c][i] = src[i][cols.start + c]`.
pub fn gather_columns(src: &[Complex32], strip: &mut [Complex32], n: usize, cols: Range<usize>) {
    let w = cols.len();
    assert!(src.len() >= n * n && strip.len() >= w * n && cols.end <= n);
    for (i, row) in src.chunks_exact(n).take(n).enumerate() {
        for (c, &v) in row[cols.clone()].iter().enumerate() {
            strip[c * n + i] = v;
        }
    }
}

/// The inverse of [`gather_columns`]: writes the rows of `strip` back into the columns `cols`
/// of `dst`.
pub fn scatter_columns(strip: &[Complex32], dst: &mut [Complex32], n: usize, cols: Range<usize>) {
    let w = cols.len();
    assert!(dst.len() >= n * n && strip.len() >= w * n && cols.end <= n);
    for (i, row) in dst.chunks_exact_mut(n).take(n).enumerate() {
        for (c, v) in row[cols.clone()].iter_mut().enumerate() {
            *v = strip[c * n + i];
        }
    }
}

/// Smallest size ≥ `n` whose only prime factors are 2 and 3. RustFFT's radix-5 passes are
/// much slower than its radix-2/3/4 ones: measured (f32, rows of an n × n array, 2 cores'
/// machine, 2026-12-01) 0.85 ns per point at 384, 0.91 at 768, 0.93 at 864, but 2.13 at
/// 750 = 2·3·5³, 1.82 at 810 = 2·3⁴·5 and 1.15 at 800 = 2⁵·5², so the next 3-smooth size wins
/// even where it is up to 12.5 % longer.
pub fn next_fast_len(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3] {
            while r % p == 0 {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

/// Smallest even size ≥ `n` with prime factors 2 and 3 only.
pub fn next_fast_even_len(n: usize) -> usize {
    let mut m = next_fast_len(n);
    while m % 2 != 0 {
        m = next_fast_len(m + 1);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::naive_dft2;

    #[test]
    fn matches_naive_dft_transposed() {
        let n = 12;
        let mut planner = FftPlanner::new();
        let plan = Fft2Plan::new(&mut planner, n);
        let x: Vec<Complex32> = (0..n * n)
            .map(|i| Complex32::new(((i * 7919) % 13) as f32 - 6.0, ((i * 31) % 5) as f32))
            .collect();
        let want = naive_dft2(&x, n, false);
        let mut src = x.clone();
        let mut dst = vec![Complex32::default(); n * n];
        let mut scratch = vec![Complex32::default(); plan.scratch_len()];
        plan.forward_2d(&mut src, &mut dst, &mut scratch);
        for ky in 0..n {
            for kx in 0..n {
                let d = dst[kx * n + ky] - want[ky * n + kx];
                assert!(d.norm() < 1e-3, "({ky},{kx}) {d}");
            }
        }
        // And back: inverse/N² restores the input.
        let mut back = vec![Complex32::default(); n * n];
        plan.inverse_2d(&mut dst, &mut back, &mut scratch);
        for (b, a) in back.iter().zip(&x) {
            assert!((b / (n * n) as f32 - a).norm() < 1e-4);
        }
    }

    #[test]
    fn fast_lengths_and_ranges() {
        assert_eq!(next_fast_len(191), 192);
        assert_eq!(next_fast_len(193), 216);
        assert_eq!(next_fast_even_len(750), 768);
        assert_eq!(next_fast_even_len(15), 16);
        assert_eq!(next_fast_even_len(1503), 1536);
        let [a, b] = signed_index_ranges(192, 64, 65);
        assert_eq!((a, b), (0..65, 128..192));
    }

    /// A 37 × 37 test array (not a multiple of the transpose block) and its transpose.
    fn array_and_transpose() -> (usize, Vec<Complex32>, Vec<Complex32>) {
        let n = 37;
        let src: Vec<Complex32> = (0..n * n)
            .map(|i| Complex32::new(i as f32, -(i as f32)))
            .collect();
        let whole: Vec<Complex32> = (0..n * n).map(|k| src[(k % n) * n + k / n]).collect();
        (n, src, whole)
    }

    #[test]
    fn partial_transposes_agree_with_the_whole_one() {
        let (n, src, whole) = array_and_transpose();
        let mut full = vec![Complex32::default(); n * n];
        transpose(&src, &mut full, n);
        assert_eq!(full, whole);
        // Rows 3..20 of the transpose (not a multiple of the block), the rest untouched.
        let mut part = vec![Complex32::new(7.0, 7.0); n * n];
        transpose_rows(&src, &mut part, n, 3..20);
        assert_eq!(part[3 * n..20 * n], whole[3 * n..20 * n]);
        assert!(part[..3 * n]
            .iter()
            .chain(&part[20 * n..])
            .all(|c| c.re == 7.0));
    }

    #[test]
    fn gathered_columns_are_rows_of_the_transpose() {
        let (n, src, whole) = array_and_transpose();
        let mut strip = vec![Complex32::default(); 4 * n];
        gather_columns(&src, &mut strip, n, 30..34);
        assert_eq!(strip[..], whole[30 * n..34 * n]);
        // And scatter back in place.
        let mut back = vec![Complex32::default(); n * n];
        scatter_columns(&strip, &mut back, n, 30..34);
        for i in 0..n {
            assert_eq!(back[i * n + 30..i * n + 34], src[i * n + 30..i * n + 34]);
        }
    }
}
