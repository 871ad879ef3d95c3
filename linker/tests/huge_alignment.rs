//! Issue 12, fault 1: an input section aligned to 1 GiB. Offsets in the file only need to be
//! congruent to addresses modulo the page, so the gap is a new load segment, not a gigabyte of
//! zeros; the library still loads and its data sits on its alignment, on both targets.

use std::path::Path;
use std::process::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bounds");

fn ok(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = cmd.output().unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn check(arm: bool) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (asm, cc) = if arm {
        ("arm-linux-gnueabihf-as", "arm-linux-gnueabihf-gcc")
    } else {
        ("as", "gcc")
    };
    let mut assemble = Command::new(asm);
    if arm {
        // The hard-float ABI attribute, which the armhf loader requires.
        assemble.args(["--defsym", "ARM=1"]);
    }
    ok(assemble
        .arg(format!("{FIXTURES}/huge_align.s"))
        .arg("-o")
        .arg(d.join("big.o")));
    let lib = d.join("libbig.so");
    ok(Command::new(env!("CARGO_BIN_EXE_ld-tether"))
        .args(["-shared", "-o"])
        .arg(&lib)
        .arg(d.join("big.o")));
    let size = std::fs::metadata(&lib).unwrap().len();
    assert!(
        size < 64 * 1024,
        "{size} bytes: the alignment gap was written out"
    );
    let readelf = Command::new("readelf")
        .arg("-aW")
        .arg(&lib)
        .output()
        .unwrap();
    assert!(
        readelf.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&readelf.stderr)
    );
    let symbols = String::from_utf8_lossy(&readelf.stdout).into_owned();
    let value = symbols
        .lines()
        .find(|l| l.ends_with(" big"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .unwrap_or_else(|| panic!("no symbol big:\n{symbols}"));
    assert_eq!(value % (1 << 30), 0, "big at {value:#x}");
    let exe = d.join("main");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ld-tether"), d.join("ld")).unwrap();
    ok(Command::new(cc)
        .arg(format!("-B{}/", d.display()))
        .arg(format!("{FIXTURES}/huge_align_main.c"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", d.display()))
        .arg("-lbig"));
    let out = run_program(&exe, d, arm);
    assert_eq!(out, "42\n");
}

fn run_program(exe: &Path, dir: &Path, arm: bool) -> String {
    if arm {
        ok(Command::new("qemu-arm")
            .args(["-L", "/usr/arm-linux-gnueabihf", "-E"])
            .arg(format!("LD_LIBRARY_PATH={}", dir.display()))
            .arg(exe))
    } else {
        ok(Command::new(exe).env("LD_LIBRARY_PATH", dir))
    }
}

#[test]
fn a_gigabyte_alignment_leaves_a_small_file_x86_64() {
    check(false);
}

#[test]
fn a_gigabyte_alignment_leaves_a_small_file_arm() {
    check(true);
}
