//! `--gc-sections`: keep only the allocated sections reachable from the roots through
//! relocations, as GNU ld does.
//!
//! The roots are the entry point, the symbols the output exports, the
//! sections the loader or the start-up code reads without any relocation naming them
//! (init/fini arrays, `.init`/`.fini`, notes, `SHF_GNU_RETAIN`), and the sections a
//! `__start_`/`__stop_` symbol brackets. A COMDAT group lives or dies whole, and a
//! `SHF_LINK_ORDER` section (ARM `.ARM.exidx.*`) follows the code it describes. `.eh_frame`
//! is no root: an FDE keeps what it refers to (its LSDA, the personality routine) only while
//! the code it describes is live, and the FDEs of dropped code are dropped with it
//! ([`crate::eh_frame::rewrite`]). Sections that are not allocated (debug information) are kept.

use crate::link::Link;
use crate::object_file::SymPlace;
use crate::symbols::{start_stop_section, Def, SymbolId};
use object::elf;

/// `SHF_GNU_RETAIN`: the section must survive garbage collection.
const SHF_GNU_RETAIN: u64 = 0x20_0000;

/// A section of an input object: (object, section index).
type SectionRef = (usize, usize);

/// Drops the unreachable sections; returns them in input order.
pub fn collect(link: &mut Link) -> Vec<SectionRef> {
    if !link.opts.gc_sections {
        return Vec::new();
    }
    let mut marks = Marks::new(link);
    marks.roots(link);
    marks.propagate(link);
    let dropped = marks.unmarked(link);
    for &(f, s) in &dropped {
        link.objects[f].sections[s].live = false;
        if link.opts.print_gc_sections {
            let obj = &link.objects[f];
            eprintln!(
                "ld.tether: removing unused section '{}' in file '{}'",
                String::from_utf8_lossy(obj.sections[s].name),
                obj.name
            );
        }
    }
    dropped
}

struct Marks {
    live: Vec<Vec<bool>>,
    work: Vec<SectionRef>,
    /// Per object: the sections that live and die with each section (the rest of its COMDAT
    /// group, the SHF_LINK_ORDER sections describing it), found once.
    companions: Vec<rustc_hash::FxHashMap<u32, Vec<u32>>>,
    /// Per live `.eh_frame` record: (the object, the code an FDE describes (`None` for a
    /// CIE), the other relocation targets), parsed once.
    unwind: Vec<(usize, Option<SectionRef>, Vec<SectionRef>)>,
}

impl Marks {
    fn new(link: &Link) -> Marks {
        Marks {
            live: link
                .objects
                .iter()
                .map(|o| vec![false; o.sections.len()])
                .collect(),
            work: Vec::new(),
            companions: link.objects.iter().map(companions).collect(),
            unwind: unwind_records(link),
        }
    }

    fn mark(&mut self, section: SectionRef) {
        let (f, s) = section;
        if let Some(slot) = self.live.get_mut(f).and_then(|v| v.get_mut(s)) {
            if !*slot {
                *slot = true;
                self.work.push(section);
            }
        }
    }

