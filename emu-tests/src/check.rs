//! The check: every scenario × target × backend × linker, built in parallel, each run compared
//! with its expectation, reported as a matrix with the first difference of every failure.

use crate::backend::{applies, needs_program, not_yet, Backend};
use crate::build::{build, BuildError};
use crate::compare::{disagreement, first_difference, log_lines_around, Difference, OtherBackend};
use crate::corpus::Scenario;
use crate::gaps;
use crate::linker::Linker;
use crate::manifest::ErrorStage;
use crate::target::Target;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Linkers under test (each links every scenario's libraries).
    pub linkers: Vec<Linker>,
    pub targets: Vec<Target>,
    /// Scenario names to run; all when empty.
    pub scenarios: Vec<String>,
    /// Builds running at once; 0 means the number of CPUs.
    pub jobs: usize,
    /// Keep build directories here instead of a temporary directory removed at the end.
    pub keep_dir: Option<PathBuf>,
}

impl CheckOptions {
    /// GNU ld on every target.
    pub fn new(linkers: Vec<Linker>) -> CheckOptions {
        CheckOptions {
            linkers,
            targets: Target::all(),
            scenarios: Vec::new(),
            jobs: 0,
            keep_dir: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail { difference: Difference },
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResult {
    pub scenario: String,
    pub target: String,
    pub backend: String,
    pub linker: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Set when a known gap ([`crate::gaps`]) explains this failure, or said it must fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<GapMark>,
}

/// How a case stands to a known gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GapMark {
    /// It failed as the gap says it must.
    Known { about: String },
    /// The gap says it must fail, but it passed: the gap is closing and must be removed.
    Closed { about: String },
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Pass
    }

    /// A failure that a known gap explains.
    pub fn known_gap(&self) -> bool {
        matches!(self.gap, Some(GapMark::Known { .. }))
    }

    /// A pass where a known gap said it must fail.
    pub fn gap_closed(&self) -> bool {
        matches!(self.gap, Some(GapMark::Closed { .. }))
    }

    /// `PASS`, `FAIL`, `GAP` (a failure a known gap explains) or `CLOSED` (a known gap's cell
    /// that passed).
    pub fn verdict(&self) -> &'static str {
        match (self.passed(), &self.gap) {
            (true, Some(_)) => "CLOSED",
            (true, None) => "PASS",
            (false, Some(_)) => "GAP",
            (false, None) => "FAIL",
        }
    }
}

/// A cell that applies but was not run: the backend cannot run that kind of program yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotRun {
    pub scenario: String,
    pub target: String,
    pub backend: String,
    pub linker: String,
    /// The backend's own words ([`Backend::not_yet`]).
    pub reason: String,
}

