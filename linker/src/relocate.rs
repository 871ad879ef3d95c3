//! Applying relocations once addresses are known: compute the value a relocation's
//! expression asks for, let the target encode it, and record the dynamic relocations a
//! shared library needs. Run per output section, in parallel.

use crate::arch::{RelExpr, SymbolFacts, TlsRelaxTo};
use crate::decide::{DynWord, GotFill, Rewrite};
use crate::error::sym_name;
use crate::got_plt::{GotKind, Target};
use crate::layout::{Layout, Synth};
use crate::link::{Link, TargetInfo};
use crate::object_file::SymPlace;
use crate::scan::{RelocAction, TLS_LD_TARGET};
use crate::symbols::Def;
use object::elf;

/// A dynamic relocation of the output, before it is encoded as REL or RELA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DynReloc {
    pub offset: u64,
    pub r_type: u32,
    /// `.dynsym` index (0 for none).
    pub sym: u32,
    pub addend: i64,
}

/// The address of a relocation target (0 for undefined and imported symbols, but for an
/// imported symbol the program copied or whose PLT entry is its canonical address).
pub fn target_address(link: &Link, layout: &Layout, target: Target) -> u64 {
    match target {
        Target::Global(id) => {
            let s = link.symtab.get(id);
            match s.def {
                Def::Regular { file, sym } => local_address(link, layout, file as usize, sym),
                Def::Common { .. } => layout
                    .commons
                    .iter()
                    .find(|(c, _)| *c == id)
                    .map(|(_, a)| *a)
                    .unwrap_or(0),
                Def::Linker(which) => layout.linker_symbol(link, which, s.name),
                Def::Shared { .. } => {
                    if let Some(slot) = link.copies.slot(id) {
                        layout.addr_of(copy_section(slot)) + slot.offset
                    } else if link.canonical_plt[id as usize] {
                        plt_entry(link, layout, target).unwrap_or(0)
                    } else {
                        0
                    }
                }
                Def::Undefined => 0,
            }
        }
        Target::Local { file, sym } => {
            if file == u32::MAX {
                0
            } else {
                local_address(link, layout, file as usize, sym)
            }
        }
    }
}

/// The section a copy of imported data lives in.
pub fn copy_section(slot: &crate::copies::CopySlot) -> Synth {
    if slot.read_only {
        Synth::DynRelRo
    } else {
        Synth::DynBss
    }
}

fn local_address(link: &Link, layout: &Layout, file: usize, sym: u32) -> u64 {
    let Some(s) = link.objects[file].symbols.get(sym as usize) else {
        return 0;
    };
    match s.place {
        SymPlace::Absolute => s.value,
        SymPlace::Section(sec) => match layout.input_addr(file, sec as usize) {
            Some(base) => base.wrapping_add(
                link.merged
                    .translate(file, sec as usize, s.value)
                    .or_else(|| link.eh_frames.translate(file, sec as usize, s.value))
                    .unwrap_or(s.value),
            ),
            // A symbol in a discarded section (a duplicate COMDAT member): GNU ld and lld
            // resolve references from kept debug/unwind data to 0.
            None => 0,
        },
        SymPlace::Undefined | SymPlace::Common => 0,
    }
}

fn got_entry_addr(link: &Link, layout: &Layout, kind: GotKind, target: Target) -> Option<u64> {
    let word = link.arch.got_entry_size();
    link.got
        .word_of(kind, target)
        .map(|w| layout.addr_of(Synth::Got) + w * word)
}

/// The address of `target`'s PLT entry, if it has one.
pub fn plt_entry(link: &Link, layout: &Layout, target: Target) -> Option<u64> {
    if let Some(entry) = crate::plt_got::entry_address(link, layout, target) {
        return Some(entry);
    }
    let n = link.plt.index_of(target)?;
    if link.plt.ibt {
        return Some(crate::ibt_plt::sec_entry(layout, n));
    }
    let pl = link.arch.plt_layout();
    Some(layout.addr_of(Synth::Plt) + pl.header_size + pl.entry_size * n as u64)
}

