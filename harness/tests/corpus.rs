//! The whole built-in corpus, linked by GNU ld and by ld-tether, on every backend: Unicorn
//! (both architectures), qemu-user (both) and the native loader (x86-64), every target.
//! `TETHER_SCENARIOS=a,b` narrows it while debugging.
//!
//! GNU ld and ld-tether must pass every cell, the programs linked by each included.

use tether_emu_tests::check::{self, CheckOptions};
use tether_emu_tests::{corpus, Arch, Linker, Target};
use tether_harness::UnicornBackend;

#[test]
fn every_scenario_passes_for_gnu_ld_and_tether_on_every_backend() {
    let scenarios = corpus().unwrap_or_else(|e| panic!("{e}"));
    let tether = std::path::PathBuf::from(env!("CARGO_BIN_EXE_tether")).with_file_name("ld-tether");
    assert!(
        tether.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        tether.display()
    );
    let mut options = CheckOptions::new(vec![Linker::GnuLd, Linker::at(&tether)]);
    if let Ok(only) = std::env::var("TETHER_SCENARIOS") {
        options.scenarios = only.split(',').map(str::to_string).collect();
    }
    let unicorn = UnicornBackend::default();
    let report = check::run_builtin(&options, &[&unicorn]).unwrap_or_else(|e| panic!("{e}"));
    let text = report.to_text();
    println!("{text}");
    println!(
        "corpus: {} cases in {:.1} s",
        report.cases.len(),
        report.seconds
    );
    assert!(report.success(), "{text}");
    // Every scenario ran on every target of its architectures and on every backend that can
    // run it, for both linkers: none was left out by mistake.
    for s in &scenarios {
        if !options.scenarios.is_empty() && !options.scenarios.contains(&s.name) {
            continue;
        }
        for target in Target::all() {
            let in_process = !s.manifest.real_loader_only;
            let mut expected = match (s.manifest.applies_to_target(target), target.arch) {
                (false, _) => vec![],
                (true, Arch::X86_64) => vec!["native", "qemu"],
                (true, Arch::Arm) => vec!["qemu"],
            };
            if !expected.is_empty() && in_process {
                expected.push("unicorn");
            }
            for linker in ["gnu-ld", "ld-tether"] {
                let ran: Vec<&str> = report
                    .cases
                    .iter()
                    .filter(|c| {
                        c.scenario == s.name && c.target == target.name() && c.linker == linker
                    })
                    .map(|c| c.backend.as_str())
                    .collect();
                assert_eq!(ran, expected, "{} on {target} linked by {linker}", s.name);
            }
        }
    }
}
