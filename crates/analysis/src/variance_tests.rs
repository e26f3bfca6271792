//! Tests of the exact shot-noise correction of V(k) and of its count floor: Poisson patterns of a
//! steep ring (Gaussian radial profile, σ = 0.15 nm⁻¹, ≈ 0.06 counts per pixel) with a planted
//! fluctuation whose V is known.

use std::f64::consts::TAU;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::accumulator::{FrameContext, PartialStats};
use crate::polar::{PolarGeometry, PolarPlan, Ring};
use crate::tests::poisson;
use crate::variance::{variance_curves, VarianceCurves};

const DK: f64 = 0.04;
const DET: usize = 216;
const CENTER: [f64; 2] = [107.6, 108.3];
const K0: f64 = 4.0;
const SIGMA_K: f64 = 0.15;
/// Peak expected counts per pixel: the analysis ring then holds ≈ 0.06 counts per pixel.
const PEAK: f64 = 0.075;
/// Planted azimuthal modulation `1 + M cos(N φ + φ0)` (φ0 random per pattern).
const N: usize = 4;
const M: f64 = 0.7;

/// The rings: one V(k) ring a detector pixel wide at the peak, then the analysis ring.
fn context(gain: f64) -> FrameContext {
    let rings = vec![
        Ring {
            k_lo_per_nm: K0 - DK / 2.0,
            k_hi_per_nm: K0 + DK / 2.0,
        },
        Ring {
            k_lo_per_nm: K0 - 0.16,
            k_hi_per_nm: K0 + 0.16,
        },
    ];
    let g = PolarGeometry {
        detector_shape: [DET, DET],
        center_px: CENTER,
        k_pixel_per_nm: DK,
        rings,
        n_azimuth: 36,
        supersample: 4,
    };
    FrameContext::new(PolarPlan::new(g, None).unwrap(), None, 1, gain, &[1.0])
}

/// Pixels near the rings (the only ones the plans read) with their k and φ.
fn ring_pixels() -> Vec<(usize, f64, f64)> {
    let mut out = Vec::new();
    for i in 0..DET {
        for j in 0..DET {
            let (ky, kx) = ((i as f64 - CENTER[0]) * DK, (j as f64 - CENTER[1]) * DK);
            let k = kx.hypot(ky);
            if (k - K0).abs() < 0.16 + 3.0 * DK {
                out.push((i * DET + j, k, ky.atan2(kx)));
            }
        }
    }
    out
}

/// Patterns `s·PEAK·exp(−(k − K0)²/2σ²)·(1 + m cos(Nφ + φ0))`, `s` drawn from `scales` and φ0
/// uniform, as expected counts (`noisy = false`) and as Poisson counts; returns the stats of
/// both (the expected patterns analysed without a correction give the truth) and the scales.
fn run(patterns: usize, scales: &[f64], m: f64, seed: u64) -> (PartialStats, PartialStats) {
    let pix = ring_pixels();
    let (truth_ctx, ctx) = (context(0.0), context(1.0));
    let (mut ts, mut s) = (truth_ctx.scratch(), ctx.scratch());
    let (mut truth, mut noisy) = (truth_ctx.partial(0, patterns), ctx.partial(0, patterns));
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut expected, mut counts) = (vec![0f32; DET * DET], vec![0f32; DET * DET]);
    for t in 0..patterns {
        let scale = scales[rng.gen_range(0..scales.len())];
        let phi0 = rng.gen_range(0.0..TAU);
        for &(p, k, phi) in &pix {
            let lambda = scale
                * PEAK
                * (-(k - K0).powi(2) / (2.0 * SIGMA_K * SIGMA_K)).exp()
                * (1.0 + m * (N as f64 * phi + phi0).cos());
            expected[p] = lambda as f32;
            counts[p] = poisson(&mut rng, lambda);
        }
        truth_ctx.process_frame(&expected, t, &mut truth, &mut ts);
        ctx.process_frame(&counts, t, &mut noisy, &mut s);
    }
    (truth, noisy)
}

/// Standard error of V_Ω and V_r at `ring` from the scatter of the per-pattern terms of the
/// noisy minus the noise-free estimate (the truth shares the planted draws).
fn standard_errors(truth: &PartialStats, noisy: &PartialStats, ring: usize) -> (f64, f64) {
    let r = noisy.n_rings();
    let n = noisy.len();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let a: Vec<f64> = (0..n).map(|p| noisy.annular_mean[p * r + ring]).collect();
    let ma = mean(&a);
    let d_omega: Vec<f64> = (0..n)
        .map(|p| {
            let i = p * r + ring;
            let at = truth.annular_mean[i];
            (a[p] * a[p] - noisy.annular_mean_noise[i] - at * at) / (ma * ma)
        })
        .collect();
    let d_r: Vec<f64> = (0..n)
        .map(|p| noisy.ring_variance[p * r + ring] - truth.ring_variance[p * r + ring])
        .filter(|v| v.is_finite())
        .collect();
    let se = |d: &[f64]| {
        let m = mean(d);
        (d.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (d.len() - 1) as f64 / d.len() as f64)
            .sqrt()
    };
    (se(&d_omega), se(&d_r))
}

