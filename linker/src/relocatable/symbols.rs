//! The relocatable output's symbol table: a section symbol per output section, then each
//! object's file and local symbols (moved with their sections), then one entry per global
//! name with the binding, visibility, type and size resolution settled on. Undefined names
//! stay undefined and COMMON ones stay COMMON: the final link decides them.

use super::sections::Plan;
use crate::error::{sym_name, LinkError, Result};
use crate::link::Link;
use crate::object_file::{InputSymbol, SymPlace};
use crate::strip::{Discard, Strip};
use crate::symbols::{Def, LinkerSymbol};
use object::elf;

/// Where an output symbol is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shndx {
    Section(usize),
    /// The `.group` section of output group `n` (GCC names some groups by a local symbol
    /// defined there).
    Group(usize),
    Undefined,
    Absolute,
    Common,
}

#[derive(Clone, Copy, Debug)]
pub struct OutSymbol<'d> {
    pub name: &'d [u8],
    pub value: u64,
    pub size: u64,
    pub bind: u8,
    pub ty: u8,
    pub visibility: u8,
    pub shndx: Shndx,
}

/// The table (index 0, the null symbol, is implicit: `list[i]` is symbol `i + 1`) and the
/// maps from input symbols to output indices.
pub struct Symbols<'d> {
    pub list: Vec<OutSymbol<'d>>,
    /// Symbols before the first global, the null symbol included (`sh_info`).
    pub num_local: u32,
    /// Per object, per local input symbol: its output index (none for section symbols,
    /// which become [`Symbols::section_symbol`], and for symbols of dropped sections).
    locals: Vec<Vec<Option<u32>>>,
    /// Per global symbol id: its output index.
    globals: Vec<Option<u32>>,
}

impl Symbols<'_> {
    /// The section symbol of output section `out`.
    pub fn section_symbol(&self, out: usize) -> u32 {
        out as u32 + 1
    }

    /// The output index of input symbol `sym` of object `file`: a global's entry, or the
    /// local's own.
    pub fn index_of(&self, link: &Link, file: usize, sym: u32) -> Option<u32> {
        match link.global_id(file, sym) {
            Some(id) => self.globals.get(id as usize).copied().flatten(),
            None => self.locals.get(file)?.get(sym as usize).copied().flatten(),
        }
    }
}

/// Whether a local symbol stays when no relocation needs it: `-s` and `-x` drop every such
/// local, the default (`-X`) the assembler's `.L` labels; ARM mapping symbols always stay, as
/// they say what the bytes are.
fn keep_local(link: &Link, sym: &InputSymbol) -> bool {
    if link.arch.machine() == elf::EM_ARM.0 && crate::arch::arm::is_mapping_symbol(sym.name()) {
        return true;
    }
    match (link.opts.strip, link.opts.discard) {
        (Strip::All, _) | (_, Discard::All) => false,
        _ => !sym.name().starts_with(b".L"),
    }
}

/// Per object, the local symbols a kept relocation or a group refers to.
fn needed_locals(link: &Link, plan: &Plan) -> Vec<Vec<bool>> {
    let mut needed: Vec<Vec<bool>> = link
        .objects
        .iter()
        .map(|o| vec![false; o.first_global])
        .collect();
    for out in &plan.sections {
        for p in &out.pieces {
            let input = &link.objects[p.file as usize].sections[p.sec as usize];
            for r in &input.relocs {
                if let Some(n) = needed[p.file as usize].get_mut(r.sym as usize) {
                    *n = true;
                }
            }
        }
    }
    for g in &plan.groups {
        if let Some(n) = needed[g.file as usize].get_mut(g.signature_sym as usize) {
            *n = true;
        }
    }
    needed
}

