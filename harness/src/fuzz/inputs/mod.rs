//! Property (c), malformed inputs: real objects, archives, linker scripts, version scripts and
//! shared libraries ([`seeds`]) are mutated ([`mutate`]) and given to ld.tether, or (libraries)
//! to the harness, each case run as a child under limits on memory, output size and time.
//! Every case must end cleanly: success, or exit status 1 with one error naming the input.
//! No panic, no signal, no limit reached, no message that names nothing.

pub mod fields;
pub mod mutate;
pub mod seeds;

use mutate::Rng;
use seeds::Seeds;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tether_emu_tests::child::{self, Ended, Limits};

/// Which program reads the mutated input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Linker,
    Harness,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Linker => "linker",
            Tool::Harness => "harness",
        }
    }
}

/// What is mutated, and so how the case is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Archive,
    WholeArchive,
    Script,
    VersionScript,
    SharedInput,
    /// A library the harness loads and calls.
    Loaded,
}

const LINKER_KINDS: &[Kind] = &[
    Kind::Object,
    Kind::Object,
    Kind::Object,
    Kind::Archive,
    Kind::WholeArchive,
    Kind::Script,
    Kind::VersionScript,
    Kind::SharedInput,
    Kind::SharedInput,
];

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::Object => "case.o",
            Kind::Archive | Kind::WholeArchive => "libcase.a",
            Kind::Script => "case.ld",
            Kind::VersionScript => "case.map",
            Kind::SharedInput | Kind::Loaded => "libcase.so",
        }
    }
    /// The seed file this kind mutates.
    pub fn seed(self) -> &'static str {
        match self {
            Kind::Object => seeds::OBJECT,
            Kind::Archive | Kind::WholeArchive => seeds::ARCHIVE,
            Kind::Script => seeds::SCRIPT,
            Kind::VersionScript => seeds::VERSIONS,
            Kind::SharedInput => seeds::SHARED,
            Kind::Loaded => seeds::RUNNABLE,
        }
    }
    /// The arguments after the program: inputs relative to the case directory.
    fn args(self) -> Vec<&'static str> {
        let f = self.file();
        match self {
            Kind::Object => vec!["-shared", "-o", "out.so", f, seeds::SHARED],
            Kind::Archive => vec!["-shared", "-o", "out.so", seeds::OBJECT, f],
            Kind::WholeArchive => vec!["-shared", "-o", "out.so", "--whole-archive", f],
            Kind::Script => vec!["-shared", "-o", "out.so", f],
            Kind::VersionScript => vec![
                "-shared",
                "-o",
                "out.so",
                "--version-script",
                f,
                seeds::OBJECT,
                seeds::SHARED,
            ],
            Kind::SharedInput => vec!["-shared", "-o", "out.so", seeds::OBJECT, f],
            // A mutated library may well loop: the budget is what bounds it, kept small so that
            // a looping case ends in a second or two, not the default's twenty.
            Kind::Loaded => vec!["run", f, "--call", "entry", "1", "--budget", "2000000"],
        }
    }
}

/// The programs under test.
#[derive(Debug, Clone)]
pub struct Programs {
    pub ld_tether: PathBuf,
    pub tether: PathBuf,
}

impl Programs {
    /// `tether` is this executable; `ld-tether` is built beside it.
    pub fn beside_current_exe() -> Result<Programs, String> {
        let tether = std::env::current_exe().map_err(|e| e.to_string())?;
        let ld_tether = tether.with_file_name("ld-tether");
        if !ld_tether.is_file() {
            return Err(format!(
                "{} is missing: build it (cargo build -p tether-linker)",
                ld_tether.display()
            ));
        }
        Ok(Programs { ld_tether, tether })
    }
}

/// Peak memory a case may reach. The harness maps guest memory, up to 256 MiB per library,
/// and Unicorn copies a region when RELRO protection splits it: it gets more.
const LINKER_MEMORY: u64 = 512 << 20;
const HARNESS_MEMORY: u64 = 768 << 20;
/// Output file size (RLIMIT_FSIZE): seeds link to a few KiB.
const OUTPUT_LIMIT: u64 = 64 << 20;
const TIME_LIMIT: Duration = Duration::from_secs(30);

/// One case: what was mutated, how, and what happened.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub kind: Kind,
    pub seed: u64,
    pub notes: Vec<String>,
    pub verdict: Verdict,
    pub stderr: String,
    pub input: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Linked,
    CleanError,
    /// The harness ran the mutated library's code and it faulted or exited: a clean report.
    GuestStopped,
    Failed(String),
}

/// Runs one case in `dir` (which holds the seeds).
pub fn run_case(programs: &Programs, seeds: &Seeds, kind: Kind, seed: u64) -> CaseResult {
    let mut rng = Rng::new(seed);
    let mut input = seeds.read(kind.seed());
    let notes = match kind {
        Kind::Object | Kind::SharedInput | Kind::Loaded => mutate::elf(&mut rng, &mut input),
        Kind::Archive | Kind::WholeArchive => mutate::archive(&mut rng, &mut input),
        Kind::Script | Kind::VersionScript => mutate::script(&mut rng, &mut input),
    };
    let (verdict, stderr) = run_input(programs, seeds, kind, &input);
    CaseResult {
        kind,
        seed,
        notes,
        verdict,
        stderr,
        input,
    }
}

