//! Tests of the `method = "mro"` estimator on synthetic datacubes with known answers: pure shot
//! noise, a steep low-count ring, a planted lattice of n-fold disks.

use mro_core::{Calibration, Datacube};
use ndarray::Array4;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::polar::{PolarGeometry, Ring};
use crate::ring_fourier::RingFourierPlan;
use crate::{analyze_datacube, AnalysisConfig, RunOptions};

fn config(gain: f64) -> AnalysisConfig {
    AnalysisConfig {
        k_min_per_nm: 1.0,
        k_max_per_nm: 5.0,
        radial_step_per_nm: Some(0.25),
        poisson_gain: gain,
        // The synthetic counts below are independent per pixel (an ideal detector).
        detector_psf_sigma_px: 0.0,
        ..AnalysisConfig::default()
    }
}

/// A Poisson draw (Knuth for small means, a rounded normal above 30).
fn poisson(rng: &mut StdRng, lambda: f64) -> f64 {
    if lambda > 30.0 {
        let u: f64 = rng.gen::<f64>().max(1e-300);
        let v: f64 = rng.gen();
        let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
        return (lambda + lambda.sqrt() * z).round().max(0.0);
    }
    let l = (-lambda).exp();
    let (mut k, mut p) = (0.0, 1.0f64);
    loop {
        p *= rng.gen::<f64>();
        if p <= l {
            return k;
        }
        k += 1.0;
    }
}

fn cube(
    data: Vec<f32>,
    scan: [usize; 2],
    det: [usize; 2],
    center: [f64; 2],
    dk: f64,
    step: f64,
) -> Datacube {
    Datacube::new(
        Array4::from_shape_vec((scan[0], scan[1], det[0], det[1]), data).unwrap(),
        Calibration::new(dk, step, center, 300.0, 1.15, Some(20.0)).unwrap(),
    )
}

#[test]
fn pure_poisson_maps_average_zero_and_hold_no_regions() {
    let (scan, det) = ([40, 40], [48, 48]);
    let gain = 2.0;
    let mut rng = StdRng::seed_from_u64(11);
    let data: Vec<f32> = (0..scan[0] * scan[1] * det[0] * det[1])
        .map(|_| (gain * poisson(&mut rng, 3.0)) as f32)
        .collect();
    let out = analyze_datacube(
        &cube(data, scan, det, [24.0, 23.5], 0.25, 0.32),
        &config(gain),
        &RunOptions::default(),
    )
    .unwrap();
    let mro = out.result.mro.as_ref().unwrap();
    let mut regions = 0;
    for (n, r) in &mro.by_symmetry {
        let (m, se) = (r.map_mean.unwrap(), r.map_mean_se.unwrap());
        assert!(m.abs() < 3.0 * se, "n = {n}: mean {m} ± {se}");
        regions += r.regions;
        assert!(
            r.spacing_nm.is_none(),
            "n = {n}: spacing {:?} at {:?}",
            r.spacing_nm,
            r.spacing_significance
        );
    }
    // Ten maps at α = 0.05 expected false regions each.
    assert!(regions <= 1, "{regions} regions in maps of pure noise");
    // The binned im2018 path segments such maps anyway: the finding this method answers.
    let im: usize = out.result.by_symmetry.values().map(|r| r.regions).sum();
    assert!(im > 10 * regions.max(1), "im2018 found {im}");
}

