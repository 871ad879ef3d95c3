//! The layout as a script's `SECTIONS` asks: input sections go to the output section of the
//! first statement that matches them (in statement order, sorted where `SORT` says),
//! sections no statement takes are placed as GNU ld places orphans (with the output section
//! of their name, else by their flags), script sections keep the script's order within the
//! segment their flags put them in, `. = ALIGN(n)` and `. += n` move the offset inside a
//! section. After addresses are known, the scripts' symbols are evaluated and their
//! `ASSERT`s checked.

use super::sections::{
    add_input, init_priority, section_named, segment_of, sort_arrays_by_priority,
};
use super::{Layout, OutSection};
use crate::error::{LinkError, Result};
use crate::got_plt::Target;
use crate::link::Link;
use crate::relocate::target_address;
use crate::script::define::{rules, value_kind, Rule};
use crate::script::expr::{Env, Expr, SectionQuery, ValueKind};
use crate::script::{Assignment, BodyItem, SectionItem, SortKey};
use crate::symbols::{Def, LinkerSymbol};
use std::collections::HashMap;

enum Mark<'s> {
    /// `. = expr` inside an output section.
    Dot(&'s Assignment),
    /// A symbol assigned at this point: its (item, body) position.
    Symbol(usize, usize),
    /// `BYTE`/`SHORT`/`LONG`/`QUAD` of this size at (item, body).
    Data(u64, usize, usize),
}

pub struct Placer<'s> {
    items: &'s [SectionItem],
    /// Per output section name: statements between its inputs, by input position.
    marks: HashMap<Vec<u8>, Vec<(usize, Mark<'s>)>>,
    /// Offset within its output section of each symbol assignment, by (item, body).
    offsets: HashMap<(usize, usize), u64>,
    /// Alignments `ALIGN(...)` on an output section or `. = ALIGN(n)` before it asks.
    min_align: HashMap<Vec<u8>, u64>,
    error: Option<String>,
    insert: Option<(bool, String)>,
}

fn constant(e: &Expr, what: &str, at: &crate::script::Loc) -> Result<u64> {
    struct NoEnv;
    impl Env for NoEnv {
        fn dot(&self) -> std::result::Result<u64, String> {
            Err("`.` is not known here".into())
        }
        fn symbol(&self, n: &str) -> std::result::Result<u64, String> {
            Err(format!("symbol `{n}' is not known before layout"))
        }
        fn is_defined(&self, _: &str) -> bool {
            false
        }
        fn section(&self, _: SectionQuery, n: &str) -> std::result::Result<u64, String> {
            Err(format!("section `{n}' is not known before layout"))
        }
        fn sizeof_headers(&self) -> u64 {
            0
        }
        fn max_page_size(&self) -> u64 {
            0x1000
        }
        fn common_page_size(&self) -> u64 {
            0x1000
        }
    }
    e.eval(&NoEnv)
        .map_err(|why| LinkError::Other(format!("{at}: {what}: {why}")))
}

/// The location counter inside a section, as an offset: only `.`, numbers and `ALIGN`.
struct OffsetEnv(u64);

impl Env for OffsetEnv {
    fn dot(&self) -> std::result::Result<u64, String> {
        Ok(self.0)
    }
    fn symbol(&self, n: &str) -> std::result::Result<u64, String> {
        Err(format!(
            "`. = ...` inside an output section may use only `.`, numbers and ALIGN (not `{n}')"
        ))
    }
    fn is_defined(&self, _: &str) -> bool {
        false
    }
    fn section(&self, _: SectionQuery, n: &str) -> std::result::Result<u64, String> {
        self.symbol(n)
    }
    fn sizeof_headers(&self) -> u64 {
        0
    }
    fn max_page_size(&self) -> u64 {
        0x1000
    }
    fn common_page_size(&self) -> u64 {
        0x1000
    }
}

/// Whether a top-level `. = expr` is one of the forms GNU ld's default scripts use, which
/// the layout already does (headers first, the data segment and RELRO page-aligned).
fn is_default_script_form(e: &Expr) -> bool {
    match e {
        Expr::DataSegment(_) | Expr::SegmentStart(_) | Expr::SizeofHeaders | Expr::Dot => true,
        Expr::Binary(_, l, r) => is_default_script_form(l) || is_default_script_form(r),
        _ => false,
    }
}

