//! The commands end to end on the smoke scenario: glass, simulate, analyze, score, validate,
//! sweep; determinism across thread counts; no silent overwrites.

use crate::support::{expect_exit, mro, png_size, repo, run_mro, run_python, toml_files};
use std::path::PathBuf;

fn smoke() -> PathBuf {
    repo().join("scenarios/smoke/tiny.toml")
}

#[test]
fn glass_writes_extended_xyz_and_truth() {
    let dir = tempfile::tempdir().unwrap();
    expect_exit(&run_mro(&[&"glass", &smoke(), &"--out", &dir.path()]), 0);
    let xyz = std::fs::read_to_string(dir.path().join("atoms.xyz")).unwrap();
    let mut lines = xyz.lines();
    let n: usize = lines.next().unwrap().trim().parse().unwrap();
    let header = lines.next().unwrap();
    assert!(
        header.contains("Lattice=\"160") && header.contains("Properties=species:S:1:pos:R:3"),
        "{header}"
    );
    assert!(header.contains("pbc=\"T T F\""), "{header}");
    assert_eq!(lines.count(), n);
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
            .unwrap();
    assert_eq!(truth["schema"], "mro.truth/1");
    assert_eq!(truth["atoms"].as_u64().unwrap() as usize, n);
    assert!(truth["by_symmetry"]["4"]["count"].as_u64().unwrap() > 0);

    // A second run refuses to overwrite without --force.
    let again = run_mro(&[&"glass", &smoke(), &"--out", &dir.path()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn simulate_is_deterministic_across_threads_and_opens_in_numpy() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for (dir, threads) in dirs.iter().zip(["1", "2"]) {
        let out = mro()
            .env("RAYON_NUM_THREADS", threads)
            .arg("simulate")
            .arg(smoke())
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap();
        expect_exit(&out, 0);
    }
    for f in ["datacube.npy", "truth.json"] {
        let a = std::fs::read(dirs[0].path().join(f)).unwrap();
        let b = std::fs::read(dirs[1].path().join(f)).unwrap();
        assert!(a == b, "{f} differs between 1 and 2 threads");
    }
    let cube = dirs[0].path().join("datacube.npy");
    let Some(printed) = run_python(
        "import sys, json, numpy as np\n\
         a = np.load(sys.argv[1])\n\
         m = json.load(open(sys.argv[2]))\n\
         assert a.dtype == np.float32 and a.ndim == 4\n\
         assert m['schema'] == 'mro.meta/1' and m['calibration']['center_px'] == [32.0, 32.0]\n\
         assert (a >= 0).all() and np.isfinite(a).all()\n\
         print(a.shape, round(float(a.sum(axis=(2, 3)).mean()) / 1e5, 3))",
        &[
            cube.to_str().unwrap(),
            dirs[0].path().join("meta.json").to_str().unwrap(),
        ],
    ) else {
        return;
    };
    // 1e5 electrons per pattern; a little scattering leaves the detector.
    let line = printed.trim();
    assert!(line.starts_with("(32, 32, 64, 64) "), "{line}");
    let fraction: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        (0.9..=1.01).contains(&fraction),
        "counts per pattern / dose = {fraction}"
    );
}

#[test]
fn analyze_then_score_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |args: &[&dyn AsRef<std::ffi::OsStr>]| expect_exit(&run_mro(args), 0);
    ok(&[&"simulate", &smoke(), &"--out", &d.join("sim")]);
    ok(&[
        &"analyze",
        &d.join("sim/datacube.npy"),
        &"--out",
        &d.join("an"),
    ]);
    let analysis: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("an/analysis.json")).unwrap())
            .unwrap();
    assert_eq!(analysis["schema"], "mro.analysis/1");
    // The mro method's maps open in NumPy, one layer per n; its label image holds every listed
    // region (those touching the last row or column are listed but not counted).
    let listed: Vec<usize> = (1..=10)
        .map(|n| {
            let s = &analysis["mro"]["by_symmetry"][n.to_string()];
            let list = s["region_list"].as_array().unwrap();
            let counted = list.iter().filter(|r| r["counted"] == true).count();
            assert_eq!(s["regions"].as_u64().unwrap() as usize, counted, "n = {n}");
            list.len()
        })
        .collect();
    if let Some(printed) = run_python(
        "import sys, numpy as np\n\
         p = np.load(sys.argv[1] + '/mro_power_maps.npy')\n\
         l = np.load(sys.argv[1] + '/mro_region_labels.npy')\n\
         assert p.dtype == np.float32 and p.shape == l.shape and p.ndim == 3, (p.shape, l.shape)\n\
         assert (l[0] == 0).all()\n\
         print(p.shape, [int(l[n].max()) for n in range(1, p.shape[0])])",
        &[d.join("an").to_str().unwrap()],
    ) {
        let line = printed.trim();
        assert!(line.starts_with("(11, 32, 32) "), "{line}");
        assert_eq!(line.split_once(") ").unwrap().1, format!("{listed:?}"));
    }
    // `mro score` of the run into `d/NAME`, with extra arguments: its output and score.json.
    let score_into = |name: &str, extra: &[&dyn AsRef<std::ffi::OsStr>]| {
        let out = d.join(name);
        let (truth, analysis) = (d.join("sim/truth.json"), d.join("an/analysis.json"));
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"score", &truth, &analysis];
        args.extend_from_slice(extra);
        args.extend([&"--out" as &dyn AsRef<std::ffi::OsStr>, &out]);
        let run = run_mro(&args);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        (run, json)
    };
    let (scored, score) = score_into("score.json", &[]);
    // Not even --force writes the score over a file being scored, or a directory.
    for target in [d.join("an/analysis.json"), d.join("an")] {
        let (truth, analysis) = (d.join("sim/truth.json"), d.join("an/analysis.json"));
        let run = run_mro(&[&"score", &truth, &analysis, &"--out", &target, &"--force"]);
        let err = String::from_utf8_lossy(&run.stderr).to_string();
        expect_exit(&run, 2);
        assert!(
            err.contains("is an input of this score") || err.contains("is a directory"),
            "{err}"
        );
    }
    let table = String::from_utf8_lossy(&scored.stdout);
    assert!(
        table.contains("volume_fraction") && table.contains("odd/even"),
        "{table}"
    );
    assert_eq!(score["schema"], "mro.score/1");
    // As `validate`: exit status 3 exactly when a score is outside its tolerance.
    let held = score["all_within_tolerance"].as_bool().unwrap();
    expect_exit(&scored, if held { 0 } else { 3 });
    // A tolerance no estimate can meet: exit status 3, and score.json written all the same.
    let strict = d.join("strict.toml");
    let checks = "checks = [\"diameter\", \"volume_fraction\"]";
    let smoke_text = std::fs::read_to_string(smoke()).unwrap();
    assert!(
        smoke_text.contains(checks),
        "the smoke scenario's [scoring] changed"
    );
    std::fs::write(
        &strict,
        smoke_text.replace(
            checks,
            &format!("diameter = 1e-9\nvolume_fraction = 1e-9\n{checks}"),
        ),
    )
    .unwrap();
    let (missed, strict_score) = score_into("strict.json", &[&"--scenario", &strict]);
    expect_exit(&missed, 3);
    // The scenario's [analysis] differs from the one the analysis used: said, not applied.
    let warned = String::from_utf8_lossy(&missed.stderr);
    assert!(
        warned.contains("warning") && warned.contains("analysis.in_condition_fraction = 1"),
        "{warned}"
    );
    assert_eq!(strict_score["all_within_tolerance"], false);
    assert!(score["rows"].as_array().unwrap().len() > 10);
    // Kinematic patterns are Friedel-symmetric: odd harmonics only from shot noise.
    assert!(
        score["odd_even_ratio"].as_f64().unwrap() < 0.05,
        "{}",
        score["odd_even_ratio"]
    );
}

