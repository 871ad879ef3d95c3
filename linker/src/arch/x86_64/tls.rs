//! x86-64 TLS relaxation: the code sequences gcc and clang emit for the general-dynamic,
//! local-dynamic, initial-exec and descriptor models, rewritten to initial exec or local exec
//! exactly as GNU ld 2.40 writes them (Drepper, "ELF Handling For Thread-Local Storage" §5;
//! the psABI and its TLS descriptor addendum).
//!
//! Every rewrite keeps the sequence's length, padding with prefixes or long nops, so nothing
//! after it moves. A sequence is checked byte by byte before anything is written: a
//! relocation on code of another shape is an error and leaves the section unchanged.

use crate::arch::{Field, Range, RelExpr, RelocHowto, TlsRelaxTo, TlsRewrite};
use object::elf;

/// `mov %fs:0, %rax`: the thread pointer, which every rewritten dynamic sequence starts from.
const LOAD_TP: [u8; 9] = [0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0];
/// `add x@gottpoff(%rip), %rax` without its displacement.
const ADD_GOTTPOFF_RAX: [u8; 3] = [0x48, 0x03, 0x05];
/// `lea x@tpoff(%rax), %rax` without its displacement.
const LEA_TPOFF_RAX: [u8; 3] = [0x48, 0x8d, 0x80];
/// `nopw 0(%rax,%rax,1)`: pads the large-model GD rewrite to its 22 bytes.
const NOPW6: [u8; 6] = [0x66, 0x0f, 0x1f, 0x44, 0, 0];
/// `data16 data16 data16 cs nopw 0(%rax,%rax,1)`: pads the large-model LD rewrite.
const NOPW13: [u8; 13] = [
    0x66, 0x66, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0,
];

/// How `__tls_get_addr` is called after the `lea` that loads its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    /// `call __tls_get_addr@PLT` (PLT32/PC32), with GD's `data16 data16 rex64` prefixes.
    Direct,
    /// `call *__tls_get_addr@GOTPCREL(%rip)` (`-fno-plt`), with GD's `data16 rex64`.
    ThroughGot,
    /// `movabs $__tls_get_addr@pltoff, %rax; add %rbx|%r15, %rax; call *%rax`
    /// (`-mcmodel=large`).
    Large,
}

/// The rewrite of one relocation: (model, section, field offset, addend, next relocation).
type Rewrite =
    fn(TlsRelaxTo, &mut [u8], usize, i64, Option<(u32, u64)>) -> Result<TlsRewrite, String>;

pub fn relax(
    r_type: u32,
    to: TlsRelaxTo,
    section: &mut [u8],
    offset: u64,
    addend: i64,
    next: Option<(u32, u64)>,
) -> Option<Result<TlsRewrite, String>> {
    let rewrite: Rewrite = match (elf::RelocationType(r_type), to) {
        (elf::R_X86_64_TLSGD, _) => |to, s, at, _, next| gd(to, s, at, next),
        (elf::R_X86_64_TLSLD, TlsRelaxTo::LocalExec) => |_, s, at, _, next| ld(s, at, next),
        (elf::R_X86_64_GOTTPOFF, TlsRelaxTo::LocalExec) => |_, s, at, _, _| ie_to_le(s, at),
        (elf::R_X86_64_GOTPC32_TLSDESC, _) => |to, s, at, addend, _| desc(to, s, at, addend),
        (elf::R_X86_64_TLSDESC_CALL, _) => |_, s, at, _, _| desc_call(s, at),
        _ => return None,
    };
    // With the field inside the section, the arithmetic around it cannot overflow.
    let at = usize::try_from(offset)
        .ok()
        .filter(|&at| at < section.len());
    Some(match at {
        Some(at) => rewrite(to, section, at, addend, next),
        None => Err("the TLS relocation lies outside its section".to_owned()),
    })
}

fn field4(expr: RelExpr) -> RelocHowto {
    RelocHowto {
        expr,
        field: Field::data(4, Range::Signed(32)),
    }
}

fn nothing() -> RelocHowto {
    RelocHowto {
        expr: RelExpr::None,
        field: Field::data(0, Range::Any),
    }
}

/// The bytes `start..start + len` of `section`, if they exist.
fn bytes(section: &[u8], start: usize, len: usize) -> Option<&[u8]> {
    section.get(start..start.checked_add(len)?)
}

