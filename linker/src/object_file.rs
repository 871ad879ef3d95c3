//! Relocatable objects (`ET_REL`), read into an arch-neutral view that borrows the mapped
//! file: names and section contents are slices of the input, never copies.
//!
//! Parsing is generic over ELF32/ELF64 through `object::read::elf::FileHeader`; everything
//! downstream sees plain `u64` values.

use crate::arch::Arch;
use crate::error::{sym_name, LinkError, Result};
use crate::reloc_list::RelocList;
use crate::symbol_list::{IntoSymbolList, SymbolList};
use object::elf;
use object::read::elf::{Rel as _, Rela as _, SectionHeader as _};
use object::Endianness;

/// Largest input section alignment accepted (1 GiB).
const MAX_ALIGN: u64 = 1 << 30;
/// Largest input section size accepted (16 GiB, also for NOBITS).
const MAX_SECTION_SIZE: u64 = 1 << 34;

/// Where an input symbol is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymPlace {
    Undefined,
    Absolute,
    /// `SHN_COMMON`: the value is the required alignment.
    Common,
    Section(u32),
}

/// One symbol of an object, read from its table when asked for ([`crate::symbol_list`]).
#[derive(Clone, Copy, Debug)]
pub struct InputSymbol<'d> {
    pub name: SymbolName<'d>,
    pub value: u64,
    pub size: u64,
    pub place: SymPlace,
    pub bind: u8,
    pub ty: u8,
    pub visibility: u8,
}

/// A symbol's name, looked up in the string table only when used: most readers of a symbol
/// want its place and value, and finding the end of a name is the costly part of reading it.
#[derive(Clone, Copy, Debug)]
pub enum SymbolName<'d> {
    Known(&'d [u8]),
    /// The string table from the name's first byte on; the parser checked that a NUL ends
    /// the name.
    InTable(&'d [u8]),
}

impl<'d> InputSymbol<'d> {
    pub fn is_weak(&self) -> bool {
        self.bind == elf::STB_WEAK.0
    }

    /// The name, known to be `len` bytes long (as [`ObjectFile::global_name_lens`] says).
    pub fn name_of_len(&self, len: u32) -> &'d [u8] {
        match self.name {
            SymbolName::Known(name) => name,
            SymbolName::InTable(tail) => tail.get(..len as usize).unwrap_or(tail),
        }
    }

    pub fn name(&self) -> &'d [u8] {
        match self.name {
            SymbolName::Known(name) => name,
            SymbolName::InTable(tail) => match memchr::memchr(0, tail) {
                Some(end) => &tail[..end],
                None => tail,
            },
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Reloc {
    pub offset: u64,
    pub r_type: u32,
    pub sym: u32,
    pub addend: i64,
}

#[derive(Debug)]
pub struct InputSection<'d> {
    pub name: &'d [u8],
    pub sh_type: u32,
    pub flags: u64,
    pub align: u64,
    pub size: u64,
    /// Empty for `SHT_NOBITS`.
    pub data: &'d [u8],
    pub entsize: u64,
    /// `sh_link`: for an SHF_LINK_ORDER section (ARM `.ARM.exidx.*`), the code it describes.
    pub link: u32,
    pub relocs: RelocList<'d>,
    /// False when the section is dropped: a duplicate COMDAT group member, `SHF_EXCLUDE`,
    /// or metadata the output does not carry.
    pub live: bool,
}

impl InputSection<'_> {
    pub fn is_alloc(&self) -> bool {
        self.flags & elf::SHF_ALLOC.0 != 0
    }
}

/// A COMDAT group: its signature and member section indices.
#[derive(Debug)]
pub struct Group<'d> {
    pub signature: &'d [u8],
    /// The symbol (index in this object) that names the group (`sh_info`).
    pub signature_sym: u32,
    pub members: Vec<u32>,
}

