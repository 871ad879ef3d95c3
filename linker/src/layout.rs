//! Output sections, their order, addresses and file offsets, and the program headers.
//!
//! Input sections are grouped by name into output sections (`.text.foo` → `.text`), then
//! every output section — input-backed or synthetic — is ranked into one of four segments
//! (read-only headers and dynamic tables, code, read-only data, writable data with the RELRO
//! part first). Each segment starts on a new page and addresses equal file offsets, so the
//! `p_offset ≡ p_vaddr (mod page)` rule holds trivially.

use crate::dynamic::DynPlan;
use crate::error::{LinkError, Result};
use crate::link::Link;
use crate::options::BuildIdStyle;
use crate::symbols::{Def, LinkerSymbol, SymbolId};
use object::elf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synth {
    /// PT_INTERP's path, for a dynamic program.
    Interp,
    BuildId,
    Hash,
    GnuHash,
    DynSym,
    DynStr,
    VerSym,
    VerDef,
    VerNeed,
    RelaDyn,
    RelaPlt,
    Plt,
    /// Range-extension / interworking thunks ([`crate::thunks`]), by island.
    Thunks(u8),
    Dynamic,
    Got,
    GotPlt,
    EhFrameHdr,
    Commons,
    /// Copies of imported data ([`crate::copies`]) the library writes, and those it does not.
    DynBss,
    DynRelRo,
    /// An output section the target merged from its inputs ([`Layout::merged`]).
    Merged(u32),
    SymTab,
    StrTab,
    ShStrTab,
}

#[derive(Debug)]
pub enum Content {
    /// (object, section) pairs in output order.
    Inputs(Vec<(u32, u32)>),
    Synthetic(Synth),
}

#[derive(Debug)]
pub struct OutSection {
    pub name: Vec<u8>,
    pub sh_type: u32,
    pub flags: u64,
    pub align: u64,
    pub entsize: u64,
    pub content: Content,
    pub size: u64,
    pub addr: u64,
    pub offset: u64,
    rank: u32,
}

