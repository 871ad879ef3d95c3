//! ARM field encoders against values computed by hand from the AAELF32 formulas and the
//! ARM ARM encodings: reach limits, alignment, errors instead of truncation, and no bit outside
//! the field changed.

use tether_linker::arch::arm::reloc::{lookup, ArmField, TABLE};
use tether_linker::arch::arm::thunk::{needs_thunk, write_thunk, ARM_LONG, THUMB_LONG};
use tether_linker::arch::arm::Arm;
use tether_linker::arch::{Arch, FieldError, Range, SymbolFacts};

fn thumb(hi: u16, lo: u16) -> [u8; 4] {
    let mut bytes = [0; 4];
    bytes[..2].copy_from_slice(&hi.to_le_bytes());
    bytes[2..].copy_from_slice(&lo.to_le_bytes());
    bytes
}

fn halves(bytes: &[u8]) -> (u16, u16) {
    (
        u16::from_le_bytes([bytes[0], bytes[1]]),
        u16::from_le_bytes([bytes[2], bytes[3]]),
    )
}

fn word(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"))
}

/// Writes `value`, reads it back as an addend, and checks the round trip.
fn round_trip(field: ArmField, site: &mut [u8], value: i64) -> i64 {
    field
        .write(site, value)
        .unwrap_or_else(|e| panic!("{field:?} {value:#x}: {e}"));
    field.read_addend(site).expect("read back")
}

#[test]
fn arm_branch_reach_is_plus_minus_32_mib() {
    let mut site = 0xeb00_0000u32.to_le_bytes(); // bl
    assert_eq!(
        round_trip(ArmField::ArmCall, &mut site, (1 << 25) - 4),
        (1 << 25) - 4
    );
    assert_eq!(
        round_trip(ArmField::ArmCall, &mut site, -(1 << 25)),
        -(1 << 25)
    );
    let before = site;
    assert!(matches!(
        ArmField::ArmCall.write(&mut site, 1 << 25),
        Err(FieldError::OutOfRange { .. })
    ));
    assert!(matches!(
        ArmField::ArmJump.write(&mut site, -(1 << 25) - 4),
        Err(FieldError::OutOfRange { .. })
    ));
    assert!(matches!(
        ArmField::ArmCall.write(&mut site, 6),
        Err(FieldError::Misaligned { .. })
    ));
    assert_eq!(site, before, "nothing written on error");
}

#[test]
fn arm_call_to_thumb_becomes_blx_with_h_bit() {
    let mut site = 0xebff_fffeu32.to_le_bytes(); // bl . (addend -8)
                                                 // Destination 0x1002 bytes after P + 8, Thumb: blx with H = 1, imm24 = 0x400.
    ArmField::ArmCall
        .write(&mut site, 0x1002 | 1)
        .expect("write");
    assert_eq!(word(&site), 0xfb00_0400);
    assert_eq!(ArmField::ArmCall.read_addend(&site), Ok(0x1002));
    // And back to an ARM destination: BL again, condition AL.
    ArmField::ArmCall.write(&mut site, 0x1000).expect("write");
    assert_eq!(word(&site), 0xeb00_0400);
    // A conditional BL cannot become BLX.
    let mut site = 0x1b00_0000u32.to_le_bytes(); // blne
    assert!(matches!(
        ArmField::ArmCall.write(&mut site, 0x101),
        Err(FieldError::BadInstruction(_))
    ));
}

#[test]
fn arm_jump_keeps_condition() {
    let mut site = 0x0a00_0000u32.to_le_bytes(); // beq
    ArmField::ArmJump.write(&mut site, -8).expect("write");
    assert_eq!(word(&site), 0x0aff_fffe);
}

#[test]
fn thumb_bl_reach_and_j1_j2() {
    let mut site = thumb(0xf000, 0xf800); // bl
    for value in [
        4i64,
        -4,
        0x12_3456,
        -0x12_3456,
        (1 << 24) - 2,
        -(1 << 24),
        0x40_0000,
        0x80_0000,
    ] {
        assert_eq!(
            round_trip(ArmField::ThumbCall, &mut site, value | 1),
            value,
            "{value:#x}"
        );
        assert_eq!(halves(&site).1 & 0xd000, 0xd000, "still a BL");
    }
    // offset 0: S = 0, I1 = I2 = 0, so J1 = J2 = 1.
    ArmField::ThumbCall.write(&mut site, 1).expect("write");
    assert_eq!(halves(&site), (0xf000, 0xf800));
    // offset -2: S = 1, I1 = I2 = 1, J1 = J2 = 1, all immediate bits set.
    ArmField::ThumbCall.write(&mut site, -2 | 1).expect("write");
    assert_eq!(halves(&site), (0xf7ff, 0xffff));
    assert!(matches!(
        ArmField::ThumbCall.write(&mut site, (1 << 24) | 1),
        Err(FieldError::OutOfRange { .. })
    ));
    assert!(matches!(
        ArmField::ThumbJump24.write(&mut site, -(1 << 24) - 2),
        Err(FieldError::OutOfRange { .. })
    ));
}

