//! Unit tests of the window machinery: probe shape, oracle agreement, unitarity.

use super::*;
use crate::atoms::AtomVolume;
use crate::potential::{FieldGrid, PotentialBuilder};
use crate::reference::kinematic_direct;
use rand::Rng;

fn microscope() -> MicroscopeSpec {
    MicroscopeSpec::default()
}

/// `kind` at band limit `k_bl` with `m` window pixels per detector pixel.
fn model(kind: ModelKind, k_bl: f64, m: usize) -> ModelSpec {
    ModelSpec {
        kind,
        band_limit_per_nm: Some(k_bl),
        window_oversampling: m,
        ..ModelSpec::default()
    }
}

fn detector(pixels: usize, dk: f64) -> DetectorSpec {
    DetectorSpec {
        pixels: [pixels, pixels],
        k_pixel_per_nm: dk,
        electrons_per_pattern: f64::INFINITY,
        gain: 1.0,
        psf_sigma_px: 0.0,
    }
}

/// Intensity profile of the probe along +x through its centre, as (r nm, I) samples.
fn probe_profile(plan: &DiffractionPlan, center: [f64; 2]) -> (Vec<f64>, Vec<f64>) {
    let mut s = plan.scratch();
    plan.probe_wave(center, 0.0, &mut s);
    let n = plan.window_points();
    let dx = plan.dx_nm();
    let total: f64 = s.a.iter().map(|c| f64::from(c.norm_sqr())).sum();
    assert!((total - 1.0).abs() < 1e-4, "probe not normalised: {total}");
    let iy = (center[0] / dx).round() as usize;
    let row = &s.a[iy * n..(iy + 1) * n];
    let r: Vec<f64> = (0..n).map(|j| j as f64 * dx - center[1]).collect();
    let i: Vec<f64> = row.iter().map(|c| f64::from(c.norm_sqr())).collect();
    (r, i)
}

#[test]
fn probe_fwhm_and_first_airy_zero_at_300kv_1_15mrad() {
    // Fine reciprocal sampling (0.02 nm⁻¹, aperture radius 29 px) so the disk is round.
    let plan = DiffractionPlan::new(&microscope(), &detector(340, 0.02), Slicing::new(1.0, 1.0));
    let l = plan.window_nm();
    let (r, i) = probe_profile(&plan, [0.5 * l, 0.5 * l]);
    let j0 = r
        .iter()
        .position(|&x| x.abs() < 1e-9)
        .expect("centre on a pixel");
    let peak = i[j0];
    // Half maximum by linear interpolation on the +x side.
    let j = (j0..r.len()).find(|&j| i[j] < 0.5 * peak).unwrap();
    let t = (i[j - 1] - 0.5 * peak) / (i[j - 1] - i[j]);
    let fwhm = 2.0 * (r[j - 1] + t * (r[j] - r[j - 1]));
    assert!((fwhm - 0.88).abs() < 0.02, "FWHM {fwhm} nm");
    // First minimum beyond the main lobe.
    let jm = (j..r.len() - 1)
        .find(|&k| i[k] <= i[k - 1] && i[k] <= i[k + 1])
        .unwrap();
    assert!(
        i[jm] < 1e-3 * peak,
        "first ring is not dark: {}",
        i[jm] / peak
    );
    assert!((r[jm] - 1.04).abs() < 0.05, "first zero at {} nm", r[jm]);
}

#[test]
fn probe_sub_pixel_shift_moves_centroid_and_keeps_real() {
    let plan = DiffractionPlan::new(&microscope(), &detector(128, 0.16), Slicing::new(1.0, 1.0));
    let mut s = plan.scratch();
    let c = [3.1234, 2.9876];
    plan.probe_wave(c, 0.0, &mut s);
    let n = plan.window_points();
    let dx = plan.dx_nm();
    let (mut sy, mut sx, mut tot, mut imag) = (0.0, 0.0, 0.0, 0.0f64);
    for (p, v) in s.a.iter().enumerate() {
        let w = f64::from(v.norm_sqr());
        let (y, x) = ((p / n) as f64 * dx, (p % n) as f64 * dx);
        // Near the centre only (the window is periodic).
        if (y - c[0]).abs() < 2.5 && (x - c[1]).abs() < 2.5 {
            sy += w * y;
            sx += w * x;
            tot += w;
        }
        imag = imag.max(f64::from(v.im.abs()));
    }
    assert!((sy / tot - c[0]).abs() < 0.01 && (sx / tot - c[1]).abs() < 0.01);
    // Aberration-free probe: real to rounding.
    assert!(imag < 1e-5, "{imag}");
}

