//! `--icf=safe|all`: identical code folding, as lld does it.
//!
//! Input sections with the same flags, output section, bytes and relocations are folded into
//! the first of them in input order: the others are discarded and everything that referred
//! to them (symbols, relocations, debug information) gets the kept copy's address. Two
//! relocations are equal when they have the same type and offset and reach the same symbol,
//! the same place of a section that is not folded, the same merged string, the same absolute
//! value, or the same offset of sections that are themselves equal. That last condition is
//! recursive, so the classes are refined from "same bytes" until no class splits any more
//! (the greatest fixed point, so mutually recursive twins fold too). Each round describes
//! every section by its own class and its targets' classes, in parallel; a class is named by
//! its first member, so the result does not depend on the thread count.
//!
//! What may fold follows lld: allocated sections that are not writable (`.data.rel.ro`
//! aside), not `SHF_MERGE` or `SHF_LINK_ORDER`, not `.eh_frame`, `.init` or `.fini`, not
//! named as a C identifier (`__start_`/`__stop_` could walk them). A section whose address
//! is significant is kept unique: one an exported symbol is defined in, one a symbol of an
//! object's `.llvm_addrsig` table is defined in, and any section a symbol of an object
//! without that table (gcc's objects) is defined in — so `safe` folds nothing of gcc's.
//! `all` ignores address significance for code, not for data. Code an FDE gives an LSDA
//! never folds (its twin may catch other exceptions); the FDEs of folded code are dropped
//! (the `.eh_frame` rewrite sees them dead), as lld drops them. An ARM `.ARM.exidx` entry is
//! compared with the code it describes, so code whose unwind tables differ stays apart
//! (lld 14 folds it, and exceptions then land in the wrong handler).

use crate::error::{LinkError, Result};
use crate::link::Link;
use crate::object_file::{ObjectFile, SymPlace};
use crate::symbols::Def;
use object::elf;
use rayon::prelude::*;
use std::collections::HashMap;

/// `--icf=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Level {
    #[default]
    None,
    Safe,
    All,
}

impl Level {
    pub fn parse(text: &str) -> std::result::Result<Level, String> {
        match text {
            "none" => Ok(Level::None),
            "safe" => Ok(Level::Safe),
            "all" => Ok(Level::All),
            other => Err(format!("unknown --icf value: {other} (none, safe or all)")),
        }
    }
}

/// `SHT_LLVM_ADDRSIG`: the symbols whose address an object's code takes.
const SHT_LLVM_ADDRSIG: u32 = 0x6fff_4c03;

/// A section of an input object: (object, section index).
type SectionRef = (u32, u32);

/// The folded sections and the copy each was folded into.
#[derive(Debug, Default)]
pub struct Folded {
    /// Per object, per folded section (sorted): the section it was folded into.
    kept: Vec<Vec<(u32, SectionRef)>>,
}

impl Folded {
    /// The section `(file, sec)` was folded into, if it was folded.
    pub fn kept_copy(&self, file: usize, sec: usize) -> Option<SectionRef> {
        let list = self.kept.get(file)?;
        let i = list.binary_search_by_key(&(sec as u32), |e| e.0).ok()?;
        Some(list[i].1)
    }

    /// Every folded section with its kept copy.
    pub fn iter(&self) -> impl Iterator<Item = (SectionRef, SectionRef)> + '_ {
        self.kept
            .iter()
            .enumerate()
            .flat_map(|(f, l)| l.iter().map(move |&(s, k)| ((f as u32, s), k)))
    }
}

/// Folds identical sections (a no-op without `--icf`); folded sections and the sections
/// that follow them (`SHF_LINK_ORDER`) stop being live.
pub fn fold(link: &mut Link) -> Result<Folded> {
    if link.opts.icf == Level::None {
        return Ok(Folded::default());
    }
    let unique = keep_unique(link)?;
    let (candidates, classes) = {
        let cx = Candidates::new(link, &unique);
        let keys: Vec<Key> = cx.list.par_iter().map(|&c| cx.key(c)).collect();
        let classes = refine(&keys);
        (cx.list, classes)
    };
    if link.opts.print_icf_sections {
        print(link, &candidates, &classes);
    }
    Ok(record(link, &candidates, &classes))
}

