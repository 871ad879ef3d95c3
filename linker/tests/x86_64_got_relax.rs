//! x86-64 GOT load relaxation in programs (`Arch::relax_got_load_program`) against GNU ld:
//! every GOTPCRELX / REX_GOTPCRELX form, and gcc/clang `-fPIC -fno-plt` code, linked by GNU ld
//! into fixed-address programs (immediates) and PIEs (`lea`, direct calls and jumps).

mod common;
mod relax_common;

use common::Cc;
use object::elf;
use relax_common::{compare, tool, Action, Reloc};
use tether_linker::arch::x86_64::X86_64;
use tether_linker::arch::{Arch, Range, RelExpr};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/relax");

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn got_loads(fixed: bool) -> impl Fn(&Reloc) -> Action {
    move |r| match elf::RelocationType(r.r_type) {
        elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX => Action::Got { fixed },
        _ => Action::Keep,
    }
}

#[test]
fn every_form_in_fixed_address_and_pie_programs() {
    common::require("as", "binutils");
    let dir = tempfile::tempdir().expect("temporary directory");
    let d = dir.path();
    let src = fixture("got_forms.s");
    tool(
        "as",
        "binutils",
        &["-mrelax-relocations=yes", &src, "-o", "got.o"],
        d,
    );
    tool(
        "ld",
        "binutils",
        &["-e", "got_forms", "got.o", "-o", "fixed"],
        d,
    );
    tool(
        "ld",
        "binutils",
        &["-pie", "-e", "got_forms", "got.o", "-o", "pie"],
        d,
    );
    let fixed = compare(
        &X86_64,
        &d.join("got.o"),
        &d.join("fixed"),
        &got_loads(true),
    );
    // 16 + 16 movs, 9 operations on 8 registers (the REX-less 32-bit ones use GOTPCRELX), a
    // call and a jump.
    assert_eq!(
        fixed.count(elf::R_X86_64_REX_GOTPCRELX),
        16 + 8 + 6 * 9,
        "{fixed:?}"
    );
    assert_eq!(
        fixed.count(elf::R_X86_64_GOTPCRELX),
        8 + 2 * 9 + 2,
        "{fixed:?}"
    );
    assert_eq!(fixed.fields_checked, 106);
    // A PIE has no fixed address: only the movs (to lea), the call and the jump change.
    let pie = compare(&X86_64, &d.join("got.o"), &d.join("pie"), &got_loads(false));
    assert_eq!(pie.count(elf::R_X86_64_REX_GOTPCRELX), 16 + 8, "{pie:?}");
    assert_eq!(pie.count(elf::R_X86_64_GOTPCRELX), 8 + 2, "{pie:?}");
    assert_eq!(pie.fields_checked, 34);
}

