//! ARM TLS descriptor relaxation (`Arch::relax_tls`) against GNU ld: gcc
//! `-mtls-dialect=gnu2` objects in Thumb-2 and ARM state, -O0 and -O2, linked by GNU ld into
//! PIE and fixed-address programs (run under qemu-arm), with the imported variable from a
//! library or from the program. GNU ld relaxes descriptors of local symbols to LE and of
//! global ones to IE. The rewritten sections must equal GNU ld's bytes.

mod relax_common;

use object::elf;
use relax_common::{compare, tool, Action, Reloc, Stats};
use std::process::Command;
use tether_linker::arch::arm::Arm;
use tether_linker::arch::{Arch, RelExpr, TlsRelaxTo};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/relax");
const CC: &str = "arm-linux-gnueabihf-gcc";
const CC_PACKAGE: &str = "gcc-arm-linux-gnueabihf";
const SYSROOT: &str = "/usr/arm-linux-gnueabihf";

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn model(r: &Reloc) -> Action {
    match elf::RelocationType(r.r_type) {
        elf::R_ARM_TLS_GOTDESC | elf::R_ARM_TLS_CALL | elf::R_ARM_THM_TLS_CALL => {
            Action::Tls(if r.local {
                TlsRelaxTo::LocalExec
            } else {
                TlsRelaxTo::InitialExec
            })
        }
        _ => Action::Keep,
    }
}

/// Compiles tls.c with `flags`, links it four ways, runs and compares each.
fn check(dir: &std::path::Path, flags: &[&str]) -> Stats {
    let name = format!("tls{}", flags.concat());
    let obj = format!("{name}.o");
    let src = fixture("tls.c");
    let mut args = vec!["-fPIC", "-mtls-dialect=gnu2", "-c", &src, "-o", &obj];
    args.extend(flags);
    tool(CC, CC_PACKAGE, &args, dir);
    let mut total = Stats::default();
    for kind in ["-pie", "-no-pie"] {
        for imported in [true, false] {
            let exe = format!("{name}{kind}{}", if imported { ".imp" } else { ".own" });
            let mut link = vec![kind, "main.o", &obj, "-o", &exe];
            link.extend(if imported {
                &["-L.", "-lext"][..]
            } else {
                &["def.o"]
            });
            tool(CC, CC_PACKAGE, &link, dir);
            let ran = Command::new("qemu-arm")
                .args(["-L", SYSROOT, "-E", "LD_LIBRARY_PATH=."])
                .arg(&exe)
                .current_dir(dir)
                .output()
                .expect("qemu-arm: install the Debian package `qemu-user`");
            assert_eq!(String::from_utf8_lossy(&ran.stdout), "7 5 5 6\n", "{exe}");
            let stats = compare(&Arm, &dir.join(&obj), &dir.join(&exe), &model);
            for (r_type, n) in stats.rewrites {
                *total.rewrites.entry(r_type).or_default() += n;
            }
            total.fields_checked += stats.fields_checked;
        }
    }
    total
}

#[test]
fn descriptors_in_thumb_and_arm_programs() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let d = dir.path();
    let def = fixture("tls_def.c");
    tool(
        CC,
        CC_PACKAGE,
        &["-shared", "-fPIC", &def, "-o", "libext.so"],
        d,
    );
    tool(
        CC,
        CC_PACKAGE,
        &["-c", "-O2", "-fPIC", &def, "-o", "def.o"],
        d,
    );
    tool(
        CC,
        CC_PACKAGE,
        &["-c", "-O2", &fixture("tls_main.c"), "-o", "main.o"],
        d,
    );
    for (state, call) in [
        ("-mthumb", elf::R_ARM_THM_TLS_CALL),
        ("-marm", elf::R_ARM_TLS_CALL),
    ] {
        for opt in ["-O0", "-O2"] {
            let stats = check(d, &[state, opt]);
            let what = format!("{state} {opt}: {stats:?}");
            // ext_v, own_v (twice) and st_v, in each of four links.
            let literals = stats.count(elf::R_ARM_TLS_GOTDESC);
            assert!(literals >= 16, "{what}");
            assert_eq!(stats.count(call), literals, "{what}");
            // The IE literals (global symbols) name their symbol; st_v's LE literal names a
            // section-relative anchor whose value the output does not keep.
            assert!(stats.fields_checked >= 12, "{what}");
        }
    }
}

fn refused(r_type: elf::RelocationType, code: &[u8], at: u64) -> String {
    let mut copy = code.to_vec();
    for to in [TlsRelaxTo::InitialExec, TlsRelaxTo::LocalExec] {
        match Arm.relax_tls(r_type.0, to, &mut copy, at, 0, None) {
            Some(Err(why)) => {
                assert_eq!(copy, code, "a refused rewrite changes nothing");
                if to == TlsRelaxTo::LocalExec {
                    return why;
                }
            }
            other => panic!("{r_type:?} at {at:#x} should be refused, got {other:?}"),
        }
    }
    unreachable!()
}

#[test]
fn calls_that_are_not_branches_are_refused() {
    // ARM `add r0, r0, r1` and a conditional `blne`.
    let why = refused(elf::R_ARM_TLS_CALL, &0xe080_0001u32.to_le_bytes(), 0);
    assert!(why.contains("R_ARM_TLS_CALL"), "{why}");
    refused(elf::R_ARM_TLS_CALL, &0x1b00_0000u32.to_le_bytes(), 0);
    // Thumb-2 `b.w` (no link bit) and two 16-bit `nop`s.
    let why = refused(elf::R_ARM_THM_TLS_CALL, &[0x00, 0xf0, 0x00, 0x90], 0);
    assert!(why.contains("R_ARM_THM_TLS_CALL"), "{why}");
    refused(elf::R_ARM_THM_TLS_CALL, &[0x00, 0xbf, 0x00, 0xbf], 0);
    // Past the end of the section.
    refused(elf::R_ARM_TLS_GOTDESC, &[0; 6], 4);
    refused(elf::R_ARM_TLS_CALL, &[0; 4], u64::MAX);
}

#[test]
fn literal_addends() {
    // The object's GOTDESC addend is the literal's distance from the call, plus 1 from Thumb.
    let mut word = [0u8; 4];
    let ie = |addend| {
        Arm.relax_tls(
            elf::R_ARM_TLS_GOTDESC.0,
            TlsRelaxTo::InitialExec,
            &mut [0u8; 4],
            0,
            addend,
            None,
        )
    };
    let arm = ie(0xc).unwrap().unwrap();
    assert_eq!(
        (arm.howto.expr, arm.addend),
        (RelExpr::TlsIePcRelative, 0xc - 8)
    );
    let thumb = ie(0xd).unwrap().unwrap();
    assert_eq!(
        (thumb.howto.expr, thumb.addend),
        (RelExpr::TlsIePcRelative, 0xc - 4)
    );
    let le = Arm
        .relax_tls(
            elf::R_ARM_TLS_GOTDESC.0,
            TlsRelaxTo::LocalExec,
            &mut word,
            0,
            0xd,
            None,
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        (le.howto.expr, le.addend, le.offset),
        (RelExpr::TpOffset, 0, 0)
    );
    assert!(!le.consumes_next);
    // Traditional GD/LD are not relaxed on ARM.
    for r_type in [
        elf::R_ARM_TLS_GD32,
        elf::R_ARM_TLS_LDM32,
        elf::R_ARM_TLS_IE32,
    ] {
        assert_eq!(
            Arm.relax_tls(r_type.0, TlsRelaxTo::LocalExec, &mut word, 0, 0, None),
            None
        );
    }
}
