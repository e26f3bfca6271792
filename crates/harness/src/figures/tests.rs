//! Every figure renders, and says what it shows: the specs the drawing code recorded are checked
//! for titles, axis titles with units, legends and colour bars (not pixels).

use std::collections::BTreeMap;

use super::summary::Detectability;
use super::*;
use mro_analysis::{analyze_datacube, AnalysisConfig, AnalysisOutput, RunOptions};
use mro_core::{Calibration, Datacube};

fn analysis() -> AnalysisOutput {
    let (scan, det) = (12usize, 40usize);
    let c = [19.6, 20.3];
    let mut data = Vec::with_capacity(scan * scan * det * det);
    for p in 0..scan * scan {
        for i in 0..det {
            for j in 0..det {
                let (ky, kx) = ((i as f64 - c[0]) * 0.25, (j as f64 - c[1]) * 0.25);
                let k = kx.hypot(ky);
                let m = if p % 7 == 0 { 0.8 } else { 0.1 };
                let ring = (-(k - 4.0).powi(2) / 0.2).exp()
                    * (1.0 + m * (4.0 * ky.atan2(kx) + p as f64).cos());
                data.push((10.0 + 50.0 * ring) as f32);
            }
        }
    }
    let cube = Datacube::new(
        ndarray::Array4::from_shape_vec((scan, scan, det, det), data).unwrap(),
        Calibration::new(0.25, 0.32, c, 300.0, 1.15, Some(20.0)).unwrap(),
    );
    let cfg = AnalysisConfig {
        k_min_per_nm: 1.0,
        k_max_per_nm: 4.5,
        ..AnalysisConfig::default()
    };
    analyze_datacube(&cube, &cfg, &RunOptions::default()).unwrap()
}

fn score() -> crate::score::Score {
    serde_json::from_value(serde_json::json!({
        "schema": "mro.score/1", "odd_even_ratio": 0.01, "all_within_tolerance": false,
        "rows": [
            {"quantity": "mean_diameter_nm", "symmetry": 4, "truth": 1.3, "recovered": 1.5,
             "relative_error": 0.154, "tolerance": 0.25, "within_tolerance": true},
            {"quantity": "volume_fraction", "symmetry": 4, "truth": 0.028, "recovered": 0.06,
             "relative_error": 1.14, "tolerance": 0.5, "within_tolerance": false},
            {"quantity": "volume_fraction_geometric", "symmetry": 4, "truth": 0.028,
             "recovered": 0.72, "relative_error": 24.7, "tolerance": null,
             "within_tolerance": null},
            {"quantity": "region_count", "symmetry": 4, "truth": 11.0, "recovered": 600.0,
             "relative_error": 53.5, "tolerance": null, "within_tolerance": null},
            {"quantity": "v_peak_k_per_nm", "symmetry": null, "truth": 4.0, "recovered": 4.0,
             "relative_error": 0.0, "tolerance": null, "within_tolerance": null}
        ]
    }))
    .unwrap()
}

/// Every panel has a title and unit-bearing axis titles; returns the figure for more checks.
fn check(name: &str, fig: FigureSpec, panels: usize) -> FigureSpec {
    assert_eq!(fig.panels.len(), panels, "{name}: {fig:#?}");
    for p in &fig.panels {
        assert!(!p.title.trim().is_empty(), "{name}: untitled panel {p:#?}");
        for axis in [&p.x_label, &p.y_label] {
            assert!(!axis.trim().is_empty(), "{name}: unlabelled axis {p:#?}");
        }
        assert!(
            p.title.chars().count() <= 70,
            "{name}: title too long to read: {}",
            p.title
        );
    }
    fig
}

fn png_ok(path: &std::path::Path) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "{}", path.display());
    assert!(
        bytes.len() > 5_000,
        "{} is suspiciously small",
        path.display()
    );
}

