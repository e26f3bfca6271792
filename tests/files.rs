//! Files are never lost or half-written, runs refuse what cannot fit, and messages name the
//! path once (issue 15): one test per case, and runs killed at random points that a rerun
//! completes to the bytes of an uninterrupted run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{expect_exit, mro, run_mro};

/// A scenario small enough that a whole validation takes about a second.
const MINI: &str = r#"schema = "mro.scenario/1"
name = "mini"
seed = 3
[sample]
extent_nm = [8.0, 8.0]
thickness_nm = 4.0
[[clusters]]
symmetry = 4
diameter_nm = 2.0
volume_fraction = 0.05
orientation = "aligned"
[scan]
points = [16, 16]
step_nm = 0.5
[detector]
pixels = [64, 64]
electrons_per_pattern = 1e5
[analysis]
in_condition_fraction = 1.0
[scoring]
checks = ["diameter", "volume_fraction"]
"#;

fn write_scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Every file under `dir` (relative path → bytes), walking subdirectories.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Files that record wall-clock time (and so differ between any two runs): their names are
/// compared, not their bytes.
fn timed(name: &str) -> bool {
    ["timings.json", "meta.json", "report.md", "report.html"]
        .iter()
        .any(|t| name.ends_with(t))
}

fn assert_same_tree(expected: &Path, got: &Path, context: &str) {
    let (a, b) = (tree(expected), tree(got));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{context}: different files"
    );
    for (name, bytes) in &a {
        if name.ends_with(".mro-output") {
            assert_eq!(
                untimed_marker(bytes),
                untimed_marker(&b[name]),
                "{context}: {name} differs"
            );
        } else if !timed(name) {
            assert!(bytes == &b[name], "{context}: {name} differs");
        }
    }
}

