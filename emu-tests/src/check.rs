//! The check: every scenario × target × backend × linker, built in parallel, each run compared
//! with its expectation, reported as a matrix with the first difference of every failure.

use crate::backend::{applies, needs_program, Backend};
use crate::build::{build_with_timeout, BuildError, BuiltScenario, DEFAULT_TIMEOUT};
use crate::compare::{disagreement, first_difference, log_lines_around, Difference, OtherBackend};
use crate::corpus::Scenario;
use crate::linker::Linker;
use crate::manifest::ErrorStage;
use crate::observation::Observation;
use crate::target::Target;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

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
    /// Bound on each compile and link (the backends carry their own for runs).
    pub timeout: Duration,
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
            timeout: DEFAULT_TIMEOUT,
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
    /// For a failed case whose build was kept (`keep_dir`): the arguments of the `tether run`
    /// that reruns it in the harness (add `--gdb HOST:PORT` to debug it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<Vec<String>>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Pass
    }
}

/// The whole matrix.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub cases: Vec<CaseResult>,
    pub seconds: f64,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    pub fn success(&self) -> bool {
        self.failed() == 0 && !self.cases.is_empty()
    }

    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "cases": self.cases,
            "passed": self.passed(),
            "failed": self.failed(),
            "seconds": self.seconds,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }

    /// One line per case: `PASS|FAIL scenario target backend linker`.
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
                if c.passed() { "PASS" } else { "FAIL" },
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
        for c in &self.cases {
            if !backends.contains(&c.backend.as_str()) {
                backends.push(&c.backend);
            }
            if !columns.contains(&(c.target.as_str(), c.backend.as_str())) {
                columns.push((&c.target, &c.backend));
            }
            if !rows.contains(&(c.scenario.as_str(), c.linker.as_str())) {
                rows.push((&c.scenario, &c.linker));
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
                let cell = self
                    .cases
                    .iter()
                    .find(|c| {
                        c.scenario == *scenario
                            && c.linker == *linker_name
                            && c.target == *t
                            && c.backend == *b
                    })
                    .map_or("-", |c| if c.passed() { "ok" } else { "FAIL" });
                out.push_str(&format!("  {cell:w$}"));
            }
            out.push('\n');
        }
        out.lines().map(|l| format!("{}\n", l.trim_end())).collect()
    }

    /// The matrix, then every failure's first difference, then `N passed, N failed`.
    pub fn to_text(&self) -> String {
        let mut out = self.to_matrix();
        for c in self.cases.iter().filter(|c| !c.passed()) {
            if let Outcome::Fail { difference } = &c.outcome {
                out.push_str(&format!(
                    "\n--- {} on {} ({}, linked by {}): {}",
                    c.scenario, c.target, c.backend, c.linker, difference
                ));
            }
        }
        out.push_str(&format!(
            "\n{} passed, {} failed\n",
            self.passed(),
            self.failed()
        ));
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

/// How far the check has come, for a progress line.
#[derive(Debug, Clone)]
pub struct Progress {
    pub builds_done: usize,
    pub builds: usize,
    pub cases_failed: usize,
    /// The build that just finished: `scenario target linker`.
    pub last: String,
}

/// Runs the matrix over `scenarios` with `backends`.
pub fn run(
    scenarios: &[Scenario],
    backends: &[&dyn Backend],
    options: &CheckOptions,
) -> Result<Report, CheckError> {
    run_with_progress(scenarios, backends, options, &|_| {})
}

/// [`run`], calling `progress` after each build and its runs.
pub fn run_with_progress(
    scenarios: &[Scenario],
    backends: &[&dyn Backend],
    options: &CheckOptions,
    progress: &(dyn Fn(&Progress) + Sync),
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
            // Removed on drop, panics included, and by the Ctrl-C handler.
            temp = crate::cleanup::TempDir::new("tether-check-").map_err(CheckError::TempDir)?;
            temp.path()
        }
    };
    let mut jobs = Vec::new();
    for scenario in scenarios {
        if !options.scenarios.is_empty() && !options.scenarios.contains(&scenario.name) {
            continue;
        }
        for linker in &options.linkers {
            for &target in &options.targets {
                let backends: Vec<&dyn Backend> = backends
                    .iter()
                    .copied()
                    .filter(|b| applies(*b, scenario, target))
                    .collect();
                if !backends.is_empty() {
                    jobs.push(Job {
                        scenario,
                        target,
                        linker,
                        backends,
                    });
                }
            }
        }
    }
    let workers = match options.jobs {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Vec<CaseResult>)>> = Mutex::new(Vec::new());
    let keep = options.keep_dir.is_some();
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
                let cases = run_job(job, &dir, keep, options.timeout);
                if let Ok(mut r) = results.lock() {
                    r.push((i, cases));
                    progress(&Progress {
                        builds_done: r.len(),
                        builds: jobs.len(),
                        cases_failed: r
                            .iter()
                            .flat_map(|(_, c)| c)
                            .filter(|c| !c.passed())
                            .count(),
                        last: format!("{} {} {}", job.scenario.name, job.target, job.linker.name()),
                    });
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    Ok(Report {
        cases: results.into_iter().flat_map(|(_, c)| c).collect(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn run_job(job: &Job, dir: &Path, keep: bool, timeout: Duration) -> Vec<CaseResult> {
    let case = |backend: &str, outcome| CaseResult {
        scenario: job.scenario.name.clone(),
        target: job.target.name(),
        backend: backend.to_string(),
        linker: job.linker.name().to_string(),
        outcome,
        rerun: None,
    };
    match build_with_timeout(job.scenario, job.target, job.linker, dir, timeout) {
        Ok(built) => {
            // Backends that need the program cannot run without it; the others still can.
            let (blocked, runnable): (Vec<&dyn Backend>, Vec<&dyn Backend>) = job
                .backends
                .iter()
                .partition(|b| built.program_error.is_some() && needs_program(**b, job.scenario));
            let mut cases: Vec<CaseResult> = match &built.program_error {
                Some(error) => {
                    let outcome = build_outcome(job.scenario, error);
                    blocked
                        .iter()
                        .map(|b| case(b.name(), outcome.clone()))
                        .collect()
                }
                None => Vec::new(),
            };
            cases.extend(
                check_built(&built, &runnable)
                    .into_iter()
                    .map(|(backend, outcome)| {
                        let mut result = case(&backend, outcome);
                        if keep && !result.passed() {
                            result.rerun = Some(rerun_args(&built));
                        }
                        result
                    }),
            );
            let rank = |c: &CaseResult| job.backends.iter().position(|b| b.name() == c.backend);
            cases.sort_by_key(rank);
            cases
        }
        Err(error) => {
            let outcome = build_outcome(job.scenario, &error);
            job.backends
                .iter()
                .map(|b| case(b.name(), outcome.clone()))
                .collect()
        }
    }
}

/// One backend's runs of a build: lazily, and eagerly when the backend can.
struct Run<'a> {
    backend: &'a dyn Backend,
    lazy: Observation,
    eager: Option<Observation>,
    difference: Option<Difference>,
}

/// Runs `built` on every backend, lazily and with eager binding, and judges each backend:
/// its lazy run against the expectation, lazy against eager, and an in-process loader against
/// the real loaders that passed. Gives each backend's name and outcome.
pub fn check_built(built: &BuiltScenario, backends: &[&dyn Backend]) -> Vec<(String, Outcome)> {
    let scenario = built.scenario;
    let mut runs: Vec<Run> = backends
        .iter()
        .map(|&backend| {
            let lazy = backend.run(built);
            let eager = crate::modes::compares(scenario)
                .then(|| backend.run_bind_now(built))
                .flatten();
            // A lazy-only difference says more than the expectation's: the lazy path broke.
            let difference = eager
                .as_ref()
                .and_then(|e| crate::modes::lazy_eager_difference(&lazy, e))
                .or_else(|| first_difference(scenario, needs_program(backend, scenario), &lazy));
            Run {
                backend,
                lazy,
                eager,
                difference,
            }
        })
        .collect();
    // Agreement: an in-process backend that met the expectation must also have bound what the
    // real loader bound, and left its GOT as glibc's eager binding did, where the real loader
    // met it too.
    let agreement: Vec<Option<Difference>> = runs
        .iter()
        .map(|run| {
            if run.backend.runs_program() || run.difference.is_some() {
                return None;
            }
            runs.iter()
                .filter(|other| other.backend.runs_program() && other.difference.is_none())
                .find_map(|other| {
                    let name = other.backend.name();
                    disagreement(scenario, &run.lazy, &other.lazy, name).or_else(|| {
                        let real_eager = other.eager.as_ref()?;
                        [Some(&run.lazy), run.eager.as_ref()]
                            .into_iter()
                            .flatten()
                            .find_map(|o| {
                                crate::modes::got_difference(scenario, o, real_eager, name)
                            })
                    })
                })
        })
        .collect();
    for (run, disagreement) in runs.iter_mut().zip(agreement) {
        run.difference = run.difference.take().or(disagreement);
    }
    runs.iter()
        .enumerate()
        .map(|(i, run)| {
            let outcome = match &run.difference {
                None => Outcome::Pass,
                Some(difference) => {
                    let mut difference = difference.clone();
                    difference.others = runs
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, other)| OtherBackend {
                            backend: other.backend.name().to_string(),
                            passed: other.difference.is_none(),
                            context: log_lines_around(
                                &other.lazy.log,
                                difference.needle.as_deref(),
                            ),
                        })
                        .collect();
                    Outcome::Fail { difference }
                }
            };
            (run.backend.name().to_string(), outcome)
        })
        .collect()
}

/// `tether run` arguments that load what the harness loads for `built` and play its `main`:
/// the program from its entry point when there is one, else the first library and call.
pub fn rerun_args(built: &BuiltScenario) -> Vec<String> {
    let dir = built.out_dir.display().to_string();
    let mut args = vec!["run".to_string()];
    if let Some(program) = &built.program {
        args.push(program.path.display().to_string());
        args.extend(["-L".to_string(), dir]);
        return args;
    }
    let libraries = built.initial_libraries();
    if let Some(first) = libraries.first() {
        args.push(first.path.display().to_string());
    }
    args.extend(["-L".to_string(), dir]);
    if let Some(call) = built.scenario.manifest.calls.first() {
        args.push("--call".into());
        args.push(call.symbol.clone());
        args.extend(call.args.iter().map(|a| a.to_string()));
    }
    args
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
    let mut first = lines.next().unwrap_or("").to_string();
    // The reason (a timeout, no output, the linker's first error) belongs on the summary line.
    if let BuildError::Link { output, .. } = error {
        if let Some(reason) = output.lines().find(|l| !l.trim().is_empty()) {
            first = format!(
                "{} {}",
                first.trim_end_matches(':').trim_end(),
                reason.trim()
            );
            first = first.replacen("failed ", "failed: ", 1);
        }
    }
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
