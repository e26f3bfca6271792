//! Region size by a model of the probe's response (the `method = "mro"` diameter).
//!
//! The n-fold signal a cluster puts into a pattern is, to first order, the probe intensity summed
//! over the cluster's atoms: `I_n(r₀) ∝ (|ψ₀|² ∗ t)(r₀)`, with `t(r) = √(R² − r²)` the projected
//! chord length of a sphere of radius `R` and `|ψ₀(r)|² = [2J₁(v)/v]²`, `v = 2π(α/λ)r`, the Airy
//! intensity of an aberration-free probe (physics.md §1). P_n goes as `|I_n|²`, so the map of a
//! cluster is `m_D(r) = [(|ψ₀|² ∗ t)(r)]²` — for a point scatterer `|ψ₀|⁴`, narrower than the probe
//! (FWHM ≈ 0.71 of the probe's). [`ProbeResponse`] tabulates the FWHM of `m_D` against `D` and
//! inverts it: a region's measured FWHM gives the diameter whose model map has that width.
//!
//! Stated approximations: the cluster diffracts incoherently across its width (intensity, not
//! amplitude, convolution); the probe is aberration-free; the map background is flat around the
//! region.
//!
//! **Known limits (measured 2026-12-01).** The model is effective, not exact. Where the ring
//! integrated the whole diffracted disc, Parseval would give `|ψ₀|² ∗ t²`, not `∗ t`; and the ring
//! (0.32 nm⁻¹) is narrower than the disc (2α/λ = 1.17 nm⁻¹), which makes the response more
//! coherent still. The exact kinematic map of an isolated density-wave cluster (full-resolution
//! ring, 0.32 nm⁻¹ band, computed on a 512² grid at 0.025 nm by `tools/size_response_exact.py`)
//! has FWHM 0.73, 0.72 and 0.68 nm for n = 4, 6 and 10 at D = 1.5 nm, about 0.85 nm at 2 nm and
//! 1.45 nm at 3 nm, against this model's 0.88, 1.19 and 1.93 nm. Binning the ring into 0.16 nm⁻¹
//! detector pixels changes these by under 0.3 %.
//!
//! *The forward model agrees with that exact response.* The aligned-thin glass (seed 11) with its
//! matrix removed (`[sample] atoms` = the clusters' atoms only), imaged noise-free, gives maps equal
//! to the exact calculation on the same atoms to a few per cent pixel by pixel (5 × 5 pixels around
//! two clusters), and the discrete atom columns of the planted motif widen the response by 0–4 %
//! over the smooth density wave of the same size (eight clusters, 1.4–1.7 nm).
//!
//! *The measurement is broader.* The regions' half-maximum widths ([`crate::significance`]:
//! equivalent-circle diameter of the pixels above half the peak's height over the null mean, on
//! 0.32 nm pixels, over speckle) average 0.82, 1.06 and 1.94 nm over 269 regions of the validation
//! runs matched to clusters of 1.5, 2 and 3 nm, so the two errors largely cancel: this model reads
//! those widths 7 % low on average (2 nm clusters: −2 to −11 % per map), the `mro` diameter bias
//! the validation summary reports.
//!
//! *Tried, not adopted:* a least-squares fit of the exact response (radial average over the
//! cluster's in-plane angle, sub-pixel centre on a ⅛-pixel grid, background fixed at the null
//! mean) to the pixels within 2.9 pixels of every planted cluster's brightest pixel (NumPy, on
//! maps normalised by the scan's mean `I_0`). Per map the mean diameter came out
//! +5.5, +18.9 and −1.5 % (aligned-thin n = 4, 6, 10) and +6.0, +12.7 % (correlated n = 4, 6), where
//! this model gives −10.7, −5.3, −12.5, −11.0 and −4.5 % over its detected regions: no better on average, with the sign
//! flipped; on the same clusters without matrix and noise +2.7, +8.3 and −7.6 %. The reason is
//! physical: below the probe's size the map's width is mostly the probe's, `dFWHM/dD ≈ 0.24` at
//! D = 1.5–2 nm, so a 1 % error in a width is a 3–4 % error in the diameter, and the structure
//! inside a cluster (the columns above, which real data do not reveal) moves the width by up to
//! 4 %. Diameters of clusters smaller than a 1 nm probe are therefore known to about ±10 % from the
//! widths of their maps, whichever response is fitted; the per-map scatter of this model's
//! diameters (s.d. 8 % over the validation maps) is at that limit.
//!
//! *Part of the measured width is the pipeline's, and it depends on brightness (measured
//! 2026-12-04).* The maps are normalised by the mean ring intensity `I_0` of the 5 × 5 scan points
//! around each pattern (`pipeline::local_normalisation`). A cluster in condition raises that
//! mean over about its own width, so the divisor peaks at the cluster and flattens its map.
//! `tools/normalisation_broadening.py` undoes the window (one divisor for the whole scan) and
//! measures the regions again. On the correlated scenario's 2 nm clusters (its former 41 nm
//! field, seeds 16–18), the window widens the half-maximum widths by 7–12 % at n = 4, where the
//! clusters raise the window's `I_0` to 1.8 × the scan's median, and by 13–16 % at n = 6 (2.2–2.3 ×).
//! Over one divisor the two agree: 0.99–1.00 nm at n = 4, 0.99–1.02 nm at n = 6. So a brighter
//! cluster of the same size reads larger. That is why this model's n = 6 diameters are less low
//! than its n = 4 ones (−2.6 against −9.3 % at seed 16 on that field; −2.6 against −6.3 % on the
//! scenario's present 82 nm field). The same clusters in a thicker foil, whose matrix dilutes
//! the rise, read smaller. In a 16 nm foil (that scenario and seed, twice the matrix) the
//! window's `I_0` at the regions is 1.5 and 1.6 × the median (n = 4, 6), and the widening 8 and
//! 4 %. The diameters read −10.7 and −13.0 %, where
//! the 8 nm foil gave −9.3 and −2.6 %. The method also finds fewer of the clusters there (21
//! and 47 of 80 and 78), so which clusters are measured changes too.
//!
//! The rest of the width, over one divisor:
//! - the same glass imaged noise-free gives the same widths (0.993, 1.014 nm), so shot noise
//!   plays no part;
//! - without its matrix (the clusters' atoms only, noise-free) the widths are 0.96 nm for both n;
//! - the exact response of a smooth density-wave sphere, measured the same way on 0.32 nm pixels
//!   (`tools/size_response_exact.py --pixels`), is 0.905 and 0.877 nm at 2 nm (0.760, 0.743 at
//!   1.5 nm).
//!
//! So the forward model's matrix-free clusters map 6–9 % wider than the smooth exact response,
//! and the matrix widens them by another 3–6 %. The first gap is not taken apart here: the atom
//! columns (0–4 %, above), the clusters' spread of sizes (s.d. 0.1 nm), the probe tail's
//! background and neighbours 5 nm apart all enter it.
//!
//! *Not done:* sizing over one divisor per region removes the brightness dependence, but needs a
//! response that holds for embedded clusters. Over one divisor, this model would read the 2 nm
//! clusters about 13 % small (1.0 nm is its width at 1.73 nm), and the exact response 16–23 %
//! large (n = 4, 6, extrapolated linearly from 1.5 and 2 nm to a 1.0 nm width). Neither is
//! right, and no model here predicts what lies between.
//!
//! *A wider window, tried (2026-12-05, a patched build whose window is 15 × 15 scan points,
//! 4.8 nm across; its mean, and its median).* The correlated scenario at seed 16 (82 nm field)
//! and seeds 16–19 on its former 41 nm field. The cluster then barely moves its divisor, and
//! the widths (the mean `fwhm_nm` of the regions inside the field, over both builds) agree at
//! both n: 0.95–0.99 nm at n = 4, 0.98–1.02 nm at n = 6 (as analysed now, 1.07–1.11 and
//! 1.11–1.17 nm). On the 82 nm field this model then reads −15.6 and −14.9 % with the mean and
//! −16.0 and −15.3 % with the median (on the 41 nm seeds −14.1 to −18.8 % and −14.3 to
//! −19.6 %), against −6.3 and −2.6 % now. The window of 5 × 5 is kept; its widening and this model's
//! too-narrow embedded response cancel at 8 nm, which the thickness dependence above shows is
//! no principle. What the wider window does to the counts is in [`crate::mro_estimator`].
//!
//! *The matrix's share of a cluster's map (measured 2026-12-05, `tools/cluster_neighbourhood.py
//! --one-divisor` on the 82 nm field, the 63 clusters of each n with no other centre within
//! 3 nm).* The cluster's diffracted wave interferes with the matrix's speckle on the ring. That
//! term goes as the cluster's ring intensity, not its square, and its angular structure (the
//! spots times random speckle phases) spreads its power over many n. The maps that show it
//! apart from the cluster's own pattern are the even ones that are not the cluster's harmonics:
//! the cluster's own n-fold pattern puts at most 0.085 % of its P_n there (the truth's
//! `ring_power`), and a kinematic pattern, centrosymmetric, puts nothing into odd n (the
//! interference term is centrosymmetric too, and the odd maps stay 0). Measured:
//! - at the cluster, P_2, P_6 and P_10 rise by 3.4–4.8 % of P_4's central excess; P_2, P_4, P_8
//!   and P_10 rise by 2.4–3.7 % of P_6's (about 50 pixels make the central 0.16 nm ring, so
//!   these are good to perhaps a fifth of themselves);
//! - that rise falls to half at 0.70–0.80 nm from the centre, where the planted map's falls at
//!   0.53 nm;
//! - the same term in the planted map widens its half maximum by only 1.0–1.2 %: taking the
//!   others' mean off the stacked P_4 and P_6 profiles moves their half-maximum radius from
//!   0.532 to 0.526 nm and from 0.530 to 0.525 nm.
//!
//! The matrix is built around the clusters, so its own speckle is a little weaker over them;
//! that lowers these rises somewhat and was not separated. So the interference is a small part
//! of the matrix's 3–6 %. The rest is not taken apart; a likely part, not measured, is the
//! speckle's fluctuation about the mean profile, through which each region's half maximum is
//! drawn.

