//! The IBT-enabled PLT GNU ld writes (`-z ibtplt`, or an output marked IBT): every indirect
//! branch target starts with `endbr64`. Lazy entries stay in `.plt` and calls reach 16-byte
//! `.plt.sec` (and `.plt.got`) entries that jump through the slot.

use super::rel32;
use crate::arch::{FieldError, PltEntryAddrs, Range};

const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

/// A lazy `.plt` entry, where the slot points until bound: `endbr64; pushq $index;
/// jmp PLT0; xchg %ax,%ax`.
pub fn write_lazy_entry(buf: &mut [u8], a: PltEntryAddrs) -> Result<(), FieldError> {
    let index = u32::try_from(a.index).map_err(|_| FieldError::OutOfRange {
        value: a.index as i64,
        range: Range::Unsigned(32),
    })?;
    let back = rel32(a.plt0, a.entry + 14)?;
    let out = buf.get_mut(..16).ok_or(FieldError::OutOfBounds)?;
    out[0..4].copy_from_slice(&ENDBR64);
    out[4] = 0x68;
    out[5..9].copy_from_slice(&index.to_le_bytes());
    out[9] = 0xe9;
    out[10..14].copy_from_slice(&back);
    out[14..16].copy_from_slice(&[0x66, 0x90]);
    Ok(())
}

/// A `.plt.sec` or `.plt.got` entry: `endbr64; jmpq *slot(%rip); nopw 0(%rax,%rax,1)`.
pub fn write_branch_entry(buf: &mut [u8], entry: u64, slot: u64) -> Result<(), FieldError> {
    let jmp = rel32(slot, entry + 10)?;
    let out = buf.get_mut(..16).ok_or(FieldError::OutOfBounds)?;
    out[0..4].copy_from_slice(&ENDBR64);
    out[4..6].copy_from_slice(&[0xff, 0x25]);
    out[6..10].copy_from_slice(&jmp);
    out[10..16].copy_from_slice(&[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00]);
    Ok(())
}