/// Frames of Poisson counts shared between pixels by the charge-sharing kernel of width
/// `sigma_px`, as the forward model's detector records them.
fn shared_poisson_frames(scan: [usize; 2], det: [usize; 2], sigma_px: f64, seed: u64) -> Vec<f32> {
    let taps = mro_core::charge_sharing::kernel(sigma_px);
    let r = (taps.len() / 2) as isize;
    let [ny, nx] = det;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(scan[0] * scan[1] * ny * nx);
    for _ in 0..scan[0] * scan[1] {
        let counts: Vec<f64> = (0..ny * nx).map(|_| poisson(&mut rng, 3.0)).collect();
        let mut rows = vec![0.0f64; ny * nx];
        for y in 0..ny {
            for x in 0..nx {
                for (t, k) in taps.iter().enumerate() {
                    let xx = x as isize + t as isize - r;
                    if (0..nx as isize).contains(&xx) {
                        rows[y * nx + x] += k * counts[y * nx + xx as usize];
                    }
                }
            }
        }
        for y in 0..ny {
            for x in 0..nx {
                let mut v = 0.0;
                for (t, k) in taps.iter().enumerate() {
                    let yy = y as isize + t as isize - r;
                    if (0..ny as isize).contains(&yy) {
                        v += k * rows[yy as usize * nx + x];
                    }
                }
                out.push(v as f32);
            }
        }
    }
    out
}

#[test]
fn shared_charge_noise_is_corrected_exactly_and_only_with_its_kernel() {
    let (scan, det) = ([32, 32], [48, 48]);
    for sigma in [0.3, 1.0] {
        let data = shared_poisson_frames(scan, det, sigma, 21);
        let cube = cube(data, scan, det, [24.0, 23.5], 0.25, 0.32);
        let means = |sigma_assumed: f64| -> Vec<(String, f64, f64)> {
            let cfg = AnalysisConfig {
                detector_psf_sigma_px: sigma_assumed,
                ..config(1.0)
            };
            let out = analyze_datacube(&cube, &cfg, &RunOptions::default()).unwrap();
            let mro = out.result.mro.unwrap();
            mro.by_symmetry
                .iter()
                .map(|(n, r)| (n.clone(), r.map_mean.unwrap(), r.map_mean_se.unwrap()))
                .collect()
        };
        // With the kernel the maps of pure (shared) shot noise have mean 0 …
        let with = means(sigma);
        for (n, m, se) in &with {
            assert!(m.abs() < 4.0 * se, "σ = {sigma}, n = {n}: mean {m} ± {se}");
        }
        let pooled = |v: &[(String, f64, f64)]| v.iter().map(|x| x.1).sum::<f64>() / v.len() as f64;
        let largest_se = with.iter().map(|x| x.2).fold(0.0, f64::max);
        assert!(
            pooled(&with).abs() < 3.0 * largest_se,
            "σ = {sigma}: {}",
            pooled(&with)
        );
        // … and as independent pixels they are over-corrected at every n, by far more.
        let without = means(0.0);
        for (n, m, se) in &without {
            assert!(
                *m < -5.0 * se,
                "σ = {sigma}, n = {n}: mean {m} ± {se} not below 0"
            );
        }
        assert!(pooled(&with).abs() < 0.15 * pooled(&without).abs());
    }
}

#[test]
fn shared_charge_noise_leaves_no_excess_variance_and_no_binned_power() {
    let (scan, det) = ([24, 24], [48, 48]);
    let data = shared_poisson_frames(scan, det, 0.3, 22);
    let cube = cube(data, scan, det, [24.0, 23.5], 0.25, 0.32);
    let run = |sigma_assumed: f64| {
        let cfg = AnalysisConfig {
            detector_psf_sigma_px: sigma_assumed,
            ..config(1.0)
        };
        analyze_datacube(&cube, &cfg, &RunOptions::default())
            .unwrap()
            .result
    };
    let summary = |sigma: f64| {
        let r = run(sigma);
        let mean = |v: &[Option<f64>]| {
            let d: Vec<f64> = v.iter().flatten().copied().collect();
            d.iter().sum::<f64>() / d.len() as f64
        };
        let ps = &r.power_spectrum;
        let binned = ps.mean[1..]
            .iter()
            .map(|p| p - ps.poisson_floor)
            .sum::<f64>()
            / (ps.mean.len() - 1) as f64;
        (mean(&r.variance.v_omega), mean(&r.variance.v_r), binned)
    };
    // Measured (seed 22): with the kernel V_Ω 2·10⁻⁵, V_r 1·10⁻⁴, binned excess +1.5·10⁻⁴ (its
    // uniform floor ignores the covariance of neighbouring bins); as independent pixels
    // −1.2·10⁻³, −0.047 and −4.5·10⁻⁴.
    let (v_omega, v_r, binned) = summary(0.3);
    let (v_omega_0, v_r_0, binned_0) = summary(0.0);
    assert!(
        v_omega.abs() < 2e-4 && v_omega_0 < -5e-4,
        "{v_omega} {v_omega_0}"
    );
    assert!(v_r.abs() < 2e-3 && v_r_0 < -0.02, "{v_r} {v_r_0}");
    assert!(binned.abs() < 0.5 * binned_0.abs(), "{binned} {binned_0}");
}

