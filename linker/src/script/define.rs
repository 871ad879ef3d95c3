//! Before the scan: which input sections the scripts' `SECTIONS` take (first match wins,
//! as GNU ld), `/DISCARD/` applied, `KEEP` for `--gc-sections`, and the symbols the
//! scripts and `--defsym` expressions define (their values come after layout).

use super::expr::{Expr, ValueKind};
use super::{AssignKind, BodyItem, InputDesc, SectionItem, SectionSpec};
use crate::error::Result;
use crate::link::Link;
use crate::object_file::{ObjectFile, SymPlace};
use crate::symbols::{Def, LinkerSymbol};
use crate::version_script::glob_match;
use object::elf;

/// The statement that takes an input section: (output item, body item, section spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub item: usize,
    pub body: usize,
    pub spec: Option<usize>,
}

/// The name a file pattern is matched against: the path as given, or an archive member's
/// name (GNU ld also accepts `archive:member`).
fn file_names(obj: &ObjectFile) -> (String, Option<String>) {
    match (&obj.archive, obj.name.rfind('(')) {
        (Some(archive), Some(open)) if obj.name.ends_with(')') => {
            let member = &obj.name[open + 1..obj.name.len() - 1];
            (member.to_string(), Some(format!("{archive}:{member}")))
        }
        _ => (obj.name.clone(), None),
    }
}

/// A wildcard match, with the forms scripts mostly use (`*`, a literal, `prefix*`) done
/// without the general matcher: GNU ld's default script has hundreds of patterns, tried
/// against every input section.
fn wild(pattern: &[u8], name: &[u8]) -> bool {
    let special = |c: &u8| matches!(c, b'*' | b'?' | b'[' | b'\\');
    match pattern.iter().position(special) {
        None => pattern == name,
        Some(at) if at + 1 == pattern.len() && pattern[at] == b'*' => {
            name.starts_with(&pattern[..at])
        }
        Some(_) => glob_match(pattern, name),
    }
}

fn file_matches(pattern: &str, excluded: &[String], names: &(String, Option<String>)) -> bool {
    let hit = |p: &str| {
        wild(p.as_bytes(), names.0.as_bytes())
            || names
                .1
                .as_ref()
                .is_some_and(|n| wild(p.as_bytes(), n.as_bytes()))
    };
    hit(pattern) && !excluded.iter().any(|e| hit(e))
}

fn spec_matches(
    desc: &InputDesc,
    names: &(String, Option<String>),
    section: &[u8],
) -> Option<Option<usize>> {
    let Some(specs) = &desc.sections else {
        return file_matches(&desc.file, &desc.exclude_files, names).then_some(None);
    };
    let spec = specs.iter().position(|s: &SectionSpec| {
        wild(s.pattern.as_bytes(), section)
            && !s.exclude_files.iter().any(|e| file_matches(e, &[], names))
    })?;
    file_matches(&desc.file, &desc.exclude_files, names).then_some(Some(spec))
}

/// The first statement of `SECTIONS` that takes section `section` of `obj` (statements of
/// `disabled` items do not count).
fn find_rule(
    items: &[SectionItem],
    disabled: &[bool],
    names: &(String, Option<String>),
    section: &[u8],
) -> Option<Rule> {
    for (i, item) in items.iter().enumerate() {
        let SectionItem::Output(out) = item else {
            continue;
        };
        if disabled[i] {
            continue;
        }
        for (b, body) in out.body.iter().enumerate() {
            let BodyItem::Input(desc) = body else {
                continue;
            };
            if let Some(spec) = spec_matches(desc, names, section) {
                return Some(Rule {
                    item: i,
                    body: b,
                    spec,
                });
            }
        }
    }
    None
}

