//! The ARM-state lazy PLT glibc's `_dl_runtime_resolve` expects.
//!
//! PLT0 saves lr, points lr at GOT[2] and jumps through it. Entry n leaves ip = &GOT[3+n]
//! (glibc derives the `.rel.plt` index from ip − lr) and jumps through that slot. Entries are
//! 16 bytes so that one size fits both forms: the classic three instructions when the slot
//! lies 0..256 MiB after the entry (then a trap word), and a movw/movt form otherwise.

use super::reloc::ArmField;
use crate::arch::{FieldError, PltEntryAddrs, PltLayout};

pub const LAYOUT: PltLayout = PltLayout {
    // The classic 20-byte PLT0, padded to a multiple of the 16-byte entries (sh_entsize);
    // the padding holds the TLS descriptor trampoline.
    header_size: 32,
    entry_size: 16,
    reserved_got_words: 3,
    align: 4,
};

/// `udf #0`: fills the unused word of a short entry, so a stray jump there traps.
const TRAP: u32 = 0xe7f0_00f0;

/// ARM code, PLT0's literal word (the offset to `.got.plt`), then ARM code again: the TLS
/// trampoline and the entries (whose trap words are instructions too).
pub const MAPPING_SYMBOLS: &[(u32, &str)] = &[(0, "$a"), (16, "$d"), (20, "$a")];

/// Offset in `.plt` of the TLS descriptor trampoline, which sits in PLT0's padding. A TLS
/// call arrives with r0 = the descriptor's address minus lr (see `ArmField::TlsDescWord`);
/// the trampoline forms the address and tail-calls the descriptor's function, its second word.
pub const TLSDESC_TRAMPOLINE: u64 = 20;

/// Writes PLT0 at `plt0`; `got_plt` is the address of `.got.plt` (GOT[0]).
pub fn write_header(buf: &mut [u8], plt0: u64, got_plt: u64) -> Result<(), FieldError> {
    // The `add lr, pc, lr` at plt0 + 8 reads pc as plt0 + 16.
    let offset = got_plt.wrapping_sub(plt0 + 16) as u32;
    write_words(
        buf,
        &[
            0xe52d_e004, // str lr, [sp, #-4]!
            0xe59f_e004, // ldr lr, [pc, #4]
            0xe08f_e00e, // add lr, pc, lr
            0xe5be_f008, // ldr pc, [lr, #8]!
            offset,
            0xe08e_0000, // add r0, lr, r0       (TLSDESC_TRAMPOLINE)
            0xe590_1004, // ldr r1, [r0, #4]
            0xe12f_ff11, // bx r1
        ],
    )
}

/// Writes the entry described by `addrs`.
pub fn write_entry(buf: &mut [u8], addrs: PltEntryAddrs) -> Result<(), FieldError> {
    // The first instruction reads pc as entry + 8.
    let offset = addrs.got_slot as i64 - (addrs.entry as i64 + 8);
    if (0..1 << 28).contains(&offset) {
        let offset = offset as u32;
        return write_words(
            buf,
            &[
                0xe28f_c600 | (offset >> 20) & 0xff, // add ip, pc, #offset[27:20] << 20
                0xe28c_ca00 | (offset >> 12) & 0xff, // add ip, ip, #offset[19:12] << 12
                0xe5bc_f000 | offset & 0xfff,        // ldr pc, [ip, #offset[11:0]]!
                TRAP,
            ],
        );
    }
    // The add at entry + 8 reads pc as entry + 16.
    let offset = addrs.got_slot as i64 - (addrs.entry as i64 + 16);
    write_words(
        buf,
        &[
            0xe300_c000, // movw ip, #:lower16:offset
            0xe340_c000, // movt ip, #:upper16:offset
            0xe08c_c00f, // add ip, ip, pc
            0xe59c_f000, // ldr pc, [ip]
        ],
    )?;
    ArmField::ArmMovw.write(buf, offset)?;
    ArmField::ArmMovt.write(&mut buf[4..], offset)
}

/// Writes ARM instruction words in order.
pub(super) fn write_words(buf: &mut [u8], words: &[u32]) -> Result<(), FieldError> {
    let out = buf
        .get_mut(..4 * words.len())
        .ok_or(FieldError::OutOfBounds)?;
    for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    Ok(())
}