#[test]
fn exact_correction_holds_on_a_steep_low_count_ring() {
    // Gaussian ring profile σ = 0.15 nm⁻¹ (0.6 px), ~0.06 counts per ring pixel, 4-fold
    // modulation m = 0.6: the expected P_4 is known from the noise-free expectation.
    let (det, dk, center) = ([40, 40], 0.25, [20.0, 19.5]);
    let (n, m, sigma, k0) = (4usize, 0.6, 0.15, 4.0);
    let expectation: Vec<f64> = (0..det[0] * det[1])
        .map(|p| {
            let (i, j) = ((p / det[1]) as f64, (p % det[1]) as f64);
            let (ky, kx) = ((i - center[0]) * dk, (j - center[1]) * dk);
            let k = kx.hypot(ky);
            let phi = ky.atan2(kx);
            0.12 * (-(k - k0).powi(2) / (2.0 * sigma * sigma)).exp()
                * (1.0 + m * (n as f64 * phi + 0.3).cos())
        })
        .collect();
    let cfg = config(1.0);
    let geometry = PolarGeometry {
        detector_shape: det,
        center_px: center,
        k_pixel_per_nm: dk,
        rings: Vec::new(),
        n_azimuth: 36,
        supersample: cfg.supersample,
    };
    let ring = Ring {
        k_lo_per_nm: cfg.k_per_nm - 0.5 * cfg.ring_width_per_nm,
        k_hi_per_nm: cfg.k_per_nm + 0.5 * cfg.ring_width_per_nm,
    };
    let plan = RingFourierPlan::new(&geometry, ring, cfg.n_max, 0.0, &[1.0], None);
    let exp32: Vec<f32> = expectation.iter().map(|&v| v as f32).collect();
    let (mut truth, mut noise) = (vec![0.0; 11], vec![0.0; 11]);
    let i0 = plan.spectrum(&exp32, &mut Vec::new(), &mut truth, &mut noise);
    assert!(i0 > 5.0 && i0 < 20.0, "expected ring counts {i0}");

    let scan = [80, 80];
    let mut rng = StdRng::seed_from_u64(5);
    let mut data = Vec::with_capacity(scan[0] * scan[1] * det[0] * det[1]);
    for _ in 0..scan[0] * scan[1] {
        data.extend(expectation.iter().map(|&l| poisson(&mut rng, l) as f32));
    }
    let out = analyze_datacube(
        &cube(data, scan, det, center, dk, 0.32),
        &cfg,
        &RunOptions::default(),
    )
    .unwrap();
    let r = &out.result.mro.as_ref().unwrap().by_symmetry["4"];
    let (got, se) = (r.map_mean.unwrap(), r.map_mean_se.unwrap());
    let rel = got / truth[n] - 1.0;
    assert!(
        rel.abs() < 0.03 && se < 0.025 * truth[n],
        "P_4 {got} ± {se} vs truth {} ({rel:+.3})",
        truth[n]
    );
}

