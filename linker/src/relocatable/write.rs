//! Encoding the relocatable output with `object`'s ELF writer: `.group` sections first, then
//! each output section followed by its relocations, then `.symtab`, `.strtab`, `.shstrtab`.

use super::relocs::OutReloc;
use super::sections::Plan;
use super::symbols::{Shndx, Symbols};
use crate::error::{LinkError, Result};
use crate::link::Link;
use object::elf;
use object::write::elf::{FileHeader, Rel, SectionHeader, SectionIndex, Sym, SymbolIndex, Writer};
use object::write::StringId;
use object::Endianness;

/// Section indices and file offsets decided in the writer's first phase.
struct Reserved {
    group_name: StringId,
    groups: Vec<(SectionIndex, u64)>,
    sections: Vec<(SectionIndex, u64, StringId)>,
    relocs: Vec<Option<(SectionIndex, u64, StringId)>>,
    symbol_names: Vec<Option<StringId>>,
}

/// The file's bytes; `signatures` holds each group's signature symbol (output index).
pub fn image(
    link: &Link,
    plan: &Plan,
    syms: &Symbols,
    relocs: &[Vec<OutReloc>],
    signatures: &[u32],
) -> Result<Vec<u8>> {
    let rela = link.arch.dynamic_uses_rela();
    let prefix: &[u8] = if rela { b".rela" } else { b".rel" };
    let reloc_names: Vec<Vec<u8>> = plan
        .sections
        .iter()
        .map(|s| [prefix, s.name].concat())
        .collect();
    let mut buffer = Vec::new();
    let is_64 = link.arch.class() == crate::arch::ElfClass::Elf64;
    let mut w = Writer::new(Endianness::Little, is_64, &mut buffer);
    let reserved = reserve(&mut w, plan, syms, relocs, &reloc_names, rela)?;
    // As GNU ld's -r: the first input's flags (the inputs were checked to agree), not the
    // float ABI a final link derives from the build attributes.
    let e_flags = link.objects.first().map_or(0, |o| o.flags);
    w.write_file_header(&FileHeader {
        os_abi: os_abi(syms),
        abi_version: 0,
        e_type: elf::ET_REL,
        e_machine: elf::Machine(link.arch.machine()),
        e_entry: 0,
        e_flags: elf::FileFlags(e_flags),
    })
    .map_err(|e| LinkError::Other(format!("writing the ELF header: {e}")))?;
    for g in &plan.groups {
        w.write_comdat_header();
        for &m in &g.members {
            w.write_comdat_entry(reserved.sections[m].0);
            if let Some((index, _, _)) = reserved.relocs[m] {
                w.write_comdat_entry(index);
            }
        }
    }
    for (s, &(_, offset, _)) in plan.sections.iter().zip(&reserved.sections) {
        if s.sh_type != elf::SHT_NOBITS.0 {
            w.write_align(s.align);
            // The header says `offset`: the bytes must start there.
            if w.len() != offset {
                return Err(LinkError::Other(format!(
                    "internal error: {} written at {:#x}, reserved at {offset:#x}",
                    crate::error::sym_name(s.name),
                    w.len()
                )));
            }
            w.write(&s.data);
        }
    }
    for list in relocs.iter().filter(|l| !l.is_empty()) {
        w.write_align_relocation();
        for r in list {
            w.write_relocation(
                rela,
                &Rel {
                    r_offset: r.offset,
                    r_sym: r.sym,
                    r_type: elf::RelocationType(r.r_type),
                    r_addend: r.addend,
                },
            );
        }
    }
    write_symbols(&mut w, syms, &reserved);
    w.write_strtab();
    w.write_shstrtab();
    write_headers(&mut w, link, plan, syms, relocs, &reserved, signatures);
    drop(w);
    Ok(buffer)
}

/// GNU extensions in the symbol table (`STB_GNU_UNIQUE`, `STT_GNU_IFUNC`) mark the file
/// ELFOSABI_GNU, as GNU ld marks it.
fn os_abi(syms: &Symbols) -> elf::OsAbi {
    let gnu = syms
        .list
        .iter()
        .any(|s| s.bind == elf::STB_GNU_UNIQUE.0 || s.ty == elf::STT_GNU_IFUNC.0);
    match gnu {
        true => elf::ELFOSABI_GNU,
        false => elf::ELFOSABI_NONE,
    }
}

