//! `tether check [--linker PATH]… [--json] [--junit FILE] [--scenario NAME]… [--target T]… [--backend B]…`:
//! the built-in scenario corpus, linked by each linker, run on every backend and compared
//! with each scenario's expectation.

use crate::UnicornBackend;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use tether_emu_tests::check::{self, CheckOptions};
use tether_emu_tests::{corpus, Backend, Linker, RealLoader, Target};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A GNU-ld-compatible linker to check (repeatable). Default: GNU ld and the ld-tether
    /// built next to this binary.
    #[arg(long, value_name = "PATH")]
    pub linker: Vec<PathBuf>,
    /// Only this scenario (repeatable).
    #[arg(long, value_name = "NAME")]
    pub scenario: Vec<String>,
    /// Only this target (repeatable): x86_64-gcc, x86_64-clang, arm-gcc-thumb, arm-gcc-arm, arm-clang.
    #[arg(long, value_name = "TARGET")]
    pub target: Vec<String>,
    /// Only this backend (repeatable): unicorn, qemu, native.
    #[arg(long, value_name = "BACKEND")]
    pub backend: Vec<String>,
    /// Builds running at once (default: the number of CPUs).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Keep every build directory under DIR.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as JUnit XML to FILE (one test case per scenario, target,
    /// backend and linker).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// List the scenarios and what each proves, then exit.
    #[arg(long)]
    pub list: bool,
    /// Seconds each compile, link and run may take; past it that step is killed (with what it
    /// started) and reported as timed out for its cell, and the check goes on.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub timeout: f64,
}

/// Exit status: 0 when every case passed, 1 when one failed, 2 when the check could not run.
pub fn run(args: &CheckArgs) -> i32 {
    match check(args) {
        Ok(status) => status,
        Err(message) => {
            eprintln!("tether check: {message}");
            2
        }
    }
}

fn check(args: &CheckArgs) -> Result<i32, String> {
    tether_emu_tests::cleanup::install_handler();
    let scenarios = corpus().map_err(|e| e.to_string())?;
    if args.list {
        for s in &scenarios {
            println!("{:20} {}", s.name, s.manifest.about);
        }
        return Ok(0);
    }
    let linkers = if args.linker.is_empty() {
        check::default_linkers()
    } else {
        args.linker.iter().map(Linker::at).collect()
    };
    let mut options = CheckOptions::new(linkers);
    if !args.target.is_empty() {
        options.targets = args
            .target
            .iter()
            .map(|name| Target::parse(name).ok_or_else(|| format!("unknown target `{name}`")))
            .collect::<Result<_, _>>()?;
    }
    options.scenarios = args.scenario.clone();
    options.jobs = args.jobs;
    options.keep_dir = args.keep.clone();
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            format!(
                "--timeout {}: not a positive number of seconds",
                args.timeout
            )
        })?;
    options.timeout = timeout;

    let unicorn = UnicornBackend::default();
    let mut qemu = RealLoader::qemu();
    let mut native = RealLoader::native();
    qemu.timeout = timeout;
    native.timeout = timeout;
    let all: [&dyn Backend; 3] = [&unicorn, &qemu, &native];
    for name in &args.backend {
        if !all.iter().any(|b| b.name() == name) {
            return Err(format!("unknown backend `{name}` (unicorn, qemu, native)"));
        }
    }
    let backends: Vec<&dyn Backend> = all
        .into_iter()
        .filter(|b| args.backend.is_empty() || args.backend.iter().any(|n| n == b.name()))
        .collect();

    let bar = progress_bar();
    let on_progress = |p: &check::Progress| {
        bar.set_length(p.builds as u64);
        bar.set_position(p.builds_done as u64);
        bar.set_message(format!("{} failed · {}", p.cases_failed, p.last));
    };
    let report = check::run_with_progress(&scenarios, &backends, &options, &on_progress);
    // A Ctrl-C kills the children: their failures are no result to report.
    tether_emu_tests::cleanup::hold_if_interrupted();
    let report = report.map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    if let Some(path) = &args.junit {
        std::fs::write(path, tether_emu_tests::junit::to_junit(&report))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
        print_reruns(&report);
    }
    Ok(if report.success() { 0 } else { 1 })
}

/// A progress line on stderr while the check runs (drawn only on a terminal).
fn progress_bar() -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "tether check [{elapsed_precise}] {bar:30} {pos}/{len} builds · {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// For every failed case whose build was kept: the command that reruns it under gdb.
fn print_reruns(report: &check::Report) {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "tether".into());
    let mut first = true;
    for c in report.cases.iter().filter(|c| !c.passed()) {
        let Some(args) = &c.rerun else { continue };
        if first {
            println!("\nrerun a failed case under gdb (then `target remote 127.0.0.1:1234`):");
            first = false;
        }
        let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        println!(
            "  {} on {} ({}, {}): {} {} --gdb 127.0.0.1:1234",
            c.scenario,
            c.target,
            c.backend,
            c.linker,
            shell_quote(&exe),
            quoted.join(" ")
        );
    }
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-=:+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