fn small_cluster(seed: u64, centre: [f64; 2], count: usize) -> Vec<([f64; 2], u8)> {
    let mut rng = mro_core::Seeds::new(seed).stream("test");
    (0..count)
        .map(|i| {
            let r = [
                centre[0] + rng.gen_range(-0.9..0.9),
                centre[1] + rng.gen_range(-0.9..0.9),
            ];
            (r, [40u8, 27, 13][i % 3])
        })
        .collect()
}

#[test]
fn fast_kinematic_matches_direct_sum_oracle() {
    // The paper's detector, 128 pixels: the compact 128-pixel window of the single-scattering
    // models and the 192-pixel multislice-grade window, atoms well inside the 6.25 nm window.
    let nd = 128;
    let det = detector(nd, 0.16);
    for plan in [
        DiffractionPlan::for_model(
            &model(ModelKind::Kinematic, 10.24, 1),
            &microscope(),
            &det,
            Slicing::new(1.0, 1.0),
        ),
        DiffractionPlan::new(&microscope(), &det, Slicing::new(1.0, 1.0)),
    ] {
        kinematic_against_oracle(Arc::new(plan), nd);
    }
}

fn kinematic_against_oracle(plan: Arc<DiffractionPlan>, nd: usize) {
    let n = plan.window_points();
    let dx = plan.dx_nm();
    let l = plan.window_nm();
    // Field covering the window plus margins; window origin at field pixel (20, 20).
    let grid = FieldGrid::covering([-1.0, -1.0], [l + 1.5, l + 1.5], dx);
    let origin_px = [((1.0) / dx).round() as usize, ((1.0) / dx).round() as usize];
    let win0 = [
        -1.0 + origin_px[0] as f64 * dx,
        -1.0 + origin_px[1] as f64 * dx,
    ];
    let centre_in_window = [0.5 * l + 0.0123, 0.5 * l - 0.0071];
    let atoms_w = small_cluster(3, [0.5 * l, 0.5 * l], 15);
    let mut vol = AtomVolume::new([40.0, 40.0, 1.0]);
    for (r, z) in &atoms_w {
        vol.push([r[1] + win0[1], r[0] + win0[0], 0.5], *z);
    }
    let builder =
        PotentialBuilder::with_band_limit(grid, &[13, 27, 40], 0.0, plan.band_limit_per_nm());
    let field = builder.build(&vol, &Slicing::new(1.0, 1.0), FieldKind::Projected);
    let kin = Kinematic::new(plan.clone(), true);
    let mut s = plan.scratch();
    let mut fast = vec![0.0; plan.detector_len()];
    kin.pattern(
        &field,
        WindowPlacement {
            origin_px,
            center_nm: centre_in_window,
        },
        &mut s,
        &mut fast,
    );
    let c = plan.center_px();
    let ks: Vec<[f64; 2]> = (0..nd * nd)
        .map(|p| {
            [
                ((p / nd) as f64 - c[0]) * 0.16,
                ((p % nd) as f64 - c[1]) * 0.16,
            ]
        })
        .collect();
    let slow = kinematic_direct(
        &atoms_w,
        &plan.probe,
        n,
        l,
        centre_in_window,
        plan.sigma_rad_per_v_nm(),
        plan.band_limit_per_nm(),
        true,
        &ks,
    );
    let max = slow.iter().cloned().fold(0.0, f64::max);
    // Compare the scattered signal outside the bright-field disk too.
    let dark_max = slow
        .iter()
        .zip(&ks)
        .filter(|(_, k)| k[0].hypot(k[1]) > 1.0)
        .map(|(v, _)| *v)
        .fold(0.0, f64::max);
    let mut worst = [0.0f64; 2];
    for ((f, s), k) in fast.iter().zip(&slow).zip(&ks) {
        let dark = k[0].hypot(k[1]) > 1.0;
        let e = (f - s).abs() / if dark { dark_max } else { max };
        worst[usize::from(dark)] = worst[usize::from(dark)].max(e);
    }
    eprintln!(
        "worst relative deviation: bright field {:.2e}, dark field {:.2e}",
        worst[0], worst[1]
    );
    assert!(worst[0] < 1e-5 && worst[1] < 5e-4, "{worst:?}");
}

