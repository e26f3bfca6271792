//! Physics across crates: the default glass imaged by the forward model diffracts where a
//! Zr55Co25Al20 glass does.

use mro_core::Seeds;
use mro_sim::spec::{DetectorSpec, MicroscopeSpec, ModelSpec, PlacementSpec, SampleSpec, ScanSpec};
use mro_sim::{build_glass, simulate, ForwardOptions};

#[test]
fn mean_pattern_of_the_default_glass_peaks_near_4_per_nm() {
    let sample = SampleSpec {
        extent_nm: [6.4, 6.4],
        thickness_nm: 10.0,
        ..SampleSpec::default()
    };
    let glass = build_glass(
        &sample,
        &[],
        &PlacementSpec::default(),
        &Seeds::new(3),
        &|_| {},
    )
    .expect("the default glass builds");
    let scan = ScanSpec {
        points: [8, 8],
        step_nm: 0.8,
    };
    let detector = DetectorSpec {
        electrons_per_pattern: f64::INFINITY,
        ..DetectorSpec::default()
    };
    let [dy, dx] = detector.pixels;
    let mut mean = vec![0f64; dy * dx];
    let mut patterns = 0usize;
    let cal = simulate(
        &glass.atoms,
        &MicroscopeSpec::default(),
        &scan,
        &detector,
        &ModelSpec::default(),
        Seeds::new(3),
        &ForwardOptions::default(),
        |_, row: &[f32]| {
            for p in row.chunks_exact(dy * dx) {
                for (m, v) in mean.iter_mut().zip(p) {
                    *m += f64::from(*v);
                }
                patterns += 1;
            }
            Ok(())
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(patterns, 64);
    // Azimuthal average in one-pixel rings, then the maximum beyond the direct beam.
    let [cy, cx] = cal.center_px();
    let dk = cal.k_pixel_per_nm();
    let bins = dy / 2;
    let (mut sum, mut count) = (vec![0f64; bins], vec![0usize; bins]);
    for i in 0..dy {
        for j in 0..dx {
            let r = ((i as f64 - cy).hypot(j as f64 - cx)).round() as usize;
            if r < bins {
                sum[r] += mean[i * dx + j];
                count[r] += 1;
            }
        }
    }
    let profile: Vec<f64> = sum.iter().zip(&count).map(|(s, &c)| s / c as f64).collect();
    let lo = (2.5 / dk) as usize;
    let hi = (6.0 / dk) as usize;
    let peak = (lo..hi)
        .max_by(|&a, &b| profile[a].total_cmp(&profile[b]))
        .unwrap();
    let k_peak = peak as f64 * dk;
    assert!(
        (3.8..=4.2).contains(&k_peak),
        "mean pattern peaks at {k_peak} nm⁻¹: {profile:?}"
    );
}