/// The rule of every candidate input section (live, not the null section), per object.
/// An `ONLY_IF_RO`/`ONLY_IF_RW` output section that would take an input of the other kind
/// does not exist, and its inputs go to the statements after it (GNU ld's `lang_check_section_constraints`).
pub fn rules(link: &Link) -> Vec<Vec<Option<Rule>>> {
    let items = &link.opts.script.sections;
    let mut disabled = vec![false; items.len()];
    loop {
        let rules = rules_with(link, &disabled);
        let mut changed = false;
        for (i, item) in items.iter().enumerate() {
            let SectionItem::Output(o) = item else {
                continue;
            };
            let Some(constraint) = o.constraint.filter(|_| !disabled[i]) else {
                continue;
            };
            let violated = rules.iter().enumerate().any(|(f, per)| {
                per.iter().enumerate().any(|(s, r)| {
                    let writable = link.objects[f].sections[s].flags & elf::SHF_WRITE.0 != 0;
                    r.is_some_and(|r| r.item == i)
                        && writable != (constraint == super::sections::Constraint::Writable)
                })
            });
            if violated {
                disabled[i] = true;
                changed = true;
            }
        }
        if !changed {
            return rules;
        }
    }
}

fn rules_with(link: &Link, disabled: &[bool]) -> Vec<Vec<Option<Rule>>> {
    use rayon::prelude::*;
    let items = &link.opts.script.sections;
    if items.is_empty() {
        return link
            .objects
            .iter()
            .map(|o| vec![None; o.sections.len()])
            .collect();
    }
    link.objects
        .par_iter()
        .map(|obj| {
            let names = file_names(obj);
            obj.sections
                .iter()
                .enumerate()
                .map(|(s, sec)| {
                    (s != 0 && sec.live && !items.is_empty())
                        .then(|| find_rule(items, disabled, &names, sec.name))
                        .flatten()
                })
                .collect()
        })
        .collect()
}

fn output_name<'l>(link: &'l Link, rule: Rule) -> &'l str {
    match &link.opts.script.sections[rule.item] {
        SectionItem::Output(o) => &o.name,
        _ => "",
    }
}

/// Whether the rule taking a section is inside `KEEP(...)` (a `--gc-sections` root).
pub fn is_kept(link: &Link, rule: Rule) -> bool {
    match &link.opts.script.sections[rule.item] {
        SectionItem::Output(o) => matches!(&o.body[rule.body], BodyItem::Input(d) if d.keep),
        _ => false,
    }
}

/// Drops the sections `/DISCARD/` takes, before anything refers to them being live; a
/// loaded section that still refers to a symbol in one is an error, as with GNU ld.
pub fn discard(link: &mut Link) -> Result<()> {
    if link.opts.script.sections.is_empty() {
        return Ok(());
    }
    let rules = rules(link);
    let mut discarded = std::collections::HashSet::new();
    for (f, per) in rules.iter().enumerate() {
        for (s, rule) in per.iter().enumerate() {
            if rule.is_some_and(|r| output_name(link, r) == "/DISCARD/") {
                link.objects[f].sections[s].live = false;
                discarded.insert((f, s));
            }
        }
    }
    if discarded.is_empty() {
        return Ok(());
    }
    let errors = discarded_references(link, &discarded);
    match errors.is_empty() {
        true => Ok(()),
        false => Err(crate::error::LinkError::Many(errors)),
    }
}

/// Where symbol `sym` of object `f` is defined: (object, section), if in a section.
fn defining_section(link: &Link, f: usize, sym: u32) -> Option<(usize, usize)> {
    let (file, sym) = match link.global_id(f, sym).map(|id| link.symtab.get(id).def) {
        Some(Def::Regular { file, sym }) => (file as usize, sym as usize),
        Some(_) => return None,
        None => (f, sym as usize),
    };
    match link.objects[file].symbols.get(sym)?.place {
        SymPlace::Section(s) => Some((file, s as usize)),
        _ => None,
    }
}