fn at(c: &VarianceCurves, ring: usize) -> (f64, f64) {
    (c.v_omega[ring].unwrap(), c.v_r[ring].unwrap())
}

#[test]
fn exact_correction_recovers_planted_v_on_a_steep_low_count_ring() {
    // s ∈ {0.5, 1.5}: V_Ω = Var s/⟨s⟩² = 0.25; V_r ≈ M²/2·sinc²(NΔφ/2) = 0.235.
    let (truth, noisy) = run(10_000, &[0.5, 1.5], M, 20180189);
    let (tc, nc) = (variance_curves(&truth, 0.0), variance_curves(&noisy, 1.0));
    let analysis = 1;
    let mean_counts = nc.mean_intensity[analysis];
    assert!(
        (0.05..0.07).contains(&mean_counts),
        "{mean_counts} counts per pixel on the analysis ring"
    );
    // The truth is the planted fluctuation.
    let (to, tr) = at(&tc, analysis);
    let x = 0.5 * N as f64 * 10f64.to_radians();
    let planted_r = M * M / 2.0 * (x.sin() / x).powi(2);
    assert!((to - 0.25).abs() < 0.02, "noise-free V_Ω {to}");
    assert!(
        (tr / planted_r - 1.0).abs() < 0.05,
        "noise-free V_r {tr} vs {planted_r}"
    );
    for ring in 0..2 {
        let ((to, tr), (vo, vr)) = (at(&tc, ring), at(&nc, ring));
        let (se_o, se_r) = standard_errors(&truth, &noisy, ring);
        eprintln!(
            "ring {ring}: {:.3} counts/px; V_Ω {vo:.4} ± {se_o:.4} (truth {to:.4}); \
             V_r {vr:.4} ± {se_r:.4} (truth {tr:.4})",
            nc.mean_intensity[ring]
        );
        assert!(
            (vo / to - 1.0).abs() < 0.03,
            "ring {ring}: V_Ω {vo} vs {to}"
        );
        // V_r of the one-pixel ring (≈ 40 counts per pattern) keeps the ≈ 3g/C bias of its
        // per-pattern denominator; the analysis ring (≈ 300 counts) is held to 3 %.
        if ring == analysis {
            assert!((vr / tr - 1.0).abs() < 0.03, "V_r {vr} vs {tr}");
        }
    }
}

#[test]
fn pure_poisson_patterns_of_a_steep_ring_give_no_excess_variance() {
    let (truth, noisy) = run(4_000, &[1.0], 0.0, 7);
    let (tc, nc) = (variance_curves(&truth, 0.0), variance_curves(&noisy, 1.0));
    for ring in 0..2 {
        let ((to, tr), (vo, vr)) = (at(&tc, ring), at(&nc, ring));
        let (se_o, se_r) = standard_errors(&truth, &noisy, ring);
        eprintln!(
            "ring {ring}: V_Ω {vo:.5} ± {se_o:.5} (truth {to:.1e}); V_r {vr:.5} ± {se_r:.5} \
             (pixelisation, noise-free: {tr:.5})"
        );
        assert!(to.abs() < 1e-9, "{to}");
        assert!(vo.abs() < 3.0 * se_o, "ring {ring}: V_Ω {vo} ± {se_o}");
        assert!(
            (vr - tr).abs() < 3.0 * se_r,
            "ring {ring}: V_r {vr} vs {tr} ± {se_r}"
        );
    }
}

