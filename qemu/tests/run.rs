//! The runner against real programs: natively, under qemu-x86_64 and under qemu-arm.

mod common;

use std::time::Duration;
use tether_qemu::{Arch, Binding, ExitStatus, Machine, RunSpec};

fn run_pair(arch: Arch, machine: Machine, main_flags: &[&str]) -> tether_qemu::RunOutcome {
    let dir = tempfile::tempdir().expect("temp dir");
    let main = common::build_pair(arch, dir.path(), main_flags);
    let mut spec = RunSpec::new(&main);
    spec.library_path = vec![dir.path().to_path_buf()];
    machine.run(&spec).unwrap_or_else(|e| panic!("{e}"))
}

fn twice_binding() -> Binding {
    Binding {
        from: "main".into(),
        symbol: "twice".into(),
        to: "libtw.so".into(),
        version: None,
    }
}

fn assert_lazy_pair(outcome: &tether_qemu::RunOutcome) {
    assert_eq!(
        outcome.output, "lib: init\nmain: start\nlib: twice 21\nlib: fini\n",
        "log:\n{}",
        outcome.log
    );
    assert_eq!(outcome.status, ExitStatus::Code(2));
    assert!(outcome.started);
    // Lazy binding: main's call to twice is bound after "lib: init" and "main: start" were printed.
    let bound: Vec<_> = outcome
        .bindings
        .iter()
        .filter(|b| b.binding == twice_binding())
        .map(|b| b.after_lines)
        .collect();
    assert_eq!(bound, vec![2], "log:\n{}", outcome.log);
    assert_eq!(outcome.inits.iter().filter(|o| *o == "libtw.so").count(), 1);
    assert_eq!(outcome.finis.first().map(String::as_str), Some("main"));
    assert!(outcome.finis.iter().any(|o| o == "libtw.so"));
}

#[test]
fn native_x86_64_lazy_binding_is_seen_at_first_call() {
    let outcome = run_pair(Arch::X86_64, Machine::Native, &["-Wl,-z,lazy"]);
    assert_lazy_pair(&outcome);
}

#[test]
fn qemu_x86_64_lazy_binding_is_seen_at_first_call() {
    let machine = Machine::qemu(Arch::X86_64).unwrap_or_else(|e| panic!("{e}"));
    let outcome = run_pair(Arch::X86_64, machine, &["-Wl,-z,lazy"]);
    assert_lazy_pair(&outcome);
}

#[test]
fn qemu_arm_lazy_binding_is_seen_at_first_call() {
    let machine = Machine::qemu(Arch::Arm).unwrap_or_else(|e| panic!("{e}"));
    let outcome = run_pair(Arch::Arm, machine, &["-Wl,-z,lazy"]);
    assert_lazy_pair(&outcome);
}

#[test]
fn qemu_arm_bind_now_binds_before_any_output() {
    let machine = Machine::qemu(Arch::Arm).unwrap_or_else(|e| panic!("{e}"));
    let outcome = run_pair(Arch::Arm, machine, &["-Wl,-z,now"]);
    let bound: Vec<_> = outcome
        .bindings
        .iter()
        .filter(|b| b.binding == twice_binding())
        .map(|b| b.after_lines)
        .collect();
    assert_eq!(bound, vec![0], "log:\n{}", outcome.log);
}

#[test]
fn a_missing_library_is_a_failed_run_with_the_loader_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let main = common::build_pair(Arch::X86_64, dir.path(), &[]);
    std::fs::remove_file(dir.path().join("libtw.so")).expect("remove");
    let mut spec = RunSpec::new(&main);
    spec.library_path = vec![dir.path().to_path_buf()];
    let outcome = Machine::Native.run(&spec).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.status, ExitStatus::Code(127));
    assert!(!outcome.started);
    assert!(
        outcome
            .output
            .contains("libtw.so: cannot open shared object file"),
        "{}",
        outcome.output
    );
}

#[test]
fn a_guest_that_hangs_is_killed_at_the_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prog = common::cc(
        Arch::Arm,
        dir.path(),
        "spin.c",
        "int main(void) { for (;;) { } }",
        "spin",
        &[],
    );
    let machine = Machine::qemu(Arch::Arm).unwrap_or_else(|e| panic!("{e}"));
    let mut spec = RunSpec::new(&prog);
    spec.timeout = Duration::from_millis(700);
    let started = std::time::Instant::now();
    let outcome = machine.run(&spec).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.status, ExitStatus::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_crash_reports_the_signal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prog = common::cc(
        Arch::X86_64,
        dir.path(),
        "crash.c",
        "int main(void) { return *(volatile int *)0; }",
        "crash",
        &[],
    );
    let outcome = Machine::Native
        .run(&RunSpec::new(&prog))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.status, ExitStatus::Signal(11));
}

#[test]
fn a_missing_tool_names_its_debian_package() {
    let err = tether_qemu::find_tool("qemu-no-such-arch", "qemu-user").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`qemu-no-such-arch` was not found on PATH; install the Debian package `qemu-user`"
    );
}

#[test]
fn a_guest_variable_qemu_cannot_pass_is_an_error() {
    let machine = Machine::qemu(Arch::Arm).unwrap_or_else(|e| panic!("{e}"));
    let mut spec = RunSpec::new("/bin/true");
    spec.env.push(("LIST".into(), "a,b".into()));
    let err = machine.run(&spec).unwrap_err();
    assert_eq!(
        err.to_string(),
        "qemu-user cannot pass LIST=a,b to the guest: `-E` splits values at commas"
    );
}