#[test]
fn compiled_code_in_fixed_address_and_pie_programs() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let d = dir.path();
    let (src, def) = (fixture("got.c"), fixture("tls_def.c"));
    tool(
        "gcc",
        "gcc",
        &["-c", "-O2", "-fPIC", &def, "-o", "def.o"],
        d,
    );
    for cc in [Cc::Gcc, Cc::Clang] {
        cc.require();
        for opt in ["-O0", "-O2"] {
            let obj = format!("{}{opt}.o", cc.program());
            tool(
                cc.program(),
                cc.program(),
                &[opt, "-fPIC", "-fno-plt", "-c", &src, "-o", &obj],
                d,
            );
            for (kind, fixed) in [("-no-pie", true), ("-pie", false)] {
                let exe = format!("{obj}{kind}");
                let args = [
                    "-fuse-ld=bfd",
                    kind,
                    "-nostartfiles",
                    "-Wl,-e,call_it",
                    &obj,
                    "def.o",
                    "-o",
                    &exe,
                ];
                tool("gcc", "gcc", &args, d);
                let stats = compare(&X86_64, &d.join(&obj), &d.join(&exe), &got_loads(fixed));
                let what = format!("{obj} {kind}: {stats:?}");
                // &gdata and gdata load its address (clang -O2 also loads gfun's once for
                // its two calls); tail_call calls or jumps to gfun through the GOT.
                assert!(stats.count(elf::R_X86_64_REX_GOTPCRELX) >= 2, "{what}");
                assert!(stats.count(elf::R_X86_64_GOTPCRELX) >= 1, "{what}");
                assert_eq!(
                    stats.fields_checked,
                    stats.rewrites.values().sum::<usize>(),
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn immediates_only_when_the_address_fits() {
    // movq gv@GOTPCREL(%rip), %rax and movl gv@GOTPCREL(%rip), %eax.
    let movq = [0x48, 0x8b, 0x05, 0, 0, 0, 0];
    let movl = [0x8b, 0x05, 0, 0, 0, 0];
    let rex = elf::R_X86_64_REX_GOTPCRELX.0;
    let plain = elf::R_X86_64_GOTPCRELX.0;
    let relax = |r_type, code: &[u8], at, addend, absolute| {
        let mut code = code.to_vec();
        let rw = X86_64.relax_got_load_program(r_type, &mut code, at, addend, absolute);
        (rw, code)
    };
    let (rw, code) = relax(rex, &movq, 3, -4, Some(0x7fff_ffff));
    let rw = rw.expect("relaxed");
    assert_eq!(
        (rw.howto.expr, rw.howto.field.range, rw.addend),
        (RelExpr::Absolute, Range::Signed(32), 0)
    );
    assert_eq!(code[..3], [0x48, 0xc7, 0xc0]);
    // Sign extension would give another address: lea instead.
    let (rw, code) = relax(rex, &movq, 3, -4, Some(0x8000_0000));
    assert_eq!(
        rw.map(|rw| (rw.howto.expr, rw.addend)),
        Some((RelExpr::PcRelative, -4))
    );
    assert_eq!(code[..3], [0x48, 0x8d, 0x05]);
    // A 32-bit mov takes any 32-bit address, not more.
    let (rw, _) = relax(plain, &movl, 2, -4, Some(0xffff_ffff));
    assert_eq!(rw.map(|rw| rw.howto.field.range), Some(Range::Unsigned(32)));
    let (rw, code) = relax(plain, &movl, 2, -4, Some(0x1_0000_0000));
    assert_eq!(rw.map(|rw| rw.howto.expr), Some(RelExpr::PcRelative));
    assert_eq!(code[..2], [0x8d, 0x05]);
    // An addend other than the PC bias does not address the GOT entry: no immediate.
    let (rw, _) = relax(rex, &movq, 3, 0, Some(0x1000));
    assert_eq!(rw.map(|rw| rw.howto.expr), Some(RelExpr::PcRelative));
    // `add gv@GOTPCREL(%rip), %rax` has no PC-relative form.
    let add = [0x48, 0x03, 0x05, 0, 0, 0, 0];
    assert_eq!(
        relax(rex, &add, 3, -4, Some(0x8000_0000)),
        (None, add.to_vec())
    );
    assert_eq!(relax(rex, &add, 3, -4, None), (None, add.to_vec()));
}

#[test]
fn other_instructions_are_left_alone() {
    let rex = elf::R_X86_64_REX_GOTPCRELX.0;
    let plain = elf::R_X86_64_GOTPCRELX.0;
    let cases: [(u32, &[u8], u64); 6] = [
        // mov 0(%rax), %rax: not RIP-relative.
        (rex, &[0x48, 0x8b, 0x80, 0, 0, 0, 0], 3),
        // mov %rax, gv@GOTPCREL(%rip): a store.
        (rex, &[0x48, 0x89, 0x05, 0, 0, 0, 0], 3),
        // REX_GOTPCRELX without a REX prefix.
        (rex, &[0x90, 0x8b, 0x05, 0, 0, 0, 0], 3),
        // push gv@GOTPCREL(%rip) (ff /6).
        (plain, &[0xff, 0x35, 0, 0, 0, 0], 2),
        // A field cut by the end of the section, and one before its start.
        (plain, &[0x8b, 0x05, 0, 0], 2),
        (plain, &[0x05, 0, 0, 0, 0], 1),
    ];
    for (r_type, code, at) in cases {
        for absolute in [None, Some(0x1000)] {
            let mut copy = code.to_vec();
            assert_eq!(
                X86_64.relax_got_load_program(r_type, &mut copy, at, -4, absolute),
                None,
                "{code:02x?}"
            );
            assert_eq!(copy, code);
        }
    }
    // Only the relaxable GOT relocations.
    let mut code = vec![0x48, 0x8b, 0x05, 0, 0, 0, 0];
    assert_eq!(
        X86_64.relax_got_load_program(elf::R_X86_64_GOTPCREL.0, &mut code, 3, -4, Some(0x1000)),
        None
    );
}
