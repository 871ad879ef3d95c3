//! ARM relocations (AAELF32) as data, and the bit-level encoders of their fields.
//!
//! [`TABLE`] says, for every relocation tether supports, which value it asks for (a generic
//! [`RelExpr`]) and where the value goes (an [`ArmField`]). [`ArmField::read_addend`] and
//! [`ArmField::write`] are the only places that know instruction layouts: "how R_ARM_THM_CALL
//! is applied" is [`ArmField::ThumbCall`].
//!
//! Values follow the core's convention (see `arch/mod.rs`): a Thumb function's address carries
//! bit 0, so a PC-relative value to a Thumb destination is odd. That bit selects BL or BLX for
//! the call forms and is dropped by every other branch encoder: whether a no-link branch may
//! reach its destination in its own state is decided before writing, by
//! [`super::thunk::needs_thunk`].

use crate::arch::{Encoding, Field, FieldError, Range, RelExpr, RelocHowto};
use object::elf;

// AAELF32 names of relocations the `object` crate knows by their older names.
pub const R_ARM_THM_CALL: elf::RelocationType = elf::R_ARM_THM_PC22;
pub const R_ARM_THM_JUMP11: elf::RelocationType = elf::R_ARM_THM_PC11;
pub const R_ARM_THM_JUMP8: elf::RelocationType = elf::R_ARM_THM_PC9;
pub const R_ARM_GOT_BREL: elf::RelocationType = elf::R_ARM_GOT32;
pub const R_ARM_GOTOFF32: elf::RelocationType = elf::R_ARM_GOTOFF;
pub const R_ARM_BASE_PREL: elf::RelocationType = elf::R_ARM_GOTPC;

/// Where and how an ARM relocation stores its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArmField {
    /// Nothing is written (R_ARM_NONE, R_ARM_V4BX).
    Nothing,
    /// A 32-bit little-endian word.
    Word,
    /// The low 31 bits of a word, bit 31 kept (`.ARM.exidx` entries).
    Prel31,
    /// ARM `BL`/`BLX` (imm24, plus H for BLX): rewritten to BLX when the destination is Thumb.
    ArmCall,
    /// ARM `B`/`BL<cond>` (imm24): cannot change state.
    ArmJump,
    /// Thumb-2 `BL`/`BLX` (S:J1:J2:imm10:imm11): rewritten to BLX when the destination is ARM.
    ThumbCall,
    /// Thumb-2 `B.W` (encoding T4, same immediate as BL): cannot change state.
    ThumbJump24,
    /// Thumb-2 `B<cond>.W` (encoding T3, S:J2:J1:imm6:imm11, ±1 MiB).
    ThumbJump19,
    /// Thumb `B` (encoding T2, imm11, ±2 KiB).
    ThumbJump11,
    /// Thumb `B<cond>` (encoding T1, imm8, ±256 bytes).
    ThumbJump8,
    /// ARM `MOVW` (imm4:imm12): the low 16 bits of the value.
    ArmMovw,
    /// ARM `MOVT` (imm4:imm12): the high 16 bits of the value.
    ArmMovt,
    /// Thumb-2 `MOVW` (imm4:i:imm3:imm8): the low 16 bits of the value.
    ThumbMovw,
    /// Thumb-2 `MOVT` (imm4:i:imm3:imm8): the high 16 bits of the value.
    ThumbMovt,
    /// The literal word of a TLS descriptor sequence (R_ARM_TLS_GOTDESC): the descriptor's
    /// address relative to the return address of the paired TLS call, see [`ArmField::write`].
    /// A relaxed sequence's literal is a plain [`ArmField::Word`] instead (`super::tls`).
    TlsDescWord,
}

/// Every field kind, in the order of their encoding ids (index + 1).
const FIELDS: [ArmField; 15] = [
    ArmField::Nothing,
    ArmField::Word,
    ArmField::Prel31,
    ArmField::ArmCall,
    ArmField::ArmJump,
    ArmField::ThumbCall,
    ArmField::ThumbJump24,
    ArmField::ThumbJump19,
    ArmField::ThumbJump11,
    ArmField::ThumbJump8,
    ArmField::ArmMovw,
    ArmField::ArmMovt,
    ArmField::ThumbMovw,
    ArmField::ThumbMovt,
    ArmField::TlsDescWord,
];

/// One supported relocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArmReloc {
    pub r_type: u32,
    pub name: &'static str,
    pub expr: RelExpr,
    pub field: ArmField,
}

