//! x86-64 TLS relaxation (`Arch::relax_tls`) against GNU ld: gcc and clang objects of every
//! TLS model (-fPIC brings GD/LD, -fPIE IE/LE, -mtls-dialect=gnu2 descriptors, -fno-plt and
//! -mcmodel=large their other call forms), linked by GNU ld into PIE and fixed-address
//! programs, with the variable they import either from a library (GD/descriptors → IE) or
//! from the program itself (→ LE). The rewritten sections must equal GNU ld's bytes.

mod common;
mod relax_common;

use common::Cc;
use object::elf;
use relax_common::{compare, tool, Action, Reloc, Stats};
use std::process::Command;
use tether_linker::arch::x86_64::X86_64;
use tether_linker::arch::{Arch, TlsRelaxTo};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/relax");

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

/// What GNU ld does in a program: the imported `ext_v` can only be reached through IE;
/// everything the program defines is LE.
fn model(imported: bool) -> impl Fn(&Reloc) -> Action {
    move |r| {
        let to = if imported && r.symbol == "ext_v" {
            TlsRelaxTo::InitialExec
        } else {
            TlsRelaxTo::LocalExec
        };
        match elf::RelocationType(r.r_type) {
            elf::R_X86_64_TLSGD | elf::R_X86_64_GOTPC32_TLSDESC | elf::R_X86_64_TLSDESC_CALL => {
                Action::Tls(to)
            }
            elf::R_X86_64_TLSLD => Action::Tls(TlsRelaxTo::LocalExec),
            elf::R_X86_64_GOTTPOFF if to == TlsRelaxTo::LocalExec => Action::Tls(to),
            _ => Action::Keep,
        }
    }
}

struct Programs {
    dir: tempfile::TempDir,
}

impl Programs {
    /// The library that exports `ext_v`, the object that defines it in the program instead,
    /// and the main program's object.
    fn new() -> Programs {
        Cc::Gcc.require();
        let dir = tempfile::tempdir().expect("temporary directory");
        let d = dir.path();
        let def = fixture("tls_def.c");
        tool(
            "gcc",
            "gcc",
            &["-shared", "-fPIC", "-fuse-ld=bfd", &def, "-o", "libext.so"],
            d,
        );
        tool(
            "gcc",
            "gcc",
            &["-c", "-O2", "-fPIC", &def, "-o", "def.o"],
            d,
        );
        tool(
            "gcc",
            "gcc",
            &["-c", "-O2", &fixture("tls_main.c"), "-o", "main.o"],
            d,
        );
        Programs { dir }
    }

    /// Compiles tls.c, links it both ways into both kinds of program with GNU ld, runs each
    /// and compares it; returns the rewrites summed over the four links.
    fn check(&self, cc: Cc, flags: &[&str]) -> Stats {
        cc.require();
        let d = self.dir.path();
        let name = format!("{}{}", cc.program(), flags.concat());
        let obj = format!("{name}.o");
        let src = fixture("tls.c");
        let mut args = flags.to_vec();
        args.extend(["-c", src.as_str(), "-o", obj.as_str()]);
        tool(cc.program(), cc.program(), &args, d);
        let mut total = Stats::default();
        for kind in ["-pie", "-no-pie"] {
            for imported in [true, false] {
                let exe = format!("{name}{kind}{}", if imported { ".imp" } else { ".own" });
                let mut link = vec!["-fuse-ld=bfd", kind, "main.o", &obj, "-o", &exe];
                if imported {
                    link.extend(["-L.", "-lext", "-Wl,-rpath,$ORIGIN"]);
                } else {
                    link.push("def.o");
                }
                tool("gcc", "gcc", &link, d);
                let ran = Command::new(d.join(&exe))
                    .output()
                    .expect("run GNU ld's program");
                assert_eq!(String::from_utf8_lossy(&ran.stdout), "7 5 5 6\n", "{exe}");
                let stats = compare(&X86_64, &d.join(&obj), &d.join(&exe), &model(imported));
                for (r_type, n) in stats.rewrites {
                    *total.rewrites.entry(r_type).or_default() += n;
                }
                total.fields_checked += stats.fields_checked;
            }
        }
        total
    }
}

/// GD (at least four per link: ext_v, and own_v three times) and LD for st_v (gcc -O0 uses
/// GD for it instead), over four links, whichever way `__tls_get_addr` is called; every GD
/// rewrite's field holds GNU ld's value.
fn assert_dynamic_models(stats: &Stats, what: &str) {
    let gd = stats.count(elf::R_X86_64_TLSGD);
    let ld = stats.count(elf::R_X86_64_TLSLD);
    assert!(gd >= 16 && gd + ld >= 20, "{what}: {stats:?}");
    assert_eq!(stats.fields_checked, gd, "{what}: {stats:?}");
}

