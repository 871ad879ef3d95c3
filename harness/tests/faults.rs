//! Every fault class ends as a structured error naming where it happened — never a hang or
//! a panic.

mod common;
use common::*;
use tether_harness::{FaultKind, HarnessError, Options};

const SRC: &str = r#"
#include <string.h>
const int konst = 1;
static int data_words[8];
int read_null(void) { return *(volatile int *)0; }
void write_const(void) { *(volatile int *)&konst = 2; }
void trap(void) { __builtin_trap(); }
void jump_data(void) { ((void (*)(void))data_words)(); }
void jump_wild(void) { ((void (*)(void))0x12345678)(); }
void call_null(void (*f)(void)) { f(); }
void spin(void) { for (volatile int i = 0;; i++) {} }
int puts(const char *);
void smash(const char *s) { char buf[8]; strcpy(buf, s); puts(buf); }
void bad_free(void) { free_me((void *)data_words); }
"#;

fn build(tc: Toolchain, d: &std::path::Path) {
    let src = SRC.replace("free_me", "free").replace(
        "#include <string.h>",
        "#include <string.h>\n#include <stdlib.h>",
    );
    tc.shared(d, "libfault.so", &src, &["-fstack-protector-all"]);
}

fn faults(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(tc, d);
    let run = |func: &str, args: &[u64]| -> HarnessError {
        let mut s = session_with(
            tc,
            d,
            Options {
                block_budget: 200_000,
                ..Options::default()
            },
        );
        s.load(d.join("libfault.so")).unwrap();
        s.run_init().unwrap();
        let e = s.call(func, args).unwrap_err();
        if let HarnessError::Fault(f) = &e {
            // Registers and the block trail are always there, and the message renders.
            assert!(!f.registers.is_empty(), "{func}: registers");
            assert!(!format!("{e}").is_empty());
        }
        e
    };
    let located = |e: &HarnessError, func: &str| {
        let HarnessError::Fault(f) = e else {
            panic!("{e:?}")
        };
        let loc = f.location.clone().unwrap_or_default();
        assert!(
            loc.starts_with(&format!("libfault.so:{func}+")),
            "{func}: location {loc:?}"
        );
        assert!(!f.recent_blocks.is_empty(), "{func}: recent blocks");
    };

    let e = run("read_null", &[]);
    assert_eq!(fault_kind(&e), FaultKind::ReadUnmapped);
    located(&e, "read_null");
    let HarnessError::Fault(f) = &e else {
        unreachable!()
    };
    assert_eq!(f.address, Some(0));

    let e = run("write_const", &[]);
    assert_eq!(fault_kind(&e), FaultKind::WriteProtected);
    located(&e, "write_const");

    let e = run("trap", &[]);
    assert_eq!(fault_kind(&e), FaultKind::UndefinedInstruction);
    located(&e, "trap");

    let e = run("jump_data", &[]);
    assert_eq!(fault_kind(&e), FaultKind::FetchProtected);

    let e = run("jump_wild", &[]);
    assert_eq!(fault_kind(&e), FaultKind::FetchUnmapped);
    let HarnessError::Fault(f) = &e else {
        unreachable!()
    };
    assert_eq!(f.address, Some(0x12345678));

    let e = run("call_null", &[0]);
    assert_eq!(fault_kind(&e), FaultKind::FetchUnmapped);
    let HarnessError::Fault(f) = &e else {
        unreachable!()
    };
    assert_eq!((f.pc, f.address), (0, Some(0)));
    assert!(
        f.recent_blocks
            .last()
            .is_some_and(|b| b.contains("call_null")),
        "{:?}",
        f.recent_blocks
    );

    let started = std::time::Instant::now();
    let e = run("spin", &[]);
    assert_eq!(fault_kind(&e), FaultKind::BudgetExceeded);
    assert!(started.elapsed().as_secs() < 10);

    let e = run("bad_free", &[]);
    assert!(
        matches!(fault_kind(&e), FaultKind::HostFunction(m) if m.contains("free(")),
        "{e:?}"
    );

    // A stack-protector failure: pass a long string the guest copies into 8 bytes.
    let mut s = session(tc, d);
    s.load(d.join("libfault.so")).unwrap();
    s.run_init().unwrap();
    let long = s.alloc_c_string(&"A".repeat(64)).unwrap();
    let e = s.call("smash", &[long]).unwrap_err();
    assert_eq!(fault_kind(&e), FaultKind::StackSmashing);
}

for_each_toolchain!(faults);

#[test]
fn not_elf_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.so");
    std::fs::write(&p, b"not an ELF file at all").unwrap();
    let mut s =
        tether_harness::Session::new(tether_harness::Arch::X86_64, Options::default()).unwrap();
    match s.load(&p) {
        Err(HarnessError::BadElf { path, message }) => {
            assert!(path.ends_with("junk.so"));
            assert!(message.contains("not an ELF"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_architecture_and_missing_library() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    Toolchain::GnuX86.shared(d, "libx.so", "int f(void) { return 1; }\n", &[]);
    let mut s =
        tether_harness::Session::new(tether_harness::Arch::Arm, Options::default()).unwrap();
    assert!(matches!(
        s.load(d.join("libx.so")),
        Err(HarnessError::WrongArch { .. })
    ));
    Toolchain::GnuX86.shared(
        d,
        "libneeds.so",
        "int f(void); int g(void) { return f(); }\n",
        &["-lx"],
    );
    std::fs::remove_file(d.join("libx.so")).unwrap();
    let mut s =
        tether_harness::Session::new(tether_harness::Arch::X86_64, Options::default()).unwrap();
    match s.load(d.join("libneeds.so")) {
        Err(HarnessError::LibraryNotFound { name, needed_by }) => {
            assert_eq!(
                (name.as_str(), needed_by.as_str()),
                ("libx.so", "libneeds.so")
            );
        }
        other => panic!("{other:?}"),
    }
}