/// Which call to `__tls_get_addr` the relocation `next` makes, starting at `call` (the byte
/// after the `lea`'s displacement); `prefixed` asks for GD's padding prefixes.
fn tls_get_addr_call(
    section: &[u8],
    call: usize,
    next: Option<(u32, u64)>,
    prefixed: bool,
) -> Option<Call> {
    let (r_type, next_offset) = next?;
    let field = usize::try_from(next_offset).ok()?.checked_sub(call)?;
    let code = |len| bytes(section, call, len);
    match elf::RelocationType(r_type) {
        elf::R_X86_64_PLT32 | elf::R_X86_64_PC32 => {
            let want: &[u8] = if prefixed {
                &[0x66, 0x66, 0x48, 0xe8]
            } else {
                &[0xe8]
            };
            (field == want.len() && code(want.len())? == want).then_some(Call::Direct)
        }
        elf::R_X86_64_GOTPCRELX | elf::R_X86_64_GOTPCREL => {
            let want: &[u8] = if prefixed {
                &[0x66, 0x48, 0xff, 0x15]
            } else {
                &[0xff, 0x15]
            };
            (field == want.len() && code(want.len())? == want).then_some(Call::ThroughGot)
        }
        elf::R_X86_64_PLTOFF64 => {
            let seq = code(15)?;
            let add_ok = matches!(seq[10..13], [0x48, 0x01, 0xd8] | [0x4c, 0x01, 0xf8]);
            let large =
                field == 2 && seq[..2] == [0x48, 0xb8] && add_ok && seq[13..15] == [0xff, 0xd0];
            large.then_some(Call::Large)
        }
        _ => None,
    }
}

/// GD: `data16 lea x@tlsgd(%rip), %rdi` and the call (16 bytes), or the large model's
/// `lea x@tlsgd(%rip), %rdi; movabs; add; call *%rax` (22 bytes), become
/// `mov %fs:0, %rax` then `add x@gottpoff(%rip), %rax` (IE) or `lea x@tpoff(%rax), %rax` (LE).
fn gd(
    to: TlsRelaxTo,
    section: &mut [u8],
    at: usize,
    next: Option<(u32, u64)>,
) -> Result<TlsRewrite, String> {
    let small_lea = at >= 4 && bytes(section, at - 4, 4) == Some(&[0x66, 0x48, 0x8d, 0x3d]);
    let large_lea = at >= 3 && bytes(section, at - 3, 3) == Some(&[0x48, 0x8d, 0x3d]);
    let small = tls_get_addr_call(section, at + 4, next, true)
        .filter(|&c| small_lea && c != Call::Large && section.len() >= at + 12);
    let large = tls_get_addr_call(section, at + 4, next, false)
        .filter(|&c| large_lea && c == Call::Large && section.len() >= at + 19);
    let call = small.or(large).ok_or(
        "expected `data16 lea x@tlsgd(%rip), %rdi` followed by a call to __tls_get_addr \
         (`data16 data16 rex64 call`, `data16 rex64 call *...@GOTPCREL(%rip)`, or the large \
         model's `lea; movabs $__tls_get_addr@pltoff, %rax; add %rbx|%r15, %rax; call *%rax`)",
    )?;
    let start = if call == Call::Large { at - 3 } else { at - 4 };
    let (insn, expr, addend) = match to {
        TlsRelaxTo::InitialExec => (ADD_GOTTPOFF_RAX, RelExpr::TlsIePcRelative, -4),
        TlsRelaxTo::LocalExec => (LEA_TPOFF_RAX, RelExpr::TpOffset, 0),
    };
    let mut code = Vec::with_capacity(22);
    code.extend_from_slice(&LOAD_TP);
    code.extend_from_slice(&insn);
    code.extend_from_slice(&[0; 4]);
    if call == Call::Large {
        code.extend_from_slice(&NOPW6);
    }
    section[start..start + code.len()].copy_from_slice(&code);
    Ok(TlsRewrite {
        howto: field4(expr),
        offset: (start + LOAD_TP.len() + insn.len()) as u64,
        addend,
        consumes_next: true,
    })
}

/// LD: `lea x@tlsld(%rip), %rdi` and the call become `mov %fs:0, %rax`, padded in front to
/// the sequence's length (12, 13 or 22 bytes) with the prefixes or nop GNU ld uses. The
/// DTPOFF32 relocations that follow then become TP offsets (the core's business).
fn ld(section: &mut [u8], at: usize, next: Option<(u32, u64)>) -> Result<TlsRewrite, String> {
    let lea = at >= 3 && bytes(section, at - 3, 3) == Some(&[0x48, 0x8d, 0x3d]);
    let call = tls_get_addr_call(section, at + 4, next, false).filter(|&call| {
        let end = match call {
            Call::Direct => at + 9,
            Call::ThroughGot => at + 10,
            Call::Large => at + 19,
        };
        lea && section.len() >= end
    });
    let call = call.ok_or(
        "expected `lea x@tlsld(%rip), %rdi` followed by a call to __tls_get_addr (`call`, \
         `call *...@GOTPCREL(%rip)`, or the large model's `movabs; add; call *%rax`)",
    )?;
    let padding: &[u8] = match call {
        Call::Direct => &[0x66, 0x66, 0x66],
        Call::ThroughGot => &[0x66, 0x66, 0x66, 0x66],
        Call::Large => &NOPW13,
    };
    let start = at - 3;
    let end = start + padding.len();
    section[start..end].copy_from_slice(padding);
    section[end..end + LOAD_TP.len()].copy_from_slice(&LOAD_TP);
    Ok(TlsRewrite {
        howto: nothing(),
        offset: at as u64,
        addend: 0,
        consumes_next: true,
    })
}

