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