#[test]
fn multislice_of_empty_foil_is_unitary() {
    let det = detector(64, 0.16);
    let slicing = Slicing::new(10.0, 0.2);
    let plan = Arc::new(DiffractionPlan::new(&microscope(), &det, slicing));
    let dx = plan.dx_nm();
    let l = plan.window_nm();
    let grid = FieldGrid::covering([0.0, 0.0], [l + 0.5, l + 0.5], dx);
    let vol = AtomVolume::new([20.0, 20.0, 10.0]);
    let builder = PotentialBuilder::new(grid, &[40], 0.0);
    let ms = Multislice::new(plan.clone(), true);
    let field = builder.build(&vol, &slicing, ms.field_kind());
    let mut s = plan.scratch();
    let mut out = vec![0.0; plan.detector_len()];
    ms.pattern(
        &field,
        WindowPlacement {
            origin_px: [3, 4],
            center_nm: [0.5 * l, 0.5 * l],
        },
        &mut s,
        &mut out,
    );
    let total: f64 = out.iter().sum();
    assert!((total - 1.0).abs() < 1e-4, "{total}");
}

#[test]
fn detector_sampling_weights_each_pixel_as_a_box() {
    for m in 1..=4 {
        for d in [8, 9] {
            let s = DetectorSampling::new(64, [d, d + 1], m, 0.16 / m as f64, 0.0);
            for (axis, pixels) in [(0, d), (1, d + 1)] {
                // m window pixels' worth of weight per detector pixel with the box's second
                // moment, 1/12 pixel² (Simpson's rule at even m; the midpoint rule's
                // (m² − 1)/(12m²) at odd m), and no window cell counted more than once.
                let mut per_pixel = vec![0.0; pixels];
                let mut moment = vec![0.0; pixels];
                let mut per_sample = vec![0.0; s.shape[axis]];
                for &(a, i, w) in &s.bins[axis] {
                    let k = (s.first[axis] + a as isize) as f64 / m as f64;
                    let centre = i as f64 - (pixels / 2) as f64;
                    per_pixel[i] += w;
                    moment[i] += w / m as f64 * (k - centre).powi(2);
                    per_sample[a] += w;
                }
                assert!(per_pixel.iter().all(|&w| (w - m as f64).abs() < 1e-12));
                let want = if m % 2 == 0 {
                    1.0 / 12.0
                } else {
                    (m * m - 1) as f64 / (12 * m * m) as f64
                };
                assert!(moment.iter().all(|&v| (v - want).abs() < 1e-12), "m = {m}");
                if m % 2 == 1 {
                    assert!(per_sample.iter().all(|&w| w <= 1.0 + 1e-12));
                }
                assert_eq!(s.shape[axis], pixels * m + (m + 1) % 2);
            }
        }
    }
}

