//! Range-extension and interworking thunks (veneers).
//!
//! A branch needs a thunk when its destination lies beyond the instruction's reach, or when a
//! no-link branch (B, B.W, B<cond>.W) would have to change state, which only BLX and BX can.
//! Calls (BL) change state themselves by becoming BLX, so they need a thunk only for reach.
//!
//! Both thunks are position-independent, so one form serves executables and shared libraries:
//! they build the destination (with its state in bit 0) in ip relative to pc and `bx ip`.
//! A thunk's own state is that of the branches that reach it: Thumb B/B.W callers get a Thumb
//! thunk; ARM callers and Thumb BL callers (which then become BLX) get an ARM thunk. Callers
//! with the same destination and thunk kind may share one thunk.

use super::plt::write_words;
use super::reloc::ArmField;
use crate::arch::{FieldError, SymbolFacts, ThunkSpec};
use object::elf;

/// ARM state: `movw ip, #lo; movt ip, #hi; add ip, ip, pc; bx ip`.
pub const ARM_LONG: ThunkSpec = ThunkSpec {
    kind: 1,
    size: 16,
    align: 4,
};

/// Thumb state: `movw ip, #lo; movt ip, #hi; add ip, pc; bx ip`.
pub const THUMB_LONG: ThunkSpec = ThunkSpec {
    kind: 2,
    size: 12,
    align: 4,
};

/// The state of a thunk's code, as a mapping symbol: both forms are all instructions.
pub fn mapping_symbol(spec: &ThunkSpec) -> Option<&'static str> {
    match *spec {
        ARM_LONG => Some("$a"),
        THUMB_LONG => Some("$t"),
        _ => None,
    }
}

/// Whether the branch at `place` needs a thunk to reach `dest`, the address it must transfer
/// to (a symbol or PLT entry, bit 0 set for a Thumb destination), and which one.
pub fn needs_thunk(r_type: u32, place: u64, dest: u64, facts: SymbolFacts) -> Option<ThunkSpec> {
    if facts.undefined_weak {
        // Branches to an unresolved weak symbol are left alone (they are never taken).
        return None;
    }
    let thumb_dest = dest & 1 != 0;
    let target = (dest & !1) as i64;
    let place = place as i64;
    match elf::RelocationType(r_type) {
        elf::R_ARM_CALL => {
            // BL (ARM target) or BLX (Thumb target, halfword granularity); pc = place + 8.
            (!fits(target - (place + 8), 26)).then_some(ARM_LONG)
        }
        elf::R_ARM_JUMP24 | elf::R_ARM_PLT32 => {
            (thumb_dest || !fits(target - (place + 8), 26)).then_some(ARM_LONG)
        }
        super::reloc::R_ARM_THM_CALL => {
            // BL (Thumb target) or BLX (ARM target, from Align(pc, 4)); pc = place + 4.
            let pc = if thumb_dest {
                place + 4
            } else {
                (place + 4) & !3
            };
            (!fits(target - pc, 25)).then_some(ARM_LONG)
        }
        elf::R_ARM_THM_JUMP24 => {
            (!thumb_dest || !fits(target - (place + 4), 25)).then_some(THUMB_LONG)
        }
        elf::R_ARM_THM_JUMP19 => {
            (!thumb_dest || !fits(target - (place + 4), 21)).then_some(THUMB_LONG)
        }
        _ => None,
    }
}

/// Writes the thunk `spec` at `addr`, transferring to `dest` (bit 0 set for Thumb).
pub fn write_thunk(
    spec: &ThunkSpec,
    buf: &mut [u8],
    addr: u64,
    dest: u64,
) -> Result<(), FieldError> {
    let buf = buf
        .get_mut(..spec.size as usize)
        .ok_or(FieldError::OutOfBounds)?;
    if *spec == ARM_LONG {
        // The add at addr + 8 reads pc as addr + 16.
        let offset = dest as i64 - (addr as i64 + 16);
        write_words(buf, &[0xe300_c000, 0xe340_c000, 0xe08c_c00f, 0xe12f_ff1c])?;
        ArmField::ArmMovw.write(buf, offset)?;
        ArmField::ArmMovt.write(&mut buf[4..], offset)
    } else if *spec == THUMB_LONG {
        // The 16-bit add at addr + 8 reads pc as addr + 12 (not word-aligned for ADD).
        let offset = dest as i64 - (addr as i64 + 12);
        let halves: [u16; 6] = [0xf240, 0x0c00, 0xf2c0, 0x0c00, 0x44fc, 0x4760];
        for (chunk, half) in buf.chunks_exact_mut(2).zip(halves) {
            chunk.copy_from_slice(&half.to_le_bytes());
        }
        ArmField::ThumbMovw.write(buf, offset)?;
        ArmField::ThumbMovt.write(&mut buf[4..], offset)
    } else {
        Err(FieldError::BadInstruction("unknown ARM thunk kind"))
    }
}

fn fits(offset: i64, bits: u32) -> bool {
    offset >= -(1i64 << (bits - 1)) && offset < (1i64 << (bits - 1))
}