/// n-fold disks of 1.6 nm on jittered square lattices of 6 nm (one lattice per n = 2, 4, 6,
/// offset from each other), each pattern a Gaussian ring whose modulation is the probe-blurred
/// sum of the disks around the probe, with shot noise.
#[test]
fn planted_lattice_gives_its_spacing_and_nothing_elsewhere() {
    let (scan, det, dk, center) = ([112, 112], [24, 24], 0.4, [12.0, 11.5]);
    let step = 0.25;
    let spacing = 6.0;
    let mut rng = StdRng::seed_from_u64(3);
    let mut disks = Vec::new();
    for (t, n) in [2usize, 4, 6].into_iter().enumerate() {
        let off = [2.0 + t as f64 * 2.0, 2.0 + t as f64 * 2.0 + 1.0];
        for a in 0..4 {
            for b in 0..4 {
                let y = off[0] + a as f64 * spacing + rng.gen_range(-0.4..0.4);
                let x = off[1] + b as f64 * spacing + rng.gen_range(-0.4..0.4);
                disks.push((n, y, x, rng.gen_range(0.0..std::f64::consts::TAU)));
            }
        }
    }
    let mut data = Vec::with_capacity(scan[0] * scan[1] * det[0] * det[1]);
    let mut modulation = [(0.0f64, 0.0f64); 11];
    for sy in 0..scan[0] {
        for sx in 0..scan[1] {
            let (py, px) = (sy as f64 * step, sx as f64 * step);
            modulation.iter_mut().for_each(|m| *m = (0.0, 0.0));
            for &(n, y, x, phase) in &disks {
                let (dy, dx) = (py - y, px - x);
                // A 1.6 nm disk seen through a ~0.9 nm probe: a Gaussian of σ 0.75 nm.
                let a = 0.5 * (-(dy * dy + dx * dx) / (2.0 * 0.75f64.powi(2))).exp();
                modulation[n].0 += a * phase.cos();
                modulation[n].1 += a * phase.sin();
            }
            for p in 0..det[0] * det[1] {
                let (i, j) = ((p / det[1]) as f64, (p % det[1]) as f64);
                let (ky, kx) = ((i - center[0]) * dk, (j - center[1]) * dk);
                let k = kx.hypot(ky);
                let phi = ky.atan2(kx);
                let mut ang = 1.0;
                for (n, &(c, s)) in modulation.iter().enumerate() {
                    ang += c * (n as f64 * phi).cos() + s * (n as f64 * phi).sin();
                }
                let lambda =
                    5.0 + 200.0 * (-(k - 4.0).powi(2) / (2.0 * 0.3f64.powi(2))).exp() * ang;
                data.push(poisson(&mut rng, lambda) as f32);
            }
        }
    }
    let cfg = AnalysisConfig {
        k_min_per_nm: 1.0,
        k_max_per_nm: 4.8,
        radial_step_per_nm: Some(0.4),
        poisson_gain: 1.0,
        ..AnalysisConfig::default()
    };
    let out = analyze_datacube(
        &cube(data, scan, det, center, dk, step),
        &cfg,
        &RunOptions::default(),
    )
    .unwrap();
    let mro = out.result.mro.as_ref().unwrap();
    for (n, r) in &mro.by_symmetry {
        let n: usize = n.parse().unwrap();
        if [2, 4, 6].contains(&n) {
            let s = r.spacing_nm.unwrap_or(f64::NAN);
            assert!(
                (s / spacing - 1.0).abs() < 0.1,
                "n = {n}: spacing {s} ({:?})",
                r.null_reasons
            );
            assert!(
                (14..=18).contains(&r.regions),
                "n = {n}: {} regions for 16 disks",
                r.regions
            );
        } else {
            assert_eq!(r.regions, 0, "n = {n}: regions in a map with no signal");
            assert_eq!(r.spacing_nm, None, "n = {n}: a spacing without regions");
        }
        for v in [r.volume_fraction, r.volume_fraction_in_condition]
            .into_iter()
            .flatten()
        {
            assert!((0.0..=1.0).contains(&v), "n = {n}: fraction {v}");
        }
    }
}