/// The alignment `ALIGN(n)` (or `ALIGN(., n)`) asks for.
fn align_of(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Align(base, n) if **base == Expr::Dot => Some(n),
        _ => None,
    }
}

impl<'s> Placer<'s> {
    /// The placer for the link's `SECTIONS`, if any; checks what it cannot do.
    pub fn new(link: &'s Link) -> Result<Option<Placer<'s>>> {
        let script = &link.opts.script;
        if script.sections.is_empty() {
            return Ok(None);
        }
        let mut p = Placer {
            items: &script.sections,
            marks: HashMap::new(),
            offsets: HashMap::new(),
            min_align: HashMap::new(),
            error: None,
            insert: script.insert.clone(),
        };
        let mut pending_align = 1u64;
        for item in p.items {
            match item {
                SectionItem::Assign(a) if a.name == "." => match align_of(&a.expr) {
                    Some(n) => pending_align = pending_align.max(constant(n, "ALIGN", &a.at)?),
                    None if is_default_script_form(&a.expr) => {}
                    None => {
                        return Err(LinkError::Other(format!(
                            "{}: assigning `.` outside an output section is supported only as \
                             `. = ALIGN(n)` and GNU ld's default-script forms",
                            a.at
                        )))
                    }
                },
                SectionItem::Output(o) => {
                    let mut align = std::mem::replace(&mut pending_align, 1);
                    if let Some(e) = &o.align {
                        align = align.max(constant(e, "ALIGN", &o.at)?);
                    }
                    if o.subalign.is_some() {
                        return Err(LinkError::Other(format!(
                            "{}: SUBALIGN is not supported",
                            o.at
                        )));
                    }
                    let entry = p.min_align.entry(o.name.as_bytes().to_vec()).or_insert(1);
                    *entry = (*entry).max(align);
                }
                _ => {}
            }
        }
        Ok(Some(p))
    }

    /// The output sections: the script's in its order (those that receive something), then
    /// the orphans', grouped by name as without a script.
    pub fn group_inputs(&mut self, link: &Link) -> Vec<OutSection> {
        let rules = rules(link);
        let mut taken: HashMap<(usize, usize), Vec<(u32, u32)>> = HashMap::new();
        let mut orphans = Vec::new();
        for (f, per) in rules.iter().enumerate() {
            for (s, rule) in per.iter().enumerate() {
                let sec = &link.objects[f].sections[s];
                if s == 0 || !sec.live {
                    continue;
                }
                match rule {
                    Some(Rule { item, body, .. }) => taken
                        .entry((*item, *body))
                        .or_default()
                        .push((f as u32, s as u32)),
                    None => orphans.push((f, s)),
                }
            }
        }
        let mut sections = Vec::new();
        let mut by_name = rustc_hash::FxHashMap::default();
        for (i, item) in self.items.iter().enumerate() {
            let SectionItem::Output(o) = item else {
                continue;
            };
            if o.name == "/DISCARD/" {
                continue;
            }
            let mut list: Vec<(u32, u32)> = Vec::new();
            let mut marks = Vec::new();
            for (b, body) in o.body.iter().enumerate() {
                match body {
                    BodyItem::Input(_) => {
                        let mut inputs = taken.remove(&(i, b)).unwrap_or_default();
                        sort_inputs(link, &rules, &o.body, &mut inputs);
                        list.extend(inputs);
                    }
                    BodyItem::Assign(a) if a.name == "." => marks.push((list.len(), Mark::Dot(a))),
                    BodyItem::Assign(_) => marks.push((list.len(), Mark::Symbol(i, b))),
                    BodyItem::Data { size, .. } => {
                        marks.push((list.len(), Mark::Data(*size as u64, i, b)))
                    }
                    BodyItem::Assert(_) => {}
                }
            }
            let has_data = o.body.iter().any(|b| matches!(b, BodyItem::Data { .. }));
            if list.is_empty() && !has_data {
                continue;
            }
            let idx = section_named(&mut sections, &mut by_name, o.name.as_bytes());
            if has_data {
                // Data statements make the section hold bytes; alone they make it writable
                // data, as GNU ld's output says (CONTENTS, ALLOC, LOAD, DATA).
                let out = &mut sections[idx];
                out.sh_type = object::elf::SHT_PROGBITS.0;
                out.flags |= object::elf::SHF_ALLOC.0;
                if list.is_empty() {
                    out.flags |= object::elf::SHF_WRITE.0;
                }
            }
            let loaded = list
                .first()
                .is_none_or(|&(f, s)| link.objects[f as usize].sections[s as usize].is_alloc());
            if o.address.is_some() && loaded {
                self.error.get_or_insert(format!(
                    "{}: an address for output section {} is not supported (only for sections \
                     that are not loaded)",
                    o.at, o.name
                ));
            }
            let base = match &sections[idx].content {
                super::Content::Inputs(l) => l.len(),
                _ => 0,
            };
            for &(f, s) in &list {
                add_input(link, &mut sections[idx], f as usize, s as usize);
            }
            self.marks
                .entry(o.name.as_bytes().to_vec())
                .or_default()
                .extend(marks.into_iter().map(|(at, m)| (at + base, m)));
        }
        let scripted = sections.len();
        for (f, s) in orphans {
            let name = super::output_name(link.objects[f].sections[s].name);
            let idx = section_named(&mut sections, &mut by_name, name);
            add_input(link, &mut sections[idx], f, s);
        }
        sort_arrays_by_priority(link, &mut sections[scripted..]);
        if self.insert.is_some() {
            // The default layout's sections come before what the script inserts among
            // equals (GNU ld inserts after the anchor and the orphans it holds).
            let mut slots: Vec<Option<OutSection>> = sections.into_iter().map(Some).collect();
            let mut order: Vec<usize> = (0..slots.len()).collect();
            order.sort_by_key(|&i| self.names(&slots[i].as_ref().expect("all present").name));
            sections = order.into_iter().filter_map(|i| slots[i].take()).collect();
        }
        for out in sections.iter_mut() {
            if let Some(&a) = self.min_align.get(&out.name) {
                out.align = out.align.max(a);
            }
        }
        sections
    }

    /// After the sections are ranked: the script's sections follow the script's order
    /// within each segment (and RELRO part) their flags put them in; `INSERT` puts them by
    /// their anchor when its segment is theirs.
    pub fn reorder(&self, sections: &mut [OutSection]) {
        let position = |name: &[u8]| {
            self.items
                .iter()
                .position(|i| matches!(i, SectionItem::Output(o) if o.name.as_bytes() == name))
        };
        let class = |s: &OutSection| (segment_of(s.rank), super::sections::is_relro(s.rank));
        let mut start = 0;
        while start < sections.len() {
            let c = class(&sections[start]);
            let end = start
                + sections[start..]
                    .iter()
                    .take_while(|s| class(s) == c)
                    .count();
            let slots: Vec<usize> = (start..end)
                .filter(|&i| position(&sections[i].name).is_some())
                .collect();
            let mut order = slots.clone();
            order.sort_by_key(|&i| position(&sections[i].name));
            let mut taken: Vec<Option<OutSection>> = Vec::new();
            for &i in &order {
                taken.push(Some(std::mem::replace(&mut sections[i], placeholder())));
            }
            for (slot, s) in slots.iter().zip(taken) {
                sections[*slot] = s.expect("taken once");
            }
            // With INSERT, GNU ld's default script names the usual sections too.
            let insert = self.insert.is_some();
            place_orphans(&mut sections[start..end], &|s: &OutSection| {
                position(&s.name).is_some()
                    || (insert && DEFAULT_SCRIPT_SECTIONS.contains(&&s.name[..]))
            });
            start = end;
        }
        if let Some((after, anchor)) = &self.insert {
            self.insert_by_anchor(sections, *after, anchor.as_bytes(), &class);
        }
    }

    /// Whether the script has an output section of this name.
    fn names(&self, name: &[u8]) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, SectionItem::Output(o) if o.name.as_bytes() == name))
    }

    fn insert_by_anchor(
        &self,
        sections: &mut [OutSection],
        after: bool,
        anchor: &[u8],
        class: &dyn Fn(&OutSection) -> (Option<usize>, bool),
    ) {
        for item in self.items.iter().rev() {
            let SectionItem::Output(o) = item else {
                continue;
            };
            let (Some(from), Some(to)) = (
                sections.iter().position(|s| s.name == o.name.as_bytes()),
                sections.iter().position(|s| s.name == anchor),
            ) else {
                continue;
            };
            if from == to || class(&sections[from]) != class(&sections[to]) {
                continue;
            }
            // GNU ld puts the orphans it holds for the anchor right after it, before what
            // the script inserts there.
            let mut target = if after { to + 1 } else { to };
            while after
                && target < sections.len()
                && !self.names(&sections[target].name)
                && !DEFAULT_SCRIPT_SECTIONS.contains(&&sections[target].name[..])
                && class(&sections[target]) == class(&sections[to])
                && hold_of(&sections[target]) == anchor
                && matches!(sections[target].content, super::Content::Inputs(_))
            {
                target += 1;
            }
            if from < target {
                sections[from..target].rotate_left(1);
            } else {
                sections[target..=from].rotate_right(1);
            }
        }
    }

    /// Before input `at` of output section `name` (or at its end): applies the statements
    /// there to the offset `size`, records symbol offsets; the new offset.
    pub fn step(&mut self, name: &[u8], at: usize, size: u64, align: &mut u64) -> u64 {
        let Some(marks) = self.marks.get(name) else {
            return size;
        };
        let mut size = size;
        for (_, mark) in marks.iter().filter(|(p, _)| *p == at) {
            match mark {
                Mark::Symbol(i, b) => {
                    self.offsets.insert((*i, *b), size);
                }
                Mark::Data(n, i, b) => {
                    self.offsets.insert((*i, *b), size);
                    size += n;
                }
                Mark::Dot(a) => match a.expr.eval(&OffsetEnv(size)) {
                    Ok(v) if v >= size && v - size <= super::MAX_OUTPUT => {
                        if let Some(n) =
                            align_of(&a.expr).and_then(|n| n.eval(&OffsetEnv(size)).ok())
                        {
                            *align = (*align).max(n.max(1));
                        }
                        size = v;
                    }
                    Ok(v) => {
                        self.error.get_or_insert(format!(
                            "{}: cannot move the location counter from {size:#x} to {v:#x}",
                            a.at
                        ));
                    }
                    Err(why) => {
                        self.error.get_or_insert(format!("{}: {why}", a.at));
                    }
                },
            }
        }
        size
    }

    pub fn check(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(LinkError::Other(e.clone())),
            None => Ok(()),
        }
    }
}

