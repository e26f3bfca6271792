//! Tests of the analysis on small synthetic datacubes with known answers.

use std::f64::consts::{PI, TAU};

use mro_core::{Calibration, Datacube};
use ndarray::Array4;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::accumulator::FrameContext;
use crate::autocorrelation::{autocorrelation_2d, radial_autocorrelation};
use crate::center::friedel_center;
use crate::correlation::{angular_correlation, AngularSpectrum};
use crate::particles::{geometric_in_condition, segment};
use crate::polar::{PolarGeometry, PolarPlan, Ring};
use crate::threshold::{iterative, otsu};
use crate::{analyze_datacube, analyze_npy, reference, AnalysisConfig, RunOptions};

fn cal(center: [f64; 2], dk: f64) -> Calibration {
    Calibration::new(dk, 0.32, center, 300.0, 1.15, Some(20.0)).unwrap()
}

/// A smooth ring at `k0` (Gaussian radial profile) modulated as `1 + m cos(n φ + φ0)`, on a flat
/// background, averaged over 5 × 5 sub-pixels.
#[allow(clippy::too_many_arguments)]
fn ring_pattern(
    det: [usize; 2],
    center: [f64; 2],
    dk: f64,
    k0: f64,
    n: usize,
    m: f64,
    phi0: f64,
    amp: f64,
) -> Vec<f32> {
    let mut out = vec![0f32; det[0] * det[1]];
    for i in 0..det[0] {
        for j in 0..det[1] {
            let mut s = 0.0;
            for a in 0..5 {
                for b in 0..5 {
                    let y = i as f64 - 0.4 + 0.2 * a as f64;
                    let x = j as f64 - 0.4 + 0.2 * b as f64;
                    let kx = (x - center[1]) * dk;
                    let ky = (y - center[0]) * dk;
                    let k = kx.hypot(ky);
                    let phi = ky.atan2(kx);
                    let rad = (-(k - k0).powi(2) / (2.0 * 0.35f64.powi(2))).exp();
                    s += 1.0 + amp * rad * (1.0 + m * (n as f64 * phi + phi0).cos());
                }
            }
            out[i * det[1] + j] = (s / 25.0) as f32;
        }
    }
    out
}

fn small_config() -> AnalysisConfig {
    AnalysisConfig {
        k_min_per_nm: 1.0,
        k_max_per_nm: 5.5,
        radial_step_per_nm: Some(0.25),
        poisson_gain: 0.0,
        // The synthetic counts here are independent per pixel (an ideal detector).
        detector_psf_sigma_px: 0.0,
        ..AnalysisConfig::default()
    }
}