#[test]
fn validate_smoke_passes_and_writes_a_linked_report() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = expect_exit(&run_mro(&[&"validate", &smoke(), &"--out", &dir.path()]), 0);
    assert!(stdout.contains("every tolerance held: yes"), "{stdout}");
    let report = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let mut links = 0;
    for part in report.split("](").skip(1) {
        let target = part.split(')').next().unwrap();
        assert!(
            dir.path().join(target).is_file(),
            "report links a missing {target}"
        );
        let (w, h) = png_size(&dir.path().join(target));
        assert!(w >= 600 && h >= 400, "{target} is {w}×{h}");
        links += 1;
    }
    assert_eq!(links, 7, "{report}");
    assert!(
        !dir.path().join("datacube.npy").exists(),
        "the datacube is removed unless kept"
    );
    let csv = std::fs::read_to_string(dir.path().join("scores.csv")).unwrap();
    assert!(csv.starts_with("scenario,quantity,method,symmetry,truth,recovered"));
    let timings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("timings.json")).unwrap())
            .unwrap();
    assert!(timings["simulate_s"].as_f64().unwrap() > 0.0, "{timings}");

    // Running the same command again regenerates its own output without --force (the control
    // is skipped from here on: these checks are about the files, not the control) ...
    expect_exit(
        &run_mro(&[
            &"validate",
            &smoke(),
            &"--out",
            &dir.path(),
            &"--no-control",
        ]),
        0,
    );
    // ... but a directory it did not write is protected.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("report.md"), "my notes").unwrap();
    expect_exit(
        &run_mro(&[
            &"validate",
            &smoke(),
            &"--out",
            &other.path(),
            &"--no-control",
        ]),
        2,
    );
    assert_eq!(
        std::fs::read_to_string(other.path().join("report.md")).unwrap(),
        "my notes"
    );
}

