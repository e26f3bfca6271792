//! `mro sweep SCENARIO.toml [--set KEY=V1,V2,…]… --out DIR`: validate every point of a
//! Cartesian product of scenario values, in parallel, into one CSV and plots. The axes are the
//! scenario's `[[sweep]]` tables with the `--set`s laid over them.
//!
//! Resumable: a point is done when its directory's `.mro-output` marker says complete (it is
//! written last), its `scenario.toml` is the point's resolved scenario and its `score.json`
//! reads; any other point is run (again), and a point found half-written or unreadable is said
//! so. `sweep.csv` and the plots are rebuilt from every point's `score.json`, so a resumed sweep
//! gives the same CSV as an uninterrupted one.
//!
//! `DIR/sweep.toml` records the sweep (the base scenario with its axes as `[[sweep]]` tables)
//! and is itself a scenario: a Slurm task runs `mro sweep DIR/sweep.toml --out DIR --point I`,
//! and `mro sweep --collect DIR` assembles the results (see [`crate::slurm`]).
//!
//! Warnings ([`Scenario::warnings`]) are those of the points' own scenarios, each distinct one
//! said once with the points it applies to (only point I's with `--point I`, none with
//! `--collect`): a base value that every point replaces is not warned about.
//!
//! Exit status as `validate`: 3 when any point's score falls outside its tolerances (the run
//! and its files are complete), 0 when every point held; `--point` (a Slurm task) exits 3 when
//! its own point fails (Slurm then lists the task as failed, with exit code 3, though its point
//! is complete), and `--collect` when any point does; `--collect` exits 1, listing them, while
//! points have not finished.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::bias::{bias_block, detectable_section};
use crate::commands::validate::{self, need, validate_one, Options};
use crate::cost::{enforce, Need, SMALL_FILES_BYTES};
use crate::exit::bad_input;
use crate::figures::{key_axis_label, line_figure};
use crate::output::{check_dir, io_error, marker_state, write_file, OutputDir, Rerun};
use crate::progress;
use crate::report::{machine, Timings};
use crate::scenario::Scenario;
use crate::score::{noise_corrected, Score};
use crate::slurm::{self, SlurmOptions};
use crate::sweep::{
    apply, defaulted_band_limit, dir_name, label, merge_axes, point_at, point_count, points_phrase,
    warn_band_limit_spread, warnings_by_point, Point, PointWarnings, SetArg,
};

/// Arguments of `mro sweep`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The base scenario (schema mro.scenario/1); not with --collect.
    #[arg(required_unless_present = "collect")]
    scenario: Option<PathBuf>,
    /// KEY=V1,V2,… for any scenario key (dotted path, e.g. sample.thickness_nm=5,10,20);
    /// repeat for a Cartesian product. Replaces the scenario's [[sweep]] axis of the same key,
    /// or adds an axis.
    #[arg(long = "set", value_name = "KEY=V1,V2,...")]
    sets: Vec<SetArg>,
    /// Output directory: one subdirectory per point, sweep.toml, sweep.csv, plots and report.md.
    #[arg(long, required_unless_present = "collect")]
    out: Option<PathBuf>,
    /// Points run at once (each point also uses every core internally); at least 1.
    #[arg(long, default_value_t = 1, value_parser = super::count_at_least_one)]
    jobs: usize,
    /// Start afresh in a directory that holds another sweep, or files mro did not write.
    #[arg(long)]
    force: bool,
    /// Run only point INDEX (0-based, as in sweep.csv) into --out, and nothing else; what each
    /// task of a Slurm job array runs. Idempotent: a finished point is left as it is. Exits 3
    /// when the point misses a tolerance, as the whole sweep does (its files are complete).
    #[arg(long, value_name = "INDEX", conflicts_with_all = ["slurm", "collect"])]
    point: Option<usize>,
    /// Assemble sweep.csv, the plots and report.md in DIR from points already run (by Slurm
    /// tasks); lists the points that have not finished. Runs no point.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["scenario", "out", "sets", "slurm"])]
    collect: Option<PathBuf>,
    /// Run even when the estimated disk or memory exceeds what is free.
    #[arg(long)]
    force_size: bool,
    /// Skip each point's no-MRO control (and its detectability section); halves the run time.
    #[arg(long)]
    no_control: bool,
    #[command(flatten)]
    slurm: SlurmOptions,
}

