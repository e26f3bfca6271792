//! A finite source as a convolution of the scan images: the exact, cheap form of the
//! source-size sum of [`crate::coherence`] when the scan tiles the periodic specimen.
//!
//! The pattern of a source of one-axis rms `s` at scan position r is ∫ G_s(δ) I(k; r + δ) d²δ
//! (Kirkland 2010, §5.3): every detector pixel's scan image is convolved with the Gaussian G_s,
//! i.e. its spatial frequencies q are multiplied by exp(−2π²s²q²). The incoherent sum over
//! source nodes evaluates that integral by quadrature and costs one coherent pattern per node
//! (16 and 36 for a 0.25 and a 0.5 nm source at the paper's 1.15 mrad). The convolution can
//! instead be done on the scan images themselves, exactly, when two conditions hold:
//!
//! - **The scan tiles the periodic box.** Then I(k; r) is periodic in r with the scan's own
//!   period, and its Fourier series lives on the scan's DFT frequencies.
//! - **The step samples the scan images above Nyquist.** A coherent pattern's dependence on r
//!   comes from the interference of two partial waves of the probe, incident at q₁ and q₂ with
//!   |q₁|, |q₂| ≤ q_a, so I(k; r) holds only frequencies |q₁ − q₂| ≤ 2q_a, at any thickness and
//!   for any propagation (the object acts linearly on each incident partial wave). A step
//!   below 1/(4q_a) then samples every frequency without aliasing, and multiplying the DFT of
//!   the samples by the Gaussian gives the samples of the convolved images. For the ideal
//!   aperture q_a = α/λ, a step of λ/(4α) (0.43 nm at 300 kV and 1.15 mrad); the window's
//!   area-sampled aperture ([`crate::spec::ApertureSampling::Area`]) also weights the cells
//!   its edge cuts, whose centres reach √2/2 of a window pixel Δk/m further, so there
//!   q_a = α/λ + (√2/2)·Δk/m: 0.39 nm on the paper detector at m = 2, 0.36 nm at m = 1.
//!
//! It is how STEM simulation codes usually apply a finite source to scanned images (a
//! Gaussian filter over the scan, as in abTEM's treatment of partial spatial coherence), and
//! what the calibration's kinematic trial applied by hand (`reports/calibration.md`). Its cost
//! is a forward and an inverse FFT of every scan line of every detector pixel, along each
//! scan axis (`reports/simulate-performance.md` has the paper datacube's figure), instead of a
//! factor of the node count on the propagation; its memory is the whole
//! noiseless datacube in f64, 8·N_y·N_x·N_det bytes (2 GiB for the paper's 128⁴), which
//! [`ScanBlur::for_scan`] checks against a budget. The shot noise is drawn afterwards, from the
//! blurred intensities, as the detector sees them.
//!
//! What the windowed propagation adds: each coherent pattern is computed in a finite window
//! around its probe, so I(k; r) is band-limited only to the accuracy of that window (the probe
//! tail it folds back, [`crate::propagation::probe_tail_estimate`]);
//! `tests/partial_coherence.rs` compares the two forms of the sum on a multislice foil.

use ndarray::{ArrayViewMut2, ArrayViewMut3, Axis};
use rayon::prelude::*;
use rustfft::num_complex::Complex64;
use rustfft::FftPlanner;

use crate::coherence::PartialCoherence;
use crate::probe::ProbeSpec;
use crate::spec::{ApertureSampling, DetectorSpec, MicroscopeSpec, ModelSpec, ScanSpec};

/// Relative tolerance for "the scan tiles the box": points × step equals the extent to this.
const TILE_TOLERANCE: f64 = 1e-9;

/// The Gaussian blur of the scan images that a finite source makes, applied in Fourier space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanBlur {
    /// One-axis rms of the source image `s` in nm.
    pub source_rms_nm: f64,
    /// Scan step in nm.
    pub step_nm: f64,
}

