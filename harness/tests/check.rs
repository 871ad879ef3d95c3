//! `tether check` end to end, and the Unicorn backend catching deliberately broken links.

use std::path::PathBuf;
use std::process::Command;
use tether_emu_tests::check::Outcome;
use tether_emu_tests::mutate::{
    arm_plt0_jumps_through_got1, arm_plt_off_by_one, patched_check, patched_run, wrong_pc32_addend,
    x86_64_plt0_pushes_got2,
};
use tether_emu_tests::{Backend, RealLoader, Target};
use tether_harness::UnicornBackend;

fn tether() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tether"))
}

/// The ld-tether that `tether check` finds next to itself; scripts/test.sh builds it first.
fn ld_tether() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_tether")).with_file_name("ld-tether");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        path.display()
    );
    path
}

const SUBSET: [&str; 8] = [
    "--scenario",
    "seed",
    "--scenario",
    "lazy-binding",
    "--target",
    "x86_64-gcc",
    "--target",
    "arm-gcc-thumb",
];

#[test]
fn check_prints_the_matrix_and_the_summary() {
    ld_tether();
    let out = tether().arg("check").args(SUBSET).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    // Two scenarios × two linkers; x86-64 on native, qemu and unicorn, ARM on qemu and unicorn.
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "scenario",
            "linker",
            "x86_64-gcc",
            "x86_64-gcc",
            "x86_64-gcc",
            "arm-gcc-thumb",
            "arm-gcc-thumb"
        ]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["native", "qemu", "unicorn", "qemu", "unicorn"]
    );
    // ld-tether links the libraries and the program alike.
    for (row, cells) in [
        ("lazy-binding gnu-ld", ["ok"; 5]),
        ("lazy-binding ld-tether", ["ok"; 5]),
        ("seed gnu-ld", ["ok"; 5]),
        ("seed ld-tether", ["ok"; 5]),
    ] {
        let line = lines
            .iter()
            .find(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ") == row)
            .unwrap_or_else(|| panic!("no row `{row}` in\n{text}"));
        assert_eq!(
            line.split_whitespace().skip(2).collect::<Vec<_>>(),
            cells,
            "{text}"
        );
    }
    assert!(!text.contains("known gap"), "{text}");
    assert_eq!(lines.last(), Some(&"20 passed, 0 failed"), "{text}");
}

/// A static program runs on every backend, Unicorn included (the system-call layer), for the
/// reference linker and ld.tether.
#[test]
fn static_programs_run_on_every_backend() {
    let out = tether()
        .args([
            "check",
            "--scenario",
            "program-static",
            "--target",
            "x86_64-gcc",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for linker in ["gnu-ld", "ld-tether"] {
        let row = text
            .lines()
            .find(|l| {
                l.starts_with(&format!("program-static {linker}")) || {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    w.len() > 1 && w[0] == "program-static" && w[1] == linker
                }
            })
            .unwrap_or_else(|| panic!("no {linker} row:\n{text}"));
        assert_eq!(
            row.split_whitespace().skip(2).collect::<Vec<_>>(),
            ["ok", "ok", "ok"],
            "{text}"
        );
    }
    assert!(!text.contains("skip"), "{text}");
    assert!(text.ends_with("6 passed, 0 failed\n"), "{text}");
}

#[test]
fn check_json_lists_every_case() {
    let out = tether()
        .args(["check", "--json", "--backend", "unicorn", "--linker"])
        .arg(ld_tether())
        .args(SUBSET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["passed"], 4);
    assert_eq!(json["failed"], 0);
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        assert_eq!(case["backend"], "unicorn");
        assert_eq!(case["linker"], "ld-tether");
        assert_eq!(case["result"], "pass");
    }
}

#[test]
fn check_fails_with_status_1_and_names_the_failure() {
    // A linker that drops -init: the seed's DT_INIT never runs, so its first line is missing.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("ld-noinit");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in -init=*) ;; *) set -- \"$@\" \"$a\";; esac; shift; done\nexec {} \"$@\"\n",
            ld_tether().display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    let out = tether()
        .args([
            "check",
            "--backend",
            "unicorn",
            "--scenario",
            "seed",
            "--target",
            "x86_64-gcc",
            "--linker",
        ])
        .arg(&fake)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("--- seed on x86_64-gcc (unicorn, linked by ld-noinit): stdout line 1:"),
        "{text}"
    );
    assert!(text.contains("expected: \"libgo: init\""), "{text}");
    assert!(text.ends_with("0 passed, 1 failed\n"), "{text}");
}

#[test]
fn check_rejects_unknown_names_with_status_2() {
    for args in [
        ["--backend", "bochs"],
        ["--target", "mips-gcc"],
        ["--scenario", "nope"],
    ] {
        let out = tether().arg("check").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("tether check: "), "{err}");
        assert!(err.contains(args[1]), "{err}");
    }
}

