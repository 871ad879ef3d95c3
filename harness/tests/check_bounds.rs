//! `tether check` is bounded: a linker that hangs is killed at `--timeout` and reported for its
//! cell while the others go on, a linker that "succeeds" without output is blamed, and no
//! temporary directory survives, not even Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A fake linker script in `dir`; `hang` ones record their pid in `dir/pids` and never end.
fn fake_linker(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .unwrap();
    path
}

fn hanging_linker(dir: &Path) -> PathBuf {
    let pids = dir.join("pids");
    fake_linker(
        dir,
        "hang-ld",
        &format!("echo $$ >> {}\nexec sleep 1000", pids.display()),
    )
}

/// A `tether check` whose temporary directories go under `tmp`, so what is left is visible.
fn check(tmp: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tether"));
    c.arg("check").args(args).env("TMPDIR", tmp);
    c
}

fn leftovers(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tether-check-"))
        .collect()
}

fn alive(pid: &str) -> bool {
    // A reaped or killed process has no /proc entry (zombies are reaped by init here).
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    !status.is_empty() && !status.contains("State:\tZ")
}

fn recorded_pids(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("pids"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_hung_linker_times_out_in_its_cells_and_the_check_goes_on() {
    let bin = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let hang = hanging_linker(bin.path());
    let started = Instant::now();
    let out = check(
        tmp.path(),
        &[
            "--linker",
            hang.to_str().unwrap(),
            "--linker",
            "/usr/bin/ld.bfd",
            "--scenario",
            "seed",
            "--target",
            "x86_64-gcc",
            "--target",
            "arm-gcc-thumb",
            "--backend",
            "qemu",
            "--timeout",
            "3",
        ],
    )
    .output()
    .unwrap();
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Two hung links at once on each of at most a few workers: far below the 1000 s sleep.
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    for target in ["x86_64-gcc", "arm-gcc-thumb"] {
        assert!(
            text.contains(&format!(
                "seed on {target} (qemu, linked by hang-ld): build:"
            )),
            "{text}"
        );
    }
    assert!(
        text.contains("linking libtest.so with hang-ld failed: timed out after 3 s"),
        "{text}"
    );
    // GNU ld's cells ran and passed beside the hung ones.
    let ld_row = text
        .lines()
        .find(|l| l.starts_with("seed") && l.contains("ld.bfd"))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(ld_row.matches("ok").count(), 2, "{ld_row}");
    assert!(text.contains("2 passed, 2 failed"), "{text}");
    let pids = recorded_pids(bin.path());
    assert_eq!(pids.len(), 2, "one hung link per target");
    for pid in pids {
        assert!(!alive(&pid), "the hung linker {pid} outlived the check");
    }
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

#[test]
fn a_linker_that_exits_0_without_output_is_blamed() {
    let bin = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let lazy = fake_linker(bin.path(), "lazy-ld", "exit 0");
    let out = check(
        tmp.path(),
        &[
            "--linker",
            lazy.to_str().unwrap(),
            "--scenario",
            "seed",
            "--target",
            "x86_64-gcc",
            "--target",
            "arm-gcc-arm",
            "--backend",
            "unicorn",
        ],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(
        text.matches(
            "linking libtest.so with lazy-ld failed: the linker exited 0 and wrote no output"
        )
        .count(),
        2,
        "{text}"
    );
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

#[test]
fn ctrl_c_removes_the_temporary_directory_and_ends_the_linker() {
    let bin = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let hang = hanging_linker(bin.path());
    let mut child = check(
        tmp.path(),
        &[
            "--linker",
            hang.to_str().unwrap(),
            "--scenario",
            "seed",
            "--target",
            "x86_64-gcc",
            "--backend",
            "unicorn",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Wait until the link is under way: the directory exists and the linker has started.
    let started = Instant::now();
    while recorded_pids(bin.path()).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the link never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(leftovers(tmp.path()).len(), 1);
    // SAFETY: a plain system call to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130));
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
    for pid in recorded_pids(bin.path()) {
        assert!(!alive(&pid), "the linker {pid} outlived Ctrl-C");
    }
}

#[test]
fn a_bad_timeout_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = check(tmp.path(), &["--timeout", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--timeout 0"));
}
