//! Applying relocations once addresses are known: compute the value a relocation's
//! expression asks for, let the target encode it, and record the dynamic relocations a
//! shared library needs. Run per output section, in parallel.

use crate::arch::{Encoding, RelExpr, SymbolFacts};
use crate::error::sym_name;
use crate::got_plt::{GotKind, Target};
use crate::layout::{Layout, Synth};
use crate::link::{Link, TargetInfo};
use crate::object_file::SymPlace;
use crate::scan::{relaxes, TLS_LD_TARGET};
use crate::symbols::{Def, LinkerSymbol};
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

/// The address of a relocation target (0 for undefined and imported symbols).
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
                Def::Linker(LinkerSymbol::Dynamic) => layout.addr_of(Synth::Dynamic),
                Def::Linker(LinkerSymbol::GlobalOffsetTable) => layout.addr_of(Synth::GotPlt),
                Def::Linker(which @ (LinkerSymbol::SectionStart | LinkerSymbol::SectionStop)) => {
                    let section =
                        crate::symbols::start_stop_section(s.name).and_then(|n| layout.by_name(n));
                    match (section, which) {
                        (Some(sec), LinkerSymbol::SectionStart) => sec.addr,
                        (Some(sec), _) => sec.addr + sec.size,
                        (None, _) => 0,
                    }
                }
                Def::Shared { .. } | Def::Undefined => 0,
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