/// A marker's text with the recorded sizes and CRCs of the timed files left out (their names
/// stay).
fn untimed_marker(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(
            |l| match l.strip_prefix("file: ").and_then(|r| r.split(' ').next()) {
                // `file: NAME BYTES CRC`: mro's file names hold no space.
                Some(name) if timed(name) => format!("file: {name}"),
                _ => l.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `args` in a child and SIGKILLs it after `after` unless it finished first.
fn kill_after(args: &[&dyn AsRef<std::ffi::OsStr>], after: Duration) {
    let mut child = mro()
        .args(args.iter().map(|a| a.as_ref()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < after {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Child::kill sends SIGKILL on Unix.
    let _ = child.kill();
    child.wait().unwrap();
}

/// Kills `args` at `kills` random points within the uninterrupted run's duration, reruns it
/// to completion after each, and checks the rerun's files against the uninterrupted run's.
fn kill_and_rerun(args: impl Fn(&Path) -> Vec<std::ffi::OsString>, kills: usize, seed: u64) {
    let work = tempfile::tempdir().unwrap();
    let reference = work.path().join("reference");
    let a = args(&reference);
    let a: Vec<&dyn AsRef<std::ffi::OsStr>> = a.iter().map(|s| s as _).collect();
    let start = Instant::now();
    expect_exit(&run_mro(&a), 0);
    let full = start.elapsed();
    // splitmix64: kill times that are random but the same on every run of the test.
    let mut state = seed;
    let mut uniform = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    };
    for k in 0..kills {
        let dir = work.path().join(format!("killed{k}"));
        let b = args(&dir);
        let b: Vec<&dyn AsRef<std::ffi::OsStr>> = b.iter().map(|s| s as _).collect();
        // Kill once or twice in a row, then rerun; a run killed after its marker said complete
        // has finished (and `glass` refuses to redo a complete directory without --force).
        let complete = || {
            std::fs::read_to_string(dir.join(".mro-output"))
                .is_ok_and(|m| m.contains("status: complete"))
        };
        for _ in 0..1 + usize::from(uniform() < 0.5) {
            if !complete() {
                kill_after(&b, full.mul_f64(1.1 * uniform()));
            }
        }
        if !complete() {
            expect_exit(&run_mro(&b), 0);
        }
        assert_same_tree(&reference, &dir, &format!("kill {k}"));
    }
}

#[test]
fn glass_killed_at_random_points_is_completed_by_the_rerun_byte_for_byte() {
    let d = tempfile::tempdir().unwrap();
    let s = write_scenario(d.path(), "mini.toml", MINI);
    kill_and_rerun(
        |out| vec!["glass".into(), s.clone().into(), "--out".into(), out.into()],
        8,
        15,
    );
}

#[test]
fn sweep_killed_at_random_points_is_completed_by_the_rerun_byte_for_byte() {
    let d = tempfile::tempdir().unwrap();
    let s = write_scenario(d.path(), "mini.toml", MINI);
    kill_and_rerun(
        |out| {
            vec![
                "sweep".into(),
                s.clone().into(),
                "--set".into(),
                "seed=3,4".into(),
                "--out".into(),
                out.into(),
            ]
        },
        4,
        16,
    );
}

#[test]
fn half_written_and_truncated_sweep_points_are_redone_and_said() {
    let d = tempfile::tempdir().unwrap();
    let s = write_scenario(d.path(), "mini.toml", MINI);
    let out = d.path().join("sweep");
    let sweep = || run_mro(&[&"sweep", &s, &"--set", &"seed=3,4", &"--out", &out]);
    expect_exit(&sweep(), 0);
    let csv = std::fs::read(out.join("sweep.csv")).unwrap();
    let p0 = out.join("p000-seed=3");
    let p1 = out.join("p001-seed=4");

    // A truncated score.json: detected, redone, said.
    let score = std::fs::read(p0.join("score.json")).unwrap();
    std::fs::write(p0.join("score.json"), &score[..score.len() / 2]).unwrap();
    // A point whose run stopped before its completion marker.
    let marker = std::fs::read_to_string(p1.join(".mro-output")).unwrap();
    std::fs::write(
        p1.join(".mro-output"),
        marker.replace("status: complete", "status: incomplete"),
    )
    .unwrap();
    std::fs::remove_file(p1.join("report.md")).unwrap();

    let again = sweep();
    expect_exit(&again, 0);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("score.json: unreadable") && stderr.contains("running it again"),
        "{stderr}"
    );
    assert!(stderr.contains("incomplete"), "{stderr}");
    assert_eq!(std::fs::read(p0.join("score.json")).unwrap(), score);
    assert!(p1.join("report.md").is_file());
    assert_eq!(std::fs::read(out.join("sweep.csv")).unwrap(), csv);
    assert!(String::from_utf8_lossy(&again.stdout).contains("(0 already done)"));
}

#[test]
fn sweep_refuses_a_directory_of_the_users_files() {
    let d = tempfile::tempdir().unwrap();
    let s = write_scenario(d.path(), "mini.toml", MINI);
    let out = d.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("report.md"), "my notes").unwrap();
    std::fs::write(out.join("sweep.csv"), "my data").unwrap();
    let r = run_mro(&[&"sweep", &s, &"--set", &"seed=3,4", &"--out", &out]);
    expect_exit(&r, 2);
    assert!(String::from_utf8_lossy(&r.stderr).contains("--force"));
    assert_eq!(
        std::fs::read_to_string(out.join("report.md")).unwrap(),
        "my notes"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("sweep.csv")).unwrap(),
        "my data"
    );
}

#[test]
fn validate_keeps_scenarios_in_distinct_safe_directories_under_out() {
    let d = tempfile::tempdir().unwrap();
    let a = write_scenario(
        d.path(),
        "a.toml",
        &MINI.replace("name = \"mini\"", "name = \"../../escape\""),
    );
    let b = write_scenario(
        d.path(),
        "b.toml",
        &MINI.replace("name = \"mini\"", "name = \"/tmp/absolute\""),
    );
    let out = d.path().join("out");
    expect_exit(&run_mro(&[&"validate", &a, &b, &"--out", &out]), 0);
    let mut dirs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["_.._escape", "_tmp_absolute", "summary.md"]);
    assert!(!d.path().join("escape").exists());
    // The summary links each scenario's report in its safe directory.
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("(_.._escape/report.md)") && summary.contains("(_tmp_absolute/report.md)"),
        "{summary}"
    );
    // The summary as mro left it is replaced by a rerun; edited, it is the user's (exit 2,
    // named, untouched) until --force.
    expect_exit(&run_mro(&[&"validate", &a, &b, &"--out", &out]), 0);
    let edited = summary.replacen("# Validation summary", "# Validation summary — my notes", 1);
    std::fs::write(out.join("summary.md"), &edited).unwrap();
    let r = run_mro(&[&"validate", &a, &b, &"--out", &out]);
    expect_exit(&r, 2);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("summary.md")
            && stderr.contains("edited since")
            && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("summary.md")).unwrap(),
        edited
    );
    expect_exit(
        &run_mro(&[&"validate", &a, &b, &"--out", &out, &"--force"]),
        0,
    );
    assert_eq!(
        std::fs::read_to_string(out.join("summary.md")).unwrap(),
        summary
    );
    // A directory in the summary's place is refused before any work, even with --force.
    let dir_out = d.path().join("dir_out");
    std::fs::create_dir_all(dir_out.join("summary.md")).unwrap();
    let r = run_mro(&[&"validate", &a, &b, &"--out", &dir_out, &"--force"]);
    expect_exit(&r, 2);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("summary.md: is a directory"), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir_out).unwrap().count(), 1);

    // Two scenarios with the same (default) name: refused before any work.
    let nameless = MINI.replace("name = \"mini\"\n", "");
    let c = write_scenario(d.path(), "c.toml", &nameless);
    let e = write_scenario(d.path(), "e.toml", &nameless);
    let twice = d.path().join("twice");
    let r = run_mro(&[&"validate", &c, &e, &"--out", &twice]);
    expect_exit(&r, 2);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("give each a distinct `name`"), "{stderr}");
    assert!(!twice.exists());

    // A name too long for one file-name component: refused before any work, naming the field.
    let long = write_scenario(
        d.path(),
        "long.toml",
        &MINI.replace(
            "name = \"mini\"",
            &format!("name = \"{}\"", "a".repeat(300)),
        ),
    );
    let too_long = d.path().join("too_long");
    let r = run_mro(&[&"validate", &a, &long, &"--out", &too_long]);
    expect_exit(&r, 2);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("long.toml: field `name`"), "{stderr}");
    assert!(!too_long.exists());
}

