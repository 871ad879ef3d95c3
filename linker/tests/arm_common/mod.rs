//! Shared by the ARM tests: running the cross tools on fixtures, reading what they produce.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/arm");

/// Runs `tool` with `args`, panicking with the tool's Debian package when it is missing and
/// with its stderr when it fails.
pub fn run(tool: &str, package: &str, args: &[&str]) {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run `{tool}` ({err}): install the Debian package `{package}`")
        });
    assert!(
        output.status.success(),
        "`{tool} {}` failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The two assemblers every fixture is built with.
#[derive(Clone, Copy, Debug)]
pub enum Assembler {
    Gnu,
    Llvm,
}

impl Assembler {
    pub const ALL: [Assembler; 2] = [Assembler::Gnu, Assembler::Llvm];

    /// Assembles `fixture` (a file name under tests/fixtures/arm) into `dir`.
    pub fn assemble(self, fixture: &str, dir: &Path) -> PathBuf {
        let source = Path::new(FIXTURES).join(fixture);
        let source = source.to_str().expect("fixture path is UTF-8");
        let object = dir.join(format!("{fixture}.{self:?}.o"));
        let out = object.to_str().expect("temp path is UTF-8");
        match self {
            Assembler::Gnu => run(
                "arm-linux-gnueabihf-as",
                "binutils-arm-linux-gnueabihf",
                &[source, "-o", out],
            ),
            Assembler::Llvm => run(
                "llvm-mc",
                "llvm",
                &[
                    "-triple=armv7a-linux-gnueabihf",
                    "-filetype=obj",
                    source,
                    "-o",
                    out,
                ],
            ),
        }
        object
    }
}

/// Links with GNU ld (ld.bfd for ARM), the reference.
pub fn gnu_ld(args: &[&str]) {
    run(
        "arm-linux-gnueabihf-ld",
        "binutils-arm-linux-gnueabihf",
        args,
    );
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp path is UTF-8")
}