/// Runs, resumes, submits or collects the sweep.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let (scenario_path, out, sets) = match &args.collect {
        Some(dir) => (dir.join("sweep.toml"), dir.clone(), Vec::new()),
        None => (
            args.scenario.clone().expect("clap requires it"),
            args.out.clone().expect("clap requires it"),
            args.sets.clone(),
        ),
    };
    let file = Scenario::load(&scenario_path)?;
    // A --set path is the working directory's, as a [[sweep]] table's is the scenario file's
    // (made absolute when the file is read): sweep.toml then resumes from any directory.
    let set_axes: Vec<SetArg> = sets
        .iter()
        .cloned()
        .map(|mut a| {
            crate::imported::absolute_path_values(&mut a, None);
            a
        })
        .collect();
    let axes = merge_axes(&file.sweep, &set_axes);
    if axes.is_empty() {
        return Err(bad_input(format!(
            "{}: nothing to sweep: the scenario has no [[sweep]] table and no --set KEY=V1,V2,… was given",
            scenario_path.display()
        )));
    }
    let control = control_choice(args, &scenario_path, &out)?;
    let sweep = Sweep::new(&scenario_path, file.without_sweep(), axes, out, control)?;
    if let Some(index) = args.point {
        sweep.say_warnings(Some(index));
        return sweep.run_task(index);
    }
    check_dir(&sweep.out)?;
    if args.collect.is_some() {
        if !sweep.out.join("sweep.toml").is_file() {
            return Err(bad_input(format!(
                "--collect {}: no sweep.toml: not a sweep directory",
                sweep.out.display()
            )));
        }
        return sweep.finish(args, &scenario_path, std::time::Instant::now(), sweep.count);
    }
    sweep.say_warnings(None);
    // Points run `jobs` at a time here (all at once, at worst, on a cluster); each keeps its
    // datacube until analysed, then its small files.
    let at_once = if args.slurm.slurm {
        sweep.count
    } else {
        args.jobs.clamp(1, sweep.count)
    } as f64;
    let need = Need {
        disk_bytes: sweep.largest.disk_bytes * at_once + SMALL_FILES_BYTES * sweep.count as f64,
        // Slurm tasks run on the cluster's nodes, not here.
        memory_bytes: if args.slurm.slurm {
            0.0
        } else {
            sweep.largest.memory_bytes * at_once
        },
        glass_only: false,
    };
    enforce(
        need,
        &sweep.out,
        &scenario_path.display().to_string(),
        args.force_size,
    )?;
    sweep.claim(args.force)?.leave_incomplete();
    if args.slurm.slurm {
        let pending = sweep.pending(true)?;
        if !pending.is_empty() {
            return slurm::submit(&sweep.out, &pending, &args.slurm, sweep.control);
        }
        outln!("every point is done; collecting");
        return sweep.finish(args, &scenario_path, std::time::Instant::now(), sweep.count);
    }
    let started = std::time::Instant::now();
    let skipped = sweep.run_local(args.jobs)?;
    sweep.finish(args, &scenario_path, started, skipped)
}

/// Most points a sweep runs: every point is checked (and its directory named) before any
/// runs, and the CSV is assembled in memory, so the count is bounded; a point takes seconds at
/// the least, so 10 000 points are already hours of work.
pub const MAX_POINTS: usize = 10_000;

/// One sweep: the base scenario, its axes, and where it goes.
struct Sweep {
    base: Scenario,
    axes: Vec<SetArg>,
    out: PathBuf,
    count: usize,
    source: PathBuf,
    /// The largest disk and memory need of one point.
    largest: Need,
    /// Whether each point runs its no-MRO control.
    control: bool,
    /// Each distinct warning of the points' own scenarios ([`Scenario::warnings`]), in the
    /// order first met, with the points it applies to.
    warnings: PointWarnings,
}

/// Whether a point needs running.
enum PointState {
    Done,
    Missing,
    Redo(String),
}

