//! The static symbol table (`.symtab`/`.strtab`) of the output, for debuggers, profilers
//! and `objdump`: every named local symbol of the inputs, hidden globals turned local, then
//! the global symbols. Planned before layout (sizes), written after (values).

use crate::addresses::Addresses;
use crate::got_plt::Target;
use crate::layout::{Layout, Synth};
use crate::link::Link;
use crate::object_file::SymPlace;
use crate::relocate::target_address;
use crate::symbols::{Def, SymbolId};
use object::elf;
use rayon::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Source {
    Local {
        file: u32,
        sym: u32,
    },
    /// A mapping symbol the target wants in `.plt`, at this offset.
    PltMapping(u32),
    Global(SymbolId),
}

#[derive(Default)]
pub struct SymtabPlan {
    entries: Vec<(Source, u32)>,
    pub strtab: Vec<u8>,
    /// Index of the first global entry of `entries` (before thunk mapping symbols).
    first_global: u32,
    /// `.strtab` offsets of the target's mapping symbol names.
    mapping_names: Vec<(&'static str, u32)>,
}

impl SymtabPlan {
    /// Thunks are placed after this plan, as layout converges: their mapping symbols (locals,
    /// after the planned locals) are counted from the link's current thunks.
    pub fn symtab_size(&self, entsize: u64, link: &Link) -> u64 {
        (self.entries.len() as u64 + 1 + thunk_mapping_count(link) as u64) * entsize
    }

    /// Index of the first global symbol (sh_info).
    pub fn first_global(&self, link: &Link) -> u32 {
        self.first_global + thunk_mapping_count(link) as u32
    }

    fn mapping_name(&self, name: &str) -> u32 {
        self.mapping_names
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |&(_, off)| off)
    }
}

