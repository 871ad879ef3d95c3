//! C++: inline functions and templates instantiated in several objects (COMDAT groups, one
//! copy kept: a function-local static is shared), a static constructor, and an exception
//! thrown in the tether-linked library and caught in the program (.eh_frame,
//! .eh_frame_hdr, PT_GNU_EH_FRAME, libstdc++/libgcc_s as shared inputs).

mod common;
use common::*;
use std::process::Command;

const EXPECTED: &str = "\
cxx: static constructor
main: a2 b1
main: counter 3
main: caught: thrown in libcxx.so with code 7
";

fn check(cc: Cc, opt: &str) {
    cc.require();
    let w = Work::new();
    let a = w.compile(cc, opt, &fixture("cxx_a.cpp"), "a.o", true);
    let b = w.compile(cc, opt, &fixture("cxx_b.cpp"), "b.o", true);
    let mut outputs = Vec::new();
    for linker in [Linker::Tether, Linker::GnuLd] {
        ok(w.driver(cc, linker, true)
            .args(["-shared", "-o", "libcxx.so"])
            .arg(&a)
            .arg(&b));
        if linker == Linker::Tether {
            check_readelf(&w.path("libcxx.so"));
            check_elflint(&w.path("libcxx.so"));
            let groups = readelf(&["-gW"], &a);
            assert!(
                groups.contains("COMDAT"),
                "the fixture should produce COMDAT groups:\n{groups}"
            );
            let phdrs = readelf(&["-lW"], &w.path("libcxx.so"));
            assert!(phdrs.contains("GNU_EH_FRAME"), "{phdrs}");
            every_fde_describes_code(&w.path("libcxx.so"));
            let syms = readelf(&["--dyn-syms", "-W"], &w.path("libcxx.so"));
            assert!(
                syms.lines()
                    .any(|l| l.contains("UNIQUE") && l.ends_with("_ZZ4bumpvE7counter"))
                    || cc == Cc::Clang,
                "the inline function's static keeps its STB_GNU_UNIQUE binding:\n{syms}"
            );
        }
        ok(Command::new("g++")
            .arg(format!("-I{}", fixture("").display()))
            .arg(fixture("cxx_main.cpp"))
            .args(["-o", "cmain", "-L.", "-lcxx"])
            .current_dir(w.dir.path()));
        outputs.push(w.run_program("cmain"));
    }
    assert_eq!(outputs[0], EXPECTED, "{cc:?} {opt}: tether");
    assert_eq!(outputs[1], EXPECTED, "{cc:?} {opt}: GNU ld");
}

#[test]
fn gxx_o0() {
    check(Cc::Gcc, "-O0");
}

#[test]
fn gxx_o2() {
    check(Cc::Gcc, "-O2");
}

#[test]
fn clangxx_o2() {
    check(Cc::Clang, "-O2");
}

/// No FDE of a discarded COMDAT copy survives: every FDE covers the code segment, and
/// `.eh_frame_hdr` indexes exactly the FDEs `.eh_frame` holds.
fn every_fde_describes_code(lib: &std::path::Path) {
    let phdrs = readelf(&["-lW"], lib);
    let code = phdrs
        .lines()
        .find(|l| l.trim_start().starts_with("LOAD") && l.contains(" R E "))
        .expect("an executable PT_LOAD");
    let fields: Vec<&str> = code.split_whitespace().collect();
    let start = u64::from_str_radix(fields[2].trim_start_matches("0x"), 16).expect("vaddr");
    let size = u64::from_str_radix(fields[5].trim_start_matches("0x"), 16).expect("memsz");
    let frames = readelf(&["--debug-dump=frames"], lib);
    let mut fdes = 0;
    for line in frames.lines().filter(|l| l.contains(" FDE ")) {
        let pc = line
            .split("pc=")
            .nth(1)
            .and_then(|p| p.split("..").next())
            .expect("pc range");
        let pc = u64::from_str_radix(pc, 16).expect("pc");
        assert!(
            pc >= start && pc < start + size,
            "FDE outside the code segment: {line}"
        );
        fdes += 1;
    }
    let hdr = readelf(&["-x", ".eh_frame_hdr"], lib);
    let words: Vec<&str> = hdr
        .lines()
        .filter(|l| l.trim_start().starts_with("0x"))
        .flat_map(|l| l.split_whitespace().skip(1).take(4))
        .collect();
    let count = u32::from_str_radix(words[2], 16)
        .expect("fde_count")
        .swap_bytes();
    assert_eq!(
        count as usize, fdes,
        ".eh_frame_hdr count vs FDEs in .eh_frame:\n{hdr}"
    );
}