const fn r(
    r_type: elf::RelocationType,
    name: &'static str,
    expr: RelExpr,
    field: ArmField,
) -> ArmReloc {
    ArmReloc {
        r_type: r_type.0,
        name,
        expr,
        field,
    }
}

/// The relocations tether accepts in ARM inputs. Linux conventions: TARGET1 is ABS32 and
/// TARGET2 is GOT_PREL; BASE_PREL's B(S) is the GOT origin (it is only used against
/// `_GLOBAL_OFFSET_TABLE_`).
pub const TABLE: &[ArmReloc] = {
    use ArmField::*;
    use RelExpr::*;
    &[
        r(elf::R_ARM_NONE, "R_ARM_NONE", None, Nothing),
        r(elf::R_ARM_V4BX, "R_ARM_V4BX", None, Nothing),
        r(elf::R_ARM_ABS32, "R_ARM_ABS32", Absolute, Word),
        r(elf::R_ARM_TARGET1, "R_ARM_TARGET1", Absolute, Word),
        r(elf::R_ARM_REL32, "R_ARM_REL32", PcRelative, Word),
        // In `.ARM.extab`, PREL31 names the personality routine, which may be imported: like
        // GNU ld, resolve it to a PLT entry then (a callable address in this output).
        r(elf::R_ARM_PREL31, "R_ARM_PREL31", Plt, Prel31),
        r(elf::R_ARM_CALL, "R_ARM_CALL", Plt, ArmCall),
        r(elf::R_ARM_JUMP24, "R_ARM_JUMP24", Plt, ArmJump),
        r(elf::R_ARM_PLT32, "R_ARM_PLT32", Plt, ArmJump),
        r(R_ARM_THM_CALL, "R_ARM_THM_CALL", Plt, ThumbCall),
        r(elf::R_ARM_THM_JUMP24, "R_ARM_THM_JUMP24", Plt, ThumbJump24),
        r(elf::R_ARM_THM_JUMP19, "R_ARM_THM_JUMP19", Plt, ThumbJump19),
        r(
            R_ARM_THM_JUMP11,
            "R_ARM_THM_JUMP11",
            PcRelative,
            ThumbJump11,
        ),
        r(R_ARM_THM_JUMP8, "R_ARM_THM_JUMP8", PcRelative, ThumbJump8),
        r(
            elf::R_ARM_MOVW_ABS_NC,
            "R_ARM_MOVW_ABS_NC",
            Absolute,
            ArmMovw,
        ),
        r(elf::R_ARM_MOVT_ABS, "R_ARM_MOVT_ABS", Absolute, ArmMovt),
        r(
            elf::R_ARM_MOVW_PREL_NC,
            "R_ARM_MOVW_PREL_NC",
            PcRelative,
            ArmMovw,
        ),
        r(elf::R_ARM_MOVT_PREL, "R_ARM_MOVT_PREL", PcRelative, ArmMovt),
        r(
            elf::R_ARM_THM_MOVW_ABS_NC,
            "R_ARM_THM_MOVW_ABS_NC",
            Absolute,
            ThumbMovw,
        ),
        r(
            elf::R_ARM_THM_MOVT_ABS,
            "R_ARM_THM_MOVT_ABS",
            Absolute,
            ThumbMovt,
        ),
        r(
            elf::R_ARM_THM_MOVW_PREL_NC,
            "R_ARM_THM_MOVW_PREL_NC",
            PcRelative,
            ThumbMovw,
        ),
        r(
            elf::R_ARM_THM_MOVT_PREL,
            "R_ARM_THM_MOVT_PREL",
            PcRelative,
            ThumbMovt,
        ),
        r(R_ARM_GOT_BREL, "R_ARM_GOT_BREL", GotRelative, Word),
        r(elf::R_ARM_GOT_PREL, "R_ARM_GOT_PREL", GotPcRelative, Word),
        r(elf::R_ARM_TARGET2, "R_ARM_TARGET2", GotPcRelative, Word),
        r(R_ARM_GOTOFF32, "R_ARM_GOTOFF32", GotOffset, Word),
        r(R_ARM_BASE_PREL, "R_ARM_BASE_PREL", GotBasePcRelative, Word),
        r(elf::R_ARM_TLS_GD32, "R_ARM_TLS_GD32", TlsGdPcRelative, Word),
        r(
            elf::R_ARM_TLS_LDM32,
            "R_ARM_TLS_LDM32",
            TlsLdPcRelative,
            Word,
        ),
        r(elf::R_ARM_TLS_LDO32, "R_ARM_TLS_LDO32", DtpOffset, Word),
        r(elf::R_ARM_TLS_IE32, "R_ARM_TLS_IE32", TlsIePcRelative, Word),
        r(elf::R_ARM_TLS_LE32, "R_ARM_TLS_LE32", TpOffset, Word),
        r(
            elf::R_ARM_TLS_GOTDESC,
            "R_ARM_TLS_GOTDESC",
            TlsDescPcRelative,
            TlsDescWord,
        ),
        r(elf::R_ARM_TLS_CALL, "R_ARM_TLS_CALL", TlsDescCall, ArmCall),
        r(
            elf::R_ARM_THM_TLS_CALL,
            "R_ARM_THM_TLS_CALL",
            TlsDescCall,
            ThumbCall,
        ),
    ]
};