/// Where a branch or address goes before any thunk: the PLT entry when the scan decided the
/// relocation goes through it, else the symbol.
pub fn branch_dest(link: &Link, layout: &Layout, target: Target, via_plt: bool) -> u64 {
    match via_plt.then(|| plt_entry(link, layout, target)).flatten() {
        Some(entry) => entry,
        None => target_address(link, layout, target),
    }
}

/// What relocating a section needs from the link as a whole.
#[derive(Clone, Copy)]
pub struct RelocContext<'a, 'd> {
    pub link: &'a Link<'d>,
    pub layout: &'a Layout,
    /// `.dynsym` index by symbol id.
    pub dynsym: &'a [u32],
    pub actions: &'a [Vec<Vec<RelocAction>>],
    pub addrs: &'a crate::addresses::Addresses,
}

/// The relocation being applied: where it comes from and what it refers to.
#[derive(Clone, Copy)]
struct Site {
    file: usize,
    sym: u32,
    target: Target,
}

impl Site {
    /// Everything about the target; only a thunk decision or an error message needs it.
    fn info(&self, link: &Link) -> TargetInfo {
        link.reference(self.file, self.sym).0
    }
}

/// Copies one input section into `out` (at address `addr`) and applies the actions the scan
/// decided for its relocations.
/// How many relocations ahead [`relocate_section`] asks for the target's address.
const PREFETCH_AHEAD: usize = 8;

pub fn relocate_section(
    cx: RelocContext,
    file: usize,
    sec: usize,
    out: &mut [u8],
    addr: u64,
    dynrel: &mut Vec<DynReloc>,
    errors: &mut Vec<String>,
) {
    let link = cx.link;
    let obj = &link.objects[file];
    let section = &obj.sections[sec];
    if let Some(group) = link.merged.group_of(file, sec) {
        // Merged sections have no relocations of their own (see `merge::mergeable`).
        out[..group.data.len()].copy_from_slice(&group.data);
        return;
    }
    match link.eh_frames.get(file, sec) {
        Some(_) => link
            .eh_frames
            .write((file, sec), section.data, out, addr, cx.layout),
        None => out[..section.data.len()].copy_from_slice(section.data),
    }
    let Some(actions) = cx.actions.get(file).and_then(|a| a.get(sec)) else {
        return;
    };
    for (ri, (r, action)) in section.relocs.iter().zip(actions).enumerate() {
        let r = &r;
        // A global's address is a random read in a table larger than the cache: asked for
        // a few relocations ahead.
        if let (Some(ahead), Some(ahead_action)) = (
            section.relocs.get(ri + PREFETCH_AHEAD),
            actions.get(ri + PREFETCH_AHEAD),
        ) {
            if let Target::Global(id) = link.symbol_target(file, ahead.sym) {
                cx.addrs.prefetch(id, ahead_action.via_plt);
            }
        }
        if action.is_none() {
            continue;
        }
        let target = link.symbol_target(file, r.sym);
        let site = Site {
            file,
            sym: r.sym,
            target,
        };
        let context = |what: &str| {
            format!(
                "{}:({}+{:#x}): relocation {} against `{}': {what}",
                obj.name,
                sym_name(section.name),
                r.offset,
                link.arch.reloc_name(r.r_type).unwrap_or("?"),
                sym_name(link.target_name(site.target))
            )
        };
        if let Err(e) = rewrite(
            cx,
            target,
            r,
            section.relocs.get(ri + 1).as_ref(),
            action,
            out,
        ) {
            errors.push(context(&e));
            continue;
        }
        if action.howto.expr == RelExpr::None {
            continue;
        }
        let (offset, addend) = (action.offset(r), action.addend(r));
        let p = addr + offset;
        let value = match evaluate(cx, site, action, addend, r.r_type, p) {
            Ok(v) => v,
            Err(e) => {
                errors.push(context(&e));
                continue;
            }
        };
        if let Some(d) = dynamic_word(cx, target, action, addend, p, value) {
            dynrel.push(d);
        }
        let value = match action.dynamic {
            // REL targets read the addend of a symbolic word from the place.
            DynWord::Symbolic => addend as u64,
            _ => value,
        };
        let Some(site) = out.get_mut(offset as usize..) else {
            errors.push(context("lies outside its section"));
            continue;
        };
        if let Err(e) = link.arch.write_field(&action.howto, site, value as i64) {
            errors.push(context(&e.to_string()));
        }
    }
}