/// The loaded output sections GNU ld's default scripts name (`ld --verbose`, x86-64 and
/// ARM): with `INSERT`, the others are orphans.
const DEFAULT_SCRIPT_SECTIONS: &[&[u8]] = &[
    b".interp",
    b".note.gnu.build-id",
    b".hash",
    b".gnu.hash",
    b".dynsym",
    b".dynstr",
    b".gnu.version",
    b".gnu.version_d",
    b".gnu.version_r",
    b".rela.dyn",
    b".rel.dyn",
    b".rela.plt",
    b".rel.plt",
    b".relr.dyn",
    b".init",
    b".plt",
    b".iplt",
    b".plt.got",
    b".plt.sec",
    b".text",
    b".fini",
    b".rodata",
    b".rodata1",
    b".ARM.extab",
    b".ARM.exidx",
    b".eh_frame_hdr",
    b".eh_frame",
    b".sframe",
    b".gcc_except_table",
    b".gnu_extab",
    b".exception_ranges",
    b".tdata",
    b".tbss",
    b".preinit_array",
    b".init_array",
    b".fini_array",
    b".ctors",
    b".dtors",
    b".jcr",
    b".data.rel.ro",
    b".dynamic",
    b".got",
    b".got.plt",
    b".data",
    b".data1",
    b".bss",
    b".lbss",
    b".lrodata",
    b".ldata",
    b".note.gnu.arm.ident",
];

