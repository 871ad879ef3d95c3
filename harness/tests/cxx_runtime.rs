//! C++ programs that carry their own C++ runtime (`-static-libstdc++`, with the system's
//! libgcc_s or `-static-libgcc`) run dynamically under the harness's host libc: static
//! constructors, thread_local, an exception thrown and caught through a frame with a
//! destructor. The unwinder finds each frame's object through the host's `_dl_find_object`
//! (x86-64) or `__gnu_Unwind_Find_exidx` (ARM). Output compared with glibc's loader natively
//! or under qemu-arm.

use std::path::Path;
use std::process::Command;
use tether_harness::{Arch, Event, Options, Session};

const PROGRAM: &str = r#"
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>
struct Tracer {
  const char *n;
  Tracer(const char *n) : n(n) { std::printf("ctor %s\n", n); }
  ~Tracer() { std::printf("dtor %s\n", n); }
};
static Tracer global("global");
thread_local int depth = 5;
__attribute__((noinline)) static int thrower(int x) {
  Tracer t("local");
  if (x > 2) throw std::runtime_error("too big: " + std::to_string(x));
  return x;
}
int main() {
  std::vector<int> v;
  for (int i = 0; i < 5; i++) {
    try { v.push_back(thrower(i)); }
    catch (const std::exception &e) { std::printf("caught %s (depth %d)\n", e.what(), depth++); }
  }
  std::printf("size %zu\n", v.size());
  return 0;
}
"#;

fn build(dir: &Path, tool: &str, flags: &[&str]) -> std::path::PathBuf {
    let src = dir.join("prog.cc");
    std::fs::write(&src, PROGRAM).unwrap();
    let exe = dir.join("prog");
    let o = Command::new(tool)
        .args(flags)
        .args(["-static-libstdc++", "-Wl,--as-needed", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("run {tool} (scripts/setup.sh installs it): {e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    exe
}

fn real_output(exe: &Path, arch: Arch) -> String {
    let o = match arch {
        Arch::X86_64 => Command::new(exe).output(),
        Arch::Arm => Command::new("qemu-arm")
            .args(["-L", "/usr/arm-linux-gnueabihf"])
            .arg(exe)
            .output(),
    }
    .expect("run the program (qemu-arm comes from the Debian package qemu-user)");
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()
}

/// `libgcc_s`: the system's shared one (given to the session), or None with -static-libgcc.
fn check(arch: Arch, tool: &str, flags: &[&str], libgcc_s: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let exe = build(dir.path(), tool, flags);
    let mut s = Session::new(arch, Options::default()).unwrap();
    if let Some(lib) = libgcc_s {
        s.add_library(lib);
    }
    let root = s.load(&exe).unwrap();
    s.run_init().unwrap();
    let code = s
        .run_entry(root, &["prog"])
        .unwrap_or_else(|e| panic!("{e}"));
    s.run_fini().unwrap();
    assert_eq!(code, 0);
    let real = real_output(&exe, arch);
    assert!(real.contains("caught too big: 4 (depth 6)\n"), "{real}");
    assert_eq!(s.stdout(), real);
    let lookup = match arch {
        Arch::X86_64 => "_dl_find_object",
        Arch::Arm => "__gnu_Unwind_Find_exidx",
    };
    assert!(
        s.events()
            .iter()
            .any(|e| matches!(e, Event::HostCall { function, .. } if function == lookup)),
        "the unwinder looked frames up with {lookup}"
    );
}

#[test]
fn gcc_x86_64_with_libgcc_s() {
    check(
        Arch::X86_64,
        "g++",
        &["-O2"],
        Some("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
    );
}

#[test]
fn gcc_thumb_with_libgcc_s() {
    check(
        Arch::Arm,
        "arm-linux-gnueabihf-g++",
        &["-O2", "-mthumb"],
        Some("/usr/arm-linux-gnueabihf/lib/libgcc_s.so.1"),
    );
}

#[test]
fn gcc_arm_o0_static_libgcc() {
    check(
        Arch::Arm,
        "arm-linux-gnueabihf-g++",
        &["-O0", "-marm", "-static-libgcc"],
        None,
    );
}

#[test]
fn clang_x86_64_o0_static_libgcc() {
    check(Arch::X86_64, "clang++", &["-O0", "-static-libgcc"], None);
}

#[test]
fn clang_thumb_o2_static_libgcc() {
    check(
        Arch::Arm,
        "clang++",
        &[
            "--target=armv7a-linux-gnueabihf",
            "-mthumb",
            "-fuse-ld=lld",
            "-O2",
            "-static-libgcc",
        ],
        None,
    );
}