fn thunk_mappings<'a>(link: &'a Link) -> impl Iterator<Item = (usize, u64, &'static str)> + 'a {
    link.thunks
        .islands
        .iter()
        .enumerate()
        .flat_map(move |(i, island)| {
            island.entries.iter().filter_map(move |e| {
                link.arch
                    .thunk_mapping_symbol(&e.spec)
                    .map(|name| (i, e.offset, name))
            })
        })
}

fn thunk_mapping_count(link: &Link) -> usize {
    thunk_mappings(link).count()
}

fn global_is_local(link: &Link, id: SymbolId) -> bool {
    let s = link.symtab.get(id);
    s.is_defined()
        && (s.visibility != elf::STV_DEFAULT.0 && s.visibility != elf::STV_PROTECTED.0
            || s.forced_local)
}

/// A definition in a section the link dropped (a losing COMDAT copy, `--gc-sections`): GNU
/// ld leaves such symbols out of `.symtab`. A section `--icf` folded is not dropped: its
/// symbols stay, at the kept copy, as lld's do.
fn in_dropped_section(link: &Link, def: Def) -> bool {
    match def {
        Def::Regular { file, sym } => {
            let obj = &link.objects[file as usize];
            matches!(obj.symbols.at(sym as usize).place,
                SymPlace::Section(sec) if !in_output(link, file as usize, sec))
        }
        _ => false,
    }
}

/// Whether input section `sec` of object `file` is in the output, itself or folded.
fn in_output(link: &Link, file: usize, sec: u32) -> bool {
    link.objects[file].sections[sec as usize].live
        || link.folded.kept_copy(file, sec as usize).is_some()
}

pub fn plan(link: &Link) -> SymtabPlan {
    // Each name is stored once, as GNU ld's string table does: ARM objects alone name
    // thousands of mapping symbols `$a`, `$t` and `$d`.
    let mut strtab = crate::dynamic::StrTab::new();
    let mut entries = Vec::new();
    for (f, obj) in link.objects.iter().enumerate() {
        for (i, s) in obj
            .symbols
            .iter()
            .enumerate()
            .take(obj.first_global)
            .skip(1)
        {
            let keep = link.opts.discard == crate::strip::Discard::Locals
                && s.ty != elf::STT_SECTION.0
                && s.ty != elf::STT_FILE.0
                && match s.place {
                    SymPlace::Section(sec) => {
                        in_output(link, f, sec) && link_has_section(link, f, sec)
                    }
                    SymPlace::Absolute => true,
                    _ => false,
                };
            if !keep {
                continue;
            }
            let name = s.name();
            if !name.is_empty() && !name.starts_with(b".L") && retained(link, name) {
                let name = strtab.add(name);
                entries.push((
                    Source::Local {
                        file: f as u32,
                        sym: i as u32,
                    },
                    name,
                ));
            }
        }
    }
    let mapping_names: Vec<(&'static str, u32)> = link
        .arch
        .mapping_symbol_names()
        .iter()
        .map(|&n| (n, strtab.add(n.as_bytes())))
        .collect();
    if link.plt.has_section() {
        for &(offset, name) in link.arch.plt_mapping_symbols() {
            let name = mapping_names
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |&(_, off)| off);
            entries.push((Source::PltMapping(offset), name));
        }
    }
    let ids: Vec<SymbolId> = (0..link.symtab.len() as SymbolId)
        .filter(|&id| {
            // `in_dropped_section` reads the definition's input symbol: a random read.
            link.prefetch_definition(id + PREFETCH_AHEAD as SymbolId);
            let s = link.symtab.get(id);
            (s.is_defined() && !in_dropped_section(link, s.def) && retained(link, s.name))
                || (s.referenced && s.is_undefined())
                || (s.referenced && matches!(s.def, Def::Shared { .. }))
        })
        .collect();
    for &id in ids.iter().filter(|&&id| global_is_local(link, id)) {
        let name = strtab.add(link.symtab.get(id).name);
        entries.push((Source::Global(id), name));
    }
    let first_global = entries.len() as u32 + 1;
    for &id in ids.iter().filter(|&&id| !global_is_local(link, id)) {
        let name = strtab.add(link.symtab.get(id).name);
        entries.push((Source::Global(id), name));
    }
    SymtabPlan {
        entries,
        strtab: strtab.bytes,
        first_global,
        mapping_names,
    }
}

/// Whether `--retain-symbols-file` (if given) keeps a defined symbol called `name`.
fn retained(link: &Link, name: &[u8]) -> bool {
    link.retained
        .as_ref()
        .is_none_or(|keep| keep.contains(name))
}

/// Sections that are not copied to the output (relocation sections, groups) have no address.
fn link_has_section(link: &Link, file: usize, sec: u32) -> bool {
    let s = &link.objects[file].sections[sec as usize];
    s.is_alloc() || s.sh_type != elf::SHT_NULL.0
}

/// Writes `.symtab` at `out` (its entries) for the final layout.
pub fn write(
    link: &Link,
    (layout, addrs): (&Layout, &Addresses),
    plan: &SymtabPlan,
    out: &mut [u8],
    is64: bool,
) {
    let entsize = if is64 { 24 } else { 16 };
    let tls_start = layout.tls.map(|t| t.0).unwrap_or(0);
    // Thunk mapping symbols go after the planned locals, pushing the globals down.
    let thunks = thunk_mapping_count(link);
    for (k, (island, offset, name)) in thunk_mappings(link).enumerate() {
        let at = (plan.first_global as usize + k) * entsize;
        let Some((index, section)) = layout.find(Synth::Thunks(island as u8)) else {
            continue;
        };
        put_symbol(
            &mut out[at..at + entsize],
            is64,
            plan.mapping_name(name),
            elf::STT_NOTYPE.0,
            elf::STV_DEFAULT.0,
            index as u16 + 1,
            section.addr + offset,
            0,
        );
    }
    // Entries are independent: the locals and the globals (after the thunks' mapping
    // symbols) are written in parallel, entry by entry.
    let locals = (plan.first_global as usize)
        .saturating_sub(1)
        .min(plan.entries.len());
    let (head, tail) = out.split_at_mut(plan.first_global as usize * entsize);
    let globals_out = &mut tail[thunks * entsize..];
    let (local_entries, global_entries) = plan.entries.split_at(locals);
    let entry = |(slot, &(source, name)): (&mut [u8], &(Source, u32)), local: bool| {
        write_entry(
            link,
            (layout, addrs),
            slot,
            is64,
            tls_start,
            source,
            name,
            local,
        )
    };
    head.get_mut(entsize..)
        .unwrap_or_default()
        .par_chunks_mut(entsize)
        .zip(local_entries.par_iter())
        .for_each(|pair| entry(pair, true));
    globals_out
        .par_chunks_mut(entsize)
        .zip(global_entries.par_iter())
        .enumerate()
        .for_each(|(n, pair)| {
            if let Some(&(Source::Global(id), _)) = global_entries.get(n + PREFETCH_AHEAD) {
                link.prefetch_definition(id);
            }
            entry(pair, false)
        });
}

/// How many entries ahead the writers of `.symtab` and `.dynsym` ask for a global's
/// definition.
pub const PREFETCH_AHEAD: usize = 8;

/// Writes one `.symtab` entry from its source (`local`: it lies before `sh_info`).
#[allow(clippy::too_many_arguments)]
fn write_entry(
    link: &Link,
    (layout, addrs): (&Layout, &Addresses),
    slot: &mut [u8],
    is64: bool,
    tls_start: u64,
    source: Source,
    name: u32,
    local: bool,
) {
    let (bind, ty, other, shndx, mut value, size) = match source {
        Source::Local { file, sym } => {
            let s = &link.objects[file as usize].symbols.at(sym as usize);
            let shndx = match s.place {
                SymPlace::Section(sec) => layout.placement[file as usize][sec as usize]
                    .map(|(o, _)| o as u16 + 1)
                    .unwrap_or(elf::SHN_ABS.0),
                _ => elf::SHN_ABS.0,
            };
            let value = target_address(link, layout, Target::Local { file, sym });
            (elf::STB_LOCAL.0, s.ty, s.visibility, shndx, value, s.size)
        }
        Source::PltMapping(offset) => {
            // Planned only when the output has a .plt.
            let Some((index, plt)) = layout.find(Synth::Plt) else {
                return;
            };
            (
                elf::STB_LOCAL.0,
                elf::STT_NOTYPE.0,
                elf::STV_DEFAULT.0,
                index as u16 + 1,
                plt.addr + u64::from(offset),
                0,
            )
        }
        Source::Global(id) => {
            let s = link.symtab.get(id);
            let defined = s.is_defined();
            let bind = if local {
                elf::STB_LOCAL.0
            } else {
                s.output_binding()
            };
            let shndx = match s.def {
                Def::Regular { file, sym } => {
                    match link.objects[file as usize].symbols.at(sym as usize).place {
                        SymPlace::Section(sec) => layout.placement[file as usize][sec as usize]
                            .map(|(o, _)| o as u16 + 1)
                            .unwrap_or(elf::SHN_ABS.0),
                        _ => elf::SHN_ABS.0,
                    }
                }
                Def::Common { .. } => layout
                    .find(Synth::Commons)
                    .map(|(i, _)| i as u16 + 1)
                    .unwrap_or(elf::SHN_ABS.0),
                // Assigned inside an output section: that section, even past its end.
                Def::Linker(crate::symbols::LinkerSymbol::Script {
                    absolute: false, ..
                }) if layout.script_section(s.name).is_some() => {
                    layout.script_shndx(s).unwrap_or(elf::SHN_ABS.0)
                }
                Def::Linker(crate::symbols::LinkerSymbol::Dynamic) => layout
                    .find(Synth::Dynamic)
                    .map(|(i, _)| i as u16 + 1)
                    .unwrap_or(elf::SHN_ABS.0),
                Def::Linker(
                    crate::symbols::LinkerSymbol::SectionStart
                    | crate::symbols::LinkerSymbol::SectionStop,
                ) => crate::symbols::start_stop_section(s.name)
                    .and_then(|n| layout.sections.iter().position(|x| x.name == n))
                    .map(|i| i as u16 + 1)
                    .unwrap_or(elf::SHN_ABS.0),
                Def::Linker(crate::symbols::LinkerSymbol::GlobalOffsetTable) => layout
                    .find(Synth::GotPlt)
                    .map(|(i, _)| i as u16 + 1)
                    .unwrap_or(elf::SHN_ABS.0),
                Def::Linker(
                    crate::symbols::LinkerSymbol::Absolute(_)
                    | crate::symbols::LinkerSymbol::Script { absolute: true, .. },
                ) => elf::SHN_ABS.0,
                // The image and section bounds: the section they point into.
                Def::Linker(_) => layout
                    .section_index_at(addrs.of(link, layout, Target::Global(id)))
                    .unwrap_or(elf::SHN_ABS.0),
                _ => elf::SHN_UNDEF.0,
            };
            let value = if defined {
                addrs.of(link, layout, Target::Global(id))
            } else {
                0
            };
            let ty = s.output_type();
            (
                bind,
                ty,
                if local {
                    s.visibility
                } else {
                    crate::relocate::dyn_visibility(s.visibility)
                },
                shndx,
                value,
                if defined { s.size } else { 0 },
            )
        }
    };
    if ty == elf::STT_TLS.0 && shndx != elf::SHN_UNDEF.0 {
        value = value.wrapping_sub(tls_start);
    }
    let info = (bind << 4) | (ty & 0xf);
    put_symbol(slot, is64, name, info, other, shndx, value, size);
}

/// Writes one ELF symbol, in `.symtab` or `.dynsym` (`info` already combines binding and
/// type; a local NOTYPE is 0).
#[allow(clippy::too_many_arguments)]
pub(crate) fn put_symbol(
    out: &mut [u8],
    is64: bool,
    name: u32,
    info: u8,
    other: u8,
    shndx: u16,
    value: u64,
    size: u64,
) {
    if is64 {
        out[0..4].copy_from_slice(&name.to_le_bytes());
        out[4] = info;
        out[5] = other;
        out[6..8].copy_from_slice(&shndx.to_le_bytes());
        out[8..16].copy_from_slice(&value.to_le_bytes());
        out[16..24].copy_from_slice(&size.to_le_bytes());
    } else {
        out[0..4].copy_from_slice(&name.to_le_bytes());
        out[4..8].copy_from_slice(&(value as u32).to_le_bytes());
        out[8..12].copy_from_slice(&(size as u32).to_le_bytes());
        out[12] = info;
        out[13] = other;
        out[14..16].copy_from_slice(&shndx.to_le_bytes());
    }
}