/// The whole matrix.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub cases: Vec<CaseResult>,
    /// Cells left out because their backend cannot run them yet, each with the reason.
    #[serde(default)]
    pub not_run: Vec<NotRun>,
    pub seconds: f64,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }

    /// Failures no known gap explains.
    pub fn failed(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| !c.passed() && !c.known_gap())
            .count()
    }

    /// Failures a known gap explains.
    pub fn known_gaps(&self) -> usize {
        self.cases.iter().filter(|c| c.known_gap()).count()
    }

    /// Passes where a known gap said the case must fail.
    pub fn gaps_closed(&self) -> usize {
        self.cases.iter().filter(|c| c.gap_closed()).count()
    }

    pub fn success(&self) -> bool {
        self.failed() == 0 && self.gaps_closed() == 0 && !self.cases.is_empty()
    }

    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "cases": self.cases,
            "passed": self.passed(),
            "failed": self.failed(),
            "known_gap": self.known_gaps(),
            "gap_closed": self.gaps_closed(),
            "not_run": self.not_run,
            "seconds": self.seconds,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }

    /// One line per case: `PASS|FAIL|GAP|CLOSED scenario target backend linker`.
    pub fn to_list(&self) -> String {
        let mut out = String::new();
        let w = |f: fn(&CaseResult) -> usize| self.cases.iter().map(f).max().unwrap_or(0);
        let (ws, wt, wb) = (
            w(|c| c.scenario.len()),
            w(|c| c.target.len()),
            w(|c| c.backend.len()),
        );
        for c in &self.cases {
            out.push_str(&format!(
                "{} {:ws$}  {:wt$}  {:wb$}  {}\n",
                c.verdict(),
                c.scenario,
                c.target,
                c.backend,
                c.linker
            ));
        }
        out
    }

    /// The matrix: a row per scenario and linker, a column per target and backend, each cell
    /// `ok`, `FAIL` or `-` (not applicable).
    pub fn to_matrix(&self) -> String {
        let target_rank = |name: &str| {
            Target::all()
                .iter()
                .position(|t| t.name() == name)
                .unwrap_or(usize::MAX)
        };
        let mut backends: Vec<&str> = Vec::new();
        let mut columns: Vec<(&str, &str)> = Vec::new();
        let mut rows: Vec<(&str, &str)> = Vec::new();
        let cells = self
            .cases
            .iter()
            .map(|c| (&c.scenario, &c.linker, &c.target, &c.backend))
            .chain(
                self.not_run
                    .iter()
                    .map(|c| (&c.scenario, &c.linker, &c.target, &c.backend)),
            );
        for (scenario, linker, target, backend) in cells {
            if !backends.contains(&backend.as_str()) {
                backends.push(backend);
            }
            if !columns.contains(&(target.as_str(), backend.as_str())) {
                columns.push((target, backend));
            }
            if !rows.contains(&(scenario.as_str(), linker.as_str())) {
                rows.push((scenario, linker));
            }
        }
        backends.sort_unstable();
        columns.sort_by_key(|(t, b)| (target_rank(t), backends.iter().position(|x| x == b)));
        let first = rows.iter().map(|(s, _)| s.len()).max().unwrap_or(0).max(8);
        let linker = rows.iter().map(|(_, l)| l.len()).max().unwrap_or(0).max(6);
        let widths: Vec<usize> = columns
            .iter()
            .map(|(t, b)| t.len().max(b.len()).max(4))
            .collect();
        let mut out = format!("{:first$}  {:linker$}", "scenario", "linker");
        for ((t, _), w) in columns.iter().zip(&widths) {
            out.push_str(&format!("  {t:w$}"));
        }
        out.push_str(&format!("\n{:first$}  {:linker$}", "", ""));
        for ((_, b), w) in columns.iter().zip(&widths) {
            out.push_str(&format!("  {b:w$}"));
        }
        out.push('\n');
        for (scenario, linker_name) in &rows {
            out.push_str(&format!("{scenario:first$}  {linker_name:linker$}"));
            for ((t, b), w) in columns.iter().zip(&widths) {
                let cell = self.cell(scenario, linker_name, t, b);
                out.push_str(&format!("  {cell:w$}"));
            }
            out.push('\n');
        }
        out.lines().map(|l| format!("{}\n", l.trim_end())).collect()
    }

    /// A matrix cell: `ok`, `FAIL`, `gap`, `CLOSED`, `skip` (a backend cannot run it yet) or
    /// `-` (not applicable).
    fn cell(&self, scenario: &str, linker: &str, target: &str, backend: &str) -> &'static str {
        let at = |s: &str, l: &str, t: &str, b: &str| {
            s == scenario && l == linker && t == target && b == backend
        };
        if let Some(c) = self
            .cases
            .iter()
            .find(|c| at(&c.scenario, &c.linker, &c.target, &c.backend))
        {
            return match c.verdict() {
                "PASS" => "ok",
                "GAP" => "gap",
                other => other,
            };
        }
        let skipped = self
            .not_run
            .iter()
            .any(|c| at(&c.scenario, &c.linker, &c.target, &c.backend));
        if skipped {
            "skip"
        } else {
            "-"
        }
    }

    /// Why cells were not run (`skip` in the matrix), one line per backend and reason.
    pub fn not_run_text(&self) -> String {
        let mut reasons: Vec<(&str, &str, usize)> = Vec::new();
        for c in &self.not_run {
            match reasons
                .iter_mut()
                .find(|(b, r, _)| *b == c.backend && *r == c.reason)
            {
                Some(entry) => entry.2 += 1,
                None => reasons.push((&c.backend, &c.reason, 1)),
            }
        }
        reasons
            .iter()
            .map(|(backend, reason, n)| format!("skip ({n} cells): {backend}: {reason}\n"))
            .collect()
    }

    /// The known gaps (`gap` and `CLOSED` in the matrix), one line each with its counts.
    pub fn gaps_text(&self) -> String {
        let mut gaps: Vec<(&str, usize, usize)> = Vec::new();
        for c in &self.cases {
            let (about, known) = match &c.gap {
                Some(GapMark::Known { about }) => (about, 1),
                Some(GapMark::Closed { about }) => (about, 0),
                None => continue,
            };
            match gaps.iter_mut().find(|(a, _, _)| a == about) {
                Some(entry) => {
                    entry.1 += known;
                    entry.2 += 1 - known;
                }
                None => gaps.push((about, known, 1 - known)),
            }
        }
        let mut out = String::new();
        for (about, known, closed) in gaps {
            out.push_str(&format!("known gap ({known} cells): {about}\n"));
            if closed > 0 {
                out.push_str(&format!(
                    "gap CLOSED ({closed} cells passed): remove it from emu-tests/src/gaps.rs\n"
                ));
            }
        }
        out
    }

    /// The matrix, then the known gaps and why cells were skipped, then every unexplained
    /// failure's first difference, then `N passed, N failed` (and the gap counts, if any).
    pub fn to_text(&self) -> String {
        let mut out = self.to_matrix();
        out.push_str(&self.gaps_text());
        out.push_str(&self.not_run_text());
        for c in self.cases.iter().filter(|c| !c.passed() && !c.known_gap()) {
            if let Outcome::Fail { difference } = &c.outcome {
                out.push_str(&format!(
                    "\n--- {} on {} ({}, linked by {}): {}",
                    c.scenario, c.target, c.backend, c.linker, difference
                ));
            }
        }
        out.push_str(&format!(
            "\n{} passed, {} failed",
            self.passed(),
            self.failed()
        ));
        if self.known_gaps() > 0 {
            out.push_str(&format!(", {} known gap", self.known_gaps()));
        }
        if self.gaps_closed() > 0 {
            out.push_str(&format!(", {} gap closed", self.gaps_closed()));
        }
        out.push('\n');
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Scenario(#[from] crate::corpus::ScenarioError),
    #[error("the linker {0} does not exist or is not a file")]
    LinkerMissing(PathBuf),
    #[error("unknown scenario `{0}`")]
    UnknownScenario(String),
    #[error("cannot create a build directory: {0}")]
    TempDir(std::io::Error),
}

/// One build: a scenario for a target with a linker, then every applicable backend on it.
struct Job<'a> {
    scenario: &'a Scenario,
    target: Target,
    linker: &'a Linker,
    backends: Vec<&'a dyn Backend>,
}

