//! Checks tether's relaxation encoders against GNU ld: every executable section of an input
//! object is rewritten with `Arch::relax_tls` / `Arch::relax_got_load_program` as GNU ld chose
//! to relax it, and must then equal GNU ld's output for the same object byte for byte, apart
//! from relocation fields. Each field a rewrite returns must hold, in GNU ld's output, the
//! value the returned howto and addend describe: that proves the field's place and addend.
#![allow(dead_code)]

use object::read::{Object, ObjectSection, ObjectSymbol, ObjectSymbolTable};
use object::{RelocationFlags, RelocationTarget, SectionKind, SymbolKind};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::process::Command;
use tether_linker::arch::{Arch, RelExpr, RelocHowto, TlsRelaxTo};

/// Runs a tool that must succeed, naming its Debian package when it is missing.
pub fn tool(program: &str, package: &str, args: &[&str], dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}): install the Debian package `{package}`")
        });
    assert!(
        out.status.success(),
        "`{program} {}` failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A relocation of the input, as the chooser sees it.
pub struct Reloc<'a> {
    pub r_type: u32,
    /// The symbol's name (a section symbol's is its section's).
    pub symbol: &'a str,
    /// The symbol is STB_LOCAL in the object.
    pub local: bool,
}

/// What GNU ld did with a relocation, so what to ask tether for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Tls(TlsRelaxTo),
    /// A GOT load in a program; `true` when the program has a fixed address.
    Got {
        fixed: bool,
    },
    Keep,
}

/// How many rewrites of each relocation type were applied, and how many of their fields were
/// checked against the value GNU ld wrote.
#[derive(Debug, Default)]
pub struct Stats {
    pub rewrites: BTreeMap<u32, usize>,
    pub fields_checked: usize,
}

impl Stats {
    pub fn count(&self, r_type: object::elf::RelocationType) -> usize {
        self.rewrites.get(&r_type.0).copied().unwrap_or(0)
    }
}

struct InputReloc {
    offset: u64,
    r_type: u32,
    symbol: String,
    local: bool,
    addend: i64,
}

struct FieldCheck {
    offset: u64,
    howto: RelocHowto,
    addend: i64,
    symbol: String,
}

/// Rewrites every executable section of `object` as `choose` says and compares it with the
/// same code in `output` (GNU ld's link of it).
pub fn compare(
    arch: &dyn Arch,
    object: &Path,
    output: &Path,
    choose: &dyn Fn(&Reloc) -> Action,
) -> Stats {
    let in_data = std::fs::read(object).expect("read object");
    let out_data = std::fs::read(output).expect("read output");
    let input = object::File::parse(&*in_data).expect("parse object");
    let out = object::File::parse(&*out_data).expect("parse output");
    let what = format!("{} in {}", object.display(), output.display());
    let mut stats = Stats::default();
    for section in input.sections() {
        if section.kind() != SectionKind::Text || section.size() == 0 {
            continue;
        }
        let Some(out_start) = output_address(&input, &out, section.index()) else {
            continue; // discarded or without a named function: nothing to compare
        };
        let relocs = input_relocs(arch, &input, &section);
        let mut code = section.data().expect("section data").to_vec();
        let (masks, checks) = rewrite(arch, &mut code, &relocs, &out, choose, &mut stats);
        let linked = bytes_at(&out, out_start, code.len()).expect("output bytes of the section");
        compare_bytes(&code, linked, &masks, out_start, &what);
        for check in &checks {
            if check_field(arch, &out, out_start, check, &what) {
                stats.fields_checked += 1;
            }
        }
    }
    stats
}

fn input_relocs(
    arch: &dyn Arch,
    input: &object::File,
    section: &object::Section,
) -> Vec<InputReloc> {
    let data = section.data().expect("section data");
    let mut relocs: Vec<InputReloc> = section
        .relocations()
        .map(|(offset, reloc)| {
            let RelocationFlags::Elf {
                r_type: object::elf::RelocationType(r_type),
            } = reloc.flags()
            else {
                panic!("not an ELF relocation")
            };
            let (symbol, local) = match reloc.target() {
                RelocationTarget::Symbol(index) => {
                    let sym = input.symbol_by_index(index).expect("relocation symbol");
                    let name = match sym.section_index() {
                        Some(s) if sym.kind() == SymbolKind::Section => input
                            .section_by_index(s)
                            .unwrap()
                            .name()
                            .unwrap()
                            .to_owned(),
                        _ => sym.name().unwrap_or("").to_owned(),
                    };
                    (name, sym.is_local())
                }
                _ => (String::new(), true),
            };
            let addend = if reloc.has_implicit_addend() {
                let howto = arch.classify(r_type).expect("known relocation");
                arch.implicit_addend(&howto, &data[offset as usize..])
                    .expect("implicit addend")
            } else {
                reloc.addend()
            };
            InputReloc {
                offset,
                r_type,
                symbol,
                local,
                addend,
            }
        })
        .collect();
    relocs.sort_by_key(|r| r.offset);
    relocs
}

