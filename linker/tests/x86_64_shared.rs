//! Shared libraries linked by tether from gcc and clang objects (-O0 and -O2), loaded and run
//! by glibc's ld.so: PLT calls, GOT data, callbacks, DT_INIT before init_array, DT_NEEDED on a
//! second library, TLS, RELATIVE and symbolic data relocations, symbol versions. The same
//! fixtures linked by GNU ld must behave identically; lazy binding is observed in the GOT.

mod common;
use common::*;
use std::process::Command;

const EXPECTED: &str = "\
fix: DT_INIT
fix: init_array 1
fix: init_array 2
main: bind lazy
main: slot before first call: its PLT entry's push (entry + 6)
main: dep_add via PLT = 5
main: slot after first call: bound to dep_add
main: data via GOT = 42
main: data via GOT again = 44
main: colours = red green blue
main: indirect = 15
main: hook called with callback
main: tls = 60914
main: tls again = 71117
main: visibility = 1059
main: calls = 1
fix: fini_array
fix: DT_FINI
";

/// Links libdep.so and libfix.so with `linker` in a fresh directory, builds main with the
/// system linker and returns what main prints.
fn build_and_run(cc: Cc, opt: &str, linker: Linker, extra: &[&str]) -> (Work, String) {
    cc.require();
    let w = Work::new();
    let dep = w.compile(cc, opt, &fixture("dep.c"), "dep.o", false);
    let fix = w.compile(cc, opt, &fixture("fix.c"), "fix.o", false);
    ok(w.driver(cc, linker, false)
        .args(["-shared", "-o", "libdep.so", "-Wl,-soname,libdep.so"])
        .arg(&dep));
    ok(w.driver(cc, linker, false)
        .args([
            "-shared",
            "-o",
            "libfix.so",
            "-Wl,-soname,libfix.so",
            "-Wl,-init=fix_init",
            "-Wl,-fini=fix_fini",
        ])
        .arg(&fix)
        .args(["-L.", "-ldep"])
        .args(extra));
    ok(Command::new("gcc")
        .arg(fixture("main.c"))
        .args(["-o", "main", "-L.", "-lfix", "-ldep", "-ldl"])
        .current_dir(w.dir.path()));
    let out = w.run_program("main");
    (w, out)
}

fn check(cc: Cc, opt: &str) {
    let (w, tether_out) = build_and_run(cc, opt, Linker::Tether, &[]);
    assert_eq!(
        tether_out, EXPECTED,
        "{cc:?} {opt}: output of the tether-linked library"
    );
    for lib in ["libdep.so", "libfix.so"] {
        check_readelf(&w.path(lib));
        check_elflint(&w.path(lib));
    }
    let dynamic = readelf(&["-dW"], &w.path("libfix.so"));
    assert!(
        dynamic.contains("Shared library: [libdep.so]"),
        "DT_NEEDED by SONAME:\n{dynamic}"
    );
    assert!(
        dynamic.contains("Library soname: [libfix.so]"),
        "DT_SONAME:\n{dynamic}"
    );
    let versions = readelf(&["-VW"], &w.path("libfix.so"));
    assert!(
        versions.contains("GLIBC_2.14"),
        "memcpy@GLIBC_2.14 in .gnu.version_r:\n{versions}"
    );

    let (_, gnu_out) = build_and_run(cc, opt, Linker::GnuLd, &[]);
    assert_eq!(
        tether_out, gnu_out,
        "{cc:?} {opt}: GNU ld's library behaves differently"
    );
}

#[test]
fn gcc_o0() {
    check(Cc::Gcc, "-O0");
}

#[test]
fn gcc_o2() {
    check(Cc::Gcc, "-O2");
}

#[test]
fn clang_o0() {
    check(Cc::Clang, "-O0");
}

#[test]
fn clang_o2() {
    check(Cc::Clang, "-O2");
}

/// With -z now the slot holds the callee before the first call, and the flags say so.
#[test]
fn z_now_binds_at_load() {
    let (w, out) = build_and_run(Cc::Gcc, "-O2", Linker::Tether, &["-Wl,-z,now"]);
    let expected = EXPECTED
        .replace("main: bind lazy", "main: bind now")
        .replace(
            "slot before first call: its PLT entry's push (entry + 6)",
            "slot before first call: bound to dep_add",
        );
    assert_eq!(out, expected);
    let dynamic = readelf(&["-dW"], &w.path("libfix.so"));
    assert!(
        dynamic.contains("(FLAGS)") && dynamic.contains("BIND_NOW"),
        "{dynamic}"
    );
    assert!(
        dynamic.contains("(FLAGS_1)") && dynamic.contains("NOW"),
        "{dynamic}"
    );
    check_elflint(&w.path("libfix.so"));
}

/// PT_GNU_RELRO, PT_GNU_STACK (not executable), PT_GNU_EH_FRAME, DT_RUNPATH / DT_RPATH.
#[test]
fn program_headers_and_runpath() {
    let (w, _) = build_and_run(
        Cc::Gcc,
        "-O2",
        Linker::Tether,
        &["-Wl,-z,relro", "-Wl,-rpath,/opt/tether-test"],
    );
    let lib = w.path("libfix.so");
    let phdrs = readelf(&["-lW"], &lib);
    assert!(phdrs.contains("GNU_RELRO"), "{phdrs}");
    assert!(phdrs.contains("GNU_EH_FRAME"), "{phdrs}");
    let stack = phdrs
        .lines()
        .find(|l| l.contains("GNU_STACK"))
        .expect("PT_GNU_STACK");
    assert!(stack.contains(" RW ") && !stack.contains("RWE"), "{stack}");
    let dynamic = readelf(&["-dW"], &lib);
    assert!(
        dynamic.contains("(RUNPATH)") && dynamic.contains("/opt/tether-test"),
        "{dynamic}"
    );

    ok(w.driver(Cc::Gcc, Linker::Tether, false).args([
        "-shared",
        "-o",
        "librpath.so",
        "dep.o",
        "-Wl,-rpath,/opt/old",
        "-Wl,--disable-new-dtags",
    ]));
    let dynamic = readelf(&["-dW"], &w.path("librpath.so"));
    assert!(
        dynamic.contains("(RPATH)") && dynamic.contains("/opt/old"),
        "{dynamic}"
    );
}