/// The jobs of the matrix, and the cells that apply but whose backend cannot run them yet.
fn plan<'a>(
    scenarios: &'a [Scenario],
    backends: &[&'a dyn Backend],
    options: &'a CheckOptions,
) -> (Vec<Job<'a>>, Vec<NotRun>) {
    let mut jobs = Vec::new();
    let mut not_run = Vec::new();
    let selected =
        |s: &Scenario| options.scenarios.is_empty() || options.scenarios.contains(&s.name);
    for scenario in scenarios.iter().filter(|s| selected(s)) {
        for linker in &options.linkers {
            for &target in &options.targets {
                let mut runnable = Vec::new();
                for &backend in backends.iter().filter(|b| applies(**b, scenario, target)) {
                    match not_yet(backend, scenario) {
                        None => runnable.push(backend),
                        Some(reason) => not_run.push(NotRun {
                            scenario: scenario.name.clone(),
                            target: target.name(),
                            backend: backend.name().to_string(),
                            linker: linker.name().to_string(),
                            reason: reason.to_string(),
                        }),
                    }
                }
                if !runnable.is_empty() {
                    jobs.push(Job {
                        scenario,
                        target,
                        linker,
                        backends: runnable,
                    });
                }
            }
        }
    }
    (jobs, not_run)
}

