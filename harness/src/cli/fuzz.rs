//! `tether fuzz [--cases N] [--property encodings|objects|inputs|all] [--arch arm|x86_64|all]
//! [--tool linker|harness|all] [--seed S] [--out DIR]`: a long fuzzing campaign with a progress
//! bar. A failing case (shrunk to a minimal one where the property shrinks) is written to DIR
//! with a one-line reproduction command.

use crate::fuzz::{self, encodings, inputs, objects};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Property {
    /// Every relocation encoding, executed one instruction at a time.
    Encodings,
    /// Generated objects linked by tether and run by the harness.
    Objects,
    /// Mutated real objects, archives, scripts and libraries given to the linker and the
    /// harness, which must end cleanly within limits on memory, output and time.
    Inputs,
    /// Encodings and objects (inputs runs only when asked for by name: it spawns a process
    /// per case).
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FuzzTool {
    Linker,
    Harness,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FuzzArch {
    Arm,
    #[value(name = "x86_64")]
    X86_64,
    All,
}

#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Cases per property and architecture.
    #[arg(long, default_value_t = 100_000)]
    pub cases: u32,
    #[arg(long, value_enum, default_value_t = Property::All)]
    pub property: Property,
    #[arg(long, value_enum, default_value_t = FuzzArch::All)]
    pub arch: FuzzArch,
    /// Seed of the random cases (the same seed gives the same campaign); random when absent.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where failing cases are written.
    #[arg(long, default_value = "tether-fuzz-failures")]
    pub out: PathBuf,
    /// For --property inputs: which program reads the mutated inputs.
    #[arg(long, value_enum, default_value_t = FuzzTool::All)]
    pub tool: FuzzTool,
    /// For --property inputs: cases run at once (default: the number of CPUs).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
}

/// Exit status: 0 when every case passed, 1 when one failed (written under --out).
pub fn run(args: &FuzzArgs) -> i32 {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let arches: Vec<bool> = match args.arch {
        FuzzArch::Arm => vec![true],
        FuzzArch::X86_64 => vec![false],
        FuzzArch::All => vec![false, true],
    };
    let mut failed = false;
    if args.property == Property::Inputs {
        return run_inputs(args, seed, &arches);
    }
    for &arm in &arches {
        let arch_name = if arm { "arm" } else { "x86_64" };
        if matches!(args.property, Property::Encodings | Property::All) {
            let machine = if arm {
                object::elf::EM_ARM.0
            } else {
                object::elf::EM_X86_64.0
            };
            let probes: &'static [encodings::Probe] = Box::leak(
                encodings::PROBES
                    .iter()
                    .filter(|p| p.machine == machine)
                    .copied()
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            );
            let bar = progress(args.cases, &format!("encodings {arch_name}"));
            let result = fuzz::run_encodings(
                probes,
                &encodings::tether_writer,
                args.cases,
                Some(seed),
                || bar.inc(1),
            );
            bar.finish_and_clear();
            match result {
                Ok(stats) => println!(
                    "encodings {arch_name}: {} cases, {} applied and executed, {} refused out of range",
                    args.cases, stats.passed, stats.refused
                ),
                Err(failure) => {
                    failed = true;
                    let dir = args.out.join(format!("encodings-{arch_name}-{seed}"));
                    let repro = format!(
                        "tether fuzz --property encodings --arch {arch_name} --seed {seed} --cases {}",
                        args.cases
                    );
                    report(&dir, &failure.to_string(), &repro, &[]);
                }
            }
        }
        if matches!(args.property, Property::Objects | Property::All) {
            let bar = progress(args.cases, &format!("objects {arch_name}"));
            let result = fuzz::run_objects(arm, args.cases, Some(seed), || bar.inc(1));
            bar.finish_and_clear();
            match result {
                Ok(stats) => println!(
                    "objects {arch_name}: {} generated objects linked, loaded and checked",
                    stats.passed
                ),
                Err(failure) => {
                    failed = true;
                    let dir = args.out.join(format!("objects-{arch_name}-{seed}"));
                    let files = match objects::write_object(&failure.case) {
                        Ok(bytes) => vec![("gen.o", bytes)],
                        Err(_) => Vec::new(),
                    };
                    // The failing function is named in the message.
                    let function = failure
                        .message
                        .split_whitespace()
                        .find(|w| w.starts_with("gen_fn_"))
                        .unwrap_or("gen_fn_0")
                        .to_string();
                    let repro = format!(
                        "ld-tether -shared -o libgen.so gen.o && tether run libgen.so --trace --call {function}"
                    );
                    report(&dir, &failure.to_string(), &repro, &files);
                }
            }
        }
    }
    i32::from(failed)
}

fn run_inputs(args: &FuzzArgs, seed: u64, arches: &[bool]) -> i32 {
    let programs = match inputs::Programs::beside_current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tether fuzz: {e}");
            return 2;
        }
    };
    let tools: &[inputs::Tool] = match args.tool {
        FuzzTool::Linker => &[inputs::Tool::Linker],
        FuzzTool::Harness => &[inputs::Tool::Harness],
        FuzzTool::All => &[inputs::Tool::Linker, inputs::Tool::Harness],
    };
    let workers = match args.jobs {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let mut failed = false;
    for &arm in arches {
        let arch = if arm { "arm" } else { "x86_64" };
        for &tool in tools {
            let what = format!("inputs {} {arch}", tool.name());
            let bar = progress(args.cases, &what);
            // Without a terminal (a long campaign in the background) the counts so far are
            // printed now and then instead, so a campaign cut short still has figures.
            let quiet = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let on_case = |t: &inputs::Tally| {
                bar.inc(1);
                if !quiet && t.cases % 10_000 == 0 {
                    println!("{what} so far: {}", t.summary());
                }
            };
            let result = inputs::campaign(
                &programs,
                tool,
                arm,
                u64::from(args.cases),
                seed,
                workers,
                &on_case,
            );
            bar.finish_and_clear();
            let tally = match result {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("tether fuzz: {what}: {e}");
                    return 2;
                }
            };
            println!("{what} (seed {seed}): {}", tally.summary());
            for r in tally.failed.iter().filter(|r| !r.input.is_empty()) {
                failed = true;
                let dir = args
                    .out
                    .join(format!("inputs-{}-{arch}-{}", tool.name(), r.seed));
                match inputs::write_failure(&dir, &programs, arm, r) {
                    Ok(repro) => println!(
                        "FAILED: {:?}: {}
  {}
  reproduce: {repro}",
                        r.kind,
                        match &r.verdict {
                            inputs::Verdict::Failed(w) => w.as_str(),
                            _ => "",
                        },
                        r.stderr.lines().next().unwrap_or("")
                    ),
                    Err(e) => println!("FAILED (could not write {}: {e})", dir.display()),
                }
            }
            failed |= !tally.failed.is_empty();
        }
    }
    i32::from(failed)
}

fn progress(len: u32, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(u64::from(len));
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} cases, {per_sec}, eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Writes a failing case's files, its description and the reproduction command under `dir`.
fn report(dir: &Path, description: &str, repro: &str, files: &[(&str, Vec<u8>)]) {
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes)?;
        }
        std::fs::write(
            dir.join("case.txt"),
            format!("{description}\n\nreproduce: {repro}\n"),
        )
    });
    println!("FAILED: {description}");
    match written {
        Ok(()) => println!("  written to {}", dir.display()),
        Err(e) => println!("  (could not write {}: {e})", dir.display()),
    }
    println!("  reproduce: (cd {} && {repro})", dir.display());
}