/// Why a finite source is summed by quadrature instead of blurred over the scan images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoBlur {
    /// A point source: there is nothing to blur.
    PointSource,
    /// The scan (points × step, `[x, y]`) does not tile the periodic box (`[x, y]`).
    ScanDoesNotTile {
        /// Points × step along x and y, in nm.
        covered_nm: [f64; 2],
        /// The box's lateral extent, in nm.
        extent_nm: [f64; 2],
    },
    /// The step is at or above Nyquist for the scan images, 1/(4q_a).
    StepAboveNyquist {
        /// The scan step in nm.
        step_nm: f64,
        /// 1/(4q_a) in nm.
        nyquist_nm: f64,
    },
    /// The noiseless datacube in f64 exceeds the budget.
    OverBudget {
        /// 8 · scan points · detector pixels.
        bytes: f64,
        /// The budget (`ForwardOptions::scan_blur_budget_bytes`).
        budget_bytes: usize,
    },
}

impl std::fmt::Display for NoBlur {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PointSource => write!(f, "a point source"),
            Self::ScanDoesNotTile {
                covered_nm: [cx, cy],
                extent_nm: [ex, ey],
            } => write!(
                f,
                "the scan (points × step: x {cx:.4} nm, y {cy:.4} nm) does not tile the sample \
                 (extent_nm: x {ex:.4} nm, y {ey:.4} nm)"
            ),
            Self::StepAboveNyquist {
                step_nm,
                nyquist_nm,
            } => write!(
                f,
                "the step ({step_nm:.4} nm) is not below the scan images' Nyquist step \
                 ({nyquist_nm:.4} nm)"
            ),
            Self::OverBudget {
                bytes,
                budget_bytes,
            } => write!(
                f,
                "the noiseless datacube in f64 ({:.3} GB) exceeds the {:.3} GB the blur may hold",
                bytes / 1e9,
                *budget_bytes as f64 / 1e9
            ),
        }
    }
}

impl ScanBlur {
    /// The blur for `microscope`'s source on `scan`, or why the source sum must be done by
    /// quadrature instead: a point source (nothing to do), a scan that does not tile the
    /// periodic box of lateral extent `extent_xy_nm` (`[x, y]`) along each axis, a step at or
    /// above Nyquist for the scan images, 1/(4q_a) with q_a the reach of `model`'s aperture on
    /// its window grid ([`Self::aperture_reach_per_nm`]), or a datacube of `detector`'s
    /// patterns whose f64 intensities exceed `budget_bytes`.
    pub fn for_scan(
        microscope: &MicroscopeSpec,
        model: &ModelSpec,
        detector: &DetectorSpec,
        scan: &ScanSpec,
        extent_xy_nm: [f64; 2],
        budget_bytes: usize,
    ) -> Result<Self, NoBlur> {
        let coherence = PartialCoherence::from_microscope(microscope);
        if coherence.source.len() <= 1 {
            return Err(NoBlur::PointSource);
        }
        // The extent is [x, y]; the scan's points are [y, x].
        let covered_nm = [1, 0].map(|axis| scan.points[axis] as f64 * scan.step_nm);
        let tiles = (0..2)
            .all(|i| (covered_nm[i] - extent_xy_nm[i]).abs() <= TILE_TOLERANCE * extent_xy_nm[i]);
        if !tiles {
            return Err(NoBlur::ScanDoesNotTile {
                covered_nm,
                extent_nm: extent_xy_nm,
            });
        }
        let nyquist_nm = 0.25 / Self::aperture_reach_per_nm(microscope, model, detector);
        if scan.step_nm >= nyquist_nm {
            return Err(NoBlur::StepAboveNyquist {
                step_nm: scan.step_nm,
                nyquist_nm,
            });
        }
        let detector_len = detector.pixels[0] as f64 * detector.pixels[1] as f64;
        let bytes = 8.0 * scan.points[0] as f64 * scan.points[1] as f64 * detector_len;
        if bytes > budget_bytes as f64 {
            return Err(NoBlur::OverBudget {
                bytes,
                budget_bytes,
            });
        }
        Ok(Self {
            source_rms_nm: coherence.source_rms_nm,
            step_nm: scan.step_nm,
        })
    }