impl Sweep {
    /// Counts the points (refusing more than [`MAX_POINTS`] before building any) and checks
    /// each one, built one at a time.
    fn new(
        source: &Path,
        base: Scenario,
        axes: Vec<SetArg>,
        out: PathBuf,
        control: bool,
    ) -> anyhow::Result<Self> {
        let count = point_count(&axes)
            .filter(|&n| n <= MAX_POINTS)
            .ok_or_else(|| {
                bad_input(format!(
                    "{}: the sweep has {} points ({}); at most {MAX_POINTS} are run",
                    source.display(),
                    point_count(&axes).map_or("more than 2^64".to_string(), |n| n.to_string()),
                    axes.iter()
                        .map(|a| format!("{} × {}", a.values.len(), a.key))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let mut sweep = Self {
            base,
            axes,
            out,
            count,
            source: source.to_path_buf(),
            largest: Need::default(),
            control,
            warnings: Vec::new(),
        };
        let mut per_point = Vec::with_capacity(count);
        let mut band = Vec::with_capacity(count);
        for i in 0..count {
            let scenario = sweep.scenario(i)?;
            sweep.largest = sweep.largest.max(need(&scenario, control, false));
            per_point.push((i, scenario.warnings()));
            band.push(defaulted_band_limit(&scenario));
        }
        warn_band_limit_spread(&mut per_point, &band);
        sweep.warnings = warnings_by_point(per_point);
        Ok(sweep)
    }

    /// Says on standard error each warning of the points run (every point, or only point
    /// `only`), once per distinct message, naming the points it applies to: the base file's own
    /// warnings matter only where a point keeps the values they are about.
    fn say_warnings(&self, only: Option<usize>) {
        for (message, at) in &self.warnings {
            let who = match (only, at.as_slice()) {
                (Some(i), _) if !at.contains(&i) => continue,
                (Some(i), _) | (None, &[i]) => format!("point {i} ({})", label(&self.point(i))),
                (None, _) => points_phrase(at, self.count),
            };
            eprintln!("mro: warning: {}: {who}: {message}", self.source.display());
        }
    }

    fn point(&self, i: usize) -> Point {
        point_at(&self.axes, i)
    }

    fn scenario(&self, i: usize) -> anyhow::Result<Scenario> {
        apply(&self.base, &self.point(i))
            .map_err(|e| bad_input(format!("{}: sweep point {e}", self.source.display())))
    }

    fn point_dir(&self, i: usize) -> PathBuf {
        self.out.join(dir_name(i, &self.point(i)))
    }

    /// `sweep.toml`: the base scenario with the axes as `[[sweep]]` tables, itself a scenario.
    fn identity(&self) -> String {
        self.identity_with(self.control)
    }

    /// [`Sweep::identity`] as it reads with or without the control.
    fn identity_with(&self, control: bool) -> String {
        let resume = if control {
            "`mro sweep sweep.toml --out .` resumes it.".to_string()
        } else {
            format!("`mro sweep sweep.toml --out . --no-control` resumes it ({SKIPS_CONTROL}).")
        };
        format!(
            "{IDENTITY_HEADER}; a scenario file:\n# {resume}\n{}",
            Scenario {
                sweep: self.axes.clone(),
                ..self.base.clone()
            }
            .resolved_toml()
        )
    }

    /// Takes the output directory for this sweep: refuses files mro did not write and another
    /// sweep's directory unless `force`, and records the sweep in `sweep.toml`.
    fn claim(&self, force: bool) -> anyhow::Result<OutputDir> {
        let id_path = self.out.join("sweep.toml");
        let id = self.identity();
        // Refused before the directory is touched: a complete sweep stays marked complete.
        match std::fs::read_to_string(&id_path) {
            Ok(old) if !force && old == self.identity_with(!self.control) => {
                return Err(bad_input(format!(
                    "{}: holds this sweep run {} the no-MRO control; {} --no-control to resume \
                     it (--force starts over, discarding its points)",
                    id_path.display(),
                    if self.control { "without" } else { "with" },
                    if self.control { "add" } else { "drop" }
                )))
            }
            Ok(old) if !force && old != id => {
                return Err(bad_input(format!(
                    "{}: holds a different sweep; pass --force to start this one there",
                    id_path.display()
                )))
            }
            _ => {}
        }
        let top = OutputDir::begin(&self.out, "sweep", &TOP_FILES, force, Rerun::Replaces)?;
        write_file(&id_path, id.as_bytes())?;
        Ok(top)
    }

    fn state(&self, i: usize, scenario: &Scenario) -> PointState {
        let dir = self.point_dir(i);
        if !dir.exists() {
            return PointState::Missing;
        }
        if marker_state(&dir) != Some(("validate".to_string(), true)) {
            return PointState::Redo("incomplete (an earlier run stopped while writing it)".into());
        }
        if !std::fs::read_to_string(dir.join("scenario.toml"))
            .is_ok_and(|t| t == scenario.resolved_toml())
        {
            return PointState::Redo("written for a different scenario".into());
        }
        match read_score(&dir) {
            Ok(s) if s.detectability.is_some() == self.control => PointState::Done,
            // An atom-file scenario runs no control whatever the sweep asks.
            Ok(s) if s.control_skipped.is_some() => PointState::Done,
            Ok(_) if self.control => PointState::Redo("run without its no-MRO control".into()),
            Ok(_) => PointState::Redo("run with a no-MRO control this sweep skips".into()),
            Err(e) => PointState::Redo(format!("{e:#}")),
        }
    }

    /// The points not done, each reason said on standard error when `say`.
    fn pending(&self, say: bool) -> anyhow::Result<Vec<usize>> {
        let mut pending = Vec::new();
        for i in 0..self.count {
            match self.state(i, &self.scenario(i)?) {
                PointState::Done => {}
                PointState::Missing => pending.push(i),
                PointState::Redo(why) => {
                    if say {
                        eprintln!(
                            "mro: point {i} ({}): {why}; running it again",
                            self.point_dir(i).display()
                        );
                    }
                    pending.push(i);
                }
            }
        }
        Ok(pending)
    }

    /// Runs one point unless it is done (a Slurm task). The directory must hold this sweep.
    fn run_task(&self, index: usize) -> anyhow::Result<ExitCode> {
        if index >= self.count {
            return Err(bad_input(format!(
                "--point {index}: the sweep has {} points (0 to {})",
                self.count,
                self.count - 1
            )));
        }
        let id_path = self.out.join("sweep.toml");
        if std::fs::read_to_string(&id_path).ok().as_deref() != Some(self.identity().as_str()) {
            return Err(bad_input(format!(
                "{}: missing or for another sweep; --point runs a point of a sweep already set up in that directory (by `mro sweep … --out DIR`, with or without --slurm)",
                id_path.display()
            )));
        }
        let scenario = self.scenario(index)?;
        let (score, what) = match self.state(index, &scenario) {
            PointState::Done => (
                read_score(&self.point_dir(index))?,
                "already done".to_string(),
            ),
            state => {
                if let PointState::Redo(why) = state {
                    eprintln!("mro: point {index}: {why}; running it again");
                }
                let score = self.run_point(index, &scenario)?;
                (score, format!("done → {}", self.point_dir(index).display()))
            }
        };
        outln!(
            "point {index}: {what}; tolerances {}",
            score.tolerance_word("held", "FAILED")
        );
        // As the whole sweep: a point outside its tolerances exits 3 (its files are complete).
        Ok(tolerance_status(std::iter::once(&score)))
    }

    fn run_point(&self, i: usize, scenario: &Scenario) -> anyhow::Result<Score> {
        let command = format!("(point {i} of the sweep in {})", self.out.display());
        // The point's directory belongs to the sweep: a point that must be redone (half-written,
        // stale, or with an unreadable score) is replaced whole, whatever was edited in it.
        let options = Options {
            keep_datacube: false,
            force: true,
            control: self.control,
        };
        validate_one(scenario, &self.point_dir(i), &command, options)
    }

    /// Runs every pending point, `jobs` at a time; returns how many were already done.
    fn run_local(&self, jobs: usize) -> anyhow::Result<usize> {
        let pending = self.pending(true)?;
        let bar = progress::bar(pending.len() as u64, "sweep");
        // `jobs` plain threads take points in order. They are not rayon workers, so each
        // point's own parallel work runs on the global pool with every core (inside a rayon
        // pool of `jobs` threads it would be confined to that pool).
        let next = AtomicUsize::new(0);
        let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..jobs.max(1).min(pending.len()) {
                scope.spawn(|| loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= pending.len() || first_error.lock().expect("no panics").is_some() {
                        break;
                    }
                    let i = pending[k];
                    let result = self
                        .scenario(i)
                        .and_then(|scenario| self.run_point(i, &scenario).map(drop));
                    if let Err(e) = result {
                        first_error.lock().expect("no panics").get_or_insert(e);
                        break;
                    }
                    bar.inc(1);
                });
            }
        });
        if let Some(e) = first_error.into_inner().expect("no panics") {
            return Err(e);
        }
        bar.finish_and_clear();
        Ok(self.count - pending.len())
    }

    /// Writes sweep.csv, the plots and report.md from every point's files (which must all be
    /// done), then marks the directory complete.
    fn finish(
        &self,
        args: &Args,
        scenario_path: &Path,
        started: std::time::Instant,
        skipped: usize,
    ) -> anyhow::Result<ExitCode> {
        let pending = self.pending(false)?;
        if !pending.is_empty() {
            let names: Vec<String> = pending
                .iter()
                .take(20)
                .map(|&i| dir_name(i, &self.point(i)))
                .collect();
            return Err(anyhow::anyhow!(
                "{}: {} of {} points have not finished: {}{} (queued or running, failed, or cut off; \
                 Slurm task logs are in {}); rerun `mro sweep {} --out {} --slurm` (or without \
                 --slurm) to run them again",
                self.out.display(),
                pending.len(),
                self.count,
                names.join(", "),
                if pending.len() > names.len() { ", …" } else { "" },
                self.out.join(slurm::LOG_DIR).display(),
                scenario_path.display(),
                self.out.display()
            ));
        }
        let top = OutputDir::begin(&self.out, "sweep", &TOP_FILES, true, Rerun::Replaces)?;
        let points: Vec<Point> = (0..self.count).map(|i| self.point(i)).collect();
        let scores = (0..self.count)
            .map(|i| read_score(&self.point_dir(i)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // Points from before timings.json existed show no time.
        let timings: Vec<Option<Timings>> = (0..self.count)
            .map(|i| {
                std::fs::read_to_string(self.point_dir(i).join("timings.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
            })
            .collect();
        top.write("sweep.csv", csv(&self.axes, &points, &scores).as_bytes())?;
        let plots = plot(top.staging(), &self.axes, &points, &scores)?;
        let command = command_line(args, self.control, scenario_path, &self.out);
        let mut text = report(
            &command,
            scenario_path,
            &self.base,
            &self.axes,
            points.iter().zip(&scores).zip(&timings),
            &plots,
            // Collected points, or a re-run that found every point done: this command ran none.
            (args.collect.is_none() && skipped < self.count)
                .then(|| started.elapsed().as_secs_f64()),
        );
        text += "\n## Bias of each method over the points\n\nEvery point and n with a planted \
                 value counts once (`sweep.csv` has each).\n\n";
        text += &bias_block(&scores);
        text += &detectable_section(&scores, "points");
        if let Some(c) = crate::calibration::section(&points, &scores) {
            text += &c;
        }
        top.write("report.md", text.as_bytes())?;
        top.commit()?;
        outln!(
            "{} point{} ({} already done) → {}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            skipped,
            self.out.join("sweep.csv").display()
        );
        for (p, s) in points.iter().zip(&scores) {
            outln!(
                "{:<60} {}  odd/even {:.4}{}  tolerances {}",
                label(p),
                crate::detectability::short_verdict(
                    s.detectability.as_ref(),
                    s.control_skipped.as_deref()
                ),
                s.odd_even_ratio,
                noise_corrected(s),
                s.tolerance_word("held", "FAILED")
            );
        }
        Ok(tolerance_status(scores.iter()))
    }
}

/// As `validate`: a point outside its tolerances is a finding, reported by exit status 3.
fn tolerance_status<'a>(mut scores: impl Iterator<Item = &'a Score>) -> ExitCode {
    if scores.all(|s| s.all_within_tolerance) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(validate::TOLERANCE_FAILED)
    }
}

/// Files of the sweep directory itself (besides one directory per point).
const TOP_FILES: [&str; 8] = [
    "sweep.toml",
    "sweep.csv",
    "report.md",
    "sweep_odd_even_ratio.png",
    "sweep_odd_even_ratio_noise_corrected.png",
    "sweep_planted_volume_fraction.png",
    "sweep_mean_diameter_corrected_nm.png",
    "sweep_spacing_nm.png",
];

fn read_score(dir: &Path) -> anyhow::Result<Score> {
    let path = dir.join("score.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| crate::output::io_error("cannot read", &path, e))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: unreadable: {e}", path.display()))
}

/// Whether each point runs its no-MRO control. Resuming, collecting or running one point of a
/// sweep from its own `sweep.toml` (the file in `out`), the sweep's recorded choice stands: its
/// header says whether it skips the control, so `--no-control` need not be repeated, and
/// passing it to a sweep that ran with controls is refused (its points would all look
/// unfinished).
fn control_choice(args: &Args, scenario_path: &Path, out: &Path) -> anyhow::Result<bool> {
    let own = out.join("sweep.toml");
    let same = |a: &Path, b: &Path| {
        a.canonicalize()
            .ok()
            .zip(b.canonicalize().ok())
            .is_some_and(|(a, b)| a == b)
    };
    if !same(scenario_path, &own) {
        return Ok(!args.no_control);
    }
    let text = std::fs::read_to_string(&own).map_err(|e| io_error("cannot read", &own, e))?;
    // A scenario the user wrote there records nothing: the flag decides.
    if !text.starts_with(IDENTITY_HEADER) {
        return Ok(!args.no_control);
    }
    let recorded_skip = skips_control(&text);
    if args.no_control && !recorded_skip {
        return Err(bad_input(format!(
            "{}: this sweep ran each point with its no-MRO control; drop --no-control to resume \
             or collect it (or start a sweep without controls in another directory)",
            own.display()
        )));
    }
    Ok(!recorded_skip)
}

/// How the `sweep.toml` that `mro sweep` writes begins.
const IDENTITY_HEADER: &str = "# The sweep in this directory (written by `mro sweep`)";

/// How `sweep.toml`'s header says that the sweep skips the no-MRO control.
const SKIPS_CONTROL: &str = "it skips the no-MRO control";

/// Whether the `sweep.toml` text `identity` is of a sweep run with `--no-control` (its
/// header comment, written by [`Sweep::identity`], says so).
fn skips_control(identity: &str) -> bool {
    identity
        .lines()
        .take_while(|l| l.starts_with('#'))
        .any(|l| l.contains(SKIPS_CONTROL))
}

/// The command that regenerates the sweep, for its report.
fn command_line(args: &Args, control: bool, scenario_path: &Path, out: &Path) -> String {
    let mut command = format!(
        "cargo run --release -- sweep {}",
        shell_word(&scenario_path.display().to_string())
    );
    for set in &args.sets {
        // Each value as TOML, as `--set` reads it back (`"inf"` stays a string, `20` a number).
        let values: Vec<String> = set.values.iter().map(toml::Value::to_string).collect();
        command += &format!(
            " --set {}",
            shell_word(&format!("{}={}", set.key, values.join(",")))
        );
    }
    if !control {
        command += " --no-control";
    }
    command + &format!(" --out {}", shell_word(&out.display().to_string()))
}

/// `s` as one POSIX shell word: as is when it holds only characters no shell reads
/// specially, else in single quotes (`clusters[*].diameter_nm=1.3,2` would glob unquoted).
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// An axis's values as the report lists them (`1.3,2,3`; a list value as TOML writes it).
fn values(set: &SetArg) -> String {
    set.values
        .iter()
        .map(value_text)
        .collect::<Vec<_>>()
        .join(",")
}

/// A value as text: a string unquoted, a float as in the CSV, anything else as TOML.
fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => crate::report::csv_number(*f),
        other => other.to_string(),
    }
}