#[derive(Debug)]
pub struct ObjectFile<'d> {
    /// `path` or `archive(member)`, for messages.
    pub name: String,
    /// The archive this object came from (for `--exclude-libs`), by file name.
    pub archive: Option<String>,
    pub machine: u16,
    pub flags: u32,
    pub sections: Vec<InputSection<'d>>,
    pub symbols: SymbolList<'d>,
    pub first_global: usize,
    /// [`crate::symbols::name_hash`] of each global's name (index `sym - first_global`),
    /// computed while objects are parsed in parallel so resolution, on one thread, only
    /// probes.
    pub global_hashes: Vec<u64>,
    /// The length of each global's name (index `sym - first_global`), so that resolution
    /// need not look for its end. Resolution takes both tables: they are empty after it.
    pub global_name_lens: Vec<u32>,
    pub groups: Vec<Group<'d>>,
    /// Contains `.note.GNU-stack` with SHF_EXECINSTR: asks for an executable stack. (An object
    /// without the note does not: ld.bfd would assume it does, tether stays non-executable.)
    pub wants_exec_stack: bool,
}

impl<'d> ObjectFile<'d> {
    pub fn parse(
        name: String,
        archive: Option<String>,
        data: &'d [u8],
        arch: Option<&dyn Arch>,
    ) -> Result<Self> {
        match data.get(4) {
            Some(&c) if c == elf::ELFCLASS64.0 => {
                parse::<elf::FileHeader64<Endianness>>(name, archive, data, arch)
            }
            Some(&c) if c == elf::ELFCLASS32.0 => {
                parse::<elf::FileHeader32<Endianness>>(name, archive, data, arch)
            }
            _ => Err(LinkError::malformed(&name, "not an ELF file (bad class)")),
        }
    }
}

/// Reads the machine of an ELF file without parsing the rest.
pub fn elf_machine(data: &[u8]) -> Option<u16> {
    let bytes = data.get(18..20)?;
    match data.get(5)? {
        &d if d == elf::ELFDATA2LSB.0 => Some(u16::from_le_bytes([bytes[0], bytes[1]])),
        _ => Some(u16::from_be_bytes([bytes[0], bytes[1]])),
    }
}

