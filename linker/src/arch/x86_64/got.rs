//! x86-64 GOT load relaxation in programs (GOTPCRELX / REX_GOTPCRELX), as GNU ld 2.40 does
//! it: with the symbol's address known at link time, loads and ALU operations through the GOT
//! take the address as an immediate; otherwise `mov` becomes `lea` and indirect calls and
//! jumps become direct ones. Every rewrite keeps the instruction's length.

use crate::arch::{Field, GotLoadRewrite, Range, RelExpr, RelocHowto};
use object::elf;

/// The instruction around a GOTPCRELX displacement at `at`.
struct Insn {
    /// The REX prefix (REX_GOTPCRELX only).
    rex: Option<u8>,
    opcode: u8,
    /// ModRM.reg: the register operand, or the opcode extension of `ff /2`, `ff /4`.
    reg: u8,
}

fn decode(r_type: u32, section: &[u8], at: usize) -> Option<Insn> {
    let opcode = *section.get(at.checked_sub(2)?)?;
    let modrm = section[at - 1];
    // Only RIP-relative operands (mod = 00, r/m = 101) load from the GOT.
    if modrm & 0xc7 != 0x05 || section.len() < at.checked_add(4)? {
        return None;
    }
    let rex = match elf::RelocationType(r_type) {
        elf::R_X86_64_GOTPCRELX => None,
        elf::R_X86_64_REX_GOTPCRELX => {
            let rex = *section.get(at.checked_sub(3)?)?;
            (rex & 0xf0 == 0x40).then_some(rex)?;
            Some(rex)
        }
        _ => return None,
    };
    Some(Insn {
        rex,
        opcode,
        reg: (modrm >> 3) & 7,
    })
}

fn howto(expr: RelExpr, range: Range) -> RelocHowto {
    RelocHowto {
        expr,
        field: Field::data(4, range),
    }
}

pub fn relax(
    r_type: u32,
    section: &mut [u8],
    offset: u64,
    addend: i64,
    absolute: Option<u64>,
) -> Option<GotLoadRewrite> {
    let at = usize::try_from(offset).ok()?;
    let insn = decode(r_type, section, at)?;
    if let Some(address) = absolute {
        // GNU ld drops the -4 that made the GOT displacement PC-relative; any other addend
        // would not address the GOT entry itself, so such a load is left alone.
        if addend == -4 {
            if let Some(rewrite) = to_immediate(&insn, section, at, address) {
                return Some(rewrite);
            }
        }
    }
    to_pc_relative(&insn, section, at, addend)
}

/// `mov`/`test`/binop through the GOT → the same operation on `$symbol`, when the address
/// fits the immediate (sign-extended for 64-bit operands).
fn to_immediate(
    insn: &Insn,
    section: &mut [u8],
    at: usize,
    address: u64,
) -> Option<GotLoadRewrite> {
    let wide = insn.rex.is_some_and(|rex| rex & 0x08 != 0);
    let range = if wide {
        Range::Signed(32)
    } else {
        Range::Unsigned(32)
    };
    if !range.fits(address as i64) || address > i64::MAX as u64 {
        return None;
    }
    let (opcode, extension) = match insn.opcode {
        0x8b => (0xc7, 0),                          // mov $imm32, r/m
        0x85 => (0xf7, 0),                          // test $imm32, r/m
        op if op & 0xc7 == 0x03 => (0x81, op >> 3), // adc add and cmp or sbb sub xor
        _ => return None,
    };
    // The register moves from ModRM.reg to ModRM.rm, so REX.R becomes REX.B.
    if let Some(rex) = insn.rex {
        section[at - 3] = (rex & !0x04) | ((rex >> 2) & 1);
    }
    section[at - 2] = opcode;
    section[at - 1] = 0xc0 | extension << 3 | insn.reg;
    Some(GotLoadRewrite {
        howto: howto(RelExpr::Absolute, range),
        offset: at as u64,
        addend: 0,
    })
}

/// `mov` → `lea`; `call *` → `addr32 call`; `jmp *` → `jmp; nop` (the displacement moves
/// one byte back, the nop fills the freed last byte).
fn to_pc_relative(
    insn: &Insn,
    section: &mut [u8],
    at: usize,
    addend: i64,
) -> Option<GotLoadRewrite> {
    let mut offset = at;
    match (insn.opcode, insn.reg, insn.rex) {
        (0x8b, _, _) => section[at - 2] = 0x8d,
        (0xff, 2, None) => section[at - 2..at].copy_from_slice(&[0x67, 0xe8]),
        (0xff, 4, None) => {
            section.copy_within(at..at + 4, at - 1);
            section[at - 2] = 0xe9;
            section[at + 3] = 0x90;
            offset = at - 1;
        }
        _ => return None,
    }
    Some(GotLoadRewrite {
        howto: howto(RelExpr::PcRelative, Range::Signed(32)),
        offset: offset as u64,
        addend,
    })
}
