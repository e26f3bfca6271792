//! Special functions shared by the simulation (Poisson sampling, detector blur) and the analysis
//! (completeness fit, probe tails): ln Γ, erf, erfc and the Bessel functions J_n.

use std::f64::consts::PI;

/// ln Γ(x) for x ≥ 1 (Stirling series with upward recurrence below 7).
pub fn ln_gamma(x: f64) -> f64 {
    const A: [f64; 10] = [
        8.333333333333333e-02,
        -2.777777777777778e-03,
        7.936507936507937e-04,
        -5.952380952380952e-04,
        8.417508417508418e-04,
        -1.917526917526918e-03,
        6.41025641025641e-03,
        -2.955065359477124e-02,
        1.796443723688307e-01,
        -1.39243221690590e+00,
    ];
    if x == 1.0 || x == 2.0 {
        return 0.0;
    }
    let n = if x <= 7.0 {
        (7.0 - x).floor() as i32
    } else {
        0
    };
    let mut x0 = x + f64::from(n);
    let x2 = 1.0 / (x0 * x0);
    let mut gl0 = A[9];
    for &c in A[..9].iter().rev() {
        gl0 = gl0 * x2 + c;
    }
    let mut gl = gl0 / x0 + 0.5 * (2.0 * PI).ln() + (x0 - 0.5) * x0.ln() - x0;
    for _ in 0..n {
        x0 -= 1.0;
        gl -= x0.ln();
    }
    gl
}

/// The Bessel function of the first kind J_n(x) from Bessel's integral
/// J_n(x) = (1/π)∫₀^π cos(nτ − x sin τ) dτ (DLMF 10.9.2), by the trapezoid rule over the full
/// period, which converges geometrically for a periodic analytic integrand: with
/// 64 + 2|x| + 2n nodes it is exact to ~10⁻¹⁴ for |x| ≤ 10³.
pub fn bessel_j(n: u32, x: f64) -> f64 {
    let nodes = 64 + 2 * (x.abs().ceil() as usize) + 2 * n as usize;
    let h = 2.0 * PI / nodes as f64;
    let nf = f64::from(n);
    let sum: f64 = (0..nodes)
        .map(|i| {
            let tau = i as f64 * h;
            (nf * tau - x * tau.sin()).cos()
        })
        .sum();
    sum / nodes as f64
}

/// erf(x) to ~10⁻¹² (Abramowitz & Stegun 7.1.5 series below 3, the continued fraction of
/// [`erfc`] above).
pub fn erf(x: f64) -> f64 {
    let a = x.abs();
    let v = if a < 3.0 {
        // Maclaurin series: erf(x) = 2/√π Σ (−1)^n x^{2n+1}/(n!(2n+1)).
        let mut term = a;
        let mut sum = a;
        let x2 = a * a;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        2.0 / PI.sqrt() * sum
    } else {
        1.0 - erfc_tail(a)
    };
    v.copysign(x)
}

/// erfc(x) = 1 − erf(x), keeping its relative precision in the upper tail (x ≥ 3, where
/// `1 − erf` would cancel).
pub fn erfc(x: f64) -> f64 {
    if x >= 3.0 {
        erfc_tail(x)
    } else {
        1.0 - erf(x)
    }
}

/// erfc(a) for a ≥ 3: continued fraction (Lentz), which converges fast there.
fn erfc_tail(a: f64) -> f64 {
    let mut f = a;
    let mut c = a;
    let mut d = 0.0;
    for k in 1..200 {
        let an = f64::from(k) / 2.0;
        d = 1.0 / (a + an * d);
        c = a + an / c;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    (-a * a).exp() / (PI.sqrt() * f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bessel_j_matches_tabulated_values() {
        // Abramowitz & Stegun Table 9.1 and the first zeros j₀,₁ = 2.404825557695773,
        // j₁,₁ = 3.831705970207512 (A&S Table 9.5).
        assert!((bessel_j(0, 0.0) - 1.0).abs() < 1e-14);
        assert!(bessel_j(1, 0.0).abs() < 1e-14);
        assert!((bessel_j(0, 1.0) - 0.765_197_686_557_966_6).abs() < 1e-13);
        assert!((bessel_j(1, 1.0) - 0.440_050_585_744_933_5).abs() < 1e-13);
        assert!((bessel_j(1, 10.0) - 0.043_472_746_168_861_44).abs() < 1e-13);
        assert!(bessel_j(0, 2.404_825_557_695_773).abs() < 1e-13);
        assert!(bessel_j(1, 3.831_705_970_207_512).abs() < 1e-13);
        // Large argument: J₀²(x) + J₁²(x) → 2/(πx).
        let x = 500.0;
        let s = bessel_j(0, x).powi(2) + bessel_j(1, x).powi(2);
        assert!(
            (s * std::f64::consts::PI * x / 2.0 - 1.0).abs() < 2e-3,
            "{s}"
        );
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for k in 1..30 {
            f *= k as f64;
            assert!((ln_gamma(k as f64 + 1.0) - f.ln()).abs() < 1e-9, "{k}");
        }
    }

    #[test]
    fn erf_matches_tabulated_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.5, 0.999_999_256_901_628),
            (-1.0, -0.842_700_792_949_714_9),
        ] {
            assert!((erf(x) - want).abs() < 1e-12, "erf({x}) = {}", erf(x));
        }
        // The tail keeps its relative precision: erfc(6) = 2.1519736712498913e-17.
        assert!((erfc(6.0) / 2.151_973_671_249_891_3e-17 - 1.0).abs() < 1e-10);
        assert!((erfc(-1.0) - 1.842_700_792_949_715).abs() < 1e-12);
    }
}