fn parse<'d, E: IntoSymbolList>(
    name: String,
    archive: Option<String>,
    data: &'d [u8],
    arch: Option<&dyn Arch>,
) -> Result<ObjectFile<'d>> {
    let bad = |what: &dyn std::fmt::Display| LinkError::malformed(&name, what);
    let header = E::parse(data).map_err(|e| bad(&e))?;
    let endian = header.endian().map_err(|e| bad(&e))?;
    if header.e_type(endian) != elf::ET_REL {
        return Err(bad(&"not a relocatable object"));
    }
    let table = header
        .sections(endian, data)
        .map_err(|e| bad(&format!("section headers: {e}")))?;
    let mut sections = Vec::with_capacity(table.len());
    for (index, header) in table.enumerate() {
        let sh_type = header.sh_type(endian).0;
        let name_bytes = table.section_name(endian, header).map_err(|_| {
            bad(&format!(
                "section {}: its name (offset {:#x} in the section name table) lies outside that table",
                index.0,
                header.sh_name(endian)
            ))
        })?;
        let label = section_label(index.0, name_bytes);
        let size: u64 = header.sh_size(endian).into();
        let section_data = if sh_type == elf::SHT_NOBITS.0 {
            &[][..]
        } else {
            header.data(endian, data).map_err(|_| {
                let offset: u64 = header.sh_offset(endian).into();
                bad(&format!(
                    "{label}: data at offset {offset:#x} with size {size:#x} lies outside the file ({} bytes)",
                    data.len()
                ))
            })?
        };
        let flags: u64 = header.sh_flags(endian).0;
        let align: u64 = header.sh_addralign(endian).into().max(1);
        // Bounds that keep layout arithmetic far from overflow; real objects are nowhere near.
        if !align.is_power_of_two() || align > MAX_ALIGN {
            return Err(bad(&format!(
                "{label} has an unsupported alignment {align:#x}"
            )));
        }
        if size > MAX_SECTION_SIZE {
            return Err(bad(&format!("{label} has an implausible size {size:#x}")));
        }
        let live = !(flags & elf::SHF_EXCLUDE.0 != 0
            || matches!(name_bytes, b".note.GNU-stack" | b".note.gnu.property")
            || name_bytes.starts_with(b".gnu.lto_"));
        sections.push(InputSection {
            name: name_bytes,
            sh_type,
            flags,
            align,
            size,
            data: section_data,
            entsize: header.sh_entsize(endian).into(),
            link: header.sh_link(endian),
            relocs: RelocList::default(),
            live,
        });
    }

    let symtab = table
        .symbols(endian, data, elf::SHT_SYMTAB)
        .map_err(|e| bad(&format!("symbol table: {e}")))?;
    let strings = sections
        .get(symtab.string_section().0)
        .map_or(&[][..], |s| s.data);
    let symbols = E::symbol_list(symtab, endian, strings);
    let checked = check_symbols(&symbols, sections.len()).map_err(|e| bad(&e))?;
    let first_global = checked.first_global;

    let mut groups = Vec::new();
    for (index, header) in table.enumerate() {
        let sh_type = header.sh_type(endian);
        if sh_type == elf::SHT_GROUP {
            let words: &[object::U32<Endianness>] =
                header.data_as_array(endian, data).map_err(|_| {
                    bad(&format!(
                        "{}: group data lies outside the file or is not a list of words",
                        section_label(index.0, sections[index.0].name)
                    ))
                })?;
            let is_comdat = words
                .first()
                .map(|w| w.get(endian) & elf::GRP_COMDAT.0 != 0)
                .unwrap_or(false);
            sections[index.0].live = false;
            if !is_comdat {
                continue;
            }
            let sig = symbols
                .get(header.sh_info(endian) as usize)
                .ok_or_else(|| {
                    bad(&format!(
                        "{}: signature symbol {} is beyond the symbol table",
                        section_label(index.0, sections[index.0].name),
                        header.sh_info(endian)
                    ))
                })?;
            // A group signed by a section symbol (as GNU as emits for some groups) is named by
            // that section.
            let signature = match (sig.ty == elf::STT_SECTION.0, sig.place) {
                (true, SymPlace::Section(s)) => sections[s as usize].name,
                _ => sig.name(),
            };
            let members = words[1..]
                .iter()
                .map(|w| w.get(endian))
                .collect::<Vec<u32>>();
            if let Some(m) = members.iter().find(|&&m| m as usize >= sections.len()) {
                return Err(bad(&format!(
                    "{}: member section {m} does not exist",
                    section_label(index.0, sections[index.0].name)
                )));
            }
            groups.push(Group {
                signature,
                signature_sym: header.sh_info(endian),
                members,
            });
        } else if sh_type == elf::SHT_REL || sh_type == elf::SHT_RELA {
            sections[index.0].live = false;
            let target = header.sh_info(endian) as usize;
            if target == 0 || target >= sections.len() {
                return Err(bad(&format!(
                    "{} applies to section {target}, which does not exist",
                    section_label(index.0, sections[index.0].name)
                )));
            }
            let mut relocs = Vec::new();
            let nsyms = symbols.len() as u32;
            let label = section_label(index.0, sections[index.0].name);
            // A NOBITS section has no bytes to patch: its relocations cannot be applied.
            let size: u64 = header.sh_size(endian).into();
            if size > 0 && sections[target].sh_type == elf::SHT_NOBITS.0 {
                return Err(bad(&format!(
                    "{label} holds relocations for {}, which is SHT_NOBITS and has no contents",
                    section_label(target, sections[target].name)
                )));
            }
            let check = |i: usize, offset: u64, r_type: u32, sym: u32| {
                if sym >= nsyms {
                    return Err(bad(&format!(
                        "{label}: relocation {i} at offset {offset:#x} names symbol {sym}, but the symbol table has {nsyms}"
                    )));
                }
                match arch {
                    Some(a) if a.reloc_name(r_type).is_none() && a.classify(r_type).is_none() => {
                        Err(bad(&format!(
                            "{label}: relocation {i} at offset {offset:#x} against `{}' has unknown type {r_type}",
                            sym_name(symbols.get(sym as usize).map_or(&b""[..], |s| s.name()))
                        )))
                    }
                    _ => Ok(()),
                }
            };
            let table_error = |_| {
                bad(&format!(
                    "{label}: relocations lie outside the file or their entry size is not the ELF one"
                ))
            };
            if let Some((rela, _)) = header.rela(endian, data).map_err(table_error)? {
                for (i, r) in rela.iter().enumerate() {
                    let sym = r.r_sym(endian, false);
                    let offset: u64 = r.r_offset(endian).into();
                    let r_type = r.r_type(endian, false).0;
                    check(i, offset, r_type, sym)?;
                }
                let bytes = object::pod::bytes_of_slice(rela);
                match object::pod::slice_from_all_bytes::<elf::Rela64<Endianness>>(bytes) {
                    Ok(entries) if E::is_type_64_sized() => {
                        sections[target].relocs = RelocList::InPlace { entries, endian };
                        continue;
                    }
                    _ => relocs.extend(rela.iter().map(|r| Reloc {
                        offset: r.r_offset(endian).into(),
                        r_type: r.r_type(endian, false).0,
                        sym: r.r_sym(endian, false),
                        addend: r.r_addend(endian).into(),
                    })),
                }
            } else if let Some((rel, _)) = header.rel(endian, data).map_err(table_error)? {
                let site_data = sections[target].data;
                for (i, r) in rel.iter().enumerate() {
                    let sym = r.r_sym(endian);
                    let offset: u64 = r.r_offset(endian).into();
                    let r_type = r.r_type(endian).0;
                    check(i, offset, r_type, sym)?;
                    // REL inputs keep the addend in the field; only the target knows its encoding.
                    let addend = match arch.and_then(|a| a.classify(r_type).map(|h| (a, h))) {
                        Some((a, howto)) => {
                            let site = usize::try_from(offset)
                                .ok()
                                .and_then(|o| site_data.get(o..))
                                .unwrap_or(&[]);
                            a.implicit_addend(&howto, site).map_err(|e| {
                                bad(&format!(
                                    "{label}: relocation {i} at offset {offset:#x} in {}: {e}",
                                    section_label(target, sections[target].name)
                                ))
                            })?
                        }
                        None => 0,
                    };
                    relocs.push(Reloc {
                        offset,
                        r_type,
                        sym,
                        addend,
                    });
                }
            }
            sections[target].relocs = RelocList::Decoded(relocs);
        }
    }
    // Symbol and string tables are rebuilt, never copied.
    for s in sections.iter_mut() {
        if s.sh_type == elf::SHT_SYMTAB.0
            || s.sh_type == elf::SHT_SYMTAB_SHNDX.0
            || s.sh_type == elf::SHT_STRTAB.0
            || s.sh_type == elf::SHT_NULL.0
        {
            s.live = false;
        }
    }
    // GCC's slim LTO objects hold only compiler IR; linking them when no plugin claimed them
    // would silently drop their code.
    if checked.lto_slim {
        return Err(LinkError::Other(format!(
            "{name}: GCC LTO object (-flto) that no plugin claimed: link with -plugin liblto_plugin.so (gcc passes it), or recompile without -flto or with -ffat-lto-objects"
        )));
    }
    let wants_exec_stack = match sections.iter().find(|s| s.name == b".note.GNU-stack") {
        Some(s) => s.flags & elf::SHF_EXECINSTR.0 != 0,
        None => false,
    };
    Ok(ObjectFile {
        name,
        archive,
        machine: header.e_machine(endian).0,
        flags: header.e_flags(endian).0,
        sections,
        global_hashes: checked.global_hashes,
        global_name_lens: checked.global_name_lens,
        symbols,
        first_global,
        groups,
        wants_exec_stack,
    })
}

