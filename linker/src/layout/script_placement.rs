//! The layout as a script's `SECTIONS` asks: input sections go to the output section of the
//! first statement that matches them (in statement order, sorted where `SORT` says),
//! sections no statement takes are placed as GNU ld places orphans (with the output section
//! of their name, else by their flags), script sections keep the script's order within the
//! segment their flags put them in, `. = ALIGN(n)` and `. += n` move the offset inside a
//! section. After addresses are known, the scripts' symbols are evaluated and their
//! `ASSERT`s checked.

use super::sections::{add_input, init_priority, section_named, segment_of, sort_arrays_by_priority};
use super::{Layout, OutSection};
use crate::error::{LinkError, Result};
use crate::link::Link;
use crate::relocate::target_address;
use crate::got_plt::Target;
use crate::script::define::{rules, Rule};
use crate::script::expr::{Env, Expr, SectionQuery};
use crate::script::{Assignment, BodyItem, SectionItem, SortKey};
use crate::symbols::{Def, LinkerSymbol};
use std::collections::HashMap;

enum Mark<'s> {
    /// `. = expr` inside an output section.
    Dot(&'s Assignment),
    /// A symbol assigned at this point: its (item, body) position.
    Symbol(usize, usize),
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
        fn symbol_is_absolute(&self, _: &str) -> bool {
            true
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
    fn symbol_is_absolute(&self, _: &str) -> bool {
        true
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
                    for b in &o.body {
                        if let BodyItem::Data { at, .. } = b {
                            return Err(LinkError::Other(format!(
                                "{at}: BYTE, SHORT, LONG and QUAD are not supported"
                            )));
                        }
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
                    Some(Rule { item, body, .. }) => taken.entry((*item, *body)).or_default().push((f as u32, s as u32)),
                    None => orphans.push((f, s)),
                }
            }
        }
        let mut sections = Vec::new();
        let mut by_name = HashMap::new();
        for (i, item) in self.items.iter().enumerate() {
            let SectionItem::Output(o) = item else { continue };
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
                    _ => {}
                }
            }
            if list.is_empty() {
                continue;
            }
            let idx = section_named(&mut sections, &mut by_name, o.name.as_bytes());
            if o.address.is_some() && link.objects[list[0].0 as usize].sections[list[0].1 as usize].is_alloc() {
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
            self.items.iter().position(|i| matches!(i, SectionItem::Output(o) if o.name.as_bytes() == name))
        };
        let class = |s: &OutSection| (segment_of(s.rank), super::sections::is_relro(s.rank));
        let mut start = 0;
        while start < sections.len() {
            let c = class(&sections[start]);
            let end = start + sections[start..].iter().take_while(|s| class(s) == c).count();
            let slots: Vec<usize> = (start..end).filter(|&i| position(&sections[i].name).is_some()).collect();
            let mut order = slots.clone();
            order.sort_by_key(|&i| position(&sections[i].name));
            let mut taken: Vec<Option<OutSection>> = Vec::new();
            for &i in &order {
                taken.push(Some(std::mem::replace(&mut sections[i], placeholder())));
            }
            for (slot, s) in slots.iter().zip(taken) {
                sections[*slot] = s.expect("taken once");
            }
            place_orphans(&mut sections[start..end], &|s: &OutSection| position(&s.name).is_some());
            start = end;
        }
        if let Some((after, anchor)) = &self.insert {
            self.insert_by_anchor(sections, *after, anchor.as_bytes(), &class);
        }
    }

    fn insert_by_anchor(
        &self,
        sections: &mut [OutSection],
        after: bool,
        anchor: &[u8],
        class: &dyn Fn(&OutSection) -> (Option<usize>, bool),
    ) {
        for item in self.items.iter().rev() {
            let SectionItem::Output(o) = item else { continue };
            let (Some(from), Some(to)) = (
                sections.iter().position(|s| s.name == o.name.as_bytes()),
                sections.iter().position(|s| s.name == anchor),
            ) else {
                continue;
            };
            if from == to || class(&sections[from]) != class(&sections[to]) {
                continue;
            }
            let target = if after { to + 1 } else { to };
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
                Mark::Dot(a) => match a.expr.eval(&OffsetEnv(size)) {
                    Ok(v) if v >= size && v - size <= super::MAX_OUTPUT => {
                        if let Some(n) = align_of(&a.expr).and_then(|n| n.eval(&OffsetEnv(size)).ok()) {
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

/// Within one segment's run: each input section the script does not name goes after the
/// output section GNU ld holds for its kind (`.text`, `.rodata`, `.data`, `.bss`, `.tdata`,
/// `.tbss`: `place_orphan` in `ld/emultempl/elf.em`), else after the last script section of
/// its kind (flags and NOBITS); one with neither stays where its rank put it.
fn place_orphans(run: &mut [OutSection], scripted: &dyn Fn(&OutSection) -> bool) {
    use object::elf;
    let kind = |s: &OutSection| {
        let f = s.flags & (elf::SHF_WRITE.0 | elf::SHF_EXECINSTR.0 | elf::SHF_TLS.0) as u64;
        (f, s.is_nobits(), s.sh_type == elf::SHT_NOTE.0)
    };
    let inputs = |s: &OutSection| matches!(s.content, super::Content::Inputs(_));
    let orphan = |s: &OutSection| s.is_alloc() && !scripted(s) && inputs(s);
    // From the last, so that orphans bound for one home keep their order after it.
    for i in (0..run.len()).rev() {
        let hold: &[u8] = match kind(&run[i]) {
            (_, _, true) => b"",
            (f, nobits, _) if f & elf::SHF_TLS.0 as u64 != 0 => if nobits { b".tbss" } else { b".tdata" },
            (f, _, _) if f & elf::SHF_EXECINSTR.0 as u64 != 0 => b".text",
            (_, true, _) => b".bss",
            (f, _, _) if f & elf::SHF_WRITE.0 as u64 != 0 => b".data",
            _ => b".rodata",
        };
        let candidate = |j: usize| scripted(&run[j]) && inputs(&run[j]) && kind(&run[j]) == kind(&run[i]);
        let home = (0..run.len())
            .rev()
            .find(|&j| candidate(j) && run[j].name == hold)
            .or_else(|| (0..run.len()).rev().find(|&j| candidate(j)));
        if let Some(h) = home.filter(|&h| orphan(&run[i]) && h > i) {
            run[i..=h].rotate_left(1);
        }
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
fn sort_inputs(link: &Link, rules: &[Vec<Option<Rule>>], body: &[BodyItem], inputs: &mut [(u32, u32)]) {
    let keys_of = |f: u32, s: u32| -> &[SortKey] {
        let Some(Rule { body: b, spec: Some(spec), .. }) = rules[f as usize][s as usize] else {
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
        let (a, b) = (&link.objects[fa as usize].sections[sa as usize], &link.objects[fb as usize].sections[sb as usize]);
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
        self.dot.ok_or_else(|| "`.` is not known outside SECTIONS".to_string())
    }
    fn symbol(&self, name: &str) -> std::result::Result<u64, String> {
        if let Some(&v) = self.values.get(name) {
            return Ok(v);
        }
        let undefined = || format!("undefined symbol `{name}' referenced in expression");
        let id = self.link.symtab.lookup(name.as_bytes()).ok_or_else(undefined)?;
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
            (_, None) => Err(format!("undefined section `{name}' referenced in expression")),
            (SectionQuery::Addr | SectionQuery::LoadAddr, Some(s)) => Ok(s.addr),
            (SectionQuery::Size, Some(s)) => Ok(s.size),
            (SectionQuery::Align, Some(s)) => Ok(s.align),
        }
    }
    fn sizeof_headers(&self) -> u64 {
        let (ehdr, phdr) = if self.link.arch.got_entry_size() == 8 { (64, 56) } else { (52, 32) };
        ehdr + phdr * self.layout.phdrs.len() as u64
    }
    fn max_page_size(&self) -> u64 {
        self.link.arch.page_size()
    }
    fn common_page_size(&self) -> u64 {
        0x1000
    }
    fn symbol_is_absolute(&self, _: &str) -> bool {
        true
    }
}

/// Evaluates every script assignment in order (twice, so a symbol may use one assigned
/// later), then checks the `ASSERT`s: the values by name.
pub fn evaluate(link: &Link, layout: &Layout, placer: Option<&Placer>) -> Result<HashMap<String, u64>> {
    let script = &link.opts.script;
    let mut values = HashMap::new();
    if script.is_empty() {
        return Ok(values);
    }
    for pass in 0..2 {
        let last = pass == 1;
        for a in script.defsyms.iter().chain(script.top.iter().filter_map(|i| match i {
            SectionItem::Assign(a) => Some(a),
            _ => None,
        })) {
            assign(link, layout, &mut values, a, None, last)?;
        }
        let mut cursor = layout.base;
        for (i, item) in script.sections.iter().enumerate() {
            match item {
                SectionItem::Assign(a) if a.name == "." => {}
                SectionItem::Assign(a) => assign(link, layout, &mut values, a, Some(cursor), last)?,
                SectionItem::Output(o) => {
                    let out = layout.by_name(o.name.as_bytes());
                    let start = out.map_or(cursor, |s| s.addr);
                    for (b, body) in o.body.iter().enumerate() {
                        let BodyItem::Assign(a) = body else { continue };
                        if a.name == "." {
                            continue;
                        }
                        let offset = placer.and_then(|p| p.offsets.get(&(i, b))).copied();
                        let dot = start + offset.unwrap_or(0);
                        assign(link, layout, &mut values, a, Some(dot), last)?;
                    }
                    if let Some(s) = out {
                        cursor = s.addr + s.size;
                    }
                }
                SectionItem::Assert(_) => {}
            }
        }
    }
    for a in script.assertions() {
        let env = LayoutEnv { link, layout, values: &values, dot: None };
        let ok = a.expr.eval(&env).map_err(|why| LinkError::Other(format!("{}: {why}", a.at)))?;
        if ok == 0 {
            return Err(LinkError::Other(a.message.clone()));
        }
    }
    Ok(values)
}

fn assign(
    link: &Link,
    layout: &Layout,
    values: &mut HashMap<String, u64>,
    a: &Assignment,
    dot: Option<u64>,
    last: bool,
) -> Result<()> {
    let defined = link
        .symtab
        .lookup(a.name.as_bytes())
        .is_some_and(|id| matches!(link.symtab.get(id).def, Def::Linker(LinkerSymbol::Script { .. })));
    let env = LayoutEnv { link, layout, values, dot };
    match a.expr.eval(&env) {
        Ok(v) => {
            if defined || !matches!(a.kind, crate::script::AssignKind::Provide | crate::script::AssignKind::ProvideHidden) {
                values.insert(a.name.clone(), v);
            }
            Ok(())
        }
        Err(why) if last => Err(LinkError::Other(format!("{}: {why}", a.at))),
        Err(_) => Ok(()),
    }
}