/// The table entry for `r_type`.
pub fn lookup(r_type: u32) -> Option<&'static ArmReloc> {
    TABLE.iter().find(|reloc| reloc.r_type == r_type)
}

/// Names of dynamic and other known-but-unsupported relocations, for messages.
pub fn other_name(r_type: u32) -> Option<&'static str> {
    Some(match elf::RelocationType(r_type) {
        elf::R_ARM_PC24 => "R_ARM_PC24",
        elf::R_ARM_ABS16 => "R_ARM_ABS16",
        elf::R_ARM_ABS12 => "R_ARM_ABS12",
        elf::R_ARM_ABS8 => "R_ARM_ABS8",
        elf::R_ARM_THM_PC8 => "R_ARM_THM_PC8",
        elf::R_ARM_TLS_DESC => "R_ARM_TLS_DESC",
        elf::R_ARM_TLS_DTPMOD32 => "R_ARM_TLS_DTPMOD32",
        elf::R_ARM_TLS_DTPOFF32 => "R_ARM_TLS_DTPOFF32",
        elf::R_ARM_TLS_TPOFF32 => "R_ARM_TLS_TPOFF32",
        elf::R_ARM_COPY => "R_ARM_COPY",
        elf::R_ARM_GLOB_DAT => "R_ARM_GLOB_DAT",
        elf::R_ARM_JUMP_SLOT => "R_ARM_JUMP_SLOT",
        elf::R_ARM_RELATIVE => "R_ARM_RELATIVE",
        elf::R_ARM_IRELATIVE => "R_ARM_IRELATIVE",
        elf::R_ARM_TLS_DESCSEQ => "R_ARM_TLS_DESCSEQ",
        elf::R_ARM_THM_TLS_DESCSEQ16 => "R_ARM_THM_TLS_DESCSEQ16",
        elf::R_ARM_THM_TLS_DESCSEQ32 => "R_ARM_THM_TLS_DESCSEQ32",
        _ => return None,
    })
}

impl ArmField {
    /// The id stored in [`Encoding::Insn`].
    pub fn id(self) -> u8 {
        FIELDS
            .iter()
            .position(|&f| f == self)
            .map_or(0, |i| i as u8 + 1)
    }

    /// The field whose id is `id`.
    pub fn from_id(id: u8) -> Option<ArmField> {
        FIELDS.get(usize::from(id).checked_sub(1)?).copied()
    }

    /// The field a classified relocation refers to.
    pub fn of(howto: &RelocHowto) -> Option<ArmField> {
        match howto.field.encoding {
            Encoding::Insn(id) => ArmField::from_id(id),
            Encoding::Data => None,
        }
    }

    /// Bytes the field occupies.
    pub fn size(self) -> u8 {
        match self {
            ArmField::Nothing => 0,
            ArmField::ThumbJump11 | ArmField::ThumbJump8 => 2,
            _ => 4,
        }
    }

    /// The range a value must fit (before any state-dependent adjustment).
    pub fn range(self) -> Range {
        match self {
            ArmField::Nothing | ArmField::Word | ArmField::TlsDescWord => Range::Any,
            ArmField::ArmMovw | ArmField::ArmMovt | ArmField::ThumbMovw | ArmField::ThumbMovt => {
                Range::Any
            }
            ArmField::Prel31 => Range::Signed(31),
            ArmField::ArmCall | ArmField::ArmJump => Range::Signed(26),
            ArmField::ThumbCall | ArmField::ThumbJump24 => Range::Signed(25),
            ArmField::ThumbJump19 => Range::Signed(21),
            ArmField::ThumbJump11 => Range::Signed(12),
            ArmField::ThumbJump8 => Range::Signed(9),
        }
    }