/// The two validation scenarios that cost most (a 256 × 256 scan of an 82 nm field; a 20 nm
/// Born foil at the converged 12.5 nm window): together over half of the suite's time, so
/// `cargo test` leaves them to [`the_large_validation_scenarios_meet_their_tolerances`].
const LARGE_VALIDATION: [&str; 2] = ["correlated.toml", "thickness_sweep.toml"];

fn validation_scenarios(large: bool) -> Vec<PathBuf> {
    toml_files(&repo().join("scenarios/validation"))
        .into_iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_str().unwrap();
            LARGE_VALIDATION.contains(&name) == large
        })
        .collect()
}

#[test]
fn the_smaller_validation_scenarios_meet_their_tolerances() {
    let files = validation_scenarios(false);
    assert!(files.len() >= 6, "{files:?}");
    // A renamed large scenario would otherwise drop out of both tests unnoticed.
    assert_eq!(
        validation_scenarios(true).len(),
        LARGE_VALIDATION.len(),
        "{LARGE_VALIDATION:?} in scenarios/validation"
    );
    validate_meets_tolerances(&files);
}

/// Run before committing `reports/validation` (whose regeneration checks every scenario too):
/// `cargo test --release --test tests large_validation -- --ignored`.
#[test]
#[ignore = "about 3 min in release (193 s on 2026-12-04), longer in a test build: run with --ignored"]
fn the_large_validation_scenarios_meet_their_tolerances() {
    let files = validation_scenarios(true);
    assert_eq!(files.len(), LARGE_VALIDATION.len(), "{files:?}");
    validate_meets_tolerances(&files);
}

fn validate_meets_tolerances(files: &[PathBuf]) {
    let dir = tempfile::tempdir().unwrap();
    // The tolerances, not detectability, are the point here: skip the controls.
    let out = mro()
        .arg("validate")
        .args(files)
        .arg("--no-control")
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = expect_exit(&out, 0);
    assert_eq!(
        stdout.matches("every tolerance held: yes").count(),
        files.len(),
        "{stdout}"
    );
}

#[test]
fn validate_returns_3_when_a_tolerance_fails() {
    let dir = tempfile::tempdir().unwrap();
    let hard = dir.path().join("hard.toml");
    // Small randomly oriented clusters, a few in condition, heavy shot noise, and tolerances no
    // measurement can meet.
    std::fs::write(
        &hard,
        "schema = \"mro.scenario/1\"\nname = \"hard\"\n[sample]\nextent_nm = [8.0, 8.0]\nthickness_nm = 6.0\n\
         [[clusters]]\nsymmetry = 8\ndiameter_nm = 0.8\nvolume_fraction = 0.01\n\
         [scan]\npoints = [16, 16]\nstep_nm = 0.5\n[detector]\npixels = [64, 64]\nelectrons_per_pattern = 1e3\n\
         [scoring]\nvolume_fraction = 0.01\n",
    )
    .unwrap();
    let stdout = expect_exit(
        &run_mro(&[
            &"validate",
            &hard,
            &"--out",
            &dir.path().join("o"),
            &"--no-control",
        ]),
        3,
    );
    assert!(stdout.contains("every tolerance held: NO"), "{stdout}");
}

