//! ARM32 (EABI version 5, ARM and Thumb-2 state, little-endian).
//!
//! - [`reloc`]: the relocation table and the instruction field encoders.
//! - [`plt`]: the lazy PLT in ARM state, as glibc's loader expects it.
//! - [`thunk`]: range-extension and interworking thunks (placed by the generic `thunks.rs`).
//! - [`attributes`]: `.ARM.attributes` merging and the float-ABI compatibility check.
//! - [`exidx`]: `.ARM.exidx` sorting and EXIDX_CANTUNWIND entries for code without unwind data.
//! - [`tls`]: TLS descriptor relaxation to initial exec and local exec in programs.

pub mod addend;
pub mod attributes;
pub mod exidx;
pub mod plt;
pub mod reloc;
pub mod thunk;
pub mod tls;

use crate::arch::{
    read_data_field, write_data_field, Arch, DynRelocTypes, ElfClass, Encoding, FieldError,
    PltEntryAddrs, PltLayout, RelocHowto, SymbolFacts, ThunkSpec, TlsRelaxTo, TlsRewrite,
};
use object::elf;
use reloc::ArmField;

pub struct Arm;

/// `EF_ARM_EABI_VER5`: the only EABI version tether accepts.
pub const EABI_VER5: u32 = 0x0500_0000;
const EABI_MASK: u32 = 0xff00_0000;
const FLOAT_ABI_MASK: u32 = elf::EF_ARM_ABI_FLOAT_HARD | elf::EF_ARM_ABI_FLOAT_SOFT;

/// The float ABI an object declares in `e_flags` (neither bit: no floating-point arguments,
/// compatible with both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatAbi {
    Hard,
    Soft,
    Unspecified,
}

impl FloatAbi {
    pub fn of_flags(flags: u32) -> FloatAbi {
        if flags & elf::EF_ARM_ABI_FLOAT_HARD != 0 {
            FloatAbi::Hard
        } else if flags & elf::EF_ARM_ABI_FLOAT_SOFT != 0 {
            FloatAbi::Soft
        } else {
            FloatAbi::Unspecified
        }
    }
}

/// Checks one input's `e_flags` against the float ABI chosen so far (the first input that
/// declares one). The message is completed by the caller with the object's name.
pub fn check_flags(flags: u32, so_far: FloatAbi) -> Result<FloatAbi, String> {
    if flags & EABI_MASK != EABI_VER5 {
        return Err(format!(
            "unsupported ARM EABI version {} (e_flags {flags:#x}); tether links EABI version 5",
            flags >> 24
        ));
    }
    match (so_far, FloatAbi::of_flags(flags)) {
        (FloatAbi::Hard, FloatAbi::Soft) => Err(
            "uses the soft-float ABI (VFP arguments in core registers) but other inputs use the hard-float ABI".to_owned(),
        ),
        (FloatAbi::Soft, FloatAbi::Hard) => Err(
            "uses the hard-float ABI (VFP arguments in VFP registers) but other inputs use the soft-float ABI".to_owned(),
        ),
        (FloatAbi::Unspecified, abi) => Ok(abi),
        (abi, _) => Ok(abi),
    }
}

/// Mapping symbols (`$a`, `$t`, `$d`, optionally followed by `.anything`) mark where ARM code,
/// Thumb code and data start; they are never resolved against.
pub fn is_mapping_symbol(name: &[u8]) -> bool {
    matches!(name, [b'$', b'a' | b't' | b'd', rest @ ..] if rest.is_empty() || rest[0] == b'.')
}

