//! Physics tests of the partially coherent microscope and the detector response (issue 10,
//! item 4): focal spread damps interference as exp(−(πλΔk²)²/2), a finite source blurs every
//! scan image by its Gaussian, the PSF lowers speckle contrast by what its transfer function
//! predicts.

use std::f64::consts::PI;

use mro_core::optics::wavelength_nm;
use mro_core::Seeds;
use mro_sim::coherence::{focal_spread_rms_nm, FWHM_PER_RMS};
use mro_sim::psf::DetectorPsf;
use mro_sim::spec::{DetectorSpec, MicroscopeSpec, ModelKind, ModelSpec, ScanSpec};
use mro_sim::{simulate, AtomVolume, ForwardOptions};

const DK: f64 = 0.16;
const NDET: usize = 128;

fn detector(psf_sigma_px: f64) -> DetectorSpec {
    DetectorSpec {
        pixels: [NDET, NDET],
        k_pixel_per_nm: DK,
        electrons_per_pattern: f64::INFINITY,
        gain: 1.0,
        psf_sigma_px,
    }
}

fn run(
    atoms: &AtomVolume,
    microscope: &MicroscopeSpec,
    scan: &ScanSpec,
    d: &DetectorSpec,
    kind: ModelKind,
    slice_nm: f64,
) -> Vec<Vec<f64>> {
    run_with(
        atoms,
        microscope,
        scan,
        d,
        kind,
        slice_nm,
        &ForwardOptions::default(),
    )
}

/// Forward options that sum a finite source by quadrature: no budget for the scan blur.
fn by_quadrature() -> ForwardOptions {
    ForwardOptions {
        scan_blur_budget_bytes: 0,
        ..ForwardOptions::default()
    }
}

fn run_with(
    atoms: &AtomVolume,
    microscope: &MicroscopeSpec,
    scan: &ScanSpec,
    d: &DetectorSpec,
    kind: ModelKind,
    slice_nm: f64,
    options: &ForwardOptions,
) -> Vec<Vec<f64>> {
    let ndet = d.pixels[0] * d.pixels[1];
    let mut patterns = Vec::new();
    simulate(
        atoms,
        microscope,
        scan,
        d,
        &ModelSpec {
            kind,
            slice_nm,
            ..ModelSpec::default()
        },
        Seeds::new(5),
        options,
        |_row, values| {
            patterns.extend(
                values
                    .chunks(ndet)
                    .map(|p| p.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>()),
            );
            Ok(())
        },
        |_| {},
    )
    .expect("simulation runs");
    patterns
}

/// Focal spread: a line grating of period a = 0.625 nm (g = 1.6 nm⁻¹ = 10 px) under a probe
/// whose aperture (2.4 nm⁻¹) holds 0 and ±g but not ±2g. At pixel k = g the partial waves
/// q = 0, ±g interfere; shifting the probe by a/2 flips the sign of exactly the (0, ±g) cross
/// terms, whose defocus phases differ by ∓πλΔf·g². So D = I(x = 0) − I(x = a/2) at k = g is
/// a pure interference term and a Gaussian focal spread of rms Δ multiplies it by
/// exp(−(πλΔg²)²/2) — the temporal-coherence envelope — whatever the grating's strength.
/// A mean defocus of 1/(2λg²) puts the interference in quadrature, where it is largest.
#[test]
fn focal_spread_damps_interference_by_the_temporal_envelope() {
    let (a, b) = (0.625, 0.15625);
    let extent = 6.25;
    let mut atoms = AtomVolume::new([extent, extent, 0.2]);
    for i in 0..10 {
        for j in 0..40 {
            atoms.push([i as f64 * a, j as f64 * b, 0.1], 13);
        }
    }
    let lambda = wavelength_nm(300.0);
    let g = 1.0 / a;
    let base = MicroscopeSpec {
        semiangle_mrad: 2.4 * lambda * 1e3,
        defocus_nm: 1.0 / (2.0 * lambda * g * g),
        cc_mm: 0.0,
        ..MicroscopeSpec::default()
    };
    let spread = MicroscopeSpec {
        cc_mm: 45.0,
        ..base.clone()
    };
    let scan = ScanSpec {
        points: [1, 2],
        step_nm: 0.5 * a,
    };
    let pixel = (NDET / 2) * NDET + NDET / 2 + 10;
    let d = detector(0.0);
    let interference = |m: &MicroscopeSpec| {
        let p = run(&atoms, m, &scan, &d, ModelKind::Multislice, 0.2);
        p[0][pixel] - p[1][pixel]
    };
    let coherent = interference(&base);
    let partial = interference(&spread);
    let delta = focal_spread_rms_nm(45.0, spread.energy_spread_ev, 300.0);
    let envelope = (-0.5 * (PI * lambda * delta * g * g).powi(2)).exp();
    assert!(
        coherent.abs() > 1e-6,
        "interference term too small: {coherent}"
    );
    assert!(
        (0.4..0.8).contains(&envelope),
        "test set-up: envelope {envelope}"
    );
    let ratio = partial / coherent;
    assert!(
        (ratio / envelope - 1.0).abs() < 0.02,
        "damping {ratio} vs exp(−(πλΔg²)²/2) = {envelope} (Δ = {delta} nm)"
    );
}

