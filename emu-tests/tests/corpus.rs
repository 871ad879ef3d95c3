//! The whole built-in corpus, linked by GNU ld, on the real-loader backends (qemu-user on both
//! architectures, native on x86-64), every compiler/instruction-set target.

use tether_emu_tests::check::{self, CheckOptions};
use tether_emu_tests::{corpus, Backend, Linker, RealLoader};

#[test]
fn every_scenario_passes_with_gnu_ld_on_qemu_and_native() {
    let scenarios = corpus().unwrap_or_else(|e| panic!("{e}"));
    let qemu = RealLoader::qemu();
    let native = RealLoader::native();
    let backends: Vec<&dyn Backend> = vec![&native, &qemu];
    let mut options = CheckOptions::new(vec![Linker::GnuLd]);
    if let Ok(only) = std::env::var("TETHER_SCENARIOS") {
        options.scenarios = only.split(',').map(str::to_string).collect();
    }
    let report = check::run(&scenarios, &backends, &options).unwrap_or_else(|e| panic!("{e}"));
    let text = report.to_text();
    println!("{text}");
    println!("corpus ran in {:.1} s", report.seconds);
    assert!(report.success(), "{text}");
    // Every scenario ran somewhere: none was filtered out by mistake.
    for s in &scenarios {
        if options.scenarios.is_empty() || options.scenarios.contains(&s.name) {
            assert!(
                report.cases.iter().any(|c| c.scenario == s.name),
                "{} never ran",
                s.name
            );
        }
    }
}