/// Applies the rewrites; returns the byte ranges left to relocation fields and the fields
/// whose values must be checked.
fn rewrite(
    arch: &dyn Arch,
    code: &mut [u8],
    relocs: &[InputReloc],
    out: &object::File,
    choose: &dyn Fn(&Reloc) -> Action,
    stats: &mut Stats,
) -> (Vec<Range<u64>>, Vec<FieldCheck>) {
    let mut masks = Vec::new();
    let mut checks = Vec::new();
    let mut skip = false;
    for (i, reloc) in relocs.iter().enumerate() {
        if std::mem::take(&mut skip) {
            continue;
        }
        let next = relocs.get(i + 1).map(|n| (n.r_type, n.offset));
        let action = choose(&Reloc {
            r_type: reloc.r_type,
            symbol: &reloc.symbol,
            local: reloc.local,
        });
        let name = arch.reloc_name(reloc.r_type).unwrap_or("?");
        let here = format!("{name} against `{}` at {:#x}", reloc.symbol, reloc.offset);
        let done = match action {
            Action::Tls(to) => {
                match arch.relax_tls(reloc.r_type, to, code, reloc.offset, reloc.addend, next) {
                    Some(Ok(rw)) => {
                        skip = rw.consumes_next;
                        Some((rw.howto, rw.offset, rw.addend))
                    }
                    Some(Err(why)) => panic!("{here}: {why}"),
                    None => None,
                }
            }
            Action::Got { fixed } => {
                let absolute = fixed.then(|| symbol_address(out, &reloc.symbol).expect(&here));
                arch.relax_got_load_program(
                    reloc.r_type,
                    code,
                    reloc.offset,
                    reloc.addend,
                    absolute,
                )
                .map(|rw| (rw.howto, rw.offset, rw.addend))
            }
            Action::Keep => None,
        };
        match done {
            Some((howto, offset, addend)) => {
                *stats.rewrites.entry(reloc.r_type).or_default() += 1;
                masks.push(offset..offset + u64::from(howto.field.size));
                checks.push(FieldCheck {
                    offset,
                    howto,
                    addend,
                    symbol: reloc.symbol.clone(),
                });
            }
            None => {
                let size = arch.classify(reloc.r_type).map_or(4, |h| h.field.size);
                masks.push(reloc.offset..reloc.offset + u64::from(size));
            }
        }
    }
    (masks, checks)
}

fn compare_bytes(ours: &[u8], theirs: &[u8], masks: &[Range<u64>], start: u64, what: &str) {
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let masked = masks.iter().any(|m| m.contains(&(i as u64)));
        if !masked && a != b {
            let from = i.saturating_sub(8);
            let to = (i + 8).min(ours.len());
            panic!(
                "{what}: byte {i:#x} of the section (address {:#x}) differs\n tether: {:02x?}\n GNU ld: {:02x?}",
                start + i as u64,
                &ours[from..to],
                &theirs[from..to]
            );
        }
    }
}

/// Where the input section `index` landed in the output, found through a function it
/// defines (whose name the output keeps).
fn output_address(
    input: &object::File,
    out: &object::File,
    index: object::SectionIndex,
) -> Option<u64> {
    input
        .symbols()
        .filter(|s| s.section_index() == Some(index) && s.kind() == SymbolKind::Text)
        .filter_map(|s| {
            let name = s.name().ok()?;
            let at = symbol_address(out, name)?;
            Some(at.wrapping_sub(s.address()))
        })
        .next()
}

fn symbol_address(out: &object::File, name: &str) -> Option<u64> {
    out.symbols()
        .find(|s| s.name() == Ok(name) && !s.is_undefined())
        .map(|s| s.address())
}

