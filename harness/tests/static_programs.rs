//! Static and static-pie programs run by the harness through its system-call layer: gcc and
//! clang, C and C++, -O0 and -O2, x86-64, Thumb-2 and ARM. Each is compared with the same
//! file run natively (x86-64) or under qemu-arm: its output, its exit status, and the system
//! calls it made (strace / `qemu-arm -strace`); the events show glibc's start-up calling the
//! program's own IFUNC resolver.

use std::path::{Path, PathBuf};
use std::process::Command;
use tether_harness::{Arch, Event, FaultKind, HarnessError, Options, Session};

/// stdio, malloc (small blocks from brk, a large one from mmap), TLS initialised and zero, an
/// IFUNC defined in the program. Exits 3.
const C_PROGRAM: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
__thread int tls_init = 42;
__thread long tls_zero;
static int impl_one(void) { return 1; }
static int (*pick_impl(void))(void) { return impl_one; }
int chosen(void) __attribute__((ifunc("pick_impl")));
int main(int argc, char **argv) {
  char *small = malloc(100);
  char *large = malloc(1 << 20);
  strcpy(small, "heap");
  memset(large, 'x', 1 << 20);
  tls_zero += 7;
  printf("%s argc=%d tls=%d,%ld ifunc=%d large=%c\n", small, argc, tls_init, tls_zero,
         chosen(), large[(1 << 20) - 1]);
  free(large);
  free(small);
  fputs("to stderr\n", stderr);
  return 3;
}
"#;

/// Static constructors and destructors, thread_local, an exception thrown and caught twice
/// with unwinding through a frame with a destructor, std::string and std::vector.
const CXX_PROGRAM: &str = r#"
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compiler {
    Gcc,
    Clang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    X86_64,
    Thumb,
    Arm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Static,
    StaticPie,
}

/// Which linker makes the program: the toolchain's own (GNU ld, or lld for clang on ARM) or
/// ld.tether.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Linker {
    Reference,
    Tether,
}

/// A directory whose `ld` is ld.tether, for gcc's `-B`.
fn tether_bin(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let ld = bin.join("ld");
    if !ld.exists() {
        std::os::unix::fs::symlink(tether_linker(), &ld).unwrap();
    }
    bin
}

fn tether_linker() -> PathBuf {
    // The harness tests run after `cargo build --workspace --bins` (scripts/test.sh).
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_tether"));
    let ld = exe.with_file_name("ld-tether");
    assert!(
        ld.exists(),
        "{} is missing: build the workspace's binaries first",
        ld.display()
    );
    ld
}

impl Target {
    fn arch(self) -> Arch {
        match self {
            Target::X86_64 => Arch::X86_64,
            Target::Thumb | Target::Arm => Arch::Arm,
        }
    }
}