/// What a relocation reaches, as far as equality goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Reach {
    /// A symbol that may resolve elsewhere (preemptible, imported, undefined, the linker's):
    /// only the same symbol is the same target.
    Symbol(u32, i64),
    /// An input symbol that is neither a section place nor absolute.
    Input(u32, u32, i64),
    Absolute(u64),
    /// A place in a section that does not fold.
    Fixed(SectionRef, u64),
    /// A place in merged strings or constants: (the group's representative, merged offset).
    Merged(SectionRef, u64),
    /// An offset in a foldable section; its class is compared in the rounds.
    Foldable(u64),
}

/// A section's description: the constant part is compared once, the `foldable` targets'
/// classes in every round.
struct Key<'d> {
    constant: Constant<'d>,
    /// The candidate index of each `Reach::Foldable` target, in order.
    foldable: Vec<u32>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Constant<'d> {
    output: &'d [u8],
    flags: u64,
    sh_type: u32,
    data: &'d [u8],
    /// (offset, type, target) of the section's relocations and then its companions'.
    relocs: Vec<(u64, u32, Reach)>,
    companions: Vec<&'d [u8]>,
}

/// Per object and section: whether its address must stay its own.
fn keep_unique(link: &Link) -> Result<Vec<Vec<bool>>> {
    let mut unique: Vec<Vec<bool>> = link
        .objects
        .iter()
        .map(|o| vec![false; o.sections.len()])
        .collect();
    let all = link.opts.icf == Level::All;
    let mut mark = |(f, s): SectionRef| {
        let sec = &link.objects[f as usize].sections[s as usize];
        if !all || sec.flags & elf::SHF_EXECINSTR.0 == 0 {
            unique[f as usize][s as usize] = true;
        }
    };
    for id in 0..link.symtab.len() as u32 {
        if crate::dynamic::is_exported(link, id) {
            if let Some(section) = global_section(link, id) {
                mark(section);
            }
        }
    }
    for (f, obj) in link.objects.iter().enumerate() {
        let significant: Vec<u32> = match address_significant(obj)? {
            Some(list) => list,
            None => (0..obj.symbols.len() as u32).collect(),
        };
        for sym in significant {
            if let Some(section) = symbol_section(link, f, sym) {
                mark(section);
            }
        }
    }
    // Identical code may catch different exceptions: lld folds no code with an LSDA.
    for (f, s) in code_with_lsda(link) {
        unique[f as usize][s as usize] = true;
    }
    Ok(unique)
}

/// The code sections that the live FDEs whose CIE has an LSDA (`L`) describe. A malformed
/// `.eh_frame` is reported where it is copied; here it describes nothing.
fn code_with_lsda(link: &Link) -> Vec<SectionRef> {
    use crate::eh_frame::{parse_cie, split_records, RecordKind};
    let address_size = link.arch.class().word_size() as u8;
    let mut out = Vec::new();
    for (f, obj) in link.objects.iter().enumerate() {
        for sec in obj
            .sections
            .iter()
            .filter(|s| s.live && s.name == b".eh_frame")
        {
            let Ok(records) = split_records(sec.data) else {
                continue;
            };
            let with_lsda: Vec<usize> = records
                .iter()
                .filter(|r| r.kind == RecordKind::Cie)
                .filter(|r| {
                    parse_cie(sec.data, r, address_size).is_ok_and(|c| c.lsda_encoding.is_some())
                })
                .map(|r| r.offset)
                .collect();
            if with_lsda.is_empty() {
                continue;
            }
            let mut by_offset = HashMap::new();
            for x in &sec.relocs {
                by_offset.entry(x.offset).or_insert(x.sym);
            }
            for r in &records {
                let RecordKind::Fde { cie_offset } = r.kind else {
                    continue;
                };
                if !with_lsda.contains(&cie_offset) {
                    continue;
                }
                // The initial location follows the length and the CIE pointer.
                let long = sec.data.get(r.offset..r.offset + 4) == Some(&[0xff; 4]);
                let at = (r.offset + if long { 16 } else { 8 }) as u64;
                if let Some(&sym) = by_offset.get(&at) {
                    out.extend(symbol_section(link, f, sym));
                }
            }
        }
    }
    out
}