#[test]
fn unicorn_catches_a_wrong_pc32_addend() {
    let d = patched_run(
        "asm-relocs",
        Target::X86_64_GCC,
        "libprobe.so",
        &UnicornBackend::default(),
        wrong_pc32_addend,
    );
    assert_eq!(d.what, "stdout line 2", "{d}");
    assert_eq!(d.expected, "\"PC-relative with addend: ok\"");
    assert_eq!(d.observed, "\"PC-relative with addend: WRONG\"");
}

#[test]
fn unicorn_catches_an_off_by_one_in_the_arm_plt() {
    let d = patched_run(
        "seed",
        Target::ARM_GCC_ARM,
        "libgo.so",
        &UnicornBackend::default(),
        arm_plt_off_by_one,
    );
    // libgo's DT_INIT makes the first PLT call: the harness names the fault and where it was.
    assert_eq!(d.what, "run", "{d}");
    // The first PLT call from go_init went to the wrong slot: the fault's recent blocks end
    // in it.
    assert!(d.observed.starts_with("guest fault"), "{d}");
    assert!(d.observed.contains("libgo.so:go_init+0x0"), "{d}");
}

#[test]
fn tls_from_gold_and_mold_loads_like_under_glibc() {
    // mold names local TLS symbols in .dynsym (their value is a TLS offset, not an address)
    // and gold relocates TLS module ids against section symbols (local: no lookup, no
    // binding). Both must load in the harness as under qemu. gold cannot link ARM TLS
    // descriptors at all ("unsupported reloc 93"), which the check reports as a build failure.
    use tether_emu_tests::check::{self, CheckOptions, Outcome};
    use tether_emu_tests::{corpus, Backend, Linker, RealLoader};
    let scenarios = corpus().unwrap();
    let mut options = CheckOptions::new(vec![
        Linker::at("/usr/bin/mold"),
        Linker::at("/usr/bin/ld.gold"),
    ]);
    options.scenarios = vec!["tls".into(), "tls-descriptors".into()];
    options.targets = vec![Target::X86_64_GCC, Target::ARM_GCC_THUMB, Target::ARM_CLANG];
    let unicorn = UnicornBackend::default();
    let qemu = RealLoader::qemu();
    let backends: [&dyn Backend; 2] = [&unicorn, &qemu];
    let report = check::run(&scenarios, &backends, &options).unwrap();
    for case in &report.cases {
        let gold_arm_tlsdesc = case.linker == "ld.gold"
            && case.scenario == "tls-descriptors"
            && case.target.starts_with("arm-");
        match &case.outcome {
            Outcome::Pass => assert!(!gold_arm_tlsdesc, "{case:?}"),
            Outcome::Fail { difference } => {
                assert!(gold_arm_tlsdesc, "{}", report.to_text());
                assert_eq!(difference.what, "build");
                assert!(
                    difference
                        .context
                        .iter()
                        .any(|l| l.contains("unsupported reloc 93")),
                    "{difference}"
                );
            }
        }
    }
    assert!(report.passed() >= 8, "{}", report.to_text());
}

/// --junit writes JUnit XML whose counts are the matrix's, the first difference as each
/// failure's message; --keep prints the command that reruns a failed cell under gdb, and that
/// command (without --gdb) shows the same failure.
#[test]
fn check_writes_junit_and_the_rerun_command() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("ld-noinit");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in -init=*) ;; *) set -- \"$@\" \"$a\";; esac; shift; done\nexec {} \"$@\"\n",
            ld_tether().display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    let junit = dir.path().join("report.xml");
    let keep = dir.path().join("kept");
    let out = tether()
        .args(["check", "--scenario", "seed", "--scenario", "lazy-binding"])
        .args(["--target", "x86_64-gcc", "--target", "arm-gcc-thumb"])
        .arg("--junit")
        .arg(&junit)
        .arg("--keep")
        .arg(&keep)
        .arg("--linker")
        .arg(&fake)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let cells: Vec<&str> = text
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .flat_map(|l| l.split_whitespace().skip(2))
        .filter(|c| *c != "-")
        .collect();
    let failed_cells = cells.iter().filter(|c| **c == "FAIL").count();
    assert!(failed_cells > 0, "{text}");

    let xml = std::fs::read_to_string(&junit).expect("the JUnit file");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let cases: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), cells.len(), "one test case per matrix cell");
    assert_eq!(
        root.attribute("tests"),
        Some(cells.len().to_string().as_str())
    );
    assert_eq!(
        root.attribute("failures"),
        Some(failed_cells.to_string().as_str())
    );
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 2, "one suite per scenario");
    for suite in &suites {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let n = suite
            .children()
            .filter(|c| c.has_tag_name("testcase"))
            .count();
        assert_eq!(suite.attribute("tests"), Some(n.to_string().as_str()));
        let f = suite
            .descendants()
            .filter(|c| c.has_tag_name("failure"))
            .count();
        assert_eq!(suite.attribute("failures"), Some(f.to_string().as_str()));
    }
    for case in &cases {
        assert!(case.attribute("classname").is_some() && case.attribute("name").is_some());
    }
    let failure = root
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    assert!(
        failure
            .attribute("message")
            .unwrap_or("")
            .contains("stdout line 1"),
        "{xml}"
    );

    let rerun = text
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with("seed on x86_64-gcc (unicorn, ld-noinit): ")
        })
        .unwrap_or_else(|| panic!("no rerun command:\n{text}"));
    let command = rerun.split_once("): ").expect("command").1;
    assert!(command.ends_with(" --gdb 127.0.0.1:1234"), "{command}");
    let words: Vec<&str> = command
        .trim_end_matches(" --gdb 127.0.0.1:1234")
        .split_whitespace()
        .collect();
    let again = Command::new(words[0]).args(&words[1..]).output().unwrap();
    let again_out = String::from_utf8_lossy(&again.stdout);
    assert!(
        !again_out.contains("libgo: init"),
        "the rerun does not show the failure:\n{again_out}"
    );
    assert!(again_out.contains("libgo: Go_callback 2"), "{again_out}");
}