/// GNU ld's "`sym' referenced in section `.text' of a.o: defined in discarded section
/// `.junk' of a.o", once per symbol and referring section. Unwind tables and sections that
/// are not loaded may refer to discarded code (their records are dropped or ignored).
fn discarded_references(
    link: &Link,
    discarded: &std::collections::HashSet<(usize, usize)>,
) -> Vec<String> {
    let mut errors = Vec::new();
    for (f, obj) in link.objects.iter().enumerate() {
        for sec in obj
            .sections
            .iter()
            .filter(|s| s.live && s.is_alloc() && s.name != b".eh_frame")
        {
            let mut seen = std::collections::HashSet::new();
            for r in &sec.relocs {
                let Some((df, ds)) =
                    defining_section(link, f, r.sym).filter(|d| discarded.contains(d))
                else {
                    continue;
                };
                if !seen.insert(r.sym) {
                    continue;
                }
                let name = match obj.symbols.get(r.sym as usize) {
                    Some(s) if s.ty == elf::STT_SECTION.0 => link.objects[df].sections[ds].name,
                    Some(s) => s.name(),
                    None => b"",
                };
                errors.push(format!(
                    "`{}' referenced in section `{}' of {}: defined in discarded section `{}' of {}",
                    crate::error::sym_name(name),
                    crate::error::sym_name(sec.name),
                    obj.name,
                    crate::error::sym_name(link.objects[df].sections[ds].name),
                    link.objects[df].name
                ));
            }
        }
    }
    errors
}

/// What an assignment's value is, judged before layout: inside an output section a
/// symbol is what it is; outside, GNU ld 2.40 makes a value computed from symbols absolute
/// (only `.` and section addresses stay addresses).
pub fn value_kind(link: &Link, expr: &Expr, inside: bool) -> ValueKind {
    let symbol = |name: &str| {
        if !inside {
            return ValueKind::Absolute;
        }
        let Some(id) = link.symtab.lookup(name.as_bytes()) else {
            return ValueKind::Address;
        };
        match link.symtab.get(id).def {
            Def::Regular { file, sym }
                if link.objects[file as usize].symbols.at(sym as usize).place
                    == SymPlace::Absolute =>
            {
                ValueKind::Absolute
            }
            Def::Linker(
                LinkerSymbol::Absolute(_) | LinkerSymbol::Script { absolute: true, .. },
            ) => ValueKind::Absolute,
            _ => ValueKind::Address,
        }
    };
    expr.kind(&symbol)
}

/// The type a symbol assigned from one other symbol takes from it, as GNU ld gives it.
fn inherited_type(link: &Link, expr: &Expr) -> u8 {
    let mut names = Vec::new();
    expr.symbols(&mut names);
    names.sort_unstable();
    names.dedup();
    match names[..] {
        [one] => link
            .symtab
            .lookup(one.as_bytes())
            .map(|id| link.symtab.get(id))
            .filter(|s| s.is_defined())
            .map_or(elf::STT_NOTYPE.0, |s| s.ty),
        _ => elf::STT_NOTYPE.0,
    }
}

/// Defines the symbols the scripts assign (`PROVIDE` only where something refers to an
/// undefined one), overriding an input's definition as GNU ld does.
pub fn define_symbols(link: &mut Link) -> Result<()> {
    let opts = link.opts;
    for (a, section) in opts.script.assignments() {
        if a.name == "." {
            continue;
        }
        let name = a.name.as_bytes();
        if matches!(a.kind, AssignKind::Provide | AssignKind::ProvideHidden) {
            // GNU ld's default scripts PROVIDE the image and section bounds tether defines
            // itself (`Link::define_linker_symbols`); its definitions stand for those.
            if LinkerSymbol::by_name(name).is_some() {
                continue;
            }
            let wanted = link
                .symtab
                .lookup(name)
                .is_some_and(|id| link.symtab.get(id).is_undefined());
            if !wanted {
                continue;
            }
        }
        let absolute = match value_kind(link, &a.expr, section.is_some()) {
            ValueKind::Number => section.is_none(),
            ValueKind::Absolute => true,
            ValueKind::Address => false,
        };
        let ty = inherited_type(link, &a.expr);
        let defsym = &*a.at.file == "--defsym";
        let fixed = defsym && value_kind(link, &a.expr, true) != ValueKind::Address;
        let id = link.symtab.intern(name);
        let s = link.symtab.get_mut(id);
        s.def = Def::Linker(LinkerSymbol::Script { absolute, fixed });
        s.ty = ty;
        s.size = 0;
        s.weak_def = false;
        s.referenced = true;
        if matches!(a.kind, AssignKind::Hidden | AssignKind::ProvideHidden) {
            s.visibility = elf::STV_HIDDEN.0;
        }
    }
    Ok(())
}
