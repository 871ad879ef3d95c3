//! Compiling small guest programs for the runner's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use tether_qemu::{Arch, Tool};

pub fn compiler(arch: Arch) -> PathBuf {
    let tool = match arch {
        Arch::X86_64 => Tool::GCC,
        Arch::Arm => Tool::ARM_GCC,
    };
    tool.find().unwrap_or_else(|e| panic!("{e}"))
}

/// Compiles `source` (C text) with `args` into `dir/out`; panics with the compiler's message.
pub fn cc(arch: Arch, dir: &Path, name: &str, source: &str, out: &str, args: &[&str]) -> PathBuf {
    let src = dir.join(name);
    std::fs::write(&src, source).expect("write source");
    let out = dir.join(out);
    let result = Command::new(compiler(arch))
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .arg(format!("-L{}", dir.display()))
        .args(args)
        .output()
        .expect("run the compiler");
    assert!(
        result.status.success(),
        "compiling {name} failed:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

pub const LIB: &str = r#"
#include <stdio.h>
__attribute__((constructor)) static void up(void) { puts("lib: init"); }
__attribute__((destructor)) static void down(void) { puts("lib: fini"); }
int twice(int x) { printf("lib: twice %d\n", x); return 2 * x; }
"#;

pub const MAIN: &str = r#"
#include <stdio.h>
int twice(int);
int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("main: start");
    return twice(21) - 40;
}
"#;

/// Builds libtw.so and main (linked against it) for `arch` in `dir`.
pub fn build_pair(arch: Arch, dir: &Path, main_flags: &[&str]) -> PathBuf {
    cc(arch, dir, "lib.c", LIB, "libtw.so", &["-shared", "-fPIC"]);
    let mut args = vec!["-ltw"];
    args.extend_from_slice(main_flags);
    cc(arch, dir, "main.c", MAIN, "main", &args)
}