/// The output section GNU ld places an orphan of this kind after.
fn hold_of(s: &OutSection) -> &'static [u8] {
    use object::elf;
    let f = s.flags;
    if s.sh_type == elf::SHT_NOTE.0 {
        b""
    } else if f & elf::SHF_TLS.0 != 0 {
        if s.is_nobits() {
            b".tbss"
        } else {
            b".tdata"
        }
    } else if f & elf::SHF_EXECINSTR.0 != 0 {
        b".text"
    } else if s.is_nobits() {
        b".bss"
    } else if f & elf::SHF_WRITE.0 != 0 {
        b".data"
    } else {
        b".rodata"
    }
}

/// Within one segment's run: each input section the script does not name goes after the
/// output section GNU ld holds for its kind (`.text`, `.rodata`, `.data`, `.bss`, `.tdata`,
/// `.tbss`: `place_orphan` in `ld/emultempl/elf.em`), else after the last script section of
/// its kind (flags and NOBITS); one with neither stays where its rank put it.
fn place_orphans(run: &mut [OutSection], scripted: &dyn Fn(&OutSection) -> bool) {
    use object::elf;
    let kind = |s: &OutSection| {
        let f = s.flags & (elf::SHF_WRITE.0 | elf::SHF_EXECINSTR.0 | elf::SHF_TLS.0);
        (f, s.is_nobits(), s.sh_type == elf::SHT_NOTE.0)
    };
    let inputs = |s: &OutSection| matches!(s.content, super::Content::Inputs(_));
    let orphan = |s: &OutSection| s.is_alloc() && !scripted(s) && inputs(s);
    let home_of = |i: usize| {
        let hold = hold_of(&run[i]);
        let candidate =
            |j: usize| scripted(&run[j]) && inputs(&run[j]) && kind(&run[j]) == kind(&run[i]);
        (0..run.len())
            .rev()
            .find(|&j| candidate(j) && run[j].name == hold)
            .or_else(|| (0..run.len()).rev().find(|&j| candidate(j)))
            .filter(|_| orphan(&run[i]))
    };
    let homes: Vec<Option<usize>> = (0..run.len()).map(home_of).collect();
    // Each home followed by its orphans in their order; the rest where they were.
    let mut order = Vec::with_capacity(run.len());
    for i in 0..run.len() {
        if homes[i].is_some() {
            continue;
        }
        order.push(i);
        order.extend((0..run.len()).filter(|&o| homes[o] == Some(i)));
    }
    let mut taken: Vec<Option<OutSection>> = run
        .iter_mut()
        .map(|s| Some(std::mem::replace(s, placeholder())))
        .collect();
    for (slot, i) in order.into_iter().enumerate() {
        run[slot] = taken[i].take().expect("each section once");
    }
}