#[test]
fn fast_polar_matches_slow_reference() {
    let mut rng = StdRng::seed_from_u64(1);
    let det = [23, 27];
    let pattern: Vec<f32> = (0..det[0] * det[1])
        .map(|_| rng.gen_range(0.0..100.0))
        .collect();
    let mut mask = vec![false; det[0] * det[1]];
    for p in [5, 40, 41, 300, 301, 302, 500] {
        mask[p] = true;
    }
    let g = PolarGeometry {
        detector_shape: det,
        center_px: [11.3, 12.8],
        k_pixel_per_nm: 0.5,
        rings: vec![
            Ring {
                k_lo_per_nm: 0.5,
                k_hi_per_nm: 2.0,
            },
            Ring {
                k_lo_per_nm: 2.0,
                k_hi_per_nm: 3.5,
            },
            Ring {
                k_lo_per_nm: 3.0,
                k_hi_per_nm: 5.5,
            },
        ],
        n_azimuth: 12,
        supersample: 3,
    };
    let plan = PolarPlan::new(g.clone(), Some(&mask)).unwrap();
    let mut fast = vec![0f32; 36];
    plan.apply(&pattern, &mut fast);
    let slow = reference::polar_transform(&g, &pattern, Some(&mask));
    for (b, (f, s)) in fast.iter().zip(&slow).enumerate() {
        match s {
            Some(s) => assert!(
                (f64::from(*f) - s).abs() <= 1e-5 * s.abs().max(1.0),
                "bin {b}: fast {f} slow {s}"
            ),
            None => assert_eq!(plan.bin_area()[b], 0.0),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn cosine_ring_has_power_only_at_its_harmonic(n in 1usize..=10, m in 0.0f64..1.0, phi0 in 0.0f64..TAU) {
        let na = 36;
        let ring: Vec<f64> = (0..na).map(|b| 1.0 + m * (n as f64 * TAU * b as f64 / na as f64 + phi0).cos()).collect();
        let p = AngularSpectrum::new(na).power(&ring, 10);
        prop_assert!((p[0] - 1.0).abs() < 1e-12);
        for (h, &v) in p.iter().enumerate().skip(1) {
            let want = if h == n { m * m / 4.0 } else { 0.0 };
            prop_assert!((v - want).abs() < 1e-12, "P_{} = {} want {}", h, v, want);
        }
        let slow = reference::power_spectrum(&ring, 10);
        for (a, b) in p.iter().zip(&slow) {
            prop_assert!((a - b).abs() < 1e-10);
        }
    }

    #[test]
    fn parseval_and_c0(values in proptest::collection::vec(0.1f64..10.0, 36)) {
        let full = AngularSpectrum::new(36).full_power(&values);
        let sum: f64 = full.iter().skip(1).sum();
        let mean = values.iter().sum::<f64>() / 36.0;
        let var = values.iter().map(|v| v * v).sum::<f64>() / 36.0 / (mean * mean) - 1.0;
        prop_assert!((sum - var).abs() < 1e-10 * var.max(1.0));
        let c = angular_correlation(&values);
        prop_assert!((c[0] - var).abs() < 1e-10 * var.max(1.0));
    }
}

#[test]
fn c0_equals_per_pattern_ring_variance() {
    let det = [48, 48];
    let pattern = ring_pattern(det, [23.6, 24.2], 0.25, 4.0, 6, 0.4, 0.3, 5.0);
    let g = PolarGeometry {
        detector_shape: det,
        center_px: [23.6, 24.2],
        k_pixel_per_nm: 0.25,
        rings: vec![Ring {
            k_lo_per_nm: 3.84,
            k_hi_per_nm: 4.16,
        }],
        n_azimuth: 36,
        supersample: 4,
    };
    let ctx = FrameContext::new(PolarPlan::new(g, None).unwrap(), None, 10, 0.0, &[1.0]);
    let mut s = ctx.scratch();
    let acc = ctx.process_chunk(0, &pattern, &mut s);
    let mut polar = vec![0f32; 36];
    ctx.plan().apply(&pattern, &mut polar);
    let ring: Vec<f64> = polar.iter().map(|&v| f64::from(v)).collect();
    let c = angular_correlation(&ring);
    assert!(
        (acc.ring_variance_raw[0] - c[0]).abs() < 1e-9,
        "{} vs {}",
        acc.ring_variance_raw[0],
        c[0]
    );
    assert_eq!(acc.ring_variance[0], acc.ring_variance_raw[0]);
    let psum: f64 = AngularSpectrum::new(36)
        .full_power(&ring)
        .iter()
        .skip(1)
        .sum();
    assert!((psum - c[0]).abs() < 1e-9);
}

fn cube(
    patterns: &[Vec<f32>],
    scan: [usize; 2],
    det: [usize; 2],
    center: [f64; 2],
    dk: f64,
) -> Datacube {
    let data: Vec<f32> = patterns.iter().flatten().copied().collect();
    Datacube::new(
        Array4::from_shape_vec((scan[0], scan[1], det[0], det[1]), data).unwrap(),
        cal(center, dk),
    )
}

#[test]
fn rotation_leaves_power_spectrum_unchanged() {
    let det = [128, 128];
    let c = [63.7, 64.4];
    let config = AnalysisConfig {
        poisson_gain: 0.0,
        ..AnalysisConfig::default()
    };
    for n in [2usize, 4, 6, 10] {
        let pats: Vec<Vec<f32>> = [0.0, 0.37, 1.3]
            .iter()
            .map(|&rot| ring_pattern(det, c, 0.16, 4.0, n, 0.6, 0.2 + n as f64 * rot, 4.0))
            .collect();
        let out = analyze_datacube(
            &cube(&pats, [1, 3], det, c, 0.16),
            &config,
            &RunOptions::default(),
        )
        .unwrap();
        let p: Vec<f64> = out.maps.power[n].iter().copied().collect();
        for v in &p {
            assert!((v - p[0]).abs() <= 0.03 * p[0], "n = {n}: {p:?}");
        }
        // Binning over Δφ = 10° and the ring width attenuate the harmonic a little, never more
        // than the sinc² of the azimuthal bin.
        let ring_m = out.result.power_spectrum.mean[n];
        assert!(ring_m > 0.0 && ring_m <= 0.09 * 1.05, "P_{n} = {ring_m}");
        for h in 1..=10 {
            if h != n && h % n != 0 {
                assert!(
                    out.result.power_spectrum.mean[h] < 0.01 * ring_m,
                    "leak into n = {h}"
                );
            }
        }
    }
}

#[test]
fn constant_data_has_zero_variance() {
    let det = [48, 48];
    let pats = vec![vec![7.5f32; 48 * 48]; 12];
    let out = analyze_datacube(
        &cube(&pats, [3, 4], det, [24.0, 23.5], 0.25),
        &small_config(),
        &RunOptions::default(),
    )
    .unwrap();
    for v in out
        .result
        .variance
        .v_omega
        .iter()
        .chain(&out.result.variance.v_r)
    {
        let v = v.expect("defined");
        assert!(v.abs() < 1e-12, "{v}");
    }
    assert!(out.maps.v2d.iter().all(|v| v.abs() < 1e-12));
}

/// `analysis.json` records the settings used: the defaults that follow other settings (the
/// radial step, one detector pixel; the summed symmetries, the even n up to n_max) at their
/// values, not as "default".
#[test]
fn the_recorded_config_has_its_following_defaults_filled_in() {
    let det = [48, 48];
    let pats = vec![vec![7.5f32; 48 * 48]; 12];
    let config = AnalysisConfig {
        radial_step_per_nm: None,
        symmetries: None,
        n_max: 7,
        ..small_config()
    };
    let out = analyze_datacube(
        &cube(&pats, [3, 4], det, [24.0, 23.5], 0.25),
        &config,
        &RunOptions::default(),
    )
    .unwrap();
    assert_eq!(out.result.config.radial_step_per_nm, Some(0.25));
    assert_eq!(out.result.config.symmetries, Some(vec![2, 4, 6]));
}

pub(crate) fn poisson(rng: &mut StdRng, lambda: f64) -> f32 {
    let l = (-lambda).exp();
    let (mut k, mut p) = (0u32, 1.0f64);
    loop {
        p *= rng.gen::<f64>();
        if p <= l {
            return k as f32;
        }
        k += 1;
    }
}

/// A 30 × 30 scan of 48 × 48 patterns of pure Poisson noise (10 counts per pixel) times
/// `gain`, drawn from `seed`.
fn pure_poisson_cube(seed: u64, gain: f64) -> Datacube {
    let mut rng = StdRng::seed_from_u64(seed);
    let pats: Vec<Vec<f32>> = (0..900)
        .map(|_| {
            (0..48 * 48)
                .map(|_| gain as f32 * poisson(&mut rng, 10.0))
                .collect()
        })
        .collect();
    cube(&pats, [30, 30], [48, 48], [24.0, 23.5], 0.25)
}

#[test]
fn poisson_noise_is_corrected_away() {
    let gain = 2.0;
    let cube = pure_poisson_cube(7, gain);
    let mut cfg = small_config();
    let raw = analyze_datacube(&cube, &cfg, &RunOptions::default()).unwrap();
    cfg.poisson_gain = gain;
    let cor = analyze_datacube(&cube, &cfg, &RunOptions::default()).unwrap();
    let (rv, cv) = (&raw.result.variance, &cor.result.variance);
    for i in 0..rv.k_per_nm.len() {
        let (ro, rr) = (rv.v_omega[i].unwrap(), rv.v_r[i].unwrap());
        let (co, cr) = (cv.v_omega[i].unwrap(), cv.v_r[i].unwrap());
        assert!(ro > 0.0 && rr > 0.0);
        assert!(co.abs() < 0.25 * ro, "V_Ω {co} raw {ro}");
        assert!(cr.abs() < 0.05 * rr, "V_r {cr} raw {rr}");
    }
    // Pure noise: every harmonic sits at the predicted shot-noise floor.
    let ps = &cor.result.power_spectrum;
    assert!(ps.poisson_floor > 0.0);
    let mean_pn = ps.mean[1..].iter().sum::<f64>() / (ps.mean.len() - 1) as f64;
    assert!(
        (mean_pn - ps.poisson_floor).abs() < 0.1 * ps.poisson_floor,
        "mean P_n {mean_pn} vs floor {}",
        ps.poisson_floor
    );
    assert_eq!(raw.result.power_spectrum.poisson_floor, 0.0);
    // And the fast V_Ω agrees with its definition on ring sums (noise-free check of the formula).
    let sums: Vec<f64> = raw.maps.mean_intensity.iter().copied().collect();
    let want = reference::v_omega_from_sums(&sums, 0.0);
    assert!((want - rv.v_omega_at_ring.unwrap()).abs() < 1e-9);
}

/// Random patterns with a different ring and modulation at each scan point.
fn random_cube(scan: [usize; 2], seed: u64) -> Datacube {
    let det = [32, 34];
    let c = [15.6, 16.9];
    let mut rng = StdRng::seed_from_u64(seed);
    let pats: Vec<Vec<f32>> = (0..scan[0] * scan[1])
        .map(|_| {
            let n = rng.gen_range(1..=10);
            let mut p = ring_pattern(
                det,
                c,
                0.3,
                rng.gen_range(3.0..4.5),
                n,
                rng.gen_range(0.0..1.0),
                rng.gen_range(0.0..TAU),
                3.0,
            );
            p.iter_mut().for_each(|v| *v *= rng.gen_range(0.9..1.1));
            p
        })
        .collect();
    cube(&pats, scan, det, c, 0.3)
}

#[test]
fn streamed_equals_in_memory_for_awkward_chunks() {
    let scan = [7, 9];
    let cube = random_cube(scan, 3);
    let config = AnalysisConfig {
        k_min_per_nm: 1.0,
        k_max_per_nm: 4.5,
        poisson_gain: 1.0,
        ..AnalysisConfig::default()
    };
    let dir = std::env::temp_dir().join(format!("mro-analysis-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cube.npy");
    mro_core::npy::write_array4(&path, cube.data()).unwrap();
    let base = analyze_datacube(
        &cube,
        &config,
        &RunOptions {
            chunk_patterns: 4,
            ..Default::default()
        },
    )
    .unwrap();
    for chunk in [1, 5, 13, 62, 63, 1000] {
        let mem = analyze_datacube(
            &cube,
            &config,
            &RunOptions {
                chunk_patterns: chunk,
                ..Default::default()
            },
        )
        .unwrap();
        let disk = analyze_npy(
            &path,
            cube.calibration(),
            &config,
            &RunOptions {
                chunk_patterns: chunk,
                ..Default::default()
            },
        )
        .unwrap();
        for o in [&mem, &disk] {
            assert_eq!(o.result.to_json(), base.result.to_json(), "chunk {chunk}");
            assert_eq!(o.maps, base.maps, "chunk {chunk}");
        }
    }
    // A float64 file goes through the converting reader and must agree too.
    let path64 = dir.join("cube64.npy");
    write_f64_npy(&path64, cube.data());
    let disk64 = analyze_npy(
        &path64,
        cube.calibration(),
        &config,
        &RunOptions {
            chunk_patterns: 7,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(disk64.result.to_json(), base.result.to_json());
    assert_eq!(disk64.maps, base.maps);
    std::fs::remove_dir_all(&dir).ok();
}

fn write_f64_npy(path: &std::path::Path, data: &Array4<f32>) {
    let s = data.shape();
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}, {}, {}), }}",
        s[0], s[1], s[2], s[3]
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for &v in data.iter() {
        bytes.extend(f64::from(v).to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn merge_is_associative() {
    let cube = random_cube([3, 5], 11);
    let g = PolarGeometry {
        detector_shape: [32, 34],
        center_px: [15.6, 16.9],
        k_pixel_per_nm: 0.3,
        rings: vec![Ring {
            k_lo_per_nm: 3.0,
            k_hi_per_nm: 4.4,
        }],
        n_azimuth: 36,
        supersample: 2,
    };
    let ctx = FrameContext::new(PolarPlan::new(g, None).unwrap(), None, 10, 1.0, &[1.0]);
    let data = cube.data().as_slice().unwrap();
    let pl = 32 * 34;
    let mut s = ctx.scratch();
    let a = ctx.process_chunk(0, &data[..4 * pl], &mut s);
    let b = ctx.process_chunk(4, &data[4 * pl..5 * pl], &mut s);
    let c = ctx.process_chunk(5, &data[5 * pl..], &mut s);
    let left = a
        .clone()
        .merge(b.clone())
        .unwrap()
        .merge(c.clone())
        .unwrap();
    let right = a
        .clone()
        .merge(b.clone().merge(c.clone()).unwrap())
        .unwrap();
    let whole = ctx.process_chunk(0, data, &mut s);
    assert_eq!(left, right);
    assert_eq!(left, whole);
    assert!(b.merge(a).is_err());
}

#[test]
fn planted_disks_are_counted_and_sized() {
    let shape = [96, 96];
    let disks = [
        (20.0, 20.0, 3.0),
        (20.0, 60.0, 4.5),
        (60.0, 25.0, 6.0),
        (70.0, 70.0, 2.2),
        (45.0, 85.0, 5.0),
    ];
    let mut map = vec![0.1; 96 * 96];
    let mut rng = StdRng::seed_from_u64(5);
    map.iter_mut().for_each(|v| *v += rng.gen_range(0.0..0.05));
    for &(cy, cx, r) in &disks {
        for y in 0..96 {
            for x in 0..96 {
                let d: f64 = ((y as f64 - cy).powi(2) + (x as f64 - cx).powi(2)).sqrt();
                if d <= r {
                    map[y * 96 + x] = 1.0 + rng.gen_range(0.0..0.2);
                }
            }
        }
    }
    let step = 0.32;
    for t in [iterative(&map), otsu(&map)] {
        let seg = segment(&map, shape, t, 2, step, 0.88);
        assert_eq!(seg.regions.len(), disks.len(), "threshold {t}");
        for &(cy, cx, r) in &disks {
            let reg = seg
                .regions
                .iter()
                .find(|g| {
                    (g.centroid_px[0] - cy).abs() < 1.0 && (g.centroid_px[1] - cx).abs() < 1.0
                })
                .expect("region at each disk");
            assert!(
                (reg.diameter_nm - 2.0 * r * step).abs() <= step,
                "r = {r}: {}",
                reg.diameter_nm
            );
            assert!(reg.diameter_deblurred_nm < reg.diameter_nm);
        }
    }
}

#[test]
fn disk_lattice_autocorrelation_peaks_at_spacing() {
    let (n, a) = (96usize, 12.0);
    let mut map = vec![0.0; n * n];
    for y in 0..n {
        for x in 0..n {
            let fy = (y as f64 + 0.5) / a;
            let fx = (x as f64 + 0.5) / a;
            let dy = (fy - fy.round()) * a;
            let dx = (fx - fx.round()) * a;
            map[y * n + x] = (-(dy * dy + dx * dx) / (2.0 * 1.5f64.powi(2))).exp();
        }
    }
    let step = 0.32;
    let s = radial_autocorrelation(&map, [n, n], step);
    let found = s.first_peak(1.04).unwrap();
    let peak = found.r_nm;
    assert!(found.significance > 10.0, "{found:?}");
    assert!(
        (peak - a * step).abs() < 0.5 * step,
        "peak {peak} nm, spacing {}",
        a * step
    );
    assert!((s.sigma[0] - 1.0).abs() < 1e-12);
}

#[test]
fn fft_autocorrelation_matches_direct_sum() {
    let mut rng = StdRng::seed_from_u64(9);
    let shape = [9, 13];
    let map: Vec<f64> = (0..9 * 13).map(|_| rng.gen_range(0.0..1.0)).collect();
    let fast = autocorrelation_2d(&map, shape);
    let slow = reference::autocorrelation_2d(&map, shape);
    for (f, s) in fast.iter().zip(&slow) {
        assert!((f - s).abs() < 1e-9, "{f} vs {s}");
    }
}

#[test]
fn centre_is_refined_from_friedel_symmetry() {
    let det = [64, 64];
    let truth = [30.4, 33.7];
    let p = ring_pattern(det, truth, 0.25, 4.0, 4, 0.5, 0.3, 5.0);
    let mean: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
    let c = friedel_center(&mean, det, None, [32.0, 32.0], 10.0).unwrap();
    assert!(
        (c[0] - truth[0]).abs() < 0.15 && (c[1] - truth[1]).abs() < 0.15,
        "{c:?}"
    );

    let cfg = AnalysisConfig {
        refine_center: true,
        ..small_config()
    };
    let pats = vec![p; 4];
    let out = analyze_datacube(
        &cube(&pats, [2, 2], det, [32.0, 32.0], 0.25),
        &cfg,
        &RunOptions::default(),
    )
    .unwrap();
    let u = out.result.center.used_px;
    assert!(
        (u[0] - truth[0]).abs() < 0.15 && (u[1] - truth[1]).abs() < 0.15,
        "{u:?}"
    );
    assert_eq!(out.result.center.calibration_px, [32.0, 32.0]);
}

#[test]
fn geometric_in_condition_limits() {
    let big = geometric_in_condition(10, 10.0);
    let cone = 1.0 - 10f64.to_radians().cos();
    assert!(big >= cone * 0.99 && big < cone * 1.3, "{big} vs {cone}");
    assert!(geometric_in_condition(2, 10.0) > geometric_in_condition(4, 10.0));
    assert!(geometric_in_condition(4, 10.0) >= big * 0.99);
}

#[test]
fn planted_hotspots_give_regions_and_volume_fraction() {
    // 4-fold patterns in a disk of scan positions, weak 6-fold elsewhere.
    let det = [48, 48];
    let c = [23.5, 24.0];
    let scan = [24, 24];
    let mut pats = Vec::new();
    for y in 0..scan[0] {
        for x in 0..scan[1] {
            let d = ((y as f64 - 8.0).powi(2) + (x as f64 - 14.0).powi(2)).sqrt();
            let m = if d <= 3.0 { 0.8 } else { 0.05 };
            pats.push(ring_pattern(det, c, 0.25, 4.0, 4, m, 0.4, 5.0));
        }
    }
    let out = analyze_datacube(
        &cube(&pats, scan, det, c, 0.25),
        &small_config(),
        &RunOptions::default(),
    )
    .unwrap();
    let s4 = &out.result.by_symmetry["4"];
    assert_eq!(s4.regions, 1);
    let r = &s4.region_list[0];
    assert!((r.centroid_px[0] - 8.0).abs() < 0.5 && (r.centroid_px[1] - 14.0).abs() < 0.5);
    let area = 24.0 * 24.0 * 0.32 * 0.32;
    let d = r.diameter_nm;
    let want = PI / 6.0 * d * d * d / (area * 20.0) / 0.059;
    assert!((s4.volume_fraction.unwrap() - want).abs() < 1e-12);
    let json: serde_json::Value = serde_json::from_str(&out.result.to_json()).unwrap();
    for key in [
        "variance",
        "power_spectrum",
        "by_symmetry",
        "total_volume_fraction",
        "integrated_map_volume_fraction",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert_eq!(json["schema"], "mro.analysis/1");
    for key in [
        "regions",
        "mean_diameter_nm",
        "area_fraction",
        "volume_fraction_in_condition",
        "volume_fraction",
        "autocorrelation_peak_nm",
    ] {
        assert!(json["by_symmetry"]["4"].get(key).is_some(), "{key}");
    }
}

#[test]
fn masked_pixels_are_excluded() {
    let det = [48, 48];
    let c = [23.5, 24.0];
    let clean = ring_pattern(det, c, 0.25, 4.0, 4, 0.6, 0.4, 5.0);
    let mut mask = vec![false; 48 * 48];
    let mut dirty = clean.clone();
    // A beam-stop arm along +k_x and a few dead pixels, filled with garbage.
    for i in 22..26 {
        for j in 24..48 {
            mask[i * 48 + j] = true;
            dirty[i * 48 + j] = 1e6;
        }
    }
    for p in [100, 700, 1500] {
        mask[p] = true;
        dirty[p] = -1e6;
    }
    let cfg = small_config();
    let a = analyze_datacube(
        &cube(&vec![clean; 4], [2, 2], det, c, 0.25),
        &cfg,
        &RunOptions::default(),
    )
    .unwrap();
    let b = analyze_datacube(
        &cube(&vec![dirty; 4], [2, 2], det, c, 0.25),
        &cfg,
        &RunOptions {
            excluded: Some(&mask),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(b.result.input.masked_pixels, 4 * 24 + 3);
    let (pa, pb) = (&a.result.power_spectrum.mean, &b.result.power_spectrum.mean);
    assert!((pa[4] - pb[4]).abs() < 0.1 * pa[4], "{pa:?} vs {pb:?}");
    assert!(pb.iter().all(|v| v.is_finite() && *v < 1.0 + 1e-9));
    let ia = a.result.variance.mean_intensity.iter();
    for (x, y) in ia.zip(&b.result.variance.mean_intensity) {
        assert!((x - y).abs() < 0.02 * x, "{x} vs {y}");
    }
}

/// Gaussian-blurred white noise on a periodic `n × n` grid (blur σ in pixels).
fn blurred_noise(n: usize, blur_px: f64, rng: &mut StdRng) -> Vec<f64> {
    // Box–Muller normals.
    let white: Vec<f64> = (0..n * n)
        .map(|_| {
            let (u, v): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
            (-2.0 * u.ln()).sqrt() * (TAU * v).cos()
        })
        .collect();
    let reach = (3.0 * blur_px).ceil() as isize;
    let w: Vec<f64> = (-reach..=reach)
        .map(|d| (-(d * d) as f64 / (2.0 * blur_px * blur_px)).exp())
        .collect();
    let wrap = |i: isize| i.rem_euclid(n as isize) as usize;
    let mut rows = vec![0.0; n * n];
    for y in 0..n {
        for x in 0..n {
            rows[y * n + x] = (-reach..=reach)
                .map(|d| w[(d + reach) as usize] * white[y * n + wrap(x as isize + d)])
                .sum();
        }
    }
    let mut out = vec![0.0; n * n];
    for y in 0..n {
        for x in 0..n {
            out[y * n + x] = (-reach..=reach)
                .map(|d| w[(d + reach) as usize] * rows[wrap(y as isize + d) * n + x])
                .sum();
        }
    }
    out
}

/// The Bartlett standard error of σ(r) against the scatter of σ(r) over 200 independent
/// correlated-noise maps (measured: se/sd = 1.13–1.24, i.e. slightly conservative), and the rate
/// of "spacing" peaks above 3 standard errors in maps that have no spacing (measured: 1 %).
#[test]
fn autocorrelation_standard_error_matches_the_scatter_of_noise_maps() {
    let mut rng = StdRng::seed_from_u64(2018);
    let (n, maps) = (64usize, 200usize);
    let curves: Vec<_> = (0..maps)
        .map(|_| radial_autocorrelation(&blurred_noise(n, 1.5, &mut rng), [n, n], 0.32))
        .collect();
    for bin in [6usize, 12, 24] {
        let v: Vec<f64> = curves.iter().map(|c| c.sigma[bin]).collect();
        let mean = v.iter().sum::<f64>() / maps as f64;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (maps - 1) as f64).sqrt();
        let se = curves.iter().map(|c| c.standard_error[bin]).sum::<f64>() / maps as f64;
        assert!(
            (0.9..1.5).contains(&(se / sd)),
            "bin {bin}: se {se:.5} against a scatter of {sd:.5}"
        );
    }
    let false_peaks = curves
        .iter()
        .filter_map(|c| c.first_peak(1.04))
        .filter(|p| p.significance > 3.0)
        .count();
    assert!(
        false_peaks <= maps / 20,
        "{false_peaks} of {maps} noise maps"
    );
}

/// `analyze_source_screened` (screening rides on the measurement's read) gives what screening
/// first and then measuring with the screened mask gives: on clean data, with a hot pixel (the
/// measurement is re-read with it masked), and with a NaN (refused), with and without centre
/// refinement.
#[test]
fn screened_measurement_equals_screening_then_measuring() {
    use crate::screen::{screen_values, ScreenSettings};
    use crate::{analyze_source_screened, Screened};
    let scan = [6, 7];
    let clean = random_cube(scan, 11);
    let det = clean.detector_shape();
    let plen = det[0] * det[1];
    let with = |f: &dyn Fn(&mut [f32])| {
        let mut d = clean.data().clone();
        f(d.as_slice_mut().unwrap());
        Datacube::new(d, *clean.calibration())
    };
    let hot = with(&|v| (0..42).for_each(|i| v[i * plen + 5 * det[1] + 29] = 1.0e5));
    let nan = with(&|v| v[17 * plen + 300] = f32::NAN);
    let dir = std::env::temp_dir().join(format!("mro-screened-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = ScreenSettings::default();
    for refine_center in [false, true] {
        let config = AnalysisConfig {
            k_min_per_nm: 1.0,
            k_max_per_nm: 4.5,
            refine_center,
            ..AnalysisConfig::default()
        };
        for (name, cube) in [("clean", &clean), ("hot", &hot), ("nan", &nan)] {
            let path = dir.join(format!("{name}.npy"));
            mro_core::npy::write_array4(&path, cube.data()).unwrap();
            let values = cube.data().as_slice().unwrap();
            let expected = screen_values(values, scan, det, None, &settings).unwrap();
            let source = mro_core::FrameSource::open(&path, None, None).unwrap();
            let opts = RunOptions {
                chunk_patterns: 5,
                ..Default::default()
            };
            let got =
                analyze_source_screened(source, cube.calibration(), &config, &opts, &settings)
                    .unwrap();
            match got {
                Screened::Refused(report) => {
                    assert_eq!(name, "nan", "refine {refine_center}");
                    assert_eq!(report, expected);
                }
                Screened::Measured(report, out) => {
                    assert_eq!(report, expected, "{name}, refine {refine_center}");
                    assert_eq!(report.hot_pixels.len(), usize::from(name == "hot"));
                    let mask = report.excluded(None);
                    let direct = analyze_datacube(
                        cube,
                        &config,
                        &RunOptions {
                            excluded: Some(&mask),
                            ..Default::default()
                        },
                    )
                    .unwrap();
                    assert_eq!(out.result.to_json(), direct.result.to_json(), "{name}");
                    assert_eq!(out.maps, direct.maps, "{name}");
                }
                Screened::Unmeasurable(_, e) => panic!("{name}: {e}"),
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Every null number of an `im2018` map result carries its reason: without a foil thickness the
/// volume fractions; without regions the diameters; without a σ(r) maximum the spacing.
#[test]
fn null_numbers_of_a_map_carry_their_reasons() {
    let scan = [6, 7];
    let clean = random_cube(scan, 5);
    let no_thickness = Datacube::new(
        clean.data().clone(),
        Calibration::new(
            0.3,
            0.32,
            clean.calibration().center_px(),
            300.0,
            1.15,
            None,
        )
        .unwrap(),
    );
    let config = AnalysisConfig {
        k_min_per_nm: 1.0,
        k_max_per_nm: 4.5,
        ..AnalysisConfig::default()
    };
    let out = analyze_datacube(&no_thickness, &config, &RunOptions::default()).unwrap();
    let value = serde_json::to_value(&out.result).unwrap();
    // The whole-sample fractions too.
    for field in ["total_volume_fraction", "integrated_map_volume_fraction"] {
        assert!(value[field].is_null(), "{field}");
        assert!(
            out.result.null_reasons[field].contains("thickness")
                || out.result.null_reasons[field].contains("null"),
            "{field}: {:?}",
            out.result.null_reasons
        );
    }
    for (n, s) in value["by_symmetry"].as_object().unwrap() {
        let reasons = s["null_reasons"].as_object().unwrap();
        for (field, v) in s.as_object().unwrap() {
            if v.is_null() {
                assert!(
                    reasons.contains_key(field),
                    "n = {n}: `{field}` is null without a reason: {reasons:?}"
                );
            }
        }
        assert!(
            reasons["volume_fraction"]
                .as_str()
                .unwrap()
                .contains("thickness"),
            "{reasons:?}"
        );
    }
}

/// A map with no region has a volume fraction of 0 but no standard error (0 would claim
/// certainty about a count of nothing): null, with the reason, in both methods, and the `mro`
/// total over such maps keeps its value but not its standard error.
#[test]
fn no_regions_give_a_zero_fraction_without_a_standard_error() {
    let gain = 2.0;
    let cube = pure_poisson_cube(11, gain);
    let cfg = AnalysisConfig {
        poisson_gain: gain,
        // Nothing lies above the map's own maximum: every `im2018` map is empty.
        threshold: crate::config::Threshold::Fixed(1.0),
        ..small_config()
    };
    let out = analyze_datacube(&cube, &cfg, &RunOptions::default()).unwrap();
    let im2018: Vec<_> = out.result.by_symmetry.values().collect();
    assert!(im2018.iter().all(|r| r.regions == 0), "{im2018:?}");
    for r in im2018 {
        assert_eq!(r.volume_fraction_in_condition, Some(0.0), "n = {}", r.n);
        assert_eq!(r.volume_fraction_in_condition_se, None, "n = {}", r.n);
        assert_eq!(r.volume_fraction_se, None, "n = {}", r.n);
        assert!(
            r.null_reasons["volume_fraction_se"].contains("no regions"),
            "{:?}",
            r.null_reasons
        );
    }
    // Pure shot noise: the `mro` maps hold no significant region (at α = 0.05 per map, a
    // stray one is allowed in one map).
    let mro = out.result.mro.as_ref().unwrap();
    let empty: Vec<_> = mro
        .by_symmetry
        .values()
        .filter(|r| r.regions == 0)
        .collect();
    assert!(empty.len() >= mro.by_symmetry.len() - 1, "{empty:?}");
    for r in &empty {
        assert_eq!(r.volume_fraction, Some(0.0), "n = {}", r.n);
        assert_eq!(r.volume_fraction_se, None, "n = {}", r.n);
        assert_eq!(r.volume_fraction_in_condition_se, None, "n = {}", r.n);
        assert!(
            r.null_reasons["volume_fraction_se"].contains("no regions"),
            "{:?}",
            r.null_reasons
        );
    }
    assert!(mro.total_volume_fraction.is_some());
    assert_eq!(mro.total_volume_fraction_se, None);
    assert!(mro.null_reasons.contains_key("total_volume_fraction_se"));
}