/// The REX prefix, opcode and register (ModRM.reg) of a RIP-relative instruction whose
/// displacement is at `at`, if it has REX.W.
fn rip_relative_rex_w(section: &[u8], at: usize) -> Option<(u8, u8, u8)> {
    let insn = bytes(section, at.checked_sub(3)?, 3)?;
    let (rex, opcode, modrm) = (insn[0], insn[1], insn[2]);
    (rex & 0xfb == 0x48 && modrm & 0xc7 == 0x05).then_some((rex, opcode, (modrm >> 3) & 7))
}

/// IE: `mov x@gottpoff(%rip), %reg` becomes `mov $x@tpoff, %reg`; `add x@gottpoff(%rip),
/// %reg` becomes `lea x@tpoff(%reg), %reg`, or `add $x@tpoff, %reg` for %rsp and %r12
/// (whose ModRM base would need a SIB byte). REX.R moves to REX.B (and REX.R too for `lea`).
fn ie_to_le(section: &mut [u8], at: usize) -> Result<TlsRewrite, String> {
    let (rex, opcode, reg) = rip_relative_rex_w(section, at)
        .filter(|&(_, opcode, _)| opcode == 0x8b || opcode == 0x03)
        .ok_or("expected `mov x@gottpoff(%rip), %reg` or `add x@gottpoff(%rip), %reg` (64-bit)")?;
    let high = rex & 0x04 != 0;
    let rewritten: [u8; 3] = match opcode {
        0x8b => [if high { 0x49 } else { 0x48 }, 0xc7, 0xc0 | reg],
        _ if reg == 4 => [if high { 0x49 } else { 0x48 }, 0x81, 0xc0 | reg],
        _ => [if high { 0x4d } else { 0x48 }, 0x8d, 0x80 | reg << 3 | reg],
    };
    section[at - 3..at].copy_from_slice(&rewritten);
    Ok(TlsRewrite {
        howto: field4(RelExpr::TpOffset),
        offset: at as u64,
        addend: 0,
        consumes_next: false,
    })
}

/// TLS descriptor: `lea x@tlsdesc(%rip), %reg` becomes `mov x@gottpoff(%rip), %reg` (IE) or
/// `mov $x@tpoff, %reg` (LE).
fn desc(to: TlsRelaxTo, section: &mut [u8], at: usize, addend: i64) -> Result<TlsRewrite, String> {
    let (rex, _, reg) = rip_relative_rex_w(section, at)
        .filter(|&(_, opcode, _)| opcode == 0x8d)
        .ok_or("expected `lea x@tlsdesc(%rip), %reg` (64-bit)")?;
    match to {
        TlsRelaxTo::InitialExec => {
            section[at - 2] = 0x8b;
            Ok(TlsRewrite {
                howto: field4(RelExpr::TlsIePcRelative),
                offset: at as u64,
                addend,
                consumes_next: false,
            })
        }
        TlsRelaxTo::LocalExec => {
            let rex = if rex & 0x04 != 0 { 0x49 } else { 0x48 };
            section[at - 3..at].copy_from_slice(&[rex, 0xc7, 0xc0 | reg]);
            Ok(TlsRewrite {
                howto: field4(RelExpr::TpOffset),
                offset: at as u64,
                addend: 0,
                consumes_next: false,
            })
        }
    }
}

/// TLS descriptor call: `call *x@tlscall(%rax)` becomes `xchg %ax, %ax`, the two-byte nop:
/// %rax already holds the TP offset the descriptor function would have returned.
fn desc_call(section: &mut [u8], at: usize) -> Result<TlsRewrite, String> {
    let call = section
        .get_mut(at..at + 2)
        .filter(|call| **call == [0xff, 0x10])
        .ok_or("expected `call *x@tlscall(%rax)`")?;
    call.copy_from_slice(&[0x66, 0x90]);
    Ok(TlsRewrite {
        howto: nothing(),
        offset: at as u64,
        addend: 0,
        consumes_next: false,
    })
}
