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
    let word = link.arch.class().word_size();
    let relsize = match (word == 8, link.arch.dynamic_uses_rela()) {
        (true, true) => 24,
        (true, false) => 16,
        (false, true) => 12,
        (false, false) => 8,
    };
    let mut s = Synthesizer {
        link,
        plan,
        out: sections,
        word,
        relsize,
        symsize: if word == 8 { 24 } else { 16 },
    };
    s.interp_and_notes();
    s.dynamic_tables();
    s.relocations_plt_got();
    s.copies();
    s.eh_frame_hdr()?;
    let commons = s.commons();
    s.thunks();
    s.symbol_tables();
    Ok(commons)
}

const A: u64 = elf::SHF_ALLOC.0;
const AW: u64 = A | elf::SHF_WRITE.0;
const AX: u64 = A | elf::SHF_EXECINSTR.0;

struct Synthesizer<'a, 'l, 'd> {
    link: &'l Link<'d>,
    plan: &'l DynPlan,
    out: &'a mut Vec<OutSection>,
    word: u64,
    /// Size of one dynamic relocation, and of one symbol.
    relsize: u64,
    symsize: u64,
}

impl Synthesizer<'_, '_, '_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        name: &[u8],
        synth: Synth,
        sh_type: u32,
        flags: u64,
        align: u64,
        entsize: u64,
        size: u64,
    ) {
        self.out.push(OutSection {
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
    }

    /// `.interp` (unless an input brings its own) and the build-id note.
    fn interp_and_notes(&mut self) {
        let link = self.link;
        let input_interp = self.out.iter().any(|s| s.name == b".interp");
        if link.kind.has_interpreter() && !input_interp {
            self.push(
                b".interp",
                Synth::Interp,
                elf::SHT_PROGBITS.0,
                A,
                1,
                0,
                interpreter(link).len() as u64 + 1,
            );
        }
        if let Some(note) = &link.gnu_property {
            self.push(
                b".note.gnu.property",
                Synth::GnuProperty,
                elf::SHT_NOTE.0,
                A,
                8,
                0,
                note.len() as u64,
            );
        }
        if let Some(b) = &link.opts.build_id {
            self.push(
                b".note.gnu.build-id",
                Synth::BuildId,
                elf::SHT_NOTE.0,
                A,
                4,
                0,
                build_id_size(b),
            );
        }
    }

    /// What the loader looks symbols up with: hash tables, `.dynsym`, `.dynstr`, versions.
    fn dynamic_tables(&mut self) {
        let (link, plan) = (self.link, self.plan);
        let (word, is64, symsize) = (self.word, self.word == 8, self.symsize);
        let dynamic_ok = link.kind.is_dynamic();
        if dynamic_ok {
            if let Some(h) = &plan.sysv_hash {
                self.push(
                    b".hash",
                    Synth::Hash,
                    elf::SHT_HASH.0,
                    A,
                    word,
                    4,
                    h.len() as u64,
                );
            }
            if let Some(h) = &plan.gnu_hash {
                self.push(
                    b".gnu.hash",
                    Synth::GnuHash,
                    elf::SHT_GNU_HASH.0,
                    A,
                    word,
                    // As GNU ld: ELF32 tables are all 4-byte words (eu-elflint checks this);
                    // ELF64 mixes 8-byte Bloom words with 4-byte buckets.
                    if is64 { 0 } else { 4 },
                    h.len() as u64,
                );
            }
            let nsyms = plan.dynsym.len() as u64 + 1;
            self.push(
                b".dynsym",
                Synth::DynSym,
                elf::SHT_DYNSYM.0,
                A,
                word,
                symsize,
                nsyms * symsize,
            );
            self.push(
                b".dynstr",
                Synth::DynStr,
                elf::SHT_STRTAB.0,
                A,
                1,
                0,
                plan.dynstr.bytes.len() as u64,
            );
            if !plan.verneed.is_empty() || !plan.verdef.is_empty() {
                self.push(
                    b".gnu.version",
                    Synth::VerSym,
                    elf::SHT_GNU_VERSYM.0,
                    A,
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
                self.push(
                    b".gnu.version_d",
                    Synth::VerDef,
                    elf::SHT_GNU_VERDEF.0,
                    A,
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
                self.push(
                    b".gnu.version_r",
                    Synth::VerNeed,
                    elf::SHT_GNU_VERNEED.0,
                    A,
                    word.min(4),
                    0,
                    size,
                );
            }
        }
    }

    /// Dynamic relocations, the PLT, `.dynamic`, the GOT and `.got.plt`.
    fn relocations_plt_got(&mut self) {
        let (link, plan) = (self.link, self.plan);
        let arch = link.arch;
        let (word, relsize, rela) = (self.word, self.relsize, arch.dynamic_uses_rela());
        let dynamic_ok = link.kind.is_dynamic();
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
                self.push(
                    dyn_name,
                    Synth::RelaDyn,
                    rel_type,
                    A,
                    word,
                    relsize,
                    plan.reladyn_count * relsize,
                );
            }
            if link.plt.relocated_in_plt > 0 {
                self.push(
                    plt_name,
                    Synth::RelaPlt,
                    rel_type,
                    A | elf::SHF_INFO_LINK.0,
                    word,
                    relsize,
                    link.plt.relocated_in_plt as u64 * relsize,
                );
            }
            if link.relr.size > 0 {
                self.push(
                    b".relr.dyn",
                    Synth::RelrDyn,
                    elf::SHT_RELR.0,
                    A,
                    word,
                    word,
                    link.relr.size,
                );
            }
            if link.plt.has_section() {
                let p = arch.plt_layout();
                self.push(
                    b".plt",
                    Synth::Plt,
                    elf::SHT_PROGBITS.0,
                    AX,
                    p.align,
                    p.entry_size,
                    p.header_size + p.entry_size * link.plt.len() as u64,
                );
            }
            if let (false, Some(size)) = (link.plt_got.is_empty(), crate::plt_got::entry_size(link))
            {
                self.push(
                    b".plt.got",
                    Synth::PltGot,
                    elf::SHT_PROGBITS.0,
                    AX,
                    size,
                    size,
                    size * link.plt_got.targets.len() as u64,
                );
            }
            if link.plt.ibt && !link.plt.is_empty() {
                let size = crate::ibt_plt::ENTRY_SIZE;
                self.push(
                    b".plt.sec",
                    Synth::PltSec,
                    elf::SHT_PROGBITS.0,
                    AX,
                    size,
                    size,
                    size * link.plt.len() as u64,
                );
            }
            if dynamic_ok {
                self.push(
                    b".dynamic",
                    Synth::Dynamic,
                    elf::SHT_DYNAMIC.0,
                    AW,
                    word,
                    2 * word,
                    plan.dynamic_count as u64 * 2 * word,
                );
            }
            if link.got.words > 0 {
                self.push(
                    b".got",
                    Synth::Got,
                    elf::SHT_PROGBITS.0,
                    AW,
                    word,
                    word,
                    link.got.words * word,
                );
            }
            let reserved = arch.plt_layout().reserved_got_words;
            if dynamic_ok || link.plt.has_section() {
                self.push(
                    b".got.plt",
                    Synth::GotPlt,
                    elf::SHT_PROGBITS.0,
                    AW,
                    word,
                    word,
                    (reserved + link.plt.len() as u64) * word,
                );
            }
        }
    }

    /// The copies of imported data, writable and read-only.
    fn copies(&mut self) {
        let link = self.link;
        if link.copies.any(false) {
            self.push(
                b".dynbss",
                Synth::DynBss,
                elf::SHT_NOBITS.0,
                AW,
                link.copies.writable.align,
                0,
                link.copies.writable.size,
            );
        }
        if link.copies.any(true) {
            self.push(
                b".data.rel.ro",
                Synth::DynRelRo,
                elf::SHT_PROGBITS.0,
                AW,
                link.copies.read_only.align,
                0,
                link.copies.read_only.size,
            );
        }
    }

    /// `.eh_frame_hdr`, when asked for and there are FDEs.
    fn eh_frame_hdr(&mut self) -> Result<()> {
        let link = self.link;
        if link.opts.eh_frame_hdr {
            if let Some(count) = crate::eh_frame_hdr::count_fdes(link)? {
                self.push(
                    b".eh_frame_hdr",
                    Synth::EhFrameHdr,
                    elf::SHT_PROGBITS.0,
                    A,
                    4,
                    0,
                    12 + 8 * count,
                );
            }
        }
        Ok(())
    }

    /// The `.bss` block COMMON symbols get; returns their offsets in it.
    fn commons(&mut self) -> Vec<(SymbolId, u64)> {
        let link = self.link;
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
                let s = &link.objects[file as usize].symbols.at(sym as usize);
                let al = s.value.max(1);
                size = size.next_multiple_of(al);
                common_offsets.push((id, size));
                size += s.size;
                align = align.max(al);
            }
            self.push(
                b".bss",
                Synth::Commons,
                elf::SHT_NOBITS.0,
                AW,
                align,
                0,
                size,
            );
        }
        common_offsets
    }

    /// The thunk islands (ARM).
    fn thunks(&mut self) {
        let link = self.link;
        for (i, island) in link.thunks.islands.iter().enumerate() {
            if !island.entries.is_empty() {
                self.push(
                    crate::thunks::ISLAND_NAMES[i],
                    Synth::Thunks(i as u8),
                    elf::SHT_PROGBITS.0,
                    AX,
                    island.align,
                    0,
                    island.size,
                );
            }
        }
    }

    /// `.symtab`, `.strtab` and `.shstrtab` (sized once names are known).
    fn symbol_tables(&mut self) {
        let (link, plan) = (self.link, self.plan);
        let (word, symsize) = (self.word, self.symsize);
        if link.opts.strip == crate::strip::Strip::All {
            self.push(b".shstrtab", Synth::ShStrTab, elf::SHT_STRTAB.0, 0, 1, 0, 0);
            return;
        }
        self.push(
            b".symtab",
            Synth::SymTab,
            elf::SHT_SYMTAB.0,
            0,
            word,
            symsize,
            plan.symtab.symtab_size(symsize, link),
        );
        self.push(
            b".strtab",
            Synth::StrTab,
            elf::SHT_STRTAB.0,
            0,
            1,
            0,
            plan.symtab.strtab.len() as u64,
        );
        self.push(b".shstrtab", Synth::ShStrTab, elf::SHT_STRTAB.0, 0, 1, 0, 0);
    }
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