/// Performs the instruction rewrite the scan decided on.
fn rewrite(
    cx: RelocContext,
    target: Target,
    r: &crate::object_file::Reloc,
    next: Option<&crate::object_file::Reloc>,
    action: &RelocAction,
    out: &mut [u8],
) -> Result<(), String> {
    let link = cx.link;
    let to = match action.rewrite {
        Rewrite::None => return Ok(()),
        Rewrite::GotToPcRelative if link.kind.is_program() => {
            let absolute = link
                .kind
                .is_fixed_address()
                .then(|| cx.addrs.of(link, cx.layout, target));
            return match link
                .arch
                .relax_got_load_program(r.r_type, out, r.offset, r.addend, absolute)
            {
                Some(rw) if rw.howto == action.howto && rw.offset == action.offset(r) => Ok(()),
                _ => {
                    Err("the address does not fit the immediate the GOT load was relaxed to".into())
                }
            };
        }
        Rewrite::GotToPcRelative => {
            return match link.arch.relax_got_load(r.r_type, out, r.offset as usize) {
                Some(_) => Ok(()),
                None => Err("internal error: relaxation changed its mind".into()),
            };
        }
        Rewrite::TlsToInitialExec => TlsRelaxTo::InitialExec,
        Rewrite::TlsToLocalExec => TlsRelaxTo::LocalExec,
    };
    let next = next.map(|n| (n.r_type, n.offset));
    match link
        .arch
        .relax_tls(r.r_type, to, out, r.offset, r.addend, next)
    {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(e),
        None => Err("internal error: TLS relaxation changed its mind".into()),
    }
}

/// The value of the action's expression at place `p`.
fn evaluate(
    cx: RelocContext,
    site: Site,
    action: &RelocAction,
    addend: i64,
    r_type: u32,
    p: u64,
) -> Result<u64, String> {
    let (link, layout) = (cx.link, cx.layout);
    let arch = link.arch;
    let a = addend as u64;
    let s = cx
        .addrs
        .branch_dest(link, layout, site.target, action.via_plt);
    let sa = merged_section_offset(cx, site.target, addend).unwrap_or(s.wrapping_add(a));
    let got_org = cx.addrs.got_origin;
    let got = |kind: GotKind| -> Result<u64, String> {
        let target = if kind == GotKind::TlsLd {
            TLS_LD_TARGET
        } else {
            site.target
        };
        got_entry_addr(link, layout, kind, target)
            .ok_or_else(|| "internal error: no GOT entry".to_string())
    };
    let (tls_start, tp_to_block) = layout
        .tls
        .map(|(s, e, al)| (s, arch.tls_block_offset(e - s, al)))
        .unwrap_or((0, 0));
    Ok(match action.howto.expr {
        RelExpr::None => 0,
        RelExpr::Absolute => sa,
        RelExpr::PcRelative => sa.wrapping_sub(p),
        RelExpr::Plt => {
            let dest = thunk_or(cx, site, action, r_type, p, s)?;
            dest.wrapping_add(a).wrapping_sub(p)
        }
        RelExpr::TlsDescCall => match arch.tlsdesc_trampoline() {
            Some(offset) if link.plt.has_section() => layout
                .addr_of(Synth::Plt)
                .wrapping_add(offset)
                .wrapping_add(a)
                .wrapping_sub(p),
            _ => return Err("internal error: no TLS descriptor trampoline".into()),
        },
        RelExpr::PltGotOffset => sa.wrapping_sub(got_org),
        RelExpr::GotPcRelative | RelExpr::GotPcRelativeRelaxable => {
            got(GotKind::Address)?.wrapping_add(a).wrapping_sub(p)
        }
        RelExpr::GotRelative => got(GotKind::Address)?.wrapping_add(a).wrapping_sub(got_org),
        RelExpr::GotOffset => sa.wrapping_sub(got_org),
        RelExpr::GotBasePcRelative => got_org.wrapping_add(a).wrapping_sub(p),
        RelExpr::Size => symbol_size(link, site.target).wrapping_add(a),
        RelExpr::TlsGdPcRelative => got(GotKind::TlsGd)?.wrapping_add(a).wrapping_sub(p),
        RelExpr::TlsLdPcRelative => got(GotKind::TlsLd)?.wrapping_add(a).wrapping_sub(p),
        RelExpr::TlsIePcRelative => got(GotKind::TlsIe)?.wrapping_add(a).wrapping_sub(p),
        RelExpr::TlsDescPcRelative => got(GotKind::TlsDesc)?.wrapping_add(a).wrapping_sub(p),
        RelExpr::DtpOffset => sa.wrapping_sub(tls_start),
        RelExpr::TpOffset => sa.wrapping_sub(tls_start).wrapping_add(tp_to_block as u64),
    })
}