    /// The largest |q| in nm⁻¹ at which the probe of `microscope` has weight on `model`'s
    /// window grid (reciprocal pixel Δk/m, `detector`'s Δk): α/λ for a point-sampled aperture,
    /// α/λ + (√2/2)·Δk/m for an area-sampled one (a bound: the farthest centre of a cell the
    /// edge can cut).
    pub fn aperture_reach_per_nm(
        microscope: &MicroscopeSpec,
        model: &ModelSpec,
        detector: &DetectorSpec,
    ) -> f64 {
        let aperture = ProbeSpec::from_microscope(microscope).aperture_per_nm;
        match model.aperture_sampling {
            ApertureSampling::Point => aperture,
            ApertureSampling::Area => {
                let dk_window = detector.k_pixel_per_nm / model.window_oversampling.max(1) as f64;
                aperture + std::f64::consts::FRAC_1_SQRT_2 * dk_window
            }
        }
    }

    /// Multiplier of DFT bin `j` of an `n`-point scan axis: exp(−2π²s²q²) at q = j/(n·step)
    /// (folded to |j| ≤ n/2).
    fn gain(&self, j: usize, n: usize) -> f64 {
        let folded = if 2 * j <= n { j } else { n - j } as f64;
        let q = folded / (n as f64 * self.step_nm);
        (-2.0 * std::f64::consts::PI.powi(2) * (self.source_rms_nm * q).powi(2)).exp()
    }

    /// Blurs `cube`, the intensities `[scan_y][scan_x][detector_len]` (C order) of a scan of
    /// `points = [N_y, N_x]` positions, in place: along x, then along y.
    ///
    /// # Panics
    /// If `cube.len() != N_y·N_x·detector_len`.
    pub fn apply(&self, cube: &mut [f64], points: [usize; 2], detector_len: usize) {
        let mut view = ArrayViewMut3::from_shape((points[0], points[1], detector_len), cube)
            .expect("cube holds N_y·N_x·detector_len intensities");
        for axis in [1, 0] {
            // Every plane across the other scan axis holds whole lines along `axis`.
            let other = Axis(1 - axis);
            self.blur_planes(&mut view, other, points[axis]);
        }
    }