#[test]
fn general_and_local_dynamic_from_gcc_and_clang() {
    let programs = Programs::new();
    for cc in [Cc::Gcc, Cc::Clang] {
        for opt in ["-O0", "-O2"] {
            for extra in [&[][..], &["-fno-plt"], &["-mcmodel=large"]] {
                let mut flags = vec![opt, "-fPIC"];
                flags.extend(extra);
                let stats = programs.check(cc, &flags);
                assert_dynamic_models(&stats, &format!("{cc:?} {flags:?}"));
            }
        }
    }
}

#[test]
fn initial_and_local_exec_from_gcc_and_clang() {
    let programs = Programs::new();
    for cc in [Cc::Gcc, Cc::Clang] {
        for flags in [
            &["-O0", "-fPIE"][..],
            &["-O2", "-fPIE"],
            &["-O2", "-fPIE", "-mcmodel=large"],
        ] {
            let stats = programs.check(cc, flags);
            // get_ext's IE load, relaxed when the program defines ext_v (two of four links).
            assert_eq!(
                stats.count(elf::R_X86_64_GOTTPOFF),
                2,
                "{cc:?} {flags:?}: {stats:?}"
            );
            assert_eq!(stats.fields_checked, 2, "{cc:?} {flags:?}: {stats:?}");
        }
    }
}

#[test]
fn descriptors_from_gcc() {
    // clang 14 has no -mtls-dialect=gnu2 for x86-64.
    let programs = Programs::new();
    for opt in ["-O0", "-O2"] {
        let stats = programs.check(Cc::Gcc, &[opt, "-fPIC", "-mtls-dialect=gnu2"]);
        assert!(
            stats.count(elf::R_X86_64_GOTPC32_TLSDESC) >= 16,
            "{opt}: {stats:?}"
        );
        assert_eq!(
            stats.count(elf::R_X86_64_TLSDESC_CALL),
            stats.count(elf::R_X86_64_GOTPC32_TLSDESC),
            "{opt}: {stats:?}"
        );
        assert!(stats.fields_checked >= 16, "{opt}: {stats:?}");
    }
}

#[test]
fn initial_exec_and_descriptors_into_every_register() {
    common::require("as", "binutils");
    let dir = tempfile::tempdir().expect("temporary directory");
    let d = dir.path();
    tool("as", "binutils", &[&fixture("ie_forms.s"), "-o", "ie.o"], d);
    for kind in [&[][..], &["-pie"]] {
        let mut args = kind.to_vec();
        args.extend(["-e", "ie_forms", "ie.o", "-o", "ie"]);
        tool("ld", "binutils", &args, d);
        let stats = compare(&X86_64, &d.join("ie.o"), &d.join("ie"), &model(false));
        let what = format!("{kind:?}: {stats:?}");
        assert_eq!(stats.count(elf::R_X86_64_GOTTPOFF), 32, "{what}");
        assert_eq!(stats.count(elf::R_X86_64_GOTPC32_TLSDESC), 16, "{what}");
        assert_eq!(stats.count(elf::R_X86_64_TLSDESC_CALL), 1, "{what}");
        assert_eq!(stats.fields_checked, 48, "{what}");
    }
}

/// The first relocation of `r_type` in gcc's object for `flags`, with the `.text` bytes.
fn first_reloc(flags: &[&str], r_type: elf::RelocationType) -> (Vec<u8>, u64, i64) {
    use object::read::{Object, ObjectSection};
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut args = flags.to_vec();
    let src = fixture("tls.c");
    args.extend(["-c", &src, "-o", "t.o"]);
    tool("gcc", "gcc", &args, dir.path());
    let data = std::fs::read(dir.path().join("t.o")).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let text = file.section_by_name(".text").unwrap();
    let (offset, reloc) = text
        .relocations()
        .find(|(_, r)| r.flags() == object::RelocationFlags::Elf { r_type })
        .expect("relocation");
    (text.data().unwrap().to_vec(), offset, reloc.addend())
}

fn refused(
    r_type: elf::RelocationType,
    to: TlsRelaxTo,
    code: &[u8],
    at: u64,
    next: Option<(u32, u64)>,
) -> String {
    let mut copy = code.to_vec();
    let result = X86_64.relax_tls(r_type.0, to, &mut copy, at, -4, next);
    assert_eq!(copy, code, "a refused rewrite changes nothing");
    match result {
        Some(Err(why)) => why,
        other => panic!("{r_type:?} at {at:#x} should be refused, got {other:?}"),
    }
}