/// Forward DFT coefficient of a periodic `n × n` scan image at integer frequency (my, mx).
fn dft(img: &[f64], n: usize, my: i32, mx: i32) -> (f64, f64) {
    let (mut re, mut im) = (0.0, 0.0);
    for i in 0..n {
        for j in 0..n {
            let ph = -2.0 * PI * (f64::from(my) * i as f64 + f64::from(mx) * j as f64) / n as f64;
            re += img[i * n + j] * ph.cos();
            im += img[i * n + j] * ph.sin();
        }
    }
    (re, im)
}

/// Zr₅₅Co₂₅Al₂₀ at 54 atoms/nm³, placed at random in a box of `extent_nm` from `seed`.
fn glass(extent_nm: [f64; 3], seed: u64) -> AtomVolume {
    AtomVolume::uniform_random(
        extent_nm,
        &[(40, 0.55), (27, 0.25), (13, 0.20)],
        54.0,
        &mut Seeds::new(seed).stream("test-volume"),
    )
}

/// The default microscope with a source of FWHM `fwhm_nm`.
fn with_source(fwhm_nm: f64) -> MicroscopeSpec {
    MicroscopeSpec {
        source_size_nm: fwhm_nm,
        ..MicroscopeSpec::default()
    }
}

/// Whether `simulate` applies `microscope`'s source as a blur of the scan images here.
fn uses_scan_blur(
    atoms: &AtomVolume,
    microscope: &MicroscopeSpec,
    scan: &ScanSpec,
    d: &DetectorSpec,
    options: &ForwardOptions,
) -> bool {
    mro_sim::forward_grid(
        microscope,
        scan,
        d,
        &ModelSpec::default(),
        atoms.extent_nm,
        options,
    )
    .expect("valid settings")
    .source_by_scan_blur
}

/// Source size: the dark-field image of a lattice of single Zr atoms (period 3.2 nm, scanned
/// over one period at 0.32 nm — above Nyquist for a scan image band-limited to 2q_a =
/// 1.28 nm⁻¹, the area-sampled aperture's reach) is convolved with the source's Gaussian, so each Fourier coefficient at spatial
/// frequency q is multiplied by exp(−2π²s²q²), s the source's one-axis rms. Both ways of
/// applying the source are checked: the blur of the scan images (`mro_sim::scan_blur`, the
/// default here, where the scan tiles the cell above Nyquist) and the quadrature over source
/// positions.
#[test]
fn source_size_blurs_the_scan_image_by_its_gaussian() {
    let period = 3.2;
    let mut atoms = AtomVolume::new([period, period, 0.4]);
    atoms.push([1.1, 1.7, 0.2], 40);
    let n = 10;
    let scan = ScanSpec {
        points: [n, n],
        step_nm: period / n as f64,
    };
    let fwhm = 0.6;
    let point = MicroscopeSpec::default();
    let blurred = with_source(fwhm);
    let d = detector(0.0);
    // Dark field: pixels with 1 ≤ k ≤ 6 nm⁻¹.
    let df_image = |m: &MicroscopeSpec, options: &ForwardOptions| -> Vec<f64> {
        run_with(&atoms, m, &scan, &d, ModelKind::Kinematic, 0.4, options)
            .iter()
            .map(|p| {
                let mut s = 0.0;
                for i in 0..NDET {
                    for j in 0..NDET {
                        let k = DK * ((i as f64 - 64.0).powi(2) + (j as f64 - 64.0).powi(2)).sqrt();
                        if (1.0..=6.0).contains(&k) {
                            s += p[i * NDET + j];
                        }
                    }
                }
                s
            })
            .collect()
    };
    let sharp = df_image(&point, &ForwardOptions::default());
    let s = fwhm / FWHM_PER_RMS;
    for (options, blur) in [(ForwardOptions::default(), true), (by_quadrature(), false)] {
        assert_eq!(uses_scan_blur(&atoms, &blurred, &scan, &d, &options), blur);
        let soft = df_image(&blurred, &options);
        check_gaussian_blur(&sharp, &soft, n, period, s);
    }
}