/// The driver and its flags; clang links ARM with lld (the host's GNU ld is x86-64 only).
fn driver(cc: Compiler, target: Target, cxx: bool) -> (&'static str, Vec<&'static str>) {
    match (cc, target) {
        (Compiler::Gcc, Target::X86_64) => (if cxx { "g++" } else { "gcc" }, vec![]),
        (Compiler::Gcc, t) => (
            if cxx {
                "arm-linux-gnueabihf-g++"
            } else {
                "arm-linux-gnueabihf-gcc"
            },
            vec![if t == Target::Thumb {
                "-mthumb"
            } else {
                "-marm"
            }],
        ),
        (Compiler::Clang, Target::X86_64) => (if cxx { "clang++" } else { "clang" }, vec![]),
        (Compiler::Clang, t) => (
            if cxx { "clang++" } else { "clang" },
            vec![
                "--target=armv7a-linux-gnueabihf",
                if t == Target::Thumb {
                    "-mthumb"
                } else {
                    "-marm"
                },
                "-fuse-ld=lld",
            ],
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    dir: &Path,
    cc: Compiler,
    target: Target,
    cxx: bool,
    opt: &str,
    link: Link,
    linker: Linker,
) -> PathBuf {
    let src = dir.join(if cxx { "prog.cc" } else { "prog.c" });
    std::fs::write(&src, if cxx { CXX_PROGRAM } else { C_PROGRAM }).unwrap();
    let out = dir.join("prog");
    let (tool, args) = driver(cc, target, cxx);
    let mut args: Vec<String> = args.into_iter().map(str::to_string).collect();
    if linker == Linker::Tether {
        args.retain(|a| !a.starts_with("-fuse-ld="));
        args.push(match cc {
            Compiler::Gcc => format!("-B{}/", tether_bin(dir).display()),
            Compiler::Clang => format!("--ld-path={}", tether_linker().display()),
        });
    }
    let opt = opt.to_string();
    args.push(opt);
    args.extend(
        match link {
            Link::Static => ["-static", "-fno-pie"],
            Link::StaticPie => ["-static-pie", "-fPIE"],
        }
        .map(str::to_string),
    );
    let o = Command::new(tool)
        .args(&args)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("run {tool} (scripts/setup.sh installs it): {e}"));
    assert!(
        o.status.success(),
        "{tool} {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// What the program does outside the harness: (stdout, stderr, exit status, system calls by
/// name, in order).
fn run_real(exe: &Path, arch: Arch) -> (String, String, i32, Vec<String>) {
    let trace = exe.with_extension("strace");
    let o = match arch {
        Arch::X86_64 => Command::new("strace")
            .arg("-o")
            .arg(&trace)
            .arg(exe)
            .env_clear()
            .output()
            .expect("run strace (Debian package strace)"),
        // The trace goes to its own file, apart from the program's stderr.
        Arch::Arm => Command::new("qemu-arm")
            .args(["-d", "strace", "-D"])
            .arg(&trace)
            .arg(exe)
            .env_clear()
            .output()
            .expect("run qemu-arm (Debian package qemu-user)"),
    };
    let log = std::fs::read_to_string(&trace).unwrap();
    let calls = match arch {
        Arch::X86_64 => strace_calls(&log),
        Arch::Arm => qemu_calls(&log),
    };
    let code = o.status.code().expect("exited");
    (
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
        code,
        calls,
    )
}

fn strace_calls(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter_map(|l| l.split_once('(').map(|(name, _)| name.to_string()))
        .filter(|n| n != "execve")
        .collect()
}

/// qemu-arm's log: `PID name(args) = result`, and rseq, which qemu 7 does not know, as
/// `PID Unknown syscall 398`.
fn qemu_calls(log: &str) -> Vec<String> {
    let mut calls = Vec::new();
    for line in log.lines() {
        let rest = line.split_once(' ').map_or("", |(_, r)| r);
        if rest.starts_with("Unknown syscall 398") {
            calls.push("rseq".to_string());
        } else if let Some((name, _)) = rest.split_once('(') {
            calls.push(name.to_string());
        }
    }
    calls
}

fn run_in_harness(exe: &Path, arch: Arch) -> (Session, Result<i32, HarnessError>) {
    let mut s = Session::new(arch, Options::default()).unwrap();
    let result = s.load(exe).and_then(|root| {
        assert!(s.is_program(root));
        s.run_init()?;
        let code = s.run_entry(root, &[&exe.display().to_string()])?;
        s.run_fini()?;
        Ok(code)
    });
    (s, result)
}

fn system_calls(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SystemCall { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

fn check(cc: Compiler, target: Target, cxx: bool, opt: &str, link: Link, linker: Linker) {
    let dir = tempfile::tempdir().unwrap();
    let exe = build(dir.path(), cc, target, cxx, opt, link, linker);
    let arch = target.arch();
    let (stdout, stderr, code, real_calls) = run_real(&exe, arch);
    let (s, result) = run_in_harness(&exe, arch);
    let got = result.unwrap_or_else(|e| panic!("{e}\n{}", s.output()));
    assert_eq!(s.stdout(), stdout);
    assert_eq!(s.stderr(), stderr);
    assert_eq!(got, code);
    assert_eq!(code, if cxx { 0 } else { 3 });
    let calls = system_calls(s.events());
    // qemu-arm serves set_tls itself without tracing it; everything else must agree.
    let comparable: Vec<String> = calls.iter().filter(|c| *c != "set_tls").cloned().collect();
    assert_eq!(comparable, real_calls, "system calls, harness vs real");
    let thread_pointer = match arch {
        Arch::X86_64 => "arch_prctl",
        Arch::Arm => "set_tls",
    };
    assert!(calls.iter().any(|c| c == thread_pointer), "{calls:?}");
    assert_eq!(calls.last().map(String::as_str), Some("exit_group"));
    // Nothing was relocated by the host: glibc's start-up did it (static-pie) or there was
    // nothing to do.
    assert!(!s.events().iter().any(|e| matches!(
        e,
        Event::Relocated { .. } | Event::RelativeRelocations { .. } | Event::Bound { .. }
    )));
    if !cxx {
        ifunc_resolved_before_output(s.events());
    }
}

/// The program's own resolver was called by its start-up, before the first output.
fn ifunc_resolved_before_output(events: &[Event]) {
    let resolver = events.iter().position(
        |e| matches!(e, Event::IfuncResolver { name, .. } if name.contains(":pick_impl+0x0")),
    );
    let first_write = events.iter().position(
        |e| matches!(e, Event::SystemCall { name, .. } if name == "write" || name == "writev"),
    );
    assert!(
        resolver.is_some() && resolver < first_write,
        "pick_impl called before the first write: {events:#?}"
    );
}

/// Each case twice: linked by the toolchain's own linker and by ld.tether.
macro_rules! static_cases {
    ($($name:ident: $cc:ident $target:ident $cxx:literal $opt:literal $link:ident;)*) => {
        $(
            mod $name {
                use super::*;
                #[test]
                fn reference() {
                    check(Compiler::$cc, Target::$target, $cxx, $opt, Link::$link, Linker::Reference);
                }
                #[test]
                fn tether() {
                    check(Compiler::$cc, Target::$target, $cxx, $opt, Link::$link, Linker::Tether);
                }
            }
        )*
    };
}

static_cases! {
    c_gcc_x86_64_o0_static: Gcc X86_64 false "-O0" Static;
    c_gcc_x86_64_o2_static: Gcc X86_64 false "-O2" Static;
    c_gcc_x86_64_o0_static_pie: Gcc X86_64 false "-O0" StaticPie;
    c_gcc_x86_64_o2_static_pie: Gcc X86_64 false "-O2" StaticPie;
    c_clang_x86_64_o0_static: Clang X86_64 false "-O0" Static;
    c_clang_x86_64_o2_static_pie: Clang X86_64 false "-O2" StaticPie;
    c_gcc_thumb_o0_static: Gcc Thumb false "-O0" Static;
    c_gcc_thumb_o2_static: Gcc Thumb false "-O2" Static;
    c_gcc_arm_o0_static: Gcc Arm false "-O0" Static;
    c_gcc_arm_o2_static: Gcc Arm false "-O2" Static;
    c_clang_thumb_o2_static: Clang Thumb false "-O2" Static;
    c_clang_arm_o0_static: Clang Arm false "-O0" Static;
    cxx_gcc_x86_64_o2_static: Gcc X86_64 true "-O2" Static;
    cxx_gcc_x86_64_o0_static_pie: Gcc X86_64 true "-O0" StaticPie;
    cxx_clang_x86_64_o2_static: Clang X86_64 true "-O2" Static;
    cxx_gcc_thumb_o2_static: Gcc Thumb true "-O2" Static;
    cxx_gcc_arm_o0_static: Gcc Arm true "-O0" Static;
    cxx_clang_thumb_o2_static: Clang Thumb true "-O2" Static;
}

/// Builds a static C program from `source` with gcc for `target`.
fn build_c(dir: &Path, target: Target, source: &str) -> PathBuf {
    let src = dir.join("prog.c");
    std::fs::write(&src, source).unwrap();
    let exe = dir.join("prog");
    let (tool, args) = driver(Compiler::Gcc, target, false);
    let o = Command::new(tool)
        .args(&args)
        .args(["-O1", "-static", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    exe
}

/// Large blocks come from mmap and go back with munmap, and the address space is reused:
/// 600 MiB allocated and freed one MiB at a time, and a large block grown with realloc
/// (mremap), with the output and the system calls native/qemu-arm gives.
fn memory_reused(target: Target) {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_c(
        dir.path(),
        target,
        "#include <malloc.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\
         int main(void) {\n\
           long sum = 0;\n\
           mallopt(M_MMAP_THRESHOLD, 65536); /* fixed: every large block is its own map */\n\
           for (int i = 0; i < 600; i++) {\n\
             char *p = malloc(1 << 20); if (!p) return 1;\n\
             p[i] = (char)i; sum += p[i]; free(p);\n\
           }\n\
           char *q = malloc(200000); memset(q, 7, 200000);\n\
           q = realloc(q, 3000000); if (!q) return 2;\n\
           printf(\"sum %ld, kept %d\\n\", sum, q[199999]);\n\
           return 0;\n\
         }\n",
    );
    let (stdout, _, code, real_calls) = run_real(&exe, target.arch());
    let (s, result) = run_in_harness(&exe, target.arch());
    assert_eq!(result.unwrap(), code);
    assert_eq!(s.stdout(), stdout);
    let calls = system_calls(s.events());
    let comparable: Vec<String> = calls.iter().filter(|c| *c != "set_tls").cloned().collect();
    assert!(
        comparable == real_calls,
        "harness {comparable:?}\nreal {real_calls:?}"
    );
    let count = |name: &str| calls.iter().filter(|c| *c == name).count();
    let mmap = if target == Target::X86_64 {
        "mmap"
    } else {
        "mmap2"
    };
    assert!(count(mmap) >= 600 && count("munmap") >= 600, "{calls:?}");
}

#[test]
fn memory_reused_x86_64() {
    memory_reused(Target::X86_64);
}

#[test]
fn memory_reused_thumb() {
    memory_reused(Target::Thumb);
}

/// A program that never frees gets ENOMEM (malloc returns NULL) after a bounded amount.
#[test]
fn memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_c(
        dir.path(),
        Target::X86_64,
        "#include <stdio.h>\n#include <stdlib.h>\n\
         int main(void) {\n\
           int n = 0;\n\
           while (n < 100000 && malloc(1 << 20)) n++;\n\
           printf(\"%d\\n\", n);\n\
           return 0;\n\
         }\n",
    );
    let (s, result) = run_in_harness(&exe, Arch::X86_64);
    assert_eq!(result.unwrap(), 0);
    let n: u32 = s.stdout().trim().parse().unwrap();
    // 256 MiB of maps, then glibc falls back to the 64 MiB break.
    assert!((250..330).contains(&n), "{n}");
}

/// The ARM kernel user helpers at their fixed addresses: the thread pointer glibc set, a
/// 32- and a 64-bit compare-and-swap (one that succeeds, one that fails), the barrier, the
/// version word. Output and system calls as under qemu-arm.
#[test]
fn arm_kuser_helpers() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_c(
        dir.path(),
        Target::Thumb,
        r#"#include <stdio.h>
typedef void *(*get_tls_t)(void);
typedef int (*cmpxchg_t)(int, int, volatile int *);
typedef int (*cmpxchg64_t)(const long long *, const long long *, volatile long long *);
typedef void (*barrier_t)(void);
__thread int t = 1;
int main(void) {
  volatile int v = 5;
  volatile long long w = 1LL << 40;
  long long old = 1LL << 40, new = 7, wrong = 3;
  void *tp;
  __asm__("mrc p15, 0, %0, c13, c0, 3" : "=r"(tp));
  int same_tp = ((get_tls_t)0xffff0fe0)() == tp;
  int a = ((cmpxchg_t)0xffff0fc0)(5, 9, &v);
  int b = ((cmpxchg_t)0xffff0fc0)(5, 11, &v);
  int c = ((cmpxchg64_t)0xffff0f60)(&old, &new, &w);
  int d = ((cmpxchg64_t)0xffff0f60)(&wrong, &new, &w);
  ((barrier_t)0xffff0fa0)();
  printf("tp %d, cas %d %d -> %d, cas64 %d %d -> %lld, version %d, tls %d\n", same_tp, a == 0,
         b == 0, v, c == 0, d == 0, w, *(int *)0xffff0ffc, t);
  return 0;
}
"#,
    );
    let (stdout, _, code, real_calls) = run_real(&exe, Arch::Arm);
    assert_eq!(
        stdout,
        "tp 1, cas 1 0 -> 9, cas64 1 0 -> 7, version 5, tls 1\n"
    );
    let (s, result) = run_in_harness(&exe, Arch::Arm);
    assert_eq!(result.unwrap_or_else(|e| panic!("{e}")), code);
    assert_eq!(s.stdout(), stdout);
    let calls = system_calls(s.events());
    let comparable: Vec<String> = calls.iter().filter(|c| *c != "set_tls").cloned().collect();
    assert_eq!(comparable, real_calls);
}

/// A static program owns its process: it cannot join a session that has loaded a library.
#[test]
fn static_program_runs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_c(dir.path(), Target::X86_64, "int main(void) { return 0; }\n");
    let lib = dir.path().join("liba.so");
    let o = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .args(["-x", "c", "/dev/null"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut s = Session::new(Arch::X86_64, Options::default()).unwrap();
    s.load(&lib).unwrap();
    let e = s.load(&exe).unwrap_err();
    assert!(
        matches!(&e, HarnessError::Usage(m) if m.contains("a static program runs alone")),
        "{e}"
    );
}

/// A system call the layer does not provide is a fault naming it, its number and the pc.
fn unsupported(target: Target, number: u64) {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_c(
        dir.path(),
        target,
        "#include <unistd.h>\n#include <sys/syscall.h>\n\
         int main(void) { return (int)syscall(SYS_getppid); }\n",
    );
    let (_, result) = run_in_harness(&exe, target.arch());
    let Err(HarnessError::Fault(f)) = result else {
        panic!("expected a fault, got {result:?}");
    };
    assert_eq!(
        f.kind,
        FaultKind::UnsupportedSystemCall {
            number,
            name: "getppid".into()
        }
    );
    // The pc is in the program, named by its symbol table (glibc's `syscall` wrapper).
    let location = f.location.clone().unwrap_or_default();
    assert!(location.starts_with("prog:"), "{location}");
    assert!(f.to_string().contains("getppid"), "{f}");
}

#[test]
fn unsupported_system_call_x86_64() {
    unsupported(Target::X86_64, 110);
}

#[test]
fn unsupported_system_call_thumb() {
    unsupported(Target::Thumb, 64);
}

/// `tether run` runs a static program the same way: its output, its exit status, and with
/// `--trace` the system calls.
#[test]
fn tether_run_static_program() {
    let dir = tempfile::tempdir().unwrap();
    for target in [Target::X86_64, Target::Thumb] {
        let exe = build(
            dir.path(),
            Compiler::Gcc,
            target,
            false,
            "-O2",
            Link::Static,
            Linker::Tether,
        );
        let o = Command::new(env!("CARGO_BIN_EXE_tether"))
            .arg("run")
            .arg(&exe)
            .arg("--trace")
            .output()
            .unwrap();
        let stdout = String::from_utf8(o.stdout).unwrap();
        let stderr = String::from_utf8(o.stderr).unwrap();
        assert_eq!(o.status.code(), Some(3), "{stderr}");
        assert!(stdout.starts_with("heap argc=1 tls=42,7 ifunc=1 large=x\n"));
        assert!(stderr.contains("sys    exit_group(0x3) = 0"), "{stderr}");
        assert!(stderr.contains("(prog:pick_impl+0x0)"), "{stderr}");
    }
}