impl OutSection {
    pub fn is_alloc(&self) -> bool {
        self.flags & elf::SHF_ALLOC.0 != 0
    }
    pub fn is_nobits(&self) -> bool {
        self.sh_type == elf::SHT_NOBITS.0
    }
    /// Loaded code: what ARM's exidx coverage and mapping need to see.
    pub fn is_alloc_code(&self) -> bool {
        self.is_alloc() && self.flags & elf::SHF_EXECINSTR.0 != 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Phdr {
    pub p_type: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

pub struct Layout {
    /// In section-header order (header index = position + 1).
    pub sections: Vec<OutSection>,
    /// For each object and input section: (output section position, offset within it).
    pub placement: Vec<Vec<Option<(u32, u64)>>>,
    /// Address of each COMMON symbol allocated by the linker (by symbol id).
    pub commons: Vec<(SymbolId, u64)>,
    pub phdrs: Vec<Phdr>,
    /// Start and end of the TLS template (for DTPOFF / TPOFF), and its alignment.
    pub tls: Option<(u64, u64, u64)>,
    pub shoff: u64,
    pub file_size: u64,
    pub shstrtab: Vec<u8>,
    /// `sh_name` of each section, parallel to `sections`.
    pub sh_names: Vec<u32>,
    /// Contents of the [`Synth::Merged`] sections.
    pub merged: Vec<Vec<u8>>,
    /// Address of the ELF header (the image's first byte): 0 but in a fixed-address program.
    pub base: u64,
}

impl Layout {
    pub fn find(&self, synth: Synth) -> Option<(usize, &OutSection)> {
        self.sections
            .iter()
            .enumerate()
            .find(|(_, s)| matches!(s.content, Content::Synthetic(x) if x == synth))
    }
    pub fn addr_of(&self, synth: Synth) -> u64 {
        self.find(synth).map(|(_, s)| s.addr).unwrap_or(0)
    }
    /// The value of a symbol the linker defines.
    pub fn linker_symbol(&self, link: &Link, which: LinkerSymbol, name: &[u8]) -> u64 {
        let alloc = || self.sections.iter().filter(|s| s.is_alloc());
        let end_of = |s: &OutSection| s.addr + s.size;
        let tls_bss = |s: &OutSection| s.is_nobits() && s.flags & elf::SHF_TLS.0 != 0;
        let data_end = || {
            alloc()
                .filter(|s| !s.is_nobits())
                .map(end_of)
                .max()
                .unwrap_or(self.base)
        };
        match which {
            LinkerSymbol::Dynamic => self.addr_of(Synth::Dynamic),
            LinkerSymbol::GlobalOffsetTable => self.addr_of(Synth::GotPlt),
            LinkerSymbol::SectionStart | LinkerSymbol::SectionStop => {
                let section =
                    crate::symbols::start_stop_section(name).and_then(|n| self.by_name(n));
                match (section, which) {
                    (Some(sec), LinkerSymbol::SectionStart) => sec.addr,
                    (Some(sec), _) => end_of(sec),
                    (None, _) => 0,
                }
            }
            LinkerSymbol::ImageStart => self.base,
            LinkerSymbol::TextEnd => alloc()
                .filter(|s| s.is_alloc_code())
                .map(end_of)
                .max()
                .unwrap_or(self.base),
            LinkerSymbol::DataEnd => data_end(),
            LinkerSymbol::BssStart => alloc()
                .filter(|s| s.is_nobits() && !tls_bss(s))
                .map(|s| s.addr)
                .min()
                .unwrap_or_else(data_end),
            LinkerSymbol::End => alloc()
                .filter(|s| !tls_bss(s))
                .map(end_of)
                .max()
                .unwrap_or(self.base),
            LinkerSymbol::ArrayStart | LinkerSymbol::ArrayEnd => {
                let section = crate::symbols::array_section(name).and_then(|n| self.by_name(n));
                match (section, which) {
                    (Some(sec), LinkerSymbol::ArrayStart) => sec.addr,
                    (Some(sec), _) => end_of(sec),
                    (None, _) => data_end(),
                }
            }
            LinkerSymbol::IpltStart | LinkerSymbol::IpltEnd => {
                let iplt = self
                    .find(Synth::RelaDyn)
                    .map(|(_, s)| s)
                    .filter(|_| !link.kind.is_dynamic());
                match (iplt, which) {
                    (Some(sec), LinkerSymbol::IpltStart) => sec.addr,
                    (Some(sec), _) => end_of(sec),
                    (None, _) => 0,
                }
            }
        }
    }

    /// The header index of the allocated section holding `addr` (its end included), for
    /// symbols the linker defines.
    pub fn section_index_at(&self, addr: u64) -> Option<u16> {
        self.sections
            .iter()
            .position(|s| s.is_alloc() && s.addr <= addr && addr <= s.addr + s.size && s.size > 0)
            .map(|i| i as u16 + 1)
    }

    pub fn by_name(&self, name: &[u8]) -> Option<&OutSection> {
        self.sections.iter().find(|s| s.name == name)
    }
    /// Address of input section `sec` of object `file`, if it is in the output.
    pub fn input_addr(&self, file: usize, sec: usize) -> Option<u64> {
        let (out, offset) = self.placement[file].get(sec).copied().flatten()?;
        Some(self.sections[out as usize].addr + offset)
    }
}

/// Largest output (address span or file) tether produces: 64 GiB.
const MAX_OUTPUT: u64 = 1 << 36;

/// The output section an input section belongs to.
fn output_name(name: &[u8]) -> &[u8] {
    const PREFIXES: &[&[u8]] = &[
        b".text",
        b".rodata",
        b".data.rel.ro",
        b".data",
        b".bss",
        b".tdata",
        b".tbss",
        b".preinit_array",
        b".init_array",
        b".fini_array",
        b".gcc_except_table",
        // ARM unwind tables: `.ARM.exidx.text.f` goes with `.text.f` into one table.
        b".ARM.exidx",
        b".ARM.extab",
    ];
    for p in PREFIXES {
        if name == *p || (name.starts_with(p) && name.get(p.len()) == Some(&b'.')) {
            return p;
        }
    }
    name
}

/// Sort key: segment and position within it (see the module comment).
fn rank(name: &[u8], sh_type: u32, flags: u64) -> u32 {
    let alloc = flags & elf::SHF_ALLOC.0 != 0;
    let write = flags & elf::SHF_WRITE.0 != 0;
    let exec = flags & elf::SHF_EXECINSTR.0 != 0;
    let tls = flags & elf::SHF_TLS.0 != 0;
    if !alloc {
        return match name {
            b".symtab" => 1050,
            b".strtab" => 1051,
            b".shstrtab" => 1100,
            _ => 1000,
        };
    }
    match name {
        b".interp" => return 5,
        b".note.gnu.build-id" => return 10,
        b".hash" => return 20,
        b".gnu.hash" => return 21,
        b".dynsym" => return 22,
        b".dynstr" => return 23,
        b".gnu.version" => return 24,
        b".gnu.version_d" => return 25,
        b".gnu.version_r" => return 26,
        b".rela.dyn" | b".rel.dyn" => return 27,
        b".rela.plt" | b".rel.plt" => return 28,
        b".init" => return 30,
        b".plt" | b".text.thunks" => return 31,
        b".text.thunks.end" => return 33,
        b".text" => return 32,
        b".fini" => return 34,
        b".rodata" => return 40,
        b".eh_frame_hdr" => return 42,
        b".eh_frame" => return 43,
        b".gcc_except_table" => return 44,
        b".tdata" => return 50,
        b".tbss" => return 51,
        b".preinit_array" => return 52,
        b".init_array" => return 53,
        b".fini_array" => return 54,
        b".data.rel.ro" => return 55,
        b".dynamic" => return 56,
        b".got" => return 57,
        b".got.plt" => return 60,
        b".data" => return 61,
        b".dynbss" => return 63,
        b".bss" => return 64,
        _ => {}
    }
    if sh_type == elf::SHT_NOTE.0 {
        11
    } else if tls {
        if sh_type == elf::SHT_NOBITS.0 {
            51
        } else {
            50
        }
    } else if exec {
        33
    } else if !write {
        41
    } else if sh_type == elf::SHT_NOBITS.0 {
        63
    } else {
        62
    }
}

/// The segment a rank belongs to: 0 = R (headers), 1 = RX, 2 = R, 3 = RW.
fn segment_of(rank: u32) -> Option<usize> {
    match rank {
        0..=29 => Some(0),
        30..=39 => Some(1),
        40..=49 => Some(2),
        50..=99 => Some(3),
        _ => None,
    }
}

fn is_relro(rank: u32) -> bool {
    (50..60).contains(&rank)
}

/// `.init_array.NNNNN` priority; plain `.init_array` runs after every prioritised one.
fn init_priority(name: &[u8]) -> u32 {
    let digits = name.rsplit(|&b| b == b'.').next().unwrap_or(b"");
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(65536)
}

pub fn build_id_size(b: &BuildIdStyle) -> u64 {
    16 + (crate::build_id::id_len(b) as u64).next_multiple_of(4)
}

pub fn layout(link: &Link, plan: &DynPlan) -> Result<Layout> {
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

    // Group input sections by output name, keeping first-seen order for determinism.
    let mut sections: Vec<OutSection> = Vec::new();
    let mut by_name: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    for (f, obj) in link.objects.iter().enumerate() {
        for (s, sec) in obj.sections.iter().enumerate() {
            if !sec.live || s == 0 {
                continue;
            }
            let name = output_name(sec.name);
            let idx = *by_name.entry(name).or_insert_with(|| {
                sections.push(OutSection {
                    name: name.to_vec(),
                    sh_type: sec.sh_type,
                    flags: 0,
                    align: 1,
                    entsize: 0,
                    content: Content::Inputs(Vec::new()),
                    size: 0,
                    addr: 0,
                    offset: 0,
                    rank: 0,
                });
                sections.len() - 1
            });
            let out = &mut sections[idx];
            // Merge-string flags cannot survive plain concatenation of differently sized entries.
            out.flags |= sec.flags & !(elf::SHF_MERGE.0 | elf::SHF_STRINGS.0 | elf::SHF_GROUP.0);
            if out.sh_type == elf::SHT_NOBITS.0 && sec.sh_type != elf::SHT_NOBITS.0 {
                out.sh_type = sec.sh_type;
            }
            if let Content::Inputs(list) = &mut out.content {
                list.push((f as u32, s as u32));
            }
        }
    }
    for out in sections.iter_mut() {
        if matches!(
            &out.name[..],
            b".init_array" | b".fini_array" | b".preinit_array"
        ) {
            if let Content::Inputs(list) = &mut out.content {
                list.sort_by_key(|&(f, s)| {
                    init_priority(link.objects[f as usize].sections[s as usize].name)
                });
            }
        }
    }

    // Sections the target merges rather than concatenates (ARM build attributes).
    let mut merged = Vec::new();
    for out in sections.iter_mut() {
        let Content::Inputs(list) = &out.content else {
            continue;
        };
        let inputs: Vec<(&str, &[u8])> = list
            .iter()
            .map(|&(f, s)| {
                let obj = &link.objects[f as usize];
                (obj.name.as_str(), obj.sections[s as usize].data)
            })
            .collect();
        if let Some(result) = arch.merge_sections(out.sh_type, &inputs) {
            let bytes = result.map_err(LinkError::Other)?;
            out.size = bytes.len() as u64;
            out.content = Content::Synthetic(Synth::Merged(merged.len() as u32));
            merged.push(bytes);
        }
    }

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

    for s in sections.iter_mut() {
        s.rank = rank(&s.name, s.sh_type, s.flags);
    }
    // Stable: equal ranks keep first-seen order (input sections before the COMMON block).
    let mut order: Vec<usize> = (0..sections.len()).collect();
    order.sort_by_key(|&i| sections[i].rank);
    let mut slots: Vec<Option<OutSection>> = sections.into_iter().map(Some).collect();
    let mut sections: Vec<OutSection> = order.iter().filter_map(|&i| slots[i].take()).collect();

    // Offsets of input sections within their output sections.
    let mut placement: Vec<Vec<Option<(u32, u64)>>> = link
        .objects
        .iter()
        .map(|o| vec![None; o.sections.len()])
        .collect();
    let code_sections = sections.iter().filter(|s| s.is_alloc_code()).count();
    for (oi, out) in sections.iter_mut().enumerate() {
        let Content::Inputs(list) = &out.content else {
            continue;
        };
        let mut size = 0u64;
        let mut align = 1u64;
        // `.eh_frame` is read as one list of records up to a zero word: padding between
        // inputs would end it early (crtbeginT.o's empty section marks where a static
        // program's unwinder starts), and records only need 4-byte alignment.
        let eh_frame = out.name == b".eh_frame";
        for &(f, s) in list {
            let sec = &link.objects[f as usize].sections[s as usize];
            let sec_align = if eh_frame {
                sec.align.min(4)
            } else {
                sec.align
            };
            size = size.next_multiple_of(sec_align);
            placement[f as usize][s as usize] = Some((oi as u32, size));
            size += sec.size;
            align = align.max(sec_align);
        }
        out.size = size + arch.section_tail(out.sh_type, code_sections);
        out.align = align;
    }

    // Section names.
    let mut shstrtab = vec![0u8];
    let mut sh_names = Vec::with_capacity(sections.len());
    for s in &sections {
        sh_names.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(&s.name);
        shstrtab.push(0);
    }
    if let Some(s) = sections
        .iter_mut()
        .find(|s| matches!(s.content, Content::Synthetic(Synth::ShStrTab)))
    {
        s.size = shstrtab.len() as u64;
    }

    let is_tls_bss = |s: &OutSection| s.is_nobits() && s.flags & elf::SHF_TLS.0 != 0;
    let has = |pred: &dyn Fn(&OutSection) -> bool| sections.iter().any(pred);
    let has_tls = has(&|s| s.flags & elf::SHF_TLS.0 != 0);
    let has_note = has(&|s| s.sh_type == elf::SHT_NOTE.0 && s.is_alloc());
    let has_relro = link.opts.relro && has(&|s| is_relro(s.rank));
    let has_dynamic = has(&|s| matches!(s.content, Content::Synthetic(Synth::Dynamic)));
    let has_ehdr = has(&|s| matches!(s.content, Content::Synthetic(Synth::EhFrameHdr)));
    let has_interp = has(&|s| s.name == b".interp" && s.is_alloc());
    let arch_phdrs: Vec<(u32, u32)> = sections
        .iter()
        .filter(|s| s.is_alloc())
        .filter_map(|s| arch.section_phdr(s.sh_type).map(|p| (p, s.sh_type)))
        .fold(Vec::new(), |mut seen, pair| {
            if !seen.contains(&pair) {
                seen.push(pair);
            }
            seen
        });
    let other_phdrs = arch_phdrs.len()
        + usize::from(has_dynamic)
        + usize::from(has_note)
        + usize::from(has_tls)
        + usize::from(has_ehdr)
        + 1
        + usize::from(has_relro)
        + 2 * usize::from(has_interp);
    let (ehsize, phentsize) = if is64 { (64u64, 56u64) } else { (52, 32) };
    let page = arch.page_size();
    let base = if link.kind.is_fixed_address() {
        link.opts.image_base.unwrap_or(arch.default_image_base())
    } else {
        0
    };
    if base % page != 0 {
        return Err(LinkError::Other(format!(
            "--image-base {base:#x} is not a multiple of the page size {page:#x}"
        )));
    }
    // The load segments are only known once addresses are (an over-aligned section starts a
    // segment of its own), and the headers they follow have one entry per segment: assign
    // until the count settles.
    let mut loads = 1;
    let runs = loop {
        let headers = ehsize + phentsize * (loads + other_phdrs) as u64;
        let separate_code = link
            .opts
            .separate_code
            .unwrap_or(arch.separate_code_by_default());
        let runs = assign_addresses(&mut sections, base, headers, page, has_relro, separate_code)?;
        if runs.len() == loads {
            break runs;
        }
        loads = runs.len();
    };
    let phnum = loads + other_phdrs;
    let headers_end = base + ehsize + phentsize * phnum as u64;

    // Non-allocated sections follow the last byte with file contents.
    let mut file_cur = sections
        .iter()
        .filter(|s| s.is_alloc() && !s.is_nobits())
        .map(|s| s.offset + s.size)
        .max()
        .unwrap_or(headers_end - base);
    for s in sections.iter_mut().filter(|s| !s.is_alloc()) {
        file_cur = file_cur.next_multiple_of(s.align.max(1));
        s.offset = file_cur;
        s.addr = 0;
        file_cur += s.size;
    }
    let shoff = file_cur.next_multiple_of(word);
    let shentsize = if is64 { 64 } else { 40 };
    let file_size = shoff + shentsize * (sections.len() as u64 + 1);
    let span_end = sections
        .iter()
        .filter(|s| s.is_alloc())
        .map(|s| s.addr + s.size)
        .max()
        .unwrap_or(base);
    if span_end - base > MAX_OUTPUT || file_size > MAX_OUTPUT {
        return Err(LinkError::Other(format!(
            "output would span {:#x} bytes of address space: too large",
            span_end - base
        )));
    }

    let mut phdrs = Vec::with_capacity(phnum);
    if has_interp {
        phdrs.push(Phdr {
            p_type: elf::PT_PHDR.0,
            flags: elf::PF_R.0,
            offset: ehsize,
            vaddr: base + ehsize,
            filesz: phentsize * phnum as u64,
            memsz: phentsize * phnum as u64,
            align: word,
        });
    }
    let span = |pred: &dyn Fn(&OutSection) -> bool| -> Option<(u64, u64, u64, u64, u64)> {
        let m: Vec<&OutSection> = sections.iter().filter(|s| pred(s)).collect();
        let first = m.iter().min_by_key(|s| s.addr)?;
        let (start, offset) = (first.addr, first.offset);
        let fend = m
            .iter()
            .filter(|s| !s.is_nobits())
            .map(|s| s.addr + s.size)
            .max()
            .unwrap_or(start);
        let mend = m.iter().map(|s| s.addr + s.size).max().unwrap_or(start);
        let align = m.iter().map(|s| s.align).max().unwrap_or(1);
        Some((
            start,
            offset,
            fend.max(start) - start,
            mend.max(fend) - start,
            align,
        ))
    };
    let push_span = |phdrs: &mut Vec<Phdr>,
                     p_type: u32,
                     flags: u32,
                     sp: Option<(u64, u64, u64, u64, u64)>,
                     align: Option<u64>| {
        if let Some((start, offset, filesz, memsz, al)) = sp {
            phdrs.push(Phdr {
                p_type,
                flags,
                offset,
                vaddr: start,
                filesz,
                memsz,
                align: align.unwrap_or(al),
            });
        }
    };
    if has_interp {
        push_span(
            &mut phdrs,
            elf::PT_INTERP.0,
            elf::PF_R.0,
            span(&|s| s.name == b".interp" && s.is_alloc()),
            Some(1),
        );
    }
    for (n, run) in runs.iter().enumerate() {
        let members = &sections[run.first..run.end];
        let (start, offset) = if n == 0 {
            (base, 0)
        } else {
            (members[0].addr, members[0].offset)
        };
        let file_end = members
            .iter()
            .filter(|s| !s.is_nobits())
            .map(|s| s.addr + s.size)
            .max()
            .unwrap_or(start)
            .max(if n == 0 { headers_end } else { start });
        let mem_end = members
            .iter()
            .filter(|s| !is_tls_bss(s))
            .map(|s| s.addr + s.size)
            .max()
            .unwrap_or(file_end)
            .max(file_end);
        let flags = match run.segment {
            1 => elf::PF_R.0 | elf::PF_X.0,
            3 => elf::PF_R.0 | elf::PF_W.0,
            _ => elf::PF_R.0,
        };
        phdrs.push(Phdr {
            p_type: elf::PT_LOAD.0,
            flags,
            offset,
            vaddr: start,
            filesz: file_end - start,
            memsz: mem_end - start,
            align: page,
        });
    }
    let rw = elf::PF_R.0 | elf::PF_W.0;
    if has_dynamic {
        push_span(
            &mut phdrs,
            elf::PT_DYNAMIC.0,
            rw,
            span(&|s| matches!(s.content, Content::Synthetic(Synth::Dynamic))),
            Some(word),
        );
    }
    if has_note {
        push_span(
            &mut phdrs,
            elf::PT_NOTE.0,
            elf::PF_R.0,
            span(&|s| s.sh_type == elf::SHT_NOTE.0 && s.is_alloc()),
            None,
        );
    }
    let tls_span = span(&|s| s.flags & elf::SHF_TLS.0 != 0);
    if has_tls {
        push_span(&mut phdrs, elf::PT_TLS.0, elf::PF_R.0, tls_span, None);
    }
    if has_ehdr {
        push_span(
            &mut phdrs,
            elf::PT_GNU_EH_FRAME.0,
            elf::PF_R.0,
            span(&|s| matches!(s.content, Content::Synthetic(Synth::EhFrameHdr))),
            Some(4),
        );
    }
    for &(p_type, sh_type) in &arch_phdrs {
        push_span(
            &mut phdrs,
            p_type,
            elf::PF_R.0,
            span(&|s| s.sh_type == sh_type && s.is_alloc()),
            None,
        );
    }
    let stack_flags = if link.opts.exec_stack {
        rw | elf::PF_X.0
    } else {
        rw
    };
    phdrs.push(Phdr {
        p_type: elf::PT_GNU_STACK.0,
        flags: stack_flags,
        align: 16,
        ..Phdr::default()
    });
    if has_relro {
        if let Some((start, offset, _, memsz, _)) = span(&|s| is_relro(s.rank) && !is_tls_bss(s)) {
            // Cover up to the page boundary the writable part starts at, as GNU ld does.
            let end = (start + memsz).next_multiple_of(page);
            phdrs.push(Phdr {
                p_type: elf::PT_GNU_RELRO.0,
                flags: elf::PF_R.0,
                offset,
                vaddr: start,
                filesz: end - start,
                memsz: end - start,
                align: 1,
            });
        }
    }
    debug_assert_eq!(phdrs.len(), phnum);

    let tls = tls_span.map(|(start, _, _, memsz, align)| (start, start + memsz, align));
    let section_addr = |synth: Synth| {
        sections
            .iter()
            .find(|s| matches!(s.content, Content::Synthetic(x) if x == synth))
            .map(|s| s.addr)
    };
    let commons = match section_addr(Synth::Commons) {
        Some(addr) => common_offsets
            .into_iter()
            .map(|(id, off)| (id, addr + off))
            .collect(),
        None => Vec::new(),
    };
    Ok(Layout {
        sections,
        placement,
        commons,
        phdrs,
        tls,
        shoff,
        file_size,
        shstrtab,
        sh_names,
        merged,
        base,
    })
}

/// A run of allocated sections that one PT_LOAD maps: segment class (0 = R headers, 1 = RX,
/// 2 = R, 3 = RW) and the first and last section index.
struct Run {
    segment: usize,
    first: usize,
    /// Past the last section (`first` when the run holds only the headers).
    end: usize,
}

/// Gives allocated sections their addresses and file offsets, in order after `headers`
/// bytes of headers at `base`, and returns the load segments. A segment starts on a new page
/// in memory and in the file; within one, offsets follow addresses, except that a section
/// aligned past the next page starts a segment of its own, so an alignment gap never has to
/// be written out as zeros (offsets only need to be congruent to addresses modulo the page).
/// Without `separate_code`, headers, code and read-only data share one RX segment.
fn assign_addresses(
    sections: &mut [OutSection],
    base: u64,
    headers: u64,
    page: u64,
    has_relro: bool,
    separate_code: bool,
) -> Result<Vec<Run>> {
    let mut addr = base + headers;
    let mut off = headers;
    let class = |seg: usize| if !separate_code && seg < 3 { 1 } else { seg };
    // The headers are always loaded, at the start of the first segment.
    let mut runs = vec![Run {
        segment: class(0),
        first: 0,
        end: 0,
    }];
    let mut relro_done = false;
    for (i, s) in sections.iter_mut().enumerate() {
        let Some(seg) = segment_of(s.rank).map(class) else {
            break;
        };
        let mut new_run = runs.last().is_some_and(|r| r.segment != seg);
        if has_relro && !is_relro(s.rank) && seg == 3 && !relro_done {
            // The loader makes [relro start, page-rounded end) read-only: the writable part
            // must begin on a fresh page.
            relro_done = true;
            addr = addr.next_multiple_of(page);
            off = off.next_multiple_of(page);
        }
        if is_relro(s.rank) && s.is_nobits() && s.flags & elf::SHF_TLS.0 == 0 {
            return Err(LinkError::Other(format!(
                "{}: NOBITS section in RELRO is not supported",
                String::from_utf8_lossy(&s.name)
            )));
        }
        if new_run {
            addr = addr.next_multiple_of(page);
            off = off.next_multiple_of(page);
        }
        let aligned = addr
            .checked_next_multiple_of(s.align.max(1))
            .filter(|a| *a - base <= MAX_OUTPUT)
            .ok_or_else(|| {
                LinkError::Other(format!(
                    "section {}: alignment {:#x} puts it outside the address space",
                    String::from_utf8_lossy(&s.name),
                    s.align
                ))
            })?;
        let gap = aligned - addr;
        if gap >= page {
            new_run = true;
        }
        off += if gap >= page { gap % page } else { gap };
        addr = aligned;
        s.addr = addr;
        s.offset = off;
        if new_run {
            runs.push(Run {
                segment: seg,
                first: i,
                end: i + 1,
            });
        } else if let Some(r) = runs.last_mut() {
            r.end = i + 1;
        }
        // `.tbss` occupies no address space outside the TLS template.
        if !(s.is_nobits() && s.flags & elf::SHF_TLS.0 != 0) {
            addr += s.size;
        }
        if !s.is_nobits() {
            off += s.size;
        }
    }
    Ok(runs)
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