impl Arch for Arm {
    fn name(&self) -> &'static str {
        "ARM"
    }
    fn machine(&self) -> u16 {
        elf::EM_ARM.0
    }
    fn class(&self) -> ElfClass {
        ElfClass::Elf32
    }
    fn output_flags(&self, input_flags: &[u32]) -> u32 {
        let abi = input_flags
            .iter()
            .map(|&flags| FloatAbi::of_flags(flags))
            .find(|&abi| abi != FloatAbi::Unspecified);
        EABI_VER5
            | match abi {
                Some(FloatAbi::Soft) => elf::EF_ARM_ABI_FLOAT_SOFT,
                _ => elf::EF_ARM_ABI_FLOAT_HARD,
            }
    }
    fn refine_output_flags(&self, flags: u32, merged: &[(u32, &[u8])]) -> u32 {
        let attributes = merged
            .iter()
            .find(|(sh_type, _)| *sh_type == elf::SHT_ARM_ATTRIBUTES.0);
        match attributes.and_then(|(_, data)| attributes::vfp_args(data)) {
            Some(hard) => {
                let abi = if hard {
                    elf::EF_ARM_ABI_FLOAT_HARD
                } else {
                    elf::EF_ARM_ABI_FLOAT_SOFT
                };
                (flags & !FLOAT_ABI_MASK) | abi
            }
            None => flags,
        }
    }
    fn dynamic_uses_rela(&self) -> bool {
        false
    }
    fn default_image_base(&self) -> u64 {
        0x1_0000
    }
    fn default_interpreter(&self) -> &'static str {
        "/lib/ld-linux-armhf.so.3"
    }
    fn default_search_dirs(&self) -> &'static [&'static str] {
        &[
            "/usr/local/lib/arm-linux-gnueabihf",
            "/lib/arm-linux-gnueabihf",
            "/usr/lib/arm-linux-gnueabihf",
            "/usr/local/lib",
            "/lib",
            "/usr/lib",
            "/usr/arm-linux-gnueabihf/lib",
        ]
    }
    fn is_native(&self) -> bool {
        cfg!(target_arch = "arm")
    }
    fn interpreter_for_flags(&self, output_flags: u32) -> &'static str {
        if output_flags & FLOAT_ABI_MASK == elf::EF_ARM_ABI_FLOAT_SOFT {
            "/lib/ld-linux.so.3"
        } else {
            "/lib/ld-linux-armhf.so.3"
        }
    }
    fn check_input_flags(&self, flags: &[u32]) -> Result<(), (usize, String)> {
        let mut so_far = FloatAbi::Unspecified;
        for (index, &flags) in flags.iter().enumerate() {
            so_far = check_flags(flags, so_far).map_err(|e| (index, e))?;
        }
        Ok(())
    }
    fn tls_block_offset(&self, _tls_size: u64, tls_align: u64) -> i64 {
        // Variant 1: TP points at an 8-byte TCB, the executable's block follows, aligned.
        let align = tls_align.max(1);
        8u64.div_ceil(align) as i64 * align as i64
    }

    fn merge_sections(
        &self,
        sh_type: u32,
        inputs: &[(&str, &[u8])],
    ) -> Option<Result<Vec<u8>, String>> {
        (sh_type == elf::SHT_ARM_ATTRIBUTES.0).then(|| attributes::merge(inputs))
    }

    fn section_phdr(&self, sh_type: u32) -> Option<u32> {
        (sh_type == elf::SHT_ARM_EXIDX.0).then_some(elf::PT_ARM_EXIDX.0)
    }
    fn section_tail(&self, sh_type: u32, code_sections: usize) -> u64 {
        if sh_type == elf::SHT_ARM_EXIDX.0 {
            exidx::tail_size(code_sections)
        } else {
            0
        }
    }
    fn finalize_section(
        &self,
        sh_type: u32,
        data: &mut [u8],
        addr: u64,
        code: &[(u64, u64)],
    ) -> Result<(), String> {
        if sh_type == elf::SHT_ARM_EXIDX.0 {
            exidx::complete(data, addr, code)?;
            exidx::sort(data, addr)
        } else {
            Ok(())
        }
    }

    fn reloc_name(&self, r_type: u32) -> Option<&'static str> {
        reloc::lookup(r_type)
            .map(|reloc| reloc.name)
            .or_else(|| reloc::other_name(r_type))
    }
    fn classify(&self, r_type: u32) -> Option<RelocHowto> {
        reloc::lookup(r_type).map(reloc::howto)
    }
    fn implicit_addend(&self, howto: &RelocHowto, site: &[u8]) -> Result<i64, FieldError> {
        // The assembler leaves a TLS call's offset zero rather than biased by the pc, as GNU
        // ld expects: the addend is the pc bias of the calling state.
        if howto.expr == crate::arch::RelExpr::TlsDescCall {
            return Ok(match ArmField::of(howto) {
                Some(ArmField::ThumbCall) => -4,
                _ => -8,
            });
        }
        match howto.field.encoding {
            Encoding::Data => read_data_field(&howto.field, site),
            Encoding::Insn(id) => field_of(id)?.read_addend(site),
        }
    }
    fn write_field(
        &self,
        howto: &RelocHowto,
        site: &mut [u8],
        value: i64,
    ) -> Result<(), FieldError> {
        match howto.field.encoding {
            Encoding::Data => write_data_field(&howto.field, site, value),
            Encoding::Insn(id) => field_of(id)?.write(site, value),
        }
    }

    fn write_implicit_addend(
        &self,
        howto: &RelocHowto,
        site: &mut [u8],
        addend: i64,
    ) -> Result<(), FieldError> {
        match howto.field.encoding {
            Encoding::Data => write_data_field(&howto.field, site, addend),
            Encoding::Insn(id) => addend::write_addend(field_of(id)?, site, addend),
        }
    }

    fn tlsdesc_reloc(&self) -> Option<u32> {
        Some(elf::R_ARM_TLS_DESC.0)
    }
    fn relax_tls(
        &self,
        r_type: u32,
        to: TlsRelaxTo,
        section: &mut [u8],
        offset: u64,
        addend: i64,
        _next: Option<(u32, u64)>,
    ) -> Option<Result<TlsRewrite, String>> {
        tls::relax(r_type, to, section, offset, addend)
    }
    fn plt_mapping_symbols(&self) -> &'static [(u32, &'static str)] {
        plt::MAPPING_SYMBOLS
    }
    fn thunk_mapping_symbol(&self, spec: &ThunkSpec) -> Option<&'static str> {
        thunk::mapping_symbol(spec)
    }
    fn mapping_symbol_names(&self) -> &'static [&'static str] {
        &["$a", "$t", "$d"]
    }
    fn tlsdesc_trampoline(&self) -> Option<u64> {
        Some(plt::TLSDESC_TRAMPOLINE)
    }
    fn dyn_reloc_types(&self) -> DynRelocTypes {
        DynRelocTypes {
            relative: elf::R_ARM_RELATIVE.0,
            glob_dat: elf::R_ARM_GLOB_DAT.0,
            jump_slot: elf::R_ARM_JUMP_SLOT.0,
            absolute_word: elf::R_ARM_ABS32.0,
            dtpmod: elf::R_ARM_TLS_DTPMOD32.0,
            dtpoff: elf::R_ARM_TLS_DTPOFF32.0,
            tpoff: elf::R_ARM_TLS_TPOFF32.0,
            irelative: elf::R_ARM_IRELATIVE.0,
            copy: elf::R_ARM_COPY.0,
        }
    }
    fn plt_layout(&self) -> PltLayout {
        plt::LAYOUT
    }
    fn write_plt_header(&self, buf: &mut [u8], plt0: u64, got_plt: u64) -> Result<(), FieldError> {
        plt::write_header(buf, plt0, got_plt)
    }
    fn write_plt_entry(&self, buf: &mut [u8], addrs: PltEntryAddrs) -> Result<(), FieldError> {
        plt::write_entry(buf, addrs)
    }
    fn lazy_slot_value(&self, addrs: PltEntryAddrs) -> u64 {
        addrs.plt0
    }

    fn has_thunks(&self) -> bool {
        true
    }
    fn needs_thunk(
        &self,
        r_type: u32,
        place: u64,
        dest: u64,
        facts: SymbolFacts,
    ) -> Option<ThunkSpec> {
        thunk::needs_thunk(r_type, place, dest, facts)
    }
    fn write_thunk(
        &self,
        spec: &ThunkSpec,
        buf: &mut [u8],
        addr: u64,
        dest: u64,
    ) -> Result<(), FieldError> {
        thunk::write_thunk(spec, buf, addr, dest)
    }
}

fn field_of(id: u8) -> Result<ArmField, FieldError> {
    ArmField::from_id(id).ok_or(FieldError::BadInstruction("unknown ARM field encoding"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_symbols() {
        for name in ["$a", "$t", "$d", "$a.1", "$d.realdata", "$t.foo"] {
            assert!(is_mapping_symbol(name.as_bytes()), "{name}");
        }
        for name in ["$x", "$ab", "$", "a", "$tfoo", "main"] {
            assert!(!is_mapping_symbol(name.as_bytes()), "{name}");
        }
    }
}