/// A value as a CSV field, quoted (quotes doubled) when it holds a comma or a quote.
fn csv_field(v: &toml::Value) -> String {
    let s = value_text(v);
    if s.contains(',') || s.contains('"') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Long (tidy) CSV: one line per point and scored quantity, each ending with the point's
/// detectability level ([`crate::detectability::Level::name`]) and the maps that moved
/// elsewhere (`8;10`); both empty for a point that ran no control.
fn csv(sets: &[SetArg], points: &[Point], scores: &[Score]) -> String {
    let opt = |v: Option<f64>| v.map_or(String::new(), crate::report::csv_number);
    let mut s = String::from("point");
    for set in sets {
        s.push(',');
        s.push_str(&set.key);
    }
    s.push_str(
        ",quantity,method,symmetry,truth,recovered,relative_error,within_tolerance,\
         detectability,moved_elsewhere\n",
    );
    for (i, (p, score)) in points.iter().zip(scores).enumerate() {
        let prefix: String = std::iter::once(i.to_string())
            .chain(p.iter().map(|(_, v)| csv_field(v)))
            .collect::<Vec<_>>()
            .join(",");
        let verdict = score.detectability.as_ref().map_or(",".to_string(), |d| {
            let moved: Vec<String> = d.moved_elsewhere.iter().map(u32::to_string).collect();
            format!("{},{}", d.level().name(), moved.join(";"))
        });
        // Each line's columns from `quantity` to `within_tolerance`.
        let mut lines = vec![format!(
            "odd_even_ratio,,,,{},,",
            crate::report::csv_number(score.odd_even_ratio)
        )];
        if let Some(r) = score.odd_even_ratio_noise_corrected {
            lines.push(format!(
                "odd_even_ratio_noise_corrected,,,,{},,",
                crate::report::csv_number(r)
            ));
        }
        lines.push(format!(
            "all_within_tolerance,,,,{},,",
            u8::from(score.all_within_tolerance)
        ));
        // Detectability and realism as quantities of their own: the recovered column holds
        // the run's value, the truth column the control's (or the published) one.
        if let Some(d) = &score.detectability {
            lines.push(format!("mro_detectable,,,,{},,", u8::from(d.detectable)));
            for m in &d.by_symmetry {
                for (q, truth, recovered) in [
                    (
                        "mean_power_vs_control",
                        Some(m.mean_power_control),
                        Some(m.mean_power),
                    ),
                    ("difference_sigma", None, m.difference_sigma),
                    (
                        "regions_vs_control",
                        Some(m.regions_control as f64),
                        Some(m.regions as f64),
                    ),
                    (
                        "cluster_percentile_vs_control",
                        m.cluster_percentile_control,
                        m.cluster_percentile,
                    ),
                    ("recall_vs_chance", m.recall_chance, m.recall),
                    ("precision_vs_chance", m.precision_chance, m.precision),
                ] {
                    lines.push(format!("{q},,{},{},{},,", m.n, opt(truth), opt(recovered)));
                }
            }
        }
        if let Some(r) = &score.realism {
            lines.push(format!("realism_within,,,{},{},,", r.compared, r.within));
            // One line per published observable: truth = the published value, recovered = this
            // point's, within_tolerance = inside the published range (empty: not compared).
            for row in &r.rows {
                lines.push(format!(
                    "realism_{},,{},{},{},,{}",
                    row.quantity.name(),
                    row.symmetry.map_or(String::new(), |n| n.to_string()),
                    opt(row.reference),
                    opt(row.run),
                    match row.status {
                        crate::realism::Status::Within => "true",
                        crate::realism::Status::Outside => "false",
                        crate::realism::Status::NotCompared => "",
                    }
                ));
            }
        }
        for r in &score.rows {
            lines.push(format!(
                "{},{},{},{},{},{},{}",
                r.quantity,
                r.method,
                r.symmetry.map_or(String::new(), |n| n.to_string()),
                opt(r.truth),
                opt(r.recovered),
                opt(r.relative_error),
                r.within_tolerance.map_or(String::new(), |b| b.to_string())
            ));
        }
        for line in lines {
            s.push_str(&format!("{prefix},{line},{verdict}\n"));
        }
    }
    s
}

/// The metric plotted per point: an odd/even ratio, or the mean |relative error| of a quantity
/// of the scored method over the symmetries that have one.
fn metric(score: &Score, quantity: &str) -> Option<f64> {
    match quantity {
        "odd_even_ratio" => return Some(score.odd_even_ratio),
        "odd_even_ratio_noise_corrected" => return score.odd_even_ratio_noise_corrected,
        _ => {}
    }
    let errs: Vec<f64> = score
        .rows
        .iter()
        .filter(|r| r.quantity == quantity && r.method == score.method)
        .filter_map(|r| r.relative_error.map(f64::abs))
        .collect();
    (!errs.is_empty()).then(|| errs.iter().sum::<f64>() / errs.len() as f64)
}

/// Plots each metric against the first numeric swept key, one line per combination of the
/// other keys. Returns the files written.
fn plot(
    out: &Path,
    sets: &[SetArg],
    points: &[Point],
    scores: &[Score],
) -> anyhow::Result<Vec<(String, String)>> {
    let as_f64 = |v: &toml::Value| match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    };
    let Some(x_key) = (0..sets.len()).find(|&k| points.iter().all(|p| as_f64(&p[k].1).is_some()))
    else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    // (quantity, title, y-axis title, log y, y values are fractions shown in percent)
    for (quantity, title, y_label, log_y, percent) in [
        (
            "odd_even_ratio",
            "Odd/even angular power ratio",
            "Σ odd P_n / Σ even P_n",
            true,
            false,
        ),
        (
            "odd_even_ratio_noise_corrected",
            "Odd/even angular power ratio, shot noise removed",
            "Σ odd (P_n − floor) / Σ even (P_n − floor)",
            false,
            false,
        ),
        (
            "planted_volume_fraction",
            "Volume fraction summed over the planted n: error",
            "|relative error|",
            false,
            true,
        ),
        (
            "mean_diameter_corrected_nm",
            "Region diameter (probe-corrected): error",
            "mean |relative error| over n",
            false,
            true,
        ),
        (
            "spacing_nm",
            "Spacing from σ(r): error",
            "mean |relative error| over n",
            false,
            true,
        ),
    ] {
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for (p, s) in points.iter().zip(scores) {
            let Some(y) = metric(s, quantity) else {
                continue;
            };
            let others: Vec<(String, toml::Value)> = p
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != x_key)
                .map(|(_, kv)| kv.clone())
                .collect();
            let name = if others.is_empty() {
                quantity.to_string()
            } else {
                label(&others)
            };
            let x = as_f64(&p[x_key].1).expect("numeric key");
            match series.iter_mut().find(|s| s.0 == name) {
                Some(s) => s.1.push((x, y)),
                None => series.push((name, vec![(x, y)])),
            }
        }
        if series.is_empty() {
            continue;
        }
        let file = format!("sweep_{quantity}.png");
        line_figure(
            &out.join(&file),
            title,
            &key_axis_label(&sets[x_key].key),
            y_label,
            &series,
            log_y,
            percent,
        )?;
        files.push((file, title.to_string()));
    }
    Ok(files)
}