/// At even m the pixels within α/λ + 1.5 Δk of the centre keep the trapezoid rule: every
/// sample inside the aperture disk then counts exactly once over the detector (the disk's flux
/// is kept), while Simpson's rule elsewhere counts a sample 2/3 or 4/3 of a time per axis.
#[test]
fn the_aperture_disks_pixels_keep_the_flux() {
    let (d, dk, aperture) = (16usize, 0.16, 0.5);
    for m in [2usize, 4] {
        let s = DetectorSampling::new(128, [d, d], m, dk / m as f64, aperture);
        let reach = aperture / dk + 1.5;
        let within = (0..d * d)
            .filter(|p| {
                let centre = (d / 2) as f64;
                ((p / d) as f64 - centre).hypot((p % d) as f64 - centre) <= reach
            })
            .count();
        assert_eq!(s.disk_pixels.len(), within, "m = {m}");
        for (_, taps) in &s.disk_pixels {
            assert_eq!(taps.len(), (m + 1) * (m + 1));
            let total: f64 = taps.iter().map(|t| t.1).sum();
            assert!((total - (m * m) as f64).abs() < 1e-12);
        }
        let [sy, sx] = s.shape;
        let (mut rows, mut out) = (vec![0.0; sy * d], vec![0.0; d * d]);
        let mut samples = vec![0.0; sy * sx];
        let mut counts = Vec::new();
        for a in 0..sy {
            for b in 0..sx {
                let ky = (s.first[0] + a as isize) as f64 * dk / m as f64;
                let kx = (s.first[1] + b as isize) as f64 * dk / m as f64;
                samples[a * sx + b] = 1.0;
                s.bin(&samples, &mut rows, &mut out);
                samples[a * sx + b] = 0.0;
                let count = out.iter().sum::<f64>();
                if ky.hypot(kx) <= aperture + 0.5 * dk / m as f64 {
                    assert!(
                        (count - 1.0).abs() < 1e-12,
                        "m = {m}, sample ({a}, {b}): {count}"
                    );
                }
                counts.push(count);
            }
        }
        assert!(counts.iter().any(|&c| (c - 4.0 / 9.0).abs() < 1e-12));
    }
}

/// A smooth pattern (a Gaussian 1.5 pixels wide, away from the centre, where the few pixels
/// of the aperture's reach keep the trapezoid rule) is integrated over each pixel to 10⁻³ of
/// its peak at m = 2 and 4 (Simpson's rule: 3·10⁻⁴ at m = 2); the trapezoid rule misses by
/// ~10⁻² at m = 2 (h²/12·|I''|, h = ½ pixel).
#[test]
fn even_oversampling_integrates_each_pixel() {
    use mro_core::special::erf;
    let (d, sigma, c) = (24usize, 1.5f64, [6.3f64, -5.45f64]);
    // ∫ over [a, b] of exp(−(k − c)²/2σ²), per axis (units of pixels).
    let box1 = |a: f64, b: f64, c: f64| {
        let s = sigma * std::f64::consts::SQRT_2;
        0.5 * s * std::f64::consts::PI.sqrt() * (erf((b - c) / s) - erf((a - c) / s))
    };
    for m in [2, 4] {
        let s = DetectorSampling::new(128, [d, d], m, 0.16 / m as f64, 0.0);
        let [sy, sx] = s.shape;
        let samples: Vec<f64> = (0..sy * sx)
            .map(|i| {
                let ky = (s.first[0] + (i / sx) as isize) as f64 / m as f64;
                let kx = (s.first[1] + (i % sx) as isize) as f64 / m as f64;
                (-((ky - c[0]).powi(2) + (kx - c[1]).powi(2)) / (2.0 * sigma * sigma)).exp()
                    / (m * m) as f64
            })
            .collect();
        let mut rows = vec![0.0; sy * d];
        let mut out = vec![0.0; d * d];
        s.bin(&samples, &mut rows, &mut out);
        let worst = (0..d * d)
            .map(|p| {
                let centre = (d / 2) as f64;
                let (y, x) = ((p / d) as f64 - centre, (p % d) as f64 - centre);
                let exact = box1(y - 0.5, y + 0.5, c[0]) * box1(x - 0.5, x + 0.5, c[1]);
                (out[p] - exact).abs()
            })
            .fold(0.0, f64::max);
        assert!(worst < 1e-3, "m = {m}: {worst:.2e}");
    }
}