/// The checks of [`source_size_blurs_the_scan_image_by_its_gaussian`]: `soft` is `sharp`
/// (`n × n` scan images over one `period`) convolved with a Gaussian of one-axis rms `s`.
fn check_gaussian_blur(sharp: &[f64], soft: &[f64], n: usize, period: f64, s: f64) {
    // The mean is unchanged (the blur conserves the image's integral).
    let (m0, _) = dft(sharp, n, 0, 0);
    let (m1, _) = dft(soft, n, 0, 0);
    // (to the sub-pixel placement of the window on the potential grid and the probe tails
    // that wrap around the detector-tied window — issue 10 item 1 — measured 1.2·10⁻³ at the
    // 20 nm⁻¹ default band limit)
    assert!((m1 / m0 - 1.0).abs() < 2e-3, "{m1} vs {m0}");
    for (my, mx) in [(1, 0), (0, 1), (1, 1), (2, 0), (1, 2)] {
        let q = f64::from(my * my + mx * mx).sqrt() / period;
        let want = (-2.0 * PI * PI * s * s * q * q).exp();
        let (ar, ai) = dft(sharp, n, my, mx);
        let (br, bi) = dft(soft, n, my, mx);
        let amp = ar.hypot(ai);
        assert!(amp > 1e-3 * m0, "({my},{mx}) coefficient too small");
        // Complex ratio: real part the damping, imaginary part ~0 (no shift).
        let re = (br * ar + bi * ai) / (amp * amp);
        let im = (bi * ar - br * ai) / (amp * amp);
        // Tolerance: the probe's tails wrap around the per-position window, which breaks exact
        // translation invariance at the 10⁻³ level (issue 10, item 1); a source 10 % too wide
        // or narrow would miss by ≥ 0.02 at q ≥ 0.44 nm⁻¹.
        assert!(
            (re - want).abs() < 1e-2 && im.abs() < 1e-2,
            "q = {q} nm⁻¹: ratio {re} + {im}i vs exp(−2π²s²q²) = {want}"
        );
    }
}

/// The two ways of applying a finite source give the same datacube: multislice through 3 nm of
/// Zr–Co–Al glass with two frozen-phonon configurations, a 0.5 nm source, a 10 × 8 scan tiling
/// the 2.56 × 3.2 nm cell at 0.32 nm (below Nyquist, 0.39 nm), the field built one scan row at
/// a time (so the whole-scan accumulator spans many field blocks). The blur is exact for the
/// band-limited scan images of the periodic cell; the quadrature sums 36 shifted coherent
/// patterns. They differ by what the per-probe window does to translation invariance (probe
/// tails folded back, sub-pixel placement: 10⁻³ in
/// `source_size_blurs_the_scan_image_by_its_gaussian`) and by the quadrature's own 10⁻³.
#[test]
fn scan_blur_matches_the_quadrature_over_source_positions() {
    use mro_sim::thermal::ThermalSpec;
    let atoms = glass([2.56, 3.2, 3.0], 11);
    let scan = ScanSpec {
        points: [10, 8],
        step_nm: 0.32,
    };
    let m = with_source(0.5);
    let d = detector(0.0);
    let thermal = ThermalSpec {
        configurations: 2,
        rms_displacement_nm: [("Zr", 0.0076), ("Co", 0.0063), ("Al", 0.0096)]
            .into_iter()
            .map(|(e, u)| (e.to_string(), u))
            .collect(),
    };
    let options = |scan_blur_budget_bytes: usize| ForwardOptions {
        field_budget_bytes: 1,
        scan_blur_budget_bytes,
        ..thermal.forward_options(&atoms).unwrap()
    };
    let (blur, quadrature) = (options(1 << 30), options(0));
    assert!(uses_scan_blur(&atoms, &m, &scan, &d, &blur));
    assert!(!uses_scan_blur(&atoms, &m, &scan, &d, &quadrature));
    let cube = |m: &MicroscopeSpec, options: &ForwardOptions| -> Vec<f64> {
        run_with(&atoms, m, &scan, &d, ModelKind::Multislice, 1.0, options).concat()
    };
    let blurred = cube(&m, &blur);
    let summed = cube(&m, &quadrature);
    let point = cube(&MicroscopeSpec::default(), &quadrature);
    let rms = |a: &[f64], b: &[f64]| {
        let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
        let den: f64 = b.iter().map(|y| y * y).sum();
        (num / den).sqrt()
    };
    // Outside the bright-field disk, where the scattering varies with the probe position.
    let dark = |c: &[f64]| -> Vec<f64> {
        c.chunks(NDET * NDET)
            .flat_map(|p| {
                p.iter().enumerate().filter_map(|(i, &v)| {
                    let k = DK * ((i / NDET) as f64 - 64.0).hypot((i % NDET) as f64 - 64.0);
                    (k > 1.0).then_some(v)
                })
            })
            .collect()
    };
    let (b, q, p) = (dark(&blurred), dark(&summed), dark(&point));
    let between = rms(&b, &q);
    let effect = rms(&p, &q);
    assert!(
        effect > 0.05,
        "test set-up: the source must change the patterns, rms {effect}"
    );
    // Measured: 1.2 % of the source's own effect. A source 10 % too wide in either would
    // differ by about 20 % of it.
    assert!(
        between < 0.02 * effect,
        "scan blur vs quadrature: rms difference {between} (the source itself: {effect})"
    );
}

