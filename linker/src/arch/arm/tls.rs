//! ARM TLS descriptor relaxation (`-mtls-dialect=gnu2`), as GNU ld 2.40 writes it.
//!
//! gcc's descriptor sequence is a literal word (R_ARM_TLS_GOTDESC) loaded into r0, then a
//! call to the descriptor function (R_ARM_TLS_CALL / R_ARM_THM_TLS_CALL) that returns the
//! symbol's TP offset in r0. Relaxed, the literal holds something else and the call becomes:
//!
//! | model | ARM call | Thumb call | literal |
//! |---|---|---|---|
//! | IE | `ldr r0, [pc, r0]` | `add r0, pc; ldr r0, [r0]` | GOT slot of the TP offset − the pc that instruction reads |
//! | LE | `nop` (`mov r0, r0`) | `nop.w` | the TP offset |
//!
//! GNU ld relaxes the traditional GD/LD sequences on ARM not at all, and descriptors of global
//! symbols only to IE even in a fixed-address program (LE is for symbols local to their
//! object); which model to ask for is the core's choice. gcc does not emit the
//! R_ARM_TLS_DESCSEQ forms, and they are not relaxed here.

use super::reloc::ArmField;
use crate::arch::{RelExpr, RelocHowto, TlsRelaxTo, TlsRewrite};
use object::elf;

pub fn relax(
    r_type: u32,
    to: TlsRelaxTo,
    section: &mut [u8],
    offset: u64,
    addend: i64,
) -> Option<Result<TlsRewrite, String>> {
    let site = usize::try_from(offset)
        .ok()
        .and_then(|at| section.get_mut(at..at.checked_add(4)?));
    let result = match (elf::RelocationType(r_type), site) {
        (_, None) => Err("the TLS relocation lies outside its section".to_owned()),
        (elf::R_ARM_TLS_GOTDESC, Some(_)) => Ok(literal(to)),
        (elf::R_ARM_TLS_CALL, Some(site)) => arm_call(to, site),
        (elf::R_ARM_THM_TLS_CALL, Some(site)) => thumb_call(to, site),
        _ => return None,
    };
    Some(result.map(|howto| TlsRewrite {
        howto,
        offset,
        addend: match howto.expr {
            RelExpr::TlsIePcRelative => ie_literal_addend(addend),
            _ => 0,
        },
        consumes_next: false,
    }))
}

/// The literal word keeps its place but is now a plain word (not the `TlsDescWord` that
/// tether biases by the call's return address in libraries): the core fills it with
/// `TlsIePcRelative` and the addend of [`ie_literal_addend`], or with `TpOffset` (S − TP)
/// and addend 0 (the object's addend is the pc distance of the old sequence, meaningless
/// for LE).
fn literal(to: TlsRelaxTo) -> RelocHowto {
    let expr = match to {
        TlsRelaxTo::InitialExec => RelExpr::TlsIePcRelative,
        TlsRelaxTo::LocalExec => RelExpr::TpOffset,
    };
    RelocHowto {
        expr,
        field: ArmField::Word.field(),
    }
}

/// The addend that makes `GOT(S) + A - P` (P: the literal) the distance from the pc the IE
/// load reads to the GOT slot. The object's addend is `P - C`, C being the call (plus 1 when
/// the call is Thumb); that load sits at C and reads pc as C + 8 in ARM (`ldr r0, [pc, r0]`),
/// C + 4 in Thumb (`add r0, pc`). So the literal must be GOT(S) − C − 8 (ARM), i.e. A − 8,
/// or GOT(S) − C − 4 (Thumb), i.e. (A − 1) − 4.
fn ie_literal_addend(addend: i64) -> i64 {
    if addend & 1 != 0 {
        addend - 5
    } else {
        addend - 8
    }
}

fn nothing() -> RelocHowto {
    RelocHowto {
        expr: RelExpr::None,
        field: ArmField::Nothing.field(),
    }
}

/// `bl` (or `blx`) to the descriptor function → `ldr r0, [pc, r0]` (IE) or `nop` (LE).
fn arm_call(to: TlsRelaxTo, site: &mut [u8]) -> Result<RelocHowto, String> {
    let insn = u32::from_le_bytes([site[0], site[1], site[2], site[3]]);
    if insn & 0xff00_0000 != 0xeb00_0000 && insn & 0xfe00_0000 != 0xfa00_0000 {
        return Err(format!(
            "R_ARM_TLS_CALL is on {insn:#010x}, not an unconditional BL or BLX"
        ));
    }
    let rewritten: u32 = match to {
        TlsRelaxTo::InitialExec => 0xe79f_0000,
        TlsRelaxTo::LocalExec => 0xe1a0_0000,
    };
    site.copy_from_slice(&rewritten.to_le_bytes());
    Ok(nothing())
}

/// Thumb-2 `bl`/`blx` → `add r0, pc; ldr r0, [r0, #0]` (IE) or `nop.w` (LE).
fn thumb_call(to: TlsRelaxTo, site: &mut [u8]) -> Result<RelocHowto, String> {
    let hi = u16::from_le_bytes([site[0], site[1]]);
    let lo = u16::from_le_bytes([site[2], site[3]]);
    if hi & 0xf800 != 0xf000 || lo & 0xc000 != 0xc000 {
        return Err(format!(
            "R_ARM_THM_TLS_CALL is on {hi:#06x} {lo:#06x}, not a Thumb-2 BL or BLX"
        ));
    }
    let (first, second): (u16, u16) = match to {
        TlsRelaxTo::InitialExec => (0x4478, 0x6800),
        TlsRelaxTo::LocalExec => (0xf3af, 0x8000),
    };
    site[..2].copy_from_slice(&first.to_le_bytes());
    site[2..].copy_from_slice(&second.to_le_bytes());
    Ok(nothing())
}
