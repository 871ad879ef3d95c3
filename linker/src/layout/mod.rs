//! Output sections, their order, addresses and file offsets, and the program headers.
//!
//! [`layout`] runs these passes:
//! 1. [`sections`]: input sections are grouped by name into output sections (`.text.foo` →
//!    `.text`), and those the target merges (ARM build attributes) are merged;
//! 2. [`synthetic`]: the sections the linker makes (dynamic tables, GOT, PLT, `.interp`,
//!    copies, COMMON, thunks, symbol tables) are added, absent when empty;
//! 3. [`sections`]: every output section is ranked into one of four segment classes
//!    (read-only headers and dynamic tables, code, read-only data, writable data with the
//!    RELRO part first), input sections are placed within theirs, and names are collected;
//! 4. [`segments`]: addresses and file offsets (congruent modulo the page, a fixed-address
//!    program at its image base), the load segments and the other program headers.

mod script_placement;
mod sections;
mod segments;
mod synthetic;

pub use sections::output_name;
pub use synthetic::interpreter;

use crate::dynamic::DynPlan;
use crate::error::Result;
use crate::link::Link;
use crate::options::BuildIdStyle;
use crate::symbols::{LinkerSymbol, SymbolId};
use object::elf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synth {
    /// PT_INTERP's path, for a dynamic program.
    Interp,
    BuildId,
    /// The merged `.note.gnu.property` ([`crate::gnu_property`]).
    GnuProperty,
    Hash,
    GnuHash,
    DynSym,
    DynStr,
    VerSym,
    VerDef,
    VerNeed,
    RelaDyn,
    RelaPlt,
    /// `.relr.dyn` ([`crate::relr`]).
    RelrDyn,
    Plt,
    /// `.plt.got` ([`crate::plt_got`]).
    PltGot,
    /// `.plt.sec` ([`crate::ibt_plt`]).
    PltSec,
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
    /// Values of the symbols scripts and `--defsym` expressions assign, by name.
    pub script_values: std::collections::HashMap<String, u64>,
    /// Script `BYTE`/`SHORT`/`LONG`/`QUAD` bytes: (file offset, contents).
    pub script_data: Vec<(u64, Vec<u8>)>,
    /// Header index of the output section each symbol assigned inside one is in.
    pub script_sections: std::collections::HashMap<String, u16>,
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
            LinkerSymbol::Absolute(value) => value,
            LinkerSymbol::Script { .. } => std::str::from_utf8(name)
                .ok()
                .and_then(|n| self.script_values.get(n))
                .copied()
                .unwrap_or(0),
            LinkerSymbol::TlsModuleBase => self.tls.map_or(0, |(start, _, _)| start),
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

    /// The section index of a symbol a script assigned an address (not an absolute value):
    /// the output section it was assigned in, else the one its value falls in.
    pub fn script_shndx(&self, s: &crate::symbols::Symbol) -> Option<u16> {
        match s.def {
            crate::symbols::Def::Linker(LinkerSymbol::Script {
                absolute: false, ..
            }) => self.script_section(s.name).or_else(|| {
                let value = self.linker_symbol_value(s.name)?;
                self.section_index_at(value)
            }),
            _ => None,
        }
    }

    fn linker_symbol_value(&self, name: &[u8]) -> Option<u64> {
        std::str::from_utf8(name)
            .ok()
            .and_then(|n| self.script_values.get(n))
            .copied()
    }

    /// The header index of the output section a script assigned symbol `name` inside.
    pub fn script_section(&self, name: &[u8]) -> Option<u16> {
        std::str::from_utf8(name)
            .ok()
            .and_then(|n| self.script_sections.get(n))
            .copied()
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

pub fn build_id_size(b: &BuildIdStyle) -> u64 {
    16 + (crate::build_id::id_len(b) as u64).next_multiple_of(4)
}

pub fn layout(link: &Link, plan: &DynPlan) -> Result<Layout> {
    let mut script = script_placement::Placer::new(link)?;
    let mut sections = match script.as_mut() {
        Some(p) => p.group_inputs(link),
        None => sections::group_inputs(link),
    };
    let merged = sections::merge_target_sections(link, &mut sections)?;
    let common_offsets = synthetic::add(link, plan, &mut sections)?;
    let mut sections = sections::order(sections);
    if let Some(p) = &script {
        p.reorder(&mut sections);
    }
    let placement = sections::place_inputs(link, &mut sections, script.as_mut());
    if let Some(p) = &script {
        p.check()?;
    }
    let (shstrtab, sh_names) = sections::names(&mut sections);
    let placed = segments::place(link, &mut sections)?;
    let commons = match sections
        .iter()
        .find(|s| matches!(s.content, Content::Synthetic(Synth::Commons)))
    {
        Some(s) => common_offsets
            .into_iter()
            .map(|(id, off)| (id, s.addr + off))
            .collect(),
        None => Vec::new(),
    };
    let mut layout = Layout {
        sections,
        placement,
        commons,
        phdrs: placed.phdrs,
        tls: placed.tls,
        shoff: placed.shoff,
        file_size: placed.file_size,
        shstrtab,
        sh_names,
        merged,
        base: placed.base,
        script_values: Default::default(),
        script_data: Vec::new(),
        script_sections: Default::default(),
    };
    let evaluated = script_placement::evaluate(link, &layout, script.as_ref())?;
    layout.script_values = evaluated.values;
    layout.script_data = evaluated.data;
    layout.script_sections = evaluated.sections;
    Ok(layout)
}

/// Writes the scripts' data statements into the image (the rest of their sections are
/// inputs, written as usual).
pub fn write_script_data(layout: &Layout, image: &mut [u8]) {
    for (offset, bytes) in &layout.script_data {
        let at = *offset as usize;
        if let Some(dst) = image.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }
}