#[test]
fn sweep_resumes_without_redoing_points() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sweep");
    let sweep = || {
        let out = run_mro(&[
            &"sweep",
            &smoke(),
            &"--set",
            &"sample.thickness_nm=4,6",
            &"--set",
            &"model.kind=kinematic,born",
            &"--jobs",
            &"2",
            &"--out",
            &out_dir,
        ]);
        expect_exit(&out, 0)
    };
    let first = sweep();
    assert!(first.starts_with("4 points (0 already done)"), "{first}");
    let csv = std::fs::read_to_string(out_dir.join("sweep.csv")).unwrap();
    assert!(csv.starts_with("point,sample.thickness_nm,model.kind,quantity"));
    // Every point ran its no-MRO control: one detectability verdict per point.
    assert_eq!(csv.matches(",mro_detectable,").count(), 4, "{csv}");
    assert!(csv.contains(",difference_sigma,,4,"), "{csv}");
    // Every line has the header's columns (the detectability rows once had one too few, their
    // n in the method column), and no float carries arithmetic noise.
    let columns = csv.lines().next().unwrap().split(',').count();
    for line in csv.lines() {
        assert_eq!(line.split(',').count(), columns, "{line}");
        assert!(
            !line.contains("00000000000") && !line.contains("99999999999"),
            "{line}"
        );
    }
    assert!(png_size(&out_dir.join("sweep_odd_even_ratio.png")).0 >= 600);
    let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(report.contains("seed 7 for every point"), "{report}");
    assert!(
        report.contains("total with the no-MRO control) |"),
        "{report}"
    );
    let timed = report.lines().filter(|l| l.contains(" s (")).count();
    assert_eq!(timed, 5, "the run's time and one per point: {report}");

    // Interrupt one point (its score never written) and resume: only that point runs again.
    let partial = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("p002"))
        .unwrap();
    std::fs::remove_file(partial.join("score.json")).unwrap();
    let stamp = std::fs::metadata(
        out_dir.join("p000-sample.thickness_nm=4-model.kind=kinematic/score.json"),
    )
    .unwrap()
    .modified()
    .unwrap();
    let second = sweep();
    assert!(second.starts_with("4 points (3 already done)"), "{second}");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("sweep.csv")).unwrap(),
        csv
    );
    let stamp2 = std::fs::metadata(
        out_dir.join("p000-sample.thickness_nm=4-model.kind=kinematic/score.json"),
    )
    .unwrap()
    .modified()
    .unwrap();
    assert_eq!(stamp, stamp2, "a finished point was redone");

    // A different sweep in the same directory is refused.
    let out = run_mro(&[
        &"sweep",
        &smoke(),
        &"--set",
        &"sample.thickness_nm=4",
        &"--out",
        &out_dir,
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// `sweep.csv` ends every line with its point's detectability level and the maps that moved
/// elsewhere, as its `score.json` gives them, and still parses with Python's `csv` and NumPy.
#[test]
fn sweep_csv_gives_each_points_detectability() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let run = run_mro(&[&"sweep", &smoke(), &"--set", &"seed=7,8", &"--out", &out]);
    // (3: a point missing a tolerance is a finding; the files are complete all the same.)
    assert!(
        matches!(run.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let path = out.join("sweep.csv");
    let csv = std::fs::read_to_string(&path).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header[header.len() - 2..],
        ["detectability", "moved_elsewhere"],
        "{header:?}"
    );
    for (point, seed) in [(0, 7), (1, 8)] {
        let score: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("p00{point}-seed={seed}/score.json")))
                .unwrap(),
        )
        .unwrap();
        let d = &score["detectability"];
        let moved: Vec<String> = d["moved_elsewhere"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let level = if d["detectable"].as_bool().unwrap() {
            ["detectable", "partly_detectable"].as_slice()
        } else {
            [
                "not_detectable",
                "nothing_in_condition",
                "out_of_condition",
                "beyond_n_max",
            ]
            .as_slice()
        };
        let lines: Vec<&str> = csv
            .lines()
            .filter(|l| l.starts_with(&format!("{point},")))
            .collect();
        assert!(lines.len() > 10, "{csv}");
        for line in lines {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{line}");
            let [word, maps] = fields[fields.len() - 2..] else {
                unreachable!()
            };
            assert!(level.contains(&word), "{line}: {d}");
            assert_eq!(maps, moved.join(";"), "{line}");
        }
    }
    let Some(printed) = run_python(
        "import sys, csv, numpy as np\n\
         rows = list(csv.reader(open(sys.argv[1], newline='')))\n\
         assert len({len(r) for r in rows}) == 1, 'ragged rows'\n\
         a = np.genfromtxt(sys.argv[1], delimiter=',', names=True, dtype=None, encoding='utf-8')\n\
         assert len(a) == len(rows) - 1\n\
         print(len(rows[0]), sorted({r[-2] for r in rows[1:]}))",
        &[path.to_str().unwrap()],
    ) else {
        return;
    };
    assert!(
        printed.starts_with(&format!("{} [", header.len())),
        "{printed}"
    );
}