    /// The section holding the definition of global symbol `id`, if an object defines it.
    fn defining_section(link: &Link, id: SymbolId) -> Option<SectionRef> {
        match link.symtab.get(id).def {
            Def::Regular { file, sym } => {
                match link.objects[file as usize].symbols.at(sym as usize).place {
                    SymPlace::Section(s) => Some((file as usize, s as usize)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn mark_symbol(&mut self, link: &Link, name: &[u8]) {
        if let Some(section) = link
            .symtab
            .lookup(name)
            .and_then(|id| Self::defining_section(link, id))
        {
            self.mark(section);
        }
    }

    fn roots(&mut self, link: &Link) {
        let entry = link
            .opts
            .entry
            .clone()
            .or_else(|| link.kind.is_program().then(|| "_start".to_string()));
        for name in entry.iter() {
            self.mark_symbol(link, name.as_bytes());
        }
        for name in [&link.opts.init, &link.opts.fini] {
            self.mark_symbol(link, name.as_bytes());
        }
        for id in 0..link.symtab.len() as SymbolId {
            if crate::dynamic::is_exported(link, id) {
                if let Some(section) = Self::defining_section(link, id) {
                    self.mark(section);
                }
            }
        }
        let bracketed: Vec<&[u8]> = (0..link.symtab.len() as SymbolId)
            .filter_map(|id| start_stop_section(link.symtab.get(id).name))
            .collect();
        let script_rules = crate::script::define::rules(link);
        for (f, obj) in link.objects.iter().enumerate() {
            for (s, sec) in obj.sections.iter().enumerate() {
                let kept =
                    script_rules[f][s].is_some_and(|r| crate::script::define::is_kept(link, r));
                if sec.live
                    && sec.is_alloc()
                    && (is_root_section(sec.name, sec.sh_type, sec.flags)
                        || bracketed.contains(&sec.name)
                        || kept)
                {
                    self.mark((f, s));
                }
            }
        }
    }

    /// Follows relocations from every marked section, then what live code's FDEs refer to,
    /// until nothing new is marked.
    fn propagate(&mut self, link: &Link) {
        loop {
            while let Some((f, s)) = self.work.pop() {
                self.mark_references(link, f, s);
                self.mark_companions(f, s);
            }
            self.mark_from_eh_frames();
            if self.work.is_empty() {
                return;
            }
        }
    }

    fn mark_references(&mut self, link: &Link, f: usize, s: usize) {
        let obj = &link.objects[f];
        for r in &obj.sections[s].relocs {
            if let Some(target) = reloc_target(link, f, r.sym) {
                self.mark(target);
            }
        }
    }

    /// A COMDAT group's other members, and the SHF_LINK_ORDER sections describing `s`.
    fn mark_companions(&mut self, f: usize, s: usize) {
        let Some(others) = self.companions[f].get(&(s as u32)) else {
            return;
        };
        for m in others.clone() {
            self.mark((f, m as usize));
        }
    }

    /// For each FDE whose code is live, marks the other sections it refers to (the LSDA in
    /// `.gcc_except_table`); a CIE's (a personality routine) are always marked.
    fn mark_from_eh_frames(&mut self) {
        let reached: Vec<SectionRef> = self
            .unwind
            .iter()
            .filter(|(_, code, _)| code.is_none_or(|(tf, ts)| self.live[tf][ts]))
            .flat_map(|(_, _, targets)| targets.iter().copied())
            .collect();
        for target in reached {
            self.mark(target);
        }
    }

    /// The live allocated sections nothing reached.
    fn unmarked(&self, link: &Link) -> Vec<SectionRef> {
        let mut out = Vec::new();
        for (f, obj) in link.objects.iter().enumerate() {
            for (s, sec) in obj.sections.iter().enumerate() {
                // Empty sections cost nothing; GNU ld neither drops nor lists them.
                let kept_anyway =
                    !sec.is_alloc() || sec.name == b".eh_frame" || s == 0 || sec.size == 0;
                if sec.live && !kept_anyway && !self.live[f][s] {
                    out.push((f, s));
                }
            }
        }
        out
    }
}

/// For each section of `obj`, the sections that must be kept with it.
fn companions(obj: &crate::object_file::ObjectFile) -> rustc_hash::FxHashMap<u32, Vec<u32>> {
    let mut map: rustc_hash::FxHashMap<u32, Vec<u32>> = rustc_hash::FxHashMap::default();
    for group in &obj.groups {
        for &m in &group.members {
            map.entry(m).or_default().extend(&group.members);
        }
    }
    for (d, sec) in obj.sections.iter().enumerate() {
        if sec.flags & elf::SHF_LINK_ORDER.0 != 0 {
            map.entry(sec.link).or_default().push(d as u32);
        }
    }
    map
}

/// The records of every live input `.eh_frame`: what an FDE describes and what else each
/// record's relocations reach (an FDE's first relocation is its code).
fn unwind_records(link: &Link) -> Vec<(usize, Option<SectionRef>, Vec<SectionRef>)> {
    use crate::eh_frame::RecordKind;
    let mut out = Vec::new();
    for (f, obj) in link.objects.iter().enumerate() {
        for sec in obj
            .sections
            .iter()
            .filter(|x| x.live && x.name == b".eh_frame")
        {
            let Ok(records) = crate::eh_frame::split_records(sec.data) else {
                continue;
            };
            for record in &records {
                let (start, end) = (record.offset as u64, (record.offset + record.size) as u64);
                let mut targets = sec
                    .relocs
                    .iter()
                    .filter(|r| r.offset >= start && r.offset < end)
                    .map(|r| reloc_target(link, f, r.sym));
                let code = match record.kind {
                    RecordKind::Fde { .. } => match targets.next().flatten() {
                        Some(code) => Some(code),
                        None => continue,
                    },
                    RecordKind::Cie => None,
                    RecordKind::Terminator => continue,
                };
                out.push((f, code, targets.flatten().collect()));
            }
        }
    }
    out
}

/// The input section a relocation's symbol lies in.
fn reloc_target(link: &Link, f: usize, sym: u32) -> Option<SectionRef> {
    match link.global_id(f, sym) {
        Some(id) => Marks::defining_section(link, id),
        None => match link.objects[f].symbols.get(sym as usize)?.place {
            SymPlace::Section(s) => Some((f, s as usize)),
            _ => None,
        },
    }
}

/// Sections the loader or the C start-up reads without a relocation naming them.
fn is_root_section(name: &[u8], sh_type: u32, flags: u64) -> bool {
    let prefixed =
        |p: &[u8]| name == p || (name.starts_with(p) && name.get(p.len()) == Some(&b'.'));
    flags & SHF_GNU_RETAIN != 0
        || sh_type == elf::SHT_NOTE.0
        || sh_type == elf::SHT_INIT_ARRAY.0
        || sh_type == elf::SHT_FINI_ARRAY.0
        || sh_type == elf::SHT_PREINIT_ARRAY.0
        || [
            &b".init"[..],
            b".fini",
            b".init_array",
            b".fini_array",
            b".preinit_array",
            b".ctors",
            b".dtors",
            b".jcr",
            b".interp",
        ]
        .iter()
        .any(|p| prefixed(p))
}