pub fn build<'d>(link: &Link<'d>, plan: &Plan<'d>) -> Result<Symbols<'d>> {
    let needed = needed_locals(link, plan);
    let mut list: Vec<OutSymbol<'d>> = (0..plan.sections.len())
        .map(|out| OutSymbol {
            name: b"",
            value: 0,
            size: 0,
            bind: elf::STB_LOCAL.0,
            ty: elf::STT_SECTION.0,
            visibility: elf::STV_DEFAULT.0,
            shndx: Shndx::Section(out),
        })
        .collect();
    let mut locals = Vec::with_capacity(link.objects.len());
    for (f, obj) in link.objects.iter().enumerate() {
        let mut map = vec![None; obj.first_global];
        for (i, sym) in obj
            .symbols
            .iter()
            .enumerate()
            .take(obj.first_global)
            .skip(1)
        {
            let sym = &sym;
            if sym.ty == elf::STT_SECTION.0 || !(needed[f][i] || keep_local(link, sym)) {
                continue;
            }
            if let Some((value, shndx)) = placed(plan, f, sym).or_else(|| in_group(plan, f, i)) {
                list.push(OutSymbol {
                    value,
                    shndx,
                    ..from_input(sym)
                });
                map[i] = Some(list.len() as u32);
            }
        }
        locals.push(map);
    }
    let num_local = list.len() as u32 + 1;
    let mut globals = vec![None; link.symtab.len()];
    for (id, s) in link.symtab.symbols.iter().enumerate() {
        let out = match s.def {
            Def::Regular { file, sym } | Def::Common { file, sym } => {
                let input = &link.objects[file as usize].symbols.at(sym as usize);
                let (value, shndx) = placed(plan, file as usize, input).ok_or_else(|| {
                    LinkError::Other(format!(
                        "{}: `{}' is defined in a section the output drops",
                        link.objects[file as usize].name,
                        sym_name(input.name())
                    ))
                })?;
                // The input's own spelling keeps a `.symver` suffix; a `--defsym` alias
                // shares its target's definition under its own name.
                let name = match crate::symbols::dynamic_name(input.name()) == s.name {
                    true => input.name(),
                    false => s.name,
                };
                OutSymbol {
                    name,
                    value,
                    shndx,
                    size: s.size,
                    visibility: s.visibility,
                    ..from_input(input)
                }
            }
            Def::Linker(LinkerSymbol::Absolute(value)) => OutSymbol {
                name: s.name,
                value,
                size: 0,
                bind: elf::STB_GLOBAL.0,
                ty: elf::STT_NOTYPE.0,
                visibility: s.visibility,
                shndx: Shndx::Absolute,
            },
            // A library given with -r provides nothing to an object: its names stay
            // references, and the ones nobody mentions (nor `-u`) are left out.
            Def::Shared { .. } | Def::Undefined | Def::Linker(_)
                if s.referenced || s.strong_ref =>
            {
                OutSymbol {
                    name: s.name,
                    value: 0,
                    size: 0,
                    bind: if s.strong_ref {
                        elf::STB_GLOBAL.0
                    } else {
                        elf::STB_WEAK.0
                    },
                    ty: if s.ty == elf::STT_TLS.0 {
                        s.ty
                    } else {
                        elf::STT_NOTYPE.0
                    },
                    visibility: s.visibility,
                    shndx: Shndx::Undefined,
                }
            }
            _ => continue,
        };
        list.push(out);
        globals[id] = Some(list.len() as u32);
    }
    Ok(Symbols {
        list,
        num_local,
        locals,
        globals,
    })
}

/// A kept group's signature symbol defined in the group section itself.
fn in_group(plan: &Plan, file: usize, sym: usize) -> Option<(u64, Shndx)> {
    plan.groups
        .iter()
        .position(|g| g.file as usize == file && g.signature_sym as usize == sym)
        .map(|g| (0, Shndx::Group(g)))
}

fn from_input<'d>(sym: &InputSymbol<'d>) -> OutSymbol<'d> {
    OutSymbol {
        name: sym.name(),
        value: sym.value,
        size: sym.size,
        bind: sym.bind,
        ty: sym.ty,
        visibility: sym.visibility,
        shndx: Shndx::Undefined,
    }
}

/// The value and section of a defined input symbol in the output; `None` when its section
/// is dropped.
fn placed(plan: &Plan, file: usize, sym: &InputSymbol) -> Option<(u64, Shndx)> {
    match sym.place {
        SymPlace::Section(s) => {
            let (out, offset) = plan.place(file, s as usize)?;
            Some((sym.value + offset, Shndx::Section(out)))
        }
        SymPlace::Absolute => Some((sym.value, Shndx::Absolute)),
        SymPlace::Common => Some((sym.value, Shndx::Common)),
        SymPlace::Undefined => Some((0, Shndx::Undefined)),
    }
}