    /// The generic description of this field.
    pub fn field(self) -> Field {
        // Plain words are data to the core (it may turn them into dynamic relocations).
        match self {
            ArmField::Word => return Field::data(4, Range::Either(32)),
            ArmField::Nothing => return Field::data(0, Range::Any),
            _ => {}
        }
        Field {
            size: self.size(),
            range: self.range(),
            encoding: Encoding::Insn(self.id()),
        }
    }

    /// Reads the addend stored in the field (ARM objects use REL relocations).
    pub fn read_addend(self, site: &[u8]) -> Result<i64, FieldError> {
        Ok(match self {
            ArmField::Nothing => 0,
            ArmField::Word | ArmField::TlsDescWord => i64::from(read32(site)? as i32),
            ArmField::Prel31 => sign_extend(u64::from(read32(site)?), 31),
            ArmField::ArmCall | ArmField::ArmJump => {
                let insn = read32(site)?;
                let mut offset = sign_extend(u64::from(insn & 0x00ff_ffff) << 2, 26);
                if is_arm_blx_imm(insn) {
                    offset |= i64::from((insn >> 23) & 2);
                }
                offset
            }
            ArmField::ThumbCall | ArmField::ThumbJump24 => {
                let (hi, lo) = read_thumb32(site)?;
                let s = u64::from((hi >> 10) & 1);
                let j1 = u64::from((lo >> 13) & 1);
                let j2 = u64::from((lo >> 11) & 1);
                let i1 = !(j1 ^ s) & 1;
                let i2 = !(j2 ^ s) & 1;
                let imm = s << 24
                    | i1 << 23
                    | i2 << 22
                    | u64::from(hi & 0x3ff) << 12
                    | u64::from(lo & 0x7ff) << 1;
                sign_extend(imm, 25)
            }
            ArmField::ThumbJump19 => {
                let (hi, lo) = read_thumb32(site)?;
                let imm = u64::from((hi >> 10) & 1) << 20
                    | u64::from((lo >> 11) & 1) << 19
                    | u64::from((lo >> 13) & 1) << 18
                    | u64::from(hi & 0x3f) << 12
                    | u64::from(lo & 0x7ff) << 1;
                sign_extend(imm, 21)
            }
            ArmField::ThumbJump11 => sign_extend(u64::from(read16(site)? & 0x7ff) << 1, 12),
            ArmField::ThumbJump8 => sign_extend(u64::from(read16(site)? & 0xff) << 1, 9),
            ArmField::ArmMovw | ArmField::ArmMovt => {
                let insn = read32(site)?;
                sign_extend(u64::from(((insn >> 4) & 0xf000) | (insn & 0xfff)), 16)
            }
            ArmField::ThumbMovw | ArmField::ThumbMovt => {
                let (hi, lo) = read_thumb32(site)?;
                let imm16 = u64::from(hi & 0xf) << 12
                    | u64::from((hi >> 10) & 1) << 11
                    | u64::from((lo >> 12) & 7) << 8
                    | u64::from(lo & 0xff);
                sign_extend(imm16, 16)
            }
        })
    }