fn placeholder() -> OutSection {
    OutSection {
        name: Vec::new(),
        sh_type: 0,
        flags: 0,
        align: 1,
        entsize: 0,
        content: super::Content::Inputs(Vec::new()),
        size: 0,
        addr: 0,
        offset: 0,
        rank: 0,
    }
}

/// Orders the inputs one statement took by the `SORT` keys of the patterns that took them.
fn sort_inputs(
    link: &Link,
    rules: &[Vec<Option<Rule>>],
    body: &[BodyItem],
    inputs: &mut [(u32, u32)],
) {
    let keys_of = |f: u32, s: u32| -> &[SortKey] {
        let Some(Rule {
            body: b,
            spec: Some(spec),
            ..
        }) = rules[f as usize][s as usize]
        else {
            return &[];
        };
        match &body[b] {
            BodyItem::Input(d) => d.sections.as_ref().map_or(&[][..], |v| &v[spec].sort[..]),
            _ => &[],
        }
    };
    if inputs.iter().all(|&(f, s)| keys_of(f, s).is_empty()) {
        return;
    }
    inputs.sort_by(|&(fa, sa), &(fb, sb)| {
        let (a, b) = (
            &link.objects[fa as usize].sections[sa as usize],
            &link.objects[fb as usize].sections[sb as usize],
        );
        let mut ord = std::cmp::Ordering::Equal;
        for key in keys_of(fa, sa) {
            ord = ord.then(match key {
                SortKey::Name => a.name.cmp(b.name),
                SortKey::Alignment => b.align.cmp(&a.align),
                SortKey::InitPriority => init_priority(a.name).cmp(&init_priority(b.name)),
            });
        }
        ord
    });
}

/// Values of symbols after layout.
struct LayoutEnv<'e, 'd> {
    link: &'e Link<'d>,
    layout: &'e Layout,
    values: &'e HashMap<String, u64>,
    dot: Option<u64>,
}

