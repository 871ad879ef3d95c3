//! The sections the linker makes rather than copies from inputs. Each is absent when empty.

use super::{build_id_size, Content, OutSection, Synth};
use crate::dynamic::DynPlan;
use crate::error::Result;
use crate::link::Link;
use crate::symbols::{Def, SymbolId};
use object::elf;

/// Adds the synthetic sections to `sections`; returns the COMMON symbols' offsets within
/// their `.bss` block.
pub(super) fn add(
    link: &Link,
    plan: &DynPlan,
    sections: &mut Vec<OutSection>,
) -> Result<Vec<(SymbolId, u64)>> {
    let arch = link.arch;
    let word = arch.class().word_size();
    let is64 = word == 8;
    let rela = arch.dynamic_uses_rela();
    let relsize = match (is64, rela) {
        (true, true) => 24,
        (true, false) => 16,
        (false, true) => 12,
        (false, false) => 8,
    };
    let symsize = if is64 { 24 } else { 16 };
    // Synthetic sections; absent when empty.
    let dynamic_ok = link.kind.is_dynamic();
    let input_interp = sections.iter().any(|s| s.name == b".interp");
    let mut synth = |name: &[u8],
                     synth: Synth,
                     sh_type: u32,
                     flags: u64,
                     align: u64,
                     entsize: u64,
                     size: u64| {
        sections.push(OutSection {
            name: name.to_vec(),
            sh_type,
            flags,
            align,
            entsize,
            content: Content::Synthetic(synth),
            size,
            addr: 0,
            offset: 0,
            rank: 0,
        });
    };
    let a = elf::SHF_ALLOC.0;
    let aw = a | elf::SHF_WRITE.0;
    let ax = a | elf::SHF_EXECINSTR.0;
    if link.kind.has_interpreter() && !input_interp {
        synth(
            b".interp",
            Synth::Interp,
            elf::SHT_PROGBITS.0,
            a,
            1,
            0,
            interpreter(link).len() as u64 + 1,
        );
    }
    if let Some(b) = &link.opts.build_id {
        synth(
            b".note.gnu.build-id",
            Synth::BuildId,
            elf::SHT_NOTE.0,
            a,
            4,
            0,
            build_id_size(b),
        );
    }
    if dynamic_ok {
        if let Some(h) = &plan.sysv_hash {
            synth(
                b".hash",
                Synth::Hash,
                elf::SHT_HASH.0,
                a,
                word,
                4,
                h.len() as u64,
            );
        }
        if let Some(h) = &plan.gnu_hash {
            synth(
                b".gnu.hash",
                Synth::GnuHash,
                elf::SHT_GNU_HASH.0,
                a,
                word,
                // As GNU ld: ELF32 tables are all 4-byte words (eu-elflint checks this);
                // ELF64 mixes 8-byte Bloom words with 4-byte buckets.
                if is64 { 0 } else { 4 },
                h.len() as u64,
            );
        }
        let nsyms = plan.dynsym.len() as u64 + 1;
        synth(
            b".dynsym",
            Synth::DynSym,
            elf::SHT_DYNSYM.0,
            a,
            word,
            symsize,
            nsyms * symsize,
        );
        synth(
            b".dynstr",
            Synth::DynStr,
            elf::SHT_STRTAB.0,
            a,
            1,
            0,
            plan.dynstr.bytes.len() as u64,
        );
        if !plan.verneed.is_empty() || !plan.verdef.is_empty() {
            synth(
                b".gnu.version",
                Synth::VerSym,
                elf::SHT_GNU_VERSYM.0,
                a,
                2,
                2,
                nsyms * 2,
            );
        }
        if !plan.verdef.is_empty() {
            let size: u64 = plan
                .verdef
                .iter()
                .map(|d| 20 + 8 + if d.parent.is_some() { 8 } else { 0 })
                .sum();
            synth(
                b".gnu.version_d",
                Synth::VerDef,
                elf::SHT_GNU_VERDEF.0,
                a,
                word.min(4),
                0,
                size,
            );
        }
        if !plan.verneed.is_empty() {
            let size: u64 = plan
                .verneed
                .iter()
                .map(|n| 16 + 16 * n.versions.len() as u64)
                .sum();
            synth(
                b".gnu.version_r",
                Synth::VerNeed,
                elf::SHT_GNU_VERNEED.0,
                a,
                word.min(4),
                0,
                size,
            );
        }
    }
    {
        let (rel_type, mut dyn_name, plt_name) = if rela {
            (elf::SHT_RELA.0, &b".rela.dyn"[..], &b".rela.plt"[..])
        } else {
            (elf::SHT_REL.0, &b".rel.dyn"[..], &b".rel.plt"[..])
        };
        if !dynamic_ok {
            // A static program's only relocations are its IFUNCs' IRELATIVEs, which glibc's
            // start-up finds between `__rela_iplt_start` and `__rela_iplt_end`; GNU ld names
            // their section as the PLT's.
            dyn_name = plt_name;
        }
        if plan.reladyn_count > 0 {
            synth(
                dyn_name,
                Synth::RelaDyn,
                rel_type,
                a,
                word,
                relsize,
                plan.reladyn_count * relsize,
            );
        }
        if link.plt.relocated_in_plt > 0 {
            synth(
                plt_name,
                Synth::RelaPlt,
                rel_type,
                a | elf::SHF_INFO_LINK.0,
                word,
                relsize,
                link.plt.relocated_in_plt as u64 * relsize,
            );
        }
        if link.plt.has_section() {
            let p = arch.plt_layout();
            synth(
                b".plt",
                Synth::Plt,
                elf::SHT_PROGBITS.0,
                ax,
                p.align,
                p.entry_size,
                p.header_size + p.entry_size * link.plt.len() as u64,
            );
        }
        if dynamic_ok {
            synth(
                b".dynamic",
                Synth::Dynamic,
                elf::SHT_DYNAMIC.0,
                aw,
                word,
                2 * word,
                plan.dynamic_count as u64 * 2 * word,
            );
        }
        if link.got.words > 0 {
            synth(
                b".got",
                Synth::Got,
                elf::SHT_PROGBITS.0,
                aw,
                word,
                word,
                link.got.words * word,
            );
        }
        let reserved = arch.plt_layout().reserved_got_words;
        if dynamic_ok || link.plt.has_section() {
            synth(
                b".got.plt",
                Synth::GotPlt,
                elf::SHT_PROGBITS.0,
                aw,
                word,
                word,
                (reserved + link.plt.len() as u64) * word,
            );
        }
    }
    if link.copies.any(false) {
        synth(
            b".dynbss",
            Synth::DynBss,
            elf::SHT_NOBITS.0,
            aw,
            link.copies.writable.align,
            0,
            link.copies.writable.size,
        );
    }
    if link.copies.any(true) {
        synth(
            b".data.rel.ro",
            Synth::DynRelRo,
            elf::SHT_PROGBITS.0,
            aw,
            link.copies.read_only.align,
            0,
            link.copies.read_only.size,
        );
    }
    if link.opts.eh_frame_hdr {
        if let Some(count) = crate::eh_frame_hdr::count_fdes(link)? {
            synth(
                b".eh_frame_hdr",
                Synth::EhFrameHdr,
                elf::SHT_PROGBITS.0,
                a,
                4,
                0,
                12 + 8 * count,
            );
        }
    }
    let commons: Vec<SymbolId> = (0..link.symtab.len() as SymbolId)
        .filter(|&id| matches!(link.symtab.get(id).def, Def::Common { .. }))
        .collect();
    let mut common_offsets = Vec::new();
    if !commons.is_empty() {
        let mut size = 0u64;
        let mut align = 1u64;
        for &id in &commons {
            let Def::Common { file, sym } = link.symtab.get(id).def else {
                continue;
            };
            let s = &link.objects[file as usize].symbols[sym as usize];
            let al = s.value.max(1);
            size = size.next_multiple_of(al);
            common_offsets.push((id, size));
            size += s.size;
            align = align.max(al);
        }
        synth(
            b".bss",
            Synth::Commons,
            elf::SHT_NOBITS.0,
            aw,
            align,
            0,
            size,
        );
    }
    for (i, island) in link.thunks.islands.iter().enumerate() {
        if !island.entries.is_empty() {
            synth(
                crate::thunks::ISLAND_NAMES[i],
                Synth::Thunks(i as u8),
                elf::SHT_PROGBITS.0,
                ax,
                island.align,
                0,
                island.size,
            );
        }
    }
    synth(
        b".symtab",
        Synth::SymTab,
        elf::SHT_SYMTAB.0,
        0,
        word,
        symsize,
        plan.symtab.symtab_size(symsize, link),
    );
    synth(
        b".strtab",
        Synth::StrTab,
        elf::SHT_STRTAB.0,
        0,
        1,
        0,
        plan.symtab.strtab.len() as u64,
    );
    synth(b".shstrtab", Synth::ShStrTab, elf::SHT_STRTAB.0, 0, 1, 0, 0);

    Ok(common_offsets)
}

/// PT_INTERP of a dynamic program: `--dynamic-linker`, else the target's loader for its
/// float ABI.
pub fn interpreter(link: &Link) -> String {
    if let Some(path) = &link.opts.dynamic_linker {
        return path.clone();
    }
    let flags: Vec<u32> = link.objects.iter().map(|o| o.flags).collect();
    link.arch
        .interpreter_for_flags(link.arch.output_flags(&flags))
        .to_string()
}