fn bytes_at<'a>(out: &'a object::File, address: u64, len: usize) -> Option<&'a [u8]> {
    out.sections().find_map(|s| {
        let start = address.checked_sub(s.address())?;
        let data = s.data().ok()?;
        data.get(start as usize..start as usize + len)
    })
}

fn read_word(out: &object::File, address: u64, size: usize) -> Option<i64> {
    let bytes = bytes_at(out, address, size)?;
    let mut raw = [0u8; 8];
    raw[..size].copy_from_slice(bytes);
    let shift = 64 - 8 * size as u32;
    Some(((u64::from_le_bytes(raw) << shift) as i64) >> shift)
}

/// The TP offset of a TLS symbol of the output (its st_value is an offset into PT_TLS).
fn tp_offset(arch: &dyn Arch, out: &object::File, name: &str) -> Option<i64> {
    let sym = out
        .symbols()
        .find(|s| s.name() == Ok(name) && s.kind() == SymbolKind::Tls)?;
    let tls: Vec<_> = out
        .sections()
        .filter(|s| matches!(s.kind(), SectionKind::Tls | SectionKind::UninitializedTls))
        .collect();
    let start = tls.iter().map(|s| s.address()).min()?;
    let end = tls.iter().map(|s| s.address() + s.size()).max()?;
    let align = tls.iter().map(|s| s.align()).max()?;
    Some(arch.tls_block_offset(end - start, align) + sym.address() as i64)
}

/// Whether GNU ld's value in a rewritten field is what tether's howto computes. Returns
/// false when the value cannot be predicted from the output alone (a section symbol).
fn check_field(
    arch: &dyn Arch,
    out: &object::File,
    out_start: u64,
    check: &FieldCheck,
    what: &str,
) -> bool {
    let size = usize::from(check.howto.field.size);
    let place = out_start + check.offset;
    let here = format!("{what}: field at {place:#x} for `{}`", check.symbol);
    if size == 0 {
        return false;
    }
    let value = read_word(out, place, size).expect("field bytes");
    match check.howto.expr {
        RelExpr::TpOffset => {
            let Some(tpoff) = tp_offset(arch, out, &check.symbol) else {
                return false;
            };
            assert_eq!(value, tpoff + check.addend, "{here}: TP offset");
        }
        RelExpr::TlsIePcRelative => {
            let slot = (value - check.addend).wrapping_add(place as i64) as u64;
            assert!(
                holds_tp_offset(arch, out, slot, &check.symbol),
                "{here}: {slot:#x} is not the GOT slot of its TP offset"
            );
        }
        RelExpr::Absolute => {
            let address = symbol_address(out, &check.symbol).expect(&here);
            assert_eq!(value, address as i64 + check.addend, "{here}: address");
        }
        RelExpr::PcRelative => {
            let address = symbol_address(out, &check.symbol).expect(&here);
            let target = (value - check.addend).wrapping_add(place as i64) as u64;
            assert_eq!(target, address, "{here}: PC-relative target");
        }
        other => panic!("{here}: unexpected {other:?}"),
    }
    true
}

/// The GOT slot at `slot` gets the symbol's TP offset: a TPOFF dynamic relocation against
/// it, or the offset itself when the symbol is the program's.
fn holds_tp_offset(arch: &dyn Arch, out: &object::File, slot: u64, name: &str) -> bool {
    let tpoff_type = arch.dyn_reloc_types().tpoff;
    let dynsyms = out.dynamic_symbol_table();
    let dynamic = out
        .dynamic_relocations()
        .into_iter()
        .flatten()
        .any(|(at, r)| {
            let RelocationFlags::Elf {
                r_type: object::elf::RelocationType(r_type),
            } = r.flags()
            else {
                return false;
            };
            let RelocationTarget::Symbol(index) = r.target() else {
                return false;
            };
            let sym_name = dynsyms
                .as_ref()
                .and_then(|t| t.symbol_by_index(index).ok())
                .and_then(|s| s.name().ok().map(str::to_owned));
            at == slot && r_type == tpoff_type && sym_name.as_deref() == Some(name)
        });
    let word = arch.got_entry_size() as usize;
    dynamic
        || (tp_offset(arch, out, name).is_some()
            && read_word(out, slot, word) == tp_offset(arch, out, name))
}