#[test]
fn thumb_bl_to_arm_becomes_blx_from_aligned_pc() {
    let mut site = thumb(0xf7ff, 0xfffe); // bl . (addend -4)
                                          // P = 2 mod 4 and an ARM destination: S + A - P = 4k + 2; BLX offset rounds up to 4k + 4.
    ArmField::ThumbCall.write(&mut site, 0x102).expect("write");
    let (hi, lo) = halves(&site);
    assert_eq!(lo & 0xd000, 0xc000, "BLX");
    assert_eq!(ArmField::ThumbCall.read_addend(&site), Ok(0x104));
    assert_eq!((hi, lo & 1), (0xf000, 0), "H bit clear for a BLX");
}

#[test]
fn thumb_conditional_and_narrow_branches() {
    let mut site = thumb(0xf000 | 0x1 << 6, 0x8000); // bne.w
    for value in [2i64, -2, (1 << 20) - 2, -(1 << 20), 0x5_5554] {
        assert_eq!(
            round_trip(ArmField::ThumbJump19, &mut site, value | 1),
            value
        );
        assert_eq!((halves(&site).0 >> 6) & 0xf, 1, "condition kept");
    }
    assert!(ArmField::ThumbJump19.write(&mut site, 1 << 20).is_err());

    let mut site = 0xe000u16.to_le_bytes(); // b.n
    assert_eq!(round_trip(ArmField::ThumbJump11, &mut site, 2046), 2046);
    assert_eq!(round_trip(ArmField::ThumbJump11, &mut site, -2048), -2048);
    assert!(ArmField::ThumbJump11.write(&mut site, 2048).is_err());
    assert_eq!(u16::from_le_bytes(site) & 0xf800, 0xe000);

    let mut site = 0xd100u16.to_le_bytes(); // bne.n
    assert_eq!(round_trip(ArmField::ThumbJump8, &mut site, 254), 254);
    assert_eq!(round_trip(ArmField::ThumbJump8, &mut site, -256), -256);
    assert!(ArmField::ThumbJump8.write(&mut site, 256).is_err());
    assert!(ArmField::ThumbJump8.write(&mut site, 3 - 1).is_ok());
    assert_eq!(u16::from_le_bytes(site) & 0xff00, 0xd100);
}

#[test]
fn movw_movt_split_and_keep_register() {
    let mut site = 0xe300_5000u32.to_le_bytes(); // movw r5, #0
    ArmField::ArmMovw
        .write(&mut site, 0x1234_abcd)
        .expect("write");
    assert_eq!(word(&site), 0xe30a_5bcd);
    let mut site = 0xe340_5000u32.to_le_bytes(); // movt r5, #0
    ArmField::ArmMovt
        .write(&mut site, 0x1234_abcd)
        .expect("write");
    assert_eq!(word(&site), 0xe341_5234);
    // Negative PC-relative values wrap modulo 2^32.
    ArmField::ArmMovt.write(&mut site, -0x10).expect("write");
    assert_eq!(word(&site), 0xe34f_5fff);

    let mut site = thumb(0xf240, 0x0500); // movw r5, #0
    ArmField::ThumbMovw
        .write(&mut site, 0xfedc_ba98)
        .expect("write");
    // imm16 0xba98 = imm4 0xb : i 1 : imm3 0b010 : imm8 0x98
    assert_eq!(halves(&site), (0xf64b, 0x2598));
    assert_eq!(ArmField::ThumbMovw.read_addend(&site), Ok(-0x4568));
    let mut site = thumb(0xf2c0, 0x0500); // movt r5, #0
    ArmField::ThumbMovt
        .write(&mut site, 0xfedc_ba98)
        .expect("write");
    assert_eq!(halves(&site), (0xf6cf, 0x65dc));
    assert!(ArmField::ThumbMovt.write(&mut site, 1 << 32).is_err());
}

#[test]
fn prel31_and_words() {
    let mut site = 0x8000_0000u32.to_le_bytes();
    ArmField::Prel31.write(&mut site, -8).expect("write");
    assert_eq!(word(&site), 0xffff_fff8);
    assert_eq!(ArmField::Prel31.read_addend(&site), Ok(-8));
    assert!(matches!(
        ArmField::Prel31.write(&mut site, 1 << 30),
        Err(FieldError::OutOfRange {
            range: Range::Signed(31),
            ..
        })
    ));
    let mut site = [0u8; 4];
    ArmField::Word.write(&mut site, 0xffff_fffc).expect("write");
    assert_eq!(ArmField::Word.read_addend(&site), Ok(-4));
    assert!(ArmField::Word.write(&mut site, 1 << 32).is_err());
    let mut short = [0u8; 3];
    assert_eq!(
        ArmField::Word.write(&mut short, 0),
        Err(FieldError::OutOfBounds)
    );
    assert_eq!(
        ArmField::ThumbCall.read_addend(&short),
        Err(FieldError::OutOfBounds)
    );
}