/// Tabulated FWHM of the model map against cluster diameter, for one probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResponse {
    diameter_nm: Vec<f64>,
    fwhm_nm: Vec<f64>,
}

/// Table entries; diameters run to `TABLE_SPAN × probe FWHM`, beyond which the map's FWHM grows
/// as the diameter (extrapolated linearly from the last two entries).
const TABLE_POINTS: usize = 97;
const TABLE_SPAN: f64 = 6.0;
/// Quadrature points per cluster diameter.
const QUAD: usize = 24;

impl ProbeResponse {
    /// The response of a probe with aperture radius `aperture_per_nm` (α/λ, nm⁻¹).
    pub fn new(aperture_per_nm: f64) -> Self {
        let fwhm_probe = AIRY_HALF_V / (std::f64::consts::PI * aperture_per_nm);
        let r_max = (TABLE_SPAN + 4.0) * fwhm_probe;
        let dr = fwhm_probe / 400.0;
        let psf: Vec<f64> = (0..=(r_max / dr) as usize + 2)
            .map(|i| airy(std::f64::consts::TAU * aperture_per_nm * i as f64 * dr))
            .collect();
        let p = |r: f64| {
            let x = r / dr;
            let i = x as usize;
            if i + 1 >= psf.len() {
                return 0.0;
            }
            psf[i] + (x - i as f64) * (psf[i + 1] - psf[i])
        };
        let mut diameter_nm = Vec::with_capacity(TABLE_POINTS);
        let mut fwhm_nm = Vec::with_capacity(TABLE_POINTS);
        for j in 0..TABLE_POINTS {
            let d = j as f64 * TABLE_SPAN * fwhm_probe / (TABLE_POINTS - 1) as f64;
            let quad = disk_quadrature(0.5 * d);
            let amp = |x: f64| -> f64 {
                if quad.is_empty() {
                    p(x)
                } else {
                    quad.iter()
                        .map(|&(qx, qy, w)| w * p((x - qx).hypot(qy)))
                        .sum()
                }
            };
            // Half maximum of m = amp² ⇔ amp = amp(0)/√2.
            let target = amp(0.0) / std::f64::consts::SQRT_2;
            let (mut lo, mut hi) = (0.0, 0.5 * d + 2.0 * fwhm_probe);
            for _ in 0..40 {
                let mid = 0.5 * (lo + hi);
                if amp(mid) > target {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            diameter_nm.push(d);
            fwhm_nm.push(lo + hi);
        }
        Self {
            diameter_nm,
            fwhm_nm,
        }
    }

    /// FWHM in nm of the model map of a cluster of diameter `d_nm` (linear interpolation).
    pub fn fwhm_nm(&self, d_nm: f64) -> f64 {
        interpolate(&self.diameter_nm, &self.fwhm_nm, d_nm)
    }

    /// FWHM of a point scatterer's map (`|ψ₀|⁴`), in nm: the narrowest a region can be.
    pub fn point_fwhm_nm(&self) -> f64 {
        self.fwhm_nm[0]
    }

    /// The diameter whose model map has FWHM `fwhm_nm`; `None` below the point response's FWHM
    /// (the region is narrower than the probe allows: not a cluster's response).
    pub fn diameter_nm(&self, fwhm_nm: f64) -> Option<f64> {
        (fwhm_nm >= self.fwhm_nm[0]).then(|| interpolate(&self.fwhm_nm, &self.diameter_nm, fwhm_nm))
    }
}

/// Piecewise-linear `y(x)` through increasing `xs`, extrapolated from the last segment.
fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let n = xs.len();
    let i = xs.partition_point(|&v| v <= x).clamp(1, n - 1);
    let (x0, x1, y0, y1) = (xs[i - 1], xs[i], ys[i - 1], ys[i]);
    y0 + (x - x0) * (y1 - y0) / (x1 - x0)
}

/// Points `(x, y, weight)` covering a disk of radius `r` with weights `√(r² − ρ²)·area`
/// (the projected sphere); empty for `r = 0`.
fn disk_quadrature(r: f64) -> Vec<(f64, f64, f64)> {
    if r <= 0.0 {
        return Vec::new();
    }
    let h = 2.0 * r / QUAD as f64;
    let mut q = Vec::new();
    for a in 0..QUAD {
        for b in 0..QUAD {
            let x = -r + (a as f64 + 0.5) * h;
            let y = -r + (b as f64 + 0.5) * h;
            let rho2 = x * x + y * y;
            if rho2 < r * r {
                q.push((x, y, (r * r - rho2).sqrt() * h * h));
            }
        }
    }
    q
}

/// `v` at which the Airy intensity `[2J₁(v)/v]²` falls to one half.
const AIRY_HALF_V: f64 = 1.616_339_948_3;

/// The Airy intensity `[2J₁(v)/v]²`.
fn airy(v: f64) -> f64 {
    if v.abs() < 1e-8 {
        return 1.0;
    }
    (2.0 * bessel_j1(v) / v).powi(2)
}

/// Bessel function J₁ (rational approximations of Numerical Recipes §6.5, |error| < 1e-8).
fn bessel_j1(x: f64) -> f64 {
    let ax = x.abs();
    if ax < 8.0 {
        let y = x * x;
        let n = x
            * (72_362_614_232.0
                + y * (-7_895_059_235.0
                    + y * (242_396_853.1
                        + y * (-2_972_611.439 + y * (15_704.482_60 + y * (-30.160_366_06))))));
        let d = 144_725_228_442.0
            + y * (2_300_535_178.0
                + y * (18_583_304.74 + y * (99_447.433_94 + y * (376.999_139_7 + y))));
        n / d
    } else {
        let z = 8.0 / ax;
        let y = z * z;
        let xx = ax - 3.0 * std::f64::consts::FRAC_PI_4;
        let p = 1.0
            + y * (0.183_105e-2
                + y * (-0.351_639_649_6e-4 + y * (0.245_752_017_3e-5 + y * (-0.240_337_019e-6))));
        let q = 0.046_874_999_95
            + y * (-0.200_269_087_3e-3
                + y * (0.844_919_909_3e-5 + y * (-0.882_289_87e-6 + y * 0.105_787_412e-6)));
        let v = (std::f64::consts::FRAC_2_PI / ax).sqrt() * (xx.cos() * p - z * xx.sin() * q);
        if x < 0.0 {
            -v
        } else {
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn j1_matches_tabulated_values() {
        // Abramowitz & Stegun table 9.1.
        assert!((bessel_j1(1.0) - 0.440_050_585_7).abs() < 1e-8);
        assert!((bessel_j1(5.0) + 0.327_579_137_6).abs() < 1e-8);
        assert!((bessel_j1(10.0) - 0.043_472_746_2).abs() < 1e-7);
        assert!(airy(3.831_705_97).abs() < 1e-12);
        assert!((airy(AIRY_HALF_V) - 0.5).abs() < 1e-8);
    }

    #[test]
    fn point_response_is_the_squared_probe_and_wide_clusters_their_diameter() {
        let ka = 0.584; // α/λ of 1.15 mrad at 300 kV, nm⁻¹
        let fwhm_probe = AIRY_HALF_V / (std::f64::consts::PI * ka);
        let r = ProbeResponse::new(ka);
        // |ψ₀|⁴ falls to ½ where the Airy intensity is 1/√2.
        let mut lo = 0.0;
        let mut hi = 4.0;
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if airy(mid) > std::f64::consts::FRAC_1_SQRT_2 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let expected = 2.0 * lo / (std::f64::consts::TAU * ka);
        assert!((r.point_fwhm_nm() - expected).abs() < 1e-3 * expected);
        assert!(r.point_fwhm_nm() < fwhm_probe);
        // Monotone, and inverting recovers the diameter.
        for d in [0.5, 1.0, 1.3, 1.8, 2.5, 4.0, 8.0] {
            let f = r.fwhm_nm(d);
            assert!(f > r.fwhm_nm(0.9 * d), "monotone at {d}");
            let back = r.diameter_nm(f).unwrap();
            assert!((back - d).abs() < 0.01 * d, "{d} → {f} → {back}");
        }
        // A sphere much wider than the probe: m ∝ R² − r² has FWHM √2·R ≈ 0.71 D; the blur
        // lowers the flanks (where the chord is most curved) more than the centre, so a little
        // less.
        let d = 5.0 * fwhm_probe;
        let f = r.fwhm_nm(d) / d;
        assert!(f > 0.6 && f < 0.71, "{f}");
        assert!(r.diameter_nm(0.5 * r.point_fwhm_nm()).is_none());
    }
}