#[test]
fn empty_foil_total_is_one_at_every_oversampling() {
    let det = detector(32, 0.16);
    let slicing = Slicing::new(4.0, 0.4);
    for m in 1..=4 {
        let edge = detector_edge_per_nm(&det);
        let plan = Arc::new(DiffractionPlan::for_model(
            &model(ModelKind::Multislice, edge, m),
            &microscope(),
            &det,
            slicing,
        ));
        assert!((plan.window_nm() - m as f64 / 0.16).abs() < 1e-9);
        let (dx, l) = (plan.dx_nm(), plan.window_nm());
        let grid = FieldGrid::covering([0.0, 0.0], [l + 0.5, l + 0.5], dx);
        let builder = PotentialBuilder::new(grid, &[40], 0.0);
        let ms = Multislice::new(plan.clone(), true);
        let field = builder.build(
            &AtomVolume::new([40.0, 40.0, 4.0]),
            &slicing,
            ms.field_kind(),
        );
        let mut out = vec![0.0; plan.detector_len()];
        let at = WindowPlacement {
            origin_px: [2, 3],
            center_nm: [0.5 * l + 0.031, 0.5 * l - 0.017],
        };
        ms.pattern(&field, at, &mut plan.scratch(), &mut out);
        let total: f64 = out.iter().sum();
        assert!((total - 1.0).abs() < 1e-4, "m = {m}: {total}");
    }
}

#[test]
fn oversampled_pixels_integrate_a_smooth_pattern() {
    // One Zr atom under the probe: the kinematic pattern outside the bright-field disk is
    // smooth on the scale of a pixel (width ~ the aperture diameter, 1.2 nm⁻¹), so its pixel
    // integrals (m = 2, 3) have the shape of the centre samples (m = 1), while the window
    // widens from 6.25 to 18.75 nm.
    let nd = 64;
    let det = detector(nd, 0.16);
    let mut peak: Vec<f64> = Vec::new();
    let patterns: Vec<Vec<f64>> = (1..=3)
        .map(|m| {
            let plan = Arc::new(DiffractionPlan::for_model(
                &model(ModelKind::Kinematic, 10.24, m),
                &microscope(),
                &det,
                Slicing::new(1.0, 1.0),
            ));
            let w = &plan.probe.weights;
            peak.push(w.iter().sum::<f64>().powi(2) / w.iter().map(|w| w * w).sum::<f64>());
            let (dx, l) = (plan.dx_nm(), plan.window_nm());
            let grid = FieldGrid::covering([0.0, 0.0], [l + 0.5, l + 0.5], dx);
            let builder = PotentialBuilder::with_band_limit(grid, &[40], 0.0, 10.24);
            let mut vol = AtomVolume::new([40.0, 40.0, 1.0]);
            let c = 0.5 * l;
            vol.push([c + 0.013, c - 0.021, 0.5], 40);
            let field = builder.build(&vol, &Slicing::new(1.0, 1.0), FieldKind::Projected);
            let mut out = vec![0.0; plan.detector_len()];
            let at = WindowPlacement {
                origin_px: [0, 0],
                center_nm: [c, c],
            };
            Kinematic::new(plan.clone(), false).pattern(&field, at, &mut plan.scratch(), &mut out);
            out
        })
        .collect();
    let k = |p: usize| {
        let (i, j) = ((p / nd) as f64 - 32.0, (p % nd) as f64 - 32.0);
        0.16 * i.hypot(j)
    };
    let dark: Vec<usize> = (0..nd * nd)
        .filter(|&p| (2.0..4.5).contains(&k(p)))
        .collect();
    let max = dark.iter().map(|&p| patterns[0][p]).fold(0.0, f64::max);
    // Shape: each pattern over the m = 1 one is a constant ratio to 10⁻³ of the signal.
    // Scale: the dark field of an atom at the probe's centre goes as the probe's intensity
    // there, |Σ_k Ψ₀|² = (Σw)²/Σw² for aperture weights w, per window pixel of area (Δk/m)².
    // With point sampling that counts lattice points in the disk (45, 177 and 373 at
    // m = 1, 2, 3: 7.5 %, 5.7 % and −1.0 % off π(α/λ)²), the coherent sum of the probe's
    // periodic images; area sampling keeps Σw at the disk's area.
    for m in [1, 2] {
        let ratio = |p: usize| patterns[m][p] / patterns[0][p];
        let mean = dark.iter().map(|&p| ratio(p)).sum::<f64>() / dark.len() as f64;
        let worst = dark
            .iter()
            .map(|&p| (patterns[m][p] - mean * patterns[0][p]).abs() / max)
            .fold(0.0, f64::max);
        assert!(worst < 1e-3, "m = {}: {worst:.2e}", m + 1);
        let expected = peak[m] / peak[0] / ((m + 1) * (m + 1)) as f64;
        assert!(
            (mean / expected - 1.0).abs() < 3e-3,
            "m = {}: dark field {mean:.4} of m = 1's, probe peak ratio {expected:.4}",
            m + 1
        );
    }
    // Each model's total is the incident beam.
    for p in &patterns {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-3);
    }
}

