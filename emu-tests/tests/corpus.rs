//! The whole built-in corpus, linked by GNU ld, on the real-loader backends (qemu-user on both
//! architectures, native on x86-64), every compiler/instruction-set target.

use tether_emu_tests::check::{self, CheckOptions};
use tether_emu_tests::{corpus, Arch, Linker, Target};

#[test]
fn every_scenario_passes_with_gnu_ld_on_qemu_and_native() {
    let scenarios = corpus().unwrap_or_else(|e| panic!("{e}"));
    let mut options = CheckOptions::new(vec![Linker::GnuLd]);
    if let Ok(only) = std::env::var("TETHER_SCENARIOS") {
        options.scenarios = only.split(',').map(str::to_string).collect();
    }
    let report = check::run_builtin(&options, &[]).unwrap_or_else(|e| panic!("{e}"));
    let text = report.to_text();
    println!("{text}");
    println!("corpus ran in {:.1} s", report.seconds);
    assert!(report.success(), "{text}");
    // Every scenario ran on every target of its architectures: x86-64 natively and under
    // qemu-x86_64, ARM under qemu-arm. None was left out by mistake.
    for s in &scenarios {
        if !options.scenarios.is_empty() && !options.scenarios.contains(&s.name) {
            continue;
        }
        for target in Target::all() {
            let expected = match (s.manifest.applies_to_target(target), target.arch) {
                (false, _) => vec![],
                (true, Arch::X86_64) => vec!["native", "qemu"],
                (true, Arch::Arm) => vec!["qemu"],
            };
            let ran: Vec<&str> = report
                .cases
                .iter()
                .filter(|c| c.scenario == s.name && c.target == target.name())
                .map(|c| c.backend.as_str())
                .collect();
            assert_eq!(ran, expected, "{} on {target}", s.name);
        }
    }
}