    /// Writes `value` into the field at the start of `site`, changing no bit outside it
    /// (except the BL/BLX selector of the call forms). Nothing is written on error.
    pub fn write(self, site: &mut [u8], value: i64) -> Result<(), FieldError> {
        match self {
            ArmField::Nothing => Ok(()),
            ArmField::Word => {
                check_range(value, Range::Either(32))?;
                write32(site, value as u32)
            }
            // `value` is GOTDESC(S) + A - P, A being (P - call site) plus 1 when the call is
            // Thumb. The trampoline adds lr, the call's return address (call site + 4, with
            // bit 0 set from Thumb), so the word is the descriptor's address minus lr: the
            // value less 4, and less 2 more for a Thumb call (its A and lr both carry the bit).
            ArmField::TlsDescWord => {
                let thumb_call = value & 1;
                write32(site, (value - 4 - 2 * thumb_call) as u32)
            }
            ArmField::Prel31 => {
                check_range(value, Range::Signed(31))?;
                let word = read32(site)?;
                write32(site, (word & 0x8000_0000) | (value as u32 & 0x7fff_ffff))
            }
            ArmField::ArmCall => {
                let insn = read32(site)?;
                if value & 1 != 0 {
                    // A Thumb destination: BLX imm24:H, always unconditional.
                    if !is_arm_blx_imm(insn) && insn & 0xff00_0000 != 0xeb00_0000 {
                        return Err(FieldError::BadInstruction(
                            "R_ARM_CALL to a Thumb function on a conditional BL",
                        ));
                    }
                    let offset = value & !1;
                    check_range(offset, Range::Signed(26))?;
                    let h = ((offset >> 1) & 1) as u32;
                    write32(
                        site,
                        0xfa00_0000 | h << 24 | ((offset >> 2) as u32 & 0x00ff_ffff),
                    )
                } else {
                    check_branch(value, 4, Range::Signed(26))?;
                    let insn = if is_arm_blx_imm(insn) {
                        0xeb00_0000
                    } else {
                        insn & 0xff00_0000
                    };
                    write32(site, insn | ((value >> 2) as u32 & 0x00ff_ffff))
                }
            }
            ArmField::ArmJump => {
                let offset = value & !1;
                check_branch(offset, 4, Range::Signed(26))?;
                let insn = read32(site)?;
                if is_arm_blx_imm(insn) {
                    return Err(FieldError::BadInstruction(
                        "BLX with a no-link branch relocation",
                    ));
                }
                write32(
                    site,
                    (insn & 0xff00_0000) | ((offset >> 2) as u32 & 0x00ff_ffff),
                )
            }
            ArmField::ThumbCall => {
                let (hi, lo) = read_thumb32(site)?;
                if hi & 0xf800 != 0xf000 || lo & 0xc000 != 0xc000 {
                    return Err(FieldError::BadInstruction("R_ARM_THM_CALL not on a BL/BLX"));
                }
                let (offset, link_bits) = if value & 1 != 0 {
                    (value & !1, 0xd000) // BL: stays in Thumb state
                } else {
                    // BLX to ARM: the hardware adds Align(PC, 4), so the offset is rounded
                    // up to the 4-aligned destination (ARM code is always 4-aligned).
                    ((value + 3) & !3, 0xc000)
                };
                check_branch(offset, 2, Range::Signed(25))?;
                let (imm_hi, imm_lo) = thumb_branch_imm(offset);
                write_thumb32(site, (hi & 0xf800) | imm_hi, link_bits | imm_lo)
            }
            ArmField::ThumbJump24 => {
                let offset = value & !1;
                check_branch(offset, 2, Range::Signed(25))?;
                let (hi, lo) = read_thumb32(site)?;
                if hi & 0xf800 != 0xf000 || lo & 0xd000 != 0x9000 {
                    return Err(FieldError::BadInstruction("R_ARM_THM_JUMP24 not on a B.W"));
                }
                let (imm_hi, imm_lo) = thumb_branch_imm(offset);
                write_thumb32(site, (hi & 0xf800) | imm_hi, (lo & 0xd000) | imm_lo)
            }
            ArmField::ThumbJump19 => {
                let offset = value & !1;
                check_branch(offset, 2, Range::Signed(21))?;
                let (hi, lo) = read_thumb32(site)?;
                let off = offset as u32;
                let s = (off >> 20) & 1;
                let j2 = (off >> 19) & 1;
                let j1 = (off >> 18) & 1;
                let hi = (hi & 0xfbc0) | (s << 10 | ((off >> 12) & 0x3f)) as u16;
                let lo = (lo & 0xd000) | (j1 << 13 | j2 << 11 | ((off >> 1) & 0x7ff)) as u16;
                write_thumb32(site, hi, lo)
            }
            ArmField::ThumbJump11 => {
                let offset = value & !1;
                check_branch(offset, 2, Range::Signed(12))?;
                let insn = read16(site)?;
                write16(site, (insn & 0xf800) | ((offset >> 1) as u16 & 0x7ff))
            }
            ArmField::ThumbJump8 => {
                let offset = value & !1;
                check_branch(offset, 2, Range::Signed(9))?;
                let insn = read16(site)?;
                write16(site, (insn & 0xff00) | ((offset >> 1) as u16 & 0xff))
            }
            ArmField::ArmMovw | ArmField::ArmMovt => {
                let imm16 = self.imm16(value)?;
                let insn = read32(site)?;
                write32(
                    site,
                    (insn & 0xfff0_f000) | (imm16 & 0xf000) << 4 | (imm16 & 0xfff),
                )
            }
            ArmField::ThumbMovw | ArmField::ThumbMovt => {
                let imm16 = self.imm16(value)?;
                let (hi, lo) = read_thumb32(site)?;
                let hi = (hi & 0xfbf0)
                    | ((imm16 >> 12) & 0xf) as u16
                    | (((imm16 >> 11) & 1) as u16) << 10;
                let lo = (lo & 0x8f00) | (((imm16 >> 8) & 7) as u16) << 12 | (imm16 & 0xff) as u16;
                write_thumb32(site, hi, lo)
            }
        }
    }