    /// Blurs, in parallel over the index of `across`, every plane `[line][detector]` along the
    /// remaining scan axis (of `n` points).
    fn blur_planes(&self, view: &mut ArrayViewMut3<f64>, across: Axis, n: usize) {
        let mut planner = FftPlanner::<f64>::new();
        let (forward, inverse) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
        let gains: Vec<f64> = (0..n).map(|j| self.gain(j, n) / n as f64).collect();
        view.axis_iter_mut(across).into_par_iter().for_each_init(
            Vec::new,
            |lines, mut plane: ArrayViewMut2<f64>| {
                // `lines` holds the plane transposed, one scan line per detector pixel.
                let detector_len = plane.len_of(Axis(1));
                lines.clear();
                lines.resize(n * detector_len, Complex64::default());
                for (i, row) in plane.outer_iter().enumerate() {
                    for (d, &v) in row.iter().enumerate() {
                        lines[d * n + i] = Complex64::new(v, 0.0);
                    }
                }
                forward.process(lines);
                for line in lines.chunks_exact_mut(n) {
                    for (c, g) in line.iter_mut().zip(&gains) {
                        *c *= *g;
                    }
                }
                inverse.process(lines);
                for (i, mut row) in plane.outer_iter_mut().enumerate() {
                    for (d, v) in row.iter_mut().enumerate() {
                        *v = lines[d * n + i].re;
                    }
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn microscope(source_size_nm: f64) -> MicroscopeSpec {
        MicroscopeSpec {
            source_size_nm,
            ..MicroscopeSpec::default()
        }
    }

    #[test]
    fn applies_only_where_exact_and_within_budget() {
        let scan = |step_nm: f64| ScanSpec {
            points: [16, 8],
            step_nm,
        };
        let tiled = |step_nm: f64| [8.0 * step_nm, 16.0 * step_nm];
        let (m, d, model) = (
            microscope(0.4),
            DetectorSpec::default(),
            ModelSpec::default(),
        );
        let bytes = 8 * 16 * 8 * 128 * 128;
        let blur = |m: &MicroscopeSpec, model: &ModelSpec, step: f64, box_xy, budget| {
            ScanBlur::for_scan(m, model, &d, &scan(step), box_xy, budget).is_ok()
        };
        assert!(blur(&m, &model, 0.32, tiled(0.32), bytes));
        // A point source, a scan short of the box, the box axes swapped, a budget too small.
        assert!(!blur(&microscope(0.0), &model, 0.32, tiled(0.32), bytes));
        assert!(!blur(&m, &model, 0.32, [2.6, 5.12], bytes));
        assert!(!blur(&m, &model, 0.32, [5.12, 2.56], bytes));
        assert!(!blur(&m, &model, 0.32, tiled(0.32), bytes - 1));
        // Nyquist for the scan images: 1/(4q_a) = 0.3902 nm for the area-sampled aperture at
        // m = 2 on the paper detector (α/λ = 0.5841 nm⁻¹ and 0.0566 nm⁻¹ of cut cells), and
        // λ/(4α) = 0.4280 nm for a point-sampled one.
        assert!(blur(&m, &model, 0.389, tiled(0.389), bytes));
        assert!(!blur(&m, &model, 0.391, tiled(0.391), bytes));
        let point = ModelSpec {
            aperture_sampling: ApertureSampling::Point,
            ..ModelSpec::default()
        };
        assert!(blur(&m, &point, 0.427, tiled(0.427), bytes));
        assert!(!blur(&m, &point, 0.429, tiled(0.429), bytes));
        // Each refusal says why, in words `mro check` prints.
        let why = |m: &MicroscopeSpec, step: f64, box_xy, budget| {
            ScanBlur::for_scan(m, &model, &d, &scan(step), box_xy, budget)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            why(&microscope(0.0), 0.32, tiled(0.32), bytes),
            "a point source"
        );
        assert_eq!(
            why(&m, 0.32, [2.6, 5.12], bytes),
            "the scan (points × step: x 2.5600 nm, y 5.1200 nm) does not tile the sample \
             (extent_nm: x 2.6000 nm, y 5.1200 nm)"
        );
        assert_eq!(
            why(&m, 0.391, tiled(0.391), bytes),
            "the step (0.3910 nm) is not below the scan images' Nyquist step (0.3902 nm)"
        );
        assert_eq!(
            why(&m, 0.32, tiled(0.32), bytes - 1),
            "the noiseless datacube in f64 (0.017 GB) exceeds the 0.017 GB the blur may hold"
        );
    }

    /// A band-limited scan image (a cosine of a DFT frequency) is multiplied by exactly the
    /// Gaussian's transfer at its frequency, and a constant is kept: the convolution with a
    /// normalised Gaussian, sampled exactly.
    #[test]
    fn a_cosine_scan_image_is_damped_by_the_gaussian_transfer() {
        let blur = ScanBlur {
            source_rms_nm: 0.3,
            step_nm: 0.32,
        };
        let (ny, nx, nd) = (12, 10, 3);
        let (ky, kx) = (2.0, 3.0);
        let image = |iy: usize, ix: usize, d: usize| {
            let phase = 2.0
                * std::f64::consts::PI
                * (ky * iy as f64 / ny as f64 + kx * ix as f64 / nx as f64);
            1.0 + (d as f64 + 1.0) * phase.cos()
        };
        let mut cube = Vec::new();
        for iy in 0..ny {
            for ix in 0..nx {
                for d in 0..nd {
                    cube.push(image(iy, ix, d));
                }
            }
        }
        blur.apply(&mut cube, [ny, nx], nd);
        let q2 = (ky / (ny as f64 * 0.32)).powi(2) + (kx / (nx as f64 * 0.32)).powi(2);
        let transfer = (-2.0 * std::f64::consts::PI.powi(2) * 0.09 * q2).exp();
        for iy in 0..ny {
            for ix in 0..nx {
                for d in 0..nd {
                    let want = 1.0 + transfer * (image(iy, ix, d) - 1.0);
                    let got = cube[(iy * nx + ix) * nd + d];
                    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
                }
            }
        }
    }
}
