//! Writing an implicit addend back into a field (ARM objects use REL relocations): a
//! relocatable output (`-r`) folds an input section's offset within its output section into
//! the addend of every relocation against that section's symbol.
//!
//! [`ArmField::write`] takes a computed value and may switch BL↔BLX on its bit 0 or take the
//! high half for MOVT; an addend is stored as the assembler stored it, so the instruction
//! keeps its kind and MOVT keeps the unshifted 16 bits.

use super::reloc::ArmField;
use super::reloc::{check_range, is_arm_blx_imm, read_thumb32, thumb_branch_imm, write_thumb32};
use crate::arch::{FieldError, Range};

/// Stores `addend` in the field at the start of `site` as [`ArmField::read_addend`] reads it.
pub fn write_addend(field: ArmField, site: &mut [u8], addend: i64) -> Result<(), FieldError> {
    match field {
        ArmField::ArmMovw | ArmField::ArmMovt => {
            check_range(addend, Range::Signed(16))?;
            ArmField::ArmMovw.write(site, addend & 0xffff)
        }
        ArmField::ThumbMovw | ArmField::ThumbMovt => {
            check_range(addend, Range::Signed(16))?;
            ArmField::ThumbMovw.write(site, addend & 0xffff)
        }
        ArmField::TlsDescWord => ArmField::Word.write(site, addend),
        ArmField::ArmCall => {
            let insn = u32::from_le_bytes(
                site.get(..4)
                    .ok_or(FieldError::OutOfBounds)?
                    .try_into()
                    .unwrap(),
            );
            // Bit 0 selects BLX in the writer: set it exactly when the instruction is one.
            let state = i64::from(is_arm_blx_imm(insn));
            ArmField::ArmCall.write(site, (addend & !1) | state)
        }
        ArmField::ThumbCall => {
            let (hi, lo) = read_thumb32(site)?;
            check_range(addend, Range::Signed(25))?;
            if addend & 1 != 0 {
                return Err(FieldError::Misaligned {
                    value: addend,
                    alignment: 2,
                });
            }
            let (imm_hi, imm_lo) = thumb_branch_imm(addend);
            // Bits 14 and 12 of the second half say BL or BLX: kept as the assembler wrote them.
            write_thumb32(site, (hi & 0xf800) | imm_hi, (lo & 0xd000) | imm_lo)
        }
        _ => field.write(site, addend),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(field: ArmField, insn: &[u8], addend: i64) -> Vec<u8> {
        let mut site = insn.to_vec();
        write_addend(field, &mut site, addend).unwrap();
        assert_eq!(field.read_addend(&site).unwrap(), addend, "{field:?}");
        site
    }

    #[test]
    fn addends_read_back_and_keep_the_instruction() {
        // bl (Thumb): f000 f800; blx: f000 e800.
        let bl = round_trip(ArmField::ThumbCall, &[0x00, 0xf0, 0x00, 0xf8], 0x1234 - 4);
        assert_eq!(bl[3] & 0xd0, 0xd0);
        let blx = round_trip(ArmField::ThumbCall, &[0x00, 0xf0, 0x00, 0xe8], -4 + 0x100);
        assert_eq!(blx[3] & 0xd0, 0xc0);
        // movt r0, #0 (Thumb): f2c0 0000; the addend stays unshifted.
        round_trip(ArmField::ThumbMovt, &[0xc0, 0xf2, 0x00, 0x00], 0x1230);
        round_trip(ArmField::ArmMovt, &[0x00, 0x00, 0x40, 0xe3], -8);
        // bl (ARM): eb000000; blx: fa000000.
        let arm_bl = round_trip(ArmField::ArmCall, &[0, 0, 0, 0xeb], 0x400 - 8);
        assert_eq!(arm_bl[3], 0xeb);
        let arm_blx = round_trip(ArmField::ArmCall, &[0, 0, 0, 0xfa], 0x402 - 8);
        assert_eq!(arm_blx[3] & 0xfe, 0xfa);
        round_trip(ArmField::Word, &[0; 4], 0x1000);
        round_trip(ArmField::Prel31, &[0, 0, 0, 0x80], 0x40);
    }

    #[test]
    fn a_movw_addend_beyond_16_bits_is_refused() {
        let mut site = vec![0xc0, 0xf2, 0x00, 0x00];
        assert!(write_addend(ArmField::ThumbMovw, &mut site, 0x12345).is_err());
        assert_eq!(site, [0xc0, 0xf2, 0x00, 0x00]);
    }
}