impl Env for LayoutEnv<'_, '_> {
    fn dot(&self) -> std::result::Result<u64, String> {
        self.dot
            .ok_or_else(|| "`.` is not known outside SECTIONS".to_string())
    }
    fn symbol(&self, name: &str) -> std::result::Result<u64, String> {
        if let Some(&v) = self.values.get(name) {
            return Ok(v);
        }
        let undefined = || format!("undefined symbol `{name}' referenced in expression");
        let id = self
            .link
            .symtab
            .lookup(name.as_bytes())
            .ok_or_else(undefined)?;
        let s = self.link.symtab.get(id);
        match s.def {
            Def::Linker(LinkerSymbol::Script { .. }) => Ok(0),
            _ if s.is_defined() => Ok(target_address(self.link, self.layout, Target::Global(id))),
            _ => Err(undefined()),
        }
    }
    fn is_defined(&self, name: &str) -> bool {
        self.values.contains_key(name)
            || self.link.symtab.lookup(name.as_bytes()).is_some_and(|id| {
                let s = self.link.symtab.get(id);
                s.is_defined() && !matches!(s.def, Def::Linker(LinkerSymbol::Script { .. }))
            })
    }
    fn section(&self, q: SectionQuery, name: &str) -> std::result::Result<u64, String> {
        let s = self.layout.by_name(name.as_bytes());
        match (q, s) {
            (SectionQuery::Size, None) => Ok(0),
            (_, None) => Err(format!(
                "undefined section `{name}' referenced in expression"
            )),
            (SectionQuery::Addr | SectionQuery::LoadAddr, Some(s)) => Ok(s.addr),
            (SectionQuery::Size, Some(s)) => Ok(s.size),
            (SectionQuery::Align, Some(s)) => Ok(s.align),
        }
    }
    fn sizeof_headers(&self) -> u64 {
        let (ehdr, phdr) = if self.link.arch.got_entry_size() == 8 {
            (64, 56)
        } else {
            (52, 32)
        };
        ehdr + phdr * self.layout.phdrs.len() as u64
    }
    fn max_page_size(&self) -> u64 {
        self.link.arch.page_size()
    }
    fn common_page_size(&self) -> u64 {
        0x1000
    }
}

/// The location counter between output sections, before statement `k` of `SECTIONS`:
/// the end of what the layout put below the next output section the script names (orphans
/// included), or of everything at the end.
fn dot_before(layout: &Layout, items: &[SectionItem], k: usize) -> u64 {
    let bound = items[k..]
        .iter()
        .filter_map(|i| match i {
            SectionItem::Output(o) => layout.by_name(o.name.as_bytes()),
            _ => None,
        })
        .map(|s| s.addr)
        .next()
        .unwrap_or(u64::MAX);
    let tbss = |s: &OutSection| s.is_nobits() && s.flags & object::elf::SHF_TLS.0 != 0;
    layout
        .sections
        .iter()
        .filter(|s| s.is_alloc() && !tbss(s) && s.addr < bound)
        .map(|s| s.addr + s.size)
        .max()
        .unwrap_or(layout.base)
}

/// What the scripts give the output after layout.
#[derive(Default)]
pub struct Evaluated {
    /// Symbol values by name.
    pub values: HashMap<String, u64>,
    /// `BYTE`/`SHORT`/`LONG`/`QUAD` contents: (file offset, little-endian bytes).
    pub data: Vec<(u64, Vec<u8>)>,
    /// Header index of the section each symbol assigned inside one is in.
    pub sections: HashMap<String, u16>,
}

