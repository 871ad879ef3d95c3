//! The host's loader variables never reach the guest. Alone in its own test binary because it
//! changes this process's environment.

mod common;

use tether_qemu::{Arch, Machine, RunSpec};

const SHOW_ENV: &str = r#"
#include <stdio.h>
#include <stdlib.h>
static void show(const char *name) {
    const char *v = getenv(name);
    printf("%s=%s\n", name, v ? v : "(unset)");
}
int main(void) {
    show("LD_BIND_NOW");
    show("LD_PRELOAD");
    show("TETHER_LEAK");
    show("GUEST_ONLY");
    return 0;
}
"#;

#[test]
fn host_loader_variables_do_not_leak_into_the_guest() {
    // SAFETY of intent: this test binary has a single test, so no other thread reads the
    // environment while it is changed.
    std::env::set_var("LD_BIND_NOW", "1");
    std::env::set_var("TETHER_LEAK", "yes");
    let expected = "LD_BIND_NOW=(unset)\nLD_PRELOAD=(unset)\nTETHER_LEAK=(unset)\nGUEST_ONLY=42\n";
    for (arch, machine) in [
        (Arch::X86_64, Machine::Native),
        (
            Arch::X86_64,
            Machine::qemu(Arch::X86_64).unwrap_or_else(|e| panic!("{e}")),
        ),
        (
            Arch::Arm,
            Machine::qemu(Arch::Arm).unwrap_or_else(|e| panic!("{e}")),
        ),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let prog = common::cc(arch, dir.path(), "env.c", SHOW_ENV, "env", &[]);
        let mut spec = RunSpec::new(&prog);
        spec.ld_debug = false;
        spec.env.push(("GUEST_ONLY".into(), "42".into()));
        let outcome = machine.run(&spec).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome.output, expected, "on {}", machine.name());
    }
}
