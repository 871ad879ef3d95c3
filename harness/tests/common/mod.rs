//! Fixtures built at test time with real toolchains, and helpers to run them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use tether_harness::{Arch, Event, HarnessError, Options, Session};

/// A compiler driver plus linker producing shared libraries for one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolchain {
    /// gcc + GNU ld, x86-64.
    GnuX86,
    /// arm-linux-gnueabihf-gcc + GNU ld, Thumb-2 (Debian's default).
    GnuThumb,
    /// arm-linux-gnueabihf-gcc -marm + GNU ld.
    GnuArm,
    /// clang + lld, x86-64.
    LldX86,
    /// clang --target=armv7a-linux-gnueabihf + lld (ARM state).
    LldArm,
    /// clang + lld, Thumb-2.
    LldThumb,
    /// gcc + gold, x86-64.
    GoldX86,
    /// arm-linux-gnueabihf-gcc + gold, Thumb-2.
    GoldThumb,
    /// gcc + mold, x86-64.
    MoldX86,
    /// gcc driving tether's own linker (`ld-tether`), x86-64.
    TetherX86,
    /// arm-linux-gnueabihf-gcc (Thumb-2) driving `ld-tether`.
    TetherThumb,
}

/// A directory holding `ld` → the workspace's `ld-tether`, for `gcc -B<dir>/`.
fn tether_ld_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/ld-tether
    let profile_dir = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target directory");
    let ld = profile_dir.join("ld-tether");
    assert!(
        ld.is_file(),
        "{} is missing: build the linker first (`cargo build --workspace --bins`)",
        ld.display()
    );
    let dir = profile_dir.join("tether-ld-for-gcc");
    std::fs::create_dir_all(&dir).expect("create ld directory");
    let link = dir.join("ld");
    if std::fs::read_link(&link).ok().as_deref() != Some(ld.as_path()) {
        let _ = std::fs::remove_file(&link);
        // Another test may create it at the same moment; either link is the same.
        let _ = std::os::unix::fs::symlink(&ld, &link);
    }
    dir
}

fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "required tool `{tool}` is missing: install the Debian package `{package}`"
    );
}

impl Toolchain {
    pub fn arch(self) -> Arch {
        match self {
            Toolchain::GnuX86
            | Toolchain::LldX86
            | Toolchain::GoldX86
            | Toolchain::MoldX86
            | Toolchain::TetherX86 => Arch::X86_64,
            Toolchain::GnuThumb
            | Toolchain::GnuArm
            | Toolchain::LldArm
            | Toolchain::LldThumb
            | Toolchain::GoldThumb
            | Toolchain::TetherThumb => Arch::Arm,
        }
    }

    fn driver(self) -> (String, Vec<String>) {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        match self {
            Toolchain::GnuX86 => {
                require("gcc", "gcc");
                ("gcc".into(), s(&["-fuse-ld=bfd"]))
            }
            Toolchain::GnuThumb => {
                require("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf");
                (
                    "arm-linux-gnueabihf-gcc".into(),
                    s(&["-mthumb", "-fuse-ld=bfd"]),
                )
            }
            Toolchain::GnuArm => {
                require("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf");
                (
                    "arm-linux-gnueabihf-gcc".into(),
                    s(&["-marm", "-fuse-ld=bfd"]),
                )
            }
            Toolchain::LldX86 => {
                require("clang", "clang");
                require("ld.lld", "lld");
                ("clang".into(), s(&["-fuse-ld=lld"]))
            }
            Toolchain::LldArm => {
                require("clang", "clang");
                require("ld.lld", "lld");
                (
                    "clang".into(),
                    s(&["--target=armv7a-linux-gnueabihf", "-marm", "-fuse-ld=lld"]),
                )
            }
            Toolchain::LldThumb => {
                require("clang", "clang");
                require("ld.lld", "lld");
                (
                    "clang".into(),
                    s(&["--target=armv7a-linux-gnueabihf", "-mthumb", "-fuse-ld=lld"]),
                )
            }
            Toolchain::GoldX86 => {
                require("gcc", "gcc");
                require("ld.gold", "binutils");
                ("gcc".into(), s(&["-fuse-ld=gold"]))
            }
            Toolchain::GoldThumb => {
                require("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf");
                require(
                    "arm-linux-gnueabihf-ld.gold",
                    "binutils-arm-linux-gnueabihf",
                );
                (
                    "arm-linux-gnueabihf-gcc".into(),
                    s(&["-mthumb", "-fuse-ld=gold"]),
                )
            }
            Toolchain::MoldX86 => {
                require("gcc", "gcc");
                require("mold", "mold");
                ("gcc".into(), s(&["-fuse-ld=mold"]))
            }
            Toolchain::TetherX86 => {
                require("gcc", "gcc");
                (
                    "gcc".into(),
                    vec![format!("-B{}/", tether_ld_dir().display())],
                )
            }
            Toolchain::TetherThumb => {
                require("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf");
                let b = format!("-B{}/", tether_ld_dir().display());
                ("arm-linux-gnueabihf-gcc".into(), vec!["-mthumb".into(), b])
            }
        }
    }

