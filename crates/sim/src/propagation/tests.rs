//! Unit tests of the window machinery: probe shape, oracle agreement, unitarity.

use super::*;
use crate::atoms::AtomVolume;
use crate::potential::{FieldGrid, PotentialBuilder};
use crate::reference::kinematic_direct;
use rand::Rng;

fn microscope() -> MicroscopeSpec {
    MicroscopeSpec::default()
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
            ModelKind::Kinematic,
            &microscope(),
            &det,
            Slicing::new(1.0, 1.0),
            10.24,
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
    let kin = Kinematic::new(plan.clone());
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