#[test]
fn every_figure_renders_and_labels_what_it_shows() {
    let out = analysis();
    let (r, m) = (&out.result, &out.maps);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let overlay = MapOverlay {
        markers: vec![MapMarker {
            center_nm: [1.0, 1.3],
            radius_nm: 0.65,
            symmetry: Some(4),
        }],
    };
    let curves = CurveOverlay {
        curves: vec![("true V(k)".into(), vec![(3.0, 0.01), (4.0, 0.02)])],
        vlines: vec![("cluster k0 = 4 nm⁻¹".into(), 4.0)],
    };

    let v = check(
        "variance",
        variance_figure(&d.join("v.png"), r, &curves).unwrap(),
        1,
    );
    let p = &v.panels[0];
    assert!(p.x_label.contains("nm⁻¹"), "{p:#?}");
    for want in ["V_Ω", "V_r", "true V(k)", "analysis ring", "cluster k0"] {
        assert!(
            p.legend.iter().any(|l| l.contains(want)),
            "variance legend lacks {want}: {p:#?}"
        );
    }

    let maps = check(
        "intensity maps",
        intensity_maps_figure(&d.join("i.png"), r, m, &overlay).unwrap(),
        2,
    );
    let n_max = m.power.len() - 1;
    let power = check(
        "power maps",
        power_maps_figure(&d.join("p.png"), r, m, &overlay).unwrap(),
        n_max + 1,
    );
    for fig in [&maps, &power] {
        assert!(
            fig.legend
                .iter()
                .any(|l| l.contains("true in-condition cluster")),
            "{fig:#?}"
        );
        for p in &fig.panels {
            assert_eq!(
                (p.x_label.as_str(), p.y_label.as_str()),
                ("x (nm)", "y (nm)")
            );
            assert!(
                p.colour_bar.as_deref().is_some_and(|c| !c.is_empty()),
                "{p:#?}"
            );
            assert!(!p.clipped.is_empty(), "the colour clip is stated: {p:#?}");
        }
    }
    assert!(power.panels[3].title.starts_with("n = 4:"), "{power:#?}");
    assert!(power
        .legend
        .iter()
        .any(|l| l.contains("thresholded region")));

    let ps = check(
        "power spectrum",
        power_spectrum_figure(&d.join("s.png"), r, &CurveOverlay::default()).unwrap(),
        1,
    );
    assert_eq!(ps.panels[0].legend, ["even n", "odd n"]);

    let truth = BTreeMap::from([(4usize, 2.5)]);
    let ac = check(
        "autocorrelation",
        autocorrelation_figure(&d.join("a.png"), r, &truth).unwrap(),
        r.by_symmetry.len(),
    );
    assert!(ac.panels.iter().all(|p| p.x_label == "r (nm)"));
    assert!(ac.panels[3].title.contains("true 2.50"), "{ac:#?}");
    assert!(ac
        .legend
        .iter()
        .any(|l| l.contains("pair-correlation peak")));

    let rec = check(
        "recovery",
        recovery_figure(&d.join("r.png"), &score()).unwrap(),
        3,
    );
    assert_eq!(rec.panels[1].legend.len(), 3, "{rec:#?}");
    assert!(rec.panels[0].y_label.contains("(nm)"));
    assert!(rec.legend[0].contains("outside its tolerance"));

    let line = check(
        "line",
        line_figure(
            &d.join("l.png"),
            "Total volume fraction",
            &key_axis_label("sample.thickness_nm"),
            "|relative error|",
            &[("born".into(), vec![(5.0, 19.0), (10.0, 0.2)])],
            false,
            true,
        )
        .unwrap(),
        1,
    );
    assert_eq!(line.panels[0].x_label, "sample.thickness (nm)");
    assert_eq!(line.panels[0].y_label, "|relative error| (%)");
    assert_eq!(line.panels[0].legend, ["born"]);

    for f in ["v", "i", "p", "s", "a", "r", "l"] {
        png_ok(&d.join(format!("{f}.png")));
    }
    let specs = write_all(d, r, m, &overlay, &curves).unwrap();
    assert_eq!(specs.len(), FIGURE_FILES.len());
    for f in FIGURE_FILES {
        png_ok(&d.join(f));
    }
}

#[test]
fn the_summary_takes_more_methods_and_a_detectability_panel() {
    let dir = tempfile::tempdir().unwrap();
    let point = |group: &str, truth: f64, rec: [Option<f64>; 2]| SummaryPoint {
        group: group.into(),
        truth,
        recovered: rec.to_vec(),
    };
    let mut s = Summary {
        title: "Validation summary: test".into(),
        verdict: "A tolerance failed: the volume fraction of n = 4 is 6 times the truth. "
            .repeat(4),
        passed: false,
        methods: vec!["Im et al. (2018)".into(), "another estimator".into()],
        quantities: vec![
            SummaryQuantity {
                label: "mean diameter".into(),
                tolerance: Some(0.25),
                points: vec![
                    point("2", 1.3, [Some(1.0), Some(1.25)]),
                    point("4", 1.3, [Some(0.0), None]),
                ],
            },
            SummaryQuantity {
                label: "volume fraction".into(),
                tolerance: Some(0.5),
                points: vec![point("all", 0.14, [Some(0.92), Some(0.15)])],
            },
        ],
        detectability: None,
    };
    let fig = check(
        "summary",
        summary_figure(&dir.path().join("s.png"), &s).unwrap(),
        2,
    );
    for want in [
        "recovered: Im et al. (2018)",
        "recovered: another estimator",
        "truth (ratio 1)",
    ] {
        assert!(fig.legend.iter().any(|l| l == want), "{fig:#?}");
    }
    assert!(fig.panels[0].title.contains("±25 %"), "{fig:#?}");
    assert_eq!(
        fig.panels[0].clipped.len(),
        2,
        "a zero is said to be clipped, a missing value to be missing: {fig:#?}"
    );
    assert!(fig.panels[0].clipped[1].contains("no value"), "{fig:#?}");
    assert!(
        fig.legend.iter().any(|l| l.contains("no value")),
        "the cross is in the legend: {fig:#?}"
    );
    png_ok(&dir.path().join("s.png"));

    s.detectability = Some(Detectability {
        title: "Signal against a no-MRO control".into(),
        y_label: "peak ⟨P_n⟩ (dimensionless)".into(),
        sample_label: "this sample".into(),
        control_label: "no-MRO control".into(),
        groups: vec![("2".into(), 0.3, 0.1), ("4".into(), 0.2, 0.1)],
    });
    let fig = check(
        "summary with control",
        summary_figure(&dir.path().join("c.png"), &s).unwrap(),
        3,
    );
    assert_eq!(fig.panels[2].legend, ["this sample", "no-MRO control"]);
    png_ok(&dir.path().join("c.png"));
}