    /// Compiles `source` (C) into `dir/name` as a shared library; `extra` goes at the end of
    /// the command line (libraries, -Wl options).
    pub fn shared(self, dir: &Path, name: &str, source: &str, extra: &[&str]) -> PathBuf {
        self.build(dir, name, source, &["-fPIC", "-shared"], extra)
    }

    /// Compiles `source` into a program: PIE, or a fixed-address executable when `pie` is false.
    pub fn program(
        self,
        dir: &Path,
        name: &str,
        source: &str,
        pie: bool,
        extra: &[&str],
    ) -> PathBuf {
        let mode: &[&str] = if pie {
            &["-fPIE", "-pie"]
        } else {
            &["-fno-pie", "-no-pie"]
        };
        let mut extra = extra.to_vec();
        let rpath_link = format!("-Wl,-rpath-link,{}", dir.display());
        extra.push(&rpath_link);
        self.build(dir, name, source, mode, &extra)
    }

    fn build(self, dir: &Path, name: &str, source: &str, mode: &[&str], extra: &[&str]) -> PathBuf {
        let src = dir.join(format!("{name}.c"));
        std::fs::write(&src, source).expect("write fixture source");
        let out = dir.join(name);
        let (cc, mut args) = self.driver();
        args.extend(
            ["-O1"]
                .iter()
                .chain(mode)
                .chain(&["-o"])
                .map(|s| s.to_string()),
        );
        args.push(out.display().to_string());
        args.push(src.display().to_string());
        args.push(format!("-L{}", dir.display()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = Command::new(&cc)
            .args(&args)
            .output()
            .expect("run compiler");
        assert!(
            o.status.success(),
            "{cc} {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
        out
    }
}

pub fn session(tc: Toolchain, dir: &Path) -> Session {
    session_with(tc, dir, Options::default())
}

pub fn session_with(tc: Toolchain, dir: &Path, options: Options) -> Session {
    let mut s = Session::new(tc.arch(), options).expect("session");
    s.add_search_dir(dir);
    s
}

pub fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../emu-tests/scenarios/seed")
}

pub fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Indices of events matching `f`.
pub fn positions(events: &[Event], f: impl Fn(&Event) -> bool) -> Vec<usize> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| f(e))
        .map(|(i, _)| i)
        .collect()
}

/// `name@version`, or `name` when unversioned.
pub fn labelled(symbol: &str, version: &Option<String>) -> String {
    match version {
        Some(v) => format!("{symbol}@{v}"),
        None => symbol.to_string(),
    }
}

/// Lazy bindings in `object` of `symbol` (written `name@version` when versioned).
pub fn lazy_bindings<'a>(events: &'a [Event], object: &str, symbol: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| {
            matches!(e, Event::Bound { object: o, symbol: s, version: v, lazy: true, .. }
            if o == object && labelled(s, v) == symbol)
        })
        .collect()
}

pub fn fault_kind(e: &HarnessError) -> tether_harness::FaultKind {
    match e {
        HarnessError::Fault(f) => f.kind.clone(),
        other => panic!("expected a guest fault, got {other:?}"),
    }
}

/// Instantiates a test function `fn(Toolchain)` once per toolchain, tether's linker included.
#[macro_export]
macro_rules! for_each_toolchain {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use super::*;
                $crate::reference_toolchain_tests!($test);
                #[test] fn tether_x86_64() { super::$test(Toolchain::TetherX86) }
                #[test] fn tether_thumb() { super::$test(Toolchain::TetherThumb) }
            }
        )*
    };
}

/// Only GNU ld and lld: for what `ld-tether` cannot link yet (each use says why).
#[macro_export]
macro_rules! for_reference_toolchains {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use super::*;
                $crate::reference_toolchain_tests!($test);
            }
        )*
    };
}

#[macro_export]
macro_rules! reference_toolchain_tests {
    ($test:ident) => {
        #[test]
        fn gnu_x86_64() {
            super::$test(Toolchain::GnuX86)
        }
        #[test]
        fn gnu_thumb() {
            super::$test(Toolchain::GnuThumb)
        }
        #[test]
        fn gnu_arm() {
            super::$test(Toolchain::GnuArm)
        }
        #[test]
        fn lld_x86_64() {
            super::$test(Toolchain::LldX86)
        }
        #[test]
        fn lld_arm() {
            super::$test(Toolchain::LldArm)
        }
        #[test]
        fn lld_thumb() {
            super::$test(Toolchain::LldThumb)
        }
    };
}