/// Evaluates every script assignment in order (twice, so a symbol may use one assigned
/// later), the data statements, then checks the `ASSERT`s.
pub fn evaluate(link: &Link, layout: &Layout, placer: Option<&Placer>) -> Result<Evaluated> {
    let script = &link.opts.script;
    let mut values = HashMap::new();
    let mut sections = HashMap::new();
    if script.is_empty() {
        return Ok(Evaluated::default());
    }
    for pass in 0..2 {
        let last = pass == 1;
        for a in script
            .defsyms
            .iter()
            .chain(script.top.iter().filter_map(|i| match i {
                SectionItem::Assign(a) => Some(a),
                _ => None,
            }))
        {
            assign(link, layout, &mut values, a, None, None, last)?;
        }
        // With INSERT the statements sit right after the anchor: `.` between them is where
        // the previous script section ends, before the default layout's next sections.
        let mut prev_end = None;
        for (i, item) in script.sections.iter().enumerate() {
            let cursor = || match prev_end.filter(|_| script.insert.is_some()) {
                Some(end) => end,
                None => dot_before(layout, &script.sections, i),
            };
            match item {
                SectionItem::Assign(a) if a.name == "." => {}
                SectionItem::Assign(a) => {
                    assign(link, layout, &mut values, a, Some(cursor()), None, last)?
                }
                SectionItem::Output(o) => {
                    let index = layout
                        .sections
                        .iter()
                        .position(|s| s.name == o.name.as_bytes());
                    let out = index.map(|i| &layout.sections[i]);
                    let start = out.map_or_else(cursor, |s| s.addr);
                    for (b, body) in o.body.iter().enumerate() {
                        let BodyItem::Assign(a) = body else { continue };
                        if a.name == "." {
                            continue;
                        }
                        let offset = placer.and_then(|p| p.offsets.get(&(i, b))).copied();
                        let dot = start + offset.unwrap_or(0);
                        // A plain number inside an output section is an offset into it.
                        let base = match value_kind(link, &a.expr, true) {
                            ValueKind::Number => Some(start),
                            _ => None,
                        };
                        assign(link, layout, &mut values, a, Some(dot), base, last)?;
                        // Computed from `.` or numbers: the section's (from a symbol: the
                        // section that symbol's value falls in).
                        let mut from = Vec::new();
                        a.expr.symbols(&mut from);
                        if let Some(i) = index.filter(|_| from.is_empty()) {
                            sections.insert(a.name.clone(), i as u16 + 1);
                        }
                    }
                    if let Some(s) = out {
                        prev_end = Some(s.addr + s.size);
                    }
                }
                SectionItem::Assert(_) => {}
            }
        }
    }
    let data = data_statements(link, layout, placer, &values)?;
    for a in script.assertions() {
        let env = LayoutEnv {
            link,
            layout,
            values: &values,
            dot: None,
        };
        let ok = a
            .expr
            .eval(&env)
            .map_err(|why| LinkError::Other(format!("{}: {why}", a.at)))?;
        if ok == 0 {
            return Err(LinkError::Other(a.message.clone()));
        }
    }
    Ok(Evaluated {
        values,
        data,
        sections,
    })
}

/// The bytes of every `BYTE`/`SHORT`/`LONG`/`QUAD`, `.` being its own address.
fn data_statements(
    link: &Link,
    layout: &Layout,
    placer: Option<&Placer>,
    values: &HashMap<String, u64>,
) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut data = Vec::new();
    let Some(placer) = placer else {
        return Ok(data);
    };
    for (i, item) in placer.items.iter().enumerate() {
        let SectionItem::Output(o) = item else {
            continue;
        };
        let Some(out) = layout.by_name(o.name.as_bytes()) else {
            continue;
        };
        for (b, body) in o.body.iter().enumerate() {
            let BodyItem::Data { size, value, at } = body else {
                continue;
            };
            let Some(&offset) = placer.offsets.get(&(i, b)) else {
                continue;
            };
            let env = LayoutEnv {
                link,
                layout,
                values,
                dot: Some(out.addr + offset),
            };
            let v = value
                .eval(&env)
                .map_err(|why| LinkError::Other(format!("{at}: {why}")))?;
            data.push((
                out.offset + offset,
                v.to_le_bytes()[..*size as usize].to_vec(),
            ));
        }
    }
    Ok(data)
}

fn assign(
    link: &Link,
    layout: &Layout,
    values: &mut HashMap<String, u64>,
    a: &Assignment,
    dot: Option<u64>,
    base: Option<u64>,
    last: bool,
) -> Result<()> {
    let defined = link.symtab.lookup(a.name.as_bytes()).is_some_and(|id| {
        matches!(
            link.symtab.get(id).def,
            Def::Linker(LinkerSymbol::Script { .. })
        )
    });
    let env = LayoutEnv {
        link,
        layout,
        values,
        dot,
    };
    match a.expr.eval(&env) {
        Ok(v) => {
            let v = v.wrapping_add(base.unwrap_or(0));
            if defined
                || !matches!(
                    a.kind,
                    crate::script::AssignKind::Provide | crate::script::AssignKind::ProvideHidden
                )
            {
                values.insert(a.name.clone(), v);
            }
            Ok(())
        }
        Err(why) if last => Err(LinkError::Other(format!("{}: {why}", a.at))),
        Err(_) => Ok(()),
    }
}