/// S + A for a section symbol of a merged section: the piece at `value + addend` (GNU ld
/// reads such references so; assemblers keep a symbol of its own for anything else).
fn merged_section_offset(cx: RelocContext, target: Target, addend: i64) -> Option<u64> {
    let Target::Local { file, sym } = target else {
        return None;
    };
    let s = cx
        .link
        .objects
        .get(file as usize)?
        .symbols
        .get(sym as usize)?;
    let SymPlace::Section(sec) = s.place else {
        return None;
    };
    if s.ty != elf::STT_SECTION.0 {
        return None;
    }
    let offset = s.value.wrapping_add(addend as u64);
    let translated = cx
        .link
        .merged
        .translate(file as usize, sec as usize, offset)?;
    Some(cx.layout.input_addr(file as usize, sec as usize)? + translated)
}

/// Where a call goes: its thunk when the target wants one between place and destination.
fn thunk_or(
    cx: RelocContext,
    site: Site,
    action: &RelocAction,
    r_type: u32,
    p: u64,
    dest: u64,
) -> Result<u64, String> {
    let link = cx.link;
    if !link.arch.has_thunks() {
        return Ok(dest);
    }
    let info = site.info(link);
    let facts = SymbolFacts {
        binds_locally: !action.via_plt,
        is_function: info.is_function,
        undefined_weak: info.undefined_weak,
    };
    match link.arch.needs_thunk(r_type, p, dest, facts) {
        None => Ok(dest),
        Some(spec) => link
            .thunks
            .addr(cx.layout, p, spec, site.target, action.via_plt)
            .ok_or_else(|| "internal error: no thunk for this branch".to_string()),
    }
}

fn symbol_size(link: &Link, target: Target) -> u64 {
    match target {
        Target::Global(id) => link.symtab.get(id).size,
        Target::Local { file, sym } => link
            .objects
            .get(file as usize)
            .and_then(|o| o.symbols.get(sym as usize))
            .map(|s| s.size)
            .unwrap_or(0),
    }
}

/// The dynamic relocation a relocated word leaves, as the scan decided.
fn dynamic_word(
    cx: RelocContext,
    target: Target,
    action: &RelocAction,
    addend: i64,
    p: u64,
    value: u64,
) -> Option<DynReloc> {
    let types = cx.link.arch.dyn_reloc_types();
    let (r_type, sym, addend) = match action.dynamic {
        DynWord::None | DynWord::PackedRelative => return None,
        DynWord::Relative => (types.relative, 0, value as i64),
        DynWord::IRelative => (types.irelative, 0, value as i64),
        DynWord::Symbolic => {
            let Target::Global(id) = target else {
                return None;
            };
            (
                types.absolute_word,
                dynsym_of(cx.dynsym, id).unwrap_or(0),
                addend,
            )
        }
    };
    Some(DynReloc {
        offset: p,
        r_type,
        sym,
        addend,
    })
}

fn dynsym_of(dynsym: &[u32], id: crate::symbols::SymbolId) -> Option<u32> {
    dynsym.get(id as usize).copied().filter(|&i| i != 0)
}

