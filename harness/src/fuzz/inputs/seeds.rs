//! The real inputs that cases mutate, built once per campaign and architecture with the real
//! toolchain: gcc objects (several sections, relocations, TLS, a common symbol, a call through
//! the PLT), an `ar` archive, a shared library, a linker script of the kind distributions
//! install, and a version script.

use std::path::{Path, PathBuf};
use std::process::Command;

const A_C: &str = r#"
#include <stdio.h>
extern int lib_value(int);
extern int lib_data;
int counter = 3;
static const char greeting[] = "hello from the fuzzer";
__thread int tls_slot = 7;
int common_thing;
static int helper(int y) { return y * counter; }
int (*table[])(int) = { helper };
int entry(int x) {
    puts(greeting);
    counter += x;
    return lib_value(x) + lib_data + tls_slot + common_thing + table[0](x);
}
"#;

const B_C: &str = r#"
int lib_data = 5;
int lib_value(int x) { return x * 2 + lib_data; }
"#;

const VERSION_SCRIPT: &str = "VERS_1 {\n  global:\n    entry;\n    lib_*;\n  local:\n    *;\n};\nVERS_2 {\n  global: counter;\n} VERS_1;\n";

/// The seed files of one architecture, all in one directory.
#[derive(Debug, Clone)]
pub struct Seeds {
    pub dir: PathBuf,
    pub arm: bool,
}

/// File names inside [`Seeds::dir`].
pub const OBJECT: &str = "a.o";
pub const OTHER_OBJECT: &str = "b.o";
pub const ARCHIVE: &str = "libb.a";
pub const SHARED: &str = "libb.so";
/// A library with everything in it, for the harness (`entry` calls into the rest).
pub const RUNNABLE: &str = "libh.so";
pub const SCRIPT: &str = "in.ld";
pub const VERSIONS: &str = "v.map";

fn tool(arm: bool, name: &str) -> String {
    if arm {
        format!("arm-linux-gnueabihf-{name}")
    } else {
        name.to_string()
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| {
        format!("cannot run {shown}: {e} (scripts/setup.sh installs the toolchains)")
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Builds the seeds for one architecture into `dir`.
pub fn build(dir: &Path, arm: bool) -> Result<Seeds, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    write("a.c", A_C)?;
    write("b.c", B_C)?;
    write(VERSIONS, VERSION_SCRIPT)?;
    let format = if arm {
        "elf32-littlearm"
    } else {
        "elf64-x86-64"
    };
    write(
        SCRIPT,
        &format!("/* GNU ld script */\nOUTPUT_FORMAT({format})\nSEARCH_DIR(.)\nGROUP ( a.o AS_NEEDED ( libb.so ) libb.a )\n"),
    )?;
    let gcc = tool(arm, "gcc");
    for (src, obj) in [("a.c", OBJECT), ("b.c", OTHER_OBJECT)] {
        run(Command::new(&gcc).current_dir(dir).args([
            "-c",
            "-O1",
            "-fPIC",
            "-fcommon",
            "-ffunction-sections",
            "-fdata-sections",
            "-o",
            obj,
            src,
        ]))?;
    }
    run(Command::new(tool(arm, "ar"))
        .current_dir(dir)
        .args(["rcs", ARCHIVE, OTHER_OBJECT]))?;
    run(Command::new(&gcc).current_dir(dir).args([
        "-shared",
        "-o",
        SHARED,
        OTHER_OBJECT,
        "-Wl,-soname,libb.so",
    ]))?;
    run(Command::new(&gcc).current_dir(dir).args([
        "-shared",
        "-o",
        RUNNABLE,
        OBJECT,
        OTHER_OBJECT,
    ]))?;
    Ok(Seeds {
        dir: dir.to_path_buf(),
        arm,
    })
}

impl Seeds {
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap_or_default()
    }
}
