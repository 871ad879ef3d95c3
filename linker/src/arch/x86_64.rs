//! x86-64 (System V psABI): relocation table, lazy PLT templates, GOT load relaxation.
//!
//! - [`got`]: GOT load relaxation in programs (immediates, `lea`, direct calls and jumps).
//! - [`tls`]: TLS relaxation (GD/LD/IE/descriptors to IE and LE).

mod got;
mod ibt;
mod tls;

use super::{
    Arch, DynRelocTypes, ElfClass, Field, FieldError, GotLoadRewrite, PltEntryAddrs, PltLayout,
    Range, RelExpr, RelocHowto, TlsRelaxTo, TlsRewrite,
};
use object::elf;

pub struct X86_64;

const fn howto(expr: RelExpr, size: u8, range: Range) -> Option<RelocHowto> {
    Some(RelocHowto {
        expr,
        field: Field::data(size, range),
    })
}

impl Arch for X86_64 {
    fn name(&self) -> &'static str {
        "x86-64"
    }
    fn machine(&self) -> u16 {
        elf::EM_X86_64.0
    }
    fn class(&self) -> ElfClass {
        ElfClass::Elf64
    }
    fn output_flags(&self, _input_flags: &[u32]) -> u32 {
        0
    }
    fn dynamic_uses_rela(&self) -> bool {
        true
    }
    fn separate_code_by_default(&self) -> bool {
        true
    }
    fn default_image_base(&self) -> u64 {
        0x40_0000
    }
    fn default_interpreter(&self) -> &'static str {
        "/lib64/ld-linux-x86-64.so.2"
    }
    fn default_search_dirs(&self) -> &'static [&'static str] {
        &[
            "/usr/local/lib/x86_64-linux-gnu",
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu64",
            "/usr/local/lib64",
            "/lib64",
            "/usr/lib64",
            "/usr/local/lib",
            "/lib",
            "/usr/lib",
            "/usr/x86_64-linux-gnu/lib64",
            "/usr/x86_64-linux-gnu/lib",
        ]
    }
    fn is_native(&self) -> bool {
        cfg!(target_arch = "x86_64")
    }

    fn reloc_name(&self, r_type: u32) -> Option<&'static str> {
        Some(match elf::RelocationType(r_type) {
            elf::R_X86_64_NONE => "R_X86_64_NONE",
            elf::R_X86_64_64 => "R_X86_64_64",
            elf::R_X86_64_PC32 => "R_X86_64_PC32",
            elf::R_X86_64_GOT32 => "R_X86_64_GOT32",
            elf::R_X86_64_PLT32 => "R_X86_64_PLT32",
            elf::R_X86_64_COPY => "R_X86_64_COPY",
            elf::R_X86_64_GLOB_DAT => "R_X86_64_GLOB_DAT",
            elf::R_X86_64_JUMP_SLOT => "R_X86_64_JUMP_SLOT",
            elf::R_X86_64_RELATIVE => "R_X86_64_RELATIVE",
            elf::R_X86_64_GOTPCREL => "R_X86_64_GOTPCREL",
            elf::R_X86_64_32 => "R_X86_64_32",
            elf::R_X86_64_32S => "R_X86_64_32S",
            elf::R_X86_64_16 => "R_X86_64_16",
            elf::R_X86_64_PC16 => "R_X86_64_PC16",
            elf::R_X86_64_8 => "R_X86_64_8",
            elf::R_X86_64_PC8 => "R_X86_64_PC8",
            elf::R_X86_64_DTPMOD64 => "R_X86_64_DTPMOD64",
            elf::R_X86_64_DTPOFF64 => "R_X86_64_DTPOFF64",
            elf::R_X86_64_TPOFF64 => "R_X86_64_TPOFF64",
            elf::R_X86_64_TLSGD => "R_X86_64_TLSGD",
            elf::R_X86_64_TLSLD => "R_X86_64_TLSLD",
            elf::R_X86_64_DTPOFF32 => "R_X86_64_DTPOFF32",
            elf::R_X86_64_GOTTPOFF => "R_X86_64_GOTTPOFF",
            elf::R_X86_64_TPOFF32 => "R_X86_64_TPOFF32",
            elf::R_X86_64_PC64 => "R_X86_64_PC64",
            elf::R_X86_64_GOTOFF64 => "R_X86_64_GOTOFF64",
            elf::R_X86_64_GOTPC32 => "R_X86_64_GOTPC32",
            elf::R_X86_64_GOT64 => "R_X86_64_GOT64",
            elf::R_X86_64_GOTPCREL64 => "R_X86_64_GOTPCREL64",
            elf::R_X86_64_GOTPC64 => "R_X86_64_GOTPC64",
            elf::R_X86_64_GOTPLT64 => "R_X86_64_GOTPLT64",
            elf::R_X86_64_PLTOFF64 => "R_X86_64_PLTOFF64",
            elf::R_X86_64_SIZE32 => "R_X86_64_SIZE32",
            elf::R_X86_64_SIZE64 => "R_X86_64_SIZE64",
            elf::R_X86_64_GOTPC32_TLSDESC => "R_X86_64_GOTPC32_TLSDESC",
            elf::R_X86_64_TLSDESC_CALL => "R_X86_64_TLSDESC_CALL",
            elf::R_X86_64_TLSDESC => "R_X86_64_TLSDESC",
            elf::R_X86_64_IRELATIVE => "R_X86_64_IRELATIVE",
            elf::R_X86_64_RELATIVE64 => "R_X86_64_RELATIVE64",
            elf::R_X86_64_GOTPCRELX => "R_X86_64_GOTPCRELX",
            elf::R_X86_64_REX_GOTPCRELX => "R_X86_64_REX_GOTPCRELX",
            _ => return None,
        })
    }

    fn classify(&self, r_type: u32) -> Option<RelocHowto> {
        use RelExpr::*;
        match elf::RelocationType(r_type) {
            elf::R_X86_64_NONE => howto(None, 0, Range::Any),
            elf::R_X86_64_64 => howto(Absolute, 8, Range::Any),
            elf::R_X86_64_32 => howto(Absolute, 4, Range::Unsigned(32)),
            elf::R_X86_64_32S => howto(Absolute, 4, Range::Signed(32)),
            elf::R_X86_64_16 => howto(Absolute, 2, Range::Either(16)),
            elf::R_X86_64_8 => howto(Absolute, 1, Range::Either(8)),
            elf::R_X86_64_PC64 => howto(PcRelative, 8, Range::Any),
            elf::R_X86_64_PC32 => howto(PcRelative, 4, Range::Signed(32)),
            elf::R_X86_64_PC16 => howto(PcRelative, 2, Range::Signed(16)),
            elf::R_X86_64_PC8 => howto(PcRelative, 1, Range::Signed(8)),
            elf::R_X86_64_PLT32 => howto(Plt, 4, Range::Signed(32)),
            elf::R_X86_64_PLTOFF64 => howto(PltGotOffset, 8, Range::Any),
            elf::R_X86_64_GOTPCREL => howto(GotPcRelative, 4, Range::Signed(32)),
            elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX => {
                howto(GotPcRelativeRelaxable, 4, Range::Signed(32))
            }
            elf::R_X86_64_GOTPCREL64 => howto(GotPcRelative, 8, Range::Any),
            elf::R_X86_64_GOTOFF64 => howto(GotOffset, 8, Range::Any),
            elf::R_X86_64_GOTPC32 => howto(GotBasePcRelative, 4, Range::Signed(32)),
            elf::R_X86_64_GOTPC64 => howto(GotBasePcRelative, 8, Range::Any),
            elf::R_X86_64_GOT64 => howto(GotRelative, 8, Range::Any),
            elf::R_X86_64_SIZE32 => howto(Size, 4, Range::Unsigned(32)),
            elf::R_X86_64_SIZE64 => howto(Size, 8, Range::Any),
            elf::R_X86_64_TLSGD => howto(TlsGdPcRelative, 4, Range::Signed(32)),
            elf::R_X86_64_TLSLD => howto(TlsLdPcRelative, 4, Range::Signed(32)),
            elf::R_X86_64_DTPOFF32 => howto(DtpOffset, 4, Range::Signed(32)),
            elf::R_X86_64_DTPOFF64 => howto(DtpOffset, 8, Range::Any),
            elf::R_X86_64_GOTTPOFF => howto(TlsIePcRelative, 4, Range::Signed(32)),
            elf::R_X86_64_GOTPC32_TLSDESC => howto(TlsDescPcRelative, 4, Range::Signed(32)),
            // Marks the descriptor call; nothing to patch without TLS relaxation.
            elf::R_X86_64_TLSDESC_CALL => howto(None, 0, Range::Any),
            elf::R_X86_64_TPOFF32 => howto(TpOffset, 4, Range::Signed(32)),
            elf::R_X86_64_TPOFF64 => howto(TpOffset, 8, Range::Any),
            _ => Option::None,
        }
    }

    fn relax_got_load(&self, r_type: u32, section: &mut [u8], offset: usize) -> Option<RelocHowto> {
        // The opcode sits two bytes before the 32-bit displacement: `8b /r` (mov r/m64, reg),
        // `ff /2` (call *), `ff /4` (jmp *). Only RIP-relative ModRM (mod=00, rm=101) qualifies.
        if offset < 2 {
            return None;
        }
        let pc_relative = howto(RelExpr::PcRelative, 4, Range::Signed(32));
        let op = section[offset - 2];
        let modrm = section[offset - 1];
        if modrm & 0xc7 != 0x05 {
            return None;
        }
        match (elf::RelocationType(r_type), op) {
            (elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX, 0x8b) => {
                // mov foo@GOTPCREL(%rip), %reg  ->  lea foo(%rip), %reg
                section[offset - 2] = 0x8d;
                pc_relative
            }
            (elf::R_X86_64_GOTPCRELX, 0xff) if modrm == 0x15 => {
                // call *foo@GOTPCREL(%rip)  ->  addr32 call foo
                section[offset - 2] = 0x67;
                section[offset - 1] = 0xe8;
                pc_relative
            }
            (elf::R_X86_64_GOTPCRELX, 0xff) if modrm == 0x25 => {
                // jmp *foo@GOTPCREL(%rip)  ->  nop; jmp foo (the field stays where it was)
                section[offset - 2] = 0x90;
                section[offset - 1] = 0xe9;
                pc_relative
            }
            _ => None,
        }
    }

    fn relax_got_load_program(
        &self,
        r_type: u32,
        section: &mut [u8],
        offset: u64,
        addend: i64,
        absolute: Option<u64>,
    ) -> Option<GotLoadRewrite> {
        got::relax(r_type, section, offset, addend, absolute)
    }

    fn relax_tls(
        &self,
        r_type: u32,
        to: TlsRelaxTo,
        section: &mut [u8],
        offset: u64,
        addend: i64,
        next: Option<(u32, u64)>,
    ) -> Option<Result<TlsRewrite, String>> {
        tls::relax(r_type, to, section, offset, addend, next)
    }

    fn relaxes_local_dynamic(&self) -> bool {
        true
    }

    fn irelative_in_plt_relocs(&self) -> bool {
        true
    }

    fn weak_undefined_may_be_static(&self) -> bool {
        true
    }

    fn has_x86_properties(&self) -> bool {
        true
    }

    fn dyn_reloc_types(&self) -> DynRelocTypes {
        DynRelocTypes {
            relative: elf::R_X86_64_RELATIVE.0,
            glob_dat: elf::R_X86_64_GLOB_DAT.0,
            jump_slot: elf::R_X86_64_JUMP_SLOT.0,
            absolute_word: elf::R_X86_64_64.0,
            dtpmod: elf::R_X86_64_DTPMOD64.0,
            dtpoff: elf::R_X86_64_DTPOFF64.0,
            tpoff: elf::R_X86_64_TPOFF64.0,
            irelative: elf::R_X86_64_IRELATIVE.0,
            copy: elf::R_X86_64_COPY.0,
        }
    }

    fn tlsdesc_reloc(&self) -> Option<u32> {
        Some(elf::R_X86_64_TLSDESC.0)
    }

    fn plt_layout(&self) -> PltLayout {
        PltLayout {
            header_size: 16,
            entry_size: 16,
            reserved_got_words: 3,
            align: 16,
        }
    }

    fn write_plt_header(&self, buf: &mut [u8], plt0: u64, got_plt: u64) -> Result<(), FieldError> {
        // pushq GOT+8(%rip); jmpq *GOT+16(%rip); nopl 0(%rax)
        let push = rel32(got_plt + 8, plt0 + 6)?;
        let jmp = rel32(got_plt + 16, plt0 + 12)?;
        let out = buf.get_mut(..16).ok_or(FieldError::OutOfBounds)?;
        out[0..2].copy_from_slice(&[0xff, 0x35]);
        out[2..6].copy_from_slice(&push);
        out[6..8].copy_from_slice(&[0xff, 0x25]);
        out[8..12].copy_from_slice(&jmp);
        out[12..16].copy_from_slice(&[0x0f, 0x1f, 0x40, 0x00]);
        Ok(())
    }

    fn write_plt_entry(&self, buf: &mut [u8], a: PltEntryAddrs) -> Result<(), FieldError> {
        // jmpq *slot(%rip); pushq $index; jmpq PLT0
        let jmp = rel32(a.got_slot, a.entry + 6)?;
        let index = u32::try_from(a.index).map_err(|_| FieldError::OutOfRange {
            value: a.index as i64,
            range: Range::Unsigned(32),
        })?;
        let back = rel32(a.plt0, a.entry + 16)?;
        let out = buf.get_mut(..16).ok_or(FieldError::OutOfBounds)?;
        out[0..2].copy_from_slice(&[0xff, 0x25]);
        out[2..6].copy_from_slice(&jmp);
        out[6] = 0x68;
        out[7..11].copy_from_slice(&index.to_le_bytes());
        out[11] = 0xe9;
        out[12..16].copy_from_slice(&back);
        Ok(())
    }

    fn lazy_slot_value(&self, a: PltEntryAddrs) -> u64 {
        a.entry + 6
    }

    fn plt_got_entry_size(&self) -> Option<u64> {
        Some(8)
    }

    fn has_ibt_plt(&self) -> bool {
        true
    }

    fn write_ibt_plt_entry(&self, buf: &mut [u8], a: PltEntryAddrs) -> Result<(), FieldError> {
        ibt::write_lazy_entry(buf, a)
    }

    fn write_ibt_branch_entry(
        &self,
        buf: &mut [u8],
        entry: u64,
        slot: u64,
    ) -> Result<(), FieldError> {
        ibt::write_branch_entry(buf, entry, slot)
    }

    fn write_plt_got_entry(&self, buf: &mut [u8], entry: u64, slot: u64) -> Result<(), FieldError> {
        // jmpq *slot(%rip); xchg %ax,%ax (GNU ld's two-byte padding)
        let jmp = rel32(slot, entry + 6)?;
        let out = buf.get_mut(..8).ok_or(FieldError::OutOfBounds)?;
        out[0..2].copy_from_slice(&[0xff, 0x25]);
        out[2..6].copy_from_slice(&jmp);
        out[6..8].copy_from_slice(&[0x66, 0x90]);
        Ok(())
    }
}

/// A rel32 displacement from `next_insn` to `target`.
fn rel32(target: u64, next_insn: u64) -> Result<[u8; 4], FieldError> {
    let value = target.wrapping_sub(next_insn) as i64;
    let v = i32::try_from(value).map_err(|_| FieldError::OutOfRange {
        value,
        range: Range::Signed(32),
    })?;
    Ok(v.to_le_bytes())
}
