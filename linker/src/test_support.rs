//! Helpers shared by the unit tests that compare with the reference tools.

use std::process::{Command, Output};

/// Runs a reference tool; a missing tool fails the test and names the Debian package.
pub fn run_tool(cmd: &mut Command, tool: &str, package: &str) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{tool} is needed by this test (Debian package {package}): {e}"))
}

/// Runs a reference tool that must succeed and returns what it printed.
pub fn run_ok(cmd: &mut Command, tool: &str, package: &str) -> String {
    let out = run_tool(cmd, tool, package);
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tool output is UTF-8")
}

/// A fixed-seed xorshift generator: random-input tests are the same on every run.
pub fn xorshift() -> impl FnMut() -> u64 {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