fn local_address(link: &Link, layout: &Layout, file: usize, sym: u32) -> u64 {
    let Some(s) = link.objects[file].symbols.get(sym as usize) else {
        return 0;
    };
    match s.place {
        SymPlace::Absolute => s.value,
        SymPlace::Section(sec) => match layout.input_addr(file, sec as usize) {
            Some(base) => base.wrapping_add(s.value),
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

/// Where a branch (a [`RelExpr::Plt`] or [`RelExpr::PltGotOffset`] relocation) goes before
/// any thunk: the symbol's PLT entry when it has one (it may be preempted, or it is a local
/// IFUNC), else the symbol.
pub fn branch_dest(link: &Link, layout: &Layout, target: Target, binds_locally: bool) -> u64 {
    let s = target_address(link, layout, target);
    match target {
        Target::Global(id) if !binds_locally || link.is_local_ifunc(target) => {
            match link.plt.index_of(id) {
                Some(n) => {
                    let pl = link.arch.plt_layout();
                    layout.addr_of(Synth::Plt) + pl.header_size + pl.entry_size * n as u64
                }
                None => s,
            }
        }
        _ => s,
    }
}

/// Copies one input section into `out` (at address `addr`) and applies its relocations;
/// `dynsym` maps symbol ids to `.dynsym` indices.
pub fn relocate_section(
    (link, layout, dynsym): (&Link, &Layout, &[u32]),
    file: usize,
    sec: usize,
    out: &mut [u8],
    addr: u64,
    dynrel: &mut Vec<DynReloc>,
    errors: &mut Vec<String>,
) {
    let obj = &link.objects[file];
    let section = &obj.sections[sec];
    out[..section.data.len()].copy_from_slice(section.data);
    let dead = link.dead_fdes(file, sec);
    crate::unwind::fold(out, dead);
    let arch = link.arch;
    let types = arch.dyn_reloc_types();
    let word = arch.class().word_size() as u8;
    let alloc = section.is_alloc();
    let got_org = layout.addr_of(Synth::GotPlt);
    let (tls_start, tp_to_block) = layout
        .tls
        .map(|(s, e, a)| (s, arch.tls_block_offset(e - s, a)))
        .unwrap_or((0, 0));
    for r in &section.relocs {
        if crate::unwind::is_dead(dead, r.offset) {
            continue;
        }
        let Some(mut howto) = arch.classify(r.r_type) else {
            continue;
        };
        let info: TargetInfo = link.target_info(file, r.sym);
        let offset = r.offset as usize;
        let p = addr + r.offset;
        let a = r.addend;
        let s = target_address(link, layout, info.target);
        let context = |what: &str| {
            format!(
                "{}:({}+{:#x}): relocation {} against `{}': {what}",
                obj.name,
                sym_name(section.name),
                r.offset,
                arch.reloc_name(r.r_type).unwrap_or("?"),
                sym_name(info.name)
            )
        };
        let got = |kind: GotKind| -> Option<u64> {
            let target = if kind == GotKind::TlsLd {
                TLS_LD_TARGET
            } else {
                info.target
            };
            got_entry_addr(link, layout, kind, target)
        };
        let sa = s.wrapping_add(a as u64);
        let value: u64 = match howto.expr {
            RelExpr::None => continue,
            RelExpr::Absolute => {
                if alloc
                    && link.opts.shared
                    && !info.absolute
                    && howto.field.size == word
                    && howto.field.encoding == Encoding::Data
                {
                    let sym = match info.target {
                        Target::Global(id) if !info.binds_locally => dynsym_of(dynsym, id),
                        _ => None,
                    };
                    match sym {
                        Some(index) => {
                            dynrel.push(DynReloc {
                                offset: p,
                                r_type: types.absolute_word,
                                sym: index,
                                addend: a,
                            });
                            // REL targets read the addend from the place.
                            a as u64
                        }
                        None => {
                            let r_type = if link.is_local_ifunc(info.target) {
                                types.irelative
                            } else {
                                types.relative
                            };
                            dynrel.push(DynReloc {
                                offset: p,
                                r_type,
                                sym: 0,
                                addend: sa as i64,
                            });
                            sa
                        }
                    }
                } else {
                    sa
                }
            }
            // A local IFUNC's address is its PLT entry.
            RelExpr::PcRelative if link.is_local_ifunc(info.target) => {
                branch_dest(link, layout, info.target, info.binds_locally)
                    .wrapping_add(a as u64)
                    .wrapping_sub(p)
            }
            RelExpr::PcRelative => sa.wrapping_sub(p),
            RelExpr::Plt => {
                let mut dest = branch_dest(link, layout, info.target, info.binds_locally);
                let facts = SymbolFacts {
                    binds_locally: info.binds_locally,
                    is_function: info.is_function,
                    undefined_weak: info.undefined_weak,
                };
                if let Some(spec) = arch.needs_thunk(r.r_type, p, dest, facts) {
                    match link
                        .thunks
                        .addr(layout, p, spec, info.target, info.binds_locally)
                    {
                        Some(thunk) => dest = thunk,
                        None => {
                            errors.push(context("internal error: no thunk for this branch"));
                            continue;
                        }
                    }
                }
                dest.wrapping_add(a as u64).wrapping_sub(p)
            }
            RelExpr::TlsDescCall => match arch.tlsdesc_trampoline() {
                Some(offset) if link.plt.has_section() => layout
                    .addr_of(Synth::Plt)
                    .wrapping_add(offset)
                    .wrapping_add(a as u64)
                    .wrapping_sub(p),
                _ => {
                    errors.push(context("internal error: no TLS descriptor trampoline"));
                    continue;
                }
            },
            RelExpr::PltGotOffset => branch_dest(link, layout, info.target, info.binds_locally)
                .wrapping_add(a as u64)
                .wrapping_sub(got_org),
            RelExpr::GotPcRelative => match got(GotKind::Address) {
                Some(g) => g.wrapping_add(a as u64).wrapping_sub(p),
                None => {
                    errors.push(context("internal error: no GOT entry"));
                    continue;
                }
            },
            RelExpr::GotPcRelativeRelaxable => {
                if relaxes(link, &info, r.r_type, section.data, offset) {
                    match arch.relax_got_load(r.r_type, out, offset) {
                        Some(h) => {
                            howto = h;
                            sa.wrapping_sub(p)
                        }
                        None => {
                            errors.push(context("internal error: relaxation changed its mind"));
                            continue;
                        }
                    }
                } else {
                    match got(GotKind::Address) {
                        Some(g) => g.wrapping_add(a as u64).wrapping_sub(p),
                        None => {
                            errors.push(context("internal error: no GOT entry"));
                            continue;
                        }
                    }
                }
            }
            RelExpr::GotRelative => match got(GotKind::Address) {
                Some(g) => g.wrapping_add(a as u64).wrapping_sub(got_org),
                None => {
                    errors.push(context("internal error: no GOT entry"));
                    continue;
                }
            },
            RelExpr::GotOffset => sa.wrapping_sub(got_org),
            RelExpr::GotBasePcRelative => got_org.wrapping_add(a as u64).wrapping_sub(p),
            RelExpr::Size => {
                let size = match info.target {
                    Target::Global(id) => link.symtab.get(id).size,
                    Target::Local { file, sym } => link.objects[file as usize]
                        .symbols
                        .get(sym as usize)
                        .map(|s| s.size)
                        .unwrap_or(0),
                };
                size.wrapping_add(a as u64)
            }
            RelExpr::TlsGdPcRelative
            | RelExpr::TlsLdPcRelative
            | RelExpr::TlsIePcRelative
            | RelExpr::TlsDescPcRelative => {
                let kind = match howto.expr {
                    RelExpr::TlsGdPcRelative => GotKind::TlsGd,
                    RelExpr::TlsLdPcRelative => GotKind::TlsLd,
                    RelExpr::TlsDescPcRelative => GotKind::TlsDesc,
                    _ => GotKind::TlsIe,
                };
                match got(kind) {
                    Some(g) => g.wrapping_add(a as u64).wrapping_sub(p),
                    None => {
                        errors.push(context("internal error: no TLS GOT entry"));
                        continue;
                    }
                }
            }
            RelExpr::DtpOffset => sa.wrapping_sub(tls_start),
            RelExpr::TpOffset => sa.wrapping_sub(tls_start).wrapping_add(tp_to_block as u64),
        };
        let Some(site) = out.get_mut(offset..) else {
            errors.push(context("lies outside its section"));
            continue;
        };
        if let Err(e) = arch.write_field(&howto, site, value as i64) {
            errors.push(context(&e.to_string()));
        }
    }
}

fn dynsym_of(dynsym: &[u32], id: crate::symbols::SymbolId) -> Option<u32> {
    dynsym.get(id as usize).copied().filter(|&i| i != 0)
}

/// Contents of `.got` and the dynamic relocations it needs.
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
    let (tls_start, _) = layout.tls.map(|(s, e, _)| (s, e)).unwrap_or((0, 0));
    let mut put = |w: u64, value: u64| {
        let at = (w * word) as usize;
        out[at..at + word as usize].copy_from_slice(&value.to_le_bytes()[..word as usize]);
    };
    for e in &link.got.entries {
        let at = base + e.word * word;
        let (local, dynsym) = match e.target {
            Target::Global(id) => (
                link.global_binds_locally(id),
                dynsym_of(dynsym, id).unwrap_or(0),
            ),
            Target::Local { .. } => (true, 0),
        };
        let s = target_address(link, layout, e.target);
        match e.kind {
            GotKind::Address => {
                put(e.word, if local { s } else { 0 });
                if local {
                    if !crate::dynamic::target_is_absolute(link, e.target) {
                        let r_type = if link.is_local_ifunc(e.target) {
                            types.irelative
                        } else {
                            types.relative
                        };
                        dynrel.push(DynReloc {
                            offset: at,
                            r_type,
                            sym: 0,
                            addend: s as i64,
                        });
                    }
                } else {
                    dynrel.push(DynReloc {
                        offset: at,
                        r_type: types.glob_dat,
                        sym: dynsym,
                        addend: 0,
                    });
                }
            }
            GotKind::TlsGd => {
                if local {
                    dynrel.push(DynReloc {
                        offset: at,
                        r_type: types.dtpmod,
                        sym: 0,
                        addend: 0,
                    });
                    put(e.word + 1, s.wrapping_sub(tls_start));
                } else {
                    dynrel.push(DynReloc {
                        offset: at,
                        r_type: types.dtpmod,
                        sym: dynsym,
                        addend: 0,
                    });
                    dynrel.push(DynReloc {
                        offset: at + word,
                        r_type: types.dtpoff,
                        sym: dynsym,
                        addend: 0,
                    });
                }
            }
            GotKind::TlsLd => {
                dynrel.push(DynReloc {
                    offset: at,
                    r_type: types.dtpmod,
                    sym: 0,
                    addend: 0,
                });
            }
            GotKind::TlsDesc => {
                // Eagerly resolved by the loader; a local symbol is its offset in our block,
                // which a REL target (ARM: {argument, function}) reads from the first word.
                let r_type = link.arch.tlsdesc_reloc().unwrap_or(0);
                if local {
                    let off = s.wrapping_sub(tls_start) as i64;
                    if !link.arch.dynamic_uses_rela() {
                        put(e.word, off as u64);
                    }
                    dynrel.push(DynReloc {
                        offset: at,
                        r_type,
                        sym: 0,
                        addend: off,
                    });
                } else {
                    dynrel.push(DynReloc {
                        offset: at,
                        r_type,
                        sym: dynsym,
                        addend: 0,
                    });
                }
            }
            GotKind::TlsIe => {
                if local {
                    let off = s.wrapping_sub(tls_start) as i64;
                    put(e.word, off as u64);
                    dynrel.push(DynReloc {
                        offset: at,
                        r_type: types.tpoff,
                        sym: 0,
                        addend: off,
                    });
                } else {
                    dynrel.push(DynReloc {
                        offset: at,
                        r_type: types.tpoff,
                        sym: dynsym,
                        addend: 0,
                    });
                }
            }
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
