//! The default amorphous matrix: density, composition, minimum distances, g(r) and S(k).

use std::f64::consts::PI;

use mro_core::Seeds;
use mro_sim::elements;
use mro_sim::glass::radii::{contact_distance_nm, MIN_DISTANCE};
use mro_sim::glass::{build_glass, Glass};
use mro_sim::spec::{PlacementSpec, SampleSpec};

fn small_matrix(seed: u64) -> Glass {
    let sample = SampleSpec {
        extent_nm: [6.0, 6.0],
        thickness_nm: 6.0,
        ..SampleSpec::default()
    };
    build_glass(
        &sample,
        &[],
        &PlacementSpec::default(),
        &Seeds::new(seed),
        &|_| {},
    )
    .expect("a plain matrix builds")
}

fn offset(a: [f64; 3], b: [f64; 3], l: [f64; 3]) -> [f64; 3] {
    let mut d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    d[0] -= l[0] * (d[0] / l[0]).round();
    d[1] -= l[1] * (d[1] / l[1]).round();
    d
}

/// Partial-free total g(r) from pairs away from the free surfaces, binned at `dr`.
fn pair_distribution(g: &Glass, r_max: f64, dr: f64) -> Vec<f64> {
    let a = &g.atoms;
    let l = a.extent_nm;
    let nb = (r_max / dr) as usize;
    let mut hist = vec![0.0; nb];
    let centres: Vec<usize> = (0..a.len())
        .filter(|&i| (r_max..l[2] - r_max).contains(&a.positions_nm[i][2]))
        .collect();
    for &i in &centres {
        for j in 0..a.len() {
            if i == j {
                continue;
            }
            let s = offset(a.positions_nm[i], a.positions_nm[j], l);
            let r = (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt();
            if r < r_max {
                hist[(r / dr) as usize] += 1.0;
            }
        }
    }
    let rho = a.number_density_per_nm3();
    hist.iter()
        .enumerate()
        .map(|(b, &h)| {
            let r = (b as f64 + 0.5) * dr;
            h / (centres.len() as f64 * rho * 4.0 * PI * r * r * dr)
        })
        .collect()
}

#[test]
fn matrix_has_the_density_composition_and_minimum_distances() {
    let g = small_matrix(7);
    let a = &g.atoms;
    assert!((a.number_density_per_nm3() / 54.0 - 1.0).abs() < 0.002);
    let n = a.len() as f64;
    for (sym, want) in [("Zr", 0.55), ("Co", 0.25), ("Al", 0.20)] {
        let z = elements::by_symbol(sym).unwrap().z;
        let got = a.atomic_numbers.iter().filter(|&&x| x == z).count() as f64 / n;
        assert!((got - want).abs() < 1.0 / n + 1e-12, "{sym}: {got}");
    }
    let l = a.extent_nm;
    for p in &a.positions_nm {
        assert!(p[0] >= 0.0 && p[0] < l[0] && p[1] >= 0.0 && p[1] < l[1]);
        assert!(p[2] >= 0.0 && p[2] <= l[2]);
    }
    let mut closest = f64::INFINITY;
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let s = offset(a.positions_nm[i], a.positions_nm[j], l);
            let d = (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt();
            let contact = contact_distance_nm(a.atomic_numbers[i], a.atomic_numbers[j]).unwrap();
            let min = MIN_DISTANCE * contact;
            assert!(d >= min, "atoms {i}, {j} at {d} nm < {min} nm");
            closest = closest.min(d);
        }
    }
    assert!(closest > 0.19, "{closest}");
}

#[test]
fn matrix_pair_distribution_and_structure_factor_peak_where_the_alloy_does() {
    let g = small_matrix(11);
    let dr = 0.005;
    let gr = pair_distribution(&g, 1.0, dr);
    let (peak_bin, &peak) = gr
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap();
    let r1 = (peak_bin as f64 + 0.5) * dr;
    eprintln!("g(r) first peak {r1:.4} nm, height {peak:.2}");
    let r1_ok = (0.27..=0.32).contains(&r1);
    assert!(peak > 2.0, "a glass has a sharp first shell, g = {peak}");
    // Liquid-like at long range.
    let tail: f64 = gr[160..].iter().sum::<f64>() / gr[160..].len() as f64;
    assert!((tail - 1.0).abs() < 0.1, "{tail}");

    // Kinematic S(k) = |Σ f_j e^{-2πik·r_j}|² / Σ f_j², averaged over directions, with
    // Lobato f_e(k). Only the k > 2 nm⁻¹ region matters, far from the box transform.
    let a = &g.atoms;
    // One 6 nm box is a single speckle realisation: 256 directions keep the direction noise
    // of S(k) well below the width of its first peak.
    let nd = 256;
    let dirs: Vec<[f64; 3]> = (0..nd)
        .map(|i| {
            // Fibonacci sphere.
            let z = 1.0 - (2.0 * i as f64 + 1.0) / nd as f64;
            let t = PI * (3.0 - 5f64.sqrt()) * i as f64;
            let s = (1.0 - z * z).sqrt();
            [s * t.cos(), s * t.sin(), z]
        })
        .collect();
    let fe = |z: u8, k_per_nm: f64| {
        let e = elements::by_z(z).unwrap();
        let k = k_per_nm / 10.0; // Å⁻¹
        (0..5)
            .map(|i| {
                let b = e.lobato_b[i];
                e.lobato_a[i] * (2.0 + b * k * k) / (1.0 + b * k * k).powi(2)
            })
            .sum::<f64>()
    };
    let ks: Vec<f64> = (0..=60).map(|i| 2.5 + 0.05 * i as f64).collect();
    let sk: Vec<f64> = ks
        .iter()
        .map(|&k| {
            let f: Vec<f64> = a.atomic_numbers.iter().map(|&z| fe(z, k)).collect();
            let norm: f64 = f.iter().map(|x| x * x).sum();
            dirs.iter()
                .map(|d| {
                    let (mut re, mut im) = (0.0, 0.0);
                    for (p, fj) in a.positions_nm.iter().zip(&f) {
                        let ph = 2.0 * PI * k * (d[0] * p[0] + d[1] * p[1] + d[2] * p[2]);
                        re += fj * ph.cos();
                        im += fj * ph.sin();
                    }
                    (re * re + im * im) / norm
                })
                .sum::<f64>()
                / dirs.len() as f64
        })
        .collect();
    let (i1, s1) = sk
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap();
    eprintln!("S(k) first maximum {:.3} nm⁻¹, S = {s1:.2}", ks[i1]);
    assert!(r1_ok, "g(r) peak at {r1} nm");
    assert!(
        (3.8..=4.2).contains(&ks[i1]),
        "S(k) peak at {} nm⁻¹",
        ks[i1]
    );
    assert!(*s1 > 1.5, "S(k1) = {s1}");
}