/// `report.md`: the command, the axes, the machine, seed and timings, one row per point
/// (with its score and stage timings), and the plots.
fn report<'a>(
    command: &str,
    scenario_path: &Path,
    base: &Scenario,
    axes: &[SetArg],
    outcomes: impl Iterator<Item = ((&'a Point, &'a Score), &'a Option<Timings>)>,
    plots: &[(String, String)],
    run_s: Option<f64>,
) -> String {
    // Named for the scenario, not its file: a resumed or collected sweep reads `sweep.toml`.
    let mut s = format!(
        "# Sweep report: {} (`{}`)\n\nRegenerate with:\n\n```sh\n{command}\n```\n\nAxes (first varies slowest):\n\n",
        base.name,
        scenario_path.display(),
    );
    for set in axes {
        s += &format!("- `{}` = {}\n", set.key, values(set));
    }
    s += "\n";
    let took = run_s.map_or_else(
        || "Assembled from points that had finished (this command ran none)".to_string(),
        |t| format!("This run took {t:.1} s (finished points are skipped on a re-run)"),
    );
    // A `seed` axis gives each point its own seed (the axis says which).
    let seeds = if axes.iter().any(|a| a.key == "seed") {
        "the seed of each point is its `seed` value".to_string()
    } else {
        format!("seed {} for every point", base.seed)
    };
    s += &format!(
        "mro {} on {}; {seeds}. {took}. Each point's full report is in its directory; every \
         number is in `sweep.csv`.\n\n",
        env!("CARGO_PKG_VERSION"),
        machine(),
    );
    let outcomes: Vec<_> = outcomes.collect();
    s += &format!(
        "| point | MRO | realism | odd/even ratio | odd/even, shot noise removed | volume fraction over the planted n, judged method (truth → recovered) | tolerances | {} |\n|---|---|---|---|---|---|---|---|\n",
        time_header(outcomes.iter().filter_map(|(_, t)| t.as_ref()))
    );
    for ((p, sc), t) in outcomes {
        let total = sc
            .rows
            .iter()
            .find(|r| r.quantity == "planted_volume_fraction" && r.method == sc.method);
        let fmt = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.4}"));
        let detectable = match &sc.detectability {
            // Without a planted map there is nothing the parenthesis could name.
            Some(d) if d.planted_maps.is_empty() => {
                crate::detectability::short_verdict(Some(d), None)
            }
            Some(d) => format!(
                "{} (≥ 5 s.e. {}; located {}){}",
                d.level().words(),
                crate::detectability::at_n(&d.shows_at),
                crate::detectability::at_n(&d.located_at),
                crate::detectability::moved_elsewhere(d)
            ),
            None => crate::detectability::short_verdict(None, sc.control_skipped.as_deref()),
        };
        let realism = sc.realism.as_ref().map_or("—".to_string(), |r| {
            format!("{} of {}", r.within, r.compared)
        });
        s += &format!(
            "| {} | {detectable} | {realism} | {:.4} | {} | {} → {} | {} | {} |\n",
            label(p).replace('|', "\\|"),
            sc.odd_even_ratio,
            fmt(sc.odd_even_ratio_noise_corrected),
            fmt(total.and_then(|r| r.truth)),
            fmt(total.and_then(|r| r.recovered)),
            sc.tolerance_word("held", "failed"),
            t.map_or("—".into(), |t| format!(
                "{:.1} s ({:.1} + {:.1} + {:.1})",
                t.total_s(),
                t.glass_s,
                t.simulate_s,
                t.analyze_s
            ))
        );
    }
    for (file, title) in plots {
        s += &format!("\n![{title}]({file})\n\n*{title}*\n");
    }
    s
}

