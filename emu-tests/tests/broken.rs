//! Deliberately broken cases must fail, with a message pointing at the difference.

use tether_emu_tests::check::{self, CheckOptions, Outcome};
use tether_emu_tests::compare::first_difference;
use tether_emu_tests::mutate::{arm_plt_off_by_one, patched_run, wrong_pc32_addend};
use tether_emu_tests::{build, corpus, Backend, Linker, RealLoader, Scenario, Target};

fn scenario(name: &str) -> Scenario {
    corpus()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

fn only_failure(report: &check::Report) -> &tether_emu_tests::compare::Difference {
    assert_eq!(report.passed(), 0, "{}", report.to_text());
    match &report.cases[0].outcome {
        Outcome::Fail { difference } => difference,
        Outcome::Pass => unreachable!(),
    }
}

#[test]
fn an_altered_expected_output_fails_at_the_changed_line() {
    let mut seed = scenario("seed");
    let expected = String::from_utf8_lossy(seed.file("expected.txt").unwrap_or_default())
        .replace("libgo: called back 1", "libgo: called back 7");
    seed.set_file("expected.txt", expected.into_bytes());
    let qemu = RealLoader::qemu();
    let mut options = CheckOptions::new(vec![Linker::GnuLd]);
    options.targets = vec![Target::ARM_GCC_THUMB];
    let report =
        check::run(&[seed], &[&qemu as &dyn Backend], &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.cases.len(), 1);
    let difference = only_failure(&report);
    assert_eq!(difference.what, "stdout line 3");
    assert_eq!(difference.expected, "\"libgo: called back 7\"");
    assert_eq!(difference.observed, "\"libgo: called back 1\"");
    // The log around it shows the line and the loader's lines near it.
    assert!(
        difference
            .context
            .iter()
            .any(|l| l == "libgo: called back 1"),
        "{:?}",
        difference.context
    );
    let text = report.to_text();
    assert!(
        text.starts_with(
            "scenario  linker  arm-gcc-thumb\n                  qemu\nseed      gnu-ld  FAIL\n"
        ),
        "{text}"
    );
    assert!(
        report
            .to_list()
            .contains("FAIL seed  arm-gcc-thumb  qemu  gnu-ld"),
        "{}",
        report.to_list()
    );
    assert!(text.ends_with("0 passed, 1 failed\n"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap_or_default();
    assert_eq!(json["failed"], 1);
    assert_eq!(json["cases"][0]["result"], "fail");
    assert_eq!(json["cases"][0]["difference"]["what"], "stdout line 3");
}

#[test]
fn a_patched_symbol_name_in_a_library_is_caught_at_the_binding() {
    // Link the seed with GNU ld, then corrupt libtest.so's dynamic string for its reference to
    // go_back, as a linker writing a wrong name would.
    let seed = scenario("seed");
    let dir = tempfile::tempdir().expect("temp dir");
    let built = build(&seed, Target::X86_64_GCC, &Linker::GnuLd, dir.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let libtest = &built.libraries[0].path;
    let mut bytes = std::fs::read(libtest).expect("read libtest.so");
    let at = bytes
        .windows(8)
        .position(|w| w == b"\0go_back")
        .expect("go_back in .dynstr");
    bytes[at + 7] = b'X';
    std::fs::write(libtest, bytes).expect("write libtest.so");
    for backend in [RealLoader::native(), RealLoader::qemu()] {
        let observation = backend.run(&built);
        let difference =
            first_difference(&seed, true, &observation).expect("the corruption is caught");
        assert_eq!(difference.what, "run", "{difference}");
        assert!(
            difference.observed.contains("symbol lookup error")
                && difference.observed.contains("undefined symbol: go_bacX"),
            "{difference}"
        );
    }
}

#[test]
fn a_linker_that_binds_eagerly_fails_the_lazy_binding_scenario() {
    // A GNU-ld-compatible "linker" that quietly appends -z now: the output is right, but lazy
    // binding is gone, and the check must say where.
    let dir = tempfile::tempdir().expect("temp dir");
    let wrapper = dir.path().join("ld-eager");
    let ld = tether_qemu::Tool::LD_BFD
        .find()
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec {} \"$@\" -z now\n", ld.display()),
    )
    .expect("write wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let lazy = scenario("lazy-binding");
    let native = RealLoader::native();
    let mut options = CheckOptions::new(vec![Linker::at(&wrapper)]);
    options.targets = vec![Target::X86_64_GCC, Target::X86_64_CLANG];
    let report =
        check::run(&[lazy], &[&native as &dyn Backend], &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.cases.len(), 2);
    for case in &report.cases {
        assert_eq!(case.linker, "ld-eager");
        let Outcome::Fail { difference } = &case.outcome else {
            panic!("{} passed with an eager linker", case.target)
        };
        assert_eq!(
            difference.what, "when `lazy_target` was bound",
            "{difference}"
        );
        assert!(
            difference.expected.ends_with("after 1 output lines"),
            "{difference}"
        );
        assert!(
            difference.observed.ends_with("after 0 output lines"),
            "{difference}"
        );
    }
}

#[test]
fn gnu_ld_given_by_path_passes_like_the_default() {
    let seed = scenario("seed");
    let native = RealLoader::native();
    let ld = tether_qemu::Tool::LD_BFD
        .find()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut options = CheckOptions::new(vec![Linker::at(ld)]);
    // ARM links pick arm-linux-gnueabihf-ld.bfd, found next to ld.bfd.
    options.targets = vec![
        Target::X86_64_GCC,
        Target::X86_64_CLANG,
        Target::ARM_GCC_THUMB,
        Target::ARM_CLANG,
    ];
    let qemu = RealLoader::qemu();
    let backends: Vec<&dyn Backend> = vec![&native, &qemu];
    let report = check::run(&[seed], &backends, &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.cases.len(), 6);
    assert!(report.success(), "{}", report.to_text());
    assert!(report.to_text().ends_with("6 passed, 0 failed\n"));
}

/// A backend that runs the real loader and then misreports one output line, standing in for an
/// emulator with a bug.
struct Misreporting(RealLoader);

impl Backend for Misreporting {
    fn name(&self) -> &str {
        "misreporting"
    }
    fn supports_arch(&self, arch: tether_emu_tests::Arch) -> bool {
        self.0.supports_arch(arch)
    }
    fn runs_program(&self) -> bool {
        true
    }
    fn run(&self, built: &tether_emu_tests::BuiltScenario) -> tether_emu_tests::Observation {
        let mut observation = self.0.run(built);
        observation.stdout = observation.stdout.replace("hello 2", "hello 3");
        observation.log = observation.log.replace("hello 2", "hello 3");
        observation
    }
}

#[test]
fn a_backend_that_disagrees_is_shown_next_to_the_one_that_passed() {
    let seed = scenario("seed");
    let qemu = RealLoader::qemu();
    let bad = Misreporting(RealLoader::qemu());
    let mut options = CheckOptions::new(vec![Linker::GnuLd]);
    options.targets = vec![Target::ARM_GCC_ARM];
    let backends: Vec<&dyn Backend> = vec![&qemu, &bad];
    let report = check::run(&[seed], &backends, &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (report.passed(), report.failed()),
        (1, 1),
        "{}",
        report.to_text()
    );
    let failed = report
        .cases
        .iter()
        .find(|c| !c.passed())
        .expect("one failure");
    assert_eq!(failed.backend, "misreporting");
    let Outcome::Fail { difference } = &failed.outcome else {
        unreachable!()
    };
    assert_eq!(difference.what, "stdout line 5");
    assert_eq!(difference.others.len(), 1);
    assert_eq!(difference.others[0].backend, "qemu");
    assert!(difference.others[0].passed);
    // The passing backend's log is shown at the same point: its own line 5 and what precedes it.
    let at = difference.others[0]
        .context
        .iter()
        .position(|l| l == "libtest: hello 2")
        .unwrap_or_else(|| panic!("{difference}"));
    assert_eq!(difference.others[0].context[at - 1], "libgo: Go_callback 2");
    assert!(
        report
            .to_text()
            .contains("qemu on the same build passed; its log there:"),
        "{}",
        report.to_text()
    );
}

#[test]
fn a_missing_linker_or_scenario_is_an_error_before_anything_runs() {
    let options = CheckOptions::new(vec![Linker::at("/nonexistent/ld-nothing")]);
    let err = check::run(&[scenario("seed")], &[], &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the linker /nonexistent/ld-nothing does not exist or is not a file"
    );
    let mut options = CheckOptions::new(vec![Linker::GnuLd]);
    options.scenarios = vec!["no-such-scenario".into()];
    let err = check::run(&[scenario("seed")], &[], &options).unwrap_err();
    assert_eq!(err.to_string(), "unknown scenario `no-such-scenario`");
}

#[test]
fn a_wrong_pc32_addend_on_x86_64_is_caught() {
    // via_got's `mov probe_target@GOTPCREL(%rip), %rax; ret` is followed by via_pcrel's
    // `lea probe_local+12(%rip), %rax`: add one to that displacement, as a linker that got the
    // R_X86_64_PC32 addend wrong would.
    for backend in [RealLoader::native(), RealLoader::qemu()] {
        let d = patched_run(
            "asm-relocs",
            Target::X86_64_GCC,
            "libprobe.so",
            &backend,
            wrong_pc32_addend,
        );
        assert_eq!(d.what, "stdout line 2", "{d}");
        assert_eq!(d.expected, "\"PC-relative with addend: ok\"");
        assert_eq!(d.observed, "\"PC-relative with addend: WRONG\"");
    }
}

#[test]
fn an_off_by_one_in_the_arm_plt_entries_is_caught() {
    // Every ARM PLT entry is `add ip, pc, #..; add ip, ip, #..; ldr pc, [ip, #imm]!`: make each
    // load the next GOT slot, as a linker computing the slot offset off by one word would.
    let d = patched_run(
        "seed",
        Target::ARM_GCC_ARM,
        "libgo.so",
        &RealLoader::qemu(),
        arm_plt_off_by_one,
    );
    // The first PLT call is in libgo's DT_INIT, before main: the run dies there, and the log
    // shows the loader had just called libgo's initialiser.
    assert_eq!(d.what, "run", "{d}");
    assert!(d.observed.contains("signal 11"), "{d}");
    let last_loader_line = d
        .context
        .iter()
        .rfind(|l| l.contains("calling init:"))
        .unwrap_or_else(|| panic!("{d}"));
    assert!(last_loader_line.ends_with("/libgo.so"), "{d}");
}