/// Runs `input` as the case file of `kind` beside the seeds and judges how it ended.
pub fn run_input(
    programs: &Programs,
    seeds: &Seeds,
    kind: Kind,
    input: &[u8],
) -> (Verdict, String) {
    match execute(programs, &seeds.dir, kind, input) {
        Ok((ended, stderr, rss)) => (judge(kind, ended, &stderr, rss), stderr),
        Err(e) => (
            Verdict::Failed(format!("could not run the case: {e}")),
            String::new(),
        ),
    }
}

fn execute(
    programs: &Programs,
    dir: &Path,
    kind: Kind,
    input: &[u8],
) -> std::io::Result<(Ended, String, u64)> {
    let case = tempfile::Builder::new().prefix("case-").tempdir_in(dir)?;
    for name in [seeds::OBJECT, seeds::ARCHIVE, seeds::SHARED] {
        std::fs::hard_link(dir.join(name), case.path().join(name))
            .or_else(|_| std::fs::copy(dir.join(name), case.path().join(name)).map(|_| ()))?;
    }
    std::fs::write(case.path().join(kind.file()), input)?;
    let (program, limits) = match kind {
        Kind::Loaded => (
            &programs.tether,
            Limits {
                timeout: TIME_LIMIT,
                address_space: None,
                file_size: Some(OUTPUT_LIMIT),
                output: 64 << 10,
            },
        ),
        _ => (
            &programs.ld_tether,
            Limits {
                timeout: TIME_LIMIT,
                address_space: Some(2 << 30),
                file_size: Some(OUTPUT_LIMIT),
                output: 64 << 10,
            },
        ),
    };
    let mut cmd = Command::new(program);
    cmd.args(kind.args()).current_dir(case.path());
    let f = child::run(cmd, &limits)?;
    Ok((f.ended, f.stderr, f.max_rss))
}

/// The verdict on a case from how the child ended and what it said.
fn judge(kind: Kind, ended: Ended, stderr: &str, rss: u64) -> Verdict {
    let harness = kind == Kind::Loaded;
    let memory = if harness {
        HARNESS_MEMORY
    } else {
        LINKER_MEMORY
    };
    if rss > memory {
        return Verdict::Failed(format!(
            "peak memory {} MiB, over the {} MiB limit",
            rss >> 20,
            memory >> 20
        ));
    }
    if stderr.contains("panicked at") {
        return Verdict::Failed("panic".into());
    }
    match ended {
        Ended::TimedOut => Verdict::Failed(format!("no end within {} s", TIME_LIMIT.as_secs())),
        Ended::Signal(libc::SIGXFSZ) => {
            Verdict::Failed(format!("output over {} MiB", OUTPUT_LIMIT >> 20))
        }
        Ended::Signal(s) => Verdict::Failed(format!("killed by signal {s}")),
        Ended::Code(0) => Verdict::Linked,
        Ended::Code(1) => match message_fault(kind, stderr) {
            None if harness && is_guest_stop(stderr) => Verdict::GuestStopped,
            None => Verdict::CleanError,
            Some(why) => Verdict::Failed(why),
        },
        // A guest may call exit(n) with any n.
        Ended::Code(_) if harness && stderr.trim().is_empty() => Verdict::GuestStopped,
        Ended::Code(c) => Verdict::Failed(format!("exit status {c}")),
    }
}

fn is_guest_stop(stderr: &str) -> bool {
    stderr.contains("tether: error: guest fault:") || stderr.contains("guest called exit")
}

/// The errors in `stderr`: each `prefix` line with the `>>>` lines that follow it.
fn errors<'a>(stderr: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    for line in stderr.lines() {
        if line.starts_with(prefix) {
            out.push(vec![line]);
        } else if let Some(e) = out.last_mut() {
            e.push(line);
        }
    }
    out
}

