//! The harness's memory is bounded whatever the library or the guest does (issue 12, faults 2
//! and 3), on both architectures: each case runs `tether run` as a child and checks its peak
//! memory as well as its message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tether_emu_tests::child::{self, Ended, Finished, Limits};
use tether_harness::fuzz::inputs::fields;

const ARCHES: [(&str, u64); 2] = [("gcc", 24), ("arm-linux-gnueabihf-gcc", 16)];

fn library(dir: &Path, cc: &str, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let lib = dir.join(format!("lib{name}.so"));
    let out = Command::new(cc)
        .args(["-shared", "-fPIC", "-O1", "-fno-builtin", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("{cc}: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

fn tether_run(args: &[&str]) -> Finished {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tether"));
    c.arg("run").args(args);
    child::run(c, &Limits::timeout(Duration::from_secs(120))).unwrap()
}

const MIB: u64 = 1 << 20;

fn patch(lib: &Path, edit: impl Fn(&mut Vec<u8>)) {
    let mut data = std::fs::read(lib).unwrap();
    edit(&mut data);
    std::fs::write(lib, data).unwrap();
}

fn set_dynamic(data: &mut [u8], tag: u64, value: u64) {
    let f = fields::dynamic_value(data, tag).expect("the library has the dynamic entry");
    fields::write(data, &f, value);
}

fn set_dynsym_size(data: &mut [u8], value: u64) {
    let f = fields::section_field(data, 11, "sh_size").expect("the library has .dynsym");
    fields::write(data, &f, value);
}

const DT_SYMENT: u64 = 11;

#[test]
fn dt_syment_zero_with_a_huge_dynsym_is_refused_in_bounded_memory() {
    for (cc, sym_size) in ARCHES {
        let d = tempfile::tempdir().unwrap();
        let lib = library(d.path(), cc, "plain", "int plain(void) { return 1; }\n");
        patch(&lib, |data| {
            set_dynamic(data, DT_SYMENT, 0);
            // What made the harness allocate 6.3 GB: a count of 2^32 symbols of size 0.
            set_dynsym_size(data, 0xffff_fff0);
        });
        let f = tether_run(&[lib.to_str().unwrap(), "--call", "plain"]);
        assert_eq!(f.ended, Ended::Code(1), "{cc}: {f:?}");
        let expected = format!(
            "tether: error: {}: malformed ELF: DT_SYMENT is 0, but ELF symbols here are {sym_size} bytes",
            lib.display()
        );
        assert!(f.stderr.contains(&expected), "{cc}: {}", f.stderr);
        assert!(f.max_rss < 64 * MIB, "{cc}: peak {} MiB", f.max_rss / MIB);
    }
}

#[test]
fn a_dynsym_count_beyond_the_file_is_refused_before_anything_is_decoded() {
    for (cc, _) in ARCHES {
        let d = tempfile::tempdir().unwrap();
        let lib = library(d.path(), cc, "plain", "int plain(void) { return 1; }\n");
        patch(&lib, |data| set_dynsym_size(data, 0xffff_fff0));
        let f = tether_run(&[lib.to_str().unwrap(), "--call", "plain"]);
        assert_eq!(f.ended, Ended::Code(1), "{cc}: {f:?}");
        assert!(
            f.stderr.contains(&format!(
                "{}: malformed ELF: .dynsym at DT_SYMTAB",
                lib.display()
            )),
            "{cc}: {}",
            f.stderr
        );
        assert!(
            f.stderr
                .contains("more than its segment's file contents hold"),
            "{}",
            f.stderr
        );
        assert!(f.max_rss < 64 * MIB, "{cc}: peak {} MiB", f.max_rss / MIB);
    }
}

const SPIN: &str = r#"
#include <string.h>
const char *volatile text = "hello";
int spin(int n) { int t = 0; for (int i = 0; i < n; i++) t += strlen(text); return t; }
"#;

#[test]
fn a_guest_calling_the_host_in_a_loop_keeps_the_harness_small() {
    for (cc, _) in ARCHES {
        let d = tempfile::tempdir().unwrap();
        let lib = library(d.path(), cc, "spin", SPIN);
        let lib = lib.to_str().unwrap();
        let run = |calls: &str| {
            let f = tether_run(&[lib, "--call", "spin", calls, "--budget", "100000000"]);
            assert_eq!(f.ended, Ended::Code(0), "{cc}: {f:?}");
            f
        };
        // Both past the default --max-events (200,000) and the code buffer's size: from there
        // on, nothing may grow.
        let small = run("400000");
        let large = run("1500000");
        assert!(
            large.stdout.contains("spin returned 7500000"),
            "{}",
            large.stdout
        );
        // Unbounded, the log alone would grow by about 250 MiB between the two runs.
        assert!(
            large.max_rss < small.max_rss + 8 * MIB,
            "{cc}: {} MiB after 1.5M host calls, {} MiB after 400k",
            large.max_rss / MIB,
            small.max_rss / MIB
        );
        assert!(
            large.max_rss < 160 * MIB,
            "{cc}: peak {} MiB",
            large.max_rss / MIB
        );
    }
}

#[test]
fn the_log_says_where_it_was_truncated_and_how_much_was_dropped() {
    for (cc, _) in ARCHES {
        let d = tempfile::tempdir().unwrap();
        let lib = library(d.path(), cc, "spin", SPIN);
        let f = tether_run(&[
            lib.to_str().unwrap(),
            "--call",
            "spin",
            "20000",
            "--trace",
            "--max-events",
            "1000",
        ]);
        assert_eq!(f.ended, Ended::Code(0), "{cc}: {f:?}");
        let line = f
            .stderr
            .lines()
            .find(|l| l.starts_with("log    truncated at 1000 events (--max-events): "))
            .unwrap_or_else(|| panic!("{cc}: {}", f.stderr));
        let dropped: u64 = line
            .split(": ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        // 20,000 strlen calls and the return, less the 999 events kept after loading.
        assert!((19_000..=20_100).contains(&dropped), "{cc}: {line}");
        // The log holds exactly --max-events events, one line each.
        assert_eq!(f.stderr.lines().count(), 1000, "{cc}");
        assert_eq!(
            f.stderr.lines().last(),
            Some(line),
            "{cc}: the notice is the last event"
        );
    }
}