/// Contents of `.got` and the dynamic relocations it needs, as each entry's fill says.
pub fn fill_got(
    link: &Link,
    layout: &Layout,
    dynsym: &[u32],
    out: &mut [u8],
    dynrel: &mut Vec<DynReloc>,
) {
    let types = link.arch.dyn_reloc_types();
    let word = link.arch.got_entry_size();
    let base = layout.addr_of(Synth::Got);
    let tls = layout.tls.unwrap_or((0, 0, 1));
    let tp_to_block = link.arch.tls_block_offset(tls.1 - tls.0, tls.2) as u64;
    let mut put = |w: u64, value: u64| {
        let at = (w * word) as usize;
        out[at..at + word as usize].copy_from_slice(&value.to_le_bytes()[..word as usize]);
    };
    for e in &link.got.entries {
        let at = base + e.word * word;
        let sym = match e.target {
            Target::Global(id) => dynsym_of(dynsym, id).unwrap_or(0),
            Target::Local { .. } => 0,
        };
        let s = target_address(link, layout, e.target);
        let dtp = s.wrapping_sub(tls.0);
        let mut reloc = |offset: u64, r_type: u32, sym: u32, addend: i64| {
            dynrel.push(DynReloc {
                offset,
                r_type,
                sym,
                addend,
            })
        };
        match (e.kind, e.fill) {
            (GotKind::Address, GotFill::Constant | GotFill::PackedRelative) => put(e.word, s),
            (GotKind::Address, GotFill::Relative) => {
                put(e.word, s);
                reloc(at, types.relative, 0, s as i64);
            }
            // REL targets read the resolver, the IRELATIVE's addend, from the slot.
            (GotKind::Address, GotFill::IRelative) => {
                put(e.word, s);
                reloc(at, types.irelative, 0, s as i64);
            }
            (GotKind::Address, _) => reloc(at, types.glob_dat, sym, 0),
            // The program's own block: module 1 at a fixed TP offset.
            (GotKind::TlsGd, GotFill::Constant) => {
                put(e.word, 1);
                put(e.word + 1, dtp);
            }
            (GotKind::TlsLd, GotFill::Constant) => put(e.word, 1),
            (GotKind::TlsIe, GotFill::Constant) => put(e.word, dtp.wrapping_add(tp_to_block)),
            (GotKind::TlsGd, GotFill::LocalModule) => {
                reloc(at, types.dtpmod, 0, 0);
                put(e.word + 1, dtp);
            }
            (GotKind::TlsLd, _) => reloc(at, types.dtpmod, 0, 0),
            (GotKind::TlsGd, _) => {
                reloc(at, types.dtpmod, sym, 0);
                reloc(at + word, types.dtpoff, sym, 0);
            }
            (GotKind::TlsIe, GotFill::LocalTls) => {
                put(e.word, dtp);
                reloc(at, types.tpoff, 0, dtp as i64);
            }
            (GotKind::TlsIe, _) => reloc(at, types.tpoff, sym, 0),
            // Resolved by the loader at load time; a local symbol is its offset in this
            // module's block, which a REL target (ARM: {argument, function}) reads from the
            // first word.
            (GotKind::TlsDesc, GotFill::LocalTls) => {
                if !link.arch.dynamic_uses_rela() {
                    put(e.word, dtp);
                }
                reloc(at, link.arch.tlsdesc_reloc().unwrap_or(0), 0, dtp as i64);
            }
            (GotKind::TlsDesc, _) => reloc(at, link.arch.tlsdesc_reloc().unwrap_or(0), sym, 0),
        }
    }
}

/// Whether a dynamic relocation type is RELATIVE (sorted first, counted in DT_RELACOUNT).
pub fn is_relative(link: &Link, r_type: u32) -> bool {
    r_type == link.arch.dyn_reloc_types().relative
}

/// Visibility byte for `.dynsym` (protected survives; hidden symbols are never dynamic).
pub fn dyn_visibility(v: u8) -> u8 {
    if v == elf::STV_PROTECTED.0 {
        v
    } else {
        elf::STV_DEFAULT.0
    }
}
