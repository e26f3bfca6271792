//! Thresholds for turning a map into regions (physics.md §8).

use crate::config::Threshold;

/// Ridler–Calvard iterative ("isodata") threshold on the exact values: start at the mean, split
/// at `≤ T` / `> T`, set `T` to the mean of the two class means, repeat until `T` moves less than
/// 1e-9 of the value range (at most 1000 iterations).
pub fn iterative(values: &[f64]) -> f64 {
    let vals: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if vals.is_empty() {
        return f64::NAN;
    }
    let (lo, hi) = min_max(&vals);
    let mut t = vals.iter().sum::<f64>() / vals.len() as f64;
    let eps = 1e-9 * (hi - lo).max(f64::MIN_POSITIVE);
    for _ in 0..1000 {
        let (mut s0, mut n0, mut s1, mut n1) = (0.0, 0usize, 0.0, 0usize);
        for &v in &vals {
            if v <= t {
                s0 += v;
                n0 += 1;
            } else {
                s1 += v;
                n1 += 1;
            }
        }
        if n0 == 0 || n1 == 0 {
            return t;
        }
        let next = 0.5 * (s0 / n0 as f64 + s1 / n1 as f64);
        if (next - t).abs() < eps {
            return next;
        }
        t = next;
    }
    t
}

/// Otsu's threshold: the 256-bin histogram split maximising the between-class variance; the
/// threshold is the upper edge of the last bin of the lower class.
pub fn otsu(values: &[f64]) -> f64 {
    let vals: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if vals.is_empty() {
        return f64::NAN;
    }
    let (lo, hi) = min_max(&vals);
    if hi <= lo {
        return lo;
    }
    const BINS: usize = 256;
    let w = (hi - lo) / BINS as f64;
    let mut hist = [0usize; BINS];
    for &v in &vals {
        hist[(((v - lo) / w) as usize).min(BINS - 1)] += 1;
    }
    let total = vals.len() as f64;
    let centre = |i: usize| lo + (i as f64 + 0.5) * w;
    let sum_all: f64 = (0..BINS).map(|i| hist[i] as f64 * centre(i)).sum();
    let (mut w0, mut s0, mut best, mut best_i) = (0.0, 0.0, -1.0, 0);
    for (i, &h) in hist.iter().enumerate().take(BINS - 1) {
        w0 += h as f64;
        s0 += h as f64 * centre(i);
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let d = s0 / w0 - (sum_all - s0) / w1;
        let between = w0 * w1 * d * d;
        if between > best {
            best = between;
            best_i = i;
        }
    }
    lo + (best_i as f64 + 1.0) * w
}

/// The threshold of `values` by `method`; pixels strictly above it form regions.
pub fn threshold(values: &[f64], method: Threshold) -> f64 {
    match method {
        Threshold::Iterative => iterative(values),
        Threshold::Otsu => otsu(values),
        Threshold::Fixed(f) => {
            let vals: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            f * min_max(&vals).1
        }
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}