fn reserve<'a>(
    w: &mut Writer<'a>,
    plan: &'a Plan,
    syms: &'a Symbols,
    relocs: &[Vec<OutReloc>],
    reloc_names: &'a [Vec<u8>],
    rela: bool,
) -> Result<Reserved> {
    w.reserve_file_header();
    w.reserve_null_section_index();
    let group_name = w.add_section_name(b".group");
    let groups: Vec<SectionIndex> = plan
        .groups
        .iter()
        .map(|_| w.reserve_section_index())
        .collect();
    let mut sections = Vec::new();
    let mut reloc_index = Vec::new();
    for (i, s) in plan.sections.iter().enumerate() {
        let name = w.add_section_name(s.name);
        sections.push((w.reserve_section_index(), name));
        reloc_index.push((!relocs[i].is_empty()).then(|| {
            let name = w.add_section_name(&reloc_names[i]);
            (w.reserve_section_index(), name)
        }));
    }
    w.reserve_null_symbol_index();
    let mut symbol_names = Vec::with_capacity(syms.list.len());
    for sym in &syms.list {
        symbol_names.push((!sym.name.is_empty()).then(|| w.add_string(sym.name)));
        let section = match sym.shndx {
            Shndx::Section(out) => Some(sections[out].0),
            Shndx::Group(g) => Some(groups[g]),
            _ => None,
        };
        w.reserve_symbol_index(section);
    }
    w.reserve_symtab_section_index();
    if w.symtab_shndx_needed() {
        w.reserve_symtab_shndx_section_index();
    }
    w.reserve_strtab_section_index();
    w.reserve_shstrtab_section_index();
    let groups = plan
        .groups
        .iter()
        .zip(groups)
        .map(|(g, index)| (index, w.reserve_comdat(group_words(g, relocs))))
        .collect();
    let sections = plan
        .sections
        .iter()
        .zip(sections)
        .map(|(s, (index, name))| {
            // NOBITS takes no room in the file: no padding either, as none is written.
            let offset = match s.sh_type == elf::SHT_NOBITS.0 {
                true => w.reserved_len(),
                false => w.reserve(s.data.len() as u64, s.align),
            };
            (index, offset, name)
        })
        .collect();
    let relocs = relocs
        .iter()
        .zip(reloc_index)
        .map(|(list, index)| {
            index.map(|(i, name)| (i, w.reserve_relocations(list.len(), rela), name))
        })
        .collect();
    w.reserve_symtab();
    w.reserve_symtab_shndx();
    let too_large = |e: object::write::Error| LinkError::Other(format!("string table: {e}"));
    w.reserve_strtab().map_err(too_large)?;
    w.reserve_shstrtab().map_err(too_large)?;
    w.reserve_section_headers();
    Ok(Reserved {
        group_name,
        groups,
        sections,
        relocs,
        symbol_names,
    })
}

/// A group's member sections and their relocation sections.
fn group_words(g: &super::sections::OutGroup, relocs: &[Vec<OutReloc>]) -> usize {
    g.members.len() + g.members.iter().filter(|&&m| !relocs[m].is_empty()).count()
}

fn write_symbols(w: &mut Writer, syms: &Symbols, reserved: &Reserved) {
    w.write_null_symbol();
    for (sym, &name) in syms.list.iter().zip(&reserved.symbol_names) {
        let (section, st_shndx) = match sym.shndx {
            Shndx::Section(out) => (Some(reserved.sections[out].0 .0), elf::SHN_UNDEF),
            Shndx::Group(g) => (Some(reserved.groups[g].0 .0), elf::SHN_UNDEF),
            Shndx::Undefined => (None, elf::SHN_UNDEF),
            Shndx::Absolute => (None, elf::SHN_ABS),
            Shndx::Common => (None, elf::SHN_COMMON),
        };
        w.write_symbol(&Sym {
            section,
            st_name: w.string_offset(name),
            st_info: elf::SymbolInfo::new(elf::SymbolBind(sym.bind), elf::SymbolType(sym.ty)),
            st_other: elf::SymbolOther(sym.visibility),
            st_shndx,
            st_value: sym.value,
            st_size: sym.size,
        });
    }
    w.write_symtab_shndx();
}

fn write_headers(
    w: &mut Writer,
    link: &Link,
    plan: &Plan,
    syms: &Symbols,
    relocs: &[Vec<OutReloc>],
    reserved: &Reserved,
    signatures: &[u32],
) {
    let rela = link.arch.dynamic_uses_rela();
    w.write_null_section_header();
    let symtab = w.symtab_index();
    for ((g, &(_, offset)), &signature) in plan.groups.iter().zip(&reserved.groups).zip(signatures)
    {
        w.write_comdat_section_header(
            reserved.group_name,
            symtab,
            SymbolIndex(signature),
            offset,
            group_words(g, relocs),
        );
    }
    let word = link.arch.class().word_size();
    let entsize = if rela { 3 * word } else { 2 * word };
    for (i, s) in plan.sections.iter().enumerate() {
        let (index, offset, name) = reserved.sections[i];
        w.write_section_header(&SectionHeader {
            sh_name: w.section_name_offset(Some(name)),
            sh_type: elf::SectionType(s.sh_type),
            sh_flags: elf::SectionFlags(s.flags),
            sh_addr: 0,
            sh_offset: offset,
            sh_size: s.size,
            sh_link: s.link.map_or(0, |l| reserved.sections[l].0 .0),
            sh_info: 0,
            sh_addralign: s.align,
            sh_entsize: s.entsize,
        });
        let Some((_, offset, name)) = reserved.relocs[i] else {
            continue;
        };
        w.write_section_header(&SectionHeader {
            sh_name: w.section_name_offset(Some(name)),
            sh_type: if rela { elf::SHT_RELA } else { elf::SHT_REL },
            sh_flags: elf::SectionFlags(elf::SHF_INFO_LINK.0 | (s.flags & elf::SHF_GROUP.0)),
            sh_addr: 0,
            sh_offset: offset,
            sh_size: relocs[i].len() as u64 * entsize,
            sh_link: symtab.0,
            sh_info: index.0,
            sh_addralign: word,
            sh_entsize: entsize,
        });
    }
    w.write_symtab_section_header(syms.num_local);
    w.write_symtab_shndx_section_header();
    w.write_strtab_section_header();
    w.write_shstrtab_section_header();
}