/// What is wrong with an error message, if anything: it must have the tool's prefix, name an
/// input (the mutated one when it calls the input malformed), and read cleanly.
pub fn message_fault(kind: Kind, stderr: &str) -> Option<String> {
    let prefix = if kind == Kind::Loaded {
        "tether: error: "
    } else {
        "ld.tether: error: "
    };
    let errors = errors(stderr, prefix);
    if errors.is_empty() {
        return Some(format!("no `{}` line", prefix.trim_end()));
    }
    if kind == Kind::Loaded && is_guest_stop(stderr) {
        return None;
    }
    let file = kind.file();
    let inputs = [file, seeds::OBJECT, seeds::ARCHIVE, seeds::SHARED, "out.so"];
    for e in &errors {
        let text = e.join("\n");
        let first = e[0];
        if first.contains("malformed") && !first.contains(file) {
            return Some(format!("a malformed-input error that does not name {file}"));
        }
        // A script that lists nothing leaves the link with no inputs: GNU ld says the same.
        let empty_script = kind == Kind::Script && first.ends_with("no input files (try --help)");
        if !empty_script && !inputs.iter().any(|i| text.contains(i)) {
            return Some("an error that names no input".into());
        }
        if first.contains("relocation relocation") {
            return Some("the message says \"relocation relocation\"".into());
        }
        // An empty quoted name; "`'`" is a quoted apostrophe, which a script may well contain.
        let empty_quote = first.contains("``")
            || first
                .match_indices("`'")
                .any(|(i, _)| !first[i + 2..].starts_with('`'));
        if empty_quote {
            return Some("the message quotes an empty name".into());
        }
        if first.contains('\u{fffd}') {
            return Some("the message prints a garbled name".into());
        }
    }
    None
}

/// Counts over a campaign.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub cases: u64,
    pub linked: u64,
    pub clean_errors: u64,
    pub guest_stopped: u64,
    pub failed: Vec<CaseResult>,
}

impl Tally {
    pub fn add(&mut self, r: CaseResult) {
        self.cases += 1;
        match r.verdict {
            Verdict::Linked => self.linked += 1,
            Verdict::CleanError => self.clean_errors += 1,
            Verdict::GuestStopped => self.guest_stopped += 1,
            Verdict::Failed(_) => self.failed.push(r),
        }
    }

    /// `N cases: N succeeded, N clean errors[, N guest faults or exits], N failed`.
    pub fn summary(&self) -> String {
        let guest = if self.guest_stopped > 0 {
            format!(", {} stopped by a guest fault or exit", self.guest_stopped)
        } else {
            String::new()
        };
        format!(
            "{} cases: {} succeeded, {} clean errors{guest}, {} failed",
            self.cases,
            self.linked,
            self.clean_errors,
            self.failed.len()
        )
    }
}

/// Failing cases kept in full; the rest are counted.
const KEPT_FAILURES: usize = 50;

/// `cases` cases for one tool and architecture, from `seed`, on `workers` threads; `on_case`
/// sees the tally after each case.
pub fn campaign(
    programs: &Programs,
    tool: Tool,
    arm: bool,
    cases: u64,
    seed: u64,
    workers: usize,
    on_case: &(dyn Fn(&Tally) + Sync),
) -> Result<Tally, String> {
    let root = tether_emu_tests::cleanup::TempDir::new("tether-fuzz-inputs-")
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let seeds = seeds::build(root.path(), arm)?;
    let next = std::sync::atomic::AtomicU64::new(0);
    let tally = std::sync::Mutex::new(Tally::default());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= cases {
                    break;
                }
                let case_seed = seed.wrapping_mul(0x1_0000_0001).wrapping_add(i);
                let kind = match tool {
                    Tool::Linker => *Rng::new(case_seed ^ 0x5eed).pick(LINKER_KINDS),
                    Tool::Harness => Kind::Loaded,
                };
                // A bug in the fuzzer's own mutations must not end the campaign unreported.
                let run =
                    std::panic::AssertUnwindSafe(|| run_case(programs, &seeds, kind, case_seed));
                let mut r = std::panic::catch_unwind(run).unwrap_or_else(|_| CaseResult {
                    kind,
                    seed: case_seed,
                    notes: Vec::new(),
                    verdict: Verdict::Failed("the fuzzer's mutation panicked".into()),
                    stderr: String::new(),
                    input: Vec::new(),
                });
                if let Ok(mut t) = tally.lock() {
                    if t.failed.len() >= KEPT_FAILURES {
                        r.input = Vec::new();
                    }
                    t.add(r);
                    on_case(&t);
                }
            });
        }
    });
    tally.into_inner().map_err(|e| e.to_string())
}

/// Writes a failing case under `dir`: the mutated input, the seeds it is linked with, what was
/// done and seen, and the one-line command that reproduces it there.
pub fn write_failure(
    dir: &Path,
    programs: &Programs,
    arm: bool,
    r: &CaseResult,
) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let seeds = seeds::build(dir, arm).map_err(std::io::Error::other)?;
    std::fs::write(seeds.dir.join(r.kind.file()), &r.input)?;
    let program = match r.kind {
        Kind::Loaded => &programs.tether,
        _ => &programs.ld_tether,
    };
    let repro = format!(
        "(cd {} && {} {})",
        dir.display(),
        program.display(),
        r.kind.args().join(" ")
    );
    let why = match &r.verdict {
        Verdict::Failed(w) => w.clone(),
        other => format!("{other:?}"),
    };
    std::fs::write(
        dir.join("case.txt"),
        format!(
            "{why}\nmutations (case seed {}): {}\nstderr:\n{}\nreproduce: {repro}\n",
            r.seed,
            r.notes.join("; "),
            r.stderr
        ),
    )?;
    Ok(repro)
}