#[test]
fn every_table_entry_round_trips_through_the_arch_trait() {
    for reloc in TABLE {
        let howto = Arm.classify(reloc.r_type).expect("classified");
        assert_eq!(Arm.reloc_name(reloc.r_type), Some(reloc.name));
        assert_eq!(lookup(reloc.r_type), Some(reloc));
        assert_eq!(
            usize::from(howto.field.size),
            usize::from(reloc.field.size())
        );
    }
    assert_eq!(Arm.classify(object::elf::R_ARM_TLS_DESC.0), None);
    assert_eq!(
        Arm.reloc_name(object::elf::R_ARM_TLS_DESC.0),
        Some("R_ARM_TLS_DESC")
    );
}

#[test]
fn thunk_decisions() {
    let facts = SymbolFacts::default();
    let call = object::elf::R_ARM_CALL.0;
    let jump = object::elf::R_ARM_JUMP24.0;
    let thm_call = tether_linker::arch::arm::reloc::R_ARM_THM_CALL.0;
    let thm_jump = object::elf::R_ARM_THM_JUMP24.0;
    let thm_jump19 = object::elf::R_ARM_THM_JUMP19.0;
    // In range, same state or a call: no thunk.
    assert_eq!(needs_thunk(call, 0x10000, 0x20001, facts), None);
    assert_eq!(needs_thunk(thm_call, 0x10002, 0x20000, facts), None);
    assert_eq!(needs_thunk(thm_jump, 0x10002, 0x20001, facts), None);
    // A no-link branch that would change state.
    assert_eq!(needs_thunk(jump, 0x10000, 0x20001, facts), Some(ARM_LONG));
    assert_eq!(
        needs_thunk(thm_jump, 0x10000, 0x20000, facts),
        Some(THUMB_LONG)
    );
    assert_eq!(
        needs_thunk(thm_jump19, 0x10000, 0x20000, facts),
        Some(THUMB_LONG)
    );
    // Reach: ARM ±32 MiB from P + 8, Thumb ±16 MiB from P + 4, B<cond>.W ±1 MiB.
    assert_eq!(needs_thunk(call, 0, 8 + (1 << 25) - 4, facts), None);
    assert_eq!(needs_thunk(call, 0, 8 + (1 << 25), facts), Some(ARM_LONG));
    assert_eq!(
        needs_thunk(thm_call, 0, (4 + (1 << 24) - 2) | 1, facts),
        None
    );
    assert_eq!(
        needs_thunk(thm_call, 0, (4 + (1 << 24)) | 1, facts),
        Some(ARM_LONG)
    );
    assert_eq!(
        needs_thunk(thm_jump19, 0, (4 + (1 << 20)) | 1, facts),
        Some(THUMB_LONG)
    );
    let weak = SymbolFacts {
        undefined_weak: true,
        ..facts
    };
    assert_eq!(needs_thunk(jump, 0x10000, 0, weak), None);
}

#[test]
fn thunks_compute_the_destination_from_pc() {
    // ARM thunk at A: ip = imm + (A + 16) must be the destination, with its Thumb bit.
    let mut buf = [0u8; 16];
    let (addr, dest) = (0x10000u64, 0x0500_0001u64);
    write_thunk(&ARM_LONG, &mut buf, addr, dest).expect("write");
    let imm = (ArmField::ArmMovw.read_addend(&buf).expect("movw") as u64 & 0xffff)
        | (ArmField::ArmMovt.read_addend(&buf[4..]).expect("movt") as u64 & 0xffff) << 16;
    assert_eq!(imm.wrapping_add(addr + 16) & 0xffff_ffff, dest);
    assert_eq!(word(&buf[8..]), 0xe08c_c00f);
    assert_eq!(word(&buf[12..]), 0xe12f_ff1c);
    // Thumb thunk: the add reads pc as A + 12; a destination below the thunk.
    let mut buf = [0u8; 12];
    let (addr, dest) = (0x0600_0000u64, 0x8000u64);
    write_thunk(&THUMB_LONG, &mut buf, addr, dest).expect("write");
    let imm = (ArmField::ThumbMovw.read_addend(&buf).expect("movw") as u64 & 0xffff)
        | (ArmField::ThumbMovt.read_addend(&buf[4..]).expect("movt") as u64 & 0xffff) << 16;
    assert_eq!(imm.wrapping_add(addr + 12) & 0xffff_ffff, dest);
    assert_eq!(halves(&buf[8..]), (0x44fc, 0x4760));
    let mut small = [0u8; 8];
    assert_eq!(
        write_thunk(&ARM_LONG, &mut small, 0, 0),
        Err(FieldError::OutOfBounds)
    );
}