/// The scan blur keeps the datacube bit-identical at any thread count, noise included.
#[test]
fn scan_blur_is_deterministic_at_any_thread_count() {
    let atoms = glass([1.6, 1.6, 1.0], 12);
    let scan = ScanSpec {
        points: [5, 5],
        step_nm: 0.32,
    };
    let m = with_source(0.5);
    let d = DetectorSpec {
        electrons_per_pattern: 1e5,
        ..detector(0.5)
    };
    assert!(uses_scan_blur(
        &atoms,
        &m,
        &scan,
        &d,
        &ForwardOptions::default()
    ));
    let go = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run(&atoms, &m, &scan, &d, ModelKind::Multislice, 0.5))
    };
    let one = go(1);
    assert_eq!(one, go(2), "bit-identical at 1 and 2 threads");
    assert_eq!(one, go(3), "bit-identical at 1 and 3 threads");
}

/// Contrast (variance / mean²) of the pixels on the ring 3.5 ≤ k ≤ 4.5 nm⁻¹.
fn ring_contrast(p: &[f64]) -> f64 {
    let mut v = Vec::new();
    for i in 0..NDET {
        for j in 0..NDET {
            let k = DK * ((i as f64 - 64.0).powi(2) + (j as f64 - 64.0).powi(2)).sqrt();
            if (3.5..=4.5).contains(&k) {
                v.push(p[i * NDET + j]);
            }
        }
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64 / (mean * mean)
}

/// The PSF: a speckle pattern recorded through it is the sharp pattern filtered by the
/// transfer function K̂(q_y)K̂(q_x), computed here independently in Fourier space from the
/// analytic MTF; the ring's speckle contrast drops by exactly that filter's effect (the ring
/// lies far enough from the detector edge that edge handling cannot matter).
#[test]
fn psf_lowers_speckle_contrast_as_its_transfer_function_predicts() {
    let atoms = glass([6.4, 6.4, 5.0], 9);
    let scan = ScanSpec {
        points: [1, 1],
        step_nm: 0.32,
    };
    let m = MicroscopeSpec::default();
    let sigma = 0.8;
    let sharp = run(&atoms, &m, &scan, &detector(0.0), ModelKind::Kinematic, 0.2).remove(0);
    let recorded = run(
        &atoms,
        &m,
        &scan,
        &detector(sigma),
        ModelKind::Kinematic,
        0.2,
    )
    .remove(0);
    // Predicted: filter each axis of the sharp pattern with the analytic MTF by DFT.
    let psf = DetectorPsf::new(sigma);
    let n = NDET;
    let mtf: Vec<f64> = (0..n)
        .map(|m| {
            psf.transfer(
                if m <= n / 2 {
                    m as f64
                } else {
                    m as f64 - n as f64
                } / n as f64,
            )
        })
        .collect();
    let filter_axis = |img: &mut Vec<f64>, stride: usize, step: usize| {
        let mut line = vec![0.0; n];
        for l in 0..n {
            let at = |t: usize| l * stride + t * step;
            let (mut re, mut im) = (vec![0.0; n], vec![0.0; n]);
            for (f, (r, i)) in re.iter_mut().zip(im.iter_mut()).enumerate() {
                for t in 0..n {
                    let ph = -2.0 * PI * (f * t) as f64 / n as f64;
                    *r += img[at(t)] * ph.cos();
                    *i += img[at(t)] * ph.sin();
                }
            }
            for (t, out) in line.iter_mut().enumerate() {
                let mut acc = 0.0;
                for f in 0..n {
                    let ph = 2.0 * PI * (f * t) as f64 / n as f64;
                    acc += mtf[f] * (re[f] * ph.cos() - im[f] * ph.sin());
                }
                *out = acc / n as f64;
            }
            for t in 0..n {
                img[at(t)] = line[t];
            }
        }
    };
    let mut predicted = sharp.clone();
    filter_axis(&mut predicted, n, 1);
    filter_axis(&mut predicted, 1, n);
    let (c_sharp, c_rec, c_pred) = (
        ring_contrast(&sharp),
        ring_contrast(&recorded),
        ring_contrast(&predicted),
    );
    assert!(
        (c_rec / c_pred - 1.0).abs() < 1e-3,
        "recorded contrast {c_rec} vs MTF prediction {c_pred} (sharp {c_sharp})"
    );
    assert!(
        c_rec < 0.9 * c_sharp,
        "a 0.8 px PSF must lower the contrast: {c_rec} vs {c_sharp}"
    );
}

/// Frozen phonons: averaged over configurations, the Bragg beam of a square lattice of Al
/// (period 0.3125 nm, g = 3.2 nm⁻¹ = 20 px) loses intensity by the Debye–Waller factor of the
/// interference between atoms, exp(−4π²u²g²) for an in-plane rms displacement u per axis.
/// A 0.4 mrad probe (≈ 3 nm wide, ~100 atoms) keeps the configuration-to-configuration
/// scatter of the Bragg intensity small; the diffuse scattering that lands in the Bragg disk
/// is ≲ 1 %.
#[test]
fn frozen_phonons_damp_bragg_intensity_by_the_debye_waller_factor() {
    use mro_sim::thermal::ThermalSpec;
    let a = 0.3125;
    let mut atoms = AtomVolume::new([6.25, 6.25, 0.2]);
    for i in 0..20 {
        for j in 0..20 {
            atoms.push([i as f64 * a, j as f64 * a, 0.1], 13);
        }
    }
    let m = MicroscopeSpec {
        semiangle_mrad: 0.4,
        ..MicroscopeSpec::default()
    };
    let scan = ScanSpec {
        points: [1, 1],
        step_nm: 0.32,
    };
    let d = detector(0.0);
    let u = 0.03;
    let thermal = ThermalSpec {
        configurations: 64,
        rms_displacement_nm: [("Al".to_string(), u)].into_iter().collect(),
    };
    let bragg = |options: &ForwardOptions| -> f64 {
        let mut p = Vec::new();
        simulate(
            &atoms,
            &m,
            &scan,
            &d,
            &ModelSpec {
                kind: ModelKind::Kinematic,
                slice_nm: 0.2,
                ..ModelSpec::default()
            },
            Seeds::new(5),
            options,
            |_row, values| {
                p.extend(values.iter().map(|&v| f64::from(v)));
                Ok(())
            },
            |_| {},
        )
        .unwrap();
        // The disk at (+g, 0) and (0, +g), 3 px radius.
        let mut s = 0.0;
        for (cy, cx) in [(64, 84), (84, 64)] {
            for i in cy - 3..=cy + 3 {
                for j in cx - 3..=cx + 3 {
                    if (i as f64 - cy as f64).hypot(j as f64 - cx as f64) <= 3.0 {
                        s += p[i * NDET + j];
                    }
                }
            }
        }
        s
    };
    let static_ = bragg(&ForwardOptions::default());
    let frozen = bragg(&thermal.forward_options(&atoms).unwrap());
    let g = 1.0 / a;
    let dw = (-4.0 * PI * PI * u * u * g * g).exp();
    let ratio = frozen / static_;
    assert!(
        (ratio / dw - 1.0).abs() < 0.03,
        "Bragg intensity ratio {ratio} vs exp(−4π²u²g²) = {dw}"
    );
}