#[test]
fn probe_tail_fraction_follows_the_airy_encircled_energy() {
    let a = 0.584;
    // Inside the first dark ring (v = 3.8317) the encircled energy is 83.8 % (Born & Wolf).
    let r1 = 3.831_705_970_207_512 / (2.0 * std::f64::consts::PI * a);
    assert!((probe_tail_fraction(a, r1) - 0.162).abs() < 1e-3);
    // Far out, 1/(π²·a·r): 5.5 % beyond 3.125 nm, half that beyond 6.25 nm.
    for r in [3.125, 6.25] {
        let asymptote = 1.0 / (std::f64::consts::PI.powi(2) * a * r);
        assert!((probe_tail_fraction(a, r) / asymptote - 1.0).abs() < 0.1);
    }
}

/// In focus the estimate is the Airy tail; a defocused probe's geometric disc of radius
/// α·|Δf| takes over once it is wider than the radius (a uniform disc: 1 − (r/R)² beyond r).
#[test]
fn probe_tail_estimate_counts_the_defocus_disc() {
    let focused = MicroscopeSpec::default();
    let a = mro_core::optics::ProbeOptics {
        voltage_kv: focused.voltage_kv,
        semiangle_mrad: focused.semiangle_mrad,
    }
    .aperture_radius_per_nm();
    assert_eq!(
        probe_tail_estimate(&focused, 6.25),
        probe_tail_fraction(a, 6.25)
    );
    // 8 µm of either sign: R = 1.15 mrad × 8000 nm = 9.2 nm; beyond 6.25 nm, 1 − (6.25/9.2)².
    for defocus_nm in [8000.0, -8000.0] {
        let m = MicroscopeSpec {
            defocus_nm,
            ..focused.clone()
        };
        let expected = 1.0 - (6.25f64 / 9.2).powi(2);
        assert!((probe_tail_estimate(&m, 6.25) - expected).abs() < 1e-12);
    }
    // 1 µm: R = 1.15 nm lies inside 6.25 nm, so the Airy tail stands.
    let slight = MicroscopeSpec {
        defocus_nm: 1000.0,
        ..focused.clone()
    };
    assert_eq!(
        probe_tail_estimate(&slight, 6.25),
        probe_tail_fraction(a, 6.25)
    );
}

