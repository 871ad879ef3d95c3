//! Every error class: a clear message naming what is wrong and where, exit status 1, no
//! panic, no output file, and a previous output left untouched.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// Runs ld-tether in `dir` writing `out.so`, which holds "previous" beforehand; returns stderr
/// after checking the failure contract.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out_path = dir.join("out.so");
    std::fs::write(&out_path, b"previous").expect("seed previous output");
    let out = run(Command::new(tether())
        .args(["-shared", "-o", "out.so"])
        .args(args)
        .current_dir(dir));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit status 1 for {args:?}; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "panic for {args:?}:\n{stderr}"
    );
    assert!(stderr.starts_with("ld.tether: error: "), "{stderr}");
    assert_eq!(
        std::fs::read(&out_path).expect("previous output"),
        b"previous",
        "previous output clobbered"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
    stderr
}

fn asm(w: &Work, src: &str, obj: &str) {
    ok(Command::new("gcc")
        .arg("-c")
        .arg(fixture(src))
        .arg("-o")
        .arg(obj)
        .current_dir(w.dir.path()));
}

#[test]
fn absolute_32_bit_relocation_in_shared_output_names_symbol_and_fpic() {
    let w = Work::new();
    asm(&w, "err_abs32.s", "abs32.o");
    let err = fails(w.dir.path(), &["abs32.o"]);
    assert!(err.contains("abs32.o:(.text+0x1)"), "{err}");
    assert!(
        err.contains("R_X86_64_32") && err.contains("`some_global'") && err.contains("-fPIC"),
        "{err}"
    );
}

#[test]
fn out_of_range_value_names_file_section_offset_symbol_relocation() {
    let w = Work::new();
    asm(&w, "err_range.s", "range.o");
    asm(&w, "err_range_def.s", "range_def.o");
    let err = fails(w.dir.path(), &["range.o", "range_def.o"]);
    assert!(err.contains("range.o:(.text+0x3)"), "{err}");
    assert!(
        err.contains("R_X86_64_PC32") && err.contains("`far_away'") && err.contains("out of range"),
        "{err}"
    );
}

#[test]
fn unsupported_relocation_is_named() {
    let w = Work::new();
    asm(&w, "err_unsupported.s", "odd.o");
    let err = fails(w.dir.path(), &["odd.o"]);
    assert!(
        err.contains("unsupported relocation R_X86_64_GOTPLT64")
            && err.contains("odd.o:(.data+0x0)"),
        "{err}"
    );
}

#[test]
fn every_undefined_symbol_reference_is_reported_with_z_defs() {
    let w = Work::new();
    w.compile(
        Cc::Gcc,
        "-O0",
        &fixture("err_undefined.c"),
        "undef.o",
        false,
    );
    for flag in ["-zdefs", "--no-undefined"] {
        let err = fails(w.dir.path(), &[flag, "undef.o"]);
        assert!(err.contains("undefined symbol: nowhere"), "{err}");
        assert_eq!(
            err.matches(">>> referenced by undef.o:(.text+0x").count(),
            2,
            "{err}"
        );
    }
    // Without -z defs an undefined symbol is left for the loader.
    ok(Command::new(tether())
        .args(["-shared", "-o", "ok.so", "undef.o"])
        .current_dir(w.dir.path()));
}

#[test]
fn duplicate_definitions_name_both_files() {
    let w = Work::new();
    w.compile(Cc::Gcc, "-O0", &fixture("err_dup_a.c"), "a.o", false);
    w.compile(Cc::Gcc, "-O0", &fixture("err_dup_b.c"), "b.o", false);
    let err = fails(w.dir.path(), &["a.o", "b.o"]);
    assert!(
        err.contains("duplicate symbol: twice_defined")
            && err.contains("a.o")
            && err.contains("b.o"),
        "{err}"
    );
}

#[test]
fn malformed_and_truncated_inputs() {
    let w = Work::new();
    let obj = w.compile(Cc::Gcc, "-O0", &fixture("err_dup_a.c"), "a.o", false);
    let bytes = std::fs::read(&obj).expect("object");
    for (name, len) in [
        ("trunc_header.o", 40usize),
        ("trunc_body.o", 200),
        ("trunc_sections.o", bytes.len() - 100),
    ] {
        std::fs::write(w.path(name), &bytes[..len]).expect("write truncated");
        let err = fails(w.dir.path(), &[name]);
        assert!(err.contains(name), "{err}");
    }
    std::fs::write(w.path("random.o"), [0x7f, b'E', b'L', b'F', 9, 9, 9, 9]).expect("write");
    let err = fails(w.dir.path(), &["random.o"]);
    assert!(err.contains("random.o"), "{err}");
    let err = fails(w.dir.path(), &["missing.o"]);
    assert!(err.contains("missing.o"), "{err}");
}