#[test]
fn general_dynamic_without_its_call_is_refused() {
    let (code, at, addend) = first_reloc(&["-O2", "-fPIC"], elf::R_X86_64_TLSGD);
    let call = (elf::R_X86_64_PLT32.0, at + 8);
    // As compiled, the sequence is accepted.
    let mut copy = code.clone();
    let ok = X86_64.relax_tls(
        elf::R_X86_64_TLSGD.0,
        TlsRelaxTo::LocalExec,
        &mut copy,
        at,
        addend,
        Some(call),
    );
    assert!(
        matches!(ok, Some(Ok(rw)) if rw.consumes_next && rw.offset == at + 8),
        "{ok:?}"
    );
    for to in [TlsRelaxTo::InitialExec, TlsRelaxTo::LocalExec] {
        let why = refused(elf::R_X86_64_TLSGD, to, &code, at, None);
        assert!(why.contains("__tls_get_addr"), "{why}");
        refused(
            elf::R_X86_64_TLSGD,
            to,
            &code,
            at,
            Some((elf::R_X86_64_PLT32.0, at + 20)),
        );
        refused(
            elf::R_X86_64_TLSGD,
            to,
            &code,
            at,
            Some((elf::R_X86_64_PC64.0, at + 8)),
        );
        // The same call after a `lea` that is not the GD one.
        let mut wrong = code.clone();
        wrong[at as usize - 4] = 0x90;
        refused(elf::R_X86_64_TLSGD, to, &wrong, at, Some(call));
        // A sequence cut short by the end of its section.
        let cut = &code[..at as usize + 10];
        refused(elf::R_X86_64_TLSGD, to, cut, at, Some(call));
    }
}

#[test]
fn local_dynamic_without_its_call_is_refused() {
    let (code, at, _) = first_reloc(&["-O2", "-fPIC"], elf::R_X86_64_TLSLD);
    let why = refused(elf::R_X86_64_TLSLD, TlsRelaxTo::LocalExec, &code, at, None);
    assert!(why.contains("tlsld"), "{why}");
    refused(
        elf::R_X86_64_TLSLD,
        TlsRelaxTo::LocalExec,
        &code,
        at,
        Some((elf::R_X86_64_PLT32.0, at + 4)),
    );
    // LD has no IE form: the core keeps it.
    let mut copy = code.clone();
    assert_eq!(
        X86_64.relax_tls(
            elf::R_X86_64_TLSLD.0,
            TlsRelaxTo::InitialExec,
            &mut copy,
            at,
            -4,
            None
        ),
        None
    );
}

#[test]
fn other_instructions_are_refused() {
    // mov %rax, x@gottpoff(%rip): a store, not a load.
    let store = [0x48, 0x89, 0x05, 0, 0, 0, 0];
    let why = refused(
        elf::R_X86_64_GOTTPOFF,
        TlsRelaxTo::LocalExec,
        &store,
        3,
        None,
    );
    assert!(why.contains("gottpoff"), "{why}");
    // movl x@gottpoff(%rip), %eax: no REX.W (x32 code).
    refused(
        elf::R_X86_64_GOTTPOFF,
        TlsRelaxTo::LocalExec,
        &[0x40, 0x8b, 0x05, 0, 0, 0, 0],
        3,
        None,
    );
    // mov x@tlsdesc(%rip), %rax instead of lea.
    refused(
        elf::R_X86_64_GOTPC32_TLSDESC,
        TlsRelaxTo::InitialExec,
        &[0x48, 0x8b, 0x05, 0, 0, 0, 0],
        3,
        None,
    );
    // call *%rax instead of call *(%rax).
    refused(
        elf::R_X86_64_TLSDESC_CALL,
        TlsRelaxTo::LocalExec,
        &[0xff, 0xd0],
        0,
        None,
    );
    // A field before the start of the section or past its end.
    refused(
        elf::R_X86_64_GOTTPOFF,
        TlsRelaxTo::LocalExec,
        &[0x8b, 0x05, 0, 0],
        1,
        None,
    );
    refused(
        elf::R_X86_64_TLSDESC_CALL,
        TlsRelaxTo::LocalExec,
        &[0xff, 0x10],
        1,
        None,
    );
    refused(
        elf::R_X86_64_TLSGD,
        TlsRelaxTo::LocalExec,
        &[0; 4],
        u64::MAX,
        None,
    );
}

#[test]
fn only_tls_forms_are_offered() {
    let mut code = vec![0x48, 0x8b, 0x05, 0, 0, 0, 0];
    for r_type in [
        elf::R_X86_64_PC32,
        elf::R_X86_64_TPOFF32,
        elf::R_X86_64_DTPOFF32,
    ] {
        assert_eq!(
            X86_64.relax_tls(r_type.0, TlsRelaxTo::LocalExec, &mut code, 3, -4, None),
            None
        );
    }
    // IE is already initial exec.
    assert_eq!(
        X86_64.relax_tls(
            elf::R_X86_64_GOTTPOFF.0,
            TlsRelaxTo::InitialExec,
            &mut code,
            3,
            -4,
            None
        ),
        None
    );
    assert_eq!(code, [0x48, 0x8b, 0x05, 0, 0, 0, 0]);
}