/// Spherical aberration throws a ray at θ to C_s·θ³ (in focus): the share beyond r is that of
/// θ > (r/C_s)^{1/3}, 1 − (r/C_s)^{2/3}/α² of the aperture's area; a focal spread averages
/// the defocused disc's share over its nodes, so it adds a tail where the mean defocus has none.
#[test]
fn probe_tail_estimate_counts_spherical_aberration_and_focal_spread() {
    let m = MicroscopeSpec {
        semiangle_mrad: 20.0,
        cs_mm: 10.0,
        ..MicroscopeSpec::default()
    };
    let alpha = 0.02f64;
    let cs_nm = 1e7f64;
    let r = 6.25f64;
    let expected = 1.0 - (r / cs_nm).powf(2.0 / 3.0) / (alpha * alpha);
    let got = probe_tail_estimate(&m, r);
    assert!((got - expected).abs() < 1e-3, "{got} vs {expected}");
    assert!((aberration_radius_nm(&m) - 80.0).abs() < 1e-9);
    // Defocus balances C_s (0.75·C_s·α² keeps |C_s·θ³ − Δf·θ| within C_s·α³/4): less tail.
    let balanced = MicroscopeSpec {
        defocus_nm: 0.75 * cs_nm * alpha * alpha,
        ..m.clone()
    };
    assert!(probe_tail_estimate(&balanced, r) < got);
    // 5 µm of defocus at 1.15 mrad: a disc of 5.75 nm, inside r, so the Airy tail stands; a
    // focal spread of Δ ≈ 2 µm rms (C_c = 100 mm, 12 eV) defocuses part of the probe beyond
    // r/α = 5.4 µm, and the estimate averages that part's share in.
    let defocused = |cc_mm: f64| MicroscopeSpec {
        defocus_nm: 5000.0,
        cc_mm,
        energy_spread_ev: 12.0,
        ..MicroscopeSpec::default()
    };
    let delta = crate::coherence::focal_spread_rms_nm(100.0, 12.0, 300.0);
    assert!((2000.0..2200.0).contains(&delta), "{delta}");
    defocused(100.0).validate().unwrap();
    let focused = probe_tail_estimate(&MicroscopeSpec::default(), r);
    assert_eq!(probe_tail_estimate(&defocused(0.0), r), focused);
    assert!(probe_tail_estimate(&defocused(100.0), r) > 2.0 * focused);
}

/// Every model's pattern is the same, bit for bit, whatever its scratch held before: a fresh
/// one, one filled with NaN, and one that just made another position's pattern (the scan
/// reuses one scratch per thread).
#[test]
fn patterns_do_not_depend_on_what_the_scratch_held() {
    let det = detector(32, 0.32);
    let slicing = Slicing::new(1.6, 0.8);
    let atoms = small_cluster(5, [3.0, 3.0], 40);
    let mut vol = AtomVolume::new([8.0, 8.0, 1.6]);
    for (i, (r, z)) in atoms.iter().enumerate() {
        vol.push([r[1], r[0], 0.2 + 0.4 * (i % 3) as f64], *z);
    }
    for kind in [ModelKind::Kinematic, ModelKind::Born, ModelKind::Multislice] {
        let spec = model(kind, 12.0, 2);
        let plan = Arc::new(DiffractionPlan::for_model(
            &spec,
            &microscope(),
            &det,
            slicing,
        ));
        let prop = super::model(&spec, plan.clone());
        let l = plan.window_nm();
        let grid = FieldGrid::covering([-1.0, -1.0], [l + 2.0, l + 2.0], plan.dx_nm());
        let builder =
            PotentialBuilder::with_band_limit(grid, &[13, 27, 40], 0.0, plan.band_limit_per_nm());
        let field = builder.build(&vol, &slicing, prop.field_kind());
        let at = |shift: f64| WindowPlacement {
            origin_px: [3, 5],
            center_nm: [0.5 * l + shift, 0.5 * l - 0.013],
        };
        let run = |s: &mut Scratch, shift: f64| {
            let mut out = vec![0.0; plan.detector_len()];
            prop.pattern(&field, at(shift), s, &mut out);
            out
        };
        let fresh = run(&mut plan.scratch(), 0.0);
        let mut poisoned = plan.scratch();
        let nan = Complex32::new(f32::NAN, f32::NAN);
        for buf in [
            &mut poisoned.a,
            &mut poisoned.b,
            &mut poisoned.c,
            &mut poisoned.d,
        ] {
            buf.fill(nan);
        }
        assert_eq!(run(&mut poisoned, 0.0), fresh, "{kind:?} after NaN");
        let mut used = plan.scratch();
        let other = run(&mut used, 0.37);
        assert_ne!(other, fresh, "{kind:?}: the other position differs");
        assert_eq!(
            run(&mut used, 0.0),
            fresh,
            "{kind:?} after another position"
        );
    }
}