/// What reading every symbol once at parse time learns.
struct CheckedSymbols {
    first_global: usize,
    global_hashes: Vec<u64>,
    global_name_lens: Vec<u32>,
    /// GCC's marker of an object that holds only LTO IR.
    lto_slim: bool,
}

/// Reads every symbol once, so that reading one later cannot fail, and refuses what the
/// link cannot act on.
fn check_symbols<'d>(
    symbols: &SymbolList<'d>,
    sections: usize,
) -> std::result::Result<CheckedSymbols, String> {
    let mut first_global = symbols.len();
    let mut global_hashes = Vec::new();
    let mut global_name_lens = Vec::new();
    let mut lto_slim = false;
    for index in 0..symbols.len() {
        let sym = symbols.check(index)?;
        if sym.bind != elf::STB_LOCAL.0 && first_global == symbols.len() {
            first_global = index;
            global_hashes.reserve(symbols.len() - index);
            global_name_lens.reserve(symbols.len() - index);
        }
        if let SymPlace::Section(s) = sym.place {
            if s as usize >= sections {
                return Err(format!(
                    "symbol {index} has section index {s}, but there are {sections} sections"
                ));
            }
        }
        check_binding(index, sym.name(), sym.bind, sym.ty)?;
        // A common symbol becomes .bss of its size and alignment: the same bounds as sections.
        let (value, size) = (sym.value, sym.size);
        if sym.place == SymPlace::Common
            && (size > MAX_SECTION_SIZE || !value.max(1).is_power_of_two() || value > MAX_ALIGN)
        {
            return Err(format!(
                "common symbol {index} (`{}') has an implausible size {size:#x} or alignment {value:#x}",
                sym_name(sym.name())
            ));
        }
        if index >= first_global {
            let name = sym.name();
            global_hashes.push(crate::symbols::name_hash(name));
            global_name_lens.push(
                u32::try_from(name.len())
                    .map_err(|_| format!("symbol {index} has a name longer than 4 GiB"))?,
            );
        }
        lto_slim |= sym.name() == b"__gnu_lto_slim";
    }
    Ok(CheckedSymbols {
        first_global: if symbols.is_empty() { 0 } else { first_global },
        global_hashes,
        global_name_lens,
        lto_slim,
    })
}

/// `section 3 (.text)`, for messages.
pub fn section_label(index: usize, name: &[u8]) -> String {
    format!("section {index} ({})", sym_name(name))
}

/// Bindings a linker can act on; GNU ld refuses the others too. A symbol that other files can
/// see must have a name (an empty one is a corrupt table, not a symbol anyone can reference).
fn check_binding(index: usize, name: &[u8], bind: u8, ty: u8) -> std::result::Result<(), String> {
    let known = [
        elf::STB_LOCAL.0,
        elf::STB_GLOBAL.0,
        elf::STB_WEAK.0,
        elf::STB_GNU_UNIQUE.0,
    ];
    if !known.contains(&bind) {
        return Err(format!(
            "symbol {index} (`{}') has unsupported binding {bind}",
            sym_name(name)
        ));
    }
    if bind != elf::STB_LOCAL.0 && name.is_empty() {
        return Err(format!("symbol {index} is not local but has no name"));
    }
    if bind != elf::STB_LOCAL.0 && ty == elf::STT_SECTION.0 {
        return Err(format!(
            "symbol {index} (`{}') is a section symbol but not local",
            sym_name(name)
        ));
    }
    Ok(())
}