#[test]
fn unknown_option_is_named() {
    let w = Work::new();
    let err = fails(w.dir.path(), &["--frobnicate", "x.o"]);
    assert!(err.contains("--frobnicate"), "{err}");
    // An unknown -z keyword is ignored with a warning, as GNU ld does.
    let out = run(Command::new(tether())
        .args(["-shared", "-o", "out.so", "-z", "frob", "x.o"])
        .current_dir(w.dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("ld.tether: warning: -z frob ignored"),
        "{stderr}"
    );
}

#[test]
fn version_and_help() {
    let v = ok(Command::new(tether()).arg("--version"));
    assert!(v.starts_with("tether "), "{v}");
    let v = ok(Command::new(tether()).arg("-v"));
    assert!(v.starts_with("tether "), "{v}");
    let h = ok(Command::new(tether()).arg("--help"));
    for opt in [
        "--shared",
        "--soname",
        "--hash-style",
        "--build-id",
        "--eh-frame-hdr",
        "--version-script",
        "--whole-archive",
    ] {
        assert!(h.contains(opt), "--help lacks {opt}:\n{h}");
    }
}

#[test]
fn text_relocation_is_an_error_under_z_text() {
    let w = Work::new();
    asm(&w, "textrel.s", "textrel.o");
    let err = fails(w.dir.path(), &["-z", "text", "textrel.o"]);
    assert!(
        err.contains("textrel.o:(.rodata+0x0)")
            && err.contains("`textrel_target'")
            && err.contains("read-only"),
        "{err}"
    );
}

/// A section alignment that is not a power of two is a malformed input, not a panic.
#[test]
fn bad_section_alignment_is_reported() {
    let w = Work::new();
    let obj = w.compile(Cc::Gcc, "-O0", &fixture("err_dup_a.c"), "a.o", false);
    let mut bytes = std::fs::read(&obj).expect("object");
    let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(bytes[0x3c..0x3e].try_into().unwrap()) as usize;
    for i in 1..shnum {
        let align = shoff + i * 64 + 0x30;
        bytes[align..align + 8].copy_from_slice(&3u64.to_le_bytes());
    }
    std::fs::write(w.path("bad_align.o"), &bytes).expect("write");
    let err = fails(w.dir.path(), &["bad_align.o"]);
    assert!(
        err.contains("bad_align.o") && err.contains("alignment"),
        "{err}"
    );
}

/// Objects with random bytes changed: every link either succeeds or fails with exit status 1
/// and a message; none panics or crashes.
#[test]
fn mutated_objects_never_panic() {
    let w = Work::new();
    let cxx = w.compile(Cc::Gcc, "-O2", &fixture("cxx_a.cpp"), "cxx.o", true);
    let c = w.compile(Cc::Gcc, "-O2", &fixture("fix.c"), "fix.o", false);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for base in [cxx, c] {
        let original = std::fs::read(&base).expect("object");
        for round in 0..150 {
            let mut bytes = original.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
            std::fs::write(w.path("mutant.o"), &bytes).expect("write");
            let out = run(Command::new(tether())
                .args(["-shared", "-o", "mutant.so", "mutant.o"])
                .current_dir(w.dir.path()));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                matches!(out.status.code(), Some(0) | Some(1)) && !stderr.contains("panicked"),
                "round {round} of {}: {:?}\n{stderr}",
                base.display(),
                out.status
            );
        }
    }
}

/// A slim GCC LTO object carries no code: refused by name rather than linked into nothing.
#[test]
fn gcc_lto_objects_are_refused() {
    let w = Work::new();
    ok(Command::new("gcc")
        .args(["-flto", "-fPIC", "-O2", "-c"])
        .arg(fixture("err_dup_a.c"))
        .args(["-o", "lto.o"])
        .current_dir(w.dir.path()));
    let err = fails(w.dir.path(), &["lto.o"]);
    assert!(err.contains("lto.o: GCC LTO object"), "{err}");
}

/// A program with an undefined symbol is an error (a library may leave it to the loader),
/// and the failed link leaves no output file.
#[test]
fn undefined_symbol_in_a_program() {
    let w = Work::new();
    w.compile(Cc::Gcc, "-O0", &fixture("err_undefined.c"), "u.o", false);
    let out = run(w
        .driver(Cc::Gcc, Linker::Tether, false)
        .args(["-o", "exe", "u.o"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("undefined symbol: "), "{stderr}");
    assert!(stderr.contains("u.o:(.text"), "{stderr}");
    assert!(!w.path("exe").exists());
}