#[test]
fn a_write_that_fails_names_the_path_once_and_leaves_no_partial_files() {
    // A file-size limit stands in for a full disk: writes past it fail with EFBIG.
    let d = tempfile::tempdir().unwrap();
    let s = write_scenario(d.path(), "mini.toml", MINI);
    let out = d.path().join("sim");
    let r = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 512; exec \"$0\" simulate \"$1\" --out \"$2\"")
        .arg(env!("CARGO_BIN_EXE_mro"))
        .arg(&s)
        .arg(&out)
        .output()
        .unwrap();
    expect_exit(&r, 2);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(stderr.matches("datacube.npy").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("File too large").count(), 1, "{stderr}");
    assert!(
        !out.exists(),
        "a failed run into a new directory leaves none"
    );
}

#[test]
fn runs_that_cannot_fit_are_refused_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    write_scenario(
        d.path(),
        "huge_scan.toml",
        "schema = \"mro.scenario/1\"\n[sample]\nextent_nm = [1000.0, 1000.0]\n[scan]\npoints = [4096, 4096]\nstep_nm = 0.2\n[detector]\npixels = [256, 256]\n",
    );
    write_scenario(
        d.path(),
        "huge_glass.toml",
        "schema = \"mro.scenario/1\"\n[sample]\nextent_nm = [1000.0, 1000.0]\nthickness_nm = 1000.0\n",
    );
    for args in [
        ["simulate", "huge_scan.toml"],
        ["validate", "huge_scan.toml"],
        ["glass", "huge_glass.toml"],
    ] {
        let r = mro()
            .current_dir(d.path())
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        expect_exit(&r, 2);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(
            stderr.contains("needs about") && stderr.contains("--force-size"),
            "{args:?}: {stderr}"
        );
        assert!(!out.exists(), "{args:?}");
    }
    // A 10⁹-point sweep is refused without building its points.
    let mini = write_scenario(d.path(), "mini.toml", MINI);
    let mut cmd = mro();
    cmd.arg("sweep").arg(&mini).arg("--out").arg(&out);
    for axis in ["seed", "clusters[0].diameter_nm", "analysis.k_per_nm"] {
        let values: Vec<String> = (0..1000)
            .map(|i| match axis {
                "seed" => i.to_string(),
                "clusters[0].diameter_nm" => format!("{}", 1.0 + i as f64 * 1e-4),
                _ => format!("{}", 3.9 + i as f64 * 1e-5),
            })
            .collect();
        cmd.arg("--set").arg(format!("{axis}={}", values.join(",")));
    }
    let r = cmd.output().unwrap();
    expect_exit(&r, 2);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("1000000000 points"), "{stderr}");
}