/// Same inputs, same bytes.
#[test]
fn output_is_deterministic() {
    let w = Work::new();
    let fix = w.compile(Cc::Gcc, "-O2", &fixture("fix.c"), "fix.o", false);
    let dep = w.compile(Cc::Gcc, "-O2", &fixture("dep.c"), "dep.o", false);
    ok(w.driver(Cc::Gcc, Linker::Tether, false)
        .args(["-shared", "-o", "libdep.so"])
        .arg(&dep));
    let mut images = Vec::new();
    for name in ["a.so", "b.so"] {
        ok(w.driver(Cc::Gcc, Linker::Tether, false)
            .args(["-shared", "-o", name])
            .arg(&fix)
            .args(["-L.", "-ldep"]));
        images.push(std::fs::read(w.path(name)).expect("output"));
    }
    assert!(
        images[0] == images[1],
        "two links of the same inputs differ"
    );
}

/// GOT[0] holds the link-time address of _DYNAMIC; PLT0 is `pushq GOT+8(%rip); jmpq *GOT+16(%rip)`
/// and every PLT entry jumps through its own .got.plt slot.
#[test]
fn got_plt_header_and_plt0() {
    let (w, _) = build_and_run(Cc::Gcc, "-O2", Linker::Tether, &[]);
    let lib = w.path("libfix.so");
    let sections = readelf(&["-SW"], &lib);
    let image = std::fs::read(&lib).expect("library");
    // (address, file offset, size) from the section table.
    let row = |name: &str| -> (u64, usize, usize) {
        let line = sections
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("no {name}:\n{sections}"));
        let fields: Vec<&str> = line
            .split(']')
            .nth(1)
            .expect("row")
            .split_whitespace()
            .collect();
        let hex = |s: &str| u64::from_str_radix(s, 16).expect("hex field");
        (
            hex(fields[2]),
            hex(fields[3]) as usize,
            hex(fields[4]) as usize,
        )
    };
    let (dynamic, got_plt, plt) = (row(".dynamic").0, row(".got.plt").0, row(".plt").0);
    let bytes = |name: &str| -> Vec<u8> {
        let (_, off, size) = row(name);
        image[off..off + size].to_vec()
    };
    let got = bytes(".got.plt");
    assert_eq!(
        u64::from_le_bytes(got[0..8].try_into().unwrap()),
        dynamic,
        "GOT[0] = _DYNAMIC"
    );
    assert_eq!(
        &got[8..24],
        &[0u8; 16],
        "GOT[1], GOT[2] are left for the loader"
    );
    let code = bytes(".plt");
    assert_eq!(&code[0..2], &[0xff, 0x35], "PLT0 pushq GOT+8(%rip)");
    let push = i32::from_le_bytes(code[2..6].try_into().unwrap()) as i64;
    assert_eq!(plt as i64 + 6 + push, got_plt as i64 + 8);
    assert_eq!(&code[6..8], &[0xff, 0x25], "PLT0 jmpq *GOT+16(%rip)");
    let jmp = i32::from_le_bytes(code[8..12].try_into().unwrap()) as i64;
    assert_eq!(plt as i64 + 12 + jmp, got_plt as i64 + 16);
    for n in 0..(code.len() / 16 - 1) {
        let e = 16 * (n + 1);
        assert_eq!(&code[e..e + 2], &[0xff, 0x25]);
        let disp = i32::from_le_bytes(code[e + 2..e + 6].try_into().unwrap()) as i64;
        assert_eq!(
            plt as i64 + e as i64 + 6 + disp,
            (got_plt + 8 * (3 + n as u64)) as i64,
            "entry {n} uses slot 3+{n}"
        );
        assert_eq!(code[e + 6], 0x68);
        assert_eq!(
            u32::from_le_bytes(code[e + 7..e + 11].try_into().unwrap()),
            n as u32,
            "entry {n} pushes {n}"
        );
        let slot = u64::from_le_bytes(got[8 * (3 + n)..8 * (4 + n)].try_into().unwrap());
        assert_eq!(
            slot,
            plt + e as u64 + 6,
            "slot {n} initially holds its entry's push"
        );
    }
}

/// Each thread sees its own copy of the library's .tdata/.tbss (PT_TLS, DTPMOD/DTPOFF).
#[test]
fn tls_is_per_thread() {
    for cc in [Cc::Gcc, Cc::Clang] {
        cc.require();
        let w = Work::new();
        let obj = w.compile(cc, "-O2", &fixture("tls_threads.c"), "tls.o", false);
        ok(w.driver(cc, Linker::Tether, false)
            .args(["-shared", "-o", "libtls.so"])
            .arg(&obj));
        check_elflint(&w.path("libtls.so"));
        assert!(
            readelf(&["-lW"], &w.path("libtls.so")).contains("TLS"),
            "PT_TLS"
        );
        ok(Command::new("gcc")
            .arg(fixture("tls_threads_main.c"))
            .args(["-o", "tmain", "-L.", "-ltls", "-pthread"])
            .current_dir(w.dir.path()));
        assert_eq!(
            w.run_program("tmain"),
            "main thread 6, other thread 105\n",
            "{cc:?}"
        );
    }
}