#[test]
fn rings_below_the_count_floor_or_without_counts_are_null_with_a_reason() {
    use crate::{analyze_datacube, AnalysisConfig, RunOptions};
    use mro_core::{Calibration, Datacube};
    use ndarray::Array4;

    let (det, scan) = (48usize, [10usize, 10]);
    let mut rng = StdRng::seed_from_u64(3);
    // 0.005 counts per pixel inside k = 3.5 nm⁻¹, nothing beyond.
    let data: Vec<f32> = (0..scan[0] * scan[1])
        .flat_map(|_| {
            (0..det * det)
                .map(|p| (p / det, p % det))
                .collect::<Vec<_>>()
        })
        .map(|(i, j)| {
            let k = (i as f64 - 24.0).hypot(j as f64 - 23.5) * 0.25;
            if k < 3.5 {
                poisson(&mut rng, 0.005)
            } else {
                0.0
            }
        })
        .collect();
    let cal = Calibration::new(0.25, 0.32, [24.0, 23.5], 300.0, 1.15, Some(20.0)).unwrap();
    let cube = Datacube::new(
        Array4::from_shape_vec((scan[0], scan[1], det, det), data).unwrap(),
        cal,
    );
    let config = AnalysisConfig {
        k_min_per_nm: 1.0,
        k_max_per_nm: 5.5,
        radial_step_per_nm: Some(0.25),
        poisson_gain: 1.0,
        ..AnalysisConfig::default()
    };
    let v = analyze_datacube(&cube, &config, &RunOptions::default())
        .unwrap()
        .result
        .variance;
    assert!(v.v_omega.iter().chain(&v.v_r).all(Option::is_none), "{v:?}");
    assert_eq!(v.v_omega_at_ring, None);
    assert_eq!(v.v_r_at_ring, None);
    assert_eq!(v.peak_k_per_nm, None);
    assert_eq!(v.v_r_peak_k_per_nm, None);
    for (i, &k) in v.k_per_nm.iter().enumerate() {
        for field in ["v_omega", "v_r"] {
            let why = &v.null_reasons[&format!("{field}[{i}]")];
            // Rings near k = 3.5 nm⁻¹ share a few sub-pixels with counted pixels.
            if k < 3.4 {
                assert!(why.contains("below the floor"), "k = {k}: {why}");
            } else if k > 3.8 {
                assert!(why.contains("no counts on the ring"), "k = {k}: {why}");
            }
        }
    }
    assert!(v.null_reasons["v_omega_at_ring"].contains("no counts"));
    // Without a gain there is no count floor, but a ring without counts stays undefined.
    let config = AnalysisConfig {
        poisson_gain: 0.0,
        ..config
    };
    let v = analyze_datacube(&cube, &config, &RunOptions::default())
        .unwrap()
        .result
        .variance;
    for (i, &k) in v.k_per_nm.iter().enumerate() {
        if !(3.4..=3.8).contains(&k) {
            assert_eq!(v.v_omega[i].is_some(), k < 3.4, "k = {k}");
        }
    }
    let peak = v.peak_k_per_nm.unwrap();
    assert!(peak < 3.8, "the peak ignores null rings: {peak}");
}

/// The block-bootstrap standard error of the V_Ω and V_r peaks matches the scatter of the peak
/// over independent scans: patterns whose annular means fluctuate by a V(k) with a broad peak at
/// 4 nm⁻¹ over a flat floor (so the peak position is genuinely uncertain).
#[test]
fn bootstrap_peak_errors_match_the_scatter_over_independent_scans() {
    use crate::variance::{peak_position, peak_standard_errors};
    let k: Vec<f64> = (0..25).map(|i| 2.0 + 0.16 * i as f64).collect();
    let v = |k: f64| 0.02 + 0.004 * (-(k - 4.0).powi(2) / (2.0 * 0.8f64.powi(2))).exp();
    let scan = [32, 32];
    let n = scan[0] * scan[1];
    let mut rng = StdRng::seed_from_u64(41);
    let (mut peaks, mut peaks_r, mut se, mut se_r) = (vec![], vec![], vec![], vec![]);
    for _ in 0..40 {
        let mut a = Vec::with_capacity(n * k.len());
        let mut vr = Vec::with_capacity(n * k.len());
        for _ in 0..n {
            for &kk in &k {
                let g = normal(&mut rng);
                a.push(100.0 * (1.0 + v(kk).sqrt() * g));
                vr.push(v(kk) * (1.0 + 0.5 * rng.gen_range(-1.0..1.0)));
            }
        }
        let stats = PartialStats::for_variance(k.len(), a, vec![0.0; n * k.len()], vr);
        let c = variance_curves(&stats, 0.0);
        peaks.extend(peak_position(&k, &c.v_omega));
        peaks_r.extend(peak_position(&k, &c.v_r));
        let (s, s_r) = peak_standard_errors(
            &stats,
            scan,
            0.0,
            &k,
            [peak_position(&k, &c.v_omega), peak_position(&k, &c.v_r)],
        );
        se.push(s.unwrap());
        se_r.push(s_r.unwrap());
    }
    // A V(k) that only falls has its maximum at the first ring: no peak, so no error.
    let mut falling = Vec::with_capacity(n * k.len());
    for _ in 0..n {
        for &kk in &k {
            falling.push(100.0 * (1.0 + 0.3 / kk * normal(&mut rng)));
        }
    }
    let stats = PartialStats::for_variance(
        k.len(),
        falling,
        vec![0.0; n * k.len()],
        vec![0.01; n * k.len()],
    );
    assert_eq!(
        peak_standard_errors(
            &stats,
            scan,
            0.0,
            &k,
            [
                peak_position(&k, &variance_curves(&stats, 0.0).v_omega),
                None
            ]
        )
        .0,
        None
    );
    for (what, p, s) in [("V_Ω", &peaks, &se), ("V_r", &peaks_r, &se_r)] {
        let (_, scatter) = crate::particles::mean_sd(p.iter().copied());
        let (mean_se, _) = crate::particles::mean_sd(s.iter().copied());
        let ratio = mean_se / scatter;
        assert!(
            (0.6..1.6).contains(&ratio),
            "{what}: bootstrap s.e. {mean_se:.3} against the scatter {scatter:.3} over 40 scans"
        );
    }
}

/// A standard normal deviate by Box–Muller (the crate has no `rand_distr`).
fn normal(rng: &mut StdRng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}