#[test]
fn unusable_out_paths_are_named_once_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    let s = write_scenario(d.path(), "mini.toml", MINI);
    let file = write_scenario(d.path(), "a-file", "x");
    let under = file.join("sub");
    for (command, out) in [("glass", &file), ("glass", &under), ("sweep", &file)] {
        let r = mro()
            .args([
                command.as_ref(),
                s.as_os_str(),
                "--out".as_ref(),
                out.as_os_str(),
            ])
            .args(
                ["--set", "seed=1,2"]
                    .iter()
                    .take(if command == "sweep" { 2 } else { 0 }),
            )
            .output()
            .unwrap();
        expect_exit(&r, 2);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(stderr.contains("is not a directory"), "{command}: {stderr}");
        let named = out.display().to_string();
        assert_eq!(stderr.matches(&named).count(), 1, "{command}: {stderr}");
    }
}

#[test]
fn a_sample_without_a_scan_gets_one_that_fits_it() {
    let d = tempfile::tempdir().unwrap();
    let s = write_scenario(
        d.path(),
        "noscan.toml",
        "schema = \"mro.scenario/1\"\n[sample]\nextent_nm = [16.0, 12.0]\nthickness_nm = 5.0\n[[clusters]]\nsymmetry = 4\ndiameter_nm = 2.0\nvolume_fraction = 0.03\n",
    );
    let out = expect_exit(&run_mro(&[&"check", &s]), 0);
    // 12 nm / 0.32 nm = 37 rows, 16 nm / 0.32 nm = 50 columns.
    assert!(out.contains("points = [\n    37,\n    50,\n]"), "{out}");
    assert!(out.contains("# cost estimate:"), "{out}");
}

/// A sweep's cost is its points', not the base scenario's: here the base has a point source and
/// an axis gives one point a source the quadrature must sum (the scan does not tile the sample).
#[test]
fn check_prices_a_sweep_by_its_costliest_point() {
    let d = tempfile::tempdir().unwrap();
    let s = write_scenario(
        d.path(),
        "source.toml",
        "schema = \"mro.scenario/1\"\n[sample]\nextent_nm = [8.0, 8.0]\nthickness_nm = 5.0\n\
         [scan]\npoints = [8, 8]\nstep_nm = 0.32\n[detector]\npixels = [64, 64]\n\
         [model]\nkind = \"kinematic\"\n\
         [[sweep]]\nkey = \"microscope.source_size_nm\"\nvalues = [0.0, 0.5]\n",
    );
    let out = expect_exit(&run_mro(&[&"check", &s]), 0);
    let base = out
        .lines()
        .find(|l| l.starts_with("# cost estimate:"))
        .unwrap();
    assert!(!base.contains("finite source"), "{out}");
    let sweep = out
        .lines()
        .skip_while(|l| !l.starts_with("# sweep cost: 2 points"))
        .collect::<Vec<_>>();
    assert!(
        sweep.len() >= 2 && sweep[0].contains("the costliest point, microscope.source_size_nm=0.5"),
        "{out}"
    );
    assert!(
        sweep[1].contains("summed by quadrature, 36 coherent passes per pattern")
            && sweep[1].contains("does not tile the sample"),
        "{out}"
    );
}