#[test]
fn sweep_rejects_unknown_keys_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_mro(&[
        &"sweep",
        &smoke(),
        &"--set",
        &"sample.thicknes_nm=4,6",
        &"--out",
        &dir.path(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sample.thicknes_nm: no such scenario key")
    );
}

#[test]
fn sweep_axes_come_from_the_file_and_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.toml");
    let smoke_text = std::fs::read_to_string(smoke()).unwrap();
    std::fs::write(
        &base,
        format!("{smoke_text}\n[[sweep]]\nkey = \"sample.thickness_nm\"\nvalues = [4, 6]\n"),
    )
    .unwrap();
    let from_file = expect_exit(
        &run_mro(&[&"sweep", &base, &"--out", &dir.path().join("file")]),
        0,
    );
    assert!(from_file.starts_with("2 points"), "{from_file}");
    let csv = std::fs::read_to_string(dir.path().join("file/sweep.csv")).unwrap();
    assert!(
        csv.starts_with("point,sample.thickness_nm,quantity"),
        "{csv}"
    );

    // --set replaces the file's axis of the same key.
    let replaced = expect_exit(
        &run_mro(&[
            &"sweep",
            &base,
            &"--set",
            &"sample.thickness_nm=5",
            &"--out",
            &dir.path().join("replaced"),
        ]),
        0,
    );
    assert!(replaced.starts_with("1 point ("), "{replaced}");

    // No axes at all is bad input that names the file.
    let out = run_mro(&[&"sweep", &smoke(), &"--out", &dir.path().join("none")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tiny.toml: nothing to sweep"), "{stderr}");
}

#[test]
fn frozen_phonons_without_a_displacement_for_an_element_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("cu.toml");
    std::fs::write(
        &s,
        "schema = \"mro.scenario/1\"\n[sample]\ncomposition = { Zr = 0.5, Cu = 0.5 }\n\
         extent_nm = [4.0, 4.0]\nthickness_nm = 2.0\n[[clusters]]\nsymmetry = 4\n\
         volume_fraction = 0.0\n[scan]\npoints = [2, 2]\nstep_nm = 0.5\n\
         [detector]\npixels = [64, 64]\n[thermal]\nconfigurations = 2\n",
    )
    .unwrap();
    let out = run_mro(&[&"simulate", &s, &"--out", &dir.path().join("o")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("thermal.rms_displacement_nm.Cu"),
        "the error names the field: {err}"
    );
}

#[test]
fn sweep_exits_3_when_a_point_misses_a_tolerance_as_validate_does() {
    let dir = tempfile::tempdir().unwrap();
    // A diameter tolerance of 10⁻⁹ cannot hold; the run still completes every file.
    let out = run_mro(&[
        &"sweep",
        &smoke(),
        &"--set",
        &"scoring.diameter=1e-9",
        &"--no-control",
        &"--out",
        &dir.path(),
    ]);
    let stdout = expect_exit(&out, 3);
    assert!(stdout.contains("tolerances FAILED"), "{stdout}");
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    assert!(csv.contains("all_within_tolerance,,,,0"), "{csv}");
    // The time column says its totals hold no control.
    let report = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        report.contains("= total; run without the no-MRO control) |"),
        "{report}"
    );
}

#[test]
fn analyze_with_the_scenario_as_config_gives_validates_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = run_mro(&[
        &"validate",
        &smoke(),
        &"--no-control",
        &"--keep-datacube",
        &"--out",
        &run,
    ]);
    expect_exit(&out, 0);
    let again = dir.path().join("again");
    let out = run_mro(&[
        &"analyze",
        &run.join("datacube.npy"),
        &"--config",
        &smoke(),
        &"--no-figures",
        &"--out",
        &again,
    ]);
    let stdout = expect_exit(&out, 0);
    assert!(
        stdout.contains("analysis settings (from ")
            && stdout.contains("\"in_condition_fraction\":1.0"),
        "{stdout}"
    );
    let read = |p: PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
    };
    let validated = read(run.join("analysis.json"));
    let analyzed = read(again.join("analysis.json"));
    assert_eq!(analyzed["config"], validated["config"]);
    assert_eq!(analyzed, validated);
}