/// The time column's header, saying what the totals of `timings` hold: the no-MRO control's
/// time when every point ran one, when some did (a point that plants nothing runs none), or
/// not at all (`--no-control`); or neither, when no point was timed.
fn time_header<'a>(timings: impl Iterator<Item = &'a Timings>) -> &'static str {
    let (mut with, mut without) = (0usize, 0usize);
    for t in timings {
        if t.control_s.is_some() {
            with += 1;
        } else {
            without += 1;
        }
    }
    match (with, without) {
        (0, 0) => "time (glass + simulate + analyze; total)",
        (_, 0) => "time (glass + simulate + analyze; total with the no-MRO control)",
        (0, _) => "time (glass + simulate + analyze = total; run without the no-MRO control)",
        _ => "time (glass + simulate + analyze; total with the no-MRO control where one ran)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectability::Detectability;

    /// A score with no rows and, when given, a verdict planted at n = 4 that is `detectable`
    /// there (or not) and moved the maps `moved`.
    fn score(verdict: Option<(bool, Vec<u32>)>) -> Score {
        Score {
            schema: crate::score::SCORE_SCHEMA.into(),
            method: "mro".into(),
            rows: Vec::new(),
            odd_even_ratio: 0.5,
            odd_even_ratio_noise_corrected: None,
            all_within_tolerance: true,
            scanned_share: None,
            unjudged_checks: Vec::new(),
            detectability: verdict.map(|(detectable, moved)| Detectability {
                control: String::new(),
                block_nm: 2.5,
                by_symmetry: Vec::new(),
                planted_maps: vec![4],
                shows_at: if detectable { vec![4] } else { Vec::new() },
                located_at: if detectable { vec![4] } else { Vec::new() },
                resolved_at: Vec::new(),
                moved_elsewhere: moved,
                detectable,
                verdict: String::new(),
            }),
            control_skipped: None,
            not_judged: None,
            realism: None,
        }
    }

    fn seeds(n: usize) -> (Vec<SetArg>, Vec<Point>) {
        let sets: Vec<SetArg> = vec![format!(
            "seed={}",
            (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
        )
        .parse()
        .unwrap()];
        let points = (0..n).map(|i| point_at(&sets, i)).collect();
        (sets, points)
    }

    #[test]
    fn every_csv_line_ends_with_its_points_verdict() {
        let (sets, points) = seeds(3);
        let scores = [
            score(Some((true, vec![8, 10]))),
            score(Some((false, Vec::new()))),
            score(None),
        ];
        let text = csv(&sets, &points, &scores);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(
            header[header.len() - 2..],
            ["detectability", "moved_elsewhere"]
        );
        let mut seen = [0; 3];
        for line in lines {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{line}");
            let point: usize = fields[0].parse().unwrap();
            seen[point] += 1;
            let want = [["detectable", "8;10"], ["not_detectable", ""], ["", ""]][point];
            assert_eq!(fields[fields.len() - 2..], want, "{line}");
        }
        assert!(seen.iter().all(|&n| n >= 2), "{text}");
    }

    /// The time column's header says whether its totals hold the no-MRO control.
    #[test]
    fn the_time_header_says_what_was_timed() {
        let (sets, points) = seeds(2);
        let base = Scenario::parse("schema = \"mro.scenario/1\"\n").unwrap();
        let scores = [score(None), score(None)];
        let header = |control: [Option<f64>; 2]| {
            let timings: Vec<Option<Timings>> = control
                .iter()
                .map(|&control_s| {
                    Some(Timings {
                        glass_s: 1.0,
                        simulate_s: 2.0,
                        analyze_s: 3.0,
                        control_s,
                    })
                })
                .collect();
            let text = report(
                "mro sweep",
                Path::new("s.toml"),
                &base,
                &sets,
                points.iter().zip(&scores).zip(&timings),
                &[],
                None,
            );
            let line = text.lines().find(|l| l.starts_with("| point |")).unwrap();
            line.rsplit(" | time").next().unwrap().to_string()
        };
        let without = header([None, None]);
        assert!(without.contains("without the no-MRO control"), "{without}");
        let with = header([Some(6.0), Some(6.0)]);
        assert!(with.ends_with("total with the no-MRO control) |"), "{with}");
        let mixed = header([Some(6.0), None]);
        assert!(mixed.contains("where one ran"), "{mixed}");
    }

    /// The seed line names the base scenario's seed only when no axis sets it.
    #[test]
    fn the_seed_line_follows_a_seed_axis() {
        let base = Scenario::parse("schema = \"mro.scenario/1\"\nseed = 2018\n").unwrap();
        let scores = [score(None), score(None)];
        let timings = [None, None];
        let line = |sets: &[SetArg], points: &[Point]| {
            report(
                "mro sweep",
                Path::new("s.toml"),
                &base,
                sets,
                points.iter().zip(&scores).zip(&timings),
                &[],
                None,
            )
            .lines()
            .find(|l| l.contains("Each point's full report"))
            .unwrap()
            .to_string()
        };
        let (sets, points) = seeds(2);
        let by_axis = line(&sets, &points);
        assert!(
            by_axis.contains("the seed of each point is its `seed` value")
                && !by_axis.contains("2018"),
            "{by_axis}"
        );
        let sets: Vec<SetArg> = vec!["sample.thickness_nm=5,10".parse().unwrap()];
        let points: Vec<Point> = (0..2).map(|i| point_at(&sets, i)).collect();
        let fixed = line(&sets, &points);
        assert!(fixed.contains("seed 2018 for every point"), "{fixed}");
    }
}
