//! `tether run` end to end.

mod common;
use common::*;
use std::process::Command;

fn tether() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tether"))
}

fn build_seed(tc: Toolchain, d: &std::path::Path) {
    let seed = seed_dir();
    tc.shared(d, "libtest.so", &read(seed.join("libtest.c")), &[]);
    tc.shared(
        d,
        "libgo.so",
        &read(seed.join("libgo.c")),
        &["-Wl,-init=go_init", "-ltest"],
    );
}

#[test]
fn run_calls_and_prints() {
    for tc in [Toolchain::GnuX86, Toolchain::GnuThumb] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        build_seed(tc, d);
        let o = tether()
            .args(["run", &d.join("libgo.so").display().to_string(), "--lib"])
            .arg(d.join("libtest.so"))
            .args(["--call", "Go_callback", "2"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout);
        let expected = read(seed_dir().join("expected.txt"));
        assert!(out.starts_with(&expected), "{out}");
        assert!(
            out[expected.len()..].starts_with("Go_callback returned "),
            "{out}"
        );
    }
}

#[test]
fn json_trace_is_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build_seed(Toolchain::GnuArm, d);
    let o = tether()
        .args(["run", &d.join("libgo.so").display().to_string(), "-L"])
        .arg(d)
        .args(["--call", "Go_callback", "2", "--trace", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let bound = lines
        .iter()
        .filter(|v| v["event"] == "bound" && v["symbol"] == "test_hello")
        .count();
    assert_eq!(bound, 1);
    assert!(lines
        .iter()
        .any(|v| v["event"] == "init" && v["kind"] == "DT_INIT" && v["object"] == "libgo.so"));
    assert!(lines
        .iter()
        .any(|v| v["stdout"] == read(seed_dir().join("expected.txt"))));
    assert!(lines.iter().any(|v| v["result"].is_u64()));
}

#[test]
fn errors_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build_seed(Toolchain::GnuX86, d);
    // libtest.so not given: DT_NEEDED cannot be satisfied.
    let o = tether()
        .args(["run", &d.join("libgo.so").display().to_string()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("libtest.so") && err.contains("not found"),
        "{err}"
    );
    // A fault, as JSON.
    Toolchain::GnuX86.shared(
        d,
        "libnull.so",
        "int f(void) { return *(volatile int *)8; }\n",
        &[],
    );
    let o = tether()
        .args([
            "run",
            &d.join("libnull.so").display().to_string(),
            "--call",
            "f",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let last = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["error"], "fault");
}

#[test]
fn program_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let exe = Toolchain::GnuThumb.program(
        d,
        "prog",
        "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 3; }\n",
        true,
        &[],
    );
    let o = tether()
        .args(["run", &exe.display().to_string()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n");
}

#[test]
fn negative_arguments_and_int_results() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for tc in [Toolchain::GnuX86, Toolchain::GnuThumb] {
        let lib = tc.shared(
            d,
            "libneg.so",
            "int add(int a, int b) { return a + b; }\n",
            &[],
        );
        let o = tether()
            .args([
                "run",
                &lib.display().to_string(),
                "--call",
                "add",
                "-5",
                "0x2",
                "--json",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout);
        let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        assert_eq!(v["as_int"], -3, "{tc:?}: {out}");
    }
}