#[test]
fn slurm_dry_run_writes_a_job_array_over_the_pending_points() {
    let d = tempfile::tempdir().unwrap();
    let s = write_scenario(d.path(), "mini.toml", MINI);
    let out = d.path().join("sweep");
    let r = run_mro(&[
        &"sweep",
        &s,
        &"--set",
        &"seed=3,4,5",
        &"--out",
        &out,
        &"--slurm",
        &"--dry-run",
        &"--partition",
        &"short",
        &"--time",
        &"00:10:00",
        &"--cpus",
        &"2",
    ]);
    let stdout = expect_exit(&r, 0);
    let script = std::fs::read_to_string(out.join("slurm/sweep.sbatch")).unwrap();
    assert!(stdout.contains(&script), "{stdout}");
    for line in [
        "#SBATCH --array=0-2",
        "#SBATCH --partition=short",
        "#SBATCH --time=00:10:00",
        "#SBATCH --cpus-per-task=2",
        "--point \"$SLURM_ARRAY_TASK_ID\"",
    ] {
        assert!(script.contains(line), "{line}: {script}");
    }
    // A task runs its point; the others stay pending, and --collect lists them.
    let task = run_mro(&[
        &"sweep",
        &out.join("sweep.toml"),
        &"--out",
        &out,
        &"--point",
        &"1",
    ]);
    expect_exit(&task, 0);
    let collect = run_mro(&[&"sweep", &"--collect", &out]);
    expect_exit(&collect, 1);
    let stderr = String::from_utf8_lossy(&collect.stderr);
    assert!(
        stderr.contains("2 of 3 points have not finished: p000-seed=3, p002-seed=5"),
        "{stderr}"
    );
    // The rerun submits only those.
    let r = run_mro(&[
        &"sweep",
        &s,
        &"--set",
        &"seed=3,4,5",
        &"--out",
        &out,
        &"--slurm",
        &"--dry-run",
    ]);
    expect_exit(&r, 0);
    let script = std::fs::read_to_string(out.join("slurm/sweep.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0,2\n"), "{script}");
}

/// `--point` exits as the whole sweep does: 3 when its point misses a tolerance, whether it ran
/// the point or found it done, and 0 when the point held.
#[test]
fn sweep_point_exits_3_when_its_point_misses_a_tolerance() {
    let d = tempfile::tempdir().unwrap();
    let s = write_scenario(d.path(), "mini.toml", MINI);
    let out = d.path().join("sweep");
    // Point 0 holds its diameter to 10⁻⁹, which no measurement meets; point 1 judges nothing.
    let set_up = run_mro(&[
        &"sweep",
        &s,
        &"--set",
        &"scoring.diameter=1e-9",
        &"--set",
        &r#"scoring.checks=["diameter"],[]"#,
        &"--no-control",
        &"--out",
        &out,
        &"--slurm",
        &"--dry-run",
    ]);
    expect_exit(&set_up, 0);
    let point = |i: &str| {
        run_mro(&[
            &"sweep",
            &out.join("sweep.toml"),
            &"--out",
            &out,
            &"--point",
            &i,
        ])
    };
    let failed = expect_exit(&point("0"), 3);
    assert!(
        failed.contains("point 0: done") && failed.contains("tolerances FAILED"),
        "{failed}"
    );
    let again = expect_exit(&point("0"), 3);
    assert!(
        again.contains("point 0: already done; tolerances FAILED"),
        "{again}"
    );
    // `checks = []`: nothing is judged, which exits 0 and says so.
    let held = expect_exit(&point("1"), 0);
    assert!(held.contains("tolerances not judged"), "{held}");
}

/// A sweep warns about the scenarios its points run, not about base values every point
/// replaces; each distinct warning once, naming its points.
#[test]
fn sweep_warns_only_about_the_points_it_runs() {
    let d = tempfile::tempdir().unwrap();
    // ~61 clusters of 1.3 nm in 2400 nm³ stand at most about 3.81 nm apart: 5 nm is warned about.
    let s = write_scenario(
        d.path(),
        "spaced.toml",
        "schema = \"mro.scenario/1\"\n[sample]\nextent_nm = [20.0, 24.0]\nthickness_nm = 5.0\n\
         [model]\nwindow_oversampling = 1\n[[clusters]]\nsymmetry = 4\ndiameter_nm = 1.3\n\
         volume_fraction = 0.03\n[placement]\nmode = \"correlated\"\nnearest_neighbor_nm = 5.0\n",
    );
    let warnings = |name: &str, set: &str| -> Vec<String> {
        let r = run_mro(&[
            &"sweep",
            &s,
            &"--set",
            &set,
            &"--out",
            &d.path().join(name),
            &"--slurm",
            &"--dry-run",
        ]);
        expect_exit(&r, 0);
        String::from_utf8_lossy(&r.stderr)
            .lines()
            .filter(|l| l.starts_with("mro: warning:"))
            .map(str::to_string)
            .collect()
    };
    let none = warnings("closer", "placement.nearest_neighbor_nm=3,3.5");
    assert!(none.is_empty(), "{none:?}");
    let one = warnings("one", "placement.nearest_neighbor_nm=3,5");
    assert_eq!(one.len(), 1, "{one:?}");
    assert!(
        one[0].contains("spaced.toml: point 1 (placement.nearest_neighbor_nm=5): placement.nearest_neighbor_nm = 5 nm"),
        "{one:?}"
    );
    let every = warnings("seeds", "seed=1,2");
    assert_eq!(every.len(), 1, "{every:?}");
    assert!(
        every[0].contains("spaced.toml: every point: placement.nearest_neighbor_nm = 5 nm"),
        "{every:?}"
    );
}