/// A noise-free mro datacube analysed without settings is not "corrected" for shot noise it
/// does not have: `analyze` takes the simulated detector's gain (0) from meta.json, as `validate`
/// does, and finds the planted clusters; a gain the user sets is kept, with a warning.
#[test]
fn analyze_takes_the_shot_noise_of_the_simulated_detector_from_meta_json() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(smoke()).unwrap().replace(
        "electrons_per_pattern = 1e5",
        "electrons_per_pattern = \"inf\"",
    );
    assert!(text.contains("\"inf\""), "the smoke scenario sets a dose");
    let scenario = dir.path().join("noise_free.toml");
    std::fs::write(&scenario, text).unwrap();
    let sim = dir.path().join("sim");
    expect_exit(&run_mro(&[&"simulate", &scenario, &"--out", &sim]), 0);
    let read = |p: PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
    };
    let analyze = |out: &str, config: Option<&PathBuf>| {
        let mut cmd = mro();
        cmd.arg("analyze")
            .arg(sim.join("datacube.npy"))
            .args(["--no-figures", "--out"])
            .arg(dir.path().join(out));
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let o = cmd.output().unwrap();
        let stdout = expect_exit(&o, 0);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        (
            stdout,
            stderr,
            read(dir.path().join(out).join("analysis.json")),
        )
    };
    let regions = |a: &serde_json::Value| a["mro"]["by_symmetry"]["4"]["regions"].as_u64().unwrap();

    let (stdout, _, taken) = analyze("default", None);
    assert!(
        stdout.contains("shot noise from the simulated detector (")
            && stdout.contains(
                "meta.json: provenance.resolved_scenario.detector): poisson_gain = 0 (noise-free: \
                 no shot noise to remove), detector_psf_sigma_px = 0.3"
            )
            && stdout.contains("analysis settings (built in, but the shot noise above;"),
        "{stdout}"
    );
    assert_eq!(taken["config"]["poisson_gain"], 0.0);
    assert!(regions(&taken) > 0, "{}", taken["mro"]["by_symmetry"]["4"]);

    // An [analysis] table that names the gain keeps it; one that does not takes the detector's.
    let gain_1 = dir.path().join("gain_1.toml");
    std::fs::write(&gain_1, "[analysis]\npoisson_gain = 1.0\n").unwrap();
    let (_, stderr, kept) = analyze("gain_1", Some(&gain_1));
    assert!(
        stderr.contains(
            "gain_1.toml: analysis.poisson_gain = 1 differs from the simulated detector's 0"
        ),
        "{stderr}"
    );
    assert_eq!(kept["config"]["poisson_gain"], 1.0);
    // Both named, or a scenario as --config (its [detector] gives both): kept, warned about.
    let both = dir.path().join("both.toml");
    std::fs::write(
        &both,
        "[analysis]\npoisson_gain = 1.0\ndetector_psf_sigma_px = 0.3\n",
    )
    .unwrap();
    let (_, stderr, _) = analyze("both", Some(&both));
    assert!(
        stderr.contains(
            "both.toml: analysis.poisson_gain = 1 differs from the simulated detector's 0"
        ),
        "{stderr}"
    );
    let (_, stderr, _) = analyze("scenario", Some(&smoke()));
    assert!(
        stderr.contains(
            "tiny.toml: its [detector] implies poisson_gain = 1, unlike the simulated detector's 0"
        ),
        "{stderr}"
    );
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "[analysis]\nin_condition_fraction = 1.0\n").unwrap();
    let (_, _, other) = analyze("other", Some(&other));
    assert_eq!(other["config"]["poisson_gain"], 0.0);
    assert_eq!(regions(&other), regions(&taken));

    // A meta file whose detector no scenario allows is refused, naming the file and the field.
    let mut meta = read(sim.join("meta.json"));
    meta["provenance"]["resolved_scenario"]["detector"]["gain"] = serde_json::json!(-1.0);
    let bad = dir.path().join("bad_meta.json");
    std::fs::write(&bad, serde_json::to_string(&meta).unwrap()).unwrap();
    let out = run_mro(&[
        &"analyze",
        &sim.join("datacube.npy"),
        &"--meta",
        &bad,
        &"--out",
        &dir.path().join("bad"),
    ]);
    expect_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad_meta.json: field `provenance.resolved_scenario.detector.gain` = -1.0"),
        "{stderr}"
    );
    // A missing key too; but a detector whose settings the user gives is not read.
    meta["provenance"]["resolved_scenario"]["detector"]
        .as_object_mut()
        .unwrap()
        .remove("gain");
    std::fs::write(&bad, serde_json::to_string(&meta).unwrap()).unwrap();
    let args = |config: Option<&PathBuf>| {
        let mut cmd = mro();
        cmd.arg("analyze")
            .arg(sim.join("datacube.npy"))
            .arg("--meta")
            .arg(&bad)
            .args(["--no-figures", "--force", "--out"])
            .arg(dir.path().join("bad"));
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        cmd.output().unwrap()
    };
    let out = args(None);
    expect_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("field `provenance.resolved_scenario.detector.gain` = missing"),
        "{stderr}"
    );
    let both = dir.path().join("both_right.toml");
    std::fs::write(
        &both,
        "[analysis]\npoisson_gain = 0.0\ndetector_psf_sigma_px = 0.3\n",
    )
    .unwrap();
    let out = args(Some(&both));
    expect_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("detector.gain` = missing") && stderr.contains("not used, as "),
        "{stderr}"
    );
}