    /// The 16 bits a MOVW or MOVT takes from `value` (the `_NC` and MOVT forms never
    /// overflow: the value is an address-sized quantity split in two halves).
    fn imm16(self, value: i64) -> Result<u32, FieldError> {
        check_range(value, Range::Either(32))?;
        let word = value as u32;
        Ok(match self {
            ArmField::ArmMovt | ArmField::ThumbMovt => word >> 16,
            _ => word & 0xffff,
        })
    }
}

/// The relocation's classification for the generic core.
pub fn howto(reloc: &ArmReloc) -> RelocHowto {
    RelocHowto {
        expr: reloc.expr,
        field: reloc.field.field(),
    }
}

/// `BLX <imm>` (unconditional, 1111 101H).
pub(super) fn is_arm_blx_imm(insn: u32) -> bool {
    insn & 0xfe00_0000 == 0xfa00_0000
}

/// The S:imm10 and J1:J2:imm11 parts of a Thumb-2 BL/BLX/B.W offset.
pub(super) fn thumb_branch_imm(offset: i64) -> (u16, u16) {
    let off = offset as u32;
    let s = (off >> 24) & 1;
    let i1 = (off >> 23) & 1;
    let i2 = (off >> 22) & 1;
    let j1 = (i1 ^ 1) ^ s;
    let j2 = (i2 ^ 1) ^ s;
    let hi = (s << 10 | ((off >> 12) & 0x3ff)) as u16;
    let lo = (j1 << 13 | j2 << 11 | ((off >> 1) & 0x7ff)) as u16;
    (hi, lo)
}

pub(super) fn check_range(value: i64, range: Range) -> Result<(), FieldError> {
    if range.fits(value) {
        Ok(())
    } else {
        Err(FieldError::OutOfRange { value, range })
    }
}

fn check_branch(offset: i64, alignment: i64, range: Range) -> Result<(), FieldError> {
    if offset & (alignment - 1) != 0 {
        return Err(FieldError::Misaligned {
            value: offset,
            alignment: alignment as u64,
        });
    }
    check_range(offset, range)
}

fn sign_extend(value: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((value << shift) as i64) >> shift
}

fn read16(site: &[u8]) -> Result<u16, FieldError> {
    let bytes = site.get(..2).ok_or(FieldError::OutOfBounds)?;
    Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn read32(site: &[u8]) -> Result<u32, FieldError> {
    let bytes = site.get(..4).ok_or(FieldError::OutOfBounds)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// A 32-bit Thumb-2 instruction: two little-endian halfwords, the first one first.
pub(super) fn read_thumb32(site: &[u8]) -> Result<(u16, u16), FieldError> {
    Ok((
        read16(site)?,
        read16(site.get(2..).ok_or(FieldError::OutOfBounds)?)?,
    ))
}

fn write16(site: &mut [u8], value: u16) -> Result<(), FieldError> {
    site.get_mut(..2)
        .ok_or(FieldError::OutOfBounds)?
        .copy_from_slice(&value.to_le_bytes());
    Ok(())
}

fn write32(site: &mut [u8], value: u32) -> Result<(), FieldError> {
    site.get_mut(..4)
        .ok_or(FieldError::OutOfBounds)?
        .copy_from_slice(&value.to_le_bytes());
    Ok(())
}

pub(super) fn write_thumb32(site: &mut [u8], hi: u16, lo: u16) -> Result<(), FieldError> {
    let bytes = site.get_mut(..4).ok_or(FieldError::OutOfBounds)?;
    bytes[..2].copy_from_slice(&hi.to_le_bytes());
    bytes[2..].copy_from_slice(&lo.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_ids_round_trip() {
        for field in FIELDS {
            assert_eq!(ArmField::from_id(field.id()), Some(field));
        }
        assert_eq!(ArmField::from_id(0), None);
        assert_eq!(ArmField::from_id(FIELDS.len() as u8 + 1), None);
    }

    #[test]
    fn table_has_no_duplicates() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert_ne!(a.r_type, b.r_type, "{} and {}", a.name, b.name);
            }
        }
    }
}