/// Checks `library` of the seed, patched by `patch`, on `backends`: a bug only lazy binding
/// meets leaves the eager runs as expected and fails every backend on lazy ≡ eager.
fn lazy_only_bug_is_caught(
    target: Target,
    backends: &[&dyn Backend],
    patch: impl Fn(&mut [u8]) -> usize,
) {
    let results = patched_check("seed", target, "libgo.so", backends, patch);
    assert_eq!(results.len(), backends.len());
    let expected = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../emu-tests/scenarios/seed/expected.txt"),
    )
    .unwrap();
    for (backend, outcome, eager) in results {
        assert_eq!(
            eager.error, None,
            "{backend}: the eager run must not notice the bug"
        );
        assert_eq!(eager.stdout, expected, "{backend}: eager output");
        let Outcome::Fail { difference } = outcome else {
            panic!("{backend}: the lazy-only bug passed the check");
        };
        eprintln!("{backend}: {difference}");
        assert!(
            difference.what.starts_with("lazy ≡ eager: "),
            "{backend}: {difference}"
        );
        // Eager binding runs libgo's DT_INIT fine; lazily its first PLT call goes astray.
        assert!(
            difference.expected.contains("with eager binding"),
            "{backend}: {difference}"
        );
    }
}

/// x86-64 PLT0 handing the resolver GOT[2] where GOT[1] (the link-map handle) belongs, on
/// glibc's loader (native, qemu) and Unicorn.
#[test]
fn lazy_eager_comparison_catches_a_plt0_handoff_bug() {
    let unicorn = UnicornBackend::default();
    let qemu = RealLoader::qemu();
    let native = RealLoader::native();
    lazy_only_bug_is_caught(
        Target::X86_64_GCC,
        &[&unicorn, &qemu, &native],
        x86_64_plt0_pushes_got2,
    );
}

/// ARM PLT0 jumping through GOT[1] instead of GOT[2] (the resolver), Thumb-2 callers, on
/// glibc under qemu and Unicorn.
#[test]
fn lazy_eager_comparison_catches_an_arm_got1_got2_mixup() {
    let unicorn = UnicornBackend::default();
    let qemu = RealLoader::qemu();
    lazy_only_bug_is_caught(
        Target::ARM_GCC_THUMB,
        &[&unicorn, &qemu],
        arm_plt0_jumps_through_got1,
    );
}

/// On a terminal (a pseudo-terminal from util-linux's `script`) the check draws a progress
/// line naming the builds done; with output captured, it draws none.
#[test]
fn check_shows_progress_on_a_terminal_only() {
    ld_tether();
    let command = format!(
        "{} check --scenario seed --target x86_64-gcc --backend unicorn",
        env!("CARGO_BIN_EXE_tether")
    );
    let on_terminal = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("script (bsdutils) runs the check on a pseudo-terminal");
    let shown = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(shown.contains("tether check ["), "{shown}");
    assert!(
        shown.contains("1/2 builds · 0 failed · seed x86_64-gcc"),
        "{shown}"
    );
    assert!(shown.contains("2 passed, 0 failed"), "{shown}");
    let captured = tether()
        .args(["check", "--scenario", "seed", "--target", "x86_64-gcc"])
        .args(["--backend", "unicorn"])
        .output()
        .unwrap();
    assert!(captured.status.success());
    assert!(!String::from_utf8_lossy(&captured.stderr).contains("builds"));
}