/// `n_max = 1` is accepted by `check`, so it runs and round-trips (issue 13): the odd/even
/// ratio and the totals are `null` with a reason, not numbers; `score` reads the files back;
/// the detectability verdict says the planted n = 4 lies beyond the analysis.
#[test]
fn n_max_1_runs_and_round_trips_with_nulls_and_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(smoke())
        .unwrap()
        .replace("[analysis]", "[analysis]\nn_max = 1");
    assert!(
        text.contains("n_max = 1"),
        "the smoke scenario has an [analysis] table"
    );
    let scenario = dir.path().join("n1.toml");
    std::fs::write(&scenario, text).unwrap();
    expect_exit(&run_mro(&[&"check", &scenario]), 0);
    let out = dir.path().join("out");
    // The planted 4- and 6-fold clusters are above n_max: never measured, so, as `mro check`
    // warns, not scored — shown without a value and held to no tolerance.
    let stdout = expect_exit(&run_mro(&[&"validate", &scenario, &"--out", &out]), 0);
    assert!(stdout.contains("not assessed"), "{stdout}");
    assert!(!stdout.contains("-0.0000"), "{stdout}");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap()
    };
    let analysis = read("analysis.json");
    assert!(analysis["power_spectrum"]["odd_even_ratio"].is_null());
    assert!(analysis["mro"]["total_volume_fraction"].is_null());
    let reason = analysis["mro"]["null_reasons"]["total_volume_fraction"]
        .as_str()
        .unwrap();
    assert!(reason.contains("n_max = 1"), "{reason}");
    let score = read("score.json");
    assert!(score["odd_even_ratio"].is_null());
    for row in score["rows"].as_array().unwrap() {
        assert!(row["within_tolerance"].is_null(), "{row}");
    }
    let csv = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    assert!(csv.contains(",odd_even_ratio,,,,,"), "{csv}");
    expect_exit(
        &run_mro(&[
            &"score",
            &out.join("truth.json"),
            &out.join("analysis.json"),
            &"--scenario",
            &scenario,
            &"--out",
            &dir.path().join("again.json"),
        ]),
        0,
    );
    // Both files record the run (scenario and seed).
    assert_eq!(analysis["provenance"], read("truth.json")["provenance"]);
    assert!(analysis["provenance"]["seed"].is_u64(), "{analysis}");
    // An analysis of another sample (another run's seed, a thicker foil, or a scan field
    // beyond the truth's extent) is refused with the field named.
    for (pointer, field) in [
        ("/provenance/seed", "provenance.seed"),
        ("/calibration/thickness_nm", "calibration.thickness_nm"),
        ("/input/scan_shape/1", "input.scan_shape[1]"),
    ] {
        let mut other = analysis.clone();
        let v = other.pointer_mut(pointer).unwrap();
        *v = match v.as_u64() {
            Some(points) => serde_json::json!(points * 100),
            None => serde_json::json!(v.as_f64().unwrap() * 100.0),
        };
        let path = dir.path().join("other.json");
        std::fs::write(&path, other.to_string()).unwrap();
        let out = run_mro(&[&"score", &out.join("truth.json"), &path]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        expect_exit(&out, 2);
        assert!(
            err.contains(field) && err.contains("truth's own run"),
            "{err}"
        );
    }
}

