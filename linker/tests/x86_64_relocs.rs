//! Every x86-64 relocation kind tether applies, each checked by value against the dynamic
//! loader's view (relocs.s / relocs_main.c), GOT-load relaxation observed in the code, and
//! the TLS model relocations present in the C fixture's objects.

mod common;
use common::*;
use std::process::Command;

const EXPECTED: &str = "\
r_pc32: ok
r_plt32: ok
r_rex_gotpcrelx: ok
r_rex_gotpcrelx_global: ok
r_gotpcrelx_call: ok
r_gotpcrelx_jmp: ok
r_gotoff64: ok
r_size32: ok
r_gotpcrel: ok
mov GOT -> lea: ok
preemptible keeps mov: ok
call *GOT -> addr32 call: ok
jmp *GOT -> nop; jmp: ok
plain GOTPCREL keeps mov: ok
R_X86_64_64 symbolic: ok
R_X86_64_PC64: ok
R_X86_64_SIZE64: ok
";

#[test]
fn every_relocation_kind_has_the_loaders_value() {
    Cc::Gcc.require();
    let w = Work::new();
    ok(Command::new("gcc")
        .arg("-c")
        .arg(fixture("relocs.s"))
        .args(["-o", "relocs.o"])
        .current_dir(w.dir.path()));
    ok(Command::new("gcc")
        .args(["-Wa,-mrelax-relocations=no", "-c"])
        .arg(fixture("relocs_gotpcrel.s"))
        .args(["-o", "gotpcrel.o"])
        .current_dir(w.dir.path()));
    let kinds = readelf(&["-rW"], &w.path("relocs.o")) + &readelf(&["-rW"], &w.path("gotpcrel.o"));
    for kind in [
        "R_X86_64_64 ",
        "R_X86_64_PC32",
        "R_X86_64_PLT32",
        "R_X86_64_PC64",
        "R_X86_64_GOTPCREL ",
        "R_X86_64_GOTPCRELX",
        "R_X86_64_REX_GOTPCRELX",
        "R_X86_64_GOTOFF64",
        "R_X86_64_GOTPC32",
        "R_X86_64_SIZE32",
        "R_X86_64_SIZE64",
    ] {
        assert!(kinds.contains(kind), "fixture lacks {kind}:\n{kinds}");
    }
    ok(w.driver(Cc::Gcc, Linker::Tether, false).args([
        "-shared",
        "-o",
        "librelocs.so",
        "relocs.o",
        "gotpcrel.o",
    ]));
    check_readelf(&w.path("librelocs.so"));
    check_elflint(&w.path("librelocs.so"));
    ok(Command::new("gcc")
        .arg(fixture("relocs_main.c"))
        .args(["-o", "rmain", "-ldl"])
        .current_dir(w.dir.path()));
    assert_eq!(w.run_program("rmain"), EXPECTED);
}

/// The C fixture's objects carry the TLS relocations; the native tests prove their values.
#[test]
fn tls_fixture_uses_every_tls_model() {
    Cc::Gcc.require();
    let w = Work::new();
    let obj = w.compile(Cc::Gcc, "-O2", &fixture("fix.c"), "fix.o", false);
    let relocs = readelf(&["-rW"], &obj);
    for kind in [
        "R_X86_64_TLSGD",
        "R_X86_64_TLSLD",
        "R_X86_64_DTPOFF32",
        "R_X86_64_GOTTPOFF",
    ] {
        assert!(relocs.contains(kind), "fix.o lacks {kind}:\n{relocs}");
    }
    let dep = w.compile(Cc::Gcc, "-O2", &fixture("dep.c"), "dep.o", false);
    ok(w.driver(Cc::Gcc, Linker::Tether, false)
        .args(["-shared", "-o", "libdep.so"])
        .arg(&dep));
    ok(w.driver(Cc::Gcc, Linker::Tether, false)
        .args(["-shared", "-o", "libfix.so"])
        .arg(&obj)
        .args(["-L.", "-ldep"]));
    let dynrel = readelf(&["-rW"], &w.path("libfix.so"));
    for kind in ["R_X86_64_DTPMOD64", "R_X86_64_DTPOFF64", "R_X86_64_TPOFF64"] {
        assert!(dynrel.contains(kind), "libfix.so lacks {kind}:\n{dynrel}");
    }
}