/// The symbol indices of `obj`'s `.llvm_addrsig` table, or `None` when it has none.
fn address_significant(obj: &ObjectFile) -> Result<Option<Vec<u32>>> {
    let Some((index, sec)) = obj
        .sections
        .iter()
        .enumerate()
        .find(|(_, s)| s.sh_type == SHT_LLVM_ADDRSIG)
    else {
        return Ok(None);
    };
    let bad = |at: usize, why: &str| {
        LinkError::Other(format!(
            "{}: {} at offset {at:#x}: {why}",
            obj.name,
            crate::object_file::section_label(index, sec.name)
        ))
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < sec.data.len() {
        let mut next = at;
        let value = crate::eh_frame::read_uleb(sec.data, &mut next)
            .map_err(|_| bad(at, "truncated ULEB128"))?;
        if value >= obj.symbols.len() as u64 {
            return Err(bad(
                at,
                &format!("symbol {value} is beyond the symbol table"),
            ));
        }
        out.push(value as u32);
        at = next;
    }
    Ok(Some(out))
}

/// The section defining global `id`, if an object's section does.
fn global_section(link: &Link, id: u32) -> Option<SectionRef> {
    match link.symtab.get(id).def {
        Def::Regular { file, sym } => {
            match link.objects[file as usize].symbols.at(sym as usize).place {
                SymPlace::Section(s) => Some((file, s)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The section symbol `sym` of object `f` resolves into (globals through resolution).
fn symbol_section(link: &Link, f: usize, sym: u32) -> Option<SectionRef> {
    match link.global_id(f, sym) {
        Some(id) => global_section(link, id),
        None => match link.objects[f].symbols.get(sym as usize)?.place {
            SymPlace::Section(s) => Some((f as u32, s)),
            _ => None,
        },
    }
}

/// The sections that may fold, and how to find them.
struct Candidates<'a, 'd> {
    link: &'a Link<'d>,
    /// In input order.
    list: Vec<SectionRef>,
    /// Per object, per section: the position in `list`, or `NONE`.
    index: Vec<Vec<u32>>,
    /// Per object: the `SHF_LINK_ORDER` sections describing each section.
    followers: Vec<HashMap<u32, Vec<u32>>>,
}

const NONE: u32 = u32::MAX;

impl<'a, 'd> Candidates<'a, 'd> {
    fn new(link: &'a Link<'d>, unique: &[Vec<bool>]) -> Self {
        let mut list = Vec::new();
        let mut index = Vec::new();
        for (f, obj) in link.objects.iter().enumerate() {
            let mut here = vec![NONE; obj.sections.len()];
            for (s, sec) in obj.sections.iter().enumerate() {
                if s != 0 && !unique[f][s] && may_fold(sec) {
                    here[s] = list.len() as u32;
                    list.push((f as u32, s as u32));
                }
            }
            index.push(here);
        }
        let followers = link.objects.iter().map(followers).collect();
        Candidates {
            link,
            list,
            index,
            followers,
        }
    }

    /// The constant description of candidate `(f, s)`.
    fn key(&self, (f, s): SectionRef) -> Key<'d> {
        let obj = &self.link.objects[f as usize];
        let sec = &obj.sections[s as usize];
        let mut key = Key {
            constant: Constant {
                output: crate::layout::output_name(sec.name),
                // Only the COMDAT group's bookkeeping differs between group and plain copies.
                flags: sec.flags & !elf::SHF_GROUP.0,
                sh_type: sec.sh_type,
                data: sec.data,
                relocs: Vec::new(),
                companions: Vec::new(),
            },
            foldable: Vec::new(),
        };
        self.describe(&mut key, f as usize, &sec.relocs);
        for &c in self.followers[f as usize].get(&s).into_iter().flatten() {
            let companion = &obj.sections[c as usize];
            key.constant.companions.push(companion.data);
            self.describe(&mut key, f as usize, &companion.relocs);
        }
        key
    }

    fn describe(&self, key: &mut Key<'d>, f: usize, relocs: &crate::reloc_list::RelocList) {
        for r in relocs {
            let (reach, foldable) = self.reach(f, r.sym, r.addend);
            key.constant.relocs.push((r.offset, r.r_type, reach));
            key.foldable.extend(foldable);
        }
    }

    /// What a relocation against symbol `sym` of object `f` with `addend` reaches, and the
    /// candidate whose class it depends on, if any.
    fn reach(&self, f: usize, sym: u32, addend: i64) -> (Reach, Option<u32>) {
        let link = self.link;
        let (file, sym) = match link.global_id(f, sym) {
            Some(id) => match link.symtab.get(id).def {
                Def::Regular { file, sym } if link.global_binds_locally(id) => (file as usize, sym),
                _ => return (Reach::Symbol(id, addend), None),
            },
            None => (f, sym),
        };
        let input = (Reach::Input(file as u32, sym, addend), None);
        let Some(s) = link.objects[file].symbols.get(sym as usize) else {
            return input;
        };
        let at = s.value.wrapping_add(addend as u64);
        match s.place {
            // A resolver's result is not its address: only the same IFUNC is the same.
            _ if s.ty == elf::STT_GNU_IFUNC.0 => input,
            SymPlace::Absolute => (Reach::Absolute(at), None),
            SymPlace::Section(sec) => {
                if let Some(group) = link.merged.group_of(file, sec as usize) {
                    // As relocation reads a section symbol: the piece at value + addend.
                    let merged = if s.ty == elf::STT_SECTION.0 {
                        link.merged.translate(file, sec as usize, at)
                    } else {
                        link.merged
                            .translate(file, sec as usize, s.value)
                            .map(|v| v.wrapping_add(addend as u64))
                    };
                    return (
                        Reach::Merged(group.representative, merged.unwrap_or(at)),
                        None,
                    );
                }
                match self.index[file][sec as usize] {
                    NONE => (Reach::Fixed((file as u32, sec), at), None),
                    index => (Reach::Foldable(at), Some(index)),
                }
            }
            SymPlace::Undefined | SymPlace::Common => input,
        }
    }
}

/// Whether a section's kind lets it fold (its address significance aside).
fn may_fold(sec: &crate::object_file::InputSection) -> bool {
    let writable = sec.flags & elf::SHF_WRITE.0 != 0
        && sec.name != b".data.rel.ro"
        && !sec.name.starts_with(b".data.rel.ro.");
    let excluded = elf::SHF_MERGE.0 | elf::SHF_LINK_ORDER.0 | elf::SHF_TLS.0;
    sec.live
        && sec.is_alloc()
        && sec.sh_type == elf::SHT_PROGBITS.0
        && !writable
        && sec.flags & excluded == 0
        && sec.name != b".init"
        && sec.name != b".fini"
        // Unwind records are kept or dropped with the code they describe, never folded.
        && sec.name != b".eh_frame"
        && !is_c_identifier(sec.name)
}

/// For each section of `obj`, the live `SHF_LINK_ORDER` sections describing it.
fn followers(obj: &ObjectFile) -> HashMap<u32, Vec<u32>> {
    let mut map: HashMap<u32, Vec<u32>> = HashMap::new();
    for (d, sec) in obj.sections.iter().enumerate() {
        if sec.live && sec.flags & elf::SHF_LINK_ORDER.0 != 0 {
            map.entry(sec.link).or_default().push(d as u32);
        }
    }
    map
}

/// The class of each candidate, named by its first member: first the candidates with equal
/// keys, then split by the classes their relocations reach until no class splits.
fn refine(keys: &[Key]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..keys.len() as u32).collect();
    let constant = |i: u32| &keys[i as usize].constant;
    order.par_sort_by(|&a, &b| constant(a).cmp(constant(b)).then(a.cmp(&b)));
    let mut classes = vec![0u32; keys.len()];
    let mut count = name_classes(&order, &mut classes, |a, b| constant(a) == constant(b));
    loop {
        let signatures: Vec<Vec<u32>> = (0..keys.len())
            .into_par_iter()
            .map(|i| {
                std::iter::once(classes[i])
                    .chain(keys[i].foldable.iter().map(|&t| classes[t as usize]))
                    .collect()
            })
            .collect();
        order.par_sort_by(|&a, &b| {
            signatures[a as usize]
                .cmp(&signatures[b as usize])
                .then(a.cmp(&b))
        });
        let split = name_classes(&order, &mut classes, |a, b| {
            signatures[a as usize] == signatures[b as usize]
        });
        if split == count {
            return classes;
        }
        count = split;
    }
}

/// Gives each run of equal members of `order` (sorted, ties by index) the index of its first
/// member as class; returns the number of classes.
fn name_classes(order: &[u32], classes: &mut [u32], same: impl Fn(u32, u32) -> bool) -> usize {
    let mut count = 0;
    for (k, &i) in order.iter().enumerate() {
        let class = match k.checked_sub(1).map(|p| order[p]) {
            Some(prev) if same(prev, i) => classes[prev as usize],
            _ => {
                count += 1;
                i
            }
        };
        classes[i as usize] = class;
    }
    count
}

/// Folds every candidate into its class's first member: marks it and its followers dead and
/// gives the kept copy the larger alignment.
fn record(link: &mut Link, candidates: &[SectionRef], classes: &[u32]) -> Folded {
    let mut kept = vec![Vec::new(); link.objects.len()];
    for (i, &(f, s)) in candidates.iter().enumerate() {
        let class = classes[i] as usize;
        if class == i {
            continue;
        }
        let (kf, ks) = candidates[class];
        let align = link.objects[f as usize].sections[s as usize].align;
        let keep = &mut link.objects[kf as usize].sections[ks as usize];
        keep.align = keep.align.max(align);
        link.objects[f as usize].sections[s as usize].live = false;
        kept[f as usize].push((s, (kf, ks)));
    }
    let folded = Folded { kept };
    for (f, obj) in link.objects.iter_mut().enumerate() {
        for sec in obj.sections.iter_mut() {
            if sec.flags & elf::SHF_LINK_ORDER.0 != 0
                && folded.kept_copy(f, sec.link as usize).is_some()
            {
                sec.live = false;
            }
        }
    }
    folded
}

/// `--print-icf-sections`, in lld's words, each class under its kept copy in input order.
fn print(link: &Link, candidates: &[SectionRef], classes: &[u32]) {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); candidates.len()];
    for (i, &class) in classes.iter().enumerate() {
        if class as usize != i {
            members[class as usize].push(i);
        }
    }
    let label = |i: usize| {
        let (f, s) = candidates[i];
        let obj = &link.objects[f as usize];
        format!(
            "{}:({})",
            obj.name,
            String::from_utf8_lossy(obj.sections[s as usize].name)
        )
    };
    let mut out = String::new();
    for (class, folded) in members.iter().enumerate() {
        if folded.is_empty() {
            continue;
        }
        out.push_str(&format!("selected section {}\n", label(class)));
        for &i in folded {
            out.push_str(&format!("  removing identical section {}\n", label(i)));
        }
    }
    print!("{out}");
}

fn is_c_identifier(name: &[u8]) -> bool {
    name.first()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}
