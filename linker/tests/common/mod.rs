//! Helpers shared by the x86-64 integration tests: tools, compiling fixtures, linking with
//! tether through the compiler drivers, running programs natively, checking outputs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `ld-tether` binary cargo built for this test run.
pub fn tether() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ld-tether"))
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/x86_64")
        .join(name)
}

/// Panics with the Debian package to install when a tool is missing.
pub fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success());
    assert!(
        matches!(found, Ok(true)),
        "this test needs `{tool}`: install the Debian package `{package}`"
    );
}

pub fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    out
}

/// Runs a command that must succeed; returns stdout.
pub fn ok(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cc {
    Gcc,
    Clang,
}

impl Cc {
    pub fn program(self) -> &'static str {
        match self {
            Cc::Gcc => "gcc",
            Cc::Clang => "clang",
        }
    }
    pub fn cxx(self) -> &'static str {
        match self {
            Cc::Gcc => "g++",
            Cc::Clang => "clang++",
        }
    }
    pub fn require(self) {
        match self {
            Cc::Gcc => require("gcc", "gcc"),
            Cc::Clang => require("clang", "clang"),
        }
    }
}

/// Which linker a compiler driver should use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linker {
    Tether,
    GnuLd,
}

pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        let dir = tempfile::tempdir().expect("temporary directory");
        // gcc finds `ld` in a -B directory: make tether that `ld`.
        std::fs::create_dir(dir.path().join("bin")).expect("bin dir");
        std::os::unix::fs::symlink(tether(), dir.path().join("bin/ld")).expect("ld symlink");
        Work { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Compiles a C or C++ source to a position-independent object.
    pub fn compile(&self, cc: Cc, opt: &str, src: &Path, obj: &str, cxx: bool) -> PathBuf {
        let out = self.path(obj);
        let driver = if cxx { cc.cxx() } else { cc.program() };
        ok(Command::new(driver)
            .args([opt, "-fPIC", "-c"])
            .arg(src)
            .arg("-o")
            .arg(&out));
        out
    }

    /// A compiler driver command that links with `linker`.
    pub fn driver(&self, cc: Cc, linker: Linker, cxx: bool) -> Command {
        let mut cmd = Command::new(if cxx { cc.cxx() } else { cc.program() });
        match (cc, linker) {
            (Cc::Gcc, Linker::Tether) => {
                cmd.arg(format!("-B{}/", self.path("bin").display()));
            }
            (Cc::Clang, Linker::Tether) => {
                cmd.arg(format!("--ld-path={}", tether().display()));
            }
            (_, Linker::GnuLd) => {
                cmd.arg("-fuse-ld=bfd");
            }
        }
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// Runs a program from the work directory with its libraries found there, lazily bound.
    pub fn run_program(&self, exe: &str) -> String {
        ok(Command::new(self.path(exe))
            .env("LD_LIBRARY_PATH", self.dir.path())
            .env_remove("LD_BIND_NOW")
            .current_dir(self.dir.path()))
    }
}

/// `readelf -aW` must read the file without a word on stderr.
pub fn check_readelf(file: &Path) {
    require("readelf", "binutils");
    let out = run(Command::new("readelf").arg("-aW").arg(file));
    assert!(out.status.success(), "readelf failed on {}", file.display());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.is_empty(),
        "readelf -aW {} complained:\n{stderr}",
        file.display()
    );
}

/// `eu-elflint --gnu-ld` must say "No errors".
pub fn check_elflint(file: &Path) {
    require("eu-elflint", "elfutils");
    let out = run(Command::new("eu-elflint").arg("--gnu-ld").arg(file));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.trim(),
        "No errors",
        "eu-elflint --gnu-ld {}:\n{text}",
        file.display()
    );
}

pub fn readelf(args: &[&str], file: &Path) -> String {
    ok(Command::new("readelf").args(args).arg(file))
}
