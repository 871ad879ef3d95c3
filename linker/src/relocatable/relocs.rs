//! Relocations of a relocatable output: every input relocation carried over, none resolved.
//!
//! A relocation against a section symbol now points into an output section that holds more
//! than its input, so the input's offset there is added to the addend: in the relocation
//! (RELA, x86-64) or in the field (REL, ARM). One against a global keeps that symbol. One
//! against a section the output drops (the losing copy of a COMDAT group) points, in debug
//! sections, at the kept copy's twin, or is removed; elsewhere it becomes `R_*_NONE`. GNU ld
//! does the same.

use super::sections::{Piece, Plan};
use super::symbols::Symbols;
use crate::error::{LinkError, Result};
use crate::link::Link;
use crate::object_file::{section_label, Reloc, SymPlace};
use object::elf;

/// An output relocation, offset relative to its output section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutReloc {
    pub offset: u64,
    pub r_type: u32,
    pub sym: u32,
    pub addend: i64,
}

/// `R_X86_64_NONE` and `R_ARM_NONE` alike.
const R_NONE: u32 = 0;

/// The relocations of each output section (in its order); REL fields are patched in
/// `plan`'s contents.
pub fn build(link: &Link, plan: &mut Plan, syms: &Symbols) -> Result<Vec<Vec<OutReloc>>> {
    let mut all = Vec::with_capacity(plan.sections.len());
    let mut errors = Vec::new();
    for out in 0..plan.sections.len() {
        let mut relocs = Vec::new();
        for p in plan.sections[out].pieces.clone() {
            carry_over(link, plan, syms, out, p, &mut relocs, &mut errors);
        }
        all.push(relocs);
    }
    match errors.is_empty() {
        true => Ok(all),
        false => Err(LinkError::Many(errors)),
    }
}

/// Appends the relocations of input piece `p` of output section `out` to `relocs`.
fn carry_over(
    link: &Link,
    plan: &mut Plan,
    syms: &Symbols,
    out: usize,
    p: Piece,
    relocs: &mut Vec<OutReloc>,
    errors: &mut Vec<String>,
) {
    let rela = link.arch.dynamic_uses_rela();
    let debug = plan.sections[out].name.starts_with(b".debug");
    let (file, sec) = (p.file as usize, p.sec as usize);
    let input = &link.objects[file].sections[sec];
    let dead = plan.dead_fdes.of(file, sec);
    let place = |r: &Reloc| {
        format!(
            "{}: {}: relocation at offset {:#x}",
            link.objects[file].name,
            section_label(sec, input.name),
            r.offset
        )
    };
    for r in &input.relocs {
        let r = &r;
        if super::dead_fdes::is_dead(dead, r.offset) {
            continue;
        }
        // The place must be inside its section, or the output would point past it.
        if r.offset >= input.size.max(1) {
            let size = input.size;
            errors.push(format!(
                "{} lies outside the section ({size:#x} bytes)",
                place(r)
            ));
            continue;
        }
        let offset = p.offset + r.offset;
        let found = target(link, plan, syms, file, r).or_else(|| {
            debug
                .then(|| kept_copy(link, plan, syms, file, r))
                .flatten()
        });
        let Some((sym, addend, moved)) = found else {
            if !debug {
                relocs.push(OutReloc {
                    offset,
                    r_type: R_NONE,
                    sym: 0,
                    addend: 0,
                });
            }
            continue;
        };
        if !rela && moved {
            let data = &mut plan.sections[out].data;
            if let Err(e) = move_implicit_addend(link, data, offset, r, addend) {
                let name = link.arch.reloc_name(r.r_type).unwrap_or("relocation");
                errors.push(format!(
                    "{} ({name} against a section symbol): {e}",
                    place(r)
                ));
            }
        }
        relocs.push(OutReloc {
            offset,
            r_type: r.r_type,
            sym,
            addend,
        });
    }
}

/// The output symbol and addend of `r`, and whether the addend moved; `None` when the
/// symbol's section is dropped.
fn target(
    link: &Link,
    plan: &Plan,
    syms: &Symbols,
    file: usize,
    r: &Reloc,
) -> Option<(u32, i64, bool)> {
    if r.sym == 0 {
        return Some((0, r.addend, false));
    }
    let obj = &link.objects[file];
    let input = obj.symbols.get(r.sym as usize)?;
    if link.global_id(file, r.sym).is_none() && input.ty == elf::STT_SECTION.0 {
        let SymPlace::Section(s) = input.place else {
            return None;
        };
        let (out, offset) = plan.place(file, s as usize)?;
        return Some((
            syms.section_symbol(out),
            r.addend + offset as i64,
            offset != 0,
        ));
    }
    Some((syms.index_of(link, file, r.sym)?, r.addend, false))
}

/// Debug information of a dropped COMDAT copy points at the kept copy instead: the member of
/// the same name and size in the group that won (as GNU ld's `-r` redirects it).
fn kept_copy(
    link: &Link,
    plan: &Plan,
    syms: &Symbols,
    file: usize,
    r: &Reloc,
) -> Option<(u32, i64, bool)> {
    let obj = &link.objects[file];
    let input = obj.symbols.get(r.sym as usize)?;
    let SymPlace::Section(s) = input.place else {
        return None;
    };
    if input.ty != elf::STT_SECTION.0 {
        return None;
    }
    let dropped = &obj.sections[s as usize];
    let group = obj.groups.iter().find(|g| g.members.contains(&s))?;
    plan.groups.iter().find_map(|kept| {
        let winner = &link.objects[kept.file as usize];
        let g = winner
            .groups
            .iter()
            .find(|g| g.signature_sym == kept.signature_sym)?;
        if g.signature != group.signature {
            return None;
        }
        let twin = g.members.iter().find(|&&m| {
            let sec = &winner.sections[m as usize];
            sec.name == dropped.name && sec.size == dropped.size
        })?;
        let (out, offset) = plan.place(kept.file as usize, *twin as usize)?;
        Some((
            syms.section_symbol(out),
            r.addend + offset as i64,
            offset != 0,
        ))
    })
}

fn move_implicit_addend(
    link: &Link,
    data: &mut [u8],
    offset: u64,
    r: &Reloc,
    addend: i64,
) -> std::result::Result<(), String> {
    let howto = link
        .arch
        .classify(r.r_type)
        .ok_or_else(|| "tether cannot rewrite its addend".to_string())?;
    let site = usize::try_from(offset)
        .ok()
        .and_then(|o| data.get_mut(o..))
        .ok_or_else(|| "the place lies outside the section".to_string())?;
    link.arch
        .write_implicit_addend(&howto, site, addend)
        .map_err(|e| format!("the moved addend {addend:#x} does not fit: {e}"))
}