/// Runs the matrix over `scenarios` with `backends`.
pub fn run(
    scenarios: &[Scenario],
    backends: &[&dyn Backend],
    options: &CheckOptions,
) -> Result<Report, CheckError> {
    let started = std::time::Instant::now();
    for linker in &options.linkers {
        if let Linker::Path { path, .. } = linker {
            if !path.is_file() {
                return Err(CheckError::LinkerMissing(path.clone()));
            }
        }
    }
    for name in &options.scenarios {
        if !scenarios.iter().any(|s| &s.name == name) {
            return Err(CheckError::UnknownScenario(name.clone()));
        }
    }
    let temp;
    let root: &Path = match &options.keep_dir {
        Some(dir) => dir,
        None => {
            temp = tempfile::Builder::new()
                .prefix("tether-check-")
                .tempdir()
                .map_err(CheckError::TempDir)?;
            temp.path()
        }
    };
    let (jobs, not_run) = plan(scenarios, backends, options);
    let workers = match options.jobs {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Vec<CaseResult>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers.min(jobs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let dir = root.join(format!(
                    "{i:04}-{}-{}-{}",
                    job.scenario.name,
                    job.target,
                    job.linker.name()
                ));
                let cases = run_job(job, &dir);
                if let Ok(mut r) = results.lock() {
                    r.push((i, cases));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    Ok(Report {
        cases: results.into_iter().flat_map(|(_, c)| c).collect(),
        not_run,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn run_job(job: &Job, dir: &Path) -> Vec<CaseResult> {
    let case = |backend: &dyn Backend, outcome| {
        let mut case = CaseResult {
            scenario: job.scenario.name.clone(),
            target: job.target.name(),
            backend: backend.name().to_string(),
            linker: job.linker.name().to_string(),
            outcome,
            gap: None,
        };
        case.gap = gap_mark(job.scenario, backend, &case);
        case
    };
    match build(job.scenario, job.target, job.linker, dir) {
        Ok(built) => {
            // Backends that need the program cannot run without it; the others still can.
            let (blocked, backends): (Vec<&dyn Backend>, Vec<&dyn Backend>) = job
                .backends
                .iter()
                .partition(|b| built.program_error.is_some() && needs_program(**b, job.scenario));
            let mut cases: Vec<CaseResult> = match &built.program_error {
                Some(error) => {
                    let outcome = build_outcome(job.scenario, error);
                    blocked.iter().map(|b| case(*b, outcome.clone())).collect()
                }
                None => Vec::new(),
            };
            let runs: Vec<_> = backends
                .iter()
                .map(|backend| {
                    let observation = backend.run(&built);
                    let ran_program = needs_program(*backend, job.scenario);
                    let difference = first_difference(job.scenario, ran_program, &observation);
                    (*backend, observation, difference)
                })
                .collect();
            // Agreement: an in-process backend that met the expectation must also have bound
            // what the real loader bound, where the real loader met it too.
            let agreement: Vec<Option<Difference>> = runs
                .iter()
                .map(|(backend, observation, difference)| {
                    if backend.runs_program() || difference.is_some() {
                        return None;
                    }
                    runs.iter()
                        .filter(|(other, _, d)| other.runs_program() && d.is_none())
                        .find_map(|(other, real, _)| {
                            disagreement(job.scenario, observation, real, other.name())
                        })
                })
                .collect();
            let runs: Vec<_> = runs
                .into_iter()
                .zip(agreement)
                .map(|((backend, observation, difference), disagreement)| {
                    (backend, observation, difference.or(disagreement))
                })
                .collect();
            let ran = runs
                .iter()
                .enumerate()
                .map(|(i, (backend, _, difference))| {
                    let outcome = match difference {
                        None => Outcome::Pass,
                        Some(difference) => {
                            let mut difference = difference.clone();
                            difference.others = runs
                                .iter()
                                .enumerate()
                                .filter(|(j, _)| *j != i)
                                .map(|(_, (other, observation, other_difference))| OtherBackend {
                                    backend: other.name().to_string(),
                                    passed: other_difference.is_none(),
                                    context: log_lines_around(
                                        &observation.log,
                                        difference.needle.as_deref(),
                                    ),
                                })
                                .collect();
                            Outcome::Fail { difference }
                        }
                    };
                    case(*backend, outcome)
                });
            cases.extend(ran);
            let rank = |c: &CaseResult| job.backends.iter().position(|b| b.name() == c.backend);
            cases.sort_by_key(rank);
            cases
        }
        Err(error) => {
            let outcome = build_outcome(job.scenario, &error);
            job.backends
                .iter()
                .map(|b| case(*b, outcome.clone()))
                .collect()
        }
    }
}

/// How a case stands to the known gaps: a failure one explains, or a pass one predicted wrong.
fn gap_mark(scenario: &Scenario, backend: &dyn Backend, case: &CaseResult) -> Option<GapMark> {
    if case.passed() {
        gaps::predicting(scenario, backend, &case.linker).map(|g| GapMark::Closed {
            about: g.about.to_string(),
        })
    } else {
        gaps::explaining(scenario, case).map(|g| GapMark::Known {
            about: g.about.to_string(),
        })
    }
}

/// A build failure passes only when the scenario expects exactly that link error.
fn build_outcome(scenario: &Scenario, error: &BuildError) -> Outcome {
    let message = error.to_string();
    if let (Some(expected), BuildError::Link { output, .. }) =
        (&scenario.manifest.expect.error, error)
    {
        if expected.stage == ErrorStage::Link && output.contains(&expected.contains) {
            return Outcome::Pass;
        }
    }
    let mut lines = message.lines();
    let first = lines.next().unwrap_or("").to_string();
    Outcome::Fail {
        difference: Difference {
            what: "build".into(),
            expected: match &scenario.manifest.expect.error {
                Some(e) if e.stage == ErrorStage::Link => {
                    format!("a link error containing `{}`", e.contains)
                }
                _ => "every module builds".into(),
            },
            observed: first,
            context: lines.map(str::to_string).collect(),
            needle: None,
            others: Vec::new(),
        },
    }
}

/// What `tether check` checks without `--linker`: GNU ld (the reference) and tether's
/// `ld-tether` when it is built next to the running executable.
pub fn default_linkers() -> Vec<Linker> {
    let mut linkers = vec![Linker::GnuLd];
    linkers.extend(Linker::tether_beside_current_exe());
    linkers
}

/// The built-in corpus on the real-loader backends (qemu-user for both architectures, and
/// native on the host's) plus any `extra` backends (the harness's Unicorn backend).
pub fn run_builtin(options: &CheckOptions, extra: &[&dyn Backend]) -> Result<Report, CheckError> {
    let scenarios = crate::corpus::corpus()?;
    let qemu = crate::backend::RealLoader::qemu();
    let native = crate::backend::RealLoader::native();
    let mut backends: Vec<&dyn Backend> = vec![&native, &qemu];
    backends.extend_from_slice(extra);
    run(&scenarios, &backends, options)
}

/// The built-in corpus on every target with one linker: what `tether check --linker PATH`
/// runs (with the Unicorn backend as `extra`).
pub fn run_for_linker(linker: Linker, extra: &[&dyn Backend]) -> Result<Report, CheckError> {
    run_builtin(&CheckOptions::new(vec![linker]), extra)
}