/// Settings that are refused are not printed as the settings used: the error comes first and
/// alone.
#[test]
fn a_refused_config_prints_no_settings_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = repo().join("tests/data/bad-inputs");
    let config = dir.path().join("analysis.toml");
    std::fs::write(&config, "[analysis]\ndetector_psf_sigma_px = -1.0\n").unwrap();
    let out = run_mro(&[
        &"analyze",
        &data.join("_cube.npy"),
        &"--meta",
        &data.join("_meta.json"),
        &"--config",
        &config,
        &"--no-figures",
        &"--out",
        &dir.path().join("out"),
    ]);
    let stdout = expect_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("field `analysis.detector_psf_sigma_px` = -1"),
        "{stderr}"
    );
    assert!(!stdout.contains("analysis settings"), "{stdout}");
}

/// An analysis TOML holds one `[analysis]` table and nothing else: another table (here a
/// misplaced `[scoring]`), an array of tables and a misspelt table are each refused with the
/// file and what is wrong, not silently left unread.
#[test]
fn an_analysis_toml_with_another_table_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = repo().join("tests/data/bad-inputs");
    let config = dir.path().join("analysis.toml");
    for (text, needle) in [
        (
            "[analysis]\nk_per_nm = 4.0\n[scoring]\ndiameter = 0.1\n",
            "analysis.toml: field `scoring`",
        ),
        (
            "[[analysis]]\nk_per_nm = 4.0\n",
            "analysis.toml: field `analysis` is an array",
        ),
        (
            "[analysys]\nk_per_nm = 4.0\n",
            "analysis.toml: no [analysis] table (the file holds `analysys`)",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = run_mro(&[
            &"analyze",
            &data.join("_cube.npy"),
            &"--meta",
            &data.join("_meta.json"),
            &"--config",
            &config,
            &"--no-figures",
            &"--out",
            &dir.path().join("out"),
        ]);
        expect_exit(&out, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{stderr}");
    }
}

/// The report's forward-model row says how much of the probe's intensity was added back as a
/// background (`[model] probe_tail_background`, on by default): at m = 1 on the smoke detector
/// 1 − Σw²/Σw = 7.4 % of the area-sampled aperture, beside the Airy tail beyond the window's
/// half-width, 5.7 %. Turned off, the row says nothing of a background.
#[test]
fn validate_reports_the_probe_tail_background() {
    let dir = tempfile::tempdir().unwrap();
    let line = "window_oversampling = 1\n";
    let text = std::fs::read_to_string(smoke()).unwrap();
    assert!(text.contains(line), "the smoke scenario's [model] changed");
    let row =
        "probe tail beyond it 5.7 %; 7.4 % of the probe's intensity added back as a background";
    for (name, extra) in [("on", ""), ("off", "probe_tail_background = false\n")] {
        let scenario = dir.path().join(format!("{name}.toml"));
        std::fs::write(&scenario, text.replace(line, &format!("{line}{extra}"))).unwrap();
        let out = dir.path().join(name);
        let status = run_mro(&[&"validate", &scenario, &"--no-control", &"--out", &out])
            .status
            .code();
        assert!(matches!(status, Some(0 | 3)), "{name}: {status:?}");
        let report = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert_eq!(report.contains(row), extra.is_empty(), "{name}: {report}");
        assert_eq!(
            report.contains("added back"),
            extra.is_empty(),
            "{name}: {report}"
        );
    }
}