/// `mro check` on a file with its own `[[sweep]]` axes warns as `mro sweep` does: about the
/// points, not the base value every point replaces.
#[test]
fn check_warns_about_a_sweep_files_points() {
    let d = tempfile::tempdir().unwrap();
    let base =
        "schema = \"mro.scenario/1\"\n[sample]\nextent_nm = [20.0, 24.0]\nthickness_nm = 5.0\n\
         [model]\nwindow_oversampling = 1\n[[clusters]]\nsymmetry = 4\ndiameter_nm = 1.3\n\
         volume_fraction = 0.03\n[placement]\nmode = \"correlated\"\nnearest_neighbor_nm = 5.0\n";
    let warnings = |name: &str, values: &str| -> Vec<String> {
        let f = write_scenario(
            d.path(),
            name,
            &format!(
                "{base}[[sweep]]\nkey = \"placement.nearest_neighbor_nm\"\nvalues = [{values}]\n"
            ),
        );
        let r = run_mro(&[&"check", &f]);
        expect_exit(&r, 0);
        String::from_utf8_lossy(&r.stderr)
            .lines()
            .filter(|l| l.starts_with("mro: warning:"))
            .map(str::to_string)
            .collect()
    };
    // The base's 5 nm is warned about on its own; every point replaces it here.
    assert!(warnings("closer.toml", "3.0, 3.5").is_empty());
    let two = warnings("far.toml", "3.0, 5.0, 5.5");
    assert_eq!(two.len(), 2, "{two:?}");
    assert!(
        two[0].contains("far.toml: point 1: placement.nearest_neighbor_nm = 5 nm"),
        "{two:?}"
    );
    assert!(two[1].contains("far.toml: point 2: "), "{two:?}");
}

#[test]
fn glass_checks_only_what_the_glass_needs() {
    let d = tempfile::tempdir().unwrap();
    // A valid glass whose scan leaves the sample and whose ring lies outside the detector.
    let f = write_scenario(
        d.path(),
        "bad_scan.toml",
        &MINI
            .replace("points = [16, 16]", "points = [200, 200]")
            .replace(
                "in_condition_fraction = 1.0",
                "in_condition_fraction = 1.0\nk_per_nm = 50.0",
            ),
    );
    let out = d.path().join("glass");
    let r = mro()
        .arg("glass")
        .arg(&f)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    expect_exit(&r, 0);
    assert!(out.join("atoms.xyz").is_file() && out.join("truth.json").is_file());
    // Simulating it is still refused, with the field.
    let r = mro()
        .arg("simulate")
        .arg(&f)
        .arg("--out")
        .arg(d.path().join("sim"))
        .output()
        .unwrap();
    expect_exit(&r, 2);
    assert!(String::from_utf8_lossy(&r.stderr).contains("scan.points"));
    // What the glass reads is still checked: fractions that jam are refused before any work.
    let jam = write_scenario(
        d.path(),
        "jam.toml",
        "schema = \"mro.scenario/1\"\n[[clusters]]\nsymmetry = 4\nvolume_fraction = 0.6\n",
    );
    let out = d.path().join("jam");
    let r = mro()
        .arg("glass")
        .arg(&jam)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    expect_exit(&r, 2);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("jam.toml") && stderr.contains("clusters[*].volume_fraction"),
        "{stderr}"
    );
    assert!(!out.exists());
}
